//! The `Publisher` trait and the types that cross it.

use std::fmt;

use async_trait::async_trait;
use jiff::ZonedDateTime;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cadence::Cadence;
use crate::channel::Channel;
use crate::document::{Item, ItemId, Priority};
use crate::error::PublishError;
use crate::render::Renderer;
use crate::request::{OutboundRequest, RequestPreview};
use crate::text::{first_paragraph, hashtag, markdown_to_html, markdown_to_text};

/// The stable id of a post: the same channel and slot always give the same id.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct PostId(pub String);

impl fmt::Display for PostId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Where a post is in its lifecycle (PRODUCT §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    /// Planned, waiting for review.
    Draft,
    /// Approved by a person.
    Approved,
    /// Queued for its time.
    Scheduled,
    /// Leased by a dispatcher and being sent.
    Publishing,
    /// Sent and confirmed.
    Published,
    /// Refused by a person.
    Rejected,
    /// Withdrawn before sending.
    Cancelled,
    /// Retries exhausted; kept with its errors.
    Failed,
    /// The outcome of a send is unknown; waits for a person.
    Unconfirmed,
}

/// The rendered content of a post, as a JSON object whose shape belongs to
/// the channel (email `{subject, preheader, html, text}`, twitter `{parts}`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Content(pub serde_json::Value);

impl Content {
    /// Serialises a channel's typed content.
    ///
    /// # Errors
    /// Returns `Invalid` for a type that cannot be JSON (a map with non-string keys).
    pub fn from_typed<T: Serialize>(channel: &Channel, content: &T) -> Result<Self, PublishError> {
        serde_json::to_value(content)
            .map(Self)
            .map_err(|error| PublishError::Invalid {
                channel: channel.clone(),
                field: "content",
                reason: error.to_string(),
            })
    }

    /// Reads the content back as a channel's typed content.
    ///
    /// # Errors
    /// Returns the error of a content object that does not have the type's shape.
    pub fn to_typed<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.0)
    }
}

/// How many items one post of a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostShape {
    /// One item a post (social posts, articles).
    Single,
    /// A featured item and up to `more` others (a newsletter).
    Digest {
        /// How many items besides the featured one.
        more: usize,
    },
}

/// An item prepared for templates: its fields plus its body as sanitised
/// HTML, plain text and a first-paragraph summary.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    /// Stable id.
    pub id: ItemId,
    /// Section name.
    pub section: String,
    /// Title.
    pub title: String,
    /// Tags without `#`.
    pub tags: Vec<String>,
    /// Hashtags made from the tags (`#breathscape`).
    pub hashtags: Vec<String>,
    /// The item's link, if any.
    pub link: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// Earliest publish date as `YYYY-MM-DD`.
    pub date: Option<String>,
    /// The body as sanitised HTML.
    pub body_html: String,
    /// The body as plain text, links as `text (url)`.
    pub body_text: String,
    /// The first paragraph as plain text, without link targets.
    pub summary: String,
    /// Whether the item is in the featured section.
    pub featured: bool,
}

impl ItemView {
    /// Prepares an item; `featured_section` is compared without case.
    pub fn new(item: &Item, featured_section: &str) -> Self {
        let featured = item.section.eq_ignore_ascii_case(featured_section);
        let mut hashtags: Vec<String> = item.tags.iter().filter_map(|tag| hashtag(tag)).collect();
        if let Some(featured_tag) = hashtag(featured_section).filter(|_| featured) {
            hashtags.retain(|tag| !tag.eq_ignore_ascii_case(&featured_tag));
            hashtags.insert(0, featured_tag);
        }
        hashtags.dedup_by(|left, right| left.eq_ignore_ascii_case(right));
        Self {
            id: item.id.clone(),
            section: item.section.clone(),
            title: item.title.clone(),
            tags: item.tags.clone(),
            hashtags,
            link: item.link.clone(),
            priority: item.priority,
            date: item.date.map(|date| date.to_string()),
            body_html: markdown_to_html(&item.body),
            body_text: markdown_to_text(&item.body, true),
            summary: first_paragraph(&item.body),
            featured,
        }
    }
}

