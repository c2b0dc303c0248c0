//! `EmailConfig`: the `[channels.email]` table.

use halcytone_core::prelude::*;
use serde::Deserialize;

/// The newsletter system the channel sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The CRM's bulk newsletter endpoint.
    #[default]
    Crm,
}

/// The `[channels.email]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Which newsletter system.
    #[serde(default)]
    pub backend: Backend,
    /// The CRM's base URL.
    pub base_url: Option<BaseUrl>,
    /// The CRM API key.
    pub api_key: Option<SecretString>,
    /// The mailing list the newsletter goes to.
    pub list_id: Option<String>,
    /// The opening line of every newsletter.
    #[serde(default = "default_intro")]
    pub intro: String,
    /// How many items follow the featured one.
    #[serde(default = "default_more_items")]
    pub more_items: usize,
    /// Tags sent with every newsletter.
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,
}

fn default_intro() -> String {
    "Here is what we have been breathing about this week.".to_owned()
}

fn default_more_items() -> usize {
    5
}

fn default_tags() -> Vec<String> {
    vec!["breathscape".to_owned(), "weekly".to_owned()]
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Crm,
            base_url: None,
            api_key: None,
            list_id: None,
            intro: default_intro(),
            more_items: default_more_items(),
            tags: default_tags(),
        }
    }
}
