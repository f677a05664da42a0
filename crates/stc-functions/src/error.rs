//! Errors raised by this crate, converted to [`DataFusionError`] at the UDF boundary.

use datafusion::error::DataFusionError;

/// What can go wrong while planning or evaluating a Flink function.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// A Java date/time pattern that Flink would reject too (`IllegalArgumentException`).
    #[error("invalid date/time pattern '{pattern}': {reason}")]
    InvalidPattern {
        /// The pattern as written in SQL.
        pattern: String,
        /// Why it was rejected.
        reason: String,
    },
    /// `datafusion.execution.time_zone` (Flink's `table.local-time-zone`) is not a zone id.
    #[error(
        "invalid time zone '{0}': expected an IANA id such as 'Asia/Shanghai' or an offset such as '+08:00'"
    )]
    InvalidTimeZone(String),
    /// A time unit argument (`'MINUTE'` in `TIMESTAMPADD('MINUTE', ...)`) that is not supported.
    #[error("{function}: unsupported time unit '{unit}', expected one of {expected}")]
    InvalidUnit {
        /// The function being planned.
        function: &'static str,
        /// The unit as written.
        unit: String,
        /// The accepted spellings.
        expected: &'static str,
    },
    /// The argument list does not fit the function.
    #[error("{function}: {message}")]
    Signature {
        /// The function being planned.
        function: &'static str,
        /// What was expected.
        message: String,
    },
    /// Flink fails the job here (for instance `FROM_BASE64` of invalid input); so do we.
    #[error("{function}: {message}")]
    Execution {
        /// The function being evaluated.
        function: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl From<FunctionError> for DataFusionError {
    fn from(e: FunctionError) -> Self {
        match e {
            // Bad SQL is the user's to fix: report it as a planning error.
            FunctionError::InvalidPattern { .. }
            | FunctionError::InvalidUnit { .. }
            | FunctionError::Signature { .. }
            | FunctionError::InvalidTimeZone(_) => DataFusionError::Plan(e.to_string()),
            FunctionError::Execution { .. } => DataFusionError::Execution(e.to_string()),
        }
    }
}

/// Shorthand for a signature error.
pub(crate) fn sig_err<T>(
    function: &'static str,
    message: impl Into<String>,
) -> Result<T, DataFusionError> {
    Err(FunctionError::Signature {
        function,
        message: message.into(),
    }
    .into())
}
