//! The learner's check script (`contrib/check/check.py`), embedded and served at `/check.py`
//! with this server's address, the workshop and the host's choice of checks filled in.

use crate::http::response::{self, Body};
use crate::http::RequestError;
use crate::ingest::MAX_SYSTEM_FIELD_CHARS;
use hyper::header::{HeaderValue, CONTENT_DISPOSITION};
use hyper::{Response, StatusCode};
use std::fmt;
use std::str::FromStr;

const SCRIPT: &str = include_str!("../../contrib/check/check.py");
/// The script's settings block: the server rewrites the lines between these two.
const BEGIN: &str = "# BEGIN SERVER SETTINGS\n";
const END: &str = "# END SERVER SETTINGS\n";

/// One check the host asks for: `NAME`, `NAME>=VERSION`, either followed by `?` (optional).
/// The same grammar as the script's `parse_check_spec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec(String);

impl FromStr for CheckSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let spec = spec.trim();
        let bad = || {
            format!(
                "'{spec}' is not a check: expected NAME or NAME>=VERSION, optionally followed by ?"
            )
        };
        let body = spec.strip_suffix('?').unwrap_or(spec);
        let (name, version) = match body.split_once(">=") {
            Some((name, version)) => (name, Some(version)),
            None => (body, None),
        };
        let name_ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
        let version_ok = version.is_none_or(|v| {
            v.starts_with(|c: char| c.is_ascii_digit())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".+-".contains(c))
        });
        if name_ok && version_ok {
            Ok(CheckSpec(spec.to_owned()))
        } else {
            Err(bad())
        }
    }
}

impl fmt::Display for CheckSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The host's list of checks, `None` for the script's own default list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks(pub Option<Vec<CheckSpec>>);

impl FromStr for Checks {
    type Err = String;

    /// A comma-separated list of check specs; `default` (or nothing) for the script's list.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        if list.trim().is_empty() || list.trim() == "default" {
            return Ok(Checks(None));
        }
        list.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(|specs| Checks(Some(specs)))
    }
}

impl fmt::Display for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("default"),
            Some(specs) => {
                let names: Vec<String> = specs.iter().map(ToString::to_string).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

/// The script with its settings block rewritten. Values are JSON-encoded, which makes them
/// valid Python literals, so no workshop id can break out of its string.
pub fn render(server_url: &str, workshop: Option<&str>, checks: &Checks) -> String {
    let json = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let settings = format!(
        "SERVER_URL = {}\nWORKSHOP_ID = {}\nCHECKS = {}\n",
        json(server_url),
        workshop.map_or("None".to_string(), json),
        match &checks.0 {
            None => "None".to_string(),
            Some(specs) => {
                let specs: Vec<String> = specs.iter().map(|s| json(&s.0)).collect();
                format!("[{}]", specs.join(", "))
            }
        }
    );
    let start = SCRIPT.find(BEGIN).expect("check.py has its settings block") + BEGIN.len();
    let end = SCRIPT[start..]
        .find(END)
        .expect("check.py closes its settings block")
        + start;
    format!("{}{settings}{}", &SCRIPT[..start], &SCRIPT[end..])
}

/// `GET /check.py[?workshop=ID]`.
pub fn serve(
    server_url: &str,
    query: Option<&str>,
    checks: &Checks,
) -> Result<Response<Body>, RequestError> {
    let workshop = query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(name, _)| name == "workshop")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|w| !w.is_empty());
    if let Some(w) = &workshop {
        if w.chars().count() > MAX_SYSTEM_FIELD_CHARS {
            return Err(RequestError::BadQuery(format!(
                "workshop: at most {MAX_SYSTEM_FIELD_CHARS} characters"
            )));
        }
    }
    let script = render(server_url, workshop.as_deref(), checks);
    let mut response = response::with_type(StatusCode::OK, "text/x-python; charset=utf-8", script);
    response.headers_mut().insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=\"check.py\""),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_the_scripts_grammar() {
        for good in [
            "git",
            "git>=2.0",
            "python>=3.8?",
            "make?",
            "scikit-learn",
            "r>=4.0.1rc1",
        ] {
            assert!(good.parse::<CheckSpec>().is_ok(), "{good}");
        }
        for bad in ["Git", "git>=", "git>=x", "-git", "git >=2", "git?>=2", ""] {
            assert!(bad.parse::<CheckSpec>().is_err(), "{bad}");
        }
        assert_eq!("".parse::<Checks>().unwrap(), Checks(None));
        assert_eq!(
            "git, numpy?".parse::<Checks>().unwrap().to_string(),
            "git,numpy?"
        );
    }

    #[test]
    fn the_settings_block_is_rewritten_and_nothing_else() {
        let checks: Checks = "git>=2.30,numpy?".parse().unwrap();
        let script = render("http://example.test:8080", Some("ws \"1\"\\"), &checks);
        assert!(script.contains("SERVER_URL = \"http://example.test:8080\"\n"));
        assert!(script.contains("WORKSHOP_ID = \"ws \\\"1\\\"\\\\\"\n"));
        assert!(script.contains("CHECKS = [\"git>=2.30\", \"numpy?\"]\n"));
        assert_eq!(script.matches("SERVER_URL = ").count(), 1);
        let plain = render("http://127.0.0.1:8080", None, &Checks(None));
        assert_eq!(plain, SCRIPT, "the defaults are the script as shipped");
    }
}
