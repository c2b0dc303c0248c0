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
    assert_eq!(gdocs.document.title, markdown.document.title);

    let expected: Vec<_> = markdown.document.items().collect();
    let actual: Vec<_> = gdocs.document.items().collect();
    assert_eq!(actual.len(), 4);
    assert_eq!(actual.len(), expected.len());
    for (actual, expected) in actual.iter().zip(&expected) {
        let id = &expected.id;
        assert_eq!(actual.id, expected.id);
        assert_eq!(actual.section, expected.section, "{id}");
        assert_eq!(actual.title, expected.title, "{id}");
        assert_eq!(actual.tags, expected.tags, "{id}");
        assert_eq!(actual.channels, expected.channels, "{id}");
        assert_eq!(actual.date, expected.date, "{id}");
        assert_eq!(actual.priority, expected.priority, "{id}");
        assert_eq!(actual.link, expected.link, "{id}");
        assert_eq!(actual.body, expected.body, "{id}");
    }
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
