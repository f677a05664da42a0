//! The `filesystem` connector: a file or a directory of files, read and written in the
//! `csv`, `json` or `parquet` format, or a changelog format (`debezium-json`, `canal-json`,
//! `maxwell-json`: the source then produces row kinds).
//!
//! Source: the files of the path (a directory is listed recursively; names starting with `.`
//! or `_` are skipped, as Flink does) are divided among the source subtasks, file `i` going to
//! subtask `i % parallelism`; each subtask reads its files in name order. Text files are read
//! in chunks of whole lines so a large file never sits in memory at once.
//!
//! Sink: every subtask writes its own part file `part-<uuid>-<subtask>-<n>` into the
//! directory, as Flink does. The file is written under a hidden in-progress name and renamed
//! to its final name when the job finishes, so a reader never sees a half-written part file.

use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Int8Array, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use stc_runtime::{
    Operator, OperatorContext, OperatorFactory, Result as RtResult, RuntimeError, SourceFactory,
    SourceReader, StreamBatch,
};

use crate::format::{self, ParquetPartWriter, RecordDecoder, RecordEncoder};
use crate::table::{ConnectorError, ConnectorTable, Result, check_keys};

const CHUNK_BYTES: usize = 1 << 20;
const FORMATS: &[&str] = &[
    "csv",
    "json",
    "parquet",
    "debezium-json",
    "canal-json",
    "maxwell-json",
];

fn format_of(t: &ConnectorTable) -> Result<String> {
    let f = t.options.get("format").cloned().ok_or_else(|| {
        ConnectorError::Options(format!(
            "the filesystem connector needs a 'format' option: one of {}",
            FORMATS.join(", ")
        ))
    })?;
    if !FORMATS.contains(&f.as_str()) {
        return Err(ConnectorError::Options(format!(
            "unsupported format '{f}' for the filesystem connector; supported: {} (avro and raw are not supported yet)",
            FORMATS.join(", ")
        )));
    }
    Ok(f)
}

fn path_of(t: &ConnectorTable) -> Result<PathBuf> {
    t.options.get("path").map(PathBuf::from).ok_or_else(|| {
        ConnectorError::Options(
            "the filesystem connector needs a 'path' option (a file or a directory)".into(),
        )
    })
}

pub(crate) fn validate(t: &ConnectorTable) -> Result<()> {
    check_keys(
        t,
        "filesystem",
        &[
            "path",
            "format",
            "source.monitor-interval",
            "sink.rolling-policy.file-size",
            "sink.rolling-policy.rollover-interval",
            "sink.rolling-policy.check-interval",
            "sink.parallelism",
            "partition.default-name",
            "auto-compaction",
        ],
        &[
            "csv.",
            "json.",
            "parquet.",
            "debezium-json.",
            "canal-json.",
            "maxwell-json.",
        ],
    )?;
    path_of(t)?;
    let f = format_of(t)?;
    if t.options.contains_key("source.monitor-interval") {
        return Err(ConnectorError::Options(
            "not supported yet: 'source.monitor-interval' (continuously monitoring a directory); the filesystem source reads the files present at start".into(),
        ));
    }
    let opts: HashMap<String, String> = t.options.clone();
    if f != "parquet" {
        format::decoder(&f, t.physical_schema.clone(), &opts)?;
        // A changelog table may be read with options its writer lacks (debezium-json's
        // schema-include); FileSink::new checks the encoder of a table that is written.
        if format::changelog::ChangelogFormat::from_name(&f).is_none() {
            format::encoder(&f, t.sink_schema.clone(), &opts)?;
        }
    }
    Ok(())
}

/// Lists the data files under `path`.
fn list_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let p = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub struct FileSource {
    table: ConnectorTable,
    format: String,
    files: Vec<PathBuf>,
    reader_schema: SchemaRef,
}

impl FileSource {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        let path = path_of(t)?;
        let files = list_files(&path).map_err(|e| {
            ConnectorError::Unavailable(format!("cannot read path '{}': {e}", path.display()))
        })?;
        let mut fields: Vec<_> = t.physical_schema.fields().iter().cloned().collect();
        fields.extend(t.metadata.iter().map(|(_, f)| Arc::new(f.clone())));
        Ok(FileSource {
            table: t.clone(),
            format: format_of(t)?,
            files,
            reader_schema: Arc::new(Schema::new(fields)),
        })
    }
}

