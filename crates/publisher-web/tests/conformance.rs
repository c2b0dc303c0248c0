//! The shared conformance suite, run against the Platform article publisher.

use std::sync::Arc;

use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::testkit::conformance::wiremock::matchers::{header, method, path, query_param};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer};
use halcytone_core::testkit::conformance::{Figures, Harness, wiremock::ResponseTemplate};
use publisher_web::{WebConfig, WebPublisher};

struct PlatformHarness;

impl Harness for PlatformHarness {
    fn publisher(base_url: &str, http: HttpClient) -> Arc<dyn Publisher> {
        let config = WebConfig {
            base_url: Some(BaseUrl::parse(base_url).unwrap()),
            api_key: Some(SecretString::new("platform-key-321")),
            ..WebConfig::default()
        };
        Arc::new(WebPublisher::new(config, http))
    }

    fn post() -> OutgoingPost {
        OutgoingPost {
            id: PostId("post_conformance".to_owned()),
            scheduled_at: "2026-12-01T10:00:00+00:00[UTC]".parse().unwrap(),
            content: Content(serde_json::json!({
                "title": "Sleep timer fades", "slug": "sleep-timer-fades", "excerpt": "Fades, not stops.",
                "html": "<p>Fades, not stops.</p>", "seo_description": "Fades, not stops.", "tags": ["product", "release"],
            })),
        }
    }

    fn invalid_post() -> OutgoingPost {
        OutgoingPost {
            content: Content(serde_json::json!({
                "title": "T", "slug": "Not A Slug", "excerpt": "", "html": "<p>x</p>", "seo_description": "", "tags": [],
            })),
            ..Self::post()
        }
    }

    fn success() -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "id": "c_19a", "url": "https://halcytone.example/blog/sleep-timer-fades", "status": "scheduled",
        }))
    }

    fn secrets() -> &'static [&'static str] {
        &["platform-key-321"]
    }

    async fn mount_look_up(server: &MockServer, found: bool) -> Option<Vec<String>> {
        let items = if found {
            serde_json::json!([{"id": "c_19a", "url": "https://halcytone.example/blog/sleep-timer-fades", "status": "scheduled"}])
        } else {
            serde_json::json!([])
        };
        Mock::given(method("GET"))
            .and(path("/api/v1/content"))
            .and(query_param("idempotency_key", "halcytone-post_conformance"))
            .and(header("authorization", "Bearer platform-key-321"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"items": items})),
            )
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(if found {
            vec!["c_19a".to_owned()]
        } else {
            Vec::new()
        })
    }

    async fn mount_metrics(server: &MockServer) -> Option<Figures> {
        Mock::given(method("GET"))
            .and(path("/api/v1/content/c_19a/stats"))
            .and(header("authorization", "Bearer platform-key-321"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": "c_19a", "views": 2480, "unique_visitors": 1931,
                "avg_read_seconds": 74.5, "updated_at": "2026-12-01T10:00:00Z"
            })))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(Figures {
            external_ids: vec!["c_19a".to_owned()],
            paths: vec!["/api/v1/content/c_19a/stats".to_owned()],
            readings: [
                ("views", 2480.0),
                ("unique_visitors", 1931.0),
                ("avg_read_seconds", 74.5),
            ]
            .map(|(metric, value)| (metric.to_owned(), value))
            .to_vec(),
            gone: ResponseTemplate::new(404).set_body_json(
                serde_json::json!({"error": {"code": "not_found", "message": "no such content"}}),
            ),
        })
    }
}

halcytone_core::conformance_tests!(PlatformHarness);
