//! Decode speed of the `json` format (what every Kafka, NATS, RabbitMQ or file source with
//! `'format' = 'json'` runs per record), in bytes of input per second on one core.
//!
//! Input: Nexmark-like bid events, one JSON object per line (~150 bytes: integers, a string,
//! a timestamp string and a nested-free layout), decoded in 1 MiB chunks into an Arrow batch
//! of the table's schema (`BIGINT`, `BIGINT`, `BIGINT`, `STRING`, `STRING`, `TIMESTAMP(3)`).
//!
//! Baseline in the same run: `serde_json::from_slice::<serde_json::Value>` per line — parsing
//! alone, building no columns and converting no types — the common way Rust code reads JSON.
//!
//! Run: `cargo bench -p stc-connectors --bench json_decode`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn input() -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut out = Vec::with_capacity(1 << 20);
    let channels = ["Google", "Facebook", "Baidu", "Apple", "channel-1234"];
    let mut i: u64 = 0;
    while out.len() < (1 << 20) {
        let ms = 1_000 + i * 7;
        out.extend_from_slice(
            format!(
                r#"{{"auction":{},"bidder":{},"price":{},"channel":"{}","url":"https://www.nexmark.com/item.htm?query=1&channel_id={}","dateTime":"2024-01-01 00:{:02}:{:02}.{:03}"}}"#,
                1000 + rng.random_range(0..10_000u64),
                2000 + rng.random_range(0..100_000u64),
                rng.random_range(1..100_000_000u64),
                channels[(i % 5) as usize],
                rng.random_range(0..1_000_000u64),
                (ms / 60_000) % 60,
                (ms / 1000) % 60,
                ms % 1000
            )
            .as_bytes(),
        );
        out.push(b'\n');
        i += 1;
    }
    out
}

fn bench(c: &mut Criterion) {
    let data = input();
    let schema = Arc::new(Schema::new(vec![
        Field::new("auction", DataType::Int64, true),
        Field::new("bidder", DataType::Int64, true),
        Field::new("price", DataType::Int64, true),
        Field::new("channel", DataType::Utf8, true),
        Field::new("url", DataType::Utf8, true),
        Field::new(
            "dateTime",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        ),
    ]));
    let mut g = c.benchmark_group("json_decode_1MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("stc json format → Arrow batch", |b| {
        let mut dec =
            stc_connectors::format::decoder("json", schema.clone(), &HashMap::new()).unwrap();
        b.iter(|| {
            let batch = dec.decode(&data, 1, "bench").unwrap().unwrap();
            assert!(batch.num_rows() > 1000);
            batch
        })
    });
    g.bench_function("baseline: serde_json::Value per line", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap();
                n += v.as_object().map_or(0, |o| o.len());
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
