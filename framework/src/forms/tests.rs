//! Binding each field type, valid and invalid, with Django's messages;
//! required and optional fields; validators; the whole-form clean step; model
//! choices from a real SQLite database; rendering with escaped values.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::*;
use crate::conf::Settings;
use crate::db::Databases;

#[derive(Debug, PartialEq, Clone, Copy)]
enum Size {
    Small,
    Large,
}

impl Choices for Size {
    fn choices() -> Vec<(Self, &'static str, &'static str)> {
        vec![(Size::Small, "s", "Small"), (Size::Large, "l", "Large")]
    }
}

#[derive(Debug, PartialEq, Clone, Copy, Choices)]
enum Plan {
    Free,
    #[choice(value = "pro", label = "Professional")]
    ProYearly,
    ExtraLarge,
}

const COLORS: &[(&str, &str)] = &[("red", "Red"), ("blue", "Blue")];

fn no_spam(text: &str) -> std::result::Result<(), String> {
    if text.to_lowercase().contains("spam") {
        Err("No spam, please.".into())
    } else {
        Ok(())
    }
}

#[derive(Debug, Form)]
struct Everything {
    #[form(max_length = 10, min_length = 2, validate = no_spam)]
    name: String,
    #[form(min = -5, max = 100)]
    age: i64,
    #[form(min = 1)]
    small: Option<i32>,
    #[form(min = "0.50", max = 10)]
    price: Decimal,
    agree: bool,
    email: Email,
    site: Option<Url>,
    #[form(choices = COLORS, label = "Favourite colour")]
    color: String,
    size: Size,
    #[form(help_text = "Pick one <plan>")]
    plan: Option<Plan>,
    day: NaiveDate,
    at: NaiveTime,
    when: Option<NaiveDateTime>,
}

fn valid() -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "  Ada "),
        ("age", "36"),
        ("price", "9.99"),
        ("agree", "on"),
        ("email", "ada@example.com"),
        ("color", "blue"),
        ("size", "l"),
        ("day", "1815-12-10"),
        ("at", "09:30"),
    ]
}

async fn bind<T: Form>(pairs: &[(&str, &str)]) -> std::result::Result<T, BoundForm> {
    T::binder()
        .bind(&FormData::from_pairs(pairs.iter().copied()))
        .await
        .unwrap()
}

/// The errors of `field` after replacing its value in a valid submission
/// (`None`: leaving it out).
async fn errors_of(field: &str, value: Option<&str>) -> Vec<String> {
    let mut pairs: Vec<_> = valid().into_iter().filter(|(k, _)| *k != field).collect();
    if let Some(value) = value {
        pairs.push((field, value));
    }
    let form = bind::<Everything>(&pairs).await.unwrap_err();
    assert_eq!(
        form.errors().keys().copied().collect::<Vec<_>>(),
        vec![field],
        "{value:?}"
    );
    form.errors()[field].to_vec()
}

#[tokio::test]
async fn a_valid_submission_gives_the_typed_struct() {
    let form = bind::<Everything>(&valid()).await.unwrap();
    assert_eq!(form.name, "Ada");
    assert_eq!(form.age, 36);
    assert_eq!(form.small, None);
    assert_eq!(form.price.to_string(), "9.99");
    assert!(form.agree);
    assert_eq!(form.email.as_str(), "ada@example.com");
    assert_eq!(form.site, None);
    assert_eq!(form.color, "blue");
    assert_eq!(form.size, Size::Large);
    assert_eq!(form.day, NaiveDate::from_ymd_opt(1815, 12, 10).unwrap());
    assert_eq!(form.at, NaiveTime::from_hms_opt(9, 30, 0).unwrap());
    assert_eq!(form.when, None);

    let mut more = valid();
    more.retain(|(k, _)| *k != "agree");
    more.extend([
        ("plan", "pro"),
        ("small", "3"),
        ("site", "https://example.com/a?b=c"),
        ("when", "2026-01-02T03:04"),
    ]);
    let form = bind::<Everything>(&more).await.unwrap();
    assert!(!form.agree, "an unchecked box is false, not missing");
    assert_eq!(form.plan, Some(Plan::ProYearly));
    let mut extra = valid();
    extra.push(("plan", "extra_large"));
    assert_eq!(
        bind::<Everything>(&extra).await.unwrap().plan,
        Some(Plan::ExtraLarge)
    );
    assert_eq!(form.small, Some(3));
    assert_eq!(form.site.unwrap().as_str(), "https://example.com/a?b=c");
    assert_eq!(form.when.unwrap().to_string(), "2026-01-02 03:04:00");
}

