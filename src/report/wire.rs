//! The JSON the original clients send, parsed strictly (wrong types are refused, nulls are
//! accepted wherever the original clients send them), checked against the limits, and each
//! text field cleaned (see [`super::text`]): a report is refused only when it cannot be stored
//! faithfully, never for the characters a machine printed.

use super::email::normalize_email;
use super::text::{clean, Lines};
use super::workshop::WorkshopId;
use super::{
    parse_key, Failure, Package, Report, SystemInfo, MAX_DEPTH, MAX_ERROR_CHARS, MAX_NAME_CHARS,
    MAX_PACKAGES_PER_LIST, MAX_SYSTEM_FIELD_CHARS,
};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;
use std::time::SystemTime;

/// Why a body is not a report we store; `detail` names the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Which answer the client gets.
    pub kind: RejectionKind,
    /// Shown to the client: `failed_installs[3].name: 250 characters, at most 200 allowed`.
    pub detail: String,
}

/// The kinds of bad input, each answered with its own status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// Not JSON at all: syntax, invalid UTF-8, nesting too deep.
    Malformed,
    /// JSON, but not the shape of a report.
    WrongShape,
    /// A list or a string over its limit.
    TooLarge,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// A `T` read only from a JSON object. serde's derived structs also accept an array of their
/// fields in order, so `"user_system_info": ["x"]` would pass as a machine named "x".
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Visitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Visitor(PhantomData))
            .map(Object)
    }
}

#[derive(Deserialize)]
struct Submission {
    #[serde(default)]
    user_system_info: Option<Object<WireSystemInfo>>,
    #[serde(default)]
    successful_installs: Option<Vec<Object<WirePackage>>>,
    #[serde(default)]
    failed_installs: Option<Vec<Object<WireFailure>>>,
    #[serde(default)]
    unique_user_id: Option<String>,
    /// When the checks ran (RFC 3339), for a report sent later than it was made.
    #[serde(default)]
    checked_at: Option<String>,
}

/// Unknown fields are ignored here: later clients may report more about the machine.
#[derive(Deserialize, Default)]
struct WireSystemInfo {
    #[serde(default)]
    distribution_name: Option<String>,
    #[serde(default)]
    distribution_version: Option<String>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    system_version: Option<String>,
    #[serde(default)]
    machine: Option<String>,
    #[serde(default)]
    system_platform: Option<String>,
    #[serde(default)]
    python_version: Option<String>,
    #[serde(default)]
    workshop_id: Option<String>,
    #[serde(default)]
    email_id: Option<String>,
}

#[derive(Deserialize)]
struct WirePackage {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct WireFailure {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// Parses and checks one POSTed body.
pub fn parse_report(body: &[u8]) -> Result<Report, Rejection> {
    check_depth(body)?;
    let mut de = serde_json::Deserializer::from_slice(body);
    let Object(submission): Object<Submission> = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| {
            let kind = if e.inner().is_data() {
                RejectionKind::WrongShape
            } else {
                RejectionKind::Malformed
            };
            let path = field_path(e.path());
            let why = without_values(&e.inner().to_string());
            let detail = if path == "." {
                why
            } else {
                format!("{path}: {why}")
            };
            Rejection { kind, detail }
        })?;
    de.end().map_err(|e| Rejection {
        kind: RejectionKind::Malformed,
        detail: e.to_string(),
    })?;
    submission.into_report()
}

/// Every field name a report has: only these are named in an error's path.
const FIELDS: [&str; 17] = [
    "user_system_info",
    "successful_installs",
    "failed_installs",
    "unique_user_id",
    "checked_at",
    "distribution_name",
    "distribution_version",
    "system",
    "system_version",
    "machine",
    "system_platform",
    "python_version",
    "workshop_id",
    "email_id",
    "name",
    "version",
    "error_description",
];

/// Where in the body an error is, as serde_path_to_error writes it
/// (`failed_installs[3].name`), except that a key the client made up is not repeated: it is
/// the client's text, like a value.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut text = String::new();
    for segment in path.iter() {
        let name = match segment {
            Segment::Seq { index } => {
                text.push_str(&format!("[{index}]"));
                continue;
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                FIELDS.iter().find(|f| **f == key.as_str()).copied()
            }
            Segment::Unknown => None,
        };
        if !text.is_empty() {
            text.push('.');
        }
        text.push_str(name.unwrap_or("(unknown field)"));
    }
    if text.is_empty() {
        ".".to_owned()
    } else {
        text
    }
}

