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
//!   without checkpoints its source commits no offsets;
//! * with [`read_latest`], a `kafka` source reads the last records of each partition, a `nats`
//!   source the last messages of its stream.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
/// `--latest N`: read the last N records of each position-addressable split (0: off).
static LATEST: AtomicUsize = AtomicUsize::new(0);
/// Whether a source read from the end as `LATEST` asked.
static LATEST_HONOURED: AtomicBool = AtomicBool::new(false);
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

/// Asks sources to read the last `n` records of each split and stop at the end, instead of
/// reading from their configured start. Only sources with positions to seek to can: `kafka`
/// reads each partition from `n` records before its end up to the end. Others read as
/// configured; [`latest_honoured`] tells the preview which happened.
pub fn read_latest(n: usize) {
    LATEST.store(n, Ordering::Relaxed);
}

/// The `n` of [`read_latest`], if set (and preview mode is on).
pub fn latest() -> Option<usize> {
    let n = LATEST.load(Ordering::Relaxed);
    (is_enabled() && n > 0).then_some(n)
}

/// Called by a source that reads from the end as [`read_latest`] asked.
pub(crate) fn honour_latest() {
    LATEST_HONOURED.store(true, Ordering::Relaxed);
}

/// Whether some source read from the end.
pub fn latest_honoured() -> bool {
    LATEST_HONOURED.load(Ordering::Relaxed)
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