#[tokio::test]
async fn each_field_type_says_what_is_wrong() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("name", None, REQUIRED),
        ("name", Some("   "), REQUIRED),
        (
            "name",
            Some("Ada Lovelace!"),
            "Ensure this value has at most 10 characters (it has 13).",
        ),
        (
            "name",
            Some("A"),
            "Ensure this value has at least 2 characters (it has 1).",
        ),
        ("name", Some("Spam"), "No spam, please."),
        ("age", Some("3.5"), "Enter a whole number."),
        (
            "age",
            Some("99999999999999999999"),
            "Ensure this value is less than or equal to 100.",
        ),
        ("age", Some(".0"), "Enter a whole number."),
        ("age", Some("1.0.0"), "Enter a whole number."),
        (
            "age",
            Some("-6"),
            "Ensure this value is greater than or equal to -5.",
        ),
        (
            "age",
            Some("101"),
            "Ensure this value is less than or equal to 100.",
        ),
        (
            "small",
            Some("0"),
            "Ensure this value is greater than or equal to 1.",
        ),
        ("small", Some("x"), "Enter a whole number."),
        ("price", Some("abc"), "Enter a number."),
        (
            "price",
            Some("1e3"),
            "Ensure this value is less than or equal to 10.",
        ),
        ("price", Some("NaN"), "Enter a number."),
        (
            "price",
            Some("0.49"),
            "Ensure this value is greater than or equal to 0.50.",
        ),
        (
            "price",
            Some("10.01"),
            "Ensure this value is less than or equal to 10.",
        ),
        ("email", Some("ada"), "Enter a valid email address."),
        (
            "email",
            Some("ada@LOCALHOST"),
            "Enter a valid email address.",
        ),
        (
            "email",
            Some("ada@[127.0.0.256]"),
            "Enter a valid email address.",
        ),
        (
            "email",
            Some("a b@example.com"),
            "Enter a valid email address.",
        ),
        (
            "email",
            Some("ada@exa_mple.com"),
            "Enter a valid email address.",
        ),
        ("email", None, REQUIRED),
        ("site", Some("javascript:alert(1)"), "Enter a valid URL."),
        ("site", Some("ftp://example.com/"), "Enter a valid URL."),
        ("site", Some("localhost:8000"), "Enter a valid URL."),
        ("site", Some("http://exa mple.com"), "Enter a valid URL."),
        (
            "site",
            Some("https://user@example.com"),
            "Enter a valid URL.",
        ),
        (
            "color",
            Some("green"),
            "Select a valid choice. green is not one of the available choices.",
        ),
        (
            "size",
            Some("m"),
            "Select a valid choice. m is not one of the available choices.",
        ),
        ("size", None, REQUIRED),
        (
            "plan",
            Some("ProYearly"),
            "Select a valid choice. ProYearly is not one of the available choices.",
        ),
        ("day", Some("10/12/1815"), "Enter a valid date."),
        ("day", Some("1815-02-30"), "Enter a valid date."),
        ("day", Some("-0001-01-01"), "Enter a valid date."),
        ("day", Some("0000-12-31"), "Enter a valid date."),
        ("day", Some("+10000-01-01"), "Enter a valid date."),
        (
            "when",
            Some("-0001-01-01T00:00"),
            "Enter a valid date/time.",
        ),
        (
            "when",
            Some("+10000-01-01 00:00"),
            "Enter a valid date/time.",
        ),
        ("when", Some("+10000-01-01"), "Enter a valid date/time."),
        ("at", Some("25:00"), "Enter a valid time."),
        ("at", Some("23:59:60"), "Enter a valid time."),
        (
            "when",
            Some("2026-12-31T23:59:60"),
            "Enter a valid date/time.",
        ),
        ("when", Some("tomorrow"), "Enter a valid date/time."),
    ];
    for (field, value, message) in cases {
        assert_eq!(
            errors_of(field, *value).await,
            vec![message.to_string()],
            "{field} = {value:?}"
        );
    }
}

#[tokio::test]
async fn every_field_error_is_reported_at_once_with_the_values_typed() {
    let form = bind::<Everything>(&[("name", "<script>x</script>"), ("age", "old")])
        .await
        .unwrap_err();
    assert!(form.is_bound());
    let errors = form.errors();
    for field in [
        "name", "age", "price", "email", "color", "size", "day", "at",
    ] {
        assert!(errors.contains_key(field), "{field}: {errors:?}");
    }
    for optional in ["small", "site", "when", "agree"] {
        assert!(!errors.contains_key(optional), "{optional}: {errors:?}");
    }
    assert_eq!(form.value("age"), Some("old"));
    let html = form.as_p();
    assert!(
        html.contains("value=\"&lt;script&gt;x&lt;/script&gt;\""),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains(
        "<ul class=\"errorlist\"><li>Enter a whole number.</li></ul><p><label for=\"id_age\">Age:</label> \
         <input type=\"number\" name=\"age\" id=\"id_age\" required aria-invalid=\"true\" min=\"-5\" max=\"100\" \
         value=\"old\"></p>"
    ), "{html}");
    assert!(html.contains("<label for=\"id_color\">Favourite colour:</label>"));
    assert!(
        html.contains("<option value=\"l\">Large</option>"),
        "{html}"
    );
}

#[derive(Debug, Form)]
#[form(clean)]
struct Signup {
    password: Password,
    again: Password,
}

