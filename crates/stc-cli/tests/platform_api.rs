//! The REST API in-process: every route with and without the rights it needs, bad input,
//! concurrent conflicting actions, and job instances run by real worker processes.

mod platform;

use std::collections::BTreeSet;
use std::time::Duration;

use platform::{BOUNDED_SQL, ENDLESS_SQL, TestServer, state_of, test_config};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Need {
    Public,
    Signed,
    Admin,
    Read,
    Write,
    Own,
}

struct Route {
    method: &'static str,
    /// With `{iid}` for the test instance's id.
    path: &'static str,
    /// The OpenAPI path this route exercises.
    template: &'static str,
    body: Option<Value>,
    need: Need,
}

fn routes() -> Vec<Route> {
    let r = |method, path, template, body, need| Route {
        method,
        path,
        template,
        body,
        need,
    };
    use Need::*;
    vec![
        r(
            "POST",
            "/auth/login",
            "/api/v1/auth/login",
            Some(json!({"username": "admin", "password": "wrong"})),
            Public,
        ),
        r("GET", "/auth/whoami", "/api/v1/auth/whoami", None, Signed),
        r("GET", "/access-keys", "/api/v1/access-keys", None, Signed),
        r(
            "POST",
            "/access-keys",
            "/api/v1/access-keys",
            Some(json!({"name": "ci"})),
            Signed,
        ),
        r(
            "DELETE",
            "/access-keys/none",
            "/api/v1/access-keys/{id}",
            None,
            Signed,
        ),
        r("GET", "/users", "/api/v1/users", None, Admin),
        r(
            "POST",
            "/users",
            "/api/v1/users",
            Some(json!({"username": "made-by-route-test", "password": "12345678"})),
            Admin,
        ),
        r("GET", "/projects", "/api/v1/projects", None, Signed),
        r(
            "POST",
            "/projects",
            "/api/v1/projects",
            Some(json!({"name": "fresh"})),
            Signed,
        ),
        r(
            "GET",
            "/projects/p",
            "/api/v1/projects/{project}",
            None,
            Read,
        ),
        r(
            "DELETE",
            "/projects/p2",
            "/api/v1/projects/{project}",
            None,
            Own,
        ),
        r(
            "GET",
            "/projects/p/members",
            "/api/v1/projects/{project}/members",
            None,
            Read,
        ),
        r(
            "PUT",
            "/projects/p/members/viewer",
            "/api/v1/projects/{project}/members/{user}",
            Some(json!({"role": "viewer"})),
            Own,
        ),
        r(
            "DELETE",
            "/projects/p/members/nobody",
            "/api/v1/projects/{project}/members/{user}",
            None,
            Own,
        ),
        r(
            "GET",
            "/projects/p/jobs",
            "/api/v1/projects/{project}/jobs",
            None,
            Read,
        ),
        r(
            "POST",
            "/projects/p/jobs",
            "/api/v1/projects/{project}/jobs",
            Some(json!({"name": "another", "sql": BOUNDED_SQL})),
            Write,
        ),
        r(
            "GET",
            "/projects/p/jobs/j",
            "/api/v1/projects/{project}/jobs/{job}",
            None,
            Read,
        ),
        r(
            "PUT",
            "/projects/p/jobs/j",
            "/api/v1/projects/{project}/jobs/{job}",
            Some(json!({"settings": {"parallelism": 1}})),
            Write,
        ),
        r(
            "DELETE",
            "/projects/p/jobs/none",
            "/api/v1/projects/{project}/jobs/{job}",
            None,
            Write,
        ),
        r(
            "GET",
            "/projects/p/jobs/j/versions",
            "/api/v1/projects/{project}/jobs/{job}/versions",
            None,
            Read,
        ),
        r(
            "POST",
            "/projects/p/jobs/j/start",
            "/api/v1/projects/{project}/jobs/{job}/start",
            Some(json!({})),
            Write,
        ),
        r(
            "POST",
            "/projects/p/jobs/j/pause",
            "/api/v1/projects/{project}/jobs/{job}/pause",
            None,
            Write,
        ),
        r(
            "POST",
            "/projects/p/jobs/j/resume",
            "/api/v1/projects/{project}/jobs/{job}/resume",
            None,
            Write,
        ),
        r(
            "POST",
            "/projects/p/jobs/j/stop",
            "/api/v1/projects/{project}/jobs/{job}/stop",
            None,
            Write,
        ),
        r(
            "GET",
            "/projects/p/jobs/j/instances",
            "/api/v1/projects/{project}/jobs/{job}/instances",
            None,
            Read,
        ),
        r(
            "GET",
            "/projects/p/jobs/j/instances/{iid}",
            "/api/v1/projects/{project}/jobs/{job}/instances/{id}",
            None,
            Read,
        ),
        r(
            "DELETE",
            "/projects/p/jobs/j/instances/{iid}",
            "/api/v1/projects/{project}/jobs/{job}/instances/{id}",
            None,
            Write,
        ),
        r(
            "GET",
            "/projects/p/jobs/j/instances/{iid}/transitions",
            "/api/v1/projects/{project}/jobs/{job}/instances/{id}/transitions",
            None,
            Read,
        ),
        r(
            "GET",
            "/projects/p/jobs/j/instances/{iid}/logs",
            "/api/v1/projects/{project}/jobs/{job}/instances/{id}/logs",
            None,
            Read,
        ),
        r(
            "POST",
            "/sql/validate",
            "/api/v1/sql/validate",
            Some(json!({"sql": "SELECT 1"})),
            Signed,
        ),
        r(
            "GET",
            "/projects/p/catalog",
            "/api/v1/projects/{project}/catalog",
            None,
            Read,
        ),
        r(
            "GET",
            "/projects/p/catalog/gen",
            "/api/v1/projects/{project}/catalog/{name}",
            None,
            Read,
        ),
        r(
            "PUT",
            "/projects/p/catalog/gen2",
            "/api/v1/projects/{project}/catalog/{name}",
            Some(json!({"ddl": GEN2_DDL})),
            Write,
        ),
        r(
            "POST",
            "/projects/p/catalog/gen/preview",
            "/api/v1/projects/{project}/catalog/{name}/preview",
            Some(json!({"limit": 2})),
            Read,
        ),
        r(
            "DELETE",
            "/projects/p/catalog/none",
            "/api/v1/projects/{project}/catalog/{name}",
            None,
            Write,
        ),
    ]
}

