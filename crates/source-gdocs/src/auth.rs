//! Google service-account authorisation (OAuth 2.0 JWT bearer, RFC 7523):
//! sign a short-lived RS256 assertion with the account's key, exchange it at
//! the token endpoint, and keep the access token until shortly before it expires.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use halcytone_core::error::ConfigError;
use halcytone_core::secret::SecretString;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// The read-only scopes: the document itself, and Drive metadata for its
/// version when the account cannot see `revisionId` (viewer access).
pub(crate) const SCOPES: &str = "https://www.googleapis.com/auth/documents.readonly https://www.googleapis.com/auth/drive.readonly";

/// The grant type of a JWT bearer assertion.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An assertion lives at most an hour; Google refuses longer ones.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

/// Tokens are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// The fields of a service-account JSON key file that signing needs.
#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    token_uri: String,
}

/// A service account: who it is and its signing key.
pub(crate) struct ServiceAccount {
    /// The account's address; documents must be shared with it.
    pub(crate) client_email: String,
    key: EncodingKey,
    key_id: Option<String>,
    /// Where assertions are exchanged.
    pub(crate) token_uri: String,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl ServiceAccount {
    /// Reads a JSON key file as Google Cloud gives it.
    ///
    /// # Errors
    /// A [`ConfigError`] on `source.credentials_file` naming what is wrong.
    pub(crate) fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let error = |message: String| ConfigError::new("source.credentials_file", message);
        let text = std::fs::read_to_string(path)
            .map_err(|io| error(format!("cannot read {}: {io}", path.display())))?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|parse| {
            error(format!(
                "{} is not a service-account JSON key ({parse})",
                path.display()
            ))
        })?;
        let key = EncodingKey::from_rsa_pem(file.private_key.as_bytes()).map_err(|key| {
            error(format!(
                "the private_key in {} is not an RSA PEM key ({key})",
                path.display()
            ))
        })?;
        Ok(Self {
            client_email: file.client_email,
            key,
            key_id: file.private_key_id,
            token_uri: file.token_uri,
        })
    }

    /// Overrides the token endpoint (a test server, or a private endpoint).
    pub(crate) fn with_token_uri(mut self, token_uri: Option<String>) -> Self {
        if let Some(token_uri) = token_uri {
            self.token_uri = token_uri;
        }
        self
    }

    /// A signed assertion valid for an hour from `now`.
    pub(crate) fn assertion(&self, now: SystemTime) -> Result<String, String> {
        let issued = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|error| error.to_string())?
            .as_secs();
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPES,
            aud: &self.token_uri,
            iat: issued,
            exp: issued + ASSERTION_LIFETIME.as_secs(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key_id);
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|error| format!("cannot sign the assertion: {error}"))
    }
}

/// The token endpoint's answer.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
}

/// An access token and when to renew it.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    current: Mutex<Option<(SecretString, Instant)>>,
}

impl TokenCache {
    /// The cached token, unless it is due for renewal.
    pub(crate) async fn get(&self) -> Option<SecretString> {
        let current = self.current.lock().await;
        current
            .as_ref()
            .filter(|(_, renew_at)| Instant::now() < *renew_at)
            .map(|(token, _)| token.clone())
    }

    /// Keeps a fresh token.
    pub(crate) async fn set(&self, response: &TokenResponse) -> SecretString {
        let token = SecretString::new(response.access_token.clone());
        let lifetime = Duration::from_secs(response.expires_in).saturating_sub(RENEW_BEFORE);
        *self.current.lock().await = Some((token.clone(), Instant::now() + lifetime));
        token
    }

    /// Forgets the token (the API refused it).
    pub(crate) async fn clear(&self) {
        *self.current.lock().await = None;
    }
}
