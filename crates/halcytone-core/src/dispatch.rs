//! The dispatcher: leases due posts from the store, sends each once through
//! the resilience layer, and puts every attempt on record (PRODUCT §5).
//!
//! A post is leased (`scheduled → publishing`) before it is sent, and marked
//! as sending just before its request leaves. A dispatcher that dies leaves
//! its leases to expire; any other (or the next) dispatcher requeues them: a
//! post that was not being sent goes back to the queue, one that was goes
//! back too when its channel takes idempotency keys (the same key is sent
//! again), and becomes `unconfirmed` otherwise, until reconciliation
//! (`reconcile.rs`) finds it on its channel or proves it absent. Retries are durable: a
//! transient failure puts the post back with its backoff time, so every try
//! is recorded and a restart does not forget it.

mod reconcile;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::channel::Channel;
use crate::error::PublishError;
use crate::http::body_bytes;
use crate::preflight::Preflight;
use crate::publisher::{
    Content, OutgoingPost, PostId, PostStatus, PublishContext, PublishReceipt, Publisher,
};
use crate::request::RequestPreview;
use crate::resilience::{Permit, ResilienceSettings, Resilient, retry_delay};
use crate::store::{
    Attempt, AttemptOutcome, Finish, LeasedPost, Leasing, Requeue, Requeued, Store, StoreError,
    StoredPost, sha256_hex,
};

pub use reconcile::Reconciled;

/// How the dispatcher leases and sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchSettings {
    /// How long a lease lasts without renewal: a dead dispatcher's posts are
    /// requeued this long after its last renewal.
    pub lease: Duration,
    /// How often the queue is checked for due posts and expired leases.
    pub poll_interval: Duration,
    /// Posts leased at once per channel.
    pub batch: usize,
    /// Posts of one channel in flight at once.
    pub concurrency: usize,
    /// How long in-flight sends may finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How often a running dispatcher looks `unconfirmed` posts up on
    /// their channels.
    pub reconcile_interval: Duration,
    /// How long after its unknown send a post is first looked up: a
    /// channel may show a new post in its listings only after a while, and
    /// a look-up before that would take it for absent.
    pub reconcile_after: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            batch: 32,
            concurrency: 4,
            shutdown_grace: Duration::from_secs(10),
            reconcile_interval: Duration::from_secs(300),
            reconcile_after: Duration::from_secs(120),
        }
    }
}

/// The time now; injected so that tests can move it.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// What happened to one post a dispatcher sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dispatched {
    /// The post.
    pub id: PostId,
    /// Its channel.
    pub channel: Channel,
    /// Its state now: `published`, `scheduled` (waiting for a retry or for
    /// the breaker), `failed` or `unconfirmed`.
    pub status: PostStatus,
    /// The ids the channel gave what went out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<String>,
    /// When a post back in the queue is tried again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    /// Whether the API rate-limited it until `next_attempt_at`: the channel's
    /// other posts wait until then too.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rate_limited: bool,
    /// Why it did not go out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one dispatch pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PassSummary {
    /// Every post sent (or tried), in the order they finished.
    pub posts: Vec<Dispatched>,
    /// Posts whose expired lease was ended at the start of the pass.
    pub requeued: Vec<Requeued>,
    /// Approved posts queued at the start of the pass.
    pub queued: u64,
    /// Channels whose due posts were left waiting, and why.
    pub waiting: Vec<String>,
    /// Due posts left waiting on channels that cannot send (not configured,
    /// disabled or not in this build).
    pub unsendable: u64,
}

