//! Configuration: defaults, then `halcytone.toml` (or `--config FILE`), then
//! `HALCYTONE__SECTION__KEY` environment variables, then `HALCYTONE_DRY_RUN`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use halcytone_core::cadence::Cadence;
use halcytone_core::dispatch::DispatchSettings;
use halcytone_core::error::ConfigError;
use halcytone_core::experiment::AbSettings;
use halcytone_core::locale::{DEFAULT_LOCALE, Locale};
use halcytone_core::publisher::Segment;
use halcytone_core::registry::Table;
use halcytone_core::resilience::{RateLimit, ResilienceSettings, parse_duration, parse_size};
use halcytone_core::secret::SecretString;
use halcytone_core::webhooks::{DeliverySettings, Webhook};
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::origins::Origins;

/// The file read from the working directory when `--config` is not given.
pub(crate) const DEFAULT_FILE: &str = "halcytone.toml";

/// The whole configuration as read, before checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    server: ServerSettings,
    #[serde(default)]
    store: StoreSettings,
    source: Option<config::Value>,
    #[serde(default)]
    approval: ApprovalSettings,
    #[serde(default)]
    planner: PlannerSettings,
    #[serde(default)]
    templates: TemplateSettings,
    #[serde(default)]
    channels: BTreeMap<String, config::Value>,
    #[serde(default)]
    resilience: RawResilience,
    #[serde(default)]
    dispatcher: RawDispatcher,
    #[serde(default)]
    webhooks: Vec<Webhook>,
    locale: Option<String>,
    #[serde(default)]
    locales: BTreeMap<String, config::Value>,
    #[serde(default)]
    analytics: RawAnalytics,
    #[serde(default)]
    segments: Vec<Segment>,
    enhance: Option<halcytone_enhance::EnhanceConfig>,
    #[serde(default)]
    ab: RawAb,
}

/// `[ab]`: A/B experiments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAb {
    #[serde(default = "default_test_fraction")]
    test_fraction: f64,
    #[serde(default = "default_decide_after")]
    decide_after: String,
    #[serde(default = "default_min_sample")]
    min_sample: u64,
}

impl Default for RawAb {
    fn default() -> Self {
        Self {
            test_fraction: default_test_fraction(),
            decide_after: default_decide_after(),
            min_sample: default_min_sample(),
        }
    }
}

fn default_test_fraction() -> f64 {
    AbSettings::default().test_fraction
}

fn default_decide_after() -> String {
    "4h".to_owned()
}

fn default_min_sample() -> u64 {
    AbSettings::default().min_sample
}

/// `[analytics]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnalytics {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default = "default_analytics_interval")]
    interval: String,
    #[serde(default = "default_analytics_since")]
    since: String,
}

impl Default for RawAnalytics {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_analytics_interval(),
            since: default_analytics_since(),
        }
    }
}

fn default_analytics_interval() -> String {
    "1h".to_owned()
}

fn default_analytics_since() -> String {
    "30d".to_owned()
}

/// `[analytics]`: how often `serve` reads the published posts' figures,
/// and how far back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnalyticsSettings {
    /// Whether `serve` reads figures.
    pub(crate) enabled: bool,
    /// How often.
    pub(crate) interval: Duration,
    /// The posts published within this long before each pass.
    pub(crate) since: Duration,
}

fn ab_settings(raw: &RawAb) -> Result<AbSettings, ConfigError> {
    let fraction = raw.test_fraction;
    // Two arms of the list, with some of it left for the winner.
    if !(fraction > 0.0 && fraction < 0.5) {
        return Err(ConfigError::new(
            "ab.test_fraction",
            format!(
                "{fraction} is not a share of the list above 0 and below 0.5 (each of two arms gets it)"
            ),
        ));
    }
    let decide_after = parse_duration(&raw.decide_after)
        .ok()
        .filter(|duration| !duration.is_zero())
        .and_then(|duration| jiff::SignedDuration::try_from(duration).ok())
        .ok_or_else(|| {
            ConfigError::new(
                "ab.decide_after",
                format!(
                    "`{}` is not a duration above zero such as 4h or 30m",
                    raw.decide_after
                ),
            )
        })?;
    Ok(AbSettings {
        test_fraction: fraction,
        decide_after,
        min_sample: raw.min_sample,
    })
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSettings {
    /// The address the HTTP API listens on.
    #[serde(default = "default_bind")]
    pub(crate) bind: String,
    /// The bearer token the API requires; required off loopback.
    pub(crate) api_token: Option<SecretString>,
    /// How long an admin UI sign-in lasts.
    #[serde(default = "default_session_ttl")]
    pub(crate) session_ttl: String,
}

fn default_session_ttl() -> String {
    "12h".to_owned()
}

fn default_bind() -> String {
    "127.0.0.1:8080".to_owned()
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            api_token: None,
            session_ttl: default_session_ttl(),
        }
    }
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSettings {
    url: Option<String>,
}

