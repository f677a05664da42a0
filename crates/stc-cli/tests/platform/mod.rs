//! Helpers shared by the platform tests: an in-process server (SQLite, real worker
//! processes of this crate's `stc` binary) and a small JSON HTTP client.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use stc_server::{RunningServer, ServerConfig};

pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// Five rows, then the job finishes.
pub const BOUNDED_SQL: &str = "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', \
     'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'print', 'print-identifier' = 'out');
INSERT INTO out SELECT id FROM src;
";

/// Runs until stopped: five rows a second.
pub const ENDLESS_SQL: &str = "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', \
     'rows-per-second' = '5', 'fields.id.kind' = 'random');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT id FROM src;
";

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub base: String,
    pub admin: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

pub fn test_config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.join("data"),
        node_id: Some("test-node".into()),
        lease_timeout_ms: 2000,
        heartbeat_interval_ms: 200,
        worker_exe: Some(env!("CARGO_BIN_EXE_stc").into()),
        ..Default::default()
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        Self::start_with(test_config(dir.path()), dir).await
    }

    pub async fn start_with(config: ServerConfig, dir: tempfile::TempDir) -> TestServer {
        let server = stc_server::start(config, Some(ADMIN_PASSWORD.into()))
            .await
            .expect("server starts");
        let base = format!("http://{}/api/v1", server.addr);
        let http = reqwest::Client::new();
        let mut t = TestServer {
            server: Some(server),
            base,
            admin: String::new(),
            http,
            dir,
        };
        t.admin = t.login("admin", ADMIN_PASSWORD).await;
        t
    }

    pub async fn login(&self, user: &str, password: &str) -> String {
        let (s, v) = self
            .call(
                "POST",
                "/auth/login",
                None,
                Some(json!({"username": user, "password": password})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "login of {user}: {v}");
        v["token"].as_str().unwrap().to_string()
    }

    /// Sends a request; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, v)
    }

    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, Some(&self.admin), body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }

    /// Creates a user with `role` in `project`; returns their token.
    pub async fn member(&self, project: &str, name: &str, role: &str) -> String {
        self.ok(
            "POST",
            "/users",
            Some(json!({"username": name, "password": "password-of-user"})),
        )
        .await;
        if role != "none" {
            self.ok(
                "PUT",
                &format!("/projects/{project}/members/{name}"),
                Some(json!({"role": role})),
            )
            .await;
        }
        self.login(name, "password-of-user").await
    }

    pub async fn create_job(&self, project: &str, name: &str, sql: &str) -> Value {
        self.ok(
            "POST",
            &format!("/projects/{project}/jobs"),
            Some(json!({"name": name, "sql": sql, "settings": {"parallelism": 1}})),
        )
        .await
    }

    /// Polls the instance until `pred` holds (panics after `timeout`).
    pub async fn wait_instance(
        &self,
        project: &str,
        job: &str,
        id: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let v = self
                .ok(
                    "GET",
                    &format!("/projects/{project}/jobs/{job}/instances/{id}"),
                    None,
                )
                .await;
            if pred(&v) {
                return v;
            }
            assert!(
                start.elapsed() < timeout,
                "instance did not reach the expected state in {timeout:?}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn logs(&self, project: &str, job: &str, id: &str) -> Vec<String> {
        let v = self
            .ok(
                "GET",
                &format!("/projects/{project}/jobs/{job}/instances/{id}/logs"),
                None,
            )
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| l["line"].as_str().unwrap().to_string())
            .collect()
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }
}

pub fn state_of(v: &Value) -> &str {
    v["state"].as_str().unwrap_or("")
}
