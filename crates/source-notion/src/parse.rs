//! Notion block children to a living document: heading blocks become the
//! title, sections and items, `Key: value` paragraphs after an item heading
//! its metadata, and the other blocks its Markdown body.
//!
//! Everything goes through the shared [`DocumentBuilder`], so a Notion page
//! obeys the same rules, and gets the same messages, as a Markdown file.

use halcytone_core::document::{DocumentBuilder, KnownChannels, Location, ParsedDocument};
use halcytone_core::source::SourceError;
use serde::{Deserialize, Serialize};

use halcytone_core::structured;
use halcytone_core::structured::inline::{
    Span, Style, longest_backtick_run, plain, render_line, render_lines, split_lines,
};
use halcytone_core::structured::outline::{Outline, Role, Shift};

/// A Notion block object, as `GET /v1/blocks/{id}/children` returns it.
///
/// Only the fields the parser reads are kept. The API returns first-level
/// children only: the fetcher (or a caller) reads the children of a block with
/// `has_children` and puts them in [`Block::children`].
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Block {
    /// The block id, used to name the block in messages.
    pub id: String,
    /// The block type: `paragraph`, `heading_2`, `bulleted_list_item`, ….
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the block has children, which are fetched separately.
    #[serde(default)]
    pub has_children: bool,
    /// Whether the block was deleted; such blocks are skipped.
    #[serde(default)]
    pub in_trash: bool,
    /// The children of the block, attached by the caller after fetching them.
    #[serde(default)]
    pub children: Vec<Block>,
    /// The deprecated spelling of `in_trash`.
    #[serde(default, skip_serializing_if = "is_false")]
    archived: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paragraph: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    heading_1: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    heading_2: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    heading_3: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    heading_4: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bulleted_list_item: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    numbered_list_item: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to_do: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quote: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    callout: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    toggle: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<TextBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bookmark: Option<Bookmark>,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// The payload of every block type that holds rich text.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct TextBlock {
    #[serde(default)]
    rich_text: Vec<RichText>,
    /// `to_do` only.
    #[serde(default, skip_serializing_if = "is_false")]
    checked: bool,
    /// `code` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    /// `callout` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    icon: Option<Icon>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Icon {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    emoji: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Bookmark {
    url: String,
    #[serde(default)]
    caption: Vec<RichText>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct RichText {
    /// `text`, `mention` or `equation`.
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    plain_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<TextContent>,
    #[serde(default)]
    annotations: Annotations,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    href: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct TextContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<TextLink>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct TextLink {
    url: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct Annotations {
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    strikethrough: bool,
    #[serde(default)]
    code: bool,
}

/// One page of `GET /v1/blocks/{id}/children`, or a Notion error.
#[derive(Debug, Deserialize)]
struct ListResponse {
    object: String,
    #[serde(default)]
    results: Vec<Block>,
    #[serde(default)]
    has_more: bool,
    next_cursor: Option<String>,
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
}

/// The name paginated responses are reported under; they carry no page id.
const RESPONSE_NAME: &str = "Notion block children";

/// Concatenates the `results` of the pages of a paginated
/// `GET /v1/blocks/{id}/children` response, in order.
///
/// # Errors
/// [`SourceError::Unavailable`] when a page is not JSON, not a `list` (for
/// instance a Notion error object), has an unexpected shape, or when the last
/// page says `has_more: true`, which would read the document in part.
pub fn blocks_from_pages(pages: &[&str]) -> Result<Vec<Block>, SourceError> {
    let mut blocks = Vec::new();
    for (index, page) in pages.iter().enumerate() {
        let number = index + 1;
        let response = parse_page(number, page)?;
        if response.object == "error" {
            let describe =
                |part: Option<String>| part.map(|text| format!(" {text}")).unwrap_or_default();
            return Err(unavailable(format!(
                "page {number}: Notion answered with an error instead of blocks:{}{}{}",
                describe(response.status.map(|status| status.to_string())),
                describe(response.code),
                describe(response.message.map(|text| format!("({text})"))),
            )));
        }
        if response.object != "list" {
            return Err(unavailable(format!(
                "page {number} is a `{}` object, not a `list` of block children \
                 (GET /v1/blocks/{{id}}/children)",
                response.object
            )));
        }
        if number == pages.len() && response.has_more {
            return Err(unavailable(format!(
                "the last page given (page {number}) says has_more: true (next_cursor `{}`): \
                 fetch the remaining pages, or the document would be read in part",
                response.next_cursor.unwrap_or_default()
            )));
        }
        blocks.extend(response.results);
    }
    Ok(blocks)
}

fn parse_page(number: usize, page: &str) -> Result<ListResponse, SourceError> {
    let mut deserializer = serde_json::Deserializer::from_str(page);
    let response: ListResponse =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_data() {
                unavailable(format!(
                    "page {number} is not a list of Notion blocks: at `{path}`: {inner}"
                ))
            } else {
                unavailable(format!("page {number} is not valid JSON: {inner}"))
            }
        })?;
    deserializer
        .end()
        .map_err(|error| unavailable(format!("page {number} is not valid JSON: {error}")))?;
    Ok(response)
}

fn unavailable(message: String) -> SourceError {
    SourceError::Unavailable {
        source_name: RESPONSE_NAME.to_owned(),
        message,
    }
}

/// Parses the blocks of a Notion page into a living document.
///
/// `source_name` names the document in messages (usually the page id). The
/// mapping: `heading_1` = the document title, `heading_2` = a section,
/// `heading_3` = an item; the `Key: value` paragraphs (or lines) right after
/// an item heading are its metadata, and the blocks after that its body:
/// paragraphs, `- ` and `1. ` lists (children nested), `- [ ]` to-dos, `>`
/// quotes and callouts, fenced code, toggles (their text, then their
/// children), bookmarks as links, with bold, italic, strikethrough, code and
/// links as Markdown. A page that uses `heading_1` for sections (several
/// `heading_1`s, or no `heading_2`) is read one level up, with a warning: see
/// the crate README. Dividers, images, tables, child pages and other blocks
/// are skipped with a warning naming the block; blocks in the trash are
/// skipped silently.
///
/// # Errors
/// [`SourceError::Document`] listing every problem, each with its block
/// (`block 59833787-…`).
pub fn parse_blocks(
    source_name: &str,
    blocks: &[Block],
    known_channels: &KnownChannels,
) -> Result<ParsedDocument, SourceError> {
    let mut builder = DocumentBuilder::new(source_name, known_channels);
    // The blocks as read (their text and styles included) are the revision.
    builder.hash_source(&serde_json::to_vec(blocks).unwrap_or_default());
    let mut stream = Vec::new();
    flatten(blocks, &mut stream);
    let mut walker = Walker::page(&mut builder, &stream);
    for block in stream {
        walker.block(block);
    }
    walker.finish();
    builder.finish().map_err(SourceError::from)
}

/// Appends `blocks` to the open item's body, as the body of a database row:
/// no metadata lines, and headings are sub-headings (`heading_1` is `####`).
pub(crate) fn item_body(builder: &mut DocumentBuilder<'_>, blocks: &[Block]) {
    let mut stream = Vec::new();
    flatten(blocks, &mut stream);
    let mut walker = Walker::body(builder);
    for block in stream {
        walker.block(block);
    }
    walker.finish();
}

/// Blocks whose children are read as if they followed the block: toggle
/// headings, indented paragraphs, toggles, and layout containers.
fn children_follow(kind: &str) -> bool {
    matches!(
        kind,
        "heading_1"
            | "heading_2"
            | "heading_3"
            | "heading_4"
            | "paragraph"
            | "toggle"
            | "column_list"
            | "column"
            | "synced_block"
    )
}

fn flatten<'a>(blocks: &'a [Block], stream: &mut Vec<&'a Block>) {
    for block in blocks.iter().filter(|block| !block.trashed()) {
        stream.push(block);
        if children_follow(&block.kind) {
            flatten(&block.children, stream);
        }
    }
}