/// serde's message without the values it quotes (`invalid type: string "a@b.org"`): what a
/// learner put in the wrong field may be their email, and error details reach logs and
/// screens.
fn without_values(message: &str) -> String {
    let mut kept = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            kept.push(c);
            continue;
        }
        let mut escaped = false;
        for c in chars.by_ref() {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => break,
                _ => escaped = false,
            }
        }
        if kept.ends_with(' ') {
            kept.pop();
        }
    }
    kept
}

/// Refuses nesting deeper than [`MAX_DEPTH`] anywhere, unknown fields included (serde skips
/// those without its recursion limit). A real report nests three levels.
fn check_depth(body: &[u8]) -> Result<(), Rejection> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in body {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Rejection {
                        kind: RejectionKind::Malformed,
                        detail: format!("nested deeper than {MAX_DEPTH} levels"),
                    });
                }
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            (false, _, _) => {}
        }
    }
    Ok(())
}

impl Submission {
    fn into_report(self) -> Result<Report, Rejection> {
        let successes = self.successful_installs.unwrap_or_default();
        let failures = self.failed_installs.unwrap_or_default();
        check_count("successful_installs", successes.len())?;
        check_count("failed_installs", failures.len())?;
        let successes = successes
            .into_iter()
            .enumerate()
            .map(|(i, Object(p))| {
                let at = |field| format!("successful_installs[{i}].{field}");
                Ok(Package {
                    name: package_name(&at("name"), p.name)?,
                    version: one_line(&at("version"), p.version, MAX_NAME_CHARS)?,
                })
            })
            .collect::<Result<_, Rejection>>()?;
        let failures = failures
            .into_iter()
            .enumerate()
            .map(|(i, Object(p))| {
                let at = |field| format!("failed_installs[{i}].{field}");
                Ok(Failure {
                    name: package_name(&at("name"), p.name)?,
                    version: one_line(&at("version"), p.version, MAX_NAME_CHARS)?,
                    error_description: prose(&at("error_description"), p.error_description)?,
                })
            })
            .collect::<Result<_, Rejection>>()?;
        Ok(Report {
            // A key that is not a UUID is treated as absent: the learner gets a fresh one.
            key: self.unique_user_id.as_deref().and_then(parse_key),
            system: self
                .user_system_info
                .map(|Object(system)| system)
                .unwrap_or_default()
                .into_system()?,
            successes,
            failures,
            // A time that does not parse is as good as none: the arrival time counts.
            checked_at: self.checked_at.as_deref().and_then(parse_time),
        })
    }
}

impl WireSystemInfo {
    fn into_system(self) -> Result<SystemInfo, Rejection> {
        let at = |name: &str| format!("user_system_info.{name}");
        let field = |name: &str, value| one_line(&at(name), value, MAX_SYSTEM_FIELD_CHARS);
        Ok(SystemInfo {
            distribution_name: field("distribution_name", self.distribution_name)?,
            distribution_version: field("distribution_version", self.distribution_version)?,
            system: field("system", self.system)?,
            system_version: field("system_version", self.system_version)?,
            machine: field("machine", self.machine)?,
            system_platform: field("system_platform", self.system_platform)?,
            python_version: field("python_version", self.python_version)?,
            workshop_id: as_received(&at("workshop_id"), self.workshop_id.as_deref())?
                .and_then(WorkshopId::from_report)
                .map(WorkshopId::into_string),
            // What is not an address is treated as absent (an earlier one is kept).
            email_id: as_received(&at("email_id"), self.email_id.as_deref())?
                .and_then(normalize_email),
        })
    }
}

fn check_count(list: &str, count: usize) -> Result<(), Rejection> {
    if count > MAX_PACKAGES_PER_LIST {
        return Err(Rejection {
            kind: RejectionKind::TooLarge,
            detail: format!("{list}: {count} entries, at most {MAX_PACKAGES_PER_LIST} allowed"),
        });
    }
    Ok(())
}

