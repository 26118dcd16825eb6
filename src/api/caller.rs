//! Who an API key belongs to: lets a client (the editors' console, a script) check a key and
//! its scopes before it offers what the key cannot do.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::responses::{KeyRequired, Unavailable};
use crate::auth::{ApiCaller, Scope};

/// The API key making the request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "desk-editor-olha", "scopes": ["moderator"]}))]
pub struct Caller {
    /// The name given when the key was created.
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// The API key's name and scopes.
///
/// Any valid key may ask; a missing, unknown or revoked key is a 401. The editors' console signs
/// in with this call and refuses keys without scope `moderator` or `admin`.
#[utoipa::path(
    tag = "keys",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The key's name and scopes", body = Caller),
        KeyRequired, Unavailable,
    )
)]
#[get("/v1/me")]
pub async fn me(caller: ApiCaller) -> web::Json<Caller> {
    web::Json(Caller {
        name: caller.key_name,
        scopes: caller.scopes,
    })
}
