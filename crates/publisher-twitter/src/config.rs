//! `TwitterConfig`: the `[channels.twitter]` table.

use halcytone_core::prelude::*;
use serde::Deserialize;

/// What to do with a post longer than 280 weighted characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LongPosts {
    /// Split it into a thread.
    #[default]
    Thread,
    /// Cut it on a word boundary.
    Truncate,
}

/// The `[channels.twitter]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwitterConfig {
    /// The API base URL.
    #[serde(default = "default_base_url")]
    pub base_url: BaseUrl,
    /// An OAuth 2.0 user-context access token.
    pub bearer_token: Option<SecretString>,
    /// OAuth 1.0a consumer key.
    pub consumer_key: Option<SecretString>,
    /// OAuth 1.0a consumer secret.
    pub consumer_secret: Option<SecretString>,
    /// OAuth 1.0a access token.
    pub access_token: Option<SecretString>,
    /// OAuth 1.0a access token secret.
    pub access_token_secret: Option<SecretString>,
    /// Thread or truncate long posts.
    #[serde(default)]
    pub long_posts: LongPosts,
    /// The most parts a thread may have.
    #[serde(default = "default_max_thread_parts")]
    pub max_thread_parts: usize,
}

fn default_base_url() -> BaseUrl {
    BaseUrl::from_static("https://api.x.com")
}

fn default_max_thread_parts() -> usize {
    4
}

impl Default for TwitterConfig {
    fn default() -> Self {
        Self {
            base_url: default_base_url(),
            bearer_token: None,
            consumer_key: None,
            consumer_secret: None,
            access_token: None,
            access_token_secret: None,
            long_posts: LongPosts::Thread,
            max_thread_parts: default_max_thread_parts(),
        }
    }
}

impl TwitterConfig {
    /// Whether all four OAuth 1.0a credentials are set.
    pub fn has_oauth1(&self) -> bool {
        self.consumer_key.is_some()
            && self.consumer_secret.is_some()
            && self.access_token.is_some()
            && self.access_token_secret.is_some()
    }

    /// Checks the values serde cannot.
    ///
    /// # Errors
    /// Returns a [`ConfigError`] naming the key under `table`.
    pub fn check(&self, table: &str) -> Result<(), ConfigError> {
        if !(1..=25).contains(&self.max_thread_parts) {
            return Err(ConfigError::new(
                format!("{table}.max_thread_parts"),
                format!("{} is not between 1 and 25", self.max_thread_parts),
            ));
        }
        let oauth1_keys = [
            &self.consumer_key,
            &self.consumer_secret,
            &self.access_token,
            &self.access_token_secret,
        ];
        let set = oauth1_keys.iter().filter(|key| key.is_some()).count();
        if set != 0 && set != 4 {
            return Err(ConfigError::new(
                table.to_owned(),
                "OAuth 1.0a needs all four of consumer_key, consumer_secret, access_token and access_token_secret",
            ));
        }
        Ok(())
    }
}
