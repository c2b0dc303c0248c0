//! `WebConfig`: the `[channels.web]` table.

use halcytone_core::prelude::*;
use serde::Deserialize;

/// The website system the channel sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The Platform API's content endpoint.
    #[default]
    Platform,
}

/// The `[channels.web]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Which website system.
    #[serde(default)]
    pub backend: Backend,
    /// The Platform's base URL.
    pub base_url: Option<BaseUrl>,
    /// The Platform API key.
    pub api_key: Option<SecretString>,
    /// The Platform content type of every post.
    #[serde(default = "default_content_type")]
    pub content_type: String,
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
        }
    }
}
