//! Any bytes as a POSTed body: the parser never panics, never loops, and what it accepts keeps
//! every limit and character rule, while what it refuses is explained without repeating a
//! value sent.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/report/mod.rs"]
#[allow(dead_code, unused_imports)]
mod report;

use report::{
    parse_report, MAX_ERROR_CHARS, MAX_NAME_CHARS, MAX_PACKAGES_PER_LIST, MAX_SYSTEM_FIELD_CHARS,
};

/// A one-line label: within `limit`, no control characters, no markup.
fn label(text: &str, limit: usize) {
    assert!(text.chars().count() <= limit, "{text:?}");
    assert!(
        !text.chars().any(|c| c.is_control() || c == '<' || c == '>'),
        "{text:?}"
    );
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
                }
            }
        }
        Err(rejection) => {
            assert!(!rejection.detail.is_empty());
            assert!(!rejection.detail.contains('"'), "{}", rejection.detail);
        }
    }
});
