//! The session time zone (Flink's `table.local-time-zone`).
//!
//! The engine stores it in DataFusion's `datafusion.execution.time_zone`; every function that
//! needs it reads it from the [`ConfigOptions`] handed to `invoke_with_args`, so a `SET` takes
//! effect without re-registering functions. Unset means UTC, as in Flink's default for tests.
//!
//! Timestamps are handled here as *local milliseconds* (wall clock in the zone, counted as if it
//! were UTC) and *instant milliseconds*, the same pivot Flink's `DateTimeUtils` uses.

use std::str::FromStr;

use chrono::{FixedOffset, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{OffsetName, Tz};
use datafusion::common::config::ConfigOptions;

use crate::error::FunctionError;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A time zone as Flink accepts it: an IANA id (`Asia/Shanghai`, `UTC`) or a fixed offset
/// (`+08:00`, `GMT+8`, `UTC-03:30`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// An IANA zone with daylight-saving rules.
    Named(Tz),
    /// A fixed offset from UTC.
    Fixed(FixedOffset),
}

impl Zone {
    /// UTC, the zone used when the session sets none.
    pub fn utc() -> Self {
        Zone::Named(Tz::UTC)
    }

    /// The session zone from the config options (`datafusion.execution.time_zone`).
    pub fn from_config(config: &ConfigOptions) -> Result<Self, FunctionError> {
        match config.execution.time_zone.as_deref() {
            None | Some("") => Ok(Self::utc()),
            Some(s) => Self::parse(s),
        }
    }

    /// Parses a zone id the way Flink's `ZoneId.of` would for the common spellings.
    pub fn parse(s: &str) -> Result<Self, FunctionError> {
        let s = s.trim();
        if let Ok(tz) = Tz::from_str(s) {
            return Ok(Zone::Named(tz));
        }
        let rest = ["GMT", "UTC", "UT"]
            .iter()
            .find_map(|p| s.strip_prefix(p))
            .unwrap_or(s);
        parse_offset(rest)
            .map(Zone::Fixed)
            .ok_or_else(|| FunctionError::InvalidTimeZone(s.to_string()))
    }

    /// Offset of this zone at the given instant, in milliseconds.
    pub fn offset_ms(&self, instant_ms: i64) -> i64 {
        match self {
            Zone::Fixed(f) => i64::from(f.local_minus_utc()) * 1000,
            Zone::Named(tz) => {
                let secs = instant_ms.div_euclid(1000);
                match chrono::DateTime::from_timestamp(secs, 0) {
                    Some(dt) => {
                        let off = tz.offset_from_utc_datetime(&dt.naive_utc());
                        i64::from(off.fix().local_minus_utc()) * 1000
                    }
                    None => 0,
                }
            }
        }
    }

    /// Wall clock → instant with `java.time.ZonedDateTime.of` rules: in an overlap the earlier
    /// offset wins, in a gap the wall clock moves forward by the gap's length.
    pub fn local_to_instant_ms(&self, local_ms: i64) -> i64 {
        match self {
            Zone::Fixed(f) => local_ms - i64::from(f.local_minus_utc()) * 1000,
            Zone::Named(tz) => {
                let Some(naive) = naive_from_ms(local_ms) else {
                    return local_ms;
                };
                match tz.from_local_datetime(&naive) {
                    chrono::LocalResult::Single(dt) => local_ms - offset_of(&dt),
                    chrono::LocalResult::Ambiguous(early, _) => local_ms - offset_of(&early),
                    // In a gap: use the offset in force before the transition.
                    chrono::LocalResult::None => {
                        local_ms - self.offset_ms(local_ms - MILLIS_PER_DAY)
                    }
                }
            }
        }
    }

    /// Instant → wall clock in this zone.
    pub fn instant_to_local_ms(&self, instant_ms: i64) -> i64 {
        instant_ms + self.offset_ms(instant_ms)
    }

    /// Short display name at an instant (`UTC`, `CST`, `+08:00`), for `z` pattern letters.
    pub fn abbreviation(&self, instant_ms: i64) -> String {
        match self {
            Zone::Fixed(f) => format_offset(i64::from(f.local_minus_utc()), true, true),
            Zone::Named(tz) => {
                let secs = instant_ms.div_euclid(1000);
                let dt = chrono::DateTime::from_timestamp(secs, 0)
                    .unwrap_or(chrono::DateTime::UNIX_EPOCH);
                let off = tz.offset_from_utc_datetime(&dt.naive_utc());
                off.abbreviation().unwrap_or("").to_string()
            }
        }
    }
}

fn offset_of<Tz2: TimeZone>(dt: &chrono::DateTime<Tz2>) -> i64 {
    i64::from(dt.offset().fix().local_minus_utc()) * 1000
}

/// Epoch milliseconds (wall clock) → `NaiveDateTime`.
pub fn naive_from_ms(ms: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_millis(ms).map(|d| d.naive_utc())
}

/// `+08:00`, `+0800`, `+8`, `-03:30` → offset.
fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = if let Some((h, m)) = rest.split_once(':') {
        (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)
    } else if rest.len() == 4 {
        (rest[..2].parse().ok()?, rest[2..].parse().ok()?)
    } else {
        (rest.parse().ok()?, 0)
    };
    if h > 18 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Formats an offset in seconds as `+08:00` (`colon`) or `+0800`; `z_for_zero` prints `Z`
/// for a zero offset instead (ISO `X` pattern letters).
pub fn format_offset(secs: i64, colon: bool, z_for_zero: bool) -> String {
    if secs == 0 && z_for_zero {
        return "Z".to_string();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    let (h, m) = (a / 3600, (a % 3600) / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flink_zone_spellings() {
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::utc());
        assert_eq!(
            Zone::parse("Asia/Shanghai").unwrap(),
            Zone::Named(Tz::Asia__Shanghai)
        );
        let plus8 = Zone::Fixed(FixedOffset::east_opt(8 * 3600).unwrap());
        for s in ["+08:00", "GMT+08:00", "UTC+8", "+0800"] {
            assert_eq!(Zone::parse(s).unwrap(), plus8, "{s}");
        }
        assert!(Zone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn dst_gap_moves_forward_like_java() {
        // 2024-03-10 02:30 does not exist in New York; java.time gives 03:30 EDT = 07:30Z.
        let z = Zone::parse("America/New_York").unwrap();
        let local = 1_710_037_800_000; // 2024-03-10T02:30:00 as local millis
        assert_eq!(z.local_to_instant_ms(local), 1_710_055_800_000);
    }
}
