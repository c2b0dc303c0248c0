//! The shared conformance suite, run against the listmonk backend, and its own checks.
//!
//! a listmonk newsletter takes two requests (create the campaign, then schedule
//! it): the suite aims at the create request, the one a retry could repeat,
//! with the schedule call answered. The checks below it are listmonk's own:
//! every request byte for byte against its preview, and a schedule call whose
//! answer is lost.

use std::sync::Arc;
use std::time::Duration;

use halcytone_core::error::PublishError;
use halcytone_core::http::{HttpClient, body_bytes};
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::resilience::Resilient;
use halcytone_core::testkit::conformance::wiremock::matchers::{header, method, path, query_param};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer, ResponseTemplate};
use halcytone_core::testkit::conformance::{
    CORRELATION_ID, Figures, Harness, context, fast_settings,
};
use publisher_email::{Backend, EmailConfig, EmailPublisher};
use serde_json::json;

const API_KEY: &str = "listmonk-token-456";

fn publisher(base_url: &str, timeout: Duration) -> Arc<EmailPublisher> {
    Arc::new(EmailPublisher::new(
        EmailConfig {
            backend: Backend::Listmonk,
            base_url: Some(BaseUrl::parse(base_url).unwrap()),
            username: Some("halcytone".to_owned()),
            api_key: Some(SecretString::new(API_KEY)),
            list_ids: vec![3],
            ..EmailConfig::default()
        },
        HttpClient::new(timeout).unwrap(),
    ))
}

fn post() -> OutgoingPost {
    OutgoingPost {
        id: PostId("post_conformance".to_owned()),
        scheduled_at: "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap(),
        content: Content(json!({
            "subject": "This Week in Breathscape: 10,000 resonance sessions",
            "preheader": "Plus box breathing for the holidays",
            "html": "<!doctype html><p>Hello &amp; welcome</p>",
            "text": "Hello & welcome",
        })),
    }
}

fn create() -> halcytone_core::testkit::conformance::wiremock::MockBuilder {
    Mock::given(method("POST")).and(path("/api/campaigns"))
}

fn schedule() -> halcytone_core::testkit::conformance::wiremock::MockBuilder {
    Mock::given(method("PUT")).and(path("/api/campaigns/42/status"))
}

fn created() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"data": {"id": 42, "status": "draft", "name": "…"}}))
}

fn scheduled() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"data": {"id": 42, "status": "scheduled"}}))
}

/// The shared suite, aimed at the request that creates the campaign (the
/// one a retry could repeat), with the schedule call answered.
struct ListmonkHarness;

impl Harness for ListmonkHarness {
    fn publisher(base_url: &str, http: HttpClient) -> Arc<dyn Publisher> {
        Arc::new(EmailPublisher::new(
            EmailConfig {
                backend: Backend::Listmonk,
                base_url: Some(BaseUrl::parse(base_url).unwrap()),
                username: Some("halcytone".to_owned()),
                api_key: Some(SecretString::new(API_KEY)),
                list_ids: vec![3],
                ..EmailConfig::default()
            },
            http,
        ))
    }

    fn post() -> OutgoingPost {
        post()
    }

    fn invalid_post() -> OutgoingPost {
        OutgoingPost {
            content: Content(
                json!({"subject": "", "preheader": "", "html": "<p>x</p>", "text": "x"}),
            ),
            ..post()
        }
    }

    fn success() -> ResponseTemplate {
        created()
    }

