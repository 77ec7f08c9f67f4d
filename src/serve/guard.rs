//! What every request passes before its endpoint, in order: one `Host` header at most
//! (400, RFC 9112 §3.2); the bearer token when
//! `--token-file` is given (401 + `WWW-Authenticate`, S14) or else a loopback `Host` (403,
//! S13); 503 while starting (`{"status": "starting"}`, S16) or draining (S17); then the
//! route, whose 405 gets a JSON body beside its `Allow` header (S12). One line per request
//! on stderr: method, path, status, milliseconds (never a header, so never the token).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use super::auth::{bearer_matches, host_is_loopback};
use super::body::RequestStart;
use super::reply::ApiError;
use super::routes::{Ctx, router};
use super::state::Service;

struct Gate {
    service: Arc<OnceLock<Arc<Service>>>,
    draining: Arc<AtomicBool>,
    token: Option<Vec<u8>>,
}

/// The whole application: the routes behind the gate.
pub fn app(
    service: Arc<OnceLock<Arc<Service>>>,
    draining: Arc<AtomicBool>,
    token: Option<Vec<u8>>,
    max_body_bytes: u64,
) -> Router {
    let ctx = Arc::new(Ctx {
        service: service.clone(),
        max_body_bytes,
    });
    let gate = Arc::new(Gate {
        service,
        draining,
        token,
    });
    router(ctx).layer(middleware::from_fn_with_state(gate, check))
}

async fn check(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    request.extensions_mut().insert(RequestStart(started));
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = match refusal(&gate, &request) {
        Some(response) => response,
        None => with_json_405(next.run(request).await, &method, &path),
    };
    eprintln!(
        "tailrisk: {method} {path} {} {:.1} ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1e3
    );
    response
}

/// The answer to a request that does not reach its endpoint.
fn refusal(gate: &Gate, request: &Request) -> Option<Response> {
    let headers = request.headers();
    if headers.get_all(header::HOST).iter().count() > 1 {
        // RFC 9112 §3.2: more than one Host is 400, whichever host each names.
        let message = "more than one Host header (a request carries one)";
        return Some(ApiError::bad_request(message).into_response());
    }
    match &gate.token {
        Some(token) => {
            if headers.get_all(header::AUTHORIZATION).iter().count() > 1 {
                // Which one would count is not defined: refused rather than the first taken.
                let message = "more than one Authorization header (a request carries one)";
                return Some(ApiError::bad_request(message).into_response());
            }
            let given = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
            if !bearer_matches(token, given) {
                let message = match given {
                    None => "missing Authorization: Bearer <token>",
                    Some(_) => "wrong bearer token",
                };
                return Some(ApiError::new(StatusCode::UNAUTHORIZED, message).into_response());
            }
        }
        None => {
            // RFC 9112 §3.2.2: a request target in absolute form (`GET http://h/… HTTP/1.1`)
            // names the host, and the Host header is ignored.
            let host = match request.uri().authority() {
                Some(authority) => authority.as_str(),
                None => headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            };
            if !host_is_loopback(host) {
                let message = format!(
                    "Host {host:?} is not a loopback address (without --token-file only \
                     loopback hosts are served)"
                );
                return Some(ApiError::new(StatusCode::FORBIDDEN, message).into_response());
            }
        }
    }
    if gate.draining.load(Ordering::SeqCst) {
        return Some(
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "draining: the server is stopping",
            )
            .into_response(),
        );
    }
    let live = gate.service.get().is_some_and(|s| s.snapshot().is_some());
    if !live {
        let body = r#"{"status":"starting","error":"starting: snapshot 1 is being computed"}"#;
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        return Some(response);
    }
    None
}

/// axum answers a known path with an unknown method 405 and `Allow` (added outside this
/// layer), with an empty body: the body becomes `{ "error": … }`.
fn with_json_405(response: Response, method: &axum::http::Method, path: &str) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let message = format!("method {method} is not allowed on {path} (see the Allow header)");
    let body = serde_json::json!({ "error": message });
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body.to_string()))
}
