//! Every integration test, built as one binary: storage on in-memory SQLite, handlers called
//! in-process with hand-built requests, the real binary over a socket, and the real outside
//! parts (nginx, redis-server, systemd-analyze, a browser) where the tests find them.

mod advice;
mod architecture;
mod binary;
mod browser;
mod check_script;
mod client_2016;
mod corpus;
mod crash;
mod dashboard;
mod faults;
mod fixes;
mod generate;
mod handler;
mod hardening;
mod host;
mod instances;
mod machine_texts;
mod metrics;
mod migration;
mod nginx;
mod operations;
mod package;
mod privacy;
mod readme;
mod retention;
mod storage;
mod support;
mod systemd;
mod throttle;
mod tls;
mod verify;
mod workshop;
