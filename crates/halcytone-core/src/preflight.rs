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
#[derive(Debug, Clone, Default)]
pub struct Preflight {
    results: Arc<Mutex<BTreeMap<String, Recorded>>>,
}

impl Preflight {
    /// Keeps `checks` as the latest results of their names, and sets
    /// `halcytone_preflight_ok{check}` to 1 or 0 for each.
    pub fn record(&self, checks: &[Check], at: Timestamp) {
        let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        for check in checks {
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
    fn the_latest_result_of_each_check_is_kept() {
        let board = Preflight::default();
        let now = Timestamp::UNIX_EPOCH;
        board.record(&[Check::fail("a", "down"), Check::pass("b", "fine")], now);
        assert_eq!(board.failing().len(), 1);
        board.record(&[Check::pass("a", "back")], now);
        assert!(board.failing().is_empty());
        assert_eq!(board.results().len(), 2);
    }
}
