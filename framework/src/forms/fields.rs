//! The field types a form struct may hold, each with its widget and the way
//! it turns what was typed into a value (with Django's error messages).

use std::borrow::Cow;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_decimal::Decimal;
use serde::Serialize;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::FieldSpec;
use super::upload::UploadedFile;

/// How a field is shown in HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Widget {
    /// `<input type="text">` (a `<select>` when the field has choices).
    Text,
    /// `<input type="number">` for whole numbers.
    Integer,
    /// `<input type="number" step="any">`.
    Decimal,
    /// `<input type="checkbox">`: absent means false.
    Checkbox,
    /// `<input type="email">`.
    Email,
    /// `<input type="url">`.
    Url,
    /// `<select>` of the field's choices.
    Select,
    /// `<input type="date">`.
    Date,
    /// `<input type="time">`.
    Time,
    /// `<input type="datetime-local">`.
    DateTime,
    /// `<input type="file">`.
    File,
    /// `<input type="password">`, never showing what was typed.
    Password,
}

/// What was submitted for one field.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The text typed (the last value under the field's name, as Django).
    pub text: Option<&'a str>,
    /// The file sent, for file fields.
    pub file: Option<&'a UploadedFile>,
    /// The choices offered (static, of an enum, or from the field's query).
    pub choices: &'a [(String, String)],
}

impl Input<'_> {
    /// The text, without surrounding white space; empty when absent.
    pub fn trimmed(&self) -> &str {
        self.text.map(str::trim).unwrap_or("")
    }
}

/// A type a form field may have. Implemented for `String`, `i64`, `i32`,
/// `bool`, [`Decimal`], [`Email`], [`Url`], chrono's `NaiveDate`,
/// `NaiveTime` and `NaiveDateTime`, [`ModelChoice`], [`UploadedFile`] and
/// every [`Choices`] enum; a project may implement it for its own types.
pub trait FormField: Sized {
    /// How the field is shown.
    const WIDGET: Widget;

    /// The most characters of the field unless its `max_length` says
    /// otherwise (an email address's 320, as Django's `EmailField`).
    const MAX_LENGTH: Option<usize> = None;

    /// The choices of the type itself (an enum's variants).
    fn type_choices() -> Option<Vec<(String, String)>> {
        None
    }

    /// Whether nothing was submitted: then the field is required or `None`.
    fn is_empty(input: &Input<'_>) -> bool {
        input.trimmed().is_empty()
    }

    /// The value of a field left empty, for types that have one (`false`).
    fn when_empty() -> Option<Self> {
        None
    }

    /// The value of a non-empty input, or the message that says what is wrong.
    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String>;
}

/// Django's `MaxLengthValidator` message: `count` characters (not bytes)
/// of text are more than `max`.
pub(crate) fn max_length_message(max: usize, count: usize) -> String {
    format!(
        "Ensure this value has at most {max} {} (it has {count}).",
        characters(max)
    )
}

/// Django's `MinLengthValidator` message: `count` characters of text are
/// fewer than `min`.
pub(crate) fn min_length_message(min: usize, count: usize) -> String {
    format!(
        "Ensure this value has at least {min} {} (it has {count}).",
        characters(min)
    )
}

/// "character" or "characters", by the limit, as Django's `ngettext`.
fn characters(limit: usize) -> &'static str {
    match limit {
        1 => "character",
        _ => "characters",
    }
}

/// Check `max_length` / `min_length`, counted in characters as Django does.
fn check_length(text: &str, spec: &FieldSpec) -> Result<(), String> {
    let count = text.chars().count();
    if let Some(max) = spec.max_length
        && count > max
    {
        return Err(max_length_message(max, count));
    }
    if let Some(min) = spec.min_length
        && count < min
    {
        return Err(min_length_message(min, count));
    }
    Ok(())
}

/// Check `min` / `max` for an ordered value parsed from the bounds' text.
fn check_bounds<T: PartialOrd + FromStr>(value: &T, spec: &FieldSpec) -> Result<(), String> {
    check_bounds_by(value, spec, |text| text.parse().ok())
}

