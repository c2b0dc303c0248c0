//! twitter-text conformance: the weighted-length sections of `validate.yml`
//! (twitter-text commit 30e2430d, Apache-2.0, see `tests/data/LICENSE`).
#![allow(clippy::print_stdout)] // The tally of passing cases is part of the report.

use publisher_twitter::weighted::{ParsedPost, WeightConfig, parse_post};
use serde::Deserialize;

#[derive(Deserialize)]
struct Root {
    tests: Sections,
}

#[derive(Deserialize)]
struct Sections {
    #[serde(rename = "WeightedTweetsCounterTest")]
    weighted: Vec<Case>,
    #[serde(rename = "WeightedTweetsWithDiscountedEmojiCounterTest")]
    discounted_emoji: Vec<Case>,
    #[serde(rename = "UnicodeDirectionalMarkerCounterTest")]
    directional_markers: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    description: String,
    text: String,
    expected: Expected,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expected {
    weighted_length: usize,
    valid: bool,
    permillage: usize,
    display_range_start: usize,
    display_range_end: usize,
    valid_range_start: usize,
    valid_range_end: usize,
}

impl Expected {
    fn as_parsed(&self) -> ParsedPost {
        ParsedPost {
            weighted_length: self.weighted_length,
            valid: self.valid,
            permillage: self.permillage,
            display_range: (self.display_range_start, self.display_range_end),
            valid_range: (self.valid_range_start, self.valid_range_end),
        }
    }
}

fn sections() -> Sections {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/validate.yml");
    let yaml = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::from_str::<Root>(&yaml).unwrap().tests
}

/// Runs every case, printing the tally and failing once with every mismatch listed.
fn check(section: &str, cases: &[Case], config: &WeightConfig) {
    assert!(!cases.is_empty(), "{section}: no cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let actual = parse_post(&case.text, config);
            let expected = case.expected.as_parsed();
            (actual != expected).then(|| {
                format!(
                    "{section}: {:?}\n  expected {expected:?}\n  actual   {actual:?}",
                    case.description
                )
            })
        })
        .collect();
    println!(
        "{section}: {} of {} cases pass",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn weighted_tweets_counter_v2() {
    check(
        "WeightedTweetsCounterTest",
        &sections().weighted,
        &WeightConfig::v2(),
    );
}

#[test]
fn weighted_tweets_with_discounted_emoji_counter_v3() {
    check(
        "WeightedTweetsWithDiscountedEmojiCounterTest",
        &sections().discounted_emoji,
        &WeightConfig::v3(),
    );
}

#[test]
fn unicode_directional_marker_counter() {
    let cases = sections().directional_markers;
    check(
        "UnicodeDirectionalMarkerCounterTest (v2)",
        &cases,
        &WeightConfig::v2(),
    );
    check(
        "UnicodeDirectionalMarkerCounterTest (v3)",
        &cases,
        &WeightConfig::v3(),
    );
}

#[test]
fn config_v3_matches_the_official_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/config-v3.json");
    let json: String = std::fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .collect();
    let config = WeightConfig::v3();
    let ranges: Vec<String> = config
        .ranges
        .iter()
        .map(|r| {
            format!(
                r#"{{"start":{},"end":{},"weight":{}}}"#,
                r.start, r.end, r.weight
            )
        })
        .collect();
    let expected = format!(
        r#"{{"version":3,"maxWeightedTweetLength":{},"scale":{},"defaultWeight":{},"emojiParsingEnabled":{},"transformedURLLength":{},"ranges":[{}]}}"#,
        config.max_weighted_length,
        config.scale,
        config.default_weight,
        config.emoji_parsing_enabled,
        config.transformed_url_length,
        ranges.join(",")
    );
    assert_eq!(json, expected);
}
