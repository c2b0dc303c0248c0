//! `App`: configuration, publishers, templates and the source, built once at
//! start; `generate` runs document → plan → rendered posts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use halcytone_core::cadence::Cadence;
use halcytone_core::channel::Channel;
use halcytone_core::compose::{
    Composer, ContentPlan, ItemViews, ScheduledPost, retired_arms, stored_slot,
};
use halcytone_core::dispatch::{Dispatcher, Reconciled};
use halcytone_core::document::{KnownChannels, ParsedDocument};
use halcytone_core::error::ConfigError;
use halcytone_core::error::PublishError;
use halcytone_core::experiment::Arm;
use halcytone_core::http::HttpClient;
use halcytone_core::locale::Locale;
use halcytone_core::plan::{
    Period, Plan, PlanChannel, PlanError, PlanRequest, PlannedPost, next_monday, plan, post_id_in,
};
use halcytone_core::preflight::{Check, Preflight};
use halcytone_core::publisher::{Content, OutgoingPost, PostId, PostStatus, Publisher};
use halcytone_core::registry::{Registry, SourceContext};
use halcytone_core::render::Renderer;
use halcytone_core::resilience::{RateLimit, Resilient};
use halcytone_core::snapshot::{self, Changes, Snapshot};
use halcytone_core::source::{MarkdownSource, Source, SourceError};
use halcytone_core::store::{
    Action, PostFilter, PostKey, Store, StoreError, StoredPlan, StoredPost, Transitioned, lifecycle,
};
use halcytone_store::SqlStore;
use jiff::ToSpan as _;
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
    /// The most posts plans put in any 24 hours: configured, or the
    /// channel's default; `None` for no cap.
    pub(crate) daily_cap: Option<u32>,
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
    /// The channels a document may name.
    known_channels: KnownChannels,
    /// Warnings about the configuration itself.
    pub(crate) config_warnings: Vec<String>,
    /// The living documents, one per language: the main one (`[source]`)
    /// first, then each `[locales.<code>]`.
    pub(crate) editions: Vec<Edition>,
    /// The durable store, opened on first use (dry runs never open it).
    store: tokio::sync::OnceCell<SqlStore>,
    /// Dry-run plans of the document revision last read, composed once.
    plans: Mutex<PlanCache>,
    /// The longest an interactive command waits for the living document,
    /// retries included (`--timeout`); `serve` waits as the retries allow.
    pub(crate) source_timeout: Option<std::time::Duration>,
    /// The latest pre-flight results.
    pub(crate) preflight: Preflight,
    /// The HTTP client every outbound call goes through.
    pub(crate) http: HttpClient,
    /// The model server of AI suggestions, when `[enhance]` is configured.
    enhancer: Option<halcytone_enhance::Enhancer>,
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
#[derive(Debug, Clone, Default)]
pub(crate) struct PostsRequest<'a> {
    /// A status name.
    pub(crate) status: Option<&'a str>,
    /// A channel name.
    pub(crate) channel: Option<&'a str>,
    /// Scheduled at or after: a date or an RFC 3339 time.
    pub(crate) from: Option<&'a str>,
    /// Scheduled before: a date or an RFC 3339 time.
    pub(crate) to: Option<&'a str>,
    /// Only posts after this one in the listing (a page's cursor).
    pub(crate) after: Option<PostKey>,
    /// At most this many.
    pub(crate) limit: Option<usize>,
    /// A locale's code: only posts in that language.
    pub(crate) locale: Option<&'a str>,
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
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No plan has this id (an HTTP 404).
    #[error("no plan `{0}`")]
    PlanNotFound(String),
    /// No experiment has this id (an HTTP 404).
    #[error("no experiment `{0}`")]
    ExperimentNotFound(String),
    /// The model server gave no usable suggestion.
    #[error(transparent)]
    Enhance(#[from] halcytone_enhance::EnhanceError),
}

/// The document as read: parsed, what changed since the last reading, and
/// the warning when it came from the last good copy.
type ReadDocument = (Arc<ParsedDocument>, Option<Changes>, Option<String>);

/// One language's living document: where it comes from, the templates'
/// locale, and what was last read of it.
pub(crate) struct Edition {
    /// Compiled templates, rendering in its locale.
    pub(crate) renderer: Renderer,
    /// Where it comes from.
    pub(crate) source: Arc<dyn Source>,
    /// Whether it is the main document (`[source]`), whose post ids carry
    /// no locale, so that they are the ids it always had.
    main: bool,
    /// Item views of its latest revision.
    views: ItemViews,
    /// The revision last kept as its good copy, and its changes.
    last_kept: Mutex<Option<(String, Option<Changes>)>>,
    /// Where its last good copy is kept.
    snapshot: PathBuf,
}

impl Edition {
    /// Its locale's code.
    pub(crate) fn locale(&self) -> &str {
        self.renderer.locale()
    }

    /// The name of its pre-flight check: `source`, or `source:de`.
    pub(crate) fn check_name(&self) -> String {
        self.name_check("source")
    }

    /// A pre-flight check's name for this document: a further document's
    /// carries its locale (`source:de`, `notion.credentials:de`).
    fn name_check(&self, check: &str) -> String {
        if self.main {
            check.to_owned()
        } else {
            format!("{check}:{}", self.locale())
        }
    }

