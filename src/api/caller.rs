//! Who an API key belongs to: lets a client (the editors' console, a script) check a key and
//! its scopes before it offers what the key cannot do.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{get, web, Error, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::responses::{KeyNeeded, Unavailable};
use crate::auth::{Admits, ApiCaller, Scope, ScopePolicy};
use crate::error::ApiError;
use crate::http_layer::routes::RouteTable;

/// The API key making the request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "desk-editor-olha", "scopes": ["moderator"], "sites": ["uk"]}))]
pub struct Caller {
    /// The name given when the key was created.
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The sites the key serves; null: every site (an installation-wide key).
    pub sites: Option<Vec<String>>,
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
        KeyNeeded, Unavailable,
    )
)]
#[get("/v1/me")]
pub async fn me(caller: ApiCaller) -> web::Json<Caller> {
    web::Json(Caller {
        name: caller.key_name,
        scopes: caller.scopes,
        sites: caller.sites,
    })
}

/// Checks the API key of every operation whose published `security` takes one, before the
/// operation's extractors run: a missing, unknown or revoked key is a 401 and a key without the
/// scope a 403 whatever the body or path holds, so an unauthorised caller learns nothing from
/// parse errors or 404s. The caller goes into the request's extensions for `ApiCaller`.
pub async fn authenticate<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let admits = req
        .app_data::<web::Data<RouteTable>>()
        .zip(req.app_data::<web::Data<ScopePolicy>>())
        .and_then(|(routes, policy)| {
            // The path as the router matches it (percent-encoded letters decoded), so
            // `/v1/moderation/%71ueue` meets the queue's policy, not the undocumented fallback.
            let template = routes.template(req.match_info().as_str())?;
            policy.admits(req.method(), &template).cloned()
        });
    if let Some(admits) = admits {
        match ApiCaller::authenticate(req.request(), &admits).await {
            Ok(caller) => {
                req.extensions_mut().insert(caller);
            }
            Err(refusal) => {
                let (request, _) = req.into_parts();
                let response = actix_web::ResponseError::error_response(&ApiError::from(refusal));
                return Ok(ServiceResponse::new(request, response).map_into_right_body());
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// A handler's caller: the one `authenticate` stored, or, on a route the document does not
/// describe, checked here admitting only `admin`.
impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = req.extensions().get::<ApiCaller>().cloned();
        let req = req.clone();
        Box::pin(async move {
            match checked {
                Some(caller) => Ok(caller),
                None => Self::authenticate(&req, &Admits::OneOf(vec![Scope::Admin]))
                    .await
                    .map_err(ApiError::from),
            }
        })
    }
}