/// Check `min` / `max`, the bounds read as the field reads what is typed.
fn check_bounds_by<T: PartialOrd>(
    value: &T,
    spec: &FieldSpec,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<(), String> {
    if let Some(min) = spec.min.as_deref()
        && let Some(bound) = parse(min)
        && *value < bound
    {
        return Err(min_value_message(min));
    }
    if let Some(max) = spec.max.as_deref()
        && let Some(bound) = parse(max)
        && *value > bound
    {
        return Err(max_value_message(max));
    }
    Ok(())
}

/// Django's `MinValueValidator` message.
fn min_value_message(min: impl std::fmt::Display) -> String {
    format!("Ensure this value is greater than or equal to {min}.")
}

/// Django's `MaxValueValidator` message.
fn max_value_message(max: impl std::fmt::Display) -> String {
    format!("Ensure this value is less than or equal to {max}.")
}

/// Django's `ChoiceField` message of a value not among its choices.
fn invalid_choice_message(value: &str) -> String {
    format!("Select a valid choice. {value} is not one of the available choices.")
}

/// The value must be one of `choices`.
pub(super) fn check_choice(value: &str, choices: &[(String, String)]) -> Result<(), String> {
    if choices.iter().any(|(v, _)| v == value) {
        Ok(())
    } else {
        Err(invalid_choice_message(value))
    }
}

impl FormField for String {
    const WIDGET: Widget = Widget::Text;

    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
        let text = input.trimmed();
        check_length(text, spec)?;
        if !input.choices.is_empty() {
            check_choice(text, input.choices)?;
        }
        Ok(text.to_string())
    }
}

/// A whole number as Django's `IntegerField` reads it: a zero fraction is
/// allowed (`3.0` and `3.` are 3), `3.5` is not.
fn parse_whole<T: FromStr<Err = std::num::ParseIntError>>(
    text: &str,
) -> Result<T, std::num::ParseIntError> {
    let whole = match text.split_once('.') {
        Some((whole, zeros)) if zeros.chars().all(|c| c == '0') => whole,
        _ => text,
    };
    whole.parse()
}

/// The message of a number that does not parse: a whole number too large
/// for the field's type gets the bound it is over (the field's `max`/`min`,
/// else the type's, as Django's model forms say), not "Enter a whole number."
fn out_of_range<T: std::fmt::Display + FromStr>(
    error: &std::num::ParseIntError,
    spec: &FieldSpec,
    min: T,
    max: T,
) -> String {
    use std::num::IntErrorKind;
    match error.kind() {
        IntErrorKind::PosOverflow => over_bound(true, spec, min, max),
        IntErrorKind::NegOverflow => over_bound(false, spec, min, max),
        _ => "Enter a whole number.".to_string(),
    }
}

/// The message of a number beyond what its type holds: above it
/// (`above`) or below it, the field's own bound when it is one of the type
/// (as [`check_bounds`] reads it), else the type's.
fn over_bound<T: std::fmt::Display + FromStr>(
    above: bool,
    spec: &FieldSpec,
    min: T,
    max: T,
) -> String {
    let bound = |field: &Option<String>, own: T| match field.as_deref() {
        Some(text) if text.parse::<T>().is_ok() => text.to_string(),
        _ => own.to_string(),
    };
    match above {
        true => max_value_message(bound(&spec.max, max)),
        false => min_value_message(bound(&spec.min, min)),
    }
}

/// `text` with each decimal digit of another script (Unicode's `Nd`:
/// `１２`, `٣`, `𝟗`) as its ASCII digit, as Python's `int()` and
/// `Decimal()` read them, so Django's number fields.
fn ascii_digits(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| decimal_digit(c).unwrap_or(c))
            .collect(),
    )
}

/// The ASCII digit of `c` when it is a decimal digit of another script.
/// Unicode encodes each script's digits 0 to 9 in a row, some rows next to
/// each other (the mathematical digits): a digit's value is its distance
/// from the first digit of its stretch, modulo 10.
fn decimal_digit(c: char) -> Option<char> {
    let is_digit = |c: char| c.general_category() == GeneralCategory::DecimalNumber;
    if c.is_ascii() || !is_digit(c) {
        return None;
    }
    let mut first = c as u32;
    while let Some(before) = char::from_u32(first - 1)
        && is_digit(before)
    {
        first -= 1;
    }
    char::from_digit((c as u32 - first) % 10, 10)
}