impl Clean for Signup {
    fn clean(&self) -> std::result::Result<(), FormErrors> {
        if self.password != self.again {
            return Err(FormErrors::form("The two passwords differ.")
                .and_field("again", "Type the same password again."));
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_clean_step_runs_once_every_field_is_valid() {
    let form = bind::<Signup>(&[("password", "a"), ("again", "b")])
        .await
        .unwrap_err();
    assert_eq!(form.non_field_errors(), ["The two passwords differ."]);
    assert_eq!(form.errors()["again"], ["Type the same password again."]);
    assert!(
        form.as_p().starts_with(
            "<ul class=\"errorlist nonfield\"><li>The two passwords differ.</li></ul>"
        )
    );
    // A field error stops before the clean step.
    let form = bind::<Signup>(&[("password", "a")]).await.unwrap_err();
    assert!(form.non_field_errors().is_empty());
    assert_eq!(form.errors()["again"], [REQUIRED]);
    assert!(
        bind::<Signup>(&[("password", "a"), ("again", "a")])
            .await
            .is_ok()
    );
}

#[derive(Debug, Form)]
struct Vote {
    #[form(query = "SELECT id, choice_text FROM choice WHERE question_id = $1 ORDER BY id")]
    choice: ModelChoice,
}

#[tokio::test]
async fn a_model_choice_accepts_only_the_ids_of_its_query() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        databases: BTreeMap::from([(
            "default".to_string(),
            crate::conf::DatabaseSettings {
                url: format!("sqlite://{}/db.sqlite3", dir.path().display()),
                ..Default::default()
            },
        )]),
        ..Settings::default()
    };
    let pool = Databases::new(&settings).get("default").await.unwrap();
    for sql in [
        "CREATE TABLE choice (id INTEGER PRIMARY KEY, question_id INTEGER, choice_text TEXT)",
        "INSERT INTO choice VALUES (1, 1, 'Not much'), (2, 1, 'The <sky>'), (3, 2, 'Other question')",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let vote = |id: &'static str| {
        let pool = pool.clone();
        async move {
            Vote::binder()
                .db(&pool)
                .arg(1)
                .bind(&FormData::from_pairs([("choice", id)]))
                .await
                .unwrap()
        }
    };
    let chosen = vote("2").await.unwrap();
    assert_eq!(
        chosen.choice,
        ModelChoice {
            id: 2,
            label: "The <sky>".into()
        }
    );
    // The id is read as Django's ModelChoiceField reads it, through the
    // primary key's int(): a sign, leading zeros, spaces around it and
    // other scripts' digits are the same id.
    for same in ["02", "+2", " 2 ", "\t2\n", "２", "٢", "+０２"] {
        assert_eq!(vote(same).await.unwrap().choice.id, 2, "{same:?}");
    }
    // int() takes no fraction (unlike the Integer field), and no other text.
    for other in [
        "3",
        "99",
        "x",
        "1 OR 1=1",
        "2.0",
        "2.",
        "-2",
        "0x2",
        "2 2",
        "99999999999999999999999",
    ] {
        let form = vote(other).await.unwrap_err();
        assert_eq!(
            form.errors()["choice"],
            ["Select a valid choice. That choice is not one of the available choices."],
            "{other}"
        );
    }
    let form = vote("").await.unwrap_err();
    assert_eq!(form.errors()["choice"], [REQUIRED]);
    let widget = form.field("choice").unwrap().widget();
    assert_eq!(
        widget,
        "<select name=\"choice\" id=\"id_choice\" required aria-invalid=\"true\">\
         <option value=\"\">---------</option><option value=\"1\">Not much</option><option value=\"2\">The &lt;sky&gt;</option></select>"
    );

    let unbound = Vote::binder()
        .db(&pool)
        .arg(1)
        .initial("choice", "2")
        .unbound()
        .await
        .unwrap();
    assert!(!unbound.is_bound());
    assert!(unbound.errors().is_empty());
    assert!(unbound.as_p().contains("<option value=\"2\" selected>"));

    let error = Vote::binder()
        .bind(&FormData::from_pairs([("choice", "1")]))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("without a database"), "{error}");
}

#[derive(Debug, Form)]
#[allow(dead_code)] // bound only to see the refusal
struct Avatar {
    #[form(max_size = 10)]
    picture: UploadedFile,
}

#[tokio::test]
async fn a_form_with_a_file_field_needs_media_root() {
    let error = Avatar::binder()
        .bind(&FormData::from_pairs([("x", "y")]))
        .await
        .unwrap_err();
    let problem = error.problem();
    assert!(
        problem.message.contains("media_root is not set"),
        "{problem:?}"
    );
    assert!(problem.hint.unwrap().contains("media_root = \"media\""));
}

#[derive(Debug, Form)]
#[allow(dead_code, reason = "only its rendering is tested")]
struct Reply {
    text: String,
    again: String,
}