impl SourceFactory for FileSource {
    fn describe(&self) -> String {
        format!(
            "filesystem '{}' ({}, {} files)",
            self.table
                .options
                .get("path")
                .map(String::as_str)
                .unwrap_or(""),
            self.format,
            self.files.len()
        )
    }
    fn schema(&self) -> SchemaRef {
        self.reader_schema.clone()
    }
    fn produces_changelog(&self) -> bool {
        format::changelog::ChangelogFormat::from_name(&self.format).is_some()
    }
    fn create_reader(&self, subtask: usize, parallelism: usize) -> RtResult<Box<dyn SourceReader>> {
        let files: Vec<PathBuf> = self
            .files
            .iter()
            .enumerate()
            .filter(|(i, _)| i % parallelism == subtask)
            .map(|(_, f)| f.clone())
            .collect();
        let opts: HashMap<String, String> = self.table.options.clone();
        let decoder = if self.format == "parquet" {
            None
        } else {
            Some(
                format::decoder(&self.format, self.table.physical_schema.clone(), &opts)
                    .map_err(|e| RuntimeError::Data(e.to_string()))?,
            )
        };
        Ok(Box::new(FileReader {
            files: files.into_iter().rev().collect(),
            format: self.format.clone(),
            physical: self.table.physical_schema.clone(),
            schema: self.reader_schema.clone(),
            metadata: self.table.metadata.iter().map(|(k, _)| k.clone()).collect(),
            decoder,
            current: None,
        }))
    }
}

struct OpenFile {
    path: PathBuf,
    display: String,
    file: Option<std::fs::File>,
    parquet: Option<Box<dyn Iterator<Item = format::Result<RecordBatch>> + Send>>,
    leftover: Vec<u8>,
    next_line: u64,
    size: i64,
    modified_ms: i64,
}

struct FileReader {
    /// Files still to read, last first.
    files: Vec<PathBuf>,
    format: String,
    physical: SchemaRef,
    schema: SchemaRef,
    metadata: Vec<String>,
    decoder: Option<Box<dyn RecordDecoder>>,
    current: Option<OpenFile>,
}

fn io_err(path: &Path, e: std::io::Error) -> RuntimeError {
    let retry = !matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
    );
    RuntimeError::external(format!("cannot read file '{}': {e}", path.display()), retry)
}

impl FileReader {
    fn open(&mut self, path: PathBuf) -> RtResult<OpenFile> {
        let meta = std::fs::metadata(&path).map_err(|e| io_err(&path, e))?;
        let modified_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let display = path.display().to_string();
        let (file, parquet) = if self.format == "parquet" {
            let it = format::read_parquet_file(&display, self.physical.clone(), 8192)
                .map_err(|e| RuntimeError::Data(e.to_string()))?;
            (
                None,
                Some(Box::new(it)
                    as Box<
                        dyn Iterator<Item = format::Result<RecordBatch>> + Send,
                    >),
            )
        } else {
            (
                Some(std::fs::File::open(&path).map_err(|e| io_err(&path, e))?),
                None,
            )
        };
        Ok(OpenFile {
            path,
            display,
            file,
            parquet,
            leftover: Vec::new(),
            next_line: 1,
            size: meta.len() as i64,
            modified_ms,
        })
    }

    /// Appends the metadata columns of the current file.
    fn with_metadata(&self, batch: RecordBatch, f: &OpenFile) -> RtResult<RecordBatch> {
        if self.metadata.is_empty() {
            return Ok(batch);
        }
        let n = batch.num_rows();
        let mut cols = batch.columns().to_vec();
        for key in &self.metadata {
            let col: ArrayRef = match key.as_str() {
                "file.path" => Arc::new(StringArray::from(vec![f.display.clone(); n])),
                "file.name" => Arc::new(StringArray::from(vec![
                    f.path
                        .file_name()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_default();
                    n
                ])),
                "file.size" => Arc::new(Int64Array::from(vec![f.size; n])),
                "file.modification-time" => Arc::new(
                    TimestampMillisecondArray::from(vec![f.modified_ms; n]).with_timezone("UTC"),
                ),
                other => {
                    return Err(RuntimeError::Internal(format!(
                        "unknown metadata key {other}"
                    )));
                }
            };
            cols.push(col);
        }
        let cols = cols
            .into_iter()
            .zip(self.schema.fields())
            .map(|(c, fld)| {
                if c.data_type() == fld.data_type() {
                    Ok(c)
                } else {
                    datafusion::arrow::compute::cast(&c, fld.data_type())
                        .map_err(RuntimeError::from)
                }
            })
            .collect::<RtResult<Vec<_>>>()?;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )?)
    }
}

