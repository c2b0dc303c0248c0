//! `WebConfig`: the `[channels.web]` table.

use std::fmt;

use halcytone_core::prelude::*;
use serde::{Deserialize, Serialize};

/// The website system the channel sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The Platform API's content endpoint.
    #[default]
    Platform,
    /// A WordPress site's REST API.
    Wordpress,
}

impl fmt::Display for Backend {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Platform => "platform",
            Self::Wordpress => "wordpress",
        })
    }
}

/// The status WordPress gives a created post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordPressStatus {
    /// Published at its date (`date_gmt`), the default.
    #[default]
    Future,
    /// Published now (WordPress turns it into `future` when the date is ahead).
    Publish,
    /// A draft for an editor.
    Draft,
    /// Waiting for review.
    Pending,
    /// Visible to editors only.
    Private,
}

/// The `[channels.web]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Which website system.
    #[serde(default)]
    pub backend: Backend,
    /// The Platform's base URL, or the WordPress site's.
    pub base_url: Option<BaseUrl>,
    /// Platform only: the API key.
    pub api_key: Option<SecretString>,
    /// Platform only: the content type of every post.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// WordPress only: the user the application password belongs to.
    pub username: Option<String>,
    /// WordPress only: an application password of `username`.
    pub application_password: Option<SecretString>,
    /// WordPress only: the status of created posts (`future` when unset).
    pub status: Option<WordPressStatus>,
}

fn default_content_type() -> String {
    "article".to_owned()
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Platform,
            base_url: None,
            api_key: None,
            content_type: default_content_type(),
            username: None,
            application_password: None,
            status: None,
        }
    }
}

impl WebConfig {
    /// Checks the values serde cannot: a key of the other backend is an
    /// error rather than silently ignored.
    ///
    /// # Errors
    /// Returns a [`ConfigError`] naming the key under `table`.
    pub fn check(&self, table: &str) -> Result<(), ConfigError> {
        let (other, keys): (Backend, Vec<(&str, bool)>) = match self.backend {
            Backend::Platform => (
                Backend::Wordpress,
                vec![
                    ("username", self.username.is_some()),
                    ("application_password", self.application_password.is_some()),
                    ("status", self.status.is_some()),
                ],
            ),
            Backend::Wordpress => (
                Backend::Platform,
                vec![
                    ("api_key", self.api_key.is_some()),
                    ("content_type", self.content_type != default_content_type()),
                ],
            ),
        };
        match keys.into_iter().find(|(_, set)| *set) {
            Some((key, _)) => Err(ConfigError::new(
                format!("{table}.{key}"),
                format!(
                    "is read only by backend = \"{other}\", and this channel has backend = \"{}\"",
                    self.backend
                ),
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: serde_json::Value) -> Result<WebConfig, String> {
        serde_json::from_value(value).map_err(|error| error.to_string())
    }

    #[test]
    fn the_wordpress_keys_are_read() {
        let config = parse(serde_json::json!({
            "backend": "wordpress", "base_url": "https://blog.example.com",
            "username": "halcytone", "application_password": "abcd efgh ijkl mnop qrst uvwx",
        }))
        .unwrap();
        assert_eq!(config.backend, Backend::Wordpress);
        assert_eq!(config.status, None);
        config.check("channels.web").unwrap();
        let draft = parse(serde_json::json!({"backend": "wordpress", "status": "draft"})).unwrap();
        assert_eq!(draft.status, Some(WordPressStatus::Draft));
        assert!(parse(serde_json::json!({"backend": "wordpress", "status": "scheduled"})).is_err());
        assert!(parse(serde_json::json!({"backend": "ghost"})).is_err());
        assert!(parse(serde_json::json!({"password": "x"})).is_err());
    }

    #[test]
    fn keys_of_the_other_backend_are_refused() {
        let wordpress_key = parse(serde_json::json!({"username": "halcytone"})).unwrap();
        assert_eq!(
            wordpress_key.check("channels.web").unwrap_err().to_string(),
            "channels.web.username: is read only by backend = \"wordpress\", and this channel has backend = \"platform\""
        );
        let platform_key =
            parse(serde_json::json!({"backend": "wordpress", "api_key": "k"})).unwrap();
        assert_eq!(
            platform_key.check("channels.web").unwrap_err().to_string(),
            "channels.web.api_key: is read only by backend = \"platform\", and this channel has backend = \"wordpress\""
        );
        WebConfig::default().check("channels.web").unwrap();
    }
}