/// A due post and the requests it would send (a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct DuePreview {
    /// The post.
    pub post: StoredPost,
    /// The requests, secrets redacted.
    pub requests: Vec<RequestPreview>,
    /// Why it cannot be sent, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Sends due posts from a [`Store`] through [`Resilient`] publishers.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    channels: BTreeMap<Channel, Arc<Resilient>>,
    settings: DispatchSettings,
    resilience: ResilienceSettings,
    timezone: TimeZone,
    owner: String,
    clock: Clock,
    /// The posts this dispatcher leased and has not finished with: the
    /// leases it renews. A post whose result could not be written leaves
    /// the set, so its lease expires and it is requeued like a dead one.
    holding: std::sync::Mutex<HashSet<PostId>>,
    /// Where pre-flight results go.
    preflight: Preflight,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Dispatcher")
            .field("owner", &self.owner)
            .field("channels", &self.channels.keys().collect::<Vec<_>>())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher for `channels` (the enabled publishers); its lease owner
    /// name is unique to this process.
    pub fn new(
        store: Arc<dyn Store>,
        channels: BTreeMap<Channel, Arc<Resilient>>,
        settings: DispatchSettings,
        resilience: ResilienceSettings,
        timezone: TimeZone,
    ) -> Self {
        let owner = format!(
            "{}-{}-{:08x}",
            host_name(),
            std::process::id(),
            fastrand::u32(..)
        );
        Self {
            store,
            channels,
            settings,
            resilience,
            timezone,
            owner,
            clock: Arc::new(Timestamp::now),
            holding: std::sync::Mutex::new(HashSet::new()),
            preflight: Preflight::default(),
        }
    }

    /// Records pre-flight results on `board` (the server's, which reports them).
    #[must_use]
    pub fn with_preflight(mut self, board: Preflight) -> Self {
        self.preflight = board;
        self
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The name this dispatcher's leases carry.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// One pass: ends expired leases, queues approved posts, then sends every
    /// due post until none is left (posts waiting for a retry stay queued).
    /// `on_done` hears of each post as it finishes. Stops early on `stop`,
    /// releasing what it holds.
    ///
    /// # Errors
    /// The store's error; posts already sent stay recorded.
    pub async fn run_once(
        &self,
        stop: &CancellationToken,
        on_done: &(dyn Fn(&Dispatched) + Send + Sync),
    ) -> Result<PassSummary, StoreError> {
        self.pass(Leasing::Due, stop, on_done).await
    }

    /// One pass over the scheduled posts `ids`, sent now whatever their
    /// time (`generate --publish-now`), as [`Dispatcher::run_once`] sends
    /// due posts: leased, marked, sent once, on record.
    ///
    /// # Errors
    /// The store's error; posts already sent stay recorded.
    pub async fn run_posts(
        &self,
        ids: &[PostId],
        stop: &CancellationToken,
        on_done: &(dyn Fn(&Dispatched) + Send + Sync),
    ) -> Result<PassSummary, StoreError> {
        self.pass(Leasing::Now(ids), stop, on_done).await
    }

    async fn pass(
        &self,
        which: Leasing<'_>,
        stop: &CancellationToken,
        on_done: &(dyn Fn(&Dispatched) + Send + Sync),
    ) -> Result<PassSummary, StoreError> {
        let mut summary = PassSummary {
            requeued: self.requeue_expired().await?,
            queued: self.store.schedule_approved((self.clock)()).await?,
            ..PassSummary::default()
        };
        let mut unconfigured = Vec::new();
        let channels = self.ready_channels(&mut unconfigured);
        let (recorder, queue) = mpsc::channel(RECORD_QUEUE);
        let drains = async move {
            let drains = channels.iter().map(|(channel, publisher)| {
                self.drain(
                    channel,
                    publisher,
                    Drain::Pass(which),
                    &recorder,
                    stop,
                    on_done,
                )
            });
            let results = futures_util::future::join_all(drains).await;
            // The recorder finishes once every sender is done.
            drop(recorder);
            (results, channels)
        };
        let ((results, channels), ()) = tokio::select! {
            done = async { tokio::join!(drains, self.record(queue)) } => done,
            () = self.keep_leases(false) => unreachable!("keeping leases never ends"),
        };
        self.release().await?;
        for result in results {
            summary.posts.extend(result?);
        }
        for (channel, publisher) in &channels {
            let rate_limited_until = summary
                .posts
                .iter()
                .filter(|post| post.channel == *channel && post.rate_limited)
                .filter_map(|post| post.next_attempt_at)
                .max();
            if let Some(until) = rate_limited_until {
                summary.waiting.push(format!(
                    "{channel}: rate limited by the API until {until}; its due posts wait"
                ));
            }
            if !publisher.circuit_closed() {
                summary.waiting.push(format!(
                    "{channel}: paused after repeated failures (circuit open); its due posts wait"
                ));
            }
            if let Some(left) = publisher
                .quota_left((self.clock)())
                .filter(|left| left.sends == 0)
            {
                summary.waiting.push(format!(
                    "{channel}: the API's daily quota is used up until {}; its due posts wait",
                    left.until
                ));
            }
        }
        // Due posts of a channel that cannot send wait unseen otherwise:
        // name them.
        let due = self.store.due_by_channel((self.clock)()).await?;
        for (channel, posts) in due {
            let why = if let Some(reason) = unconfigured
                .iter()
                .find(|(unready, _)| *unready == channel)
                .map(|(_, reason)| reason.clone())
            {
                reason
            } else if !self.channels.contains_key(&channel) {
                "the channel is disabled or not in this build".to_owned()
            } else {
                continue;
            };
            summary.unsendable += posts;
            let posts = if posts == 1 {
                "1 due post waits".to_owned()
            } else {
                format!("{posts} due posts wait")
            };
            summary.waiting.push(format!("{channel}: {posts}: {why}"));
        }
        Ok(summary)
    }

    /// Sends due posts as they fall due until `stop`, then lets in-flight
    /// sends finish for `shutdown_grace` and releases every lease it holds.
    ///
    /// # Errors
    /// The store's error while releasing leases at shutdown; failures while
    /// running are logged and retried.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), StoreError> {
        let mut unready = Vec::new();
        let channels = self.ready_channels(&mut unready);
        for (channel, reason) in &unready {
            tracing::warn!(channel = %channel, reason = %reason, "The channel's due posts will wait.");
        }
        tracing::info!(owner = %self.owner, channels = channels.len(), "Dispatcher started.");
        let quiet = |_: &Dispatched| {};
        let (stop, quiet) = (&stop, &quiet);
        let (recorder, queue) = mpsc::channel(RECORD_QUEUE);
        let drains = async move {
            let recorder = &recorder;
            let drains = channels.iter().map(|(channel, publisher)| async move {
                while !stop.is_cancelled() {
                    if let Err(error) = self
                        .drain(channel, publisher, Drain::Serve, recorder, stop, quiet)
                        .await
                    {
                        tracing::error!(%error, channel = %channel, "Dispatching failed; trying again.");
                        self.pause(stop).await;
                    }
                }
            });
            futures_util::future::join_all(drains).await;
        };
        let reconciling = self.reconcile_every(self.settings.reconcile_interval, stop);
        tokio::select! {
            _ = async { tokio::join!(drains, self.record(queue), reconciling) } => {}
            () = self.keep_leases(true) => unreachable!("keeping leases never ends"),
        }
        self.release().await?;
        tracing::info!(owner = %self.owner, "Dispatcher stopped.");
        Ok(())
    }

    /// How many due posts a pass would send now: those of configured
    /// channels (for a progress bar).
    ///
    /// # Errors
    /// The store's error.
    pub async fn due_count(&self) -> Result<u64, StoreError> {
        let ready: Vec<Channel> = self
            .ready_channels(&mut Vec::new())
            .into_iter()
            .map(|(channel, _)| channel)
            .collect();
        let due = self.store.due_by_channel((self.clock)()).await?;
        Ok(due
            .iter()
            .filter(|(channel, _)| ready.contains(channel))
            .map(|(_, posts)| posts)
            .sum())
    }

    /// The due posts and the requests each would send, changing nothing.
    ///
    /// # Errors
    /// The store's error.
    pub async fn preview_due(&self, limit: usize) -> Result<Vec<DuePreview>, StoreError> {
        let due = self.store.due((self.clock)(), limit).await?;
        Ok(due
            .into_iter()
            .map(|post| {
                let previews = match self.channels.get(&post.channel) {
                    Some(publisher) => publisher
                        .preview(&self.outgoing(&post.id, post.scheduled_at, &post.content))
                        .map_err(|error| error.to_string()),
                    None => Err(format!("no {} publisher is enabled", post.channel)),
                };
                let (requests, error) = match previews {
                    Ok(requests) => (requests, None),
                    Err(error) => (Vec::new(), Some(error)),
                };
                DuePreview {
                    post,
                    requests,
                    error,
                }
            })
            .collect())
    }

    /// The channels that can send now; the others are in `unready`, with
    /// what they lack.
    fn ready_channels(
        &self,
        unready: &mut Vec<(Channel, String)>,
    ) -> Vec<(Channel, Arc<Resilient>)> {
        self.channels
            .iter()
            .filter(|(channel, publisher)| {
                let missing = publisher.missing_configuration();
                if missing.is_empty() {
                    return true;
                }
                unready.push((
                    (*channel).clone(),
                    format!("not configured (set {})", missing.join(", ")),
                ));
                false
            })
            .map(|(channel, publisher)| (channel.clone(), Arc::clone(publisher)))
            .collect()
    }

    /// Leases and sends `channel`'s due posts, a batch at a time. With
    /// [`Drain::Pass`], returns when none is left; otherwise waits for more
    /// until `stop`.
    async fn drain(
        &self,
        channel: &Channel,
        publisher: &Resilient,
        mode: Drain<'_>,
        recorder: &mpsc::Sender<Record>,
        stop: &CancellationToken,
        on_done: &(dyn Fn(&Dispatched) + Send + Sync),
    ) -> Result<Vec<Dispatched>, StoreError> {
        let (which, once) = match mode {
            Drain::Serve => (Leasing::Due, false),
            Drain::Pass(which) => (which, true),
        };
        let mut done = Vec::new();
        while !stop.is_cancelled() {
            // Set by a send the API rate-limited: the reset time holds for
            // the whole channel, so the batch's other posts wait too.
            let rate_limited_until: std::sync::Mutex<Option<Timestamp>> =
                std::sync::Mutex::new(None);
            // While the breaker is open, due posts stay queued, unleased.
            let permits = if publisher.circuit_closed() {
                self.permits(channel, publisher, which, stop).await?
            } else {
                Vec::new()
            };
            if !permits.is_empty() && !once {
                self.preflight_first_of_day(channel, publisher).await;
            }
            let leased = if permits.is_empty() {
                Vec::new()
            } else {
                let now = (self.clock)();
                self.store
                    .lease(
                        &self.owner,
                        channel,
                        now,
                        now + self.settings.lease,
                        permits.len(),
                        which,
                    )
                    .await?
            };
            if leased.is_empty() {
                if once {
                    break;
                }
                self.pause(stop).await;
                continue;
            }
            // A pass is over once a lease takes fewer posts than it could:
            // none is left to wait for.
            let last_batch = once && leased.len() < permits.len();
            self.holding()
                .extend(leased.iter().map(|post| post.id.clone()));
            // Each leased post has its permit; should a store lease more
            // than it was asked for, the extra posts wait for theirs rather
            // than sit leased and unsent.
            let mut permits = permits.into_iter();
            let sends = stream::iter(leased)
                .map(|post| (post, permits.next()))
                .map(|(post, permit)| async {
                    let permit = match permit {
                        Some(permit) => permit,
                        None => publisher.permit().await,
                    };
                    self.send(publisher, post, permit, recorder, &rate_limited_until, stop)
                        .await
                })
                .buffer_unordered(self.settings.concurrency.max(1))
                .for_each(|result| {
                    match result {
                        Ok(Some(dispatched)) => {
                            on_done(&dispatched);
                            done.push(dispatched);
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::error!(%error, channel = %channel, "Cannot record a send.");
                        }
                    }
                    std::future::ready(())
                });
            let grace = async {
                stop.cancelled().await;
                tokio::time::sleep(self.settings.shutdown_grace).await;
            };
            tokio::select! {
                () = sends => {}
                () = grace => {
                    tracing::warn!(channel = %channel, "Shutdown grace over: leaving in-flight sends to be requeued.");
                    break;
                }
            }
            let rate_limited_until = *rate_limited_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last_batch && rate_limited_until.is_none() {
                break;
            }
            if let Some(until) = rate_limited_until {
                tracing::warn!(channel = %channel, %until, "Rate limited: the channel's posts wait until the API's reset time.");
                if once {
                    break;
                }
                let wait =
                    Duration::try_from(until.duration_since((self.clock)())).unwrap_or_default();
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
        Ok(done)
    }

    /// Takes the rate limit's permits for the next batch of `channel`, before
    /// anything is leased: as many as posts are due (at most a batch), the
    /// first waited for. Posts waiting for the limit stay `scheduled`, so a
    /// shutdown or a crash meanwhile leaves nothing to sweep. Empty when
    /// nothing is due or `stop` came first.
    async fn permits(
        &self,
        channel: &Channel,
        publisher: &Resilient,
        which: Leasing<'_>,
        stop: &CancellationToken,
    ) -> Result<Vec<Permit>, StoreError> {
        // The API's own daily quota, as its last answer told: no more
        // posts are leased than it has left, none while it is used up.
        let quota = publisher
            .quota_left((self.clock)())
            .map_or(usize::MAX, |left| {
                usize::try_from(left.sends).unwrap_or(usize::MAX)
            });
        if quota == 0 {
            return Ok(Vec::new());
        }
        if !publisher.rate_limited() {
            return Ok(publisher.permits(self.settings.batch.min(quota)).await);
        }
        let due = match which {
            // This channel's posts of the run that can go now: a permit
            // taken for another channel's post, for one already out or for
            // one waiting out its backoff is quota spent, and waited for,
            // for nothing.
            Leasing::Now(ids) => {
                let now = (self.clock)();
                let mut ready = 0;
                for id in ids {
                    if self.store.post(id).await?.is_some_and(|post| {
                        post.channel == *channel
                            && post.status == PostStatus::Scheduled
                            && post.next_attempt_at.is_none_or(|at| at <= now)
                    }) {
                        ready += 1;
                    }
                }
                ready
            }
            Leasing::Due => self
                .store
                .due_by_channel((self.clock)())
                .await?
                .into_iter()
                .find(|(due_channel, _)| due_channel == channel)
                .map_or(0, |(_, posts)| posts),
        };
        let wanted = usize::try_from(due)
            .unwrap_or(usize::MAX)
            .min(self.settings.batch)
            .min(quota);
        Ok(tokio::select! {
            permits = publisher.permits(wanted) => permits,
            () = stop.cancelled() => Vec::new(),
        })
    }

    /// Sends one leased post once and records how it went. `None` when the
    /// post was not sent: shutdown began, or the lease was lost.
    async fn send(
        &self,
        publisher: &Resilient,
        post: LeasedPost,
        permit: Permit,
        recorder: &mpsc::Sender<Record>,
        rate_limited_until: &std::sync::Mutex<Option<Timestamp>>,
        stop: &CancellationToken,
    ) -> Result<Option<Dispatched>, StoreError> {
        let _holding = Holding {
            dispatcher: self,
            id: post.id.clone(),
        };
        if stop.is_cancelled() {
            return Ok(None);
        }
        let paused = *rate_limited_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let paused = paused.filter(|until| *until > (self.clock)());
        // A breaker opened by a send of this batch: no call, back to the queue.
        if paused.is_some() || !publisher.circuit_closed() {
            // Back to the queue untried, due when the API said (or at once,
            // for when the breaker lets calls through again).
            let finish = Finish {
                status: PostStatus::Scheduled,
                attempt: None,
                external_ids: post.sent.clone(),
                next_attempt_at: paused,
                counted: false,
            };
            submit(recorder, |done| Record::Finish {
                id: post.id.clone(),
                finish,
                done,
            })
            .await?;
            return Ok(Some(Dispatched {
                id: post.id,
                channel: post.channel,
                status: PostStatus::Scheduled,
                external_ids: post.sent,
                next_attempt_at: paused,
                rate_limited: paused.is_some(),
                error: None,
            }));
        }
        let outgoing = self.outgoing(&post.id, post.scheduled_at, &post.content);
        let body_hash = publisher
            .build_requests(&outgoing)
            .ok()
            .map(|requests| body_hash(&requests));
        let mark = |done| Record::Mark {
            id: post.id.clone(),
            done,
        };
        if !submit(recorder, mark).await? {
            tracing::warn!(post = %post.id, "Lease lost before sending; left to its new holder.");
            return Ok(None);
        }
        let context = PublishContext {
            correlation_id: format!("{}-{:016x}", post.id, fastrand::u64(..)),
            already_sent: post.sent.clone(),
        };
        let result = publisher.publish_once(&outgoing, &context, permit).await;
        let rate_limited = result
            .as_ref()
            .err()
            .and_then(PublishError::retry_after)
            .is_some();
        let now = (self.clock)();
        let finish = judge(&self.resilience, &post, result, publisher.idempotent(), now);
        if rate_limited {
            let mut until = rate_limited_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *until = (*until).max(finish.next_attempt_at);
        }
        let dispatched = Dispatched {
            id: post.id.clone(),
            channel: post.channel.clone(),
            status: finish.status,
            external_ids: finish.external_ids.clone(),
            next_attempt_at: finish.next_attempt_at,
            rate_limited,
            error: finish
                .attempt
                .as_ref()
                .and_then(|attempt| attempt.error.clone()),
        };
        let finish = Finish {
            attempt: finish.attempt.map(|attempt| Attempt {
                correlation_id: Some(context.correlation_id.clone()),
                body_hash: body_hash.clone(),
                ..attempt
            }),
            ..finish
        };
        let record = |done| Record::Finish {
            id: post.id.clone(),
            finish,
            done,
        };
        if !submit(recorder, record).await? {
            tracing::warn!(post = %post.id, "Lease lost while sending; the attempt is recorded, the state left to its new holder.");
        }
        log(&dispatched);
        Ok(Some(dispatched))
    }

    fn outgoing(
        &self,
        id: &PostId,
        scheduled_at: Timestamp,
        content: &serde_json::Value,
    ) -> OutgoingPost {
        OutgoingPost {
            id: id.clone(),
            scheduled_at: scheduled_at.to_zoned_datetime(self.timezone.clone()),
            content: Content(content.clone()),
        }
    }

    /// Commits the senders' writes in batches: whatever queued up while the
    /// last batch was being written goes in the next one (group commit).
    /// Returns when every sender is gone.
    async fn record(&self, mut queue: mpsc::Receiver<Record>) {
        while let Some(first) = queue.recv().await {
            let mut marks = Vec::new();
            let mut finishes = Vec::new();
            let mut next = Some(first);
            while let Some(record) = next {
                match record {
                    Record::Mark { id, done } => marks.push((id, done)),
                    Record::Finish { id, finish, done } => finishes.push((id, finish, done)),
                }
                next = if marks.len() + finishes.len() < RECORD_BATCH {
                    queue.try_recv().ok()
                } else {
                    None
                };
            }
            let now = (self.clock)();
            if !marks.is_empty() {
                let ids: Vec<PostId> = marks.iter().map(|(id, _)| id.clone()).collect();
                match self.store.mark_sending(&ids, &self.owner, now).await {
                    Ok(held) => {
                        for (id, done) in marks {
                            let _ = done.send(Ok(held.contains(&id)));
                        }
                    }
                    Err(error) => {
                        let error = Arc::new(error);
                        for (_, done) in marks {
                            let _ = done.send(Err(Arc::clone(&error)));
                        }
                    }
                }
            }
            if !finishes.is_empty() {
                let (batch, replies): (Vec<(PostId, Finish)>, Vec<_>) = finishes
                    .into_iter()
                    .map(|(id, finish, done)| ((id, finish), done))
                    .unzip();
                match self.store.finish(&self.owner, &batch, now).await {
                    Ok(held) => {
                        for (done, held) in replies.into_iter().zip(held) {
                            let _ = done.send(Ok(held));
                        }
                    }
                    Err(error) => {
                        let error = Arc::new(error);
                        for done in replies {
                            let _ = done.send(Err(Arc::clone(&error)));
                        }
                    }
                }
            }
        }
    }

    /// Ends the leases of dispatchers that stopped renewing them.
    async fn requeue_expired(&self) -> Result<Vec<Requeued>, StoreError> {
        let now = (self.clock)();
        let requeued = self
            .store
            .requeue(
                Requeue::ExpiredBefore(now),
                &self.idempotent_channels(),
                now,
            )
            .await?;
        for post in &requeued {
            tracing::warn!(post = %post.id, channel = %post.channel, status = %crate::store::lifecycle::status_name(post.status), was_sending = post.was_sending, "Requeued a post whose dispatcher stopped.");
        }
        Ok(requeued)
    }

    /// Ends this dispatcher's own leases (shutdown, or the end of a pass).
    async fn release(&self) -> Result<(), StoreError> {
        let now = (self.clock)();
        let released = self
            .store
            .requeue(
                Requeue::HeldBy(&self.owner),
                &self.idempotent_channels(),
                now,
            )
            .await?;
        if !released.is_empty() {
            tracing::info!(posts = released.len(), "Released leased posts.");
        }
        Ok(())
    }

    fn idempotent_channels(&self) -> Vec<Channel> {
        self.channels
            .iter()
            .filter(|(_, publisher)| publisher.idempotent())
            .map(|(channel, _)| channel.clone())
            .collect()
    }

    /// Renews this dispatcher's leases a few times per lease; with
    /// `housekeeping`, also ends expired leases and queues approved posts
    /// every poll. Never returns.
    async fn keep_leases(&self, housekeeping: bool) {
        let renew_every = (self.settings.lease / 3).max(Duration::from_millis(10));
        let tick = if housekeeping {
            renew_every.min(self.settings.poll_interval)
        } else {
            renew_every
        };
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(tick).await;
            if last_renewal.elapsed() >= renew_every {
                last_renewal = tokio::time::Instant::now();
                let until = (self.clock)() + self.settings.lease;
                let ids: Vec<PostId> = self.holding().iter().cloned().collect();
                if let Err(error) = self.store.renew(&self.owner, &ids, until).await {
                    tracing::error!(%error, "Cannot renew leases.");
                }
            }
            if housekeeping {
                let now = (self.clock)();
                if let Err(error) = self.requeue_expired().await {
                    tracing::error!(%error, "Cannot requeue expired leases.");
                }
                if let Err(error) = self.store.schedule_approved(now).await {
                    tracing::error!(%error, "Cannot queue approved posts.");
                }
            }
        }
    }

    /// Runs `channel`'s pre-flight checks before its first post of the day,
    /// so that a revoked token is reported with the post that meets it.
    async fn preflight_first_of_day(&self, channel: &Channel, publisher: &Resilient) {
        let now = (self.clock)();
        let today = now.to_zoned_datetime(self.timezone.clone()).date();
        if self.preflight.first_run_on(channel.as_str(), today) {
            let checks = publisher.preflight(now).await;
            if let Err(error) = self.preflight.record(&checks, now).await {
                tracing::error!(%error, "Cannot write a pre-flight failure to the webhook outbox.");
            }
        }
    }

    fn holding(&self) -> std::sync::MutexGuard<'_, HashSet<PostId>> {
        self.holding
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn pause(&self, stop: &CancellationToken) {
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(self.settings.poll_interval) => {}
        }
    }
}