#[tokio::test]
async fn the_tera_value_keeps_markup_safe_and_values_escaped() {
    let form = bind::<Reply>(&[("text", "\"><b>x</b>")]).await.unwrap_err();
    let mut tera = tera::Tera::new();
    tera.add_raw_template(
        "f.html",
        "{{ form.fields.text.label_tag }}|{{ form.fields.text.widget }}|\
         {{ form.fields.again.errors_html }}|{{ form.fields.text.value }}|{{ form.multipart }}",
    )
    .unwrap();
    let out = tera
        .render("f.html", &crate::context! { "form" => &form })
        .unwrap();
    assert_eq!(
        out,
        "<label for=\"id_text\">Text:</label>|<input type=\"text\" name=\"text\" \
         id=\"id_text\" required value=\"&quot;&gt;&lt;b&gt;x&lt;/b&gt;\">|<ul class=\"errorlist\">\
         <li>This field is required.</li></ul>|&quot;&gt;&lt;b&gt;x&lt;/b&gt;|false"
    );
}

/// In a template, a field's `choices` (value, label, selected) and the
/// form's `non_field_errors`.
#[tokio::test]
async fn templates_read_a_fields_choices_and_the_non_field_errors() {
    let mut pairs: Vec<_> = valid().into_iter().filter(|(k, _)| *k != "age").collect();
    pairs.push(("age", "old"));
    let form = bind::<Everything>(&pairs).await.unwrap_err();
    let signup = bind::<Signup>(&[("password", "a"), ("again", "b")])
        .await
        .unwrap_err();
    let mut tera = tera::Tera::new();
    tera.add_raw_template(
        "f.html",
        "{% for c in form.fields.size.choices %}{{ c.value }}={{ c.label }}\
         {% if c.selected %}*{% endif %};{% endfor %}|\
         {% for e in signup.non_field_errors %}[{{ e }}]{% endfor %}|\
         {{ signup.non_field_errors_html }}",
    )
    .unwrap();
    let out = tera
        .render(
            "f.html",
            &crate::context! { "form" => &form, "signup" => &signup },
        )
        .unwrap();
    assert_eq!(
        out,
        "s=Small;l=Large*;|[The two passwords differ.]|\
         <ul class=\"errorlist nonfield\"><li>The two passwords differ.</li></ul>"
    );
}

#[derive(Debug, Form)]
struct Login {
    username: String,
    #[form(min_length = 8)]
    password: Password,
}

/// As Django's `PasswordInput`: a form shown again never carries the
/// password typed, in its widget, its value or its HTML; the password is
/// kept exactly as typed and never shown by `Debug`.
#[tokio::test]
async fn a_password_is_never_sent_back_and_kept_as_typed() {
    let form = bind::<Login>(&[("username", ""), ("password", "  hunter2 secret ")])
        .await
        .unwrap_err();
    let field = &form.fields()[1];
    assert_eq!(
        field.widget(),
        "<input type=\"password\" name=\"password\" id=\"id_password\" required minlength=\"8\">"
    );
    assert_eq!(field.value, None);
    let mut tera = tera::Tera::new();
    tera.add_raw_template("f.html", "{{ form.as_p }}|{{ form.fields.password.value }}")
        .unwrap();
    let out = tera
        .render("f.html", &crate::context! { "form" => &form })
        .unwrap();
    assert!(!out.contains("hunter2"), "{out}");
    assert!(out.contains("type=\"password\""), "{out}");

    let login = bind::<Login>(&[("username", "ada"), ("password", "  hunter2 secret ")])
        .await
        .unwrap();
    assert_eq!(login.username, "ada");
    assert_eq!(login.password.as_str(), "  hunter2 secret ");
    assert!(!format!("{login:?}").contains("hunter2"), "{login:?}");

    let short = bind::<Login>(&[("username", "ada"), ("password", "short")])
        .await
        .unwrap_err();
    assert_eq!(
        short.errors()["password"],
        ["Ensure this value has at least 8 characters (it has 5)."]
    );
    let missing = bind::<Login>(&[("username", "ada"), ("password", "")])
        .await
        .unwrap_err();
    assert_eq!(missing.errors()["password"], ["This field is required."]);
}

/// As Django's `QueryDict`: a field sent twice (`age=36&age=40`, a hidden
/// input before a visible one, a query string edited by hand) counts with
/// its last value, in the cleaned struct and in the form shown again.
#[tokio::test]
async fn a_field_sent_twice_takes_its_last_value() {
    let mut pairs = valid();
    pairs.push(("age", "40"));
    pairs.push(("color", "red"));
    let form = bind::<Everything>(&pairs).await.unwrap();
    assert_eq!(form.age, 40);
    assert_eq!(form.color, "red");

    let form = bind::<Reply>(&[("text", "first"), ("text", "last")])
        .await
        .unwrap_err();
    assert_eq!(form.value("text"), Some("last"));
    assert!(form.as_p().contains("value=\"last\""), "{}", form.as_p());
    let data = FormData::from_pairs([("next", "/a/"), ("next", "/b/")]);
    assert_eq!(data.get("next"), Some("/b/"));
}

#[derive(Debug, Form)]
#[form(clean)]
struct Booking {
    start: NaiveDate,
    end: NaiveDate,
}

