//! The same living document written in Markdown (`data/equivalence.md`) and
//! as Notion blocks in two pages (`data/equivalence-notion-page1.json`,
//! `data/equivalence-notion-page2.json`) gives equal items: parsed from the
//! pages, fetched over HTTP from a mock Notion as a page, and fetched as a
//! database whose rows carry the metadata as properties.

use std::time::Duration;

use halcytone_core::channel::Channel;
use halcytone_core::document::{KnownChannels, ParsedDocument};
use halcytone_core::http::HttpClient;
use halcytone_core::markdown::parse_markdown;
use halcytone_core::registry::SourceContext;
use halcytone_core::resilience::ResilienceSettings;
use halcytone_core::source::Source;
use halcytone_core::testkit::conformance::wiremock::matchers::{
    body_json, header, method, path, query_param,
};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer, ResponseTemplate};
use serde_json::{Value, json};
use source_notion::{NotionConfig, NotionSource, blocks_from_pages, parse_blocks};

const PAGE_1: &str = include_str!("data/equivalence-notion-page1.json");
const PAGE_2: &str = include_str!("data/equivalence-notion-page2.json");
/// The page the fixture's blocks belong to (their `parent.page_id`).
const PAGE: &str = "1a8f0c2e-9b3d-4e7a-8c51-6d2f4b9e0a17";
const DATABASE: &str = "2b9e1d3f-0c4e-4f8b-9d62-7e3a5c0f1b28";
const DATA_SOURCE: &str = "3c0f2e4a-1d5f-4a9c-8e73-8f4b6d1a2c39";
const TOKEN: &str = "ntn_equivalence";

fn known() -> KnownChannels {
    KnownChannels::new(
        ["email", "web", "twitter", "linkedin"].map(|name| Channel::parse(name).unwrap()),
    )
}

fn markdown() -> ParsedDocument {
    let markdown = parse_markdown(
        "equivalence.md",
        include_str!("data/equivalence.md"),
        &known(),
    )
    .unwrap();
    assert!(markdown.warnings.is_empty(), "{:?}", markdown.warnings);
    markdown
}

/// No warnings, then equal title and items, field by field.
fn assert_same_items(notion: &ParsedDocument, markdown: &ParsedDocument) {
    assert!(notion.warnings.is_empty(), "{:?}", notion.warnings);
    let items = halcytone_core::testkit::assert_same_items(&notion.document, &markdown.document);
    assert_eq!(items.len(), 4);
}