/// Why a text is not a [`Decimal`].
#[derive(Debug, PartialEq)]
enum NotDecimal {
    /// Not a number at all (NaN and infinities included).
    Invalid,
    /// A number above what the type holds.
    Above,
    /// A number below what the type holds.
    Below,
    /// More decimal places than the type holds.
    Places,
    /// More digits than the type holds.
    Digits,
}

/// The integer part of [`Decimal::MAX`], which has no fraction.
const DECIMAL_MAX: &str = "79228162514264337593543950335";

/// A number as Python's `Decimal()` reads one (so Django's
/// `DecimalField`), its digits ASCII: a sign, digits with a point, an
/// exponent (`1e3`, `1.5E-2`); never NaN nor an infinity. What a
/// [`Decimal`] cannot hold (29 digits, 28 after the point) says why,
/// without rounding it, however long the text or large the exponent.
fn parse_decimal(text: &str) -> Result<Decimal, NotDecimal> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (rest, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(NotDecimal::Invalid);
    }
    let exponent = match exponent {
        None => 0,
        Some(text) => {
            let (sign, magnitude) = match text.strip_prefix('-') {
                Some(magnitude) => (-1, magnitude),
                None => (1, text.strip_prefix('+').unwrap_or(text)),
            };
            if magnitude.is_empty() || !digits(magnitude) {
                return Err(NotDecimal::Invalid);
            }
            // Past ten digits, any exponent gives the same answer (far
            // beyond what the type holds): no overflow.
            let magnitude = magnitude.trim_start_matches('0');
            sign * match magnitude.len() > 10 {
                true => 10_000_000_000,
                false => magnitude.parse::<i64>().unwrap_or(0),
            }
        }
    };
    // The value is `significant` × 10^`power`.
    let all = format!("{whole}{fraction}");
    let mut significant = all.trim_start_matches('0');
    let mut power = exponent - fraction.len() as i64;
    // Zeros past the places the type holds change nothing: dropped.
    while power < -28 && significant.ends_with('0') {
        significant = &significant[..significant.len() - 1];
        power += 1;
    }
    if significant.is_empty() {
        return Ok(Decimal::ZERO);
    }
    if power < -28 {
        return Err(NotDecimal::Places);
    }
    let too_large = match negative {
        true => NotDecimal::Below,
        false => NotDecimal::Above,
    };
    let whole_digits = significant.len() as i64 + power;
    if whole_digits > DECIMAL_MAX.len() as i64 {
        return Err(too_large);
    }
    if whole_digits == DECIMAL_MAX.len() as i64 {
        let zeros = "0".repeat(power.max(0) as usize);
        let (integer, rest) = significant.split_at(significant.len().min(DECIMAL_MAX.len()));
        let integer = format!("{integer}{zeros}");
        // Both of 29 digits: compared as texts.
        if integer.as_str() > DECIMAL_MAX
            || (integer == DECIMAL_MAX && rest.bytes().any(|b| b != b'0'))
        {
            return Err(too_large);
        }
    }
    // Within the bounds: only too many digits (with a fraction) can fail.
    let total_digits = significant.len() + power.max(0) as usize;
    if total_digits > 38 {
        return Err(NotDecimal::Digits);
    }
    let mut mantissa: i128 = significant.parse().map_err(|_| NotDecimal::Invalid)?;
    mantissa *= 10_i128.pow(power.max(0) as u32);
    if negative {
        mantissa = -mantissa;
    }
    Decimal::try_from_i128_with_scale(mantissa, (-power.min(0)) as u32)
        .map_err(|_| NotDecimal::Digits)
}

macro_rules! integer_field {
    ($($t:ty),*) => {$(
        impl FormField for $t {
            const WIDGET: Widget = Widget::Integer;

            fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
                let value: $t = parse_whole(&ascii_digits(input.trimmed()))
                    .map_err(|error| out_of_range(&error, spec, <$t>::MIN, <$t>::MAX))?;
                check_bounds(&value, spec)?;
                Ok(value)
            }
        }
    )*};
}
integer_field!(i64, i32);

