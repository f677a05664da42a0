//! Flink's restart strategies (`restart-strategy.*`): whether, and after how long, a failed
//! job is restarted from its latest completed checkpoint.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use stc_common::config::{RESTART_STRATEGY, parse_duration_ms};

/// A configured restart strategy.
#[derive(Debug, Clone, PartialEq)]
pub enum RestartStrategy {
    None,
    /// `fixed-delay`: up to `attempts` restarts, `delay` apart.
    FixedDelay {
        attempts: u32,
        delay: Duration,
    },
    /// `exponential-delay`: `initial` backoff multiplied by `multiplier` per failure up to
    /// `max`, reset after `reset_threshold` without failure; `attempts` before giving up.
    ExponentialDelay {
        initial: Duration,
        max: Duration,
        multiplier: f64,
        reset_threshold: Duration,
        attempts: u32,
    },
    /// `failure-rate`: at most `max_failures` within `interval`, `delay` between restarts.
    FailureRate {
        max_failures: u32,
        interval: Duration,
        delay: Duration,
    },
}

fn duration(
    conf: &BTreeMap<String, String>,
    key: &str,
    default: Duration,
) -> Result<Duration, String> {
    match conf.get(key) {
        None => Ok(default),
        Some(v) => parse_duration_ms(v)
            .map(Duration::from_millis)
            .ok_or_else(|| format!("'{key}' = '{v}' is not a duration (e.g. '10 s', '500 ms')")),
    }
}

fn number<T: std::str::FromStr>(
    conf: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> Result<T, String> {
    match conf.get(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("'{key}' = '{v}' is not a number")),
    }
}

impl RestartStrategy {
    /// Reads `restart-strategy.*` (Flink's keys and defaults); the default type depends on
    /// whether checkpointing is enabled.
    pub fn from_config(
        conf: &BTreeMap<String, String>,
        checkpointing: bool,
    ) -> Result<Self, String> {
        let kind = conf
            .get(RESTART_STRATEGY)
            .map(|s| s.trim().to_ascii_lowercase())
            .unwrap_or_else(|| {
                if checkpointing {
                    "exponential-delay".into()
                } else {
                    "none".into()
                }
            });
        Ok(match kind.as_str() {
            "none" | "off" | "disable" => RestartStrategy::None,
            "fixed-delay" | "fixeddelay" => RestartStrategy::FixedDelay {
                attempts: number(conf, "restart-strategy.fixed-delay.attempts", 1)?,
                delay: duration(
                    conf,
                    "restart-strategy.fixed-delay.delay",
                    Duration::from_secs(1),
                )?,
            },
            "exponential-delay" | "exponentialdelay" => RestartStrategy::ExponentialDelay {
                initial: duration(
                    conf,
                    "restart-strategy.exponential-delay.initial-backoff",
                    Duration::from_secs(1),
                )?,
                max: duration(
                    conf,
                    "restart-strategy.exponential-delay.max-backoff",
                    Duration::from_secs(60),
                )?,
                multiplier: number(
                    conf,
                    "restart-strategy.exponential-delay.backoff-multiplier",
                    1.5,
                )?,
                reset_threshold: duration(
                    conf,
                    "restart-strategy.exponential-delay.reset-backoff-threshold",
                    Duration::from_secs(3600),
                )?,
                attempts: number(
                    conf,
                    "restart-strategy.exponential-delay.attempts-before-reset-backoff",
                    u32::MAX,
                )?,
            },
            "failure-rate" | "failurerate" => RestartStrategy::FailureRate {
                max_failures: number(
                    conf,
                    "restart-strategy.failure-rate.max-failures-per-interval",
                    1,
                )?,
                interval: duration(
                    conf,
                    "restart-strategy.failure-rate.failure-rate-interval",
                    Duration::from_secs(60),
                )?,
                delay: duration(
                    conf,
                    "restart-strategy.failure-rate.delay",
                    Duration::from_secs(1),
                )?,
            },
            other => {
                return Err(format!(
                    "'{RESTART_STRATEGY}' = '{other}' is not a restart strategy: use none, fixed-delay, exponential-delay or failure-rate"
                ));
            }
        })
    }
}

/// The failures of one job so far, judged by its strategy.
#[derive(Debug)]
pub struct RestartTracker {
    strategy: RestartStrategy,
    failures: Vec<Instant>,
    last_backoff: Option<Duration>,
}

