//! The redis connector against the real Redis of the machine: string (json, raw) and hash
//! lookups, cache expiry, an unreachable server, values that do not parse, and the sink.
//! Every test uses its own key prefix.

mod common;

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use common::*;
use stc_common::{Classified, ErrorDomain, RowKind};
use stc_connectors::{create_lookup, create_sink};
use stc_runtime::{LookupSource, StreamBatch};

async fn con() -> redis::aio::MultiplexedConnection {
    redis::Client::open("redis://127.0.0.1:6379/")
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("Redis at 127.0.0.1:6379 (run .ci/services)")
}

async fn cmd(c: &mut redis::aio::MultiplexedConnection, args: &[&str]) {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async::<()>(c).await.unwrap();
}

fn dim() -> arrow::datatypes::SchemaRef {
    schema(&[
        ("id", DataType::Int32),
        ("name", DataType::Utf8),
        ("score", DataType::Int64),
    ])
}

fn keys(ids: &[Option<i32>]) -> arrow::array::RecordBatch {
    batch(
        &schema(&[("id", DataType::Int32)]),
        vec![Arc::new(Int32Array::from(ids.to_vec())) as ArrayRef],
    )
}

async fn source(prefix: &str, extra: &[(&str, &str)]) -> Box<dyn LookupSource> {
    let mut o = vec![("connector", "redis"), ("key-prefix", prefix)];
    o.extend_from_slice(extra);
    let t = table("dim", dim(), &["id"], &o);
    let f = create_lookup(&t, &["id".to_string()]).unwrap();
    assert_eq!(f.key_columns(), vec!["id"]);
    f.create(0, 1).unwrap()
}

#[tokio::test]
async fn string_json_lookup_hits_misses_and_null_keys() {
    let mut c = con().await;
    let p = unique("stc_dim") + ":";
    cmd(
        &mut c,
        &[
            "SET",
            &format!("{p}1"),
            r#"{"id":1,"name":"one","score":10}"#,
        ],
    )
    .await;
    cmd(
        &mut c,
        &[
            "SET",
            &format!("{p}2"),
            r#"{"id":2,"name":null,"score":20}"#,
        ],
    )
    .await;
    let mut src = source(&p, &[]).await;
    let r = src
        .lookup(&keys(&[Some(1), Some(3), None, Some(2), Some(1)]))
        .await
        .unwrap();
    assert_eq!(
        result_lines(&r),
        vec!["0: 1|one|10", "3: 2|NULL|20", "4: 1|one|10"]
    );
}

#[tokio::test]
async fn raw_values_and_except_key() {
    let mut c = con().await;
    let p = unique("stc_raw") + ":";
    cmd(&mut c, &["SET", &format!("{p}a"), "Alpha"]).await;
    let s = schema(&[("code", DataType::Utf8), ("label", DataType::Utf8)]);
    let t = table(
        "labels",
        s.clone(),
        &["code"],
        &[
            ("connector", "redis"),
            ("key-prefix", &p),
            ("format", "raw"),
            ("value.fields-include", "EXCEPT_KEY"),
        ],
    );
    let mut src = create_lookup(&t, &["code".to_string()])
        .unwrap()
        .create(0, 1)
        .unwrap();
    let k = batch(
        &schema(&[("code", DataType::Utf8)]),
        vec![Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef],
    );
    assert_eq!(
        result_lines(&src.lookup(&k).await.unwrap()),
        vec!["0: a|Alpha"]
    );
}

#[tokio::test]
async fn hash_lookup_maps_fields_to_columns() {
    let mut c = con().await;
    let p = unique("stc_hash") + ":";
    cmd(
        &mut c,
        &["HSET", &format!("{p}1"), "name", "one", "score", "10"],
    )
    .await;
    cmd(&mut c, &["HSET", &format!("{p}2"), "name", "two"]).await;
    cmd(&mut c, &["HSET", &format!("{p}3"), "score", "not a number"]).await;
    let mut src = source(&p, &[("data-type", "hash")]).await;
    let r = src
        .lookup(&keys(&[Some(2), Some(1), Some(9)]))
        .await
        .unwrap();
    assert_eq!(result_lines(&r), vec!["0: 2|two|NULL", "1: 1|one|10"]);
    let e = src.lookup(&keys(&[Some(3)])).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("hash field 'score'") && msg.contains(&format!("{p}3")),
        "{msg}"
    );
    assert_eq!(e.class().domain, ErrorDomain::User);
}

