//! Where checkpoints live: a local directory, or a prefix in an S3-compatible bucket.
//!
//! Both are "directories" of named objects to the checkpoint code. The differences that
//! matter are in [`super::storage`]: a local checkpoint is published by renaming its
//! in-progress directory, an object-store checkpoint by writing its `_metadata` last
//! (object stores have no atomic rename of a prefix; this is how Flink publishes on S3 too).
//!
//! The checkpoint code is synchronous: it runs in `spawn_blocking` (state files), at start-up
//! (restore) and in the coordinator task (metadata, pruning), as local file-system calls do.
//! `object_store` is async and needs a tokio reactor of its own, so object-store calls run on a
//! small dedicated runtime and the caller waits for them, as it waits for a local `fsync`.
//! A dedicated runtime also means a call never blocks on a reactor that the caller's own
//! blocked worker thread is supposed to drive.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{Result, RuntimeError};

/// Flink's S3 file-system keys (`flink-s3-fs-*`), read from the job's configuration; the
/// `AWS_*` environment variables fill in what they do not set.
pub const S3_ENDPOINT: &str = "s3.endpoint";
pub const S3_ACCESS_KEY: &str = "s3.access-key";
pub const S3_SECRET_KEY: &str = "s3.secret-key";
pub const S3_PATH_STYLE_ACCESS: &str = "s3.path.style.access";
/// Hadoop's `fs.s3a.endpoint.region`, as Flink forwards `s3.*` keys to it.
pub const S3_REGION: &str = "s3.endpoint.region";

/// A checkpoint directory: local, or `s3://bucket/prefix`.
#[derive(Clone)]
pub struct Location {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Local(PathBuf),
    Object {
        store: Arc<dyn ObjectStore>,
        /// `s3://bucket`, for messages.
        bucket_url: String,
        prefix: ObjectPath,
        /// Objects from this size on are uploaded in parts of the second size (S3 takes at
        /// most 5 GiB in one PUT, and parts of at least 5 MiB).
        multipart: (usize, usize),
    },
}

/// Default of [`Repr::Object::multipart`].
const MULTIPART: (usize, usize) = (64 << 20, 16 << 20);
/// Parts of a multipart upload in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Local(p) => write!(f, "{}", p.display()),
            Repr::Object {
                bucket_url, prefix, ..
            } if prefix.as_ref().is_empty() => write!(f, "{bucket_url}"),
            Repr::Object {
                bucket_url, prefix, ..
            } => write!(f, "{bucket_url}/{prefix}"),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

impl PartialEq for Location {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Self {
        Location {
            repr: Repr::Local(p),
        }
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Self {
        p.to_path_buf().into()
    }
}

fn io_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("stc-checkpoint-io")
            .enable_all()
            .build()
            .expect("the checkpoint I/O runtime starts")
    })
}

/// Runs `fut` on the checkpoint I/O runtime and waits for it (from any thread, inside a
/// tokio runtime or not).
fn wait<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    io_runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| RuntimeError::Internal("a checkpoint storage call panicked".into()))
}