const GEN_DDL: &str = "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', \
     'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '6')";
const GEN2_DDL: &str = "CREATE TABLE gen2 (id BIGINT) WITH ('connector' = 'datagen')";

/// A server without a scheduler (instances stay `starting`: these tests are about the API),
/// with projects p and p2, job p/j started once, and users of every role.
async fn fixture() -> (TestServer, Vec<(&'static str, Option<String>)>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.run_scheduler = false;
    let t = TestServer::start_with(config, dir).await;
    for p in ["p", "p2"] {
        t.ok("POST", "/projects", Some(json!({"name": p}))).await;
    }
    t.ok(
        "PUT",
        "/projects/p/catalog/gen",
        Some(json!({"ddl": GEN_DDL})),
    )
    .await;
    t.create_job("p", "j", BOUNDED_SQL).await;
    let iid = t.ok("POST", "/projects/p/jobs/j/start", None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut who: Vec<(&'static str, Option<String>)> = vec![("anonymous", None)];
    for (name, role) in [
        ("outsider", "none"),
        ("viewer", "viewer"),
        ("editor", "editor"),
        ("owner", "owner"),
    ] {
        let token = t.member("p", name, role).await;
        if role != "none" {
            t.ok(
                "PUT",
                &format!("/projects/p2/members/{name}"),
                Some(json!({"role": role})),
            )
            .await;
        }
        who.push((name, Some(token)));
    }
    who.push(("admin", Some(t.admin.clone())));
    (t, who, iid)
}

fn allowed(who: &str, need: Need) -> bool {
    let rank = |w: &str| match w {
        "viewer" => 1,
        "editor" => 2,
        "owner" | "admin" => 3,
        _ => 0,
    };
    match need {
        Need::Public => true,
        Need::Signed => who != "anonymous",
        Need::Admin => who == "admin",
        Need::Read => rank(who) >= 1,
        Need::Write => rank(who) >= 2,
        Need::Own => rank(who) >= 3,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_is_listed_in_openapi_and_covered_here() {
    let (t, _, _) = fixture().await;
    let (s, doc) = t.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let tested: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_string(), r.template.to_string()))
        .collect();
    assert_eq!(
        documented, tested,
        "routes in the OpenAPI document vs. routes tested here"
    );
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_is_authenticated_and_authorised() {
    let (t, who, iid) = fixture().await;
    // Rejections first (they change nothing), then the callers that are allowed.
    for pass in [false, true] {
        for r in routes() {
            let path = r.path.replace("{iid}", &iid);
            for (name, token) in &who {
                let may = allowed(name, r.need);
                if may != pass {
                    continue;
                }
                let (s, v) = t
                    .call(r.method, &path, token.as_deref(), r.body.clone())
                    .await;
                let what = format!("{} {path} as {name}: {s} {v}", r.method);
                let code = v["code"].as_str().unwrap_or("");
                if !may {
                    let expected = match (*name, r.need) {
                        ("anonymous", _) => "unauthenticated",
                        // Non-members do not learn that the project exists.
                        ("outsider", Need::Read | Need::Write | Need::Own) => "not_found",
                        _ => "forbidden",
                    };
                    assert_eq!(code, expected, "{what}");
                    let status = match expected {
                        "unauthenticated" => StatusCode::UNAUTHORIZED,
                        "not_found" => StatusCode::NOT_FOUND,
                        _ => StatusCode::FORBIDDEN,
                    };
                    assert_eq!(s, status, "{what}");
                    assert!(
                        v["message"].as_str().is_some_and(|m| !m.is_empty()),
                        "{what}"
                    );
                } else if r.need != Need::Public {
                    assert!(!matches!(code, "unauthenticated" | "forbidden"), "{what}");
                    // A 404 here must be about the missing sub-resource, not the project
                    // (p2 is gone once its first owner deleted it).
                    if code == "not_found" && !path.contains("p2") {
                        let m = v["message"].as_str().unwrap();
                        // (The message may name the project as the place it looked.)
                        assert!(!m.starts_with("project "), "{what}");
                    }
                }
            }
        }
    }
    // A bad password is 401 like a missing token.
    let (s, v) = t
        .call(
            "POST",
            "/auth/login",
            None,
            Some(json!({"username": "nobody", "password": "x"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (s, _) = t
        .call("GET", "/auth/whoami", Some("stct_forged"), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn access_keys_authenticate_until_deleted() {
    let t = TestServer::start().await;
    let (s, created) = t
        .call(
            "POST",
            "/access-keys",
            Some(&t.admin),
            Some(json!({"name": "ci"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let secret = created["secret"].as_str().unwrap().to_string();
    let (s, me) = t.call("GET", "/auth/whoami", Some(&secret), None).await;
    assert_eq!((s, me["name"].as_str()), (StatusCode::OK, Some("admin")));
    let keys = t.ok("GET", "/access-keys", None).await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert!(
        keys.to_string().find(&secret).is_none(),
        "secrets are never shown again"
    );
    let id = created["key"]["id"].as_str().unwrap();
    t.ok("DELETE", &format!("/access-keys/{id}"), None).await;
    let (s, _) = t.call("GET", "/auth/whoami", Some(&secret), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_clear_4xx_errors() {
    let t = TestServer::start().await;
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    let raw = |body: &'static str| {
        let req = t
            .http
            .post(format!("{}/projects/p/jobs", t.base))
            .bearer_auth(&t.admin)
            .header("content-type", "application/json")
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    // Malformed JSON, a missing field, an unknown field, a wrong type.
    for (body, fragment) in [
        ("{\"name\": ", "invalid request body"),
        ("{\"name\": \"x\"}", "missing field `sql`"),
        (
            "{\"name\": \"x\", \"sql\": \"\", \"colour\": 1}",
            "unknown field `colour`",
        ),
        ("{\"name\": 7, \"sql\": \"\"}", "invalid type"),
    ] {
        let (s, v) = raw(body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["code"], "bad_request", "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(fragment),
            "{body}: {v}"
        );
    }
    // SQL that does not compile is rejected at submit, with line and column.
    let (s, v) = t
        .call(
            "POST",
            "/projects/p/jobs",
            Some(&t.admin),
            Some(json!({"name": "bad", "sql": "CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\nSELEC a FROM t;"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_sql")),
        "{v}"
    );
    assert_eq!(v["sql"]["line"], 2, "{v}");
    assert_eq!(v["sql"]["column"], 1, "{v}");
    assert_eq!(v["sql"]["statement"], 2, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("line 2, column 1"),
        "{v}"
    );
    let (s, v) = t
        .call(
            "POST",
            "/projects/p/jobs",
            Some(&t.admin),
            Some(json!({"name": "bad", "sql": "CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\nINSERT INTO nowhere SELECT a FROM t;"})),
        )
        .await;
    assert_eq!(v["code"], "invalid_sql", "{s} {v}");
    assert!(v["message"].as_str().unwrap().contains("nowhere"), "{v}");
    // /sql/validate answers 200 with the problem.
    let v = t
        .ok(
            "POST",
            "/sql/validate",
            Some(json!({"sql": "SELECT * FROM missing_table"})),
        )
        .await;
    assert_eq!(v["valid"], false);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing_table"),
        "{v}"
    );
    // Invalid names and settings.
    let (s, v) = t
        .call(
            "POST",
            "/projects",
            Some(&t.admin),
            Some(json!({"name": "a b"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (s, v) = t
        .call(
            "POST",
            "/projects/p/jobs",
            Some(&t.admin),
            Some(json!({"name": "z", "sql": BOUNDED_SQL, "settings": {"parallelism": 0}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = t
        .call(
            "POST",
            "/projects/p/jobs",
            Some(&t.admin),
            Some(json!({"name": "z", "sql": BOUNDED_SQL, "settings": {"restart_strategy": {"kind": "sometimes"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // Unknown ids.
    t.create_job("p", "j", BOUNDED_SQL).await;
    for path in [
        "/projects/nope",
        "/projects/nope/jobs",
        "/projects/p/jobs/nope",
        "/projects/p/jobs/j/instances/00000000-0000-0000-0000-000000000000",
        "/projects/p/jobs/j/instances/not-a-uuid/logs",
        "/no/such/route",
    ] {
        let (s, v) = t.call("GET", path, Some(&t.admin), None).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{path}: {v}"
        );
    }
    // Duplicates.
    let (s, v) = t
        .call(
            "POST",
            "/projects/p/jobs",
            Some(&t.admin),
            Some(json!({"name": "j", "sql": BOUNDED_SQL})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_exists"))
    );
    // Actions without an active instance, and a start point that is not a checkpoint.
    let (s, v) = t
        .call("POST", "/projects/p/jobs/j/pause", Some(&t.admin), None)
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "{v}"
    );
    let (s, v) = t
        .call(
            "POST",
            "/projects/p/jobs/j/start",
            Some(&t.admin),
            Some(json!({"start_from": "/sp/1"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("start_from '/sp/1' is not a usable checkpoint or savepoint"),
        "{v}"
    );
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_conflicting_actions_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.run_scheduler = false;
    let t = TestServer::start_with(config, dir).await;
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    t.create_job("p", "j", BOUNDED_SQL).await;
    let paths: Vec<String> = ["start", "pause", "resume", "stop"]
        .iter()
        .map(|a| format!("/projects/p/jobs/j/{a}"))
        .collect();
    let race = |action: &'static str| {
        let path = paths.iter().find(|p| p.ends_with(action)).unwrap();
        let calls: Vec<_> = (0..8)
            .map(|_| t.call("POST", path, Some(&t.admin), None))
            .collect();
        futures::future::join_all(calls)
    };
    for (action, after) in [
        ("start", "starting"),
        ("pause", "paused"),
        ("resume", "starting"),
        ("stop", "terminated"),
    ] {
        let results = race(action).await;
        let winners = results.iter().filter(|(s, _)| s.is_success()).count();
        assert_eq!(winners, 1, "{action}: {results:?}");
        for (s, v) in results.iter().filter(|(s, _)| !s.is_success()) {
            assert_eq!(*s, StatusCode::CONFLICT, "{action}: {v}");
            // The loser learns the state the winner left, or that nothing is active.
            if v["code"] == "illegal_transition" {
                assert_eq!(v["state"], after, "{action}: {v}");
                assert!(v["allowed_actions"].is_array(), "{v}");
            } else {
                assert_eq!(v["code"], "conflict", "{action}: {v}");
            }
        }
    }
    let instances = t.ok("GET", "/projects/p/jobs/j/instances", None).await;
    let list = instances.as_array().unwrap();
    assert_eq!(list.len(), 1, "one start won: {instances}");
    let id = list[0]["id"].as_str().unwrap();
    let history = t
        .ok(
            "GET",
            &format!("/projects/p/jobs/j/instances/{id}/transitions"),
            None,
        )
        .await;
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["start", "pause", "resume", "stop"]);
    for h in history.as_array().unwrap() {
        assert_eq!(h["actor"], "admin");
        assert!(h["at"].as_i64().unwrap() > 1_600_000_000_000);
    }
    t.shutdown().await;
}

/// Process ids of running `stc worker` processes of one instance.
fn worker_pids(instance: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        if status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'))
        {
            continue;
        }
        if args.iter().any(|a| a == "worker") && args.iter().any(|a| a == instance) {
            pids.push(pid);
        }
    }
    pids
}

async fn wait_for_workers(instance: &str, n: usize) {
    let start = std::time::Instant::now();
    while worker_pids(instance).len() != n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "expected {n} workers of {instance}, have {:?}",
            worker_pids(instance)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bounded_job_runs_in_a_worker_and_finishes_with_its_output_in_the_logs() {
    let t = TestServer::start().await;
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    t.create_job("p", "j", BOUNDED_SQL).await;
    let i = t.ok("POST", "/projects/p/jobs/j/start", None).await;
    assert_eq!(state_of(&i), "starting");
    assert_eq!(i["version"], 1);
    let id = i["id"].as_str().unwrap().to_string();
    let done = t
        .wait_instance("p", "j", &id, Duration::from_secs(20), |v| {
            state_of(v) == "finished"
        })
        .await;
    assert_eq!(done["counters"]["records_written"], 5, "{done}");
    assert_eq!(done["allowed_actions"], json!(["delete"]));
    let mut out: Vec<String> = t
        .logs("p", "j", &id)
        .await
        .into_iter()
        .filter(|l| l.starts_with("out>"))
        .collect();
    out.sort();
    assert_eq!(
        out,
        [
            "out> +I[1]",
            "out> +I[2]",
            "out> +I[3]",
            "out> +I[4]",
            "out> +I[5]"
        ]
    );
    let history = t
        .ok(
            "GET",
            &format!("/projects/p/jobs/j/instances/{id}/transitions"),
            None,
        )
        .await;
    let steps: Vec<(String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().into(),
                h["actor"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("start".into(), "admin".into()),
            ("run".into(), "node:test-node".into()),
            ("finish".into(), "node:test-node".into())
        ]
    );
    // The job can start again: a new version and instance.
    let again = t.ok("POST", "/projects/p/jobs/j/start", None).await;
    assert_eq!(again["version"], 2);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_resume_stop_control_the_worker_process() {
    let t = TestServer::start().await;
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    t.create_job("p", "j", ENDLESS_SQL).await;
    let id = t.ok("POST", "/projects/p/jobs/j/start", None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let running = t
        .wait_instance("p", "j", &id, Duration::from_secs(15), |v| {
            state_of(v) == "running"
        })
        .await;
    assert_eq!(running["node"], "test-node");
    wait_for_workers(&id, 1).await;
    let paused = t.ok("POST", "/projects/p/jobs/j/pause", None).await;
    assert_eq!(state_of(&paused), "paused");
    assert_eq!(paused["allowed_actions"], json!(["resume", "stop"]));
    // The worker stops with a savepoint; the node records where it is.
    let paused = t
        .wait_instance("p", "j", &id, Duration::from_secs(30), |v| {
            v["savepoint_in_progress"] == false
        })
        .await;
    let savepoint = paused["savepoint_path"].as_str().expect("a savepoint");
    assert!(
        std::path::Path::new(savepoint).join("_metadata").is_file(),
        "{paused}"
    );
    wait_for_workers(&id, 0).await;
    // Illegal: pause a paused instance.
    let (s, v) = t
        .call("POST", "/projects/p/jobs/j/pause", Some(&t.admin), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        (v["code"].as_str(), v["state"].as_str()),
        (Some("illegal_transition"), Some("paused"))
    );
    assert_eq!(v["allowed_actions"], json!(["resume", "stop"]));
    t.ok("POST", "/projects/p/jobs/j/resume", None).await;
    t.wait_instance("p", "j", &id, Duration::from_secs(15), |v| {
        state_of(v) == "running"
    })
    .await;
    wait_for_workers(&id, 1).await;
    let stopped = t.ok("POST", "/projects/p/jobs/j/stop", None).await;
    assert_eq!(state_of(&stopped), "terminated");
    wait_for_workers(&id, 0).await;
    // A job with an active instance cannot be deleted; a terminated instance can.
    let deleted = t
        .ok(
            "DELETE",
            &format!("/projects/p/jobs/j/instances/{id}"),
            None,
        )
        .await;
    assert_eq!(state_of(&deleted), "deleted");
    let (s, v) = t
        .call(
            "DELETE",
            &format!("/projects/p/jobs/j/instances/{id}"),
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::CONFLICT, Some("deleted"))
    );
    t.ok("DELETE", "/projects/p/jobs/j", None).await;
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_worker_is_restarted_then_the_instance_fails_per_strategy() {
    let t = TestServer::start().await;
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    t.ok(
        "POST",
        "/projects/p/jobs",
        Some(
            json!({"name": "j", "sql": ENDLESS_SQL, "settings": {"parallelism": 1,
            "restart_strategy": {"kind": "fixed-delay", "attempts": 1, "delay_ms": 50}}}),
        ),
    )
    .await;
    let id = t.ok("POST", "/projects/p/jobs/j/start", None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.wait_instance("p", "j", &id, Duration::from_secs(15), |v| {
        state_of(v) == "running"
    })
    .await;
    wait_for_workers(&id, 1).await;
    let kill = |pid: u32| {
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
    };
    kill(worker_pids(&id)[0]);
    let restarted = t
        .wait_instance("p", "j", &id, Duration::from_secs(15), |v| {
            v["restarts"] == 1 && state_of(v) == "running"
        })
        .await;
    assert_eq!(
        restarted["error"],
        Value::Null,
        "a fresh attempt clears the error"
    );
    wait_for_workers(&id, 1).await;
    kill(worker_pids(&id)[0]);
    let failed = t
        .wait_instance("p", "j", &id, Duration::from_secs(15), |v| {
            state_of(v) == "failed"
        })
        .await;
    assert_eq!(failed["error"]["domain"], "internal", "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exited unexpectedly"),
        "{failed}"
    );
    let history = t
        .ok(
            "GET",
            &format!("/projects/p/jobs/j/instances/{id}/transitions"),
            None,
        )
        .await;
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["start", "run", "restart", "run", "fail"]);
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_error_at_run_time_fails_at_once_with_its_class() {
    let t = TestServer::start().await;
    let input = t.dir.path().join("input.csv");
    std::fs::write(&input, "1\nnot-a-number\n").unwrap();
    let sql = format!(
        "CREATE TABLE src (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT id FROM src;",
        input.display()
    );
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    t.create_job("p", "j", &sql).await;
    let id = t.ok("POST", "/projects/p/jobs/j/start", None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = t
        .wait_instance("p", "j", &id, Duration::from_secs(15), |v| {
            state_of(v) == "failed"
        })
        .await;
    assert_eq!(failed["error"]["domain"], "user", "{failed}");
    assert_eq!(failed["error"]["retry"], "no-retry", "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not-a-number"),
        "{failed}"
    );
    assert_eq!(failed["restarts"], 0, "user errors are not retried");
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_sqlite_store_survives_a_restart_and_bootstraps_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = test_config(dir.path());
    assert_eq!(
        config.database_url, None,
        "the default store: SQLite in the data directory"
    );
    let first = stc_server::start(config.clone(), None).await.unwrap();
    let password = first
        .generated_admin_password
        .clone()
        .expect("a generated admin password");
    assert!(password.len() >= 16);
    first.shutdown().await.unwrap();
    assert!(data.join("metadata.db").exists());
    // Second start: same store, no new password, the example is there.
    let second = stc_server::start(config.clone(), Some("ignored-on-a-used-store".into()))
        .await
        .unwrap();
    assert_eq!(second.generated_admin_password, None);
    let base = format!("http://{}/api/v1", second.addr);
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"]
        .as_str()
        .expect("the first password still works");
    let jobs: Value = http
        .get(format!("{base}/projects/examples/jobs"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jobs[0]["name"], "gift_stats", "{jobs}");
    second.shutdown().await.unwrap();
    drop(dir);
}

/// Ids in the committed files of a filesystem sink (in-progress files are hidden dot files).
fn committed_ids(dir: &std::path::Path) -> Vec<i64> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        ids.extend(text.lines().map(|l| l.trim().parse::<i64>().unwrap()));
    }
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_resume_and_stop_with_savepoint_lose_and_repeat_nothing() {
    let t = TestServer::start().await;
    let out = t.dir.path().join("out");
    // 600 rows at 100 a second; the filesystem sink publishes a file only when the
    // savepoint (or checkpoint) that covers it completes.
    let sql = format!(
        "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100', \
           'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '600');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');
INSERT INTO out SELECT id FROM src;",
        out.display()
    );
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    t.create_job("p", "j", &sql).await;
    let id = t.ok("POST", "/projects/p/jobs/j/start", None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let read_at_least = |n: u64| {
        move |v: &Value| {
            state_of(v) == "running" && v["counters"]["records_read"].as_u64() >= Some(n)
        }
    };
    t.wait_instance("p", "j", &id, Duration::from_secs(30), read_at_least(50))
        .await;
    t.ok("POST", "/projects/p/jobs/j/pause", None).await;
    let paused = t
        .wait_instance("p", "j", &id, Duration::from_secs(30), |v| {
            v["savepoint_in_progress"] == false
        })
        .await;
    let first = paused["savepoint_path"]
        .as_str()
        .expect("savepoint")
        .to_string();
    let at_pause = committed_ids(&out);
    assert!(
        !at_pause.is_empty(),
        "the savepoint published the sink's files"
    );
    assert_eq!(at_pause, (1..=at_pause.len() as i64).collect::<Vec<_>>());
    wait_for_workers(&id, 0).await;

    t.ok("POST", "/projects/p/jobs/j/resume", None).await;
    // The resumed worker restored the savepoint, and its counters say so.
    t.wait_instance("p", "j", &id, Duration::from_secs(30), |v| {
        read_at_least(20)(v)
            && v["counters"]["restores"] == 1
            && v["counters"]["last_restore_ms"].is_u64()
    })
    .await;
    let stopped = t
        .ok(
            "POST",
            "/projects/p/jobs/j/stop",
            Some(json!({"savepoint": true})),
        )
        .await;
    assert_eq!(state_of(&stopped), "terminated");
    let stopped = t
        .wait_instance("p", "j", &id, Duration::from_secs(30), |v| {
            v["savepoint_in_progress"] == false
        })
        .await;
    let second = stopped["savepoint_path"]
        .as_str()
        .expect("savepoint")
        .to_string();
    assert_ne!(first, second);
    let history = t
        .ok(
            "GET",
            &format!("/projects/p/jobs/j/instances/{id}/transitions"),
            None,
        )
        .await;
    let details: Vec<String> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["detail"].as_str().map(String::from))
        .collect();
    assert!(
        details.contains(&format!("savepoint completed: {first}"))
            && details.contains(&format!("savepoint completed: {second}")),
        "{history}"
    );
    wait_for_workers(&id, 0).await;
    let at_stop = committed_ids(&out);
    assert!(at_stop.len() > at_pause.len(), "the resumed run continued");
    assert_eq!(at_stop, (1..=at_stop.len() as i64).collect::<Vec<_>>());

    // A new instance started from the stop's savepoint finishes the sequence.
    let again = t
        .ok(
            "POST",
            "/projects/p/jobs/j/start",
            Some(json!({"start_from": second})),
        )
        .await;
    assert_eq!(again["start_from"], second);
    let id2 = again["id"].as_str().unwrap().to_string();
    t.wait_instance("p", "j", &id2, Duration::from_secs(60), |v| {
        state_of(v) == "finished"
    })
    .await;
    assert_eq!(committed_ids(&out), (1..=600).collect::<Vec<_>>());
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_over_its_memory_limit_is_killed_and_the_instance_fails_saying_so() {
    let t = TestServer::start().await;
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    // A GROUP BY over ever new keys as fast as datagen goes: its state only grows.
    let sql = "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', \
         'rows-per-second' = '1000000000', 'fields.id.kind' = 'sequence', \
         'fields.id.start' = '1', 'fields.id.end' = '9000000000000');
CREATE TABLE out (id BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT id, COUNT(*) FROM src GROUP BY id;";
    let (s, v) = t
        .call(
            "POST",
            "/projects/p/jobs",
            Some(&t.admin),
            Some(json!({"name": "tiny", "sql": sql, "settings": {"memory_limit_mb": 8}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("below the minimum"),
        "{v}"
    );
    t.ok(
        "POST",
        "/projects/p/jobs",
        Some(json!({"name": "j", "sql": sql,
                    "settings": {"parallelism": 1, "memory_limit_mb": 150,
                                 "restart_strategy": {"kind": "none"}}})),
    )
    .await;
    let id = t.ok("POST", "/projects/p/jobs/j/start", None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = t
        .wait_instance("p", "j", &id, Duration::from_secs(60), |v| {
            state_of(v) == "failed"
        })
        .await;
    assert_eq!(failed["error"]["domain"], "user", "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded its memory limit"),
        "{failed}"
    );
    wait_for_workers(&id, 0).await;
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_use_the_project_catalog_as_it_was_when_they_started() {
    let t = TestServer::start().await;
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    let created = t
        .call(
            "PUT",
            "/projects/p/catalog/gen",
            Some(&t.admin),
            Some(json!({"ddl": GEN_DDL})),
        )
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
    assert_eq!(created.1["kind"], "table");
    let view = t
        .ok(
            "PUT",
            "/projects/p/catalog/evens",
            Some(json!({"ddl": "CREATE VIEW evens AS SELECT id FROM gen WHERE id % 2 = 0"})),
        )
        .await;
    assert_eq!(view["kind"], "view");
    // Bad objects: an error in the DDL names the object, line and column; the name must match.
    let bad = |ddl: &'static str, name: &'static str| {
        let t = &t;
        async move {
            t.call(
                "PUT",
                &format!("/projects/p/catalog/{name}"),
                Some(&t.admin),
                Some(json!({ "ddl": ddl })),
            )
            .await
        }
    };
    let (s, v) = bad("CREATE VIEW odd AS\nSELECT idd FROM gen", "odd").await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_sql")),
        "{v}"
    );
    let m = v["message"].as_str().unwrap();
    assert!(m.contains("in the catalog's 'odd' at line 2"), "{v}");
    let (s, v) = bad(
        "CREATE TABLE x (id BIGINT) WITH ('connector' = 'datagen')",
        "y",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("declares 'x', not 'y'"),
        "{v}"
    );
    let (s, v) = bad("INSERT INTO gen SELECT 1", "gen").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // Replacing the table with one the view cannot use is refused, as is deleting it.
    let (s, v) = bad(
        "CREATE TABLE gen (name STRING) WITH ('connector' = 'datagen')",
        "gen",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().contains("'evens'"), "{v}");
    let (s, v) = t
        .call("DELETE", "/projects/p/catalog/gen", Some(&t.admin), None)
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "{v}"
    );

    // A job reads the catalog's view; a plain CREATE of a catalog name is an error, a
    // TEMPORARY one shadows it.
    let job =
        "CREATE TABLE out (id BIGINT) WITH ('connector' = 'print', 'print-identifier' = 'out');
INSERT INTO out SELECT id FROM evens;";
    t.create_job("p", "j", job).await;
    let (s, v) = t
        .call(
            "POST",
            "/projects/p/jobs",
            Some(&t.admin),
            Some(json!({"name": "clash", "sql": format!("{GEN_DDL};\n{job}")})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("'gen' already exists"),
        "{v}"
    );
    let shadow = GEN_DDL.replace("CREATE TABLE", "CREATE TEMPORARY TABLE");
    t.create_job("p", "shadow", &format!("{shadow};\n{job}"))
        .await;
    let id = t.ok("POST", "/projects/p/jobs/j/start", None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The catalog changes after the start: the running version keeps what it started with.
    t.ok(
        "PUT",
        "/projects/p/catalog/evens",
        Some(json!({"ddl": "CREATE VIEW evens AS SELECT id FROM gen WHERE id % 2 = 1"})),
    )
    .await;
    t.wait_instance("p", "j", &id, Duration::from_secs(20), |v| {
        state_of(v) == "finished"
    })
    .await;
    let mut out: Vec<String> = t
        .logs("p", "j", &id)
        .await
        .into_iter()
        .filter(|l| l.starts_with("out>"))
        .collect();
    out.sort();
    assert_eq!(out, ["out> +I[2]", "out> +I[4]", "out> +I[6]"]);
    let versions = t.ok("GET", "/projects/p/jobs/j/versions", None).await;
    assert_eq!(versions[0]["catalog"][1]["name"], "evens", "{versions}");
    assert!(
        versions[0]["catalog"][1]["ddl"]
            .as_str()
            .unwrap()
            .contains("% 2 = 0"),
        "{versions}"
    );
    let list = t.ok("GET", "/projects/p/catalog", None).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gen", "evens"]);
    // Validation against the catalog, and deletion in dependency order.
    let v = t
        .ok(
            "POST",
            "/sql/validate",
            Some(json!({"sql": job, "project": "p"})),
        )
        .await;
    assert_eq!(v["valid"], true, "{v}");
    t.ok("DELETE", "/projects/p/catalog/evens", None).await;
    t.ok("DELETE", "/projects/p/catalog/gen", None).await;
    let (s, v) = t
        .call("POST", "/projects/p/jobs/j/start", Some(&t.admin), None)
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a job whose catalog object is gone: {v}"
    );
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_table_is_previewed_in_a_child_process_with_malformed_records_shown() {
    let t = TestServer::start().await;
    t.ok("POST", "/projects", Some(json!({"name": "p"}))).await;
    let file = t.dir.path().join("events.json");
    std::fs::write(&file, "{\"id\": 1}\n{\"id\": oops}\n{\"id\": 3}\n").unwrap();
    let ddl = format!(
        "CREATE TABLE events (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', \
         'format' = 'json')",
        file.display()
    );
    t.ok(
        "PUT",
        "/projects/p/catalog/events",
        Some(json!({ "ddl": ddl })),
    )
    .await;
    let v = t
        .ok(
            "POST",
            "/projects/p/catalog/events/preview",
            Some(json!({"limit": 10, "timeout_ms": 5000})),
        )
        .await;
    let ids: Vec<i64> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 3], "{v}");
    assert_eq!(v["malformed"][0]["raw_text"], "{\"id\": oops}", "{v}");
    assert_eq!(v["ended"], "end of input");
    // Bad requests.
    let (s, e) = t
        .call(
            "POST",
            "/projects/p/catalog/events/preview",
            Some(&t.admin),
            Some(json!({"limit": 0})),
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "{e}"
    );
    let (s, e) = t
        .call(
            "POST",
            "/projects/p/catalog/nope/preview",
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    // A source that cannot be reached is a 502 naming it.
    t.ok(
        "PUT",
        "/projects/p/catalog/down",
        Some(
            json!({"ddl": "CREATE TABLE down (id INT) WITH ('connector' = 'nats', \
                    'servers' = 'nats://127.0.0.1:1', 'stream' = 'S', 'subject' = 'x', 'format' = 'json', \
                    'connect.timeout' = '1 s')"}),
        ),
    )
    .await;
    let (s, e) = t
        .call(
            "POST",
            "/projects/p/catalog/down/preview",
            Some(&t.admin),
            None,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("external")),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap().contains("127.0.0.1:1"),
        "{e}"
    );
    t.shutdown().await;
}
