//! A learner's email address: the one rule the check script mirrors in Python, so an address
//! the script accepts is the address the server stores.

use super::text::is_unclean;

/// Longest address (RFC 5321's path limit less its angle brackets).
const MAX_EMAIL_CHARS: usize = 254;
/// Longest part before the `@`.
const MAX_LOCAL_CHARS: usize = 64;

/// The address in `text`, normalised, or `None` when it is not one.
///
/// Whitespace around it and a leading `mailto:` (any case) are dropped; from
/// `Jane Doe <jane@uni.edu>` or `<jane@uni.edu>` the part inside the last pair of angle
/// brackets is taken. What is left is an address when it has at most 254 characters, exactly
/// one `@` with 1 to 64 characters before it, a domain with a dot that is neither its first
/// nor its last character, and no whitespace, no control or direction character (none that
/// cleaning would remove, U+202E included), and none of `<>()[]\,;:"`.
pub fn normalize_email(text: &str) -> Option<String> {
    let mut address = text.trim();
    if address
        .get(..7)
        .is_some_and(|head| head.eq_ignore_ascii_case("mailto:"))
    {
        address = &address[7..];
    }
    if let Some(open) = address.rfind('<') {
        if let Some(length) = address[open + 1..].find('>') {
            address = address[open + 1..open + 1 + length].trim();
        }
    }
    let (local, domain) = address.split_once('@')?;
    let domain: Vec<char> = domain.chars().collect();
    let valid = address.chars().count() <= MAX_EMAIL_CHARS
        && (1..=MAX_LOCAL_CHARS).contains(&local.chars().count())
        && domain.len() >= 3
        && domain[1..domain.len() - 1].contains(&'.')
        && address.matches('@').count() == 1
        && !address
            .chars()
            .any(|c| c.is_whitespace() || is_unclean(c) || "<>()[]\\,;:\"".contains(c));
    valid.then(|| address.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_found_in_what_people_type() {
        for (typed, address) in [
            ("jane@uni.edu", "jane@uni.edu"),
            ("  jane@uni.edu\n", "jane@uni.edu"),
            ("<jane@uni.edu>", "jane@uni.edu"),
            ("Jane Doe <jane@uni.edu>", "jane@uni.edu"),
            ("\"Doe, Jane\" < jane@uni.edu >", "jane@uni.edu"),
            ("MAILTO:jane@uni.edu", "jane@uni.edu"),
            (
                "mailto:Jane <j.doe+ws@mail.uni.edu>",
                "j.doe+ws@mail.uni.edu",
            ),
            ("o'brien@example.org", "o'brien@example.org"),
        ] {
            assert_eq!(
                normalize_email(typed).as_deref(),
                Some(address),
                "{typed:?}"
            );
        }
    }

    #[test]
    fn what_is_not_an_address_is_none() {
        let long_local = format!("{}@uni.edu", "a".repeat(MAX_LOCAL_CHARS + 1));
        let long = format!("a@{}.edu", "d".repeat(MAX_EMAIL_CHARS));
        for typed in [
            "",
            "jane",
            "jane@",
            "@uni.edu",
            "jane@uni",
            "jane@.edu",
            "jane@uni.",
            "jane@@uni.edu",
            "ja ne@uni.edu",
            "jane@uni.edu\u{7}",
            "jane@uni.edu\u{202e}",
            "jane@uni.edu;",
            "<script>alert(1)</script>",
            "o'brien@example.org; --",
            "jane@uni.edu>",
            long_local.as_str(),
            long.as_str(),
        ] {
            assert_eq!(normalize_email(typed), None, "{typed:?}");
        }
    }
}