impl Clean for Booking {
    fn clean(&self) -> std::result::Result<(), FormErrors> {
        if self.end < self.start {
            // A typo: the field is `end`.
            return Err(FormErrors::field("end_date", "Ends before it starts."));
        }
        Ok(())
    }
}

/// As Django's `add_error` ("'Form' has no field named …"): an error the
/// clean step gives to a field the form does not have is an error of the
/// code, named, not a form refused with no message anywhere.
#[tokio::test]
async fn a_clean_error_for_a_field_the_form_lacks_is_not_lost() {
    let data = FormData::from_pairs([("start", "2026-05-02"), ("end", "2026-05-01")]);
    let error = Booking::binder().bind(&data).await.unwrap_err();
    let problem = error.problem();
    assert_eq!(
        problem.message,
        "the clean step of Booking gave an error to the field 'end_date', which Booking does not have"
    );
    assert!(problem.hint.unwrap().contains("start, end"));
    let fine = FormData::from_pairs([("start", "2026-05-01"), ("end", "2026-05-02")]);
    assert!(Booking::binder().bind(&fine).await.unwrap().is_ok());
}

const RATINGS: &[(&str, &str)] = &[("1", "Poor"), ("3", "Fair"), ("5", "Great")];

#[derive(Debug, Form)]
struct Review {
    #[form(choices = RATINGS)]
    rating: i64,
    #[form(choices = RATINGS)]
    other: Option<i32>,
}

/// `choices = CONST` on a number (Django's `TypedChoiceField(coerce=int)`):
/// the `<select>` offers only those, and a value outside them sent by hand
/// is refused, not taken because it is a number.
#[tokio::test]
async fn choices_on_a_number_are_enforced() {
    let form = bind::<Review>(&[("rating", "5"), ("other", "3")])
        .await
        .unwrap();
    assert_eq!((form.rating, form.other), (5, Some(3)));
    let form = bind::<Review>(&[("rating", "4"), ("other", "-1")])
        .await
        .unwrap_err();
    assert_eq!(
        form.errors()["rating"],
        ["Select a valid choice. 4 is not one of the available choices."]
    );
    assert_eq!(
        form.errors()["other"],
        ["Select a valid choice. -1 is not one of the available choices."]
    );
    assert!(bind::<Review>(&[("rating", "1")]).await.is_ok());
}

/// A required `<select>` shown again after an empty or unknown value
/// starts with Django's empty choice ("---------"), selected by the
/// browser: without it the first option looks chosen and is sent on the
/// next submit, a value the user never picked.
#[tokio::test]
async fn a_required_select_shown_again_does_not_preselect_its_first_option() {
    for sent in ["green", ""] {
        let mut pairs: Vec<_> = valid().into_iter().filter(|(k, _)| *k != "color").collect();
        pairs.push(("color", sent));
        let form = bind::<Everything>(&pairs).await.unwrap_err();
        let widget = form.field("color").unwrap().widget();
        assert!(
            widget.starts_with(
                "<select name=\"color\" id=\"id_color\" required aria-invalid=\"true\">\
                 <option value=\"\">---------</option><option value=\"red\">Red</option>"
            ),
            "{sent:?}: {widget}"
        );
        assert!(!widget.contains("selected"), "{widget}");
    }
    // A valid choice shown again (another field is wrong) stays selected,
    // without the empty one.
    let mut pairs: Vec<_> = valid().into_iter().filter(|(k, _)| *k != "age").collect();
    pairs.push(("age", "old"));
    let form = bind::<Everything>(&pairs).await.unwrap_err();
    let widget = form.field("color").unwrap().widget();
    assert!(!widget.contains("---------"), "{widget}");
    assert!(
        widget.contains("<option value=\"blue\" selected>"),
        "{widget}"
    );
}

#[derive(Debug, Form)]
struct Counts {
    small: i32,
    big: Option<i64>,
    // A bound beyond the type is the type's own.
    #[form(max = 5000000000)]
    #[allow(dead_code)]
    wide: Option<i32>,
}

/// As Django's `IntegerField`: `3.0` is the whole number 3; a whole number
/// too large for the field's type says which bound it is over (as Django's
/// model forms do), not "Enter a whole number.", which it is.
#[tokio::test]
async fn whole_numbers_read_as_django_reads_them() {
    let form = bind::<Counts>(&[("small", " 3.0 "), ("big", "-12.")])
        .await
        .unwrap();
    assert_eq!((form.small, form.big), (3, Some(-12)));
    let form = bind::<Counts>(&[("small", "3000000000"), ("big", "-99999999999999999999")])
        .await
        .unwrap_err();
    assert_eq!(
        form.errors()["small"],
        ["Ensure this value is less than or equal to 2147483647."]
    );
    assert_eq!(
        form.errors()["big"],
        ["Ensure this value is greater than or equal to -9223372036854775808."]
    );
    let form = bind::<Counts>(&[("small", "1"), ("wide", "3000000000")])
        .await
        .unwrap_err();
    assert_eq!(
        form.errors()["wide"],
        ["Ensure this value is less than or equal to 2147483647."]
    );
    let form = bind::<Counts>(&[("small", "3.5")]).await.unwrap_err();
    assert_eq!(form.errors()["small"], ["Enter a whole number."]);
}

