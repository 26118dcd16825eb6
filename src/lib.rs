//! Marginalia: a self-hosted reader review API for newsrooms.
//!
//! The modules form layers that point one way (handlers above services, services above the
//! store, plain domain rules at the bottom). The layer table, a diagram and where each behaviour
//! lives are in `docs/architecture.md`; `tests/api/layers.rs` checks every `crate::` path against
//! that table.

// Unit tests may unwrap: a failing test should fail loudly. Everything else is denied in Cargo.toml.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app;
pub mod auth;
pub mod client;
pub mod coherence;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http_layer;
pub mod import;
pub mod live;
pub mod mail;
pub mod metrics;
pub mod rate_limit;
pub mod read_cache;
pub mod readers;
pub mod replicas;
pub mod services;
pub mod sites;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod views;
pub mod webhooks;
