//! Shared vocabulary of StreamCompute.
//!
//! This crate is a leaf: no I/O, no async runtime, no DataFusion. Everything that more than
//! one layer must agree on lives here:
//!
//! * [`error`]: how every error a job can hit is *classified* (who is at fault, whether a
//!   retry can help). Restart strategies, alerts and the UI read the classification, never the
//!   message text.
//! * [`RowKind`]: Flink's changelog row kinds (`+I`, `-U`, `+U`, `-D`).
//! * [`config`]: the configuration keys a job script can `SET`, with their documented defaults.

pub mod config;
pub mod error;

pub use error::{Classified, ErrorClass, ErrorDomain, RetryHint};

/// Flink's changelog row kind. Streams that carry only inserts do not materialise kinds at all
/// (see `stc_runtime::StreamBatch`); the kind exists for updating results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i8)]
pub enum RowKind {
    Insert = 0,
    UpdateBefore = 1,
    UpdateAfter = 2,
    Delete = 3,
}

impl RowKind {
    /// The short string Flink prints (`+I`, `-U`, `+U`, `-D`).
    pub fn short_string(self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }

    /// Inverse of `self as i8`.
    pub fn from_i8(v: i8) -> Option<RowKind> {
        Some(match v {
            0 => RowKind::Insert,
            1 => RowKind::UpdateBefore,
            2 => RowKind::UpdateAfter,
            3 => RowKind::Delete,
            _ => return None,
        })
    }

    /// `+I` and `+U` add a row to the result; `-U` and `-D` retract one.
    pub fn is_addition(self) -> bool {
        matches!(self, RowKind::Insert | RowKind::UpdateAfter)
    }
}

impl std::fmt::Display for RowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.short_string())
    }
}
