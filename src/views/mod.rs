//! Public representations: the JSON a reader, the CMS or a webhook receiver sees, built from the
//! store's public rows. They sit below `api` and `webhooks`, which both send them, and import only
//! `store` rows and `domain` values, so a handler file is never needed to render an event.
//!
//! A store row and its public shape are separate types: a new column reaches no client until a
//! view here is changed to show it.

pub mod moderation;
pub mod reader;
pub mod review;
pub mod stats;
pub mod tagged;
pub mod timestamps;
