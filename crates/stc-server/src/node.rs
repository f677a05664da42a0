//! The scheduler of one node and the supervision of its worker processes.
//!
//! Every `heartbeat_interval` (and whenever the API wakes it) the node:
//! 1. renews its leases with one `UPDATE` ([`Store::heartbeat`]) and stops the worker of
//!    every instance that is no longer in the answer (paused, stopped, or seized by another
//!    node after this one missed its lease);
//! 2. seizes free or expired instances ([`Store::seize`]) while it has capacity, and starts
//!    a supervisor for each.
//!
//! A supervisor runs `stc worker …` as a child process, turns the worker's status events
//! into state transitions (always fenced by the lease epoch it seized), stores its output as
//! log lines, and restarts it per the job's restart strategy. If the node cannot renew its
//! leases for a whole lease timeout (the database is unreachable), it stops all its workers:
//! by then another node may have seized them.
//!
//! Checkpoints: every instance gets its own checkpoint directory
//! (`<checkpoint_dir>/<instance id>`, unless its job sets `execution.checkpointing.dir`), and
//! every worker starts with `--resume`, so a restart or a take-over continues from the latest
//! checkpoint there, or from the instance's savepoint (pause) or chosen start point when that
//! is newer. A pause or a stop with savepoint asks the worker, on its stdin, to stop with a
//! savepoint, and records the savepoint's path on the instance.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::{Notify, mpsc, watch};
use tracing::{debug, info, warn};

use crate::error::{Result, ServerError};
use crate::lifecycle::{Action, InstanceState};
use crate::model::{InstanceError, RestartStrategy};
use crate::store::{ActionExtras, LeaseGuard, Seized, Store};
use crate::worker_protocol::{WorkerCommand, WorkerEvent};

/// Log lines stored per worker attempt; past this, one line says how many were left out.
const MAX_LOG_LINES_PER_ATTEMPT: usize = 10_000;

#[derive(Clone)]
pub struct NodeConfig {
    pub node_id: String,
    pub lease: Duration,
    pub heartbeat: Duration,
    pub max_instances: usize,
    pub worker_exe: PathBuf,
    /// Where each instance's script is written for its worker.
    pub work_dir: PathBuf,
    /// Each instance's checkpoints go to `<checkpoint_dir>/<instance id>`.
    pub checkpoint_dir: PathBuf,
    /// How long a worker may take for the savepoint of a pause or stop.
    pub savepoint_timeout: Duration,
}

struct Supervised {
    epoch: i64,
    stop: watch::Sender<bool>,
}

pub struct Node {
    store: Store,
    config: NodeConfig,
    workers: Mutex<HashMap<String, Supervised>>,
    wake: Arc<Notify>,
}

impl Node {
    pub fn new(store: Store, config: NodeConfig, wake: Arc<Notify>) -> Arc<Node> {
        Arc::new(Node {
            store,
            config,
            workers: Mutex::new(HashMap::new()),
            wake,
        })
    }

    fn actor(&self) -> String {
        format!("node:{}", self.config.node_id)
    }

    fn lease_ms(&self) -> i64 {
        self.config.lease.as_millis() as i64
    }

