//! The living document: sections of items, and the builder every source uses
//! to turn its own format into one, with the same checks and messages.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::channel::Channel;
use crate::text::slugify;

/// A parsed living document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivingDocument {
    /// The `# Title`, when the document has one.
    pub title: Option<String>,
    /// The `## Section`s in document order.
    pub sections: Vec<Section>,
    /// A hash of the source text: equal revisions mean equal documents.
    pub revision: String,
}

impl LivingDocument {
    /// Every item of every section, in document order.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.sections
            .iter()
            .flat_map(|section| section.items.iter())
    }
}

/// A `## Section` of the living document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// The heading text.
    pub name: String,
    /// The items under the heading, in document order.
    pub items: Vec<Item>,
}

/// The stable identity of an item: `section-slug/title-slug`.
///
/// Re-reading an edited document keeps the id of every item whose section and
/// title did not change.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct ItemId(String);

impl ItemId {
    /// Derives the id from a section name and an item title.
    pub fn new(section: &str, title: &str) -> Self {
        Self(format!("{}/{}", slugify(section), slugify(title)))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// How urgently an item should be published.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Published after everything else.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Published first.
    High,
}

/// One `### Item` of the living document: something to say on one or more channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Stable id, see [`ItemId`].
    pub id: ItemId,
    /// The name of the section the item is in.
    pub section: String,
    /// The heading text.
    pub title: String,
    /// `Tags:`, without a leading `#`.
    pub tags: Vec<String>,
    /// `Channels:`; `None` means every channel.
    pub channels: Option<BTreeSet<Channel>>,
    /// `Date:`, the earliest day the item may be published.
    pub date: Option<Date>,
    /// `Priority:`.
    pub priority: Priority,
    /// `Link:`, an absolute http(s) URL.
    pub link: Option<String>,
    /// `Segments:`: the newsletter segments whose issues carry the item;
    /// `None` means every segment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<BTreeSet<String>>,
    /// `Subject B:`: the newsletter subject of an experiment's arm B.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_b: Option<String>,
    /// `Hook B:`: the opening line of an experiment's arm B on X and LinkedIn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_b: Option<String>,
    /// The body, as Markdown.
    pub body: String,
    /// Where the item's heading is in the source.
    pub location: Location,
}

impl Item {
    /// Whether the item may be published on `channel`.
    pub fn allows(&self, channel: &Channel) -> bool {
        self.channels
            .as_ref()
            .is_none_or(|channels| channels.contains(channel))
    }

    /// Whether the item may go in the issue of `segment` (`None`: a post
    /// of no segment, which takes every item).
    pub fn reaches(&self, segment: Option<&str>) -> bool {
        match (segment, &self.segments) {
            (Some(segment), Some(segments)) => segments.contains(segment),
            _ => true,
        }
    }
}

/// A place in a source document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Location {
    /// A 1-based line of a Markdown file.
    Line(usize),
    /// An element of a structured document (a Google Docs paragraph, a Notion block).
    Element(String),
}

impl fmt::Display for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(formatter, "line {line}"),
            Self::Element(element) => write!(formatter, "element {element}"),
        }
    }
}

/// A problem found in a document, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is.
    pub location: Location,
    /// What is wrong, in lowercase with no trailing period.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.location, self.message)
    }
}

/// A document that cannot be used, with every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} is not a valid living document:{}", format_diagnostics(.errors))]
pub struct DocumentError {
    /// The file name, or the document id of a remote source.
    pub source_name: String,
    /// Every error, in document order.
    pub errors: Vec<Diagnostic>,
}

fn format_diagnostics(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|diagnostic| format!("\n  {diagnostic}"))
        .collect()
}

/// A document together with the warnings found while reading it.
#[derive(Debug, Clone)]
pub struct ParsedDocument {
    /// The document.
    pub document: LivingDocument,
    /// Problems that did not stop the document from being used.
    pub warnings: Vec<Diagnostic>,
}