/// `[approval]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalSettings {
    /// Whether posts wait for a person's approval.
    #[serde(default = "yes")]
    pub(crate) required: bool,
}

fn yes() -> bool {
    true
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        Self { required: true }
    }
}

/// `[planner]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlannerSettings {
    /// The section featured every week.
    #[serde(default = "default_featured_section")]
    pub(crate) featured_section: String,
}

fn default_featured_section() -> String {
    "Breathscape".to_owned()
}

impl Default for PlannerSettings {
    fn default() -> Self {
        Self {
            featured_section: default_featured_section(),
        }
    }
}

/// `[templates]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateSettings {
    /// A directory whose templates replace the bundled ones of the same name.
    pub(crate) dir: Option<PathBuf>,
}

/// `[resilience]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResilience {
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_min_delay")]
    min_delay: String,
    #[serde(default = "default_max_delay")]
    max_delay: String,
    #[serde(default = "default_breaker_threshold")]
    breaker_threshold: u32,
    #[serde(default = "default_breaker_cooldown")]
    breaker_cooldown: String,
    #[serde(default = "default_request_timeout")]
    request_timeout: String,
    #[serde(default = "default_max_response_body")]
    max_response_body: String,
}

fn default_max_response_body() -> String {
    "8MiB".to_owned()
}

fn default_min_delay() -> String {
    "500ms".to_owned()
}

fn default_max_delay() -> String {
    "60s".to_owned()
}

fn default_request_timeout() -> String {
    "30s".to_owned()
}

fn default_max_attempts() -> u32 {
    8
}

fn default_breaker_threshold() -> u32 {
    5
}

fn default_breaker_cooldown() -> String {
    "60s".to_owned()
}

impl Default for RawResilience {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            min_delay: default_min_delay(),
            max_delay: default_max_delay(),
            breaker_threshold: default_breaker_threshold(),
            breaker_cooldown: default_breaker_cooldown(),
            request_timeout: default_request_timeout(),
            max_response_body: default_max_response_body(),
        }
    }
}

/// `[dispatcher]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDispatcher {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default = "default_lease")]
    lease: String,
    #[serde(default = "default_poll_interval")]
    poll_interval: String,
    #[serde(default = "default_batch")]
    batch: usize,
    #[serde(default = "default_concurrency")]
    concurrency: usize,
    #[serde(default = "default_shutdown_grace")]
    shutdown_grace: String,
    #[serde(default = "default_reconcile_interval")]
    reconcile_interval: String,
    #[serde(default = "default_reconcile_after")]
    reconcile_after: String,
    #[serde(default = "default_webhook_retry")]
    webhook_retry: String,
}

fn default_lease() -> String {
    "30s".to_owned()
}

fn default_poll_interval() -> String {
    "1s".to_owned()
}

fn default_batch() -> usize {
    32
}

fn default_concurrency() -> usize {
    4
}

fn default_shutdown_grace() -> String {
    "10s".to_owned()
}

fn default_reconcile_interval() -> String {
    "5m".to_owned()
}

fn default_reconcile_after() -> String {
    "2m".to_owned()
}

fn default_webhook_retry() -> String {
    "30s".to_owned()
}

impl Default for RawDispatcher {
    fn default() -> Self {
        Self {
            enabled: true,
            lease: default_lease(),
            poll_interval: default_poll_interval(),
            batch: default_batch(),
            concurrency: default_concurrency(),
            shutdown_grace: default_shutdown_grace(),
            reconcile_interval: default_reconcile_interval(),
            reconcile_after: default_reconcile_after(),
            webhook_retry: default_webhook_retry(),
        }
    }
}

