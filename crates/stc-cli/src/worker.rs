//! `stc worker`: runs one job instance for the node that started it (see
//! `stc_server::worker_protocol`). It compiles the script and runs it exactly as `stc run`
//! does; the job's output goes to stdout, status events and logs to stderr, and the node's
//! commands (one per line) come on stdin.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use stc_common::Classified;
use stc_runtime::checkpoint::storage::CheckpointConfig;
use stc_runtime::executor::{JobOptions, spawn_job_with};
use stc_runtime::metrics::JobMetrics;
use stc_server::worker_protocol::{WorkerCommand, WorkerEvent};
use stc_sql::compile_script;
use tokio::sync::mpsc;

use crate::{JobArgs, OutputFormat, compile_options, print_results, restore_point};

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// The instance this worker runs (for its logs).
    #[arg(long)]
    instance: String,
    /// Start from this checkpoint or savepoint, unless `--resume` finds a newer checkpoint.
    #[arg(long, value_name = "PATH")]
    restore: Option<String>,
    /// Start from the latest complete checkpoint of the job's checkpoint directory when it is
    /// newer than `--restore` (a restart or a take-over after the last savepoint).
    #[arg(long)]
    resume: bool,
    /// `execution.checkpointing.dir` for a job that does not set its own.
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// The project catalog the job compiles against (JSON: `[{"name", "ddl"}]`).
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    #[command(flatten)]
    job: JobArgs,
}

/// Exit code when the node went away (stdin closed).
const EXIT_NODE_GONE: u8 = 3;

fn emit(e: WorkerEvent) {
    eprintln!("{}", e.to_line());
}

fn fail(class: stc_common::ErrorClass, message: impl Into<String>) -> ExitCode {
    emit(WorkerEvent::failed(class, message.into()));
    ExitCode::FAILURE
}

fn counters(m: &JobMetrics) -> serde_json::Value {
    let s = m.summary();
    let ck = &m.checkpoints;
    serde_json::json!({
        "records_read": s.records_read,
        "records_written": s.records_written,
        "late_records_dropped": s.late_records_dropped,
        "parse_errors_skipped": s.parse_errors_skipped,
        "checkpoints_completed": ck.completed.load(Ordering::Relaxed),
        "checkpoints_failed": ck.failed.load(Ordering::Relaxed),
        "last_checkpoint_id": ck.last_completed_id.load(Ordering::Relaxed),
        "last_checkpoint_at": ck.last_completed_ms.load(Ordering::Relaxed),
        "last_checkpoint_duration_ms": ck.last_duration_ms.load(Ordering::Relaxed),
        "last_checkpoint_bytes": ck.last_size_bytes.load(Ordering::Relaxed),
        "last_checkpoint_full_bytes": ck.last_full_size_bytes.load(Ordering::Relaxed),
        "last_checkpoint_alignment_ms": ck.last_alignment_ms.load(Ordering::Relaxed),
        "last_checkpoint_sync_ms": ck.last_sync_ms.load(Ordering::Relaxed),
        "restores": ck.restored.load(Ordering::Relaxed),
        // 0 until the restore in progress (if any) has given every subtask its state.
        "last_restore_ms": ck.last_restore_ms.load(Ordering::Relaxed),
    })
}

/// Reads the node's commands from stdin. End-of-file means the node stopped us or died, and
/// a job must never outlive the lease of its node: the process exits at once.
fn watch_stdin(commands: mpsc::UnboundedSender<WorkerCommand>) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match WorkerCommand::parse_line(&line) {
                Some(c) => {
                    let _ = commands.send(c);
                }
                None => tracing::warn!(line, "unknown command from the node ignored"),
            }
        }
        std::process::exit(EXIT_NODE_GONE.into());
    });
}

/// The catalog snapshot the node wrote for this version.
pub(crate) fn read_catalog(path: Option<&PathBuf>) -> anyhow::Result<Vec<stc_sql::CatalogObject>> {
    use anyhow::Context;
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the catalog '{}'", path.display()))?;
    let objects: Vec<stc_server::model::CatalogDdl> = serde_json::from_str(&text)
        .with_context(|| format!("the catalog '{}' is not valid", path.display()))?;
    Ok(objects
        .into_iter()
        .map(|o| stc_sql::CatalogObject {
            name: o.name,
            ddl: o.ddl,
        })
        .collect())
}

