//! What a caller sees when the pages are not block lists, or the blocks are
//! not a valid living document: a `SourceError` that says what is wrong and
//! where, never a panic.

use halcytone_core::channel::Channel;
use halcytone_core::document::KnownChannels;
use halcytone_core::source::SourceError;
use serde_json::{Value, json};
use source_notion::{Block, blocks_from_pages, parse_blocks};

fn known() -> KnownChannels {
    KnownChannels::new(["email", "web"].map(|name| Channel::parse(name).unwrap()))
}

fn unavailable(pages: &[&str]) -> String {
    match blocks_from_pages(pages) {
        Err(SourceError::Unavailable {
            source_name,
            message,
        }) => {
            assert_eq!(source_name, "Notion block children");
            message
        }
        other => panic!("expected an unavailable source, got {other:?}"),
    }
}

fn block(id: &str, kind: &str, content: &str) -> Value {
    json!({"object": "block", "id": id, "type": kind,
           kind: {"rich_text": [{"type": "text", "plain_text": content}]}})
}

fn document_errors(values: Vec<Value>) -> Vec<String> {
    let blocks: Vec<Block> = serde_json::from_value(Value::Array(values)).unwrap();
    match parse_blocks("page-1", &blocks, &known()) {
        Err(SourceError::Document(error)) => {
            assert_eq!(error.source_name, "page-1");
            error.errors.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected a document error, got {other:?}"),
    }
}

#[test]
fn malformed_json_is_reported_with_its_page() {
    let last = r#"{"object": "list", "results": [], "has_more": false}"#;
    let message = unavailable(&[last, "{\"object\": \"list\", \"results\": [}"]);
    assert!(
        message.starts_with("page 2 is not valid JSON: "),
        "{message}"
    );
    assert!(
        unavailable(&[r#"{"object": "list"} and more"#]).starts_with("page 1 is not valid JSON")
    );
}

#[test]
fn a_wrong_shape_names_the_field() {
    let message = unavailable(&[r#"{"object": "list", "results": [{"id": "b-1"}]}"#]);
    assert_eq!(
        message,
        "page 1 is not a list of Notion blocks: at `results[0]`: missing field `type` at line 1 column 44"
    );
    let message = unavailable(&[
        r#"{"object": "list", "results": [{"id": "b-1", "type": "paragraph", "paragraph": {"rich_text": "x"}}]}"#,
    ]);
    assert!(
        message.contains("at `results[0].paragraph.rich_text`: invalid type"),
        "{message}"
    );
    let message = unavailable(&[r#"{"object": "block", "id": "b-1", "type": "paragraph"}"#]);
    assert_eq!(
        message,
        "page 1 is a `block` object, not a `list` of block children (GET /v1/blocks/{id}/children)"
    );
}

#[test]
fn an_error_object_or_a_missing_page_is_reported() {
    let message = unavailable(&[
        r#"{"object": "error", "status": 404, "code": "object_not_found", "message": "Could not find block"}"#,
    ]);
    assert_eq!(
        message,
        "page 1: Notion answered with an error instead of blocks: 404 object_not_found (Could not find block)"
    );
    let message = unavailable(&[include_str!("data/notion-blocks-page1.json")]);
    assert_eq!(
        message,
        "the last page given (page 1) says has_more: true (next_cursor \
         `c24d6e8f-0a2b-4c4d-9e6f-8091a2b3c4d5`): fetch the remaining pages, or the document \
         would be read in part"
    );
    assert!(blocks_from_pages(&[]).unwrap().is_empty());
}

#[test]
fn an_unknown_channel_names_its_block() {
    assert_eq!(
        document_errors(vec![
            block("b-1", "heading_2", "News"),
            block("b-2", "heading_3", "One"),
            block("b-3", "paragraph", "Tags: a\nChannels: web, myspace"),
            block("b-4", "paragraph", "Body."),
        ]),
        ["element block b-3: unknown channel `myspace` (known channels: email, web)"]
    );
}

#[test]
fn an_item_without_body_is_an_error_even_with_skipped_blocks() {
    assert_eq!(
        document_errors(vec![
            block("b-1", "heading_2", "News"),
            block("b-2", "heading_3", "One"),
            block("b-3", "paragraph", "Tags: a"),
            block("b-4", "paragraph", ""),
            json!({"id": "b-5", "type": "divider", "divider": {}}),
            block("b-6", "heading_3", "Two"),
            block("b-7", "paragraph", "Body."),
        ]),
        ["element block b-2: item `One` has no body"]
    );
}
