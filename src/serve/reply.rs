//! Answers: JSON bodies and the `{ "error": … }` of every failure (S12).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use serde_json::{Value, json};

use crate::error::Error;
use crate::instrument::{InstrumentKind, InstrumentSpec, Right, Settlement, parse_deribit};
use crate::portfolio::Position;
use crate::time::format_rfc3339;

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

/// A position as `GET /v1/accounts/{id}` writes it back (S8), in a form a trade or a
/// portfolio file accepts again: its Deribit name when the name says everything about the
/// instrument, else the explicit object of SPEC §2 (an expiry other than 08:00 UTC, a
/// multiplier other than 1, a linear spot), whose label alone could not be posted back.
pub fn position_value(p: &Position) -> Value {
    let instrument = match parse_deribit(&p.label) {
        Ok(spec) if spec == p.instrument => Value::String(p.label.clone()),
        _ => explicit_object(&p.instrument),
    };
    json!({ "instrument": instrument, "quantity": p.quantity })
}

/// `{kind, underlying, right, strike, expiry, settlement, multiplier}` with the fields that
/// apply to the kind, as `explicit_instrument` reads them.
fn explicit_object(spec: &InstrumentSpec) -> Value {
    let mut object = serde_json::Map::new();
    let kind = match spec.kind {
        InstrumentKind::Spot => "spot",
        InstrumentKind::Perpetual => "perpetual",
        InstrumentKind::Future => "future",
        InstrumentKind::Option => "option",
    };
    object.insert("kind".into(), kind.into());
    object.insert("underlying".into(), spec.underlying.clone().into());
    if let Some(right) = spec.right {
        let right = match right {
            Right::Call => "call",
            Right::Put => "put",
        };
        object.insert("right".into(), right.into());
    }
    if let Some(strike) = spec.strike {
        object.insert("strike".into(), strike.into());
    }
    if let Some(expiry) = spec.expiry {
        object.insert("expiry".into(), format_rfc3339(expiry).into());
    }
    if spec.kind != InstrumentKind::Spot {
        let settlement = match spec.settlement {
            Settlement::Inverse => "inverse",
            Settlement::Linear => "linear",
        };
        object.insert("settlement".into(), settlement.into());
    }
    object.insert("multiplier".into(), spec.multiplier.into());
    Value::Object(object)
}
