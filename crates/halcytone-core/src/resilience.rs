//! The resilience layer shared by every channel: retries with exponential
//! backoff and full jitter (backon), a circuit breaker per channel
//! (failsafe), a rate limit per channel (governor), and the metrics of each
//! attempt. Publishers only classify errors; [`Resilient`] decides what to do.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use failsafe::futures::CircuitBreaker as _;
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::cadence::Cadence;
use crate::channel::Channel;
use crate::error::PublishError;
use crate::publisher::{
    Content, Lookup, LookupContext, Measured, OutgoingPost, PostShape, PublishContext,
    PublishReceipt, Publisher, QuotaLeft, RenderInput,
};
use crate::render::Renderer;
use crate::request::{OutboundRequest, RequestPreview};

/// A channel's quota: at most `count` requests per `period`, as `100/15m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// How many requests.
    pub count: u32,
    /// In how long.
    pub period: Duration,
}

/// Reads `250ms`, `90s`, `15m`, `3h` or `1d` (a bare number is seconds).
///
/// # Errors
/// Says what form was expected.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("bad duration `{value}`: expected a whole number and a unit, such as 250ms, 90s, 15m, 3h or 1d"))?;
    let milliseconds = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "bad duration `{value}`: the unit must be ms, s, m, h or d"
            ));
        }
    };
    Ok(Duration::from_millis(number.saturating_mul(milliseconds)))
}

/// Reads a size in bytes: `8MiB`, `512KiB`, `1GiB` or a bare number of bytes.
///
/// # Errors
/// Says what form was expected.
pub fn parse_size(value: &str) -> Result<usize, String> {
    let value = value.trim();
    let split = value
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let expected = || {
        format!(
            "bad size `{value}`: expected a whole number of bytes or of KiB, MiB or GiB, such as 8MiB"
        )
    };
    let number: usize = number.parse().map_err(|_| expected())?;
    let unit: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(expected()),
    };
    number.checked_mul(unit).ok_or_else(expected)
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (count, period) = value.split_once('/').ok_or_else(|| {
            format!("bad rate limit `{value}`: expected COUNT/PERIOD such as 100/15m")
        })?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|count| *count > 0)
            .ok_or_else(|| {
                format!("bad rate limit `{value}`: the count must be a whole number above 0")
            })?;
        let period = parse_duration(period)?;
        if period.is_zero() {
            return Err(format!(
                "bad rate limit `{value}`: the period must be longer than 0"
            ));
        }
        Ok(Self { count, period })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.period.as_secs();
        match seconds {
            _ if seconds.is_multiple_of(86_400) => {
                write!(formatter, "{}/{}d", self.count, seconds / 86_400)
            }
            _ if seconds.is_multiple_of(3600) => {
                write!(formatter, "{}/{}h", self.count, seconds / 3600)
            }
            _ if seconds.is_multiple_of(60) => {
                write!(formatter, "{}/{}m", self.count, seconds / 60)
            }
            _ => write!(formatter, "{}/{}s", self.count, seconds),
        }
    }
}

impl RateLimit {
    /// The governor quota that never lets more than `count` requests through
    /// in any window of `period`: a burst of a tenth of the count, then one
    /// request every `period / (count - burst + 1)`. (A GCRA with burst `b`
    /// and interval `t` admits `b + period / t - 1` requests per window.)
    pub fn quota(&self) -> Quota {
        let burst = (self.count / 10).max(1);
        let cells = self.count - burst + 1;
        let interval = (self.period / cells).max(Duration::from_nanos(1));
        let quota =
            Quota::with_period(interval).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
        quota.allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
    }
}

/// How the resilience layer behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResilienceSettings {
    /// Attempts per publish, the first included.
    pub max_attempts: u32,
    /// The first retry waits up to this long (full jitter).
    pub min_delay: Duration,
    /// No retry waits longer, unless the API asked for longer.
    pub max_delay: Duration,
    /// Consecutive transient failures that open the breaker.
    pub breaker_threshold: u32,
    /// How long the breaker stays open at first; it doubles on each failed
    /// probe, up to eight times this.
    pub breaker_cooldown: Duration,
}

