//! `App`: configuration, publishers, templates and the source, built once at
//! start; `generate` runs document → plan → rendered posts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use halcytone_core::cadence::Cadence;
use halcytone_core::channel::Channel;
use halcytone_core::compose::{Composer, ContentPlan, ItemViews, ScheduledPost};
use halcytone_core::dispatch::Dispatcher;
use halcytone_core::document::{KnownChannels, ParsedDocument};
use halcytone_core::error::ConfigError;
use halcytone_core::error::PublishError;
use halcytone_core::http::HttpClient;
use halcytone_core::plan::{
    Period, Plan, PlanChannel, PlanError, PlanRequest, PlannedPost, next_monday, plan,
    post_id,
};
use halcytone_core::publisher::{
    Content, OutgoingPost, PostId, PostStatus, PublishContext, Publisher,
};
use halcytone_core::registry::{Registry, SourceContext};
use halcytone_core::render::Renderer;
use halcytone_core::resilience::{RateLimit, Resilient};
use halcytone_core::snapshot::{self, Changes, Snapshot};
use halcytone_core::source::{MarkdownSource, Source, SourceError};
use halcytone_core::store::{
    Action, PostFilter, Store, StoreError, StoredPlan, StoredPost,
    Transitioned, lifecycle,
};
use halcytone_store::SqlStore;
use jiff::civil::Date;

use crate::config::{ConfigTable, Settings};

/// A compiled-in channel with its configuration.
pub(crate) struct ChannelEntry {
    /// The publisher, wrapped in retries, its breaker and its rate limit.
    pub(crate) publisher: Arc<Resilient>,
    /// The configured cadence, or the publisher's default.
    pub(crate) cadence: Cadence,
    /// The configured quota.
    pub(crate) rate_limit: Option<RateLimit>,
    /// Whether plans include the channel.
    pub(crate) enabled: bool,
}

/// Everything a command or request needs, built once.
pub(crate) struct App {
    /// The checked configuration.
    pub(crate) settings: Settings,
    /// Compiled-in channels and sources.
    pub(crate) registry: Registry<ConfigTable>,
    /// Channels by name.
    pub(crate) channels: BTreeMap<Channel, ChannelEntry>,
    /// Enabled publishers by channel, for composing.
    publishers: BTreeMap<Channel, Arc<dyn Publisher>>,
    /// Compiled templates.
    pub(crate) renderer: Renderer,
    /// Where the living document comes from.
    pub(crate) source: Arc<dyn Source>,
    /// The channels a document may name.
    known_channels: KnownChannels,
    /// Warnings about the configuration itself.
    pub(crate) config_warnings: Vec<String>,
    /// Item views of the latest document revision.
    views: ItemViews,
    /// The revision last kept as the good copy, and its changes.
    last_kept: Mutex<Option<(String, Option<Changes>)>>,
    /// The durable store, opened on first use (dry runs never open it).
    store: tokio::sync::OnceCell<SqlStore>,
}

/// What to generate.
#[derive(Debug, Clone)]
pub(crate) struct GenerateRequest {
    /// How long.
    pub(crate) period: Period,
    /// The first day; the next Monday when absent.
    pub(crate) start: Option<Date>,
    /// Channel names; every enabled channel when absent.
    pub(crate) channels: Option<Vec<String>>,
    /// Preview only.
    pub(crate) dry_run: bool,
}

/// Which stored posts to list; every field narrows the list.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PostsRequest<'a> {
    /// A status name.
    pub(crate) status: Option<&'a str>,
    /// A channel name.
    pub(crate) channel: Option<&'a str>,
    /// Scheduled at or after: a date or an RFC 3339 time.
    pub(crate) from: Option<&'a str>,
    /// Scheduled before: a date or an RFC 3339 time.
    pub(crate) to: Option<&'a str>,
}

