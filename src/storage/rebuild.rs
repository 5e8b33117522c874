//! Every count recomputed from the raw rows: the tallies, the fix tallies and the
//! dictionary's uses, in that order. `rebuild-tallies` and the migrations from older schemas
//! run it inside their transaction.

use super::dictionary::Dictionary;
use super::{fixes, tally, StorageError};
use rusqlite::Connection;

/// Rebuilds every count inside the caller's transaction.
pub(crate) fn everything(
    conn: &Connection,
    dictionary: &mut Dictionary,
) -> Result<(), StorageError> {
    tally::rebuild(conn, dictionary)?;
    fixes::rebuild(conn, dictionary)?;
    tally::recount_uses(conn)
}
