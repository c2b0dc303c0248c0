//! The Google Docs living-document source.
//!
//! `[source] kind = "gdocs"` reads a Google Doc with `documents.get`,
//! authorised as a service account (a JSON key file: the crate signs the
//! RS256 assertion and exchanges it for an access token, kept until shortly
//! before it expires) or with a ready access token. [`parse_document`] turns
//! the response into the same living document the Markdown source produces
//! (see the crate README for the mapping). A document whose revision did not
//! change since the last fetch is not parsed again.
#![deny(missing_docs)]

mod auth;
pub mod parse;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use halcytone_core::document::{KnownChannels, ParsedDocument};
use halcytone_core::http::{HttpClient, HttpResponse};
use halcytone_core::prelude::*;
use halcytone_core::registry::SourceContext;
use halcytone_core::resilience::{ResilienceSettings, retrying};
use halcytone_core::source::{Source, SourceError};
use serde::Deserialize;
use tokio::sync::Mutex;

pub use parse::{parse_document, revision_id};

use crate::auth::{JWT_BEARER, ServiceAccount, TokenCache, TokenResponse};

/// The source kind.
pub const KIND: &str = "gdocs";

/// The name of the pre-flight check of the service account's key.
pub const CREDENTIALS_CHECK: &str = "gdocs.credentials";

/// The name the HTTP client uses for this source in its errors.
const SERVICE: Service = Service::from_static("gdocs");

/// The `[source]` table for Google Docs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GdocsConfig {
    /// The document id from the document's URL.
    pub document_id: String,
    /// A service-account JSON key file; the document must be shared with its `client_email`.
    pub credentials_file: Option<PathBuf>,
    /// A ready OAuth access token, instead of a key file.
    pub access_token: Option<SecretString>,
    /// The Docs API.
    #[serde(default = "default_docs_url")]
    pub base_url: BaseUrl,
    /// The Drive API, asked for the document's version when `revisionId` is hidden.
    #[serde(default = "default_drive_url")]
    pub drive_base_url: BaseUrl,
    /// Overrides the key file's `token_uri`.
    pub token_url: Option<String>,
}

fn default_docs_url() -> BaseUrl {
    BaseUrl::from_static("https://docs.googleapis.com")
}

fn default_drive_url() -> BaseUrl {
    BaseUrl::from_static("https://www.googleapis.com")
}

/// How the source is authorised.
#[derive(Debug)]
enum Credentials {
    ServiceAccount(ServiceAccount),
    Token(SecretString),
}

/// Reads a Google Doc.
#[derive(Debug)]
pub struct GdocsSource {
    config: GdocsConfig,
    credentials: Credentials,
    http: HttpClient,
    resilience: ResilienceSettings,
    tokens: TokenCache,
    /// The last revision read and its parse.
    last: Mutex<Option<(String, Arc<ParsedDocument>)>>,
}

/// Why a request failed, in terms a person can act on.
fn unavailable(source: &GdocsSource, message: String) -> SourceError {
    SourceError::Unavailable {
        source_name: source.describe(),
        message,
    }
}

