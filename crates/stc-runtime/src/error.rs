//! Errors of the runtime.

use stc_common::{Classified, ErrorClass};

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Input data the job cannot process (a malformed record, a NULL event time, ...).
    #[error("{0}")]
    Data(String),
    /// A connector's external system failed (file system, database, broker).
    #[error("{message}")]
    External { message: String, retryable: bool },
    /// Evaluation of an expression failed (e.g. integer division by zero, a bad cast).
    #[error("{0}")]
    Execution(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// The job was cancelled (Ctrl-C, or another subtask failed first).
    #[error("job cancelled")]
    Cancelled,
    /// A checkpoint or savepoint cannot be written, read or used (damaged, of another job).
    #[error("{0}")]
    Checkpoint(String),
    /// A bug: an invariant of the runtime did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RuntimeError {
    pub fn external(message: impl Into<String>, retryable: bool) -> Self {
        RuntimeError::External {
            message: message.into(),
            retryable,
        }
    }
}

impl Classified for RuntimeError {
    fn class(&self) -> ErrorClass {
        match self {
            RuntimeError::Data(_) | RuntimeError::Execution(_) => ErrorClass::USER,
            RuntimeError::External {
                retryable: true, ..
            } => ErrorClass::EXTERNAL_RETRYABLE,
            RuntimeError::External {
                retryable: false, ..
            } => ErrorClass::EXTERNAL_FATAL,
            RuntimeError::Arrow(_) | RuntimeError::Internal(_) => ErrorClass::INTERNAL,
            RuntimeError::Checkpoint(_) => ErrorClass::EXTERNAL_FATAL,
            RuntimeError::Cancelled => ErrorClass::USER,
        }
    }
}