impl FormField for Decimal {
    const WIDGET: Widget = Widget::Decimal;

    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
        let value = parse_decimal(&ascii_digits(input.trimmed())).map_err(|error| match error {
            NotDecimal::Invalid => "Enter a number.".to_string(),
            NotDecimal::Above => over_bound(true, spec, Decimal::MIN, Decimal::MAX),
            NotDecimal::Below => over_bound(false, spec, Decimal::MIN, Decimal::MAX),
            // Django's `DecimalValidator` messages, with the type's limits.
            NotDecimal::Places => {
                "Ensure that there are no more than 28 decimal places.".to_string()
            }
            NotDecimal::Digits => {
                "Ensure that there are no more than 28 digits in total.".to_string()
            }
        })?;
        check_bounds(&value, spec)?;
        Ok(value)
    }
}

impl FormField for bool {
    const WIDGET: Widget = Widget::Checkbox;

    fn when_empty() -> Option<Self> {
        Some(false)
    }

    fn clean(input: &Input<'_>, _: &FieldSpec) -> Result<Self, String> {
        // What browsers send for a checked box ("on", or its value), as Django reads it.
        Ok(!matches!(
            input.trimmed().to_ascii_lowercase().as_str(),
            "false" | "0" | "off"
        ))
    }
}

/// What was typed into a password field (`<input type="password">`), as
/// Django's `CharField(strip=False, widget=PasswordInput)`: kept exactly as
/// typed (spaces included), never sent back to the browser (a form shown
/// again has the field empty, and its `value` is empty too), and never shown
/// by `Debug`.
///
/// ```
/// use nuages::forms::{Form, Password};
///
/// #[derive(Form)]
/// struct SignupForm {
///     username: String,
///     #[form(min_length = 8)]
///     password: Password,
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The password as typed, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(********)")
    }
}

impl FormField for Password {
    const WIDGET: Widget = Widget::Password;

    fn is_empty(input: &Input<'_>) -> bool {
        input.text.is_none_or(str::is_empty)
    }

    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
        let text = input.text.unwrap_or_default();
        check_length(text, spec)?;
        Ok(Password(text.to_string()))
    }
}

/// An email address, checked as Django's `EmailValidator` does: a dot-atom
/// local part, then a domain of letters, digits and hyphens with a dot (its
/// top-level label may have digits: `ada@example.123`), `localhost`
/// (`root@localhost`), or an IP address in brackets (`ops@[127.0.0.1]`,
/// `ops@[::1]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

impl Email {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address, if it is a valid one.
    pub fn parse(text: &str) -> Option<Email> {
        let (local, domain) = text.rsplit_once('@')?;
        let atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .split('.')
                .all(|atom| !atom.is_empty() && atom.chars().all(atom_char));
        (local_ok && text.len() <= 320 && valid_email_domain(domain))
            .then(|| Email(text.to_string()))
    }
}

/// The domain of an email address, as Django's `EmailValidator` takes it:
/// `localhost` (its `domain_allowlist`), an IPv4 or IPv6 address in
/// brackets, or a host name with a dot whose top-level label is two
/// characters or more of letters, digits and inner hyphens.
fn valid_email_domain(domain: &str) -> bool {
    if domain == "localhost" {
        return true;
    }
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return literal.parse::<std::net::IpAddr>().is_ok();
    }
    host_labels(domain).is_some_and(|tld| tld.len() >= 2)
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The top-level label of a host name with a dot whose labels are letters,
/// digits and inner hyphens; `None` for anything else. Letters beyond ASCII
/// are allowed, as Django allows internationalized domains.
fn host_labels(domain: &str) -> Option<&str> {
    let valid = domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    valid.then(|| domain.rsplit('.').next().unwrap_or_default())
}

/// A host name of a URL (Django's `URLValidator`): [`host_labels`] with a
/// top-level label of letters or an IDN one (`xn--p1ai`, `рф`).
fn valid_domain(domain: &str) -> bool {
    host_labels(domain).is_some_and(|tld| {
        let idn = tld.strip_prefix("xn--").is_some_and(|rest| {
            !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
        });
        idn || (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
    })
}

impl FormField for Email {
    const WIDGET: Widget = Widget::Email;
    // RFC 3696's limit, as Django's `EmailField`.
    const MAX_LENGTH: Option<usize> = Some(320);

    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
        let text = input.trimmed();
        check_length(text, spec)?;
        Email::parse(text).ok_or_else(|| "Enter a valid email address.".to_string())
    }
}