#[tokio::test]
async fn malformed_json_value_names_the_key() {
    let mut c = con().await;
    let p = unique("stc_bad") + ":";
    cmd(&mut c, &["SET", &format!("{p}1"), "{not json"]).await;
    let mut src = source(&p, &[]).await;
    let msg = src.lookup(&keys(&[Some(1)])).await.unwrap_err().to_string();
    assert!(msg.contains(&format!("redis key '{p}1'")), "{msg}");
    // With ignore-parse-errors the bad value is no match (and counted by the decoder).
    let mut src = source(&p, &[("json.ignore-parse-errors", "true")]).await;
    assert_eq!(
        src.lookup(&keys(&[Some(1)])).await.unwrap().rows.num_rows(),
        0
    );
}

#[tokio::test]
async fn cache_hides_changes_until_expiry() {
    let mut c = con().await;
    let p = unique("stc_cache") + ":";
    cmd(&mut c, &["HSET", &format!("{p}1"), "name", "one"]).await;
    let mut src = source(
        &p,
        &[
            ("data-type", "hash"),
            ("lookup.cache", "PARTIAL"),
            ("lookup.partial-cache.max-rows", "10"),
            ("lookup.partial-cache.expire-after-access", "400 ms"),
        ],
    )
    .await;
    assert_eq!(
        result_lines(&src.lookup(&keys(&[Some(1), Some(2)])).await.unwrap()),
        vec!["0: 1|one|NULL"]
    );
    cmd(&mut c, &["HSET", &format!("{p}1"), "name", "uno"]).await;
    cmd(&mut c, &["HSET", &format!("{p}2"), "name", "dos"]).await;
    assert_eq!(
        result_lines(&src.lookup(&keys(&[Some(1), Some(2)])).await.unwrap()),
        vec!["0: 1|one|NULL"]
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        result_lines(&src.lookup(&keys(&[Some(1), Some(2)])).await.unwrap()),
        vec!["0: 1|uno|NULL", "1: 2|dos|NULL"]
    );
}

#[tokio::test]
async fn unreachable_server_is_retried_then_named() {
    let mut src = source(
        "x:",
        &[
            ("port", "1"),
            ("lookup.max-retries", "1"),
            ("connection.timeout", "300 ms"),
        ],
    )
    .await;
    let e = src.lookup(&keys(&[Some(5)])).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("redis 127.0.0.1:1/0 table 'dim'"), "{msg}");
    assert!(
        msg.contains("key (id=5)") && msg.contains("after 2 attempt(s)"),
        "{msg}"
    );
    assert_eq!(e.class().domain, ErrorDomain::External);
}

#[test]
fn bad_options_are_rejected() {
    /// (primary key, options, expected error text)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&[], &[], "needs a PRIMARY KEY"),
        (&["id"], &[("data-type", "list")], "'data-type'"),
        (&["id"], &[("format", "raw")], "format 'raw'"),
        (
            &["id"],
            &[("data-type", "hash"), ("format", "json")],
            "applies only to 'data-type' = 'string'",
        ),
        (&["id"], &[("json.no-such", "1")], "json.no-such"),
        (
            &["id"],
            &[("pool-size", "1")],
            "unsupported option 'pool-size'",
        ),
    ];
    for (pk, opts, want) in cases {
        let mut o = vec![("connector", "redis")];
        o.extend_from_slice(opts);
        let t = table("dim", dim(), pk, &o);
        let e = stc_connectors::validate(&t).unwrap_err().to_string();
        assert!(e.contains(want), "{opts:?}: {e}");
    }
    let t = table("dim", dim(), &["id"], &[("connector", "redis")]);
    let e = create_lookup(&t, &["name".to_string()])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("must match every primary key column (id)"),
        "{e}"
    );
}

fn out_rows(
    ids: &[i32],
    names: &[Option<&str>],
    scores: &[Option<i64>],
) -> arrow::array::RecordBatch {
    batch(
        &dim(),
        vec![
            Arc::new(Int32Array::from(ids.to_vec())) as ArrayRef,
            Arc::new(StringArray::from(names.to_vec())),
            Arc::new(Int64Array::from(scores.to_vec())),
        ],
    )
}

async fn get(c: &mut redis::aio::MultiplexedConnection, k: &str) -> Option<String> {
    redis::cmd("GET").arg(k).query_async(c).await.unwrap()
}

async fn hgetall(c: &mut redis::aio::MultiplexedConnection, k: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = redis::cmd("HGETALL").arg(k).query_async(c).await.unwrap();
    v.sort();
    v
}

