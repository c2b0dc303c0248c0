//! The Google Docs parser on any bytes as a `documents.get` answer.
#![no_main]

use halcytone_core::channel::Channel;
use halcytone_core::document::KnownChannels;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|json: &str| {
    let known =
        KnownChannels::new(["email", "web", "twitter", "linkedin"].map(Channel::from_static));
    let _ = source_gdocs::revision_id(json);
    if let Err(error) = source_gdocs::parse_document("fuzz-doc", json, &known) {
        assert!(!error.to_string().is_empty());
    }
});
