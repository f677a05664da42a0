//! What the API shows and accepts: projects → jobs (SQL draft + deployment settings) →
//! versions (an immutable snapshot taken at each start) → instances (one run of a version,
//! moving through [`crate::lifecycle`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Result, ServerError};
use crate::lifecycle::{Action, InstanceState};

/// A project member's role. Each role includes the rights of the ones below it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the project, its jobs, instances and logs.
    Viewer,
    /// Also creates, edits, starts, pauses, resumes, stops and deletes jobs.
    Editor,
    /// Also manages members and deletes the project.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub name: String,
    pub is_admin: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub user: String,
    pub role: Role,
}

/// How a node reacts when a job's worker fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RestartStrategy {
    /// Fail the instance on the first failure.
    None,
    /// Restart up to `attempts` times, waiting `delay_ms` before each restart. Errors
    /// classified as not retryable (bad SQL, bad input data) fail the instance at once.
    FixedDelay { attempts: u32, delay_ms: u64 },
}

impl Default for RestartStrategy {
    fn default() -> Self {
        RestartStrategy::FixedDelay {
            attempts: 3,
            delay_ms: 1000,
        }
    }
}

/// Deployment settings of a job; snapshotted into each version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// Subtasks per operator; default: the script's `parallelism.default`, else 1.
    pub parallelism: Option<u32>,
    /// `execution.checkpointing.interval`; checkpoints go to the node's checkpoint
    /// directory. Without it the job takes only the savepoints of pause and stop.
    pub checkpoint_interval_ms: Option<u64>,
    pub restart_strategy: RestartStrategy,
    /// Resident memory of the job's worker process; the node kills a worker above it (checked
    /// every 500 ms) and the failure goes through the restart strategy.
    pub memory_limit_mb: Option<u64>,
    /// Extra configuration, as `SET 'key' = 'value'` after the script's own SETs.
    pub config: BTreeMap<String, String>,
}

/// The smallest `memory_limit_mb` accepted.
pub const MIN_MEMORY_LIMIT_MB: u64 = 32;

impl JobSettings {
    pub fn validate(&self) -> Result<()> {
        if self.parallelism == Some(0) {
            return Err(ServerError::BadRequest(
                "settings.parallelism must be at least 1".into(),
            ));
        }
        if self.checkpoint_interval_ms == Some(0) {
            return Err(ServerError::BadRequest(
                "settings.checkpoint_interval_ms must be positive".into(),
            ));
        }
        // Below this a worker cannot even start (the runtime and DataFusion's session).
        if let Some(mb) = self.memory_limit_mb.filter(|mb| *mb < MIN_MEMORY_LIMIT_MB) {
            return Err(ServerError::BadRequest(format!(
                "settings.memory_limit_mb = {mb} is below the minimum of {MIN_MEMORY_LIMIT_MB}"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub project: String,
    pub name: String,
    pub sql: String,
    pub settings: JobSettings,
    pub active_instance_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A table or view of a project's catalog, usable by every job of the project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CatalogObject {
    pub name: String,
    /// `table` or `view`.
    pub kind: String,
    /// Its one `CREATE TABLE` or `CREATE VIEW` statement.
    pub ddl: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A catalog object as a version snapshots it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogDdl {
    pub name: String,
    pub ddl: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobVersion {
    pub id: String,
    pub job_id: String,
    pub version: i64,
    pub sql: String,
    pub settings: JobSettings,
    /// The project catalog when the version was started.
    pub catalog: Vec<CatalogDdl>,
    pub created_by: String,
    pub created_at: i64,
}

/// A classified error, as the worker or the node reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstanceError {
    /// `user`, `external` or `internal`.
    pub domain: String,
    /// `no-retry` or `with-backoff`.
    pub retry: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Instance {
    pub id: String,
    pub job_id: String,
    pub version_id: String,
    pub version: i64,
    pub state: InstanceState,
    /// The user actions the current state allows.
    pub allowed_actions: Vec<Action>,
    /// The checkpoint or savepoint this instance was started from, if any.
    pub start_from: Option<String>,
    /// The latest savepoint of a pause or a stop (`resume` restores from it, or from a newer
    /// checkpoint).
    pub savepoint_path: Option<String>,
    /// A pause or stop asked for a savepoint and the node is still taking it.
    pub savepoint_in_progress: bool,
    pub error: Option<InstanceError>,
    pub restarts: i64,
    /// Counters the worker last reported (records read/written, late, malformed).
    #[schema(value_type = Object)]
    pub counters: serde_json::Value,
    /// The node that holds the lease, while it does.
    pub node: Option<String>,
    pub lease_epoch: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Transition {
    pub from: Option<InstanceState>,
    pub to: InstanceState,
    pub action: Action,
    /// Who asked: a user name, or `node:<id>` for events of the scheduler.
    pub actor: String,
    pub detail: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    pub id: i64,
    pub node: String,
    /// `stdout` (the job's output, e.g. the print connector) or `stderr`.
    pub stream: String,
    pub line: String,
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessKey {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}
