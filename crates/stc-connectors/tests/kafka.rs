//! The kafka and upsert-kafka connectors against a real Kafka-protocol broker: `tansu`,
//! started by `tools/kafka-broker` on 127.0.0.1:9092 (the tests run it; it does nothing when
//! a broker already listens). Every test uses topics of its own, so they run concurrently.
//!
//! tansu's gaps shape a few tests (each says what a real Kafka would add): the high-water
//! mark it reports is wrong after batched produces, so the test producer sends one record
//! per request; `read_committed` consumers also see aborted records.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

use stc_common::RowKind;
use stc_connectors::ConnectorTable;
use stc_runtime::{
    Barrier, BarrierKind, OperatorContext, SourceReader, SplitPosition, StreamBatch, TaskMetrics,
};

const SERVERS: &str = "127.0.0.1:9092";

fn broker() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/kafka-broker");
        let out = std::process::Command::new(script)
            .output()
            .expect("tools/kafka-broker runs");
        assert!(
            out.status.success(),
            "tools/kafka-broker failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A topic name no other test (or earlier run) uses.
fn unique(name: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{name}-{}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

async fn create_topic(partitions: i32) -> String {
    create_named_topic(&unique("t"), partitions).await
}

async fn create_named_topic(name: &str, partitions: i32) -> String {
    broker();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .create()
        .unwrap();
    let res = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    for r in res {
        r.unwrap();
    }
    name.to_string()
}

/// A record to produce: partition, key, value, timestamp, headers.
struct Rec {
    partition: i32,
    key: Option<String>,
    value: Option<String>,
    timestamp: Option<i64>,
    headers: Vec<(&'static str, &'static str)>,
}

fn rec(partition: i32, value: &str) -> Rec {
    Rec {
        partition,
        key: None,
        value: Some(value.to_string()),
        timestamp: None,
        headers: vec![],
    }
}

/// Produces `recs` one request at a time (tansu reports a wrong high-water mark after a
/// batch of several records; a real Kafka does not need this).
async fn produce(topic: &str, recs: Vec<Rec>) {
    let p: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .set("linger.ms", "0")
        .set("batch.num.messages", "1")
        .create()
        .unwrap();
    for r in recs {
        let mut fr: FutureRecord<'_, String, String> =
            FutureRecord::to(topic).partition(r.partition);
        if let Some(k) = &r.key {
            fr = fr.key(k);
        }
        if let Some(v) = &r.value {
            fr = fr.payload(v);
        }
        if let Some(t) = r.timestamp {
            fr = fr.timestamp(t);
        }
        if !r.headers.is_empty() {
            let mut h = OwnedHeaders::new();
            for (k, v) in &r.headers {
                h = h.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
            fr = fr.headers(h);
        }
        p.send(fr, Duration::from_secs(10)).await.unwrap();
    }
}

/// The first `n` records of `topic` (partition, offset, key, value), and any that follow
/// within a few more polls (so duplicates show). Read by count, not up to the high-water
/// mark: tansu's is wrong after batched produces (a real Kafka's is not).
fn consume_n(
    topic: &str,
    partitions: i32,
    n: usize,
) -> Vec<(i32, i64, Option<String>, Option<String>)> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .set("group.id", unique("check"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    // Assigned, not subscribed: a group join takes half of session.timeout.ms on tansu.
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut extra_polls = 0;
    while out.len() < n || extra_polls < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} records in {topic}: {out:?}",
            out.len()
        );
        if out.len() >= n {
            extra_polls += 1;
        }
        if let Some(m) = c.poll(Duration::from_millis(300)) {
            let m = m.unwrap();
            out.push((
                m.partition(),
                m.offset(),
                m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                m.payload().map(|v| String::from_utf8_lossy(v).into_owned()),
            ));
        }
    }
    out.sort();
    out
}

fn schema(fields: Vec<Field>) -> Arc<Schema> {
    Arc::new(Schema::new(fields))
}

fn id_name() -> Vec<Field> {
    vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
    ]
}

fn table(
    physical: Vec<Field>,
    metadata: &[(&str, DataType)],
    opts: &[(&str, &str)],
) -> ConnectorTable {
    let meta: Vec<(String, Field)> = metadata
        .iter()
        .map(|(k, dt)| {
            (
                k.to_string(),
                Field::new(format!("m_{k}"), dt.clone(), true),
            )
        })
        .collect();
    let mut sink_fields = physical.clone();
    sink_fields.extend(meta.iter().map(|(_, f)| f.clone()));
    ConnectorTable {
        name: "t".into(),
        options: [
            ("properties.bootstrap.servers", SERVERS),
            ("properties.socket.timeout.ms", "10000"),
        ]
        .iter()
        .chain(opts)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        physical_schema: schema(physical),
        metadata: meta,
        sink_schema: schema(sink_fields),
        primary_key: vec![],
        partition_keys: vec![],
        time_zone: "UTC".into(),
    }
}

