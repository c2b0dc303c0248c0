//! Reconciliation (PRODUCT §14): an `unconfirmed` post is looked up on its
//! channel. Found, it is `published` with the ids found; proven absent, it
//! goes back to `scheduled` and is sent from where it stopped; otherwise it
//! stays `unconfirmed`. Each finding is on the post's record.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::Dispatcher;
use crate::channel::Channel;
use crate::publisher::{Lookup, LookupContext, PostId, PostStatus, Publisher};
use crate::store::{AttemptOutcome, PostFilter, Resolution, StoreError, StoredPost};

/// How far before the first unknown outcome on record a send may have
/// left: the parts of a thread sent in one attempt, a request that waited
/// out its timeout, a lease renewed while it hung.
const SEND_WINDOW_MARGIN: Duration = Duration::from_secs(3600);

/// What reconciliation did with one unconfirmed post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reconciled {
    /// The post.
    pub id: PostId,
    /// Its channel.
    pub channel: Channel,
    /// Its state now: `published`, `scheduled` or still `unconfirmed`.
    pub status: PostStatus,
    /// What is on the channel of it, as found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<String>,
    /// How it was found or proven absent, or why it is still unsure.
    pub note: String,
}

impl Dispatcher {
    /// Looks every `unconfirmed` post up on its channel and records what
    /// was found (see the module documentation). A channel that is not
    /// enabled, not configured, or whose look-up fails leaves its posts
    /// unconfirmed, saying why.
    ///
    /// # Errors
    /// The store's error; posts already resolved stay resolved.
    pub async fn reconcile(&self) -> Result<Vec<Reconciled>, StoreError> {
        let unconfirmed = self
            .store
            .posts(&PostFilter {
                status: Some(PostStatus::Unconfirmed),
                ..PostFilter::default()
            })
            .await?;
        let mut done = Vec::with_capacity(unconfirmed.len());
        for post in unconfirmed {
            let Some(post) = self.store.post(&post.id).await? else {
                continue;
            };
            let reconciled = self.reconcile_post(&post).await?;
            metrics::counter!(
                "halcytone_reconciled_total",
                "channel" => reconciled.channel.to_string(),
                "status" => crate::store::lifecycle::status_name(reconciled.status),
            )
            .increment(1);
            tracing::info!(
                post = %reconciled.id,
                channel = %reconciled.channel,
                status = crate::store::lifecycle::status_name(reconciled.status),
                note = %reconciled.note,
                "Reconciled an unconfirmed post."
            );
            done.push(reconciled);
        }
        Ok(done)
    }

    async fn reconcile_post(&self, post: &StoredPost) -> Result<Reconciled, StoreError> {
        let unsure = |note: String| Reconciled {
            id: post.id.clone(),
            channel: post.channel.clone(),
            status: PostStatus::Unconfirmed,
            external_ids: post.external_ids.clone(),
            note,
        };
        let Some(publisher) = self.channels.get(&post.channel) else {
            return Ok(unsure(format!(
                "not looked up: the {} channel is disabled or not in this build",
                post.channel
            )));
        };
        let missing = publisher.missing_configuration();
        if !missing.is_empty() {
            return Ok(unsure(format!(
                "not looked up: the channel is not configured (set {})",
                missing.join(", ")
            )));
        }
        let now = (self.clock)();
        let sent_at = last_unknown_send(post);
        if now.duration_since(sent_at)
            < jiff::SignedDuration::try_from(self.settings.reconcile_after)
                .unwrap_or(jiff::SignedDuration::MAX)
        {
            return Ok(unsure(format!(
                "not looked up yet: its send at {sent_at} is less than {:?} (dispatcher.reconcile_after) ago, and the channel may not list it yet",
                self.settings.reconcile_after
            )));
        }
        let context = LookupContext {
            correlation_id: format!("{}-reconcile-{:08x}", post.id, fastrand::u32(..)),
            already_sent: post.external_ids.clone(),
            since: send_window_start(post),
            until: now,
        };
        let outgoing = self.outgoing(&post.id, post.scheduled_at, &post.content);
        let resolution = match publisher.look_up(&outgoing, &context).await {
            Ok(Lookup::Published {
                external_ids,
                evidence,
            }) if external_ids.starts_with(&post.external_ids) && !external_ids.is_empty() => {
                Resolution::Published {
                    external_ids,
                    evidence,
                }
            }
            Ok(Lookup::Absent { sent, evidence }) if sent.starts_with(&post.external_ids) => {
                Resolution::Absent { sent, evidence }
            }
            // What is on record as sent is known; a finding that does not
            // include it is not believed.
            Ok(
                Lookup::Published { external_ids, .. }
                | Lookup::Absent {
                    sent: external_ids, ..
                },
            ) => {
                return Ok(unsure(format!(
                    "the look-up found {:?}, which does not agree with the parts on record as sent ({:?})",
                    external_ids, post.external_ids
                )));
            }
            Ok(Lookup::Unsure { reason }) => return Ok(unsure(reason)),
            Err(error) => return Ok(unsure(format!("the look-up failed: {error}"))),
        };
        match self
            .store
            .resolve_unconfirmed(&post.id, &resolution, now)
            .await
        {
            Ok(transitioned) => {
                let (external_ids, note) = match resolution {
                    Resolution::Published {
                        external_ids,
                        evidence,
                    } => (external_ids, evidence),
                    Resolution::Absent { sent, evidence } => (sent, evidence),
                };
                Ok(Reconciled {
                    id: post.id.clone(),
                    channel: post.channel.clone(),
                    status: transitioned.to,
                    external_ids,
                    note,
                })
            }
            // A person retried, confirmed or cancelled it meanwhile.
            Err(StoreError::Illegal(illegal)) => Ok(Reconciled {
                status: illegal.from,
                ..unsure("changed by someone else while it was looked up; left as it is".to_owned())
            }),
            Err(error) => Err(error),
        }
    }

    /// Reconciles every `interval` until `stop`, first at once.
    pub(super) async fn reconcile_every(&self, interval: Duration, stop: &CancellationToken) {
        loop {
            if let Err(error) = self.reconcile().await {
                tracing::error!(%error, "Cannot reconcile unconfirmed posts.");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// When the attempt of unknown outcome that made the post unconfirmed was
/// recorded (or its last attempt, or when it last changed).
fn last_unknown_send(post: &StoredPost) -> Timestamp {
    post.attempts
        .iter()
        .rfind(|attempt| attempt.outcome == AttemptOutcome::Unknown)
        .or_else(|| post.attempts.last())
        .map_or(post.updated_at, |attempt| attempt.at)
}

/// The earliest a post's unknown send may have left: a margin before
/// [`last_unknown_send`], never before the post was stored.
fn send_window_start(post: &StoredPost) -> Timestamp {
    let sent = last_unknown_send(post);
    sent.checked_sub(SEND_WINDOW_MARGIN)
        .unwrap_or(sent)
        .max(post.created_at)
}
