//! The `nexmark` source: the Nexmark benchmark's event stream (people, auctions, bids) with the
//! options of the Nexmark project's Flink connector, emitted as Arrow batches.
//!
//! Events come from the `nexmark` crate (the Rust port of the Nexmark generator, Apache-2.0):
//! event `n`'s content is a pure function of `n` and the configuration, so a run is
//! reproducible once `base-time` is set. The table must have the standard Nexmark schema
//! (`event_type INT, person ROW<…>, auction ROW<…>, bid ROW<…>`, see [`expected_schema`]);
//! `event_type` is 0 for a person, 1 for an auction, 2 for a bid, and only the matching ROW
//! column is non-null.
//!
//! Options (Flink's names and defaults): `events.num` (total over all subtasks, 0 = unbounded),
//! `first-event.rate` / `next-event.rate` (events per second of *event time*, default 10000),
//! `rate.shape` (`square` | `sine`), `rate.period` (`600 s`), `rate.limited` (also pace the
//! emission in wall-clock time, default false), `person.proportion` / `auction.proportion` /
//! `bid.proportion` (1/3/46), `person.avg-size` / `auction.avg-size` / `bid.avg-size` (200b,
//! 500b, 100b: the length of the `extra` padding), `auction.hot-ratio.sellers`,
//! `bid.hot-ratio.auctions`, `bid.hot-ratio.bidders`, and `base-time` (epoch milliseconds of
//! the first event; 0 or absent = the job's start, as in Flink).
//!
//! Splitting: subtask `i` of `p` generates events `i, i + p, i + 2p, …`, so the union over all
//! subtasks is the same stream at any parallelism, and every subtask's event time advances at
//! the same pace (its watermark does not hold the others back). Flink's connector instead
//! gives each subtask its own generator timeline; its events differ from ours (another
//! random-number generator), which is why the Flink comparison reads files written by this
//! source.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, NullBufferBuilder, RecordBatch, StringBuilder,
    StructArray, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use nexmark::EventGenerator;
use nexmark::config::{NexmarkConfig, RateShape};
use nexmark::event::Event;
use stc_runtime::{Result as RtResult, RuntimeError, SourceFactory, SourceReader, SplitPosition};

use crate::table::{ConnectorError, ConnectorTable, Result, check_keys};

/// Rows per emitted batch.
const BATCH_ROWS: usize = 8192;

const OPTIONS: &[&str] = &[
    "events.num",
    "first-event.rate",
    "next-event.rate",
    "rate.shape",
    "rate.period",
    "rate.limited",
    "person.proportion",
    "auction.proportion",
    "bid.proportion",
    "person.avg-size",
    "auction.avg-size",
    "bid.avg-size",
    "auction.hot-ratio.sellers",
    "bid.hot-ratio.auctions",
    "bid.hot-ratio.bidders",
    "base-time",
];

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

fn person_fields() -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("emailAddress", DataType::Utf8, true),
        Field::new("creditCard", DataType::Utf8, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("state", DataType::Utf8, true),
        Field::new("dateTime", ts(), true),
        Field::new("extra", DataType::Utf8, true),
    ])
}

fn auction_fields() -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("itemName", DataType::Utf8, true),
        Field::new("description", DataType::Utf8, true),
        Field::new("initialBid", DataType::Int64, true),
        Field::new("reserve", DataType::Int64, true),
        Field::new("dateTime", ts(), true),
        Field::new("expires", ts(), true),
        Field::new("seller", DataType::Int64, true),
        Field::new("category", DataType::Int64, true),
        Field::new("extra", DataType::Utf8, true),
    ])
}

fn bid_fields() -> Fields {
    Fields::from(vec![
        Field::new("auction", DataType::Int64, true),
        Field::new("bidder", DataType::Int64, true),
        Field::new("price", DataType::Int64, true),
        Field::new("channel", DataType::Utf8, true),
        Field::new("url", DataType::Utf8, true),
        Field::new("dateTime", ts(), true),
        Field::new("extra", DataType::Utf8, true),
    ])
}