impl Default for ResilienceSettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(60),
        }
    }
}

/// Runs `operation` until it succeeds, fails for good or the attempts run
/// out: transient failures and rate limits are retried with exponential
/// backoff and full jitter, waiting at least the `Retry-After` the API gave;
/// an unknown outcome is retried only when `idempotent` (the request carries
/// an idempotency key, or only reads). `label` names the operation in logs.
///
/// This is the one retry loop of Halcytone: publishers and sources both use it.
///
/// # Errors
/// The last error, when it is not retryable or the attempts ran out.
pub async fn retrying<T, Fut>(
    settings: &ResilienceSettings,
    idempotent: bool,
    label: &str,
    operation: impl FnMut() -> Fut,
) -> Result<T, PublishError>
where
    Fut: Future<Output = Result<T, PublishError>>,
{
    let retries = settings.max_attempts.saturating_sub(1);
    let mut retry = 0;
    operation
        .retry(backoff(settings).with_max_times(retries as usize))
        .sleep(tokio::time::sleep)
        .when(|error: &PublishError| {
            error.is_retryable() || (idempotent && error.is_outcome_unknown())
        })
        .adjust(|error: &PublishError, delay: Option<Duration>| {
            delay.map(|delay| at_least_what_the_api_asked(error, delay))
        })
        .notify(|error: &PublishError, delay: Duration| {
            retry += 1;
            // Said in the message itself, so a person at a terminal sees
            // each retry and how long it waits.
            tracing::warn!(
                %error,
                operation = label,
                retry,
                retries,
                retry_in_ms = delay.as_millis() as u64,
                "{label} failed: {error}; retry {retry}/{retries} in {:.1} s",
                delay.as_secs_f64()
            );
        })
        .await
}

/// How long to wait before retry number `retry` (1 for the first) after
/// `error`, by the same policy as [`retrying`]: for the durable queue, whose
/// retries outlive the process.
pub fn retry_delay(settings: &ResilienceSettings, retry: u32, error: &PublishError) -> Duration {
    let delay = backoff(settings)
        .with_max_times(retry as usize)
        .build()
        .nth(retry.saturating_sub(1) as usize)
        .unwrap_or(settings.max_delay);
    at_least_what_the_api_asked(error, delay)
}

/// Exponential backoff from `min_delay` to `max_delay`, with jitter.
fn backoff(settings: &ResilienceSettings) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(settings.min_delay)
        .with_max_delay(settings.max_delay)
        .with_jitter()
}

/// Waits at least what a rate-limited API asked for, even past `max_delay`.
fn at_least_what_the_api_asked(error: &PublishError, delay: Duration) -> Duration {
    error.retry_after().map_or(delay, |wait| delay.max(wait))
}

/// The breaker's open periods: `cooldown`, doubling up to eight times it,
/// each with equal jitter (half fixed, half random) so that channels opened
/// together do not probe together. Millisecond resolution, unlike
/// failsafe's own backoffs, so tests can use short cooldowns.
#[derive(Debug, Clone)]
pub struct Cooldown {
    next: Duration,
    max: Duration,
}

impl Iterator for Cooldown {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let current = self.next;
        self.next = (current * 2).min(self.max);
        Some(current / 2 + current.mul_f64(fastrand::f64()) / 2)
    }
}

/// Publishes breaker state changes as metrics and log lines.
#[derive(Debug, Clone)]
/// Reports a breaker's state changes as metrics and logs.
pub struct BreakerEvents {
    channel: Channel,
}

impl failsafe::Instrument for BreakerEvents {
    fn on_call_rejected(&self) {
        metrics::counter!("halcytone_circuit_rejected_total", "channel" => self.channel.to_string()).increment(1);
    }

    fn on_open(&self) {
        metrics::gauge!("halcytone_circuit_open", "channel" => self.channel.to_string()).set(1.0);
        tracing::warn!(channel = %self.channel, "Circuit opened after repeated failures.");
    }

