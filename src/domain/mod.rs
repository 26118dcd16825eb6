//! Plain types and rules of the product: no I/O, no HTTP, no SQL.

pub mod api_key;
pub mod article;
pub mod cms_event;
pub mod editorial;
pub mod field_error;
pub mod import;
pub mod language;
pub mod live;
pub mod mail;
pub mod moderation;
pub mod page;
pub mod position;
pub mod query;
pub mod reaction;
pub mod reader;
pub mod review;
pub mod site;
pub mod stats;
pub mod text;
pub mod time;
pub mod trust;
pub mod webhook;

pub use field_error::{FieldError, FieldErrorCode};
