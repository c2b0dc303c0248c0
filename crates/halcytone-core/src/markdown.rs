//! The Markdown living document: the reference format of PRODUCT §2, read
//! with pulldown-cmark so that headings and blocks are what CommonMark says.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::document::{DocumentBuilder, DocumentError, KnownChannels, Location, ParsedDocument};

/// Maps byte offsets to 1-based line numbers.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(index, _)| index + 1));
        Self { starts }
    }

    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }

    fn start_of(&self, line: usize) -> usize {
        self.starts[line - 1]
    }
}

enum Heading {
    Title,
    Section,
    Item,
}

/// Parses a Markdown living document.
///
/// `source_name` names the document in messages (usually its path).
///
/// # Errors
/// Returns a [`DocumentError`] listing every problem with its line: an
/// unknown channel, a bad date, priority or link, an item with no body, a
/// duplicate item, an item outside a section.
pub fn parse_markdown(
    source_name: &str,
    text: &str,
    known_channels: &KnownChannels,
) -> Result<ParsedDocument, DocumentError> {
    let mut builder = DocumentBuilder::new(source_name, known_channels);
    builder.hash_source(text.as_bytes());
    // Editors on Windows save a byte-order mark, which would hide the first heading.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let lines = LineIndex::new(text);

    let mut depth = 0usize;
    let mut heading: Option<(Heading, usize, String)> = None;
    // The byte range of the open item's body, grown block by block.
    let mut body: Option<(usize, usize)> = None;
    // Metadata lines are read only in the first block right after an item heading.
    let mut metadata_allowed = false;
    for (event, range) in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) if depth == 0 && level <= HeadingLevel::H3 => {
                flush_body(&mut builder, text, &mut body);
                let kind = match level {
                    HeadingLevel::H1 => Heading::Title,
                    HeadingLevel::H2 => Heading::Section,
                    _ => Heading::Item,
                };
                heading = Some((kind, lines.line(range.start), String::new()));
                depth += 1;
            }
            Event::End(TagEnd::Heading(_)) if depth == 1 && heading.is_some() => {
                depth -= 1;
                if let Some((kind, line, title)) = heading.take() {
                    let location = Location::Line(line);
                    metadata_allowed = matches!(kind, Heading::Item);
                    match kind {
                        Heading::Title => builder.title(&title, location),
                        Heading::Section => builder.section(&title, location),
                        Heading::Item => builder.item(&title, location),
                    }
                }
            }
            Event::Text(content) | Event::Code(content) if heading.is_some() => {
                if let Some((_, _, title)) = heading.as_mut() {
                    title.push_str(&content);
                }
            }
            Event::Start(tag) => {
                if depth == 0 && heading.is_none() {
                    let allowed = std::mem::take(&mut metadata_allowed);
                    let start = if allowed && matches!(tag, Tag::Paragraph) {
                        metadata_block(&mut builder, text, &lines, range.start, range.end)
                    } else {
                        Some(range.start)
                    };
                    if let Some(start) = start {
                        body = Some((body.map_or(start, |(first, _)| first), range.end));
                    }
                }
                depth += 1;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Rule | Event::Html(_) if depth == 0 => {
                metadata_allowed = false;
                body = Some((body.map_or(range.start, |(first, _)| first), range.end));
            }
            _ => {}
        }
    }
    flush_body(&mut builder, text, &mut body);
    builder.finish()
}

/// Reads the leading `Key: value` lines of the first paragraph after an item
/// heading; returns where the body starts in that paragraph, if it goes on.
fn metadata_block(
    builder: &mut DocumentBuilder<'_>,
    text: &str,
    lines: &LineIndex,
    start: usize,
    end: usize,
) -> Option<usize> {
    let first_line = lines.line(start);
    let last_line = lines.line(end.saturating_sub(1).max(start));
    for line in first_line..=last_line {
        let line_start = lines.start_of(line).max(start);
        let line_end = text[line_start..end]
            .find('\n')
            .map_or(end, |offset| line_start + offset);
        let content = text[line_start..line_end].trim();
        if !builder.metadata_line(content, Location::Line(line)) {
            return Some(line_start);
        }
    }
    None
}

