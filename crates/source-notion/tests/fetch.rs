//! `NotionSource::fetch` against a wiremock Notion: the exact requests
//! (method, path, query, `authorization` and `notion-version` headers, body)
//! with the number of times each is made, pagination, nested children, a
//! database's rows and bodies, retries, and the messages of each failure.

use std::time::{Duration, Instant};

use halcytone_core::channel::Channel;
use halcytone_core::document::{KnownChannels, ParsedDocument, Priority};
use halcytone_core::http::HttpClient;
use halcytone_core::prelude::Registry;
use halcytone_core::registry::SourceContext;
use halcytone_core::resilience::ResilienceSettings;
use halcytone_core::source::{Source, SourceError};
use halcytone_core::testkit::JsonTable;
use halcytone_core::testkit::conformance::wiremock::matchers::{body_json, header, method, path};
use halcytone_core::testkit::conformance::wiremock::{
    Match, Mock, MockBuilder, MockServer, Request, ResponseTemplate,
};
use serde_json::{Value, json};
use source_notion::{NotionConfig, NotionSource};

const PAGE: &str = "1a8f0c2e-9b3d-4e7a-8c51-6d2f4b9e0a17";
const DATABASE: &str = "2b9e1d3f-0c4e-4f8b-9d62-7e3a5c0f1b28";
const DATA_SOURCE: &str = "3c0f2e4a-1d5f-4a9c-8e73-8f4b6d1a2c39";
const TOKEN: &str = "ntn_test_secret";

/// Matches the whole query string, so no parameter is missing or extra.
struct ExactQuery(&'static str);

impl Match for ExactQuery {
    fn matches(&self, request: &Request) -> bool {
        request.url.query().unwrap_or("") == self.0
    }
}

fn known() -> KnownChannels {
    KnownChannels::new(
        ["email", "web", "twitter", "linkedin"].map(|name| Channel::parse(name).unwrap()),
    )
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

/// A source for `target` (`{"page_id": …}` or `{"database_id": …}`) on the
/// mock server, with a rate limit high enough not to slow the tests.
fn source(server: &MockServer, target: Value) -> NotionSource {
    let mut config = json!({"token": TOKEN, "base_url": server.uri(), "rate_limit": "1000/1s"});
    for (key, value) in target.as_object().unwrap() {
        config[key] = value.clone();
    }
    let config: NotionConfig = serde_json::from_value(config).unwrap();
    NotionSource::new(config, &context()).unwrap()
}

fn page_source(server: &MockServer) -> NotionSource {
    source(server, json!({"page_id": PAGE}))
}

/// A request with the Notion headers.
fn notion(verb: &str, route: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(route.to_owned()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("notion-version", "2025-09-03"))
}

/// `GET /v1/blocks/{id}/children` with exactly this query.
fn children(id: &str, query: &'static str) -> MockBuilder {
    notion("GET", &format!("/v1/blocks/{id}/children")).and(ExactQuery(query))
}

fn list(results: Vec<Value>, next_cursor: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "object": "list", "results": results, "next_cursor": next_cursor,
        "has_more": next_cursor.is_some(), "type": "block", "block": {}, "request_id": "r-1"
    }))
}

fn notion_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "object": "error", "status": status, "code": code, "message": message, "request_id": "r-2"
    }))
}

fn block(id: &str, kind: &str, content: &str) -> Value {
    json!({"object": "block", "id": id, "type": kind, "has_children": false, "in_trash": false,
           kind: {"rich_text": [{"type": "text", "text": {"content": content, "link": null},
                                 "plain_text": content, "href": null}]}})
}

fn parent(mut block: Value) -> Value {
    block["has_children"] = json!(true);
    block
}

async fn fetch(source: &NotionSource) -> ParsedDocument {
    let parsed = source.fetch(&known()).await.unwrap();
    ParsedDocument::clone(&parsed)
}

/// The `Unavailable` message of a failed fetch, after checking it names the source.
async fn unavailable(source: &NotionSource) -> String {
    match source.fetch(&known()).await {
        Err(SourceError::Unavailable {
            source_name,
            message,
        }) => {
            assert_eq!(source_name, source.describe());
            message
        }
        other => panic!("expected an unavailable source, got {other:?}"),
    }
}

