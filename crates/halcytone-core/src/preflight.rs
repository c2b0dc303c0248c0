//! Pre-flight checks (PRODUCT §14): a channel's credentials still work, its
//! API version is still supported, a token with a known expiry is not due
//! soon, so that an operator hears of a revoked token days before a post
//! fails on it. Publishers run their own checks ([`crate::publisher::Publisher::preflight`]);
//! [`Preflight`] keeps the latest result of each for whoever reports them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::store::{PREFLIGHT_FAILED, Store, StoreError, new_event_id};

/// How soon before a known expiry a token's check fails.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

/// The outcome of one pre-flight check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `twitter.credentials`, `linkedin.version`, …
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

impl Check {
    /// A check that passed.
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            detail: detail.into(),
        }
    }

    /// A check that failed.
    pub fn fail(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: false,
            detail: detail.into(),
        }
    }
}

/// A check and when it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// The check.
    #[serde(flatten)]
    pub check: Check,
    /// When it ran.
    pub at: Timestamp,
}

/// The latest result of every pre-flight check (cheap to clone, shared).
#[derive(Clone, Default)]
pub struct Preflight {
    results: Arc<Mutex<BTreeMap<String, Recorded>>>,
    /// Where a check that starts failing is written as a `preflight.failed`
    /// webhook event, once webhooks are configured.
    outbox: Arc<Mutex<Option<Arc<dyn Store>>>>,
    /// The day each channel's checks last ran, so that they run once a day
    /// whoever asks first (the daily pass, or the dispatcher before a post).
    ran: Arc<Mutex<BTreeMap<String, jiff::civil::Date>>>,
}

impl std::fmt::Debug for Preflight {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Preflight")
            .field("results", &self.results())
            .finish_non_exhaustive()
    }
}

impl Preflight {
    /// Marks `channel`'s checks as run on `day`; returns whether they had
    /// not run that day yet.
    pub fn first_run_on(&self, channel: &str, day: jiff::civil::Date) -> bool {
        self.ran
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(channel.to_owned(), day)
            != Some(day)
    }

    /// Writes each check that starts failing from now on to `store`'s
    /// webhook outbox.
    pub fn set_outbox(&self, store: Arc<dyn Store>) {
        *self.outbox.lock().unwrap_or_else(PoisonError::into_inner) = Some(store);
    }

    /// Keeps `checks` as the latest results of their names, sets
    /// `halcytone_preflight_ok{check}` to 1 or 0 for each, and writes a
    /// `preflight.failed` event for each that failed and had not before.
    ///
    /// # Errors
    /// The outbox's error; the results are kept regardless.
    pub async fn record(&self, checks: &[Check], at: Timestamp) -> Result<(), StoreError> {
        let started_failing = self.keep(checks, at);
        let outbox = self
            .outbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(outbox) = outbox else {
            return Ok(());
        };
        for check in started_failing {
            let id = new_event_id(&check.name);
            let body = serde_json::json!({
                "id": id,
                "type": PREFLIGHT_FAILED,
                "created_at": at.to_string(),
                "check": check,
            });
            outbox
                .record_event(&id, PREFLIGHT_FAILED, &body.to_string(), at)
                .await?;
        }
        Ok(())
    }

    /// Keeps the results; returns the checks that fail now and did not at
    /// their last run (or never ran).
    fn keep(&self, checks: &[Check], at: Timestamp) -> Vec<Check> {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        let mut started_failing = Vec::new();
        for check in checks {
            if !check.ok && results.get(&check.name).is_none_or(|last| last.check.ok) {
                started_failing.push(check.clone());
            }
            metrics::gauge!("halcytone_preflight_ok", "check" => check.name.clone())
                .set(if check.ok { 1.0 } else { 0.0 });
            if !check.ok {
                tracing::warn!(check = %check.name, detail = %check.detail, "Pre-flight check failed.");
            }
            results.insert(
                check.name.clone(),
                Recorded {
                    check: check.clone(),
                    at,
                },
            );
        }
        started_failing
    }

    /// Every check's latest result, by name.
    pub fn results(&self) -> Vec<Recorded> {
        self.results
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The checks whose latest result failed.
    pub fn failing(&self) -> Vec<Recorded> {
        self.results()
            .into_iter()
            .filter(|recorded| !recorded.check.ok)
            .collect()
    }
}

/// The check of a credential with a known expiry: it fails from
/// [`EXPIRY_WARNING`] before `expires_at`.
pub fn expiry(name: &str, what: &str, expires_at: Timestamp, now: Timestamp) -> Check {
    let left = now.duration_until(expires_at);
    let days = left.as_secs() / 86_400;
    if left.is_negative() {
        Check::fail(name, format!("{what} expired at {expires_at}; renew it"))
    } else if left.unsigned_abs() <= EXPIRY_WARNING {
        Check::fail(
            name,
            format!("{what} expires at {expires_at}, in {days} days; renew it before then"),
        )
    } else {
        Check::pass(
            name,
            format!("{what} expires at {expires_at}, in {days} days"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_fails_a_week_ahead() {
        let now: Timestamp = "2026-12-03T12:00:00Z".parse().unwrap();
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        assert!(expiry("t", "the token", at("2026-12-20T00:00:00Z"), now).ok);
        let soon = expiry("t", "the token", at("2026-12-08T12:00:00Z"), now);
        assert!(!soon.ok);
        assert_eq!(
            soon.detail,
            "the token expires at 2026-12-08T12:00:00Z, in 5 days; renew it before then"
        );
        let gone = expiry("t", "the token", at("2026-12-01T00:00:00Z"), now);
        assert_eq!(
            gone.detail,
            "the token expired at 2026-12-01T00:00:00Z; renew it"
        );
    }

    #[test]
    fn the_latest_result_of_each_check_is_kept_and_new_failures_named() {
        let board = Preflight::default();
        let now = Timestamp::UNIX_EPOCH;
        let started = board.keep(&[Check::fail("a", "down"), Check::pass("b", "fine")], now);
        assert_eq!(started, [Check::fail("a", "down")]);
        assert_eq!(board.failing().len(), 1);
        // Still failing: not new.
        assert!(
            board
                .keep(&[Check::fail("a", "still down")], now)
                .is_empty()
        );
        board.keep(&[Check::pass("a", "back")], now);
        assert!(board.failing().is_empty());
        assert_eq!(board.results().len(), 2);
        assert_eq!(board.keep(&[Check::fail("a", "down again")], now).len(), 1);
    }

    #[test]
    fn a_channel_runs_its_checks_once_a_day() {
        let board = Preflight::default();
        let day = jiff::civil::date(2026, 12, 3);
        assert!(board.first_run_on("twitter", day));
        assert!(!board.first_run_on("twitter", day));
        assert!(board.first_run_on("linkedin", day));
        assert!(board.first_run_on("twitter", day.tomorrow().unwrap()));
    }
}