#[async_trait]
impl SourceReader for FileReader {
    async fn next_batch(&mut self) -> RtResult<Option<RecordBatch>> {
        loop {
            if self.current.is_none() {
                match self.files.pop() {
                    None => return Ok(None),
                    Some(p) => {
                        let f = self.open(p)?;
                        self.current = Some(f);
                    }
                }
            }
            let mut cur = self.current.take().expect("a file is open");
            if let Some(it) = cur.parquet.as_mut() {
                match it.next() {
                    Some(b) => {
                        let b = b.map_err(|e| RuntimeError::Data(e.to_string()))?;
                        let out = self.with_metadata(b, &cur)?;
                        self.current = Some(cur);
                        return Ok(Some(out));
                    }
                    None => continue,
                }
            }
            let mut buf = std::mem::take(&mut cur.leftover);
            let start = buf.len();
            buf.resize(start + CHUNK_BYTES, 0);
            let file = cur.file.as_mut().expect("text file");
            let n = file
                .read(&mut buf[start..])
                .map_err(|e| io_err(&cur.path, e))?;
            buf.truncate(start + n);
            let eof = n == 0;
            let (chunk, rest) = if eof {
                (buf, Vec::new())
            } else {
                match buf.iter().rposition(|b| *b == b'\n') {
                    Some(pos) => {
                        let rest = buf[pos + 1..].to_vec();
                        buf.truncate(pos + 1);
                        (buf, rest)
                    }
                    None => {
                        // No complete line yet: keep reading.
                        cur.leftover = buf;
                        self.current = Some(cur);
                        continue;
                    }
                }
            };
            let lines = chunk.iter().filter(|b| **b == b'\n').count() as u64
                + u64::from(!chunk.is_empty() && !chunk.ends_with(b"\n"));
            let decoder = self.decoder.as_mut().expect("text decoder");
            let decoded = if chunk.is_empty() {
                None
            } else {
                decoder
                    .decode(&chunk, cur.next_line, &cur.display)
                    .map_err(|e| RuntimeError::Data(e.to_string()))?
            };
            let kinds = decoder.take_row_kinds();
            cur.next_line += lines;
            cur.leftover = rest;
            let out = match decoded {
                Some(b) => {
                    let b = self.with_metadata(b, &cur)?;
                    Some(match kinds {
                        Some(k) => with_row_kinds(b, &k)?,
                        None => b,
                    })
                }
                None => None,
            };
            if !eof {
                self.current = Some(cur);
            }
            if let Some(b) = out {
                return Ok(Some(b));
            }
            if eof {
                continue;
            }
        }
    }

    fn skipped_records(&self) -> u64 {
        self.decoder
            .as_ref()
            .map(|d| d.skipped_records())
            .unwrap_or(0)
    }
}

/// A changelog reader batch: `batch` with the row kinds appended as
/// [`stc_runtime::source::ROW_KIND_COLUMN`].
fn with_row_kinds(batch: RecordBatch, kinds: &[stc_common::RowKind]) -> RtResult<RecordBatch> {
    let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(
        stc_runtime::source::ROW_KIND_COLUMN,
        DataType::Int8,
        false,
    )));
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(Int8Array::from_iter_values(
        kinds.iter().map(|k| *k as i8),
    )));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// The filesystem sink.
pub struct FileSink {
    dir: PathBuf,
    format: String,
    schema: SchemaRef,
    options: HashMap<String, String>,
    /// One id per job, shared by its part files (Flink's part-file uuid).
    job_uuid: String,
}

impl FileSink {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        validate(t)?;
        let f = format_of(t)?;
        if f != "parquet" {
            format::encoder(&f, t.sink_schema.clone(), &t.options)?;
        }
        Ok(FileSink {
            dir: path_of(t)?,
            format: format_of(t)?,
            schema: t.sink_schema.clone(),
            options: t.options.clone(),
            job_uuid: uuid::Uuid::new_v4().to_string(),
        })
    }
}