impl Block {
    fn trashed(&self) -> bool {
        self.in_trash || self.archived
    }

    /// Whether a fetcher should read this block's children: it has some, is
    /// not in the trash, and is a block the parser reads (the children of a
    /// child page, a table or an unsupported block would be skipped anyway).
    pub(crate) fn wants_children(&self) -> bool {
        self.has_children && !self.trashed() && supported(&self.kind)
    }

    fn location(&self) -> Location {
        Location::Element(format!("block {}", self.id))
    }

    /// The rich-text payload of the block's type, if it has one.
    fn text(&self) -> Option<&TextBlock> {
        match self.kind.as_str() {
            "paragraph" => self.paragraph.as_ref(),
            "heading_1" => self.heading_1.as_ref(),
            "heading_2" => self.heading_2.as_ref(),
            "heading_3" => self.heading_3.as_ref(),
            "heading_4" => self.heading_4.as_ref(),
            "bulleted_list_item" => self.bulleted_list_item.as_ref(),
            "numbered_list_item" => self.numbered_list_item.as_ref(),
            "to_do" => self.to_do.as_ref(),
            "quote" => self.quote.as_ref(),
            "callout" => self.callout.as_ref(),
            "toggle" => self.toggle.as_ref(),
            "code" => self.code.as_ref(),
            _ => None,
        }
    }

