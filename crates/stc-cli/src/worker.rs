//! `stc worker`: runs one job instance for the node that started it (see
//! `stc_server::worker_protocol`). It compiles the script and runs it exactly as `stc run`
//! does; the job's output goes to stdout, status events and logs to stderr.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stc_common::Classified;
use stc_runtime::executor::spawn_job;
use stc_runtime::metrics::JobMetrics;
use stc_server::worker_protocol::WorkerEvent;
use stc_sql::compile_script;

use crate::{JobArgs, OutputFormat, compile_options, print_results};

#[derive(clap::Args)]
pub struct WorkerArgs {
    /// The instance this worker runs (for its logs).
    #[arg(long)]
    instance: String,
    #[command(flatten)]
    job: JobArgs,
}

/// Exit code when the node went away (stdin closed).
const EXIT_NODE_GONE: u8 = 3;

fn emit(e: WorkerEvent) {
    eprintln!("{}", e.to_line());
}

fn counters(m: &JobMetrics) -> serde_json::Value {
    let s = m.summary();
    serde_json::json!({
        "records_read": s.records_read,
        "records_written": s.records_written,
        "late_records_dropped": s.late_records_dropped,
        "parse_errors_skipped": s.parse_errors_skipped,
    })
}

pub fn run(args: WorkerArgs) -> ExitCode {
    // The node holds our stdin open for as long as it wants us to run; end-of-file means it
    // stopped us or died, and a job must never outlive the lease of its node.
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(EXIT_NODE_GONE.into());
    });
    tracing::info!(instance = %args.instance, "worker starting");
    let sql = match std::fs::read_to_string(&args.job.file) {
        Ok(s) => s,
        Err(e) => {
            emit(WorkerEvent::failed(
                stc_common::ErrorClass::INTERNAL,
                format!("cannot read the script '{}': {e}", args.job.file.display()),
            ));
            return ExitCode::FAILURE;
        }
    };
    let compiled = match compile_options(&args.job)
        .map_err(|e| (stc_common::ErrorClass::USER, format!("{e:#}")))
        .and_then(|o| compile_script(&sql, &o).map_err(|e| (e.class(), e.to_string())))
    {
        Ok(c) => c,
        Err((class, message)) => {
            emit(WorkerEvent::failed(class, message));
            return ExitCode::FAILURE;
        }
    };
    let zone = compiled
        .config
        .get(stc_common::config::LOCAL_TIME_ZONE)
        .cloned()
        .unwrap_or_else(|| "UTC".into());
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
            emit(WorkerEvent::failed(
                stc_common::ErrorClass::EXTERNAL_RETRYABLE,
                format!("cannot start the runtime: {e}"),
            ));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut job = match spawn_job(compiled.graph) {
            Ok(j) => j,
            Err(e) => {
                emit(WorkerEvent::failed(e.class(), e.to_string()));
                return ExitCode::FAILURE;
            }
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
        let result = job.wait().await;
        reporter.abort();
        emit(WorkerEvent::Counters {
            counters: counters(&metrics),
        });
        match result {
            Ok(()) => {
                if let Some(p) = printer {
                    match p.await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            emit(WorkerEvent::failed(
                                stc_common::ErrorClass::EXTERNAL_FATAL,
                                format!("cannot write the result: {e:#}"),
                            ));
                            return ExitCode::FAILURE;
                        }
                        Err(e) => {
                            emit(WorkerEvent::failed(
                                stc_common::ErrorClass::INTERNAL,
                                format!("the result printer failed: {e}"),
                            ));
                            return ExitCode::FAILURE;
                        }
                    }
                }
                emit(WorkerEvent::Finished);
                ExitCode::SUCCESS
            }
            Err(e) => {
                emit(WorkerEvent::failed(e.class(), e.to_string()));
                ExitCode::FAILURE
            }
        }
    })
}
