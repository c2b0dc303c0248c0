//! Reading Notion over HTTP: block children with their pagination and
//! nested children, a database's first data source and its rows, each
//! request through the rate limit, `HttpClient::send_json` and the one retry
//! loop (`resilience::retrying`), and failures in terms a person can act on.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use halcytone_core::http::HttpResponse;
use halcytone_core::prelude::*;
use halcytone_core::resilience::retrying;
use halcytone_core::source::SourceError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::NotionSource;
use crate::database::{DatabaseObject, Row, RowPage};
use crate::parse::Block;

/// The name the HTTP client uses for Notion in its errors.
const SERVICE: Service = Service::from_static("notion");

/// Notion's largest page of results.
const PAGE_SIZE: u32 = 100;

/// Blocks nested deeper than this are refused rather than followed forever.
const MAX_DEPTH: usize = 32;

/// The Notion object a request reads, to name it in messages.
#[derive(Debug, Clone)]
pub(crate) enum Object {
    /// The configured page.
    Page(String),
    /// A block inside a page.
    Block(String),
    /// The configured database.
    Database(String),
    /// The database's data source.
    DataSource(String),
    /// The page of one database row.
    Row(String),
    /// The token's own bot user, read by the pre-flight check.
    BotUser,
}

impl fmt::Display for Object {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Page(id) => write!(formatter, "page {id}"),
            Self::Block(id) => write!(formatter, "block {id}"),
            Self::Database(id) => write!(formatter, "database {id}"),
            Self::DataSource(id) => write!(formatter, "data source {id}"),
            Self::Row(id) => write!(formatter, "row page {id}"),
            Self::BotUser => write!(formatter, "the token's bot user (GET /v1/users/me)"),
        }
    }
}

/// One page of a paginated list.
#[derive(Debug, Deserialize)]
struct List<T> {
    object: String,
    #[serde(default = "Vec::new")]
    results: Vec<T>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// The fields of a Notion error body used in messages.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: Option<String>,
}

/// The error class of a Notion response that is not a success: the shared
/// classes (429 rate limited with `Retry-After`, 408 and 5xx such as 529
/// `service_overload` transient, the rest permanent), with Notion's error
/// code put before its message.
fn classify(response: &HttpResponse) -> PublishError {
    match classify_status(&SERVICE, response, SystemTime::now()) {
        PublishError::Permanent {
            service,
            status,
            message,
        } => {
            let code = serde_json::from_str::<ErrorBody>(&response.body)
                .ok()
                .and_then(|body| body.code);
            let message = match code {
                Some(code) if !message.starts_with(&code) => format!("{code}: {message}"),
                _ => message,
            };
            PublishError::Permanent {
                service,
                status,
                message,
            }
        }
        other => other,
    }
}

impl NotionSource {
    /// Whether no token (or a blank one) is configured.
    pub(crate) fn token_missing(&self) -> bool {
        self.config
            .token
            .as_ref()
            .is_none_or(|token| token.expose().trim().is_empty())
    }

    /// The message when no token is configured.
    pub(crate) fn missing_token(&self) -> SourceError {
        self.unavailable(
            "no Notion token is configured: set HALCYTONE__SOURCE__TOKEN (or source.token) to \
             the integration's internal secret (ntn_…), and share the page with the integration"
                .to_owned(),
        )
    }

    /// When the page was last edited (`last_edited_time`, minute precision),
    /// or `None` when that cannot be read: change detection is then skipped,
    /// never the fetch.
    pub(crate) async fn page_edited(
        &self,
        id: &str,
        correlation_id: &str,
    ) -> Option<(String, jiff::Timestamp)> {
        #[derive(serde::Deserialize)]
        struct Page {
            last_edited_time: String,
        }
        let request =
            OutboundRequest::get(self.url(&["v1", "pages", id], &[]).ok()?, self.headers());
        let page: Page = self
            .call(&request, &Object::Page(id.to_owned()), correlation_id)
            .await
            .ok()?;
        let at = page.last_edited_time.parse().ok()?;
        Some((page.last_edited_time, at))
    }

    /// The integration the token belongs to (`GET /v1/users/me`), named as
    /// `name` of workspace `workspace` where Notion says them.
    pub(crate) async fn bot_user(&self) -> Result<String, SourceError> {
        #[derive(serde::Deserialize)]
        struct User {
            object: String,
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            bot: Option<Bot>,
        }
        #[derive(serde::Deserialize)]
        struct Bot {
            #[serde(default)]
            workspace_name: Option<String>,
        }
        if self.token_missing() {
            return Err(self.missing_token());
        }
        let request = OutboundRequest::get(self.url(&["v1", "users", "me"], &[])?, self.headers());
        let user: User = self
            .call(&request, &Object::BotUser, "notion-users-me")
            .await?;
        if user.object != "user" {
            return Err(self.unavailable(format!(
                "Notion's answer for {} is a `{}` object, not a `user`",
                Object::BotUser,
                user.object
            )));
        }
        let name = user.name.map_or_else(
            || "an unnamed integration".to_owned(),
            |name| format!("the integration `{name}`"),
        );
        Ok(match user.bot.and_then(|bot| bot.workspace_name) {
            Some(workspace) => format!("{name} of workspace `{workspace}`"),
            None => name,
        })
    }

