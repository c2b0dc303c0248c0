//! The shared conformance suite, run against the WordPress backend, and its own checks.
//!
//! a WordPress article takes several requests (the slug check, tag lookups, the
//! create): the suite aims at the create request of a post without tags, with
//! the slug check answered. The checks below it are WordPress's own: every
//! request byte for byte against its preview (tag ids filled in), and the
//! lookups' error rules.

use std::sync::Arc;
use std::time::Duration;

use halcytone_core::http::{HttpClient, body_bytes};
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::resilience::Resilient;
use halcytone_core::testkit::conformance::wiremock::matchers::{
    any, header, method, path, query_param,
};
use halcytone_core::testkit::conformance::wiremock::{
    Mock, MockBuilder, MockServer, ResponseTemplate,
};
use halcytone_core::testkit::conformance::{CORRELATION_ID, Harness, context, fast_settings};
use publisher_web::{Backend, WebConfig, WebPublisher};
use serde_json::json;

const PASSWORD: &str = "abcd efgh ijkl mnop qrst uvwx";
/// base64 of `halcytone:` and the password, as it goes on the wire.
const ENCODED: &str = "aGFsY3l0b25lOmFiY2QgZWZnaCBpamtsIG1ub3AgcXJzdCB1dnd4";

fn publisher(base_url: &str, timeout: Duration) -> Arc<WebPublisher> {
    Arc::new(WebPublisher::new(
        WebConfig {
            backend: Backend::Wordpress,
            base_url: Some(BaseUrl::parse(base_url).unwrap()),
            username: Some("halcytone".to_owned()),
            application_password: Some(SecretString::new(PASSWORD)),
            ..WebConfig::default()
        },
        HttpClient::new(timeout).unwrap(),
    ))
}

fn post_with_tags(tags: &[&str]) -> OutgoingPost {
    OutgoingPost {
        id: PostId("post_conformance".to_owned()),
        scheduled_at: "2026-12-01T10:00:00+00:00[UTC]".parse().unwrap(),
        content: Content(json!({
            "title": "Sleep timer fades", "slug": "sleep-timer-fades", "excerpt": "Fades, not stops.",
            "html": "<p>Fades, not stops.</p>", "seo_description": "Fades, not stops.", "tags": tags,
        })),
    }
}

fn post() -> OutgoingPost {
    post_with_tags(&["product"])
}

fn slug_check() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/wp-json/wp/v2/posts"))
        .and(query_param("slug", "sleep-timer-fades"))
}

fn create() -> MockBuilder {
    Mock::given(method("POST")).and(path("/wp-json/wp/v2/posts"))
}

/// The lookups before the create: no post has the slug, `product` is tag 7.
async fn mount_lookups(server: &MockServer) {
    slug_check()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wp-json/wp/v2/tags"))
        .and(query_param("search", "product"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"id": 7, "name": "product"}])),
        )
        .mount(server)
        .await;
}

fn created() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "id": 123, "link": "https://blog.example.com/?p=123", "status": "future", "slug": "sleep-timer-fades",
    }))
}

/// WordPress's error body.
fn refusal(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": "rest_error", "message": message, "data": {"status": status},
    }))
}

/// The shared suite, aimed at the create-post request of a post without tags
/// (its slug check answered: no post has the slug).
struct WordpressHarness;

impl Harness for WordpressHarness {
    fn publisher(base_url: &str, http: HttpClient) -> Arc<dyn Publisher> {
        Arc::new(WebPublisher::new(
            WebConfig {
                backend: Backend::Wordpress,
                base_url: Some(BaseUrl::parse(base_url).unwrap()),
                username: Some("halcytone".to_owned()),
                application_password: Some(SecretString::new(PASSWORD)),
                ..WebConfig::default()
            },
            http,
        ))
    }

    fn post() -> OutgoingPost {
        post_with_tags(&[])
    }

    fn invalid_post() -> OutgoingPost {
        OutgoingPost {
            content: Content(json!({
                "title": "T", "slug": "Not A Slug", "excerpt": "", "html": "<p>x</p>", "seo_description": "", "tags": [],
            })),
            ..post_with_tags(&[])
        }
    }

    fn success() -> ResponseTemplate {
        created()
    }