/// What a publisher renders one post from.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    /// The post's id.
    pub post_id: &'a PostId,
    /// When the post goes out, in the plan's time zone.
    pub scheduled_at: &'a ZonedDateTime,
    /// The item (the featured item of a digest).
    pub item: &'a ItemView,
    /// The other items of a digest; empty for single posts.
    pub includes: &'a [&'a ItemView],
    /// The language the post is written in (a BCP 47 code such as `de`):
    /// a channel may send each language to its own audience.
    pub locale: &'a str,
    /// The newsletter segment whose issue the post is, for a channel
    /// planned once per segment.
    pub segment: Option<&'a Segment>,
}

/// A newsletter segment (`[[segments]]`): part of the list, with an issue
/// of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Its id, as `Segments:` lines name it (`lapsed`).
    pub id: String,
    /// Its name, for people and templates (`Lapsed members`).
    pub name: String,
    /// The CRM's id of the segment (`seg_lapsed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm_segment: Option<String>,
    /// The listmonk list of the segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listmonk_list: Option<u64>,
}

/// A rendered post ready to be previewed or sent.
#[derive(Debug, Clone)]
pub struct OutgoingPost {
    /// The post's id; channels with idempotency keys derive the key from it.
    pub id: PostId,
    /// When the post goes out.
    pub scheduled_at: ZonedDateTime,
    /// The rendered content.
    pub content: Content,
}

impl OutgoingPost {
    /// The idempotency key of the post: the same for every attempt, across
    /// retries and restarts.
    pub fn idempotency_key(&self) -> String {
        format!("halcytone-{}", self.id)
    }
}

/// What a publish call needs besides the post.
#[derive(Debug, Clone, Default)]
pub struct PublishContext {
    /// The id of the operation that caused the call, sent as `X-Request-Id`.
    pub correlation_id: String,
    /// The ids of a thread's parts that already went out on an earlier
    /// attempt; publishing resumes after them and never sends them again.
    pub already_sent: Vec<String>,
}

/// What a channel answered to a successful publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishReceipt {
    /// The id the channel gave the post (every part of a thread, in order).
    pub external_ids: Vec<String>,
    /// A link to the post, when the channel gives one.
    pub url: Option<String>,
    /// What the API said is left of its own daily quota, when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_left: Option<QuotaLeft>,
}

/// A published post whose figures are asked for (PRODUCT §13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsTarget {
    /// The post.
    pub id: PostId,
    /// The ids the channel gave it (each part of a thread).
    pub external_ids: Vec<String>,
}

/// One figure of a post as its channel reported it: `impressions`,
/// `likes`, `opens`, … (a thread's parts summed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    /// The post.
    pub post: PostId,
    /// What was counted.
    pub metric: String,
    /// How many (or, for a rate the API gives, the rate).
    pub value: f64,
}

/// What is left of an API's own quota, as its answer said (X's
/// `x-user-limit-24hour-*` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuotaLeft {
    /// Sends left.
    pub sends: u32,
    /// When the quota is whole again.
    pub until: jiff::Timestamp,
}

/// One text of a post as readers see it, with its length by the channel's rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measured {
    /// What the text is (`post 2`, `commentary`).
    pub label: String,
    /// The text as shown on the channel.
    pub text: String,
    /// Its length by the channel's rule.
    pub length: usize,
    /// The most the channel allows.
    pub limit: usize,
}

/// What a look-up needs besides the post: what is known to be out, and
/// when the send whose outcome is unknown may have happened.
#[derive(Debug, Clone)]
pub struct LookupContext {
    /// The id of the operation, sent as `X-Request-Id`.
    pub correlation_id: String,
    /// The ids of a thread's parts already on record as sent; the look-up
    /// searches for the parts after them.
    pub already_sent: Vec<String>,
    /// The earliest the send can have happened.
    pub since: jiff::Timestamp,
    /// The latest (now).
    pub until: jiff::Timestamp,
}

/// What a channel's look-up found about a post whose send's outcome is
/// unknown (PRODUCT §14, reconciliation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "found", rename_all = "lowercase")]
pub enum Lookup {
    /// All of the post is on the channel.
    Published {
        /// The ids the channel gave it (every part of a thread, in order).
        external_ids: Vec<String>,
        /// How it was found, for the post's record.
        evidence: String,
    },
    /// The channel holds exactly `sent` of the post (often nothing), and
    /// the rest is proven absent: sending may resume after `sent`.
    Absent {
        /// The ids of what is out: the parts of a thread, or a campaign
        /// created but not scheduled.
        sent: Vec<String>,
        /// How the absence was proven, for the post's record.
        evidence: String,
    },
    /// The channel cannot say for sure; the post stays unconfirmed.
    Unsure {
        /// Why not.
        reason: String,
    },
}