    fn secrets() -> &'static [&'static str] {
        &[API_KEY]
    }

    async fn mount_other_steps(server: &MockServer) {
        schedule().respond_with(scheduled()).mount(server).await;
    }

    /// The search matches by text, so it also returns a campaign of another
    /// post whose key starts the same; only the exact name counts.
    async fn mount_look_up(server: &MockServer, found: bool) -> Option<Vec<String>> {
        let subject = "This Week in Breathscape: 10,000 resonance sessions";
        let mut results = vec![
            json!({"id": 41, "name": format!("{subject} [halcytone-post_conformance_2]"), "status": "finished"}),
        ];
        if found {
            results.push(json!({"id": 42, "name": format!("{subject} [halcytone-post_conformance]"), "status": "scheduled"}));
        }
        Mock::given(method("GET"))
            .and(path("/api/campaigns"))
            .and(query_param("query", "halcytone-post_conformance"))
            .and(query_param("per_page", "100"))
            .and(query_param("no_body", "true"))
            .and(header("authorization", format!("token halcytone:{API_KEY}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"data": {"results": results, "total": results.len(), "per_page": 100, "page": 1}}),
            ))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(if found {
            vec!["42".to_owned()]
        } else {
            Vec::new()
        })
    }

    async fn mount_metrics(server: &MockServer) -> Option<Figures> {
        Mock::given(method("GET"))
            .and(path("/api/campaigns/41"))
            .and(header(
                "authorization",
                format!("token halcytone:{API_KEY}").as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
                "id": 41, "name": "This Week [halcytone-post_conformance]", "status": "finished",
                "to_send": 900, "sent": 900, "views": 412, "clicks": 77, "bounces": 6
            }})))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(Figures {
            external_ids: vec!["41".to_owned()],
            paths: vec!["/api/campaigns/41".to_owned()],
            readings: [
                ("sent", 900.0),
                ("views", 412.0),
                ("clicks", 77.0),
                ("bounces", 6.0),
            ]
            .map(|(metric, value)| (metric.to_owned(), value))
            .to_vec(),
            gone: ResponseTemplate::new(404)
                .set_body_json(json!({"message": "Campaign not found."})),
        })
    }
}

halcytone_core::conformance_tests!(ListmonkHarness);

#[tokio::test]
async fn sends_exactly_the_previewed_requests() {
    let server = MockServer::start().await;
    create()
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    schedule()
        .respond_with(scheduled())
        .expect(1)
        .mount(&server)
        .await;
    let publisher = publisher(&server.uri(), Duration::from_secs(5));
    let preview = publisher.preview(&post()).unwrap();
    let requests = publisher.build_requests(&post()).unwrap();
    let receipt = Resilient::new(publisher, fast_settings(3), None)
        .publish(&post(), &context())
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["42"]);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    for ((received, previewed), request) in received.iter().zip(&preview).zip(&requests) {
        assert_eq!(received.method.as_str(), previewed.method.as_str());
        assert_eq!(
            format!("{}{}", server.uri(), received.url.path()),
            previewed.url.replace("<campaign id>", "42"),
            "the previewed URL, with the id listmonk gave"
        );
        assert_eq!(received.url.query(), None);
        assert_eq!(
            received.body,
            previewed.body.as_ref().map(body_bytes).unwrap_or_default(),
            "the body sent is the previewed body, byte for byte"
        );
        for (name, value) in &request.headers {
            let sent = received
                .headers
                .get(*name)
                .and_then(|value| value.to_str().ok());
            assert_eq!(sent, value.expose().as_deref(), "header {name}");
        }
        for (name, shown) in &previewed.headers {
            if !shown.as_str().is_some_and(|shown| shown.contains("***")) {
                let sent = received
                    .headers
                    .get(name.as_str())
                    .and_then(|value| value.to_str().ok());
                assert_eq!(sent, shown.as_str(), "previewed header {name}");
            }
        }
        let correlation = received
            .headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok());
        assert_eq!(correlation, Some(CORRELATION_ID));
    }
    assert_eq!(preview[0].headers["authorization"], "token ***");
}

#[tokio::test]
async fn a_slow_schedule_is_a_partial_unknown_outcome() {
    let server = MockServer::start().await;
    create()
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    schedule()
        .respond_with(scheduled().set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    let error = Resilient::new(
        publisher(&server.uri(), Duration::from_millis(300)),
        fast_settings(3),
        None,
    )
    .publish(&post(), &context())
    .await
    .unwrap_err();
    assert!(error.is_outcome_unknown(), "{error:?}");
    assert!(
        matches!(&error, PublishError::Partial { sent, .. } if sent == &["42"]),
        "{error:?}"
    );
    server.verify().await;
}
