//! The CLI client of a StreamCompute server (`stc login`, `stc project …`, `stc job …`),
//! in the manner of `kubectl`: human tables by default, `--output json` for scripts.
//!
//! Server URL and token come from `--server`/`--token`, else `STC_SERVER`/`STC_TOKEN`, else
//! the config file that `stc login` writes (`$STC_CONFIG`, default
//! `~/.config/stc/cli.toml`), else `http://127.0.0.1:8080`.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stc_server::error::ErrorBody;
use stc_server::model::{CatalogObject, Instance, Job, LogLine, Project};

const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum ClientOutput {
    #[default]
    Table,
    Json,
}

#[derive(clap::Args, Clone)]
pub struct Connection {
    /// Server URL (default: $STC_SERVER, the config file, or http://127.0.0.1:8080).
    #[arg(long, env = "STC_SERVER", global = true)]
    server: Option<String>,
    /// Login token or API access key (default: $STC_TOKEN or the config file).
    #[arg(long, env = "STC_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Human table or JSON.
    #[arg(long, value_enum, default_value = "table", global = true)]
    output: ClientOutput,
}

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Create a project; you become its owner.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the projects you are a member of.
    List,
}

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// List the project's tables and views.
    List {
        #[arg(long, short = 'P')]
        project: String,
    },
    /// Print an object's DDL.
    Show {
        #[arg(long, short = 'P')]
        project: String,
        name: String,
    },
    /// Create or replace an object from a file holding its one CREATE TABLE/VIEW statement.
    Put {
        #[arg(long, short = 'P')]
        project: String,
        name: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Delete an object (refused while another object uses it).
    Delete {
        #[arg(long, short = 'P')]
        project: String,
        name: String,
    },
}

#[derive(clap::Args)]
pub struct JobRef {
    /// The project.
    #[arg(long, short = 'P')]
    project: String,
    /// The job name.
    name: String,
}

#[derive(Subcommand)]
pub enum JobCommand {
    /// Create a job from a SQL file (compiled first: errors name line and column).
    Create {
        #[arg(long, short = 'P')]
        project: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        parallelism: Option<u32>,
    },
    /// List a project's jobs with the state of their active instance.
    List {
        #[arg(long, short = 'P')]
        project: String,
    },
    /// A job, its instances and the transitions of the latest.
    Show(JobRef),
    /// Snapshot the job as a new version and start an instance of it.
    Start {
        #[command(flatten)]
        job: JobRef,
        /// Start from this checkpoint or savepoint (a directory the server's nodes can read).
        #[arg(long, value_name = "PATH")]
        from: Option<String>,
    },
    /// Pause the running instance: it stops with a savepoint, whose path is printed.
    Pause(JobRef),
    /// Resume the paused instance from its savepoint (or a newer checkpoint).
    Resume(JobRef),
    /// Stop (terminate) the active instance.
    Stop {
        #[command(flatten)]
        job: JobRef,
        /// Take a savepoint first, and print its path.
        #[arg(long)]
        savepoint: bool,
    },
    /// Delete a job without an active instance.
    Delete(JobRef),
    /// Print the log lines (job output and worker logs) of the latest instance.
    Logs {
        #[command(flatten)]
        job: JobRef,
        /// Keep printing new lines until the instance ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
}

#[derive(Serialize, Deserialize, Default)]
struct CliConfig {
    server: Option<String>,
    token: Option<String>,
}

fn config_path() -> PathBuf {
    if let Ok(p) = std::env::var("STC_CONFIG") {
        return p.into();
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    PathBuf::from(home).join(".config/stc/cli.toml")
}

fn read_config() -> CliConfig {
    std::fs::read_to_string(config_path())
        .ok()
        .and_then(|t| toml::from_str(&t).ok())
        .unwrap_or_default()
}

struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
    output: ClientOutput,
}

impl Client {
    fn new(c: &Connection) -> anyhow::Result<Client> {
        let file = read_config();
        let base = c
            .server
            .clone()
            .or(file.server)
            .unwrap_or_else(|| DEFAULT_SERVER.into());
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: c.token.clone().or(file.token),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            output: c.output,
        })
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .with_context(|| format!("cannot reach the server at {}", self.base))?;
        let status = resp.status();
        let text = resp.text()?;
        if status.is_success() {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).context("the server's answer is not JSON");
        }
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(e) if status == reqwest::StatusCode::UNAUTHORIZED => {
                bail!("{} (run `stc login`)", e.message)
            }
            Ok(e) => bail!("{}", e.message),
            Err(_) => bail!("HTTP {status}: {text}"),
        }
    }

    fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None)
    }

    fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body))
    }

    fn print_json(&self, v: &Value) -> bool {
        if self.output == ClientOutput::Json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
            true
        } else {
            false
        }
    }
}

