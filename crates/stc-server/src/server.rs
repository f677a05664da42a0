//! Starting and stopping one `stc server` node: store, first-start bootstrap, scheduler,
//! HTTP listener, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::info;

use crate::api::{AppState, router};
use crate::auth;
use crate::config::ServerConfig;
use crate::error::{Result, ServerError};
use crate::model::JobSettings;
use crate::node::{Node, NodeConfig};
use crate::store::Store;

/// The example job a fresh store gets, so a newcomer sees something real.
pub const EXAMPLE_PROJECT: &str = "examples";
pub const EXAMPLE_JOB: &str = "gift_stats";
const EXAMPLE_SQL: &str = include_str!("../../../examples/gift_stats.sql");

/// A node that is serving. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub addr: SocketAddr,
    pub node_id: String,
    /// Set when this start created the `admin` account with a generated password.
    pub generated_admin_password: Option<String>,
    pub store: Store,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

impl RunningServer {
    /// Stops accepting requests, stops this node's workers and releases its leases.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.shutdown.send(true);
        self.task
            .await
            .map_err(|e| ServerError::Internal(format!("server task failed: {e}")))?
    }
}

/// Creates the `admin` account (and the bundled example) on an empty store. Returns the
/// generated password when none was given.
async fn bootstrap(
    store: &Store,
    config: &ServerConfig,
    admin_password: Option<String>,
) -> Result<Option<String>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match admin_password {
        Some(p) if !p.is_empty() => (p, false),
        _ => (
            auth::new_secret("").chars().take(20).collect::<String>(),
            true,
        ),
    };
    let admin = match store
        .create_user("admin", &auth::hash_password(&password)?, true)
        .await
    {
        Ok(u) => u,
        // Another node bootstrapped the same shared store at the same moment.
        Err(ServerError::AlreadyExists(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if config.create_example {
        let project = store
            .create_project(
                EXAMPLE_PROJECT,
                "Bundled examples: start one with `stc job start --project examples gift_stats`",
                &admin,
            )
            .await?;
        store
            .create_job(&project, EXAMPLE_JOB, EXAMPLE_SQL, &JobSettings::default())
            .await?;
    }
    Ok(generated.then_some(password))
}

/// Starts a node: connects (and migrates) the store, bootstraps an empty one, starts the
/// scheduler and serves the API on `config.listen`.
pub async fn start(config: ServerConfig, admin_password: Option<String>) -> Result<RunningServer> {
    config.validate()?;
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            ServerError::Config(format!(
                "cannot create the data directory '{}': {e}",
                config.data_dir.display()
            ))
        })?;
    }
    let url = config.effective_database_url();
    let store = Store::connect(&url).await?;
    let node_id = config.effective_node_id();
    let generated_admin_password = bootstrap(&store, &config, admin_password).await?;
    let wake = Arc::new(Notify::new());
    let worker_exe = match &config.worker_exe {
        Some(p) => p.clone(),
        None => std::env::current_exe()?,
    };
    let state = AppState {
        worker_exe: worker_exe.clone(),
        scratch_dir: config.data_dir.join("previews"),
        store: store.clone(),
        token_ttl_ms: (config.token_ttl_hours * 3_600_000) as i64,
        wake_scheduler: Arc::clone(&wake),
        savepoint_timeout_ms: config.savepoint_timeout_ms as i64,
    };
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| ServerError::Config(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr()?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let scheduler = if config.run_scheduler {
        let node = Node::new(
            store.clone(),
            NodeConfig {
                node_id: node_id.clone(),
                lease: config.lease_timeout(),
                heartbeat: config.heartbeat_interval(),
                max_instances: config.max_instances,
                worker_exe,
                work_dir: config.data_dir.join("instances"),
                checkpoint_dir: config.effective_checkpoint_dir(),
                savepoint_timeout: std::time::Duration::from_millis(config.savepoint_timeout_ms),
            },
            wake,
        );
        Some(tokio::spawn(node.run(shutdown_rx.clone())))
    } else {
        None
    };
    info!(%addr, node = %node_id, database = %redact(&url), "StreamCompute server listening");
    let mut http_shutdown = shutdown_rx;
    let app = router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_shutdown.wait_for(|s| *s).await;
            })
            .await?;
        if let Some(s) = scheduler {
            let _ = s.await;
        }
        Ok(())
    });
    Ok(RunningServer {
        addr,
        node_id,
        generated_admin_password,
        store,
        shutdown: shutdown_tx,
        task,
    })
}

/// The URL without a password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}
