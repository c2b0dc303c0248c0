//! Styled text runs to inline Markdown: bold, italic, strikethrough, code and
//! links, with plain text escaped so that `*`, `_` or `[` stay literal.
//!

/// How a run of text looks, as far as Markdown can say it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Style {
    /// Bold (`**x**`).
    pub bold: bool,
    /// Italic (`*x*`).
    pub italic: bool,
    /// Struck through (`~~x~~`).
    pub strikethrough: bool,
    /// Inline code (`` `x` ``).
    pub code: bool,
    /// A link target (`[x](url)`).
    pub link: Option<String>,
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The text.
    pub text: String,
    /// How it looks.
    pub style: Style,
}

impl Span {
    /// A run of `text` in `style`.
    pub fn new(text: impl Into<String>, style: Style) -> Self {
        Self {
            text: text.into(),
            style,
        }
    }
}

/// Splits runs into lines at `\n` and at the vertical tab (U+000B) that
/// Google Docs uses for a line break inside a paragraph. Lines that are
/// empty at either end are dropped.
pub fn split_lines(spans: &[Span]) -> Vec<Vec<Span>> {
    let mut lines = vec![Vec::new()];
    for span in spans {
        let mut parts = span.text.split(['\n', '\u{b}']);
        if let Some(first) = parts.next() {
            push(&mut lines, first, &span.style);
        }
        for part in parts {
            lines.push(Vec::new());
            push(&mut lines, part, &span.style);
        }
    }
    while lines.first().is_some_and(|line| plain(line).is_empty()) {
        lines.remove(0);
    }
    while lines.last().is_some_and(|line| plain(line).is_empty()) {
        lines.pop();
    }
    lines
}

fn push(lines: &mut [Vec<Span>], text: &str, style: &Style) {
    if let (false, Some(line)) = (text.is_empty(), lines.last_mut()) {
        line.push(Span::new(text, style.clone()));
    }
}

/// The plain text of a line, trimmed.
pub fn plain(line: &[Span]) -> String {
    line.iter()
        .map(|span| span.text.as_str())
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Renders lines as Markdown lines joined by `\n`; every line after the first
/// starts with `continuation` (the indentation of a list item's text).
pub fn render_lines(lines: &[Vec<Span>], continuation: &str) -> String {
    let mut text = String::new();
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            text.push('\n');
            let rendered = render_line(line);
            if !rendered.is_empty() {
                text.push_str(continuation);
            }
            text.push_str(&rendered);
        } else {
            text.push_str(&render_line(line));
        }
    }
    text
}

/// Renders one line of runs as inline Markdown.
pub fn render_line(line: &[Span]) -> String {
    let spans = tidy(line);
    let mut out = String::new();
    render(&spans, Level::Link, true, &mut out);
    out
}

/// Trims the line, drops empty runs and merges neighbours of equal style,
/// which Google Docs splits for reasons Markdown cannot show (colour, font).
fn tidy(line: &[Span]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for span in line {
        let text: String = span
            .text
            .chars()
            .filter(|character| *character == '\t' || !character.is_control())
            // Google Docs shows non-text content (such as a chip) as U+E907.
            .filter(|character| *character != '\u{E907}')
            .collect();
        if text.is_empty() {
            continue;
        }
        match spans.last_mut() {
            Some(last) if last.style == span.style => last.text.push_str(&text),
            _ => spans.push(Span::new(text, span.style.clone())),
        }
    }
    while let Some(first) = spans.first_mut() {
        let trimmed = first.text.trim_start().to_owned();
        if trimmed.is_empty() {
            spans.remove(0);
        } else {
            first.text = trimmed;
            break;
        }
    }
    while let Some(last) = spans.last_mut() {
        let trimmed = last.text.trim_end().to_owned();
        if trimmed.is_empty() {
            spans.pop();
        } else {
            last.text = trimmed;
            break;
        }
    }
    spans
}

/// The nesting of Markdown markers, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Link,
    Strikethrough,
    Bold,
    Italic,
    Text,
}

impl Level {
    fn next(self) -> Self {
        match self {
            Self::Link => Self::Strikethrough,
            Self::Strikethrough => Self::Bold,
            Self::Bold => Self::Italic,
            Self::Italic | Self::Text => Self::Text,
        }
    }

    /// The group key of a span at this level; `None` means unmarked.
    fn key(self, style: &Style) -> Option<String> {
        match self {
            Self::Link => style.link.clone(),
            Self::Strikethrough => style.strikethrough.then(String::new),
            Self::Bold => style.bold.then(String::new),
            Self::Italic => style.italic.then(String::new),
            Self::Text => None,
        }
    }

    fn markers(self, key: &str) -> (String, String) {
        match self {
            Self::Link => ("[".to_owned(), format!("]({})", link_destination(key))),
            Self::Strikethrough => ("~~".to_owned(), "~~".to_owned()),
            Self::Bold => ("**".to_owned(), "**".to_owned()),
            Self::Italic => ("*".to_owned(), "*".to_owned()),
            Self::Text => (String::new(), String::new()),
        }
    }
}

