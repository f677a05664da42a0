//! Flink's `datagen` connector as a deterministic batch generator.
//!
//! Options (Flink's names): `number-of-rows` (total over all subtasks; unbounded when absent),
//! `rows-per-second` (total, default 10000; [`DatagenGenerator::rows_per_second`] gives this
//! subtask's share and the caller throttles), and per field `fields.<f>.kind` = `random` |
//! `sequence`, `fields.<f>.min` / `max` (numbers), `fields.<f>.max-past` (timestamps, a
//! duration such as `5 s`, `1 min`, `1000` ms), `fields.<f>.length` (strings, bytes,
//! collections), `fields.<f>.var-len`, `fields.<f>.start` / `end` (sequence),
//! `fields.<f>.null-rate`.
//!
//! Splitting: like Flink's `SequenceGenerator`, subtask `i` of `p` emits `start + i`,
//! `start + i + p`, ... so the union over all subtasks is exactly `start..=end`; a sequence
//! field makes the source bounded (it ends when its values run out). `number-of-rows` is split
//! as `n / p` plus one for the first `n % p` subtasks.
//!
//! Randomness: Flink seeds from the clock; we use a fixed seed per subtask (and field) so a run
//! is reproducible. Random strings are lowercase hex like Flink's (`nextHexString`).
//! Random TIMESTAMP/TIMESTAMP_LTZ/DATE/TIME values are "now minus a random part of
//! `max-past`" and therefore not reproducible, as in Flink.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::format::FormatError;
use crate::format::javafmt as jf;

type Result<T> = std::result::Result<T, FormatError>;

const FIELD_OPTIONS: &[&str] = &[
    "kind",
    "min",
    "max",
    "max-past",
    "length",
    "var-len",
    "start",
    "end",
    "null-rate",
];
const CONNECTOR_OPTIONS: &[&str] = &[
    "connector",
    "number-of-rows",
    "rows-per-second",
    "scan.parallelism",
];

fn opt_err(msg: String) -> FormatError {
    FormatError::Options(msg)
}

#[derive(Debug, Clone)]
enum Gen {
    Sequence {
        next: i128,
        end: i128,
        step: i128,
    },
    Random {
        min: f64,
        max: f64,
        max_past_ms: i64,
        length: usize,
        var_len: bool,
        null_rate: f64,
    },
}

#[derive(Debug)]
struct FieldGen {
    field: Arc<Field>,
    g: Gen,
    /// The field's random stream restarts every [`BLOCK_ROWS`] rows from a seed derived from
    /// `seed` and the block number, so that a restored source can jump to any row without
    /// generating (and throwing away) the rows before it, and still emit the same values.
    seed: u64,
    rng: SmallRng,
}

/// Rows per block of a random stream (see [`FieldGen::seed`]).
const BLOCK_ROWS: u64 = 1024;

