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

/// The values of `topic`: at least `n`, and then every one that comes until three polls in a
/// row return nothing (so duplicates show). Read by count: tansu's high-water mark is wrong after batched produces,
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
        match c.poll(Duration::from_millis(300)) {
            Some(m) => {
                let m = m.unwrap();
                out.push(String::from_utf8_lossy(m.payload().unwrap()).into_owned());
                extra_polls = 0;
            }
            None if out.len() >= n => extra_polls += 1,
            None => {}
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

/// Sends `(key, value)` records to partition 0 of `topic`, one per request (tansu's
/// high-water mark is wrong after batched produces). A `None` value is a tombstone.
fn produce(topic: &str, records: &[(Option<&str>, Option<&str>)]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let p: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", SERVERS)
            .set("linger.ms", "0")
            .set("batch.num.messages", "1")
            .create()
            .unwrap();
        for (k, v) in records {
            let mut r: FutureRecord<'_, str, str> = FutureRecord::to(topic).partition(0);
            if let Some(k) = k {
                r = r.key(*k);
            }
            if let Some(v) = v {
                r = r.payload(*v);
            }
            p.send(r, Duration::from_secs(10)).await.unwrap();
        }
    });
}

/// `stc run -p 1 --output json` of `script`: the job's output (or its error, as `Err`).
fn run_script(script: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stc"))
        .args(["run", "job.sql", "-p", "1", "--output", "json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The changelog printed by `run_script`, one `op [values]` string per row.
fn changelog(output: &str) -> Vec<String> {
    output
        .lines()
        .map(|l| {
            let j: serde_json::Value = serde_json::from_str(l).unwrap();
            let vals: Vec<String> = j["row"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.to_string())
                .collect();
            format!("{} [{}]", j["op"].as_str().unwrap(), vals.join(", "))
        })
        .collect()
}

/// An upsert topic read as a table: each key's latest value, tombstones deleting. The source
/// emits `+I` per value and `-D` per tombstone (key columns only); ChangelogNormalize, keyed
/// by the primary key, turns that into the full changelog Flink produces: `-U` of the stored
/// row before each `+U`, nothing for a repeated row or a tombstone of an unknown key, and
/// `-D` with the stored row's values. The query reads the columns in another order, so the
/// projection applies after the normalization.
#[test]
fn upsert_kafka_source_normalizes_updates_and_tombstones() {
    broker();
    let topic = unique("upsert");
    rt_create_topic(&topic);
    produce(
        &topic,
        &[
            (Some(r#"{"id":1}"#), Some(r#"{"id":1,"v":10}"#)),
            (Some(r#"{"id":2}"#), Some(r#"{"id":2,"v":20}"#)),
            (Some(r#"{"id":1}"#), Some(r#"{"id":1,"v":11}"#)),
            (Some(r#"{"id":1}"#), Some(r#"{"id":1,"v":11}"#)),
            (Some(r#"{"id":2}"#), None),
            (Some(r#"{"id":3}"#), None),
            (Some(r#"{"id":3}"#), Some(r#"{"id":3,"v":30}"#)),
        ],
    );
    let table = format!(
        "CREATE TABLE src (id INT, v INT, PRIMARY KEY (id) NOT ENFORCED) WITH (
            'connector' = 'upsert-kafka',
            'topic' = '{topic}',
            'properties.bootstrap.servers' = '{SERVERS}',
            'key.format' = 'json',
            'value.format' = 'json',
            'scan.bounded.mode' = 'latest-offset'
        );"
    );
    let out = run_script(&format!("{table} SELECT v, id FROM src;")).unwrap();
    assert_eq!(
        changelog(&out),
        [
            "+I [10, 1]",
            "+I [20, 2]",
            "-U [10, 1]",
            "+U [11, 1]",
            "-D [20, 2]",
            "+I [30, 3]"
        ]
    );
    // An aggregation over the table retracts what the updates and deletes take away.
    let out = run_script(&format!(
        "{table} SELECT COUNT(*) AS n, SUM(v) AS total FROM src;"
    ))
    .unwrap();
    assert_eq!(changelog(&out).last().unwrap(), "+U [2, 41]");
    // An append-only sink rejects it at planning, naming the node, as in Flink.
    let err = run_script(&format!(
        "{table} CREATE TABLE out (id INT, v INT) WITH (
            'connector' = 'filesystem', 'path' = 'out', 'format' = 'json'
        );
        INSERT INTO out SELECT id, v FROM src;"
    ))
    .unwrap_err();
    assert!(err.contains("ChangelogNormalize(key=[id])"), "{err}");
}

/// A tombstone without a key cannot address a row: the job fails naming the record, unless
/// the key format skips records it cannot use.
#[test]
fn upsert_kafka_tombstone_without_a_key_fails_or_is_skipped() {
    broker();
    let topic = unique("keyless");
    rt_create_topic(&topic);
    produce(
        &topic,
        &[
            (Some(r#"{"id":1}"#), Some(r#"{"id":1,"v":10}"#)),
            (None, None),
            (Some(r#"{"id":2}"#), Some(r#"{"id":2,"v":20}"#)),
        ],
    );
    let script = |extra: &str| {
        format!(
            "CREATE TABLE src (id INT, v INT, PRIMARY KEY (id) NOT ENFORCED) WITH (
                'connector' = 'upsert-kafka',
                'topic' = '{topic}',
                'properties.bootstrap.servers' = '{SERVERS}',
                'key.format' = 'json',
                'value.format' = 'json',
                'scan.bounded.mode' = 'latest-offset'{extra}
            );
            SELECT id, v FROM src;"
        )
    };
    let err = run_script(&script("")).unwrap_err();
    assert!(
        err.contains("has no key")
            && err.contains(&format!("kafka topic '{topic}' partition 0 offset 1")),
        "{err}"
    );
    let out = run_script(&script(",\n'key.json.ignore-parse-errors' = 'true'")).unwrap();
    assert_eq!(changelog(&out), ["+I [1, 10]", "+I [2, 20]"]);
}

/// Debezium JSON from a topic is a changelog: an update makes `-U` and `+U` rows of the same
/// message (both with its offset), a delete `-D`. Written back with `debezium-json`, each
/// change is one record: `+I`/`+U` as a create, `-U`/`-D` as a delete (Flink's encoding).
#[test]
fn debezium_json_changelog_through_kafka() {
    broker();
    let (input, output) = (unique("cdc"), unique("cdc-out"));
    rt_create_topic(&input);
    produce(
        &input,
        &[
            (
                None,
                Some(r#"{"before":null,"after":{"id":1,"name":"a","qty":5},"op":"c"}"#),
            ),
            (
                None,
                Some(r#"{"before":null,"after":{"id":2,"name":"b","qty":7},"op":"r"}"#),
            ),
            (
                None,
                Some(
                    r#"{"before":{"id":1,"name":"a","qty":5},"after":{"id":1,"name":"a","qty":6},"op":"u"}"#,
                ),
            ),
            (
                None,
                Some(r#"{"before":{"id":2,"name":"b","qty":7},"after":null,"op":"d"}"#),
            ),
        ],
    );
    let source = format!(
        "CREATE TABLE cdc (
            id INT, name STRING, qty INT,
            off BIGINT METADATA FROM 'offset' VIRTUAL
        ) WITH (
            'connector' = 'kafka',
            'topic' = '{input}',
            'properties.bootstrap.servers' = '{SERVERS}',
            'value.format' = 'debezium-json',
            'scan.startup.mode' = 'earliest-offset',
            'scan.bounded.mode' = 'latest-offset'
        );"
    );
    let out = run_script(&format!("{source} SELECT id, name, qty, off FROM cdc;")).unwrap();
    assert_eq!(
        changelog(&out),
        [
            r#"+I [1, "a", 5, 0]"#,
            r#"+I [2, "b", 7, 1]"#,
            r#"-U [1, "a", 5, 2]"#,
            r#"+U [1, "a", 6, 2]"#,
            r#"-D [2, "b", 7, 3]"#
        ]
    );
    rt_create_topic(&output);
    run_script(&format!(
        "{source}
        CREATE TABLE out (id INT, name STRING, qty INT) WITH (
            'connector' = 'kafka',
            'topic' = '{output}',
            'properties.bootstrap.servers' = '{SERVERS}',
            'format' = 'debezium-json'
        );
        INSERT INTO out SELECT id, name, qty FROM cdc;"
    ))
    .unwrap();
    assert_eq!(
        consume_values(&output, 1, 5),
        [
            r#"{"before":null,"after":{"id":1,"name":"a","qty":5},"op":"c"}"#,
            r#"{"before":null,"after":{"id":2,"name":"b","qty":7},"op":"c"}"#,
            r#"{"before":{"id":1,"name":"a","qty":5},"after":null,"op":"d"}"#,
            r#"{"before":null,"after":{"id":1,"name":"a","qty":6},"op":"c"}"#,
            r#"{"before":{"id":2,"name":"b","qty":7},"after":null,"op":"d"}"#,
        ]
    );
}

/// Metadata columns as in Flink: the record's timestamp (here set by the producer: CreateTime)
/// and its type, partition and offset; the reader fetches the timestamp of each message only
/// when the table declares one of the two, so a table with only `offset` is checked as well.
#[test]
fn kafka_metadata_columns_carry_the_record_timestamp() {
    broker();
    let topic = unique("meta");
    rt_create_topic(&topic);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let p: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", SERVERS)
            .create()
            .unwrap();
        for (i, ts) in [(1, 1_700_000_000_123_i64), (2, 1_700_000_060_000)] {
            let v = format!(r#"{{"id":{i}}}"#);
            let r: FutureRecord<'_, str, str> = FutureRecord::to(&topic)
                .partition(0)
                .payload(v.as_str())
                .timestamp(ts);
            p.send(r, Duration::from_secs(10)).await.unwrap();
        }
    });
    let table = |metadata: &str| {
        format!(
            "CREATE TABLE t (
                id INT, {metadata}
            ) WITH (
                'connector' = 'kafka',
                'topic' = '{topic}',
                'properties.bootstrap.servers' = '{SERVERS}',
                'format' = 'json',
                'scan.startup.mode' = 'earliest-offset',
                'scan.bounded.mode' = 'latest-offset'
            );"
        )
    };
    let out = run_script(&format!(
        "{} SELECT id, CAST(ts AS STRING), tt, part, off FROM t;",
        table(
            "ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
             tt STRING METADATA FROM 'timestamp-type' VIRTUAL,
             part INT METADATA FROM 'partition' VIRTUAL,
             off BIGINT METADATA FROM 'offset' VIRTUAL"
        )
    ))
    .unwrap();
    assert_eq!(
        changelog(&out),
        [
            r#"+I [1, "2023-11-14 22:13:20.123", "CreateTime", 0, 0]"#,
            r#"+I [2, "2023-11-14 22:14:20.000", "CreateTime", 0, 1]"#,
        ]
    );
    let out = run_script(&format!(
        "{} SELECT id, off FROM t;",
        table("off BIGINT METADATA FROM 'offset' VIRTUAL")
    ))
    .unwrap();
    assert_eq!(changelog(&out), ["+I [1, 0]", "+I [2, 1]"]);
}

fn rt_create_topic(topic: &str) {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(create_topic(topic, 1));
}

/// Avro values (the schema derived from the table, as Flink's `avro` format does) written by
/// one job and read by another; a value that is not Avro fails the reading job, naming it.
#[test]
fn avro_values_round_trip_through_kafka() {
    broker();
    let topic = unique("avro");
    rt_create_topic(&topic);
    // Read up to a given offset: the writing job produces in batches, after which tansu
    // reports a wrong high-water mark (a real Kafka's `latest-offset` would do).
    let table = |end: u32| {
        format!(
            "CREATE TABLE t (id BIGINT, name STRING, price DECIMAL(10, 2), ts TIMESTAMP(3)) WITH (
            'connector' = 'kafka',
            'topic' = '{topic}',
            'properties.bootstrap.servers' = '{SERVERS}',
            'key.format' = 'json',
            'key.fields' = 'id',
            'value.format' = 'avro',
            'scan.startup.mode' = 'earliest-offset',
            'scan.bounded.mode' = 'specific-offsets',
            'scan.bounded.specific-offsets' = 'partition:0,offset:{end}'
        );"
        )
    };
    run_script(&format!(
        "{} INSERT INTO t VALUES
            (1, 'apple', 1.50, TIMESTAMP '2024-01-01 00:00:01'),
            (2, CAST(NULL AS STRING), 20.10, TIMESTAMP '2024-01-01 00:00:02.345');",
        table(0)
    ))
    .unwrap();
    let out = run_script(&format!("{} SELECT id, name, price, ts FROM t;", table(2))).unwrap();
    assert_eq!(
        changelog(&out),
        [
            r#"+I [1, "apple", 1.5, "2024-01-01 00:00:01"]"#,
            r#"+I [2, null, 20.1, "2024-01-01 00:00:02.345"]"#
        ]
    );
    produce(&topic, &[(None, Some("not avro"))]);
    let err = run_script(&format!("{} SELECT id FROM t;", table(3))).unwrap_err();
    assert!(
        err.contains(&format!("kafka topic '{topic}' partition 0 offset 2"))
            && err.contains("avro.ignore-parse-errors"),
        "{err}"
    );
}

/// A file → Kafka job with an exactly-once sink and checkpoints every 100 ms, killed with
/// SIGKILL three times and resumed with `--resume`: the final run finishes, every row is in
/// the topic, and subtask 0's commit marker names a checkpoint.
///
/// This is the end-to-end path of the sink's recovery (the rows of uncommitted transactions
/// kept in checkpoint files, restored and written again; the transactional ids fenced by each
/// new process). That no row is written twice is shown by the connector tests through the
/// commit markers: tansu lets `read_committed` readers see aborted records, so here the topic
/// also holds the aborted attempts, and only "nothing lost" can be asserted. A real Kafka
/// would show each row exactly once.
#[test]
fn a_killed_exactly_once_kafka_job_resumes_without_losing_rows() {
    broker();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (topic, prefix) = (unique("eo"), unique("eo-tx"));
    rt.block_on(create_topic(&topic, 1));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let (files, per_file) = (20i64, 500i64);
    for f in 0..files {
        let rows: String = (0..per_file)
            .map(|i| format!("{},{}\n", f * per_file + i, i % 7))
            .collect();
        std::fs::write(input.join(format!("part-{f:03}.csv")), rows).unwrap();
    }
    std::fs::write(
        dir.path().join("job.sql"),
        format!(
            "CREATE TABLE src (id BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = 'input', 'format' = 'csv');
             CREATE TABLE out (id BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = '{topic}',
               'properties.bootstrap.servers' = '{SERVERS}', 'format' = 'csv',
               'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = '{prefix}');
             INSERT INTO out SELECT id, v FROM src;"
        ),
    )
    .unwrap();
    let ck = dir.path().join("ck");
    let loc = stc_runtime::checkpoint::storage::Location::parse(
        &ck.display().to_string(),
        &Default::default(),
    )
    .unwrap();
    let latest = || {
        // Before the first run the directory does not exist yet.
        stc_runtime::checkpoint::storage::Checkpoint::latest_in(&loc)
            .ok()
            .and_then(|(c, _)| c)
            .map(|c| c.meta.id)
    };
    let mut log = String::new();
    // Each kill comes some time after a new checkpoint completed, so each resume restores
    // one: a checkpoint's transaction may be committed or not when the kill comes.
    for (attempt, kill_after_ms) in [(0, Some(30)), (1, Some(90)), (2, Some(0)), (3, None)] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stc"));
        cmd.current_dir(dir.path())
            .args(["run", "job.sql", "-p", "1"])
            .args(["--set", "execution.checkpointing.interval=100 ms"])
            .arg("--set")
            .arg(format!("execution.checkpointing.dir={}", ck.display()))
            .args(["--set", "stc.debug.source-batch-delay=25 ms"])
            .args(["--set", "restart-strategy.type=none"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if attempt > 0 {
            cmd.arg("--resume");
        }
        let before = latest();
        let mut child = cmd.spawn().unwrap();
        if let Some(ms) = kill_after_ms {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while latest() == before {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no new checkpoint in 60 s"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(ms));
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        if kill_after_ms.is_none() {
            assert!(out.status.success(), "the final run failed:\n{log}");
        }
    }
    let n = (files * per_file) as usize;
    let values = consume_values(&topic, 1, n);
    let ids: std::collections::BTreeSet<i64> = values
        .iter()
        .map(|v| v.split(',').next().unwrap().parse().unwrap())
        .collect();
    let missing: Vec<i64> = (0..n as i64)
        .filter(|i| !ids.contains(i))
        .take(10)
        .collect();
    assert!(missing.is_empty(), "rows lost, e.g. ids {missing:?}\n{log}");

    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .set(
            "group.id",
            stc_connectors::kafka::sink::commit_marker_group(&prefix, 0),
        )
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(&topic, 0);
    let marker = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    assert!(
        matches!(marker.elements()[0].offset(), Offset::Offset(id) if id > 0),
        "no commit marker: {marker:?}"
    );
}
