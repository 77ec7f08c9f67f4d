//! Answers: JSON bodies and the `{ "error": … }` of every failure (S12).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// A failed request: its status and the message of its `{ "error": … }` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// A library error: bad input data is the client's (400), anything else is ours (500).
    pub fn from_engine(e: Error) -> Self {
        match e {
            Error::Input { .. } => Self::bad_request(e.to_string()),
            other => Self::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut response = (self.status, body).into_response();
        set_json(&mut response);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tailrisk\""),
            );
        }
        response
    }
}

/// A 200 answer of a JSON text.
pub fn json_text(text: String) -> Response {
    let mut response = (StatusCode::OK, text).into_response();
    set_json(&mut response);
    response
}

/// A 200 answer of a value.
pub fn json(value: &serde_json::Value) -> Response {
    json_text(value.to_string())
}

fn set_json(response: &mut Response) {
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
}
