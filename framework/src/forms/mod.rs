//! Forms, as Django's: a struct whose fields are typed, bound to what a
//! browser submitted, giving either the cleaned struct or the form again
//! with what was typed and an error next to each field.
//!
//! ```
//! use nuages::forms::{Clean, Email, Form, FormData, FormErrors};
//!
//! #[derive(Debug, Form)]
//! #[form(clean)]
//! struct Contact {
//!     #[form(max_length = 100)]
//!     subject: String,
//!     sender: Email,
//!     #[form(min = 1, max = 10)]
//!     copies: Option<i64>,
//!     cc_myself: bool,
//! }
//!
//! impl Clean for Contact {
//!     fn clean(&self) -> Result<(), FormErrors> {
//!         if self.cc_myself && self.copies.is_none() {
//!             return Err(FormErrors::form("Say how many copies you want."));
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let data = FormData::from_pairs([("subject", "Hi"), ("sender", "not an address")]);
//! let form = Contact::binder().bind(&data).await.unwrap().unwrap_err();
//! assert_eq!(form.errors()["sender"], ["Enter a valid email address."]);
//! assert_eq!(form.value("subject"), Some("Hi"));
//! # });
//! ```
//!
//! A field's type says what it holds and how it is shown ([`FormField`]):
//! `String`, `i64`/`i32`, [`Decimal`], `bool` (a checkbox: unchecked is
//! `false`), [`Email`], [`Url`] (http and https only), a [`Choices`] enum,
//! chrono's `NaiveDate`/`NaiveTime`/`NaiveDateTime`, [`ModelChoice`] (a row
//! among those of a SQL query) and [`UploadedFile`]. `Option<T>` makes a
//! field optional; any other field is required ("This field is required.").
//! `#[form(...)]` adds `label`, `help_text`, `max_length`, `min_length`,
//! `min`, `max`, `choices`, `query`, `max_size` and validators
//! (`validate = path::to::fn`, a `fn(&T) -> Result<(), impl Display>`).
//!
//! Views take a [`FormData`] and bind it with the [`Binder`] of their form;
//! a template shows a bound form (see [`BoundForm`]) through its fields'
//! `label_tag`, `widget` and `errors_html`, or as a whole with
//! `{{ render_form(form=form) }}`, which includes the CSRF input. Every
//! value is HTML-escaped.

mod data;
mod fields;
mod render;
mod upload;

use std::collections::BTreeMap;
use std::marker::PhantomData;

use sqlx::{AnyPool, Row};

pub use data::FormData;
pub(crate) use data::{multipart_boundary, part_file_name};
pub(crate) use fields::max_length_message;
pub use fields::{Choices, Email, FormField, Input, ModelChoice, Password, Url, Widget};
pub use nuages_derive::{Choices, Form};
pub use render::BoundField;
pub use rust_decimal::Decimal;
pub(crate) use upload::INCOMING;
pub use upload::{StoredFile, UploadedFile};

use crate::error::{Error, Problem, Result};

/// The message of a required field left empty.
pub const REQUIRED: &str = "This field is required.";

/// The message of a field whose text holds a NUL character (Django's
/// `ProhibitNullCharactersValidator`): PostgreSQL refuses to store one.
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";

/// Django's `ProhibitNullCharactersValidator`: [`NULL_CHARACTERS`] when
/// `text` holds a NUL. Every form field applies it, and so do the password
/// forms and the commands that set a password (`createsuperuser`,
/// `changepassword`): a password the login form would refuse is never stored.
pub(crate) fn null_characters_error(text: &str) -> Option<&'static str> {
    text.contains('\0').then_some(NULL_CHARACTERS)
}

/// A form: derive it (`#[derive(Form)]`) on a struct with named fields.
pub trait Form: Sized {
    /// The fields, in the order of the struct.
    fn fields() -> Vec<FieldSpec>;

    /// The struct from the cleaned fields, or `None` when a field has an
    /// error (recorded in the cleaner).
    fn from_cleaner(cleaner: &mut Cleaner<'_>) -> Option<Self>;

    /// The whole-form step, once every field is valid: [`Clean::clean`]
    /// with `#[form(clean)]`, else nothing.
    fn clean_form(&self) -> std::result::Result<(), FormErrors> {
        Ok(())
    }

    /// Start binding this form (add the database and the query arguments
    /// for its model choices, or initial values).
    fn binder() -> Binder<Self> {
        Binder {
            pool: None,
            args: Vec::new(),
            initial: BTreeMap::new(),
            form: PhantomData,
        }
    }
}

/// The whole-form step of a form marked `#[form(clean)]`: checks that
/// involve several fields, run once every field is valid. Unlike Django's
/// `Form.clean()`, it does not run while a field has an error: it gets the
/// whole typed struct, which exists only then, so the user sees the field
/// errors first and this step's errors on the next submission.
pub trait Clean {
    /// `Ok`, or the errors of the whole form (and of fields).
    fn clean(&self) -> std::result::Result<(), FormErrors>;
}

/// Errors of a form: for the whole form, and by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    /// Errors about the whole form.
    pub non_field: Vec<String>,
    /// Errors by field name.
    pub fields: BTreeMap<String, Vec<String>>,
}

