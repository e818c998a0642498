//! HTML of a bound form and its place in a template context. Every value
//! and message is escaped here; the pieces go to Tera as safe strings so
//! that autoescape does not escape the markup a second time.

use std::collections::BTreeMap;
use std::fmt::Write;

use tera::Value;

use super::{BoundForm, FieldSpec, Widget};
use crate::views::escape_html;

/// A field of a [`BoundForm`]: what describes it, what was typed, its
/// choices and its errors.
#[derive(Debug, Clone)]
pub struct BoundField {
    /// The field.
    pub spec: FieldSpec,
    /// The text typed, or the initial value.
    pub value: Option<String>,
    /// The choices offered.
    pub choices: Vec<(String, String)>,
    /// The errors of this field.
    pub errors: Vec<String>,
}

impl BoundField {
    /// The `id` of its input: `id_NAME`.
    pub fn id(&self) -> String {
        format!("id_{}", self.spec.name)
    }

    /// `<label for="id_NAME">Label:</label>`.
    pub fn label_tag(&self) -> String {
        format!(
            "<label for=\"{}\">{}:</label>",
            escape_html(&self.id()),
            escape_html(&self.spec.label)
        )
    }

    /// `<ul class="errorlist">…</ul>`, empty without errors.
    pub fn errors_html(&self) -> String {
        error_list(&self.errors)
    }

    /// The input (or `<select>`) showing what was typed.
    pub fn widget(&self) -> String {
        let spec = &self.spec;
        let mut attrs = format!(
            " name=\"{}\" id=\"{}\"",
            escape_html(spec.name),
            escape_html(&self.id())
        );
        if spec.required {
            attrs.push_str(" required");
        }
        if !self.errors.is_empty() {
            attrs.push_str(" aria-invalid=\"true\"");
        }
        let value = self.value.as_deref().unwrap_or("");
        if spec.widget == Widget::Select || !self.choices.is_empty() {
            return self.select(&attrs, value);
        }
        let kind = match spec.widget {
            Widget::Integer | Widget::Decimal => "number",
            Widget::Checkbox => "checkbox",
            Widget::Email => "email",
            Widget::Url => "url",
            Widget::Date => "date",
            Widget::Time => "time",
            Widget::DateTime => "datetime-local",
            Widget::File => "file",
            Widget::Password => "password",
            _ => "text",
        };
        if let Some(max) = spec.max_length {
            let _ = write!(attrs, " maxlength=\"{max}\"");
        }
        if let Some(min) = spec.min_length {
            let _ = write!(attrs, " minlength=\"{min}\"");
        }
        for (name, bound) in [("min", &spec.min), ("max", &spec.max)] {
            if let Some(bound) = bound {
                let _ = write!(attrs, " {name}=\"{}\"", escape_html(bound));
            }
        }
        if spec.widget == Widget::Decimal {
            attrs.push_str(" step=\"any\"");
        }
        match spec.widget {
            Widget::Checkbox => {
                let checked = self.value.is_some()
                    && !matches!(
                        value.to_ascii_lowercase().as_str(),
                        "" | "false" | "0" | "off"
                    );
                format!(
                    "<input type=\"checkbox\"{attrs}{}>",
                    if checked { " checked" } else { "" }
                )
            }
            // Neither a file nor a password is sent back to the browser.
            Widget::File | Widget::Password => format!("<input type=\"{kind}\"{attrs}>"),
            _ => format!(
                "<input type=\"{kind}\"{attrs} value=\"{}\">",
                escape_html(value)
            ),
        }
    }

    fn select(&self, attrs: &str, value: &str) -> String {
        let mut html = format!("<select{attrs}>");
        // The empty choice unless one is selected: a required select shown
        // again after "" or a value it does not offer would otherwise show
        // its first option as chosen, and send it on the next submit.
        if !self.spec.required || !self.choices.iter().any(|(option, _)| option == value) {
            html.push_str("<option value=\"\">---------</option>");
        }
        for (option, label) in &self.choices {
            let _ = write!(
                html,
                "<option value=\"{}\"{}>{}</option>",
                escape_html(option),
                if option == value { " selected" } else { "" },
                escape_html(label)
            );
        }
        html.push_str("</select>");
        html
    }

