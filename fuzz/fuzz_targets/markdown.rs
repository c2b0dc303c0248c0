//! The Markdown living-document parser: any text gives a document or an
//! error naming where, never a panic.
#![no_main]

use halcytone_core::channel::Channel;
use halcytone_core::document::KnownChannels;
use halcytone_core::markdown::parse_markdown;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let known =
        KnownChannels::new(["email", "web", "twitter", "linkedin"].map(Channel::from_static));
    if let Err(error) = parse_markdown("fuzz.md", text, &known) {
        assert!(!error.to_string().is_empty());
    }
});
