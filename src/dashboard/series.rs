//! What every chart draws from, whatever its axis: a category (a value, or a bin of time) and
//! its count in each series. Its own file so that the charts and the time axis that bins
//! them both take it, and neither imports the other in a circle.

/// A category and its count in each series.
#[derive(Debug, Clone)]
pub(super) struct Category {
    pub label: String,
    pub counts: Vec<i64>,
}
