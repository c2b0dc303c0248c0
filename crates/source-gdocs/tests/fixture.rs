//! The `documents.get` fixture (`data/gdocs-document.json`) read end to end:
//! formatting runs, a nested list, a table, an emoji and an empty paragraph.

use halcytone_core::channel::Channel;
use halcytone_core::document::{KnownChannels, Location, ParsedDocument};
use source_gdocs::{parse_document, revision_id};

const FIXTURE: &str = include_str!("data/gdocs-document.json");

fn known() -> KnownChannels {
    KnownChannels::new(
        ["email", "web", "twitter", "linkedin"].map(|name| Channel::parse(name).unwrap()),
    )
}

fn parsed() -> ParsedDocument {
    parse_document("gdocs-document.json", FIXTURE, &known()).unwrap()
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
fn title_sections_and_items_follow_the_heading_1_sections_of_the_fixture() {
    let parsed = parsed();
    let document = &parsed.document;
    assert_eq!(
        document.title.as_deref(),
        Some("Living Document – Weekly Content Source")
    );
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
                "element paragraph at index 173".to_owned()
            ),
            (
                "product-updates/apple-watch-haptics",
                "element paragraph at index 491".to_owned()
            ),
            (
                "product-updates/android-widget-beta",
                "element paragraph at index 672".to_owned()
            ),
            (
                "community/breath-club-meetup-in-lisbon",
                "element paragraph at index 908".to_owned()
            ),
        ]
    );
    assert!(document.items().all(|item| item.channels.is_none()));
}

#[test]
fn the_heading_1_sections_and_the_table_are_the_only_warnings() {
    let warnings: Vec<String> = parsed().warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "element paragraph at index 161: HEADING_1 paragraphs are read as sections and the first heading level below each as its items, because the document has a TITLE paragraph (the expected layout is TITLE or HEADING_1 = title, HEADING_2 = section, HEADING_3 = item)",
            "element table at index 807: a table is skipped: tables are not read from Google Docs; write its content as paragraphs or a list",
        ]
    );
}

#[test]
fn runs_become_markdown_and_the_nested_list_is_indented() {
    let parsed = parsed();
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
         - Body scan with breath cues – 15 minutes\n\
         \n\
         **Status: Ready**"
    );
    assert_eq!(
        body(&parsed, "product-updates/apple-watch-haptics"),
        "Haptic pacing now runs on watchOS 11, so you can follow a session \
         *without looking at the screen*. \
         ***Battery impact is under 2% per 10-minute session.***\n\
         \n\
         **Status: Ready**"
    );
}

#[test]
fn a_table_inside_an_item_is_skipped_and_the_item_keeps_its_body() {
    assert_eq!(
        body(&parsed(), "product-updates/android-widget-beta"),
        "A home-screen widget starts your last session in one tap. \
         [Join the beta](https://play.google.com/apps/testing/com.example.breathscape) to try it.\n\
         \n\
         **Status: Draft**\n\
         \n\
         #### Publishing plan"
    );
}

#[test]
fn an_emoji_and_the_empty_paragraph_before_the_next_section_are_read() {
    let parsed = parsed();
    // The empty paragraph at index 897 sits between the table's item and
    // the next section; it adds nothing, and the next item follows.
    assert_eq!(
        body(&parsed, "community/breath-club-meetup-in-lisbon"),
        "\u{1F32C}\u{FE0F} Thirty people joined our first in-person session at \
         **Jardim da Estrela**. Photos are in the \
         [shared album](https://example.com/community/lisbon-2026).\n\
         \n\
         #### Quote of the week\n\
         \n\
         *“I finally sleep through the night.” – Ana, Porto*\n\
         \n\
         **Status: Ready**"
    );
    let item = parsed.document.items().last().unwrap();
    assert_eq!(
        item.location,
        Location::Element("paragraph at index 908".to_owned())
    );
}

#[test]
fn the_revision_id_and_the_revision_hash_follow_the_response() {
    assert_eq!(
        revision_id(FIXTURE).as_deref(),
        Some("ALBJ4LvW9wUq3sN8pXk2rT7mZcYhE0bQ1fGdJ5aLuVoIy6nMtR4eCxQ-Hs2pOaV8kZ1b")
    );
    assert_eq!(revision_id("not json"), None);
    assert_eq!(revision_id("{}"), None);
    let edited = FIXTURE.replace("Thirty people", "Forty people");
    let again = parse_document("gdocs-document.json", &edited, &known()).unwrap();
    assert_ne!(again.document.revision, parsed().document.revision);
    assert_eq!(
        parsed().document.revision,
        parse_document("gdocs-document.json", FIXTURE, &known())
            .unwrap()
            .document
            .revision
    );
}