impl GdocsSource {
    /// Makes the source; reads and checks the key file now, so a bad one is
    /// a configuration error at start.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the `[source]` key at fault.
    pub fn new(config: GdocsConfig, context: &SourceContext) -> Result<Self, ConfigError> {
        let credentials = match (&config.credentials_file, &config.access_token) {
            (Some(path), None) => Credentials::ServiceAccount(
                ServiceAccount::from_file(path)?.with_token_uri(config.token_url.clone()),
            ),
            (None, Some(token)) => Credentials::Token(token.clone()),
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "source",
                    "set credentials_file or access_token, not both",
                ));
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "source.credentials_file",
                    "is required for kind = \"gdocs\": a service-account JSON key (or set source.access_token)",
                ));
            }
        };
        Ok(Self {
            config,
            credentials,
            http: context.http.clone(),
            resilience: context.resilience.clone(),
            tokens: TokenCache::default(),
            last: Mutex::new(None),
        })
    }

    /// An access token: the configured one, the cached one, or a new one.
    async fn token(&self, correlation_id: &str) -> Result<SecretString, SourceError> {
        let account = match &self.credentials {
            Credentials::Token(token) => return Ok(token.clone()),
            Credentials::ServiceAccount(account) => account,
        };
        if let Some(token) = self.tokens.get().await {
            return Ok(token);
        }
        let assertion = account
            .assertion(SystemTime::now())
            .map_err(|message| unavailable(self, message))?;
        let fields = [
            ("grant_type", JWT_BEARER),
            ("assertion", assertion.as_str()),
        ];
        let response = retrying(&self.resilience, true, "Google token exchange", || {
            self.send_token_request(&account.token_uri, &fields, correlation_id)
        })
        .await
        .map_err(|error| unavailable(self, format!("the token exchange failed: {error}")))?;
        let response: TokenResponse = serde_json::from_str(&response.body).map_err(|error| {
            unavailable(
                self,
                format!("the token endpoint answered without an access token ({error})"),
            )
        })?;
        Ok(self.tokens.set(&response).await)
    }

    async fn send_token_request(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        correlation_id: &str,
    ) -> Result<HttpResponse, PublishError> {
        let response = self
            .http
            .send_form(&SERVICE, url, fields, correlation_id)
            .await?;
        if is_success(response.status) {
            return Ok(response);
        }
        // A refused key (`invalid_grant`) will be refused again: only 429 and 5xx retry.
        Err(classify_status(&SERVICE, &response, SystemTime::now()))
    }

    /// GETs `url` with the token, retrying transient failures.
    async fn get(
        &self,
        url: String,
        token: &SecretString,
        correlation_id: &str,
    ) -> Result<HttpResponse, PublishError> {
        let request = OutboundRequest::get(
            url,
            vec![("authorization", HeaderValue::bearer(Some(token)))],
        );
        retrying(&self.resilience, true, "Google Docs read", || async {
            let response = self.http.send(&SERVICE, &request, correlation_id).await?;
            if is_success(response.status) {
                Ok(response)
            } else {
                Err(classify_status(&SERVICE, &response, SystemTime::now()))
            }
        })
        .await
    }

    /// Explains a refused read: who must share the document, or which
    /// credential to check.
    fn explain(&self, error: &PublishError) -> String {
        let shared_with = match &self.credentials {
            Credentials::ServiceAccount(account) => format!("with {}", account.client_email),
            Credentials::Token(_) => "with the account of source.access_token".to_owned(),
        };
        match error {
            PublishError::Permanent {
                status: 401,
                message,
                ..
            } => {
                format!(
                    "the credentials were refused ({message}); check source.credentials_file or source.access_token"
                )
            }
            PublishError::Permanent {
                status: 403 | 404,
                message,
                ..
            } => format!(
                "the document is missing or not shared {shared_with} ({message}); share it (Viewer is enough) and check source.document_id"
            ),
            PublishError::RateLimited { .. } => {
                format!("{error}; Google's read quota is 300 requests a minute per user")
            }
            other => other.to_string(),
        }
    }

    /// The document's version: `revisionId` when the account may see it
    /// (editors), else Drive's `version` (viewers), else unknown.
    async fn revision(
        &self,
        body: &str,
        token: &SecretString,
        correlation_id: &str,
    ) -> Option<String> {
        if let Some(revision) = revision_id(body) {
            return Some(format!("revision:{revision}"));
        }
        let url = format!(
            "{}?fields=version,modifiedTime",
            self.config
                .drive_base_url
                .join(&format!("/drive/v3/files/{}", self.config.document_id))
        );
        #[derive(Deserialize)]
        struct DriveFile {
            version: String,
        }
        let response = self.get(url, token, correlation_id).await.ok()?;
        let file: DriveFile = serde_json::from_str(&response.body).ok()?;
        Some(format!("drive-version:{}", file.version))
    }
}

#[async_trait]
impl Source for GdocsSource {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn describe(&self) -> String {
        format!("Google Doc {}", self.config.document_id)
    }

    async fn fetch(
        &self,
        known_channels: &KnownChannels,
    ) -> Result<Arc<ParsedDocument>, SourceError> {
        let correlation_id = format!("gdocs-{}", self.config.document_id);
        let token = self.token(&correlation_id).await?;
        let url = self
            .config
            .base_url
            .join(&format!("/v1/documents/{}", self.config.document_id));
        let response = match self.get(url.clone(), &token, &correlation_id).await {
            Err(PublishError::Permanent { status: 401, .. })
                if matches!(self.credentials, Credentials::ServiceAccount(_)) =>
            {
                // The cached token was revoked or expired early: mint a new one once.
                self.tokens.clear().await;
                let token = self.token(&correlation_id).await?;
                self.get(url, &token, &correlation_id).await
            }
            other => other,
        }
        .map_err(|error| unavailable(self, self.explain(&error)))?;
        let revision = self.revision(&response.body, &token, &correlation_id).await;
        let mut last = self.last.lock().await;
        if let Some((_, parsed)) = last
            .as_ref()
            .filter(|(seen, _)| Some(seen) == revision.as_ref())
        {
            return Ok(Arc::clone(parsed));
        }
        let parsed = Arc::new(parse_document(
            &self.describe(),
            &response.body,
            known_channels,
        )?);
        // Without a known version every fetch parses again.
        *last = revision.map(|revision| (revision, Arc::clone(&parsed)));
        Ok(parsed)
    }

    /// A service account's key is exchanged afresh (a cached token would
    /// hide a key revoked since); a ready access token is checked by the
    /// document read alone, as Google has no cheaper call that proves it.
    async fn preflight(&self) -> Vec<Check> {
        let Credentials::ServiceAccount(account) = &self.credentials else {
            return Vec::new();
        };
        self.tokens.clear().await;
        let correlation_id = format!("gdocs-preflight-{}", self.config.document_id);
        vec![match self.token(&correlation_id).await {
            Ok(_) => Check::pass(
                CREDENTIALS_CHECK,
                format!(
                    "the key of {} was exchanged for an access token at {}",
                    account.client_email, account.token_uri
                ),
            ),
            Err(error) => Check::fail(CREDENTIALS_CHECK, error.to_string()),
        }]
    }
}

/// Registers the Google Docs source.
pub fn register<T: Table>(registry: &mut Registry<T>) {
    registry.add_source(KIND, |config: GdocsConfig, context| {
        Ok(Arc::new(GdocsSource::new(config, context)?))
    });
}