/// An `http://` or `https://` URL with a host (no other scheme: no
/// `javascript:`, no `file:`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Url(String);

impl Url {
    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL, if it is an http(s) URL with a valid host, read as
    /// Django's `URLValidator` reads one: a host name (internationalized
    /// ones too: `https://bücher.de/`), `localhost`, an IPv4 address or an
    /// IPv6 one in brackets, an optional port, then anything but spaces
    /// (`/wiki/Café`, `?q=<x>`); never a `user:password@`.
    pub fn parse(text: &str) -> Option<Url> {
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let (scheme, rest) = text.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if authority.contains('@') {
            return None;
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (ip, after) = bracketed.split_once(']')?;
                ip.parse::<std::net::Ipv6Addr>().ok()?;
                (None, after)
            }
            None => match authority.split_once(':') {
                Some((host, _)) => (Some(host), &authority[host.len()..]),
                None => (Some(authority), ""),
            },
        };
        let port_ok = port.is_empty()
            || port.strip_prefix(':').is_some_and(|digits| {
                (1..=5).contains(&digits.len())
                    && digits.chars().all(|c| c.is_ascii_digit())
                    && digits.parse::<u16>().is_ok()
            });
        let host_ok = host.is_none_or(|host| {
            host.eq_ignore_ascii_case("localhost")
                || host.parse::<std::net::Ipv4Addr>().is_ok()
                || valid_domain(host.strip_suffix('.').unwrap_or(host))
        });
        (port_ok && host_ok).then(|| Url(text.to_string()))
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FormField for Url {
    const WIDGET: Widget = Widget::Url;

    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
        let text = with_scheme(input.trimmed());
        check_length(&text, spec)?;
        Url::parse(&text).ok_or_else(|| "Enter a valid URL.".to_string())
    }
}

/// `text` with `https://` in front when it has no scheme, as Django's
/// `URLField` (its `assume_scheme`): `example.com/a` is
/// `https://example.com/a`, `//example.com` is `https://example.com`. A
/// scheme is what comes before the first `:` when it starts with an ASCII
/// letter and holds no `/` (so `localhost:8000` keeps its "scheme", and is
/// no valid URL, as in Django).
fn with_scheme(text: &str) -> Cow<'_, str> {
    let has_scheme = text.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic()) && !scheme.contains('/')
    });
    match (has_scheme, text.starts_with("//")) {
        (true, _) => Cow::Borrowed(text),
        (false, true) => Cow::Owned(format!("https:{text}")),
        (false, false) => Cow::Owned(format!("https://{text}")),
    }
}

/// The years Python's `date` holds, which Django's date fields accept.
/// chrono also reads `-0001-01-01` and `+10000-01-01`, which a database
/// refuses or stores as no other program reads it (PostgreSQL answers an
/// error: a 500 for any visitor who types one).
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// A date as Django's `DateField` reads it: `%Y-%m-%d`, in [`YEARS`].
fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|date| YEARS.contains(&date.year()))
}

impl FormField for NaiveDate {
    const WIDGET: Widget = Widget::Date;

    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
        let value = parse_date(input.trimmed()).ok_or_else(|| "Enter a valid date.".to_string())?;
        check_bounds(&value, spec)?;
        Ok(value)
    }
}

/// A time as Django's `TIME_INPUT_FORMATS` read it: `%H:%M`, `%H:%M:%S`
/// and `%H:%M:%S.%f` (what a time input sends when its `step` asks for
/// seconds or their fraction).
fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()
        .filter(|time| !is_leap_second(time))
}

/// `23:59:60`, which chrono reads as a leap second and Python's `time`
/// (so Django) refuses: a time no clock shows, and no database stores.
fn is_leap_second(time: &NaiveTime) -> bool {
    time.nanosecond() >= 1_000_000_000
}

/// A date and time as Django's `DateTimeField` reads it: `T` or a space
/// between them, seconds and their fraction optional, and a date alone
/// as its midnight; in [`YEARS`].
fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .filter(|datetime| !is_leap_second(&datetime.time()) && YEARS.contains(&datetime.year()))
    .or_else(|| parse_date(text).map(|date| date.and_time(NaiveTime::MIN)))
}

