//! Server configuration: one typed struct with documented defaults, read from an optional
//! TOML file, then overridden by `STC_*` environment variables, then by command-line flags
//! (the binary applies those last).
//!
//! ```toml
//! listen = "127.0.0.1:8080"          # STC_LISTEN
//! data_dir = "./stc-data"            # STC_DATA_DIR
//! database_url = "postgres://…"      # STC_DATABASE_URL; default: SQLite in data_dir
//! node_id = "node-a"                 # STC_NODE_ID; default: host name + random suffix
//! lease_timeout_ms = 10000           # STC_LEASE_TIMEOUT_MS
//! heartbeat_interval_ms = 2000       # STC_HEARTBEAT_INTERVAL_MS
//! max_instances = 64                 # STC_MAX_INSTANCES (workers one node runs at once)
//! token_ttl_hours = 24               # STC_TOKEN_TTL_HOURS (login tokens)
//! create_example = true              # STC_CREATE_EXAMPLE (bundled example on an empty store)
//! checkpoint_dir = "/shared/ck"      # STC_CHECKPOINT_DIR; default: data_dir/checkpoints
//! savepoint_timeout_ms = 120000      # STC_SAVEPOINT_TIMEOUT_MS (pause / stop with savepoint)
//! ```
//!
//! `examples/stc.toml` lists every option at its default (a test keeps it so).
//!
//! The admin password of a fresh store comes from `STC_ADMIN_PASSWORD` only (never from the
//! file, so it is not left on disk); without it a random one is generated and printed once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Result, ServerError};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub node_id: Option<String>,
    pub lease_timeout_ms: u64,
    pub heartbeat_interval_ms: u64,
    pub max_instances: usize,
    pub token_ttl_hours: u64,
    pub create_example: bool,
    /// Where each instance's checkpoints and savepoints go (`<dir>/<instance id>/`), unless
    /// its job sets `execution.checkpointing.dir` itself [default: `<data_dir>/checkpoints`].
    /// Nodes that take over each other's instances must see the same directory (a shared
    /// file system), or a taken-over instance starts from scratch.
    pub checkpoint_dir: Option<PathBuf>,
    /// How long a pause or a stop with savepoint waits for the savepoint before it gives up
    /// and kills the worker (a later resume then restores from the latest checkpoint).
    pub savepoint_timeout_ms: u64,
    /// The executable started as `<worker_exe> worker …` for each instance. Not in the file:
    /// the binary sets it to itself.
    #[serde(skip)]
    pub worker_exe: Option<PathBuf>,
    /// Whether this node runs the scheduler (seizes instances and starts workers). Only
    /// tests of the API alone switch it off.
    #[serde(skip)]
    pub run_scheduler: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./stc-data"),
            database_url: None,
            node_id: None,
            lease_timeout_ms: 10_000,
            heartbeat_interval_ms: 2_000,
            max_instances: 64,
            token_ttl_hours: 24,
            create_example: true,
            checkpoint_dir: None,
            savepoint_timeout_ms: 120_000,
            worker_exe: None,
            run_scheduler: true,
        }
    }
}

