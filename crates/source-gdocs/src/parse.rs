//! A Google Docs `documents.get` response to a living document: paragraph
//! styles become the title, sections and items, `Key: value` paragraphs
//! after an item heading its metadata, and the rest its Markdown body.
//!
//! Everything goes through the shared [`DocumentBuilder`], so a Google Doc
//! obeys the same rules, and gets the same messages, as a Markdown file.

use std::collections::HashMap;

use halcytone_core::document::{DocumentBuilder, KnownChannels, Location, ParsedDocument};
use halcytone_core::source::SourceError;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use halcytone_core::structured;
use halcytone_core::structured::inline::{
    Span, Style, plain, render_line, render_lines, split_lines,
};
use halcytone_core::structured::outline::{Outline, Role, Shift};

/// The parts of a `documents.get` response the parser reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    body: Option<Body>,
    #[serde(default)]
    lists: HashMap<String, List>,
    #[serde(default)]
    tabs: Vec<Tab>,
    /// Present when Google answered with an error instead of a document.
    error: Option<ApiError>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    code: Option<u16>,
    status: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tab {
    tab_properties: Option<TabProperties>,
    document_tab: Option<DocumentTab>,
    #[serde(default)]
    child_tabs: Vec<Tab>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TabProperties {
    tab_id: Option<String>,
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DocumentTab {
    body: Option<Body>,
    #[serde(default)]
    lists: HashMap<String, List>,
}

#[derive(Debug, Deserialize)]
struct Body {
    #[serde(default)]
    content: Vec<StructuralElement>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StructuralElement {
    /// Omitted by the API when 0; counted in UTF-16 code units.
    #[serde(default)]
    start_index: u64,
    paragraph: Option<Paragraph>,
    section_break: Option<IgnoredAny>,
    table: Option<IgnoredAny>,
    table_of_contents: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paragraph {
    #[serde(default)]
    elements: Vec<ParagraphElement>,
    #[serde(default)]
    paragraph_style: ParagraphStyle,
    bullet: Option<Bullet>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParagraphStyle {
    named_style_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bullet {
    list_id: Option<String>,
    /// Absent means 0.
    #[serde(default)]
    nesting_level: usize,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParagraphElement {
    #[serde(default)]
    start_index: u64,
    text_run: Option<TextRun>,
    rich_link: Option<RichLink>,
    person: Option<Person>,
    inline_object_element: Option<IgnoredAny>,
    footnote_reference: Option<IgnoredAny>,
    equation: Option<IgnoredAny>,
    horizontal_rule: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TextRun {
    #[serde(default)]
    content: String,
    #[serde(default)]
    text_style: TextStyle,
}

#[derive(Debug, Default, Deserialize)]
struct TextStyle {
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    strikethrough: bool,
    link: Option<Link>,
}

#[derive(Debug, Deserialize)]
struct Link {
    /// Absent for links to a heading, bookmark or tab of the document itself.
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RichLink {
    rich_link_properties: Option<RichLinkProperties>,
}

#[derive(Debug, Deserialize)]
struct RichLinkProperties {
    title: Option<String>,
    uri: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    person_properties: Option<PersonProperties>,
}

#[derive(Debug, Deserialize)]
struct PersonProperties {
    name: Option<String>,
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct List {
    list_properties: Option<ListProperties>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListProperties {
    #[serde(default)]
    nesting_levels: Vec<NestingLevel>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NestingLevel {
    glyph_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevisionOnly {
    revision_id: Option<String>,
}

/// Parses a Google Docs `documents.get` response into a living document.
///
/// `source_name` names the document in messages (usually its id). The
/// mapping: `TITLE` or `HEADING_1` = the document title, `HEADING_2` = a
/// section, `HEADING_3` = an item; the `Key: value` paragraphs (or lines)
/// right after an item heading are its metadata, and the paragraphs after
/// that its body, with bold, italic, strikethrough and links as Markdown and
/// bulleted or numbered paragraphs as `- ` or `1. ` lists. A document that
/// uses `HEADING_1` for sections (it has a `TITLE`, several `HEADING_1`s or
/// no `HEADING_2`) is read one level up, with a warning: see the crate
/// README. Tables, tables of contents, section breaks, images and other
/// objects are skipped with a warning naming the element. With
/// `includeTabsContent=true` the first tab is read.
///
/// # Errors
/// [`SourceError::Unavailable`] when the text is not a `documents.get`
/// response (not JSON, an unexpected shape, an API error, no `body`), and
/// [`SourceError::Document`] listing every problem of the document itself,
/// each with its element (`paragraph at index 1234`).
pub fn parse_document(
    source_name: &str,
    json: &str,
    known_channels: &KnownChannels,
) -> Result<ParsedDocument, SourceError> {
    let document: Document = from_json(source_name, json)?;
    if let Some(error) = document.error {
        let describe =
            |part: Option<String>| part.map(|text| format!(" {text}")).unwrap_or_default();
        let message = format!(
            "Google Docs answered with an error instead of a document:{}{}{}",
            describe(error.code.map(|code| code.to_string())),
            describe(error.status),
            describe(error.message.map(|text| format!("({text})"))),
        );
        return Err(unavailable(source_name, message));
    }
    let mut builder = DocumentBuilder::new(source_name, known_channels);
    builder.hash_source(json.as_bytes());
    let mut tabs = document.tabs.into_iter();
    let (body, lists) = match tabs.next() {
        None => (document.body, document.lists),
        Some(first) => {
            let others = tabs.len() + first.child_tabs.len();
            if others > 0 {
                builder.warn(
                    Location::Element(tab_name(&first)),
                    format!("only the first tab is read; {others} other tab(s) are ignored"),
                );
            }
            match first.document_tab {
                Some(DocumentTab {
                    body: Some(body),
                    lists,
                }) => (Some(body), lists),
                _ => {
                    return Err(unavailable(
                        source_name,
                        "the first tab of the response has no `documentTab.body`: request it \
                         with includeTabsContent=true and without a `fields` mask that leaves \
                         it out",
                    ));
                }
            }
        }
    };
    let Some(body) = body else {
        return Err(unavailable(
            source_name,
            "the Google Docs response has no `body`: request the whole document (a `fields` \
             mask must include `body`), or `tabs` with includeTabsContent=true",
        ));
    };
    let mut walker = Walker::new(builder, &lists, &body.content);
    for (position, element) in body.content.iter().enumerate() {
        walker.element(position, element);
    }
    walker.finish().map_err(SourceError::from)
}

/// The document's `revisionId`, for change detection.
///
/// `None` when the text is not a response or has no `revisionId`: Google
/// sends it only to callers with edit access, so a viewer-only account has
/// to fall back to Drive's `version` or to hashing the response.
pub fn revision_id(json: &str) -> Option<String> {
    serde_json::from_str::<RevisionOnly>(json)
        .ok()
        .and_then(|revision| revision.revision_id)
}

fn unavailable(source_name: &str, message: impl Into<String>) -> SourceError {
    SourceError::Unavailable {
        source_name: source_name.to_owned(),
        message: message.into(),
    }
}

/// Deserializes the response, naming where its shape is wrong.
fn from_json<T: DeserializeOwned>(source_name: &str, json: &str) -> Result<T, SourceError> {
    let not_json =
        |error: serde_json::Error| format!("the Google Docs response is not valid JSON: {error}");
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = if inner.is_data() {
            format!(
                "the response is not a Google Docs document (`documents.get`): at `{path}`: {inner}"
            )
        } else {
            not_json(inner)
        };
        unavailable(source_name, message)
    })?;
    deserializer
        .end()
        .map_err(|error| unavailable(source_name, not_json(error)))?;
    Ok(value)
}

fn tab_name(tab: &Tab) -> String {
    let properties = tab.tab_properties.as_ref();
    let id = properties.and_then(|properties| properties.tab_id.as_deref());
    let title = properties.and_then(|properties| properties.title.as_deref());
    match (id, title) {
        (Some(id), Some(title)) => format!("tab {id} ({title})"),
        (Some(id), None) => format!("tab {id}"),
        (None, Some(title)) => format!("tab {title}"),
        (None, None) => "first tab".to_owned(),
    }
}

/// Glyph types of ordered list levels; any other level is bulleted.
const ORDERED_GLYPHS: [&str; 6] = [
    "DECIMAL",
    "ZERO_DECIMAL",
    "UPPER_ALPHA",
    "ALPHA",
    "UPPER_ROMAN",
    "ROMAN",
];

/// Walks the body's structural elements in order and feeds the builder.
struct Walker<'a, 'k> {
    builder: DocumentBuilder<'k>,
    lists: &'a HashMap<String, List>,
    outline: Outline,
    /// Right after an item heading, until the first paragraph that is not metadata.
    metadata_open: bool,
    /// The open list block, one Markdown line per list paragraph.
    list_lines: Vec<String>,
    /// The content width of the marker of each open nesting level.
    list_widths: Vec<usize>,
}

impl<'a, 'k> Walker<'a, 'k> {
    fn new(
        mut builder: DocumentBuilder<'k>,
        lists: &'a HashMap<String, List>,
        content: &[StructuralElement],
    ) -> Self {
        let mut counts = [0usize; 3];
        let mut first_heading_1 = None;
        for element in content {
            let Some(paragraph) = &element.paragraph else {
                continue;
            };
            let level = heading_level(paragraph);
            if let Some(level @ 0..=2) = level
                && !plain(&paragraph_spans(paragraph)).is_empty()
            {
                counts[level] += 1;
                if level == 1 && first_heading_1.is_none() {
                    first_heading_1 = Some(element.start_index);
                }
            }
        }
        let (outline, shift) = Outline::new(counts[0], counts[1], counts[2]);
        if let (Some(shift), Some(index)) = (shift, first_heading_1) {
            let reason = match shift {
                Shift::HasTitle => "the document has a TITLE paragraph",
                Shift::SeveralTopHeadings => "the document has several HEADING_1 paragraphs",
                Shift::NoSecondLevel => "the document has no HEADING_2 paragraph",
            };
            builder.warn(
                paragraph_location(index),
                format!(
                    "HEADING_1 paragraphs are read as sections and the first heading level \
                     below each as its items, because {reason} (the expected layout is TITLE \
                     or HEADING_1 = title, HEADING_2 = section, HEADING_3 = item)"
                ),
            );
        }
        Self {
            builder,
            lists,
            outline,
            metadata_open: false,
            list_lines: Vec::new(),
            list_widths: Vec::new(),
        }
    }

    fn element(&mut self, position: usize, element: &StructuralElement) {
        let index = element.start_index;
        if let Some(paragraph) = &element.paragraph {
            self.paragraph(index, paragraph);
        } else if element.table.is_some() {
            self.skip(
                format!("table at index {index}"),
                "a table is skipped: tables are not read from Google Docs; write its content \
                 as paragraphs or a list",
            );
        } else if element.table_of_contents.is_some() {
            self.skip(
                format!("table of contents at index {index}"),
                "a table of contents is skipped",
            );
        } else if element.section_break.is_some() && position > 0 {
            // The body always starts with a section break; later ones only
            // change the page layout.
            self.builder.warn(
                Location::Element(format!("section break at index {index}")),
                "a section break is skipped",
            );
        }
    }

    /// Skips a block element: it ends an open list and the metadata lines.
    fn skip(&mut self, element: String, message: &str) {
        self.flush_list();
        self.metadata_open = false;
        self.builder.warn(Location::Element(element), message);
    }

    fn paragraph(&mut self, index: u64, paragraph: &Paragraph) {
        let location = paragraph_location(index);
        for element in &paragraph.elements {
            let skipped = if element.inline_object_element.is_some() {
                Some((
                    "inline object",
                    "an inline object (image or drawing) is skipped",
                ))
            } else if element.footnote_reference.is_some() {
                Some(("footnote reference", "a footnote reference is skipped"))
            } else if element.equation.is_some() {
                Some(("equation", "an equation is skipped"))
            } else if element.horizontal_rule.is_some() {
                Some(("horizontal rule", "a horizontal rule is skipped"))
            } else {
                None
            };
            if let Some((name, message)) = skipped {
                let at = Location::Element(format!("{name} at index {}", element.start_index));
                self.builder.warn(at, message);
            }
        }
        let lines = split_lines(&paragraph_spans(paragraph));
        if lines.is_empty() {
            // Empty paragraphs are spacing: they separate nothing.
            return;
        }
        if let Some(level) = heading_level(paragraph) {
            self.heading(level, &lines, location);
        } else if let Some(bullet) = &paragraph.bullet {
            self.metadata_open = false;
            self.list_item(bullet, &lines);
        } else {
            self.flush_list();
            self.text(&lines, location);
        }
    }

    fn heading(&mut self, level: usize, lines: &[Vec<Span>], location: Location) {
        self.flush_list();
        self.metadata_open = false;
        let text = lines
            .iter()
            .map(|line| plain(line))
            .collect::<Vec<_>>()
            .join(" ");
        match self.outline.role(level) {
            Role::Title => self.builder.title(&text, location),
            Role::Section => self.builder.section(&text, location),
            Role::Item => {
                self.builder.item(&text, location);
                self.metadata_open = true;
            }
            Role::SubHeading(depth) => {
                let rendered: Vec<String> = lines.iter().map(|line| render_line(line)).collect();
                let heading = format!("{} {}", "#".repeat(depth), rendered.join(" "));
                self.builder.body(&heading);
            }
        }
    }

    /// A body paragraph, or metadata lines while they are still allowed.
    fn text(&mut self, lines: &[Vec<Span>], location: Location) {
        structured::paragraph(&mut self.builder, &mut self.metadata_open, lines, &location);
    }

    fn list_item(&mut self, bullet: &Bullet, lines: &[Vec<Span>]) {
        let level = bullet.nesting_level;
        let ordered = bullet
            .list_id
            .as_ref()
            .and_then(|id| self.lists.get(id))
            .and_then(|list| list.list_properties.as_ref())
            .and_then(|properties| properties.nesting_levels.get(level))
            .and_then(|nesting| nesting.glyph_type.as_deref())
            .is_some_and(|glyph| ORDERED_GLYPHS.contains(&glyph));
        let marker = if ordered { "1. " } else { "- " };
        self.list_widths.truncate(level);
        while self.list_widths.len() < level {
            self.list_widths.push(2);
        }
        let indent = " ".repeat(self.list_widths.iter().sum());
        let continuation = format!("{indent}{}", " ".repeat(marker.len()));
        self.list_widths.push(marker.len());
        let text = render_lines(lines, &continuation);
        self.list_lines.push(format!("{indent}{marker}{text}"));
    }

    fn flush_list(&mut self) {
        if !self.list_lines.is_empty() {
            let block = self.list_lines.join("\n");
            self.builder.body(&block);
            self.list_lines.clear();
        }
        self.list_widths.clear();
    }

    fn finish(mut self) -> Result<ParsedDocument, halcytone_core::document::DocumentError> {
        self.flush_list();
        self.builder.finish()
    }
}

fn paragraph_location(index: u64) -> Location {
    Location::Element(format!("paragraph at index {index}"))
}

/// 0 for `TITLE`, 1 to 6 for `HEADING_1` to `HEADING_6`, `None` for text.
fn heading_level(paragraph: &Paragraph) -> Option<usize> {
    let style = paragraph.paragraph_style.named_style_type.as_deref()?;
    if style == "TITLE" {
        return Some(0);
    }
    style
        .strip_prefix("HEADING_")
        .and_then(|level| level.parse().ok())
        .filter(|level| (1..=6).contains(level))
}

/// The paragraph's text as styled runs; rich links and people become text.
fn paragraph_spans(paragraph: &Paragraph) -> Vec<Span> {
    let mut spans = Vec::new();
    for element in &paragraph.elements {
        if let Some(run) = &element.text_run {
            let style = &run.text_style;
            let link = style.link.as_ref().and_then(|link| link.url.clone());
            spans.push(Span::new(
                run.content.clone(),
                Style {
                    bold: style.bold,
                    italic: style.italic,
                    strikethrough: style.strikethrough,
                    code: false,
                    link,
                },
            ));
        } else if let Some(properties) = element
            .rich_link
            .as_ref()
            .and_then(|link| link.rich_link_properties.as_ref())
        {
            let title = properties.title.as_deref().or(properties.uri.as_deref());
            let style = Style {
                link: properties.uri.clone(),
                ..Style::default()
            };
            spans.push(Span::new(title.unwrap_or_default(), style));
        } else if let Some(properties) = element
            .person
            .as_ref()
            .and_then(|person| person.person_properties.as_ref())
        {
            let name = properties.name.as_deref().or(properties.email.as_deref());
            spans.push(Span::new(name.unwrap_or_default(), Style::default()));
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use halcytone_core::channel::Channel;
    use serde_json::{Value, json};

    use super::*;

    fn known() -> KnownChannels {
        KnownChannels::new(["email", "web"].map(|name| Channel::parse(name).unwrap()))
    }

    /// A paragraph of one plain run; `style` is a named style type.
    fn paragraph(style: &str, text: &str) -> Value {
        json!({
            "paragraph": {
                "elements": [{"textRun": {"content": format!("{text}\n"), "textStyle": {}}}],
                "paragraphStyle": {"namedStyleType": style}
            }
        })
    }

    fn bullet(list_id: &str, level: usize, text: &str) -> Value {
        let mut value = paragraph("NORMAL_TEXT", text);
        value["paragraph"]["bullet"] = json!({"listId": list_id, "nestingLevel": level});
        value
    }

    /// A response with these elements after the leading section break, with
    /// start indices that follow the text (UTF-16 code units).
    fn document(elements: Vec<Value>) -> String {
        let mut content = vec![json!({"endIndex": 1, "sectionBreak": {}})];
        let mut index = 1u64;
        for mut element in elements {
            element["startIndex"] = json!(index);
            let text: String = element["paragraph"]["elements"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|element| element["textRun"]["content"].as_str())
                .collect();
            index += text.encode_utf16().count().max(1) as u64;
            content.push(element);
        }
        json!({
            "documentId": "doc",
            "body": {"content": content},
            "lists": {
                "bullets": {"listProperties": {"nestingLevels": [{"glyphSymbol": "●"}, {"glyphSymbol": "○"}]}},
                "numbers": {"listProperties": {"nestingLevels": [{"glyphType": "DECIMAL"}, {"glyphType": "ALPHA"}]}}
            }
        })
        .to_string()
    }

    fn parse(elements: Vec<Value>) -> ParsedDocument {
        parse_document("doc", &document(elements), &known()).unwrap()
    }

    fn errors(elements: Vec<Value>) -> Vec<String> {
        match parse_document("doc", &document(elements), &known()) {
            Err(SourceError::Document(error)) => {
                error.errors.iter().map(ToString::to_string).collect()
            }
            other => panic!("expected a document error, got {other:?}"),
        }
    }

    #[test]
    fn the_contract_layout_reads_title_sections_items_and_metadata() {
        let parsed = parse(vec![
            paragraph("HEADING_1", "Living"),
            paragraph("HEADING_2", "News"),
            paragraph("HEADING_3", "One"),
            paragraph("NORMAL_TEXT", "Tags: a, b\u{b}Priority: high"),
            paragraph("NORMAL_TEXT", "Channels: web"),
            paragraph("NORMAL_TEXT", "Body."),
            paragraph("NORMAL_TEXT", "Note: later lines are body."),
            paragraph("HEADING_4", "Details"),
            paragraph("NORMAL_TEXT", "More."),
        ]);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(parsed.document.title.as_deref(), Some("Living"));
        let item = parsed.document.items().next().unwrap();
        assert_eq!(item.id.as_str(), "news/one");
        assert_eq!(item.tags, ["a", "b"]);
        assert_eq!(item.priority, halcytone_core::document::Priority::High);
        assert_eq!(
            item.channels.as_ref().map(|channels| channels.len()),
            Some(1)
        );
        assert_eq!(
            item.body,
            "Body.\n\nNote: later lines are body.\n\n#### Details\n\nMore."
        );
        assert_eq!(item.location, paragraph_location(13));
    }

    #[test]
    fn metadata_and_body_can_share_a_paragraph() {
        let parsed = parse(vec![
            paragraph("HEADING_2", "News"),
            paragraph("HEADING_3", "One"),
            paragraph(
                "NORMAL_TEXT",
                "Tags: a\u{b}The body starts here: really.\u{b}Still body.",
            ),
        ]);
        let item = parsed.document.items().next().unwrap();
        assert_eq!(item.tags, ["a"]);
        assert_eq!(item.body, "The body starts here: really.\nStill body.");
    }

    #[test]
    fn lists_nest_and_number_and_end_at_other_paragraphs() {
        let parsed = parse(vec![
            paragraph("HEADING_2", "News"),
            paragraph("HEADING_3", "One"),
            bullet("bullets", 0, "a"),
            bullet("bullets", 1, "b"),
            bullet("numbers", 0, "first"),
            bullet("numbers", 1, "nested"),
            bullet("bullets", 0, "c"),
            paragraph("NORMAL_TEXT", "Between."),
            bullet("numbers", 0, "again"),
            bullet("unknown-list", 2, "deep"),
        ]);
        let item = parsed.document.items().next().unwrap();
        assert_eq!(
            item.body,
            "- a\n  - b\n1. first\n   1. nested\n- c\n\nBetween.\n\n1. again\n     - deep"
        );
    }

    #[test]
    fn a_document_without_heading_2_uses_heading_1_for_sections() {
        let parsed = parse(vec![
            paragraph("HEADING_1", "News"),
            paragraph("HEADING_3", "One"),
            paragraph("NORMAL_TEXT", "Body."),
            paragraph("HEADING_3", "Two"),
            paragraph("NORMAL_TEXT", "Body."),
        ]);
        let ids: Vec<&str> = parsed
            .document
            .items()
            .map(|item| item.id.as_str())
            .collect();
        assert_eq!(ids, ["news/one", "news/two"]);
        assert_eq!(parsed.document.title, None);
        assert_eq!(parsed.warnings.len(), 1);
        assert!(
            parsed.warnings[0]
                .message
                .contains("because the document has no HEADING_2 paragraph"),
            "{}",
            parsed.warnings[0]
        );
    }

    #[test]
    fn skipped_elements_are_warnings_naming_them() {
        let mut with_image = paragraph("NORMAL_TEXT", "Body.");
        with_image["paragraph"]["elements"]
            .as_array_mut()
            .unwrap()
            .insert(
                0,
                json!({"startIndex": 42, "inlineObjectElement": {"inlineObjectId": "kix.1"}}),
            );
        let mut parsed = parse(vec![
            paragraph("HEADING_2", "News"),
            paragraph("HEADING_3", "One"),
            with_image,
            json!({"tableOfContents": {"content": []}}),
            json!({"sectionBreak": {}}),
        ]);
        let warnings: Vec<String> = parsed.warnings.drain(..).map(|w| w.to_string()).collect();
        assert_eq!(
            warnings,
            [
                "element inline object at index 42: an inline object (image or drawing) is skipped",
                "element table of contents at index 16: a table of contents is skipped",
                "element section break at index 17: a section break is skipped",
            ]
        );
    }

    #[test]
    fn rich_links_and_people_become_text() {
        let mut chips = paragraph("NORMAL_TEXT", "");
        chips["paragraph"]["elements"] = json!([
            {"textRun": {"content": "See "}},
            {"richLink": {"richLinkProperties": {"title": "the plan", "uri": "https://docs.example/plan"}}},
            {"textRun": {"content": " by "}},
            {"person": {"personProperties": {"name": "Ana", "email": "ana@example.com"}}},
            {"textRun": {"content": "\n"}}
        ]);
        let parsed = parse(vec![
            paragraph("HEADING_2", "News"),
            paragraph("HEADING_3", "One"),
            chips,
        ]);
        assert_eq!(
            parsed.document.items().next().unwrap().body,
            "See [the plan](https://docs.example/plan) by Ana"
        );
    }

    #[test]
    fn document_errors_name_the_paragraph() {
        assert_eq!(
            errors(vec![
                paragraph("HEADING_2", "News"),
                paragraph("HEADING_3", "One"),
                paragraph("NORMAL_TEXT", "Date: 2026-02-30"),
                paragraph("NORMAL_TEXT", "Body."),
            ]),
            [
                "element paragraph at index 10: bad date `2026-02-30`: expected a calendar date as YYYY-MM-DD"
            ]
        );
    }

    #[test]
    fn the_first_tab_is_read_when_tabs_are_included() {
        let single = document(vec![
            paragraph("HEADING_2", "News"),
            paragraph("HEADING_3", "One"),
            paragraph("NORMAL_TEXT", "Body."),
        ]);
        let single: Value = serde_json::from_str(&single).unwrap();
        let tabbed = json!({
            "documentId": "doc",
            "tabs": [
                {"tabProperties": {"tabId": "t.0", "title": "Plan"}, "documentTab": {"body": single["body"], "lists": {}}},
                {"tabProperties": {"tabId": "t.1"}, "documentTab": {"body": {"content": []}}}
            ]
        });
        let parsed = parse_document("doc", &tabbed.to_string(), &known()).unwrap();
        assert_eq!(parsed.document.items().count(), 1);
        assert_eq!(
            parsed.warnings[0].to_string(),
            "element tab t.0 (Plan): only the first tab is read; 1 other tab(s) are ignored"
        );
    }

    #[test]
    fn headings_only_in_title_style_are_the_title() {
        assert_eq!(
            heading_level(
                &serde_json::from_value(json!({"paragraphStyle": {"namedStyleType": "TITLE"}}))
                    .unwrap()
            ),
            Some(0)
        );
        assert_eq!(
            heading_level(
                &serde_json::from_value(json!({"paragraphStyle": {"namedStyleType": "SUBTITLE"}}))
                    .unwrap()
            ),
            None
        );
        assert_eq!(
            heading_level(
                &serde_json::from_value(json!({"paragraphStyle": {"namedStyleType": "HEADING_6"}}))
                    .unwrap()
            ),
            Some(6)
        );
        assert_eq!(
            heading_level(&serde_json::from_value(json!({})).unwrap()),
            None
        );
    }
}