#[derive(Debug, Form)]
struct Meeting {
    #[form(min = "08:00", max = "18:00")]
    at: NaiveTime,
    #[form(min = "2026-01-01T00:00")]
    from: Option<NaiveDateTime>,
}

/// As Django's `TimeField` and `DateTimeField`: seconds with a fraction
/// (what a time or datetime-local input sends when its `step` asks for
/// them) and a date alone (its midnight) are read; `min`/`max`, shown to
/// the browser in the input, are checked on the server too.
#[tokio::test]
async fn times_read_as_django_reads_them_within_their_bounds() {
    let form = bind::<Meeting>(&[("at", "09:30:15.5"), ("from", "2026-03-04T05:06:07.250")])
        .await
        .unwrap();
    assert_eq!(
        form.at,
        NaiveTime::from_hms_milli_opt(9, 30, 15, 500).unwrap()
    );
    assert_eq!(form.from.unwrap().to_string(), "2026-03-04 05:06:07.250");
    let form = bind::<Meeting>(&[("at", "08:00"), ("from", "2026-03-04")])
        .await
        .unwrap();
    assert_eq!(form.from.unwrap().to_string(), "2026-03-04 00:00:00");

    let form = bind::<Meeting>(&[("at", "18:00:01"), ("from", "2025-12-31 23:59")])
        .await
        .unwrap_err();
    assert_eq!(
        form.errors()["at"],
        ["Ensure this value is less than or equal to 18:00."]
    );
    assert_eq!(
        form.errors()["from"],
        ["Ensure this value is greater than or equal to 2026-01-01T00:00."]
    );
    assert!(
        form.field("at")
            .unwrap()
            .widget()
            .contains("min=\"08:00\" max=\"18:00\""),
    );
}

#[derive(Debug, Form)]
struct Newsletter {
    email: Email,
}

/// As Django's `EmailValidator`: an internationalized domain, written in
/// its letters or in punycode (a `xn--` top-level domain), is a valid
/// address, not "Enter a valid email address.".
#[tokio::test]
async fn an_email_address_at_an_internationalized_domain_is_valid() {
    assert_emails(
        &[
            "ada@example.xn--p1ai",
            "ada@xn--e1afmkfd.xn--p1ai",
            "ada@bücher.de",
            "ada@пример.рф",
        ],
        &["ada@example.xn--", "ada@exam ple.рф", "ada@example.1"],
    )
    .await;
}

/// That each of `valid` is a valid address, each of `wrong` "Enter a valid
/// email address.".
async fn assert_emails(valid: &[&str], wrong: &[&str]) {
    for address in valid {
        let form = bind::<Newsletter>(&[("email", address)]).await;
        assert_eq!(form.unwrap().email.as_str(), *address);
    }
    for wrong in wrong {
        let form = bind::<Newsletter>(&[("email", *wrong)]).await.unwrap_err();
        assert_eq!(
            form.errors()["email"],
            ["Enter a valid email address."],
            "{wrong}"
        );
    }
}

/// As Django's `EmailValidator`: `localhost` (its `domain_allowlist`, and
/// Nuages' own default `server_email`), an IP address in brackets and a
/// top-level domain with digits are valid addresses; they were "Enter a
/// valid email address.".
#[tokio::test]
async fn an_email_address_at_localhost_an_ip_or_a_numeric_tld_is_valid() {
    assert_emails(
        &[
            "root@localhost",
            "ops@[127.0.0.1]",
            "ops@[::1]",
            "ops@[2001:db8::1]",
            "ada@example.123",
        ],
        &["ada@[localhost]", "ada@[IPv6:::1]", "ada@127.0.0.1]"],
    )
    .await;
}

#[derive(Debug, Form)]
struct Link {
    site: Url,
}

/// As Django's `URLValidator`: an internationalized host, a host with its
/// trailing dot, a path or query of any characters but spaces are valid
/// URLs (they were "Enter a valid URL."); still only http and https, never
/// a `user:password@`, a port of at most 65535.
#[tokio::test]
async fn urls_read_as_django_reads_them() {
    for url in [
        "https://bücher.de/",
        "https://пример.рф/путь",
        "http://example.com./",
        "https://fr.wikipedia.org/wiki/Café",
        "http://www.example.com/path?x=<y>&z=^",
        "https://example.com/page#section",
        "http://[::1]:8000/",
        "http://127.0.0.1:8000/a",
        "http://localhost",
        "HTTPS://EXAMPLE.COM",
        "https://medium.com/@ada",
    ] {
        let form = bind::<Link>(&[("site", url)]).await;
        assert_eq!(form.unwrap().site.as_str(), url);
    }
    for wrong in [
        "javascript://example.com/%0Aalert(1)",
        "file:///etc/passwd",
        "http:///path",
        "http://[::1/",
        "http://[zz]/",
        "http://example.com:99999/",
        "http://example.com:/",
        "http://example.com:80x/",
        "http://999.999.999.999/",
        "http://-example.com/",
        "http://evil.com\\@example.com/",
        "https://user:pw@example.com/",
        "http://exa_mple.com/",
    ] {
        let form = bind::<Link>(&[("site", wrong)]).await.unwrap_err();
        assert_eq!(form.errors()["site"], ["Enter a valid URL."], "{wrong}");
    }
}