/// The physical schema a `nexmark` table must declare (Flink's `NexmarkTableSource` schema).
pub fn expected_schema() -> Schema {
    Schema::new(vec![
        Field::new("event_type", DataType::Int32, true),
        Field::new("person", DataType::Struct(person_fields()), true),
        Field::new("auction", DataType::Struct(auction_fields()), true),
        Field::new("bid", DataType::Struct(bid_fields()), true),
    ])
}

/// Names and types equal, nullability ignored (a `NOT NULL` column is still fed non-null
/// values in every row where it matters).
fn same_shape(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::Struct(x), DataType::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(f, g)| f.name() == g.name() && same_shape(f.data_type(), g.data_type()))
        }
        (DataType::Utf8 | DataType::Utf8View, DataType::Utf8 | DataType::Utf8View) => true,
        _ => a == b,
    }
}

const EXPECTED_DDL: &str = "event_type INT, person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR>, auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>, bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR>";

fn check_schema(t: &ConnectorTable) -> Result<()> {
    let want = expected_schema();
    let have = &t.physical_schema;
    let ok = have.fields().len() == want.fields().len()
        && have
            .fields()
            .iter()
            .zip(want.fields().iter())
            .all(|(h, w)| h.name() == w.name() && same_shape(h.data_type(), w.data_type()));
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::Options(format!(
            "table '{}': a 'nexmark' table must have exactly the Nexmark schema ({EXPECTED_DDL}); computed columns and a WATERMARK may follow",
            t.name
        )))
    }
}

/// The parsed options, shared by every subtask.
#[derive(Debug, Clone)]
struct Settings {
    events: u64,
    rate_limited: bool,
    config: NexmarkConfig,
}

fn parse_u64(t: &ConnectorTable, key: &str, default: u64, min: u64) -> Result<u64> {
    match t.options.get(key) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(ConnectorError::Options(format!(
                "option '{key}' of nexmark table '{}' must be an integer >= {min}, got '{v}'",
                t.name
            ))),
        },
    }
}

/// Flink's `MemorySize` syntax: a number with an optional unit (`b`, `kb`, `mb`; default
/// bytes).
fn parse_size(t: &ConnectorTable, key: &str, default: usize) -> Result<usize> {
    let Some(v) = t.options.get(key) else {
        return Ok(default);
    };
    let s = v.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let mult = match unit.trim() {
        "" | "b" | "bytes" => Some(1),
        "k" | "kb" | "kibibytes" => Some(1024),
        "m" | "mb" | "mebibytes" => Some(1024 * 1024),
        _ => None,
    };
    match (num.parse::<usize>(), mult) {
        (Ok(n), Some(m)) => Ok(n * m),
        _ => Err(ConnectorError::Options(format!(
            "option '{key}' of nexmark table '{}' must be a memory size such as '100b' or '1kb', got '{v}'",
            t.name
        ))),
    }
}