fn block_rng(seed: u64, block: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed ^ block.wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// Generates the rows of one subtask of a datagen table.
#[derive(Debug)]
pub struct DatagenGenerator {
    schema: SchemaRef,
    fields: Vec<FieldGen>,
    /// Rows this subtask still has to emit (`None`: unbounded).
    remaining: Option<u64>,
    /// Rows this subtask has generated (or skipped).
    row: u64,
    rows_per_second: f64,
}

impl DatagenGenerator {
    pub fn new(
        schema: SchemaRef,
        options: &HashMap<String, String>,
        subtask: usize,
        parallelism: usize,
    ) -> Result<Self> {
        let parallelism = parallelism.max(1);
        // Validate keys.
        let mut keys: Vec<&String> = options.keys().collect();
        keys.sort();
        for k in keys {
            if CONNECTOR_OPTIONS.contains(&k.as_str()) {
                continue;
            }
            let Some(rest) = k.strip_prefix("fields.") else {
                return Err(opt_err(format!(
                    "unsupported option '{k}' for the datagen connector; valid options are: {}, fields.<field>.<{}>",
                    CONNECTOR_OPTIONS.join(", "),
                    FIELD_OPTIONS.join("|")
                )));
            };
            let (name, opt) = rest.rsplit_once('.').unwrap_or((rest, ""));
            let (name, opt) = if opt == "past" && name.ends_with(".max") {
                (&name[..name.len() - 4], "max-past")
            } else if opt == "rate" && name.ends_with(".null") {
                (&name[..name.len() - 5], "null-rate")
            } else if opt == "len" && name.ends_with(".var") {
                (&name[..name.len() - 4], "var-len")
            } else {
                (name, opt)
            };
            if schema.field_with_name(name).is_err() {
                let cols: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(opt_err(format!(
                    "option '{k}' refers to unknown field '{name}'; the table has fields: {}",
                    cols.join(", ")
                )));
            }
            if !FIELD_OPTIONS.contains(&opt) {
                return Err(opt_err(format!(
                    "unsupported option '{k}'; valid per-field options are: {}",
                    FIELD_OPTIONS
                        .iter()
                        .map(|o| format!("fields.{name}.{o}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let number_of_rows = match options.get("number-of-rows") {
            None => None,
            Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
                opt_err(format!("invalid value '{v}' for option 'number-of-rows': expected a non-negative integer"))
            })?),
        };
        let total_rate = match options.get("rows-per-second") {
            None => 10_000.0,
            Some(v) => v.trim().parse::<f64>().ok().filter(|r| *r > 0.0).ok_or_else(|| {
                opt_err(format!("invalid value '{v}' for option 'rows-per-second': expected a positive number"))
            })?,
        };
        let mut fields = Vec::with_capacity(schema.fields().len());
        let mut seq_remaining: Option<u64> = None;
        for (fi, f) in schema.fields().iter().enumerate() {
            let get = |o: &str| {
                options
                    .get(&format!("fields.{}.{o}", f.name()))
                    .map(|s| s.trim())
            };
            let kind = get("kind").unwrap_or("random");
            let seed = 0x5eed_0000_u64
                ^ ((subtask as u64) << 32)
                ^ (fi as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let rng = block_rng(seed, 0);
            let g = match kind {
                "sequence" => {
                    for o in ["min", "max", "max-past", "length", "var-len", "null-rate"] {
                        if get(o).is_some() {
                            return Err(opt_err(format!(
                                "option 'fields.{}.{o}' is not valid for a sequence field; use fields.{}.start and fields.{}.end",
                                f.name(),
                                f.name(),
                                f.name()
                            )));
                        }
                    }
                    if !matches!(
                        f.data_type(),
                        DataType::Int8
                            | DataType::Int16
                            | DataType::Int32
                            | DataType::Int64
                            | DataType::Float32
                            | DataType::Float64
                            | DataType::Decimal128(..)
                            | DataType::Utf8
                            | DataType::LargeUtf8
                            | DataType::Utf8View
                    ) {
                        return Err(opt_err(format!(
                            "field '{}' of type {} cannot be a sequence; sequences support integer, floating point, decimal and string fields",
                            f.name(),
                            f.data_type()
                        )));
                    }
                    let num = |o: &str| -> Result<i128> {
                        let v = get(o).ok_or_else(|| {
                            opt_err(format!(
                                "sequence field '{}' needs both 'fields.{}.start' and 'fields.{}.end'",
                                f.name(), f.name(), f.name()
                            ))
                        })?;
                        v.parse::<i128>().map_err(|_| {
                            opt_err(format!("invalid value '{v}' for option 'fields.{}.{o}': expected an integer", f.name()))
                        })
                    };
                    let (start, end) = (num("start")?, num("end")?);
                    if end < start {
                        return Err(opt_err(format!(
                            "'fields.{}.end' ({end}) must not be smaller than 'fields.{}.start' ({start})",
                            f.name(),
                            f.name()
                        )));
                    }
                    let total = (end - start + 1) as u64;
                    let p = parallelism as u64;
                    let mine = total / p + u64::from((subtask as u64) < total % p);
                    seq_remaining = Some(seq_remaining.map_or(mine, |r: u64| r.min(mine)));
                    Gen::Sequence {
                        next: start + subtask as i128,
                        end,
                        step: parallelism as i128,
                    }
                }
                "random" => {
                    if get("start").is_some() || get("end").is_some() {
                        return Err(opt_err(format!(
                            "options 'fields.{}.start'/'end' need 'fields.{}.kind' = 'sequence'",
                            f.name(),
                            f.name()
                        )));
                    }
                    random_gen(f, &get)?
                }
                other => {
                    return Err(opt_err(format!(
                        "invalid value '{other}' for option 'fields.{}.kind'; valid values are: random, sequence",
                        f.name()
                    )));
                }
            };
            fields.push(FieldGen {
                field: f.clone(),
                g,
                seed,
                rng,
            });
        }
        let rows_share = number_of_rows.map(|n| {
            let p = parallelism as u64;
            n / p + u64::from((subtask as u64) < n % p)
        });
        let remaining = match (rows_share, seq_remaining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(DatagenGenerator {
            schema,
            fields,
            remaining,
            row: 0,
            rows_per_second: total_rate / parallelism as f64,
        })
    }

    /// Skips `rows` rows as if they had been generated (a restored source): sequences jump,
    /// random streams restart at the skipped-to row's block and replay at most a block.
    pub fn skip(&mut self, rows: u64) {
        let rows = self.remaining.map_or(rows, |r| rows.min(r));
        if let Some(r) = self.remaining.as_mut() {
            *r -= rows;
        }
        let to = self.row + rows;
        for fg in &mut self.fields {
            match &mut fg.g {
                Gen::Sequence { next, step, .. } => *next += *step * rows as i128,
                g => {
                    fg.rng = block_rng(fg.seed, to / BLOCK_ROWS);
                    for _ in 0..to % BLOCK_ROWS {
                        gen_value(fg.field.data_type(), g, &mut fg.rng, 0, true);
                    }
                }
            }
        }
        self.row = to;
    }

    /// This subtask's share of `rows-per-second` (the caller throttles).
    pub fn rows_per_second(&self) -> f64 {
        self.rows_per_second
    }

    /// Whether the source ends (a `number-of-rows` or a sequence field).
    pub fn is_bounded(&self) -> bool {
        self.remaining.is_some()
    }

    /// The next batch of at most `max_rows` rows; `None` at the end.
    pub fn next_batch(&mut self, max_rows: usize) -> Option<RecordBatch> {
        let n = match self.remaining {
            Some(0) => return None,
            Some(r) => (r.min(max_rows as u64)) as usize,
            None => max_rows,
        };
        if n == 0 {
            return None;
        }
        if let Some(r) = self.remaining.as_mut() {
            *r -= n as u64;
        }
        let first = self.row;
        self.row += n as u64;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let cols: Vec<ArrayRef> = self
            .fields
            .iter_mut()
            .map(|fg| {
                let vals: Vec<crate::format::columns::Val> = (first..first + n as u64)
                    .map(|row| {
                        if row % BLOCK_ROWS == 0 && row > 0 {
                            fg.rng = block_rng(fg.seed, row / BLOCK_ROWS);
                        }
                        gen_value(fg.field.data_type(), &mut fg.g, &mut fg.rng, now_ms, true)
                    })
                    .collect();
                crate::format::columns::vals_to_array(fg.field.data_type(), vals)
                    .expect("datagen builds values of the column type")
            })
            .collect();
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .ok()
    }
}

fn random_gen<'a>(f: &Field, get: &dyn Fn(&str) -> Option<&'a str>) -> Result<Gen> {
    let name = f.name();
    let dt = f.data_type();
    let numeric = matches!(
        dt,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(..)
    );
    let f64opt = |o: &str| -> Result<Option<f64>> {
        match get(o) {
            None => Ok(None),
            Some(v) => v.parse::<f64>().map(Some).map_err(|_| {
                opt_err(format!(
                    "invalid value '{v}' for option 'fields.{name}.{o}': expected a number"
                ))
            }),
        }
    };
    if !numeric && (get("min").is_some() || get("max").is_some()) {
        return Err(opt_err(format!(
            "options 'fields.{name}.min'/'max' apply to numeric fields only, but '{name}' is {dt}"
        )));
    }
    let (tmin, tmax) = match dt {
        DataType::Int8 => (i8::MIN as f64, i8::MAX as f64),
        DataType::Int16 => (i16::MIN as f64, i16::MAX as f64),
        DataType::Int32 => (i32::MIN as f64, i32::MAX as f64),
        DataType::Int64 => (i64::MIN as f64, i64::MAX as f64),
        DataType::Float32 => (f32::MIN as f64, f32::MAX as f64),
        DataType::Decimal128(p, s) => {
            let m = 10f64.powi(*p as i32 - *s as i32) - 10f64.powi(-(*s as i32));
            (-m, m)
        }
        _ => (f64::MIN / 2.0, f64::MAX / 2.0),
    };
    let min = f64opt("min")?.unwrap_or(tmin);
    let max = f64opt("max")?.unwrap_or(tmax);
    if min > max {
        return Err(opt_err(format!(
            "'fields.{name}.min' ({min}) must not be greater than 'fields.{name}.max' ({max})"
        )));
    }
    if get("max-past").is_some()
        && !matches!(
            dt,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Time32(_)
        )
    {
        return Err(opt_err(format!(
            "option 'fields.{name}.max-past' applies to timestamp fields only, but '{name}' is {dt}"
        )));
    }
    let max_past_ms = match get("max-past") {
        None => 0,
        Some(v) => parse_duration_ms(v)
            .ok_or_else(|| opt_err(format!("invalid value '{v}' for option 'fields.{name}.max-past': expected a duration such as '5 s', '10 min' or '1000' (ms)")))?,
    };
    let sized = matches!(
        dt,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::List(_)
            | DataType::Map(..)
    );
    if !sized && (get("length").is_some() || get("var-len").is_some()) {
        return Err(opt_err(format!(
            "options 'fields.{name}.length'/'var-len' apply to string, bytes and collection fields only, but '{name}' is {dt}"
        )));
    }
    let default_len = if matches!(dt, DataType::List(_) | DataType::Map(..)) {
        3
    } else {
        100
    };
    let length = match get("length") {
        None => default_len,
        Some(v) => v.parse::<usize>().ok().filter(|l| *l > 0).ok_or_else(|| {
            opt_err(format!(
                "invalid value '{v}' for option 'fields.{name}.length': expected a positive integer"
            ))
        })?,
    };
    let var_len = match get("var-len") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(opt_err(format!(
                "invalid value '{v}' for option 'fields.{name}.var-len': expected true or false"
            )));
        }
    };
    let null_rate = match f64opt("null-rate")? {
        None => 0.0,
        Some(r) if (0.0..=1.0).contains(&r) => r,
        Some(r) => {
            return Err(opt_err(format!(
                "invalid value '{r}' for option 'fields.{name}.null-rate': expected a number between 0 and 1"
            )));
        }
    };
    Ok(Gen::Random {
        min,
        max,
        max_past_ms,
        length,
        var_len,
        null_rate,
    })
}

/// Flink durations: `1000` (ms), `5 s`, `5s`, `10 min`, `1 h`, `2 d`, `500 ms`.
fn parse_duration_ms(v: &str) -> Option<i64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: i64 = v[..split].parse().ok()?;
    let unit = v[split..].trim().to_ascii_lowercase();
    let mult = match unit.as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1000,
        "min" | "m" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn gen_value(
    dt: &DataType,
    g: &mut Gen,
    rng: &mut SmallRng,
    now_ms: i64,
    top: bool,
) -> crate::format::columns::Val {
    use crate::format::columns::Val;
    match g {
        Gen::Sequence { next, end, step } => {
            if *next > *end {
                return Val::Null;
            }
            let v = *next;
            *next += *step;
            match dt {
                DataType::Float32 => Val::F32(v as f32),
                DataType::Float64 => Val::F64(v as f64),
                DataType::Decimal128(_, s) => Val::Dec(v * 10i128.pow(*s as u32)),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    Val::Str(v.to_string())
                }
                _ => Val::Int(v as i64),
            }
        }
        Gen::Random {
            min,
            max,
            max_past_ms,
            length,
            var_len,
            null_rate,
        } => {
            if top && *null_rate > 0.0 && rng.random::<f64>() < *null_rate {
                return Val::Null;
            }
            let len = if *var_len {
                rng.random_range(1..=*length)
            } else {
                *length
            };
            let uniform = |rng: &mut SmallRng| -> f64 {
                if max == min {
                    *min
                } else {
                    *min + (*max - *min) * rng.random::<f64>()
                }
            };
            let past = |rng: &mut SmallRng| -> i64 {
                now_ms
                    - if *max_past_ms > 0 {
                        rng.random_range(0..=*max_past_ms)
                    } else {
                        0
                    }
            };
            match dt {
                DataType::Boolean => Val::Bool(rng.random()),
                DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
                    let (lo, hi) = (min.ceil() as i64, max.floor() as i64);
                    Val::Int(if lo >= hi {
                        lo
                    } else {
                        rng.random_range(lo..=hi)
                    })
                }
                DataType::Float32 => Val::F32(uniform(rng) as f32),
                DataType::Float64 => Val::F64(uniform(rng)),
                DataType::Decimal128(_, s) => {
                    Val::Dec((uniform(rng) * 10f64.powi(*s as i32)).round() as i128)
                }
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    const HEX: &[u8] = b"0123456789abcdef";
                    Val::Str(
                        (0..len)
                            .map(|_| HEX[rng.random_range(0..16)] as char)
                            .collect(),
                    )
                }
                DataType::Binary | DataType::LargeBinary => {
                    Val::Bin((0..len).map(|_| rng.random()).collect())
                }
                DataType::Date32 => Val::Int(past(rng).div_euclid(86_400_000)),
                DataType::Time32(_) => Val::Int(past(rng).rem_euclid(86_400_000)),
                DataType::Timestamp(unit, _) => {
                    let ms = past(rng);
                    let (d, n) = jf::split_timestamp(ms, TimeUnit::Millisecond);
                    Val::Int(jf::join_timestamp(d, n, *unit).unwrap_or(0))
                }
                DataType::List(f) => {
                    let mut inner = Gen::Random {
                        min: f64::from(i32::MIN),
                        max: f64::from(i32::MAX),
                        max_past_ms: 0,
                        length: 100,
                        var_len: false,
                        null_rate: 0.0,
                    };
                    if let DataType::Int8 | DataType::Int16 = f.data_type() {
                        inner = Gen::Random {
                            min: -128.0,
                            max: 127.0,
                            max_past_ms: 0,
                            length: 100,
                            var_len: false,
                            null_rate: 0.0,
                        };
                    }
                    Val::List(
                        (0..len)
                            .map(|_| gen_value(f.data_type(), &mut inner, rng, now_ms, false))
                            .collect(),
                    )
                }
                DataType::Map(entries, _) => {
                    let DataType::Struct(kv) = entries.data_type() else {
                        return Val::Null;
                    };
                    let mut inner = Gen::Random {
                        min: 0.0,
                        max: 1000.0,
                        max_past_ms: 0,
                        length: 10,
                        var_len: false,
                        null_rate: 0.0,
                    };
                    Val::Map(
                        (0..len)
                            .map(|_| {
                                (
                                    gen_value(kv[0].data_type(), &mut inner, rng, now_ms, false),
                                    gen_value(kv[1].data_type(), &mut inner, rng, now_ms, false),
                                )
                            })
                            .collect(),
                    )
                }
                DataType::Struct(fs) => {
                    let mut inner = Gen::Random {
                        min: 0.0,
                        max: 1000.0,
                        max_past_ms: 0,
                        length: 10,
                        var_len: false,
                        null_rate: 0.0,
                    };
                    Val::Struct(
                        fs.iter()
                            .map(|f| gen_value(f.data_type(), &mut inner, rng, now_ms, false))
                            .collect(),
                    )
                }
                _ => Val::Null,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{Int64Type, Schema};

    fn opts(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn schema(fields: Vec<Field>) -> SchemaRef {
        Arc::new(Schema::new(fields))
    }

    fn drain_ids(g: &mut DatagenGenerator, batch: usize) -> Vec<i64> {
        let mut out = vec![];
        while let Some(b) = g.next_batch(batch) {
            out.extend(
                b.column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .copied(),
            );
        }
        out
    }

    #[test]
    fn sequence_split_across_1_and_4_subtasks_covers_range_once() {
        let s = schema(vec![Field::new("id", DataType::Int64, false)]);
        let o = opts(&[
            ("connector", "datagen"),
            ("number-of-rows", "20"),
            ("fields.id.kind", "sequence"),
            ("fields.id.start", "1"),
            ("fields.id.end", "20"),
        ]);
        let mut one = DatagenGenerator::new(s.clone(), &o, 0, 1).unwrap();
        assert!(one.is_bounded());
        assert_eq!(drain_ids(&mut one, 7), (1..=20).collect::<Vec<_>>());
        let mut all = vec![];
        for sub in 0..4 {
            let mut g = DatagenGenerator::new(s.clone(), &o, sub, 4).unwrap();
            let ids = drain_ids(&mut g, 3);
            assert_eq!(ids.len(), 5, "subtask {sub}: {ids:?}");
            all.extend(ids);
        }
        all.sort();
        assert_eq!(all, (1..=20).collect::<Vec<_>>());
        // Uneven split: 10 values over 4 subtasks -> 3,3,2,2 and still each value once.
        let o = opts(&[
            ("fields.id.kind", "sequence"),
            ("fields.id.start", "0"),
            ("fields.id.end", "9"),
        ]);
        let mut all = vec![];
        for sub in 0..4 {
            all.extend(drain_ids(
                &mut DatagenGenerator::new(s.clone(), &o, sub, 4).unwrap(),
                100,
            ));
        }
        all.sort();
        assert_eq!(all, (0..=9).collect::<Vec<_>>());
    }

    /// A restored source skips to where it was and goes on with exactly the rows an
    /// uninterrupted run emits, whatever the skip point relative to the random blocks.
    #[test]
    fn skipping_rows_continues_with_the_same_rows() {
        let s = schema(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
        ]);
        let o = opts(&[
            ("number-of-rows", "3000"),
            ("fields.id.kind", "sequence"),
            ("fields.id.start", "1"),
            ("fields.id.end", "100000"),
            ("fields.v.null-rate", "0.2"),
            ("fields.name.length", "12"),
            ("fields.name.var-len", "true"),
        ]);
        let drain = |g: &mut DatagenGenerator| {
            let mut batches = vec![];
            while let Some(b) = g.next_batch(700) {
                batches.push(b);
            }
            arrow::compute::concat_batches(&s, &batches).unwrap()
        };
        for sub in [0, 1] {
            let all = drain(&mut DatagenGenerator::new(s.clone(), &o, sub, 2).unwrap());
            assert_eq!(all.num_rows(), 1500);
            for k in [0usize, 1, 700, 1023, 1024, 1025, 1499, 1500] {
                let mut g = DatagenGenerator::new(s.clone(), &o, sub, 2).unwrap();
                g.skip(k as u64);
                let rest = drain(&mut g);
                assert_eq!(rest, all.slice(k, 1500 - k), "subtask {sub}, skip {k}");
            }
        }
    }

    #[test]
    fn number_of_rows_is_split_and_random_is_reproducible() {
        let s = schema(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("d", DataType::Float64, true),
        ]);
        let o = opts(&[
            ("number-of-rows", "10"),
            ("fields.a.min", "5"),
            ("fields.a.max", "7"),
            ("fields.s.length", "4"),
            ("rows-per-second", "100"),
        ]);
        let counts: Vec<usize> = (0..3)
            .map(|sub| {
                let mut g = DatagenGenerator::new(s.clone(), &o, sub, 3).unwrap();
                assert_eq!(g.rows_per_second(), 100.0 / 3.0);
                let mut n = 0;
                while let Some(b) = g.next_batch(2) {
                    n += b.num_rows();
                    let a = b.column(0).as_primitive::<arrow::datatypes::Int32Type>();
                    assert!(a.values().iter().all(|v| (5..=7).contains(v)));
                    let st = b.column(1).as_string::<i32>();
                    assert!(st.iter().all(|v| v.unwrap().len() == 4
                        && v.unwrap().chars().all(|c| c.is_ascii_hexdigit())));
                }
                n
            })
            .collect();
        assert_eq!(counts, vec![4, 3, 3]);
        let a = DatagenGenerator::new(s.clone(), &o, 0, 1)
            .unwrap()
            .next_batch(5)
            .unwrap();
        let b = DatagenGenerator::new(s.clone(), &o, 0, 1)
            .unwrap()
            .next_batch(5)
            .unwrap();
        assert_eq!(a, b);
        // Unbounded without number-of-rows or sequence.
        let mut g = DatagenGenerator::new(s, &opts(&[]), 0, 1).unwrap();
        assert!(!g.is_bounded());
        assert_eq!(g.next_batch(3).unwrap().num_rows(), 3);
    }

    #[test]
    fn null_rate_one_gives_nulls() {
        let s = schema(vec![Field::new("x", DataType::Int64, true)]);
        let mut g = DatagenGenerator::new(
            s,
            &opts(&[("number-of-rows", "5"), ("fields.x.null-rate", "1.0")]),
            0,
            1,
        )
        .unwrap();
        let b = g.next_batch(10).unwrap();
        assert_eq!(b.column(0).null_count(), 5);
        assert!(g.next_batch(10).is_none());
        let _ = Int64Array::from(vec![1]);
    }

    #[test]
    fn bad_options_name_key_and_valid_values() {
        let s = schema(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]);
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("fields.nope.kind", "random")],
                "unknown field 'nope'; the table has fields: id, ts",
            ),
            (
                &[("fields.id.kind", "counter")],
                "valid values are: random, sequence",
            ),
            (
                &[("fields.id.kind", "sequence"), ("fields.id.start", "1")],
                "needs both 'fields.id.start' and 'fields.id.end'",
            ),
            (
                &[
                    ("fields.id.kind", "sequence"),
                    ("fields.id.start", "5"),
                    ("fields.id.end", "1"),
                ],
                "must not be smaller",
            ),
            (
                &[("fields.id.colour", "red")],
                "valid per-field options are",
            ),
            (
                &[("rows-per-sec", "5")],
                "unsupported option 'rows-per-sec'",
            ),
            (&[("number-of-rows", "-1")], "'number-of-rows'"),
            (&[("fields.id.max-past", "5 s")], "timestamp fields only"),
            (
                &[("fields.ts.max-past", "5 parsecs")],
                "expected a duration",
            ),
            (&[("fields.ts.min", "1")], "numeric fields only"),
            (&[("fields.id.null-rate", "2")], "between 0 and 1"),
            (
                &[("fields.id.length", "3")],
                "string, bytes and collection fields only",
            ),
        ];
        for (o, want) in cases {
            let err = DatagenGenerator::new(s.clone(), &opts(o), 0, 1)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(want), "{o:?}: {err}");
        }
        assert!(DatagenGenerator::new(s, &opts(&[("fields.ts.max-past", "5 s")]), 0, 1).is_ok());
    }
}