    fn unavailable(&self, message: String) -> SourceError {
        SourceError::Unavailable {
            source_name: self.describe_target(),
            message,
        }
    }

    /// An absolute URL under the base URL: `segments` percent-encoded as path
    /// segments, then `query`.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<String, SourceError> {
        let base = self.config.base_url.as_str();
        let mut url = url::Url::parse(base)
            .map_err(|error| self.unavailable(format!("bad base_url `{base}`: {error}")))?;
        url.path_segments_mut()
            .map_err(|()| {
                self.unavailable(format!("bad base_url `{base}`: it cannot have a path"))
            })?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url.into())
    }

    fn headers(&self) -> Vec<(&'static str, HeaderValue)> {
        vec![
            (
                "authorization",
                HeaderValue::bearer(self.config.token.as_ref()),
            ),
            (
                "notion-version",
                HeaderValue::Plain(self.config.version.clone()),
            ),
        ]
    }

    /// Sends `request` (waiting for the rate limit before every attempt,
    /// retrying what may pass) and reads the answer as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        request: &OutboundRequest,
        object: &Object,
        correlation_id: &str,
    ) -> Result<T, SourceError> {
        let label = format!("Notion read of {object}");
        // Reads are idempotent: an unknown outcome is retried too.
        let response = retrying(&self.resilience, true, &label, || async {
            self.limiter.until_ready().await;
            let response = self.http.send(&SERVICE, request, correlation_id).await?;
            if is_success(response.status) {
                Ok(response)
            } else {
                Err(classify(&response))
            }
        })
        .await
        .map_err(|error| self.explain(&error, object))?;
        // The body is read outside the retry loop: an answer that is not JSON
        // (a proxy's HTML page) stays wrong, so it is reported at once.
        let value: Value = serde_json::from_str(&response.body).map_err(|error| {
            self.unavailable(format!(
                "Notion's answer for {object} is not JSON ({error})"
            ))
        })?;
        // The shape is checked outside the retry loop: a wrong shape stays wrong.
        serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            self.unavailable(format!(
                "Notion's answer for {object} is not what the API documents: at `{path}`: {}",
                error.into_inner()
            ))
        })
    }

    /// Why a request failed, and what to do about it.
    fn explain(&self, error: &PublishError, object: &Object) -> SourceError {
        let attempts = self.resilience.max_attempts;
        let check = match object {
            Object::Page(_) => " and check that source.page_id is the id in the page's URL",
            Object::Database(_) => {
                " and check that source.database_id is the id in the database's URL"
            }
            _ => "",
        };
        let message = match error {
            PublishError::Permanent {
                status: 401,
                message,
                ..
            } => format!(
                "Notion refused the token while reading {object} (401 {message}): the token is \
                 missing or invalid; set HALCYTONE__SOURCE__TOKEN to the integration's internal \
                 secret (ntn_…)"
            ),
            PublishError::Permanent {
                status: status @ (403 | 404),
                message,
                ..
            } if !matches!(object, Object::BotUser) => format!(
                "Notion cannot find {object}, or it is not shared with the integration ({status} \
                 {message}): open it in Notion, choose Share → Connections (or ••• → \
                 Connections) and add the integration{check}"
            ),
            PublishError::Permanent {
                status, message, ..
            } => format!(
                "Notion refused the request for {object} ({status} {message}); check \
                 source.version (`{}`)",
                self.config.version
            ),
            PublishError::RateLimited { retry_after, .. } => {
                let wait = retry_after
                    .map(|wait| format!(", the last asking to wait {}s", wait.as_secs()))
                    .unwrap_or_default();
                format!(
                    "Notion rate limited the reads of {object} through {attempts} attempts{wait}; \
                     fetch again later, or lower source.rate_limit (now {})",
                    self.config.rate_limit
                )
            }
            PublishError::Transient { message, .. } => format!(
                "Notion did not serve {object} through {attempts} attempts ({message}); try again \
                 later"
            ),
            PublishError::OutcomeUnknown { message, .. } => format!(
                "Notion's answer for {object} could not be read through {attempts} attempts: \
                 {message}"
            ),
            PublishError::NotConfigured { .. } => return self.missing_token(),
            other => format!("reading {object} failed: {other}"),
        };
        self.unavailable(message)
    }

    /// Every result of a paginated list: `request(cursor)` builds the request
    /// for the page that starts at `cursor`.
    async fn paginate<T: DeserializeOwned>(
        &self,
        object: &Object,
        correlation_id: &str,
        request: impl Fn(Option<&str>) -> Result<OutboundRequest, SourceError>,
    ) -> Result<Vec<T>, SourceError> {
        let mut results = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen = HashSet::new();
        loop {
            let page: List<T> = self
                .call(&request(cursor.as_deref())?, object, correlation_id)
                .await?;
            if page.object != "list" {
                return Err(self.unavailable(format!(
                    "Notion's answer for {object} is a `{}` object, not a `list`",
                    page.object
                )));
            }
            results.extend(page.results);
            if !page.has_more {
                return Ok(results);
            }
            match page.next_cursor {
                Some(next) if seen.insert(next.clone()) => cursor = Some(next),
                Some(next) => {
                    return Err(self.unavailable(format!(
                        "Notion's answer for {object} repeats the cursor `{next}`; the list \
                         cannot be read to its end"
                    )));
                }
                None => {
                    return Err(self.unavailable(format!(
                        "Notion's answer for {object} says has_more: true without a \
                         next_cursor; the list cannot be read to its end"
                    )));
                }
            }
        }
    }

    /// The children of block `id`, every page of them, with the children of
    /// each block that has some attached (recursively).
    pub(crate) fn block_tree<'a>(
        &'a self,
        object: Object,
        id: &'a str,
        depth: usize,
        correlation_id: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Block>, SourceError>> + Send + 'a>> {
        Box::pin(async move {
            let size = PAGE_SIZE.to_string();
            let mut blocks: Vec<Block> = self
                .paginate(&object, correlation_id, |cursor| {
                    let mut query = vec![("page_size", size.as_str())];
                    query.extend(cursor.map(|cursor| ("start_cursor", cursor)));
                    let url = self.url(&["v1", "blocks", id, "children"], &query)?;
                    Ok(OutboundRequest::get(url, self.headers()))
                })
                .await?;
            for block in &mut blocks {
                if !block.wants_children() {
                    continue;
                }
                if depth >= MAX_DEPTH {
                    return Err(self.unavailable(format!(
                        "block {} is nested more than {MAX_DEPTH} levels deep; flatten the page",
                        block.id
                    )));
                }
                let child = Object::Block(block.id.clone());
                block.children = self
                    .block_tree(child, &block.id, depth + 1, correlation_id)
                    .await?;
            }
            Ok(blocks)
        })
    }

    /// The database, its first data source's rows (every page of them), and
    /// each row's body blocks.
    pub(crate) async fn database(
        &self,
        id: &str,
        correlation_id: &str,
    ) -> Result<(DatabaseObject, Vec<Row>, Vec<String>), SourceError> {
        let object = Object::Database(id.to_owned());
        let url = self.url(&["v1", "databases", id], &[])?;
        let database: DatabaseObject = self
            .call(
                &OutboundRequest::get(url, self.headers()),
                &object,
                correlation_id,
            )
            .await?;
        if database.object != "database" {
            return Err(self.unavailable(format!(
                "Notion's answer for {object} is a `{}` object, not a `database`",
                database.object
            )));
        }
        let Some(source) = database.data_sources.first() else {
            return Err(self.unavailable(format!(
                "{object} lists no data source (`data_sources` is empty or missing); Notion-Version \
                 2025-09-03 or later lists them, and source.version is `{}`",
                self.config.version
            )));
        };
        let mut warnings = Vec::new();
        if database.data_sources.len() > 1 {
            warnings.push(format!(
                "the database has {} data sources; only the first, `{}` ({}), is read",
                database.data_sources.len(),
                source.name,
                source.id
            ));
        }
        let data_source = Object::DataSource(source.id.clone());
        let query_url = self.url(&["v1", "data_sources", &source.id, "query"], &[])?;
        let pages: Vec<RowPage> = self
            .paginate(&data_source, correlation_id, |cursor| {
                let mut body = json!({"page_size": PAGE_SIZE});
                if let Some(cursor) = cursor {
                    body["start_cursor"] = json!(cursor);
                }
                Ok(OutboundRequest::json_value(
                    Method::Post,
                    query_url.clone(),
                    self.headers(),
                    body,
                ))
            })
            .await?;
        let mut rows = Vec::with_capacity(pages.len());
        for page in pages {
            let body = if page.trashed() {
                Vec::new()
            } else {
                self.block_tree(Object::Row(page.id.clone()), &page.id, 0, correlation_id)
                    .await?
            };
            rows.push(Row { page, body });
        }
        Ok((database, rows, warnings))
    }
}
