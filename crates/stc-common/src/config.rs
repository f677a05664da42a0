//! Configuration keys a job can `SET` (Flink's names), with their defaults.
//!
//! Keys are Flink's where Flink has one, so scripts move between Flink and StreamCompute
//! unchanged. Unknown keys are kept (Flink ignores keys it does not know, and so do we) but
//! the keys below are typed and validated when a job is planned.

/// `parallelism.default`: subtasks per operator. Default: the number of cores.
pub const PARALLELISM_DEFAULT: &str = "parallelism.default";
/// `table.exec.source.idle-timeout`: a source split with no records for this long is marked
/// idle and no longer holds back the watermark. Default `0` (never idle), as in Flink.
pub const SOURCE_IDLE_TIMEOUT: &str = "table.exec.source.idle-timeout";
/// `table.local-time-zone`: zone used to display `TIMESTAMP_LTZ` and by time functions.
/// Default `UTC` (Flink's default is the JVM's zone; we pick a fixed one so a job gives the
/// same output on every machine).
pub const LOCAL_TIME_ZONE: &str = "table.local-time-zone";
/// `pipeline.max-parallelism`: number of key groups keyed state is split into. Default 128.
pub const MAX_PARALLELISM: &str = "pipeline.max-parallelism";
/// `table.exec.resource.default-parallelism`: Flink's SQL-level parallelism override.
pub const TABLE_DEFAULT_PARALLELISM: &str = "table.exec.resource.default-parallelism";

/// `table.exec.state.ttl`: state of a key (an updating aggregation's group, a join key)
/// not written for this long is dropped, as in Flink; a later row of that key starts from
/// empty state. Default `0`: state is kept forever.
pub const STATE_TTL: &str = "table.exec.state.ttl";

/// `table.exec.mini-batch.enabled`: buffer the input of updating aggregations and apply it
/// a batch at a time (one change per key per batch). Default `false`, as in Flink.
pub const MINI_BATCH_ENABLED: &str = "table.exec.mini-batch.enabled";
/// `table.exec.mini-batch.allow-latency`: longest time a row waits in a mini-batch. Must be
/// positive when mini-batch is enabled (as in Flink).
pub const MINI_BATCH_ALLOW_LATENCY: &str = "table.exec.mini-batch.allow-latency";
/// `table.exec.mini-batch.size`: rows that close a mini-batch. Must be positive when
/// mini-batch is enabled (as in Flink).
pub const MINI_BATCH_SIZE: &str = "table.exec.mini-batch.size";

/// `execution.checkpointing.interval`: how often a checkpoint is taken. Default: none
/// (checkpointing disabled), as in Flink.
pub const CHECKPOINTING_INTERVAL: &str = "execution.checkpointing.interval";
/// `execution.checkpointing.dir`: where checkpoints (and, by default, savepoints) are
/// written. Needed for any checkpoint or savepoint.
pub const CHECKPOINTING_DIR: &str = "execution.checkpointing.dir";
/// `execution.checkpointing.savepoint-dir`: where savepoints go (default: the checkpoint dir).
pub const SAVEPOINT_DIR: &str = "execution.checkpointing.savepoint-dir";
/// `execution.checkpointing.timeout`: a checkpoint not complete after this long fails.
/// Default 10 min.
pub const CHECKPOINTING_TIMEOUT: &str = "execution.checkpointing.timeout";
/// `execution.checkpointing.max-concurrent-checkpoints`: default 1.
pub const CHECKPOINTING_MAX_CONCURRENT: &str = "execution.checkpointing.max-concurrent-checkpoints";
/// `execution.checkpointing.num-retained`: completed checkpoints kept. Default 1.
pub const CHECKPOINTING_RETAINED: &str = "execution.checkpointing.num-retained";
/// `execution.checkpointing.incremental`: operators that can (joins) write only what changed
/// since the previous checkpoint. Default `false`, as in Flink.
pub const CHECKPOINTING_INCREMENTAL: &str = "execution.checkpointing.incremental";
/// `restart-strategy.type`: `none`, `fixed-delay`, `exponential-delay` or `failure-rate`.
/// Default: `exponential-delay` when checkpointing is enabled, else `none` (Flink's).
pub const RESTART_STRATEGY: &str = "restart-strategy.type";

/// `stc.debug.source-batch-delay`: a pause after every batch a source subtask reads, to
/// slow a job down on purpose (watching it on small sample data, fault-injection tests).
/// Default `0`. Not a Flink key.
pub const SOURCE_BATCH_DELAY: &str = "stc.debug.source-batch-delay";

/// Default number of key groups (Flink's default max parallelism).
pub const DEFAULT_MAX_PARALLELISM: usize = 128;

/// Parses a Flink duration string: `500 ms`, `10s`, `1 min`, `2h`, `0`, a bare number of
/// milliseconds. Returns milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn durations_in_flink_syntax() {
        assert_eq!(parse_duration_ms("0"), Some(0));
        assert_eq!(parse_duration_ms("250"), Some(250));
        assert_eq!(parse_duration_ms("500 ms"), Some(500));
        assert_eq!(parse_duration_ms("10s"), Some(10_000));
        assert_eq!(parse_duration_ms("1 min"), Some(60_000));
        assert_eq!(parse_duration_ms("2h"), Some(7_200_000));
        assert_eq!(parse_duration_ms("ten seconds"), None);
        assert_eq!(parse_duration_ms("5 fortnights"), None);
    }
}
