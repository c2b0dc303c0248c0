//! Test support shared by the publisher crates (feature `testkit`).
//!
//! Publisher crates snapshot what they render for the example living document
//! through these helpers, so every channel is tested on the same input.

use crate::experiment::AbSettings;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::civil::date;
use jiff::tz::TimeZone;

use crate::channel::Channel;
use crate::compose::{Composer, ContentPlan, ItemViews};
use crate::document::{KnownChannels, LivingDocument};
use crate::http::HttpClient;
use crate::markdown::parse_markdown;
use crate::plan::{Period, PlanChannel, PlanRequest, plan};
use crate::publisher::{PostStatus, Publisher};
use crate::render::Renderer;

/// An HTTP client with a short timeout, for tests.
///
/// # Panics
/// Panics when the TLS backend cannot start.
pub fn test_http_client() -> HttpClient {
    HttpClient::new(Duration::from_secs(5)).expect("the HTTP client starts")
}

/// The example living document shipped in `examples/living-document.md`.
pub const EXAMPLE_DOCUMENT: &str = include_str!("../../../../examples/living-document.md");

/// Parses the example document; `channels` are the names it may use.
///
/// # Panics
/// Panics when the example document does not parse: it is a fixture.
pub fn example_document(channels: &[&str]) -> LivingDocument {
    let known = KnownChannels::new(
        channels
            .iter()
            .map(|name| Channel::parse(name).expect("valid channel name")),
    );
    parse_markdown("examples/living-document.md", EXAMPLE_DOCUMENT, &known)
        .expect("the example document parses")
        .document
}

/// Plans and renders the week from Monday 2026-11-30 (UTC) of the example
/// document on `publisher`'s channel alone, with the bundled templates.
///
/// # Panics
/// Panics when the templates or the plan fail: they are fixtures.
pub fn example_week(publisher: Arc<dyn Publisher>) -> ContentPlan {
    let channel = publisher.channel();
    let document = example_document(&["email", "web", "twitter", "linkedin", channel.as_str()]);
    let request = PlanRequest {
        period: Period::Week,
        start: date(2026, 11, 30),
        timezone: TimeZone::UTC,
        featured_section: "Breathscape".to_owned(),
        channels: vec![PlanChannel {
            channel: channel.clone(),
            cadence: publisher.default_cadence(),
            shape: publisher.shape(),
            daily_cap: None,
            segment: None,
            experiments: publisher.experiments(),
            experiments_refused: publisher.experiments_refused(),
        }],
        stored: Vec::new(),
        elsewhere: Vec::new(),
        locale: None,
        ab: AbSettings::default(),
    };
    let planned = plan(&document, &request).expect("the example week plans");
    let publishers = BTreeMap::from([(channel, publisher)]);
    let renderer = Renderer::new(None).expect("the bundled templates compile");
    Composer {
        document: &document,
        publishers: &publishers,
        renderer: &renderer,
        segments: &[],
        featured_section: "Breathscape",
        views: &ItemViews::default(),
        dry_run: true,
        initial_status: PostStatus::Draft,
        ab: AbSettings::default(),
    }
    .compose(planned)
}

/// Asserts that a source read the same document as the Markdown reference:
/// equal title, and equal items field by field (only where each item sits in
/// its source, and the revision, may differ). Returns the items compared.
///
/// # Panics
/// Panics, naming the item and the field, on the first difference.
pub fn assert_same_items<'a>(
    actual: &LivingDocument,
    expected: &'a LivingDocument,
) -> Vec<&'a crate::document::Item> {
    assert_eq!(actual.title, expected.title);
    let expected: Vec<_> = expected.items().collect();
    let actual: Vec<_> = actual.items().collect();
    assert_eq!(actual.len(), expected.len(), "the number of items");
    for (actual, expected) in actual.iter().zip(&expected) {
        let id = &expected.id;
        assert_eq!(actual.id, expected.id);
        assert_eq!(actual.section, expected.section, "{id}");
        assert_eq!(actual.title, expected.title, "{id}");
        assert_eq!(actual.tags, expected.tags, "{id}");
        assert_eq!(actual.channels, expected.channels, "{id}");
        assert_eq!(actual.date, expected.date, "{id}");
        assert_eq!(actual.priority, expected.priority, "{id}");
        assert_eq!(actual.link, expected.link, "{id}");
        assert_eq!(actual.body, expected.body, "{id}");
    }
    expected
}

pub mod conformance;

/// A configuration table given as JSON, for testing a crate's registered builder.
#[derive(Debug, Clone)]
pub struct JsonTable {
    /// The dotted key of the table.
    pub key: String,
    /// The table.
    pub value: serde_json::Value,
}

impl crate::registry::Table for JsonTable {
    fn key(&self) -> &str {
        &self.key
    }

    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::error::ConfigError> {
        T::deserialize(&self.value)
            .map_err(|error| crate::error::ConfigError::new(self.key.clone(), error.to_string()))
    }
}

/// The address of a service a test needs (a database, a browser driver),
/// from the environment variable `variable`. When it is unset the test is
/// skipped with a line on the terminal, `test <name> ... skipped: …`, which
/// bypasses the test harness's capture so it is seen; under `CI=true` a
/// missing service fails the test instead, so CI can never pass by skipping.
///
/// # Panics
/// Panics under `CI=true` when `variable` is unset.
pub fn required_service(variable: &str, test: &str) -> Option<String> {
    use std::io::Write as _;
    if let Ok(value) = std::env::var(variable)
        && !value.trim().is_empty()
    {
        return Some(value);
    }
    let in_ci = std::env::var("CI").is_ok_and(|value| value == "true");
    assert!(
        !in_ci,
        "{test}: {variable} is not set, and CI=true: the service this test needs must run in CI"
    );
    let _ = writeln!(
        std::io::stderr(),
        "test {test} ... skipped: {variable} is not set"
    );
    None
}
