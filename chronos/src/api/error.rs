//! Chronos's error answers: `{"status": "Bad Request", "message": …}` (its `ApiResult`),
//! 400 for anything the client got wrong, unknown jobs included, and 500 for the rest.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::Refusal;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound(message) | Refusal::Invalid(message) => {
                ApiError::bad_request(message)
            }
            Refusal::Store(err) => {
                tracing::error!(%err, "cannot store a change");
                ApiError::internal(err.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.canonical_reason().unwrap_or("Error");
        let body = json!({"status": status, "message": self.message});
        (self.status, axum::Json(body)).into_response()
    }
}
