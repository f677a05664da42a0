//! `stc table preview`: the first records of a table, decoded with its schema, within a time
//! limit, without changing the source (see `stc_connectors::preview`). The server runs it as a
//! child process for `POST …/catalog/{name}/preview`, reading its `--output json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use stc_common::Classified;
use stc_runtime::executor::{JobOptions, spawn_job_with};
use stc_sql::compile_preview;

use crate::{OutputFormat, compile_options_from, read_script};

#[derive(clap::Args)]
pub struct PreviewArgs {
    /// The table or view to preview.
    table: String,
    /// A script that declares it (its SETs and CREATE statements are used; its INSERTs and
    /// SELECT are not run).
    #[arg(long, short = 'f', value_name = "FILE.sql")]
    file: Option<PathBuf>,
    /// A project catalog snapshot declaring it (JSON: `[{"name", "ddl"}]`, as the server
    /// writes it).
    #[arg(long, value_name = "FILE.json")]
    catalog: Option<PathBuf>,
    /// At most this many records.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// The latest records instead of the first: a `kafka` table is read from `--limit`
    /// records before the end of each partition up to the end. Other sources have no end to
    /// seek to and show their first records (the output says so).
    #[arg(long)]
    latest: bool,
    /// Stop after this long (connecting included), e.g. `10s`, `500 ms`.
    #[arg(long, default_value = "10s")]
    timeout: String,
    /// Configuration, as `SET 'key' = 'value'` after the script's own.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    #[arg(long, value_enum, default_value = "table")]
    output: OutputFormat,
}

/// Exit code of a preview that could not start because of the user's SQL or options.
pub const EXIT_USER_ERROR: u8 = 2;

pub fn run(args: PreviewArgs) -> anyhow::Result<ExitCode> {
    // Before anything is compiled: connectors read the mode when their tables are declared.
    stc_connectors::preview::enable();
    if args.latest {
        stc_connectors::preview::read_latest(args.limit);
    }
    let timeout = stc_common::config::parse_duration_ms(&args.timeout)
        .map(Duration::from_millis)
        .with_context(|| format!("--timeout '{}' is not a duration (e.g. 10s)", args.timeout))?;
    let sql = match &args.file {
        Some(f) => read_script(f)?,
        None => String::new(),
    };
    let mut options = compile_options_from(Some(1), &args.set)?;
    options.catalog = crate::worker::read_catalog(args.catalog.as_ref())?;
    let compiled = match compile_preview(&sql, &args.table, &options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_USER_ERROR));
        }
    };
    let zone = compiled
        .config
        .get(stc_common::config::LOCAL_TIME_ZONE)
        .cloned()
        .unwrap_or_else(|| "UTC".into());
    let select = compiled.select.expect("a preview has a select output");
    let schema = select.schema.clone();
    let mut rx = select.rx;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("stc-preview")
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let started = Instant::now();
    let (rows, ended, failure) = runtime.block_on(async move {
        // No checkpoints: nothing is committed or acknowledged.
        let mut job = spawn_job_with(
            compiled.graph,
            JobOptions {
                checkpoint: None,
                restore: None,
            },
        )?;
        let mut rows = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        let ended = loop {
            if rows.len() >= args.limit {
                break "limit";
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => break "timeout",
                Ok(None) => break "end of input",
                Ok(Some(b)) => {
                    for r in 0..b.num_rows() {
                        if rows.len() < args.limit {
                            rows.push((b.kind(r), b.batch.slice(r, 1)));
                        }
                    }
                }
            }
        };
        let failure = if ended == "end of input" {
            job.wait().await.err()
        } else {
            job.cancel();
            None
        };
        anyhow::Ok((rows, ended, failure))
    })?;
    let malformed = stc_connectors::preview::take_malformed();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let from_end = args.latest && stc_connectors::preview::latest_honoured();
    let note = (args.latest && !from_end).then_some(
        "the table's source cannot read from its end (only kafka can): these are its first records",
    );
    match args.output {
        OutputFormat::Json => {
            let out = serde_json::json!({
                "table": args.table,
                "columns": schema.fields().iter().map(|f| serde_json::json!({
                    "name": f.name(), "type": f.data_type().to_string()
                })).collect::<Vec<_>>(),
                "rows": rows.iter().map(|(kind, b)| {
                    let row: serde_json::Map<String, serde_json::Value> = schema
                        .fields()
                        .iter()
                        .enumerate()
                        .map(|(i, f)| (f.name().clone(), stc_connectors::text::value_to_json(b.column(i), 0, &zone)))
                        .collect();
                    serde_json::json!({"op": kind.short_string(), "row": row})
                }).collect::<Vec<_>>(),
                "malformed": malformed.iter().map(|m| serde_json::json!({
                    "position": m.position,
                    "reason": m.reason,
                    "raw_text": std::str::from_utf8(&m.raw).ok(),
                    "raw_hex": hex(&m.raw),
                })).collect::<Vec<_>>(),
                "ended": ended,
                "from": if from_end { "latest" } else { "start" },
                "note": note,
                "error": failure.as_ref().map(|e| e.to_string()),
                "elapsed_ms": elapsed_ms,
            });
            println!("{out}");
        }
        OutputFormat::Table => {
            let table: Vec<_> = rows
                .iter()
                .map(|(kind, b)| {
                    let vals = (0..schema.fields().len())
                        .map(|i| stc_connectors::text::format_value_sql(b.column(i), 0, &zone))
                        .collect();
                    (*kind, vals)
                })
                .collect();
            print!("{}", stc_connectors::text::tableau(&schema, &table));
            if !malformed.is_empty() {
                println!("{} records could not be decoded:", malformed.len());
                for m in &malformed {
                    let raw = match std::str::from_utf8(&m.raw) {
                        Ok(t) => format!("'{t}'"),
                        Err(_) => format!("hex {}", hex(&m.raw)),
                    };
                    println!("  {}: {}\n    raw: {raw}", m.position, m.reason);
                }
            }
            eprintln!(
                "{} records in {elapsed_ms} ms (stopped at: {ended})",
                rows.len()
            );
            if let Some(n) = note {
                eprintln!("note: {n}");
            }
        }
    }
    if let Some(e) = failure {
        eprintln!("the preview failed: {e}");
        return Ok(ExitCode::from(
            if e.class().domain == stc_common::ErrorDomain::User {
                EXIT_USER_ERROR
            } else {
                1
            },
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
