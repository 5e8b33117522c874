//! The learner's check script (`contrib/check/check.py`), embedded and served at `/check.py`
//! with this server's address, the workshop and the host's choice of checks filled in.

use crate::catalog::SCRIPT;
use crate::config::Checks;
use crate::http::response::{self, Body};
use crate::http::RequestError;
use crate::report::WorkshopId;
use crate::storage::Store;
use hyper::header::{HeaderValue, CONTENT_DISPOSITION};
use hyper::{Response, StatusCode};

/// The script's settings block: the server rewrites the lines between these two.
const BEGIN: &str = "# BEGIN SERVER SETTINGS\n";
const END: &str = "# END SERVER SETTINGS\n";

/// The script with its settings block rewritten. Values are JSON-encoded, which makes them
/// valid Python literals, so no workshop id can break out of its string.
pub(crate) fn render(server_url: &str, workshop: Option<&str>, checks: &Checks) -> String {
    let json = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let settings = format!(
        "SERVER_URL = {}\nWORKSHOP_ID = {}\nCHECKS = {}\n",
        json(server_url),
        workshop.map_or("None".to_string(), json),
        match &checks.0 {
            None => "None".to_string(),
            Some(specs) => {
                let specs: Vec<String> = specs.iter().map(|s| json(s.as_str())).collect();
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

/// `GET /check.py[?workshop=ID]`: with a registered workshop's own checks when it has them,
/// else the server's. An id that is no workshop id is refused (400), not served in a script
/// whose every report would be stored under another name; an empty one means none.
pub(crate) async fn serve(
    store: &Store,
    server_url: &str,
    query: Option<&str>,
    checks: &Checks,
) -> Result<Response<Body>, RequestError> {
    let workshop = query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(name, _)| name == "workshop")
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(_, value)| WorkshopId::parse(&value))
        .transpose()
        .map_err(|e| RequestError::BadQuery(format!("workshop: {e}")))?;
    let own = match &workshop {
        Some(w) => store.workshop(w.to_string()).await?.and_then(|w| w.checks),
        None => None,
    };
    // Checked when the workshop was registered; a list edited by hand into nonsense falls
    // back to the server's rather than breaking the script.
    let own = own.and_then(|list| match list.parse::<Checks>() {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            log::warn!("workshop checks unreadable, serving the server's: {e}");
            None
        }
    });
    let script = render(
        server_url,
        workshop.as_ref().map(WorkshopId::as_str),
        own.as_ref().unwrap_or(checks),
    );
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
