//! Publishing an article to WordPress against wiremock: every request of the
//! flow exactly, tags found, created or refused as existing (`term_exists`),
//! and an article whose slug already exists returned instead of created again.

use std::time::Duration;

use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::resilience::{ResilienceSettings, Resilient};
use halcytone_core::testkit::conformance::wiremock::matchers::{
    any, body_json, header, method, path, query_param,
};
use halcytone_core::testkit::conformance::wiremock::{
    Mock, MockBuilder, MockServer, ResponseTemplate,
};
use publisher_web::{Backend, WebConfig, WebPublisher};
use serde_json::json;

/// `Basic ` and base64 of `halcytone:abcd efgh ijkl mnop qrst uvwx`.
const AUTHORIZATION: &str = "Basic aGFsY3l0b25lOmFiY2QgZWZnaCBpamtsIG1ub3AgcXJzdCB1dnd4";

fn publisher(server: &MockServer, timeout: Duration) -> WebPublisher {
    WebPublisher::new(
        WebConfig {
            backend: Backend::Wordpress,
            base_url: Some(BaseUrl::parse(&server.uri()).unwrap()),
            username: Some("halcytone".to_owned()),
            application_password: Some(SecretString::new("abcd efgh ijkl mnop qrst uvwx")),
            ..WebConfig::default()
        },
        HttpClient::new(timeout).unwrap(),
    )
}

fn post(tags: &[&str]) -> OutgoingPost {
    OutgoingPost {
        id: PostId("post_wp".to_owned()),
        // 11:00 in Paris is 10:00 UTC, which `date_gmt` carries without offset.
        scheduled_at: "2026-12-01T11:00:00+01:00[Europe/Paris]".parse().unwrap(),
        content: Content(json!({
            "title": "Sleep timer fades — ça va?", "slug": "sleep-timer-fades",
            "excerpt": "Fades, not stops.", "html": "<p>Fades &amp; never stops. 呼吸 🌬️</p>",
            "seo_description": "Fades, not stops.", "tags": tags,
        })),
    }
}

fn context() -> PublishContext {
    PublishContext {
        correlation_id: "req-wp".to_owned(),
        already_sent: Vec::new(),
    }
}

/// A call with the credentials and the correlation id.
fn call(verb: &str, route: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(route))
        .and(header("authorization", AUTHORIZATION))
        .and(header("x-request-id", "req-wp"))
}

fn slug_check() -> MockBuilder {
    call("GET", "/wp-json/wp/v2/posts")
        .and(query_param("slug", "sleep-timer-fades"))
        .and(query_param("status", "any"))
}

fn tag_search(name: &str) -> MockBuilder {
    call("GET", "/wp-json/wp/v2/tags")
        .and(query_param("search", name))
        .and(query_param("per_page", "100"))
}

fn tag_create(name: &str) -> MockBuilder {
    call("POST", "/wp-json/wp/v2/tags")
        .and(header("content-type", "application/json"))
        .and(body_json(json!({ "name": name })))
}

fn post_create(tags: serde_json::Value) -> MockBuilder {
    call("POST", "/wp-json/wp/v2/posts")
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "title": "Sleep timer fades — ça va?",
            "content": "<p>Fades &amp; never stops. 呼吸 🌬️</p>",
            "excerpt": "Fades, not stops.",
            "slug": "sleep-timer-fades",
            "status": "future",
            "date_gmt": "2026-12-01T10:00:00",
            "tags": tags,
        })))
}

fn created(id: u64) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "id": id, "date_gmt": "2026-12-01T10:00:00", "slug": "sleep-timer-fades", "status": "future",
        "link": format!("https://blog.example.com/?p={id}"),
        "title": {"raw": "Sleep timer fades — ça va?", "rendered": "Sleep timer fades &#8212; ça va?"},
    }))
}