/// Why a generate request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// A request value is wrong.
    #[error("{field}: {message}")]
    BadRequest {
        /// The request field.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// The living document could not be read or is invalid.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A slot could not be placed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The operation is not offered in the form asked for.
    #[error("{0}")]
    NotAvailable(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No plan has this id (an HTTP 404).
    #[error("no plan `{0}`")]
    PlanNotFound(String),
}

/// Message for `POST /generate` without `dry_run`: one item is previewed, never stored.
pub(crate) const ITEM_PREVIEW_ONLY: &str = "POST /generate previews one item and stores nothing: send dry_run: true (POST /generateBatch stores plans)";

impl App {
    /// Builds the app from checked settings; `document` overrides the source
    /// with a Markdown file (`--doc`).
    ///
    /// # Errors
    /// Returns a [`ConfigError`] naming the key at fault.
    pub(crate) fn new(
        settings: Settings,
        registry: Registry<ConfigTable>,
        document: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let mut config_warnings = Vec::new();
        let mut channels = BTreeMap::new();
        let http = HttpClient::new(settings.request_timeout)
            .map_err(|message| ConfigError::new("resilience.request_timeout", message))?;
        for (channel, factory) in registry.publishers() {
            let configured = settings.channels.get(channel.as_str());
            let table = configured.map_or_else(
                || ConfigTable::empty(format!("channels.{channel}")),
                |entry| entry.table.clone(),
            );
            let rate_limit = configured.and_then(|entry| entry.rate_limit);
            // Every publisher is wrapped once, here: retries, breaker and rate limit.
            let publisher = Arc::new(Resilient::new(
                factory(&table, &http)?,
                settings.resilience.clone(),
                rate_limit,
            ));
            channels.insert(
                channel.clone(),
                ChannelEntry {
                    cadence: configured
                        .and_then(|entry| entry.cadence.clone())
                        .unwrap_or_else(|| publisher.default_cadence()),
                    rate_limit,
                    enabled: configured.is_none_or(|entry| entry.enabled),
                    publisher,
                },
            );
        }
        for name in settings.channels.keys() {
            let known = Channel::parse(name).ok().filter(|channel| {
                channels.contains_key(channel)
                    || registry.absent_channels().any(|absent| absent == channel)
            });
            match known {
                Some(channel) if !channels.contains_key(&channel) => config_warnings.push(format!(
                    "channels.{name} is configured but this build has no {name} channel (rebuild with --features {name})"
                )),
                Some(_) => {}
                None => {
                    let available: Vec<&str> = channels.keys().map(Channel::as_str).collect();
                    return Err(ConfigError::new(
                        format!("channels.{name}"),
                        format!("no such channel (compiled-in channels: {})", list_or_none(&available)),
                    ));
                }
            }
        }
        let source: Arc<dyn Source> = match document {
            Some(path) => Arc::new(MarkdownSource::file(path)),
            None => {
                let factory = registry.source(&settings.source_kind).ok_or_else(|| {
                    let kinds: Vec<&str> = registry.sources().map(|(kind, _)| kind).collect();
                    ConfigError::new(
                        "source.kind",
                        format!(
                            "`{}` is not a compiled-in source (available: {})",
                            settings.source_kind,
                            kinds.join(", ")
                        ),
                    )
                })?;
                let context = SourceContext {
                    http: http.clone(),
                    resilience: settings.resilience.clone(),
                };
                factory(&settings.source, &context)?
            }
        };
        let renderer = Renderer::new(settings.templates.dir.as_deref())
            .map_err(|error| ConfigError::new("templates.dir", error.to_string()))?;
        let known_channels = KnownChannels::new(
            channels
                .keys()
                .cloned()
                .chain(registry.absent_channels().cloned()),
        );
        let publishers = channels
            .iter()
            .filter(|(_, entry)| entry.enabled)
            .map(|(channel, entry)| {
                (
                    channel.clone(),
                    Arc::clone(&entry.publisher) as Arc<dyn Publisher>,
                )
            })
            .collect();
        Ok(Self {
            settings,
            registry,
            channels,
            publishers,
            renderer,
            source,
            known_channels,
            config_warnings,
            views: ItemViews::default(),
            last_kept: Mutex::new(None),
            store: tokio::sync::OnceCell::new(),
        })
    }

    fn initial_status(&self) -> PostStatus {
        if self.settings.approval.required {
            PostStatus::Draft
        } else {
            PostStatus::Scheduled
        }
    }

    /// The channels a document may name: compiled in or known as absent.
    pub(crate) fn known_channels(&self) -> &KnownChannels {
        &self.known_channels
    }

    /// Today in the configured time zone.
    pub(crate) fn today(&self) -> Date {
        jiff::Timestamp::now()
            .to_zoned_datetime(self.settings.timezone.clone())
            .date()
    }

    fn select_channels(&self, requested: Option<&[String]>) -> Result<Vec<PlanChannel>, AppError> {
        let names: Vec<Channel> = match requested {
            None => self.publishers.keys().cloned().collect(),
            Some([]) => {
                return Err(AppError::BadRequest {
                    field: "channels",
                    message: "is empty: name at least one channel, or leave it out for all"
                        .to_owned(),
                });
            }
            Some(requested) => requested
                .iter()
                .map(|name| self.check_channel(name))
                .collect::<Result<_, _>>()?,
        };
        let mut selected = Vec::new();
        for channel in names {
            if selected
                .iter()
                .any(|chosen: &PlanChannel| chosen.channel == channel)
            {
                continue;
            }
            if let Some(entry) = self.channels.get(&channel) {
                selected.push(PlanChannel {
                    channel,
                    cadence: entry.cadence.clone(),
                    shape: entry.publisher.shape(),
                });
            }
        }
        selected.sort_by(|left, right| left.channel.cmp(&right.channel));
        Ok(selected)
    }

    fn check_channel(&self, name: &str) -> Result<Channel, AppError> {
        let bad = |message: String| AppError::BadRequest {
            field: "channels",
            message,
        };
        let available: Vec<&str> = self.publishers.keys().map(Channel::as_str).collect();
        let channel = Channel::parse(name).map_err(|_| {
            bad(format!(
                "unknown channel `{name}` (available: {})",
                list_or_none(&available)
            ))
        })?;
        if self.publishers.contains_key(&channel) {
            return Ok(channel);
        }
        if self.channels.contains_key(&channel) {
            return Err(bad(format!(
                "channel `{channel}` is disabled (channels.{channel}.enabled = false)"
            )));
        }
        if self
            .registry
            .absent_channels()
            .any(|absent| absent == &channel)
        {
            return Err(bad(format!(
                "channel `{channel}` is not compiled into this build (rebuild with --features {channel})"
            )));
        }
        Err(bad(format!(
            "unknown channel `{name}` (available: {})",
            list_or_none(&available)
        )))
    }

    /// Reads the document, plans the period and renders every post.
    ///
    /// # Errors
    /// Returns a bad request value, an unreadable or invalid document, or
    /// [`AppError::NotAvailable`] for anything but a dry run.
    pub(crate) async fn generate(
        &self,
        request: &GenerateRequest,
    ) -> Result<ContentPlan, AppError> {
        let dry_run = request.dry_run || self.settings.dry_run;
        let channels = self.select_channels(request.channels.as_deref())?;
        let (parsed, changes, fallback) = self.read_document().await?;
        let plan_request = PlanRequest {
            period: request.period,
            start: request.start.unwrap_or_else(|| next_monday(self.today())),
            timezone: self.settings.timezone.clone(),
            featured_section: self.settings.planner.featured_section.clone(),
            channels,
        };
        let mut planned = plan(&parsed.document, &plan_request)?;
        let mut warnings: Vec<String> = fallback.into_iter().collect();
        warnings.extend(
            parsed
                .warnings
                .iter()
                .map(|warning| format!("{}: {warning}", self.source.describe())),
        );
        if self.publishers.is_empty() {
            warnings.push("this build has no channels compiled in: rebuild with the email, web, twitter or linkedin feature".to_owned());
        }
        warnings.append(&mut planned.warnings);
        planned.warnings = warnings;
        let composer = Composer {
            document: &parsed.document,
            publishers: &self.publishers,
            renderer: &self.renderer,
            featured_section: &self.settings.planner.featured_section,
            views: &self.views,
            // Stored posts keep their request previews too.
            dry_run: true,
            initial_status: self.initial_status(),
        };
        let mut content_plan = composer.compose(planned);
        content_plan.changes = changes;
        content_plan.dry_run = dry_run;
        if !dry_run {
            let posts = content_plan
                .posts
                .iter()
                .map(ScheduledPost::to_new_post)
                .collect::<Result<Vec<_>, _>>()?;
            let report = self
                .store()
                .await?
                .save_plan(&content_plan.record(), &posts)
                .await?;
            content_plan.stored = Some(report);
        }
        Ok(content_plan)
    }

    /// Stored posts matching the filter, by time then channel.
    ///
    /// # Errors
    /// A bad filter value, or the store's error.
    pub(crate) async fn posts(
        &self,
        request: &PostsRequest<'_>,
    ) -> Result<Vec<StoredPost>, AppError> {
        let status = request
            .status
            .map(|name| {
                lifecycle::parse_status(name).ok_or_else(|| AppError::BadRequest {
                    field: "status",
                    message: format!("unknown status `{name}` (draft, approved, scheduled, publishing, published, rejected, cancelled, failed, unconfirmed)"),
                })
            })
            .transpose()?;
        let channel = request
            .channel
            .map(|name| self.check_channel(name))
            .transpose()?;
        let filter = PostFilter {
            status,
            channel,
            from: request
                .from
                .map(|value| self.instant("from", value))
                .transpose()?,
            to: request
                .to
                .map(|value| self.instant("to", value))
                .transpose()?,
        };
        Ok(self.store().await?.posts(&filter).await?)
    }

    /// A time given as an RFC 3339 instant, or a date (its midnight in the
    /// configured time zone).
    fn instant(&self, field: &'static str, value: &str) -> Result<jiff::Timestamp, AppError> {
        if let Ok(at) = value.parse::<jiff::Timestamp>() {
            return Ok(at);
        }
        value
            .parse::<Date>()
            .ok()
            .filter(|_| value.len() == 10)
            .and_then(|date| date.to_zoned_datetime(self.settings.timezone.clone()).ok())
            .map(|zoned| zoned.timestamp())
            .ok_or_else(|| AppError::BadRequest {
                field,
                message: format!(
                    "`{value}` is neither a date (YYYY-MM-DD) nor an RFC 3339 time (2026-11-30T09:00:00Z)"
                ),
            })
    }

    /// Sets the `halcytone_posts{status}` gauges from the store, when it is open.
    pub(crate) async fn record_post_counts(&self) {
        let Some(store) = self.store.get() else {
            return;
        };
        match store.status_counts().await {
            Ok(counts) => {
                for status in lifecycle::ALL_STATUSES {
                    let posts = counts
                        .iter()
                        .find(|(counted, _)| *counted == status)
                        .map_or(0, |(_, posts)| *posts);
                    #[allow(clippy::cast_precision_loss)] // post counts stay far below 2^52
                    metrics::gauge!("halcytone_posts", "status" => lifecycle::status_name(status))
                        .set(posts as f64);
                }
            }
            Err(error) => tracing::warn!(%error, "Cannot count posts for the metrics."),
        }
    }

    /// One stored post with its attempts.
    ///
    /// # Errors
    /// `NotFound`, or the store's error.
    pub(crate) async fn post(&self, id: &str) -> Result<StoredPost, AppError> {
        let id = PostId(id.to_owned());
        self.store()
            .await?
            .post(&id)
            .await?
            .ok_or(AppError::Store(StoreError::NotFound(id)))
    }

    /// Replaces a stored post's content after the channel validates it; the
    /// request previews are rebuilt from it, and an approval is voided (the
    /// post returns to draft).
    ///
    /// # Errors
    /// Content the channel refuses (naming the rule), a post whose state
    /// forbids edits, `NotFound`, or the store's error.
    pub(crate) async fn edit(
        &self,
        id: &str,
        content: serde_json::Value,
    ) -> Result<StoredPost, AppError> {
        let stored = self.post(id).await?;
        let publisher =
            self.publishers
                .get(&stored.channel)
                .ok_or_else(|| AppError::BadRequest {
                    field: "content",
                    message: format!(
                        "the {} channel is not enabled, so its content cannot be checked",
                        stored.channel
                    ),
                })?;
        let invalid = |error: PublishError| AppError::BadRequest {
            field: "content",
            message: error.to_string(),
        };
        let content = Content(content);
        publisher.validate(&content).map_err(invalid)?;
        let outgoing = OutgoingPost {
            id: stored.id.clone(),
            scheduled_at: stored
                .scheduled_at
                .to_zoned_datetime(self.settings.timezone.clone()),
            content,
        };
        let previews = publisher.preview(&outgoing).map_err(invalid)?;
        let requests = serde_json::to_value(&previews).map_err(StoreError::Json)?;
        self.store()
            .await?
            .edit(&stored.id, &outgoing.content.0, &requests)
            .await?;
        self.post(id).await
    }

    /// A person's decision on a post: approve, reject, cancel, retry, or
    /// confirm (an unconfirmed post that did go out).
    ///
    /// # Errors
    /// An action that is not a person's, an illegal transition (naming the
    /// current state), `NotFound`, or the store's error.
    pub(crate) async fn decide(&self, id: &str, action: &str) -> Result<Transitioned, AppError> {
        let action = match action {
            "approve" => Action::Approve,
            "reject" => Action::Reject,
            "cancel" => Action::Cancel,
            "retry" => Action::Retry,
            "confirm" => Action::Confirm,
            other => {
                return Err(AppError::BadRequest {
                    field: "action",
                    message: format!(
                        "unknown action `{other}` (approve, reject, cancel, retry, confirm)"
                    ),
                });
            }
        };
        Ok(self
            .store()
            .await?
            .transition(&PostId(id.to_owned()), action, None)
            .await?)
    }

    /// A dispatcher for the enabled channels on the durable store.
    ///
    /// # Errors
    /// The store's error.
    pub(crate) async fn dispatcher(&self) -> Result<Dispatcher, AppError> {
        let store: Arc<dyn Store> = Arc::new(self.store().await?.clone());
        let channels = self
            .channels
            .iter()
            .filter(|(_, entry)| entry.enabled)
            .map(|(channel, entry)| (channel.clone(), Arc::clone(&entry.publisher)))
            .collect();
        Ok(Dispatcher::new(
            store,
            channels,
            self.settings.dispatcher.clone(),
            self.settings.resilience.clone(),
            self.settings.timezone.clone(),
        ))
    }

    /// A stored plan with its posts.
    ///
    /// # Errors
    /// `NotFound` naming the plan, or the store's error.
    pub(crate) async fn plan(&self, id: &str) -> Result<StoredPlan, AppError> {
        self.store()
            .await?
            .plan(id)
            .await?
            .ok_or_else(|| AppError::PlanNotFound(id.to_owned()))
    }

    /// The durable store, opened (and migrated) on first use.
    ///
    /// # Errors
    /// The store's error: a bad URL, a database that cannot be opened.
    pub(crate) async fn store(&self) -> Result<&SqlStore, AppError> {
        let store = self
            .store
            .get_or_try_init(|| async {
                // A SQLite file's directory must exist before the file can.
                if let Some(path) = self
                    .settings
                    .store_url
                    .strip_prefix("sqlite://")
                    .and_then(|rest| rest.split('?').next())
                    && let Some(directory) = std::path::Path::new(path).parent()
                    && !directory.as_os_str().is_empty()
                {
                    let _ = std::fs::create_dir_all(directory);
                }
                SqlStore::connect(&self.settings.store_url).await
            })
            .await?;
        Ok(store)
    }

    /// Reads the document. When the source is unreachable (not when the
    /// document is invalid), planning goes on from the last good copy, with
    /// a warning; never from nothing.
    async fn read_document(
        &self,
    ) -> Result<(Arc<ParsedDocument>, Option<Changes>, Option<String>), AppError> {
        let error = match self.source.fetch(&self.known_channels).await {
            Ok(parsed) => {
                let changes = self.keep(&parsed);
                return Ok((parsed, changes, None));
            }
            Err(SourceError::Document(error)) => return Err(SourceError::Document(error).into()),
            Err(error) => error,
        };
        let path = snapshot::path(&self.settings.data_dir);
        match snapshot::load(&path) {
            Ok(Some(kept)) if kept.source == self.source.describe() => {
                let warning = format!(
                    "{error}; planning from the last good copy, read at {} ({})",
                    kept.read_at,
                    path.display()
                );
                tracing::warn!(%error, "Source unreachable: planning from the last good copy.");
                let parsed = ParsedDocument {
                    document: kept.document,
                    warnings: Vec::new(),
                };
                Ok((Arc::new(parsed), None, Some(warning)))
            }
            _ => Err(error.into()),
        }
    }

    /// Keeps a newly read revision as the last good copy (once per
    /// revision), and says what changed since the copy before it.
    fn keep(&self, parsed: &ParsedDocument) -> Option<Changes> {
        let revision = &parsed.document.revision;
        let mut last_kept = self
            .last_kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, changes)) = last_kept.as_ref().filter(|(kept, _)| kept == revision) {
            return changes.clone();
        }
        let path = snapshot::path(&self.settings.data_dir);
        let source = self.source.describe();
        let changes = match snapshot::load(&path) {
            Ok(Some(previous)) if previous.source == source => {
                Some(Changes::between(&previous.document, &parsed.document))
            }
            _ => None,
        };
        let kept = Snapshot {
            read_at: jiff::Timestamp::now(),
            source,
            document: parsed.document.clone(),
        };
        if let Err(error) = snapshot::save(&path, &kept) {
            tracing::warn!(%error, "Cannot keep the last good copy of the document.");
        }
        *last_kept = Some((revision.clone(), changes.clone()));
        changes
    }
}

