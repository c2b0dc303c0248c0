//! The block-children fixture, two pages (`data/notion-blocks-page1.json`,
//! `data/notion-blocks-page2.json`), read end to end, with and without the
//! children of its nested list item (`data/notion-children-8e0f2a4b.json`).

use halcytone_core::channel::Channel;
use halcytone_core::document::{KnownChannels, ParsedDocument};
use source_notion::{Block, blocks_from_pages, parse_blocks};

const PAGE_1: &str = include_str!("data/notion-blocks-page1.json");
const PAGE_2: &str = include_str!("data/notion-blocks-page2.json");
const CHILDREN: &str = include_str!("data/notion-children-8e0f2a4b.json");
const NESTED_ITEM: &str = "8e0f2a4b-6c8d-4e0f-9a2b-4c5d6e7f8091";

fn known() -> KnownChannels {
    KnownChannels::new(
        ["email", "web", "twitter", "linkedin"].map(|name| Channel::parse(name).unwrap()),
    )
}

fn blocks() -> Vec<Block> {
    blocks_from_pages(&[PAGE_1, PAGE_2]).unwrap()
}

/// The blocks with the nested item's children attached, as a fetcher would.
fn blocks_with_children() -> Vec<Block> {
    let mut blocks = blocks();
    let parent = blocks
        .iter_mut()
        .find(|block| block.id == NESTED_ITEM)
        .unwrap();
    assert!(parent.has_children);
    parent.children = blocks_from_pages(&[CHILDREN]).unwrap();
    blocks
}

fn parse(blocks: &[Block]) -> ParsedDocument {
    parse_blocks("notion page", blocks, &known()).unwrap()
}

fn body(parsed: &ParsedDocument, id: &str) -> String {
    parsed
        .document
        .items()
        .find(|item| item.id.as_str() == id)
        .unwrap_or_else(|| panic!("no item {id}"))
        .body
        .clone()
}

#[test]
fn both_pages_are_read_in_order() {
    let blocks = blocks();
    assert_eq!(blocks.len(), 16);
    assert_eq!(blocks[0].id, "3f0a8b1c-2d4e-4f6a-9b8c-0d1e2f3a4b5c");
    // Page 2 starts at page 1's next_cursor.
    assert_eq!(blocks[8].id, "c24d6e8f-0a2b-4c4d-9e6f-8091a2b3c4d5");
    assert_eq!(blocks[15].kind, "paragraph");
}

#[test]
fn heading_1_sections_hold_the_heading_2_and_heading_3_items() {
    let parsed = parse(&blocks());
    let document = &parsed.document;
    assert_eq!(document.title, None);
    let sections: Vec<&str> = document
        .sections
        .iter()
        .map(|section| section.name.as_str())
        .collect();
    assert_eq!(sections, ["Breathscape", "Product Updates", "Community"]);
    let items: Vec<(&str, String)> = document
        .items()
        .map(|item| (item.id.as_str(), item.location.to_string()))
        .collect();
    assert_eq!(
        items,
        [
            (
                "breathscape/breathscape-2-4-guided-sessions-for-sleep",
                "element block 5b7c9d1e-3f5a-4b7c-8d9e-1f2a3b4c5d6e".to_owned()
            ),
            (
                "product-updates/apple-watch-haptics",
                "element block c24d6e8f-0a2b-4c4d-9e6f-8091a2b3c4d5".to_owned()
            ),
            (
                "community/breath-club-meetup-in-lisbon",
                "element block 28a32445-6081-42a3-b4c5-e6f708192a3b".to_owned()
            ),
        ]
    );
}

#[test]
fn the_divider_and_unfetched_children_are_warnings_naming_the_block() {
    let warnings: Vec<String> = parse(&blocks())
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        warnings,
        [
            "element block 3f0a8b1c-2d4e-4f6a-9b8c-0d1e2f3a4b5c: heading_1 blocks are read as sections and the first heading level below each as its items, because the page has several heading_1 blocks (the expected layout is heading_1 = title, heading_2 = section, heading_3 = item)",
            "element block 8e0f2a4b-6c8d-4e0f-9a2b-4c5d6e7f8091: the children of this `bulleted_list_item` block were not fetched and are missing",
            "element block 06810223-4e6f-4081-92a3-c4d5e6f70819: a `divider` block is skipped: it has no living-document form",
        ]
    );
}

#[test]
fn annotations_and_links_become_markdown() {
    let parsed = parse(&blocks());
    assert_eq!(
        body(&parsed, "product-updates/apple-watch-haptics"),
        "Haptic pacing now runs on watchOS 11, so you can follow a session \
         *without looking at the screen*. \
         ***Battery impact is under 2% per 10-minute session.***\n\
         \n\
         - Requires watchOS 11 or later\n\
         - Haptic strength follows the system setting"
    );
    assert_eq!(
        body(&parsed, "community/breath-club-meetup-in-lisbon"),
        "\u{1F32C}\u{FE0F} Thirty people joined our first in-person session at \
         **Jardim da Estrela**. Photos are in the \
         [shared album](https://example.com/community/lisbon-2026)."
    );
}

#[test]
fn attached_children_nest_under_their_list_item() {
    let parsed = parse(&blocks_with_children());
    assert_eq!(
        body(
            &parsed,
            "breathscape/breathscape-2-4-guided-sessions-for-sleep"
        ),
        "We shipped **three new guided sessions** designed for winding down. \
         *Try the 4-7-8 pattern first.* Full notes on \
         [the blog](https://example.com/blog/breathscape-2-4).\n\
         \n\
         - Box breathing – 5 minutes\n\
         - Extended exhale – 10 minutes\n  \
         - Works offline on iOS and Android\n\
         \n  \
         Sessions download *once*.\n\
         \n  \
         - [x] Test on Android 15\n\
         - Body scan with breath cues – 15 minutes\n\
         \n\
         **Status: `Ready`**"
    );
    assert!(
        !parsed
            .warnings
            .iter()
            .any(|warning| warning.message.contains("not fetched"))
    );
    assert_ne!(
        parsed.document.revision,
        parse(&blocks()).document.revision,
        "the children are part of the revision"
    );
}