/// What a send's result means for the post: the queue's rules, one place
/// (the conformance suite runs every publisher's answers through them).
pub fn judge(
    resilience: &ResilienceSettings,
    post: &LeasedPost,
    result: Result<PublishReceipt, PublishError>,
    idempotent: bool,
    now: Timestamp,
) -> Finish {
    let attempt = |outcome, error: Option<&PublishError>, ids: &[String]| Attempt {
        at: now,
        outcome,
        error: error.map(ToString::to_string),
        external_ids: ids.to_vec(),
        correlation_id: None,
        body_hash: None,
        note: None,
    };
    let error = match result {
        Ok(receipt) => {
            return Finish {
                status: PostStatus::Published,
                attempt: Some(attempt(
                    AttemptOutcome::Succeeded,
                    None,
                    &receipt.external_ids,
                )),
                external_ids: receipt.external_ids,
                next_attempt_at: None,
                counted: true,
            };
        }
        // No call was made: the post waits, unleased, for the breaker.
        Err(PublishError::CircuitOpen { .. }) => {
            return Finish {
                status: PostStatus::Scheduled,
                attempt: None,
                external_ids: post.sent.clone(),
                next_attempt_at: None,
                counted: false,
            };
        }
        Err(error) => error,
    };
    let sent = match &error {
        PublishError::Partial { sent, .. } => sent.clone(),
        _ => post.sent.clone(),
    };
    let new_parts: Vec<String> = sent
        .iter()
        .filter(|id| !post.sent.contains(id))
        .cloned()
        .collect();
    // A rate limit with a reset time is waited out as the API asked; it
    // says nothing against the post, so it does not use up an attempt.
    if error.retry_after().is_some() {
        let delay = retry_delay(resilience, post.attempt_count + 1, &error);
        return Finish {
            status: PostStatus::Scheduled,
            attempt: Some(attempt(AttemptOutcome::Transient, Some(&error), &new_parts)),
            external_ids: sent,
            next_attempt_at: Some(now + delay),
            counted: false,
        };
    }
    let retry = error.is_retryable() || (idempotent && error.is_outcome_unknown());
    let attempts = post.attempt_count + 1;
    let (status, outcome, next_attempt_at) = if retry && attempts < resilience.max_attempts {
        let outcome = if error.is_outcome_unknown() {
            AttemptOutcome::Unknown
        } else {
            AttemptOutcome::Transient
        };
        let wait = retry_delay(resilience, attempts, &error);
        (PostStatus::Scheduled, outcome, Some(now + wait))
    } else if error.is_outcome_unknown() && !idempotent {
        (PostStatus::Unconfirmed, AttemptOutcome::Unknown, None)
    } else if retry {
        (PostStatus::Failed, AttemptOutcome::Transient, None)
    } else {
        (PostStatus::Failed, AttemptOutcome::Permanent, None)
    };
    let mut attempt = attempt(outcome, Some(&error), &new_parts);
    if status == PostStatus::Failed && retry {
        attempt.error = Some(format!(
            "{error} (attempt {attempts} of {attempts}: retries exhausted)"
        ));
    }
    Finish {
        status,
        attempt: Some(attempt),
        external_ids: sent,
        next_attempt_at,
        counted: true,
    }
}

