//! Every integration test, built as one binary: storage on in-memory SQLite, handlers called
//! in-process with hand-built requests, and the real binary over a socket.

mod architecture;
mod binary;
mod browser;
mod check_script;
mod corpus;
mod crash;
mod dashboard;
mod faults;
mod fixes;
mod handler;
mod host;
mod migration;
mod nginx;
mod privacy;
mod retention;
mod storage;
mod support;
mod workshop;
