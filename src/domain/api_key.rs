//! What the product knows of an API key beyond authentication: its name is the actor that the
//! audit log records and filters by, so the bound on names is a domain fact that `auth` (which
//! creates keys) and the audit filter share.

/// Longest name of an API key, in characters.
pub const KEY_NAME_MAX_CHARS: usize = 100;