#[test]
fn the_notion_page_and_the_markdown_give_the_same_items() {
    let markdown = markdown();
    let blocks = blocks_from_pages(&[PAGE_1, PAGE_2]).unwrap();
    let notion = parse_blocks("equivalence page", &blocks, &known()).unwrap();
    assert_same_items(&notion, &markdown);

    // The document exercises every metadata key and the formatting runs.
    let expected: Vec<_> = markdown.document.items().collect();
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

/// A fixture page as Notion serves it: the children the fixture holds
/// inline are taken out, to be served by their own block's endpoint.
fn served_page(text: &str, children: &mut Vec<(String, Value)>) -> Value {
    let mut page: Value = serde_json::from_str(text).unwrap();
    for block in page["results"].as_array_mut().unwrap() {
        take_children(block, children);
    }
    page
}

fn take_children(block: &mut Value, children: &mut Vec<(String, Value)>) {
    let Some(mut inline) = block.as_object_mut().unwrap().remove("children") else {
        return;
    };
    for child in inline.as_array_mut().unwrap() {
        take_children(child, children);
    }
    let id = block["id"].as_str().unwrap().to_owned();
    children.push((
        id,
        json!({"object": "list", "results": inline, "next_cursor": null, "has_more": false}),
    ));
}

fn context() -> SourceContext {
    SourceContext {
        http: HttpClient::new(Duration::from_secs(5)).unwrap(),
        resilience: ResilienceSettings {
            max_attempts: 3,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            ..ResilienceSettings::default()
        },
    }
}

fn source(server: &MockServer, target: (&str, &str)) -> NotionSource {
    let mut config = json!({"token": TOKEN, "base_url": server.uri(), "rate_limit": "1000/1s"});
    config[target.0] = json!(target.1);
    let config: NotionConfig = serde_json::from_value(config).unwrap();
    NotionSource::new(config, &context()).unwrap()
}

/// Serves `GET /v1/blocks/{id}/children` (first page) once.
async fn serve_children(server: &MockServer, id: &str, list: Value) {
    Mock::given(method("GET"))
        .and(path(format!("/v1/blocks/{id}/children")))
        .and(query_param("page_size", "100"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("notion-version", "2025-09-03"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_fetched_page_and_the_markdown_give_the_same_items() {
    let server = MockServer::start().await;
    let mut children = Vec::new();
    let first = served_page(PAGE_1, &mut children);
    let second = served_page(PAGE_2, &mut children);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    Mock::given(method("GET"))
        .and(path(format!("/v1/blocks/{PAGE}/children")))
        .and(query_param("page_size", "100"))
        .and(query_param("start_cursor", cursor.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(second))
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    serve_children(&server, PAGE, first).await;
    // The nested list item: `Extended exhale` → `Works offline`.
    assert_eq!(children.len(), 1);
    for (id, list) in children {
        serve_children(&server, &id, list).await;
    }
    let notion = source(&server, ("page_id", PAGE))
        .fetch(&known())
        .await
        .unwrap();
    assert_same_items(&notion, &markdown());
}

/// One row per item of the fixture: its metadata paragraphs become
/// properties, the blocks after them its body.
fn rows_from_fixture(blocks: &[Value]) -> Vec<(Value, Vec<Value>)> {
    let text = |block: &Value| -> String {
        let kind = block["type"].as_str().unwrap();
        block[kind]["rich_text"]
            .as_array()
            .map(|runs| {
                runs.iter()
                    .map(|run| run["plain_text"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut rows: Vec<(Value, Vec<Value>)> = Vec::new();
    let mut section = String::new();
    let mut metadata_open = false;
    for block in blocks {
        let kind = block["type"].as_str().unwrap();
        match kind {
            "heading_1" => {}
            "heading_2" => section = text(block),
            "heading_3" => {
                let title = text(block);
                let properties = json!({
                    "Name": {"type": "title", "title": [{"type": "text", "plain_text": title}]},
                    "Section": {"type": "select", "select": {"name": section}},
                    "Channels": {"type": "multi_select", "multi_select": []},
                    "Publish date": {"type": "date", "date": null},
                    "Priority": {"type": "select", "select": null},
                    "Tags": {"type": "multi_select", "multi_select": []},
                    "Link": {"type": "url", "url": null},
                });
                let row = json!({"object": "page", "id": block["id"], "in_trash": false, "properties": properties});
                rows.push((row, Vec::new()));
                metadata_open = true;
            }
            _ => {
                let Some((row, body)) = rows.last_mut() else {
                    continue; // The introduction before the first item.
                };
                let content = text(block);
                if metadata_open && kind == "paragraph" {
                    if content.is_empty() {
                        continue;
                    }
                    let lines: Vec<(&str, &str)> = content
                        .lines()
                        .filter_map(|line| line.split_once(": "))
                        .collect();
                    if lines.len() == content.lines().count() {
                        for (key, value) in lines {
                            let options = |value: &str| -> Value {
                                value
                                    .split(", ")
                                    .map(|name| json!({"name": name}))
                                    .collect()
                            };
                            let properties = &mut row["properties"];
                            match key {
                                "Tags" => properties["Tags"]["multi_select"] = options(value),
                                "Channels" => {
                                    properties["Channels"]["multi_select"] = options(value);
                                }
                                "Date" => {
                                    properties["Publish date"]["date"] = json!({"start": value});
                                }
                                "Priority" => {
                                    properties["Priority"]["select"] = json!({"name": value});
                                }
                                "Link" => properties["Link"]["url"] = json!(value),
                                other => panic!("unexpected metadata key {other}"),
                            }
                        }
                        continue;
                    }
                }
                metadata_open = false;
                body.push(block.clone());
            }
        }
    }
    rows
}

#[tokio::test]
async fn the_fetched_database_and_the_markdown_give_the_same_items() {
    let server = MockServer::start().await;
    let mut children = Vec::new();
    let mut blocks = served_page(PAGE_1, &mut children)["results"]
        .as_array()
        .unwrap()
        .clone();
    blocks.extend(
        served_page(PAGE_2, &mut children)["results"]
            .as_array()
            .unwrap()
            .clone(),
    );
    let rows = rows_from_fixture(&blocks);
    assert_eq!(rows.len(), 4);
    Mock::given(method("GET"))
        .and(path(format!("/v1/databases/{DATABASE}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "database", "id": DATABASE,
            "title": [{"type": "text", "plain_text": "Equivalence check"}],
            "data_sources": [{"id": DATA_SOURCE, "name": "Items"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    // Two rows a page.
    let query = format!("/v1/data_sources/{DATA_SOURCE}/query");
    let pages: Vec<Value> = rows.iter().map(|(row, _)| row.clone()).collect();
    let third = pages[2]["id"].as_str().unwrap().to_owned();
    Mock::given(method("POST"))
        .and(path(query.as_str()))
        .and(body_json(json!({"page_size": 100})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "results": pages[..2], "next_cursor": third, "has_more": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(query.as_str()))
        .and(body_json(json!({"page_size": 100, "start_cursor": third})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "results": pages[2..], "next_cursor": null, "has_more": false
        })))
        .expect(1)
        .mount(&server)
        .await;
    for (row, body) in rows {
        let list =
            json!({"object": "list", "results": body, "next_cursor": null, "has_more": false});
        serve_children(&server, row["id"].as_str().unwrap(), list).await;
    }
    for (id, list) in children {
        serve_children(&server, &id, list).await;
    }
    let notion = source(&server, ("database_id", DATABASE))
        .fetch(&known())
        .await
        .unwrap();
    assert_same_items(&notion, &markdown());
}