impl Location {
    /// Parses `execution.checkpointing.dir`-style values: a path, `file:///path`, or
    /// `s3://bucket/prefix` (with Flink's `s3.*` keys from `conf`, else `AWS_*` variables).
    pub fn parse(
        value: &str,
        conf: &BTreeMap<String, String>,
    ) -> std::result::Result<Self, String> {
        let v = value.trim();
        if let Some(rest) = v.strip_prefix("s3://").or_else(|| v.strip_prefix("s3a://")) {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("'{value}' names no bucket: use s3://BUCKET/PREFIX"));
            }
            // A few quick retries: a checkpoint that cannot be written fails and the next one
            // tries again, and a restore that cannot read should say so within seconds (the
            // default retries for three minutes).
            let retry = object_store::RetryConfig {
                max_retries: 4,
                retry_timeout: std::time::Duration::from_secs(30),
                ..Default::default()
            };
            let mut b = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry);
            if let Some(e) = conf.get(S3_ENDPOINT) {
                b = b.with_endpoint(e.trim());
            }
            let endpoint = conf
                .get(S3_ENDPOINT)
                .cloned()
                .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
                .or_else(|| std::env::var("AWS_ENDPOINT").ok());
            if endpoint.is_some_and(|e| e.trim().starts_with("http://")) {
                b = b.with_allow_http(true);
            }
            if let Some(k) = conf.get(S3_ACCESS_KEY) {
                b = b.with_access_key_id(k);
            }
            if let Some(k) = conf.get(S3_SECRET_KEY) {
                b = b.with_secret_access_key(k);
            }
            if let Some(r) = conf.get(S3_REGION) {
                b = b.with_region(r);
            }
            if let Some(v) = conf.get(S3_PATH_STYLE_ACCESS) {
                match v.trim().to_ascii_lowercase().as_str() {
                    "true" => b = b.with_virtual_hosted_style_request(false),
                    "false" => b = b.with_virtual_hosted_style_request(true),
                    _ => {
                        return Err(format!(
                            "'{S3_PATH_STYLE_ACCESS}' = '{v}' is not true or false"
                        ));
                    }
                }
            }
            let store = b
                .build()
                .map_err(|e| format!("cannot use '{value}': {e}"))?;
            let prefix = ObjectPath::parse(prefix.trim_end_matches('/'))
                .map_err(|e| format!("'{value}' is not a valid object path: {e}"))?;
            return Ok(Location {
                repr: Repr::Object {
                    store: Arc::new(store),
                    bucket_url: format!("s3://{bucket}"),
                    prefix,
                    multipart: MULTIPART,
                },
            });
        }
        if let Some((scheme, _)) = v.split_once("://")
            && scheme != "file"
        {
            return Err(format!(
                "'{value}': the '{scheme}' scheme is not supported; use a local path, file:///PATH or s3://BUCKET/PREFIX"
            ));
        }
        Ok(PathBuf::from(v.strip_prefix("file://").unwrap_or(v)).into())
    }

    /// Uploads objects from `from` bytes on in parts of `part` bytes (the default is 64 MiB
    /// and 16 MiB; S3 needs parts of at least 5 MiB). Nothing changes for a local location.
    pub fn with_multipart(mut self, from: usize, part: usize) -> Self {
        if let Repr::Object { multipart, .. } = &mut self.repr {
            *multipart = (from, part.max(5 << 20));
        }
        self
    }

    /// The local directory, for a local location.
    pub fn as_local(&self) -> Option<&Path> {
        match &self.repr {
            Repr::Local(p) => Some(p),
            Repr::Object { .. } => None,
        }
    }

    /// The location of `name` inside this one.
    pub fn join(&self, name: &str) -> Location {
        match &self.repr {
            Repr::Local(p) => p.join(name).into(),
            Repr::Object {
                store,
                bucket_url,
                prefix,
                multipart,
            } => Location {
                repr: Repr::Object {
                    store: store.clone(),
                    bucket_url: bucket_url.clone(),
                    prefix: prefix.clone().join(name),
                    multipart: *multipart,
                },
            },
        }
    }

    /// The last path segment.
    pub fn file_name(&self) -> Option<String> {
        match &self.repr {
            Repr::Local(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
            Repr::Object { prefix, .. } => prefix.filename().map(str::to_string),
        }
    }

    /// The enclosing location.
    pub fn parent(&self) -> Location {
        match &self.repr {
            Repr::Local(p) => p.parent().unwrap_or(Path::new(".")).into(),
            Repr::Object {
                store,
                bucket_url,
                prefix,
                multipart,
            } => {
                let mut parts: Vec<_> = prefix.parts().collect();
                parts.pop();
                Location {
                    repr: Repr::Object {
                        store: store.clone(),
                        bucket_url: bucket_url.clone(),
                        prefix: ObjectPath::from_iter(parts),
                        multipart: *multipart,
                    },
                }
            }
        }
    }

    fn err(&self, what: &str, e: impl fmt::Display) -> RuntimeError {
        RuntimeError::external(format!("checkpoint: cannot {what} '{self}': {e}"), false)
    }

    /// Makes sure the location can be written into (a local directory is created; an object
    /// store needs nothing).
    pub fn create(&self) -> Result<()> {
        match &self.repr {
            Repr::Local(p) => {
                std::fs::create_dir_all(p).map_err(|e| self.err("create directory", e))
            }
            Repr::Object { .. } => Ok(()),
        }
    }

    /// Writes `bytes` as `name` inside this location, durably (a local file is synced).
    pub fn put(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let target = self.join(name);
        match &target.repr {
            Repr::Local(p) => {
                use std::io::Write;
                let mut f = std::fs::File::create(p).map_err(|e| target.err("create", e))?;
                f.write_all(&bytes).map_err(|e| target.err("write", e))?;
                f.sync_all().map_err(|e| target.err("sync", e))
            }
            Repr::Object {
                store,
                prefix,
                multipart: (from, part),
                ..
            } => {
                let (store, path, (from, part)) = (store.clone(), prefix.clone(), (*from, *part));
                wait(async move {
                    if bytes.len() < from {
                        return store
                            .put(&path, Bytes::from(bytes).into())
                            .await
                            .map(|_| ());
                    }
                    let upload = store.put_multipart(&path).await?;
                    let mut w = object_store::WriteMultipart::new_with_chunk_size(upload, part);
                    for chunk in bytes.chunks(part) {
                        w.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                        w.write(chunk);
                    }
                    w.finish().await.map(|_| ())
                })?
                .map_err(|e| target.err("write", e))
            }
        }
    }

    /// Writes `name` inside this location from what `write` produces, durably, and returns
    /// its size and XXH3-64. A local file is written through a buffer as it is produced (a
    /// large state table is never held twice in memory); an object is uploaded whole.
    pub fn put_with(
        &self,
        name: &str,
        write: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
    ) -> Result<(u64, u64)> {
        let target = self.join(name);
        match &target.repr {
            Repr::Local(p) => {
                let f = std::fs::File::create(p).map_err(|e| target.err("create", e))?;
                let mut w = Hashing::new(std::io::BufWriter::with_capacity(1 << 20, f));
                write(&mut w)?;
                let (len, hash) = (w.len, w.hash.digest());
                let f = w
                    .inner
                    .into_inner()
                    .map_err(|e| target.err("write", e.error()))?;
                f.sync_all().map_err(|e| target.err("sync", e))?;
                Ok((len, hash))
            }
            Repr::Object { .. } => {
                let mut w = Hashing::new(Vec::new());
                write(&mut w)?;
                let (len, hash) = (w.len, w.hash.digest());
                self.put(name, w.inner)?;
                Ok((len, hash))
            }
        }
    }

    /// Reads `name` inside this location; `None` when it does not exist.
    pub fn get(&self, name: &str) -> Result<Option<Bytes>> {
        let target = self.join(name);
        match &target.repr {
            Repr::Local(p) => match std::fs::read(p) {
                Ok(b) => Ok(Some(b.into())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(target.err("read", e)),
            },
            Repr::Object { store, prefix, .. } => {
                let (store, path) = (store.clone(), prefix.clone());
                match wait(async move {
                    match store.get(&path).await {
                        Ok(r) => r.bytes().await,
                        Err(e) => Err(e),
                    }
                })? {
                    Ok(b) => Ok(Some(b)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(target.err("read", e)),
                }
            }
        }
    }

    /// The names of the entries directly inside this location (sub-directories or common
    /// prefixes, and files); empty when it does not exist.
    pub fn list(&self) -> Result<Vec<String>> {
        match &self.repr {
            Repr::Local(p) => match std::fs::read_dir(p) {
                Ok(entries) => Ok(entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(self.err("list", e)),
            },
            Repr::Object { store, prefix, .. } => {
                let (store, path) = (store.clone(), prefix.clone());
                let listed = wait(async move {
                    let p = (!path.as_ref().is_empty()).then_some(path);
                    store.list_with_delimiter(p.as_ref()).await
                })?
                .map_err(|e| self.err("list", e))?;
                Ok(listed
                    .common_prefixes
                    .iter()
                    .filter_map(|p| p.filename().map(str::to_string))
                    .chain(
                        listed
                            .objects
                            .iter()
                            .filter_map(|o| o.location.filename().map(str::to_string)),
                    )
                    .collect())
            }
        }
    }

    /// Deletes the file `name` inside this location; a missing one is not an error.
    pub fn delete(&self, name: &str) -> Result<()> {
        let target = self.join(name);
        match &target.repr {
            Repr::Local(p) => match std::fs::remove_file(p) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(target.err("delete", e)),
            },
            Repr::Object { store, prefix, .. } => {
                let (store, path) = (store.clone(), prefix.clone());
                match wait(async move { store.delete(&path).await })? {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(target.err("delete", e)),
                }
            }
        }
    }

    /// Deletes this location (a directory or prefix) and everything in it; nothing to delete
    /// is not an error.
    pub fn remove_all(&self) -> Result<()> {
        match &self.repr {
            Repr::Local(p) => match std::fs::remove_dir_all(p) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(self.err("remove", e)),
            },
            Repr::Object { store, prefix, .. } => {
                let (store, path) = (store.clone(), prefix.clone());
                wait(async move {
                    let objects = store.list(Some(&path)).map_ok(|m| m.location).boxed();
                    store
                        .delete_stream(objects)
                        .try_collect::<Vec<_>>()
                        .await
                        .map(|_| ())
                })?
                .map_err(|e| self.err("remove", e))
            }
        }
    }

    /// Moves this local directory to `to` (object stores cannot rename a prefix; the
    /// checkpoint code publishes them differently).
    pub fn rename_local(&self, to: &Location) -> Result<()> {
        match (&self.repr, &to.repr) {
            (Repr::Local(a), Repr::Local(b)) => {
                std::fs::rename(a, b).map_err(|e| to.err("publish", e))?;
                if let Some(parent) = b.parent()
                    && let Ok(d) = std::fs::File::open(parent)
                {
                    let _ = d.sync_all();
                }
                Ok(())
            }
            _ => Err(RuntimeError::Internal(format!(
                "rename of '{self}' to '{to}': only local directories are renamed"
            ))),
        }
    }
}

/// A writer that counts and hashes (XXH3-64) what goes through it.
struct Hashing<W> {
    inner: W,
    hash: xxhash_rust::xxh3::Xxh3,
    len: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: xxhash_rust::xxh3::Xxh3::new(),
            len: 0,
        }
    }
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_as_flink_writes_them() {
        let none = BTreeMap::new();
        let l = Location::parse("file:///var/lib/ck", &none).unwrap();
        assert_eq!(l.as_local(), Some(Path::new("/var/lib/ck")));
        let l = Location::parse("/tmp/ck", &none).unwrap();
        assert_eq!(l.join("chk-1").to_string(), "/tmp/ck/chk-1");
        let mut conf = BTreeMap::new();
        conf.insert(S3_ENDPOINT.to_string(), "http://127.0.0.1:1".to_string());
        conf.insert(S3_ACCESS_KEY.to_string(), "a".to_string());
        conf.insert(S3_SECRET_KEY.to_string(), "b".to_string());
        let l = Location::parse("s3://bucket/jobs/ck/", &conf).unwrap();
        assert_eq!(l.to_string(), "s3://bucket/jobs/ck");
        assert_eq!(l.join("chk-3").to_string(), "s3://bucket/jobs/ck/chk-3");
        assert_eq!(l.join("chk-3").parent().to_string(), "s3://bucket/jobs/ck");
        assert_eq!(l.join("chk-3").file_name().as_deref(), Some("chk-3"));
        assert!(l.as_local().is_none());
        let e = Location::parse("hdfs://nn/ck", &none).unwrap_err();
        assert!(e.contains("'hdfs' scheme is not supported"), "{e}");
        let e = Location::parse("s3:///ck", &conf).unwrap_err();
        assert!(e.contains("names no bucket"), "{e}");
        conf.insert(S3_PATH_STYLE_ACCESS.to_string(), "maybe".to_string());
        let e = Location::parse("s3://b/ck", &conf).unwrap_err();
        assert!(e.contains("is not true or false"), "{e}");
    }
}