fn parse_settings(t: &ConnectorTable) -> Result<Settings> {
    check_keys(t, "nexmark", OPTIONS, &[])?;
    check_schema(t)?;
    let mut c = NexmarkConfig::default();
    let events = parse_u64(t, "events.num", 0, 0)?;
    c.first_rate = parse_u64(t, "first-event.rate", 10_000, 1)? as usize;
    c.next_rate = parse_u64(t, "next-event.rate", c.first_rate as u64, 1)? as usize;
    if !t.options.contains_key("next-event.rate") {
        // Flink's default for next-event.rate is 10000 too; the benchmark scripts always set
        // both, and a lone first-event.rate meaning "constant rate" is the useful reading.
        c.next_rate = c.first_rate;
    }
    c.rate_shape = match t
        .options
        .get("rate.shape")
        .map(|s| s.trim().to_ascii_lowercase())
    {
        None => RateShape::Square,
        Some(s) if s == "square" => RateShape::Square,
        Some(s) if s == "sine" => RateShape::Sine,
        Some(s) => {
            return Err(ConnectorError::Options(format!(
                "option 'rate.shape' of nexmark table '{}' must be 'square' or 'sine', got '{s}'",
                t.name
            )));
        }
    };
    c.rate_period = match t.options.get("rate.period") {
        None => 600,
        Some(v) => match stc_common::config::parse_duration_ms(v) {
            Some(ms) if ms >= 1000 => (ms / 1000) as usize,
            _ => {
                return Err(ConnectorError::Options(format!(
                    "option 'rate.period' of nexmark table '{}' must be a duration of at least 1 s such as '600 s', got '{v}'",
                    t.name
                )));
            }
        },
    };
    let rate_limited = match t
        .options
        .get("rate.limited")
        .map(|s| s.trim().to_ascii_lowercase())
    {
        None => false,
        Some(s) if s == "true" => true,
        Some(s) if s == "false" => false,
        Some(s) => {
            return Err(ConnectorError::Options(format!(
                "option 'rate.limited' of nexmark table '{}' must be 'true' or 'false', got '{s}'",
                t.name
            )));
        }
    };
    c.person_proportion = parse_u64(t, "person.proportion", 1, 1)? as usize;
    c.auction_proportion = parse_u64(t, "auction.proportion", 3, 1)? as usize;
    c.bid_proportion = parse_u64(t, "bid.proportion", 46, 1)? as usize;
    c.avg_person_byte_size = parse_size(t, "person.avg-size", 200)?;
    c.avg_auction_byte_size = parse_size(t, "auction.avg-size", 500)?;
    c.avg_bid_byte_size = parse_size(t, "bid.avg-size", 100)?;
    c.hot_seller_ratio = parse_u64(t, "auction.hot-ratio.sellers", 4, 1)? as usize;
    c.hot_auction_ratio = parse_u64(t, "bid.hot-ratio.auctions", 2, 1)? as usize;
    c.hot_bidder_ratio = parse_u64(t, "bid.hot-ratio.bidders", 4, 1)? as usize;
    let base = parse_u64(t, "base-time", 0, 0)?;
    c.base_time = if base == 0 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    } else {
        base
    };
    // One timeline for the whole stream: subtasks interleave event numbers instead.
    c.num_event_generators = 1;
    c.first_event_id = 0;
    c.first_event_number = 0;
    Ok(Settings {
        events,
        rate_limited,
        config: c,
    })
}

pub(crate) fn validate(t: &ConnectorTable) -> Result<()> {
    parse_settings(t).map(|_| ())
}

pub struct NexmarkSource {
    schema: SchemaRef,
    settings: Settings,
}

impl NexmarkSource {
    pub fn new(t: &ConnectorTable) -> Result<Self> {
        let settings = parse_settings(t)?;
        Ok(NexmarkSource {
            // Our own types (Utf8) with the table's names; same_shape checked they agree.
            schema: Arc::new(expected_schema()),
            settings,
        })
    }
}

impl SourceFactory for NexmarkSource {
    fn describe(&self) -> String {
        format!("nexmark ({} events)", self.settings.events)
    }
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn create_reader(&self, subtask: usize, parallelism: usize) -> RtResult<Box<dyn SourceReader>> {
        self.reader(subtask, parallelism, 0)
    }

    /// Subtask `i` of `p` emits events `i, i + p, …`: a restored subtask starts at its next
    /// event. Which events a subtask emits depends on the parallelism, so the source resumes
    /// only at the same one.
    fn restore_reader(
        &self,
        subtask: usize,
        parallelism: usize,
        restored: &[SplitPosition],
    ) -> RtResult<Box<dyn SourceReader>> {
        let name = split_name(subtask, parallelism);
        let emitted = crate::datagen_source::rows_emitted(restored, &name, "nexmark")?;
        self.reader(subtask, parallelism, emitted)
    }
}

fn split_name(subtask: usize, parallelism: usize) -> String {
    format!("nexmark-{subtask}-of-{parallelism}")
}