/// A publishing channel: renders, validates, previews and publishes posts.
///
/// `render`, `validate` and `build_requests` are pure; only `publish` does IO.
/// Publishers classify errors but never retry or sleep: retries, rate limits
/// and circuit breakers wrap them from outside.
#[async_trait]
pub trait Publisher: Send + Sync + std::fmt::Debug + 'static {
    /// The channel this publisher sends to.
    fn channel(&self) -> Channel;

    /// When posts go out unless configuration says otherwise.
    fn default_cadence(&self) -> Cadence;

    /// How many items one post carries.
    fn shape(&self) -> PostShape {
        PostShape::Single
    }

    /// The most posts plans put in any 24 hours unless configuration says
    /// otherwise (`daily_cap`): the API's own daily limit; `None` for none.
    fn default_daily_cap(&self) -> Option<u32> {
        None
    }

    /// Whether every request carries an idempotency key, so that a request
    /// whose outcome is unknown may be sent again safely.
    fn idempotent(&self) -> bool {
        false
    }

    /// The configuration keys still missing before the channel can send;
    /// empty when it is fully configured.
    fn missing_configuration(&self) -> Vec<&'static str>;

    /// Renders one post with the channel's templates and rules.
    ///
    /// # Errors
    /// Returns `Invalid` when a template fails or the content cannot be made
    /// to fit the channel.
    fn render(&self, input: &RenderInput<'_>, renderer: &Renderer)
    -> Result<Content, PublishError>;

    /// Checks rendered (or edited) content against the channel's rules.
    ///
    /// # Errors
    /// Returns `Invalid` naming the field and the rule.
    fn validate(&self, content: &Content) -> Result<(), PublishError>;

    /// Builds the exact HTTP requests `publish` sends for `post`, secrets included.
    ///
    /// # Errors
    /// Returns `Invalid` when the content does not have the channel's shape.
    fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError>;

    /// The requests `publish` would send, with secrets redacted.
    ///
    /// # Errors
    /// As [`Publisher::build_requests`].
    fn preview(&self, post: &OutgoingPost) -> Result<Vec<RequestPreview>, PublishError> {
        Ok(self
            .build_requests(post)?
            .iter()
            .map(OutboundRequest::redacted)
            .collect())
    }

    /// Each text of `content` as the channel's readers see it, measured by
    /// the channel's own rule (an X post's weighted length out of 280,
    /// LinkedIn's commentary in UTF-16 units out of 3000), for review.
    /// Empty for a channel without a length rule, or content not of its shape.
    fn measure(&self, content: &Content) -> Vec<Measured> {
        let _ = content;
        Vec::new()
    }

    /// A link to a post the channel published, from the id it gave it.
    fn external_url(&self, external_id: &str) -> Option<String> {
        let _ = external_id;
        None
    }

    /// Pre-flight checks (PRODUCT §14): the credentials work (a harmless
    /// call of the API), the API version is still supported, a token with a
    /// known expiry is not due within a week. Empty for a channel without any.
    async fn preflight(&self, now: jiff::Timestamp) -> Vec<crate::preflight::Check> {
        let _ = now;
        Vec::new()
    }

    /// Looks on the channel for a post whose send's outcome is unknown, by
    /// the look-up the API has (an idempotency key, a campaign name, a slug,
    /// the account's recent posts). Channels without one are always unsure.
    ///
    /// # Errors
    /// A classified [`PublishError`] when the look-up call fails; the post
    /// stays unconfirmed.
    async fn look_up(
        &self,
        post: &OutgoingPost,
        context: &LookupContext,
    ) -> Result<Lookup, PublishError> {
        let _ = (post, context);
        Ok(Lookup::Unsure {
            reason: format!("{} has no way to look a post up", self.channel()),
        })
    }

    /// Whether the channel is planned once per newsletter segment (the
    /// newsletter), each issue with the segment's target.
    fn takes_segments(&self) -> bool {
        false
    }

    /// How the channel runs A/B experiments (PRODUCT §12); `None` when it
    /// cannot, and an item's `Subject B:` or `Hook B:` is then not planned.
    fn experiments(&self) -> Option<crate::experiment::ExperimentKind> {
        None
    }

    /// An experiment the channel's kind runs but this configuration of it
    /// cannot, and why (a newsletter through listmonk and `Subject B:`):
    /// the plan warns for each item that asks for one.
    fn experiments_refused(&self) -> Option<(crate::experiment::ExperimentKind, &'static str)> {
        None
    }

    /// The content of an experiment's arm: `content` (arm A's, or the
    /// winner's) with the arm's text and, for a split send, its share of
    /// the list. Only called on a channel whose [`Publisher::experiments`]
    /// is `Some`.
    ///
    /// # Errors
    /// `Invalid` when the content is not the channel's, or the channel
    /// runs no experiments.
    fn vary(
        &self,
        content: &Content,
        variation: &crate::experiment::Variation<'_>,
    ) -> Result<Content, PublishError> {
        let _ = (content, variation);
        Err(PublishError::Invalid {
            channel: self.channel(),
            field: "experiment",
            reason: "cannot be run: the channel runs no experiments".to_owned(),
        })
    }

    /// The most posts one [`Publisher::fetch_metrics`] call asks about
    /// (X: 100); 0 for a channel whose API reports no figures.
    fn metrics_batch(&self) -> usize {
        0
    }

    /// The rate limit of the API's figures, apart from publishing's
    /// (`metrics_rate_limit`); `None` for none.
    fn default_metrics_rate_limit(&self) -> Option<crate::resilience::RateLimit> {
        None
    }

    /// Reads the figures of at most [`Publisher::metrics_batch`] published
    /// posts (PRODUCT §13). A post the channel no longer has yields no
    /// reading; it is not an error.
    ///
    /// # Errors
    /// A classified [`PublishError`] when a call fails: the fetch is tried
    /// again on the next pass, and nothing else is affected.
    async fn fetch_metrics(
        &self,
        posts: &[MetricsTarget],
        correlation_id: &str,
    ) -> Result<Vec<Reading>, PublishError> {
        let _ = (posts, correlation_id);
        Ok(Vec::new())
    }

    /// Sends the post: the requests of [`Publisher::build_requests`], byte for byte.
    ///
    /// # Errors
    /// Returns a classified [`PublishError`]; a thread that fails after some
    /// parts went out returns `Partial` with their ids.
    async fn publish(
        &self,
        post: &OutgoingPost,
        context: &PublishContext,
    ) -> Result<PublishReceipt, PublishError>;
}