/// One table of the configuration (`[channels.twitter]`, `[source]`), read
/// into a channel's or source's typed configuration by the `config` crate.
#[derive(Debug, Clone)]
pub(crate) struct ConfigTable {
    key: String,
    value: config::Value,
}

impl ConfigTable {
    /// Wraps the table found at the dotted `key`.
    pub(crate) fn new(key: impl Into<String>, value: config::Value) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }

    /// An empty table at `key`.
    pub(crate) fn empty(key: impl Into<String>) -> Self {
        Self::new(
            key,
            config::Value::new(None, config::Map::<String, config::Value>::new()),
        )
    }
}

impl Table for ConfigTable {
    fn key(&self) -> &str {
        &self.key
    }

    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.value
            .clone()
            .try_deserialize()
            .map_err(|error| ConfigError::new(self.key.clone(), error.to_string()))
    }
}

/// The keys every `[channels.<name>]` table may have besides the channel's own.
pub(crate) const CHANNEL_KEYS: [&str; 5] = [
    "enabled",
    "cadence",
    "rate_limit",
    "daily_cap",
    "metrics_rate_limit",
];

/// The keys every `[channels.<name>]` table may have besides the channel's own.
#[derive(Debug, Clone)]
pub(crate) struct ChannelSettings {
    /// `enabled = false` leaves the channel out of plans.
    pub(crate) enabled: bool,
    /// Overrides the channel's default cadence.
    pub(crate) cadence: Option<Cadence>,
    /// The channel's quota.
    pub(crate) rate_limit: Option<RateLimit>,
    /// The most posts in 24 hours (0: no cap); `None` takes the channel's default.
    pub(crate) daily_cap: Option<u32>,
    /// The quota of reading figures; `None` takes the channel's default.
    pub(crate) metrics_rate_limit: Option<RateLimit>,
    /// The rest of the table, for the channel's crate.
    pub(crate) table: ConfigTable,
}

/// The checked configuration.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The plan's time zone.
    pub(crate) timezone: TimeZone,
    /// Where the last good copy of the document is kept.
    pub(crate) data_dir: PathBuf,
    /// `store.url`: the durable store of plans and posts.
    pub(crate) store_url: String,
    /// Dry run for the whole process.
    pub(crate) dry_run: bool,
    /// `[server]`.
    pub(crate) server: ServerSettings,
    /// The checked `server.bind`.
    pub(crate) bind: SocketAddr,
    /// `[source]`, for the source's crate.
    pub(crate) source: ConfigTable,
    /// `source.kind`.
    pub(crate) source_kind: String,
    /// `[approval]`.
    pub(crate) approval: ApprovalSettings,
    /// `[planner]`.
    pub(crate) planner: PlannerSettings,
    /// `[templates]`.
    pub(crate) templates: TemplateSettings,
    /// `[channels.*]` by name.
    pub(crate) channels: BTreeMap<String, ChannelSettings>,
    /// `[resilience]`.
    pub(crate) resilience: ResilienceSettings,
    /// `resilience.request_timeout`: how long one HTTP call may take.
    pub(crate) request_timeout: Duration,
    /// `server.session_ttl`: how long an admin UI sign-in lasts.
    pub(crate) session_ttl: Duration,
    /// `resilience.max_response_body`: the most bytes read of any answer.
    pub(crate) max_response_body: usize,
    /// `dispatcher.enabled`: whether `serve` sends due posts.
    pub(crate) dispatcher_enabled: bool,
    /// `[dispatcher]`.
    pub(crate) dispatcher: DispatchSettings,
    /// `[[webhooks]]`: where post events are delivered.
    pub(crate) webhooks: Vec<Webhook>,
    /// How webhook deliveries are retried (`dispatcher.webhook_retry`).
    pub(crate) delivery: DeliverySettings,
    /// Where each key was set, for errors found later (a channel's table).
    pub(crate) origins: Origins,
    /// `locale`: the language of the main document.
    pub(crate) locale: Locale,
    /// `[locales.<code>]`: a document per further language.
    pub(crate) locales: Vec<LocaleSettings>,
    /// `[analytics]`.
    pub(crate) analytics: AnalyticsSettings,
    /// `[[segments]]`: the newsletter's segments, each with an issue.
    pub(crate) segments: Vec<Segment>,
    /// `[enhance]`: the model server of AI suggestions, when configured.
    pub(crate) enhance: Option<halcytone_enhance::EnhanceConfig>,
    /// `[ab]`: A/B experiments.
    pub(crate) ab: AbSettings,
}

