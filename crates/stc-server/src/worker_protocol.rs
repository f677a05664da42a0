//! What a worker process (`stc worker`) tells the node that started it.
//!
//! The worker's stdout is the job's own output (the `print` connector, a final `SELECT`)
//! and its stderr carries its logs; both are stored as the instance's log lines. Status
//! events are stderr lines that start with [`STATUS_PREFIX`] followed by one JSON
//! [`WorkerEvent`]. The node sends [`WorkerCommand`]s as lines on the worker's stdin; when
//! the worker reads end-of-file there (the node closed it or died) it exits at once, so a
//! killed node never leaves orphan workers that would run a job twice after another node
//! takes it over.

use serde::{Deserialize, Serialize};

pub const STATUS_PREFIX: &str = "STC-WORKER-STATUS ";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum WorkerEvent {
    /// The job compiled and its subtasks are running.
    Running,
    /// Periodic counters (records read/written, late, malformed).
    Counters { counters: serde_json::Value },
    /// The bounded sources are exhausted and every sink flushed.
    Finished,
    /// A stop-with-savepoint completed: the job has stopped and its state is at `path`.
    Savepoint { path: String },
    /// The job failed; `domain` and `retry` are `stc_common::ErrorClass` in words.
    Failed {
        domain: String,
        retry: String,
        message: String,
    },
}

impl WorkerEvent {
    /// The stderr line that carries this event.
    pub fn to_line(&self) -> String {
        format!(
            "{STATUS_PREFIX}{}",
            serde_json::to_string(self).expect("events serialise")
        )
    }

    /// The event of a status line, or `None` for an ordinary log line.
    pub fn parse_line(line: &str) -> Option<WorkerEvent> {
        serde_json::from_str(line.strip_prefix(STATUS_PREFIX)?).ok()
    }

    /// A failure event from a classified error.
    pub fn failed(class: stc_common::ErrorClass, message: String) -> WorkerEvent {
        WorkerEvent::Failed {
            domain: domain_str(class.domain).into(),
            retry: retry_str(class.retry).into(),
            message,
        }
    }
}

/// What the node asks of a running worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerCommand {
    /// Take a savepoint, stop the job at its barrier and exit (pause, stop with savepoint).
    StopWithSavepoint,
}

impl WorkerCommand {
    pub fn to_line(self) -> &'static str {
        match self {
            WorkerCommand::StopWithSavepoint => "stop-with-savepoint\n",
        }
    }

    pub fn parse_line(line: &str) -> Option<WorkerCommand> {
        match line.trim() {
            "stop-with-savepoint" => Some(WorkerCommand::StopWithSavepoint),
            _ => None,
        }
    }
}

pub fn domain_str(d: stc_common::ErrorDomain) -> &'static str {
    match d {
        stc_common::ErrorDomain::User => "user",
        stc_common::ErrorDomain::External => "external",
        stc_common::ErrorDomain::Internal => "internal",
    }
}

pub fn retry_str(r: stc_common::RetryHint) -> &'static str {
    match r {
        stc_common::RetryHint::NoRetry => "no-retry",
        stc_common::RetryHint::WithBackoff => "with-backoff",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_log_lines_are_not_events() {
        let e = WorkerEvent::failed(stc_common::ErrorClass::USER, "bad".into());
        assert_eq!(WorkerEvent::parse_line(&e.to_line()), Some(e));
        assert_eq!(WorkerEvent::parse_line("2024-01-01 INFO hello"), None);
        assert_eq!(WorkerEvent::parse_line("STC-WORKER-STATUS {broken"), None);
        let sp = WorkerEvent::Savepoint {
            path: "/d/savepoint-3".into(),
        };
        assert_eq!(WorkerEvent::parse_line(&sp.to_line()), Some(sp));
        let c = WorkerCommand::StopWithSavepoint;
        assert_eq!(WorkerCommand::parse_line(c.to_line()), Some(c));
        assert_eq!(WorkerCommand::parse_line("reboot"), None);
    }
}