/// Rejects content that does not have the channel's shape, naming the channel.
///
/// # Errors
/// Returns `Invalid` with the deserialisation message.
pub fn typed_content<T: DeserializeOwned>(
    channel: &Channel,
    content: &Content,
) -> Result<T, PublishError> {
    content.to_typed().map_err(|error| PublishError::Invalid {
        channel: channel.clone(),
        field: "content",
        reason: format!("does not have the {channel} shape: {error}"),
    })
}

/// Fails with `NotConfigured` when `missing` names configuration keys, so a
/// channel without credentials never sends a half-authorised request.
///
/// # Errors
/// Returns `NotConfigured` listing the keys.
pub fn require_configuration(channel: &Channel, missing: &[&str]) -> Result<(), PublishError> {
    if missing.is_empty() {
        return Ok(());
    }
    Err(PublishError::NotConfigured {
        service: channel.into(),
        missing: missing.join(", "),
    })
}

/// Fails with `Invalid` on `field` unless `ok`.
///
/// # Errors
/// Returns `Invalid { field, reason }` when `ok` is false.
pub fn ensure(
    channel: &Channel,
    ok: bool,
    field: &'static str,
    reason: impl FnOnce() -> String,
) -> Result<(), PublishError> {
    if ok {
        Ok(())
    } else {
        Err(PublishError::Invalid {
            channel: channel.clone(),
            field,
            reason: reason(),
        })
    }
}

/// Renders a template and maps a failure to `Invalid` on `field`.
///
/// # Errors
/// Returns `Invalid` with the template error.
pub fn render_field<T: Serialize>(
    renderer: &Renderer,
    channel: &Channel,
    field: &'static str,
    template: &str,
    data: &T,
) -> Result<String, PublishError> {
    renderer
        .render(template, data)
        .map_err(|error| PublishError::Invalid {
            channel: channel.clone(),
            field,
            reason: error.to_string(),
        })
}
