//! Marathon's error answers: `{"message": …}` with 404/409/400, 422 with `details`, and
//! the 409 of a locked app listing its deployments.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::Refusal;

/// An error answer: a status and Marathon's JSON.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({"message": message.into()}),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 `{"message": "Invalid JSON", "details": …}`, as Marathon answers a body that
    /// does not parse.
    pub fn invalid_json(details: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({"message": "Invalid JSON", "details": details.into()}),
        }
    }

    /// 422 with one detail.
    pub fn invalid(path: &str, error: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({"message": "Object is not valid",
                         "details": [{"path": path, "errors": [error.into()]}]}),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound(message) => ApiError::not_found(message),
            Refusal::Conflict(message) => ApiError::new(StatusCode::CONFLICT, message),
            Refusal::Locked(ids) => ApiError {
                status: StatusCode::CONFLICT,
                body: json!({
                    "message": "App is locked by one or more deployments. Override with the \
                                option '?force=true'. View details at \
                                '/v2/deployments/<DEPLOYMENT_ID>'.",
                    "deployments": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                }),
            },
            Refusal::Invalid(details) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                body: json!({"message": "Object is not valid", "details": details}),
            },
            Refusal::Store(err) => {
                tracing::error!(%err, "cannot store a change");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}