    fn secrets() -> &'static [&'static str] {
        &[PASSWORD, ENCODED]
    }

    fn request_under_test() -> usize {
        1
    }

    async fn mount_other_steps(server: &MockServer) {
        slug_check()
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(server)
            .await;
    }

    async fn mount_look_up(server: &MockServer, found: bool) -> Option<Vec<String>> {
        let posts = if found {
            json!([{"id": 99, "link": "https://blog.example/sleep-timer-fades/", "status": "future"}])
        } else {
            json!([])
        };
        slug_check()
            .and(query_param("status", "any"))
            .and(header("authorization", format!("Basic {ENCODED}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(posts))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(if found {
            vec!["99".to_owned()]
        } else {
            Vec::new()
        })
    }
}

halcytone_core::conformance_tests!(WordpressHarness);

#[tokio::test]
async fn sends_exactly_the_previewed_requests() {
    let server = MockServer::start().await;
    mount_lookups(&server).await;
    Mock::given(method("GET"))
        .and(path("/wp-json/wp/v2/tags"))
        .and(query_param("search", "Release Notes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/wp-json/wp/v2/tags"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": 31, "name": "Release Notes"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    create()
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    let post = post_with_tags(&["product", "Release Notes"]);
    let publisher = publisher(&server.uri(), Duration::from_secs(5));
    let preview = publisher.preview(&post).unwrap();
    let requests = publisher.build_requests(&post).unwrap();
    assert_eq!(
        preview.len(),
        6,
        "slug check, search + create per tag, post"
    );
    let receipt = Resilient::new(publisher, fast_settings(3), None)
        .publish(&post, &context())
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["123"]);
    // `product` is found, so its create (preview 2) is not sent.
    let mut expected = vec![
        preview[0].clone(),
        preview[1].clone(),
        preview[3].clone(),
        preview[4].clone(),
        preview[5].clone(),
    ];
    // The real tag ids replace the previewed placeholders, and nothing else changes.
    let tags = &mut expected[4].body.as_mut().unwrap()["tags"];
    assert_eq!(
        tags,
        &json!(["<id of tag product>", "<id of tag Release Notes>"])
    );
    *tags = json!([7, 31]);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), expected.len());
    for (received, previewed) in received.iter().zip(&expected) {
        assert_eq!(received.method.as_str(), previewed.method.as_str());
        let sent_url = match received.url.query() {
            Some(query) => format!("{}{}?{query}", server.uri(), received.url.path()),
            None => format!("{}{}", server.uri(), received.url.path()),
        };
        assert_eq!(sent_url, previewed.url);
        assert_eq!(
            received.body,
            previewed.body.as_ref().map(body_bytes).unwrap_or_default(),
            "the body sent is the previewed body, byte for byte: {}",
            previewed.url
        );
        for (name, shown) in &previewed.headers {
            let sent = received
                .headers
                .get(name.as_str())
                .and_then(|value| value.to_str().ok());
            if shown == "Basic ***" {
                assert_eq!(sent, Some(format!("Basic {ENCODED}").as_str()));
            } else {
                assert_eq!(sent, shown.as_str(), "previewed header {name}");
            }
        }
        let correlation = received
            .headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok());
        assert_eq!(correlation, Some(CORRELATION_ID));
    }
    assert_eq!(
        requests[0].headers[0].1.expose(),
        Some(format!("Basic {ENCODED}"))
    );
}

#[tokio::test]
async fn a_refused_lookup_is_permanent_and_creates_nothing() {
    let server = MockServer::start().await;
    slug_check()
        .respond_with(refusal(401, "Sorry, you are not allowed to do that."))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(created())
        .with_priority(10)
        .expect(0)
        .mount(&server)
        .await;
    let error = Resilient::new(
        publisher(&server.uri(), Duration::from_secs(5)),
        fast_settings(4),
        None,
    )
    .publish(&post(), &context())
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "web rejected the request (401): Sorry, you are not allowed to do that."
    );
    server.verify().await;
}

#[tokio::test]
async fn a_slow_lookup_is_transient_and_retried() {
    let server = MockServer::start().await;
    slug_check()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_secs(2)),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_lookups(&server).await;
    create()
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    // Not idempotent, yet the lookup that timed out is sent again: it
    // changes nothing, so its timeout is transient, not an unknown outcome.
    let receipt = Resilient::new(
        publisher(&server.uri(), Duration::from_millis(300)),
        fast_settings(3),
        None,
    )
    .publish(&post(), &context())
    .await
    .unwrap();
    assert_eq!(receipt.external_ids, ["123"]);
    server.verify().await;
}
