//! LinkedIn's "little text format": escaping and the commentary length rule.

use halcytone_core::text::{hashtag, truncate_by};

/// The fifteen characters the little text format reserves.
pub(crate) const RESERVED: [char; 15] = [
    '\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~',
];

/// The longest commentary, in UTF-16 code units.
pub(crate) const MAX_COMMENTARY: usize = 3000;

/// Prefixes every reserved character with a backslash, in one pass.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 16);
    for character in text.chars() {
        if RESERVED.contains(&character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// A hashtag element: `{hashtag|#|breathwork}`.
pub(crate) fn hashtag_element(tag: &str) -> Option<String> {
    hashtag(tag).map(|tag| format!("{{hashtag|#|{}}}", &tag[1..]))
}

fn utf16_length(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Builds the commentary: the escaped text, cut on a word so the whole stays
/// within [`MAX_COMMENTARY`], then the hashtag elements (left unescaped).
pub(crate) fn commentary(text: &str, tags: &[String]) -> String {
    let elements: Vec<String> = tags.iter().filter_map(|tag| hashtag_element(tag)).collect();
    let tail = if elements.is_empty() {
        String::new()
    } else {
        format!("\n\n{}", elements.join(" "))
    };
    let budget = MAX_COMMENTARY.saturating_sub(utf16_length(&tail));
    let text = truncate_by(text, budget, |candidate| utf16_length(&escape(candidate)));
    format!("{}{tail}", escape(&text))
}

/// The length of a hashtag (`{hashtag|#|tag}`) or mention
/// (`@[Name](urn:li:…)`) element at the start of `text`, if one is there.
fn element_length(text: &str) -> Option<usize> {
    if text.starts_with("{hashtag|") {
        return text.find('}').map(|end| end + 1);
    }
    let rest = text.strip_prefix("@[")?;
    let name_end = rest.find("](urn:li:")?;
    let urn_end = rest[name_end..].find(')')?;
    Some(2 + name_end + urn_end + 1)
}

/// The first reserved character in `commentary` that is neither escaped nor
/// part of a hashtag or mention element.
pub(crate) fn first_unescaped(commentary: &str) -> Option<char> {
    let mut index = 0;
    while let Some(character) = commentary[index..].chars().next() {
        if let Some(length) = element_length(&commentary[index..]) {
            index += length;
            continue;
        }
        if character == '\\' {
            match commentary[index + 1..].chars().next() {
                Some(next) if RESERVED.contains(&next) => {
                    index += 1 + next.len_utf8();
                    continue;
                }
                _ => return Some('\\'),
            }
        }
        if RESERVED.contains(&character) {
            return Some(character);
        }
        index += character.len_utf8();
    }
    None
}

/// The commentary as LinkedIn shows it: escapes dropped, a hashtag element
/// as `#tag`, a mention as the name it carries.
pub(crate) fn displayed(commentary: &str) -> String {
    let mut text = String::with_capacity(commentary.len());
    let mut index = 0;
    while let Some(character) = commentary[index..].chars().next() {
        if let Some(length) = element_length(&commentary[index..]) {
            let element = &commentary[index..index + length];
            if let Some(tag) = element.strip_prefix("{hashtag|") {
                text.push('#');
                text.push_str(tag.trim_end_matches('}').rsplit('|').next().unwrap_or(""));
            } else if let Some((name, _)) = element[2..].split_once("](urn:li:") {
                text.push_str(name);
            }
            index += length;
            continue;
        }
        if character == '\\'
            && let Some(next) = commentary[index + 1..].chars().next()
            && RESERVED.contains(&next)
        {
            text.push(next);
            index += 1 + next.len_utf8();
            continue;
        }
        text.push(character);
        index += character.len_utf8();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reserved_character_is_escaped() {
        for character in RESERVED {
            let text = format!("a{character}b");
            assert_eq!(escape(&text), format!("a\\{character}b"), "{character}");
            assert_eq!(first_unescaped(&escape(&text)), None, "{character}");
            assert_eq!(first_unescaped(&text), Some(character), "{character}");
        }
    }

    #[test]
    fn displayed_text_shows_hashtags_mentions_and_unescaped_characters() {
        assert_eq!(
            displayed(
                "Breathe \\(slowly\\) with @[Halcytone](urn:li:organization:42)\n\n{hashtag|#|breathwork}"
            ),
            "Breathe (slowly) with Halcytone\n\n#breathwork"
        );
        let written = "a (b) #c [d] 50% *e* _f_ ~g~ <h> |i| {j} @k \\l";
        assert_eq!(displayed(&escape(written)), written);
    }

    #[test]
    fn matches_the_reference_fixture() {
        let before = include_str!("../tests/data/linkedin-commentary-before.txt").trim_end();
        let after = include_str!("../tests/data/linkedin-commentary-after.txt").trim_end();
        let (escaped, _) = after.split_once("\n\nMade with").unwrap();
        assert_eq!(escape(before), escaped);
    }

    #[test]
    fn commentary_appends_hashtag_elements_and_keeps_the_limit() {
        let text = commentary(
            "Breathe (slowly) #now",
            &["breathwork".to_owned(), "sleep well".to_owned()],
        );
        assert_eq!(
            text,
            "Breathe \\(slowly\\) \\#now\n\n{hashtag|#|breathwork} {hashtag|#|sleepWell}"
        );
        let long = "word_ ".repeat(1000);
        let cut = commentary(&long, &["sleep".to_owned()]);
        assert!(cut.encode_utf16().count() <= MAX_COMMENTARY);
        assert!(
            cut.ends_with("…\n\n{hashtag|#|sleep}"),
            "{}",
            &cut[cut.len() - 40..]
        );
        assert_eq!(first_unescaped(&cut), None);
    }
}
