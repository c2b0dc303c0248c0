//! The durable store's contract: plans, posts with their lifecycle, and
//! every send attempt (PRODUCT §5). The SQL implementation (SQLite and
//! PostgreSQL) is the `halcytone-store` crate.

pub mod lifecycle;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::channel::Channel;
use crate::experiment::{ArmOf, Decision};
use crate::publisher::{PostId, PostStatus};

pub use lifecycle::{Action, IllegalTransition};

/// A plan as stored: what identifies it, without its posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PlanRecord {
    /// Stable id from the document revision and the request.
    pub id: String,
    /// The period (`week`, …).
    pub period: String,
    /// The first day, `YYYY-MM-DD`.
    pub start: String,
    /// The time zone name.
    pub timezone: String,
    /// Slots left empty, posts left out and why.
    pub warnings: Vec<String>,
}

/// A rendered post to store: a draft (or, without approvals, a scheduled post).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPost {
    /// Stable id from channel and slot ([`crate::plan::post_id`]).
    pub id: PostId,
    /// The channel.
    pub channel: Channel,
    /// When it goes out.
    pub scheduled_at: Timestamp,
    /// The item's id.
    pub item_id: String,
    /// The item as plans show it (`{id, section, title}`).
    pub item: serde_json::Value,
    /// The other items a newsletter carries.
    pub includes: Vec<String>,
    /// The status a new post starts in (`draft`, or `scheduled` when
    /// approvals are off).
    pub status: PostStatus,
    /// The language it is written in (a BCP 47 code such as `de`).
    pub locale: String,
    /// The newsletter segment whose issue it is.
    pub segment: Option<String>,
    /// Its experiment and arm, when it is an arm of an A/B experiment.
    pub experiment: Option<ArmOf>,
    /// The channel's rendered content.
    pub content: serde_json::Value,
    /// Every request publishing sends, secrets redacted, as a JSON array.
    pub request: serde_json::Value,
}

impl NewPost {
    /// The hash an approval binds to: of the content and the requests.
    pub fn content_hash(&self) -> String {
        content_hash(&self.content, &self.request)
    }
}

/// The hash of a post's exact content and requests, in lowercase hex.
pub fn content_hash(content: &serde_json::Value, request: &serde_json::Value) -> String {
    sha256_hex(
        [content.to_string(), request.to_string()]
            .iter()
            .map(String::as_bytes),
    )
}

/// The SHA-256 of `parts` joined by newlines, in lowercase hex.
pub fn sha256_hex<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for (index, part) in parts.into_iter().enumerate() {
        if index > 0 {
            hasher.update(b"\n");
        }
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The latest reading of one figure of a post.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatestReading {
    /// The post.
    pub post: PostId,
    /// Its channel.
    pub channel: Channel,
    /// What was counted.
    pub metric: String,
    /// How many.
    pub value: f64,
    /// When it was read.
    pub read_at: Timestamp,
}

/// What [`Store::save_plan`] did with each post.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SaveReport {
    /// The plan.
    pub plan_id: String,
    /// Posts new to the store.
    pub inserted: Vec<PostId>,
    /// Posts whose content changed and was replaced.
    pub updated: Vec<PostId>,
    /// Posts whose content was already the same.
    pub unchanged: Vec<PostId>,
    /// Posts left alone: publishing, published or unconfirmed.
    pub kept: Vec<PostId>,
    /// Posts whose approval the change voided (back to draft); also in `updated`.
    pub voided: Vec<PostId>,
    /// Posts a person edited whose document version changed: the edit is
    /// kept, and the new version waits beside it (`conflict`) to be taken
    /// (`revert`) or left (another edit).
    pub conflicts: Vec<PostId>,
}