impl OperatorFactory for FileSink {
    fn name(&self) -> String {
        format!("Sink: filesystem '{}'", self.dir.display())
    }
    fn create(&self, subtask: usize, _parallelism: usize) -> RtResult<Box<dyn Operator>> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            RuntimeError::external(
                format!(
                    "filesystem sink: cannot create directory '{}': {e}",
                    self.dir.display()
                ),
                false,
            )
        })?;
        let encoder = if self.format == "parquet" {
            None
        } else {
            Some(
                format::encoder(&self.format, self.schema.clone(), &self.options)
                    .map_err(|e| RuntimeError::Data(e.to_string()))?,
            )
        };
        let final_name = format!("part-{}-{}-0", self.job_uuid, subtask);
        Ok(Box::new(FileSinkOp {
            name: self.name(),
            final_path: self.dir.join(&final_name),
            tmp_path: self
                .dir
                .join(format!(".{final_name}.inprogress.{}", uuid::Uuid::new_v4())),
            schema: self.schema.clone(),
            format: self.format.clone(),
            encoder,
            text: None,
            parquet: None,
            buf: Vec::new(),
            rows: 0,
        }))
    }
    fn is_sink(&self) -> bool {
        true
    }
}

struct FileSinkOp {
    name: String,
    final_path: PathBuf,
    tmp_path: PathBuf,
    schema: SchemaRef,
    format: String,
    encoder: Option<Box<dyn RecordEncoder>>,
    text: Option<BufWriter<std::fs::File>>,
    parquet: Option<ParquetPartWriter>,
    buf: Vec<u8>,
    rows: u64,
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::external(
        format!("filesystem sink: cannot write '{}': {e}", path.display()),
        false,
    )
}

#[async_trait]
impl Operator for FileSinkOp {
    fn name(&self) -> &str {
        &self.name
    }

    async fn process_batch(
        &mut self,
        batch: StreamBatch,
        ctx: &mut OperatorContext,
    ) -> RtResult<()> {
        let kinds: Option<Vec<stc_common::RowKind>> = if batch.is_insert_only() {
            None
        } else if format::changelog::ChangelogFormat::from_name(&self.format).is_some() {
            Some((0..batch.num_rows()).map(|i| batch.kind(i)).collect())
        } else {
            return Err(RuntimeError::Data(format!(
                "the filesystem sink with format '{}' only accepts inserts; the query produces updates",
                self.format
            )));
        };
        let n = batch.num_rows();
        match &mut self.encoder {
            Some(enc) => {
                if self.text.is_none() {
                    let f = std::fs::File::create(&self.tmp_path)
                        .map_err(|e| write_err(&self.tmp_path, e))?;
                    self.text = Some(BufWriter::with_capacity(1 << 16, f));
                }
                self.buf.clear();
                enc.encode(&batch.batch, kinds.as_deref(), &mut self.buf)
                    .map_err(|e| RuntimeError::Data(e.to_string()))?;
                let w = self.text.as_mut().expect("opened above");
                w.write_all(&self.buf)
                    .map_err(|e| write_err(&self.tmp_path, e))?;
            }
            None => {
                if self.parquet.is_none() {
                    let p = self.tmp_path.display().to_string();
                    self.parquet = Some(
                        ParquetPartWriter::new(&p, self.schema.clone())
                            .map_err(|e| write_err(&self.tmp_path, e))?,
                    );
                }
                let w = self.parquet.as_mut().expect("opened above");
                w.write(&batch.batch)
                    .map_err(|e| write_err(&self.tmp_path, e))?;
            }
        }
        self.rows += n as u64;
        ctx.metrics
            .records_written
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    async fn finish(&mut self, _ctx: &mut OperatorContext) -> RtResult<()> {
        if let Some(mut w) = self.text.take() {
            w.flush().map_err(|e| write_err(&self.tmp_path, e))?;
            w.into_inner()
                .map_err(|e| write_err(&self.tmp_path, e.error()))?
                .sync_all()
                .map_err(|e| write_err(&self.tmp_path, e))?;
        }
        if let Some(w) = self.parquet.take() {
            w.close().map_err(|e| write_err(&self.tmp_path, e))?;
        }
        if self.rows > 0 {
            std::fs::rename(&self.tmp_path, &self.final_path)
                .map_err(|e| write_err(&self.final_path, e))?;
        }
        Ok(())
    }
}
