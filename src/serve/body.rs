//! Request bodies (S13, S18): `Content-Type: application/json` (else 415), at most
//! `--max-body-bytes` decoded bytes (413; a `Content-Length` over the limit is refused
//! before any byte is read, a chunked body is counted as it arrives), received whole within
//! [`REQUEST_TIMEOUT`] of the request's start (else 408), UTF-8 (else 400).

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{StatusCode, header};
use http_body_util::BodyExt;

use super::reply::ApiError;

/// The longest a request may take to arrive whole.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// When the request's headers were read (an extension set by the guard).
#[derive(Clone, Copy)]
pub struct RequestStart(pub Instant);

/// The body of a POST or PUT as text.
pub async fn read_json_body(request: Request, limit: u64) -> Result<String, ApiError> {
    let name = format!("{} {}", request.method(), request.uri().path());
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the limit of {limit} bytes (--max-body-bytes)"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let started = request
        .extensions()
        .get::<RequestStart>()
        .map_or_else(Instant::now, |s| s.0);
    let deadline = tokio::time::Instant::from_std(started + REQUEST_TIMEOUT);
    let mut body = request.into_body();
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request was not received whole within {} s",
                        REQUEST_TIMEOUT.as_secs()
                    ),
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(ApiError::bad_request(format!("reading the body: {e}")));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if bytes.len() as u64 + data.len() as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&data);
        }
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "{name}: body: byte {}: the body is not UTF-8 text",
            e.utf8_error().valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(format!(
            "{name}: body: empty (expected a JSON object)"
        )));
    }
    Ok(text)
}