fn flush_body(builder: &mut DocumentBuilder<'_>, text: &str, body: &mut Option<(usize, usize)>) {
    if let Some((start, end)) = body.take() {
        builder.body(&text[start..end]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Channel;
    use crate::document::Priority;

    fn known() -> KnownChannels {
        KnownChannels::new(
            ["email", "web", "twitter", "linkedin"].map(|name| Channel::parse(name).unwrap()),
        )
    }

    fn errors(text: &str) -> Vec<String> {
        parse_markdown("doc.md", text, &known())
            .unwrap_err()
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn reads_sections_items_metadata_and_bodies() {
        let text = "# Living\n\nIntro.\n\n## Breathscape\n\nSection intro.\n\n### Morning resonance\nTags: breathscape, #feature\nChannels: email, Web\nDate: 2026-12-02\nPriority: high\nLink: https://halcytone.example/resonance\n\nBody with **bold** and a [link](https://x.example).\n\n- one\n- two\n\n#### A sub-heading\n\nMore.\n\n### Second\nFirst line of body right away.\nStill the body.\n";
        let parsed = parse_markdown("doc.md", text, &known()).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        let document = parsed.document;
        assert_eq!(document.title.as_deref(), Some("Living"));
        let items: Vec<_> = document.items().collect();
        assert_eq!(items.len(), 2);
        let first = items[0];
        assert_eq!(first.id.as_str(), "breathscape/morning-resonance");
        assert_eq!(first.tags, ["breathscape", "feature"]);
        let channels: Vec<&str> = first
            .channels
            .iter()
            .flatten()
            .map(Channel::as_str)
            .collect();
        assert_eq!(channels, ["email", "web"]);
        assert_eq!(first.date.unwrap().to_string(), "2026-12-02");
        assert_eq!(first.priority, Priority::High);
        assert_eq!(
            first.link.as_deref(),
            Some("https://halcytone.example/resonance")
        );
        assert_eq!(
            first.body,
            "Body with **bold** and a [link](https://x.example).\n\n- one\n- two\n\n#### A sub-heading\n\nMore."
        );
        assert_eq!(first.location, Location::Line(9));
        assert_eq!(
            items[1].body,
            "First line of body right away.\nStill the body."
        );
        assert!(items[1].channels.is_none());
    }

    #[test]
    fn metadata_then_body_in_one_paragraph() {
        let text = "## S\n### I\nTags: a\nThe body starts here: really.\n";
        let parsed = parse_markdown("doc.md", text, &known()).unwrap();
        let item = parsed.document.items().next().unwrap().clone();
        assert_eq!(item.tags, ["a"]);
        assert_eq!(item.body, "The body starts here: really.");
    }

    #[test]
    fn errors_name_their_lines() {
        assert_eq!(
            errors("## S\n### I\nChannels: emial\n\nBody.\n"),
            ["line 3: unknown channel `emial` (known channels: email, linkedin, twitter, web)"]
        );
        assert_eq!(
            errors("## S\n### I\nDate: 2026-02-30\n\nBody.\n"),
            ["line 3: bad date `2026-02-30`: expected a calendar date as YYYY-MM-DD"]
        );
        assert_eq!(
            errors("## S\n### I\nTags: a\n\n### J\nBody.\n"),
            ["line 2: item `I` has no body"]
        );
        assert_eq!(
            errors("## S\n### I\nBody.\n### I\nBody.\n"),
            ["line 4: duplicate item `I` in section `S` (first at line 2)"]
        );
        assert_eq!(
            errors(""),
            ["line 1: the document has no items: add `## Section` and `### Item` headings"]
        );
    }

    #[test]
    fn metadata_is_only_read_right_after_the_heading() {
        let text = "## S\n### I\nTags: a\n\nNote: this is body.\n";
        let parsed = parse_markdown("doc.md", text, &known()).unwrap();
        assert!(parsed.warnings.is_empty());
        assert_eq!(
            parsed.document.items().next().unwrap().body,
            "Note: this is body."
        );
    }

    #[test]
    fn headings_inside_lists_or_quotes_are_body() {
        let text = "## S\n### I\n> ### Not an item\n\nBody.\n";
        let parsed = parse_markdown("doc.md", text, &known()).unwrap();
        assert_eq!(parsed.document.items().count(), 1);
        assert_eq!(
            parsed.document.items().next().unwrap().body,
            "> ### Not an item\n\nBody."
        );
    }

    #[test]
    fn a_byte_order_mark_and_setext_headings_work() {
        let text = "\u{FEFF}Living\n======\n\nBreathscape\n-----------\n\n### Item\nBody.\n";
        let parsed = parse_markdown("doc.md", text, &known()).unwrap();
        assert_eq!(parsed.document.title.as_deref(), Some("Living"));
        assert_eq!(parsed.document.sections[0].name, "Breathscape");
        assert_eq!(parsed.document.items().count(), 1);
    }

    #[test]
    fn formatting_in_headings_is_kept_as_text() {
        let text = "## The *Science*\n### Why `4-7-8` **works**\nBody.\n";
        let parsed = parse_markdown("doc.md", text, &known()).unwrap();
        let item = parsed.document.items().next().unwrap();
        assert_eq!(item.title, "Why 4-7-8 works");
        assert_eq!(item.id.as_str(), "the-science/why-4-7-8-works");
    }

    #[test]
    fn crlf_line_endings_work() {
        let text = "## S\r\n### I\r\nTags: a\r\n\r\nBody.\r\n";
        let parsed = parse_markdown("doc.md", text, &known()).unwrap();
        let item = parsed.document.items().next().unwrap();
        assert_eq!(item.tags, ["a"]);
        assert_eq!(item.body.trim(), "Body.");
    }
}
