//! Public representations: the JSON a reader, the CMS or a webhook receiver sees, built from the
//! store's public rows. They sit below `api` and `webhooks`, which both send them, and import only
//! `store` rows and `domain` values, so a handler file is never needed to render an event.
//!
//! The database row and the public shape are different types (as crates.io keeps `views` apart
//! from `models`): a column that is not public cannot reach a client by accident.

pub mod review;
pub mod stats;
pub mod tagged;
