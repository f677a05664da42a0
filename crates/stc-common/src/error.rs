//! Error classification shared by every crate.
//!
//! Each crate has its own `thiserror` enum; each of those enums implements [`Classified`], so
//! that code far from the failure (restart strategies, the CLI's exit message, later the
//! platform's alerts) can decide what to do without matching on message text.

/// Who is at fault for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorDomain {
    /// The job's author: bad SQL, a bad option, malformed input data, a missing input file.
    /// Restarting the job will not help; the user must change something.
    User,
    /// A system outside the engine: a database, a broker, the file system being full.
    External,
    /// A bug in StreamCompute. Always worth a report.
    Internal,
}

/// Whether retrying the failed action can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryHint {
    /// Retrying will fail the same way.
    NoRetry,
    /// A later attempt may succeed (connection lost, timeout, resource temporarily exhausted).
    WithBackoff,
}

/// Domain and retry hint together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorClass {
    pub domain: ErrorDomain,
    pub retry: RetryHint,
}

impl ErrorClass {
    pub const USER: ErrorClass = ErrorClass {
        domain: ErrorDomain::User,
        retry: RetryHint::NoRetry,
    };
    pub const EXTERNAL_RETRYABLE: ErrorClass = ErrorClass {
        domain: ErrorDomain::External,
        retry: RetryHint::WithBackoff,
    };
    pub const EXTERNAL_FATAL: ErrorClass = ErrorClass {
        domain: ErrorDomain::External,
        retry: RetryHint::NoRetry,
    };
    pub const INTERNAL: ErrorClass = ErrorClass {
        domain: ErrorDomain::Internal,
        retry: RetryHint::NoRetry,
    };
}

impl std::fmt::Display for ErrorDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorDomain::User => "user error",
            ErrorDomain::External => "external system error",
            ErrorDomain::Internal => "internal error",
        })
    }
}

/// Implemented by every crate's error enum.
pub trait Classified {
    fn class(&self) -> ErrorClass;
}
