//! Text helpers shared by every channel: slugs, word-boundary truncation,
//! hashtags, and Markdown to sanitised HTML or plain text.

use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The ellipsis appended to truncated text.
pub const ELLIPSIS: char = '…';

/// Lowercases `text` and joins its runs of letters and digits with `-`.
///
/// Letters outside ASCII are kept (`Café` → `café`); text with no letter or
/// digit gives `item`.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for character in text.chars() {
        if character.is_alphanumeric() {
            slug.extend(character.to_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        slug.push_str("item");
    }
    slug
}

/// Cuts `text` to at most `max_chars` characters on a word boundary, adding
/// an ellipsis when anything was cut.
pub fn truncate_on_word(text: &str, max_chars: usize) -> String {
    truncate_by(text, max_chars, |part| part.chars().count())
}

/// Cuts `text` on a word boundary so that `measure` of the result, ellipsis
/// included, is at most `max`; returns `text` unchanged when it fits.
///
/// Channels with their own length rules (weighted characters, UTF-16 units)
/// pass their measure here instead of writing another truncation.
pub fn truncate_by(text: &str, max: usize, measure: impl Fn(&str) -> usize) -> String {
    let text = text.trim();
    if measure(text) <= max {
        return text.to_owned();
    }
    let with_ellipsis = |prefix: &str| {
        let prefix = prefix.trim_end_matches(|c: char| c.is_whitespace() || ",;:-–—".contains(c));
        format!("{prefix}{ELLIPSIS}")
    };
    // Prefixes ending at a word boundary hold whole words (and whole URLs), so
    // their measure grows with their length: binary-search the longest that fits.
    let boundaries: Vec<usize> = text
        .char_indices()
        .filter(|(_, character)| character.is_whitespace())
        .map(|(index, _)| index)
        .collect();
    let fitting =
        boundaries.partition_point(|&index| measure(&with_ellipsis(&text[..index])) <= max);
    let best = fitting
        .checked_sub(1)
        .map(|last| with_ellipsis(&text[..boundaries[last]]))
        .filter(|best| best.chars().count() > 1);
    if let Some(best) = best {
        return best;
    }
    // One long word: cut it by characters.
    let mut cut = String::new();
    for character in text.chars() {
        let mut candidate = cut.clone();
        candidate.push(character);
        if measure(&with_ellipsis(&candidate)) > max {
            break;
        }
        cut = candidate;
    }
    with_ellipsis(&cut)
}

/// A hashtag for a tag: `breath work` → `#breathWork`, `sleep` → `#sleep`.
///
/// Words after the first are capitalised so multi-word tags stay readable;
/// characters that cannot be part of a hashtag are dropped.
pub fn hashtag(tag: &str) -> Option<String> {
    let words: Vec<&str> = tag
        .split(|character: char| !(character.is_alphanumeric() || character == '_'))
        .filter(|word| !word.is_empty())
        .collect();
    let first = words.first()?;
    let mut hashtag = format!("#{first}");
    for word in &words[1..] {
        let mut characters = word.chars();
        if let Some(initial) = characters.next() {
            hashtag.extend(initial.to_uppercase());
            hashtag.push_str(characters.as_str());
        }
    }
    // A hashtag of digits alone is not a hashtag on the social networks.
    hashtag[1..]
        .chars()
        .any(char::is_alphabetic)
        .then_some(hashtag)
}

fn markdown_options() -> Options {
    Options::ENABLE_STRIKETHROUGH
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"));
    builder
});

/// Renders Markdown to HTML and sanitises it: scripts, event handlers and
/// `javascript:` links are removed, whatever the document contains.
pub fn markdown_to_html(markdown: &str) -> String {
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(markdown, markdown_options()));
    sanitize_html(&html)
}

/// Keeps the safe part of an HTML fragment: scripts, event handlers and
/// `javascript:` links are removed.
pub fn sanitize_html(html: &str) -> String {
    SANITIZER.clean(html).to_string()
}