/// `[locales.<code>]`: another language's living document.
#[derive(Debug, Clone)]
pub(crate) struct LocaleSettings {
    /// The language.
    pub(crate) locale: Locale,
    /// The table, for the source's crate (as `[source]`).
    pub(crate) source: ConfigTable,
    /// Its `kind`: the main source's unless it says.
    pub(crate) source_kind: String,
}

/// Where configuration comes from; tests give their own environment.
#[derive(Debug, Default)]
pub(crate) struct ConfigSources {
    /// `--config FILE`: must exist. Without it `halcytone.toml` is read if present.
    pub(crate) file: Option<PathBuf>,
    /// The environment, or `None` for the process's.
    pub(crate) environment: Option<BTreeMap<String, String>>,
}

impl Settings {
    /// Loads and checks the configuration.
    ///
    /// # Errors
    /// Returns the first problem, naming the key, why, and where it was set
    /// (the file and line, or the variable).
    pub(crate) fn load(sources: &ConfigSources) -> Result<Self, ConfigError> {
        let file = match &sources.file {
            Some(path) if !path.is_file() => {
                return Err(ConfigError::new(
                    "--config",
                    format!("{} does not exist or is not a file", path.display()),
                ));
            }
            Some(path) => Some(path.clone()),
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|path| path.is_file()),
        };
        let file = file
            .map(|path| {
                std::fs::read_to_string(&path)
                    .map(|text| (path.clone(), text))
                    .map_err(|error| {
                        ConfigError::new(
                            "--config",
                            format!("cannot read {}: {error}", path.display()),
                        )
                    })
            })
            .transpose()?;
        let variables = match &sources.environment {
            Some(variables) => variables.keys().cloned().collect(),
            None => std::env::vars().map(|(name, _)| name).collect(),
        };
        let origins = Origins::new(file, variables);
        Self::load_from(sources, origins.clone()).map_err(|error| origins.locate(error))
    }

    fn load_from(sources: &ConfigSources, origins: Origins) -> Result<Self, ConfigError> {
        let mut builder = Config::builder();
        if let Some(path) = origins.file() {
            builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(true));
        }
        // Relative paths written in the file are relative to the file; the
        // environment still overrides them.
        let mut resolved = Config::builder();
        for (key, path) in origins.resolved_paths() {
            resolved = resolved
                .set_override(&key, path.to_string_lossy().into_owned())
                .map_err(|error| ConfigError::new(&key, error.to_string()))?;
        }
        builder = builder.add_source(
            resolved
                .build()
                .map_err(|error| ConfigError::new("configuration", error.to_string()))?,
        );
        let environment = Environment::with_prefix("HALCYTONE")
            .separator("__")
            .try_parsing(true)
            // Comma-separated lists in the environment, for the list keys
            // that cannot contain a comma themselves.
            .list_separator(",")
            .with_list_parse_key("channels.email.list_ids")
            .with_list_parse_key("channels.email.tags")
            .source(sources.environment.as_ref().map(|variables| {
                variables
                    .iter()
                    .filter(|(name, _)| name.starts_with("HALCYTONE__"))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect()
            }));
        let raw: RawSettings = builder
            .add_source(environment)
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|error| ConfigError::new("configuration", error.to_string()))?;
        let dry_run_variable = match &sources.environment {
            Some(variables) => variables.get("HALCYTONE_DRY_RUN").cloned(),
            None => std::env::var("HALCYTONE_DRY_RUN").ok(),
        };
        let dry_run = match dry_run_variable.as_deref().map(str::trim) {
            None | Some("") => raw.dry_run,
            Some("1" | "true" | "TRUE" | "True" | "yes") => true,
            Some("0" | "false" | "FALSE" | "False" | "no") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "HALCYTONE_DRY_RUN",
                    format!("`{other}` is not true or false"),
                ));
            }
        };
        Self::check(raw, dry_run, origins)
    }

    fn check(mut raw: RawSettings, dry_run: bool, origins: Origins) -> Result<Self, ConfigError> {
        let timezone = TimeZone::get(raw.timezone.trim()).map_err(|_| {
            ConfigError::new(
                "timezone",
                format!(
                    "`{}` is not an IANA time zone such as Europe/London",
                    raw.timezone
                ),
            )
        })?;
        let bind: SocketAddr = raw.server.bind.parse().map_err(|_| {
            ConfigError::new(
                "server.bind",
                format!(
                    "`{}` is not an address and port such as 127.0.0.1:8080",
                    raw.server.bind
                ),
            )
        })?;
        // An empty token (`HALCYTONE__SERVER__API_TOKEN=`) is no token: it
        // must not pass the guard that refuses to listen off loopback without one.
        if raw
            .server
            .api_token
            .as_ref()
            .is_some_and(|token| token.expose().trim().is_empty())
        {
            raw.server.api_token = None;
        }
        if raw.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("data_dir", "is empty"));
        }
        let store_schemes = ["sqlite:", "postgres://", "postgresql://"];
        if let Some(url) = raw
            .store
            .url
            .as_ref()
            .filter(|url| !store_schemes.iter().any(|scheme| url.starts_with(scheme)))
        {
            return Err(ConfigError::new(
                "store.url",
                format!("`{url}` is neither sqlite:… nor postgres://…"),
            ));
        }
        let duration = |key: &str, value: &str| {
            parse_duration(value)
                .map_err(|message| ConfigError::new(format!("resilience.{key}"), message))
        };
        if raw.resilience.max_attempts == 0 {
            return Err(ConfigError::new(
                "resilience.max_attempts",
                "must be at least 1",
            ));
        }
        if raw.resilience.breaker_threshold == 0 {
            return Err(ConfigError::new(
                "resilience.breaker_threshold",
                "must be at least 1",
            ));
        }
        let resilience = ResilienceSettings {
            max_attempts: raw.resilience.max_attempts,
            min_delay: duration("min_delay", &raw.resilience.min_delay)?,
            max_delay: duration("max_delay", &raw.resilience.max_delay)?,
            breaker_threshold: raw.resilience.breaker_threshold,
            breaker_cooldown: duration("breaker_cooldown", &raw.resilience.breaker_cooldown)?,
        };
        let request_timeout = duration("request_timeout", &raw.resilience.request_timeout)?;
        if request_timeout.is_zero() {
            return Err(ConfigError::new(
                "resilience.request_timeout",
                "must be longer than 0",
            ));
        }
        let session_ttl = parse_duration(&raw.server.session_ttl)
            .ok()
            .filter(|ttl| !ttl.is_zero())
            .ok_or_else(|| {
                ConfigError::new(
                    "server.session_ttl",
                    format!(
                        "`{}` is not a duration longer than 0 such as 30m or 12h",
                        raw.server.session_ttl
                    ),
                )
            })?;
        let max_response_body = parse_size(&raw.resilience.max_response_body)
            .map_err(|message| ConfigError::new("resilience.max_response_body", message))?;
        if max_response_body == 0 {
            return Err(ConfigError::new(
                "resilience.max_response_body",
                "must be more than 0 bytes",
            ));
        }
        let dispatcher = dispatch_settings(&raw.dispatcher)?;
        let analytics_duration = |key: &str, value: &str| {
            parse_duration(value)
                .ok()
                .filter(|duration| !duration.is_zero())
                .ok_or_else(|| {
                    ConfigError::new(
                        format!("analytics.{key}"),
                        format!("`{value}` is not a duration above zero such as 1h or 30d"),
                    )
                })
        };
        let analytics = AnalyticsSettings {
            enabled: raw.analytics.enabled,
            interval: analytics_duration("interval", &raw.analytics.interval)?,
            since: analytics_duration("since", &raw.analytics.since)?,
        };
        let ab = ab_settings(&raw.ab)?;
        for (index, segment) in raw.segments.iter().enumerate() {
            let key = format!("segments[{index}]");
            if !halcytone_core::document::is_segment_id(&segment.id) {
                return Err(ConfigError::new(
                    format!("{key}.id"),
                    format!(
                        "`{}` is not a segment id: use 1 to 32 lowercase letters, digits or `-`",
                        segment.id
                    ),
                ));
            }
            if raw.segments[..index]
                .iter()
                .any(|other| other.id == segment.id)
            {
                return Err(ConfigError::new(
                    format!("{key}.id"),
                    format!("`{}` names two segments", segment.id),
                ));
            }
            if segment.listmonk_list == Some(0) {
                return Err(ConfigError::new(
                    format!("{key}.listmonk_list"),
                    "listmonk list ids start at 1",
                ));
            }
        }
        let delivery = DeliverySettings {
            first_retry: parse_duration(&raw.dispatcher.webhook_retry)
                .map_err(|message| ConfigError::new("dispatcher.webhook_retry", message))?,
            ..DeliverySettings::default()
        };
        for (index, webhook) in raw.webhooks.iter().enumerate() {
            webhook
                .check()
                .map_err(|message| ConfigError::new(format!("webhooks[{index}]"), message))?;
        }
        if raw.planner.featured_section.trim().is_empty() {
            return Err(ConfigError::new("planner.featured_section", "is empty"));
        }
        let (source, source_kind) = source_table("source", raw.source, "markdown")?;
        let locale_key = raw.locale.as_deref().unwrap_or(DEFAULT_LOCALE);
        let locale = Locale::parse(locale_key.trim())
            .map_err(|error| ConfigError::new("locale", error.to_string()))?;
        let mut locales: Vec<LocaleSettings> = Vec::new();
        for (code, value) in raw.locales {
            let key = format!("locales.{code}");
            let language =
                Locale::parse(&code).map_err(|error| ConfigError::new(&key, error.to_string()))?;
            if language == locale {
                return Err(ConfigError::new(
                    &key,
                    format!(
                        "is the main document's locale (`locale = \"{}\"`): [source] is that document",
                        locale.code()
                    ),
                ));
            }
            if let Some(twice) = locales.iter().find(|other| other.locale == language) {
                return Err(ConfigError::new(
                    &key,
                    format!("names the same language as locales.{}", twice.locale.code()),
                ));
            }
            let (table, kind) = source_table(&key, Some(value), &source_kind)?;
            locales.push(LocaleSettings {
                locale: language,
                source: table,
                source_kind: kind,
            });
        }
        let channels = raw
            .channels
            .into_iter()
            .map(|(name, value)| channel_settings(&name, value).map(|settings| (name, settings)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            timezone,
            store_url: raw
                .store
                .url
                .clone()
                .unwrap_or_else(|| format!("sqlite://{}/halcytone.db", raw.data_dir.display())),
            data_dir: raw.data_dir,
            dry_run,
            server: raw.server,
            bind,
            source,
            source_kind,
            locale,
            locales,
            analytics,
            ab,
            segments: raw.segments,
            enhance: raw.enhance,
            approval: raw.approval,
            planner: raw.planner,
            templates: raw.templates,
            channels,
            resilience,
            request_timeout,
            session_ttl,
            max_response_body,
            dispatcher_enabled: raw.dispatcher.enabled,
            dispatcher,
            webhooks: raw.webhooks,
            delivery,
            origins,
        })
    }
}