impl App {
    /// Renders one item for each selected channel that allows it, as if it
    /// went out now (`POST /generate`). Without `item_id` the item the
    /// planner would feature first is used.
    ///
    /// # Errors
    /// As [`App::generate`], plus an unknown `item_id`.
    pub(crate) async fn generate_item(
        &self,
        item_id: Option<&str>,
        channels: Option<&[String]>,
        dry_run: bool,
    ) -> Result<ContentPlan, AppError> {
        if !(dry_run || self.settings.dry_run) {
            return Err(AppError::NotAvailable(ITEM_PREVIEW_ONLY.to_owned()));
        }
        let channels = self.select_channels(channels)?;
        let (parsed, _, fallback) = self.read_document().await?;
        let document = &parsed.document;
        let item = match item_id {
            Some(id) => document
                .items()
                .find(|item| item.id.as_str() == id)
                .ok_or_else(|| AppError::BadRequest {
                    field: "item_id",
                    message: format!("no item `{id}` in {}", self.source.describe()),
                })?,
            None => document
                .items()
                .find(|item| {
                    item.section
                        .eq_ignore_ascii_case(&self.settings.planner.featured_section)
                })
                .or_else(|| document.items().next())
                .ok_or_else(|| AppError::BadRequest {
                    field: "item_id",
                    message: "the document has no items".to_owned(),
                })?,
        };
        let now = jiff::Timestamp::now()
            .to_zoned_datetime(self.settings.timezone.clone())
            .round(jiff::Unit::Minute)
            .map_err(|error| AppError::NotAvailable(error.to_string()))?;
        let mut warnings: Vec<String> = fallback.into_iter().collect();
        let posts = channels
            .iter()
            .filter(|plan_channel| {
                let allowed = item.allows(&plan_channel.channel);
                if !allowed {
                    warnings.push(format!(
                        "item `{}` does not allow {}",
                        item.id, plan_channel.channel
                    ));
                }
                allowed
            })
            .map(|plan_channel| PlannedPost {
                id: post_id(&plan_channel.channel, &now),
                channel: plan_channel.channel.clone(),
                scheduled_at: now.clone(),
                item: item.id.clone(),
                includes: Vec::new(),
            })
            .collect();
        let planned = Plan {
            id: format!("item_{}", item.id.as_str().replace('/', "_")),
            period: Period::Day,
            start: now.date(),
            timezone: self
                .settings
                .timezone
                .iana_name()
                .unwrap_or("UTC")
                .to_owned(),
            posts,
            warnings,
        };
        let composer = Composer {
            document,
            publishers: &self.publishers,
            renderer: &self.renderer,
            featured_section: &self.settings.planner.featured_section,
            views: &self.views,
            dry_run: true,
            initial_status: self.initial_status(),
        };
        Ok(composer.compose(planned))
    }
}

