//! The derive macros of Nuages, re-exported by the `nuages` crate: write
//! `use nuages::forms::Form;` and `#[derive(Form)]` (or `Choices`), never
//! this crate's name. The generated code names the framework as `::nuages`, so a crate
//! using the derive depends on `nuages` (as generated projects do).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, GenericArgument, Lit, PathArguments, Type};

/// `#[derive(Form)]`: a struct whose named fields are the form's fields.
///
/// Field attributes, in `#[form(...)]`: `label = "…"`, `help_text = "…"`,
/// `max_length = N`, `min_length = N`, `min = N`, `max = N`,
/// `choices = PATH` (a `&[(&str, &str)]` of value and label),
/// `query = "SQL"` (the id and label of a `ModelChoice`), `max_size = N`
/// (bytes, for an `UploadedFile`), `validate = path::to::fn` (repeatable).
/// The struct attribute `#[form(clean)]` runs `nuages::forms::Clean::clean`
/// once every field is valid. `Option<T>` makes a field optional.
#[proc_macro_derive(Form, attributes(form))]
pub fn derive_form(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// `#[derive(Choices)]`: an enum of unit variants whose variants are a
/// form field's choices. Each variant's value is its name in snake_case and
/// its label its name in words (`ExtraLarge`: `extra_large`, "Extra large"),
/// unless `#[choice(value = "…", label = "…")]` says otherwise.
#[proc_macro_derive(Choices, attributes(choice))]
pub fn derive_choices(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match expand_choices(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn expand_choices(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "#[derive(Choices)] needs an enum of unit variants",
        ));
    };
    let mut entries = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new(
                variant.span(),
                "#[derive(Choices)] needs unit variants (no fields)",
            ));
        }
        let name = variant.ident.to_string();
        let mut value = snake_case(&name);
        let mut label = words(&name);
        for attr in variant.attrs.iter().filter(|a| a.path().is_ident("choice")) {
            attr.parse_nested_meta(|meta| {
                let text: syn::LitStr = meta.value()?.parse()?;
                if meta.path.is_ident("value") {
                    value = text.value();
                } else if meta.path.is_ident("label") {
                    label = text.value();
                } else {
                    return Err(meta.error("the keys of #[choice] are value and label"));
                }
                Ok(())
            })?;
        }
        let ident = &variant.ident;
        entries.push(quote! { (Self::#ident, #value, #label) });
    }
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::nuages::forms::Choices for #ident #type_generics #where_clause {
            fn choices() -> ::std::vec::Vec<(Self, &'static str, &'static str)> {
                ::std::vec![#(#entries),*]
            }
        }
    })
}

/// `ExtraLarge` → `extra_large`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// `ExtraLarge` → `Extra large`.
fn words(name: &str) -> String {
    let snake = snake_case(name).replace('_', " ");
    let mut chars = snake.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => snake,
    }
}