pub fn run(args: WorkerArgs) -> ExitCode {
    let (command_tx, mut commands) = mpsc::unbounded_channel();
    watch_stdin(command_tx);
    tracing::info!(instance = %args.instance, "worker starting");
    let sql = match std::fs::read_to_string(&args.job.file) {
        Ok(s) => s,
        Err(e) => {
            return fail(
                stc_common::ErrorClass::INTERNAL,
                format!("cannot read the script '{}': {e}", args.job.file.display()),
            );
        }
    };
    let compiled = match compile_options(&args.job)
        .map_err(|e| (stc_common::ErrorClass::USER, format!("{e:#}")))
        .and_then(|mut o| {
            o.catalog = read_catalog(args.catalog.as_ref())
                .map_err(|e| (stc_common::ErrorClass::INTERNAL, format!("{e:#}")))?;
            compile_script(&sql, &o).map_err(|e| (e.class(), e.to_string()))
        }) {
        Ok(c) => c,
        Err((class, message)) => return fail(class, message),
    };
    let zone = compiled
        .config
        .get(stc_common::config::LOCAL_TIME_ZONE)
        .cloned()
        .unwrap_or_else(|| "UTC".into());
    let mut config = compiled.config.clone();
    if let Some(dir) = &args.checkpoint_dir {
        config
            .entry(stc_common::config::CHECKPOINTING_DIR.to_string())
            .or_insert_with(|| dir.display().to_string());
    }
    let checkpointing = match CheckpointConfig::from_config(&config) {
        Ok(c) => c,
        Err(e) => {
            return fail(
                stc_common::ErrorClass::USER,
                format!("invalid configuration: {e}"),
            );
        }
    };
    let restore = match restore_point(
        args.restore.as_ref(),
        checkpointing
            .as_ref()
            .filter(|_| args.resume)
            .map(|c| &c.dir),
        &config,
    ) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                stc_common::ErrorClass::EXTERNAL_FATAL,
                format!("cannot restore: {e:#}"),
            );
        }
    };
    if let Some(ck) = &restore {
        eprintln!("restoring from {}", ck.path);
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("stc-worker")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return fail(
                stc_common::ErrorClass::EXTERNAL_RETRYABLE,
                format!("cannot start the runtime: {e}"),
            );
        }
    };
    runtime.block_on(async move {
        let mut job = match spawn_job_with(
            compiled.graph,
            JobOptions {
                checkpoint: checkpointing,
                restore,
            },
        ) {
            Ok(j) => j,
            Err(e) => return fail(e.class(), e.to_string()),
        };
        emit(WorkerEvent::Running);
        let metrics: Arc<JobMetrics> = Arc::clone(&job.metrics);
        let printer = compiled
            .select
            .map(|sel| tokio::spawn(print_results(sel.schema, sel.rx, OutputFormat::Json, zone)));
        let reporter = {
            let metrics = Arc::clone(&metrics);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    emit(WorkerEvent::Counters {
                        counters: counters(&metrics),
                    });
                }
            })
        };
        let result = loop {
            let command = tokio::select! {
                r = job.wait() => break r,
                c = commands.recv() => c,
            };
            match command {
                Some(WorkerCommand::StopWithSavepoint) => {
                    let outcome = job.savepoint(true).await;
                    reporter.abort();
                    emit(WorkerEvent::Counters {
                        counters: counters(&metrics),
                    });
                    return match outcome {
                        Ok(path) => {
                            emit(WorkerEvent::Savepoint {
                                path: path.to_string(),
                            });
                            ExitCode::SUCCESS
                        }
                        Err(e) => {
                            job.cancel();
                            fail(e.class(), format!("the savepoint failed: {e}"))
                        }
                    };
                }
                // The stdin thread exits the process on end-of-file; nothing else ends it.
                None => std::future::pending::<()>().await,
            }
        };
        reporter.abort();
        emit(WorkerEvent::Counters {
            counters: counters(&metrics),
        });
        if let Err(e) = result {
            return fail(e.class(), e.to_string());
        }
        if let Some(p) = printer {
            match p.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return fail(
                        stc_common::ErrorClass::EXTERNAL_FATAL,
                        format!("cannot write the result: {e:#}"),
                    );
                }
                Err(e) => {
                    return fail(
                        stc_common::ErrorClass::INTERNAL,
                        format!("the result printer failed: {e}"),
                    );
                }
            }
        }
        emit(WorkerEvent::Finished);
        ExitCode::SUCCESS
    })
}
