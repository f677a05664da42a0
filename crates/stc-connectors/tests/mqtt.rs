//! The mqtt connector against the real Mosquitto of the machine (127.0.0.1:1883,
//! `.ci/services` starts it): a round trip through a wildcard subscription with metadata,
//! the sink with QoS 1 and retained messages, malformed messages with and without
//! `json.ignore-parse-errors`, and an unreachable broker. Every test uses its own topics.

mod common;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, BooleanArray, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field};
use common::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use stc_connectors::{ConnectorTable, create_sink, create_source};
use stc_runtime::{SourceReader, StreamBatch};

/// A test client with its event loop polled in the background; incoming publishes are sent
/// to the returned channel.
async fn client() -> (
    AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>,
) {
    let mut o = MqttOptions::new(unique("test"), "127.0.0.1", 1883);
    o.set_keep_alive(Duration::from_secs(10));
    let (c, mut el) = AsyncClient::new(o, 100);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let mut ready = Some(ready_tx);
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = tx.send(rumqttc::Publish::new("$suback", QoS::AtMostOnce, ""));
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p);
                }
                Ok(_) => {}
                Err(e) => panic!("Mosquitto at 127.0.0.1:1883 (run .ci/services): {e}"),
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .expect("Mosquitto at 127.0.0.1:1883 (run .ci/services)")
        .unwrap();
    (c, rx)
}

fn mqtt_table(topic: &str, extra: &[(&str, &str)]) -> ConnectorTable {
    let mut o = vec![
        ("connector", "mqtt"),
        ("server-uri", "tcp://127.0.0.1:1883"),
        ("topic", topic),
        ("format", "json"),
    ];
    o.extend_from_slice(extra);
    let mut t = table("readings", schema(&[("id", DataType::Int32)]), &[], &o);
    t.metadata = vec![
        ("topic".into(), Field::new("topic", DataType::Utf8, true)),
        (
            "retained".into(),
            Field::new("retained", DataType::Boolean, true),
        ),
    ];
    t
}

/// Rows as `id|topic suffix|retained`.
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let id = b.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
        let topic = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        let retained = b.column(2).as_any().downcast_ref::<BooleanArray>().unwrap();
        for i in 0..b.num_rows() {
            let id = if id.is_null(i) {
                "NULL".to_string()
            } else {
                id.value(i).to_string()
            };
            let suffix = topic.value(i).rsplit('/').next().unwrap();
            out.push(format!("{id}|{suffix}|{}", retained.value(i)));
        }
    }
    out
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

async fn publish(c: &AsyncClient, topic: &str, payloads: &[&str]) {
    for p in payloads {
        c.publish(topic, QoS::AtLeastOnce, false, p.as_bytes().to_vec())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn source_reads_a_wildcard_subscription() {
    let base = unique("stc");
    let t = mqtt_table(&format!("{base}/+"), &[]);
    let src = create_source(&t).unwrap();
    let mut r = src.create_reader(0, 2).unwrap();
    let mut other = src.create_reader(1, 2).unwrap();
    assert!(
        other.next_batch().await.unwrap().is_none(),
        "only subtask 0 subscribes"
    );
    // The first call connects and subscribes.
    assert_eq!(r.next_batch().await.unwrap().unwrap().num_rows(), 0);
    let (c, _rx) = client().await;
    publish(&c, &format!("{base}/a"), &[r#"{"id": 1}"#, r#"{"id": 2}"#]).await;
    publish(&c, &format!("{base}/b"), &["{\"id\":\n 3}"]).await;
    let got = rows(&read_n(&mut r, 3).await);
    assert_eq!(got, vec!["1|a|false", "2|a|false", "3|b|false"]);
    assert_eq!(
        r.snapshot_positions(),
        Some(vec![]),
        "MQTT has no positions"
    );
}

#[tokio::test]
async fn malformed_message_names_the_topic() {
    let base = unique("stc");
    let topic = format!("{base}/m");
    let (c, _rx) = client().await;

    let t = mqtt_table(&topic, &[]);
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    r.next_batch().await.unwrap();
    publish(&c, &topic, &["not json"]).await;
    let mut err = None;
    for _ in 0..100 {
        if let Err(e) = r.next_batch().await {
            err = Some(e.to_string());
            break;
        }
    }
    let err = err.expect("a malformed message fails the source");
    assert!(err.contains(&format!("MQTT topic '{topic}'")), "{err}");
    assert!(err.contains("not json"), "{err}");

    let t = mqtt_table(&topic, &[("json.ignore-parse-errors", "true")]);
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    r.next_batch().await.unwrap();
    publish(&c, &topic, &[r#"{"id": 1}"#, "not json", r#"{"id": 3}"#]).await;
    assert_eq!(
        rows(&read_n(&mut r, 2).await),
        vec!["1|m|false", "3|m|false"]
    );
    assert_eq!(r.skipped_records(), 1);
}

#[tokio::test]
async fn sink_publishes_with_qos_1_and_retain() {
    let base = unique("stc");
    let topic = format!("{base}/out");
    let (c, mut rx) = client().await;
    c.subscribe(topic.clone(), QoS::AtLeastOnce).await.unwrap();
    let suback = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(suback.topic, "$suback");

    let t = mqtt_table(&topic, &[("qos", "1"), ("sink.retain", "true")]);
    let mut op = create_sink(&t).unwrap().create(0, 1).unwrap();
    let b = StreamBatch::inserts(batch(
        &t.physical_schema,
        vec![Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef],
    ));
    let mut cx = ctx();
    op.process_batch(b, &mut cx).await.unwrap();
    op.finish(&mut cx).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let p = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.topic, topic);
        got.push(String::from_utf8(p.payload.to_vec()).unwrap());
    }
    assert_eq!(got, vec![r#"{"id":1}"#, r#"{"id":2}"#]);

    // The last message was retained: a new subscription (our source) gets it, marked so.
    let t = mqtt_table(&topic, &[]);
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    assert_eq!(rows(&read_n(&mut r, 1).await), vec!["2|out|true"]);
    // Clear the retained message.
    c.publish(topic, QoS::AtLeastOnce, true, Vec::<u8>::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_broker_is_named() {
    let t = mqtt_table(
        "stc/unreachable",
        &[
            ("server-uri", "tcp://127.0.0.1:1"),
            ("connect.timeout", "2 s"),
        ],
    );
    let mut r = create_source(&t).unwrap().create_reader(0, 1).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(20), r.next_batch())
        .await
        .expect("fails within the time limit")
        .expect_err("cannot connect")
        .to_string();
    assert!(err.contains("MQTT"), "{err}");
    assert!(err.contains("tcp://127.0.0.1:1"), "{err}");
    assert!(err.contains("stc/unreachable"), "{err}");

    let mut op = create_sink(&t).unwrap().create(0, 1).unwrap();
    let b = StreamBatch::inserts(batch(
        &t.physical_schema,
        vec![Arc::new(Int32Array::from(vec![1])) as ArrayRef],
    ));
    let err = tokio::time::timeout(Duration::from_secs(20), op.process_batch(b, &mut ctx()))
        .await
        .expect("fails within the time limit")
        .expect_err("cannot connect")
        .to_string();
    assert!(err.contains("tcp://127.0.0.1:1"), "{err}");
}