fn items(parsed: &ParsedDocument) -> Vec<(String, String)> {
    parsed
        .document
        .items()
        .map(|item| (item.id.to_string(), item.body.clone()))
        .collect()
}

#[tokio::test]
async fn a_page_is_read_over_three_pages_of_results() {
    let server = MockServer::start().await;
    children(PAGE, "page_size=100")
        .respond_with(list(
            vec![
                block("b1", "heading_2", "News"),
                block("b2", "heading_3", "One"),
            ],
            Some("b3"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    children(PAGE, "page_size=100&start_cursor=b3")
        .respond_with(list(
            vec![
                block("b3", "paragraph", "Tags: launch"),
                block("b4", "paragraph", "First part."),
            ],
            Some("b5"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    children(PAGE, "page_size=100&start_cursor=b5")
        .respond_with(list(vec![block("b5", "paragraph", "Second part.")], None))
        .expect(1)
        .mount(&server)
        .await;
    let parsed = fetch(&page_source(&server)).await;
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(
        items(&parsed),
        [(
            "news/one".to_owned(),
            "First part.\n\nSecond part.".to_owned()
        )]
    );
    assert_eq!(parsed.document.items().next().unwrap().tags, ["launch"]);
}

#[tokio::test]
async fn nested_children_are_fetched_and_attached() {
    let server = MockServer::start().await;
    let mut trashed = parent(block("t1", "bulleted_list_item", "Deleted"));
    trashed["in_trash"] = json!(true);
    let child_page = json!({"object": "block", "id": "cp1", "type": "child_page",
                            "has_children": true, "child_page": {"title": "Notes"}});
    children(PAGE, "page_size=100")
        .respond_with(list(
            vec![
                block("b1", "heading_2", "News"),
                block("b2", "heading_3", "One"),
                parent(block("b3", "bulleted_list_item", "Parent")),
                trashed,
                child_page,
                block("b4", "bulleted_list_item", "Sibling"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    // The children have two pages of their own, and a grandchild.
    children("b3", "page_size=100")
        .respond_with(list(
            vec![parent(block("c1", "bulleted_list_item", "Child"))],
            Some("c2"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    children("b3", "page_size=100&start_cursor=c2")
        .respond_with(list(vec![block("c2", "paragraph", "A note.")], None))
        .expect(1)
        .mount(&server)
        .await;
    children("c1", "page_size=100")
        .respond_with(list(vec![block("g1", "to_do", "Grandchild")], None))
        .expect(1)
        .mount(&server)
        .await;
    // Neither the trashed block nor the child page is read further: any
    // other request (but the page's edit time) fails the test.
    edited_at(&server, "2026-11-20T10:00:00.000Z").await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    let parsed = fetch(&page_source(&server)).await;
    assert_eq!(
        items(&parsed),
        [(
            "news/one".to_owned(),
            // The skipped child page ends the list.
            "- Parent\n  - Child\n    - [ ] Grandchild\n\n  A note.\n\n- Sibling".to_owned()
        )]
    );
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["element block cp1: a `child_page` block is skipped: it has no living-document form"]
    );
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let server = MockServer::start().await;
    children(PAGE, "page_size=100")
        .respond_with(
            notion_error(429, "rate_limited", "You have been rate limited.")
                .insert_header("retry-after", "1"),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    children(PAGE, "page_size=100")
        .respond_with(list(
            vec![
                block("b1", "heading_2", "News"),
                block("b2", "heading_3", "One"),
                block("b3", "paragraph", "Body."),
            ],
            None,
        ))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let started = Instant::now();
    let parsed = fetch(&page_source(&server)).await;
    // max_delay is 50ms, but Notion asked for a second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        items(&parsed),
        [("news/one".to_owned(), "Body.".to_owned())]
    );
}

#[tokio::test]
async fn a_429_that_persists_says_rate_limited() {
    let server = MockServer::start().await;
    children(PAGE, "page_size=100")
        .respond_with(
            notion_error(429, "rate_limited", "You have been rate limited.")
                .insert_header("retry-after", "0"),
        )
        .expect(3)
        .mount(&server)
        .await;
    let message = unavailable(&page_source(&server)).await;
    assert_eq!(
        message,
        format!(
            "Notion rate limited the reads of page {PAGE} through 3 attempts, the last asking to \
             wait 0s; fetch again later, or lower source.rate_limit (now 1000/1s)"
        )
    );
}

#[tokio::test]
async fn a_401_says_to_set_the_token() {
    let server = MockServer::start().await;
    children(PAGE, "page_size=100")
        .respond_with(notion_error(401, "unauthorized", "API token is invalid."))
        .expect(1)
        .mount(&server)
        .await;
    let message = unavailable(&page_source(&server)).await;
    assert_eq!(
        message,
        format!(
            "Notion refused the token while reading page {PAGE} (401 unauthorized: API token is \
             invalid.): the token is missing or invalid; set HALCYTONE__SOURCE__TOKEN to the \
             integration's internal secret (ntn_…)"
        )
    );
}

#[tokio::test]
async fn a_missing_token_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let config: NotionConfig =
        serde_json::from_value(json!({"page_id": PAGE, "base_url": server.uri()})).unwrap();
    let source = NotionSource::new(config, &context()).unwrap();
    let message = unavailable(&source).await;
    assert!(message.starts_with("no Notion token is configured: set HALCYTONE__SOURCE__TOKEN"));
}

#[tokio::test]
async fn a_404_names_the_page_and_the_sharing_fix() {
    let server = MockServer::start().await;
    children(PAGE, "page_size=100")
        .respond_with(notion_error(
            404,
            "object_not_found",
            &format!(
                "Could not find block with ID: {PAGE}. Make sure the relevant pages and databases \
                 are shared with your integration."
            ),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let source = page_source(&server);
    assert_eq!(source.describe(), format!("Notion page {PAGE}"));
    let message = unavailable(&source).await;
    assert_eq!(
        message,
        format!(
            "Notion cannot find page {PAGE}, or it is not shared with the integration (404 \
             object_not_found: Could not find block with ID: {PAGE}. Make sure the relevant \
             pages and databases are shared with your integration.): open it in Notion, choose \
             Share → Connections (or ••• → Connections) and add the integration and check that \
             source.page_id is the id in the page's URL"
        )
    );
}

#[tokio::test]
async fn malformed_json_is_named_without_retrying() {
    let server = MockServer::start().await;
    children(PAGE, "page_size=100")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("{\"object\": \"list\", \"results\": [", "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let message = unavailable(&page_source(&server)).await;
    assert!(
        message.ends_with(&format!(
            "Notion's answer for page {PAGE} is not JSON (EOF while parsing a list at line 1 column 31)"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn a_wrong_shape_is_named_by_its_path_without_retrying() {
    let server = MockServer::start().await;
    children(PAGE, "page_size=100")
        .respond_with(list(vec![json!({"object": "block", "id": "b1"})], None))
        .expect(1)
        .mount(&server)
        .await;
    let message = unavailable(&page_source(&server)).await;
    assert_eq!(
        message,
        format!(
            "Notion's answer for page {PAGE} is not what the API documents: at `results[0]`: \
             missing field `type`"
        )
    );
}

#[tokio::test]
async fn has_more_without_a_cursor_is_refused() {
    let server = MockServer::start().await;
    children(PAGE, "page_size=100")
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"object": "list", "results": [], "has_more": true, "next_cursor": null}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let message = unavailable(&page_source(&server)).await;
    assert!(
        message.contains("has_more: true without a next_cursor"),
        "{message}"
    );
}

#[tokio::test]
async fn the_rate_limit_spaces_the_requests() {
    let server = MockServer::start().await;
    children(PAGE, "page_size=100")
        .respond_with(list(vec![block("b1", "heading_2", "News")], Some("c2")))
        .expect(1)
        .mount(&server)
        .await;
    children(PAGE, "page_size=100&start_cursor=c2")
        .respond_with(list(vec![block("b2", "heading_3", "One")], Some("c3")))
        .expect(1)
        .mount(&server)
        .await;
    children(PAGE, "page_size=100&start_cursor=c3")
        .respond_with(list(vec![block("b3", "paragraph", "Body.")], None))
        .expect(1)
        .mount(&server)
        .await;
    // 10/1s: a burst of one, then one request every 100ms.
    let source = source(&server, json!({"page_id": PAGE, "rate_limit": "10/1s"}));
    let started = Instant::now();
    fetch(&source).await;
    assert!(
        started.elapsed() >= Duration::from_millis(190),
        "{:?}",
        started.elapsed()
    );
}

fn title(text: &str) -> Value {
    json!({"id": "title", "type": "title", "title": [{"type": "text", "plain_text": text}]})
}

fn select(name: &str) -> Value {
    json!({"id": "s", "type": "select", "select": {"id": "o", "name": name, "color": "blue"}})
}

fn multi(names: &[&str]) -> Value {
    let options: Vec<Value> = names
        .iter()
        .map(|name| json!({"id": "o", "name": name}))
        .collect();
    json!({"id": "m", "type": "multi_select", "multi_select": options})
}

fn row(id: &str, name: &str, section: &str, priority: &str) -> Value {
    json!({"object": "page", "id": id, "in_trash": false, "properties": {
        "Name": title(name),
        "Section": select(section),
        "Channels": multi(&["Email", "LinkedIn"]),
        "Publish date": {"id": "d", "type": "date", "date": {"start": "2026-12-02", "end": null, "time_zone": null}},
        "Priority": select(priority),
        "Tags": multi(&["launch", "#sleep"]),
        "Link": {"id": "l", "type": "url", "url": null},
    }})
}

fn rows(results: Vec<Value>, next_cursor: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "object": "list", "results": results, "next_cursor": next_cursor,
        "has_more": next_cursor.is_some(), "type": "page_or_data_source", "page_or_data_source": {}
    }))
}

#[tokio::test]
async fn a_database_is_read_row_by_row_with_the_bodies() {
    let server = MockServer::start().await;
    notion("GET", &format!("/v1/databases/{DATABASE}"))
        .and(ExactQuery(""))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "database", "id": DATABASE,
            "title": [{"type": "text", "plain_text": "Content calendar"}],
            "data_sources": [{"id": DATA_SOURCE, "name": "Posts"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let query = format!("/v1/data_sources/{DATA_SOURCE}/query");
    notion("POST", &query)
        .and(header("content-type", "application/json"))
        .and(ExactQuery(""))
        .and(body_json(json!({"page_size": 100})))
        .respond_with(rows(
            vec![
                row("r1", "One", "News", "High"),
                row("r2", "Two", "Community", "Low"),
            ],
            Some("r3"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut trashed = row("r4", "Gone", "News", "Low");
    trashed["in_trash"] = json!(true);
    notion("POST", &query)
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"page_size": 100, "start_cursor": "r3"})))
        .respond_with(rows(
            vec![row("r3", "Three", "News", "Normal"), trashed],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    children("r1", "page_size=100")
        .respond_with(list(
            vec![
                block("r1b1", "paragraph", "Body one."),
                parent(block("r1b2", "bulleted_list_item", "Point")),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    children("r1b2", "page_size=100")
        .respond_with(list(
            vec![block("r1c1", "bulleted_list_item", "Detail")],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    children("r2", "page_size=100")
        .respond_with(list(
            vec![
                block("r2b1", "heading_2", "Why"),
                block("r2b2", "paragraph", "Body two."),
            ],
            Some("r2b2"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    children("r2", "page_size=100&start_cursor=r2b2")
        .respond_with(list(vec![block("r2b3", "paragraph", "More.")], None))
        .expect(1)
        .mount(&server)
        .await;
    children("r3", "page_size=100")
        .respond_with(list(vec![block("r3b1", "quote", "Body three.")], None))
        .expect(1)
        .mount(&server)
        .await;
    let source = source(&server, json!({"database_id": DATABASE}));
    assert_eq!(source.describe(), format!("Notion database {DATABASE}"));
    let parsed = fetch(&source).await;
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.document.title.as_deref(), Some("Content calendar"));
    let sections: Vec<&str> = parsed
        .document
        .sections
        .iter()
        .map(|section| section.name.as_str())
        .collect();
    assert_eq!(sections, ["News", "Community"]);
    assert_eq!(
        items(&parsed),
        [
            (
                "news/one".to_owned(),
                "Body one.\n\n- Point\n  - Detail".to_owned()
            ),
            ("news/three".to_owned(), "> Body three.".to_owned()),
            (
                "community/two".to_owned(),
                "##### Why\n\nBody two.\n\nMore.".to_owned()
            ),
        ]
    );
    let one = parsed.document.items().next().unwrap();
    assert_eq!(one.tags, ["launch", "sleep"]);
    assert_eq!(one.priority, Priority::High);
    assert_eq!(
        one.date.map(|date| date.to_string()).as_deref(),
        Some("2026-12-02")
    );
    let channels: Vec<&str> = one.channels.iter().flatten().map(Channel::as_str).collect();
    assert_eq!(channels, ["email", "linkedin"]);
    assert_eq!(one.link, None);
}

#[tokio::test]
async fn a_database_without_data_sources_names_the_version() {
    let server = MockServer::start().await;
    notion("GET", &format!("/v1/databases/{DATABASE}"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"object": "database", "id": DATABASE, "title": [], "properties": {}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let message = unavailable(&source(&server, json!({"database_id": DATABASE}))).await;
    assert_eq!(
        message,
        format!(
            "database {DATABASE} lists no data source (`data_sources` is empty or missing); \
             Notion-Version 2025-09-03 or later lists them, and source.version is `2025-09-03`"
        )
    );
}

#[tokio::test]
async fn a_404_on_a_database_names_the_database() {
    let server = MockServer::start().await;
    notion("GET", &format!("/v1/databases/{DATABASE}"))
        .respond_with(notion_error(
            403,
            "restricted_resource",
            "Insufficient permissions.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let message = unavailable(&source(&server, json!({"database_id": DATABASE}))).await;
    assert!(
        message.starts_with(&format!(
            "Notion cannot find database {DATABASE}, or it is not shared with the integration \
             (403 restricted_resource: Insufficient permissions.)"
        )),
        "{message}"
    );
    assert!(
        message.ends_with("source.database_id is the id in the database's URL"),
        "{message}"
    );
}

#[test]
fn the_registered_factory_checks_the_table() {
    let mut registry = Registry::<JsonTable>::default();
    source_notion::register(&mut registry);
    let factory = registry.source("notion").unwrap();
    let empty = JsonTable {
        key: "source".to_owned(),
        value: json!({}),
    };
    let Err(error) = factory(&empty, &context()) else {
        panic!("an empty [source] table is refused");
    };
    assert!(error.to_string().contains("source.page_id"), "{error}");
}

/// A page of one section with one item.
fn one_item_page() -> ResponseTemplate {
    let text = |content: &str| json!({"rich_text": [{"type": "text", "text": {"content": content}, "plain_text": content}]});
    list(
        vec![
            json!({"object": "block", "id": "h", "type": "heading_2", "has_children": false, "heading_2": text("S")}),
            json!({"object": "block", "id": "i", "type": "heading_3", "has_children": false, "heading_3": text("I")}),
            json!({"object": "block", "id": "p", "type": "paragraph", "has_children": false, "paragraph": text("Body.")}),
        ],
        None,
    )
}

/// Answers the page's own object with its `last_edited_time`.
async fn edited_at(server: &MockServer, time: &str) {
    notion("GET", &format!("/v1/pages/{PAGE}"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "page", "id": PAGE, "last_edited_time": time})),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn an_unchanged_page_is_not_read_again() {
    let server = MockServer::start().await;
    edited_at(&server, "2026-11-20T10:00:00.000Z").await;
    children(PAGE, "page_size=100")
        .respond_with(one_item_page())
        .expect(1)
        .mount(&server)
        .await;
    let source = page_source(&server);
    let first = source.fetch(&known()).await.unwrap();
    let second = source.fetch(&known()).await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first, &second),
        "the same settled edit time: no block is read again"
    );
}

#[tokio::test]
async fn a_page_edited_this_minute_is_read_again() {
    let server = MockServer::start().await;
    let now = jiff::Timestamp::now().to_string();
    edited_at(&server, &now).await;
    children(PAGE, "page_size=100")
        .respond_with(one_item_page())
        .expect(2)
        .mount(&server)
        .await;
    let source = page_source(&server);
    source.fetch(&known()).await.unwrap();
    source.fetch(&known()).await.unwrap();
}

/// The pre-flight check's one result.
async fn preflight(source: &NotionSource) -> halcytone_core::preflight::Check {
    let mut checks = source.preflight().await;
    assert_eq!(checks.len(), 1, "{checks:?}");
    let check = checks.remove(0);
    assert_eq!(check.name, "notion.credentials");
    assert!(!check.detail.contains(TOKEN), "{}", check.detail);
    check
}

fn users_me() -> MockBuilder {
    notion("GET", "/v1/users/me").and(ExactQuery(""))
}

#[tokio::test]
async fn the_preflight_check_reads_the_tokens_bot_user() {
    let server = MockServer::start().await;
    users_me()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "user", "id": "16d84278-ab0e-484c-9bdd-b35da3bd8905",
            "name": "Halcytone", "avatar_url": null, "type": "bot",
            "bot": {"owner": {"type": "workspace", "workspace": true},
                    "workspace_name": "Breathscape"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let check = preflight(&page_source(&server)).await;
    assert!(check.ok, "{check:?}");
    assert_eq!(
        check.detail,
        "the token is the integration `Halcytone` of workspace `Breathscape`"
    );
}

#[tokio::test]
async fn the_preflight_check_fails_on_every_refusal_with_its_reason() {
    let cases: [(ResponseTemplate, u64, &str); 5] = [
        (
            notion_error(401, "unauthorized", "API token is invalid."),
            1,
            "Notion refused the token while reading the token's bot user (GET /v1/users/me) \
             (401 unauthorized: API token is invalid.)",
        ),
        (
            notion_error(403, "restricted_resource", "Insufficient permissions."),
            1,
            "Notion refused the request for the token's bot user (GET /v1/users/me) (403 \
             restricted_resource: Insufficient permissions.); check source.version",
        ),
        (
            notion_error(400, "invalid_request", "Invalid request."),
            1,
            "(400 invalid_request: Invalid request.)",
        ),
        (
            notion_error(503, "service_unavailable", "Notion is unavailable."),
            3,
            "Notion did not serve the token's bot user (GET /v1/users/me) through 3 attempts",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"object": "error"})),
            1,
            "is a `error` object, not a `user`",
        ),
    ];
    for (response, attempts, expected) in cases {
        let server = MockServer::start().await;
        users_me()
            .respond_with(response)
            .expect(attempts)
            .mount(&server)
            .await;
        let check = preflight(&page_source(&server)).await;
        assert!(!check.ok, "{check:?}");
        assert!(
            check.detail.starts_with(&format!("Notion page {PAGE}: ")),
            "{}",
            check.detail
        );
        assert!(check.detail.contains(expected), "{}", check.detail);
    }
}

#[tokio::test]
async fn the_preflight_check_waits_out_a_429() {
    let server = MockServer::start().await;
    users_me()
        .respond_with(
            notion_error(429, "rate_limited", "Rate limited.").insert_header("retry-after", "0"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    users_me()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"object": "user", "type": "bot"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let check = preflight(&page_source(&server)).await;
    assert!(check.ok, "{check:?}");
    assert_eq!(check.detail, "the token is an unnamed integration");
}

#[tokio::test]
async fn the_preflight_check_without_a_token_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let config: NotionConfig =
        serde_json::from_value(json!({"page_id": PAGE, "base_url": server.uri()})).unwrap();
    let check = preflight(&NotionSource::new(config, &context()).unwrap()).await;
    assert!(!check.ok);
    assert!(
        check.detail.contains("no Notion token is configured"),
        "{}",
        check.detail
    );
}
