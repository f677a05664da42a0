//! The StreamCompute control plane: what `stc server` runs.
//!
//! ```text
//!  HTTP ──► api (axum, /api/v1, OpenAPI) ──► auth::authorize ──► store (sqlx: SQLite | PostgreSQL)
//!                                                                  ▲        instances, leases
//!  node (scheduler): heartbeat + seize every interval ─────────────┘
//!    └─► one supervisor per seized instance ──► child process `stc worker` (the data plane)
//!          status events on stderr (worker_protocol), output → instance log lines
//! ```
//!
//! * [`lifecycle`] — the instance state machine, one pure function.
//! * [`store`] — every table and query; conditional UPDATEs for transitions, seize and
//!   heartbeat; migrations in `migrations/{sqlite,postgres}`.
//! * [`auth`] — passwords, tokens, access keys, and the one authorisation function.
//! * [`api`] — the REST handlers and the OpenAPI document.
//! * [`node`] — the scheduler loop and worker supervision (restart strategy, fencing).
//! * [`server`] — start/stop of a node, first-start bootstrap.
//! * [`worker_protocol`] — what a worker reports to its node.
//!
//! This crate never runs a job itself: the data plane runs in worker processes, so a job
//! that crashes or exhausts memory cannot take the node down.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod lifecycle;
pub mod model;
pub mod node;
pub mod server;
pub mod store;
pub mod worker_protocol;

pub use config::ServerConfig;
pub use error::{Result, ServerError};
pub use server::{RunningServer, start};
