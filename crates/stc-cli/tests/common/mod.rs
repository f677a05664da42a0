//! Helpers shared by the integration tests: sink directories compared with Flink's output,
//! the machine's PostgreSQL and MariaDB through their command-line clients, unique names.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The `expected.out` rendering of `output/`: per sink directory, a header and its sorted lines.
pub fn render_output(dir: &Path) -> String {
    render(dir, true)
}

/// Like [`render_output`], but only committed (visible) part files: what a reader of the
/// sink directory sees.
pub fn render_committed_output(dir: &Path) -> String {
    render(dir, false)
}

fn render(dir: &Path, hidden: bool) -> String {
    let out = dir.join("output");
    let mut s = String::new();
    let Ok(entries) = std::fs::read_dir(&out) else {
        return s;
    };
    let mut sinks: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    sinks.sort();
    for sink in sinks {
        let mut lines: Vec<String> = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&sink)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| hidden || !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        files.sort();
        for f in files {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string();
            lines.extend(text.lines().map(str::to_string));
        }
        if lines.is_empty() {
            continue;
        }
        lines.sort();
        s.push_str(&format!(
            "== output/{}\n",
            sink.file_name().unwrap().to_string_lossy()
        ));
        for l in lines {
            s.push_str(&l);
            s.push('\n');
        }
    }
    s
}

/// The final state of every changelog in a rendered output: each debezium-json line
/// `{"before":…,"after":…,"op":…}` adds its `after` row or removes its `before` row; each
/// canal-json `{"data":[…],"type":"INSERT"|"DELETE"}` or maxwell-json
/// `{"data":{…},"type":"insert"|"delete"}` line adds or removes its `data` rows; the
/// remaining rows, sorted. Other lines are kept as they are.
pub fn materialize(rendered: &str) -> String {
    use std::collections::BTreeMap;
    let mut out = String::new();
    let mut rows: BTreeMap<String, i64> = BTreeMap::new();
    let flush = |rows: &mut BTreeMap<String, i64>, out: &mut String| {
        for (row, n) in std::mem::take(rows) {
            for _ in 0..n.max(0) {
                out.push_str(&row);
                out.push('\n');
            }
            if n < 0 {
                out.push_str(&format!("RETRACTED MORE THAN ADDED ({n}): {row}\n"));
            }
        }
    };
    for line in rendered.lines() {
        let change = (line.starts_with("{\"before\":") || line.starts_with("{\"data\":"))
            .then(|| serde_json::from_str::<serde_json::Value>(line).ok())
            .flatten()
            .filter(|v| v["op"].is_string() || v["type"].is_string());
        match change {
            Some(v) => {
                let changes: Vec<(String, i64)> = match (v["op"].as_str(), v["type"].as_str()) {
                    (Some("c" | "r" | "u"), _) => vec![(v["after"].to_string(), 1)],
                    (Some(_), _) => vec![(v["before"].to_string(), -1)],
                    (None, Some(t)) => {
                        let delta = if t.eq_ignore_ascii_case("insert") {
                            1
                        } else {
                            -1
                        };
                        match &v["data"] {
                            serde_json::Value::Array(a) => {
                                a.iter().map(|r| (r.to_string(), delta)).collect()
                            }
                            r => vec![(r.to_string(), delta)],
                        }
                    }
                    (None, None) => unreachable!("filtered above"),
                };
                for (row, delta) in changes {
                    *rows.entry(row).or_default() += delta;
                }
            }
            None => {
                flush(&mut rows, &mut out);
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    flush(&mut rows, &mut out);
    out
}

/// Runs `sql` on the machine's PostgreSQL (127.0.0.1:5432, database `test`, user `postgres`).
pub fn psql(sql: &str) {
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `sql` on the machine's MariaDB (127.0.0.1:3306, database `test`, user `root`).
pub fn mariadb(sql: &str) {
    let out = std::process::Command::new("mariadb")
        .args(["-h", "127.0.0.1", "-u", "root", "test", "-e", sql])
        .output()
        .expect("mariadb runs");
    assert!(
        out.status.success(),
        "mariadb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `<prefix>_<pid>_<nanos>`: a name no other test run uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Starts the S3-compatible server of the checkpoint tests (`tools/s3-server`: moto on
/// 127.0.0.1:9000 with the bucket `stc-test`) once per test binary.
pub fn s3_server() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/s3-server");
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .expect("tools/s3-server runs");
        assert!(
            out.status.success(),
            "tools/s3-server failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Write `script` to `dir/job.sql` and run `stc run job.sql ARGS…` in `dir`.
pub fn run_job(dir: &Path, script: &str, args: &[&str]) -> std::process::Output {
    std::fs::write(dir.join("job.sql"), script).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// [`run_job`], failing the test with stc's stderr unless the job succeeds.
pub fn run_job_ok(dir: &Path, script: &str, args: &[&str]) -> std::process::Output {
    let out = run_job(dir, script, args);
    assert!(
        out.status.success(),
        "stc run {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Write each `(path, text)` under `dir`, creating directories.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// What a sink directory holds directly: the sorted lines of its visible files, the sorted
/// names of its hidden files (`.in-progress`, `_SUCCESS`, …) and of its subdirectories.
pub struct DirContents {
    pub lines: Vec<String>,
    pub hidden: Vec<String>,
    pub dirs: Vec<String>,
}

pub fn dir_contents(dir: &Path) -> DirContents {
    let mut c = DirContents {
        lines: vec![],
        hidden: vec![],
        dirs: vec![],
    };
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        if e.file_type().unwrap().is_dir() {
            c.dirs.push(name);
        } else if name.starts_with('.') || name.starts_with('_') {
            c.hidden.push(name);
        } else {
            let text = std::fs::read_to_string(e.path()).unwrap();
            c.lines.extend(text.lines().map(str::to_string));
        }
    }
    c.lines.sort();
    c.hidden.sort();
    c.dirs.sort();
    c
}
