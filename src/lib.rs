//! result-aggregation-server: collects the results of workshop installation-test scripts and
//! shows which packages, versions and operating systems fail most.
//!
//! The parts: [`cli`] reads the command line into a [`cli::Config`]; [`http`] accepts
//! connections and routes; [`ingest`] checks what learners send; [`storage`] owns the SQLite
//! database; [`throttle`] limits submissions per client address; [`check_script`] hands out
//! the learner's check script; [`dashboard`] shows the statistics.

pub mod check_script;
pub mod cli;
pub mod dashboard;
pub mod http;
pub mod ingest;
pub mod storage;
pub mod throttle;

pub use http::serve;