fn ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn an_article_resolves_its_tags_then_creates_the_post() {
    let server = MockServer::start().await;
    slug_check()
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    // Found: the exact name, not the first result.
    tag_search("product")
        .respond_with(ok(json!([
            {"id": 5, "name": "Product launch", "slug": "product-launch"},
            {"id": 7, "name": "Product", "slug": "product"},
        ])))
        .expect(1)
        .mount(&server)
        .await;
    tag_create("product")
        .respond_with(created(0))
        .expect(0)
        .mount(&server)
        .await;
    // Missing: created.
    tag_search("Release Notes")
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    tag_create("Release Notes")
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 31, "name": "Release Notes", "slug": "release-notes"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    post_create(json!([7, 31]))
        .respond_with(created(123))
        .expect(1)
        .mount(&server)
        .await;
    let receipt = publisher(&server, Duration::from_secs(5))
        .publish(&post(&["product", "Release Notes"]), &context())
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["123"]);
    assert_eq!(
        receipt.url.as_deref(),
        Some("https://blog.example.com/?p=123")
    );
    let calls: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| {
            format!(
                "{} {}?{}",
                request.method,
                request.url.path(),
                request.url.query().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            "GET /wp-json/wp/v2/posts?slug=sleep-timer-fades&status=any",
            "GET /wp-json/wp/v2/tags?search=product&per_page=100",
            "GET /wp-json/wp/v2/tags?search=Release+Notes&per_page=100",
            "POST /wp-json/wp/v2/tags?",
            "POST /wp-json/wp/v2/posts?",
        ]
    );
}

#[tokio::test]
async fn a_tag_refused_as_existing_uses_the_id_wordpress_gives() {
    let server = MockServer::start().await;
    slug_check()
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    // The search misses it (more than 100 matches, or a name stored escaped).
    tag_search("R&D")
        .respond_with(ok(json!([{"id": 3, "name": "R&amp;D tools"}])))
        .expect(1)
        .mount(&server)
        .await;
    tag_create("R&D")
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": "term_exists",
            "message": "A term with the name provided already exists in this taxonomy.",
            "data": {"status": 400, "term_id": 12},
        })))
        .expect(1)
        .mount(&server)
        .await;
    post_create(json!([12]))
        .respond_with(created(124))
        .expect(1)
        .mount(&server)
        .await;
    let receipt = publisher(&server, Duration::from_secs(5))
        .publish(&post(&["R&D"]), &context())
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["124"]);
}

#[tokio::test]
async fn an_existing_slug_is_returned_instead_of_a_second_post() {
    let server = MockServer::start().await;
    slug_check()
        .respond_with(ok(json!([{
            "id": 99, "slug": "sleep-timer-fades", "status": "future",
            "link": "https://blog.example.com/?p=99",
        }])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(created(100))
        .with_priority(10)
        .expect(0)
        .named("anything after the slug check")
        .mount(&server)
        .await;
    let receipt = publisher(&server, Duration::from_secs(5))
        .publish(&post(&["product"]), &context())
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["99"]);
    assert_eq!(
        receipt.url.as_deref(),
        Some("https://blog.example.com/?p=99")
    );
}

#[tokio::test]
async fn a_retry_after_a_lost_create_finds_the_post_by_its_slug() {
    let server = MockServer::start().await;
    // The first attempt's create fails with 503 after WordPress saved the post.
    slug_check()
        .respond_with(ok(json!([])))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    post_create(json!([]))
        .respond_with(ResponseTemplate::new(503).set_body_json(
            json!({"code": "http_request_failed", "message": "Service Unavailable"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    slug_check()
        .respond_with(ok(
            json!([{"id": 125, "link": "https://blog.example.com/?p=125"}]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let settings = ResilienceSettings {
        max_attempts: 3,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        breaker_threshold: 5,
        breaker_cooldown: Duration::from_secs(60),
    };
    let receipt = Resilient::new(
        std::sync::Arc::new(publisher(&server, Duration::from_secs(5))),
        settings,
        None,
    )
    .publish(&post(&[]), &context())
    .await
    .unwrap();
    assert_eq!(receipt.external_ids, ["125"]);
}
