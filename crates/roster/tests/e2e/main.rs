//! Roster end to end, in one test binary: a server on a loopback port 0 over a fresh
//! database (SQLite, or PostgreSQL with `ROSTER_TEST_BACKEND=postgres`), started through the
//! same `roster::startup` as `roster serve` (see `crate::support::TestApp`), and the `roster`
//! program itself as a child process (`process`, `postgres`).

mod support;

mod auth;
mod console;
mod domains;
mod events;
mod hardening;
mod hardening_auth;
mod hold;
mod idp_corpus;
mod lookalike_names;
mod outbound;
mod postgres;
mod process;
mod provisioning_log;
mod scim_api;
mod sso;
mod tenant_api;
mod webhooks;
