//! Any bytes as a POSTed body: the parser never panics, never loops, and what it accepts keeps
//! every limit and is cleaned (cleaning it again changes nothing; a workshop id and an email
//! pass their doors' own rules), while what it refuses is explained without repeating a value
//! sent.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/report/mod.rs"]
#[allow(dead_code, unused_imports)]
mod report;

use report::{
    clean, normalize_email, parse_report, Lines, WorkshopId, MAX_ERROR_CHARS, MAX_NAME_CHARS,
    MAX_PACKAGES_PER_LIST, MAX_SYSTEM_FIELD_CHARS,
};

/// A one-line label: within `limit`, not empty, clean (no control, no escape, no direction
/// character, on one line, trimmed). Markup is text like any other.
fn label(text: &str, limit: usize) {
    assert!(text.chars().count() <= limit, "{text:?}");
    assert!(!text.is_empty());
    assert_eq!(clean(text, Lines::One), text);
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

fuzz_target!(|body: &[u8]| {
    match parse_report(body) {
        Ok(report) => {
            assert!(report.successes.len() <= MAX_PACKAGES_PER_LIST);
            assert!(report.failures.len() <= MAX_PACKAGES_PER_LIST);
            let s = &report.system;
            for field in [
                &s.distribution_name,
                &s.distribution_version,
                &s.system,
                &s.system_version,
                &s.machine,
                &s.system_platform,
                &s.python_version,
                &s.workshop_id,
                &s.email_id,
            ] {
                if let Some(text) = field {
                    label(text, MAX_SYSTEM_FIELD_CHARS);
                }
            }
            if let Some(id) = &s.workshop_id {
                assert_eq!(WorkshopId::parse(id).unwrap().as_str(), id);
            }
            if let Some(email) = &s.email_id {
                assert_eq!(normalize_email(email).as_deref(), Some(email.as_str()));
            }
            for package in &report.successes {
                label(&package.name, MAX_NAME_CHARS);
                package
                    .version
                    .iter()
                    .for_each(|v| label(v, MAX_NAME_CHARS));
            }
            for failure in &report.failures {
                label(&failure.name, MAX_NAME_CHARS);
                failure
                    .version
                    .iter()
                    .for_each(|v| label(v, MAX_NAME_CHARS));
                if let Some(text) = &failure.error_description {
                    assert!(text.chars().count() <= MAX_ERROR_CHARS);
                    assert_eq!(clean(text, Lines::Many), *text);
                    assert!(!text
                        .chars()
                        .any(|c| c.is_control() && c != '\n' && c != '\t'));
                }
            }
        }
        Err(rejection) => {
            assert!(!rejection.detail.is_empty());
            assert!(!rejection.detail.contains('"'), "{}", rejection.detail);
        }
    }
});
