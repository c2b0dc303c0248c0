//! The `documents.get` fixture read end to end.

use halcytone_core::channel::Channel;
use halcytone_core::document::KnownChannels;
use source_gdocs::parse_document;

fn known() -> KnownChannels {
    KnownChannels::new(
        ["email", "web", "twitter", "linkedin"].map(|name| Channel::parse(name).unwrap()),
    )
}

#[test]
fn dump() {
    let json = include_str!("data/gdocs-document.json");
    let parsed = parse_document("doc", json, &known()).unwrap();
    for w in &parsed.warnings { eprintln!("WARN {w}"); }
    eprintln!("{:#?}", parsed.document);
}