fn dispatch_settings(raw: &RawDispatcher) -> Result<DispatchSettings, ConfigError> {
    let duration = |key: &str, value: &str| {
        parse_duration(value)
            .map_err(|message| ConfigError::new(format!("dispatcher.{key}"), message))
            .and_then(|duration| {
                if duration.is_zero() {
                    Err(ConfigError::new(
                        format!("dispatcher.{key}"),
                        "must be longer than 0",
                    ))
                } else {
                    Ok(duration)
                }
            })
    };
    for (key, value) in [("batch", raw.batch), ("concurrency", raw.concurrency)] {
        if value == 0 {
            return Err(ConfigError::new(
                format!("dispatcher.{key}"),
                "must be at least 1",
            ));
        }
    }
    Ok(DispatchSettings {
        lease: duration("lease", &raw.lease)?,
        poll_interval: duration("poll_interval", &raw.poll_interval)?,
        batch: raw.batch,
        concurrency: raw.concurrency,
        shutdown_grace: duration("shutdown_grace", &raw.shutdown_grace)?,
        reconcile_interval: duration("reconcile_interval", &raw.reconcile_interval)?,
        reconcile_after: duration("reconcile_after", &raw.reconcile_after)?,
    })
}

/// A source's table (`[source]`, `[locales.<code>]`) and its `kind`,
/// `default_kind` when it names none.
fn source_table(
    name: &str,
    value: Option<config::Value>,
    default_kind: &str,
) -> Result<(ConfigTable, String), ConfigError> {
    let Some(value) = value else {
        return Ok((ConfigTable::empty(name), default_kind.to_owned()));
    };
    let mut table = value
        .into_table()
        .map_err(|error| ConfigError::new(name, format!("must be a table: {error}")))?;
    let kind = match table.remove("kind") {
        None => default_kind.to_owned(),
        Some(kind) => kind
            .into_string()
            .map_err(|error| ConfigError::new(format!("{name}.kind"), error.to_string()))?,
    };
    Ok((
        ConfigTable::new(name, config::Value::new(None, table)),
        kind.trim().to_owned(),
    ))
}

