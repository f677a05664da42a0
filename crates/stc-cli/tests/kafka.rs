//! `stc run` of a Kafka → TUMBLE → Kafka job against a real Kafka-protocol broker (tansu,
//! started by `tools/kafka-broker` on 127.0.0.1:9092; the test runs the script, which does
//! nothing when a broker already listens).
//!
//! JSON events go into a topic of their own; the job reads it up to its end
//! (`scan.bounded.mode` = `latest-offset`), counts and sums per user and one-minute window,
//! and writes JSON to a second topic, which the test reads back and compares with the counts
//! computed here. (tansu reports a wrong high-water mark after batched produces, so the test
//! producer sends one record per request; a real Kafka needs no such care.)

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

const SERVERS: &str = "127.0.0.1:9092";

fn broker() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/kafka-broker");
    let out = Command::new(script)
        .output()
        .expect("tools/kafka-broker runs");
    assert!(
        out.status.success(),
        "tools/kafka-broker failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .create()
        .unwrap();
    for r in admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap()
    {
        r.unwrap();
    }
}

/// The first `n` values of `topic` and any that follow within a few more polls (so
/// duplicates show). Read by count: tansu's high-water mark is wrong after batched produces,
/// as the sink's are (a real Kafka's is right).
fn consume_values(topic: &str, partitions: i32, n: usize) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .set("group.id", unique("check"))
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut extra_polls = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
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
            out.push(String::from_utf8_lossy(m.payload().unwrap()).into_owned());
        }
    }
    out
}

/// Runs the job at `parallelism` over an input topic of `partitions` partitions, each filled
/// in event-time order, one partition after the other. With more partitions than subtasks a
/// subtask reads several partitions that are far apart in event time; per-partition
/// watermarks (the subtask's watermark is the minimum over its partitions) keep the lagging
/// partitions' records from being dropped as late, so every count must be exact.
fn run_job(parallelism: usize, partitions: i32) {
    broker();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (input, output) = (unique("events"), unique("stats"));
    // 3 users, 240 events 1.5 s apart (6 one-minute windows), spread over the partitions.
    let mut expected: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    rt.block_on(async {
        create_topic(&input, partitions).await;
        create_topic(&output, 2).await;
        let p: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", SERVERS)
            .set("linger.ms", "0")
            .set("batch.num.messages", "1")
            .create()
            .unwrap();
        let order = (0..partitions as i64).flat_map(|p| (p..240).step_by(partitions as usize));
        for i in order {
            let user = i % 3;
            let ms = i * 1500;
            let (min, sec, milli) = (ms / 60_000, (ms / 1000) % 60, ms % 1000);
            let v = format!(
                r#"{{"user_id":{user},"amount":{},"ts":"2024-01-01 00:{min:02}:{sec:02}.{milli:03}"}}"#,
                i % 7
            );
            let e = expected
                .entry((user, format!("2024-01-01 00:{min:02}:00")))
                .or_default();
            e.0 += 1;
            e.1 += i % 7;
            let key = user.to_string();
            p.send(
                FutureRecord::to(&input)
                    .partition((i % partitions as i64) as i32)
                    .key(&key)
                    .payload(&v),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        }
    });
    let script = format!(
        "CREATE TABLE events (
            user_id BIGINT,
            amount INT,
            ts TIMESTAMP(3),
            WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{input}',
            'properties.bootstrap.servers' = '{SERVERS}',
            'properties.group.id' = '{input}-job',
            'format' = 'json',
            'scan.startup.mode' = 'earliest-offset',
            'scan.bounded.mode' = 'latest-offset'
        );
        CREATE TABLE stats (
            user_id BIGINT,
            window_start TIMESTAMP(3),
            window_end TIMESTAMP(3),
            cnt BIGINT,
            total INT
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{output}',
            'properties.bootstrap.servers' = '{SERVERS}',
            'key.format' = 'json',
            'key.fields' = 'user_id',
            'value.format' = 'json'
        );
        INSERT INTO stats
        SELECT user_id, window_start, window_end, COUNT(*), SUM(amount)
        FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
        GROUP BY user_id, window_start, window_end;"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", &parallelism.to_string()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stc run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    for v in consume_values(&output, 2, expected.len()) {
        let j: serde_json::Value = serde_json::from_str(&v).unwrap();
        let start = j["window_start"].as_str().unwrap();
        let end = j["window_end"].as_str().unwrap();
        assert_eq!(&start[..14], &end[..14], "one-minute windows: {v}");
        let prev = got.insert(
            (j["user_id"].as_i64().unwrap(), start[..19].to_string()),
            (j["cnt"].as_i64().unwrap(), j["total"].as_i64().unwrap()),
        );
        assert!(prev.is_none(), "window written twice: {v}");
    }
    assert_eq!(got, expected);
}

#[test]
fn kafka_tumble_kafka_round_trip_at_parallelism_1() {
    run_job(1, 1);
}

#[test]
fn per_partition_watermarks_make_no_lagging_partition_late() {
    run_job(1, 4);
}

#[test]
fn kafka_tumble_kafka_round_trip_at_parallelism_2() {
    run_job(2, 2);
}
