//! `verify`: every statistic the server reads from its tallies against what the reference SQL
//! over the raw rows says it means, for an admin after editing rows by hand, and before and
//! after `rebuild-tallies`.

use super::args::DatabaseArgs;
use crate::storage::{verify as compare, VerifyError};
use std::path::Path;
use std::process::ExitCode;

/// Exit code of `verify` when some statistic differs from its reference.
const DIFFER: u8 = 1;
/// Exit code of `verify` when the file cannot be verified: missing, not a database, not this
/// server's, or another schema version.
const CANNOT_VERIFY: u8 = 2;

/// `verify [--db PATH]`: exit 0 when every statistic agrees, 1 with the differences, 2 when
/// the file cannot be verified.
pub fn verify(args: DatabaseArgs) -> ExitCode {
    match compare(Path::new(&args.db)) {
        Ok(compared) => {
            println!("{compared} statistics agree");
            ExitCode::SUCCESS
        }
        Err(differ @ VerifyError::Differ { .. }) => {
            println!("{differ}");
            println!(
                "If rows were edited or deleted by hand with SQL, `result-aggregation-server \
                 rebuild-tallies --db {}` recomputes the counts from the raw rows; verify again \
                 after it. Differences that remain after a rebuild are a bug: please report them \
                 with this output.",
                args.db
            );
            ExitCode::from(DIFFER)
        }
        Err(e) => {
            eprintln!("cannot verify: {e}");
            ExitCode::from(CANNOT_VERIFY)
        }
    }
}
