//! Weighted length of a post per twitter-text (config v2 and v3).
//!
//! This is a Rust port of twitter-text's `parseTweet` (`js/src/parseTweet.js`): the text is
//! NFC-normalised, every URL found by twitter-text's URL extractor counts
//! `transformed_url_length` characters whatever its real length, every emoji counts
//! `default_weight` when emoji parsing is enabled (config v3), and every other code point
//! weighs what the configured code-point ranges say (`default_weight` outside them).
//!
//! All offsets returned in [`ParsedPost`] are UTF-16 code-unit offsets into the *original*
//! (non-normalised) text, exactly as the official JavaScript library reports them.
//! [`longest_fitting_prefix`] returns a byte index instead, for slicing a `&str`.
//!
//! The URL extractor reproduces the official regex and its quirks (it runs on UTF-16 code
//! units, pastes sub-patterns without brackets, places entities with `indexOf`...).
//! Known differences from the official library, none of which its conformance data covers:
//! - Emoji are recognised from Unicode properties with twemoji's exceptions, not from
//!   twemoji's enumerated list, so any chain of emoji joined by ZWJ, and any tag sequence,
//!   counts as one emoji, where twemoji knows only the standard sequences of its version
//!   and counts the parts of the others separately.
//! - `valid_range` is clamped at 0, where the official code can return a negative end (see
//!   [`ParsedPost::valid_range`]).
//!
//! The TLD lists are twitter-text's own (`js/src/regexp/validGTLD.js` and `validCCTLD.js`,
//! Copyright Twitter, Inc., Apache License 2.0; see `tests/data/LICENSE`).

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;
use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// A range of code points (inclusive) and the weight each of them has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightRange {
    /// First code point of the range.
    pub start: u32,
    /// Last code point of the range (inclusive).
    pub end: u32,
    /// Weight of one code point in the range, in `scale` units.
    pub weight: usize,
}

/// A twitter-text weighting configuration (`config/v2.json`, `config/v3.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightConfig {
    /// Largest valid weighted length (`maxWeightedTweetLength`).
    pub max_weighted_length: usize,
    /// Weights are given in units of `1 / scale` characters (`scale`).
    pub scale: usize,
    /// Weight of a code point outside every range, and of an emoji (`defaultWeight`).
    pub default_weight: usize,
    /// Whether emoji count as one entity of `default_weight` (`emojiParsingEnabled`).
    pub emoji_parsing_enabled: bool,
    /// Number of characters every URL counts for (`transformedURLLength`).
    pub transformed_url_length: usize,
    /// Code-point ranges with their weights; the first range that matches wins (`ranges`).
    pub ranges: Vec<WeightRange>,
}

impl WeightConfig {
    /// Config v2: like v3 but without emoji parsing, so an emoji weighs its code points.
    pub fn v2() -> Self {
        Self {
            emoji_parsing_enabled: false,
            ..Self::v3()
        }
    }

    /// Config v3, the one X uses: 280 characters, URLs 23, emoji 2.
    pub fn v3() -> Self {
        let range = |start, end| WeightRange {
            start,
            end,
            weight: 100,
        };
        Self {
            max_weighted_length: 280,
            scale: 100,
            default_weight: 200,
            emoji_parsing_enabled: true,
            transformed_url_length: 23,
            ranges: vec![
                range(0, 4351),
                range(8192, 8205),
                range(8208, 8223),
                range(8242, 8247),
            ],
        }
    }

    /// Weight of one UTF-16 code unit, as `getCharacterWeight` computes it (for a surrogate
    /// pair the official code looks up the low surrogate).
    fn unit_weight(&self, unit: u16) -> usize {
        let unit = u32::from(unit);
        self.ranges
            .iter()
            .find(|r| r.start <= unit && unit <= r.end)
            .map_or(self.default_weight, |r| r.weight)
    }

    fn scale(&self) -> usize {
        self.scale.max(1)
    }
}

impl Default for WeightConfig {
    /// The default configuration is v3.
    fn default() -> Self {
        Self::v3()
    }
}

/// The result of [`parse_post`], field for field the object `parseTweet` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedPost {
    /// Weighted length in characters: the weight sum divided by `scale` (rounded down,
    /// which never matters for v2 and v3, whose weights are multiples of `scale`).
    pub weighted_length: usize,
    /// True when the weighted length is above 0 and at most `max_weighted_length`, and the
    /// text has no invalid character (U+FFFE, U+FEFF, U+FFFF).
    pub valid: bool,
    /// Weighted length per thousand of `max_weighted_length`, rounded down.
    pub permillage: usize,
    /// Start and inclusive end of the whole text, in UTF-16 code units.
    pub display_range: (usize, usize),
    /// Start and inclusive end of the part that fits and precedes any invalid character,
    /// in UTF-16 code units of the original text. Like the official code, the end is found
    /// in the normalised text and then shifted by the whole text's change of length
    /// (clamped at 0).
    pub valid_range: (usize, usize),
}

/// Parses `text` as twitter-text's `parseTweet` does with the given configuration.
pub fn parse_post(text: &str, config: &WeightConfig) -> ParsedPost {
    let normalized = nfc(text);
    let analysis = Analysis::new(&normalized, config);

    let max_sum = config.max_weighted_length.saturating_mul(config.scale());
    let mut sum = 0usize;
    let mut chars_valid = true;
    let mut valid_display_index = 0usize;
    for step in &analysis.steps {
        sum = sum.saturating_add(step.weight);
        if chars_valid {
            chars_valid = !is_invalid_unit(analysis.units[step.last]);
        }
        if chars_valid && sum <= max_sum {
            valid_display_index = step.last;
        }
    }

    // The official code works in floating point; do the same so that permillage rounds
    // exactly as it does.
    let weighted = sum as f64 / config.scale() as f64;
    let max = config.max_weighted_length as f64;
    let valid = chars_valid && weighted > 0.0 && weighted <= max;
    let permillage = (weighted / max * 1000.0).floor() as usize;

    let text_len = text.encode_utf16().count();
    // The official code shifts the index by the length change due to normalisation.
    let valid_end = valid_display_index
        .saturating_add(text_len)
        .saturating_sub(analysis.units.len());

    ParsedPost {
        weighted_length: sum / config.scale(),
        valid,
        permillage,
        display_range: (0, text_len.saturating_sub(1)),
        valid_range: (0, valid_end),
    }
}

/// Weighted length of `text` in config v3.
pub fn weighted_length(text: &str) -> usize {
    parse_post(text, &WeightConfig::v3()).weighted_length
}

/// Byte index `idx` of the end of the longest prefix `&text[..idx]` that weighs at most
/// `max_weighted` in config v3, among the prefixes that end between two weighing units of
/// `text`.
///
/// So `idx` is on a char boundary, never inside a URL or emoji entity of `text`, and never
/// between a character and the combining marks that follow it; it is `text.len()` when the
/// whole text fits, and 0 when not even the first unit does. Only the weight counts:
/// invalid characters are not looked at. Callers that want to cut at a word boundary can
/// search backwards from `idx`.
pub fn longest_fitting_prefix(text: &str, max_weighted: usize) -> usize {
    let config = WeightConfig::v3();
    let limit = max_weighted.saturating_mul(config.scale());

    // Normalise chunk by chunk, so that chunk ends map back to byte offsets of `text`.
    let mut normalized = String::with_capacity(text.len());
    let mut boundaries = vec![(0usize, 0usize)]; // (UTF-16 offset in normalized, byte offset in text)
    let mut units = 0usize;
    for (start, end) in normalization_chunks(text) {
        let chunk: String = text[start..end].nfc().collect();
        units += chunk.encode_utf16().count();
        normalized.push_str(&chunk);
        boundaries.push((units, end));
    }

    let analysis = Analysis::new(&normalized, &config);
    let mut candidates = vec![0usize];
    let mut sum = 0usize;
    let mut next_boundary = 1;
    for step in &analysis.steps {
        sum = sum.saturating_add(step.weight);
        if sum > limit {
            break;
        }
        let end = step.last + 1;
        while next_boundary < boundaries.len() && boundaries[next_boundary].0 < end {
            next_boundary += 1;
        }
        if let Some(&(units_end, byte_end)) = boundaries.get(next_boundary)
            && units_end == end
        {
            candidates.push(byte_end);
        }
    }

    // A prefix can contain a URL that the whole text has not (`example.com` in
    // `example.comfoo`), so check the real weight and step back if needed.
    candidates
        .into_iter()
        .rev()
        .find(|&idx| weight_sum(&text[..idx], &config) <= limit)
        .unwrap_or(0)
}