    /// The scheduler loop; returns when `shutdown` turns true, after stopping every worker
    /// and releasing every lease so other nodes take the instances over at once.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut last_renewal = Instant::now();
        loop {
            match self.tick().await {
                Ok(()) => last_renewal = Instant::now(),
                Err(e) => {
                    warn!(error = %e, "scheduler tick failed");
                    if last_renewal.elapsed() >= self.config.lease {
                        warn!(
                            "leases could not be renewed for a whole lease timeout; stopping all workers"
                        );
                        self.stop_all();
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.heartbeat) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
        self.stop_all();
        match self.store.release_all(&self.config.node_id).await {
            Ok(n) => info!(released = n, "leases released"),
            Err(e) => warn!(error = %e, "could not release leases; they expire by themselves"),
        }
    }

    fn stop_all(&self) {
        let mut workers = self.workers.lock().expect("workers lock");
        for (_, w) in workers.drain() {
            let _ = w.stop.send(true);
        }
    }

    async fn tick(self: &Arc<Self>) -> Result<()> {
        let held = self
            .store
            .heartbeat(&self.config.node_id, self.lease_ms())
            .await?;
        {
            let mut workers = self.workers.lock().expect("workers lock");
            workers.retain(|id, w| {
                let keep = held
                    .iter()
                    .any(|h| &h.instance_id == id && h.epoch == w.epoch);
                if !keep {
                    info!(instance = %id, "lease gone or instance no longer running; stopping its worker");
                    let _ = w.stop.send(true);
                }
                keep
            });
        }
        loop {
            if self.workers.lock().expect("workers lock").len() >= self.config.max_instances {
                break;
            }
            let Some(seized) = self
                .store
                .seize(&self.config.node_id, self.lease_ms())
                .await?
            else {
                break;
            };
            info!(instance = %seized.instance_id, epoch = seized.epoch, "seized");
            let (tx, rx) = watch::channel(false);
            self.workers.lock().expect("workers lock").insert(
                seized.instance_id.clone(),
                Supervised {
                    epoch: seized.epoch,
                    stop: tx,
                },
            );
            let node = Arc::clone(self);
            tokio::spawn(async move {
                let id = seized.instance_id.clone();
                let epoch = seized.epoch;
                if let Err(e) = node.supervise(seized, rx).await {
                    warn!(instance = %id, error = %e, "supervision ended with an error");
                }
                let mut workers = node.workers.lock().expect("workers lock");
                if workers.get(&id).is_some_and(|w| w.epoch == epoch) {
                    workers.remove(&id);
                }
            });
        }
        Ok(())
    }

    /// Runs the instance's worker until it finishes, fails for good, or is told to stop.
    async fn supervise(&self, seized: Seized, mut stop: watch::Receiver<bool>) -> Result<()> {
        let guard = LeaseGuard {
            node: self.config.node_id.clone(),
            epoch: seized.epoch,
        };
        let id = seized.instance_id.clone();
        let instance = self.store.get_instance(&id).await?;
        if instance.state == InstanceState::Running {
            // It was running on a node whose lease expired: record the take-over.
            self.store
                .apply_action(
                    &id,
                    Action::Restart,
                    &self.actor(),
                    Some(&guard),
                    ActionExtras {
                        detail: Some(format!(
                            "taken over by node {} after the previous node's lease expired",
                            self.config.node_id
                        )),
                        ..Default::default()
                    },
                )
                .await?;
        }
        // The latest explicit start point; the worker prefers a newer checkpoint.
        let restore = instance
            .savepoint_path
            .clone()
            .or(instance.start_from.clone());
        let version = self.store.get_version(&instance.version_id).await?;
        let dir = self.config.work_dir.join(&id);
        tokio::fs::create_dir_all(&dir).await?;
        let script = dir.join(format!("v{}.sql", version.version));
        tokio::fs::write(&script, &version.sql).await?;
        let catalog = dir.join(format!("v{}.catalog.json", version.version));
        let catalog_json = serde_json::to_vec(&version.catalog)
            .map_err(|e| ServerError::Internal(format!("catalog snapshot: {e}")))?;
        tokio::fs::write(&catalog, catalog_json).await?;
        loop {
            let outcome = self
                .run_worker(
                    &id,
                    &guard,
                    &Launch {
                        script: &script,
                        catalog: &catalog,
                        settings: &version.settings,
                        restore: restore.as_deref(),
                    },
                    &mut stop,
                )
                .await?;
            let error = match outcome {
                Outcome::Stopped | Outcome::Fenced => return Ok(()),
                Outcome::Finished => {
                    self.store
                        .apply_action(
                            &id,
                            Action::Finish,
                            &self.actor(),
                            Some(&guard),
                            ActionExtras::default(),
                        )
                        .await?;
                    return Ok(());
                }
                Outcome::Failed(e) => e,
            };
            let restarts = self.store.get_instance(&id).await?.restarts;
            let retry = match &version.settings.restart_strategy {
                RestartStrategy::FixedDelay { attempts, delay_ms }
                    if error.retry != "no-retry" && restarts < i64::from(*attempts) =>
                {
                    Some(Duration::from_millis(*delay_ms))
                }
                _ => None,
            };
            let extras = ActionExtras {
                error: Some(error.clone()),
                ..Default::default()
            };
            match retry {
                Some(delay) => {
                    info!(instance = %id, restarts, error = %error.message, "restarting the worker");
                    self.store
                        .apply_action(&id, Action::Restart, &self.actor(), Some(&guard), extras)
                        .await?;
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => return Ok(()),
                    }
                }
                None => {
                    info!(instance = %id, error = %error.message, "instance failed");
                    self.store
                        .apply_action(&id, Action::Fail, &self.actor(), Some(&guard), extras)
                        .await?;
                    return Ok(());
                }
            }
        }
    }

    async fn run_worker(
        &self,
        id: &str,
        guard: &LeaseGuard,
        launch: &Launch<'_>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Outcome> {
        let Launch {
            script,
            catalog,
            settings,
            restore,
        } = *launch;
        let mut cmd = Command::new(&self.config.worker_exe);
        cmd.arg("worker")
            .arg("--instance")
            .arg(id)
            .arg("--catalog")
            .arg(catalog)
            .arg(script);
        // mimalloc (the binary's allocator) commits its arenas eagerly by default: an idle
        // worker then holds ~12.7 MB of private memory instead of ~5.6 MB, with no measured
        // gain in speed (benchmarks/platform/run.py, Nexmark q9). The operator's own setting
        // wins.
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            cmd.env("MIMALLOC_ARENA_EAGER_COMMIT", "0");
        }
        cmd.arg("--resume")
            .arg("--checkpoint-dir")
            .arg(self.config.checkpoint_dir.join(id));
        if let Some(r) = restore {
            cmd.arg("--restore").arg(r);
        }
        if let Some(p) = settings.parallelism {
            cmd.arg("--parallelism").arg(p.to_string());
        }
        if let Some(ms) = settings.checkpoint_interval_ms {
            cmd.arg("--set").arg(format!(
                "{}={ms} ms",
                stc_common::config::CHECKPOINTING_INTERVAL
            ));
        }
        for (k, v) in &settings.config {
            cmd.arg("--set").arg(format!("{k}={v}"));
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            ServerError::Internal(format!(
                "cannot start the worker '{}': {e}",
                self.config.worker_exe.display()
            ))
        })?;
        debug!(instance = %id, pid = child.id(), "worker started");
        // Carries commands, and is held until the worker is done: closing it tells the
        // worker to exit.
        let mut stdin = child.stdin.take().expect("piped");
        let (log_tx, log_rx) = mpsc::unbounded_channel::<(&'static str, String)>();
        let (event_tx, mut event_rx) = mpsc::unbounded_channel::<WorkerEvent>();
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let out_logs = log_tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = out_logs.send(("stdout", l));
            }
        });
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                match WorkerEvent::parse_line(&l) {
                    Some(e) => {
                        let _ = event_tx.send(e);
                    }
                    None => {
                        let _ = log_tx.send(("stderr", l));
                    }
                }
            }
        });
        let writer = tokio::spawn(write_logs(
            self.store.clone(),
            id.to_string(),
            guard.node.clone(),
            log_rx,
        ));
        let mut finished = false;
        let mut failure: Option<InstanceError> = None;
        let pid = child.id();
        let mut memory_check = tokio::time::interval(MEMORY_CHECK_INTERVAL);
        memory_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Set once the worker was asked for a savepoint: when it must have answered.
        let mut savepoint_deadline: Option<tokio::time::Instant> = None;
        let mut savepoint: Option<std::result::Result<String, String>> = None;
        let outcome = loop {
            // The instance is no longer ours to run (paused, stopped, taken over): stop with
            // a savepoint when one was asked for, else kill.
            let let_go = tokio::select! {
                ev = event_rx.recv() => match ev {
                    Some(WorkerEvent::Running) => {
                        let r = self.store.apply_action(id, Action::Run, &self.actor(), Some(guard), ActionExtras::default()).await;
                        match r {
                            Ok(_) => false,
                            // Already running (e.g. after a restart decision raced): fine.
                            Err(ServerError::IllegalTransition { state: InstanceState::Running, .. }) => false,
                            Err(e) => {
                                info!(instance = %id, error = %e, "cannot mark running");
                                true
                            }
                        }
                    }
                    Some(WorkerEvent::Counters { counters }) => {
                        !self.store.update_counters(id, guard, &counters).await?
                    }
                    Some(WorkerEvent::Finished) => {
                        finished = true;
                        false
                    }
                    Some(WorkerEvent::Savepoint { path }) => {
                        savepoint = Some(Ok(path));
                        false
                    }
                    Some(WorkerEvent::Failed { domain, retry, message }) => {
                        if savepoint_deadline.is_some() {
                            savepoint = Some(Err(message.clone()));
                        }
                        failure = Some(InstanceError { domain, retry, message });
                        false
                    }
                    None => {
                        // stderr closed: the worker is exiting.
                        let status = child.wait().await?;
                        break if savepoint_deadline.is_some() {
                            Outcome::Stopped
                        } else if finished && status.success() {
                            Outcome::Finished
                        } else {
                            Outcome::Failed(failure.take().unwrap_or_else(|| InstanceError {
                                domain: "internal".into(),
                                retry: "with-backoff".into(),
                                message: format!("the worker process exited unexpectedly ({status})"),
                            }))
                        };
                    }
                },
                // Not while a savepoint is taken: the sender may be gone by then, and a
                // closed channel would wake this loop forever.
                _ = stop.changed(), if savepoint_deadline.is_none() => true,
                _ = memory_check.tick(), if settings.memory_limit_mb.is_some() => {
                    let limit = settings.memory_limit_mb.unwrap_or(u64::MAX);
                    match pid.and_then(resident_mb) {
                        Some(rss) if rss > limit => {
                            warn!(instance = %id, rss, limit, "the worker exceeded its memory limit; killing it");
                            break Outcome::Failed(InstanceError {
                                domain: "user".into(),
                                retry: "with-backoff".into(),
                                message: format!(
                                    "the job exceeded its memory limit: {rss} MB resident > memory_limit_mb = {limit}; \
                                     raise the limit, lower the parallelism or bound the state (table.exec.state.ttl)"
                                ),
                            });
                        }
                        _ => false,
                    }
                }
                _ = sleep_until(savepoint_deadline) => {
                    savepoint = Some(Err(format!(
                        "the worker took longer than {} s; it was killed",
                        self.config.savepoint_timeout.as_secs()
                    )));
                    break Outcome::Stopped;
                }
            };
            if !let_go || savepoint_deadline.is_some() {
                continue;
            }
            if !self
                .store
                .savepoint_requested(id, guard.epoch)
                .await
                .unwrap_or(false)
            {
                break if *stop.borrow() {
                    Outcome::Stopped
                } else {
                    Outcome::Fenced
                };
            }
            info!(instance = %id, "stopping the worker with a savepoint");
            let line = WorkerCommand::StopWithSavepoint.to_line();
            if let Err(e) = stdin.write_all(line.as_bytes()).await {
                savepoint = Some(Err(format!("cannot ask the worker: {e}")));
                break Outcome::Stopped;
            }
            let _ = stdin.flush().await;
            savepoint_deadline = Some(tokio::time::Instant::now() + self.config.savepoint_timeout);
        };
        if matches!(
            outcome,
            Outcome::Stopped | Outcome::Fenced | Outcome::Failed(_)
        ) {
            // Already gone unless it is being stopped or broke its memory limit.
            let _ = child.kill().await;
        }
        if savepoint_deadline.is_some() {
            let result = savepoint
                .unwrap_or_else(|| Err("the worker exited without reporting a savepoint".into()));
            match &result {
                Ok(p) => info!(instance = %id, path = %p, "savepoint completed"),
                Err(e) => warn!(instance = %id, error = %e, "no savepoint"),
            }
            self.store
                .record_savepoint(id, guard, result.as_deref().map_err(|e| e.as_str()))
                .await?;
        }
        drop(stdin);
        // Wait for the remaining output to be stored before deciding what comes next.
        let _ = writer.await;
        Ok(outcome)
    }
}