    fn on_half_open(&self) {
        tracing::info!(channel = %self.channel, "Circuit half-open: probing.");
    }

    fn on_closed(&self) {
        metrics::gauge!("halcytone_circuit_open", "channel" => self.channel.to_string()).set(0.0);
        // failsafe also reports the initial closed state, so this stays quiet.
        tracing::debug!(channel = %self.channel, "Circuit closed.");
    }
}

/// A circuit breaker: open after `breaker_threshold` failures in a row, for
/// `breaker_cooldown` at first and longer on each failed probe.
pub type Breaker =
    failsafe::StateMachine<failsafe::failure_policy::ConsecutiveFailures<Cooldown>, BreakerEvents>;

/// The breaker of `service` (a channel's API, or another service named like
/// one, such as `enhance`), by `settings`; its state is in the
/// `halcytone_circuit_open{channel}` gauge.
pub fn breaker(settings: &ResilienceSettings, service: Channel) -> Breaker {
    let cooldown = Cooldown {
        next: settings.breaker_cooldown,
        max: settings.breaker_cooldown * 8,
    };
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            settings.breaker_threshold.max(1),
            cooldown,
        ))
        .instrument(BreakerEvents { channel: service })
        .build()
}

/// Runs `call` through `breaker`: refused at once while it is open
/// (`CircuitOpen`), and counted against it when it fails in a way that
/// says the service is unwell.
///
/// # Errors
/// `CircuitOpen`, or the call's own error.
pub async fn through_breaker<T>(
    breaker: &Breaker,
    service: &Channel,
    call: impl Future<Output = Result<T, PublishError>>,
) -> Result<T, PublishError> {
    match breaker.call_with(trips_breaker, call).await {
        Ok(value) => Ok(value),
        Err(failsafe::Error::Rejected) => Err(PublishError::CircuitOpen {
            channel: service.clone(),
        }),
        Err(failsafe::Error::Inner(error)) => Err(error),
    }
}

/// One send the channel's rate limit allowed (see [`Resilient::permits`]).
#[derive(Debug)]
pub struct Permit(());

/// A publisher wrapped in retries, a circuit breaker and a rate limit.
///
/// Transient failures and rate limits are retried with exponential backoff
/// and full jitter, waiting at least what the API asked for; an unknown
/// outcome is retried only on channels whose requests carry idempotency
/// keys; permanent failures and an open circuit are returned at once.
pub struct Resilient {
    inner: Arc<dyn Publisher>,
    settings: ResilienceSettings,
    breaker: Breaker,
    limiter: Option<DefaultDirectRateLimiter<StateInformationMiddleware>>,
    rate_limit: Option<RateLimit>,
    /// What the limiter said after the last permit it gave, and when.
    last_permit: std::sync::Mutex<Option<(Instant, u32)>>,
    /// What the API last said is left of its own daily quota.
    quota_left: std::sync::Mutex<Option<QuotaLeft>>,
    /// The rate limit of the API's figures, apart from publishing's.
    metrics_limiter: Option<DefaultDirectRateLimiter>,
}

impl fmt::Debug for Resilient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Resilient")
            .field("channel", &self.inner.channel())
            .field("settings", &self.settings)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

impl Resilient {
    /// Wraps `inner`.
    pub fn new(
        inner: Arc<dyn Publisher>,
        settings: ResilienceSettings,
        rate_limit: Option<RateLimit>,
    ) -> Self {
        let breaker = breaker(&settings, inner.channel());
        Self {
            limiter: rate_limit.map(|limit| {
                RateLimiter::direct(limit.quota()).with_middleware::<StateInformationMiddleware>()
            }),
            metrics_limiter: inner
                .default_metrics_rate_limit()
                .map(|limit| RateLimiter::direct(limit.quota())),
            inner,
            settings,
            breaker,
            rate_limit,
            last_permit: std::sync::Mutex::new(None),
            quota_left: std::sync::Mutex::new(None),
        }
    }

