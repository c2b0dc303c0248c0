//! The shared conformance suite, run against the LinkedIn publisher.

use std::sync::Arc;

use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::testkit::conformance::wiremock::matchers::{header, method, path, query_param};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer};
use halcytone_core::testkit::conformance::{Harness, wiremock::ResponseTemplate};
use publisher_linkedin::{LinkedinConfig, LinkedinPublisher};

struct LinkedinHarness;

impl Harness for LinkedinHarness {
    fn publisher(base_url: &str, http: HttpClient) -> Arc<dyn Publisher> {
        let config = LinkedinConfig {
            base_url: BaseUrl::parse(base_url).unwrap(),
            access_token: Some(SecretString::new("li-member-token-456")),
            author_urn: Some("urn:li:organization:10428811".to_owned()),
            ..LinkedinConfig::default()
        };
        Arc::new(LinkedinPublisher::new(config, http))
    }

    fn post() -> OutgoingPost {
        OutgoingPost {
            id: PostId("post_conformance".to_owned()),
            scheduled_at: "2026-11-30T12:00:00+00:00[UTC]".parse().unwrap(),
            content: Content(
                serde_json::json!({"commentary": "Breathscape 2.4 is live \\(finally!\\)\n\n{hashtag|#|breathwork}"}),
            ),
        }
    }

    fn invalid_post() -> OutgoingPost {
        OutgoingPost {
            content: Content(
                serde_json::json!({"commentary": "Unescaped (parentheses) cut the post"}),
            ),
            ..Self::post()
        }
    }

    fn success() -> ResponseTemplate {
        ResponseTemplate::new(201)
            .insert_header("x-restli-id", "urn:li:share:7373456789012345678")
            .insert_header("x-restli-protocol-version", "2.0.0")
    }

    fn secrets() -> &'static [&'static str] {
        &["li-member-token-456"]
    }

    /// The author's newest posts: another post, then (when found) this one.
    async fn mount_look_up(server: &MockServer, found: bool) -> Option<Vec<String>> {
        let now = jiff::Timestamp::now().as_millisecond();
        let mut elements = vec![serde_json::json!({
            "id": "urn:li:share:7373000000000000001", "author": "urn:li:organization:10428811",
            "commentary": "Another post", "createdAt": now - 60_000, "lifecycleState": "PUBLISHED",
        })];
        if found {
            elements.insert(0, serde_json::json!({
                "id": "urn:li:share:7373456789012345678", "author": "urn:li:organization:10428811",
                "commentary": Self::post().content.0["commentary"], "createdAt": now - 1_000,
                "lifecycleState": "PUBLISHED",
            }));
        }
        Mock::given(method("GET"))
            .and(path("/rest/posts"))
            .and(query_param("author", "urn:li:organization:10428811"))
            .and(query_param("q", "author"))
            .and(query_param("sortBy", "CREATED"))
            .and(query_param("count", "50"))
            .and(query_param("start", "0"))
            .and(header("authorization", "Bearer li-member-token-456"))
            .and(header("linkedin-version", "202608"))
            .and(header("x-restli-protocol-version", "2.0.0"))
            .and(header("x-restli-method", "FINDER"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"elements": elements, "paging": {"start": 0, "count": 50, "links": []}}),
            ))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(if found {
            vec!["urn:li:share:7373456789012345678".to_owned()]
        } else {
            Vec::new()
        })
    }
}

halcytone_core::conformance_tests!(LinkedinHarness);