impl FormField for NaiveTime {
    const WIDGET: Widget = Widget::Time;

    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
        let value = parse_time(input.trimmed()).ok_or_else(|| "Enter a valid time.".to_string())?;
        check_bounds_by(&value, spec, parse_time)?;
        Ok(value)
    }
}

impl FormField for NaiveDateTime {
    const WIDGET: Widget = Widget::DateTime;

    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
        let value = parse_datetime(input.trimmed())
            .ok_or_else(|| "Enter a valid date/time.".to_string())?;
        check_bounds_by(&value, spec, parse_datetime)?;
        Ok(value)
    }
}

/// An enum whose variants are a field's choices: the value sent, and the
/// label shown. Derive it (`#[derive(Choices)]`, with `#[choice(value =
/// "…", label = "…")]` on a variant to change the defaults: its name in
/// snake_case and in words), or write it:
///
/// ```
/// use nuages::forms::Choices;
/// #[derive(Debug, PartialEq)]
/// enum Size { Small, Large }
/// impl Choices for Size {
///     fn choices() -> Vec<(Self, &'static str, &'static str)> {
///         vec![(Size::Small, "s", "Small"), (Size::Large, "l", "Large")]
///     }
/// }
///
/// #[derive(Debug, PartialEq, Choices)]
/// enum Plan { Free, #[choice(label = "Pro (yearly)")] ProYearly }
/// assert_eq!(Plan::choices()[1].1, "pro_yearly");
/// assert_eq!(Plan::choices()[1].2, "Pro (yearly)");
/// assert_eq!(Plan::choices()[0].2, "Free");
/// ```
pub trait Choices: Sized {
    /// Each variant with its value and label, in the order shown.
    fn choices() -> Vec<(Self, &'static str, &'static str)>;
}

impl<T: Choices> FormField for T {
    const WIDGET: Widget = Widget::Select;

    fn type_choices() -> Option<Vec<(String, String)>> {
        Some(
            T::choices()
                .into_iter()
                .map(|(_, value, label)| (value.to_string(), label.to_string()))
                .collect(),
        )
    }

    fn clean(input: &Input<'_>, _: &FieldSpec) -> Result<Self, String> {
        let text = input.trimmed();
        T::choices()
            .into_iter()
            .find(|(_, value, _)| *value == text)
            .map(|(variant, _, _)| variant)
            .ok_or_else(|| invalid_choice_message(text))
    }
}

/// A row picked among those of the field's `query` (`SELECT id, label …`),
/// run through the database pool when the form is bound: an id the query
/// does not return is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelChoice {
    /// The id of the row.
    pub id: i64,
    /// Its label (the query's second column).
    pub label: String,
}

impl FormField for ModelChoice {
    const WIDGET: Widget = Widget::Select;

    /// The id is read as Django's `ModelChoiceField` reads it, through the
    /// primary key's `int()`: `02`, `+2`, ` 2 ` and `２` are id 2; a
    /// fraction (`2.0`, which the Integer field takes) or any other text is
    /// no choice.
    fn clean(input: &Input<'_>, _: &FieldSpec) -> Result<Self, String> {
        let invalid = || {
            "Select a valid choice. That choice is not one of the available choices.".to_string()
        };
        let id: i64 = ascii_digits(input.trimmed())
            .parse()
            .map_err(|_| invalid())?;
        input
            .choices
            .iter()
            .find(|(value, _)| value.parse() == Ok(id))
            .map(|(_, label)| ModelChoice {
                id,
                label: label.clone(),
            })
            .ok_or_else(invalid)
    }
}

impl FormField for UploadedFile {
    const WIDGET: Widget = Widget::File;

    fn is_empty(input: &Input<'_>) -> bool {
        input.file.is_none()
    }

    fn clean(input: &Input<'_>, spec: &FieldSpec) -> Result<Self, String> {
        let file = input.file.expect("is_empty is false");
        if file.size() == 0 {
            return Err("The submitted file is empty.".into());
        }
        if let Some(max) = spec.max_size
            && file.size() > max
        {
            return Err(format!(
                "Ensure this file is at most {max} bytes (it is {}).",
                file.size()
            ));
        }
        Ok(file.clone())
    }
}