impl FormErrors {
    /// An error about the whole form.
    pub fn form(message: impl Into<String>) -> FormErrors {
        FormErrors {
            non_field: vec![message.into()],
            ..FormErrors::default()
        }
    }

    /// An error about the field `name`.
    pub fn field(name: &str, message: impl Into<String>) -> FormErrors {
        FormErrors::default().and_field(name, message)
    }

    /// These errors and one more about the field `name`.
    pub fn and_field(mut self, name: &str, message: impl Into<String>) -> FormErrors {
        self.fields
            .entry(name.to_string())
            .or_default()
            .push(message.into());
        self
    }
}

/// One field of a form: its name, label, whether it is required, its widget
/// and its limits. Built by the derive.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// The name it is sent under.
    pub name: &'static str,
    /// Its label (the name, capitalized, with spaces, unless told).
    pub label: String,
    /// Help shown below it.
    pub help_text: Option<&'static str>,
    /// Whether it must be filled in (not an `Option`).
    pub required: bool,
    /// How it is shown.
    pub widget: Widget,
    /// The most characters.
    pub max_length: Option<usize>,
    /// The fewest characters.
    pub min_length: Option<usize>,
    /// The smallest value, as written in the attribute.
    pub min: Option<String>,
    /// The largest value, as written in the attribute.
    pub max: Option<String>,
    /// The values and labels it accepts (static or the type's).
    pub choices: Option<Vec<(String, String)>>,
    /// The SQL query giving a model choice's ids and labels.
    pub query: Option<&'static str>,
    /// The largest file, in bytes.
    pub max_size: Option<u64>,
}

impl FieldSpec {
    /// A field of type `T` named `name`.
    pub fn new<T: FormField>(name: &'static str, required: bool) -> FieldSpec {
        FieldSpec {
            name,
            label: default_label(name),
            help_text: None,
            // A checkbox left unchecked is a value (false), never missing.
            required: required && T::when_empty().is_none(),
            widget: T::WIDGET,
            max_length: T::MAX_LENGTH,
            min_length: None,
            min: None,
            max: None,
            choices: T::type_choices(),
            query: None,
            max_size: None,
        }
    }

    /// With this label.
    pub fn label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    /// With this help text.
    pub fn help_text(mut self, text: &'static str) -> Self {
        self.help_text = Some(text);
        self
    }

    /// At most `n` characters.
    pub fn max_length(mut self, n: usize) -> Self {
        self.max_length = Some(n);
        self
    }

    /// At least `n` characters.
    pub fn min_length(mut self, n: usize) -> Self {
        self.min_length = Some(n);
        self
    }

    /// At least this value.
    pub fn min(mut self, bound: &str) -> Self {
        self.min = Some(bound.to_string());
        self
    }

    /// At most this value.
    pub fn max(mut self, bound: &str) -> Self {
        self.max = Some(bound.to_string());
        self
    }

    /// One of these values (value, label); shown as a `<select>`.
    pub fn choices(mut self, choices: &[(&str, &str)]) -> Self {
        self.choices = Some(
            choices
                .iter()
                .map(|(v, l)| (v.to_string(), l.to_string()))
                .collect(),
        );
        self.widget = Widget::Select;
        self
    }

    /// A model choice among the rows of this query (`SELECT id, label …`,
    /// with `$1`, `$2` … for the binder's arguments).
    pub fn query(mut self, sql: &'static str) -> Self {
        self.query = Some(sql);
        self
    }

    /// Files of at most `bytes`.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }
}

/// `first_name` → `First name`, as Django labels fields.
fn default_label(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// Turns submitted data into field values, recording errors. The derived
/// [`Form::from_cleaner`] asks it for each field.
pub struct Cleaner<'a> {
    specs: &'a [FieldSpec],
    choices: &'a [Vec<(String, String)>],
    data: &'a FormData,
    errors: FormErrors,
}

