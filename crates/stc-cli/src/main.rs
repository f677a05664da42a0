//! `stc`: the one StreamCompute binary.
//!
//! Subcommands:
//! * `stc run FILE.sql` runs a Flink SQL script on the embedded engine until its bounded
//!   sources are exhausted (or until Ctrl-C), printing the result of a final `SELECT`.
//! * `stc explain FILE.sql` prints the job graph the script compiles to.
//! * `stc server` starts a platform node (`stc_server`); `stc worker` is the process a node
//!   starts for each running job instance.
//! * `stc login`, `stc project …`, `stc job …` are the client of a server (`client.rs`);
//!   `stc sql validate FILE` compiles a script locally and reports the first error.

mod client;
mod preview;
mod worker;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use stc_runtime::StreamBatch;
use stc_runtime::checkpoint::storage::{Checkpoint, CheckpointConfig, Location};
use stc_runtime::executor::{JobOptions, spawn_job_with};
use stc_runtime::metrics::JobMetrics;
use stc_runtime::restart::{RestartStrategy, RestartTracker};
use stc_sql::{CompileOptions, compile_script};

#[derive(Parser)]
#[command(
    name = "stc",
    version,
    about = "StreamCompute: Flink SQL on a Rust streaming engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputFormat {
    /// Like Flink's SQL client in tableau mode, with the row kind in an `op` column.
    Table,
    /// One JSON object per line: {"op":"+I","row":{"col":value,…}}.
    Json,
}

