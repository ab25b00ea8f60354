//! Integration tests of the `paywarden` binary: the built executable run as
//! a child process (crash and restart, the operator CLI, what its logs
//! hold), and the HTTP app in-process behind a TCP proxy that cuts
//! PostgreSQL off (outage).
//!
//! Every test owns its database (a temp SQLite file, or a fresh schema in
//! `TEST_DATABASE_URL`), binds loopback ports only, and waits by polling
//! with a deadline. Child servers are killed when their handle drops, so a
//! failing test leaves no process behind.

mod browser;
mod cli;
mod crash;
mod database;
mod outage;
mod secrets_in_logs;
mod server;
mod sim;
mod stripe_events;
