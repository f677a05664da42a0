//! The control plane's one error type. Each variant says who is at fault; the REST layer
//! turns it into an HTTP status and a JSON body `{"code": …, "message": …}` with a stable
//! `code` that clients may match on. Internal errors are logged with their cause and shown
//! to the client only as an opaque message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stc_common::{Classified, ErrorClass};

use crate::lifecycle::{Action, InstanceState};

pub type Result<T, E = ServerError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No credentials, or credentials that are unknown or expired.
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    /// Authenticated, but the principal's role does not allow the action.
    #[error("permission denied: {0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or its content is invalid (including SQL that does not
    /// compile: the message names statement, line and column).
    #[error("{0}")]
    BadRequest(String),
    /// The SQL of a job does not compile.
    #[error("{}", .0.message)]
    InvalidSql(SqlProblem),
    /// A name that must be unique is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// The action is not allowed in the instance's current state.
    #[error("cannot {action} an instance that is {state}; allowed actions: {}", allowed_list(.allowed))]
    IllegalTransition {
        action: Action,
        state: InstanceState,
        allowed: Vec<Action>,
    },
    /// Another request changed the same object at the same time; re-read and retry.
    #[error("{0}")]
    Conflict(String),
    /// A system the request reads (a source a preview connects to) failed.
    #[error("{0}")]
    External(String),
    /// The metadata database failed or is unreachable.
    #[error("metadata store error: {0}")]
    Store(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Invalid server configuration (file, environment, flags).
    #[error("configuration error: {0}")]
    Config(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

fn allowed_list(a: &[Action]) -> String {
    if a.is_empty() {
        return "none".into();
    }
    a.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
}

impl ServerError {
    /// The stable machine-readable code of the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            ServerError::Unauthenticated(_) => "unauthenticated",
            ServerError::Forbidden(_) => "forbidden",
            ServerError::NotFound(_) => "not_found",
            ServerError::BadRequest(_) => "bad_request",
            ServerError::InvalidSql(_) => "invalid_sql",
            ServerError::AlreadyExists(_) => "already_exists",
            ServerError::IllegalTransition { .. } => "illegal_transition",
            ServerError::Conflict(_) => "conflict",
            ServerError::External(_) => "external",
            ServerError::Store(_)
            | ServerError::Migrate(_)
            | ServerError::Config(_)
            | ServerError::Io(_)
            | ServerError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ServerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServerError::NotFound(_) => StatusCode::NOT_FOUND,
            ServerError::BadRequest(_) | ServerError::InvalidSql(_) => StatusCode::BAD_REQUEST,
            ServerError::AlreadyExists(_)
            | ServerError::IllegalTransition { .. }
            | ServerError::Conflict(_) => StatusCode::CONFLICT,
            ServerError::External(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn not_found(what: &str, name: impl std::fmt::Display) -> Self {
        ServerError::NotFound(format!("{what} '{name}' does not exist"))
    }
}

impl Classified for ServerError {
    fn class(&self) -> ErrorClass {
        match self {
            ServerError::Store(_) | ServerError::External(_) => ErrorClass::EXTERNAL_RETRYABLE,
            ServerError::Migrate(_) | ServerError::Io(_) => ErrorClass::EXTERNAL_FATAL,
            ServerError::Internal(_) => ErrorClass::INTERNAL,
            _ => ErrorClass::USER,
        }
    }
}

/// Why a script does not compile, with where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SqlProblem {
    /// The full message, naming statement, line and column.
    pub message: String,
    /// 1-based statement number; 0 when not tied to one statement.
    pub statement: usize,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code: `unauthenticated`, `forbidden`, `not_found`,
    /// `bad_request`, `invalid_sql`, `already_exists`, `illegal_transition`, `conflict`,
    /// `external` (a system the request reads failed), `internal`.
    pub code: String,
    pub message: String,
    /// For `illegal_transition`: the instance's current state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// For `illegal_transition`: the actions the current state allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<String>>,
    /// For `invalid_sql`: where the script is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlProblem>,
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        // A failing external system (502) is the user's to know about and fix.
        let shown = status == StatusCode::BAD_GATEWAY;
        let message = if status.is_server_error() && !shown {
            // Internal details (SQL text, file paths) stay in the log, not in the response.
            tracing::error!(error = %self, "request failed");
            "internal server error (see the server log)".to_string()
        } else {
            self.to_string()
        };
        let (state, allowed_actions) = match &self {
            ServerError::IllegalTransition { state, allowed, .. } => (
                Some(state.as_str().to_string()),
                Some(allowed.iter().map(|a| a.as_str().to_string()).collect()),
            ),
            _ => (None, None),
        };
        let sql = match &self {
            ServerError::InvalidSql(p) => Some(p.clone()),
            _ => None,
        };
        let body = ErrorBody {
            code: self.code().to_string(),
            message,
            state,
            allowed_actions,
            sql,
        };
        (status, Json(body)).into_response()
    }
}