/// `text` in NFC, borrowed when it already is (almost always: this skips an
/// allocation and a copy on every weighing).
fn nfc(text: &str) -> std::borrow::Cow<'_, str> {
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.nfc().collect())
    }
}

/// The v3 weight, in characters, of `text[..end]` for every `end` at which a
/// weighing step ends (after a character, a URL or an emoji), in order;
/// `None` when `text` is not in NFC, where offsets would not map back.
///
/// One analysis serves every cut of a text, where [`weighted_length`] of each
/// candidate prefix would analyse the text again each time. A prefix that
/// ends at a word boundary holds the same URLs and emoji as the whole text, so
/// for such cuts the weights are exact.
pub fn prefix_weights(text: &str) -> Option<Vec<(usize, usize)>> {
    if is_nfc_quick(text.chars()) != IsNormalized::Yes {
        return None;
    }
    let config = WeightConfig::v3();
    let analysis = Analysis::new(text, &config);
    // The byte offset where each UTF-16 unit's character ends.
    let mut unit_ends = Vec::with_capacity(analysis.units.len());
    for (index, character) in text.char_indices() {
        for _ in 0..character.len_utf16() {
            unit_ends.push(index + character.len_utf8());
        }
    }
    let mut sum = 0usize;
    let mut weights = Vec::with_capacity(analysis.steps.len());
    for step in &analysis.steps {
        sum = sum.saturating_add(step.weight);
        let end = *unit_ends.get(step.last)?;
        let weight = sum / config.scale();
        // A step may end inside a surrogate pair (a URL that twitter-text
        // ends on an emoji's high surrogate): no prefix ends there, so the
        // character's end takes the weight of the step that completes it.
        match weights.last_mut() {
            Some((last_end, last_weight)) if *last_end == end => *last_weight = weight,
            _ => weights.push((end, weight)),
        }
    }
    Some(weights)
}

/// Raw weight sum (in `scale` units) of a text.
fn weight_sum(text: &str, config: &WeightConfig) -> usize {
    let normalized = nfc(text);
    Analysis::new(&normalized, config)
        .steps
        .iter()
        .fold(0usize, |sum, step| sum.saturating_add(step.weight))
}

/// Splits `text` into byte ranges that NFC normalises independently: a chunk starts before
/// every character that has no decomposition, combining class 0 and cannot combine with
/// what precedes it.
fn normalization_chunks(text: &str) -> Vec<(usize, usize)> {
    let mut chunks = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let boundary = canonical_combining_class(c) == 0
            && is_nfc_quick(std::iter::once(c)) == IsNormalized::Yes;
        if boundary && i > start {
            chunks.push((start, i));
            start = i;
        }
    }
    if start < text.len() {
        chunks.push((start, text.len()));
    }
    chunks
}

fn is_invalid_unit(unit: u16) -> bool {
    matches!(unit, 0xFFFE | 0xFEFF | 0xFFFF)
}

/// One step of the weighing walk: a URL, an emoji, or one code point.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// Index of the last UTF-16 code unit of the step.
    last: usize,
    /// Weight of the step in `scale` units.
    weight: usize,
}

/// The weighing walk of `parseTweet` over a normalised text.
struct Analysis {
    units: Vec<u16>,
    steps: Vec<Step>,
}

impl Analysis {
    fn new(normalized: &str, config: &WeightConfig) -> Self {
        let units: Vec<u16> = normalized.encode_utf16().collect();
        let n = units.len();
        let offsets = utf16_offsets(normalized);

        // Length (in UTF-16 units) of the entity starting at each unit, 0 for none.
        let mut url_at = vec![0usize; n];
        for url in extract_urls(normalized, &offsets) {
            if url.start < n {
                url_at[url.start] = url.len;
            }
        }
        let mut emoji_at = vec![0usize; n];
        // Every emoji has a code point outside ASCII.
        if config.emoji_parsing_enabled
            && !normalized.is_ascii()
            && let Some(re) = &regexes().emoji
        {
            for m in re.find_iter(normalized) {
                let start = offsets[m.start()];
                emoji_at[start] = offsets[m.end()] - start;
            }
        }

        let url_weight = config.transformed_url_length.saturating_mul(config.scale());
        let mut steps = Vec::with_capacity(n);
        let mut i = 0;
        while i < n {
            let (last, weight) = if url_at[i] > 0 {
                (i + url_at[i] - 1, url_weight)
            } else if emoji_at[i] > 0 {
                (i + emoji_at[i] - 1, config.default_weight)
            } else {
                let pair = i + 1 < n
                    && (0xD800..=0xDBFF).contains(&units[i])
                    && (0xDC00..=0xDFFF).contains(&units[i + 1]);
                let last = if pair { i + 1 } else { i };
                (last, config.unit_weight(units[last]))
            };
            let last = last.min(n - 1);
            steps.push(Step { last, weight });
            i = last + 1;
        }
        Self { units, steps }
    }
}

/// UTF-16 offset of every char boundary of `s`, indexed by byte offset (other entries are
/// unused).
fn utf16_offsets(s: &str) -> Vec<usize> {
    let mut offsets = vec![0usize; s.len() + 1];
    let mut units = 0;
    for (i, c) in s.char_indices() {
        offsets[i] = units;
        units += c.len_utf16();
    }
    offsets[s.len()] = units;
    offsets
}

/// A URL entity: where it starts and how far `parseTweet` skips (`url.length`), both in
/// UTF-16 code units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UrlEntity {
    start: usize,
    len: usize,
}

/// One match of twitter-text's `extractUrl` regex, in byte offsets.
struct UrlMatch {
    /// The character matched by `validUrlPrecedingChars` (`None` for start of text, or for
    /// the high surrogate of `lead`).
    before: Option<char>,
    /// The regex runs on UTF-16 code units, so after an astral character the URL can start
    /// with that character's low surrogate, which counts as a domain character.
    lead: Option<u16>,
    url_start: usize,
    protocol_len: usize,
    domain_end: usize,
    has_path: bool,
    end: usize,
}

const MAX_URL_LENGTH: usize = 4096;
const MAX_TCO_SLUG_LENGTH: usize = 40;
const MAX_DOMAIN_LABEL_LENGTH: usize = 63;

/// `extractUrlsWithIndices` with `extractUrlsWithoutProtocol: true`.
fn extract_urls(s: &str, offsets: &[usize]) -> Vec<UrlEntity> {
    let mut urls = Vec::new();
    if !s.contains('.') {
        return urls;
    }
    let u16_len = |a: usize, b: usize| offsets[b] - offsets[a];
    let domains = DomainMatcher::new(s);
    let mut pos = 0;
    while let Some(m) = find_url_match(s, pos, &domains) {
        pos = m.end;
        let lead_len = usize::from(m.lead.is_some());
        let url_len = u16_len(m.url_start, m.end) + lead_len;
        let domain_start = m.url_start + m.protocol_len;
        let domain = &s[domain_start..m.domain_end];
        let domain_len = u16_len(domain_start, m.domain_end) + lead_len;
        let protocol_len = if m.protocol_len > 0 {
            m.protocol_len
        } else {
            8
        };
        if !is_valid_url(url_len, protocol_len, domain, m.lead) {
            continue;
        }
        if m.protocol_len == 0 {
            if matches!(m.before, Some('-' | '_' | '.' | '/')) {
                continue;
            }
            let ascii = find_ascii_domains(domain);
            let count = ascii.len();
            let mut ascii_end = 0;
            for (k, (a, b)) in ascii.into_iter().enumerate() {
                // The official code places the entity at `domain.indexOf(asciiDomain, end of
                // the previous one)`, which can be an earlier occurrence than the match.
                let found = &domain[a..b];
                let a = domain[ascii_end..].find(found).map_or(a, |i| ascii_end + i);
                let b = a + found.len();
                ascii_end = b;
                let ascii_len = u16_len(domain_start + a, domain_start + b);
                let len = if k + 1 == count && m.has_path {
                    // `url.replace(domain, asciiDomain)`
                    url_len - domain_len + ascii_len
                } else {
                    ascii_len
                };
                urls.push(UrlEntity {
                    start: offsets[domain_start + a],
                    len,
                });
            }
        } else {
            let url = &s[m.url_start..m.end];
            let mut len = url_len;
            if let Some(caps) = regexes().tco.as_ref().and_then(|re| re.captures(url)) {
                if caps.get(1).map_or(0, |slug| slug.len()) > MAX_TCO_SLUG_LENGTH {
                    continue;
                }
                if let Some(whole) = caps.get(0) {
                    len = u16_len(m.url_start, m.url_start + whole.end());
                }
            }
            urls.push(UrlEntity {
                start: offsets[m.url_start],
                len,
            });
        }
    }
    urls
}

