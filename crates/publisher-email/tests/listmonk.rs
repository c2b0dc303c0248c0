//! Publishing a newsletter to listmonk against wiremock: the exact two
//! requests, and a newsletter whose scheduling failed resuming without a
//! second campaign.

use std::time::Duration;

use halcytone_core::error::PublishError;
use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::resilience::{ResilienceSettings, Resilient};
use halcytone_core::testkit::conformance::wiremock::matchers::{
    any, body_json, header, method, path,
};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer, ResponseTemplate};
use publisher_email::{Backend, EmailConfig, EmailPublisher};
use serde_json::json;

const AUTHORIZATION: &str = "token halcytone:listmonk-token-456";

fn config(server: &MockServer) -> EmailConfig {
    EmailConfig {
        backend: Backend::Listmonk,
        base_url: Some(BaseUrl::parse(&server.uri()).unwrap()),
        username: Some("halcytone".to_owned()),
        api_key: Some(SecretString::new("listmonk-token-456")),
        list_ids: vec![3, 7],
        from_email: Some("Breathscape <news@halcytone.example>".to_owned()),
        template_id: Some(2),
        ..EmailConfig::default()
    }
}

fn publisher(server: &MockServer) -> EmailPublisher {
    EmailPublisher::new(
        config(server),
        HttpClient::new(Duration::from_secs(5)).unwrap(),
    )
}

fn post() -> OutgoingPost {
    OutgoingPost {
        id: PostId("post_listmonk".to_owned()),
        scheduled_at: "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap(),
        content: Content(json!({
            "subject": "This Week in Breathscape: 10,000 resonance sessions",
            "preheader": "Plus box breathing for the holidays",
            "html": "<!doctype html><p>Hello &amp; welcome — ça va? 呼吸 🌬️</p>",
            "text": "Hello & welcome — ça va? 呼吸 🌬️",
        })),
    }
}

fn context(sent: &[&str]) -> PublishContext {
    PublishContext {
        correlation_id: "req-listmonk".to_owned(),
        already_sent: sent.iter().map(|id| (*id).to_owned()).collect(),
    }
}

fn settings() -> ResilienceSettings {
    ResilienceSettings {
        max_attempts: 3,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        breaker_threshold: 5,
        breaker_cooldown: Duration::from_secs(60),
    }
}

/// `POST /api/campaigns` with exactly the documented body, answering id 42.
async fn expect_create(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/api/campaigns"))
        .and(header("authorization", AUTHORIZATION))
        .and(header("content-type", "application/json"))
        .and(header("x-request-id", "req-listmonk"))
        .and(body_json(json!({
            "name": "This Week in Breathscape: 10,000 resonance sessions [halcytone-post_listmonk]",
            "subject": "This Week in Breathscape: 10,000 resonance sessions",
            "lists": [3, 7],
            "type": "regular",
            "content_type": "html",
            "body": "<!doctype html><p>Hello &amp; welcome — ça va? 呼吸 🌬️</p>",
            "altbody": "Hello & welcome — ça va? 呼吸 🌬️",
            "send_at": "2026-11-30T09:00:00Z",
            "tags": ["breathscape", "weekly"],
            "from_email": "Breathscape <news@halcytone.example>",
            "template_id": 2,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": 42, "uuid": "2e5bfb6e-0f8a-4b6c-9d0e-6c1f2a3b4c5d", "type": "regular",
            "name": "This Week in Breathscape: 10,000 resonance sessions [halcytone-post_listmonk]",
            "status": "draft", "send_at": "2026-11-30T09:00:00Z", "lists": [{"id": 3, "name": "Weekly"}],
        }})))
        .expect(times)
        .named("create campaign")
        .mount(server)
        .await;
}

/// `PUT /api/campaigns/42/status` with `{"status":"scheduled"}`.
fn status_call() -> halcytone_core::testkit::conformance::wiremock::MockBuilder {
    Mock::given(method("PUT"))
        .and(path("/api/campaigns/42/status"))
        .and(header("authorization", AUTHORIZATION))
        .and(header("content-type", "application/json"))
        .and(header("x-request-id", "req-listmonk"))
        .and(body_json(json!({"status": "scheduled"})))
}