fn channel_settings(name: &str, value: config::Value) -> Result<ChannelSettings, ConfigError> {
    let key = format!("channels.{name}");
    let mut table = value
        .into_table()
        .map_err(|error| ConfigError::new(&key, format!("must be a table: {error}")))?;
    let enabled = match table.remove("enabled") {
        None => true,
        Some(value) => value
            .into_bool()
            .map_err(|error| ConfigError::new(format!("{key}.enabled"), error.to_string()))?,
    };
    let cadence = match table.remove("cadence") {
        None => None,
        Some(value) => {
            let entries: Vec<String> = value.try_deserialize().map_err(|error| {
                ConfigError::new(
                    format!("{key}.cadence"),
                    format!("must be a list of slots: {error}"),
                )
            })?;
            if entries.is_empty() {
                return Err(ConfigError::new(
                    format!("{key}.cadence"),
                    "is empty; set enabled = false to turn the channel off",
                ));
            }
            Some(
                Cadence::parse(&entries)
                    .map_err(|message| ConfigError::new(format!("{key}.cadence"), message))?,
            )
        }
    };
    let mut limit = |name: &str| match table.remove(name) {
        None => Ok(None),
        Some(value) => {
            let text = value
                .into_string()
                .map_err(|error| ConfigError::new(format!("{key}.{name}"), error.to_string()))?;
            text.parse()
                .map(Some)
                .map_err(|message| ConfigError::new(format!("{key}.{name}"), message))
        }
    };
    let rate_limit = limit("rate_limit")?;
    let metrics_rate_limit = limit("metrics_rate_limit")?;
    let daily_cap = match table.remove("daily_cap") {
        None => None,
        Some(value) => {
            let cap = value.into_uint().map_err(|error| {
                ConfigError::new(
                    format!("{key}.daily_cap"),
                    format!("must be a whole number of posts (0 for no cap): {error}"),
                )
            })?;
            Some(u32::try_from(cap).map_err(|_| {
                ConfigError::new(format!("{key}.daily_cap"), format!("{cap} is too large"))
            })?)
        }
    };
    Ok(ChannelSettings {
        enabled,
        cadence,
        rate_limit,
        daily_cap,
        metrics_rate_limit,
        table: ConfigTable::new(key, config::Value::new(None, table)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str, environment: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let directory = std::env::temp_dir().join(format!(
            "halcytone-config-{}-{}",
            std::process::id(),
            toml.len()
        ));
        std::fs::create_dir_all(&directory).unwrap();
        let file = directory.join("halcytone.toml");
        std::fs::write(&file, toml).unwrap();
        let result = Settings::load(&ConfigSources {
            file: Some(file),
            environment: Some(
                environment
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                    .collect(),
            ),
        });
        std::fs::remove_dir_all(&directory).unwrap();
        result
    }

    #[test]
    fn no_configuration_at_all_works() {
        let settings = Settings::load(&ConfigSources {
            file: None,
            environment: Some(BTreeMap::new()),
        })
        .unwrap();
        assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.source_kind, "markdown");
        assert_eq!(settings.timezone.iana_name(), Some("UTC"));
        assert!(!settings.dry_run);
    }

    #[test]
    fn the_full_product_example_loads() {
        let toml = include_str!("../../../examples/halcytone.toml");
        let settings = load(toml, &[]).unwrap();
        assert_eq!(settings.timezone.iana_name(), Some("Europe/London"));
        let twitter = &settings.channels["twitter"];
        assert_eq!(twitter.rate_limit.unwrap().to_string(), "100/15m");
        assert_eq!(twitter.table.key(), "channels.twitter");
        assert!(settings.dispatcher_enabled);
        assert_eq!(settings.dispatcher, DispatchSettings::default());
    }

    #[test]
    fn environment_overrides_the_file() {
        let settings = load(
            "[server]\nbind = \"127.0.0.1:1\"\n",
            &[
                ("HALCYTONE__SERVER__BIND", "127.0.0.1:2"),
                ("HALCYTONE_DRY_RUN", "true"),
            ],
        )
        .unwrap();
        assert_eq!(settings.bind.to_string(), "127.0.0.1:2");
        assert!(settings.dry_run);
    }

    #[test]
    fn an_empty_api_token_is_no_token() {
        for empty in ["", "  "] {
            let settings = load("", &[("HALCYTONE__SERVER__API_TOKEN", empty)]).unwrap();
            assert!(settings.server.api_token.is_none(), "{empty:?}");
        }
    }

    #[test]
    fn list_keys_take_comma_separated_values_from_the_environment() {
        let settings = load("", &[("HALCYTONE__CHANNELS__EMAIL__LIST_IDS", "3,7")]).unwrap();
        let email = &settings.channels["email"];
        let table: std::collections::BTreeMap<String, config::Value> = email.table.parse().unwrap();
        let ids: Vec<u64> = table["list_ids"].clone().try_deserialize().unwrap();
        assert_eq!(ids, [3, 7]);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                "timezone = \"Mars/Olympus\"",
                "timezone: `Mars/Olympus` is not an IANA time zone such as Europe/London",
            ),
            (
                "[server]\nbind = \"localhost\"",
                "server.bind: `localhost` is not an address and port such as 127.0.0.1:8080",
            ),
            (
                "[channels.twitter]\ncadence = [\"daily 9am\"]",
                "channels.twitter.cadence: bad cadence slot `daily 9am`",
            ),
            (
                "[channels.twitter]\nrate_limit = \"lots\"",
                "channels.twitter.rate_limit: bad rate limit `lots`",
            ),
            (
                "[store]\nurl = \"mysql://x\"",
                "store.url: `mysql://x` is neither sqlite:… nor postgres://…",
            ),
            (
                "[resilience]\nbreaker_cooldown = \"soon\"",
                "resilience.breaker_cooldown: bad duration `soon`",
            ),
            (
                "[server]\nbind_address = \"x\"",
                "server.bind_address: unknown key; the allowed keys are bind, api_token, session_ttl",
            ),
            (
                "[resilience]\nmax_response_body = \"8MB\"",
                "resilience.max_response_body: bad size `8MB`",
            ),
            (
                "[dispatcher]\nlease = \"a while\"",
                "dispatcher.lease: bad duration `a while`",
            ),
            (
                "[dispatcher]\npoll_interval = \"0s\"",
                "dispatcher.poll_interval: must be longer than 0",
            ),
            (
                "[dispatcher]\nconcurrency = 0",
                "dispatcher.concurrency: must be at least 1",
            ),
        ];
        for (toml, expected) in cases {
            let error = load(toml, &[]).unwrap_err().to_string();
            assert!(error.contains(expected), "{toml}: {error}");
        }
        let error = load("", &[("HALCYTONE_DRY_RUN", "maybe")])
            .unwrap_err()
            .to_string();
        assert_eq!(error, "HALCYTONE_DRY_RUN: `maybe` is not true or false");
    }
}
