//! X's length rules: joining the lead, link and hashtags, and threading or
//! truncating what does not fit in one post.

use halcytone_core::text::truncate_by;

use crate::config::LongPosts;
use crate::weighted::{longest_fitting_prefix, prefix_weights, weighted_length};

/// The most a post may weigh.
pub(crate) const MAX_WEIGHT: usize = 280;

fn join(lead: &str, tail: &str) -> String {
    match (lead.is_empty(), tail.is_empty()) {
        (_, true) => lead.to_owned(),
        (true, false) => tail.to_owned(),
        (false, false) => format!("{lead}\n\n{tail}"),
    }
}

/// Splits `text` into chunks of at most `budget` weight, on word boundaries
/// where a word boundary exists.
fn split_on_words(text: &str, budget: usize) -> Vec<String> {
    let text = text.trim();
    let chunks =
        prefix_weights(text).and_then(|weights| split_with_weights(text, &weights, budget));
    chunks.unwrap_or_else(|| split_by_weighing(text, budget))
}

/// The split of [`split_on_words`] from one analysis of the whole text; `None`
/// when a chunk needs a cut inside a word, or does not weigh what the
/// analysis said, so that the caller weighs prefixes one by one instead.
fn split_with_weights(
    text: &str,
    weights: &[(usize, usize)],
    budget: usize,
) -> Option<Vec<String>> {
    let weight_at = |end: usize| -> Option<usize> {
        if end == 0 {
            return Some(0);
        }
        let index = weights
            .binary_search_by_key(&end, |&(step_end, _)| step_end)
            .ok()?;
        Some(weights[index].1)
    };
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let base = weight_at(start)?;
        if weight_at(text.len())? - base <= budget {
            chunks.push(text[start..].to_owned());
            break;
        }
        let cut = text[start..]
            .match_indices(char::is_whitespace)
            .map(|(offset, _)| start + offset)
            .take_while(|&end| weight_at(end).is_some_and(|weight| weight - base <= budget))
            .last()
            .filter(|&end| end > start)?;
        chunks.push(text[start..cut].trim_end().to_owned());
        start = cut + text[cut..].len() - text[cut..].trim_start().len();
    }
    chunks
        .iter()
        .all(|chunk| weighted_length(chunk) <= budget)
        .then_some(chunks)
}

/// [`split_on_words`] by weighing each candidate prefix.
fn split_by_weighing(text: &str, budget: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut remaining = text;
    while !remaining.is_empty() {
        if weighted_length(remaining) <= budget {
            chunks.push(remaining.to_owned());
            break;
        }
        let fitting = longest_fitting_prefix(remaining, budget);
        // Break at the last whitespace that fits (the fitting prefix may end
        // right before one), else inside the word.
        let cut = if remaining[fitting..].starts_with(char::is_whitespace) {
            fitting
        } else {
            remaining[..fitting]
                .rfind(char::is_whitespace)
                .filter(|&index| index > 0)
                .unwrap_or(fitting)
        };
        if cut == 0 {
            break;
        }
        chunks.push(remaining[..cut].trim_end().to_owned());
        remaining = remaining[cut..].trim_start();
    }
    chunks
}

/// Makes the parts of a post from its lead text and its tail (link and
/// hashtags, which are never cut).
pub(crate) fn compose(
    lead: &str,
    tail: &str,
    long_posts: LongPosts,
    max_parts: usize,
) -> Vec<String> {
    let lead = lead.trim();
    let single = join(lead, tail);
    if weighted_length(&single) <= MAX_WEIGHT {
        return vec![single];
    }
    let tail_weight = if tail.is_empty() {
        0
    } else {
        weighted_length(&format!("\n\n{tail}"))
    };
    if long_posts == LongPosts::Truncate || max_parts == 1 {
        let lead = truncate_by(
            lead,
            MAX_WEIGHT.saturating_sub(tail_weight),
            weighted_length,
        );
        return vec![join(&lead, tail)];
    }
    // Room for the " 12/25" numbering.
    let budget = MAX_WEIGHT - 6;
    let mut parts = split_on_words(lead, budget);
    let tail_fits_last = parts
        .last()
        .is_some_and(|last| weighted_length(&join(last, tail)) <= budget);
    let needed = parts.len() + usize::from(!tail.is_empty() && !tail_fits_last);
    if needed > max_parts {
        let rest = parts.split_off(max_parts - 1).join(" ");
        let last = truncate_by(&rest, budget.saturating_sub(tail_weight), weighted_length);
        parts.push(join(&last, tail));
    } else if tail_fits_last {
        if let Some(last) = parts.last_mut() {
            *last = join(last, tail);
        }
    } else if !tail.is_empty() {
        parts.push(tail.to_owned());
    }
    let count = parts.len();
    if count == 1 {
        return parts;
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(index, part)| format!("{part} {}/{count}", index + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_posts_are_one_part() {
        assert_eq!(
            compose(
                "Title\n\nSummary.",
                "https://x.example #breathscape",
                LongPosts::Thread,
                4
            ),
            ["Title\n\nSummary.\n\nhttps://x.example #breathscape"]
        );
    }

    #[test]
    fn long_posts_thread_on_words_and_keep_the_tail() {
        let lead = "Breathe slowly and count. ".repeat(30);
        let parts = compose(
            &lead,
            "https://halcytone.example/a-very-long-link #breathscape",
            LongPosts::Thread,
            4,
        );
        assert!(parts.len() > 1 && parts.len() <= 4, "{parts:?}");
        for (index, part) in parts.iter().enumerate() {
            assert!(weighted_length(part) <= MAX_WEIGHT, "{part}");
            assert!(
                part.ends_with(&format!(" {}/{}", index + 1, parts.len())),
                "{part}"
            );
        }
        assert!(parts.last().unwrap().contains("#breathscape"));
        assert!(
            !parts[0].contains("Breathe slowly and cou "),
            "cut inside a word"
        );
    }

    #[test]
    fn both_ways_of_splitting_agree() {
        let texts = [
            "Breathe slowly and count. ".repeat(40),
            format!(
                "{} https://halcytone.com/{} end",
                "数字 ".repeat(100),
                "p".repeat(300)
            ),
            "a".repeat(600),
            "🌬️ calm ".repeat(90),
        ];
        for text in &texts {
            let text = text.trim();
            let by_weighing = split_by_weighing(text, 274);
            let weights = prefix_weights(text).unwrap();
            if let Some(fast) = split_with_weights(text, &weights, 274) {
                assert_eq!(fast, by_weighing, "{text}");
            }
            assert_eq!(split_on_words(text, 274), by_weighing);
        }
    }

    #[test]
    fn too_long_threads_end_truncated() {
        let lead = "word ".repeat(400);
        let parts = compose(&lead, "#sleep", LongPosts::Thread, 2);
        assert_eq!(parts.len(), 2);
        assert!(parts[1].contains("…\n\n#sleep 2/2"), "{}", parts[1]);
        assert!(parts.iter().all(|part| weighted_length(part) <= MAX_WEIGHT));
    }

    #[test]
    fn truncate_mode_keeps_one_part() {
        let lead = "数".repeat(300);
        let parts = compose(&lead, "https://x.example", LongPosts::Truncate, 4);
        assert_eq!(parts.len(), 1);
        assert!(weighted_length(&parts[0]) <= MAX_WEIGHT);
        assert!(parts[0].ends_with("…\n\nhttps://x.example"));
    }
}
