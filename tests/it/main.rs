//! Integration tests of the workspace, as one binary: the CLI as a user runs it, the corpus of
//! bad uploads, processes racing on one data dir, the ports' conformance suites on the embedded
//! adapters, the drift statistics against scipy, and tuning runs end to end.

mod cli;
mod concurrency;
mod conformance;
mod corpus;
mod drift_reference;
mod helpers;
mod least_privilege;
mod notifications;
mod promotion;
mod real_tables;
mod server;
mod training;
