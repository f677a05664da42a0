//! Jobs through `stc run` that read and write the real NATS JetStream of the machine
//! (127.0.0.1:4222, `.ci/services` starts it): a bounded source with a metadata column, a
//! transformation, a nats sink read back with the client; and a malformed message failing
//! the job with its subject and sequence named.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use async_nats::jetstream;
use common::unique;
use futures::StreamExt;

const SERVER: &str = "nats://127.0.0.1:4222";

fn run(script: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", "2"])
        .current_dir(dir.path())
        .output()
        .unwrap()
}

/// A stream over `<prefix>.>` with `payloads` published to `<prefix>.in`.
async fn stream_with(payloads: &[&str]) -> (jetstream::Context, String, String) {
    let client = async_nats::connect(SERVER)
        .await
        .expect("NATS at 127.0.0.1:4222 (run .ci/services)");
    let js = jetstream::new(client);
    let (stream, prefix) = (unique("CLI"), unique("cli"));
    js.create_stream(jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("{prefix}.>")],
        ..Default::default()
    })
    .await
    .unwrap();
    for p in payloads {
        js.publish(format!("{prefix}.in"), p.to_string().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    (js, stream, prefix)
}

fn script(stream: &str, prefix: &str, extra: &str) -> String {
    format!(
        "CREATE TABLE src (
  id INT,
  name STRING,
  seq BIGINT METADATA FROM 'sequence' VIRTUAL
) WITH (
  'connector' = 'nats', 'servers' = '{SERVER}', 'stream' = '{stream}',
  'subject' = '{prefix}.in', 'format' = 'json', 'scan.bounded.mode' = 'latest-offset'{extra}
);
CREATE TABLE dst (id INT, name STRING, seq BIGINT) WITH (
  'connector' = 'nats', 'servers' = '{SERVER}', 'subject' = '{prefix}.out', 'format' = 'json'
);
INSERT INTO dst SELECT id * 10, UPPER(name), seq FROM src WHERE id > 1;
"
    )
}

#[tokio::test]
async fn nats_to_nats_job_runs_and_finishes() {
    let (js, stream, prefix) = stream_with(&[
        r#"{"id": 1, "name": "a"}"#,
        r#"{"id": 2, "name": "b"}"#,
        r#"{"id": 3, "name": "c"}"#,
    ])
    .await;
    let out = run(&script(&stream, &prefix, ""));
    assert!(
        out.status.success(),
        "stc run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = js.get_stream(&stream).await.unwrap();
    let consumer = s
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: format!("{prefix}.out"),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(10), msgs.next())
            .await
            .expect("the job published two messages")
            .unwrap()
            .unwrap();
        got.push(String::from_utf8(m.payload.to_vec()).unwrap());
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            r#"{"id":20,"name":"B","seq":2}"#,
            r#"{"id":30,"name":"C","seq":3}"#
        ]
    );
}

#[tokio::test]
async fn malformed_message_fails_the_job_unless_ignored() {
    let (_js, stream, prefix) = stream_with(&[r#"{"id": 2, "name": "b"}"#, "{oops"]).await;
    let out = run(&script(&stream, &prefix, ""));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure:\n{stderr}");
    assert!(
        stderr.contains(&format!("subject '{prefix}.in'")),
        "{stderr}"
    );
    assert!(stderr.contains("sequence 2"), "{stderr}");

    let out = run(&script(
        &stream,
        &prefix,
        ", 'json.ignore-parse-errors' = 'true'",
    ));
    assert!(
        out.status.success(),
        "stc run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
