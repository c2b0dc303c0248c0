//! The same living document written in Markdown (`data/equivalence.md`) and
//! as a Google Doc (`data/equivalence-gdocs.json`) gives equal items.

use halcytone_core::channel::Channel;
use halcytone_core::document::KnownChannels;
use halcytone_core::markdown::parse_markdown;
use source_gdocs::parse_document;

#[test]
fn the_google_doc_and_the_markdown_give_the_same_items() {
    let known = KnownChannels::new(
        ["email", "web", "twitter", "linkedin"].map(|name| Channel::parse(name).unwrap()),
    );
    let markdown = parse_markdown(
        "equivalence.md",
        include_str!("data/equivalence.md"),
        &known,
    )
    .unwrap();
    let gdocs = parse_document(
        "equivalence-gdocs.json",
        include_str!("data/equivalence-gdocs.json"),
        &known,
    )
    .unwrap();
    assert!(markdown.warnings.is_empty(), "{:?}", markdown.warnings);
    assert!(gdocs.warnings.is_empty(), "{:?}", gdocs.warnings);
    let expected = halcytone_core::testkit::assert_same_items(&gdocs.document, &markdown.document);
    assert_eq!(expected.len(), 4);
    // The document exercises every metadata key and the formatting runs.
    let first = expected[0];
    assert!(first.channels.is_some() && first.date.is_some() && first.link.is_some());
    assert!(
        first
            .body
            .contains("**three guided sessions** and *a new pattern*")
    );
    assert!(
        first
            .body
            .contains("[the notes](https://halcytone.example/notes)")
    );
    assert!(first.body.contains("- Extended exhale\n  - Works offline"));
    assert!(expected[1].body.contains("***slow breathing***"));
}