/// Whether `id` can name a segment (`[[segments]] id`): 1 to 32 lowercase
/// letters, digits and `-`.
pub fn is_segment_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// The channels a document may name in `Channels:` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownChannels(BTreeSet<Channel>);

impl KnownChannels {
    /// Makes the set from the channel names the server knows.
    pub fn new(channels: impl IntoIterator<Item = Channel>) -> Self {
        Self(channels.into_iter().collect())
    }

    fn contains(&self, channel: &Channel) -> bool {
        self.0.contains(channel)
    }

    fn list(&self) -> String {
        if self.0.is_empty() {
            return "none".to_owned();
        }
        self.0
            .iter()
            .map(Channel::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The metadata keys an item may carry, in the spelling documents use.
pub const METADATA_KEYS: [&str; 8] = [
    "Tags",
    "Channels",
    "Date",
    "Priority",
    "Link",
    "Segments",
    "Subject B",
    "Hook B",
];

struct PendingItem {
    item: Item,
    has_body: bool,
}

/// Builds a [`LivingDocument`] from headings, metadata lines and bodies.
///
/// Every source (Markdown, Google Docs, Notion) walks its own format and
/// feeds this builder, so all of them apply the same rules and report the
/// same messages.
pub struct DocumentBuilder<'a> {
    source_name: String,
    known_channels: &'a KnownChannels,
    title: Option<String>,
    sections: Vec<Section>,
    pending: Option<PendingItem>,
    first_seen: HashMap<ItemId, Location>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    revision: Sha256,
}

impl<'a> DocumentBuilder<'a> {
    /// Starts an empty document read from `source_name`.
    pub fn new(source_name: impl Into<String>, known_channels: &'a KnownChannels) -> Self {
        Self {
            source_name: source_name.into(),
            known_channels,
            title: None,
            sections: Vec::new(),
            pending: None,
            first_seen: HashMap::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            revision: Sha256::new(),
        }
    }

    /// Feeds the raw source into the document's revision hash.
    pub fn hash_source(&mut self, bytes: &[u8]) {
        self.revision.update(bytes);
    }

    /// Records a warning found by the source itself.
    pub fn warn(&mut self, location: Location, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            location,
            message: message.into(),
        });
    }

