//! `EmailConfig`: the `[channels.email]` table.

use std::collections::BTreeMap;
use std::fmt;

use halcytone_core::prelude::*;
use serde::Deserialize;

/// The newsletter system the channel sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The CRM's bulk newsletter endpoint.
    #[default]
    Crm,
    /// A self-hosted listmonk: a campaign, then its schedule.
    Listmonk,
}

impl fmt::Display for Backend {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Crm => "crm",
            Self::Listmonk => "listmonk",
        })
    }
}

/// The `[channels.email]` configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Which newsletter system.
    #[serde(default)]
    pub backend: Backend,
    /// The base URL of the CRM or of the listmonk installation.
    pub base_url: Option<BaseUrl>,
    /// The CRM API key, or the listmonk API user's token.
    pub api_key: Option<SecretString>,
    /// CRM only: the mailing list the newsletter goes to.
    pub list_id: Option<String>,
    /// listmonk only: the API user the token belongs to.
    pub username: Option<String>,
    /// listmonk only: the ids of the lists the campaign goes to.
    #[serde(default, deserialize_with = "one_or_many")]
    pub list_ids: Vec<u64>,
    /// listmonk only: the sender (`Name <address>`); listmonk's default when unset.
    pub from_email: Option<String>,
    /// listmonk only: the campaign template; listmonk's default when unset.
    pub template_id: Option<u64>,
    /// The opening line of every newsletter; the `email/intro` template
    /// (in the newsletter's language) when unset.
    pub intro: Option<String>,
    /// How many items follow the featured one.
    #[serde(default = "default_more_items")]
    pub more_items: usize,
    /// Tags sent with every newsletter.
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,
    /// Each language's own audience and opening line, by BCP 47 code
    /// (`[channels.email.locales.de] list_id = "newsletter-de"`).
    #[serde(default)]
    pub locales: BTreeMap<String, EmailLocale>,
}

/// A language's newsletter: where it goes, and how it opens. What it
/// leaves unset is the channel's own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailLocale {
    /// CRM only: the mailing list.
    pub list_id: Option<String>,
    /// listmonk only: the lists.
    #[serde(default, deserialize_with = "one_or_many")]
    pub list_ids: Vec<u64>,
    /// The opening line.
    pub intro: Option<String>,
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
            username: None,
            list_ids: Vec::new(),
            from_email: None,
            template_id: None,
            intro: None,
            more_items: default_more_items(),
            tags: default_tags(),
            locales: BTreeMap::new(),
        }
    }
}

impl EmailConfig {
    /// Checks the values serde cannot: a key of the other backend is an
    /// error rather than silently ignored.
    ///
    /// # Errors
    /// Returns a [`ConfigError`] naming the key under `table`.
    pub fn check(&self, table: &str) -> Result<(), ConfigError> {
        let (other, mut keys): (Backend, Vec<(String, bool)>) = match self.backend {
            Backend::Crm => (
                Backend::Listmonk,
                vec![
                    ("username".to_owned(), self.username.is_some()),
                    ("list_ids".to_owned(), !self.list_ids.is_empty()),
                    ("from_email".to_owned(), self.from_email.is_some()),
                    ("template_id".to_owned(), self.template_id.is_some()),
                ],
            ),
            Backend::Listmonk => (
                Backend::Crm,
                vec![("list_id".to_owned(), self.list_id.is_some())],
            ),
        };
        for (code, locale) in &self.locales {
            Locale::parse(code).map_err(|error| {
                ConfigError::new(format!("{table}.locales.{code}"), error.to_string())
            })?;
            keys.push((
                format!(
                    "locales.{code}.{}",
                    if self.backend == Backend::Crm {
                        "list_ids"
                    } else {
                        "list_id"
                    }
                ),
                if self.backend == Backend::Crm {
                    !locale.list_ids.is_empty()
                } else {
                    locale.list_id.is_some()
                },
            ));
            if locale.list_ids.contains(&0) {
                return Err(ConfigError::new(
                    format!("{table}.locales.{code}.list_ids"),
                    "listmonk list ids start at 1",
                ));
            }
        }
        if let Some((key, _)) = keys.into_iter().find(|(_, set)| *set) {
            return Err(ConfigError::new(
                format!("{table}.{key}"),
                format!(
                    "is read only by backend = \"{other}\", and this channel has backend = \"{}\"",
                    self.backend
                ),
            ));
        }
        if self.list_ids.contains(&0) {
            return Err(ConfigError::new(
                format!("{table}.list_ids"),
                "listmonk list ids start at 1",
            ));
        }
        Ok(())
    }
}

