//! Kafka → 1-minute TUMBLE → Kafka, JSON both ways: events per second per core of `stc run`
//! at parallelism 1 and 2, against the test broker (tansu, started by `tools/kafka-broker`).
//!
//! The input topic (one partition per subtask) is filled by this program with N bid events
//! (~190 bytes of JSON each, event time 2 ms apart, 1 000 auctions), counted per partition,
//! so the job reads exactly up to those offsets (`scan.bounded.mode` = `specific-offsets`:
//! tansu reports a wrong high-water mark after batched produces, so `latest-offset` cannot be
//! used here). The job counts and sums per auction and minute and writes JSON to a second
//! topic; the benchmark checks that the window counts add up to N.
//!
//! Baseline in the same run: the same query over the same events read from a JSON file
//! (`filesystem` source), written to the same kind of Kafka topic, so the ratio shows what
//! the Kafka source costs over reading the bytes from disk.
//!
//! Per core = events / CPU seconds (user + system) of the `stc` process; the broker runs on
//! the same machine and its CPU is not counted.
//!
//! Run: `cargo bench -p stc-cli --bench kafka_pipeline` (`STC_BENCH_EVENTS`, default
//! 1 000 000; `STC_BENCH_ROUNDS`, default 3, alternating Kafka and file runs; medians).

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

const SERVERS: &str = "127.0.0.1:9092";

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    )
}

fn create_topic(rt: &tokio::runtime::Runtime, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .create()
        .unwrap();
    rt.block_on(async {
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
    });
}

/// Event `i` as a JSON line (no newline).
fn event(i: u64) -> String {
    let ms = i * 2;
    format!(
        r#"{{"auction":{},"bidder":{},"price":{},"channel":"channel-{}","url":"https://www.nexmark.com/item.htm?query=1&id={}","dateTime":"2024-01-01 {:02}:{:02}:{:02}.{:03}"}}"#,
        1000 + i % 1000,
        (i * 7919) % 100_000,
        (i * 31) % 10_000,
        i % 5,
        i,
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}

/// Fills `topic` (partition `p` gets events `p, p + parts, …`, so each partition is in
/// event-time order) and returns how many records each partition holds.
fn fill(topic: &str, parts: i32, n: u64) -> Vec<u64> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let mut counts = vec![0u64; parts as usize];
    for i in 0..n {
        let p = (i % parts as u64) as i32;
        let v = event(i);
        let mut rec = BaseRecord::<(), String>::to(topic).partition(p).payload(&v);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        counts[p as usize] += 1;
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    counts
}

fn query(source: &str, output: &str) -> String {
    format!(
        "CREATE TABLE bids (
            auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
            `dateTime` TIMESTAMP(3),
            WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND
        ) WITH ({source});
        CREATE TABLE stats (
            auction BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3),
            cnt BIGINT, total BIGINT
        ) WITH (
            'connector' = 'kafka', 'topic' = '{output}',
            'properties.bootstrap.servers' = '{SERVERS}', 'format' = 'json'
        );
        INSERT INTO stats
        SELECT auction, window_start, window_end, COUNT(*), SUM(price)
        FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(`dateTime`), INTERVAL '1' MINUTE))
        GROUP BY auction, window_start, window_end;"
    )
}

