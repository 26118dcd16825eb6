//! The integration suite, one test binary: every story runs against the real HTTP server built by
//! the same function `serve` uses, on real PostgreSQL (one private throwaway cluster for the whole
//! run, or the server in `TEST_DATABASE_URL`), each test on a fresh database of its own.
// A failing test should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The tests' own statements read what the service stored; only the service's writes must wait for
// their commit before answering (src/store/answer.rs).
#![allow(clippy::disallowed_methods)]

mod common;

mod access;
mod articles;
mod bench_prerequisites;
mod cms_events;
mod commit;
mod console_transitions;
mod crash;
mod daily;
mod editors;
mod emails;
mod embedded;
mod errors;
mod hostile;
mod http_caching;
mod import;
mod keys;
mod language;
mod layers;
mod live;
mod logging;
mod loopback_guard;
mod mail;
mod metrics;
mod migrations;
mod moderation;
mod nodes;
mod nul_values;
mod openapi;
mod outage;
mod plans;
mod privacy;
mod problem_types;
mod reader_trust;
mod readers;
mod refusals;
mod reviews;
mod security;
mod site_admin;
mod site_network;
mod sites;
mod status_decision;
mod upgrade;
mod webhooks;
mod widget;
