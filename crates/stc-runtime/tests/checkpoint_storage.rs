//! The checkpoint storage format on both kinds of location: a local directory and an S3
//! bucket (moto's S3 server, started by `tools/s3-server` on 127.0.0.1:9000; the test runs it,
//! and it does nothing when a server already listens). Each check runs on both, so the two
//! publishing protocols (rename of a local in-progress directory; `_metadata` written last
//! on S3) are held to the same contract: rescale by key group, damaged checkpoints skipped
//! for the previous one, old checkpoints pruned.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use stc_runtime::checkpoint::location::{Location, S3_ACCESS_KEY, S3_ENDPOINT, S3_SECRET_KEY};
use stc_runtime::checkpoint::storage::{
    Checkpoint, FORMAT_NAME, FORMAT_VERSION, FileMeta, Metadata, NodeMeta, Part, PendingDir,
    SHARED_DIR, SourceMeta, prune, split_meta, write_table,
};
use stc_runtime::checkpoint::{KEY_GROUP_COLUMN, OperatorState, SplitPosition};

fn s3_server() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/s3-server");
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .expect("tools/s3-server runs");
        assert!(
            out.status.success(),
            "tools/s3-server failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

fn s3_conf(endpoint: &str) -> BTreeMap<String, String> {
    [
        (S3_ENDPOINT, endpoint),
        (S3_ACCESS_KEY, "test"),
        (S3_SECRET_KEY, "test"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A fresh prefix in the test bucket, reached with Flink's `s3.*` keys.
fn s3_location(test: &str) -> Location {
    s3_server();
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Location::parse(
        &format!("s3://stc-test/{test}-{nonce:x}"),
        &s3_conf("http://127.0.0.1:9000"),
    )
    .unwrap()
}

fn keyed_batch(rows: &[(u32, i64)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(KEY_GROUP_COLUMN, DataType::UInt32, false),
        Field::new("v", DataType::Int64, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        ],
    )
    .unwrap()
}

/// Writes checkpoint `id`: two subtasks of one operator over 8 key groups (0..4 → subtask 0,
/// 4..8 → subtask 1) and one source split with a binary position.
fn write(dir: &Location, id: u64, rows: &[(u32, i64)]) -> Location {
    let pending = PendingDir::create(dir, &format!("chk-{id}")).unwrap();
    let s0: Vec<_> = rows.iter().copied().filter(|r| r.0 < 4).collect();
    let s1: Vec<_> = rows.iter().copied().filter(|r| r.0 >= 4).collect();
    let files = vec![
        write_table(
            &pending.tmp,
            (0, 0, 0),
            Part::Keyed,
            0,
            &keyed_batch(&s0),
            None,
        )
        .unwrap(),
        write_table(
            &pending.tmp,
            (0, 0, 1),
            Part::Keyed,
            0,
            &keyed_batch(&s1),
            None,
        )
        .unwrap(),
    ];
    publish(
        id,
        pending,
        2,
        files,
        vec![SourceMeta {
            node: 0,
            subtask: 0,
            watermark: Some(5),
            splits: vec![split_meta(&SplitPosition {
                split: "a".into(),
                position: vec![0xff, 0x00],
            })],
        }],
    )
}

fn values(s: &OperatorState) -> Vec<i64> {
    let mut v: Vec<i64> = s.keyed[0]
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .values()
        .to_vec();
    v.sort();
    v
}

fn keyed_state_is_redistributed_by_key_group_on_rescale(dir: &Location) {
    let rows: Vec<(u32, i64)> = (0..8).map(|k| (k, k as i64 * 10)).collect();
    let p = write(dir, 1, &rows);
    assert_eq!(p, dir.join("chk-1"));
    let c = Checkpoint::open(&p).unwrap();
    // Same parallelism: subtask 1 gets key groups 4..8.
    assert_eq!(
        values(&c.operator_state(0, 0, 1, 2).unwrap()),
        vec![40, 50, 60, 70]
    );
    // Parallelism 3 over 8 key groups: kg*3/8 → subtask 1 owns 3, 4, 5.
    assert_eq!(
        values(&c.operator_state(0, 0, 1, 3).unwrap()),
        vec![30, 40, 50]
    );
    // Parallelism 1 owns everything.
    assert_eq!(values(&c.operator_state(0, 0, 0, 1).unwrap()).len(), 8);
    assert_eq!(
        c.source_positions(0).unwrap()[0].position,
        vec![0xff, 0x00],
        "binary positions survive the JSON metadata"
    );
    // The metadata file names the checkpoint as well as its directory does.
    assert_eq!(Checkpoint::open(&p.join("_metadata")).unwrap().meta.id, 1);
}

fn a_damaged_checkpoint_is_skipped_for_the_previous_one(dir: &Location) {
    write(dir, 1, &[(0, 1)]);
    let p2 = write(dir, 2, &[(0, 2)]);
    let name = "n0-o0-s0-keyed0.arrow";
    let mut bytes = p2.get(name).unwrap().unwrap().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    p2.put(name, bytes).unwrap();
    let (c, skipped) = Checkpoint::latest_in(dir).unwrap();
    assert_eq!(c.unwrap().meta.id, 1);
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].contains("corrupted"), "{}", skipped[0]);
    let err = Checkpoint::open(&p2).unwrap_err().to_string();
    assert!(err.contains(name) && err.contains("checksum"), "{err}");
    // A missing file is reported by name.
    p2.delete(name).unwrap();
    let err = Checkpoint::open(&p2).unwrap_err().to_string();
    assert!(err.contains(name) && err.contains("missing"), "{err}");
    // Without its metadata (a half-copied directory) it is not a checkpoint: reported, not
    // a panic.
    p2.delete("_metadata").unwrap();
    let err = Checkpoint::open(&p2).unwrap_err().to_string();
    assert!(err.contains("not a complete checkpoint"), "{err}");
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn prune_keeps_the_newest_and_removes_abandoned_ones(dir: &Location) {
    for id in 1..=4 {
        write(dir, id, &[(0, 1)]);
    }
    // Checkpoint 5 is being written right now.
    let current = PendingDir::create(dir, "chk-5").unwrap();
    current
        .tmp
        .put("n0-o0-s0-keyed0.arrow", vec![1, 2, 3])
        .unwrap();
    prune(dir, 2, std::slice::from_ref(&current.tmp));
    let names = sorted(dir.list().unwrap());
    if dir.as_local().is_some() {
        // Sorted, the in-progress directory (a dot name) comes first.
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names[0].starts_with(".chk-5.inprogress-"), "{names:?}");
        assert_eq!(names[1..], ["chk-3", "chk-4"]);
        // Not being written any more: removed.
        prune(dir, 2, &[]);
        assert_eq!(sorted(dir.list().unwrap()), ["chk-3", "chk-4"]);
    } else {
        // chk-5 has no metadata yet: not a checkpoint, and kept while it is written.
        assert_eq!(names, ["chk-3", "chk-4", "chk-5"]);
        assert_eq!(Checkpoint::latest_in(dir).unwrap().0.unwrap().meta.id, 4);
        // An incomplete one older than the newest complete one is abandoned: removed.
        let stale = PendingDir::create(dir, "chk-2").unwrap();
        stale.tmp.put("x.arrow", vec![0]).unwrap();
        prune(dir, 2, &[]);
        assert_eq!(sorted(dir.list().unwrap()), ["chk-3", "chk-4", "chk-5"]);
        // Writing an id again (after a restore from an older checkpoint) first deletes what
        // is there, metadata first, so old and new files never pass for one checkpoint.
        let again = PendingDir::create(dir, "chk-4").unwrap();
        assert!(again.tmp.list().unwrap().is_empty());
        assert_eq!(Checkpoint::latest_in(dir).unwrap().0.unwrap().meta.id, 3);
    }
}

/// Publishes checkpoint `id` of one operator at `parallelism` (8 key groups) listing `files`.
fn publish(
    id: u64,
    pending: PendingDir,
    parallelism: usize,
    files: Vec<FileMeta>,
    sources: Vec<SourceMeta>,
) -> Location {
    let meta = Metadata {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        engine: "test".into(),
        id,
        kind: "checkpoint".into(),
        timestamp_ms: 0,
        max_parallelism: 8,
        nodes: vec![NodeMeta {
            name: "n".into(),
            parallelism,
            operators: vec!["op".into()],
            source: None,
        }],
        files,
        sources,
    };
    pending.complete(&meta).unwrap()
}

/// Incremental checkpoints: a checkpoint lists a base and the changes after it, both under
/// `shared/`; a restore reads them together (also at another parallelism), a damaged shared
/// file makes the checkpoint unusable, and pruning deletes shared files once no retained
/// checkpoint lists them (but not those of a checkpoint newer than every retained one).
fn shared_files_are_restored_together_and_pruned_once_unlisted(dir: &Location) {
    let shared = dir.join(SHARED_DIR);
    shared.create().unwrap();
    let id = (0, 0, 0);
    let table = |rows: &[(u32, i64)], tag: &str| {
        write_table(&shared, id, Part::Keyed, 0, &keyed_batch(rows), Some(tag)).unwrap()
    };
    let base = table(&[(0, 10), (5, 50)], "1-aa");
    let p1 = PendingDir::create(dir, "chk-1").unwrap();
    publish(1, p1, 1, vec![base.clone()], Vec::new());
    let delta = table(&[(1, 20)], "2-bb");
    let p2 = PendingDir::create(dir, "chk-2").unwrap();
    let c2 = publish(2, p2, 1, vec![base.clone(), delta.clone()], Vec::new());
    // Written by a checkpoint that failed, and by one still being written.
    table(&[(2, 0)], "2-cc");
    table(&[(3, 0)], "9-dd");

    let c = Checkpoint::open(&c2).unwrap();
    assert_eq!(
        values(&c.operator_state(0, 0, 0, 1).unwrap()),
        vec![10, 20, 50]
    );
    assert_eq!(values(&c.operator_state(0, 0, 1, 2).unwrap()), vec![50]);

    prune(dir, 1, &[]);
    assert_eq!(sorted(dir.list().unwrap()), ["chk-2", SHARED_DIR]);
    let kept = sorted(shared.list().unwrap());
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(
        kept.contains(&base.path) && kept.contains(&delta.path),
        "{kept:?}"
    );
    assert!(kept.iter().any(|n| n.starts_with("9-dd-")), "{kept:?}");

    // A damaged shared file: the checkpoint is skipped, the file named.
    let mut bytes = shared.get(&delta.path).unwrap().unwrap().to_vec();
    bytes[0] ^= 0x55;
    shared.put(&delta.path, bytes).unwrap();
    let err = Checkpoint::open(&c2).unwrap_err().to_string();
    assert!(
        err.contains(&format!("{SHARED_DIR}/{}", delta.path)) && err.contains("checksum"),
        "{err}"
    );

    // A complete checkpoint 3: once 2 is pruned, nothing lists the chain any more.
    let p3 = PendingDir::create(dir, "chk-3").unwrap();
    let own = write_table(&p3.tmp, id, Part::Keyed, 0, &keyed_batch(&[(0, 1)]), None).unwrap();
    publish(3, p3, 1, vec![own], Vec::new());
    prune(dir, 1, &[]);
    let kept = sorted(shared.list().unwrap());
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].starts_with("9-dd-"), "{kept:?}");
}

