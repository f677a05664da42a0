//! The CLI client (`stc login`, `stc project`, `stc job`, `stc sql validate`) against an
//! in-process server, as a user would run it.

mod platform;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use platform::{ADMIN_PASSWORD, BOUNDED_SQL, TestServer};
use serde_json::Value;

struct Cli {
    config: std::path::PathBuf,
    server: String,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_stc"))
            .args(args)
            .env("STC_CONFIG", &self.config)
            .env_remove("STC_SERVER")
            .env_remove("STC_TOKEN")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stc {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--output", "json"]);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_drives_a_job_from_login_to_logs() {
    let t = TestServer::start().await;
    let server = format!("http://{}", t.server.as_ref().unwrap().addr);
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        config: dir.path().join("cli.toml"),
        server: server.clone(),
    };
    let ddl_file = dir.path().join("gen.sql");
    std::fs::write(
        &ddl_file,
        "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3')",
    )
    .unwrap();
    let job_file = dir.path().join("job.sql");
    std::fs::write(&job_file, BOUNDED_SQL).unwrap();
    let bad_file = dir.path().join("bad.sql");
    std::fs::write(
        &bad_file,
        "CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\nSELEC a FROM t;",
    )
    .unwrap();
    let job = job_file.to_str().unwrap().to_string();
    let bad = bad_file.to_str().unwrap().to_string();

    tokio::task::spawn_blocking(move || {
        // Without a token: a clear message pointing at `stc login`.
        let out = cli.run(&["project", "list", "--server", &cli.server]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("stc login"),
            "{out:?}"
        );
        // A wrong password.
        let out = cli.run(&["login", "--server", &cli.server, "--password", "wrong"]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("wrong user name or password"),
            "{out:?}"
        );
        cli.ok(&[
            "login",
            "--server",
            &cli.server,
            "--password",
            ADMIN_PASSWORD,
        ]);
        assert!(
            std::fs::read_to_string(&cli.config)
                .unwrap()
                .contains("token")
        );
        // From here on the server and token come from the config file.
        cli.ok(&["project", "create", "demo", "--description", "CLI test"]);
        let projects = cli.json(&["project", "list"]);
        let names: Vec<&str> = projects
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["demo", "examples"]);
        let table = cli.ok(&["project", "list"]);
        assert!(table.starts_with("NAME"), "{table}");
        // SQL errors name line and column, locally and at submit.
        let out = cli.run(&["sql", "validate", &bad]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("line 2, column 1"),
            "{out:?}"
        );
        let v = cli.run(&["sql", "validate", &bad, "--output", "json"]);
        let v: Value = serde_json::from_slice(&v.stdout).unwrap();
        assert_eq!(
            (v["valid"].as_bool(), v["error"]["line"].as_u64()),
            (Some(false), Some(2))
        );
        assert!(cli.ok(&["sql", "validate", &job]).contains("valid"));
        let out = cli.run(&[
            "job",
            "create",
            "--project",
            "demo",
            "--name",
            "bad",
            "--file",
            &bad,
        ]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("line 2, column 1"),
            "{out:?}"
        );
        cli.ok(&[
            "job",
            "create",
            "--project",
            "demo",
            "--name",
            "numbers",
            "--file",
            &job,
        ]);
        let list = cli.json(&["job", "list", "--project", "demo"]);
        assert_eq!(list[0]["state"], "never started");
        let started = cli.json(&["job", "start", "--project", "demo", "numbers"]);
        assert_eq!(started["state"], "starting");
        let start = Instant::now();
        loop {
            let shown = cli.json(&["job", "show", "--project", "demo", "numbers"]);
            let state = shown["instances"][0]["state"].as_str().unwrap().to_string();
            if state == "finished" {
                assert_eq!(shown["transitions"].as_array().unwrap().len(), 3);
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "{shown}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let logs = cli.ok(&["job", "logs", "--project", "demo", "numbers"]);
        // The print sink prefixes each line with its subtask at parallelism > 1 (`out:2>`).
        for i in 1..=5 {
            assert!(logs.contains(&format!("> +I[{i}]")), "{logs}");
        }
        let human = cli.ok(&["job", "show", "--project", "demo", "numbers"]);
        assert!(
            human.contains("finished") && human.contains("node:test-node"),
            "{human}"
        );
        // Illegal actions are explained.
        let out = cli.run(&["job", "pause", "--project", "demo", "numbers"]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no active instance"),
            "{out:?}"
        );
        cli.ok(&["job", "delete", "--project", "demo", "numbers"]);
        // The project catalog.
        let saved = cli.ok(&[
            "catalog",
            "put",
            "-P",
            "demo",
            "gen",
            "--file",
            ddl_file.to_str().unwrap(),
        ]);
        assert!(saved.contains("table gen saved"), "{saved}");
        let listed = cli.json(&["catalog", "list", "-P", "demo"]);
        assert_eq!(listed[0]["name"], "gen", "{listed}");
        let shown = cli.ok(&["catalog", "show", "-P", "demo", "gen"]);
        assert!(shown.starts_with("CREATE TABLE gen"), "{shown}");
        cli.ok(&["catalog", "delete", "-P", "demo", "gen"]);
        let out = cli.run(&["catalog", "show", "-P", "demo", "gen"]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("catalog object 'gen' does not exist"),
            "{out:?}"
        );
        let list = cli.json(&["job", "list", "--project", "demo"]);
        assert_eq!(list, serde_json::json!([]));
    })
    .await
    .unwrap();
    t.shutdown().await;
}