impl NexmarkSource {
    /// The reader of subtask `subtask` of `parallelism` that has already emitted `emitted`
    /// events.
    fn reader(
        &self,
        subtask: usize,
        parallelism: usize,
        emitted: u64,
    ) -> RtResult<Box<dyn SourceReader>> {
        if parallelism == 0 || subtask >= parallelism {
            return Err(RuntimeError::Data(format!(
                "nexmark: subtask {subtask} of {parallelism}"
            )));
        }
        let (p, i) = (parallelism as u64, subtask as u64);
        // Events i, i + p, … below events.num.
        let count = match self.settings.events {
            0 => None,
            n if n > i => Some((n - i).div_ceil(p)),
            _ => Some(0),
        };
        let generator = EventGenerator::new(self.settings.config.clone())
            .with_offset(i + emitted * p)
            .with_step(p);
        Ok(Box::new(NexmarkReader {
            generator,
            remaining: count.map(|c| c.saturating_sub(emitted)),
            emitted,
            split: split_name(subtask, parallelism),
            schema: self.schema.clone(),
            pace: self
                .settings
                .rate_limited
                .then(|| (Instant::now(), self.settings.config.base_time)),
        }))
    }
}

struct NexmarkReader {
    generator: EventGenerator,
    /// Events this subtask still emits; `None` when unbounded.
    remaining: Option<u64>,
    /// Events emitted so far (the checkpointed position).
    emitted: u64,
    split: String,
    schema: SchemaRef,
    /// `rate.limited`: (wall-clock start, base time) to pace event time to wall time.
    pace: Option<(Instant, u64)>,
}

#[async_trait]
impl SourceReader for NexmarkReader {
    async fn next_batch(&mut self) -> RtResult<Option<RecordBatch>> {
        let rows = match self.remaining {
            Some(0) => return Ok(None),
            Some(n) => (n as usize).min(BATCH_ROWS),
            None => BATCH_ROWS,
        };
        if let Some((start, base)) = self.pace {
            // The next event is due when as much wall time has passed as event time.
            let due = Duration::from_millis(self.generator.timestamp().saturating_sub(base));
            let elapsed = start.elapsed();
            if due > elapsed {
                tokio::time::sleep((due - elapsed).min(Duration::from_secs(1))).await;
                return Ok(Some(RecordBatch::new_empty(self.schema.clone())));
            }
        }
        let mut b = BatchBuilder::new(rows);
        for _ in 0..rows {
            match self.generator.next() {
                Some(e) => b.push(e),
                None => break,
            }
            if let Some((start, base)) = self.pace
                && self.generator.timestamp().saturating_sub(base)
                    > start.elapsed().as_millis() as u64
            {
                break;
            }
        }
        if let Some(n) = self.remaining.as_mut() {
            *n -= b.len as u64;
        }
        self.emitted += b.len as u64;
        b.finish(self.schema.clone()).map(Some)
    }

    fn snapshot_positions(&mut self) -> Option<Vec<SplitPosition>> {
        Some(vec![SplitPosition {
            split: self.split.clone(),
            position: self.emitted.to_string().into_bytes(),
        }])
    }
}

/// Column builders of one batch.
struct BatchBuilder {
    len: usize,
    event_type: Int32Builder,
    person: PersonCols,
    auction: AuctionCols,
    bid: BidCols,
}

struct PersonCols {
    valid: NullBufferBuilder,
    id: Int64Builder,
    name: StringBuilder,
    email: StringBuilder,
    credit_card: StringBuilder,
    city: StringBuilder,
    state: StringBuilder,
    date_time: TimestampMillisecondBuilder,
    extra: StringBuilder,
}

struct AuctionCols {
    valid: NullBufferBuilder,
    id: Int64Builder,
    item_name: StringBuilder,
    description: StringBuilder,
    initial_bid: Int64Builder,
    reserve: Int64Builder,
    date_time: TimestampMillisecondBuilder,
    expires: TimestampMillisecondBuilder,
    seller: Int64Builder,
    category: Int64Builder,
    extra: StringBuilder,
}