    /// Records an error found by the source itself.
    pub fn error(&mut self, location: Location, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            location,
            message: message.into(),
        });
    }

    /// The document title (`# Title`); a second title is a warning.
    pub fn title(&mut self, title: &str, location: Location) {
        if self.title.is_some() {
            self.warn(location, "a second document title is ignored");
        } else {
            self.title = Some(title.trim().to_owned());
        }
    }

    /// Starts a section (`## Section`).
    pub fn section(&mut self, name: &str, location: Location) {
        self.finish_item();
        let name = name.trim();
        if name.is_empty() {
            self.error(location, "a section heading is empty");
        }
        self.sections.push(Section {
            name: name.to_owned(),
            items: Vec::new(),
        });
    }

    /// Starts an item (`### Item`).
    pub fn item(&mut self, title: &str, location: Location) {
        self.finish_item();
        let title = title.trim();
        let Some(section) = self.sections.last() else {
            self.error(
                location,
                format!(
                    "item `{title}` is not inside a section: add a `## Section` heading above it"
                ),
            );
            return;
        };
        if title.is_empty() {
            self.error(location, "an item heading is empty");
            return;
        }
        let section = section.name.clone();
        let id = ItemId::new(&section, title);
        if let Some(first) = self.first_seen.get(&id) {
            let message =
                format!("duplicate item `{title}` in section `{section}` (first at {first})");
            self.error(location, message);
            return;
        }
        self.first_seen.insert(id.clone(), location.clone());
        self.pending = Some(PendingItem {
            item: Item {
                id,
                section,
                title: title.to_owned(),
                tags: Vec::new(),
                channels: None,
                date: None,
                priority: Priority::Normal,
                link: None,
                segments: None,
                subject_b: None,
                hook_b: None,
                body: String::new(),
                location,
            },
            has_body: false,
        });
    }

    /// Applies one `Key: value` metadata line to the open item.
    ///
    /// Returns `false` (and changes nothing) when the line does not have the
    /// shape of a metadata line, so the caller treats it as body text. A line
    /// of that shape with a key the builder does not know is a warning.
    pub fn metadata_line(&mut self, line: &str, location: Location) -> bool {
        let Some((key, value)) = split_metadata_line(line) else {
            return false;
        };
        if self.pending.is_none() {
            return false;
        }
        let value = value.trim();
        match key.to_ascii_lowercase().as_str() {
            "tags" => {
                let tags = split_list(value)
                    .map(|tag| tag.trim_start_matches('#').to_owned())
                    .filter(|tag| !tag.is_empty())
                    .collect();
                self.with_item(|item| item.tags = tags);
            }
            "channels" => self.channels_line(value, location),
            "segments" => {
                let segments: BTreeSet<String> = split_list(value)
                    .map(|segment| segment.trim().to_ascii_lowercase())
                    .collect();
                match segments.iter().find(|segment| !is_segment_id(segment)) {
                    _ if segments.is_empty() => {
                        self.error(location, "`Segments:` names no segment");
                    }
                    Some(bad) => self.error(
                        location,
                        format!(
                            "bad segment `{bad}`: a segment id is lowercase letters, digits and `-`"
                        ),
                    ),
                    None => self.with_item(|item| item.segments = Some(segments)),
                }
            }
            "subject b" | "hook b" => {
                let key = if key.eq_ignore_ascii_case("subject b") {
                    "Subject B"
                } else {
                    "Hook B"
                };
                if value.is_empty() {
                    self.error(location, format!("`{key}:` is empty"));
                } else if key == "Subject B" {
                    self.with_item(|item| item.subject_b = Some(value.to_owned()));
                } else {
                    self.with_item(|item| item.hook_b = Some(value.to_owned()));
                }
            }
            "date" => match value.parse::<Date>() {
                Ok(date) if value.len() == 10 => self.with_item(|item| item.date = Some(date)),
                _ => self.error(
                    location,
                    format!("bad date `{value}`: expected a calendar date as YYYY-MM-DD"),
                ),
            },
            "priority" => match value.to_ascii_lowercase().as_str() {
                "high" => self.with_item(|item| item.priority = Priority::High),
                "normal" => self.with_item(|item| item.priority = Priority::Normal),
                "low" => self.with_item(|item| item.priority = Priority::Low),
                _ => self.error(
                    location,
                    format!("bad priority `{value}`: expected high, normal or low"),
                ),
            },
            "link" => match url::Url::parse(value) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                    self.with_item(|item| item.link = Some(value.to_owned()));
                }
                _ => self.error(
                    location,
                    format!("bad link `{value}`: expected an absolute http or https URL"),
                ),
            },
            _ => self.warn(
                location,
                format!(
                    "unknown metadata key `{key}` is ignored (known keys: {})",
                    METADATA_KEYS.join(", ")
                ),
            ),
        }
        true
    }

    fn channels_line(&mut self, value: &str, location: Location) {
        let mut channels = BTreeSet::new();
        for name in split_list(value) {
            match Channel::parse(name) {
                Ok(channel) if self.known_channels.contains(&channel) => {
                    channels.insert(channel);
                }
                _ => {
                    let known = self.known_channels.list();
                    self.error(
                        location.clone(),
                        format!(
                            "unknown channel `{}` (known channels: {known})",
                            name.trim()
                        ),
                    );
                }
            }
        }
        if channels.is_empty() && split_list(value).next().is_none() {
            self.error(location, "`Channels:` names no channel");
            return;
        }
        self.with_item(|item| item.channels = Some(channels));
    }

    /// Appends Markdown to the open item's body; text outside an item is
    /// section introduction and is not planned.
    pub fn body(&mut self, markdown: &str) {
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        if markdown.trim().is_empty() {
            return;
        }
        if !pending.item.body.is_empty() {
            pending.item.body.push_str("\n\n");
        }
        pending.item.body.push_str(markdown.trim_end());
        pending.has_body = true;
    }

    fn with_item(&mut self, change: impl FnOnce(&mut Item)) {
        if let Some(pending) = self.pending.as_mut() {
            change(&mut pending.item);
        }
    }

    fn finish_item(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        if !pending.has_body {
            let message = format!("item `{}` has no body", pending.item.title);
            self.error(pending.item.location.clone(), message);
            return;
        }
        if let Some(section) = self.sections.last_mut() {
            section.items.push(pending.item);
        }
    }

    /// Finishes the document.
    ///
    /// # Errors
    /// Returns every error found, in document order, as a [`DocumentError`];
    /// a document with errors is never returned in part.
    pub fn finish(mut self) -> Result<ParsedDocument, DocumentError> {
        self.finish_item();
        if self.errors.is_empty() && self.sections.iter().all(|section| section.items.is_empty()) {
            self.errors.push(Diagnostic {
                location: Location::Line(1),
                message: "the document has no items: add `## Section` and `### Item` headings"
                    .to_owned(),
            });
        }
        if !self.errors.is_empty() {
            return Err(DocumentError {
                source_name: self.source_name,
                errors: self.errors,
            });
        }
        let revision = short_hex(&self.revision.finalize());
        Ok(ParsedDocument {
            document: LivingDocument {
                title: self.title,
                sections: self.sections,
                revision,
            },
            warnings: self.warnings,
        })
    }
}