/// How a channel is drained.
#[derive(Debug, Clone, Copy)]
enum Drain<'a> {
    /// Due posts as they fall due, until stopped (`serve`).
    Serve,
    /// One pass over these posts, until none is left.
    Pass(Leasing<'a>),
}

/// Takes a post out of the renewed leases when its send ends, however it
/// ends (finished, failed to record, or dropped at shutdown).
struct Holding<'a> {
    dispatcher: &'a Dispatcher,
    id: PostId,
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        self.dispatcher.holding().remove(&self.id);
    }
}

/// Most writes committed together.
const RECORD_BATCH: usize = 64;

/// Writes waiting for the recorder.
const RECORD_QUEUE: usize = 1024;

/// The answer to a [`Record`]: whether the dispatcher still held the lease.
type Held = Result<bool, Arc<StoreError>>;

/// A write a sender waits for before going on.
enum Record {
    /// The post's request is about to leave.
    Mark {
        id: PostId,
        done: oneshot::Sender<Held>,
    },
    /// The post's send ended.
    Finish {
        id: PostId,
        finish: Finish,
        done: oneshot::Sender<Held>,
    },
}

/// Queues the write `record` makes (given where to answer) and waits until
/// it is committed.
async fn submit(
    recorder: &mpsc::Sender<Record>,
    record: impl FnOnce(oneshot::Sender<Held>) -> Record,
) -> Result<bool, StoreError> {
    let (done, committed) = oneshot::channel();
    if recorder.send(record(done)).await.is_err() {
        return Err(StoreError::Stopped);
    }
    match committed.await {
        Ok(Ok(held)) => Ok(held),
        Ok(Err(error)) => Err(StoreError::Batch(error)),
        Err(_) => Err(StoreError::Stopped),
    }
}

/// The hash of the bodies a post's requests carry, in order.
fn body_hash(requests: &[crate::request::OutboundRequest]) -> String {
    let bodies: Vec<Vec<u8>> = requests
        .iter()
        .filter_map(|request| request.body.as_ref().map(body_bytes))
        .collect();
    sha256_hex(bodies.iter().map(Vec::as_slice))
}

fn log(dispatched: &Dispatched) {
    let status = crate::store::lifecycle::status_name(dispatched.status);
    match dispatched.status {
        PostStatus::Published => {
            tracing::info!(post = %dispatched.id, channel = %dispatched.channel, ids = ?dispatched.external_ids, "Published.");
        }
        _ => {
            tracing::warn!(post = %dispatched.id, channel = %dispatched.channel, status, error = dispatched.error.as_deref().unwrap_or(""), next_attempt_at = ?dispatched.next_attempt_at, "Not published.");
        }
    }
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "halcytone".to_owned())
}