#[derive(Debug, Form)]
struct Numbers {
    count: Option<i64>,
    amount: Option<Decimal>,
    #[form(min = "-10", max = 10)]
    price: Option<Decimal>,
}

/// The value of `field` of [`Numbers`] bound to `text`, as its text, or its
/// error.
async fn number(field: &str, text: &str) -> std::result::Result<String, String> {
    match bind::<Numbers>(&[(field, text)]).await {
        Ok(form) => Ok(match field {
            "count" => form.count.unwrap().to_string(),
            "amount" => form.amount.unwrap().to_string(),
            _ => form.price.unwrap().to_string(),
        }),
        Err(form) => Err(form.errors()[field].join(" ")),
    }
}

/// Numbers as Django's `IntegerField` and `DecimalField` read them (Python's
/// `int()` and `Decimal()`): a sign, spaces around, digits of any script
/// (`１２`, `٣`), an exponent for a decimal (`1e3`, what a number input
/// may send); never NaN or an infinity; beyond what the type holds, the
/// bound it is over (as for whole numbers) or the decimal places it has.
#[tokio::test]
async fn hostile_numbers_get_djangos_messages() {
    let whole = "Enter a whole number.";
    let number_ = "Enter a number.";
    let i64_max = "Ensure this value is less than or equal to 9223372036854775807.";
    let places = "Ensure that there are no more than 28 decimal places.";
    let over = "Ensure this value is less than or equal to 79228162514264337593543950335.";
    let under = "Ensure this value is greater than or equal to -79228162514264337593543950335.";
    let huge = "9".repeat(10_000);
    let long_fraction = format!("0.{}", "1".repeat(40));
    let zeros_then_one = format!("{}1", "0".repeat(10_000));
    let one_then_zeros = format!("1.{}", "0".repeat(40));
    let wide = format!("1{}", "0".repeat(40));
    let cases: &[(&str, &str, std::result::Result<&str, &str>)] = &[
        ("count", "+5", Ok("5")),
        ("count", "\u{3000}7\u{a0}", Ok("7")),
        ("count", "１２", Ok("12")),
        ("count", "-٣", Ok("-3")),
        ("count", "𝟗", Ok("9")),
        ("count", "99999999999999999999", Err(i64_max)),
        ("count", "+99999999999999999999", Err(i64_max)),
        (
            "count",
            "-99999999999999999999",
            Err("Ensure this value is greater than or equal to -9223372036854775808."),
        ),
        ("count", &huge, Err(i64_max)),
        ("count", "1e3", Err(whole)),
        ("count", "NaN", Err(whole)),
        ("count", "0x10", Err(whole)),
        ("count", "--1", Err(whole)),
        ("count", "+-1", Err(whole)),
        ("count", "½", Err(whole)),
        ("count", "²", Err(whole)),
        ("count", "1 2", Err(whole)),
        ("count", "1_000", Err(whole)),
        ("amount", "1e3", Ok("1000")),
        ("amount", "1.5E-2", Ok("0.015")),
        ("amount", "+.5", Ok("0.5")),
        ("amount", "5.", Ok("5")),
        ("amount", " -12.50 ", Ok("-12.50")),
        ("amount", "１２.５", Ok("12.5")),
        ("amount", &zeros_then_one, Ok("1")),
        // As many zeros as the type holds after the point.
        (
            "amount",
            &one_then_zeros,
            Ok("1.0000000000000000000000000000"),
        ),
        ("amount", "0e-999", Ok("0")),
        (
            "amount",
            "79228162514264337593543950335",
            Ok("79228162514264337593543950335"),
        ),
        ("amount", "79228162514264337593543950336", Err(over)),
        ("amount", "79228162514264337593543950335.5", Err(over)),
        (
            "amount",
            "1234567890.1234567890123456789",
            Ok("1234567890.1234567890123456789"),
        ),
        (
            "amount",
            "99999999999999999999.999999999",
            Err("Ensure that there are no more than 28 digits in total."),
        ),
        ("amount", &wide, Err(over)),
        ("amount", "1e999", Err(over)),
        ("amount", "1e99999999999999999999999", Err(over)),
        ("amount", "-1e999", Err(under)),
        ("amount", &long_fraction, Err(places)),
        ("amount", "1e-999", Err(places)),
        ("amount", "1e-99999999999999999999999", Err(places)),
        (
            "price",
            "1e999",
            Err("Ensure this value is less than or equal to 10."),
        ),
        (
            "price",
            "-1e999",
            Err("Ensure this value is greater than or equal to -10."),
        ),
    ];
    for (field, text, expected) in cases {
        let got = number(field, text).await;
        let expected = expected.map(str::to_string).map_err(str::to_string);
        assert_eq!(
            got,
            expected,
            "{field} = {:?}",
            text.chars().take(50).collect::<String>()
        );
    }
    for text in [
        "NaN",
        "-nan",
        "sNaN",
        "inf",
        "-Infinity",
        "∞",
        "1e",
        "e3",
        ".",
        "-",
        "1e3.5",
        "1,5",
        "0x1p3",
        "1_000",
        "1e+",
        "١e٣x",
    ] {
        assert_eq!(
            number("amount", text).await,
            Err(number_.to_string()),
            "{text}"
        );
    }
}