/// How often a worker's resident memory is compared with its job's `memory_limit_mb`.
const MEMORY_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// Resident memory of process `pid` in MB (Linux `/proc`), `None` where unknown.
///
/// The limit is enforced by watching, not by the kernel: this machine class has cgroups v1
/// only, where a node cannot create groups for its children, and `RLIMIT_AS` counts address
/// space that allocators reserve but never touch, failing healthy jobs.
fn resident_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024)
}

/// Waits until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// What a worker process is started with.
#[derive(Clone, Copy)]
struct Launch<'a> {
    script: &'a std::path::Path,
    /// The version's catalog snapshot (JSON).
    catalog: &'a std::path::Path,
    settings: &'a crate::model::JobSettings,
    /// The latest explicit start point (savepoint or `start_from`).
    restore: Option<&'a str>,
}

enum Outcome {
    Finished,
    Failed(InstanceError),
    /// The node told the worker to stop (pause, stop, lease lost, shutdown).
    Stopped,
    /// A write for the instance was refused: another node holds it now.
    Fenced,
}

/// Stores log lines in batches: whatever arrived while the previous batch was written.
async fn write_logs(
    store: Store,
    instance: String,
    node: String,
    mut rx: mpsc::UnboundedReceiver<(&'static str, String)>,
) {
    let mut stored = 0usize;
    let mut left_out = 0usize;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let room = MAX_LOG_LINES_PER_ATTEMPT.saturating_sub(stored);
        if batch.len() > room {
            left_out += batch.len() - room;
            batch.truncate(room);
        }
        stored += batch.len();
        if let Err(e) = store.append_logs(&instance, &node, &batch).await {
            warn!(instance, error = %e, "cannot store log lines");
        }
    }
    if left_out > 0 {
        let note = vec![(
            "stderr",
            format!(
                "[stc] {left_out} further log lines of this worker attempt were not stored (limit {MAX_LOG_LINES_PER_ATTEMPT})"
            ),
        )];
        let _ = store.append_logs(&instance, &node, &note).await;
    }
}