fn scheduled() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"data": {"id": 42, "status": "scheduled", "name": "…"}}))
}

#[tokio::test]
async fn a_newsletter_is_a_campaign_then_its_schedule() {
    let server = MockServer::start().await;
    expect_create(&server, 1).await;
    status_call()
        .respond_with(scheduled())
        .expect(1)
        .mount(&server)
        .await;
    let receipt = publisher(&server)
        .publish(&post(), &context(&[]))
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["42"]);
    assert_eq!(
        receipt.url,
        Some(format!("{}/admin/campaigns/42", server.uri()))
    );
    let received = server.received_requests().await.unwrap();
    let calls: Vec<String> = received
        .iter()
        .map(|request| format!("{} {}", request.method, request.url.path()))
        .collect();
    assert_eq!(
        calls,
        ["POST /api/campaigns", "PUT /api/campaigns/42/status"]
    );
    assert!(
        received
            .iter()
            .all(|request| !request.headers.contains_key("idempotency-key"))
    );
}

#[tokio::test]
async fn a_failed_schedule_is_partial_and_resumes_with_the_status_call_alone() {
    let server = MockServer::start().await;
    expect_create(&server, 1).await;
    status_call()
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"message": "database is busy"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let publisher = publisher(&server);
    let error = publisher.publish(&post(), &context(&[])).await.unwrap_err();
    let PublishError::Partial { sent, error } = error else {
        panic!("expected a partial newsletter, got {error:?}");
    };
    assert_eq!(sent, ["42"]);
    assert_eq!(
        error.to_string(),
        "email failed transiently: HTTP 503: database is busy"
    );
    // The next attempt carries the campaign id and only schedules it.
    status_call()
        .respond_with(scheduled())
        .expect(1)
        .mount(&server)
        .await;
    let receipt = publisher.publish(&post(), &context(&["42"])).await.unwrap();
    assert_eq!(receipt.external_ids, ["42"]);
    server.verify().await;
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn retries_of_a_failed_schedule_never_create_a_second_campaign() {
    let server = MockServer::start().await;
    expect_create(&server, 1).await;
    status_call()
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"message": "busy"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    status_call()
        .respond_with(scheduled())
        .expect(1)
        .mount(&server)
        .await;
    let resilient = Resilient::new(std::sync::Arc::new(publisher(&server)), settings(), None);
    let receipt = resilient.publish(&post(), &context(&[])).await.unwrap();
    assert_eq!(receipt.external_ids, ["42"]);
}

#[tokio::test]
async fn a_refused_schedule_is_partial_and_not_retried() {
    let server = MockServer::start().await;
    expect_create(&server, 1).await;
    status_call()
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"message": "Only draft campaigns can be scheduled."})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let resilient = Resilient::new(std::sync::Arc::new(publisher(&server)), settings(), None);
    let error = resilient.publish(&post(), &context(&[])).await.unwrap_err();
    assert!(error.is_permanent(), "{error:?}");
    assert!(
        matches!(&error, PublishError::Partial { sent, .. } if sent == &["42"]),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "email rejected the request (400): Only draft campaigns can be scheduled. (after 1 part(s) went out)"
    );
}

#[tokio::test]
async fn ids_that_are_not_one_campaign_send_nothing() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(scheduled())
        .expect(0)
        .mount(&server)
        .await;
    let publisher = publisher(&server);
    for sent in [&["42", "43"][..], &["../42"][..]] {
        let error = publisher
            .publish(&post(), &context(sent))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                PublishError::Invalid {
                    field: "campaign",
                    ..
                }
            ),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn an_unconfigured_listmonk_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(scheduled())
        .expect(0)
        .mount(&server)
        .await;
    let publisher = EmailPublisher::new(
        EmailConfig {
            username: None,
            list_ids: Vec::new(),
            ..config(&server)
        },
        HttpClient::new(Duration::from_secs(5)).unwrap(),
    );
    let error = publisher.publish(&post(), &context(&[])).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "email is not configured: set channels.email.username, channels.email.list_ids"
    );
}
