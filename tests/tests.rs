//! Every integration test, built as one binary: storage on in-memory SQLite, handlers called
//! in-process with hand-built requests, and the real binary over a socket.

mod architecture;
mod binary;
mod browser;
mod check_script;
mod dashboard;
mod handler;
mod metrics;
mod migration;
mod nginx;
mod storage;
mod support;