/// Rows of a batch in Flink's print form, without the row kind.
fn rows_of(b: &RecordBatch) -> Vec<String> {
    (0..b.num_rows())
        .map(|r| {
            let s = stc_connectors::text::format_row_print(b, r, RowKind::Insert);
            s[3..s.len() - 1].to_string()
        })
        .collect()
}

/// Reads a bounded reader to its end (or fails after a minute).
async fn read_to_end(r: &mut Box<dyn SourceReader>) -> Vec<String> {
    let mut out = Vec::new();
    let read = async {
        while let Some(b) = r.next_batch().await.unwrap() {
            out.extend(rows_of(&b));
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("a bounded kafka source ends");
    out.sort();
    out
}

fn json(id: i64, name: &str) -> String {
    format!(r#"{{"id":{id},"name":"{name}"}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_source_reads_every_partition_once_with_metadata() {
    let topic = create_topic(2).await;
    let mut recs = Vec::new();
    for i in 0..10 {
        let mut r = rec((i % 2) as i32, &json(i, &format!("n{i}")));
        r.timestamp = Some(1_000 + i);
        if i == 3 {
            r.headers = vec![("h", "v")];
        }
        recs.push(r);
    }
    produce(&topic, recs).await;
    let t = table(
        id_name(),
        &[
            ("partition", DataType::Int32),
            ("offset", DataType::Int64),
            (
                "timestamp",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            ),
            ("topic", DataType::Utf8),
            (
                "headers",
                DataType::Map(
                    Arc::new(Field::new(
                        "entries",
                        DataType::Struct(
                            vec![
                                Field::new("key", DataType::Utf8, false),
                                Field::new("value", DataType::Binary, true),
                            ]
                            .into(),
                        ),
                        false,
                    )),
                    false,
                ),
            ),
        ],
        &[
            ("connector", "kafka"),
            ("topic", &topic),
            ("format", "json"),
            ("scan.startup.mode", "earliest-offset"),
            ("scan.bounded.mode", "latest-offset"),
        ],
    );
    let src = stc_connectors::create_source(&t).unwrap();
    let mut all = Vec::new();
    for subtask in 0..2 {
        let mut r = src.create_reader(subtask, 2).unwrap();
        let rows = read_to_end(&mut r).await;
        // Flink's owner rule gives one partition to each of the two subtasks.
        assert_eq!(rows.len(), 5, "subtask {subtask}: {rows:?}");
        all.extend(rows);
    }
    all.sort();
    assert_eq!(all.len(), 10);
    let r3 = all.iter().find(|r| r.starts_with("3,")).unwrap();
    assert_eq!(
        r3,
        &format!("3, n3, 1, 1, 1970-01-01T00:00:01.003Z, {topic}, {{h=[118]}}"),
        "{all:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_modes() {
    let topic = create_topic(1).await;
    let recs = (0..10)
        .map(|i| {
            let mut r = rec(0, &json(i, "x"));
            r.timestamp = Some(10_000 + i * 1000);
            r
        })
        .collect();
    produce(&topic, recs).await;
    let ids = |rows: Vec<String>| -> Vec<i64> {
        let mut v: Vec<i64> = rows
            .iter()
            .map(|r| r.split(',').next().unwrap().parse().unwrap())
            .collect();
        v.sort();
        v
    };
    let read = |extra: Vec<(&'static str, String)>| {
        let topic = topic.clone();
        async move {
            let mut o: Vec<(&str, &str)> = vec![
                ("connector", "kafka"),
                ("topic", &topic),
                ("format", "json"),
                ("scan.bounded.mode", "latest-offset"),
            ];
            o.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
            let t = table(id_name(), &[], &o);
            let mut r = stc_connectors::create_source(&t)
                .unwrap()
                .create_reader(0, 1)
                .unwrap();
            read_to_end(&mut r).await
        }
    };
    let all: Vec<i64> = (0..10).collect();
    assert_eq!(
        ids(read(vec![("scan.startup.mode", "earliest-offset".into())]).await),
        all
    );
    // latest-offset up to latest-offset: nothing.
    assert!(
        read(vec![("scan.startup.mode", "latest-offset".into())])
            .await
            .is_empty()
    );
    assert_eq!(
        ids(read(vec![
            ("scan.startup.mode", "specific-offsets".into()),
            (
                "scan.startup.specific-offsets",
                "partition:0,offset:7".into()
            ),
        ])
        .await),
        vec![7, 8, 9]
    );
    // The `timestamp` modes ask the broker for the first offset at a timestamp (ListOffsets).
    // tansu answers offset 0 whatever the timestamp (checked: 5000, 15500 and 30000 all give
    // 0), so only that the mode runs is checked here; a real Kafka answers offset 6 for 15500
    // and the source would read ids 6..=9.
    assert_eq!(
        read(vec![
            ("scan.startup.mode", "timestamp".into()),
            ("scan.startup.timestamp-millis", "15500".into()),
        ])
        .await
        .len(),
        10
    );
    // Bounded by specific offsets (exclusive).
    assert_eq!(
        ids(read(vec![
            ("scan.startup.mode", "specific-offsets".into()),
            (
                "scan.startup.specific-offsets",
                "partition:0,offset:2".into()
            ),
            ("scan.bounded.mode", "specific-offsets".into()),
            (
                "scan.bounded.specific-offsets",
                "partition:0,offset:5".into()
            ),
        ])
        .await),
        vec![2, 3, 4]
    );
}

/// A reader commits its checkpointed positions to the group when the checkpoint completes;
/// `group-offsets` starts there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_offsets_start_where_a_completed_checkpoint_committed() {
    let topic = create_topic(1).await;
    produce(&topic, (0..10).map(|i| rec(0, &json(i, "x"))).collect()).await;
    let group = unique("g");
    let t = table(
        id_name(),
        &[],
        &[
            ("connector", "kafka"),
            ("topic", &topic),
            ("format", "json"),
            ("properties.group.id", &group),
            ("scan.startup.mode", "earliest-offset"),
            ("scan.bounded.mode", "specific-offsets"),
            ("scan.bounded.specific-offsets", "partition:0,offset:4"),
        ],
    );
    let mut r = stc_connectors::create_source(&t)
        .unwrap()
        .create_reader(0, 1)
        .unwrap();
    assert_eq!(read_to_end(&mut r).await.len(), 4);
    let pos = r.snapshot_positions().unwrap();
    assert_eq!(pos.len(), 1);
    assert_eq!(pos[0].split, format!("{topic}/0"));
    r.notify_checkpoint_complete(1).await.unwrap();
    // The commit is asynchronous: wait until the group shows it (bounded wait, not a timing
    // assertion).
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .set("group.id", &group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&topic, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = c
            .committed_offsets(tpl.clone(), Duration::from_secs(5))
            .unwrap();
        if got.find_partition(&topic, 0).unwrap().offset() == Offset::Offset(4) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "offset 4 never committed: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(r);
    let t2 = table(
        id_name(),
        &[],
        &[
            ("connector", "kafka"),
            ("topic", &topic),
            ("format", "json"),
            ("properties.group.id", &group),
            ("scan.startup.mode", "group-offsets"),
            ("scan.bounded.mode", "latest-offset"),
        ],
    );
    let mut r2 = stc_connectors::create_source(&t2)
        .unwrap()
        .create_reader(0, 1)
        .unwrap();
    let rows = read_to_end(&mut r2).await;
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(rows[0].starts_with("4,"), "{rows:?}");
}

/// Read part of a 3-partition topic at parallelism 2, snapshot, restore at parallelism 3 and
/// read on: every record exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_from_positions_at_another_parallelism_loses_and_duplicates_nothing() {
    let topic = create_topic(3).await;
    produce(
        &topic,
        (0..15)
            .map(|i| rec((i % 3) as i32, &json(i, "a")))
            .collect(),
    )
    .await;
    let t = table(
        id_name(),
        &[],
        &[
            ("connector", "kafka"),
            ("topic", &topic),
            ("format", "json"),
            ("scan.startup.mode", "earliest-offset"),
        ],
    );
    let src = stc_connectors::create_source(&t).unwrap();
    let mut seen: Vec<String> = Vec::new();
    let mut positions: Vec<SplitPosition> = Vec::new();
    let mut readers: Vec<Box<dyn SourceReader>> =
        (0..2).map(|s| src.create_reader(s, 2).unwrap()).collect();
    // Phase 1: read until the first 15 records are in, then 15 more arrive.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < 15 {
        assert!(
            std::time::Instant::now() < deadline,
            "phase 1 stuck at {seen:?}"
        );
        for r in readers.iter_mut() {
            seen.extend(rows_of(&r.next_batch().await.unwrap().unwrap()));
        }
    }
    produce(
        &topic,
        (15..30)
            .map(|i| rec((i % 3) as i32, &json(i, "b")))
            .collect(),
    )
    .await;
    // One more batch each, so the cut is wherever the readers happen to be.
    for r in readers.iter_mut() {
        seen.extend(rows_of(&r.next_batch().await.unwrap().unwrap()));
        positions.extend(r.snapshot_positions().unwrap());
    }
    drop(readers);
    let splits: std::collections::BTreeSet<&str> =
        positions.iter().map(|p| p.split.as_str()).collect();
    assert_eq!(
        splits.len(),
        3,
        "every partition is in the snapshot: {positions:?}"
    );
    // Phase 2: three readers restored from the positions.
    let mut readers: Vec<Box<dyn SourceReader>> = (0..3)
        .map(|s| src.restore_reader(s, 3, &positions).unwrap())
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < 30 {
        assert!(
            std::time::Instant::now() < deadline,
            "phase 2 stuck at {seen:?}"
        );
        for r in readers.iter_mut() {
            seen.extend(rows_of(&r.next_batch().await.unwrap().unwrap()));
        }
    }
    // A few more polls must not bring anything again.
    for _ in 0..3 {
        for r in readers.iter_mut() {
            seen.extend(rows_of(&r.next_batch().await.unwrap().unwrap()));
        }
    }
    seen.sort();
    let mut expected: Vec<String> = (0..30)
        .map(|i| format!("{i}, {}", if i < 15 { "a" } else { "b" }))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_records_fail_naming_topic_partition_offset_or_are_skipped_and_counted() {
    let topic = create_topic(1).await;
    produce(
        &topic,
        vec![
            rec(0, &json(1, "a")),
            rec(0, "not json"),
            rec(0, &json(3, "c")),
        ],
    )
    .await;
    let base = [
        ("connector", "kafka"),
        ("topic", topic.as_str()),
        ("format", "json"),
        ("scan.startup.mode", "earliest-offset"),
        ("scan.bounded.mode", "latest-offset"),
    ];
    let t = table(id_name(), &[], &base);
    let mut r = stc_connectors::create_source(&t)
        .unwrap()
        .create_reader(0, 1)
        .unwrap();
    let err = loop {
        match r.next_batch().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the malformed record was not reported"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(
        err.contains(&format!("topic '{topic}' partition 0 offset 1")) && err.contains("not json"),
        "{err}"
    );
    // With ignore-parse-errors the record is skipped and counted, and the metadata of the
    // other rows stays aligned with them.
    let mut o = base.to_vec();
    o.push(("json.ignore-parse-errors", "true"));
    let t = table(id_name(), &[("offset", DataType::Int64)], &o);
    let mut r = stc_connectors::create_source(&t)
        .unwrap()
        .create_reader(0, 1)
        .unwrap();
    let rows = read_to_end(&mut r).await;
    assert_eq!(rows, vec!["1, a, 0", "3, c, 2"]);
    assert_eq!(r.skipped_records(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_is_not_there_fails_naming_servers_and_topic() {
    let mut t = table(
        id_name(),
        &[],
        &[
            ("connector", "kafka"),
            ("topic", "nowhere"),
            ("format", "json"),
        ],
    );
    t.options
        .insert("properties.bootstrap.servers".into(), "127.0.0.1:1".into());
    t.options
        .insert("properties.socket.timeout.ms".into(), "3000".into());
    let mut r = stc_connectors::create_source(&t)
        .unwrap()
        .create_reader(0, 1)
        .unwrap();
    let res = tokio::time::timeout(Duration::from_secs(60), r.next_batch())
        .await
        .expect("fails within the time limit");
    let err = res.expect_err("no broker: an error").to_string();
    assert!(
        err.contains("127.0.0.1:1") && err.contains("'nowhere'"),
        "{err}"
    );
}

fn ctx() -> OperatorContext {
    OperatorContext::new(0, 1, Arc::new(TaskMetrics::new("sink", 0, false, true)))
}

fn batch(schema: &Arc<Schema>, ids: &[i64], names: &[&str]) -> RecordBatch {
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(arrow::array::Int64Array::from(ids.to_vec())),
            Arc::new(arrow::array::StringArray::from(names.to_vec())),
        ],
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_writes_keys_and_values_at_least_once() {
    let topic = create_topic(2).await;
    let t = table(
        id_name(),
        &[],
        &[
            ("connector", "kafka"),
            ("topic", &topic),
            ("key.format", "json"),
            ("key.fields", "id"),
            ("value.format", "json"),
            ("value.fields-include", "EXCEPT_KEY"),
            // One record per produce batch: tansu's high-water mark (where the bounded
            // source below stops) is wrong after batches of several (a real Kafka's is not).
            ("properties.batch.num.messages", "1"),
        ],
    );
    let sink = stc_connectors::create_sink(&t).unwrap();
    let mut op = sink.create(0, 1).unwrap();
    let mut c = ctx();
    let s = t.physical_schema.clone();
    op.process_batch(
        StreamBatch::inserts(batch(&s, &[1, 2, 3], &["a", "b", "c"])),
        &mut c,
    )
    .await
    .unwrap();
    let barrier = Barrier {
        id: 1,
        timestamp_ms: 0,
        kind: BarrierKind::Checkpoint,
        increment: Default::default(),
    };
    // At-least-once: the barrier waits for the acknowledgements.
    op.snapshot_state(&barrier, &mut c).await.unwrap();
    let got = consume_n(&topic, 2, 3);
    let mut kv: Vec<(String, String)> = got
        .iter()
        .map(|(_, _, k, v)| (k.clone().unwrap(), v.clone().unwrap()))
        .collect();
    kv.sort();
    assert_eq!(
        kv,
        vec![
            (r#"{"id":1}"#.to_string(), r#"{"name":"a"}"#.to_string()),
            (r#"{"id":2}"#.to_string(), r#"{"name":"b"}"#.to_string()),
            (r#"{"id":3}"#.to_string(), r#"{"name":"c"}"#.to_string()),
        ]
    );
    // Read back through the source: key and value make the row again.
    let mut o: Vec<(&str, &str)> = t
        .options
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    o.extend([
        ("scan.startup.mode", "earliest-offset"),
        ("scan.bounded.mode", "latest-offset"),
    ]);
    let t2 = table(id_name(), &[], &o);
    let mut rows = Vec::new();
    let src = stc_connectors::create_source(&t2).unwrap();
    for s in 0..2 {
        rows.extend(read_to_end(&mut src.create_reader(s, 2).unwrap()).await);
    }
    rows.sort();
    assert_eq!(rows, vec!["1, a", "2, b", "3, c"]);
    op.finish(&mut c).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_kafka_sink_writes_tombstones_for_deletes() {
    let topic = create_topic(1).await;
    let mut t = table(
        id_name(),
        &[],
        &[
            ("connector", "upsert-kafka"),
            ("topic", &topic),
            ("key.format", "json"),
            ("value.format", "json"),
        ],
    );
    t.primary_key = vec!["id".into()];
    assert!(stc_connectors::sink_accepts_updates(&t));
    // Read back, the table is an upsert changelog keyed by its primary key (the planner
    // normalizes it; see the stc-cli kafka tests).
    let src = stc_connectors::create_source(&t).unwrap();
    assert!(src.produces_changelog());
    assert_eq!(src.upsert_key(), Some(vec!["id".to_string()]));
    let mut op = stc_connectors::create_sink(&t)
        .unwrap()
        .create(0, 1)
        .unwrap();
    let mut c = ctx();
    let s = t.physical_schema.clone();
    let kinds = [
        RowKind::Insert,
        RowKind::UpdateBefore,
        RowKind::UpdateAfter,
        RowKind::Delete,
    ];
    let b = StreamBatch {
        batch: batch(&s, &[1, 1, 1, 2], &["a", "a", "b", "z"]),
        kinds: Some(Arc::new(arrow::array::Int8Array::from(
            kinds.iter().map(|k| *k as i8).collect::<Vec<_>>(),
        ))),
    };
    op.process_batch(b, &mut c).await.unwrap();
    op.finish(&mut c).await.unwrap();
    let got: Vec<(Option<String>, Option<String>)> = consume_n(&topic, 1, 3)
        .into_iter()
        .map(|(_, _, k, v)| (k, v))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Some(r#"{"id":1}"#.into()),
                Some(r#"{"id":1,"name":"a"}"#.into())
            ),
            (
                Some(r#"{"id":1}"#.into()),
                Some(r#"{"id":1,"name":"b"}"#.into())
            ),
            (Some(r#"{"id":2}"#.into()), None),
        ]
    );
}

/// Exactly-once: a transaction per checkpoint, committed when the checkpoint completes.
/// A real Kafka would also hide the records of the first transaction from `read_committed`
/// readers until `notify_checkpoint_complete`; tansu shows them (a known gap), so this test
/// checks only that the transactions commit and every record arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_sink_commits_a_transaction_per_checkpoint() {
    let topic = create_topic(1).await;
    let prefix = unique("tx");
    let t = table(
        id_name(),
        &[],
        &[
            ("connector", "kafka"),
            ("topic", &topic),
            ("format", "csv"),
            ("sink.delivery-guarantee", "exactly-once"),
            ("sink.transactional-id-prefix", &prefix),
        ],
    );
    let mut op = stc_connectors::create_sink(&t)
        .unwrap()
        .create(0, 1)
        .unwrap();
    let mut c = ctx();
    let s = t.physical_schema.clone();
    op.process_batch(
        StreamBatch::inserts(batch(&s, &[1, 2], &["a", "b,c"])),
        &mut c,
    )
    .await
    .unwrap();
    let barrier = Barrier {
        id: 1,
        timestamp_ms: 0,
        kind: BarrierKind::Checkpoint,
        increment: Default::default(),
    };
    op.snapshot_state(&barrier, &mut c).await.unwrap();
    op.process_batch(StreamBatch::inserts(batch(&s, &[3], &["d"])), &mut c)
        .await
        .unwrap();
    op.notify_checkpoint_complete(1, &mut c).await.unwrap();
    op.finish(&mut c).await.unwrap();
    let values: Vec<String> = consume_n(&topic, 1, 3)
        .into_iter()
        .filter_map(|(_, _, _, v)| v)
        .collect();
    assert_eq!(values, vec!["1,a", "2,\"b,c\"", "3,d"]);
}

fn exactly_once_table(topic: &str, prefix: &str, guarantee: &str) -> ConnectorTable {
    table(
        id_name(),
        &[],
        &[
            ("connector", "kafka"),
            ("topic", topic),
            ("format", "csv"),
            ("sink.delivery-guarantee", guarantee),
            ("sink.transactional-id-prefix", prefix),
        ],
    )
}

/// The exactly-once sink's commit marker of subtask `writer`: the checkpoint id of the last
/// transaction it committed (an offset committed in its transactions).
fn commit_marker(prefix: &str, writer: usize, topic: &str) -> Option<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .set(
            "group.id",
            stc_connectors::kafka::sink::commit_marker_group(prefix, writer),
        )
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    match got.elements()[0].offset() {
        Offset::Offset(n) => Some(n),
        _ => None,
    }
}

fn barrier(id: u64) -> Barrier {
    Barrier {
        id,
        timestamp_ms: 0,
        kind: BarrierKind::Checkpoint,
        increment: Default::default(),
    }
}

/// A sink subtask of `t` that wrote `rows` (id, name) and snapshotted checkpoint 1: the
/// operator (its transaction flushed, not committed) and the checkpoint's state.
async fn checkpointed_sink(
    t: &ConnectorTable,
    subtask: usize,
    parallelism: usize,
    rows: (&[i64], &[&str]),
) -> (Box<dyn stc_runtime::Operator>, stc_runtime::OperatorState) {
    let mut c = ctx();
    let mut op = stc_connectors::create_sink(t)
        .unwrap()
        .create(subtask, parallelism)
        .unwrap();
    let b = batch(&t.physical_schema, rows.0, rows.1);
    op.process_batch(StreamBatch::inserts(b), &mut c)
        .await
        .unwrap();
    let state = op.snapshot_state(&barrier(1), &mut c).await.unwrap();
    (op, state.expect("an exactly-once sink has state"))
}

/// The values in `topic` (one partition): at least `n`, and any that follow.
fn values_of(topic: &str, n: usize) -> Vec<String> {
    consume_n(topic, 1, n)
        .into_iter()
        .filter_map(|(_, _, _, v)| v)
        .collect()
}

/// Checkpoint 1 completed, then the process died before its transaction was committed. The
/// restored sink writes that transaction's rows again, in a transaction that also commits
/// checkpoint 1 as the marker; later transactions move the marker on.
///
/// tansu shows `read_committed` readers the aborted first attempt too (a known gap), so the
/// topic holds `1,a 2,b` twice here; a real Kafka shows only the committed second copy. What
/// this test proves on tansu: the rows are written again, once, and the marker says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_checkpoints_transaction_lost_in_a_crash_is_written_again_on_restore() {
    let topic = create_topic(1).await;
    let prefix = unique("tx");
    let t = exactly_once_table(&topic, &prefix, "exactly-once");
    let (a, state) = checkpointed_sink(&t, 0, 1, (&[1, 2], &["a", "b"])).await;
    drop(a); // dies before notify_checkpoint_complete(1)
    assert_eq!(commit_marker(&prefix, 0, &topic), None);

    let mut c = ctx();
    let mut b = stc_connectors::create_sink(&t)
        .unwrap()
        .create(0, 1)
        .unwrap();
    b.restore_state(state).await.unwrap();
    assert_eq!(commit_marker(&prefix, 0, &topic), Some(1));
    let more = batch(&t.physical_schema, &[3], &["c"]);
    b.process_batch(StreamBatch::inserts(more), &mut c)
        .await
        .unwrap();
    b.snapshot_state(&barrier(2), &mut c).await.unwrap();
    b.notify_checkpoint_complete(2, &mut c).await.unwrap();
    assert_eq!(commit_marker(&prefix, 0, &topic), Some(2));
    b.finish(&mut c).await.unwrap();
    assert_eq!(
        values_of(&topic, 5),
        vec!["1,a", "2,b", "1,a", "2,b", "3,c"]
    );
}

/// A transaction committed before the crash is not written again on restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_transaction_is_not_written_again_on_restore() {
    let topic = create_topic(1).await;
    let prefix = unique("tx");
    let t = exactly_once_table(&topic, &prefix, "exactly-once");
    let mut c = ctx();
    let (mut a, state) = checkpointed_sink(&t, 0, 1, (&[1, 2], &["a", "b"])).await;
    a.notify_checkpoint_complete(1, &mut c).await.unwrap();
    drop(a);
    let mut b = stc_connectors::create_sink(&t)
        .unwrap()
        .create(0, 1)
        .unwrap();
    b.restore_state(state).await.unwrap();
    b.finish(&mut c).await.unwrap();
    assert_eq!(commit_marker(&prefix, 0, &topic), Some(1));
    assert_eq!(values_of(&topic, 2), vec!["1,a", "2,b"]);
}

/// The final snapshot after the end of input (barrier `u64::MAX`, taken once `finish` has
/// committed everything) restores without writing anything or moving the marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_of_the_final_snapshot_writes_nothing_and_keeps_the_marker() {
    let topic = create_topic(1).await;
    let prefix = unique("tx");
    let t = exactly_once_table(&topic, &prefix, "exactly-once");
    let mut c = ctx();
    let (mut a, _) = checkpointed_sink(&t, 0, 1, (&[1], &["a"])).await;
    a.notify_checkpoint_complete(1, &mut c).await.unwrap();
    a.finish(&mut c).await.unwrap();
    let last = a.snapshot_state(&barrier(u64::MAX), &mut c).await.unwrap();
    drop(a);
    let mut b = stc_connectors::create_sink(&t)
        .unwrap()
        .create(0, 1)
        .unwrap();
    b.restore_state(last.unwrap()).await.unwrap();
    b.finish(&mut c).await.unwrap();
    assert_eq!(commit_marker(&prefix, 0, &topic), Some(1));
    assert_eq!(values_of(&topic, 1), vec!["1,a"]);
}

/// Two subtasks checkpoint; subtask 0 commits, subtask 1 dies first. Restored at parallelism
/// 1, the one new subtask recovers both old ones: only subtask 1's rows are written again
/// (tansu also shows its aborted first attempt, as above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_at_another_parallelism_recovers_every_old_subtasks_transactions() {
    let topic = create_topic(1).await;
    let prefix = unique("tx");
    let t = exactly_once_table(&topic, &prefix, "exactly-once");
    let mut c = ctx();
    let mut states = Vec::new();
    for (subtask, id, name) in [(0, 1, "a"), (1, 2, "b")] {
        let (mut op, state) = checkpointed_sink(&t, subtask, 2, (&[id], &[name])).await;
        states.push(state);
        if subtask == 0 {
            op.notify_checkpoint_complete(1, &mut c).await.unwrap();
        }
    }
    // What the runtime hands every new subtask: each shared table of every old subtask.
    let shared = (0..2)
        .map(|i| {
            let parts: Vec<RecordBatch> = states.iter().map(|st| st.shared[i].clone()).collect();
            arrow::compute::concat_batches(&parts[0].schema(), &parts).unwrap()
        })
        .collect();
    let mut b = stc_connectors::create_sink(&t)
        .unwrap()
        .create(0, 1)
        .unwrap();
    b.restore_state(stc_runtime::OperatorState {
        keyed_part: Default::default(),
        keyed: vec![],
        shared,
    })
    .await
    .unwrap();
    b.finish(&mut c).await.unwrap();
    assert_eq!(commit_marker(&prefix, 0, &topic), Some(1));
    assert_eq!(commit_marker(&prefix, 1, &topic), Some(1));
    let mut values = values_of(&topic, 3);
    values.sort();
    assert_eq!(values, vec!["1,a", "2,b", "2,b"]);
}

/// Rows of transactions that may not have been committed cannot be dropped by restoring into
/// a sink without transactions: the restore fails and says how to restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_uncommitted_transactions_into_an_at_least_once_sink_fails() {
    let topic = create_topic(1).await;
    let prefix = unique("tx");
    let t = exactly_once_table(&topic, &prefix, "exactly-once");
    let (_a, state) = checkpointed_sink(&t, 0, 1, (&[1], &["a"])).await;
    let t2 = exactly_once_table(&topic, &prefix, "at-least-once");
    let mut b = stc_connectors::create_sink(&t2)
        .unwrap()
        .create(0, 1)
        .unwrap();
    let err = b.restore_state(state).await.unwrap_err().to_string();
    assert!(
        err.contains("1 rows of Kafka transactions that may not have been committed")
            && err.contains("'sink.delivery-guarantee' = 'exactly-once'"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_format_and_topic_pattern() {
    let base = unique("raw");
    let a = create_named_topic(&format!("{base}-a"), 1).await;
    let b = create_named_topic(&format!("{base}-b"), 1).await;
    produce(&a, vec![rec(0, "line one\nline two")]).await;
    produce(&b, vec![rec(0, "{not json}")]).await;
    let pattern = format!("{base}-.*");
    let t = table(
        vec![Field::new("v", DataType::Utf8, true)],
        &[("topic", DataType::Utf8)],
        &[
            ("connector", "kafka"),
            ("topic-pattern", &pattern),
            ("format", "raw"),
            ("scan.startup.mode", "earliest-offset"),
            ("scan.bounded.mode", "latest-offset"),
        ],
    );
    let mut r = stc_connectors::create_source(&t)
        .unwrap()
        .create_reader(0, 1)
        .unwrap();
    let rows = read_to_end(&mut r).await;
    assert_eq!(
        rows,
        vec![
            format!("line one\nline two, {a}"),
            format!("{{not json}}, {b}")
        ]
    );
}

/// An unbounded source with `scan.topic-partition-discovery.interval` picks up the partitions
/// of a topic created while it runs (matching its `topic-pattern`) and reads them from their
/// beginning. (Partitions added to an existing topic are found the same way; tansu does not
/// support adding partitions, so a new topic stands in for them here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_partitions_are_discovered_and_read_from_the_beginning() {
    let base = unique("disc");
    let first = create_named_topic(&format!("{base}-a"), 1).await;
    produce(&first, vec![rec(0, &json(1, "a")), rec(0, &json(2, "b"))]).await;
    let pattern = format!("{base}-.*");
    let t = table(
        id_name(),
        &[("topic", DataType::Utf8)],
        &[
            ("connector", "kafka"),
            ("topic-pattern", &pattern),
            ("format", "json"),
            ("scan.startup.mode", "latest-offset"),
            ("scan.topic-partition-discovery.interval", "100 ms"),
        ],
    );
    let mut r = stc_connectors::create_source(&t)
        .unwrap()
        .create_reader(0, 1)
        .unwrap();
    // Started at the latest offset: the first two records are not read.
    assert_eq!(rows_of(&r.next_batch().await.unwrap().unwrap()).len(), 0);
    produce(&first, vec![rec(0, &json(3, "c"))]).await;
    let second = create_named_topic(&format!("{base}-b"), 1).await;
    produce(&second, vec![rec(0, &json(4, "d")), rec(0, &json(5, "e"))]).await;
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < 3 {
        assert!(std::time::Instant::now() < deadline, "stuck at {seen:?}");
        seen.extend(rows_of(&r.next_batch().await.unwrap().unwrap()));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            format!("3, c, {first}"),
            format!("4, d, {second}"),
            format!("5, e, {second}")
        ]
    );
}
