//! High availability on the real PostgreSQL (127.0.0.1:5432, database `test`, a fresh
//! schema per run): two `stc server` processes share the store; a job is started, the node
//! holding it is killed with SIGKILL, and the other node takes the job over within the
//! lease timeout, restores it from its latest checkpoint (the nodes share a checkpoint
//! directory) and runs it to completion: the committed output holds every row exactly once.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::psql;
use serde_json::{Value, json};

const LEASE_MS: u64 = 1500;
const HEARTBEAT_MS: u64 = 250;

/// 40 rows at 10 a second (the job runs about four seconds) into files that the sink
/// publishes when the checkpoint covering them completes.
fn slow_bounded_sql(out: &std::path::Path) -> String {
    format!(
        "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', \
     'rows-per-second' = '10', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', \
     'fields.id.end' = '40');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
INSERT INTO out SELECT id FROM src;
",
        out.display()
    )
}

struct Node {
    name: String,
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(name: &str, url: &str, dir: &std::path::Path) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            url,
            "--node-id",
            name,
            "--lease-timeout-ms",
            &LEASE_MS.to_string(),
            "--heartbeat-interval-ms",
            &HEARTBEAT_MS.to_string(),
            "--data-dir",
        ])
        .arg(dir.join(name))
        // Shared by both nodes, as a shared file system would be.
        .arg("--checkpoint-dir")
        .arg(dir.join("checkpoints"))
        .env("STC_ADMIN_PASSWORD", "ha-admin-password")
        .env("STC_CREATE_EXAMPLE", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("stc server starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(addr) = line.split("listening on ").nth(1) {
            break format!("{}/api/v1", addr.trim());
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Node {
        name: name.into(),
        child,
        base,
    }
}

fn call(
    http: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Value {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().unwrap();
    let status = resp.status();
    let v: Value = resp.json().unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

#[test]
fn a_job_survives_the_sigkill_of_its_node() {
    // A role per run with a schema of its own name: PostgreSQL's default search path
    // ("$user", public) puts every table of this run in that schema.
    let schema = format!("stc_ha_{}", uuid_like());
    psql(&format!("CREATE ROLE {schema} LOGIN"));
    psql(&format!("CREATE SCHEMA {schema} AUTHORIZATION {schema}"));
    let url = format!("postgres://{schema}@127.0.0.1:5432/test");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let a = start_node("node-a", &url, dir.path());
    let b = start_node("node-b", &url, dir.path());
    let mut nodes = vec![a, b];
    let http = reqwest::blocking::Client::new();
    let base = nodes[0].base.clone();
    let login = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/auth/login"),
        None,
        Some(json!({"username": "admin", "password": "ha-admin-password"})),
    );
    let token = login["token"].as_str().unwrap().to_string();
    let t = Some(token.as_str());
    call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/projects"),
        t,
        Some(json!({"name": "ha"})),
    );
    call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/projects/ha/jobs"),
        t,
        Some(json!({"name": "j", "sql": slow_bounded_sql(&out),
                    "settings": {"parallelism": 1, "checkpoint_interval_ms": 200}})),
    );
    let started = call(
        &http,
        reqwest::Method::POST,
        &format!("{base}/projects/ha/jobs/j/start"),
        t,
        None,
    );
    let id = started["id"].as_str().unwrap().to_string();
    let instance_url = |base: &str| format!("{base}/projects/ha/jobs/j/instances/{id}");

    // Wait until a node runs it and its output has begun.
    let wait = |base: &str, what: &str, pred: &dyn Fn(&Value) -> bool| -> (Value, Duration) {
        let start = Instant::now();
        loop {
            let v = call(&http, reqwest::Method::GET, &instance_url(base), t, None);
            if pred(&v) {
                return (v, start.elapsed());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}: {v}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    };
    let (running, _) = wait(&base, "running", &|v| v["state"] == "running");
    let holder = running["node"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(800));
    let victim = nodes.iter().position(|n| n.name == holder).unwrap();
    let mut killed = nodes.remove(victim);
    let survivor = &nodes[0];
    killed.child.kill().unwrap(); // SIGKILL: no lease release, no goodbye.
    killed.child.wait().unwrap();
    let (taken, took) = wait(&survivor.base, "take-over", &|v| {
        v["state"] == "running" && v["node"] == survivor.name.as_str()
    });
    eprintln!(
        "take-over by {} {took:?} after SIGKILL of {holder} (lease {LEASE_MS} ms)",
        survivor.name
    );
    assert!(
        took < Duration::from_millis(LEASE_MS + 2 * HEARTBEAT_MS + 2000),
        "take-over took {took:?}"
    );
    assert!(
        taken["lease_epoch"].as_i64().unwrap() >= 2,
        "a new epoch fences the old holder: {taken}"
    );
    // The orphaned worker of the dead node exited (its stdin closed with the node).
    let (done, _) = wait(&survivor.base, "finish", &|v| v["state"] == "finished");
    let written = done["counters"]["records_written"].as_u64().unwrap();
    assert!(
        written < 40,
        "the survivor continued from a checkpoint rather than from the start: {done}"
    );
    let logs = call(
        &http,
        reqwest::Method::GET,
        &format!("{}/logs?limit=10000", instance_url(&survivor.base)),
        t,
        None,
    );
    let restored = logs
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["node"] == survivor.name.as_str())
        .filter_map(|l| l["line"].as_str())
        .find(|l| l.starts_with("restoring from "));
    assert!(
        restored.is_some_and(|l| l.contains("chk-")),
        "the survivor restored from a checkpoint: {logs}"
    );
    // Every row exactly once: the dead node's uncommitted files stay hidden, and the
    // survivor replays from the checkpoint that published the rest.
    let mut rows: Vec<i64> = Vec::new();
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        rows.extend(text.lines().map(|l| l.trim().parse::<i64>().unwrap()));
    }
    rows.sort();
    assert_eq!(rows, (1..=40).collect::<Vec<_>>());
    let history = call(
        &http,
        reqwest::Method::GET,
        &format!("{}/transitions", instance_url(&survivor.base)),
        t,
        None,
    );
    let takeover = history
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "restart")
        .unwrap_or_else(|| panic!("a take-over transition: {history}"));
    assert_eq!(takeover["actor"], format!("node:{}", survivor.name));
    assert!(
        takeover["detail"]
            .as_str()
            .unwrap()
            .contains("lease expired"),
        "{takeover}"
    );
    drop(nodes);
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
    psql(&format!("DROP ROLE {schema}"));
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{nanos}", std::process::id())
}