/// The text as received, refused only when it is over its limit.
fn within_limit<'a>(at: &str, value: &'a str, limit: usize) -> Result<&'a str, Rejection> {
    let chars = value.chars().count();
    if chars > limit {
        return Err(Rejection {
            kind: RejectionKind::TooLarge,
            detail: format!("{at}: {chars} characters, at most {limit} allowed"),
        });
    }
    Ok(value)
}

/// A workshop id or an email as received, within the limit of a system field; the caller
/// applies its own rule to it.
fn as_received<'a>(at: &str, value: Option<&'a str>) -> Result<Option<&'a str>, Rejection> {
    value
        .map(|text| within_limit(at, text, MAX_SYSTEM_FIELD_CHARS))
        .transpose()
}

/// A check's name: one line with something to read in it once cleaned. A blank name (no
/// script sends one) could be stored, but not shown or linked to as anything but a blank.
fn package_name(at: &str, value: String) -> Result<String, Rejection> {
    let name = clean(within_limit(at, &value, MAX_NAME_CHARS)?, Lines::One);
    if name.is_empty() {
        return Err(Rejection {
            kind: RejectionKind::WrongShape,
            detail: format!("{at}: blank, a check needs a name"),
        });
    }
    Ok(name)
}

/// A version or a machine field: one line, cleaned (a version's trailing newline goes with
/// it); nothing left counts as absent, as the original clients send "" for "unknown".
fn one_line(at: &str, value: Option<String>, limit: usize) -> Result<Option<String>, Rejection> {
    let text = clean(
        within_limit(at, value.as_deref().unwrap_or(""), limit)?,
        Lines::One,
    );
    Ok((!text.is_empty()).then_some(text))
}

