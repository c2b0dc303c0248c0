//! `LinkedinConfig`: the `[channels.linkedin]` table.

use halcytone_core::prelude::*;
use serde::{Deserialize, Serialize};

/// Who may see a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Visibility {
    /// Anyone.
    #[default]
    Public,
    /// First-degree connections (person authors only).
    Connections,
    /// Signed-in members.
    LoggedIn,
}

/// The `[channels.linkedin]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkedinConfig {
    /// The API base URL.
    #[serde(default = "default_base_url")]
    pub base_url: BaseUrl,
    /// A 3-legged member access token.
    pub access_token: Option<SecretString>,
    /// `urn:li:organization:…` or `urn:li:person:…`.
    pub author_urn: Option<String>,
    /// The `LinkedIn-Version` header, `YYYYMM`.
    #[serde(default = "default_version")]
    pub version: String,
    /// Who may see the posts.
    #[serde(default)]
    pub visibility: Visibility,
    /// When the access token expires (RFC 3339), for the pre-flight check:
    /// LinkedIn's member tokens last 60 days.
    #[serde(default)]
    pub access_token_expires_at: Option<jiff::Timestamp>,
}

fn default_base_url() -> BaseUrl {
    BaseUrl::from_static("https://api.linkedin.com")
}

fn default_version() -> String {
    "202608".to_owned()
}

impl Default for LinkedinConfig {
    fn default() -> Self {
        Self {
            base_url: default_base_url(),
            access_token: None,
            author_urn: None,
            version: default_version(),
            visibility: Visibility::Public,
            access_token_expires_at: None,
        }
    }
}

impl LinkedinConfig {
    /// Checks the values serde cannot: the URN and version forms.
    ///
    /// # Errors
    /// Returns a [`ConfigError`] naming the key under `table`.
    pub fn check(&self, table: &str) -> Result<(), ConfigError> {
        if let Some(urn) = &self.author_urn {
            let valid = ["urn:li:organization:", "urn:li:person:"]
                .iter()
                .any(|prefix| urn.strip_prefix(prefix).is_some_and(|id| !id.is_empty()));
            if !valid {
                return Err(ConfigError::new(
                    format!("{table}.author_urn"),
                    format!("`{urn}` is not urn:li:organization:<id> or urn:li:person:<id>"),
                ));
            }
        }
        let version_ok = self.version.len() == 6
            && self
                .version
                .chars()
                .all(|character| character.is_ascii_digit())
            && (1..=12).contains(&self.version[4..].parse::<u8>().unwrap_or(0));
        if !version_ok {
            return Err(ConfigError::new(
                format!("{table}.version"),
                format!(
                    "`{}` is not a LinkedIn-Version of the form YYYYMM",
                    self.version
                ),
            ));
        }
        Ok(())
    }
}
