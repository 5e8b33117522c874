//! What the Debian package and its release promise (issue 18).

use crate::binary::BIN;
use result_aggregation_server::storage::SCHEMA_VERSION;
use std::process::Command;

const PACKAGE: &str = "result-aggregation-server";

/// `--version` names the schema the binary writes, read from the storage module (issue 18).
#[test]
fn the_version_names_the_database_schema() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let expected = format!(
        "{PACKAGE} {} (database schema {SCHEMA_VERSION})\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}
