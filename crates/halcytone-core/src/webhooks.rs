//! Webhooks (PRODUCT §14): each post that is published, fails or becomes
//! unconfirmed is an event in the store's outbox, written with the state
//! change itself; [`Deliverer`] sends every event to each webhook that
//! wants its type, signed, retried with backoff until it is delivered or
//! its attempts run out, at least once, with the same id on every retry.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use serde::Deserialize;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use crate::channel::Service;
use crate::dispatch::Clock;
use crate::http::{HttpClient, body_bytes, is_success};
use crate::request::{HeaderValue, Method, OutboundRequest};
use crate::secret::SecretString;
use crate::store::{
    DeliveryOutcome, DueDelivery, EVENT_STATUSES, PREFLIGHT_FAILED, Store, StoreError, event_type,
};

/// The service name webhook calls are made as, in errors and logs.
const SERVICE: Service = Service::from_static("webhook");

/// How far back a webhook added to the configuration is sent events.
const FAN_OUT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// How far before the last fan-out the next one looks again: an event is
/// stamped when its transaction starts and seen once it commits.
const FAN_OUT_OVERLAP: Duration = Duration::from_secs(60);

/// How long a taken delivery is held from other deliverers.
const HOLD: Duration = Duration::from_secs(60);

/// Deliveries taken at once.
const BATCH: usize = 16;

/// One `[[webhooks]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Where events are posted.
    pub url: String,
    /// The key of the `Halcytone-Signature` HMAC.
    pub secret: SecretString,
    /// The event types it wants (all three by default).
    #[serde(default = "all_events")]
    pub events: Vec<String>,
}

fn all_events() -> Vec<String> {
    EVENT_STATUSES
        .iter()
        .filter_map(|status| event_type(*status))
        .chain(std::iter::once(PREFLIGHT_FAILED.to_owned()))
        .collect()
}