    fn lines(&self) -> Vec<Vec<Span>> {
        self.text()
            .map(|text| split_lines(&spans(&text.rich_text)))
            .unwrap_or_default()
    }

    fn heading_level(&self) -> Option<usize> {
        match self.kind.as_str() {
            "heading_1" => Some(1),
            "heading_2" => Some(2),
            "heading_3" => Some(3),
            "heading_4" => Some(4),
            _ => None,
        }
    }

    fn is_list_item(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "bulleted_list_item" | "numbered_list_item" | "to_do"
        )
    }
}

fn spans(rich_text: &[RichText]) -> Vec<Span> {
    rich_text
        .iter()
        .map(|text| {
            let link = text
                .text
                .as_ref()
                .and_then(|content| content.link.as_ref())
                .map(|link| link.url.clone())
                .or_else(|| text.href.clone());
            let style = Style {
                bold: text.annotations.bold,
                italic: text.annotations.italic,
                strikethrough: text.annotations.strikethrough,
                code: text.annotations.code || text.kind == "equation",
                link,
            };
            Span::new(text.plain_text.clone(), style)
        })
        .collect()
}

/// Walks the flattened blocks in order and feeds the builder.
struct Walker<'b, 'k> {
    builder: &'b mut DocumentBuilder<'k>,
    /// How headings map to the document; `None` inside a database row's
    /// body, where every heading is a sub-heading.
    outline: Option<Outline>,
    /// Right after an item heading, until the first block that is not metadata.
    metadata_open: bool,
    /// The open list block, as Markdown lines.
    list_lines: Vec<String>,
}

impl<'b, 'k> Walker<'b, 'k> {
    /// A whole page: headings are the title, sections and items.
    fn page(builder: &'b mut DocumentBuilder<'k>, stream: &[&Block]) -> Self {
        let headings = |level: usize| {
            stream.iter().filter(move |block| {
                block.heading_level() == Some(level) && !block.lines().is_empty()
            })
        };
        let (outline, shift) = Outline::new(0, headings(1).count(), headings(2).count());
        if let (Some(shift), Some(first)) = (shift, headings(1).next()) {
            let reason = match shift {
                Shift::SeveralTopHeadings => "the page has several heading_1 blocks",
                Shift::NoSecondLevel | Shift::HasTitle => "the page has no heading_2 block",
            };
            builder.warn(
                first.location(),
                format!(
                    "heading_1 blocks are read as sections and the first heading level below \
                     each as its items, because {reason} (the expected layout is heading_1 = \
                     title, heading_2 = section, heading_3 = item)"
                ),
            );
        }
        Self {
            builder,
            outline: Some(outline),
            metadata_open: false,
            list_lines: Vec::new(),
        }
    }

    /// The body of one item.
    fn body(builder: &'b mut DocumentBuilder<'k>) -> Self {
        Self {
            builder,
            outline: None,
            metadata_open: false,
            list_lines: Vec::new(),
        }
    }

