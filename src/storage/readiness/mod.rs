//! The host's readiness page, read side: each learner's attempts replayed in order into the
//! latest result of every check they reported, judged against the workshop's required checks;
//! what they still fail and since when, what they fixed, and what to tell them.
//!
//! A workshop may have tens of thousands of learners (its id is public), so nothing holds
//! them all. Attempts are streamed in order as ids (packages, error texts), one learner at a
//! time; each learner's standing goes into a scratch database, a private temporary file
//! SQLite deletes when it is closed, from which the page's sorted and filtered window, its
//! counts and its grouped advice are read with bounded SQL. The ready share and the day by
//! day chart are summed exactly on the way. Texts are read only for what is shown.
//!
//! A learner's latest result of each check counts: the script tells learners to re-test only
//! what failed, and such a partial run does not undo the checks that passed before. Within one
//! attempt a failure outweighs a pass of the same check. A check is told by the name the
//! script reports it under (`Git (git)`), whatever its version.

mod lookups;
mod page;
mod replay;
mod standings;

pub(crate) use page::{
    Advice, LearnerOrder, LearnerRow, LearnerWindow, PageRules, RequiredCheck, Standings,
};
pub(crate) use standings::standings;