/// As Django's `EmailField` (`max_length` 320 unless told, counted in
/// characters): a very long address says how long it is, and its input
/// carries `maxlength`; odd characters (zero-width, bidi overrides,
/// full-width local parts) make no valid address.
#[tokio::test]
async fn hostile_email_addresses_get_djangos_messages() {
    let long = format!("{}@example.com", "a".repeat(100_000));
    let form = bind::<Newsletter>(&[("email", &long)]).await.unwrap_err();
    assert_eq!(
        form.errors()["email"],
        ["Ensure this value has at most 320 characters (it has 100012)."]
    );
    let accented = format!("{}@example.com", "é".repeat(320));
    let form = bind::<Newsletter>(&[("email", &accented)])
        .await
        .unwrap_err();
    assert_eq!(
        form.errors()["email"],
        ["Ensure this value has at most 320 characters (it has 332)."]
    );
    assert!(
        form.field("email")
            .unwrap()
            .widget()
            .contains("maxlength=\"320\""),
    );
    assert_emails(
        &["ada@ｅｘａｍｐｌｅ.com"],
        &[
            "ada@exa\u{200b}mple.com",
            "ada\u{202e}@example.com",
            "ada@example.com\u{202e}",
            "ａｄａ@example.com",
            "ada@@example.com",
            "@example.com",
            "ada@",
            "ada@.com",
            "ada@example..com",
            "a\nda@example.com",
        ],
    )
    .await;
}

/// As Django's `QueryDict`: a field sent several times is read as its last
/// value, whatever its type; names the form does not have are ignored.
#[tokio::test]
async fn a_field_sent_several_times_is_its_last_value() {
    let form = bind::<Numbers>(&[
        ("count", "x"),
        ("count", "2"),
        ("amount", "1"),
        ("amount", ""),
        ("count\0", "y"),
        ("count[]", "y"),
        ("", "y"),
    ])
    .await
    .unwrap();
    assert_eq!((form.count, form.amount), (Some(2), None));
    let form = bind::<Newsletter>(&[("email", "ada@example.com"), ("email", "nope")])
        .await
        .unwrap_err();
    assert_eq!(form.errors()["email"], ["Enter a valid email address."]);
    assert_eq!(form.value("email"), Some("nope"));
}

#[derive(Debug, Form)]
struct Initial {
    #[form(max_length = 1)]
    letter: String,
}

/// As Django's `MaxLengthValidator` and `MinLengthValidator` (ngettext on
/// the limit): a limit of one says "1 character", not "1 characters".
#[tokio::test]
async fn a_length_limit_of_one_is_one_character() {
    assert_eq!(
        bind::<Initial>(&[("letter", "é")]).await.unwrap().letter,
        "é"
    );
    let form = bind::<Initial>(&[("letter", "ab")]).await.unwrap_err();
    assert_eq!(
        form.errors()["letter"],
        ["Ensure this value has at most 1 character (it has 2)."]
    );
    assert_eq!(
        super::fields::min_length_message(1, 0),
        "Ensure this value has at least 1 character (it has 0)."
    );
    assert_eq!(
        super::fields::min_length_message(2, 1),
        "Ensure this value has at least 2 characters (it has 1)."
    );
}

/// As Django's `URLField` (its `assume_scheme`, "https"): an address typed
/// without a scheme is read as https, not "Enter a valid URL."; a text
/// whose first part looks like a scheme (`localhost:8000`) keeps it.
#[tokio::test]
async fn a_url_without_a_scheme_is_https() {
    for (typed, read) in [
        ("example.com", "https://example.com"),
        (" example.com/a?b=c ", "https://example.com/a?b=c"),
        ("//example.com/x", "https://example.com/x"),
        ("127.0.0.1:8000/", "https://127.0.0.1:8000/"),
        ("bücher.de", "https://bücher.de"),
    ] {
        let form = bind::<Link>(&[("site", typed)]).await;
        assert_eq!(form.unwrap().site.as_str(), read, "{typed}");
    }
    for wrong in [
        "localhost:8000",
        "example",
        "exa mple.com",
        "1example.com:x",
    ] {
        let form = bind::<Link>(&[("site", wrong)]).await.unwrap_err();
        assert_eq!(form.errors()["site"], ["Enter a valid URL."], "{wrong}");
    }
}
