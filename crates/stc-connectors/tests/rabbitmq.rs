//! The rabbitmq connector against the real RabbitMQ of the machine (127.0.0.1:5672,
//! guest/guest; `.ci/services` starts it): a round trip with metadata, acknowledgement on
//! checkpoint completion and redelivery of what no checkpoint covered (at-least-once),
//! malformed messages with and without `json.ignore-parse-errors`, the sink with publisher
//! confirms, and an unreachable broker. Every test uses its own queue.

mod common;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field};
use common::*;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use stc_connectors::{ConnectorTable, create_sink, create_source};
use stc_runtime::{SourceReader, StreamBatch};

const URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

struct Fixture {
    _conn: Connection,
    ch: Channel,
    queue: String,
}

async fn fixture() -> Fixture {
    let conn = Connection::connect(URI, ConnectionProperties::default())
        .await
        .expect("RabbitMQ at 127.0.0.1:5672 (run .ci/services)");
    let ch = conn.create_channel().await.unwrap();
    let queue = unique("q");
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    Fixture {
        _conn: conn,
        ch,
        queue,
    }
}

impl Fixture {
    async fn publish(&self, payloads: &[&str]) {
        for p in payloads {
            self.ch
                .basic_publish(
                    "".into(),
                    self.queue.as_str().into(),
                    BasicPublishOptions::default(),
                    p.as_bytes(),
                    BasicProperties::default().with_message_id(format!("m-{p}").into()),
                )
                .await
                .unwrap();
        }
    }

    fn table(&self, extra: &[(&str, &str)]) -> ConnectorTable {
        let mut o = vec![
            ("connector", "rabbitmq"),
            ("uri", URI),
            ("queue", self.queue.as_str()),
            ("format", "json"),
        ];
        o.extend_from_slice(extra);
        let mut t = table("orders", schema(&[("id", DataType::Int32)]), &[], &o);
        t.metadata = vec![
            ("routing-key".into(), Field::new("rk", DataType::Utf8, true)),
            (
                "delivery-tag".into(),
                Field::new("tag", DataType::Int64, true),
            ),
            (
                "redelivered".into(),
                Field::new("re", DataType::Boolean, true),
            ),
        ];
        t
    }