struct BidCols {
    valid: NullBufferBuilder,
    auction: Int64Builder,
    bidder: Int64Builder,
    price: Int64Builder,
    channel: StringBuilder,
    url: StringBuilder,
    date_time: TimestampMillisecondBuilder,
    extra: StringBuilder,
}

fn strings(rows: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, rows * 8)
}

impl BatchBuilder {
    fn new(rows: usize) -> Self {
        BatchBuilder {
            len: 0,
            event_type: Int32Builder::with_capacity(rows),
            person: PersonCols {
                valid: NullBufferBuilder::new(rows),
                id: Int64Builder::with_capacity(rows),
                name: strings(rows),
                email: strings(rows),
                credit_card: strings(rows),
                city: strings(rows),
                state: strings(rows),
                date_time: TimestampMillisecondBuilder::with_capacity(rows),
                extra: strings(rows),
            },
            auction: AuctionCols {
                valid: NullBufferBuilder::new(rows),
                id: Int64Builder::with_capacity(rows),
                item_name: strings(rows),
                description: strings(rows),
                initial_bid: Int64Builder::with_capacity(rows),
                reserve: Int64Builder::with_capacity(rows),
                date_time: TimestampMillisecondBuilder::with_capacity(rows),
                expires: TimestampMillisecondBuilder::with_capacity(rows),
                seller: Int64Builder::with_capacity(rows),
                category: Int64Builder::with_capacity(rows),
                extra: strings(rows),
            },
            bid: BidCols {
                valid: NullBufferBuilder::new(rows),
                auction: Int64Builder::with_capacity(rows),
                bidder: Int64Builder::with_capacity(rows),
                price: Int64Builder::with_capacity(rows),
                channel: StringBuilder::with_capacity(rows, rows * 8),
                url: StringBuilder::with_capacity(rows, rows * 64),
                date_time: TimestampMillisecondBuilder::with_capacity(rows),
                extra: StringBuilder::with_capacity(rows, rows * 80),
            },
        }
    }

    fn push(&mut self, e: Event) {
        self.len += 1;
        match e {
            Event::Person(p) => {
                self.event_type.append_value(0);
                self.person.push(Some(&p));
                self.auction.push(None);
                self.bid.push(None);
            }
            Event::Auction(a) => {
                self.event_type.append_value(1);
                self.person.push(None);
                self.auction.push(Some(&a));
                self.bid.push(None);
            }
            Event::Bid(b) => {
                self.event_type.append_value(2);
                self.person.push(None);
                self.auction.push(None);
                self.bid.push(Some(&b));
            }
        }
    }

    fn finish(mut self, schema: SchemaRef) -> RtResult<RecordBatch> {
        let person = self.person.finish()?;
        let auction = self.auction.finish()?;
        let bid = self.bid.finish()?;
        RecordBatch::try_new(
            schema,
            vec![Arc::new(self.event_type.finish()), person, auction, bid],
        )
        .map_err(|e| RuntimeError::Internal(format!("nexmark batch: {e}")))
    }
}

/// Ids and prices are `usize` in the generator and far below `i64::MAX`.
fn long(v: usize) -> i64 {
    v as i64
}

fn struct_array(
    fields: Fields,
    cols: Vec<ArrayRef>,
    valid: &mut NullBufferBuilder,
) -> RtResult<ArrayRef> {
    StructArray::try_new(fields, cols, valid.finish())
        .map(|a| Arc::new(a) as ArrayRef)
        .map_err(|e| RuntimeError::Internal(format!("nexmark batch: {e}")))
}