impl Cleaner<'_> {
    /// The value of field `index`: `Some(Some(value))`, `Some(None)` for an
    /// optional field left empty, `None` after recording an error.
    pub fn field<T: FormField>(
        &mut self,
        index: usize,
        validate: impl FnOnce(&T) -> std::result::Result<(), String>,
    ) -> Option<Option<T>> {
        let spec = &self.specs[index];
        let input = Input {
            text: self.data.get(spec.name),
            file: self.data.file(spec.name),
            choices: &self.choices[index],
        };
        let cleaned = if T::is_empty(&input) {
            match T::when_empty() {
                Some(value) => Ok(Some(value)),
                None if spec.required => Err(REQUIRED.to_string()),
                None => return Some(None),
            }
        } else if let Some(error) = input.text.and_then(null_characters_error) {
            Err(error.to_string())
        } else if spec.query.is_none() && !input.choices.is_empty() {
            // `choices = CONST` on any type (an `i64` shown as a
            // `<select>`, as Django's `TypedChoiceField`): what was sent
            // must be one of them, whatever the type accepts.
            fields::check_choice(input.trimmed(), input.choices)
                .and_then(|()| T::clean(&input, spec).map(Some))
        } else {
            T::clean(&input, spec).map(Some)
        };
        let checked = cleaned.and_then(|value| match &value {
            Some(v) => validate(v).map(|()| value),
            None => Ok(value),
        });
        match checked {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors
                    .fields
                    .entry(spec.name.to_string())
                    .or_default()
                    .push(message);
                None
            }
        }
    }
}

/// The error of a whole-form clean step that gave a message to a field the
/// form does not have (Django: "'Form' has no field named 'x'.").
fn unknown_error_field<T>(name: &str, specs: &[FieldSpec]) -> Error {
    let form = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("the form");
    let fields: Vec<&str> = specs.iter().map(|s| s.name).collect();
    Error::Config(
        Problem::new(format!(
            "the clean step of {form} gave an error to the field '{name}', which {form} does not have"
        ))
        .with_hint(format!(
            "its fields are {}; use FormErrors::form(…) for an error about the whole form",
            fields.join(", ")
        )),
    )
}

/// A value for a model choice's query (`$1`, `$2` …).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QueryArg {
    /// A number.
    Int(i64),
    /// A text.
    Text(String),
}

impl From<i64> for QueryArg {
    fn from(value: i64) -> Self {
        QueryArg::Int(value)
    }
}

impl From<&str> for QueryArg {
    fn from(value: &str) -> Self {
        QueryArg::Text(value.to_string())
    }
}

impl From<String> for QueryArg {
    fn from(value: String) -> Self {
        QueryArg::Text(value)
    }
}

/// Binds a form: `MyForm::binder().bind(&data).await?` gives `Ok(MyForm)`
/// or `Err(BoundForm)` to show again. A form with model choices needs the
/// pool (`.db(&pool)`) and its queries' arguments (`.arg(id)`).
pub struct Binder<T> {
    pool: Option<AnyPool>,
    args: Vec<QueryArg>,
    initial: BTreeMap<String, String>,
    form: PhantomData<fn() -> T>,
}

impl<T: Form> Binder<T> {
    /// Run the model choices' queries on `pool`.
    pub fn db(mut self, pool: &AnyPool) -> Self {
        self.pool = Some(pool.clone());
        self
    }

    /// The next argument of the model choices' queries (`$1`, then `$2` …).
    pub fn arg(mut self, value: impl Into<QueryArg>) -> Self {
        self.args.push(value.into());
        self
    }

    /// The value a field shows in an unbound form.
    pub fn initial(mut self, name: &str, value: impl Into<String>) -> Self {
        self.initial.insert(name.to_string(), value.into());
        self
    }

    /// The form with nothing submitted yet (initial values only), to show.
    pub async fn unbound(self) -> Result<BoundForm> {
        let specs = T::fields();
        let choices = self.choices(&specs).await?;
        let data = FormData::from_pairs(self.initial.clone());
        Ok(BoundForm::new(
            specs,
            choices,
            &data,
            FormErrors::default(),
            false,
        ))
    }

    /// Bind `data`: the cleaned form, or the form with its errors.
    /// Fails (an [`Error`], not a form error) when a model choice's query
    /// fails or has no pool, when the form has a file field and
    /// `media_root` is unset, or when its clean step gives an error to a
    /// field it does not have (as Django's `add_error`).
    pub async fn bind(self, data: &FormData) -> Result<std::result::Result<T, BoundForm>> {
        let specs = T::fields();
        if specs.iter().any(|s| s.widget == Widget::File) && !data.accepts_files() {
            return Err(upload::media_root_unset());
        }
        let choices = self.choices(&specs).await?;
        let mut cleaner = Cleaner {
            specs: &specs,
            choices: &choices,
            data,
            errors: FormErrors::default(),
        };
        let cleaned = T::from_cleaner(&mut cleaner);
        let mut errors = cleaner.errors;
        if let Some(form) = cleaned {
            match form.clean_form() {
                Ok(()) if errors == FormErrors::default() => return Ok(Ok(form)),
                Ok(()) => {}
                Err(more) => {
                    // As Django's `add_error`, a field the form does not
                    // have is a mistake of the code, not of the user: its
                    // message would be shown nowhere, the form refused
                    // without a word.
                    if let Some(name) = more
                        .fields
                        .keys()
                        .find(|name| !specs.iter().any(|s| s.name == name.as_str()))
                    {
                        return Err(unknown_error_field::<T>(name, &specs));
                    }
                    errors.non_field.extend(more.non_field);
                    for (name, messages) in more.fields {
                        errors.fields.entry(name).or_default().extend(messages);
                    }
                }
            }
        }
        Ok(Err(BoundForm::new(specs, choices, data, errors, true)))
    }

