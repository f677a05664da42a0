//! `stc table preview`: the first records of a table within a limit and a time limit;
//! records that fail to decode are listed with their raw bytes and position, not hidden and
//! not fatal; the script's INSERTs never run; the source is left as it was (a NATS durable
//! consumer named by the table is neither created nor moved).

use std::process::{Command, Output};

use async_nats::jetstream;
use serde_json::Value;

const NATS: &str = "nats://127.0.0.1:4222";

fn preview(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["table", "preview"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn json_preview(dir: &std::path::Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--output", "json"]);
    let out = preview(dir, &a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"]["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn a_file_preview_shows_rows_and_malformed_lines_and_runs_no_insert() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("events.json"),
        "{\"id\": 1, \"name\": \"a\"}\nnot json at all\n{\"id\": 2, \"name\": \"b\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        "CREATE TABLE events (id BIGINT, name STRING) WITH (
  'connector' = 'filesystem', 'path' = 'events.json', 'format' = 'json');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'filesystem', 'path' = 'out', 'format' = 'csv');
INSERT INTO out SELECT id FROM events;",
    )
    .unwrap();
    let v = json_preview(dir.path(), &["events", "-f", "job.sql"]);
    assert_eq!(ids(&v), [1, 2], "{v}");
    assert_eq!(v["rows"][1]["row"]["name"], "b");
    assert_eq!(v["rows"][0]["op"], "+I");
    assert_eq!(v["ended"], "end of input");
    assert_eq!(v["columns"][1]["name"], "name");
    let bad = &v["malformed"][0];
    assert_eq!(bad["raw_text"], "not json at all", "{v}");
    assert_eq!(bad["raw_hex"], "6e6f74206a736f6e20617420616c6c");
    assert!(
        bad["position"].as_str().unwrap().ends_with("events.json:2"),
        "{v}"
    );
    assert!(!bad["reason"].as_str().unwrap().is_empty());
    assert!(!dir.path().join("out").exists(), "the INSERT did not run");
    // The human form lists the malformed record too.
    let out = preview(dir.path(), &["events", "-f", "job.sql"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 records could not be decoded") && text.contains("raw: 'not json at all'"),
        "{text}"
    );
}

#[test]
fn limit_timeout_and_unknown_tables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gen.sql"),
        "CREATE TABLE fast (id BIGINT) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence',
  'fields.id.start' = '1', 'fields.id.end' = '1000000');
CREATE TABLE slow (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1');
CREATE VIEW evens AS SELECT id FROM fast WHERE id % 2 = 0;",
    )
    .unwrap();
    let v = json_preview(dir.path(), &["fast", "-f", "gen.sql", "--limit", "3"]);
    assert_eq!(ids(&v), [1, 2, 3]);
    assert_eq!(v["ended"], "limit");
    assert_eq!(v["from"], "start");
    assert!(v["note"].is_null());
    // datagen has no end to seek to: the first records, and the answer says so.
    let v = json_preview(
        dir.path(),
        &["fast", "-f", "gen.sql", "--limit", "3", "--latest"],
    );
    assert_eq!(ids(&v), [1, 2, 3]);
    assert_eq!(v["from"], "start");
    assert!(
        v["note"].as_str().unwrap().contains("only kafka can"),
        "{v}"
    );
    let v = json_preview(dir.path(), &["evens", "-f", "gen.sql", "--limit", "2"]);
    assert_eq!(ids(&v), [2, 4], "views preview too");
    let v = json_preview(
        dir.path(),
        &[
            "slow",
            "-f",
            "gen.sql",
            "--limit",
            "100",
            "--timeout",
            "1500ms",
        ],
    );
    assert_eq!(v["ended"], "timeout", "{v}");
    assert!(v["rows"].as_array().unwrap().len() < 100);
    let out = preview(dir.path(), &["nope", "-f", "gen.sql"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no table or view 'nope' to preview; declared: evens, fast, slow"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nats_preview_names_the_malformed_message_and_leaves_the_durable_consumer_alone() {
    let client = async_nats::connect(NATS)
        .await
        .expect("NATS at 127.0.0.1:4222 (run .ci/services)");
    let js = jetstream::new(client);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let (stream, prefix) = (format!("PREVIEW_{nanos}"), format!("preview{nanos}"));
    js.create_stream(jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("{prefix}.>")],
        ..Default::default()
    })
    .await
    .unwrap();
    for p in [r#"{"id": 1}"#, "\u{1}garbage", r#"{"id": 3}"#] {
        js.publish(format!("{prefix}.in"), p.to_string().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("src.sql"),
        format!(
            "CREATE TABLE src (id INT) WITH ('connector' = 'nats', 'servers' = '{NATS}',
  'stream' = '{stream}', 'subject' = '{prefix}.in', 'format' = 'json',
  'scan.consumer.name' = 'orders-job');"
        ),
    )
    .unwrap();
    for _ in 0..2 {
        let d = dir.path().to_path_buf();
        let v = tokio::task::spawn_blocking(move || {
            json_preview(
                &d,
                &["src", "-f", "src.sql", "--limit", "2", "--timeout", "5s"],
            )
        })
        .await
        .unwrap();
        assert_eq!(ids(&v), [1, 3], "{v}");
        let bad = &v["malformed"][0];
        assert_eq!(bad["raw_hex"], "0167617262616765", "{v}");
        let position = bad["position"].as_str().unwrap();
        assert!(
            position.contains(&format!("subject '{prefix}.in' sequence 2")),
            "subject and sequence: {v}"
        );
    }
    // `--latest 2`: the stream's last two messages (the malformed one and id 3), read up to
    // the end.
    let d = dir.path().to_path_buf();
    let v = tokio::task::spawn_blocking(move || {
        json_preview(
            &d,
            &[
                "src",
                "-f",
                "src.sql",
                "--limit",
                "2",
                "--latest",
                "--timeout",
                "5s",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(ids(&v), [3], "{v}");
    assert_eq!(v["malformed"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["from"], "latest", "{v}");
    let stream = js.get_stream(&stream).await.unwrap();
    assert!(
        stream.consumer_info("orders-job").await.is_err(),
        "the preview did not create or move the job's durable consumer"
    );
    stream.delete_consumer("orders-job").await.ok();
}

/// `--latest` on a Kafka table: the last `--limit` records of each partition, read up to the
/// end (the preview then ends by itself), where the default shows the first ones.
#[test]
fn a_kafka_preview_shows_the_latest_records_with_latest() {
    use rdkafka::ClientConfig;
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let broker = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tools/kafka-broker"
    ))
    .output()
    .unwrap();
    assert!(broker.status.success(), "tools/kafka-broker failed");
    let topic = format!("preview-latest-{}", std::process::id());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:9092")
            .create()
            .unwrap();
        for r in admin
            .create_topics(
                &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await
            .unwrap()
        {
            r.unwrap();
        }
        // One record per request: tansu's high-water mark is wrong after batched produces.
        let p: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:9092")
            .set("linger.ms", "0")
            .set("batch.num.messages", "1")
            .create()
            .unwrap();
        for id in 1..=10 {
            let v = format!("{{\"id\":{id}}}");
            p.send(
                FutureRecord::<(), _>::to(&topic).partition(0).payload(&v),
                std::time::Duration::from_secs(10),
            )
            .await
            .unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.sql"),
        format!(
            "CREATE TABLE t (id BIGINT) WITH ('connector' = 'kafka', 'topic' = '{topic}',
  'properties.bootstrap.servers' = '127.0.0.1:9092', 'format' = 'json',
  'scan.startup.mode' = 'earliest-offset');"
        ),
    )
    .unwrap();
    let v = json_preview(dir.path(), &["t", "-f", "t.sql", "--limit", "3"]);
    assert_eq!(ids(&v), [1, 2, 3]);
    let v = json_preview(
        dir.path(),
        &["t", "-f", "t.sql", "--limit", "3", "--latest"],
    );
    assert_eq!(ids(&v), [8, 9, 10], "{v}");
    assert_eq!(v["from"], "latest");
    assert!(v["note"].is_null());
}