impl RestartTracker {
    pub fn new(strategy: RestartStrategy) -> Self {
        RestartTracker {
            strategy,
            failures: Vec::new(),
            last_backoff: None,
        }
    }

    /// Records a failure now; returns how long to wait before restarting, or `None` if the
    /// strategy says the job has failed for good.
    pub fn on_failure(&mut self, now: Instant) -> Option<Duration> {
        let previous = self.failures.last().copied();
        self.failures.push(now);
        match &self.strategy {
            RestartStrategy::None => None,
            RestartStrategy::FixedDelay { attempts, delay } => {
                (self.failures.len() as u32 <= *attempts).then_some(*delay)
            }
            RestartStrategy::FailureRate {
                max_failures,
                interval,
                delay,
            } => {
                let recent = self
                    .failures
                    .iter()
                    .filter(|t| now.duration_since(**t) <= *interval)
                    .count() as u32;
                (recent <= *max_failures).then_some(*delay)
            }
            RestartStrategy::ExponentialDelay {
                initial,
                max,
                multiplier,
                reset_threshold,
                attempts,
            } => {
                if previous.is_some_and(|p| now.duration_since(p) >= *reset_threshold) {
                    self.failures = vec![now];
                    self.last_backoff = None;
                }
                if self.failures.len() as u32 > *attempts {
                    return None;
                }
                let next = match self.last_backoff {
                    None => *initial,
                    Some(b) => b.mul_f64(*multiplier).min(*max),
                };
                self.last_backoff = Some(next);
                Some(next)
            }
        }
    }

    pub fn restarts(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_flink() {
        assert_eq!(
            RestartStrategy::from_config(&conf(&[]), false),
            Ok(RestartStrategy::None)
        );
        assert!(matches!(
            RestartStrategy::from_config(&conf(&[]), true),
            Ok(RestartStrategy::ExponentialDelay { .. })
        ));
        let err = RestartStrategy::from_config(&conf(&[(RESTART_STRATEGY, "sometimes")]), true)
            .unwrap_err();
        assert!(err.contains("fixed-delay"), "{err}");
        let err = RestartStrategy::from_config(
            &conf(&[
                (RESTART_STRATEGY, "fixed-delay"),
                ("restart-strategy.fixed-delay.delay", "soon"),
            ]),
            true,
        )
        .unwrap_err();
        assert!(err.contains("not a duration"), "{err}");
    }

    #[test]
    fn fixed_delay_gives_up_after_its_attempts() {
        let s = RestartStrategy::from_config(
            &conf(&[
                (RESTART_STRATEGY, "fixed-delay"),
                ("restart-strategy.fixed-delay.attempts", "2"),
                ("restart-strategy.fixed-delay.delay", "10 ms"),
            ]),
            false,
        )
        .unwrap();
        let mut t = RestartTracker::new(s);
        let now = Instant::now();
        assert_eq!(t.on_failure(now), Some(Duration::from_millis(10)));
        assert_eq!(t.on_failure(now), Some(Duration::from_millis(10)));
        assert_eq!(t.on_failure(now), None);
    }

    #[test]
    fn exponential_delay_grows_to_its_maximum() {
        let s = RestartStrategy::from_config(
            &conf(&[
                (
                    "restart-strategy.exponential-delay.initial-backoff",
                    "100 ms",
                ),
                ("restart-strategy.exponential-delay.max-backoff", "300 ms"),
                ("restart-strategy.exponential-delay.backoff-multiplier", "2"),
            ]),
            true,
        )
        .unwrap();
        let mut t = RestartTracker::new(s);
        let now = Instant::now();
        let delays: Vec<_> = (0..4)
            .map(|_| t.on_failure(now).unwrap().as_millis())
            .collect();
        assert_eq!(delays, vec![100, 200, 300, 300]);
    }

    #[test]
    fn failure_rate_counts_failures_within_the_interval() {
        let s = RestartStrategy::from_config(
            &conf(&[
                (RESTART_STRATEGY, "failure-rate"),
                (
                    "restart-strategy.failure-rate.max-failures-per-interval",
                    "2",
                ),
                (
                    "restart-strategy.failure-rate.failure-rate-interval",
                    "1 min",
                ),
            ]),
            false,
        )
        .unwrap();
        let mut t = RestartTracker::new(s);
        let now = Instant::now();
        assert!(t.on_failure(now).is_some());
        assert!(t.on_failure(now).is_some());
        assert!(t.on_failure(now).is_none());
    }
}