#[test]
fn local_shared_files_are_restored_together_and_pruned_once_unlisted() {
    let tmp = tempfile::tempdir().unwrap();
    shared_files_are_restored_together_and_pruned_once_unlisted(&tmp.path().into());
}

#[test]
fn s3_shared_files_are_restored_together_and_pruned_once_unlisted() {
    shared_files_are_restored_together_and_pruned_once_unlisted(&s3_location("shared"));
}

#[test]
fn local_keyed_state_is_redistributed_by_key_group_on_rescale() {
    let tmp = tempfile::tempdir().unwrap();
    keyed_state_is_redistributed_by_key_group_on_rescale(&tmp.path().into());
}

#[test]
fn s3_keyed_state_is_redistributed_by_key_group_on_rescale() {
    keyed_state_is_redistributed_by_key_group_on_rescale(&s3_location("rescale"));
}

#[test]
fn local_a_damaged_checkpoint_is_skipped_for_the_previous_one() {
    let tmp = tempfile::tempdir().unwrap();
    a_damaged_checkpoint_is_skipped_for_the_previous_one(&tmp.path().into());
}

#[test]
fn s3_a_damaged_checkpoint_is_skipped_for_the_previous_one() {
    a_damaged_checkpoint_is_skipped_for_the_previous_one(&s3_location("damaged"));
}