/// Which posts [`Store::posts`] lists; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostFilter {
    /// Only posts in this state.
    pub status: Option<PostStatus>,
    /// Only posts of this channel.
    pub channel: Option<Channel>,
    /// Only posts scheduled at or after this time.
    pub from: Option<Timestamp>,
    /// Only posts scheduled before this time.
    pub to: Option<Timestamp>,
    /// Only posts whose id starts so.
    pub id_prefix: Option<String>,
    /// Only posts in this language (a BCP 47 code as configured).
    pub locale: Option<String>,
    /// Only posts after this one in the listing's order (time, channel,
    /// id): a page's cursor.
    pub after: Option<PostKey>,
    /// At most this many posts.
    pub limit: Option<usize>,
}

/// Where a post sits in listings: by time, then channel, then id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PostKey {
    /// `scheduled_at`.
    pub scheduled_at: Timestamp,
    /// The channel's name.
    pub channel: String,
    /// The post's id.
    pub id: String,
}

impl PostKey {
    /// The key of `post`.
    pub fn of(post: &StoredPost) -> Self {
        Self {
            scheduled_at: post.scheduled_at,
            channel: post.channel.to_string(),
            id: post.id.0.clone(),
        }
    }
}

/// How a send attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptOutcome {
    /// The channel confirmed the post.
    Succeeded,
    /// A transient failure; the post is retried.
    Transient,
    /// A permanent failure.
    Permanent,
    /// Nobody knows whether it went out.
    Unknown,
    /// Reconciliation found the post on its channel: it went out.
    Found,
    /// Reconciliation proved the post (or its rest) absent from its channel.
    Absent,
}

impl AttemptOutcome {
    /// The outcome's name as stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Unknown => "unknown",
            Self::Found => "found",
            Self::Absent => "absent",
        }
    }

    /// The outcome named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Succeeded,
            Self::Transient,
            Self::Permanent,
            Self::Unknown,
            Self::Found,
            Self::Absent,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == name)
    }
}

/// One try at sending a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The error, when it failed.
    pub error: Option<String>,
    /// The ids the channel gave the post (one per part of a thread).
    pub external_ids: Vec<String>,
    /// The correlation id sent as `X-Request-Id`.
    pub correlation_id: Option<String>,
    /// The hash of the body that was sent.
    pub body_hash: Option<String>,
    /// How a reconciliation look-up found the post or proved it absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A post as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredPost {
    /// Stable id.
    pub id: PostId,
    /// The plan that last wrote it.
    pub plan_id: String,
    /// The channel.
    pub channel: Channel,
    /// When it goes out.
    #[schema(value_type = String, format = DateTime)]
    pub scheduled_at: Timestamp,
    /// The item as plans show it.
    pub item: serde_json::Value,
    /// The other items a newsletter carries.
    pub includes: Vec<String>,
    /// Lifecycle state.
    pub status: PostStatus,
    /// The language it is written in (a BCP 47 code such as `de`); absent
    /// for posts stored before locales existed, which came from the main
    /// document.
    pub locale: Option<String>,
    /// The newsletter segment whose issue it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Its experiment and arm, when it is an arm of an A/B experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ArmOf>,
    /// The channel's rendered content.
    pub content: serde_json::Value,
    /// The requests publishing sends, secrets redacted.
    pub request: serde_json::Value,
    /// The hash of the content and requests.
    pub content_hash: String,
    /// The hash the approval bound to, while approved.
    pub approved_hash: Option<String>,
    /// When it was first stored.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Send attempts that count towards `resilience.max_attempts`.
    pub attempt_count: u32,
    /// Not sent before this time: the backoff after a transient failure.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    /// The channel's ids of what went out (each part of a thread).
    pub external_ids: Vec<String>,
    /// When the channel confirmed the post.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<Timestamp>,
    /// Every send attempt, oldest first (filled by [`Store::post`] only).
    pub attempts: Vec<Attempt>,
    /// When a person last edited it; re-planning keeps the edit.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub edited_at: Option<Timestamp>,
    /// The document's newer version of an edited post, until resolved.
    pub conflict: Option<PlannedVersion>,
    /// The content a re-plan last replaced after a document change.
    pub previous_content: Option<serde_json::Value>,
    /// A model's suggestion for the content (PRODUCT §11): never sent;
    /// accepting it is an edit.
    pub suggestion: Option<serde_json::Value>,
}