    async fn cleanup(&self) {
        let _ = self
            .ch
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
}

/// Rows as `id|routing key|redelivered`, plus the delivery tags.
fn rows(batches: &[RecordBatch]) -> (Vec<String>, Vec<i64>) {
    let (mut out, mut tags) = (Vec::new(), Vec::new());
    for b in batches {
        let id = b.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
        let rk = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let tag = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
        let re = b.column(3).as_any().downcast_ref::<BooleanArray>().unwrap();
        for i in 0..b.num_rows() {
            let id = if id.is_null(i) {
                "NULL".to_string()
            } else {
                id.value(i).to_string()
            };
            out.push(format!("{id}|{}|{}", rk.value(i).len(), re.value(i)));
            tags.push(tag.value(i));
        }
    }
    (out, tags)
}

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

/// Nothing more arrives for a while (the reader's poll returns empty batches).
async fn assert_quiet(r: &mut Box<dyn SourceReader>) {
    for _ in 0..5 {
        let b = r.next_batch().await.unwrap().unwrap();
        assert_eq!(b.num_rows(), 0, "unexpected rows");
    }
}

#[tokio::test]
async fn source_reads_messages_with_metadata() {
    let f = fixture().await;
    f.publish(&[r#"{"id": 1}"#, r#"{"id": 2}"#]).await;
    let t = f.table(&[]);
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let (got, tags) = rows(&read_n(&mut r, 2).await);
    let rk = f.queue.len();
    assert_eq!(got, vec![format!("1|{rk}|false"), format!("2|{rk}|false")]);
    assert_eq!(tags, vec![1, 2]);
    f.cleanup().await;
}

#[tokio::test]
async fn unacknowledged_messages_are_redelivered_after_a_failure() {
    let f = fixture().await;
    let t = f.table(&[("scan.prefetch-count", "100")]);
    let src = create_source(&t).unwrap();
    let mut a = src.create_reader(0, 1).unwrap();
    f.publish(&[r#"{"id": 1}"#, r#"{"id": 2}"#]).await;
    let (first, _) = rows(&read_n(&mut a, 2).await);
    let positions = a.snapshot_positions().unwrap();
    a.notify_checkpoint_complete(1).await.unwrap();
    // Read past the checkpoint, snapshot again, but the checkpoint never completes.
    f.publish(&[r#"{"id": 3}"#, r#"{"id": 4}"#]).await;
    let (second, _) = rows(&read_n(&mut a, 2).await);
    a.snapshot_positions().unwrap();
    drop(a); // the job fails: the connection closes
    let mut b = src.restore_reader(0, 1, &positions).unwrap();
    let (again, _) = rows(&read_n(&mut b, 2).await);
    let rk = f.queue.len();
    assert_eq!(
        first,
        vec![format!("1|{rk}|false"), format!("2|{rk}|false")]
    );
    assert_eq!(
        second,
        vec![format!("3|{rk}|false"), format!("4|{rk}|false")]
    );
    // What the completed checkpoint covered is gone; the rest comes again, marked.
    assert_eq!(again, vec![format!("3|{rk}|true"), format!("4|{rk}|true")]);
    assert_quiet(&mut b).await;
    f.cleanup().await;
}

#[tokio::test]
async fn malformed_message_names_queue_and_delivery_tag() {
    let f = fixture().await;
    f.publish(&[r#"{"id": 1}"#, r#"{"id": "x"}"#, r#"{"id": 3}"#])
        .await;
    let t = f.table(&[]);
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let mut err = None;
    for _ in 0..100 {
        if let Err(e) = r.next_batch().await {
            err = Some(e.to_string());
            break;
        }
    }
    let err = err.expect("a malformed message fails the source");
    assert!(err.contains(&format!("queue '{}'", f.queue)), "{err}");
    assert!(err.contains("delivery tag 2"), "{err}");
    drop(r);

    // The failed reader acknowledged nothing: all three come again.
    let t = f.table(&[("json.ignore-parse-errors", "true")]);
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let (got, tags) = rows(&read_n(&mut r, 2).await);
    let rk = f.queue.len();
    assert_eq!(got, vec![format!("1|{rk}|true"), format!("3|{rk}|true")]);
    assert_eq!(tags, vec![1, 3], "metadata stays with its row");
    assert_eq!(r.skipped_records(), 1);
    f.cleanup().await;
}

#[tokio::test]
async fn sink_publishes_with_confirms() {
    let f = fixture().await;
    let t = f.table(&[]);
    let mut op = create_sink(&t).unwrap().create(0, 1).unwrap();
    let b = StreamBatch::inserts(batch(
        &t.physical_schema,
        vec![Arc::new(Int32Array::from(vec![Some(7), None])) as ArrayRef],
    ));
    let mut c = ctx();
    op.process_batch(b, &mut c).await.unwrap();
    op.finish(&mut c).await.unwrap();
    let mut consumer =
        f.ch.basic_consume(
            f.queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let d = tokio::time::timeout(Duration::from_secs(10), consumer.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        got.push(String::from_utf8(d.data.clone()).unwrap());
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(got, vec![r#"{"id":7}"#, r#"{"id":null}"#]);
    f.cleanup().await;
}

#[tokio::test]
async fn unreachable_broker_is_named() {
    let t = table(
        "orders",
        schema(&[("id", DataType::Int32)]),
        &[],
        &[
            ("connector", "rabbitmq"),
            ("uri", "amqp://guest:secret@127.0.0.1:1/%2f"),
            ("queue", "q_unreachable"),
            ("format", "json"),
            ("connect.timeout", "2 s"),
        ],
    );
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(20), r.next_batch())
        .await
        .expect("fails within the time limit")
        .expect_err("cannot connect")
        .to_string();
    assert!(err.contains("RabbitMQ"), "{err}");
    assert!(err.contains("amqp://127.0.0.1:1"), "{err}");
    assert!(!err.contains("secret"), "the password is not shown: {err}");
    assert!(err.contains("orders"), "{err}");
}

#[tokio::test]
async fn auto_ack_mode_consumes_on_delivery() {
    let f = fixture().await;
    f.publish(&[r#"{"id": 1}"#]).await;
    let t = f.table(&[("scan.ack-mode", "auto")]);
    let src = create_source(&t).unwrap();
    let mut a = src.create_reader(0, 1).unwrap();
    read_n(&mut a, 1).await;
    drop(a);
    // The connection closes in the background; wait until the broker has seen it go.
    for _ in 0..100 {
        let q =
            f.ch.queue_declare(
                f.queue.as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        if q.consumer_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing is redelivered: the message was acknowledged when it was sent.
    let mut b = src.create_reader(0, 1).unwrap();
    assert_quiet(&mut b).await;
    f.publish(&[r#"{"id": 2}"#]).await;
    let rk = f.queue.len();
    assert_eq!(
        rows(&read_n(&mut b, 1).await).0,
        vec![format!("2|{rk}|false")]
    );
    f.cleanup().await;
}