/// Runs the script at `p`; returns (wall, cpu) seconds. The CPU time is what bash's `times`
/// reports for its waited-for child (no unsafe `getrusage` here, no `time` package needed).
fn run(script: &str, p: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    let t = Instant::now();
    let out = Command::new("bash")
        .args([
            "-c",
            r#""$0" run job.sql -p "$1" >/dev/null || exit 1; times"#,
            env!("CARGO_BIN_EXE_stc"),
            &p.to_string(),
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "stc run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `times`: the shell's user and system time, then its children's ("0m1.250s 0m0.080s").
    let times = String::from_utf8(out.stdout).unwrap();
    let children = times.lines().nth(1).expect("times prints two lines");
    let secs = |v: &str| -> f64 {
        let (m, s) = v.trim_end_matches('s').split_once('m').unwrap();
        m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap()
    };
    let cpu = children.split_whitespace().map(secs).sum();
    (wall, cpu)
}

/// The sum of `cnt` over the first `records` values of the 2-partition topic `topic`.
fn count_events(topic: &str, records: usize) -> u64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", SERVERS)
        .set("group.id", unique("bench-check"))
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let (mut seen, mut total) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen < records && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(500)) {
            let v: serde_json::Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            total += v["cnt"].as_u64().unwrap();
            seen += 1;
        }
    }
    total
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("STC_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = std::env::var("STC_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let broker = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tools/kafka-broker"
    ))
    .status()
    .unwrap();
    assert!(broker.success(), "tools/kafka-broker failed");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    // The file baseline at parallelism p: p files split like the topic's partitions (a file
    // is read by one subtask, in order, as a partition is).
    let mut bytes = 0;
    for p in [1u64, 2] {
        let dir = data.path().join(format!("p{p}"));
        std::fs::create_dir(&dir).unwrap();
        for part in 0..p {
            let path = dir.join(format!("bids-{part}.json"));
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            for i in (part..n).step_by(p as usize) {
                writeln!(f, "{}", event(i)).unwrap();
            }
            drop(f);
            if p == 1 {
                bytes = std::fs::metadata(&path).unwrap().len();
            }
        }
    }
    // (auction, minute) windows of the events: how many result records a run writes.
    let windows: std::collections::HashSet<(u64, u64)> =
        (0..n).map(|i| (i % 1000, i * 2 / 60_000)).collect();
    println!(
        "kafka_pipeline: {n} events, {:.0} MB of JSON, {rounds} alternating rounds, medians",
        bytes as f64 / 1e6
    );
    for p in [1usize, 2] {
        let input = unique("bench-bids");
        create_topic(&rt, &input, p as i32);
        let t = Instant::now();
        let counts = fill(&input, p as i32, n);
        eprintln!(
            "filled {input} in {:.1} s: {counts:?}",
            t.elapsed().as_secs_f64()
        );
        let offsets = counts
            .iter()
            .enumerate()
            .map(|(i, c)| format!("partition:{i},offset:{c}"))
            .collect::<Vec<_>>()
            .join(";");
        let kafka_source = format!(
            "'connector' = 'kafka', 'topic' = '{input}',
             'properties.bootstrap.servers' = '{SERVERS}', 'format' = 'json',
             'scan.startup.mode' = 'earliest-offset',
             'scan.bounded.mode' = 'specific-offsets',
             'scan.bounded.specific-offsets' = '{offsets}'"
        );
        let file_source = format!(
            "'connector' = 'filesystem', 'path' = '{}', 'format' = 'json'",
            data.path().join(format!("p{p}")).display()
        );
        let (mut kafka, mut files) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let out = unique("bench-stats");
            create_topic(&rt, &out, 2);
            kafka.push(run(&query(&kafka_source, &out), p));
            if round == 0 {
                let counted = count_events(&out, windows.len());
                assert_eq!(
                    counted, n,
                    "the windows of {out} count {counted} events, not {n}"
                );
            }
            let out = unique("bench-stats");
            create_topic(&rt, &out, 2);
            files.push(run(&query(&file_source, &out), p));
        }
        let report = |what: &str, runs: &[(f64, f64)]| {
            let wall = median(runs.iter().map(|r| r.0).collect());
            let cpu = median(runs.iter().map(|r| r.1).collect());
            println!(
                "  p={p} {what:<22} wall {wall:6.2} s  cpu {cpu:6.2} s  {:>9.0} ev/s  {:>9.0} ev/s/core",
                n as f64 / wall,
                n as f64 / cpu
            );
            n as f64 / cpu
        };
        let k = report("kafka -> tumble -> kafka", &kafka);
        let f = report("file  -> tumble -> kafka", &files);
        println!(
            "  p={p} kafka source per-core speed / file source: {:.2}",
            k / f
        );
    }
}
