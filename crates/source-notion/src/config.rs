//! `NotionConfig`: the `[source]` table of `kind = "notion"`, and the checks
//! serde cannot make (exactly one of `page_id` and `database_id`, the form
//! of a Notion id).

use std::time::Duration;

use halcytone_core::prelude::*;
use halcytone_core::resilience::RateLimit;
use serde::{Deserialize, Deserializer};

/// The `[source]` table for Notion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotionConfig {
    /// The page to read: its id, or its URL (the id is its last 32 hex digits).
    #[serde(default)]
    pub page_id: Option<String>,
    /// The database (content calendar) to read instead of a page.
    #[serde(default)]
    pub database_id: Option<String>,
    /// The integration's internal secret (`ntn_…`); normally set through
    /// `HALCYTONE__SOURCE__TOKEN`.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// The API; tests point it at a mock server.
    #[serde(default = "default_base_url")]
    pub base_url: BaseUrl,
    /// The `Notion-Version` header.
    #[serde(default = "default_version")]
    pub version: String,
    /// At most this many requests in this long, as `3/1s` (Notion's average).
    #[serde(
        default = "default_rate_limit",
        deserialize_with = "deserialize_rate_limit"
    )]
    pub rate_limit: RateLimit,
    /// Which database properties hold each item field.
    #[serde(default)]
    pub properties: PropertyNames,
}

/// The names of the database properties read for each row (`[source.properties]`).
///
/// An empty name means "do not read this field".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PropertyNames {
    /// The title property: the item title. When no property has this name,
    /// the data source's one `title` property is used.
    pub title: String,
    /// A select (or status, or text) property: the item's section.
    pub section: String,
    /// A multi-select: the `Channels:` line (empty = every channel).
    pub channels: String,
    /// A date: the `Date:` line.
    pub date: String,
    /// A select: the `Priority:` line (high, normal, low).
    pub priority: String,
    /// A multi-select: the `Tags:` line.
    pub tags: String,
    /// A URL property: the `Link:` line.
    pub link: String,
    /// A multi-select: the `Segments:` line (newsletter segments); not
    /// read unless named.
    pub segments: String,
    /// A text property: the `Subject B:` line (an experiment's newsletter
    /// subject); not read unless named.
    pub subject_b: String,
    /// A text property: the `Hook B:` line (an experiment's opening line on
    /// X and LinkedIn); not read unless named.
    pub hook_b: String,
}

impl Default for PropertyNames {
    fn default() -> Self {
        Self {
            title: "Name".to_owned(),
            section: "Section".to_owned(),
            channels: "Channels".to_owned(),
            date: "Publish date".to_owned(),
            priority: "Priority".to_owned(),
            tags: "Tags".to_owned(),
            link: "Link".to_owned(),
            segments: String::new(),
            subject_b: String::new(),
            hook_b: String::new(),
        }
    }
}

fn default_base_url() -> BaseUrl {
    BaseUrl::from_static("https://api.notion.com")
}

fn default_version() -> String {
    "2025-09-03".to_owned()
}

fn default_rate_limit() -> RateLimit {
    RateLimit {
        count: 3,
        period: Duration::from_secs(1),
    }
}

fn deserialize_rate_limit<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<RateLimit, D::Error> {
    let value = String::deserialize(deserializer)?;
    value.parse().map_err(serde::de::Error::custom)
}

/// What the source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A page's blocks.
    Page(String),
    /// A database's rows.
    Database(String),
}

impl NotionConfig {
    /// The page or database to read, checked.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key at fault: neither or both ids set,
    /// an id that is not a Notion id, an empty version.
    pub(crate) fn target(&self) -> Result<Target, ConfigError> {
        if self.version.trim().is_empty() {
            return Err(ConfigError::new(
                "source.version",
                "is empty: give a Notion-Version such as 2025-09-03",
            ));
        }
        match (&self.page_id, &self.database_id) {
            (Some(page), None) => notion_id("source.page_id", page).map(Target::Page),
            (None, Some(database)) => {
                notion_id("source.database_id", database).map(Target::Database)
            }
            (Some(_), Some(_)) => Err(ConfigError::new(
                "source",
                "set page_id or database_id, not both",
            )),
            (None, None) => Err(ConfigError::new(
                "source.page_id",
                "is required for kind = \"notion\": the id of the page to read (or set \
                 source.database_id to read a database)",
            )),
        }
    }
}