/// An error description: prose that keeps its inner line breaks and tabs; its ends trimmed.
fn prose(at: &str, value: Option<String>) -> Result<Option<String>, Rejection> {
    let text = within_limit(at, value.as_deref().unwrap_or(""), MAX_ERROR_CHARS)?;
    let cleaned = clean(text, Lines::Many);
    let trimmed = cleaned.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

/// An RFC 3339 time (`2026-12-03T09:41:07Z`, any offset), or `None`.
fn parse_time(text: &str) -> Option<SystemTime> {
    let time: jiff::Timestamp = text.trim().parse().ok()?;
    SystemTime::try_from(time).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_example_parses() {
        let body = br##"{
          "user_system_info": {"distribution_name": "Ubuntu", "distribution_version": "16.04",
            "system": "Linux", "system_version": "#50-Ubuntu SMP", "machine": "x86_64",
            "system_platform": "Linux-4.4.0-31-generic-x86_64-with-Ubuntu-16.04-xenial",
            "python_version": "3.5.1", "workshop_id": "2016-08-13-place", "email_id": null},
          "successful_installs": [{"name": "Git (git)", "version": "2.7.4\n"}],
          "failed_installs": [{"name": "EasyMercurial", "version": null,
                               "error_description": "errors finding EasyMercurial version"}],
          "unique_user_id": null
        }"##;
        let report = parse_report(body).unwrap();
        assert_eq!(report.key, None);
        assert_eq!(
            report.system.workshop_id.as_deref(),
            Some("2016-08-13-place")
        );
        assert_eq!(report.system.email_id, None);
        assert_eq!(report.successes[0].version.as_deref(), Some("2.7.4"));
        assert_eq!(report.failures[0].version, None);
    }

    #[test]
    fn a_malformed_key_is_dropped_and_a_uuid_kept() {
        let report = parse_report(br#"{"unique_user_id": "not-a-uuid"}"#).unwrap();
        assert_eq!(report.key, None);
        let key = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
        let report = parse_report(format!(r#"{{"unique_user_id": "{key}"}}"#).as_bytes()).unwrap();
        assert_eq!(report.key.unwrap().to_string(), key);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = parse_report(br#"{"successful_installs": [{"name": 5}]}"#).unwrap_err();
        assert_eq!(err.kind, RejectionKind::WrongShape);
        assert!(
            err.detail.starts_with("successful_installs[0].name:"),
            "{}",
            err.detail
        );
        let err = parse_report(br#"{"failed_installs": {"name": "x"}}"#).unwrap_err();
        assert!(err.detail.starts_with("failed_installs:"), "{}", err.detail);
        let err = parse_report(br#"[1, 2]"#).unwrap_err();
        assert_eq!(err.kind, RejectionKind::WrongShape);
    }

    #[test]
    fn syntax_utf8_and_nesting_are_malformed() {
        for body in [
            &b"{\"successful_installs\": ["[..],
            &b"{\"unique_user_id\": \"\xff\xfe\"}"[..],
            &b"{} trailing"[..],
            &b""[..],
        ] {
            let err = parse_report(body).unwrap_err();
            assert_eq!(err.kind, RejectionKind::Malformed, "{body:?}: {err}");
        }
        let deep = format!(
            r#"{{"user_system_info": {{"extra": {}{}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert_eq!(
            parse_report(deep.as_bytes()).unwrap_err().kind,
            RejectionKind::Malformed
        );
    }

    #[test]
    fn limits_are_enforced() {
        let many = format!(
            r#"{{"failed_installs": [{}]}}"#,
            vec![r#"{"name": "x"}"#; MAX_PACKAGES_PER_LIST + 1].join(",")
        );
        assert_eq!(
            parse_report(many.as_bytes()).unwrap_err().kind,
            RejectionKind::TooLarge
        );
        let long = format!(
            r#"{{"successful_installs": [{{"name": "{}"}}]}}"#,
            "n".repeat(MAX_NAME_CHARS + 1)
        );
        let err = parse_report(long.as_bytes()).unwrap_err();
        assert_eq!(err.kind, RejectionKind::TooLarge);
        assert!(
            err.detail.contains("successful_installs[0].name"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn an_array_is_never_read_as_an_object() {
        for body in [
            r#"{"user_system_info": []}"#,
            r#"{"user_system_info": ["x"]}"#,
            r#"{"successful_installs": [["git", "1.0"]]}"#,
            r#"{"failed_installs": [["git", "1.0", "broken"]]}"#,
            r#"["x"]"#,
        ] {
            let err = parse_report(body.as_bytes()).unwrap_err();
            assert_eq!(err.kind, RejectionKind::WrongShape, "{body}: {err}");
            let field = body.split('"').nth(1).unwrap_or_default();
            assert!(err.detail.contains(field), "{body}: {err}");
        }
    }

    /// Issue 20, item 2: a report was refused whole for one field holding a control
    /// character, a bidirectional control or markup; each field is now cleaned instead.
    #[test]
    fn texts_a_machine_printed_are_stored_cleaned_never_refused() {
        let body = r#"{
          "user_system_info": {"machine": "x86\u000064", "system": "Linux\n",
            "workshop_id": " evil\u202Egnp.exe ", "email_id": "<jane@uni.edu>",
            "distribution_name": "a>b", "python_version": "3.6.15 (default) \n[GCC 12.2.0]"},
          "successful_installs": [{"name": "\u001b[32mGit (git)\u001b[0m", "version": "2.7.4\r\n"}],
          "failed_installs": [{"name": "Git \u2066(git)\u2069", "version": "1.8",
            "error_description": "\u001b[31mversion 1.8 < required 2.0\u001b[0m\r\n\tsee <b>the hint</b>\n"}]
        }"#;
        let report = parse_report(body.as_bytes()).unwrap();
        let s = &report.system;
        assert_eq!(s.machine.as_deref(), Some("x8664"));
        assert_eq!(s.system.as_deref(), Some("Linux"));
        assert_eq!(s.workshop_id.as_deref(), Some("evilgnp.exe"));
        assert_eq!(s.email_id.as_deref(), Some("jane@uni.edu"));
        assert_eq!(s.distribution_name.as_deref(), Some("a>b"));
        assert_eq!(
            s.python_version.as_deref(),
            Some("3.6.15 (default) [GCC 12.2.0]")
        );
        assert_eq!(report.successes[0].name, "Git (git)");
        assert_eq!(report.successes[0].version.as_deref(), Some("2.7.4"));
        assert_eq!(report.failures[0].name, "Git (git)");
        assert_eq!(
            report.failures[0].error_description.as_deref(),
            Some("version 1.8 < required 2.0\n\tsee <b>the hint</b>")
        );
    }

    #[test]
    fn what_cleaning_leaves_empty_is_absent_but_a_check_needs_a_name() {
        let report = parse_report(
            br#"{"user_system_info": {"workshop_id": "\u001b[0m", "email_id": "nobody",
                 "system": " \u200f "},
                 "failed_installs": [{"name": "x", "error_description": "\r\n"}]}"#,
        )
        .unwrap();
        assert_eq!(report.system.workshop_id, None);
        assert_eq!(report.system.email_id, None);
        assert_eq!(report.system.system, None);
        assert_eq!(report.failures[0].error_description, None);
        let err =
            parse_report(br#"{"successful_installs": [{"name": "\u001b[0m\n"}]}"#).unwrap_err();
        assert_eq!(err.kind, RejectionKind::WrongShape);
        assert!(
            err.detail.starts_with("successful_installs[0].name: blank"),
            "{err}"
        );
    }

    #[test]
    fn limits_count_the_text_as_received() {
        // 200 characters of colour codes and a short version: over the limit as sent.
        let version = format!("{}1.0", "\u{1b}[0m".repeat(50));
        let body = serde_json::json!({"successful_installs": [{"name": "x", "version": version}]});
        let err = parse_report(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.kind, RejectionKind::TooLarge, "{err}");
        let id = "w".repeat(MAX_SYSTEM_FIELD_CHARS + 1);
        let body = serde_json::json!({"user_system_info": {"workshop_id": id}});
        let err = parse_report(body.to_string().as_bytes()).unwrap_err();
        assert!(
            err.detail.starts_with("user_system_info.workshop_id: 501"),
            "{err}"
        );
    }

    #[test]
    fn checked_at_is_read_when_it_is_a_time_ignored_when_not_refused_when_not_text() {
        let at = |value: &str| parse_report(format!(r#"{{"checked_at": {value}}}"#).as_bytes());
        let time = at(r#""2026-12-03T09:41:07Z""#).unwrap().checked_at.unwrap();
        let seconds = time
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(seconds, 1_796_290_867);
        let offset = at(r#""2026-12-03T10:41:07.5+01:00""#)
            .unwrap()
            .checked_at
            .unwrap();
        assert_eq!(offset.duration_since(time).unwrap().as_millis(), 500);
        for ignored in [
            r#""yesterday""#,
            r#""""#,
            "null",
            r#""2026-13-03T09:41:07Z""#,
        ] {
            assert_eq!(at(ignored).unwrap().checked_at, None, "{ignored}");
        }
        for wrong in ["1796290867", "true", r#"{"at": 1}"#] {
            let err = at(wrong).unwrap_err();
            assert_eq!(err.kind, RejectionKind::WrongShape, "{wrong}");
            assert!(err.detail.starts_with("checked_at:"), "{wrong}: {err}");
        }
    }

    #[test]
    fn error_details_never_repeat_the_value_sent() {
        let err = parse_report(br#"{"successful_installs": "someone@example.org"}"#).unwrap_err();
        assert!(!err.detail.contains("someone"), "{err}");
        assert!(err
            .detail
            .starts_with("successful_installs: invalid type: string"));
        assert_eq!(
            without_values(r#"invalid type: string "a\"b", expected x"#),
            "invalid type: string, expected x"
        );
        // Found by cargo fuzz: an unknown key's name came back in the path.
        let err = parse_report(b"{\"someone@example.org\": [\"\\u0\"]}").unwrap_err();
        assert!(!err.detail.contains("someone"), "{err}");
        assert!(err.detail.starts_with("(unknown field)"), "{err}");
    }

    #[test]
    fn every_spelling_of_a_key_is_the_same_key() {
        let key = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
        for spelling in [
            key.to_uppercase(),
            format!("{{{key}}}"),
            format!("urn:uuid:{key}"),
            key.replace('-', ""),
            format!("  {key}\n"),
        ] {
            assert_eq!(parse_key(&spelling).unwrap().to_string(), key, "{spelling}");
        }
        assert_eq!(parse_key("not-a-key"), None);
    }
}