/// The content a decided experiment gives its winner's send.
#[derive(Debug, Clone, Copy)]
pub struct RestContent<'a> {
    /// The winner's send.
    pub post: &'a PostId,
    /// The winning arm's content, with the rest of the list as its share.
    pub content: &'a serde_json::Value,
    /// The requests publishing it sends, secrets redacted.
    pub request: &'a serde_json::Value,
}

/// What a plan rendered for a post that a person had edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlannedVersion {
    /// The channel's rendered content.
    pub content: serde_json::Value,
    /// The requests publishing would send, secrets redacted.
    pub request: serde_json::Value,
    /// The item it is about (a re-plan may have moved another into the slot).
    pub item_id: String,
    /// The item as plans show it.
    pub item: serde_json::Value,
    /// The other items a newsletter carries.
    pub includes: Vec<String>,
}

/// The result of a successful [`Store::transition`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Transitioned {
    /// The post.
    pub id: PostId,
    /// The state before.
    pub from: PostStatus,
    /// The state now.
    pub to: PostStatus,
    /// Whether an approval was voided on the way.
    pub voided: bool,
}

/// A stored plan: its record, when it was stored, and the posts it last wrote.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredPlan {
    /// The plan.
    #[serde(flatten)]
    pub record: PlanRecord,
    /// When it was first stored.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it was last stored again.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Its posts, by time then channel, without attempts.
    pub posts: Vec<StoredPost>,
}

/// A post a dispatcher holds a lease on.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedPost {
    /// The post.
    pub id: PostId,
    /// Its channel.
    pub channel: Channel,
    /// When it was due.
    pub scheduled_at: Timestamp,
    /// The content to send.
    pub content: serde_json::Value,
    /// Attempts so far that count towards the limit.
    pub attempt_count: u32,
    /// Ids of the thread parts that already went out: sending resumes after them.
    pub sent: Vec<String>,
}

/// How a leased post's send ended, as [`Store::finish`] records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// The post's state now: `published`, `scheduled` (back in the queue),
    /// `failed` or `unconfirmed`.
    pub status: PostStatus,
    /// The attempt to record; `None` when no request was made (circuit open).
    pub attempt: Option<Attempt>,
    /// Whether the attempt counts towards `resilience.max_attempts` (a rate
    /// limit with a reset time does not: the post waits as the API asked).
    pub counted: bool,
    /// The ids of what went out so far.
    pub external_ids: Vec<String>,
    /// When a post back in the queue is due again.
    pub next_attempt_at: Option<Timestamp>,
}

/// Which posts [`Store::lease`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leasing<'a> {
    /// Scheduled posts whose time has come.
    Due,
    /// These scheduled posts, whatever their time (`generate --publish-now`).
    Now(&'a [PostId]),
}

/// Which leases [`Store::requeue`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue<'a> {
    /// Leases that expired before this time: their dispatcher died.
    ExpiredBefore(Timestamp),
    /// Every lease of this dispatcher: it is shutting down.
    HeldBy(&'a str),
}

/// A post whose lease [`Store::requeue`] ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requeued {
    /// The post.
    pub id: PostId,
    /// Its channel.
    pub channel: Channel,
    /// `scheduled` (sent again, with the same idempotency key if it was in
    /// flight) or `unconfirmed` (it may have gone out on a channel without
    /// idempotency keys).
    pub status: PostStatus,
    /// Whether a request may have left when the lease ended.
    pub was_sending: bool,
}