/// A Notion id as given, or taken from a page or database URL
/// (`https://www.notion.so/Plan-1a8f…17?v=…` gives `1a8f…17`).
fn notion_id(key: &str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim();
    let without_query = trimmed.split(['?', '#']).next().unwrap_or(trimmed);
    let last = without_query
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(without_query);
    let is_hex = |text: &str| text.chars().all(|character| character.is_ascii_hexdigit());
    let digits: String = last.chars().filter(|character| *character != '-').collect();
    if digits.len() == 32 && is_hex(&digits) {
        return Ok(last.to_owned());
    }
    // A URL slug: `Title-words-<32 hex digits>`.
    if let Some(start) = last.len().checked_sub(32)
        && let Some(tail) = last.get(start..)
        && is_hex(tail)
        && (start == 0 || last[..start].ends_with('-'))
    {
        return Ok(tail.to_owned());
    }
    Err(ConfigError::new(
        key,
        format!(
            "`{trimmed}` is not a Notion id: give the 32 hex digits at the end of the page's \
             URL (with or without dashes), or the URL itself"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(value: serde_json::Value) -> Result<NotionConfig, String> {
        serde_json::from_value(value).map_err(|error| error.to_string())
    }

    #[test]
    fn defaults_are_notions() {
        let config = config(json!({"page_id": "1a8f0c2e9b3d4e7a8c516d2f4b9e0a17"})).unwrap();
        assert_eq!(config.base_url.as_str(), "https://api.notion.com");
        assert_eq!(config.version, "2025-09-03");
        assert_eq!(config.rate_limit.to_string(), "3/1s");
        assert_eq!(config.properties, PropertyNames::default());
        assert_eq!(config.properties.date, "Publish date");
        assert!(config.token.is_none());
    }

    #[test]
    fn exactly_one_id_is_required() {
        let both = config(json!({"page_id": "1a8f0c2e9b3d4e7a8c516d2f4b9e0a17",
                                 "database_id": "1a8f0c2e9b3d4e7a8c516d2f4b9e0a17"}))
        .unwrap();
        assert_eq!(
            both.target().unwrap_err().to_string(),
            ConfigError::new("source", "set page_id or database_id, not both").to_string()
        );
        let neither = config(json!({})).unwrap().target().unwrap_err().to_string();
        assert!(neither.contains("source.page_id"), "{neither}");
        assert!(neither.contains("source.database_id"), "{neither}");
    }

    #[test]
    fn ids_are_taken_from_urls_and_checked() {
        let target = |page: &str| config(json!({"page_id": page})).unwrap().target();
        let dashed = "1a8f0c2e-9b3d-4e7a-8c51-6d2f4b9e0a17";
        assert_eq!(target(dashed).unwrap(), Target::Page(dashed.to_owned()));
        for url in [
            "https://www.notion.so/acme/Content-plan-1a8f0c2e9b3d4e7a8c516d2f4b9e0a17?v=abc",
            "https://www.notion.so/1a8f0c2e9b3d4e7a8c516d2f4b9e0a17/",
            " 1a8f0c2e9b3d4e7a8c516d2f4b9e0a17 ",
        ] {
            assert_eq!(
                target(url).unwrap(),
                Target::Page("1a8f0c2e9b3d4e7a8c516d2f4b9e0a17".to_owned()),
                "{url}"
            );
        }
        for bad in [
            "",
            "my page",
            "1a8f0c2e",
            "../../v1/users",
            "Plan1a8f0c2e9b3d4e7a8c516d2f4b9e0a17",
        ] {
            let error = target(bad).unwrap_err().to_string();
            assert!(error.contains("source.page_id"), "{error}");
            assert!(error.contains("is not a Notion id"), "{error}");
        }
        let database = config(json!({"database_id": "nope"}))
            .unwrap()
            .target()
            .unwrap_err()
            .to_string();
        assert!(database.contains("source.database_id"), "{database}");
    }

    #[test]
    fn unknown_keys_bad_rate_limits_and_empty_versions_are_refused() {
        assert!(
            config(json!({"page_id": "x", "pageid": "y"}))
                .unwrap_err()
                .contains("unknown field `pageid`")
        );
        assert!(
            config(json!({"page_id": "x", "properties": {"titel": "Name"}}))
                .unwrap_err()
                .contains("unknown field `titel`")
        );
        assert!(
            config(json!({"page_id": "x", "rate_limit": "fast"}))
                .unwrap_err()
                .contains("bad rate limit `fast`")
        );
        let properties = config(json!({"page_id": "x", "properties": {"date": "When"}})).unwrap();
        assert_eq!(properties.properties.date, "When");
        assert_eq!(properties.properties.title, "Name");
        let empty =
            config(json!({"page_id": "1a8f0c2e9b3d4e7a8c516d2f4b9e0a17", "version": " "})).unwrap();
        assert!(
            empty
                .target()
                .unwrap_err()
                .to_string()
                .contains("source.version")
        );
    }
}
