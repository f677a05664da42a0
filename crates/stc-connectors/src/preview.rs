//! Preview mode: reading a table to look at it (`stc table preview`), not to process it.
//!
//! A preview runs in a process of its own (`stc table preview`, which the server also starts
//! per request), so the mode is a process-wide switch rather than an option threaded through
//! every connector: a job never runs in a preview process, and a preview process runs nothing
//! else. While it is on:
//! * a record that fails to decode is recorded here with its raw bytes and the reason, and
//!   skipped, instead of failing the read (the preview shows it as such);
//! * sources change nothing at the system they read: `rabbitmq` never acknowledges (the broker
//!   requeues what the preview saw when it disconnects), `nats` uses an ephemeral consumer
//!   even where the table names a durable one, `mqtt` connects with a fresh client id and a
//!   clean session (a persistent session's queued messages stay queued). Kafka needs nothing:
//!   without checkpoints its source commits no offsets.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
static MALFORMED: Mutex<Vec<Malformed>> = Mutex::new(Vec::new());

/// At most this many malformed records are kept (later ones are counted only).
pub const MAX_MALFORMED: usize = 1000;
/// Raw bytes kept per malformed record.
const MAX_RAW: usize = 4096;

/// A record the preview could not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Where it is: file and line, topic/partition/offset, subject and sequence, …
    pub position: String,
    pub reason: String,
    /// Its bytes (at most 4 KiB).
    pub raw: Vec<u8>,
}

/// Switches preview mode on for this process (for good).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Records a record that failed to decode. Returns false when preview mode is off: the caller
/// then fails as it always does.
pub(crate) fn report(position: String, reason: &str, raw: &[u8]) -> bool {
    if !is_enabled() {
        return false;
    }
    let mut log = MALFORMED.lock().expect("preview log");
    if log.len() < MAX_MALFORMED {
        log.push(Malformed {
            position,
            reason: reason.to_string(),
            raw: raw[..raw.len().min(MAX_RAW)].to_vec(),
        });
    }
    true
}

/// The malformed records recorded so far (and clears the list).
pub fn take_malformed() -> Vec<Malformed> {
    std::mem::take(&mut *MALFORMED.lock().expect("preview log"))
}