impl Webhook {
    /// Checks the URL and the event names.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let url = url::Url::parse(&self.url).map_err(|error| format!("url: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("url `{}` is not http(s)", shown_url(&self.url)));
        }
        if self.secret.expose().is_empty() {
            return Err("secret is empty".to_owned());
        }
        let known = all_events();
        for event in &self.events {
            if !known.contains(event) {
                return Err(format!(
                    "`{event}` is not an event (use {})",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// A webhook URL as logs and listings show it: its origin alone, since
/// receivers often put a secret in the path or the query.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.path() == "/" && parsed.query().is_none() => {
            parsed.origin().ascii_serialization()
        }
        Ok(parsed) => format!("{}/…", parsed.origin().ascii_serialization()),
        Err(_) => "<a bad URL>".to_owned(),
    }
}

/// The `Halcytone-Signature` value of `body` sent at `t` (Unix seconds):
/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &SecretString, t: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Deliveries of one event to one webhook before it is given up.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles per failure.
    pub first_retry: Duration,
    /// The longest wait between two tries.
    pub max_retry: Duration,
    /// How often the outbox is looked at.
    pub poll_interval: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// Delivers the outbox's events to the configured webhooks.
pub struct Deliverer {
    store: Arc<dyn Store>,
    webhooks: Vec<Webhook>,
    http: HttpClient,
    settings: DeliverySettings,
    clock: Clock,
    /// When events were last queued for the webhooks.
    fanned_out: std::sync::Mutex<Option<Timestamp>>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Deliverer")
            .field(
                "webhooks",
                &self
                    .webhooks
                    .iter()
                    .map(|hook| &hook.url)
                    .collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// A deliverer of `webhooks` from `store`'s outbox.
    pub fn new(
        store: Arc<dyn Store>,
        webhooks: Vec<Webhook>,
        http: HttpClient,
        settings: DeliverySettings,
    ) -> Self {
        Self {
            store,
            webhooks,
            http,
            settings,
            clock: Arc::new(Timestamp::now),
            fanned_out: std::sync::Mutex::new(None),
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Delivers what is due until `stop`.
    pub async fn run(&self, stop: &CancellationToken) {
        while !stop.is_cancelled() {
            if let Err(error) = self.run_once().await {
                tracing::error!(%error, "Cannot deliver webhook events; trying again.");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Queues new events for each webhook, then delivers what is due once;
    /// returns how many deliveries were tried.
    ///
    /// # Errors
    /// The store's error.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = (self.clock)();
        // The first pass looks back a day (a webhook added later gets the
        // last day's events); later ones only at what is new since.
        let last = *self
            .fanned_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let since = match last {
            Some(last) => last.checked_sub(FAN_OUT_OVERLAP).unwrap_or(last),
            None => now.checked_sub(FAN_OUT_WINDOW).unwrap_or(now),
        };
        for webhook in &self.webhooks {
            self.store
                .fan_out(&webhook.url, &webhook.events, since, now)
                .await?;
        }
        *self
            .fanned_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(now);
        let due = self.store.claim_deliveries(now, now + HOLD, BATCH).await?;
        let tried = due.len();
        for delivery in due {
            let outcome = match self.webhooks.iter().find(|hook| hook.url == delivery.url) {
                Some(webhook) => self.deliver(webhook, &delivery).await?,
                // Removed from the configuration: ended, so that its
                // deliveries do not hold the queue.
                None => DeliveryOutcome::GaveUp {
                    status: None,
                    error: "the webhook is no longer configured".to_owned(),
                },
            };
            self.store
                .record_delivery(&delivery.event_id, &delivery.url, &outcome, (self.clock)())
                .await?;
            // By outcome alone: a receiver's URL may hold its secret.
            let outcome = match outcome {
                DeliveryOutcome::Delivered { .. } => "delivered",
                DeliveryOutcome::Retry { .. } => "retry",
                DeliveryOutcome::GaveUp { .. } => "failed",
            };
            metrics::counter!("halcytone_webhook_deliveries_total", "outcome" => outcome)
                .increment(1);
        }
        Ok(tried)
    }

    async fn deliver(
        &self,
        webhook: &Webhook,
        delivery: &DueDelivery,
    ) -> Result<DeliveryOutcome, StoreError> {
        let body = match &delivery.body {
            Some(body) => body.clone(),
            None => {
                let body = self.first_body(delivery).await?;
                self.store.fix_event_body(&delivery.event_id, &body).await?
            }
        };
        let value: serde_json::Value = serde_json::from_str(&body)?;
        let t = (self.clock)().as_second();
        let request = OutboundRequest::json_value(
            Method::Post,
            webhook.url.clone(),
            vec![
                (
                    "halcytone-signature",
                    HeaderValue::Plain(signature(&webhook.secret, t, &body_bytes(&value))),
                ),
                (
                    "halcytone-event-id",
                    HeaderValue::Plain(delivery.event_id.clone()),
                ),
            ],
            value,
        );
        let (status, error) = match self.http.send(SERVICE, &request, &delivery.event_id).await {
            Ok(response) if is_success(response.status) => {
                tracing::info!(event = %delivery.event_id, url = %shown_url(&webhook.url), "Webhook delivered.");
                return Ok(DeliveryOutcome::Delivered {
                    status: response.status,
                });
            }
            Ok(response) => (
                Some(response.status),
                format!("the receiver answered {}", response.status),
            ),
            Err(error) => (None, error.to_string()),
        };
        let attempts = delivery.attempts + 1;
        tracing::warn!(event = %delivery.event_id, url = %shown_url(&webhook.url), attempts, %error, "Webhook delivery failed.");
        if attempts >= self.settings.max_attempts {
            return Ok(DeliveryOutcome::GaveUp { status, error });
        }
        let wait = self
            .settings
            .first_retry
            .saturating_mul(2u32.saturating_pow(attempts - 1))
            .min(self.settings.max_retry);
        Ok(DeliveryOutcome::Retry {
            status,
            error,
            next: (self.clock)() + wait,
        })
    }

    /// The event's body: `{id, type, created_at, post}`, the post as it
    /// is stored when the event is first delivered.
    async fn first_body(&self, delivery: &DueDelivery) -> Result<String, StoreError> {
        let Some(post_id) = &delivery.post_id else {
            return Err(StoreError::Corrupt(format!(
                "event `{}` has neither a post nor a body",
                delivery.event_id
            )));
        };
        let post = self
            .store
            .post(post_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(post_id.clone()))?;
        let error = post
            .attempts
            .iter()
            .rev()
            .find_map(|attempt| attempt.error.clone());
        let status = delivery.event_type.trim_start_matches("post.");
        let body = serde_json::json!({
            "id": delivery.event_id,
            "type": delivery.event_type,
            "created_at": delivery.created_at.to_string(),
            "post": {
                "id": post.id,
                "channel": post.channel,
                "status": status,
                "scheduled_at": post.scheduled_at.to_string(),
                "published_at": post.published_at.map(|at| at.to_string()),
                "external_ids": post.external_ids,
                "item": post.item,
                "error": error,
            },
        });
        Ok(String::from_utf8_lossy(&body_bytes(&body)).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_time_and_the_body() {
        // Computed independently: Python's hmac over "1796029200." + body.
        let signed = signature(
            &SecretString::new("Jefe"),
            1_796_029_200,
            br#"{"id":"evt_1"}"#,
        );
        assert_eq!(
            signed,
            "t=1796029200,v1=cf11b58d0e94e740d785b1779842ab00df4aeb02d5c7d44ad2b899b405162229"
        );
    }

    #[test]
    fn urls_show_their_origin_alone() {
        assert_eq!(shown_url("https://hooks.example"), "https://hooks.example");
        assert_eq!(
            shown_url("https://hooks.example:8443/T00/B00/secret?token=x"),
            "https://hooks.example:8443/…"
        );
    }

    #[test]
    fn webhooks_are_checked() {
        let hook = |url: &str, events: &[&str]| Webhook {
            url: url.to_owned(),
            secret: SecretString::new("s"),
            events: events.iter().map(|event| (*event).to_owned()).collect(),
        };
        assert!(
            hook("https://hooks.example/h", &["post.published"])
                .check()
                .is_ok()
        );
        assert!(hook("ftp://hooks.example/h", &[]).check().is_err());
        let error = hook("https://hooks.example/h", &["post.sent"])
            .check()
            .unwrap_err();
        assert_eq!(
            error,
            "`post.sent` is not an event (use post.published, post.failed, post.unconfirmed, preflight.failed)"
        );
    }
}
