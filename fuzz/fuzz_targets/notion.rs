//! The Notion parser on any bytes as one page of block children.
#![no_main]

use halcytone_core::channel::Channel;
use halcytone_core::document::KnownChannels;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|page: &str| {
    let known =
        KnownChannels::new(["email", "web", "twitter", "linkedin"].map(Channel::from_static));
    match source_notion::blocks_from_pages(&[page]) {
        Ok(blocks) => {
            if let Err(error) = source_notion::parse_blocks("fuzz-page", &blocks, &known) {
                assert!(!error.to_string().is_empty());
            }
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