/// Where a newsletter goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Audience<'a> {
    /// CRM: the mailing list.
    pub(crate) list_id: &'a Option<String>,
    /// listmonk: the lists.
    pub(crate) list_ids: &'a [u64],
}

impl EmailConfig {
    /// The audience of a newsletter in `locale` (an entry of `locales`):
    /// that entry's lists, each the channel's own where it sets none.
    pub(crate) fn audience(&self, locale: Option<&str>) -> Audience<'_> {
        let entry = locale.and_then(|code| self.locales.get(code));
        Audience {
            list_id: match entry {
                Some(EmailLocale {
                    list_id: list_id @ Some(_),
                    ..
                }) => list_id,
                _ => &self.list_id,
            },
            list_ids: match entry {
                Some(entry) if !entry.list_ids.is_empty() => &entry.list_ids,
                _ => &self.list_ids,
            },
        }
    }
}

/// A list, or one value alone: `HALCYTONE__CHANNELS__EMAIL__LIST_IDS=3` arrives
/// as a number, `3,7` as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(u64),
        Many(Vec<u64>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(id) => vec![id],
        OneOrMany::Many(ids) => ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: serde_json::Value) -> Result<EmailConfig, String> {
        serde_json::from_value(value).map_err(|error| error.to_string())
    }

    #[test]
    fn the_listmonk_keys_are_read() {
        let config = parse(serde_json::json!({
            "backend": "listmonk", "base_url": "https://lists.example.com/",
            "username": "halcytone", "api_key": "token-1", "list_ids": [3, 4],
            "from_email": "Breathscape <news@halcytone.example>", "template_id": 2,
        }))
        .unwrap();
        assert_eq!(config.backend, Backend::Listmonk);
        assert_eq!(config.list_ids, [3, 4]);
        assert_eq!(config.template_id, Some(2));
        config.check("channels.email").unwrap();
        assert!(
            parse(serde_json::json!({"backend": "listmonk", "list_ids": "3"})).is_err(),
            "list_ids is an array of integers"
        );
        assert!(parse(serde_json::json!({"backend": "mailchimp"})).is_err());
        assert!(parse(serde_json::json!({"lists": [1]})).is_err());
    }

    #[test]
    fn keys_of_the_other_backend_are_refused() {
        let listmonk_key = parse(serde_json::json!({"list_ids": [3]})).unwrap();
        assert_eq!(
            listmonk_key
                .check("channels.email")
                .unwrap_err()
                .to_string(),
            "channels.email.list_ids: is read only by backend = \"listmonk\", and this channel has backend = \"crm\""
        );
        let crm_key =
            parse(serde_json::json!({"backend": "listmonk", "list_id": "newsletter-main"}))
                .unwrap();
        assert_eq!(
            crm_key.check("channels.email").unwrap_err().to_string(),
            "channels.email.list_id: is read only by backend = \"crm\", and this channel has backend = \"listmonk\""
        );
        let zero = parse(serde_json::json!({"backend": "listmonk", "list_ids": [0]})).unwrap();
        assert!(zero.check("channels.email").is_err());
        EmailConfig::default().check("channels.email").unwrap();
    }
}