#[tokio::test]
async fn string_sink_upserts_and_deletes() {
    let mut c = con().await;
    let p = unique("stc_out") + ":";
    let t = table(
        "out",
        dim(),
        &["id"],
        &[
            ("connector", "redis"),
            ("key-prefix", &p),
            ("sink.buffer-flush.max-rows", "2"),
        ],
    );
    let mut op = create_sink(&t).unwrap().create(0, 1).unwrap();
    let mut cx = ctx();
    op.process_batch(
        StreamBatch::inserts(out_rows(&[1], &[Some("one")], &[Some(1)])),
        &mut cx,
    )
    .await
    .unwrap();
    assert_eq!(get(&mut c, &format!("{p}1")).await, None, "buffered");
    let b = with_kinds(
        out_rows(
            &[2, 1, 1, 2],
            &[Some("two"), Some("one"), Some("uno"), Some("two")],
            &[None, Some(1), Some(11), None],
        ),
        &[
            RowKind::Insert,
            RowKind::UpdateBefore,
            RowKind::UpdateAfter,
            RowKind::Delete,
        ],
    );
    op.process_batch(b, &mut cx).await.unwrap();
    op.process_batch(
        StreamBatch::inserts(out_rows(&[3], &[Some("three")], &[None])),
        &mut cx,
    )
    .await
    .unwrap();
    op.finish(&mut cx).await.unwrap();
    assert_eq!(
        get(&mut c, &format!("{p}1")).await.as_deref(),
        Some(r#"{"id":1,"name":"uno","score":11}"#)
    );
    assert_eq!(get(&mut c, &format!("{p}2")).await, None);
    assert_eq!(
        get(&mut c, &format!("{p}3")).await.as_deref(),
        Some(r#"{"id":3,"name":"three","score":null}"#)
    );
    // What the sink wrote, a lookup reads back.
    let mut src = source(&p, &[]).await;
    assert_eq!(
        result_lines(&src.lookup(&keys(&[Some(1), Some(3)])).await.unwrap()),
        vec!["0: 1|uno|11", "1: 3|three|NULL"]
    );
}

#[tokio::test]
async fn hash_sink_writes_fields_and_drops_nulls() {
    let mut c = con().await;
    let p = unique("stc_hout") + ":";
    cmd(&mut c, &["HSET", &format!("{p}1"), "stale", "x"]).await;
    let t = table(
        "out",
        dim(),
        &["id"],
        &[
            ("connector", "redis"),
            ("key-prefix", &p),
            ("data-type", "hash"),
        ],
    );
    let mut op = create_sink(&t).unwrap().create(0, 1).unwrap();
    let mut cx = ctx();
    op.process_batch(
        StreamBatch::inserts(out_rows(&[1, 2], &[Some("one"), None], &[Some(7), Some(8)])),
        &mut cx,
    )
    .await
    .unwrap();
    op.finish(&mut cx).await.unwrap();
    assert_eq!(
        hgetall(&mut c, &format!("{p}1")).await,
        vec![("name".into(), "one".into()), ("score".into(), "7".into())]
    );
    assert_eq!(
        hgetall(&mut c, &format!("{p}2")).await,
        vec![("score".to_string(), "8".to_string())]
    );
    let mut src = source(&p, &[("data-type", "hash")]).await;
    assert_eq!(
        result_lines(&src.lookup(&keys(&[Some(1), Some(2)])).await.unwrap()),
        vec!["0: 1|one|7", "1: 2|NULL|8"]
    );
}

#[tokio::test]
async fn sink_rejects_null_keys() {
    let p = unique("stc_nullkey") + ":";
    let t = table(
        "out",
        dim(),
        &["id"],
        &[("connector", "redis"), ("key-prefix", &p)],
    );
    let mut op = create_sink(&t).unwrap().create(0, 1).unwrap();
    let mut cx = ctx();
    let b = batch(
        &dim(),
        vec![
            Arc::new(Int32Array::from(vec![None])) as ArrayRef,
            Arc::new(StringArray::from(vec![Some("x")])),
            Arc::new(Int64Array::from(vec![Some(1)])),
        ],
    );
    op.process_batch(StreamBatch::inserts(b), &mut cx)
        .await
        .unwrap();
    let e = op.finish(&mut cx).await.unwrap_err().to_string();
    assert!(e.contains("NULL primary key column (id)"), "{e}");
}
