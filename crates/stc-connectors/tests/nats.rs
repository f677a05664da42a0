//! The nats connector against the real NATS JetStream of the machine (127.0.0.1:4222,
//! `.ci/services` starts it): round trips, startup and bounded modes, restore from a
//! checkpointed sequence without loss or duplicates, durable consumers acknowledged on
//! checkpoint, malformed messages with and without `json.ignore-parse-errors`, and an
//! unreachable server. Every test uses its own stream and subjects.

mod common;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, TimeUnit};
use async_nats::jetstream;
use common::*;
use futures::StreamExt;
use stc_connectors::{ConnectorTable, create_sink, create_source};
use stc_runtime::{SourceReader, StreamBatch};

const SERVER: &str = "nats://127.0.0.1:4222";

struct Fixture {
    js: jetstream::Context,
    stream: String,
    /// Subjects of the stream are `<prefix>.>`.
    prefix: String,
}

async fn fixture() -> Fixture {
    let client = async_nats::connect(SERVER)
        .await
        .expect("NATS at 127.0.0.1:4222 (run .ci/services)");
    let js = jetstream::new(client);
    let stream = unique("S");
    let prefix = unique("t");
    js.create_stream(jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("{prefix}.>")],
        ..Default::default()
    })
    .await
    .unwrap();
    Fixture { js, stream, prefix }
}

impl Fixture {
    fn subject(&self, s: &str) -> String {
        format!("{}.{s}", self.prefix)
    }

    async fn publish(&self, subject: &str, payloads: &[&str]) {
        for p in payloads {
            self.js
                .publish(self.subject(subject), p.to_string().into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    }

    fn table(&self, subject: &str, extra: &[(&str, &str)]) -> ConnectorTable {
        let subject = self.subject(subject);
        let mut o = vec![
            ("connector", "nats"),
            ("servers", SERVER),
            ("stream", self.stream.as_str()),
            ("subject", subject.as_str()),
            ("format", "json"),
        ];
        o.extend_from_slice(extra);
        let mut t = table(
            "events",
            schema(&[("id", DataType::Int32), ("name", DataType::Utf8)]),
            &[],
            &o,
        );
        t.metadata = vec![
            ("subject".into(), Field::new("subj", DataType::Utf8, true)),
            ("sequence".into(), Field::new("seq", DataType::Int64, true)),
            (
                "timestamp".into(),
                Field::new(
                    "ts",
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    true,
                ),
            ),
        ];
        t
    }
}

/// Rows as `id|name|subject-suffix|sequence`.
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let id = b.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
        let name = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let subj = b.column(2).as_any().downcast_ref::<StringArray>().unwrap();
        let seq = b.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(b.column(4).null_count(), 0, "publish timestamps are set");
        for i in 0..b.num_rows() {
            let name = if name.is_null(i) {
                "NULL"
            } else {
                name.value(i)
            };
            let subj = subj.value(i).rsplit('.').next().unwrap();
            out.push(format!("{}|{name}|{subj}|{}", id.value(i), seq.value(i)));
        }
    }
    out
}

/// Reads a bounded reader to its end.
async fn read_all(r: &mut Box<dyn SourceReader>) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Some(b) = r.next_batch().await.unwrap() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a bounded reader must end"
        );
        if b.num_rows() > 0 {
            out.push(b);
        }
    }
    out
}

/// Reads from an unbounded reader until `n` rows arrived.
async fn read_n(r: &mut Box<dyn SourceReader>, n: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {got} of {n} rows arrived"
        );
        let b = r.next_batch().await.unwrap().expect("unbounded");
        got += b.num_rows();
        if b.num_rows() > 0 {
            out.push(b);
        }
    }
    assert_eq!(got, n, "more rows than expected");
    out
}