    /// Each field's choices: its static ones, or its query's rows.
    async fn choices(&self, specs: &[FieldSpec]) -> Result<Vec<Vec<(String, String)>>> {
        let mut all = Vec::with_capacity(specs.len());
        for spec in specs {
            let choices = match (spec.query, &spec.choices) {
                (Some(sql), _) => self.query_choices(spec.name, sql).await?,
                (None, Some(choices)) => choices.clone(),
                (None, None) => Vec::new(),
            };
            all.push(choices);
        }
        Ok(all)
    }

    async fn query_choices(&self, field: &str, sql: &'static str) -> Result<Vec<(String, String)>> {
        let pool = self.pool.as_ref().ok_or_else(|| {
            Error::Config(
                Problem::new(format!(
                    "the form field {field} is a model choice, and its form was bound without a database"
                ))
                .with_hint("bind it with Form::binder().db(&pool), the pool of the Db extractor"),
            )
        })?;
        let mut query = sqlx::query(sql);
        for arg in &self.args {
            query = match arg {
                QueryArg::Int(n) => query.bind(*n),
                QueryArg::Text(text) => query.bind(text.clone()),
            };
        }
        let rows = query.fetch_all(pool).await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get(0)?;
                let label: String = row.try_get(1)?;
                Ok((id.to_string(), label))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(Error::from)
    }
}

/// A form to show: each field with the value typed (or its initial value),
/// its choices and its errors, and the errors of the whole form.
///
/// In a template context (`context! { "form" => &form }`) it reads:
///
/// | | |
/// |---|---|
/// | `form.fields.NAME.label_tag` | `<label for="id_NAME">Label:</label>` |
/// | `form.fields.NAME.widget` | the input, with the value typed |
/// | `form.fields.NAME.errors` / `errors_html` | the messages / `<ul class="errorlist">` |
/// | `form.fields.NAME.value`, `label`, `help_text`, `required`, `choices` | the raw parts |
/// | `form.fields.NAME.html` | label, widget, help and errors in a `<p>` |
/// | `form.field_list` | the fields in order, for a loop |
/// | `form.non_field_errors` / `non_field_errors_html` | errors of the whole form |
/// | `form.as_p` | every field's `html`, after the whole-form errors |
/// | `form.multipart` | true when a field is a file: use `enctype="multipart/form-data"` |
///
/// Every value in the HTML is escaped. `{{ render_form(form=form) }}` gives
/// the CSRF input followed by `form.as_p`.
#[derive(Debug, Clone)]
pub struct BoundForm {
    fields: Vec<BoundField>,
    non_field_errors: Vec<String>,
    is_bound: bool,
}

impl BoundForm {
    fn new(
        specs: Vec<FieldSpec>,
        choices: Vec<Vec<(String, String)>>,
        data: &FormData,
        mut errors: FormErrors,
        is_bound: bool,
    ) -> BoundForm {
        let fields = specs
            .into_iter()
            .zip(choices)
            .map(|(spec, choices)| BoundField {
                // A password is never sent back to the browser.
                value: match spec.widget {
                    Widget::Password => None,
                    _ => data.get(spec.name).map(str::to_string),
                },
                errors: errors.fields.remove(spec.name).unwrap_or_default(),
                choices,
                spec,
            })
            .collect();
        BoundForm {
            fields,
            non_field_errors: errors.non_field,
            is_bound,
        }
    }

    /// Whether data was submitted (else it shows initial values).
    pub fn is_bound(&self) -> bool {
        self.is_bound
    }

    /// The errors of each field that has some.
    pub fn errors(&self) -> BTreeMap<&str, &[String]> {
        self.fields
            .iter()
            .filter(|f| !f.errors.is_empty())
            .map(|f| (f.spec.name, f.errors.as_slice()))
            .collect()
    }

    /// The errors of the whole form.
    pub fn non_field_errors(&self) -> &[String] {
        &self.non_field_errors
    }

    /// The field `name`.
    pub fn field(&self, name: &str) -> Option<&BoundField> {
        self.fields.iter().find(|f| f.spec.name == name)
    }

    /// The value typed in field `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.field(name)?.value.as_deref()
    }

    /// The fields, in order.
    pub fn fields(&self) -> &[BoundField] {
        &self.fields
    }
}

#[cfg(test)]
mod tests;