/// The next match of the `extractUrl` regex at or after byte `from`.
fn find_url_match(s: &str, from: usize, domains: &DomainMatcher<'_>) -> Option<UrlMatch> {
    for (i, c) in s[from..].char_indices() {
        let i = from + i;
        let next = i + c.len_utf8();
        // The official regex works on UTF-16 code units: at an astral character it first
        // takes the high surrogate as the preceding character.
        if let Some(lead) = low_surrogate(c)
            && let Some(m) = match_url_body_after_lead(s, next, lead, domains)
        {
            return Some(m);
        }
        if c.len_utf16() == 2
            && i == 0
            && let Some(m) = match_url_body(s, 0, None, domains)
        {
            return Some(m);
        }
        if is_url_preceding_char(c)
            && let Some(m) = match_url_body(s, next, Some(c), domains)
        {
            return Some(m);
        }
        if c.len_utf16() == 1
            && i == 0
            && let Some(m) = match_url_body(s, 0, None, domains)
        {
            return Some(m);
        }
    }
    None
}

/// The low surrogate of an astral character.
fn low_surrogate(c: char) -> Option<u16> {
    let mut units = [0u16; 2];
    match *c.encode_utf16(&mut units) {
        [_, low] => Some(low),
        _ => None,
    }
}

/// The URL part of `extractUrl` when it starts with the low surrogate `lead` of the
/// astral character that ends at byte `start`: no protocol can match then.
fn match_url_body_after_lead(
    s: &str,
    start: usize,
    lead: u16,
    domains: &DomainMatcher<'_>,
) -> Option<UrlMatch> {
    let domain_end = domains.match_after_lead(start)?;
    let (tail_len, has_path) = match_url_tail(&s[domain_end..]);
    Some(UrlMatch {
        before: None,
        lead: Some(lead),
        url_start: start,
        protocol_len: 0,
        domain_end,
        has_path,
        end: domain_end + tail_len,
    })
}

/// `validUrlPrecedingChars` (the `^` alternative is handled by the caller).
fn is_url_preceding_char(c: char) -> bool {
    !(c.is_ascii_alphanumeric() || matches!(c, '@' | '＠' | '$' | '#' | '＃') || is_invalid_char(c))
}

fn is_invalid_char(c: char) -> bool {
    matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}')
}

/// `validDomainChars`: anything but punctuation, spaces, invalid characters and
/// directional markers.
fn is_domain_char(c: char) -> bool {
    if c.is_ascii() {
        // The same answer as below, without searching PUNCT: this runs for every
        // character of every post.
        return c.is_ascii_alphanumeric()
            || matches!(c, '"' | '`')
            || (c.is_ascii_control() && !matches!(c, '\u{09}'..='\u{0D}'));
    }
    const PUNCT: &str = "!'#%&()*+,\\-./:;<=>?@[]^_{|}~$";
    let space = matches!(c,
        '\u{09}'..='\u{0D}' | ' ' | '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{180E}'
        | '\u{2000}'..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}');
    let directional = matches!(c,
        '\u{202A}'..='\u{202E}' | '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2066}'..='\u{2069}');
    !(PUNCT.contains(c) || space || directional || is_invalid_char(c))
}

/// The part of `extractUrl` after `validUrlPrecedingChars`, anchored at byte `start`.
fn match_url_body(
    s: &str,
    start: usize,
    before: Option<char>,
    domains: &DomainMatcher<'_>,
) -> Option<UrlMatch> {
    let rest = &s.as_bytes()[start..];
    let protocol_len = if starts_with_ignore_ascii_case(rest, b"https://") {
        8
    } else if starts_with_ignore_ascii_case(rest, b"http://") {
        7
    } else {
        0
    };
    let (protocol_len, domain_end) = match domains.match_at(start + protocol_len) {
        Some(end) => (protocol_len, end),
        None if protocol_len > 0 => (0, domains.match_at(start)?),
        None => return None,
    };
    let (tail_len, has_path) = match_url_tail(&s[domain_end..]);
    Some(UrlMatch {
        before,
        lead: None,
        url_start: start,
        protocol_len,
        domain_end,
        has_path,
        end: domain_end + tail_len,
    })
}

/// Port, path and query at the start of `rest`: their length and whether there is a path.
/// There is no look-around there, so the regex crate matches them as JavaScript does.
fn match_url_tail(rest: &str) -> (usize, bool) {
    let tail = regexes().url_tail.as_ref().and_then(|re| re.captures(rest));
    tail.map_or((0, false), |caps| {
        (caps.get(0).map_or(0, |m| m.end()), caps.get(1).is_some())
    })
}

fn starts_with_ignore_ascii_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `validDomain` = `validSubdomain* validDomainName (validGTLD | validCCTLD | validPunycode)`,
/// precomputed for every start position of a text.
///
/// A label is a maximal run of domain characters, `-` and `_`, followed by a dot that cannot
/// be part of it, so it matches in at most one way. With `D(p)` the end of the domain
/// starting at `p` and `q` the position after the dot that ends the label at `p`, the
/// backtracking order of `validSubdomain*` gives `D(p) = D(q)`, else the TLD at `q` when the
/// label is also a valid `validDomainName` (no `_`). `D` is computed right to left, so that
/// matching costs O(1) per start position.
struct DomainMatcher<'a> {
    s: &'a str,
    /// `D(p)` for every char boundary `p` (and `s.len()`).
    end: Vec<Option<usize>>,
    /// End of the label run containing `p` (`p` itself when `p` is not in one).
    run_end: Vec<usize>,
    /// Whether the label run has a `_` at or after `p`.
    underscore: Vec<bool>,
}

impl<'a> DomainMatcher<'a> {
    fn new(s: &'a str) -> Self {
        let n = s.len();
        let mut end = vec![None; n + 1];
        let mut run_end = vec![n; n + 1];
        let mut underscore = vec![false; n + 1];
        // Per label run (the pass meets its last char first): whether it ends with a domain
        // char, and the TLD after its dot (computed once).
        let mut last_ok = false;
        let mut tld: Option<Option<usize>> = None;
        for (p, c) in s.char_indices().rev() {
            let next = p + c.len_utf8();
            if !(is_domain_char(c) || c == '-' || c == '_') {
                run_end[p] = p;
                continue;
            }
            let continues = next < n && run_end[next] > next;
            if !continues {
                last_ok = is_domain_char(c);
                tld = None;
            }
            run_end[p] = if continues { run_end[next] } else { next };
            underscore[p] = c == '_' || (continues && underscore[next]);
            let e = run_end[p];
            if is_domain_char(c) && last_ok && s[e..].starts_with('.') {
                end[p] = end[e + 1].or_else(|| {
                    if underscore[p] {
                        None
                    } else {
                        *tld.get_or_insert_with(|| match_tld(s, e + 1))
                    }
                });
            }
        }
        Self {
            s,
            end,
            run_end,
            underscore,
        }
    }

    /// End of the domain starting at byte `start`.
    fn match_at(&self, start: usize) -> Option<usize> {
        self.end.get(start).copied().flatten()
    }

    /// End of the domain that starts with a lone low surrogate (a domain character) just
    /// before byte `start`.
    fn match_after_lead(&self, start: usize) -> Option<usize> {
        let s = self.s;
        let run_end = *self.run_end.get(start)?;
        let (e, underscore) = if run_end > start {
            let last = s[..run_end].chars().next_back()?;
            if !is_domain_char(last) {
                return None;
            }
            (run_end, self.underscore[start])
        } else {
            (start, false)
        };
        if !s[e..].starts_with('.') {
            return None;
        }
        self.end[e + 1].or_else(|| {
            if underscore {
                None
            } else {
                match_tld(s, e + 1)
            }
        })
    }
}

/// `(?:validGTLD|validCCTLD|validPunycode)` at byte `pos`, with the look-ahead
/// `(?=[^0-9a-zA-Z@+-]|$)` of the TLD lists; returns the end of the TLD.
fn match_tld(s: &str, pos: usize) -> Option<usize> {
    let rest = &s[pos..];
    let tlds = tlds();
    let ascii_run = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
    if ascii_run > 0
        && tld_lookahead_ok(&rest[ascii_run..])
        && tlds
            .ascii
            .contains(rest[..ascii_run].to_ascii_lowercase().as_str())
    {
        return Some(pos + ascii_run);
    }
    for tld in &tlds.other {
        if let Some(len) = prefix_len_ignore_case(rest, tld)
            && tld_lookahead_ok(&rest[len..])
        {
            return Some(pos + len);
        }
    }
    let bytes = rest.as_bytes();
    if starts_with_ignore_ascii_case(bytes, b"xn--") {
        let len = bytes[4..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
            .count();
        if len > 0 {
            return Some(pos + 4 + len);
        }
    }
    None
}

fn tld_lookahead_ok(after: &str) -> bool {
    after
        .chars()
        .next()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, '@' | '+' | '-')))
}