/// What happened to one post of a `--publish-now` run.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct PublishReport {
    /// The post.
    pub(crate) post: PostId,
    /// Its channel.
    pub(crate) channel: Channel,
    /// When it was planned for.
    #[serde(serialize_with = "serialize_timestamp")]
    pub(crate) scheduled_at: jiff::ZonedDateTime,
    /// The item's title.
    pub(crate) title: String,
    /// `published`, `failed` or `skipped`.
    pub(crate) outcome: &'static str,
    /// The ids the channel gave the post.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) external_ids: Vec<String>,
    /// A link to the post.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

fn serialize_timestamp<S: serde::Serializer>(
    at: &jiff::ZonedDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&at.timestamp())
}

impl App {
    /// Publishes every post of `plan` now, each channel in parallel and the
    /// posts of one channel in order. A channel without credentials is
    /// skipped; a failing channel does not stop the others.
    pub(crate) async fn publish_now(
        &self,
        plan: &ContentPlan,
        correlation_id: &str,
    ) -> Vec<PublishReport> {
        let mut by_channel: BTreeMap<&Channel, Vec<&ScheduledPost>> = BTreeMap::new();
        for post in &plan.posts {
            by_channel.entry(&post.channel).or_default().push(post);
        }
        let channels = by_channel.into_iter().map(|(channel, posts)| async move {
            let mut reports = Vec::with_capacity(posts.len());
            let publisher = self.publishers.get(channel);
            for post in posts {
                let mut report = PublishReport {
                    post: post.id.clone(),
                    channel: channel.clone(),
                    scheduled_at: post.scheduled_at.clone(),
                    title: post.item.title.clone(),
                    outcome: "failed",
                    external_ids: Vec::new(),
                    url: None,
                    error: None,
                };
                let Some(publisher) = publisher else {
                    report.outcome = "skipped";
                    report.error = Some(format!("no {channel} publisher is enabled"));
                    reports.push(report);
                    continue;
                };
                let missing = publisher.missing_configuration();
                if !missing.is_empty() {
                    report.outcome = "skipped";
                    report.error = Some(format!("{channel} is not configured: set {}", missing.join(", ")));
                    tracing::warn!(channel = %channel, post = %post.id, "Skipped: the channel is not configured.");
                    reports.push(report);
                    continue;
                }
                let outgoing = OutgoingPost {
                    id: post.id.clone(),
                    scheduled_at: post.scheduled_at.clone(),
                    content: post.content.clone(),
                };
                let context = PublishContext {
                    correlation_id: correlation_id.to_owned(),
                    already_sent: Vec::new(),
                };
                match publisher.publish(&outgoing, &context).await {
                    Ok(receipt) => {
                        tracing::info!(channel = %channel, post = %post.id, ids = ?receipt.external_ids, "Published.");
                        report.outcome = "published";
                        report.external_ids = receipt.external_ids;
                        report.url = receipt.url;
                    }
                    Err(error) => {
                        tracing::warn!(%error, channel = %channel, post = %post.id, "Publish failed.");
                        if let PublishError::Partial { sent, .. } = &error {
                            report.external_ids.clone_from(sent);
                        }
                        report.error = Some(error.to_string());
                    }
                }
                reports.push(report);
            }
            reports
        });
        futures_util::future::join_all(channels)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// `a, b, c`, or `none` for an empty list.
pub(crate) fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