/// What reconciliation established about an unconfirmed post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// It is on the channel with these ids.
    Published {
        /// Every part's id, in order.
        external_ids: Vec<String>,
        /// How it was found.
        evidence: String,
    },
    /// Only `sent` of it is on the channel; the rest is to be sent.
    Absent {
        /// The ids of what is out.
        sent: Vec<String>,
        /// How the absence was proven.
        evidence: String,
    },
}

/// The state changes a webhook hears of: the post's new status names it.
pub const EVENT_STATUSES: [PostStatus; 3] = [
    PostStatus::Published,
    PostStatus::Failed,
    PostStatus::Unconfirmed,
];

/// The webhook event type of a post reaching `status` (`post.published`),
/// for the statuses in [`EVENT_STATUSES`].
pub fn event_type(status: PostStatus) -> Option<String> {
    EVENT_STATUSES
        .contains(&status)
        .then(|| format!("post.{}", lifecycle::status_name(status)))
}

/// The webhook event a failing pre-flight check raises.
pub const PREFLIGHT_FAILED: &str = "preflight.failed";

/// A new, unique webhook event id (`evt_` and 32 hex digits): the time,
/// the process and a counter, hashed with `seed`.
pub fn new_event_id(seed: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = format!(
        "{seed}|{}|{}|{}",
        Timestamp::now().as_nanosecond(),
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let hash = sha256_hex([unique.as_bytes()]);
    format!("evt_{}", &hash[..32])
}

/// An event of the webhook outbox, due to be delivered to one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The event's id, the same on every retry.
    pub event_id: String,
    /// `post.published`, `post.failed`, `post.unconfirmed` or `preflight.failed`.
    pub event_type: String,
    /// The post the event is about, for a post event.
    pub post_id: Option<PostId>,
    /// When the state changed.
    pub created_at: Timestamp,
    /// The body first delivered, which every retry sends again.
    pub body: Option<String>,
    /// The webhook's URL.
    pub url: String,
    /// Deliveries tried so far.
    pub attempts: u32,
}

