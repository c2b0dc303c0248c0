//! X's weighted length: the cut that fits 280 is on a char boundary and
//! weighs at most 280, and the prefix weights agree with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use publisher_twitter::weighted::{longest_fitting_prefix, prefix_weights, weighted_length};

fuzz_target!(|text: &str| {
    let whole = weighted_length(text);
    let cut = longest_fitting_prefix(text, 280);
    assert!(text.is_char_boundary(cut));
    assert!(
        weighted_length(&text[..cut]) <= 280,
        "cut at {cut} of {text:?}"
    );
    if whole <= 280 {
        assert_eq!(cut, text.len());
    }
    if let Some(weights) = prefix_weights(text) {
        if let Some(&(end, weight)) = weights.last() {
            assert_eq!(end, text.len());
            assert_eq!(weight, whole);
        }
        assert!(
            weights
                .windows(2)
                .all(|pair| pair[0].0 < pair[1].0 && pair[0].1 <= pair[1].1)
        );
    }
});