/// The first 16 bytes of a digest as lowercase hex: short enough to read,
/// long enough that ids of one installation never collide.
pub(crate) fn short_hex(digest: &[u8]) -> String {
    digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Splits `Key: value` where the key is one to three words of letters.
fn split_metadata_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim();
    let words = key.split_whitespace().count();
    let well_formed = !key.is_empty()
        && key.len() <= 24
        && words <= 3
        && key.starts_with(|character: char| character.is_ascii_alphabetic())
        && key.chars().all(|character| {
            character.is_ascii_alphabetic() || character == ' ' || character == '-'
        });
    // `https://…` and similar would split at the scheme; a metadata value follows a space.
    let spaced = value.is_empty() || value.starts_with(' ');
    (well_formed && spaced).then_some((key, value))
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> KnownChannels {
        KnownChannels::new(["email", "web"].map(|name| Channel::parse(name).unwrap()))
    }

    #[test]
    fn item_ids_are_slugs_of_section_and_title() {
        assert_eq!(
            ItemId::new("Breathscape", "Morning resonance sessions!").as_str(),
            "breathscape/morning-resonance-sessions"
        );
    }

    #[test]
    fn metadata_lines_need_a_short_alphabetic_key_and_a_space() {
        assert_eq!(split_metadata_line("Tags: a, b"), Some(("Tags", " a, b")));
        assert_eq!(split_metadata_line("https://example.com"), None);
        assert_eq!(
            split_metadata_line("This is a long sentence: with a colon"),
            None
        );
        assert_eq!(split_metadata_line("Ratio 4:4"), None);
    }

    #[test]
    fn unknown_channels_and_bad_values_are_errors_with_their_line() {
        let known = known();
        let mut builder = DocumentBuilder::new("doc.md", &known);
        builder.section("News", Location::Line(1));
        builder.item("One", Location::Line(2));
        assert!(builder.metadata_line("Channels: emial, web", Location::Line(3)));
        assert!(builder.metadata_line("Date: 2026-13-02", Location::Line(4)));
        assert!(builder.metadata_line("Priority: urgent", Location::Line(5)));
        assert!(builder.metadata_line("Link: ftp://example.com", Location::Line(6)));
        builder.body("Body.");
        let error = builder.finish().unwrap_err();
        let lines: Vec<String> = error.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "line 3: unknown channel `emial` (known channels: email, web)",
                "line 4: bad date `2026-13-02`: expected a calendar date as YYYY-MM-DD",
                "line 5: bad priority `urgent`: expected high, normal or low",
                "line 6: bad link `ftp://example.com`: expected an absolute http or https URL",
            ]
        );
    }

    #[test]
    fn segments_lines_keep_an_item_to_those_segments() {
        let known = known();
        let mut builder = DocumentBuilder::new("doc.md", &known);
        builder.section("News", Location::Line(1));
        builder.item("Welcome back", Location::Line(2));
        assert!(builder.metadata_line("Segments: Lapsed, new", Location::Line(3)));
        builder.body("Body.");
        builder.item("For everyone", Location::Line(5));
        builder.body("Body.");
        let parsed = builder.finish().unwrap();
        let items: Vec<&Item> = parsed.document.items().collect();
        assert_eq!(
            items[0].segments,
            Some(BTreeSet::from(["lapsed".to_owned(), "new".to_owned()]))
        );
        assert!(items[0].reaches(Some("lapsed")) && !items[0].reaches(Some("vip")));
        assert!(items[0].reaches(None));
        assert!(items[1].reaches(Some("vip")));

        let mut builder = DocumentBuilder::new("doc.md", &known);
        builder.section("News", Location::Line(1));
        builder.item("One", Location::Line(2));
        assert!(builder.metadata_line("Segments: lapsed members", Location::Line(3)));
        builder.body("Body.");
        let error = builder.finish().unwrap_err();
        assert_eq!(
            error.errors[0].to_string(),
            "line 3: bad segment `lapsed members`: a segment id is lowercase letters, digits and `-`"
        );
    }

    #[test]
    fn subject_b_and_hook_b_lines_make_an_experiment_and_may_not_be_empty() {
        let known = known();
        let mut builder = DocumentBuilder::new("doc.md", &known);
        builder.section("News", Location::Line(1));
        builder.item("Sleep timer", Location::Line(2));
        assert!(builder.metadata_line("Subject B: Fall asleep to the fade", Location::Line(3)));
        assert!(builder.metadata_line(
            "hook b:  Your phone can fall asleep too ",
            Location::Line(4)
        ));
        builder.body("Body.");
        let parsed = builder.finish().unwrap();
        let item = parsed.document.items().next().unwrap();
        assert_eq!(item.subject_b.as_deref(), Some("Fall asleep to the fade"));
        assert_eq!(
            item.hook_b.as_deref(),
            Some("Your phone can fall asleep too")
        );

        let mut builder = DocumentBuilder::new("doc.md", &known);
        builder.section("News", Location::Line(1));
        builder.item("One", Location::Line(2));
        assert!(builder.metadata_line("Hook B:", Location::Line(3)));
        builder.body("Body.");
        let error = builder.finish().unwrap_err();
        assert_eq!(error.errors[0].to_string(), "line 3: `Hook B:` is empty");
    }

    #[test]
    fn unknown_keys_are_warnings() {
        let known = known();
        let mut builder = DocumentBuilder::new("doc.md", &known);
        builder.section("News", Location::Line(1));
        builder.item("One", Location::Line(2));
        assert!(builder.metadata_line("Author: Sam", Location::Line(3)));
        builder.body("Body.");
        let parsed = builder.finish().unwrap();
        assert_eq!(
            parsed.warnings[0].to_string(),
            "line 3: unknown metadata key `Author` is ignored (known keys: Tags, Channels, Date, Priority, Link, Segments, Subject B, Hook B)"
        );
    }

    #[test]
    fn empty_bodies_duplicates_and_orphans_are_errors() {
        let known = known();
        let mut builder = DocumentBuilder::new("doc.md", &known);
        builder.item("Orphan", Location::Line(1));
        builder.section("News", Location::Line(2));
        builder.item("One", Location::Line(3));
        builder.item("Two", Location::Line(4));
        builder.body("Body.");
        builder.item("two", Location::Line(5));
        builder.body("Body.");
        let error = builder.finish().unwrap_err();
        let lines: Vec<String> = error.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "line 1: item `Orphan` is not inside a section: add a `## Section` heading above it",
                "line 3: item `One` has no body",
                "line 5: duplicate item `two` in section `News` (first at line 4)",
            ]
        );
    }
}
