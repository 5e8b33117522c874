//! The systemd units in contrib/ are read by systemd's own checker, where systemd is
//! installed: `systemd-analyze verify` must have nothing to say about them.

use crate::support::installed;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_result-aggregation-server");

#[test]
fn the_units_pass_systemd_analyze_verify() {
    let Some(analyze) = installed(
        "systemd-analyze",
        &["/usr/bin/systemd-analyze", "/bin/systemd-analyze"],
        "systemd",
    ) else {
        return;
    };
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd");
    let dir = tempfile::tempdir().unwrap();
    // The units as installed, but running the binary just built (verify checks it exists).
    for unit in [
        "result-aggregation-server.service",
        "result-aggregation-server@.service",
    ] {
        let text = std::fs::read_to_string(contrib.join(unit)).unwrap();
        assert!(
            text.contains("/usr/bin/result-aggregation-server"),
            "{unit}"
        );
        let text = text.replace("/usr/bin/result-aggregation-server", BIN);
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    // The template is checked as the instance docs/deployment.md starts.
    for unit in [
        "result-aggregation-server.service",
        "result-aggregation-server@8080.service",
    ] {
        // --man=no: the pages Documentation= names come with the package (tests/package.rs
        // verifies the installed units with them).
        let out = Command::new(&analyze)
            .args(["verify", "--man=no"])
            .arg(dir.path().join(unit))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{unit}: {said}");
        // Unknown or misspelt settings are only warnings: none is allowed.
        let about_ours: Vec<&str> = said
            .lines()
            .filter(|line| line.contains("result-aggregation-server"))
            .collect();
        assert!(about_ours.is_empty(), "{unit}:\n{said}");
    }
}