/// One field of the struct and what its attributes say.
struct FieldDef {
    ident: syn::Ident,
    inner: Type,
    optional: bool,
    options: Vec<Tokens>,
    validators: Vec<syn::Path>,
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "#[derive(Form)] needs a struct with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            input.span(),
            "#[derive(Form)] needs a struct with named fields",
        ));
    };
    let clean = struct_wants_clean(input)?;
    let fields = named
        .named
        .iter()
        .map(field_def)
        .collect::<syn::Result<Vec<_>>>()?;

    let specs = fields.iter().map(|field| {
        let name = field.ident.to_string();
        let inner = &field.inner;
        let required = !field.optional;
        let options = &field.options;
        quote! {
            ::nuages::forms::FieldSpec::new::<#inner>(#name, #required) #(#options)*
        }
    });
    let cleaned = fields.iter().enumerate().map(|(index, field)| {
        let ident = &field.ident;
        let inner = &field.inner;
        let validators = field.validators.iter().map(|path| {
            quote_spanned! {path.span()=>
                #path(value).map_err(|error| ::std::string::ToString::to_string(&error))?;
            }
        });
        quote! {
            let #ident: ::std::option::Option<::std::option::Option<#inner>> =
                cleaner.field::<#inner>(#index, |value: &#inner| -> ::std::result::Result<(), ::std::string::String> {
                    let _ = value;
                    #(#validators)*
                    ::std::result::Result::Ok(())
                });
        }
    });
    let assigned = fields.iter().map(|field| {
        let ident = &field.ident;
        if field.optional {
            quote! { #ident: #ident? }
        } else {
            quote! { #ident: #ident?? }
        }
    });
    let clean_fn = clean.then(|| {
        quote! {
            fn clean_form(&self) -> ::std::result::Result<(), ::nuages::forms::FormErrors> {
                <Self as ::nuages::forms::Clean>::clean(self)
            }
        }
    });
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::nuages::forms::Form for #ident #type_generics #where_clause {
            fn fields() -> ::std::vec::Vec<::nuages::forms::FieldSpec> {
                ::std::vec![#(#specs),*]
            }

            fn from_cleaner(cleaner: &mut ::nuages::forms::Cleaner<'_>) -> ::std::option::Option<Self> {
                #(#cleaned)*
                ::std::option::Option::Some(Self { #(#assigned),* })
            }

            #clean_fn
        }
    })
}

/// Whether the struct says `#[form(clean)]`.
fn struct_wants_clean(input: &DeriveInput) -> syn::Result<bool> {
    let mut clean = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("form")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("clean") {
                clean = true;
                Ok(())
            } else {
                Err(meta.error("the struct attribute of #[derive(Form)] is #[form(clean)]"))
            }
        })?;
    }
    Ok(clean)
}

fn field_def(field: &syn::Field) -> syn::Result<FieldDef> {
    let ident = field.ident.clone().expect("named fields have names");
    let (inner, optional) = match option_inner(&field.ty) {
        Some(inner) => (inner.clone(), true),
        None => (field.ty.clone(), false),
    };
    let mut options = Vec::new();
    let mut validators = Vec::new();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("form")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match key.as_str() {
                "label" | "help_text" | "query" => {
                    let value: syn::LitStr = meta.value()?.parse()?;
                    let method = syn::Ident::new(&key, meta.path.span());
                    options.push(quote! { .#method(#value) });
                }
                "max_length" | "min_length" | "max_size" => {
                    let value: syn::LitInt = meta.value()?.parse()?;
                    let method = syn::Ident::new(&key, meta.path.span());
                    options.push(quote! { .#method(#value) });
                }
                "min" | "max" => {
                    let value: Expr = meta.value()?.parse()?;
                    let text = bound_text(&value)?;
                    let method = syn::Ident::new(&key, meta.path.span());
                    options.push(quote! { .#method(#text) });
                }
                "choices" => {
                    let path: syn::Path = meta.value()?.parse()?;
                    options.push(quote! { .choices(#path) });
                }
                "validate" => validators.push(meta.value()?.parse()?),
                _ => {
                    return Err(meta.error(
                        "unknown #[form] key; the keys are label, help_text, max_length, min_length, min, max, \
                         choices, query, max_size, validate",
                    ));
                }
            }
            Ok(())
        })?;
    }
    Ok(FieldDef {
        ident,
        inner,
        optional,
        options,
        validators,
    })
}

/// The text of a `min`/`max` bound: a number literal, maybe negative, or a string.
fn bound_text(value: &Expr) -> syn::Result<String> {
    match value {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Int(int) => Ok(int.base10_digits().to_string()),
            Lit::Float(float) => Ok(float.base10_digits().to_string()),
            Lit::Str(text) => Ok(text.value()),
            other => Err(syn::Error::new(other.span(), "min/max take a number")),
        },
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => {
            Ok(format!("-{}", bound_text(&unary.expr)?))
        }
        other => Err(syn::Error::new(other.span(), "min/max take a number")),
    }
}

/// `T` when `ty` is `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(inner) => Some(inner),
        _ => None,
    }
}
