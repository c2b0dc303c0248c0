//! What a caller sees when the response is not a document, or the document
//! is not a valid living document: a `SourceError` that says what is wrong
//! and where, never a panic.

use halcytone_core::channel::Channel;
use halcytone_core::document::KnownChannels;
use halcytone_core::source::SourceError;
use serde_json::{Value, json};
use source_gdocs::parse_document;

fn known() -> KnownChannels {
    KnownChannels::new(["email", "web"].map(|name| Channel::parse(name).unwrap()))
}

/// The message of an `Unavailable` error, which names the source.
fn unavailable(json: &str) -> String {
    match parse_document("doc-1", json, &known()) {
        Err(SourceError::Unavailable {
            source_name,
            message,
        }) => {
            assert_eq!(source_name, "doc-1");
            message
        }
        other => panic!("expected an unavailable source, got {other:?}"),
    }
}

/// The diagnostics of a document error.
fn document_errors(json: &str) -> Vec<String> {
    match parse_document("doc-1", json, &known()) {
        Err(SourceError::Document(error)) => {
            assert_eq!(error.source_name, "doc-1");
            error.errors.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected a document error, got {other:?}"),
    }
}

fn paragraph(index: u64, style: &str, text: &str) -> Value {
    json!({
        "startIndex": index,
        "paragraph": {
            "elements": [{"startIndex": index, "textRun": {"content": format!("{text}\n"), "textStyle": {}}}],
            "paragraphStyle": {"namedStyleType": style}
        }
    })
}

fn document(content: Vec<Value>) -> String {
    json!({"documentId": "doc-1", "body": {"content": content}}).to_string()
}

#[test]
fn malformed_json_is_reported_as_such() {
    let message = unavailable("{\"body\": {\"content\": [}");
    assert!(
        message.starts_with("the Google Docs response is not valid JSON: "),
        "{message}"
    );
    let message = unavailable("{\"body\": {}} trailing");
    assert!(message.contains("not valid JSON"), "{message}");
    assert!(unavailable("").contains("not valid JSON"));
}

#[test]
fn a_wrong_shape_names_the_field() {
    let message = unavailable(r#"{"body": {"content": "text"}}"#);
    assert!(
        message.starts_with(
            "the response is not a Google Docs document (`documents.get`): at `body.content`: invalid type"
        ),
        "{message}"
    );
    let message = unavailable(
        r#"{"body": {"content": [{"paragraph": {"elements": [{"textRun": {"content": 7}}]}}]}}"#,
    );
    assert!(
        message.contains("at `body.content[0].paragraph.elements[0].textRun.content`"),
        "{message}"
    );
    let message = unavailable("\"a string\"");
    assert_eq!(
        message,
        "the response is not a Google Docs document (`documents.get`): at `.`: invalid type: \
         string \"a string\", expected struct Document at line 1 column 10"
    );
}

#[test]
fn a_missing_body_or_an_api_error_says_what_to_do() {
    let message = unavailable(r#"{"documentId": "doc-1", "title": "Plan"}"#);
    assert_eq!(
        message,
        "the Google Docs response has no `body`: request the whole document (a `fields` mask \
         must include `body`), or `tabs` with includeTabsContent=true"
    );
    let message = unavailable(
        r#"{"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}"#,
    );
    assert_eq!(
        message,
        "Google Docs answered with an error instead of a document: 403 PERMISSION_DENIED \
         (The caller does not have permission)"
    );
    let message = unavailable(r#"{"tabs": [{"tabProperties": {"tabId": "t.0"}}]}"#);
    assert!(message.contains("no `documentTab.body`"), "{message}");
}

#[test]
fn an_unknown_channel_names_its_paragraph() {
    let json = document(vec![
        json!({"endIndex": 1, "sectionBreak": {}}),
        paragraph(1, "HEADING_2", "News"),
        paragraph(6, "HEADING_3", "One"),
        paragraph(10, "NORMAL_TEXT", "Channels: web, myspace"),
        paragraph(33, "NORMAL_TEXT", "Body."),
    ]);
    assert_eq!(
        document_errors(&json),
        ["element paragraph at index 10: unknown channel `myspace` (known channels: email, web)"]
    );
}

#[test]
fn an_item_without_body_is_an_error_even_with_a_table_and_empty_paragraphs() {
    let json = document(vec![
        json!({"endIndex": 1, "sectionBreak": {}}),
        paragraph(1, "HEADING_2", "News"),
        paragraph(6, "HEADING_3", "One"),
        paragraph(10, "NORMAL_TEXT", "Tags: a"),
        paragraph(18, "NORMAL_TEXT", ""),
        json!({"startIndex": 19, "table": {"rows": 1, "columns": 1, "tableRows": []}}),
        paragraph(25, "HEADING_3", "Two"),
        paragraph(29, "NORMAL_TEXT", "Body."),
    ]);
    assert_eq!(
        document_errors(&json),
        ["element paragraph at index 6: item `One` has no body"]
    );
}

#[test]
fn a_document_without_items_is_an_error() {
    let json = document(vec![
        json!({"endIndex": 1, "sectionBreak": {}}),
        paragraph(1, "NORMAL_TEXT", "Just text."),
    ]);
    assert_eq!(
        document_errors(&json),
        ["line 1: the document has no items: add `## Section` and `### Item` headings"]
    );
}
