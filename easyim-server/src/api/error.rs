//! [`ApiError`]: every way an API call fails, and the envelope it turns into.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use easyim_core::ImError;

/// Why an API call failed. Turns into the `{code, msg, data: {}}` envelope with `code` equal
/// to the HTTP status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400: a missing or malformed argument; the text says which.
    #[error("{0}")]
    BadRequest(String),
    /// 401: a missing, forged, expired, revoked or wrong-kind token, or a wrong password.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the caller may not do this (not a member, not loopback).
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: an unknown route or object.
    #[error("{0}")]
    NotFound(String),
    /// 409: the object exists already or the change conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 429: too many requests from this client.
    #[error("too many requests")]
    RateLimited,
    /// 503: storage does not answer (only `/healthz` reports it so).
    #[error("storage unavailable")]
    Unavailable,
    /// 503: too busy right now (too many password hashes waiting); the text says so.
    #[error("{0}")]
    Busy(&'static str),
    /// 500: a failure of ours. The text goes to the log only, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
    /// Any other status, for responses the router made without a handler (405, 413...).
    #[error("{1}")]
    Status(StatusCode, &'static str),
}

impl ApiError {
    /// The HTTP status (and envelope `code`) of the error.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Status(s, _) => *s,
        }
    }

    /// A 400 saying what is wrong with an argument.
    pub(crate) fn bad(what: impl Into<String>) -> Self {
        ApiError::BadRequest(what.into())
    }

    /// The text the client sees: for a 5xx, nothing of the cause.
    fn public_msg(&self) -> String {
        match self {
            ApiError::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<ImError> for ApiError {
    fn from(e: ImError) -> Self {
        match e {
            ImError::Invalid(text) => ApiError::BadRequest(text),
            ImError::Unauthorized(text) => ApiError::Unauthorized(text),
            ImError::Forbidden(text) => ApiError::Forbidden(text),
            ImError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            ImError::Conflict(c) => ApiError::Conflict(c.to_string()),
            ImError::Busy(text) => ApiError::Busy(text),
            e @ (ImError::Storage(_) | ImError::Hash(_)) => ApiError::Internal(e.to_string()),
            // A kind added later: a failure of ours until it is mapped.
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            // A refusal under load is expected and may come by the thousand: no error lines.
            ApiError::Busy(_) => tracing::debug!("HTTP API call refused: busy"),
            _ if status.is_server_error() => {
                tracing::error!(status = status.as_u16(), error = %self, "HTTP API call failed")
            }
            _ => {}
        }
        let mut res = super::envelope(status, &self.public_msg(), super::view::Empty {});
        if matches!(self, ApiError::Busy(_)) {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        res
    }
}
