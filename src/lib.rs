//! result-aggregation-server: collects the results of workshop installation-test scripts and
//! shows which packages, versions and operating systems fail most.
//!
//! The parts, each importing only those below it (ARCHITECTURE.md draws the tree, and
//! `tests/architecture.rs` keeps it): [`cli`] reads the command line into a [`Config`];
//! [`server`] accepts connections and shuts down gracefully; [`app`] builds the application
//! and routes; the features `ingest`, `dashboard` and `check_script` answer requests;
//! `http` holds their shared HTTP helpers; [`storage`] owns the SQLite database;
//! [`throttle`] limits submissions per client address (in this process or, shared by several
//! instances, in Redis); [`report`] is what learners send; `catalog` the checks the learner's
//! script knows; [`config`] what the program was told, and [`metrics`] what it counts for
//! Prometheus.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod app;
pub(crate) mod catalog;
pub(crate) mod check_script;
pub mod cli;
pub mod config;
pub(crate) mod dashboard;
pub(crate) mod http;
pub(crate) mod ingest;
pub mod metrics;
pub mod report;
pub mod server;
pub mod storage;
#[doc(hidden)]
pub mod testing;
pub mod throttle;

pub use config::Config;
pub use server::serve;
