//! The shared conformance suite, run against the CRM newsletter publisher.

use std::sync::Arc;

use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::testkit::conformance::wiremock::matchers::{header, method, path, query_param};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer};
use halcytone_core::testkit::conformance::{Figures, Harness, wiremock::ResponseTemplate};
use publisher_email::{EmailConfig, EmailPublisher};

struct CrmHarness;

impl Harness for CrmHarness {
    fn publisher(base_url: &str, http: HttpClient) -> Arc<dyn Publisher> {
        let config = EmailConfig {
            base_url: Some(BaseUrl::parse(base_url).unwrap()),
            api_key: Some(SecretString::new("crm-api-key-789")),
            list_id: Some("newsletter-main".to_owned()),
            ..EmailConfig::default()
        };
        Arc::new(EmailPublisher::new(config, http))
    }

    fn post() -> OutgoingPost {
        OutgoingPost {
            id: PostId("post_conformance".to_owned()),
            scheduled_at: "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap(),
            content: Content(serde_json::json!({
                "subject": "This Week in Breathscape: 10,000 resonance sessions",
                "preheader": "Plus box breathing for the holidays",
                "html": "<!doctype html><p>Hello &amp; welcome</p>",
                "text": "Hello & welcome",
            })),
        }
    }

    fn invalid_post() -> OutgoingPost {
        OutgoingPost {
            content: Content(
                serde_json::json!({"subject": "", "preheader": "", "html": "<p>x</p>", "text": "x"}),
            ),
            ..Self::post()
        }
    }

    fn success() -> ResponseTemplate {
        ResponseTemplate::new(202).set_body_json(
            serde_json::json!({"id": "nl_8f2c", "status": "scheduled", "recipients": 18342}),
        )
    }

    fn secrets() -> &'static [&'static str] {
        &["crm-api-key-789"]
    }

    async fn mount_look_up(server: &MockServer, found: bool) -> Option<Vec<String>> {
        let items = if found {
            serde_json::json!([{"id": "nl_8f2c", "status": "scheduled", "recipients": 18342}])
        } else {
            serde_json::json!([])
        };
        Mock::given(method("GET"))
            .and(path("/api/v1/newsletters"))
            .and(query_param("idempotency_key", "halcytone-post_conformance"))
            .and(header("authorization", "Bearer crm-api-key-789"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"items": items})),
            )
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(if found {
            vec!["nl_8f2c".to_owned()]
        } else {
            Vec::new()
        })
    }

    async fn mount_metrics(server: &MockServer) -> Option<Figures> {
        Mock::given(method("GET"))
            .and(path("/api/v1/newsletters/nl_8f2c/stats"))
            .and(header("authorization", "Bearer crm-api-key-789"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": "nl_8f2c", "sent": 18342, "delivered": 18120, "opens": 9410,
                "unique_opens": 7702, "clicks": 1406, "unique_clicks": 1180,
                "unsubscribes": 12, "bounces": 222, "updated_at": "2026-12-01T10:00:00Z"
            })))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(Figures {
            external_ids: vec!["nl_8f2c".to_owned()],
            paths: vec!["/api/v1/newsletters/nl_8f2c/stats".to_owned()],
            readings: [
                ("sent", 18342.0),
                ("delivered", 18120.0),
                ("opens", 9410.0),
                ("unique_opens", 7702.0),
                ("clicks", 1406.0),
                ("unique_clicks", 1180.0),
                ("unsubscribes", 12.0),
                ("bounces", 222.0),
            ]
            .map(|(metric, value)| (metric.to_owned(), value))
            .to_vec(),
            gone: ResponseTemplate::new(404)
                .set_body_json(serde_json::json!({"error": {"code": "not_found", "message": "no such newsletter"}})),
        })
    }
}

halcytone_core::conformance_tests!(CrmHarness);