/// Left-aligned columns, like `kubectl get`.
fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

fn enc(s: &str) -> String {
    // Names are restricted to [A-Za-z0-9_.-] by the server; anything else is rejected there.
    s.to_string()
}

pub fn login(conn: Connection, user: String, password: Option<String>) -> anyhow::Result<ExitCode> {
    let password = match password.or_else(|| std::env::var("STC_PASSWORD").ok()) {
        Some(p) => p,
        None => {
            eprint!("password for {user}: ");
            std::io::stderr().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    let client = Client::new(&Connection {
        token: None,
        ..conn
    })?;
    let v = client.post(
        "/auth/login",
        json!({"username": user, "password": password}),
    )?;
    let token = v["token"]
        .as_str()
        .context("no token in the answer")?
        .to_string();
    let path = config_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let cfg = CliConfig {
        server: Some(client.base.clone()),
        token: Some(token),
    };
    std::fs::write(&path, toml::to_string(&cfg)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if !client.print_json(&json!({"user": v["user"], "config": path})) {
        println!(
            "logged in to {} as {user}; token saved in {}",
            client.base,
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn project(conn: Connection, cmd: ProjectCommand) -> anyhow::Result<ExitCode> {
    let c = Client::new(&conn)?;
    match cmd {
        ProjectCommand::Create { name, description } => {
            let v = c.post(
                "/projects",
                json!({"name": name, "description": description}),
            )?;
            if !c.print_json(&v) {
                println!("project {name} created");
            }
        }
        ProjectCommand::List => {
            let v = c.get("/projects")?;
            if !c.print_json(&v) {
                let ps: Vec<Project> = serde_json::from_value(v)?;
                print_table(
                    &["NAME", "CREATED BY", "DESCRIPTION"],
                    ps.into_iter()
                        .map(|p| vec![p.name, p.created_by, p.description])
                        .collect(),
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn catalog(conn: Connection, cmd: CatalogCommand) -> anyhow::Result<ExitCode> {
    let c = Client::new(&conn)?;
    let path = |p: &str, name: &str| format!("/projects/{}/catalog/{}", enc(p), enc(name));
    match cmd {
        CatalogCommand::List { project } => {
            let v = c.get(&format!("/projects/{}/catalog", enc(&project)))?;
            if !c.print_json(&v) {
                let objects: Vec<CatalogObject> = serde_json::from_value(v)?;
                print_table(
                    &["NAME", "KIND", "CREATED BY"],
                    objects
                        .into_iter()
                        .map(|o| vec![o.name, o.kind, o.created_by])
                        .collect(),
                );
            }
        }
        CatalogCommand::Show { project, name } => {
            let v = c.get(&path(&project, &name))?;
            if !c.print_json(&v) {
                let o: CatalogObject = serde_json::from_value(v)?;
                println!("{};", o.ddl.trim_end().trim_end_matches(';'));
            }
        }
        CatalogCommand::Put {
            project,
            name,
            file,
        } => {
            let ddl = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read '{}'", file.display()))?;
            let v = c.call(
                reqwest::Method::PUT,
                &path(&project, &name),
                Some(json!({ "ddl": ddl })),
            )?;
            if !c.print_json(&v) {
                println!(
                    "{} {name} saved in the catalog of project {project}",
                    v["kind"].as_str().unwrap_or("object")
                );
            }
        }
        CatalogCommand::Delete { project, name } => {
            c.call(reqwest::Method::DELETE, &path(&project, &name), None)?;
            if !c.print_json(&json!({"deleted": name})) {
                println!("{name} deleted from the catalog of project {project}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn latest_instance(c: &Client, project: &str, job: &str) -> anyhow::Result<Option<Instance>> {
    let v = c.get(&format!(
        "/projects/{}/jobs/{}/instances",
        enc(project),
        enc(job)
    ))?;
    let list: Vec<Instance> = serde_json::from_value(v)?;
    Ok(list.into_iter().last())
}

fn print_instance(c: &Client, v: Value, verb: &str) -> anyhow::Result<()> {
    if !c.print_json(&v) {
        let i: Instance = serde_json::from_value(v)?;
        println!(
            "{verb}: instance {} (version {}) is {}",
            i.id, i.version, i.state
        );
        if let Some(p) = i.savepoint_path.filter(|_| verb != "started") {
            println!("Savepoint: {p}");
        }
    }
    Ok(())
}

/// After a pause or a stop with savepoint: polls the instance until its node has recorded
/// the savepoint (or given up), and returns it.
fn wait_for_savepoint(c: &Client, job_path: &str, v: Value) -> anyhow::Result<Value> {
    let i: Instance = serde_json::from_value(v.clone())?;
    if !i.savepoint_in_progress {
        return Ok(v);
    }
    let url = format!("{job_path}/instances/{}", i.id);
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let v = c.get(&url)?;
        let now: Instance = serde_json::from_value(v.clone())?;
        if !now.savepoint_in_progress {
            if now.savepoint_path == i.savepoint_path {
                eprintln!(
                    "warning: no savepoint was taken; see `stc job show` for why (a resume \
                     restores from the latest checkpoint)"
                );
            }
            return Ok(v);
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the savepoint of instance {} is still in progress after 10 minutes",
                i.id
            );
        }
    }
}

pub fn job(conn: Connection, cmd: JobCommand) -> anyhow::Result<ExitCode> {
    let c = Client::new(&conn)?;
    let path = |r: &JobRef, rest: &str| {
        format!("/projects/{}/jobs/{}{rest}", enc(&r.project), enc(&r.name))
    };
    match cmd {
        JobCommand::Create {
            project,
            name,
            file,
            parallelism,
        } => {
            let sql = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read '{}'", file.display()))?;
            let v = c.post(
                &format!("/projects/{}/jobs", enc(&project)),
                json!({"name": name, "sql": sql, "settings": {"parallelism": parallelism}}),
            )?;
            if !c.print_json(&v) {
                println!("job {name} created in project {project}");
            }
        }
        JobCommand::List { project } => {
            let v = c.get(&format!("/projects/{}/jobs", enc(&project)))?;
            let jobs: Vec<Job> = serde_json::from_value(v.clone())?;
            let mut rows = Vec::new();
            let mut out = Vec::new();
            for j in jobs {
                let state = match latest_instance(&c, &project, &j.name)? {
                    Some(i) => i.state.to_string(),
                    None => "never started".into(),
                };
                rows.push(vec![j.name.clone(), state.clone()]);
                out.push(json!({"job": j, "state": state}));
            }
            if !c.print_json(&Value::Array(out)) {
                print_table(&["NAME", "STATE"], rows);
            }
        }
        JobCommand::Show(r) => {
            let job = c.get(&path(&r, ""))?;
            let instances = c.get(&path(&r, "/instances"))?;
            let list: Vec<Instance> = serde_json::from_value(instances.clone())?;
            let transitions = match list.last() {
                Some(i) => c.get(&path(&r, &format!("/instances/{}/transitions", i.id)))?,
                None => Value::Array(vec![]),
            };
            if !c.print_json(
                &json!({"job": job, "instances": instances, "transitions": transitions}),
            ) {
                let j: Job = serde_json::from_value(job)?;
                println!("job {} in project {}", j.name, j.project);
                println!("settings: {}", serde_json::to_string(&j.settings)?);
                match list.last() {
                    None => println!("never started"),
                    Some(i) => {
                        println!(
                            "instance {} (version {}): {}{}, node {}, restarts {}",
                            i.id,
                            i.version,
                            i.state,
                            i.error
                                .as_ref()
                                .map(|e| format!(" ({} error: {})", e.domain, e.message))
                                .unwrap_or_default(),
                            i.node.as_deref().unwrap_or("-"),
                            i.restarts
                        );
                        if let Some(p) = &i.savepoint_path {
                            println!("savepoint: {p}");
                        }
                        println!("counters: {}", i.counters);
                        let ts: Vec<stc_server::model::Transition> =
                            serde_json::from_value(transitions)?;
                        print_table(
                            &["AT", "ACTION", "FROM", "TO", "BY", "DETAIL"],
                            ts.into_iter()
                                .map(|t| {
                                    vec![
                                        t.at.to_string(),
                                        t.action.to_string(),
                                        t.from.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                                        t.to.to_string(),
                                        t.actor,
                                        t.detail.unwrap_or_default(),
                                    ]
                                })
                                .collect(),
                        );
                    }
                }
            }
        }
        JobCommand::Start { job: r, from } => print_instance(
            &c,
            c.post(&path(&r, "/start"), json!({"start_from": from}))?,
            "started",
        )?,
        JobCommand::Pause(r) => {
            let v = c.post(&path(&r, "/pause"), json!({}))?;
            let v = wait_for_savepoint(&c, &path(&r, ""), v)?;
            print_instance(&c, v, "paused")?
        }
        JobCommand::Resume(r) => {
            print_instance(&c, c.post(&path(&r, "/resume"), json!({}))?, "resumed")?
        }
        JobCommand::Stop { job: r, savepoint } => {
            let v = c.post(&path(&r, "/stop"), json!({"savepoint": savepoint}))?;
            let v = if savepoint {
                wait_for_savepoint(&c, &path(&r, ""), v)?
            } else {
                v
            };
            print_instance(&c, v, "stopped")?
        }
        JobCommand::Delete(r) => {
            c.call(reqwest::Method::DELETE, &path(&r, ""), None)?;
            if !c.print_json(&json!({"deleted": r.name})) {
                println!("job {} deleted", r.name);
            }
        }
        JobCommand::Logs { job: r, follow } => {
            let Some(instance) = latest_instance(&c, &r.project, &r.name)? else {
                bail!("job '{}' has never been started", r.name);
            };
            let mut after = 0i64;
            loop {
                let v = c.get(&path(
                    &r,
                    &format!("/instances/{}/logs?after={after}", instance.id),
                ))?;
                let lines: Vec<LogLine> = serde_json::from_value(v)?;
                let mut stdout = std::io::stdout().lock();
                for l in &lines {
                    if c.output == ClientOutput::Json {
                        writeln!(stdout, "{}", serde_json::to_string(l)?)?;
                    } else {
                        writeln!(stdout, "{}", l.line)?;
                    }
                    after = l.id;
                }
                stdout.flush()?;
                if !follow {
                    break;
                }
                if lines.is_empty() {
                    let i: Instance = serde_json::from_value(
                        c.get(&path(&r, &format!("/instances/{}", instance.id)))?,
                    )?;
                    if !i.state.needs_worker() {
                        // One last read: lines written just before the state changed.
                        let v = c.get(&path(
                            &r,
                            &format!("/instances/{}/logs?after={after}", instance.id),
                        ))?;
                        for l in serde_json::from_value::<Vec<LogLine>>(v)? {
                            println!("{}", l.line);
                        }
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