/// Byte length of the prefix of `s` that equals `pattern` under the case-insensitive
/// comparison of non-Unicode JavaScript regexes.
fn prefix_len_ignore_case(s: &str, pattern: &[char]) -> Option<usize> {
    let mut len = 0;
    let mut chars = s.chars();
    for &p in pattern {
        let c = chars.next()?;
        if js_canonicalize(c) != p {
            return None;
        }
        len += c.len_utf8();
    }
    Some(len)
}

/// `Canonicalize` of ECMAScript regexes with the `i` flag and without `u`.
fn js_canonicalize(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if !(u32::from(c) >= 128 && u32::from(u) < 128) => u,
        _ => c,
    }
}

/// The matches of the global regex `validAsciiDomain`
/// (`(?:(?:[\-a-z0-9latinAccentChars]+)\.)+(?:validGTLD|validCCTLD|validPunycode)`) in
/// `domain`, as byte ranges.
///
/// As in [`DomainMatcher`], labels match in one way only; with `G(q)` the end of
/// `(?:label\.)* TLD` at a position `q` after a dot, greedy backtracking gives
/// `G(q) = G(after the label at q)`, else the TLD at `q`. `G` is computed right to left.
fn find_ascii_domains(domain: &str) -> Vec<(usize, usize)> {
    let n = domain.len();
    let bytes = domain.as_bytes();
    let mut run_end = vec![n; n + 1];
    let mut after_dot = vec![None; n + 1];
    for (p, c) in domain.char_indices().rev() {
        let next = p + c.len_utf8();
        run_end[p] = if !is_ascii_domain_char(c) {
            p
        } else if next < n && run_end[next] > next {
            run_end[next]
        } else {
            next
        };
        if p > 0 && bytes[p - 1] == b'.' {
            let e = run_end[p];
            let more = if e > p && bytes.get(e) == Some(&b'.') {
                after_dot[e + 1]
            } else {
                None
            };
            after_dot[p] = more.or_else(|| match_tld(domain, p));
        }
    }
    let mut found = Vec::new();
    let mut pos = 0;
    while pos < n {
        let e = run_end[pos];
        let matched = if e > pos && bytes.get(e) == Some(&b'.') {
            after_dot[e + 1]
        } else {
            None
        };
        if let Some(end) = matched {
            found.push((pos, end));
            pos = end;
        } else {
            pos += domain[pos..].chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

fn is_ascii_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '-'
        || is_latin_accent(c)
        || is_latin_accent(js_canonicalize(c))
}

/// `latinAccentChars`.
fn is_latin_accent(c: char) -> bool {
    matches!(c,
        '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{FF}' | '\u{100}'..='\u{24F}'
        | '\u{253}' | '\u{254}' | '\u{256}' | '\u{257}' | '\u{259}' | '\u{25B}' | '\u{263}'
        | '\u{268}' | '\u{26F}' | '\u{272}' | '\u{289}' | '\u{28B}' | '\u{2BB}'
        | '\u{300}'..='\u{36F}' | '\u{1E00}'..='\u{1EFF}')
}

/// `isValidUrl`: every label must punycode-encode to 1..=63 characters, and the URL with
/// its protocol must not exceed 4096 UTF-16 code units. `lead` is a low surrogate that
/// precedes `domain` (see [`UrlMatch::lead`]).
fn is_valid_url(url_len: usize, protocol_len: usize, domain: &str, lead: Option<u16>) -> bool {
    if lead.is_none() && domain.starts_with("xn--") && find_ascii_domains(domain).is_empty() {
        return false;
    }
    let labels_ok = domain.split('.').enumerate().all(|(i, label)| {
        let lead = lead.filter(|_| i == 0).map(u32::from);
        let code_points: Vec<u32> = lead
            .into_iter()
            .chain(label.chars().map(u32::from))
            .collect();
        // punycode never shortens a label, so a long label need not be encoded.
        code_points.len() <= MAX_DOMAIN_LABEL_LENGTH
            && punycode_to_ascii_len(&code_points)
                .is_some_and(|len| (1..=MAX_DOMAIN_LABEL_LENGTH).contains(&len))
    });
    labels_ok && protocol_len + url_len <= MAX_URL_LENGTH
}

/// Length of punycode.js `toASCII` of a label given as code points (a lone surrogate is a
/// code point of its own there); `None` where it would throw.
fn punycode_to_ascii_len(label: &[u32]) -> Option<usize> {
    let mut len = 0;
    let parts = label.split(|&c| matches!(c, 0x2E | 0x3002 | 0xFF0E | 0xFF61));
    for (i, part) in parts.enumerate() {
        if i > 0 {
            len += 1;
        }
        len += if part.iter().any(|&c| c > 0x7E) {
            4 + punycode_encode(part)?.len()
        } else {
            part.len()
        };
    }
    Some(len)
}

/// RFC 3492 punycode encoding of code points (what punycode.js `encode` returns).
fn punycode_encode(code_points: &[u32]) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    let digit = |d: u32| -> char {
        // 0..=25 -> a..z, 26..=35 -> 0..9
        let byte = if d < 26 {
            b'a' + d as u8
        } else {
            b'0' + (d - 26) as u8
        };
        char::from(byte)
    };

    let mut output: String = code_points
        .iter()
        .filter(|&&c| c < 0x80)
        .filter_map(|&c| char::from_u32(c))
        .collect();
    let basic = output.len() as u32;
    if basic > 0 {
        output.push('-');
    }
    let mut n: u32 = 128;
    let mut delta: u32 = 0;
    let mut bias: u32 = 72;
    let mut handled = basic;
    let total = code_points.len() as u32;
    while handled < total {
        let m = code_points.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in code_points {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    output.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(digit(q));
                bias = punycode_adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(output)
}

fn punycode_adapt(delta: u32, num_points: u32, first_time: bool) -> u32 {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    let mut delta = if first_time { delta / DAMP } else { delta / 2 };
    delta += delta / num_points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

/// Compiled regexes; `None` only if a pattern failed to compile, which the unit tests rule
/// out.
struct Regexes {
    /// `(?::validPortNumber)?(/validUrlPath*)?(\?validUrlQueryChars*validUrlQueryEndingChars)?`
    url_tail: Option<Regex>,
    /// `validTcoUrl`.
    tco: Option<Regex>,
    /// Emoji entities.
    emoji: Option<Regex>,
}

fn regexes() -> &'static Regexes {
    static REGEXES: OnceLock<Regexes> = OnceLock::new();
    REGEXES.get_or_init(|| Regexes {
        url_tail: Regex::new(&url_tail_pattern()).ok(),
        tco: Regex::new(&tco_pattern()).ok(),
        emoji: Regex::new(&emoji_pattern()).ok(),
    })
}

const LATIN_ACCENT_CHARS: &str = r"\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{FF}\x{100}-\x{24F}\x{253}\x{254}\x{256}\x{257}\x{259}\x{25B}\x{263}\x{268}\x{26F}\x{272}\x{289}\x{28B}\x{2BB}\x{300}-\x{36F}\x{1E00}-\x{1EFF}";
const CYRILLIC_LETTERS_AND_MARKS: &str = r"\x{400}-\x{4FF}";
// Spelled without `(?i)`: the regex crate would also match `ſ` (U+017F) for `s` there,
// JavaScript does not.
const URL_QUERY_CHARS: &str = r"[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]";
const URL_QUERY_ENDING_CHARS: &str = r"[a-zA-Z0-9\-_&=#/]";

fn url_tail_pattern() -> String {
    let general = [
        r"[a-z",
        CYRILLIC_LETTERS_AND_MARKS,
        r"0-9!*';:=+,.$/%#\[\]\-\x{2013}_~@|&",
        LATIN_ACCENT_CHARS,
        "]",
    ]
    .concat();
    let parens = [
        r"\((?:", &general, "+|(?:", &general, r"*\(", &general, r"+\)", &general, r"*))\)",
    ]
    .concat();
    // `validUrlPathEndingChars` is `[...]|(?:parens)`, and regexSupplant pastes it into
    // `validUrlPath` without brackets, so its `|` splits the whole path alternative.
    let ending = [
        r"[+\-a-z",
        CYRILLIC_LETTERS_AND_MARKS,
        "0-9=_#/",
        LATIN_ACCENT_CHARS,
        "]",
    ]
    .concat();
    let path = [
        "(?:(?:", &general, "*(?:", &parens, &general, "*)*", &ending, "|(?:", &parens, "))|(?:@",
        &general, "+/))",
    ]
    .concat();
    [
        r"(?i)\A(?::[0-9]+)?(/",
        &path,
        r"*)?(?-i:\?",
        URL_QUERY_CHARS,
        "*",
        URL_QUERY_ENDING_CHARS,
        ")?",
    ]
    .concat()
}

fn tco_pattern() -> String {
    [
        r"\A[hH][tT][tT][pP][sS]?://[tT]\.[cC][oO]/([a-zA-Z0-9]+)(?:\?",
        URL_QUERY_CHARS,
        "*",
        URL_QUERY_ENDING_CHARS,
        ")?",
    ]
    .concat()
}

/// One emoji: keycap, flag, or a chain of emoji elements joined by ZWJ. An element is
/// a tag sequence (subdivision flag), a modifier base with a skin tone, a character with
/// VS-16 where twemoji accepts one, or a pictograph alone (`©`, `®` and `™` only with
/// VS-16); a VS-16 that no element takes is an emoji of its own, as in twemoji.
fn emoji_pattern() -> String {
    // Pictographs that twemoji joins with a following VS-16: the text-default ones but
    // U+267E, and these emoji-default ones. Twemoji also takes U+26F7 as a modifier base.
    const VS16_BASE: &str = concat!(
        r"[[\p{Extended_Pictographic}&&\P{Emoji_Presentation}--\x{267E}]",
        r"\x{231A}\x{231B}\x{25FD}\x{25FE}\x{2614}\x{2615}\x{2648}-\x{2653}\x{267F}\x{2693}",
        r"\x{26A1}\x{26AA}\x{26AB}\x{26BD}\x{26BE}\x{26C4}\x{26C5}\x{26D4}\x{26EA}\x{26F2}",
        r"\x{26F3}\x{26F5}\x{26FA}\x{26FD}\x{2757}\x{2B1B}\x{2B1C}\x{2B50}\x{2B55}",
        r"\x{1F004}\x{1F21A}\x{1F22F}]",
    );
    let element = [
        r"(?:\x{1F3F4}[\x{E0020}-\x{E007E}]+\x{E007F}",
        r"|[\p{Emoji_Modifier_Base}\x{26F7}]\p{Emoji_Modifier}",
        r"|[[\p{Emoji_Modifier_Base}\x{26F7}]&&\P{Emoji_Presentation}]\x{FE0F}\p{Emoji_Modifier}|",
        VS16_BASE,
        r"\x{FE0F}|[\p{Extended_Pictographic}--[\x{A9}\x{AE}\x{2122}]]|\p{Emoji_Modifier})",
    ]
    .concat();
    let flags: Vec<String> = FLAG_REGIONS
        .split_whitespace()
        .map(|region| {
            region
                .chars()
                .map(|letter| format!(r"\x{{{:X}}}", 0x1F1A5 + u32::from(letter)))
                .collect()
        })
        .collect();
    let flags = format!("(?:{})", flags.join("|"));
    [
        r"[#*0-9]\x{FE0F}?\x{20E3}|",
        &flags,
        "|",
        &element,
        r"(?:\x{200D}",
        &element,
        ")*",
        r"|\x{FE0F}",
    ]
    .concat()
}

/// The flags twemoji knows (RGI emoji flag sequences), as region codes.
const FLAG_REGIONS: &str = "\
    AC AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH \
    BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM \
    CN CO CP CR CU CV CW CX CY CZ DE DG DJ DK DM DO DZ EA EC EE EG EH ER ES \
    ET EU FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT \
    GU GW GY HK HM HN HR HT HU IC ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
    KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC \
    MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE \
    NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY \
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV \
    SX SY SZ TA TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM UN \
    US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

/// TLDs of `validGTLD` and `validCCTLD`.
struct Tlds {
    /// All-ASCII TLDs, lower case.
    ascii: HashSet<&'static str>,
    /// The other TLDs in list order (gTLDs first), as canonicalised chars.
    other: Vec<Vec<char>>,
}

fn tlds() -> &'static Tlds {
    static TLDS: OnceLock<Tlds> = OnceLock::new();
    TLDS.get_or_init(|| {
        let all = GTLDS.split('|').chain(CCTLDS.split('|'));
        let (ascii, other): (Vec<&str>, Vec<&str>) = all.partition(|tld| tld.is_ascii());
        Tlds {
            ascii: ascii.into_iter().collect(),
            other: other
                .into_iter()
                .map(|tld| tld.chars().map(js_canonicalize).collect())
                .collect(),
        }
    })
}

const GTLDS: &str = "\
    삼성|닷컴|닷넷|香格里拉|餐厅|食品|飞利浦|電訊盈科|集团|通販|购物|谷歌|诺基亚|联通|网络|网站|网店|网址|组织机构|移动|珠宝|点看|游戏|淡马锡|机构|書籍|时尚|\
    新闻|政府|政务|招聘|手表|手机|我爱你|慈善|微博|广东|工行|家電|娱乐|天主教|大拿|大众汽车|在线|嘉里大酒店|嘉里|商标|商店|商城|公益|公司|八卦|健康|信息|\
    佛山|企业|中文网|中信|世界|ポイント|ファッション|セール|ストア|コム|グーグル|クラウド|みんな|คอม|संगठन|नेट|कॉम|همراه|موقع|موبايلي|\
    كوم|كاثوليك|عرب|شبكة|بيتك|بازار|العليان|ارامكو|اتصالات|ابوظبي|קום|сайт|рус|орг|онлайн|\
    москва|ком|католик|дети|zuerich|zone|zippo|zip|zero|zara|zappos|yun|youtube|you|yokohama|\
    yoga|yodobashi|yandex|yamaxun|yahoo|yachts|xyz|xxx|xperia|xin|xihuan|xfinity|xerox|xbox|\
    wtf|wtc|wow|world|works|work|woodside|wolterskluwer|wme|winners|wine|windows|win|\
    williamhill|wiki|wien|whoswho|weir|weibo|wedding|wed|website|weber|webcam|weatherchannel|\
    weather|watches|watch|warman|wanggou|wang|walter|walmart|wales|vuelos|voyage|voto|voting|\
    vote|volvo|volkswagen|vodka|vlaanderen|vivo|viva|vistaprint|vista|vision|visa|virgin|vip|\
    vin|villas|viking|vig|video|viajes|vet|versicherung|vermögensberatung|vermögensberater|\
    verisign|ventures|vegas|vanguard|vana|vacations|ups|uol|uno|university|unicom|uconnect|\
    ubs|ubank|tvs|tushu|tunes|tui|tube|trv|trust|travelersinsurance|travelers|travelchannel|\
    travel|training|trading|trade|toys|toyota|town|tours|total|toshiba|toray|top|tools|tokyo|\
    today|tmall|tkmaxx|tjx|tjmaxx|tirol|tires|tips|tiffany|tienda|tickets|tiaa|theatre|\
    theater|thd|teva|tennis|temasek|telefonica|telecity|tel|technology|tech|team|tdk|tci|taxi|\
    tax|tattoo|tatar|tatamotors|target|taobao|talk|taipei|tab|systems|symantec|sydney|swiss|\
    swiftcover|swatch|suzuki|surgery|surf|support|supply|supplies|sucks|style|study|studio|\
    stream|store|storage|stockholm|stcgroup|stc|statoil|statefarm|statebank|starhub|star|\
    staples|stada|srt|srl|spreadbetting|spot|sport|spiegel|space|soy|sony|song|solutions|\
    solar|sohu|software|softbank|social|soccer|sncf|smile|smart|sling|skype|sky|skin|ski|site|\
    singles|sina|silk|shriram|showtime|show|shouji|shopping|shop|shoes|shiksha|shia|shell|\
    shaw|sharp|shangrila|sfr|sexy|sex|sew|seven|ses|services|sener|select|seek|security|\
    secure|seat|search|scot|scor|scjohnson|science|schwarz|schule|school|scholarships|schmidt|\
    schaeffler|scb|sca|sbs|sbi|saxo|save|sas|sarl|sapo|sap|sanofi|sandvikcoromant|sandvik|\
    samsung|samsclub|salon|sale|sakura|safety|safe|saarland|ryukyu|rwe|run|ruhr|rugby|rsvp|\
    room|rogers|rodeo|rocks|rocher|rmit|rip|rio|ril|rightathome|ricoh|richardli|rich|rexroth|\
    reviews|review|restaurant|rest|republican|report|repair|rentals|rent|ren|reliance|reit|\
    reisen|reise|rehab|redumbrella|redstone|red|recipes|realty|realtor|realestate|read|raid|\
    radio|racing|qvc|quest|quebec|qpon|pwc|pub|prudential|pru|protection|property|properties|\
    promo|progressive|prof|productions|prod|pro|prime|press|praxi|pramerica|post|porn|politie|\
    poker|pohl|pnc|plus|plumbing|playstation|play|place|pizza|pioneer|pink|ping|pin|pid|\
    pictures|pictet|pics|piaget|physio|photos|photography|photo|phone|philips|phd|pharmacy|\
    pfizer|pet|pccw|pay|passagens|party|parts|partners|pars|paris|panerai|panasonic|\
    pamperedchef|page|ovh|ott|otsuka|osaka|origins|orientexpress|organic|org|orange|oracle|\
    open|ooo|onyourside|online|onl|ong|one|omega|ollo|oldnavy|olayangroup|olayan|okinawa|\
    office|off|observer|obi|nyc|ntt|nrw|nra|nowtv|nowruz|now|norton|northwesternmutual|nokia|\
    nissay|nissan|ninja|nikon|nike|nico|nhk|ngo|nfl|nexus|nextdirect|next|news|newholland|new|\
    neustar|network|netflix|netbank|net|nec|nba|navy|natura|nationwide|name|nagoya|nadex|nab|\
    mutuelle|mutual|museum|mtr|mtpc|mtn|msd|movistar|movie|mov|motorcycles|moto|moscow|\
    mortgage|mormon|mopar|montblanc|monster|money|monash|mom|moi|moe|moda|mobily|mobile|mobi|\
    mma|mls|mlb|mitsubishi|mit|mint|mini|mil|microsoft|miami|metlife|merckmsd|meo|menu|men|\
    memorial|meme|melbourne|meet|media|med|mckinsey|mcdonalds|mcd|mba|mattel|maserati|\
    marshalls|marriott|markets|marketing|market|map|mango|management|man|makeup|maison|maif|\
    madrid|macys|luxury|luxe|lupin|lundbeck|ltda|ltd|lplfinancial|lpl|love|lotto|lotte|london|\
    lol|loft|locus|locker|loans|loan|llp|llc|lixil|living|live|lipsy|link|linde|lincoln|limo|\
    limited|lilly|like|lighting|lifestyle|lifeinsurance|life|lidl|liaison|lgbt|lexus|lego|\
    legal|lefrak|leclerc|lease|lds|lawyer|law|latrobe|latino|lat|lasalle|lanxess|landrover|\
    land|lancome|lancia|lancaster|lamer|lamborghini|ladbrokes|lacaixa|kyoto|kuokgroup|kred|\
    krd|kpn|kpmg|kosher|komatsu|koeln|kiwi|kitchen|kindle|kinder|kim|kia|kfh|kerryproperties|\
    kerrylogistics|kerryhotels|kddi|kaufen|juniper|juegos|jprs|jpmorgan|joy|jot|joburg|jobs|\
    jnj|jmp|jll|jlc|jio|jewelry|jetzt|jeep|jcp|jcb|java|jaguar|iwc|iveco|itv|itau|istanbul|\
    ist|ismaili|iselect|irish|ipiranga|investments|intuit|international|intel|int|insure|\
    insurance|institute|ink|ing|info|infiniti|industries|inc|immobilien|immo|imdb|imamat|\
    ikano|iinet|ifm|ieee|icu|ice|icbc|ibm|hyundai|hyatt|hughes|htc|hsbc|how|house|hotmail|\
    hotels|hoteles|hot|hosting|host|hospital|horse|honeywell|honda|homesense|homes|homegoods|\
    homedepot|holiday|holdings|hockey|hkt|hiv|hitachi|hisamitsu|hiphop|hgtv|hermes|here|\
    helsinki|help|healthcare|health|hdfcbank|hdfc|hbo|haus|hangout|hamburg|hair|guru|guitars|\
    guide|guge|gucci|guardian|group|grocery|gripe|green|gratis|graphics|grainger|gov|got|gop|\
    google|goog|goodyear|goodhands|goo|golf|goldpoint|gold|godaddy|gmx|gmo|gmbh|gmail|globo|\
    global|gle|glass|glade|giving|gives|gifts|gift|ggee|george|genting|gent|gea|gdn|gbiz|gay|\
    garden|gap|games|game|gallup|gallo|gallery|gal|fyi|futbol|furniture|fund|fun|fujixerox|\
    fujitsu|ftr|frontier|frontdoor|frogans|frl|fresenius|free|fox|foundation|forum|forsale|\
    forex|ford|football|foodnetwork|food|foo|fly|flsmidth|flowers|florist|flir|flights|flickr|\
    fitness|fit|fishing|fish|firmdale|firestone|fire|financial|finance|final|film|fido|\
    fidelity|fiat|ferrero|ferrari|feedback|fedex|fast|fashion|farmers|farm|fans|fan|family|\
    faith|fairwinds|fail|fage|extraspace|express|exposed|expert|exchange|everbank|events|eus|\
    eurovision|etisalat|esurance|estate|esq|erni|ericsson|equipment|epson|epost|enterprises|\
    engineering|engineer|energy|emerck|email|education|edu|edeka|eco|eat|earth|dvr|dvag|\
    durban|dupont|duns|dunlop|duck|dubai|dtv|drive|download|dot|doosan|domains|doha|dog|dodge|\
    doctor|docs|dnp|diy|dish|discover|discount|directory|direct|digital|diet|diamonds|dhl|dev|\
    design|desi|dentist|dental|democrat|delta|deloitte|dell|delivery|degree|deals|dealer|deal|\
    dds|dclk|day|datsun|dating|date|data|dance|dad|dabur|cyou|cymru|cuisinella|csc|cruises|\
    cruise|crs|crown|cricket|creditunion|creditcard|credit|cpa|courses|coupons|coupon|country|\
    corsica|coop|cool|cookingchannel|cooking|contractors|contact|consulting|construction|\
    condos|comsec|computer|compare|company|community|commbank|comcast|com|cologne|college|\
    coffee|codes|coach|clubmed|club|cloud|clothing|clinique|clinic|click|cleaning|claims|\
    cityeats|city|citic|citi|citadel|cisco|circle|cipriani|church|chrysler|chrome|christmas|\
    chloe|chintai|cheap|chat|chase|charity|channel|chanel|cfd|cfa|cern|ceo|center|ceb|cbs|\
    cbre|cbn|cba|catholic|catering|cat|casino|cash|caseih|case|casa|cartier|cars|careers|\
    career|care|cards|caravan|car|capitalone|capital|capetown|canon|cancerresearch|camp|\
    camera|cam|calvinklein|call|cal|cafe|cab|bzh|buzz|buy|business|builders|build|bugatti|\
    budapest|brussels|brother|broker|broadway|bridgestone|bradesco|box|boutique|bot|boston|\
    bostik|bosch|boots|booking|book|boo|bond|bom|bofa|boehringer|boats|bnpparibas|bnl|bmw|bms|\
    blue|bloomberg|blog|blockbuster|blanco|blackfriday|black|biz|bio|bingo|bing|bike|bid|\
    bible|bharti|bet|bestbuy|best|berlin|bentley|beer|beauty|beats|bcn|bcg|bbva|bbt|bbc|\
    bayern|bauhaus|basketball|baseball|bargains|barefoot|barclays|barclaycard|barcelona|bar|\
    bank|band|bananarepublic|banamex|baidu|baby|azure|axa|aws|avianca|autos|auto|author|\
    auspost|audio|audible|audi|auction|attorney|athleta|associates|asia|asda|arte|art|arpa|\
    army|archi|aramco|arab|aquarelle|apple|app|apartments|aol|anz|anquan|android|analytics|\
    amsterdam|amica|amfam|amex|americanfamily|americanexpress|alstom|alsace|ally|allstate|\
    allfinanz|alipay|alibaba|alfaromeo|akdn|airtel|airforce|airbus|aigo|aig|agency|agakhan|\
    africa|afl|afamilycompany|aetna|aero|aeg|adult|ads|adac|actor|active|aco|accountants|\
    accountant|accenture|academy|abudhabi|abogado|able|abc|abbvie|abbott|abb|abarth|aarp|aaa|\
    onion";

const CCTLDS: &str = "\
    한국|香港|澳門|新加坡|台灣|台湾|中國|中国|გე|ລາວ|ไทย|ලංකා|ഭാരതം|ಭಾರತ|భారత్|சிங்கப்பூர்|இலங்கை|இந்தியா|ଭାରତ|\
    ભારત|ਭਾਰਤ|ভাৰত|ভারত|বাংলা|भारोत|भारतम्|भारत|ڀارت|پاکستان|موريتانيا|مليسيا|مصر|قطر|فلسطين|\
    عمان|عراق|سورية|سودان|تونس|بھارت|بارت|ایران|امارات|المغرب|السعودية|الجزائر|البحرين|الاردن|\
    հայ|қаз|укр|срб|рф|мон|мкд|ею|бел|бг|ευ|ελ|zw|zm|za|yt|ye|ws|wf|vu|vn|vi|vg|ve|vc|va|uz|\
    uy|us|um|uk|ug|ua|tz|tw|tv|tt|tr|tp|to|tn|tm|tl|tk|tj|th|tg|tf|td|tc|sz|sy|sx|sv|su|st|ss|\
    sr|so|sn|sm|sl|sk|sj|si|sh|sg|se|sd|sc|sb|sa|rw|ru|rs|ro|re|qa|py|pw|pt|ps|pr|pn|pm|pl|pk|\
    ph|pg|pf|pe|pa|om|nz|nu|nr|np|no|nl|ni|ng|nf|ne|nc|na|mz|my|mx|mw|mv|mu|mt|ms|mr|mq|mp|mo|\
    mn|mm|ml|mk|mh|mg|mf|me|md|mc|ma|ly|lv|lu|lt|ls|lr|lk|li|lc|lb|la|kz|ky|kw|kr|kp|kn|km|ki|\
    kh|kg|ke|jp|jo|jm|je|it|is|ir|iq|io|in|im|il|ie|id|hu|ht|hr|hn|hm|hk|gy|gw|gu|gt|gs|gr|gq|\
    gp|gn|gm|gl|gi|gh|gg|gf|ge|gd|gb|ga|fr|fo|fm|fk|fj|fi|eu|et|es|er|eh|eg|ee|ec|dz|do|dm|dk|\
    dj|de|cz|cy|cx|cw|cv|cu|cr|co|cn|cm|cl|ck|ci|ch|cg|cf|cd|cc|ca|bz|by|bw|bv|bt|bs|br|bq|bo|\
    bn|bm|bl|bj|bi|bh|bg|bf|be|bd|bb|ba|az|ax|aw|au|at|as|ar|aq|ao|an|am|al|ai|ag|af|ae|ad|ac";

#[cfg(test)]
mod tests {
    /// A valid post in config v3: not empty, at most 280, no invalid character.
    fn fits(text: &str) -> bool {
        super::parse_post(text, &super::WeightConfig::v3()).valid
    }

    #[test]
    fn a_url_that_ends_inside_an_emoji_gives_the_emoji_end_one_weight() {
        // Found by the `tweet_weight` fuzz target: twitter-text's URL ends
        // on the high surrogate of 🆹, so two steps ended at byte 8.
        let text = "B.th\u{1F1B9}.YT/";
        let weights = prefix_weights(text).unwrap();
        assert_eq!(weights, [(8, 25), (9, 26), (10, 27), (11, 28), (12, 29)]);
        for (end, weight) in weights {
            assert_eq!(weighted_length(&text[..end]), weight, "{end}");
        }
    }

    #[test]
    fn prefix_weights_match_weighing_each_prefix() {
        let text = "Breathe 😷 in https://halcytone.com/a-long/path 数 out.";
        let weights = super::prefix_weights(text).unwrap();
        assert_eq!(weights.last().map(|&(end, _)| end), Some(text.len()));
        for (index, _) in text.match_indices(' ') {
            let expected = super::weighted_length(&text[..index]);
            let found = weights
                .iter()
                .find(|&&(end, _)| end == index)
                .map(|&(_, weight)| weight);
            assert_eq!(found, Some(expected), "prefix ending at {index}");
        }
        assert_eq!(super::prefix_weights("e\u{301}"), None);
    }

    #[test]
    fn the_ascii_fast_path_of_is_domain_char_agrees_with_the_table() {
        const PUNCT: &str = "!'#%&()*+,\\-./:;<=>?@[]^_{|}~$";
        for c in (0u8..128).map(char::from) {
            let space = matches!(c, '\u{09}'..='\u{0D}' | ' ');
            assert_eq!(
                super::is_domain_char(c),
                !(PUNCT.contains(c) || space),
                "{c:?}"
            );
        }
    }

    use super::*;

    fn v2(text: &str) -> usize {
        parse_post(text, &WeightConfig::v2()).weighted_length
    }

    #[test]
    fn regexes_compile() {
        let r = regexes();
        assert!(r.url_tail.is_some());
        assert!(r.tco.is_some());
        assert!(r.emoji.is_some());
    }

    #[test]
    fn ascii_280_fits_and_281_does_not() {
        let text = "a".repeat(280);
        let parsed = parse_post(&text, &WeightConfig::v3());
        assert_eq!(parsed.weighted_length, 280);
        assert!(parsed.valid);
        assert_eq!(parsed.permillage, 1000);
        assert!(!fits(&"a".repeat(281)));
    }

    #[test]
    fn cjk_counts_two() {
        assert_eq!(weighted_length(&"漢".repeat(140)), 280);
        assert!(fits(&"漢".repeat(140)));
        assert!(!fits(&"漢".repeat(141)));
    }

    #[test]
    fn any_url_counts_23() {
        assert_eq!(weighted_length("http://t.co"), 23);
        assert_eq!(weighted_length("example.com"), 23);
        let long = format!("https://example.com/{}", "p".repeat(200));
        assert_eq!(weighted_length(&long), 23);
        assert_eq!(
            weighted_length("see https://example.com/a?b=c."),
            4 + 23 + 1
        );
        assert_eq!(weighted_length("www.twitter.com/jack"), 23);
    }

    #[test]
    fn not_urls() {
        assert_eq!(weighted_length("example.comfoo"), 14);
        assert_eq!(weighted_length("foo@example.com"), 15);
        assert_eq!(weighted_length("version 1.0"), 11);
    }

    #[test]
    fn emoji_weights() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(weighted_length(family), 2);
        assert_eq!(v2(family), 8);
        let wind = "\u{1F32C}\u{FE0F}";
        assert_eq!(weighted_length(wind), 2);
        assert_eq!(v2(wind), 4);
        assert_eq!(weighted_length("\u{1F1EB}\u{1F1F7}"), 2); // flag
        assert_eq!(weighted_length("#\u{FE0F}\u{20E3}"), 2); // keycap
        assert_eq!(weighted_length("\u{1F44D}\u{1F3FD}"), 2); // skin tone
        assert_eq!(weighted_length("\u{A9}"), 1);
        assert_eq!(weighted_length("\u{A9}\u{FE0F}"), 2);
    }

    #[test]
    fn quirks_of_the_official_code() {
        // Expected values from twitter-text 3.1.0 (`parseTweet`, configs v2 and v3).
        let cases: [(&str, usize, usize); 14] = [
            // validUrlPathEndingChars is pasted without brackets into validUrlPath.
            ("x.co/a$(x)", 27, 27),
            ("http://x.co/(x)", 23, 23),
            // The entity goes where `indexOf` finds the ASCII domain first.
            ("example.comfoo\u{FE0F}example.com/pathco#coрф", 38, 38),
            // The regex works on UTF-16 units: a URL can start at a low surrogate.
            ("\u{E007F}-x.com", 25, 25),
            ("-\u{1F92A}twitter.com/jack", 19, 19),
            // `ſ` is no `s` for JavaScript's case-insensitive ASCII classes.
            (
                "http://t.co/\u{17F}abababababababababababababababababababababababababababababababab",
                23,
                23,
            ),
            // A t.co slug longer than 40 characters is not a URL, and t.co takes no path.
            (
                "http://t.co/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                53,
                53,
            ),
            ("http://t.co/abc/def", 27, 27),
            // twemoji's VS-16 and skin tone rules.
            ("\u{1F3C3}\u{FE0F}\u{1F3FD}", 6, 6),
            ("\u{26F7}\u{FE0F}\u{1F3FD}", 6, 2),
            ("\u{1F637}\u{FE0F}", 4, 4),
            ("\u{267E}\u{FE0F}", 4, 4),
            ("\u{1F1FA}\u{1F1F7}", 4, 4),
            ("\u{1F1FA}\u{1F1F8}", 4, 2),
        ];
        for (text, expected_v2, expected_v3) in cases {
            assert_eq!(v2(text), expected_v2, "v2 {text:?}");
            assert_eq!(weighted_length(text), expected_v3, "v3 {text:?}");
        }
    }

    #[test]
    fn empty_and_invalid() {
        let empty = parse_post("", &WeightConfig::v3());
        assert_eq!(empty.weighted_length, 0);
        assert!(!empty.valid);
        assert_eq!(empty.display_range, (0, 0));
        assert_eq!(empty.valid_range, (0, 0));
        assert!(!fits("abc\u{FEFF}"));
        assert!(fits("hello"));
    }

    #[test]
    fn pathological_inputs_stay_fast() {
        // Each start position of the URL regex used to rescan the rest of the text.
        let dots = "a.".repeat(10_000);
        assert_eq!(weighted_length(&dots), 20_000);
        let cjk = format!("{}.{}.", "漢".repeat(5_000), "字".repeat(5_000));
        assert_eq!(weighted_length(&cjk), 20_002);
        assert_eq!(longest_fitting_prefix(&cjk, 280), 140 * "漢".len());
    }

    #[test]
    fn punycode() {
        let code_points = |s: &str| s.chars().map(u32::from).collect::<Vec<_>>();
        let encode = |s: &str| punycode_encode(&code_points(s));
        assert_eq!(encode("bücher").as_deref(), Some("bcher-kva"));
        assert_eq!(encode("münchen").as_deref(), Some("mnchen-3ya"));
        assert_eq!(punycode_to_ascii_len(&code_points("ü")), Some(7)); // xn--tda
    }

    #[test]
    fn prefix_of_ascii() {
        let text = "a".repeat(300);
        assert_eq!(longest_fitting_prefix(&text, 280), 280);
        assert_eq!(longest_fitting_prefix("hello", 280), 5);
        assert_eq!(longest_fitting_prefix("hello", 0), 0);
        assert_eq!(longest_fitting_prefix("", 10), 0);
    }

    #[test]
    fn prefix_of_cjk_is_on_char_boundary() {
        let text = "漢".repeat(10);
        let idx = longest_fitting_prefix(&text, 5);
        assert_eq!(&text[..idx], "漢漢");
    }

    #[test]
    fn prefix_never_cuts_a_url() {
        let text = "aaaa https://example.com/some/path tail";
        assert_eq!(longest_fitting_prefix(text, 10), 5);
        let after_url = "aaaa https://example.com/some/path".len();
        assert_eq!(longest_fitting_prefix(text, 28), after_url);
        assert_eq!(longest_fitting_prefix(text, 29), after_url + 1);
    }

    #[test]
    fn prefix_never_cuts_an_emoji() {
        let text = "ab\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}cd";
        assert_eq!(longest_fitting_prefix(text, 3), 2);
        let idx = longest_fitting_prefix(text, 4);
        assert_eq!(&text[idx..], "cd");
    }

    #[test]
    fn prefix_keeps_combining_marks() {
        let text = "ae\u{301}";
        assert_eq!(longest_fitting_prefix(text, 1), 1);
        assert_eq!(longest_fitting_prefix(text, 2), text.len());
    }

    #[test]
    fn prefix_properties_on_random_texts() {
        const PIECES: [&str; 16] = [
            "a",
            "bc ",
            " ",
            "漢",
            ".",
            "example.com",
            "https://t.co/x ",
            "/path",
            "e\u{301}",
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}",
            "\u{1F44D}\u{1F3FD}",
            "\u{FE0F}",
            "\u{1F1EB}\u{1F1F7}",
            "x.co",
            "com",
            "\u{FB2C}",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let config = WeightConfig::v3();
        for _ in 0..2000 {
            let len = next() % 20 + 1;
            let text: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let max = (next() % 40) as usize;
            let idx = longest_fitting_prefix(&text, max);
            assert!(text.is_char_boundary(idx), "{text:?} {max}");
            assert!(weighted_length(&text[..idx]) <= max, "{text:?} {max} {idx}");
            if idx == text.len() {
                continue;
            }
            // The cut is at the end of a weighing step of the whole text, and the next step
            // does not fit.
            let normalized: String = text.nfc().collect();
            if normalized == text {
                let analysis = Analysis::new(&text, &config);
                let cut = text[..idx].encode_utf16().count();
                let mut sum = 0;
                let mut at_step_end = cut == 0;
                for step in &analysis.steps {
                    sum += step.weight;
                    at_step_end |= step.last + 1 == cut;
                    if step.last + 1 > cut {
                        let next_end: usize = text
                            .char_indices()
                            .map(|(i, c)| i + c.len_utf8())
                            .find(|&b| text[..b].encode_utf16().count() == step.last + 1)
                            .unwrap_or(text.len());
                        assert!(
                            sum > max * 100 || weighted_length(&text[..next_end]) > max,
                            "{text:?} {max} {idx}"
                        );
                        break;
                    }
                }
                assert!(at_step_end, "{text:?} {max} {idx}");
            }
        }
    }

    #[test]
    fn prefix_that_would_become_a_url_is_avoided() {
        // `example.com` alone is a URL (23), although it is not one inside `example.comfoo`.
        let text = "example.comfoo";
        assert_eq!(longest_fitting_prefix(text, 12), 12);
        assert_eq!(longest_fitting_prefix(text, 11), 9);
        assert!(weighted_length(&text[..longest_fitting_prefix(text, 11)]) <= 11);
    }

    // Straightforward versions of the domain matchers, to check the dynamic programming.
    /// `validDomain` = `validSubdomain* validDomainName (validGTLD | validCCTLD | validPunycode)`
    /// anchored at byte `start`; returns the end of the domain.
    ///
    /// Each label is followed by a dot that cannot be part of a label, so a label matches in
    /// at most one way; the backtracking of `validSubdomain*` is the loop over `k`.
    fn naive_match_domain(s: &str, start: usize) -> Option<usize> {
        let mut labels = Vec::new();
        let mut pos = start;
        loop {
            let run = s[pos..]
                .char_indices()
                .find(|&(_, c)| !(is_domain_char(c) || c == '-' || c == '_'))
                .map_or(s.len(), |(i, _)| pos + i);
            let label = &s[pos..run];
            if label.is_empty() || !s[run..].starts_with('.') || !label_ends_are_domain_chars(label)
            {
                break;
            }
            labels.push((pos, run));
            pos = run + 1;
        }
        labels.iter().rev().find_map(|&(a, b)| {
            if s[a..b].contains('_') {
                None
            } else {
                match_tld(s, b + 1)
            }
        })
    }

    fn label_ends_are_domain_chars(label: &str) -> bool {
        let mut chars = label.chars();
        chars.next().is_some_and(is_domain_char) && chars.next_back().is_none_or(is_domain_char)
    }

    /// The matches of the global regex `validAsciiDomain` in `domain`, as byte ranges.
    fn naive_find_ascii_domains(domain: &str) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut pos = 0;
        while pos < domain.len() {
            if let Some(end) = naive_ascii_domain_at(domain, pos) {
                found.push((pos, end));
                pos = end;
            } else {
                pos += domain[pos..].chars().next().map_or(1, char::len_utf8);
            }
        }
        found
    }

    /// `(?:(?:[\-a-z0-9latinAccentChars]+)\.)+(?:validGTLD|validCCTLD|validPunycode)` at `pos`.
    fn naive_ascii_domain_at(domain: &str, pos: usize) -> Option<usize> {
        let mut ends = Vec::new();
        let mut p = pos;
        loop {
            let run = domain[p..]
                .char_indices()
                .find(|&(_, c)| !is_ascii_domain_char(c))
                .map_or(domain.len(), |(i, _)| p + i);
            if run == p || !domain[run..].starts_with('.') {
                break;
            }
            ends.push(run + 1);
            p = run + 1;
        }
        ends.iter()
            .rev()
            .find_map(|&tld_start| match_tld(domain, tld_start))
    }

    /// Deterministic pseudo-random texts made of domain-ish pieces.
    fn random_texts() -> Vec<String> {
        const PIECES: [&str; 22] = [
            "a",
            "b",
            "co",
            "com",
            "jp",
            ".",
            ".",
            ".",
            "-",
            "_",
            "漢",
            "みんな",
            "xn--",
            "é",
            "/",
            " ",
            "@",
            "CO",
            "Com",
            "t",
            "ö",
            "vermögensberatung",
        ];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..3000)
            .map(|_| {
                let len = next() % 12 + 1;
                (0..len)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn domain_matcher_agrees_with_backtracking() {
        let (mut domains, mut ascii_domains) = (0, 0);
        for text in random_texts() {
            let matcher = DomainMatcher::new(&text);
            for start in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                let expected = naive_match_domain(&text, start);
                assert_eq!(matcher.match_at(start), expected, "{text:?} at {start}");
                domains += usize::from(expected.is_some());
            }
            let expected = naive_find_ascii_domains(&text);
            assert_eq!(find_ascii_domains(&text), expected, "{text:?}");
            ascii_domains += expected.len();
        }
        // The texts must exercise the matchers, not only their failures.
        assert!(
            domains > 1000 && ascii_domains > 150,
            "{domains} {ascii_domains}"
        );
    }
}