/// How one delivery of an event went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// It failed and is tried again at `next`.
    Retry {
        /// The receiver's status, when it answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// When it is tried again.
        next: Timestamp,
    },
    /// It failed for the last time.
    GaveUp {
        /// The receiver's status, when it answered.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// A line of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    /// The event's id.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// Its post, for a post event.
    pub post_id: Option<PostId>,
    /// When the state changed.
    pub created_at: Timestamp,
    /// The webhook's URL.
    pub url: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Deliveries tried.
    pub attempts: u32,
    /// The receiver's last status.
    pub last_status: Option<u16>,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<Timestamp>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No post has this id (an HTTP 404).
    #[error("no post `{0}`")]
    NotFound(PostId),
    /// The action is not allowed in the post's state (an HTTP 409).
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// The post kept changing under the operation (an HTTP 409).
    #[error("post `{id}` changed concurrently; it is now {}", lifecycle::status_name(*.current))]
    Conflict {
        /// The post.
        id: PostId,
        /// Its state now.
        current: PostStatus,
    },
    /// Part of the post already went out, so its content is fixed (an HTTP 409).
    #[error(
        "post `{0}` is partly sent (a thread's first parts went out); its content cannot change"
    )]
    PartlySent(PostId),
    /// The approval names content that is no longer the post's (an HTTP 409).
    #[error("post `{0}` changed since it was reviewed; review it again")]
    StaleApproval(PostId),
    /// A revert of a post nobody edited (an HTTP 409).
    #[error("post `{0}` has no edit to revert: it is as the document has it")]
    NotEdited(PostId),
    /// An edit needs the new content's hash.
    #[error("an edit needs the hash of the new content")]
    MissingHash,
    /// The URL names no supported database.
    #[error("unsupported store URL `{0}`: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    /// A stored value is not what this version writes.
    #[error("corrupt store row: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("store: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The dispatcher's writer stopped before the write was made.
    #[error("the store writer stopped before the write was made")]
    Stopped,
    /// A batch of writes this operation was part of failed.
    #[error(transparent)]
    Batch(std::sync::Arc<StoreError>),
    /// The migrations failed.
    #[error("store migrations: {0}")]
    Migrate(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A JSON value did not (de)serialise.
    #[error("store JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Durable plans, posts and attempts.
#[async_trait]
pub trait Store: Send + Sync {
    /// Stores a plan and upserts its posts by id (channel and slot).
    ///
    /// A post that is publishing, published or unconfirmed, or that has
    /// parts out already, is never touched (`kept`). Any other post whose content changed gets the new content;
    /// an approved, scheduled or failed one returns to the new post's initial
    /// status with its approval voided. Rejected and cancelled posts keep
    /// their state, and a decided experiment's winner's send keeps the
    /// winning arm's content (`kept`).
    async fn save_plan(
        &self,
        plan: &PlanRecord,
        posts: &[NewPost],
    ) -> Result<SaveReport, StoreError>;

    /// The posts that match `filter`, by time then channel, without attempts.
    async fn posts(&self, filter: &PostFilter) -> Result<Vec<StoredPost>, StoreError>;

    /// One post with its attempts.
    async fn post(&self, id: &PostId) -> Result<Option<StoredPost>, StoreError>;

    /// Applies `action` atomically (compare-and-set on the current state).
    ///
    /// `content_hash`: on `approve`, the hash the reviewer saw (refused with
    /// [`StoreError::StaleApproval`] when the content changed since; `None`
    /// approves the current content); on `edit`, the new content's hash
    /// (required). An approval is recorded as the approved hash; `schedule`
    /// and `lease` of a post whose content no longer matches its approval
    /// void it and return the post to draft.
    async fn transition(
        &self,
        id: &PostId,
        action: Action,
        content_hash: Option<&str>,
    ) -> Result<Transitioned, StoreError>;

    /// Replaces a post's content and requests (an `edit`): an approved or
    /// scheduled post returns to draft and its approval is voided.
    async fn edit(
        &self,
        id: &PostId,
        content: &serde_json::Value,
        request: &serde_json::Value,
    ) -> Result<Transitioned, StoreError>;

    /// Drops a person's edit (`revert`): the document's newer version, when
    /// a re-plan left one beside the edit, replaces it (content and item,
    /// voiding an approval as an edit does); otherwise the edit mark goes
    /// and the next plan writes the document's version.
    async fn revert(&self, id: &PostId) -> Result<Transitioned, StoreError>;

    /// A plan with the posts it last wrote.
    async fn plan(&self, id: &str) -> Result<Option<StoredPlan>, StoreError>;

    /// How many posts are in each state (states with none are left out).
    async fn status_counts(&self) -> Result<Vec<(PostStatus, u64)>, StoreError>;

    /// Queues approved posts whose content is still the approved one
    /// (`approved → scheduled`); returns how many.
    async fn schedule_approved(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// The posts that are due at `now` (scheduled, or approved), oldest first,
    /// at most `limit`: what a dispatch pass would send. Reads only.
    async fn due(&self, now: Timestamp, limit: usize) -> Result<Vec<StoredPost>, StoreError>;

    /// How many posts [`Store::due`] would list, by channel.
    async fn due_by_channel(&self, now: Timestamp) -> Result<Vec<(Channel, u64)>, StoreError>;

    /// Leases up to `limit` posts of `channel` to `owner` until `until`
    /// (`scheduled → publishing`), oldest first: the due ones, or the ones
    /// named to be sent now. Posts another dispatcher is leasing at the
    /// same moment are skipped, never shared.
    async fn lease(
        &self,
        owner: &str,
        channel: &Channel,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
        which: Leasing<'_>,
    ) -> Result<Vec<LeasedPost>, StoreError>;

    /// Extends the leases `owner` holds on `ids` to `until`; returns how
    /// many. A lease that is being written to at that moment may be skipped.
    async fn renew(&self, owner: &str, ids: &[PostId], until: Timestamp)
    -> Result<u64, StoreError>;

    /// Marks leased posts as being sent, just before their requests leave;
    /// returns those `owner` still holds (the others must not be sent).
    async fn mark_sending(
        &self,
        ids: &[PostId],
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<PostId>, StoreError>;

    /// Records how leased posts' sends ended and ends their leases, in one
    /// transaction. Returns, for each, whether `owner` still held its lease:
    /// when not, the attempt is still recorded and the state left alone.
    async fn finish(
        &self,
        owner: &str,
        finished: &[(PostId, Finish)],
        now: Timestamp,
    ) -> Result<Vec<bool>, StoreError>;

    /// Records what a reconciliation look-up found about an unconfirmed
    /// post, compare-and-set on `unconfirmed`: `published` with the ids
    /// found, or back to `scheduled` (its attempts afresh) with `sent` as
    /// what is out, so sending resumes after it. A look-up attempt goes on
    /// record either way.
    async fn resolve_unconfirmed(
        &self,
        id: &PostId,
        resolution: &Resolution,
        now: Timestamp,
    ) -> Result<Transitioned, StoreError>;

    /// Queues every event of `types` created since `since` for delivery to
    /// `url`, once (an event already queued for it is left alone); returns
    /// how many were queued.
    async fn fan_out(
        &self,
        url: &str,
        types: &[String],
        since: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Takes up to `limit` pending deliveries due at `now`, oldest first,
    /// holding each until `hold_until` so that another taker skips it.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        hold_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError>;

    /// Fixes an event's body unless an earlier delivery did; returns the
    /// body every delivery of the event sends.
    async fn fix_event_body(&self, event_id: &str, body: &str) -> Result<String, StoreError>;

    /// Records how a delivery went.
    async fn record_delivery(
        &self,
        event_id: &str,
        url: &str,
        outcome: &DeliveryOutcome,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Writes an event about no post, with its body, to the outbox.
    async fn record_event(
        &self,
        id: &str,
        event_type: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The delivery log, newest events first, at most `limit`.
    async fn deliveries(&self, limit: usize) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// Records an experiment's decision, once: `false` when it was decided
    /// already (and nothing changed). With `rest`, the winner's send takes
    /// the winning arm's content in the same transaction, keeping its
    /// approval (a person approved both arms' content); a post that is out,
    /// going out or edited by a person keeps its own. Until its experiment
    /// is decided, a winner's send is never due.
    async fn decide_experiment(
        &self,
        decision: &Decision,
        rest: Option<RestContent<'_>>,
    ) -> Result<bool, StoreError>;

    /// Every recorded decision, oldest first.
    async fn decisions(&self) -> Result<Vec<Decision>, StoreError>;

    /// Keeps `suggestion` beside the post's content, or drops it (`None`).
    async fn set_suggestion(
        &self,
        id: &PostId,
        suggestion: Option<&serde_json::Value>,
    ) -> Result<(), StoreError>;

    /// Appends readings of `channel`'s posts' figures, read at `at`; no
    /// earlier reading is changed.
    async fn record_readings(
        &self,
        channel: &Channel,
        readings: &[crate::publisher::Reading],
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// The latest reading of each figure of the posts scheduled in
    /// `[from, to)` (of `channel` only, when given), by post then metric.
    async fn latest_readings(
        &self,
        from: Timestamp,
        to: Timestamp,
        channel: Option<&Channel>,
    ) -> Result<Vec<LatestReading>, StoreError>;

    /// Ends leases: a post that was not being sent goes back to the queue;
    /// one that was being sent goes back to the queue when its channel is in
    /// `idempotent` (it is sent again with the same key), else it becomes
    /// `unconfirmed`, with an attempt of unknown outcome on record.
    async fn requeue(
        &self,
        which: Requeue<'_>,
        idempotent: &[Channel],
        now: Timestamp,
    ) -> Result<Vec<Requeued>, StoreError>;
}