    /// The same, with `limit` as the rate limit of the API's figures
    /// (`metrics_rate_limit`) instead of the channel's default.
    #[must_use]
    pub fn with_metrics_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.metrics_limiter = limit.map(|limit| RateLimiter::direct(limit.quota()));
        self
    }

    /// Whether the breaker lets calls through now.
    pub fn circuit_closed(&self) -> bool {
        self.breaker.is_call_permitted()
    }

    /// Whether the channel has a rate limit, so that sending needs permits
    /// that may have to be waited for.
    pub fn rate_limited(&self) -> bool {
        self.limiter.is_some()
    }

    /// Takes up to `wanted` sends from the rate limit: waits for the first,
    /// then takes what else is free at once. Without a rate limit, `wanted`
    /// permits at once. The dispatcher takes permits before it leases
    /// posts, so a post never waits for the limit while leased.
    pub async fn permits(&self, wanted: usize) -> Vec<Permit> {
        if wanted == 0 {
            return Vec::new();
        }
        let mut permits = vec![self.permit().await];
        while permits.len() < wanted {
            if let Some(limiter) = &self.limiter {
                let Ok(snapshot) = limiter.check() else { break };
                self.remember(snapshot);
            }
            permits.push(Permit(()));
        }
        permits
    }

    /// The sends the rate limit would let through at once now: `None`
    /// without a rate limit. Read from the limiter's state after its last
    /// permit plus the cells replenished since, so asking takes nothing.
    pub fn headroom(&self) -> Option<u32> {
        let limit = self.rate_limit?;
        let quota = limit.quota();
        let burst = quota.burst_size().get();
        let last = *self
            .last_permit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((at, remaining)) = last else {
            return Some(burst);
        };
        let interval = quota.replenish_interval().as_nanos().max(1);
        let replenished = at.elapsed().as_nanos() / interval;
        let free = u128::from(remaining) + replenished;
        Some(u32::try_from(free.min(u128::from(burst))).unwrap_or(burst))
    }

    /// What the API last said is left of its own daily quota, while that
    /// holds (until its reset, after `now`).
    pub fn quota_left(&self, now: jiff::Timestamp) -> Option<QuotaLeft> {
        self.quota_left
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .filter(|left| left.until > now)
    }

    fn remember(&self, snapshot: StateSnapshot) {
        *self
            .last_permit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), snapshot.remaining_burst_capacity()));
    }

    /// Waits for one send from the rate limit, recording the wait.
    pub async fn permit(&self) -> Permit {
        if let Some(limiter) = &self.limiter {
            let waiting = Instant::now();
            let snapshot = limiter.until_ready().await;
            self.remember(snapshot);
            metrics::histogram!("halcytone_rate_limit_wait_seconds", "channel" => self.inner.channel().to_string())
                .record(waiting.elapsed().as_secs_f64());
        }
        Permit(())
    }

    /// Sends the post once, through the breaker, with a permit of the rate
    /// limit already taken, without retrying: for the durable queue, which
    /// schedules retries itself (see [`retry_delay`]) so that each one is
    /// on record.
    ///
    /// # Errors
    /// As [`Publisher::publish`]; `CircuitOpen` when the breaker refused the call.
    pub async fn publish_once(
        &self,
        post: &OutgoingPost,
        context: &PublishContext,
        permit: Permit,
    ) -> Result<PublishReceipt, PublishError> {
        self.inner.validate(&post.content)?;
        let sent = Mutex::new(context.already_sent.clone());
        self.attempt(post, context, &sent, permit).await
    }

    async fn attempt(
        &self,
        post: &OutgoingPost,
        context: &PublishContext,
        sent: &Mutex<Vec<String>>,
        _permit: Permit,
    ) -> Result<PublishReceipt, PublishError> {
        let channel = self.inner.channel();
        let label = channel.to_string();
        let context = PublishContext {
            correlation_id: context.correlation_id.clone(),
            already_sent: sent.lock().map(|sent| sent.clone()).unwrap_or_default(),
        };
        let started = Instant::now();
        let span = tracing::info_span!("publish", channel = %channel, post = %post.id);
        let result = through_breaker(
            &self.breaker,
            &channel,
            tracing::Instrument::instrument(self.inner.publish(post, &context), span),
        )
        .await;
        metrics::histogram!("halcytone_publish_duration_seconds", "channel" => label.clone())
            .record(started.elapsed().as_secs_f64());
        let outcome = result
            .as_ref()
            .map_or_else(PublishError::class, |_| "success");
        metrics::counter!("halcytone_publish_attempts_total", "channel" => label, "outcome" => outcome).increment(1);
        if let Err(PublishError::Partial { sent: parts, .. }) = &result
            && let Ok(mut sent) = sent.lock()
        {
            sent.clone_from(parts);
        }
        if let Ok(PublishReceipt {
            quota_left: Some(left),
            ..
        }) = &result
        {
            *self
                .quota_left
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(*left);
        }
        result
    }
}

