//! The streaming runtime of StreamCompute.
//!
//! A job is a [`JobGraph`]: nodes (a source, or a *chain* of operators fused into one task)
//! connected by edges that say how records are redistributed between the subtasks of
//! adjacent nodes ([`Partitioning`]). [`executor::run_job`] starts one tokio task per subtask
//! on a runtime of its own, connects them with bounded channels (so a slow consumer
//! back-pressures its producers all the way to the sources) and runs the job to completion.
//!
//! ```text
//!  source subtask ──┐  (bounded mpsc per producer/consumer pair)
//!  source subtask ──┼──► InputGate ─► [op ─► op ─► op] ─► Output (partitioner) ──► …
//!  source subtask ──┘      │ min watermark over active inputs
//! ```
//!
//! What flows on an edge is a [`Message`]: a batch of rows ([`StreamBatch`], an Arrow
//! `RecordBatch` plus optional Flink row kinds), an event-time watermark, an idleness
//! marker, or end-of-stream. Operators implement [`Operator`], a trait of lifecycle hooks
//! with defaults (Arroyo's shape): most override `process_batch` only.
//!
//! Architecture invariants:
//! * This crate knows nothing of SQL, catalogs or the control plane. It executes graphs of
//!   operators built elsewhere (by `stc-sql`).
//! * A record batch crosses a thread only through [`exchange`]: `Output::send` →
//!   channel → `InputGate::next`.
//! * Watermarks only move forward; a subtask's input watermark is the minimum over its
//!   active (non-idle, non-finished) inputs, as in Flink.
//! * Keyed state is addressed by key group (`hash % max_parallelism`), so that a later
//!   rescale can move whole key groups between subtasks.

pub mod checkpoint;
pub mod error;
pub mod exchange;
pub mod executor;
pub mod graph;
pub mod lookup;
pub mod message;
pub mod metrics;
pub mod operator;
pub mod ops;
pub mod restart;
pub mod source;
pub mod time;

pub use checkpoint::{Barrier, BarrierKind, OperatorState, SplitPosition, StateSnapshot};
pub use error::{Result, RuntimeError};
pub use graph::{EdgeSpec, JobGraph, NodeId, NodeSpec, Partitioning};
pub use lookup::{LookupResult, LookupSource, LookupSourceFactory};
pub use message::{Message, StreamBatch, Watermark};
pub use metrics::{JobMetrics, TaskMetrics};
pub use operator::{Operator, OperatorContext, OperatorFactory};
pub use source::{SourceFactory, SourceReader, SourceSpec};