impl PersonCols {
    fn push(&mut self, p: Option<&nexmark::event::Person>) {
        match p {
            Some(p) => {
                self.valid.append_non_null();
                self.id.append_value(long(p.id));
                self.name.append_value(&p.name);
                self.email.append_value(&p.email_address);
                self.credit_card.append_value(&p.credit_card);
                self.city.append_value(&p.city);
                self.state.append_value(&p.state);
                self.date_time.append_value(p.date_time as i64);
                self.extra.append_value(&p.extra);
            }
            None => {
                self.valid.append_null();
                self.id.append_null();
                self.name.append_null();
                self.email.append_null();
                self.credit_card.append_null();
                self.city.append_null();
                self.state.append_null();
                self.date_time.append_null();
                self.extra.append_null();
            }
        }
    }

    fn finish(&mut self) -> RtResult<ArrayRef> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.email.finish()),
            Arc::new(self.credit_card.finish()),
            Arc::new(self.city.finish()),
            Arc::new(self.state.finish()),
            Arc::new(self.date_time.finish()),
            Arc::new(self.extra.finish()),
        ];
        struct_array(person_fields(), cols, &mut self.valid)
    }
}

impl AuctionCols {
    fn push(&mut self, a: Option<&nexmark::event::Auction>) {
        match a {
            Some(a) => {
                self.valid.append_non_null();
                self.id.append_value(long(a.id));
                self.item_name.append_value(&a.item_name);
                self.description.append_value(&a.description);
                self.initial_bid.append_value(long(a.initial_bid));
                self.reserve.append_value(long(a.reserve));
                self.date_time.append_value(a.date_time as i64);
                self.expires.append_value(a.expires as i64);
                self.seller.append_value(long(a.seller));
                self.category.append_value(long(a.category));
                self.extra.append_value(&a.extra);
            }
            None => {
                self.valid.append_null();
                self.id.append_null();
                self.item_name.append_null();
                self.description.append_null();
                self.initial_bid.append_null();
                self.reserve.append_null();
                self.date_time.append_null();
                self.expires.append_null();
                self.seller.append_null();
                self.category.append_null();
                self.extra.append_null();
            }
        }
    }

    fn finish(&mut self) -> RtResult<ArrayRef> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.item_name.finish()),
            Arc::new(self.description.finish()),
            Arc::new(self.initial_bid.finish()),
            Arc::new(self.reserve.finish()),
            Arc::new(self.date_time.finish()),
            Arc::new(self.expires.finish()),
            Arc::new(self.seller.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.extra.finish()),
        ];
        struct_array(auction_fields(), cols, &mut self.valid)
    }
}

impl BidCols {
    fn push(&mut self, b: Option<&nexmark::event::Bid>) {
        match b {
            Some(b) => {
                self.valid.append_non_null();
                self.auction.append_value(long(b.auction));
                self.bidder.append_value(long(b.bidder));
                self.price.append_value(long(b.price));
                self.channel.append_value(&b.channel);
                self.url.append_value(&b.url);
                self.date_time.append_value(b.date_time as i64);
                self.extra.append_value(&b.extra);
            }
            None => {
                self.valid.append_null();
                self.auction.append_null();
                self.bidder.append_null();
                self.price.append_null();
                self.channel.append_null();
                self.url.append_null();
                self.date_time.append_null();
                self.extra.append_null();
            }
        }
    }