#[derive(clap::Args)]
struct JobArgs {
    /// The Flink SQL script.
    file: PathBuf,
    /// Subtasks per operator (default: `parallelism.default` from the script, else all cores).
    #[arg(long, short = 'p')]
    parallelism: Option<usize>,
    /// A configuration key, as with `SET 'key' = 'value'` (applied after the script's SETs).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(clap::Args)]
struct RestoreArgs {
    /// Start from this checkpoint or savepoint (its directory or its `_metadata` file).
    /// A local path, `file:///…` or `s3://bucket/…` (with the script's `s3.*` keys).
    #[arg(long, value_name = "PATH", conflicts_with = "resume")]
    restore: Option<String>,
    /// Start from the latest complete checkpoint in `execution.checkpointing.dir` (damaged
    /// ones are skipped, with a warning); from scratch if there is none.
    #[arg(long)]
    resume: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Flink SQL script on the embedded engine.
    Run {
        #[command(flatten)]
        job: JobArgs,
        #[command(flatten)]
        restore: RestoreArgs,
        /// How to print the result of a final SELECT.
        #[arg(long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Print the job graph a script compiles to.
    Explain {
        #[command(flatten)]
        job: JobArgs,
    },
    /// Start a platform node: REST API, scheduler, worker processes.
    Server(ServerArgs),
    /// Run one job instance for a node (started by `stc server`, not by hand).
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
    /// Log in to a server and save the token in the CLI config file.
    Login {
        #[command(flatten)]
        conn: client::Connection,
        /// User name.
        #[arg(long, short = 'u', default_value = "admin")]
        user: String,
        /// Password (default: $STC_PASSWORD, else read from stdin).
        #[arg(long)]
        password: Option<String>,
    },
    /// Projects on a server.
    Project {
        #[command(flatten)]
        conn: client::Connection,
        #[command(subcommand)]
        cmd: client::ProjectCommand,
    },
    /// The project catalog: tables and views every job of a project can use.
    Catalog {
        #[command(flatten)]
        conn: client::Connection,
        #[command(subcommand)]
        cmd: client::CatalogCommand,
    },
    /// Jobs on a server.
    Job {
        #[command(flatten)]
        conn: client::Connection,
        #[command(subcommand)]
        cmd: client::JobCommand,
    },
    /// Tables, without a server.
    Table {
        #[command(subcommand)]
        cmd: TableCommand,
    },
    /// SQL tools that need no server.
    Sql {
        #[command(subcommand)]
        cmd: SqlCommand,
    },
}

#[derive(Subcommand)]
enum TableCommand {
    /// Show a table's first records (decoded with its schema; records that fail to decode
    /// shown with their raw bytes) within a time limit, without committing offsets,
    /// acknowledging messages or writing anywhere.
    Preview(preview::PreviewArgs),
}

#[derive(Subcommand)]
enum SqlCommand {
    /// Parse and plan a script; print the first error with statement, line and column.
    Validate {
        #[command(flatten)]
        job: JobArgs,
        #[arg(long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// TOML configuration file (every option; `STC_*` variables and flags override it).
    #[arg(long, env = "STC_CONFIG_FILE")]
    config: Option<PathBuf>,
    /// Address of the REST API [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// Directory of the SQLite metadata database and instance files [default: ./stc-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A shared PostgreSQL (postgres://…) instead of SQLite, for several nodes.
    #[arg(long)]
    database_url: Option<String>,
    /// This node's id in leases [default: host name + random suffix].
    #[arg(long)]
    node_id: Option<String>,
    /// How long a lease lasts without a heartbeat [default: 10000].
    #[arg(long)]
    lease_timeout_ms: Option<u64>,
    /// How often leases are renewed and free instances seized [default: 2000].
    #[arg(long)]
    heartbeat_interval_ms: Option<u64>,
    /// Where instances' checkpoints and savepoints go; nodes that take over each other's
    /// instances must share it [default: <data-dir>/checkpoints].
    #[arg(long)]
    checkpoint_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A server logs what it does (seizes, take-overs, failures); the other commands only
    // warnings, so their stderr stays readable.
    let default_level = match cli.command {
        Command::Server(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STC_LOG")
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Run {
            job,
            restore,
            output,
        } => run(job, restore, output),
        Command::Explain { job } => explain(job),
        Command::Server(args) => server(args),
        Command::Worker(args) => Ok(worker::run(args)),
        Command::Login {
            conn,
            user,
            password,
        } => client::login(conn, user, password),
        Command::Project { conn, cmd } => client::project(conn, cmd),
        Command::Job { conn, cmd } => client::job(conn, cmd),
        Command::Catalog { conn, cmd } => client::catalog(conn, cmd),
        Command::Table {
            cmd: TableCommand::Preview(args),
        } => preview::run(args),
        Command::Sql {
            cmd: SqlCommand::Validate { job, output },
        } => validate(job, output),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn compile_options(job: &JobArgs) -> anyhow::Result<CompileOptions> {
    compile_options_from(job.parallelism, &job.set)
}

fn compile_options_from(
    parallelism: Option<usize>,
    set: &[String],
) -> anyhow::Result<CompileOptions> {
    let mut config = Vec::new();
    for kv in set {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set expects KEY=VALUE, found '{kv}'"))?;
        config.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(CompileOptions {
        parallelism,
        config,
        catalog: Vec::new(),
    })
}

fn read_script(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the script '{}'", path.display()))
}

fn explain(job: JobArgs) -> anyhow::Result<ExitCode> {
    let sql = read_script(&job.file)?;
    let compiled = compile_script(&sql, &compile_options(&job)?)?;
    print!("{}", compiled.graph.explain());
    Ok(ExitCode::SUCCESS)
}

fn validate(job: JobArgs, output: OutputFormat) -> anyhow::Result<ExitCode> {
    let sql = read_script(&job.file)?;
    let result = compile_script(&sql, &compile_options(&job)?);
    let ok = result.is_ok();
    match (output, result) {
        (OutputFormat::Json, Ok(_)) => println!("{}", serde_json::json!({"valid": true})),
        (OutputFormat::Json, Err(e)) => {
            let loc = e.location.filter(|l| l.line > 0);
            println!(
                "{}",
                serde_json::json!({"valid": false, "error": {
                    "message": e.to_string(), "statement": e.statement,
                    "line": loc.map(|l| l.line), "column": loc.map(|l| l.column)}})
            );
        }
        (OutputFormat::Table, Ok(_)) => println!("{}: valid", job.file.display()),
        (OutputFormat::Table, Err(e)) => eprintln!("{}: {e}", job.file.display()),
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn server(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let mut config = stc_server::ServerConfig::load(args.config.as_deref())?;
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.database_url {
        config.database_url = Some(v);
    }
    if let Some(v) = args.node_id {
        config.node_id = Some(v);
    }
    if let Some(v) = args.lease_timeout_ms {
        config.lease_timeout_ms = v;
    }
    if let Some(v) = args.heartbeat_interval_ms {
        config.heartbeat_interval_ms = v;
    }
    if let Some(v) = args.checkpoint_dir {
        config.checkpoint_dir = Some(v);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("stc-server")
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let admin_password = std::env::var("STC_ADMIN_PASSWORD").ok();
        let server = stc_server::start(config, admin_password).await?;
        if let Some(p) = &server.generated_admin_password {
            // Shown once: only its hash is stored.
            println!("created the account 'admin' with password: {p}");
            println!(
                "(shown only now; set STC_ADMIN_PASSWORD before the first start to choose it)"
            );
        }
        println!(
            "StreamCompute server (node {}) listening on http://{}",
            server.node_id, server.addr
        );
        std::io::stdout().flush()?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install the SIGTERM handler")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("shutting down: stopping workers and releasing leases");
        server.shutdown().await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn run(job: JobArgs, restore: RestoreArgs, output: OutputFormat) -> anyhow::Result<ExitCode> {
    let sql = read_script(&job.file)?;
    let options = compile_options(&job)?;
    let mut compiled = compile_script(&sql, &options)?;
    let zone = compiled
        .config
        .get(stc_common::config::LOCAL_TIME_ZONE)
        .cloned()
        .unwrap_or_else(|| "UTC".into());
    let checkpointing = CheckpointConfig::from_config(&compiled.config)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let strategy = RestartStrategy::from_config(&compiled.config, checkpointing.is_some())
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    if restore.resume && restore.restore.is_none() && checkpointing.is_none() {
        anyhow::bail!(
            "--resume needs a checkpoint directory: SET '{}' in the script or pass --set {}=PATH",
            stc_common::config::CHECKPOINTING_DIR,
            stc_common::config::CHECKPOINTING_DIR
        );
    }
    let mut from = restore_point(
        restore.restore.as_ref(),
        checkpointing
            .as_ref()
            .filter(|_| restore.resume)
            .map(|c| &c.dir),
        &compiled.config,
    )?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("stc-worker")
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install the SIGTERM handler")?;
        let mut restarts = RestartTracker::new(strategy);
        let started = std::time::Instant::now();
        loop {
            let restoring = from.as_ref().map(|ck| {
                let bytes: u64 = ck.meta.files.iter().map(|f| f.bytes).sum();
                (ck.path.clone(), bytes)
            });
            let mut job = spawn_job_with(
                compiled.graph,
                JobOptions {
                    checkpoint: checkpointing.clone(),
                    restore: from.take(),
                },
            )?;
            let metrics = Arc::clone(&job.metrics);
            if let Some((path, bytes)) = restoring {
                // Subtasks read their state as they start; say so once the last one has.
                let metrics = Arc::clone(&metrics);
                tokio::spawn(async move {
                    let m = &metrics.checkpoints;
                    while m.restoring_subtasks.load(Ordering::Relaxed) > 0 {
                        if Arc::strong_count(&metrics) == 1 {
                            return; // the job ended first (it failed while restoring)
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    eprintln!(
                        "restored from {path} ({:.1} MB of state read, decoded and restored in {} ms)",
                        bytes as f64 / 1e6,
                        m.last_restore_ms.load(Ordering::Relaxed)
                    );
                });
            }
            let printer = compiled.select.take().map(|sel| {
                let zone = zone.clone();
                tokio::spawn(print_results(sel.schema, sel.rx, output, zone))
            });
            let status = std::io::stderr()
                .is_terminal()
                .then(|| tokio::spawn(status_line(Arc::clone(&metrics))));
            let outcome = tokio::select! {
                r = job.wait() => Some(r),
                _ = tokio::signal::ctrl_c() => None,
                _ = term.recv() => None,
            };
            if let Some(s) = status {
                s.abort();
                eprint!("\r\x1b[2K");
            }
            match outcome {
                None if checkpointing.is_some() => {
                    eprintln!("stopping: taking a savepoint");
                    return match job.savepoint(true).await {
                        Ok(path) => {
                            println!("Savepoint completed. Path: {path}");
                            eprintln!(
                                "{}",
                                job_summary("Job stopped", started, &metrics, restarts.restarts())
                            );
                            Ok(ExitCode::SUCCESS)
                        }
                        Err(e) => {
                            job.cancel();
                            Err(anyhow::Error::new(e).context("the job was stopped without a savepoint"))
                        }
                    };
                }
                None => {
                    eprintln!("interrupted: job cancelled");
                    return Ok(ExitCode::from(130));
                }
                Some(Err(e)) => {
                    let Some(delay) = restarts.on_failure(std::time::Instant::now()) else {
                        return Err(anyhow::Error::new(e));
                    };
                    eprintln!(
                        "job failed: {e}; restarting in {} ms (restart {})",
                        delay.as_millis(),
                        restarts.restarts()
                    );
                    tokio::time::sleep(delay).await;
                    // The latest checkpoint, or the savepoint the job started from if none
                    // was taken since.
                    from = restore_point(
                        restore.restore.as_ref(),
                        checkpointing.as_ref().map(|c| &c.dir),
                        &compiled.config,
                    )?;
                    compiled = compile_script(&sql, &options)?;
                    continue;
                }
                Some(Ok(())) => {
                    if let Some(p) = printer {
                        p.await.context("result printer failed")??;
                    }
                    eprintln!(
                        "{}",
                        job_summary("Job finished", started, &metrics, restarts.restarts())
                    );
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    })
}

/// `<head> in T s: N records read, …`: what `stc run` prints when a job ends or is stopped
/// with a savepoint (records, checkpoints and their sizes, time paused for snapshots, restarts).
fn job_summary(
    head: &str,
    started: std::time::Instant,
    metrics: &JobMetrics,
    restarts: usize,
) -> String {
    let s = metrics.summary();
    let secs = started.elapsed().as_secs_f64();
    let mut summary = format!(
        "{head} in {secs:.2} s: {} records read, {} written ({:.0} records/s)",
        s.records_read,
        s.records_written,
        s.records_read as f64 / secs.max(1e-9)
    );
    if s.late_records_dropped > 0 {
        summary.push_str(&format!(
            ", {} late records dropped",
            s.late_records_dropped
        ));
    }
    if s.parse_errors_skipped > 0 {
        summary.push_str(&format!(
            ", {} malformed records skipped",
            s.parse_errors_skipped
        ));
    }
    let ck = &metrics.checkpoints;
    let completed = ck.completed.load(Ordering::Relaxed);
    let failed = ck.failed.load(Ordering::Relaxed);
    if completed + failed > 0 {
        let mb = |b: &std::sync::atomic::AtomicU64| b.load(Ordering::Relaxed) as f64 / 1e6;
        summary.push_str(&format!(
            ", {completed} checkpoints ({failed} failed; last {:.1} MB of {:.1} MB in {} ms; {:.1} MB written in all; processing paused {} ms in all for snapshots)",
            mb(&ck.last_size_bytes),
            mb(&ck.last_full_size_bytes),
            ck.last_duration_ms.load(Ordering::Relaxed),
            mb(&ck.written_bytes_total),
            ck.sync_ms_total.load(Ordering::Relaxed)
        ));
    }
    if restarts > 0 {
        summary.push_str(&format!(", {restarts} restarts"));
    }
    summary
}

/// Where a job starts: the newer of `explicit` (a checkpoint or savepoint path) and the
/// latest usable checkpoint in `dir` (warning about damaged newer ones). Checkpoint ids
/// continue from the one a job was restored from, so the larger id is the later state.
pub(crate) fn restore_point(
    explicit: Option<&String>,
    dir: Option<&Location>,
    conf: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<Option<Checkpoint>> {
    let explicit = explicit
        .map(|p| -> anyhow::Result<Checkpoint> {
            let loc = Location::parse(p, conf).map_err(|e| anyhow::anyhow!("--restore: {e}"))?;
            Ok(Checkpoint::open(&loc)?)
        })
        .transpose()?;
    let latest = match dir {
        Some(dir) => {
            let (found, skipped) = Checkpoint::latest_in(dir)?;
            for s in skipped {
                eprintln!("warning: skipping a damaged checkpoint: {s}");
            }
            found
        }
        None => None,
    };
    let chosen = match (explicit, latest) {
        (Some(e), Some(l)) if l.meta.id > e.meta.id => Some(l),
        (Some(e), _) => Some(e),
        (None, l) => l,
    };
    if let (None, Some(dir)) = (&chosen, dir) {
        eprintln!("no complete checkpoint in '{dir}': starting from scratch");
    }
    Ok(chosen)
}

async fn status_line(metrics: Arc<JobMetrics>) {
    let start = std::time::Instant::now();
    let mut last = (0u64, start);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let s = metrics.summary();
        let now = std::time::Instant::now();
        let rate =
            (s.records_read - last.0) as f64 / now.duration_since(last.1).as_secs_f64().max(1e-9);
        last = (s.records_read, now);
        let wm = match s.sink_watermark {
            Some(w) => stc_runtime::time::format_millis(w),
            None => "-".into(),
        };
        eprint!(
            "\r\x1b[2K[{:>6.1}s] read {} | written {} | {:.0} rec/s | watermark {wm}",
            start.elapsed().as_secs_f64(),
            s.records_read,
            s.records_written,
            rate
        );
        let _ = std::io::stderr().flush();
    }
}

async fn print_results(
    schema: arrow::datatypes::SchemaRef,
    mut rx: tokio::sync::mpsc::Receiver<StreamBatch>,
    output: OutputFormat,
    zone: String,
) -> anyhow::Result<()> {
    let mut rows: Vec<(stc_common::RowKind, Vec<String>)> = Vec::new();
    while let Some(b) = rx.recv().await {
        for r in 0..b.num_rows() {
            let kind = b.kind(r);
            match output {
                OutputFormat::Json => {
                    let mut row = serde_json::Map::new();
                    for (i, f) in schema.fields().iter().enumerate() {
                        row.insert(
                            f.name().clone(),
                            stc_connectors::text::value_to_json(b.batch.column(i), r, &zone),
                        );
                    }
                    let line = serde_json::json!({"op": kind.short_string(), "row": row});
                    writeln!(std::io::stdout().lock(), "{line}")?;
                }
                OutputFormat::Table => {
                    let vals = (0..schema.fields().len())
                        .map(|i| {
                            stc_connectors::text::format_value_sql(b.batch.column(i), r, &zone)
                        })
                        .collect();
                    rows.push((kind, vals));
                }
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if output == OutputFormat::Table {
        write!(stdout, "{}", stc_connectors::text::tableau(&schema, &rows))?;
    }
    stdout.flush()?;
    Ok(())
}