    fn block(&mut self, block: &Block) {
        self.warn_unfetched_children(block);
        if let Some(level) = block.heading_level() {
            self.heading(block, level);
            return;
        }
        match block.kind.as_str() {
            "paragraph" => self.paragraph(block),
            _ if block.is_list_item() => {
                self.metadata_open = false;
                let lines = self.nested(block);
                self.list_lines.extend(lines);
            }
            "column_list" | "column" | "synced_block" => {}
            _ => {
                self.flush_list();
                self.metadata_open = false;
                let lines = if block.kind == "toggle" {
                    // The children follow in the stream.
                    vec![render_lines(&block.lines(), "")]
                } else {
                    self.nested(block)
                };
                self.builder.body(&lines.join("\n"));
            }
        }
    }

    fn warn_unfetched_children(&mut self, block: &Block) {
        if block.has_children && block.children.is_empty() && supported(&block.kind) {
            self.builder.warn(
                block.location(),
                format!(
                    "the children of this `{}` block were not fetched and are missing",
                    block.kind
                ),
            );
        }
    }

    fn heading(&mut self, block: &Block, level: usize) {
        let lines = block.lines();
        if lines.is_empty() {
            return;
        }
        self.flush_list();
        self.metadata_open = false;
        let text = lines
            .iter()
            .map(|line| plain(line))
            .collect::<Vec<_>>()
            .join(" ");
        let role = match self.outline.as_mut() {
            Some(outline) => outline.role(level),
            None => Role::SubHeading((level + 3).min(6)),
        };
        match role {
            Role::Title => self.builder.title(&text, block.location()),
            Role::Section => self.builder.section(&text, block.location()),
            Role::Item => {
                self.builder.item(&text, block.location());
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
    fn paragraph(&mut self, block: &Block) {
        let lines = block.lines();
        if lines.is_empty() {
            // Empty paragraphs are spacing: they separate nothing.
            return;
        }
        self.flush_list();
        structured::paragraph(
            self.builder,
            &mut self.metadata_open,
            &lines,
            &block.location(),
        );
    }

    /// The Markdown lines of a body block together with its children.
    fn nested(&mut self, block: &Block) -> Vec<String> {
        let lines = block.lines();
        let text = block.text();
        let mut out = Vec::new();
        match block.kind.as_str() {
            "bulleted_list_item" | "numbered_list_item" | "to_do" => {
                let marker = match block.kind.as_str() {
                    "numbered_list_item" => "1. ",
                    "to_do" if text.is_some_and(|text| text.checked) => "- [x] ",
                    "to_do" => "- [ ] ",
                    _ => "- ",
                };
                let width = if block.kind == "numbered_list_item" {
                    3
                } else {
                    2
                };
                let indent = " ".repeat(width);
                out.push(format!("{marker}{}", render_lines(&lines, &indent)));
                let mut previous_was_item = true;
                for child in block.children.iter().filter(|child| !child.trashed()) {
                    self.warn_unfetched_children(child);
                    let child_lines = self.nested(child);
                    if child_lines.is_empty() {
                        continue;
                    }
                    let is_item = child.is_list_item();
                    if !(is_item && previous_was_item) {
                        out.push(String::new());
                    }
                    previous_was_item = is_item;
                    out.extend(child_lines.into_iter().map(|line| indented(&indent, &line)));
                }
            }
            "quote" | "callout" => {
                let mut inner = vec![render_lines(&lines, "")];
                if let Some(emoji) = text
                    .and_then(|text| text.icon.as_ref())
                    .and_then(|icon| icon.emoji.as_deref())
                    && let Some(first) = inner.first_mut()
                {
                    *first = format!("{emoji} {first}");
                }
                inner.extend(self.children(block));
                out.extend(inner.iter().flat_map(|line| line.split('\n')).map(|line| {
                    if line.is_empty() {
                        ">".to_owned()
                    } else {
                        format!("> {line}")
                    }
                }));
            }
            "paragraph" | "toggle" => {
                out.push(render_lines(&lines, ""));
                out.extend(self.children(block));
            }
            "heading_1" | "heading_2" | "heading_3" | "heading_4" => {
                // A heading nested in a list or quote cannot be a heading in
                // Markdown; it stays visible as bold text.
                let text: Vec<String> = lines.iter().map(|line| plain(line)).collect();
                let bold = vec![Span::new(
                    text.join(" "),
                    Style {
                        bold: true,
                        ..Style::default()
                    },
                )];
                out.push(render_line(&bold));
                out.extend(self.children(block));
            }
            "code" => {
                let code: String = text
                    .map(|text| {
                        text.rich_text
                            .iter()
                            .map(|part| part.plain_text.as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                let fence = "`".repeat(longest_backtick_run(&code).max(2) + 1);
                let language = text
                    .and_then(|text| text.language.as_deref())
                    .filter(|language| !language.contains(' '))
                    .unwrap_or_default();
                out.push(format!("{fence}{language}"));
                out.extend(code.lines().map(str::to_owned));
                out.push(fence);
            }
            "bookmark" => {
                if let Some(bookmark) = &block.bookmark {
                    let caption = plain(&spans(&bookmark.caption));
                    let title = if caption.is_empty() {
                        bookmark.url.clone()
                    } else {
                        caption
                    };
                    let link = Span::new(
                        title,
                        Style {
                            link: Some(bookmark.url.clone()),
                            ..Style::default()
                        },
                    );
                    out.push(render_line(&[link]));
                }
            }
            "column_list" | "column" | "synced_block" => out.extend(self.children(block)),
            kind => {
                self.builder.warn(
                    block.location(),
                    format!("a `{kind}` block is skipped: it has no living-document form"),
                );
            }
        }
        // One entry per physical line, so that callers can indent each.
        out.iter()
            .flat_map(|line| line.split('\n'))
            .map(str::to_owned)
            .collect()
    }

    /// The children of a block as paragraphs after it, a blank line apart.
    fn children(&mut self, block: &Block) -> Vec<String> {
        let mut out = Vec::new();
        for child in block.children.iter().filter(|child| !child.trashed()) {
            self.warn_unfetched_children(child);
            let lines = self.nested(child);
            if !lines.is_empty() {
                out.push(String::new());
                out.extend(lines);
            }
        }
        out
    }

    fn flush_list(&mut self) {
        if !self.list_lines.is_empty() {
            let block = self.list_lines.join("\n");
            self.builder.body(&block);
            self.list_lines.clear();
        }
    }

    fn finish(mut self) {
        self.flush_list();
    }
}

/// Whether the parser reads blocks of this type (others are skipped).
fn supported(kind: &str) -> bool {
    matches!(
        kind,
        "paragraph"
            | "heading_1"
            | "heading_2"
            | "heading_3"
            | "heading_4"
            | "bulleted_list_item"
            | "numbered_list_item"
            | "to_do"
            | "quote"
            | "callout"
            | "toggle"
            | "code"
            | "bookmark"
            | "column_list"
            | "column"
            | "synced_block"
    )
}

/// Indents a Markdown line under a list item; blank lines stay blank.
fn indented(indent: &str, line: &str) -> String {
    if line.is_empty() {
        String::new()
    } else {
        format!("{indent}{line}")
    }
}

#[cfg(test)]
mod tests {
    use halcytone_core::channel::Channel;
    use serde_json::{Value, json};

    use super::*;

    fn known() -> KnownChannels {
        KnownChannels::new(["email", "web"].map(|name| Channel::parse(name).unwrap()))
    }

    fn text(content: &str) -> Value {
        json!({"type": "text", "text": {"content": content, "link": null}, "plain_text": content, "href": null})
    }

    /// A block of `kind` with one plain text run and an id from its text.
    fn block(kind: &str, content: &str) -> Value {
        let id = format!(
            "id-{}",
            content.split_whitespace().next().unwrap_or("empty")
        );
        json!({"object": "block", "id": id, "type": kind, "has_children": false, "in_trash": false,
               kind: {"rich_text": if content.is_empty() { json!([]) } else { json!([text(content)]) }}})
    }

    fn with_children(mut parent: Value, children: Vec<Value>) -> Value {
        parent["has_children"] = json!(true);
        parent["children"] = Value::Array(children);
        parent
    }

    fn blocks(values: Vec<Value>) -> Vec<Block> {
        serde_json::from_value(Value::Array(values)).unwrap()
    }

    fn parse(values: Vec<Value>) -> ParsedDocument {
        parse_blocks("page", &blocks(values), &known()).unwrap()
    }

    fn item_body(values: Vec<Value>) -> (String, Vec<String>) {
        let mut all = vec![block("heading_2", "News"), block("heading_3", "One")];
        all.extend(values);
        let parsed = parse(all);
        let warnings = parsed.warnings.iter().map(ToString::to_string).collect();
        let body = parsed.document.items().next().unwrap().body.clone();
        (body, warnings)
    }

    #[test]
    fn the_contract_layout_reads_title_sections_items_and_metadata() {
        let parsed = parse(vec![
            block("heading_1", "Living"),
            block("heading_2", "News"),
            block("heading_3", "One"),
            block("paragraph", "Tags: a, b\nPriority: high"),
            block("paragraph", ""),
            block("paragraph", "Channels: web"),
            block("paragraph", "Body."),
            block("paragraph", "Note: later lines are body."),
            block("heading_4", "Details"),
        ]);
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(parsed.document.title.as_deref(), Some("Living"));
        let item = parsed.document.items().next().unwrap();
        assert_eq!(item.tags, ["a", "b"]);
        assert_eq!(
            item.channels.as_ref().map(|channels| channels.len()),
            Some(1)
        );
        assert_eq!(
            item.body,
            "Body.\n\nNote: later lines are body.\n\n#### Details"
        );
        assert_eq!(item.location, Location::Element("block id-One".to_owned()));
    }

    #[test]
    fn metadata_and_body_can_share_a_paragraph() {
        let (body, _) = item_body(vec![block(
            "paragraph",
            "Tags: a\nThe body starts here: really.",
        )]);
        assert_eq!(body, "The body starts here: really.");
    }

    #[test]
    fn to_dos_quotes_callouts_toggles_code_and_bookmarks_become_markdown() {
        let mut done = block("to_do", "Shipped");
        done["to_do"]["checked"] = json!(true);
        let mut callout = block("callout", "Heads up");
        callout["callout"]["icon"] = json!({"type": "emoji", "emoji": "💡"});
        let mut code = block("code", "let x = `a`;\nx");
        code["code"]["language"] = json!("rust");
        let bookmark = json!({"id": "id-bookmark", "type": "bookmark",
                              "bookmark": {"url": "https://x.example/a", "caption": []}});
        let (body, warnings) = item_body(vec![
            block("to_do", "Write"),
            done,
            with_children(block("quote", "Said"), vec![block("paragraph", "More")]),
            callout,
            with_children(
                block("toggle", "Details"),
                vec![block("paragraph", "Inside")],
            ),
            code,
            bookmark,
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            body,
            "- [ ] Write\n- [x] Shipped\n\n> Said\n>\n> More\n\n> 💡 Heads up\n\nDetails\n\nInside\n\n\
             ```rust\nlet x = `a`;\nx\n```\n\n[https://x.example/a](https://x.example/a)"
        );
    }

    #[test]
    fn list_children_nest_under_their_item() {
        let (body, _) = item_body(vec![
            with_children(
                block("numbered_list_item", "First"),
                vec![
                    with_children(
                        block("bulleted_list_item", "Inner"),
                        vec![block("to_do", "Deep")],
                    ),
                    block("paragraph", "Note"),
                    block("bulleted_list_item", "After"),
                ],
            ),
            block("numbered_list_item", "Second"),
        ]);
        assert_eq!(
            body,
            "1. First\n   - Inner\n     - [ ] Deep\n\n   Note\n\n   - After\n1. Second"
        );
    }

    #[test]
    fn trashed_blocks_are_skipped_and_others_warn() {
        let mut trashed = block("paragraph", "Deleted");
        trashed["in_trash"] = json!(true);
        let mut archived = block("paragraph", "Archived");
        archived["archived"] = json!(true);
        let (body, warnings) = item_body(vec![
            block("paragraph", "Kept."),
            trashed,
            archived,
            json!({"id": "id-image", "type": "image", "image": {"type": "external", "external": {"url": "https://x.example/a.png"}}}),
            json!({"id": "id-page", "type": "child_page", "child_page": {"title": "Sub"}}),
            block("unsupported", ""),
        ]);
        assert_eq!(body, "Kept.");
        assert_eq!(
            warnings,
            [
                "element block id-image: a `image` block is skipped: it has no living-document form",
                "element block id-page: a `child_page` block is skipped: it has no living-document form",
                "element block id-empty: a `unsupported` block is skipped: it has no living-document form",
            ]
        );
    }

    #[test]
    fn toggle_headings_bring_their_children_and_columns_are_unwrapped() {
        let mut toggle_heading = block("heading_3", "One");
        toggle_heading["heading_3"]["is_toggleable"] = json!(true);
        let parsed = parse(vec![
            block("heading_2", "News"),
            with_children(
                toggle_heading,
                vec![block("paragraph", "Tags: a"), block("paragraph", "Body.")],
            ),
            with_children(
                json!({"id": "id-columns", "type": "column_list", "column_list": {}}),
                vec![with_children(
                    json!({"id": "id-column", "type": "column", "column": {}}),
                    vec![block("heading_3", "Two"), block("paragraph", "Left.")],
                )],
            ),
        ]);
        let items: Vec<(&str, &[String], &str)> = parsed
            .document
            .items()
            .map(|item| (item.id.as_str(), item.tags.as_slice(), item.body.as_str()))
            .collect();
        assert_eq!(
            items,
            [
                ("news/one", &["a".to_owned()][..], "Body."),
                ("news/two", &[][..], "Left.")
            ]
        );
    }

    #[test]
    fn rich_text_annotations_links_and_equations_become_markdown() {
        let mut paragraph = block("paragraph", "");
        paragraph["paragraph"]["rich_text"] = json!([
            {"type": "text", "plain_text": "bold", "annotations": {"bold": true}},
            {"type": "text", "plain_text": " and "},
            {"type": "text", "plain_text": "gone", "annotations": {"strikethrough": true}},
            {"type": "text", "plain_text": " see ", "annotations": {}},
            {"type": "mention", "plain_text": "Plan", "href": "https://www.notion.so/plan"},
            {"type": "text", "plain_text": " ", "annotations": {}},
            {"type": "equation", "plain_text": "e=mc^2"},
            {"type": "text", "plain_text": " 2*3 "},
            {"type": "text", "plain_text": "x", "annotations": {"code": true, "italic": true}}
        ]);
        let (body, _) = item_body(vec![paragraph]);
        assert_eq!(
            body,
            "**bold** and ~~gone~~ see [Plan](https://www.notion.so/plan) `e=mc^2` 2\\*3 *`x`*"
        );
    }

    #[test]
    fn a_page_of_heading_1_sections_without_heading_2_reads_heading_3_items() {
        let parsed = parse(vec![
            block("heading_1", "News"),
            block("heading_3", "One"),
            block("paragraph", "Body."),
        ]);
        assert_eq!(
            parsed.document.items().next().unwrap().id.as_str(),
            "news/one"
        );
        assert!(
            parsed.warnings[0]
                .message
                .contains("the page has no heading_2 block")
        );
    }

    #[test]
    fn document_errors_name_the_block() {
        let values = vec![
            block("heading_2", "News"),
            block("heading_3", "One"),
            block("paragraph", "Priority: urgent"),
            block("paragraph", "Body."),
            block("heading_3", "Two"),
        ];
        let Err(SourceError::Document(error)) = parse_blocks("page", &blocks(values), &known())
        else {
            panic!("expected a document error");
        };
        let errors: Vec<String> = error.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "element block id-Priority:: bad priority `urgent`: expected high, normal or low",
                "element block id-Two: item `Two` has no body",
            ]
        );
    }

    #[test]
    fn the_revision_follows_the_blocks() {
        let first = parse(vec![
            block("heading_2", "News"),
            block("heading_3", "One"),
            block("paragraph", "A."),
        ]);
        let again = parse(vec![
            block("heading_2", "News"),
            block("heading_3", "One"),
            block("paragraph", "A."),
        ]);
        let edited = parse(vec![
            block("heading_2", "News"),
            block("heading_3", "One"),
            block("paragraph", "B."),
        ]);
        assert_eq!(first.document.revision, again.document.revision);
        assert_ne!(first.document.revision, edited.document.revision);
    }
}