    /// How warnings name it: the source, with the locale of a further one.
    pub(crate) fn describe(&self) -> String {
        if self.main {
            self.source.describe()
        } else {
            format!("{} ({})", self.source.describe(), self.locale())
        }
    }
}

/// What a dry-run plan depends on besides the document revision and the
/// configuration (fixed for the process).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PlanKey {
    period: Period,
    start: Date,
    channels: Vec<Channel>,
}

/// Dry-run plans of one document revision. A new revision empties it, and
/// it holds at most [`CACHED_PLANS`] plans (the oldest goes first), so its
/// memory is bounded by a few plans' worth.
#[derive(Default)]
struct PlanCache {
    revision: String,
    plans: std::collections::VecDeque<(PlanKey, Bytes)>,
}

/// The most dry-run plans kept for one revision.
const CACHED_PLANS: usize = 16;

impl PlanCache {
    fn get(&self, revision: &str, key: &PlanKey) -> Option<Bytes> {
        if self.revision != revision {
            return None;
        }
        self.plans
            .iter()
            .find(|(cached, _)| cached == key)
            .map(|(_, answer)| answer.clone())
    }

    fn insert(&mut self, revision: String, key: PlanKey, answer: Bytes) {
        if self.revision != revision {
            self.revision = revision;
            self.plans.clear();
        }
        if self.plans.iter().any(|(cached, _)| *cached == key) {
            return;
        }
        if self.plans.len() == CACHED_PLANS {
            self.plans.pop_front();
        }
        self.plans.push_back((key, answer));
    }
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
        let mut languages = vec![("locale".to_owned(), &settings.locale)];
        languages.extend(settings.locales.iter().map(|language| {
            (
                format!("locales.{}", language.locale.code()),
                &language.locale,
            )
        }));
        for (key, locale) in languages {
            if !locale.has_own_words() {
                config_warnings.push(format!(
                    "{key}: CLDR has no data for `{}`: its dates are written in the root style (2026 M11 30)",
                    locale.code()
                ));
            }
        }
        let mut channels = BTreeMap::new();
        let http = HttpClient::new(settings.request_timeout)
            .map_err(|message| ConfigError::new("resilience.request_timeout", message))?
            .with_max_response_bytes(settings.max_response_body);
        // Every outbound call carries its span's trace context.
        #[cfg(feature = "otel")]
        let http = http.with_trace_headers(crate::telemetry::trace_headers());
        for (channel, factory) in registry.publishers() {
            let configured = settings.channels.get(channel.as_str());
            let table = configured.map_or_else(
                || ConfigTable::empty(format!("channels.{channel}")),
                |entry| entry.table.clone(),
            );
            let rate_limit = configured.and_then(|entry| entry.rate_limit);
            // Every publisher is wrapped once, here: retries, breaker and rate limit.
            let inner = factory(&table, &http)?;
            let metrics_rate_limit = configured
                .and_then(|entry| entry.metrics_rate_limit)
                .or_else(|| inner.default_metrics_rate_limit());
            let publisher = Arc::new(
                Resilient::new(inner, settings.resilience.clone(), rate_limit)
                    .with_metrics_rate_limit(metrics_rate_limit),
            );
            channels.insert(
                channel.clone(),
                ChannelEntry {
                    cadence: configured
                        .and_then(|entry| entry.cadence.clone())
                        .unwrap_or_else(|| publisher.default_cadence()),
                    rate_limit,
                    daily_cap: match configured.and_then(|entry| entry.daily_cap) {
                        None => publisher.default_daily_cap(),
                        Some(0) => None,
                        Some(cap) => Some(cap),
                    },
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
            .map_err(|error| ConfigError::new("templates.dir", error.to_string()))?
            .in_locale(settings.locale.clone());
        let mut editions = vec![Edition {
            renderer: renderer.clone(),
            source,
            main: true,
            views: ItemViews::default(),
            last_kept: Mutex::new(None),
            snapshot: snapshot::path(&settings.data_dir),
        }];
        for language in &settings.locales {
            let key = format!("locales.{}.kind", language.locale.code());
            let factory = registry.source(&language.source_kind).ok_or_else(|| {
                let kinds: Vec<&str> = registry.sources().map(|(kind, _)| kind).collect();
                ConfigError::new(
                    &key,
                    format!(
                        "`{}` is not a compiled-in source (available: {})",
                        language.source_kind,
                        kinds.join(", ")
                    ),
                )
            })?;
            let context = SourceContext {
                http: http.clone(),
                resilience: settings.resilience.clone(),
            };
            editions.push(Edition {
                renderer: renderer.in_locale(language.locale.clone()),
                source: factory(&language.source, &context)?,
                main: false,
                views: ItemViews::default(),
                last_kept: Mutex::new(None),
                snapshot: snapshot::path_for_locale(&settings.data_dir, language.locale.code()),
            });
        }
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
        let enhancer = settings.enhance.clone().map(|config| {
            halcytone_enhance::Enhancer::new(config, http.clone(), settings.resilience.clone())
        });
        Ok(Self {
            settings,
            registry,
            channels,
            publishers,
            known_channels,
            config_warnings,
            editions,
            store: tokio::sync::OnceCell::new(),
            source_timeout: None,
            preflight: Preflight::default(),
            enhancer,
            http,
            plans: Mutex::new(PlanCache::default()),
        })
    }

    fn initial_status(&self) -> PostStatus {
        if self.settings.approval.required {
            PostStatus::Draft
        } else {
            PostStatus::Scheduled
        }
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
                .map(|name| self.check_channel(name, "channels"))
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
                    daily_cap: entry.daily_cap,
                    segment: None,
                    experiments: entry.publisher.experiments(),
                    experiments_refused: entry.publisher.experiments_refused(),
                });
            }
        }
        selected.sort_by(|left, right| left.channel.cmp(&right.channel));
        // The newsletter is planned once per segment, when there are any.
        let segments = &self.settings.segments;
        Ok(selected
            .into_iter()
            .flat_map(|plan_channel| {
                let takes_segments = self
                    .channels
                    .get(&plan_channel.channel)
                    .is_some_and(|entry| entry.publisher.takes_segments());
                if takes_segments && !segments.is_empty() {
                    segments
                        .iter()
                        .map(|segment| PlanChannel {
                            segment: Some(segment.id.clone()),
                            ..plan_channel.clone()
                        })
                        .collect()
                } else {
                    vec![plan_channel]
                }
            })
            .collect())
    }

    /// The index of the document a stored post was planned from: the
    /// further one in its locale, else the main one (which also wrote the
    /// posts stored before locales, and those of a locale it was renamed from).
    fn edition_of(&self, post: &StoredPost) -> usize {
        self.editions
            .iter()
            .position(|edition| !edition.main && post.locale.as_deref() == Some(edition.locale()))
            .unwrap_or(0)
    }

    /// The document a stored post was planned from.
    pub(crate) fn edition_for(&self, post: &StoredPost) -> &Edition {
        &self.editions[self.edition_of(post)]
    }

    /// The publisher of a stored post's channel, which checks its content.
    ///
    /// # Errors
    /// The channel is not enabled.
    pub(crate) fn enabled_publisher(
        &self,
        post: &StoredPost,
    ) -> Result<&Arc<dyn Publisher>, AppError> {
        self.publishers
            .get(&post.channel)
            .ok_or_else(|| AppError::BadRequest {
                field: "content",
                message: format!(
                    "the {} channel is not enabled, so its content cannot be checked",
                    post.channel
                ),
            })
    }

    /// The model server of AI suggestions, when `[enhance]` is configured.
    pub(crate) fn enhancer_if_configured(&self) -> Option<&halcytone_enhance::Enhancer> {
        self.enhancer.as_ref()
    }

    /// The canonical code of one of the documents' locales.
    fn check_locale(&self, code: &str) -> Result<String, AppError> {
        let known: Vec<&str> = self.editions.iter().map(Edition::locale).collect();
        Locale::parse(code)
            .ok()
            .map(|locale| locale.code().to_owned())
            .filter(|canonical| known.contains(&canonical.as_str()))
            .ok_or_else(|| AppError::BadRequest {
                field: "locale",
                message: format!(
                    "no document is in locale `{code}` (locales: {})",
                    known.join(", ")
                ),
            })
    }

    /// `name` as an enabled channel of this build; a refusal names `field`
    /// (`channels` of a plan, `channel` of a filter) and why.
    pub(crate) fn check_channel(
        &self,
        name: &str,
        field: &'static str,
    ) -> Result<Channel, AppError> {
        let bad = |message: String| AppError::BadRequest { field, message };
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
    /// Returns a bad request value, or an unreadable or invalid document.
    pub(crate) async fn generate(
        &self,
        request: &GenerateRequest,
    ) -> Result<ContentPlan, AppError> {
        let channels = self.select_channels(request.channels.as_deref())?;
        let documents = self.read_documents().await?;
        self.compose_plan(request, channels, documents).await
    }

    /// [`App::generate`]'s plan as JSON, serialised once: a dry run of a
    /// document revision already planned the same way (period, start,
    /// channels) is served from the plan cache, since nothing else goes into
    /// it; a stored plan is planned and composed every time.
    ///
    /// # Errors
    /// As [`App::generate`].
    pub(crate) async fn generate_answer(
        &self,
        request: &GenerateRequest,
    ) -> Result<Bytes, AppError> {
        let channels = self.select_channels(request.channels.as_deref())?;
        let documents = self.read_documents().await?;
        let dry_run = request.dry_run || self.settings.dry_run;
        // The start is settled once: the key and the plan must agree on it
        // even when midnight passes between them.
        let request = &GenerateRequest {
            start: Some(request.start.unwrap_or_else(|| next_monday(self.today()))),
            ..request.clone()
        };
        // A plan made from the last good copy carries a warning about now:
        // it is never kept.
        let cacheable = dry_run && documents.iter().all(|document| document.2.is_none());
        let revision = documents
            .iter()
            .map(|document| document.0.document.revision.as_str())
            .collect::<Vec<_>>()
            .join("|");
        let key = PlanKey {
            period: request.period,
            start: request.start.unwrap_or_else(|| next_monday(self.today())),
            channels: channels.iter().map(|entry| entry.channel.clone()).collect(),
        };
        if cacheable && let Some(answer) = self.cached_plans().get(&revision, &key) {
            return Ok(answer);
        }
        let plan = self.compose_plan(request, channels, documents).await?;
        let answer = Bytes::from(serde_json::to_vec(&plan).map_err(StoreError::Json)?);
        if cacheable {
            self.cached_plans().insert(revision, key, answer.clone());
        }
        Ok(answer)
    }

    fn cached_plans(&self) -> std::sync::MutexGuard<'_, PlanCache> {
        self.plans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Plans the period from each language's document read, composes
    /// every post and, unless it is a dry run, stores the plan.
    #[tracing::instrument(name = "plan", skip_all, fields(period = %request.period))]
    async fn compose_plan(
        &self,
        request: &GenerateRequest,
        channels: Vec<PlanChannel>,
        documents: Vec<ReadDocument>,
    ) -> Result<ContentPlan, AppError> {
        let dry_run = request.dry_run || self.settings.dry_run;
        // A stored plan builds on the posts stored before it, so that plans
        // that overlap never schedule an item twice; a dry run opens no store
        // and plans the period afresh.
        let stored_posts = if dry_run {
            Vec::new()
        } else {
            self.store().await?.posts(&PostFilter::default()).await?
        };
        let start = request.start.unwrap_or_else(|| next_monday(self.today()));
        // Each language's posts go to the same accounts: those of the other
        // languages, stored or planned just before, count towards the caps.
        let mut elsewhere: BTreeMap<PostId, (Channel, jiff::Timestamp)> = BTreeMap::new();
        let mut editions = Vec::with_capacity(self.editions.len());
        // Arms of experiments the document dropped before any of them went out.
        let mut retired: Vec<&StoredPost> = Vec::new();
        let owners: Vec<usize> = stored_posts
            .iter()
            .map(|post| self.edition_of(post))
            .collect();
        for (index, (edition, (parsed, changes, fallback))) in
            self.editions.iter().zip(documents).enumerate()
        {
            let (own, others): (Vec<(&StoredPost, &usize)>, Vec<_>) = stored_posts
                .iter()
                .zip(&owners)
                .partition(|(_, owner)| **owner == index);
            let plan_request = PlanRequest {
                period: request.period,
                start,
                timezone: self.settings.timezone.clone(),
                featured_section: self.settings.planner.featured_section.clone(),
                channels: channels.clone(),
                stored: own
                    .iter()
                    .filter_map(|(post, _)| stored_slot(post))
                    .collect(),
                elsewhere: others
                    .iter()
                    .map(|(post, _)| *post)
                    .filter(|post| {
                        !matches!(post.status, PostStatus::Rejected | PostStatus::Cancelled)
                    })
                    .map(|post| (post.id.clone(), (post.channel.clone(), post.scheduled_at)))
                    .chain(elsewhere.clone())
                    .collect::<BTreeMap<_, _>>()
                    .into_values()
                    .collect(),
                locale: (!edition.main).then(|| edition.locale().to_owned()),
                ab: self.settings.ab,
            };
            let mut planned = plan(&parsed.document, &plan_request)?;
            let mut warnings: Vec<String> = fallback.into_iter().collect();
            warnings.extend(
                parsed
                    .warnings
                    .iter()
                    .map(|warning| format!("{}: {warning}", edition.describe())),
            );
            if edition.main {
                warnings.append(&mut planned.warnings);
            } else {
                let locale = edition.locale();
                warnings.extend(
                    planned
                        .warnings
                        .drain(..)
                        .map(|warning| format!("{locale}: {warning}")),
                );
            }
            planned.warnings = warnings;
            let composer = Composer {
                document: &parsed.document,
                publishers: &self.publishers,
                renderer: &edition.renderer,
                segments: &self.settings.segments,
                featured_section: &self.settings.planner.featured_section,
                views: &edition.views,
                // Stored posts keep their request previews too.
                dry_run: true,
                initial_status: self.initial_status(),
                ab: self.settings.ab,
            };
            let mut composed = composer.compose(planned);
            composed.changes = changes;
            let own_posts: Vec<&StoredPost> = own.iter().map(|(post, _)| *post).collect();
            retired.extend(retired_arms(&own_posts, &composed.posts));
            for post in &composed.posts {
                elsewhere.insert(
                    post.id.clone(),
                    (post.channel.clone(), post.scheduled_at.timestamp()),
                );
            }
            editions.push(composed);
        }
        let mut content_plan = merge_editions(editions);
        if self.publishers.is_empty() {
            content_plan.warnings.insert(0, "this build has no channels compiled in: rebuild with the email, web, twitter or linkedin feature".to_owned());
        }
        content_plan.dry_run = dry_run;
        if !dry_run {
            let now = jiff::Timestamp::now();
            let past: Vec<&ScheduledPost> = content_plan
                .posts
                .iter()
                .filter(|post| post.scheduled_at.timestamp() < now)
                .collect();
            if let Some(first) = past.first() {
                content_plan.warnings.push(format!(
                    "{} posts are planned in the past (the first at {}): once approved they go out at once",
                    past.len(),
                    first.scheduled_at.strftime("%Y-%m-%d %H:%M %Z")
                ));
            }
            let posts = content_plan
                .posts
                .iter()
                .map(ScheduledPost::to_new_post)
                .collect::<Result<Vec<_>, _>>()?;
            let store = self.store().await?;
            let report = store.save_plan(&content_plan.record(), &posts).await?;
            content_plan.stored = Some(report);
            for post in retired {
                let arm = post.experiment.as_ref().map_or_else(String::new, |arm| {
                    let which = if arm.arm == Arm::Winner {
                        "the winner's send"
                    } else {
                        "arm B"
                    };
                    format!("{which} of {}", arm.id)
                });
                let item = post
                    .item
                    .get("id")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?");
                content_plan.warnings.push(
                    match store.transition(&post.id, Action::Cancel, None).await {
                        Ok(_) => format!(
                            "cancelled {} ({arm}): `{item}` no longer has its experiment's B line, and none of the experiment had gone out",
                            post.id
                        ),
                        Err(error) => format!(
                            "{} ({arm}) belongs to an experiment `{item}` no longer has, but could not be cancelled: {error}",
                            post.id
                        ),
                    },
                );
            }
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
            .map(|name| self.check_channel(name, "channel"))
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
            after: request.after.clone(),
            limit: request.limit,
            id_prefix: None,
            locale: request
                .locale
                .map(|code| self.check_locale(code))
                .transpose()?,
        };
        Ok(self.store().await?.posts(&filter).await?)
    }

    /// A time given as an RFC 3339 instant, or a date (its midnight in the
    /// configured time zone).
    pub(crate) fn instant(
        &self,
        field: &'static str,
        value: &str,
    ) -> Result<jiff::Timestamp, AppError> {
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

    /// The instants `[from, to)` of `period` from `start` in the configured
    /// time zone; without `start`, the period that ends with today.
    ///
    /// # Errors
    /// A date outside the supported range.
    pub(crate) fn report_window(
        &self,
        period: Period,
        start: Option<Date>,
    ) -> Result<(jiff::Timestamp, jiff::Timestamp), AppError> {
        let today = self.today();
        let start = match start {
            Some(start) => start,
            None => {
                let back = period.days_from(today) - 1;
                today.checked_sub(back.days()).unwrap_or(today)
            }
        };
        let error = |message: String| PlanError {
            date: start.to_string(),
            message,
        };
        let end = start
            .checked_add(period.days_from(start).days())
            .map_err(|e| error(e.to_string()))?;
        let instant = |date: Date| {
            date.to_zoned_datetime(self.settings.timezone.clone())
                .map(|zoned| zoned.timestamp())
                .map_err(|e| error(e.to_string()))
        };
        Ok((instant(start)?, instant(end)?))
    }

    /// The store, when something has opened it (a dry run never does).
    pub(crate) fn open_store(&self) -> Option<&SqlStore> {
        self.store.get()
    }

    /// Sets the `halcytone_posts{status}` gauges from the store, when it is open.
    pub(crate) async fn record_post_counts(&self) {
        let Some(store) = self.open_store() else {
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
        let id = self.post_id(id).await?;
        self.store()
            .await?
            .post(&id)
            .await?
            .ok_or(AppError::Store(StoreError::NotFound(id)))
    }

    /// The stored post `id` names: its whole id, or a prefix of exactly one
    /// (`post_3f`, or `3f` without the `post_`).
    ///
    /// # Errors
    /// `NotFound` when no post matches, a bad request naming the candidates
    /// when several do, or the store's error.
    pub(crate) async fn post_id(&self, id: &str) -> Result<PostId, AppError> {
        let whole = PostId(id.to_owned());
        if id.is_empty() {
            return Err(AppError::Store(StoreError::NotFound(whole)));
        }
        let prefix = if id.starts_with("post_") {
            id.to_owned()
        } else {
            format!("post_{id}")
        };
        // One query finds a whole id and a prefix alike; three are enough
        // to tell one from several and to name a few.
        let mut matching: Vec<PostId> = self
            .store()
            .await?
            .posts(&PostFilter {
                id_prefix: Some(prefix),
                limit: Some(3),
                ..PostFilter::default()
            })
            .await?
            .into_iter()
            .map(|post| post.id)
            .collect();
        if let Some(exact) = matching.iter().position(|candidate| *candidate == whole) {
            return Ok(matching.swap_remove(exact));
        }
        match matching.len() {
            0 => Err(AppError::Store(StoreError::NotFound(whole))),
            1 => Ok(matching.remove(0)),
            _ => Err(AppError::BadRequest {
                field: "id",
                message: format!(
                    "`{id}` names several posts ({}…): give more of the id",
                    matching
                        .iter()
                        .map(|candidate| candidate.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
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
        let publisher = self.enabled_publisher(&stored)?;
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
        self.post(&stored.id.0).await
    }

    /// A person's decision on a post: approve, reject, cancel, retry,
    /// confirm (an unconfirmed post that did go out), or revert (drop their
    /// edit for the document's version).
    ///
    /// # Errors
    /// An action that is not a person's, an illegal transition (naming the
    /// current state), `NotFound`, or the store's error.
    pub(crate) async fn decide(&self, id: &str, action: &str) -> Result<Transitioned, AppError> {
        let store = self.store().await?;
        let id = self.post_id(id).await?;
        let action = match action {
            "revert" => return Ok(store.revert(&id).await?),
            "approve" => Action::Approve,
            "reject" => Action::Reject,
            "cancel" => Action::Cancel,
            "retry" => Action::Retry,
            "confirm" => Action::Confirm,
            other => {
                return Err(AppError::BadRequest {
                    field: "action",
                    message: format!(
                        "unknown action `{other}` (approve, reject, cancel, retry, confirm, revert)"
                    ),
                });
            }
        };
        Ok(store.transition(&id, action, None).await?)
    }

    /// What is left of each capped channel's `daily_cap` now: the cap less
    /// the posts it published in the last 24 hours, and no more than the
    /// API itself last said it has left.
    ///
    /// # Errors
    /// The store's error.
    pub(crate) async fn daily_budgets(&self) -> Result<BTreeMap<Channel, u32>, AppError> {
        let now = jiff::Timestamp::now();
        let day = jiff::SignedDuration::from_hours(24);
        let capped: Vec<(&Channel, &ChannelEntry, u32)> = self
            .channels
            .iter()
            .filter_map(|(channel, entry)| Some((channel, entry, entry.daily_cap?)))
            .collect();
        if capped.is_empty() {
            return Ok(BTreeMap::new());
        }
        // A post published in the last day was due within the last few:
        // retries and waits for a quota are what delay it.
        let published = self
            .store()
            .await?
            .posts(&PostFilter {
                status: Some(PostStatus::Published),
                from: now.checked_sub(day * 7).ok(),
                ..PostFilter::default()
            })
            .await?;
        Ok(capped
            .into_iter()
            .map(|(channel, entry, cap)| {
                let sent = published
                    .iter()
                    .filter(|post| {
                        post.channel == *channel
                            && post
                                .published_at
                                .is_some_and(|at| now.duration_since(at) < day)
                    })
                    .count();
                let ours = cap.saturating_sub(u32::try_from(sent).unwrap_or(u32::MAX));
                let theirs = entry
                    .publisher
                    .quota_left(now)
                    .map_or(u32::MAX, |left| left.sends);
                (channel.clone(), ours.min(theirs))
            })
            .collect())
    }

    /// Runs every pre-flight check (PRODUCT §14) and keeps the results: each
    /// enabled, configured channel's own, and the living document's access.
    pub(crate) async fn preflight(&self) -> Vec<Check> {
        let now = jiff::Timestamp::now();
        let today = now.to_zoned_datetime(self.settings.timezone.clone()).date();
        let channels = self
            .channels
            .iter()
            .filter(|(_, entry)| {
                entry.enabled && entry.publisher.missing_configuration().is_empty()
            })
            .map(|(channel, entry)| {
                // Run now whatever ran before; the dispatcher need not run
                // them again today.
                self.preflight.first_run_on(channel.as_str(), today);
                entry.publisher.preflight(now)
            });
        let mut checks: Vec<Check> = futures_util::future::join_all(channels)
            .await
            .into_iter()
            .flatten()
            .collect();
        for edition in &self.editions {
            for mut check in edition.source.preflight().await {
                check.name = edition.name_check(&check.name);
                checks.push(check);
            }
            let name = edition.check_name();
            checks.push(match self.fetch_document(edition).await {
                Ok(parsed) => Check::pass(
                    name.clone(),
                    format!(
                        "{} read, {} items",
                        edition.describe(),
                        parsed.document.items().count()
                    ),
                ),
                Err(error) => Check::fail(name, error.to_string()),
            });
        }
        if let Err(error) = self.preflight.record(&checks, now).await {
            tracing::error!(%error, "Cannot write a pre-flight failure to the webhook outbox.");
        }
        checks
    }

    /// Looks every unconfirmed post up on its channel (PRODUCT §14).
    ///
    /// # Errors
    /// The store's error.
    pub(crate) async fn reconcile(&self) -> Result<Vec<Reconciled>, AppError> {
        Ok(self.dispatcher().await?.reconcile().await?)
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
        )
        .with_preflight(self.preflight.clone()))
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

    /// Reads every language's document, main first.
    ///
    /// # Errors
    /// The first document that cannot be read, naming it.
    async fn read_documents(&self) -> Result<Vec<ReadDocument>, AppError> {
        futures_util::future::try_join_all(
            self.editions
                .iter()
                .map(|edition| self.read_document(edition)),
        )
        .await
    }

    /// Reads a document. When the source is unreachable (not when the
    /// document is invalid), planning goes on from the last good copy, with
    /// a warning; never from nothing.
    async fn read_document(&self, edition: &Edition) -> Result<ReadDocument, AppError> {
        let error = match self.fetch_document(edition).await {
            Ok(parsed) => {
                let changes = Self::keep(edition, &parsed);
                return Ok((parsed, changes, None));
            }
            Err(SourceError::Document(error)) => return Err(SourceError::Document(error).into()),
            Err(error) => error,
        };
        Self::last_good_copy(edition, error)
    }

    /// Reads a document from its source, within `--timeout` when one is set.
    ///
    /// # Errors
    /// The source's error, or `Unavailable` when the time ran out.
    pub(crate) async fn fetch_document(
        &self,
        edition: &Edition,
    ) -> Result<Arc<ParsedDocument>, SourceError> {
        let fetch = edition.source.fetch(&self.known_channels);
        match self.source_timeout {
            None => fetch.await,
            Some(limit) => tokio::time::timeout(limit, fetch)
                .await
                .unwrap_or_else(|_| {
                    Err(SourceError::Unavailable {
                        source_name: edition.describe(),
                        message: format!(
                            "no answer within {} s (--timeout), retries included",
                            limit.as_secs_f64()
                        ),
                    })
                }),
        }
    }

    /// The last good copy, planned from when the source is unreachable.
    fn last_good_copy(edition: &Edition, error: SourceError) -> Result<ReadDocument, AppError> {
        let path = &edition.snapshot;
        match snapshot::load(path) {
            Ok(Some(kept)) if kept.source == edition.source.describe() => {
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
    fn keep(edition: &Edition, parsed: &ParsedDocument) -> Option<Changes> {
        let revision = &parsed.document.revision;
        let mut last_kept = edition
            .last_kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, changes)) = last_kept.as_ref().filter(|(kept, _)| kept == revision) {
            return changes.clone();
        }
        let path = &edition.snapshot;
        let source = edition.source.describe();
        let changes = match snapshot::load(path) {
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
        if let Err(error) = snapshot::save(path, &kept) {
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
        locale: Option<&str>,
    ) -> Result<ContentPlan, AppError> {
        if !(dry_run || self.settings.dry_run) {
            return Err(AppError::BadRequest {
                field: "dry_run",
                message: ITEM_PREVIEW_ONLY.to_owned(),
            });
        }
        let channels = self.select_channels(channels)?;
        let edition = match locale {
            None => &self.editions[0],
            Some(code) => {
                let code = self.check_locale(code)?;
                self.editions
                    .iter()
                    .find(|edition| edition.locale() == code)
                    .unwrap_or(&self.editions[0])
            }
        };
        let (parsed, _, fallback) = self.read_document(edition).await?;
        let document = &parsed.document;
        let item = match item_id {
            Some(id) => document
                .items()
                .find(|item| item.id.as_str() == id)
                .ok_or_else(|| AppError::BadRequest {
                    field: "item_id",
                    message: format!("no item `{id}` in {}", edition.describe()),
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
            .map_err(|error| PlanError {
                date: jiff::Timestamp::now().to_string(),
                message: error.to_string(),
            })?;
        let mut warnings: Vec<String> = fallback.into_iter().collect();
        let posts = channels
            .iter()
            .filter(|plan_channel| {
                let allowed = item.allows(&plan_channel.channel)
                    && item.reaches(plan_channel.segment.as_deref());
                if !allowed {
                    warnings.push(format!(
                        "item `{}` does not allow {}",
                        item.id, plan_channel.channel
                    ));
                }
                allowed
            })
            .map(|plan_channel| PlannedPost {
                id: post_id_in(
                    &plan_channel.channel,
                    &now,
                    (!edition.main).then(|| edition.locale()),
                    plan_channel.segment.as_deref(),
                ),
                channel: plan_channel.channel.clone(),
                scheduled_at: now.clone(),
                item: item.id.clone(),
                includes: Vec::new(),
                segment: plan_channel.segment.clone(),
                experiment: None,
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
            renderer: &edition.renderer,
            segments: &self.settings.segments,
            featured_section: &self.settings.planner.featured_section,
            views: &edition.views,
            dry_run: true,
            initial_status: self.initial_status(),
            ab: self.settings.ab,
        };
        Ok(composer.compose(planned))
    }
}

/// One plan of the plans of each language's document, main first: their
/// posts by time then channel, their warnings, changes and ids together.
/// A plan of the main document alone keeps its own id.
fn merge_editions(editions: Vec<ContentPlan>) -> ContentPlan {
    let mut editions = editions.into_iter();
    let Some(mut merged) = editions.next() else {
        unreachable!("the main document is always planned")
    };
    let mut ids = vec![merged.plan_id.clone()];
    for edition in editions {
        ids.push(edition.plan_id);
        merged.posts.extend(edition.posts);
        merged.warnings.extend(edition.warnings);
        if let Some(changes) = edition.changes {
            let into = merged.changes.get_or_insert_with(Changes::default);
            into.new.extend(changes.new);
            into.changed.extend(changes.changed);
            into.gone.extend(changes.gone);
        }
    }
    if ids.len() > 1 {
        let hash = halcytone_core::store::sha256_hex(ids.iter().map(String::as_bytes));
        merged.plan_id = format!("plan_{}", &hash[..32]);
        // Stable: at one time, the main document's post comes first.
        merged.posts.sort_by(|left, right| {
            (left.scheduled_at.timestamp(), &left.channel)
                .cmp(&(right.scheduled_at.timestamp(), &right.channel))
        });
    }
    merged
}

/// What happened to one post of a `--publish-now` run.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct PublishReport {
    /// The post.
    pub(crate) post: PostId,
    /// Its channel.
    pub(crate) channel: Channel,
    /// When it was planned for.
    pub(crate) scheduled_at: jiff::Timestamp,
    /// The item's title.
    pub(crate) title: String,
    /// `published` (now), `already-published`, `waiting` (back in the
    /// queue: a retry, a rate limit or an open breaker), `failed`,
    /// `unconfirmed` or `skipped`.
    pub(crate) outcome: &'static str,
    /// The ids the channel gave the post.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) external_ids: Vec<String>,
    /// Why it failed, waits or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
}

impl PublishReport {
    fn of(post: &StoredPost, outcome: &'static str, reason: Option<String>) -> Self {
        Self {
            post: post.id.clone(),
            channel: post.channel.clone(),
            scheduled_at: post.scheduled_at,
            title: post
                .item
                .get("title")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            outcome,
            external_ids: post.external_ids.clone(),
            reason,
        }
    }
}

impl App {
    /// `generate --publish-now`: plans and stores the period, approves its
    /// drafts as the operator asked, and sends them now in one dispatch
    /// pass, through the store like every send (leased, marked, recorded).
    /// A post already out is not sent again; the report says so.
    ///
    /// # Errors
    /// As [`App::generate`], and the store's error.
    pub(crate) async fn publish_now(
        &self,
        request: &GenerateRequest,
        stop: &tokio_util::sync::CancellationToken,
        on_done: &(dyn Fn(&halcytone_core::dispatch::Dispatched) + Send + Sync),
    ) -> Result<(ContentPlan, Vec<PublishReport>), AppError> {
        let plan = self
            .generate(&GenerateRequest {
                dry_run: false,
                ..request.clone()
            })
            .await?;
        let store = self.store().await?;
        let mut reports = Vec::with_capacity(plan.posts.len());
        let mut to_send = Vec::new();
        for planned in &plan.posts {
            let stored = store
                .post(&planned.id)
                .await?
                .ok_or_else(|| StoreError::NotFound(planned.id.clone()))?;
            let not_ready = self.not_ready(&stored.channel);
            let skipped = |reason: String| PublishReport::of(&stored, "skipped", Some(reason));
            let report = match stored.status {
                PostStatus::Draft | PostStatus::Approved | PostStatus::Scheduled
                    if not_ready.is_some() =>
                {
                    skipped(not_ready.unwrap_or_default())
                }
                PostStatus::Draft | PostStatus::Approved | PostStatus::Scheduled => {
                    // The operator's --publish-now is the approval.
                    let steps: &[Action] = match stored.status {
                        PostStatus::Draft => &[Action::Approve, Action::Schedule],
                        PostStatus::Approved => &[Action::Schedule],
                        _ => &[],
                    };
                    for action in steps {
                        store.transition(&stored.id, *action, None).await?;
                    }
                    to_send.push(stored.id.clone());
                    PublishReport::of(&stored, "waiting", None)
                }
                PostStatus::Published => PublishReport::of(&stored, "already-published", None),
                PostStatus::Publishing => skipped("a dispatcher is sending it now".to_owned()),
                PostStatus::Unconfirmed => skipped(format!(
                    "an earlier send may have gone out: check {}, then `halcytone posts confirm {}` or `posts retry {}`",
                    stored.channel, stored.id, stored.id
                )),
                PostStatus::Failed => skipped(format!(
                    "it failed earlier; `halcytone posts retry {}` sends it again",
                    stored.id
                )),
                PostStatus::Rejected | PostStatus::Cancelled => skipped(format!(
                    "a person {} it",
                    lifecycle::status_name(stored.status)
                )),
            };
            reports.push(report);
        }
        let summary = self
            .dispatcher()
            .await?
            .run_posts(&to_send, stop, on_done)
            .await?;
        for dispatched in &summary.posts {
            let Some(report) = reports
                .iter_mut()
                .find(|report| report.post == dispatched.id)
            else {
                continue;
            };
            report.external_ids.clone_from(&dispatched.external_ids);
            report.outcome = match dispatched.status {
                PostStatus::Published => "published",
                PostStatus::Failed => "failed",
                PostStatus::Unconfirmed => "unconfirmed",
                _ => "waiting",
            };
            report.reason = match (&dispatched.error, dispatched.next_attempt_at) {
                (Some(error), Some(at)) => Some(format!("{error}; tried again from {at}")),
                (Some(error), None) => Some(error.clone()),
                (None, Some(at)) => Some(format!("rate limited by the API until {at}")),
                (None, None) => None,
            };
        }
        for report in reports
            .iter_mut()
            .filter(|report| report.outcome == "waiting" && report.reason.is_none())
        {
            report.reason = Some(
                "not sent in this pass (circuit open or lease taken); it stays queued".to_owned(),
            );
        }
        Ok((plan, reports))
    }

    /// Why `channel` cannot send now, or `None` when it can.
    fn not_ready(&self, channel: &Channel) -> Option<String> {
        let Some(entry) = self.channels.get(channel) else {
            return Some(format!("no {channel} publisher is compiled in"));
        };
        if !entry.enabled {
            return Some(format!(
                "{channel} is disabled (channels.{channel}.enabled = false)"
            ));
        }
        let missing = entry.publisher.missing_configuration();
        (!missing.is_empty())
            .then(|| format!("{channel} is not configured: set {}", missing.join(", ")))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(day: i8) -> PlanKey {
        PlanKey {
            period: Period::Week,
            start: jiff::civil::date(2026, 11, day),
            channels: vec![Channel::from_static("twitter")],
        }
    }

    #[test]
    fn the_plan_cache_holds_one_revision_and_at_most_its_bound() {
        let mut cache = PlanCache::default();
        cache.insert("r1".to_owned(), key(1), Bytes::from_static(b"one"));
        assert_eq!(cache.get("r1", &key(1)), Some(Bytes::from_static(b"one")));
        assert_eq!(cache.get("r1", &key(2)), None);
        assert_eq!(cache.get("r2", &key(1)), None, "another revision");
        for day in 2..=17 {
            cache.insert("r1".to_owned(), key(day), Bytes::from_static(b"more"));
        }
        assert_eq!(cache.plans.len(), CACHED_PLANS);
        assert_eq!(cache.get("r1", &key(1)), None, "the oldest went first");
        assert!(cache.get("r1", &key(17)).is_some());
        cache.insert("r2".to_owned(), key(1), Bytes::from_static(b"new"));
        assert_eq!(cache.plans.len(), 1, "a new revision empties it");
        assert_eq!(cache.get("r1", &key(17)), None);
    }
}