#[tokio::test]
async fn bounded_source_reads_every_message_with_metadata() {
    let f = fixture().await;
    f.publish(
        "a",
        &[
            r#"{"id": 1, "name": "x"}"#,
            "{\n  \"id\": 2,\n  \"name\": \"pretty\"\n}\n",
        ],
    )
    .await;
    f.publish("b", &[r#"{"id": 3}"#]).await;
    let t = f.table(">", &[("scan.bounded.mode", "latest-offset")]);
    let src = create_source(&t).unwrap();
    let mut r = src.create_reader(0, 1).unwrap();
    let got = rows(&read_all(&mut r).await);
    assert_eq!(got, vec!["1|x|a|1", "2|pretty|a|2", "3|NULL|b|3"]);
}

#[tokio::test]
async fn startup_modes_pick_the_first_sequence() {
    let f = fixture().await;
    f.publish("a", &[r#"{"id": 1}"#, r#"{"id": 2}"#, r#"{"id": 3}"#])
        .await;
    let bounded = ("scan.bounded.mode", "latest-offset");
    let read = |extra: Vec<(&'static str, String)>| {
        let mut o: Vec<(&str, &str)> = vec![bounded];
        o.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let t = f.table("a", &o);
        async move {
            let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
            rows(&read_all(&mut r).await)
        }
    };
    assert_eq!(
        read(vec![
            ("scan.startup.mode", "specific-offset".into()),
            ("scan.startup.specific-offset", "2".into())
        ])
        .await,
        vec!["2|NULL|a|2", "3|NULL|a|3"]
    );
    assert_eq!(
        read(vec![("scan.startup.mode", "latest-offset".into())]).await,
        Vec::<String>::new()
    );
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).timestamp_millis();
    assert_eq!(
        read(vec![
            ("scan.startup.mode", "timestamp".into()),
            ("scan.startup.timestamp-millis", future.to_string())
        ])
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        read(vec![
            ("scan.startup.mode", "timestamp".into()),
            ("scan.startup.timestamp-millis", "0".into())
        ])
        .await
        .len(),
        3
    );
    // Latest: what is published after the reader started, not before.
    let t = f.table("a", &[("scan.startup.mode", "latest-offset")]);
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let empty = r.next_batch().await.unwrap().unwrap();
    assert_eq!(empty.num_rows(), 0);
    f.publish("a", &[r#"{"id": 4}"#]).await;
    assert_eq!(rows(&read_n(&mut r, 1).await), vec!["4|NULL|a|4"]);
}

#[tokio::test]
async fn restore_from_positions_loses_and_repeats_nothing() {
    let f = fixture().await;
    let t = f.table("a", &[]);
    let src = create_source(&t).unwrap();
    let mut a = src.create_reader(0, 1).unwrap();
    f.publish("a", &[r#"{"id": 1}"#, r#"{"id": 2}"#, r#"{"id": 3}"#])
        .await;
    let before = rows(&read_n(&mut a, 3).await);
    let positions = a.snapshot_positions().expect("nats has positions");
    assert_eq!(positions.len(), 1);
    assert_eq!(
        positions[0].split,
        format!("{}/{}", f.stream, f.subject("a"))
    );
    // Read after the checkpoint, then "fail": these rows are not covered by it.
    f.publish("a", &[r#"{"id": 4}"#, r#"{"id": 5}"#]).await;
    let lost_with_a = rows(&read_n(&mut a, 2).await);
    drop(a);
    f.publish("a", &[r#"{"id": 6}"#]).await;
    // Restored at parallelism 2: the one split goes to exactly one subtask.
    let mut b0 = src.restore_reader(0, 2, &positions).unwrap();
    let mut b1 = src.restore_reader(1, 2, &positions).unwrap();
    assert!(
        b1.next_batch().await.unwrap().is_none(),
        "subtask 1 owns no split"
    );
    let after = rows(&read_n(&mut b0, 3).await);
    assert_eq!(before, vec!["1|NULL|a|1", "2|NULL|a|2", "3|NULL|a|3"]);
    assert_eq!(lost_with_a, vec!["4|NULL|a|4", "5|NULL|a|5"]);
    assert_eq!(after, vec!["4|NULL|a|4", "5|NULL|a|5", "6|NULL|a|6"]);
    // Nothing more arrives.
    let more = b0.next_batch().await.unwrap().unwrap();
    assert_eq!(more.num_rows(), 0);
}

#[tokio::test]
async fn several_subjects_are_splits_divided_among_subtasks() {
    let f = fixture().await;
    f.publish("a", &[r#"{"id": 1}"#]).await;
    f.publish("b", &[r#"{"id": 2}"#]).await;
    f.publish("c", &[r#"{"id": 3}"#]).await;
    let subjects = format!("{};{};{}", f.subject("a"), f.subject("b"), f.subject("c"));
    let mut t = f.table("a", &[("scan.bounded.mode", "latest-offset")]);
    t.options.insert("subject".into(), subjects);
    let src = create_source(&t).unwrap();
    let mut r0 = src.create_reader(0, 2).unwrap();
    let mut r1 = src.create_reader(1, 2).unwrap();
    // Subtask 0 reads two splits; which one answers first is up to the server.
    let mut first = rows(&read_all(&mut r0).await);
    first.sort();
    assert_eq!(first, vec!["1|NULL|a|1", "3|NULL|c|3"]);
    assert_eq!(rows(&read_all(&mut r1).await), vec!["2|NULL|b|2"]);
    let p0 = r0.snapshot_positions().unwrap();
    let p1 = r1.snapshot_positions().unwrap();
    assert_eq!(
        p0.len() + p1.len(),
        3,
        "one position per split, finished ones included"
    );
}

#[tokio::test]
async fn durable_consumer_is_acknowledged_on_checkpoint_complete() {
    let f = fixture().await;
    f.publish("a", &[r#"{"id": 1}"#, r#"{"id": 2}"#]).await;
    let name = unique("durable");
    let t = f.table("a", &[("scan.consumer.name", name.as_str())]);
    let src = create_source(&t).unwrap();
    let mut r = src.create_reader(0, 1).unwrap();
    read_n(&mut r, 2).await;
    let stream = f.js.get_stream(&f.stream).await.unwrap();
    let mut consumer: jetstream::consumer::PullConsumer = stream.get_consumer(&name).await.unwrap();
    assert_eq!(consumer.info().await.unwrap().ack_floor.stream_sequence, 0);
    r.snapshot_positions().unwrap();
    r.notify_checkpoint_complete(1).await.unwrap();
    // The ack is asynchronous on the server side; poll the consumer's state.
    let mut floor = 0;
    for _ in 0..50 {
        floor = consumer.info().await.unwrap().ack_floor.stream_sequence;
        if floor == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(floor, 2);
}

#[tokio::test]
async fn malformed_message_names_subject_and_sequence() {
    let f = fixture().await;
    f.publish("a", &[r#"{"id": 1}"#, r#"{"id": oops}"#, r#"{"id": 3}"#])
        .await;
    let t = f.table("a", &[("scan.bounded.mode", "latest-offset")]);
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let mut err = None;
    for _ in 0..100 {
        match r.next_batch().await {
            Err(e) => {
                err = Some(e.to_string());
                break;
            }
            Ok(None) => break,
            Ok(Some(_)) => {}
        }
    }
    let err = err.expect("a malformed message fails the source");
    assert!(
        err.contains(&format!("subject '{}'", f.subject("a"))),
        "{err}"
    );
    assert!(err.contains("sequence 2"), "{err}");
    assert!(err.contains(&f.stream), "{err}");
    assert!(err.contains("{\"id\": oops}"), "{err}");

    let t = f.table(
        "a",
        &[
            ("scan.bounded.mode", "latest-offset"),
            ("json.ignore-parse-errors", "true"),
        ],
    );
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let got = rows(&read_all(&mut r).await);
    assert_eq!(
        got,
        vec!["1|NULL|a|1", "3|NULL|a|3"],
        "metadata stays with its row"
    );
    assert_eq!(r.skipped_records(), 1);
}

#[tokio::test]
async fn unreachable_server_is_named() {
    let t = ConnectorTable {
        options: [
            ("connector", "nats"),
            ("servers", "nats://127.0.0.1:1"),
            ("stream", "NOPE"),
            ("subject", "nope.x"),
            ("format", "json"),
            ("connect.timeout", "2 s"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..table("events", schema(&[("id", DataType::Int32)]), &[], &[])
    };
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(20), r.next_batch())
        .await
        .expect("fails within the time limit")
        .expect_err("cannot connect")
        .to_string();
    assert!(err.contains("NATS"), "{err}");
    assert!(err.contains("nats://127.0.0.1:1"), "{err}");
    assert!(err.contains("events"), "{err}");

    let sink = create_sink(&t).unwrap();
    let mut op = sink.create(0, 1).unwrap();
    let b = StreamBatch::inserts(batch(
        &t.physical_schema,
        vec![Arc::new(Int32Array::from(vec![1])) as ArrayRef],
    ));
    let err = tokio::time::timeout(Duration::from_secs(20), op.process_batch(b, &mut ctx()))
        .await
        .expect("fails within the time limit")
        .expect_err("cannot connect")
        .to_string();
    assert!(err.contains("nats://127.0.0.1:1"), "{err}");
}

#[tokio::test]
async fn missing_stream_is_named() {
    let f = fixture().await;
    let mut t = f.table("a", &[]);
    t.options.insert("stream".into(), "NO_SUCH_STREAM_X".into());
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let err = r.next_batch().await.expect_err("no stream").to_string();
    assert!(err.contains("NO_SUCH_STREAM_X"), "{err}");
}

#[tokio::test]
async fn sink_publishes_one_json_message_per_row() {
    let f = fixture().await;
    let t = f.table("out", &[]);
    let sink = create_sink(&t).unwrap();
    let mut op = sink.create(0, 1).unwrap();
    let b = StreamBatch::inserts(batch(
        &t.physical_schema,
        vec![
            Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
            Arc::new(StringArray::from(vec![Some("a"), None])),
        ],
    ));
    let mut c = ctx();
    op.process_batch(b, &mut c).await.unwrap();
    op.finish(&mut c).await.unwrap();
    // Read back with the client.
    let stream = f.js.get_stream(&f.stream).await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: f.subject("out"),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(10), msgs.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        got.push(String::from_utf8(m.payload.to_vec()).unwrap());
    }
    assert_eq!(
        got,
        vec![r#"{"id":1,"name":"a"}"#, r#"{"id":2,"name":null}"#]
    );
}

#[tokio::test]
async fn avro_round_trip_through_the_sink_and_the_source() {
    let f = fixture().await;
    let avro = [("format", "avro")];
    let t = f.table("avro", &avro);
    let mut op = create_sink(&t).unwrap().create(0, 1).unwrap();
    let b = StreamBatch::inserts(batch(
        &t.physical_schema,
        vec![
            Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
            Arc::new(StringArray::from(vec![Some("line\nbreak"), None])),
        ],
    ));
    let mut c = ctx();
    op.process_batch(b, &mut c).await.unwrap();
    op.finish(&mut c).await.unwrap();
    // A message that is not an Avro datum of the schema.
    f.publish("avro", &["\u{1}"]).await;

    let t = f.table(
        "avro",
        &[("format", "avro"), ("scan.bounded.mode", "latest-offset")],
    );
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let mut err = None;
    loop {
        match r.next_batch().await {
            Err(e) => {
                err = Some(e.to_string());
                break;
            }
            Ok(None) => break,
            Ok(Some(_)) => {}
        }
    }
    let err = err.expect("the bad datum fails the source");
    assert!(err.contains("sequence 3"), "{err}");

    let t = f.table(
        "avro",
        &[
            ("format", "avro"),
            ("scan.bounded.mode", "latest-offset"),
            ("avro.ignore-parse-errors", "true"),
        ],
    );
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let got = read_all(&mut r).await;
    let names = got[0]
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(names.value(0), "line\nbreak");
    assert_eq!(rows(&got), vec!["1|line\nbreak|avro|1", "2|NULL|avro|2"]);
    assert_eq!(r.skipped_records(), 1);
}