/// Whether a failed call counts against the channel's breaker: only
/// failures of the service do, not rejections of the post, and not rate
/// limits, which say the service is fine.
fn trips_breaker(error: &PublishError) -> bool {
    error.is_outcome_unknown()
        || (error.is_retryable() && !matches!(error, PublishError::RateLimited { .. }))
}

#[async_trait]
impl Publisher for Resilient {
    fn channel(&self) -> Channel {
        self.inner.channel()
    }

    fn default_cadence(&self) -> Cadence {
        self.inner.default_cadence()
    }

    fn shape(&self) -> PostShape {
        self.inner.shape()
    }

    fn default_daily_cap(&self) -> Option<u32> {
        self.inner.default_daily_cap()
    }

    fn idempotent(&self) -> bool {
        self.inner.idempotent()
    }

    fn missing_configuration(&self) -> Vec<&'static str> {
        self.inner.missing_configuration()
    }

    fn render(
        &self,
        input: &RenderInput<'_>,
        renderer: &Renderer,
    ) -> Result<Content, PublishError> {
        self.inner.render(input, renderer)
    }

    fn validate(&self, content: &Content) -> Result<(), PublishError> {
        self.inner.validate(content)
    }

    fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError> {
        self.inner.build_requests(post)
    }

    fn preview(&self, post: &OutgoingPost) -> Result<Vec<RequestPreview>, PublishError> {
        self.inner.preview(post)
    }

    fn measure(&self, content: &Content) -> Vec<Measured> {
        self.inner.measure(content)
    }

    fn external_url(&self, external_id: &str) -> Option<String> {
        self.inner.external_url(external_id)
    }

    async fn preflight(&self, now: jiff::Timestamp) -> Vec<crate::preflight::Check> {
        self.inner.preflight(now).await
    }

    fn takes_segments(&self) -> bool {
        self.inner.takes_segments()
    }

    fn experiments(&self) -> Option<crate::experiment::ExperimentKind> {
        self.inner.experiments()
    }

    fn experiments_refused(&self) -> Option<(crate::experiment::ExperimentKind, &'static str)> {
        self.inner.experiments_refused()
    }

    fn vary(
        &self,
        content: &Content,
        variation: &crate::experiment::Variation<'_>,
    ) -> Result<Content, PublishError> {
        self.inner.vary(content, variation)
    }

    fn metrics_batch(&self) -> usize {
        self.inner.metrics_batch()
    }

    fn default_metrics_rate_limit(&self) -> Option<RateLimit> {
        self.inner.default_metrics_rate_limit()
    }

    /// Once, within the figures' own rate limit, and not through the
    /// breaker, so a failing fetch never holds a post; `RateLimited` when
    /// the limit has no call left now (the fetch waits for the next pass).
    async fn fetch_metrics(
        &self,
        posts: &[crate::publisher::MetricsTarget],
        correlation_id: &str,
    ) -> Result<Vec<crate::publisher::Reading>, PublishError> {
        if let Some(limiter) = &self.metrics_limiter
            && let Err(not_until) = limiter.check()
        {
            let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
            return Err(PublishError::RateLimited {
                service: self.inner.channel().into(),
                retry_after: Some(not_until.wait_time_from(now)),
            });
        }
        self.inner.fetch_metrics(posts, correlation_id).await
    }

    async fn look_up(
        &self,
        post: &OutgoingPost,
        context: &LookupContext,
    ) -> Result<Lookup, PublishError> {
        // Through the breaker: a channel that is failing is not asked, and
        // a failing look-up counts against it like a failing send.
        through_breaker(
            &self.breaker,
            &self.inner.channel(),
            self.inner.look_up(post, context),
        )
        .await
    }

    async fn publish(
        &self,
        post: &OutgoingPost,
        context: &PublishContext,
    ) -> Result<PublishReceipt, PublishError> {
        // A post that breaks the channel's rules is never sent.
        self.inner.validate(&post.content)?;
        let sent = Mutex::new(context.already_sent.clone());
        let label = format!("{} post {}", self.inner.channel(), post.id);
        retrying(&self.settings, self.inner.idempotent(), &label, || async {
            let permit = self.permit().await;
            self.attempt(post, context, &sent, permit).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::publisher::PostId;

    mockall::mock! {
        Channel {}
        #[async_trait]
        impl Publisher for Channel {
            fn channel(&self) -> Channel;
            fn default_cadence(&self) -> Cadence;
            fn idempotent(&self) -> bool;
            fn missing_configuration(&self) -> Vec<&'static str>;
            fn render<'a>(&self, input: &RenderInput<'a>, renderer: &Renderer) -> Result<Content, PublishError>;
            fn validate(&self, content: &Content) -> Result<(), PublishError>;
            fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError>;
            fn preview(&self, post: &OutgoingPost) -> Result<Vec<RequestPreview>, PublishError>;
            async fn publish(&self, post: &OutgoingPost, context: &PublishContext) -> Result<PublishReceipt, PublishError>;
        }
    }

    impl fmt::Debug for MockChannel {
        fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("MockChannel")
        }
    }

    const TWITTER: Channel = Channel::from_static("twitter");

    fn post() -> OutgoingPost {
        OutgoingPost {
            id: PostId("post_1".to_owned()),
            scheduled_at: "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap(),
            content: Content(serde_json::json!({})),
        }
    }

    fn settings() -> ResilienceSettings {
        ResilienceSettings {
            max_attempts: 4,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_millis(50),
        }
    }

    fn receipt() -> PublishReceipt {
        PublishReceipt {
            external_ids: vec!["1".to_owned()],
            url: None,
            quota_left: None,
        }
    }

    fn transient() -> PublishError {
        PublishError::Transient {
            service: TWITTER.into(),
            message: "503".to_owned(),
            source: None,
        }
    }

    /// A mock whose publish answers from `answers` in order.
    fn mock_publisher(
        idempotent: bool,
        answers: Vec<Result<PublishReceipt, PublishError>>,
    ) -> (MockChannel, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut mock = MockChannel::new();
        mock.expect_channel().returning(|| TWITTER);
        mock.expect_idempotent().return_const(idempotent);
        mock.expect_validate().returning(|_| Ok(()));
        let answers = Mutex::new(answers.into_iter());
        let counter = Arc::clone(&calls);
        mock.expect_publish().returning(move |_, _| {
            counter.fetch_add(1, Ordering::SeqCst);
            answers
                .lock()
                .unwrap()
                .next()
                .unwrap_or_else(|| Ok(receipt()))
        });
        (mock, calls)
    }

    #[test]
    fn a_channels_own_preview_is_shown() {
        let mut mock = MockChannel::new();
        mock.expect_channel().return_const(TWITTER);
        mock.expect_preview().times(1).returning(|_| {
            Ok(vec![RequestPreview {
                method: crate::request::Method::Post,
                url: "https://api.example/own".to_owned(),
                headers: serde_json::Map::new(),
                body: None,
            }])
        });
        mock.expect_build_requests().times(0);
        let resilient = Resilient::new(Arc::new(mock), settings(), None);
        let preview = resilient.preview(&post()).unwrap();
        assert_eq!(preview[0].url, "https://api.example/own");
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let rejected = PublishError::Permanent {
            service: TWITTER.into(),
            status: 400,
            message: "bad".to_owned(),
        };
        let (mock, calls) = mock_publisher(false, vec![Err(rejected)]);
        let resilient = Resilient::new(Arc::new(mock), settings(), None);
        let error = resilient
            .publish(&post(), &PublishContext::default())
            .await
            .unwrap_err();
        assert!(matches!(error, PublishError::Permanent { status: 400, .. }));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let (mock, calls) = mock_publisher(
            false,
            vec![Err(transient()), Err(transient()), Ok(receipt())],
        );
        let resilient = Resilient::new(Arc::new(mock), settings(), None);
        assert_eq!(
            resilient
                .publish(&post(), &PublishContext::default())
                .await
                .unwrap(),
            receipt()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_after_max_attempts() {
        let (mock, calls) = mock_publisher(false, (0..10).map(|_| Err(transient())).collect());
        let resilient = Resilient::new(
            Arc::new(mock),
            ResilienceSettings {
                breaker_threshold: 100,
                ..settings()
            },
            None,
        );
        assert!(
            resilient
                .publish(&post(), &PublishContext::default())
                .await
                .unwrap_err()
                .is_retryable()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limits_wait_at_least_what_the_api_asked() {
        let limited = PublishError::RateLimited {
            service: TWITTER.into(),
            retry_after: Some(Duration::from_secs(900)),
        };
        let (mock, calls) = mock_publisher(false, vec![Err(limited), Ok(receipt())]);
        let resilient = Resilient::new(Arc::new(mock), settings(), None);
        let started = tokio::time::Instant::now();
        resilient
            .publish(&post(), &PublishContext::default())
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_secs(900),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_outcomes_are_retried_only_with_idempotency_keys() {
        let unknown = || PublishError::OutcomeUnknown {
            service: TWITTER.into(),
            message: "timeout".to_owned(),
        };
        let (mock, calls) = mock_publisher(false, vec![Err(unknown())]);
        let resilient = Resilient::new(Arc::new(mock), settings(), None);
        assert!(
            resilient
                .publish(&post(), &PublishContext::default())
                .await
                .unwrap_err()
                .is_outcome_unknown()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let (mock, calls) = mock_publisher(true, vec![Err(unknown()), Ok(receipt())]);
        let resilient = Resilient::new(Arc::new(mock), settings(), None);
        resilient
            .publish(&post(), &PublishContext::default())
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_thread_resumes_after_the_parts_that_went_out() {
        let partial = PublishError::Partial {
            sent: vec!["101".to_owned(), "102".to_owned()],
            error: Box::new(transient()),
        };
        let mut mock = MockChannel::new();
        mock.expect_channel().returning(|| TWITTER);
        mock.expect_idempotent().return_const(false);
        mock.expect_validate().returning(|_| Ok(()));
        let mut sequence = mockall::Sequence::new();
        mock.expect_publish()
            .times(1)
            .in_sequence(&mut sequence)
            .withf(|_, context| context.already_sent.is_empty())
            .return_once(move |_, _| Err(partial));
        mock.expect_publish()
            .times(1)
            .in_sequence(&mut sequence)
            .withf(|_, context| context.already_sent == ["101", "102"])
            .return_once(|_, _| Ok(receipt()));
        let resilient = Resilient::new(Arc::new(mock), settings(), None);
        resilient
            .publish(&post(), &PublishContext::default())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_breaker_opens_after_five_failures_and_half_opens_after_the_cooldown() {
        let (mock, calls) = mock_publisher(false, (0..5).map(|_| Err(transient())).collect());
        let single_attempt = ResilienceSettings {
            max_attempts: 1,
            ..settings()
        };
        let resilient = Resilient::new(Arc::new(mock), single_attempt, None);
        for _ in 0..5 {
            assert!(matches!(
                resilient.publish(&post(), &PublishContext::default()).await,
                Err(PublishError::Transient { .. })
            ));
        }
        assert!(!resilient.circuit_closed());
        let error = resilient
            .publish(&post(), &PublishContext::default())
            .await
            .unwrap_err();
        assert!(matches!(error, PublishError::CircuitOpen { .. }));
        assert_eq!(calls.load(Ordering::SeqCst), 5, "no call while open");
        // failsafe keeps real time: wait out the longest first open period.
        tokio::time::sleep(Duration::from_millis(60)).await;
        resilient
            .publish(&post(), &PublishContext::default())
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 6);
        assert!(resilient.circuit_closed());
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_posts_are_never_sent() {
        let mut mock = MockChannel::new();
        mock.expect_channel().returning(|| TWITTER);
        mock.expect_validate().returning(|_| {
            Err(PublishError::Invalid {
                channel: TWITTER,
                field: "parts",
                reason: "is empty".to_owned(),
            })
        });
        mock.expect_publish().never();
        let resilient = Resilient::new(Arc::new(mock), settings(), None);
        assert!(
            resilient
                .publish(&post(), &PublishContext::default())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn headroom_is_what_the_rate_limit_lets_through_now_and_asking_takes_none() {
        let (mock, _) = mock_publisher(false, Vec::new());
        let unlimited = Resilient::new(Arc::new(mock), settings(), None);
        assert_eq!(unlimited.headroom(), None);
        // 100 a day: a burst of 10, then one every ~15.8 minutes.
        let limit: RateLimit = "100/1d".parse().unwrap();
        let (mock, _) = mock_publisher(false, Vec::new());
        let limited = Resilient::new(Arc::new(mock), settings(), Some(limit));
        assert_eq!(limited.headroom(), Some(10));
        assert_eq!(limited.headroom(), Some(10), "asking takes nothing");
        assert_eq!(limited.permits(3).await.len(), 3);
        assert_eq!(limited.headroom(), Some(7));
        assert_eq!(limited.permits(20).await.len(), 7);
        assert_eq!(limited.headroom(), Some(0));
    }

    #[test]
    fn quotas_never_exceed_the_limit_in_any_window() {
        use governor::clock::FakeRelativeClock;
        for (limit, step) in [
            ("100/15m", Duration::from_secs(1)),
            ("17/1d", Duration::from_secs(60)),
            ("1/1m", Duration::from_secs(1)),
            ("5/1s", Duration::from_millis(10)),
        ] {
            let limit: RateLimit = limit.parse().unwrap();
            let clock = FakeRelativeClock::default();
            let limiter = RateLimiter::direct_with_clock(limit.quota(), clock.clone());
            let mut passed: Vec<Duration> = Vec::new();
            let mut now = Duration::ZERO;
            while now < limit.period * 3 {
                // A greedy client: as many requests as the limiter allows.
                while limiter.check().is_ok() {
                    passed.push(now);
                }
                clock.advance(step);
                now += step;
            }
            for (index, first) in passed.iter().enumerate() {
                let in_window = passed[index..]
                    .iter()
                    .take_while(|at| **at < *first + limit.period)
                    .count();
                assert!(
                    in_window <= limit.count as usize,
                    "{limit}: {in_window} in one window"
                );
            }
            assert!(
                passed.len() >= limit.count as usize * 2,
                "{limit}: the quota is usable ({})",
                passed.len()
            );
        }
    }

    #[test]
    fn rate_limits() {
        let limit: RateLimit = "100/15m".parse().unwrap();
        assert_eq!(limit.count, 100);
        assert_eq!(limit.period, Duration::from_secs(900));
        assert_eq!(limit.to_string(), "100/15m");
        for bad in ["100", "0/1m", "x/1m", "5/1w", "5/0s"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8MiB").unwrap(), 8 * 1024 * 1024);
        assert_eq!(parse_size("512 KiB").unwrap(), 512 * 1024);
        assert_eq!(parse_size("100").unwrap(), 100);
        for bad in ["8MB", "lots", "1.5MiB", ""] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("1.5h").is_err());
    }
}
