//! The Notion living-document source.
//!
//! `[source] kind = "notion"` reads a Notion page, or a Notion database (a
//! content calendar), over the Notion API with an integration's token.
//!
//! - A page: `GET /v1/blocks/{page_id}/children`, every page of results and
//!   the children of every block that has some, then [`parse_blocks`]: the
//!   same living document the Markdown source produces (see the crate README
//!   for the mapping).
//! - A database: its first data source's rows (`POST
//!   /v1/data_sources/{id}/query`), one item per row, its fields from the
//!   properties named in `[source.properties]` and its body from the row
//!   page's blocks.
//!
//! Every request waits for the configured rate limit, goes through the
//! shared `HttpClient` and the one retry loop (`resilience::retrying`), and a
//! failure says what to do (set the token, share the page with the
//! integration, wait). Nothing is cached between fetches.
#![deny(missing_docs)]

mod config;
mod database;
mod fetch;
pub mod parse;

use std::fmt;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, RateLimiter};
use halcytone_core::document::{KnownChannels, ParsedDocument};
use halcytone_core::prelude::*;
use halcytone_core::registry::SourceContext;
use halcytone_core::resilience::ResilienceSettings;
use halcytone_core::source::{Source, SourceError};

pub use config::{NotionConfig, PropertyNames};
pub use parse::{Block, blocks_from_pages, parse_blocks};

use crate::config::Target;
use crate::database::{DatabaseInfo, parse_rows};
use crate::fetch::Object;

/// The source kind.
pub const KIND: &str = "notion";

/// The name of the pre-flight check of the token.
pub const CREDENTIALS_CHECK: &str = "notion.credentials";

/// Reads a Notion page or database.
pub struct NotionSource {
    config: NotionConfig,
    target: Target,
    http: HttpClient,
    resilience: ResilienceSettings,
    /// Spaces the requests of every fetch by `config.rate_limit`.
    limiter: DefaultDirectRateLimiter,
    /// The page as last read, for change detection.
    last: tokio::sync::Mutex<Option<LastRead>>,
}

/// A page as last read.
struct LastRead {
    /// Its `last_edited_time`.
    edited: String,
    /// Whether that time was at least a minute old when the page was read:
    /// Notion keeps edit times to the minute, so only then does an unchanged
    /// time prove an unchanged page.
    settled: bool,
    parsed: Arc<ParsedDocument>,
}

impl fmt::Debug for NotionSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("NotionSource")
            .field("config", &self.config)
            .field("resilience", &self.resilience)
            .finish_non_exhaustive()
    }
}

impl NotionSource {
    /// Makes the source from its configuration and the shared HTTP client
    /// and retry settings.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the `[source]` key at fault: neither or both
    /// of `page_id` and `database_id`, an id that is not a Notion id, an
    /// empty `version`.
    pub fn new(config: NotionConfig, context: &SourceContext) -> Result<Self, ConfigError> {
        let target = config.target()?;
        Ok(Self {
            limiter: RateLimiter::direct(config.rate_limit.quota()),
            target,
            config,
            http: context.http.clone(),
            resilience: context.resilience.clone(),
            last: tokio::sync::Mutex::new(None),
        })
    }

    fn describe_target(&self) -> String {
        match &self.target {
            Target::Page(id) => format!("Notion page {id}"),
            Target::Database(id) => format!("Notion database {id}"),
        }
    }
}

#[async_trait]
impl Source for NotionSource {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn describe(&self) -> String {
        self.describe_target()
    }

    async fn fetch(
        &self,
        known_channels: &KnownChannels,
    ) -> Result<Arc<ParsedDocument>, SourceError> {
        if self.token_missing() {
            return Err(self.missing_token());
        }
        let parsed = match &self.target {
            Target::Page(id) => {
                let correlation_id = format!("notion-{id}");
                let edited = self.page_edited(id, &correlation_id).await;
                let mut last = self.last.lock().await;
                let unchanged = last.as_ref().filter(|last| {
                    last.settled
                        && edited
                            .as_ref()
                            .is_some_and(|(time, _)| *time == last.edited)
                });
                if let Some(last) = unchanged {
                    return Ok(Arc::clone(&last.parsed));
                }
                let blocks = self
                    .block_tree(Object::Page(id.clone()), id, 0, &correlation_id)
                    .await?;
                let parsed = Arc::new(parse_blocks(&self.describe(), &blocks, known_channels)?);
                *last = edited.map(|(time, at)| LastRead {
                    edited: time,
                    settled: jiff::Timestamp::now().duration_since(at)
                        >= jiff::SignedDuration::from_secs(60),
                    parsed: Arc::clone(&parsed),
                });
                return Ok(parsed);
            }
            Target::Database(id) => {
                let correlation_id = format!("notion-{id}");
                let (database, rows, warnings) = self.database(id, &correlation_id).await?;
                let info = DatabaseInfo {
                    id,
                    title: database.title_text(),
                    warnings,
                };
                parse_rows(
                    &self.describe(),
                    &info,
                    &rows,
                    &self.config.properties,
                    known_channels,
                )?
            }
        };
        Ok(Arc::new(parsed))
    }

    async fn preflight(&self) -> Vec<Check> {
        vec![match self.bot_user().await {
            Ok(user) => Check::pass(CREDENTIALS_CHECK, format!("the token is {user}")),
            Err(error) => Check::fail(CREDENTIALS_CHECK, error.to_string()),
        }]
    }
}

/// Registers the Notion source.
pub fn register<T: Table>(registry: &mut Registry<T>) {
    registry.add_source(KIND, |config: NotionConfig, context| {
        Ok(Arc::new(NotionSource::new(config, context)?))
    });
}