/// Renders spans grouped by the marker of `level`, recursing inwards.
/// `line_start` says whether the output begins a Markdown line, where more
/// characters need escaping.
fn render(spans: &[Span], level: Level, line_start: bool, out: &mut String) {
    if level == Level::Text {
        for (index, span) in spans.iter().enumerate() {
            if span.style.code {
                out.push_str(&code_span(&span.text));
            } else {
                out.push_str(&escape(&span.text, line_start && index == 0));
            }
        }
        return;
    }
    let mut start = 0;
    while start < spans.len() {
        let key = level.key(&spans[start].style);
        let end = spans[start..]
            .iter()
            .position(|span| level.key(&span.style) != key)
            .map_or(spans.len(), |offset| start + offset);
        let group = &spans[start..end];
        let first = line_start && start == 0;
        match key {
            None => render(group, level.next(), first, out),
            Some(key) => {
                let mut inner = String::new();
                render(group, level.next(), false, &mut inner);
                let core = inner.trim();
                if core.is_empty() {
                    out.push_str(&inner);
                } else {
                    let (open, close) = level.markers(&key);
                    let lead = &inner[..inner.len() - inner.trim_start().len()];
                    let trail = &inner[inner.trim_end().len()..];
                    out.push_str(lead);
                    out.push_str(&open);
                    out.push_str(core);
                    out.push_str(&close);
                    out.push_str(trail);
                }
            }
        }
        start = end;
    }
}

/// Escapes plain text so that Markdown shows it as written.
pub fn escape(text: &str, line_start: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let characters: Vec<char> = text.chars().collect();
    for (index, &character) in characters.iter().enumerate() {
        let escaped = match character {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '~' => true,
            '&' => looks_like_entity(&characters[index + 1..]),
            '#' | '>' | '+' | '-' | '=' | '|' => line_start && index == 0,
            '.' | ')' => {
                // `12. ` or `3) ` at the start of a line would begin a list.
                line_start
                    && (1..=9).contains(&index)
                    && characters[..index].iter().all(char::is_ascii_digit)
            }
            _ => false,
        };
        if escaped {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

/// Whether `&` followed by these characters would be read as an entity.
fn looks_like_entity(rest: &[char]) -> bool {
    let name_length = rest
        .iter()
        .take_while(|character| character.is_ascii_alphanumeric() || **character == '#')
        .count();
    name_length > 0 && rest.get(name_length) == Some(&';')
}

/// A code span whose fence is longer than any backtick run inside.
pub fn code_span(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text) + 1);
    let pad = text.starts_with('`') || text.ends_with('`');
    let space = if pad { " " } else { "" };
    format!("{fence}{space}{text}{space}{fence}")
}

/// The length of the longest run of backticks in `text`.
pub fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut current = 0;
    for character in text.chars() {
        if character == '`' {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    longest
}

/// A link destination that stays one token: spaces, brackets and parentheses
/// are percent-encoded.
fn link_destination(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for character in url.trim().chars() {
        match character {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            _ => out.push(character),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(text: &str, style: Style) -> Span {
        Span::new(text, style)
    }

    fn bold() -> Style {
        Style {
            bold: true,
            ..Style::default()
        }
    }

    fn italic() -> Style {
        Style {
            italic: true,
            ..Style::default()
        }
    }

    fn link(url: &str) -> Style {
        Style {
            link: Some(url.to_owned()),
            ..Style::default()
        }
    }

    #[test]
    fn emphasis_keeps_spaces_outside_the_markers() {
        let line = [
            span("We shipped", Style::default()),
            span(" three sessions ", bold()),
            span("and", Style::default()),
            span(" more", italic()),
        ];
        assert_eq!(
            render_line(&line),
            "We shipped **three sessions** and *more*"
        );
    }

    #[test]
    fn bold_italic_links_and_code_nest() {
        let both = Style {
            bold: true,
            italic: true,
            ..Style::default()
        };
        assert_eq!(render_line(&[span("x", both)]), "***x***");
        let line = [
            span("Status: ", bold()),
            span(
                "Ready",
                Style {
                    bold: true,
                    code: true,
                    ..Style::default()
                },
            ),
        ];
        assert_eq!(render_line(&line), "**Status: `Ready`**");
        let line = [
            span("Read ", Style::default()),
            span("the ", link("https://x.example/a b")),
            span(
                "notes",
                Style {
                    bold: true,
                    link: Some("https://x.example/a b".to_owned()),
                    ..Style::default()
                },
            ),
        ];
        assert_eq!(
            render_line(&line),
            "Read [the **notes**](https://x.example/a%20b)"
        );
        let struck = Style {
            strikethrough: true,
            ..Style::default()
        };
        assert_eq!(render_line(&[span("old", struck)]), "~~old~~");
    }

    #[test]
    fn neighbours_of_one_style_merge() {
        let line = [span("thr", bold()), span("ee", bold())];
        assert_eq!(render_line(&line), "**three**");
    }

    #[test]
    fn plain_text_is_escaped() {
        assert_eq!(
            escape("2 * 3 = snake_case [x] <b> ~ `c` \\ &amp; R&D", false),
            "2 \\* 3 = snake\\_case \\[x\\] \\<b> \\~ \\`c\\` \\\\ \\&amp; R&D"
        );
        assert_eq!(escape("# not a heading", true), "\\# not a heading");
        assert_eq!(escape("- not a list", true), "\\- not a list");
        assert_eq!(escape("2026. A year", true), "2026\\. A year");
        assert_eq!(escape("2026. A year", false), "2026. A year");
        assert_eq!(escape("4-7-8", true), "4-7-8");
    }

    #[test]
    fn code_spans_outgrow_backticks_inside() {
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x`"), "`` `x` ``");
    }

    #[test]
    fn lines_split_at_newlines_and_vertical_tabs() {
        let spans = [
            span("Tags: a\u{b}Body ", Style::default()),
            span("bold", bold()),
            span("\n", Style::default()),
        ];
        let lines = split_lines(&spans);
        assert_eq!(lines.len(), 2);
        assert_eq!(plain(&lines[0]), "Tags: a");
        assert_eq!(render_line(&lines[1]), "Body **bold**");
        assert_eq!(render_lines(&lines, "  "), "Tags: a\n  Body **bold**");
    }
}