#[test]
fn local_prune_keeps_the_newest_and_removes_abandoned_ones() {
    let tmp = tempfile::tempdir().unwrap();
    prune_keeps_the_newest_and_removes_abandoned_ones(&tmp.path().into());
}

#[test]
fn s3_prune_keeps_the_newest_and_removes_abandoned_ones() {
    prune_keeps_the_newest_and_removes_abandoned_ones(&s3_location("prune"));
}

#[test]
fn s3_large_files_are_uploaded_in_parts() {
    // 12 MiB from 8 MiB on in parts of 5 MiB: three parts, read back whole.
    let dir = s3_location("multipart").with_multipart(8 << 20, 5 << 20);
    let data: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
    dir.put("big.arrow", data.clone()).unwrap();
    assert!(dir.get("big.arrow").unwrap().unwrap() == data);
    // S3 gives a multipart object the ETag `"<md5 of the parts' md5s>-<parts>"`.
    let url = dir
        .join("big.arrow")
        .to_string()
        .replace("s3://", "http://127.0.0.1:9000/");
    let head = std::process::Command::new("curl")
        .args(["-sI", &url])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).to_lowercase();
    assert!(head.contains("etag") && head.contains("-3\""), "{head}");
    // A small one goes in one request, as before.
    dir.put("small.arrow", vec![7; 10]).unwrap();
    assert_eq!(dir.get("small.arrow").unwrap().unwrap().as_ref(), &[7; 10]);
}

#[test]
fn s3_errors_name_the_location_and_the_cause() {
    s3_server();
    // A bucket that does not exist: the write fails with the location in the message.
    let dir = Location::parse(
        "s3://no-such-bucket-stc/ck",
        &s3_conf("http://127.0.0.1:9000"),
    )
    .unwrap();
    let err = PendingDir::create(&dir, "chk-1")
        .and_then(|p| p.tmp.put("f", vec![1]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("s3://no-such-bucket-stc/ck/chk-1"), "{err}");
    // Nothing listening: an error naming the location, not a hang.
    let dir = Location::parse("s3://stc-test/ck", &s3_conf("http://127.0.0.1:1")).unwrap();
    let err = Checkpoint::latest_in(&dir).unwrap_err().to_string();
    assert!(err.contains("cannot list 's3://stc-test/ck'"), "{err}");
}