    /// Label, widget, help text and errors in a `<p>`.
    pub fn html(&self) -> String {
        let help = self
            .spec
            .help_text
            .map(|h| format!(" <span class=\"helptext\">{}</span>", escape_html(h)))
            .unwrap_or_default();
        format!(
            "{}<p>{} {}{help}</p>",
            self.errors_html(),
            self.label_tag(),
            self.widget()
        )
    }

    fn to_value(&self) -> Value {
        let value = self.value.as_deref().unwrap_or("");
        let choices: Vec<Value> = self
            .choices
            .iter()
            .map(|(option, label)| {
                Value::from(BTreeMap::from([
                    ("value", Value::from(option.as_str())),
                    ("label", Value::from(label.as_str())),
                    ("selected", Value::from(option == value)),
                ]))
            })
            .collect();
        Value::from(BTreeMap::from([
            ("name", Value::from(self.spec.name)),
            ("id", Value::from(self.id())),
            ("label", Value::from(self.spec.label.as_str())),
            ("help_text", Value::from(self.spec.help_text.unwrap_or(""))),
            ("required", Value::from(self.spec.required)),
            ("value", Value::from(value)),
            ("choices", Value::from(choices)),
            (
                "errors",
                Value::from(
                    self.errors
                        .iter()
                        .map(|e| Value::from(e.as_str()))
                        .collect::<Vec<_>>(),
                ),
            ),
            ("label_tag", Value::safe_string(&self.label_tag())),
            ("widget", Value::safe_string(&self.widget())),
            ("errors_html", Value::safe_string(&self.errors_html())),
            ("html", Value::safe_string(&self.html())),
        ]))
    }
}

/// `<ul class="errorlist"><li>…</li></ul>`, or nothing.
fn error_list(errors: &[String]) -> String {
    error_list_of_class(errors, "errorlist")
}

/// The errors of the whole form: `<ul class="errorlist nonfield">`, as
/// Django's `form.non_field_errors`, or nothing.
fn non_field_error_list(errors: &[String]) -> String {
    error_list_of_class(errors, "errorlist nonfield")
}

fn error_list_of_class(errors: &[String], class: &str) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let items: String = errors
        .iter()
        .map(|e| format!("<li>{}</li>", escape_html(e)))
        .collect();
    format!("<ul class=\"{class}\">{items}</ul>")
}

impl BoundForm {
    /// Every field's `<p>`, after the errors of the whole form.
    pub fn as_p(&self) -> String {
        let mut html = non_field_error_list(&self.non_field_errors);
        for field in &self.fields {
            html.push_str(&field.html());
        }
        html
    }

    /// The form as a Tera value (see [`BoundForm`] for what it holds).
    pub fn to_value(&self) -> Value {
        let fields: BTreeMap<&str, Value> = self
            .fields
            .iter()
            .map(|f| (f.spec.name, f.to_value()))
            .collect();
        let errors: BTreeMap<&'static str, Value> = self
            .fields
            .iter()
            .filter(|f| !f.errors.is_empty())
            .map(|f| {
                let messages: Vec<Value> =
                    f.errors.iter().map(|m| Value::from(m.as_str())).collect();
                (f.spec.name, Value::from(messages))
            })
            .collect();
        Value::from(BTreeMap::from([
            ("fields", Value::from(fields)),
            (
                "field_list",
                Value::from(
                    self.fields
                        .iter()
                        .map(BoundField::to_value)
                        .collect::<Vec<_>>(),
                ),
            ),
            ("errors", Value::from(errors)),
            (
                "non_field_errors",
                Value::from(
                    self.non_field_errors
                        .iter()
                        .map(|e| Value::from(e.as_str()))
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "non_field_errors_html",
                Value::safe_string(&non_field_error_list(&self.non_field_errors)),
            ),
            ("as_p", Value::safe_string(&self.as_p())),
            ("is_bound", Value::from(self.is_bound)),
            (
                "multipart",
                Value::from(self.fields.iter().any(|f| f.spec.widget == Widget::File)),
            ),
        ]))
    }
}

/// In a template context the form is [`BoundForm::to_value`], its HTML
/// pieces marked safe (they are escaped already).
impl serde::Serialize for BoundForm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}