    fn finish(&mut self) -> RtResult<ArrayRef> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.auction.finish()),
            Arc::new(self.bidder.finish()),
            Arc::new(self.price.finish()),
            Arc::new(self.channel.finish()),
            Arc::new(self.url.finish()),
            Arc::new(self.date_time.finish()),
            Arc::new(self.extra.finish()),
        ];
        struct_array(bid_fields(), cols, &mut self.valid)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int32Type;

    use super::*;

    fn table(opts: &[(&str, &str)]) -> ConnectorTable {
        let mut options: HashMap<String, String> = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        options.insert("connector".into(), "nexmark".into());
        let schema = Arc::new(expected_schema());
        ConnectorTable {
            name: "nexmark".into(),
            options,
            physical_schema: schema.clone(),
            metadata: vec![],
            sink_schema: schema,
            primary_key: vec![],
            partition_keys: vec![],
            time_zone: "UTC".into(),
        }
    }

    async fn read_all(src: &NexmarkSource, subtask: usize, p: usize) -> Vec<RecordBatch> {
        let mut r = src.create_reader(subtask, p).unwrap();
        let mut out = vec![];
        while let Some(b) = r.next_batch().await.unwrap() {
            out.push(b);
        }
        out
    }

    /// (event_type, timestamp) of every row, in order.
    fn types_and_times(batches: &[RecordBatch]) -> Vec<(i32, i64)> {
        let mut out = vec![];
        for b in batches {
            let et = b.column(0).as_primitive::<Int32Type>();
            for row in 0..b.num_rows() {
                let t = et.value(row);
                let s = b.column(1 + t as usize).as_struct();
                assert!(s.is_valid(row));
                for other in 1..4 {
                    if other != 1 + t as usize {
                        assert!(b.column(other).is_null(row), "only one ROW is set");
                    }
                }
                let dt = s
                    .column_by_name("dateTime")
                    .unwrap()
                    .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                    .value(row);
                out.push((t, dt));
            }
        }
        out
    }

    #[tokio::test]
    async fn proportions_rates_and_split_across_subtasks() {
        let t = table(&[
            ("events.num", "1000"),
            ("first-event.rate", "100"),
            ("next-event.rate", "100"),
            ("base-time", "1700000000000"),
        ]);
        let src = NexmarkSource::new(&t).unwrap();
        let all = types_and_times(&read_all(&src, 0, 1).await);
        assert_eq!(all.len(), 1000);
        // 1 person, 3 auctions, 46 bids in every 50 events.
        let count = |k| all.iter().filter(|(t, _)| *t == k).count();
        assert_eq!((count(0), count(1), count(2)), (20, 60, 920));
        // 100 events per second of event time, starting at base-time.
        assert_eq!(all[0].1, 1_700_000_000_000);
        assert_eq!(all[999].1, 1_700_000_000_000 + 9_990);
        assert!(all.windows(2).all(|w| w[0].1 <= w[1].1));
        // Three subtasks interleave: together they give the same events.
        let mut parts = vec![];
        for i in 0..3 {
            parts.push(types_and_times(&read_all(&src, i, 3).await));
        }
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 1000);
        for (n, e) in all.iter().enumerate() {
            assert_eq!(&parts[n % 3][n / 3], e);
        }
    }

    #[tokio::test]
    async fn deterministic_content() {
        let t = table(&[("events.num", "200"), ("base-time", "1")]);
        let a = read_all(&NexmarkSource::new(&t).unwrap(), 0, 1).await;
        let b = read_all(&NexmarkSource::new(&t).unwrap(), 0, 1).await;
        assert_eq!(a, b);
        // The first event is person 1000; bids refer to auctions/people from 1000 on.
        let p = a[0].column(1).as_struct();
        let id = p.column(0).as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(id.value(0), 1000);
    }

    #[test]
    fn bad_options_and_schema_are_rejected() {
        let err = |opts: &[(&str, &str)]| validate(&table(opts)).unwrap_err().to_string();
        assert!(err(&[("events.num", "-1")]).contains("'events.num'"));
        assert!(err(&[("first-event.rate", "0")]).contains("'first-event.rate'"));
        assert!(err(&[("rate.shape", "triangle")]).contains("'square' or 'sine'"));
        assert!(err(&[("bid.avg-size", "lots")]).contains("memory size"));
        assert!(err(&[("person.proportion", "0")]).contains(">= 1"));
        assert!(err(&[("tps", "1")]).contains("unsupported option 'tps'"));
        let mut t = table(&[]);
        t.physical_schema = Arc::new(Schema::new(vec![Field::new(
            "event_type",
            DataType::Int32,
            true,
        )]));
        assert!(
            validate(&t)
                .unwrap_err()
                .to_string()
                .contains("Nexmark schema")
        );
    }
}