/// Renders Markdown to plain text: paragraphs separated by blank lines, list
/// items as `- item`, and links as `text (url)` unless `links` is false.
pub fn markdown_to_text(markdown: &str, links: bool) -> String {
    let mut text = String::with_capacity(markdown.len());
    let mut link_stack: Vec<String> = Vec::new();
    for event in Parser::new_ext(markdown, markdown_options()) {
        match event {
            Event::Text(content) | Event::Code(content) => text.push_str(&content),
            Event::SoftBreak => text.push(' '),
            Event::HardBreak => text.push('\n'),
            Event::Start(Tag::Item) => {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str("- ");
            }
            Event::Start(Tag::Link { dest_url, .. }) => link_stack.push(dest_url.into_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = link_stack.pop().filter(|_| links) {
                    text.push_str(" (");
                    text.push_str(&url);
                    text.push(')');
                }
            }
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::List(_)
                | TagEnd::BlockQuote(_)
                | TagEnd::CodeBlock,
            ) => {
                end_block(&mut text);
            }
            _ => {}
        }
    }
    text.trim().to_owned()
}

/// Ends the current block with a blank line.
fn end_block(text: &mut String) {
    let trimmed = text.trim_end_matches([' ', '\n']).len();
    text.truncate(trimmed);
    if !text.is_empty() {
        text.push_str("\n\n");
    }
}

/// The first paragraph of `markdown` as plain text without link targets.
pub fn first_paragraph(markdown: &str) -> String {
    let mut text = String::new();
    let mut in_paragraph = false;
    for event in Parser::new_ext(markdown, markdown_options()) {
        match event {
            Event::Start(Tag::Paragraph) => in_paragraph = true,
            Event::End(TagEnd::Paragraph) if in_paragraph => break,
            Event::Text(content) | Event::Code(content) if in_paragraph => text.push_str(&content),
            Event::SoftBreak | Event::HardBreak if in_paragraph => text.push(' '),
            _ => {}
        }
    }
    if text.trim().is_empty() {
        // A body that opens with a list or a quote: take its first block of text.
        let all = markdown_to_text(markdown, false);
        return all
            .split("\n\n")
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
    }
    text.trim().to_owned()
}

/// `text` with its first line replaced by `line`: an experiment's arm B
/// opens with its `Hook B:` where arm A opens with the item's title.
pub fn replace_first_line(text: &str, line: &str) -> String {
    match text.split_once('\n') {
        Some((_, rest)) => format!("{}\n{rest}", line.trim()),
        None => line.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for (input, expected) in [
            ("Morning resonance sessions", "morning-resonance-sessions"),
            ("  Box breathing: 4-4-4-4! ", "box-breathing-4-4-4-4"),
            ("Café & Crème", "café-crème"),
            ("🌬️", "item"),
        ] {
            assert_eq!(slugify(input), expected, "{input}");
        }
    }

    #[test]
    fn truncation_cuts_on_words() {
        assert_eq!(truncate_on_word("short text", 20), "short text");
        assert_eq!(truncate_on_word("one two three four", 12), "one two…");
        assert_eq!(truncate_on_word("one, two three", 9), "one, two…");
        assert_eq!(truncate_on_word("one, two three", 8), "one…");
        assert_eq!(truncate_on_word("abcdefghijkl", 5), "abcd…");
        assert!(truncate_on_word(&"word ".repeat(100), 160).chars().count() <= 160);
    }

    #[test]
    fn hashtags() {
        assert_eq!(hashtag("breathscape").as_deref(), Some("#breathscape"));
        assert_eq!(hashtag("breath work").as_deref(), Some("#breathWork"));
        assert_eq!(hashtag("2026"), None);
        assert_eq!(hashtag("  "), None);
    }

    #[test]
    fn html_is_sanitised() {
        let html = markdown_to_html(
            "Hi <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> **b**",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(html.contains("<strong>b</strong>"), "{html}");
    }

    #[test]
    fn plain_text_keeps_structure() {
        let text = markdown_to_text(
            "One *two* [three](https://x.example).\n\n- a\n- b\n\nEnd.",
            true,
        );
        assert_eq!(
            text,
            "One two three (https://x.example).\n\n- a\n- b\n\nEnd."
        );
        assert_eq!(
            first_paragraph("First [link](https://x.example).\n\nSecond."),
            "First link."
        );
    }

    #[test]
    fn the_first_line_is_replaced_and_the_rest_kept() {
        assert_eq!(
            replace_first_line("Title\n\nBody line.\nMore.", " Hook "),
            "Hook\n\nBody line.\nMore."
        );
        assert_eq!(replace_first_line("Only a title", "Hook"), "Hook");
    }
}