impl ServerConfig {
    /// Defaults, overridden by the TOML file (if given), overridden by `STC_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let mut c = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ServerError::Config(format!("cannot read '{}': {e}", p.display()))
                })?;
                toml::from_str(&text)
                    .map_err(|e| ServerError::Config(format!("{}: {e}", p.display())))?
            }
            None => ServerConfig::default(),
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        Ok(c)
    }

    /// Applies `STC_*` overrides; `get` reads a variable (a parameter so tests need not
    /// mutate the process environment).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        fn num<T: std::str::FromStr>(key: &str, v: String) -> Result<T> {
            v.trim()
                .parse()
                .map_err(|_| ServerError::Config(format!("{key}='{v}' is not a valid number")))
        }
        if let Some(v) = get("STC_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("STC_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("STC_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = get("STC_NODE_ID") {
            self.node_id = Some(v);
        }
        if let Some(v) = get("STC_LEASE_TIMEOUT_MS") {
            self.lease_timeout_ms = num("STC_LEASE_TIMEOUT_MS", v)?;
        }
        if let Some(v) = get("STC_HEARTBEAT_INTERVAL_MS") {
            self.heartbeat_interval_ms = num("STC_HEARTBEAT_INTERVAL_MS", v)?;
        }
        if let Some(v) = get("STC_MAX_INSTANCES") {
            self.max_instances = num("STC_MAX_INSTANCES", v)?;
        }
        if let Some(v) = get("STC_TOKEN_TTL_HOURS") {
            self.token_ttl_hours = num("STC_TOKEN_TTL_HOURS", v)?;
        }
        if let Some(v) = get("STC_CHECKPOINT_DIR") {
            self.checkpoint_dir = Some(v.into());
        }
        if let Some(v) = get("STC_SAVEPOINT_TIMEOUT_MS") {
            self.savepoint_timeout_ms = num("STC_SAVEPOINT_TIMEOUT_MS", v)?;
        }
        if let Some(v) = get("STC_CREATE_EXAMPLE") {
            self.create_example = match v.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => {
                    return Err(ServerError::Config(format!(
                        "STC_CREATE_EXAMPLE='{v}' must be true or false"
                    )));
                }
            };
        }
        Ok(())
    }

    /// Checks relations between options that each look valid alone.
    pub fn validate(&self) -> Result<()> {
        if self.heartbeat_interval_ms == 0
            || self.lease_timeout_ms == 0
            || self.savepoint_timeout_ms == 0
        {
            return Err(ServerError::Config(
                "lease_timeout_ms, heartbeat_interval_ms and savepoint_timeout_ms must be positive"
                    .into(),
            ));
        }
        // A lease must survive at least one missed heartbeat, or a busy node would lose its
        // instances to another node while it is healthy.
        if self.lease_timeout_ms < 2 * self.heartbeat_interval_ms {
            return Err(ServerError::Config(format!(
                "lease_timeout_ms ({}) must be at least twice heartbeat_interval_ms ({})",
                self.lease_timeout_ms, self.heartbeat_interval_ms
            )));
        }
        Ok(())
    }

    /// The metadata database: `database_url`, else SQLite in `data_dir`.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("metadata.db").display()
            ),
        }
    }

    pub fn effective_node_id(&self) -> String {
        self.node_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "node".into());
            format!("{host}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
        })
    }

    pub fn effective_checkpoint_dir(&self) -> PathBuf {
        self.checkpoint_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("checkpoints"))
    }

    pub fn lease_timeout(&self) -> Duration {
        Duration::from_millis(self.lease_timeout_ms)
    }

    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("stc.toml");
        std::fs::write(&f, "listen = \"0.0.0.0:9000\"\nlease_timeout_ms = 5000\n").unwrap();
        let mut c: ServerConfig = toml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(
            c.heartbeat_interval_ms, 2000,
            "unset keys keep their default"
        );
        c.apply_env(|k| (k == "STC_LEASE_TIMEOUT_MS").then(|| "7000".to_string()))
            .unwrap();
        assert_eq!(c.lease_timeout_ms, 7000);
        c.validate().unwrap();
    }

    #[test]
    fn the_example_file_lists_every_option_at_its_default() {
        let text = include_str!("../../../examples/stc.toml");
        let c: ServerConfig = toml::from_str(text).unwrap();
        let d = ServerConfig::default();
        assert_eq!(format!("{c:?}"), format!("{d:?}"));
        // Every field is named in the file (set, or commented out where it has no value).
        for field in [
            "listen",
            "data_dir",
            "database_url",
            "node_id",
            "lease_timeout_ms",
            "heartbeat_interval_ms",
            "max_instances",
            "token_ttl_hours",
            "create_example",
            "checkpoint_dir",
            "savepoint_timeout_ms",
        ] {
            assert!(
                text.contains(&format!("{field} =")),
                "{field} is not in examples/stc.toml"
            );
        }
    }

    #[test]
    fn bad_values_are_named() {
        let err = ServerConfig::default()
            .apply_env(|k| (k == "STC_MAX_INSTANCES").then(|| "many".to_string()))
            .unwrap_err();
        assert!(
            err.to_string().contains("STC_MAX_INSTANCES='many'"),
            "{err}"
        );
        let err = toml::from_str::<ServerConfig>("listn = \"x\"").unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
        let c = ServerConfig {
            lease_timeout_ms: 1000,
            heartbeat_interval_ms: 800,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("twice"));
    }
}
