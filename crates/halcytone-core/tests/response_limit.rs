//! The HTTP client reads at most `max_response_bytes` of any answer.

use std::time::Duration;

use halcytone_core::channel::Channel;
use halcytone_core::error::PublishError;
use halcytone_core::http::HttpClient;
use halcytone_core::request::{Method, OutboundRequest};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHANNEL: Channel = Channel::from_static("test");

async fn answering(status: u16, bytes: usize) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_string("x".repeat(bytes)))
        .mount(&server)
        .await;
    server
}

fn client() -> HttpClient {
    HttpClient::new(Duration::from_secs(5))
        .unwrap()
        .with_max_response_bytes(1024)
}

fn post(server: &MockServer) -> OutboundRequest {
    OutboundRequest::json(
        &CHANNEL,
        Method::Post,
        format!("{}/posts", server.uri()),
        Vec::new(),
        &serde_json::json!({"text": "hi"}),
    )
    .unwrap()
}

#[tokio::test]
async fn an_answer_within_the_limit_is_read_whole() {
    let server = answering(200, 1024).await;
    let response = client().send(&CHANNEL, &post(&server), "c").await.unwrap();
    assert_eq!(response.body.len(), 1024);
}

#[tokio::test]
async fn a_larger_success_to_a_write_is_an_unknown_outcome() {
    let server = answering(201, 1025).await;
    let error = client()
        .send(&CHANNEL, &post(&server), "c")
        .await
        .unwrap_err();
    assert!(
        matches!(error, PublishError::OutcomeUnknown { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "test outcome unknown: the API answered 201 with a body larger than 1024 bytes, the most Halcytone reads (resilience.max_response_body); the request may have been applied"
    );
}

#[tokio::test]
async fn a_larger_success_to_a_read_is_permanent() {
    let server = answering(200, 10 * 1024 * 1024).await;
    let request = OutboundRequest::get(format!("{}/doc", server.uri()), Vec::new());
    let error = client().send(&CHANNEL, &request, "c").await.unwrap_err();
    assert!(
        matches!(error, PublishError::Permanent { status: 200, .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("larger than 1024 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn a_larger_error_answer_is_cut_and_classified_by_its_status() {
    let server = answering(503, 4096).await;
    let response = client().send(&CHANNEL, &post(&server), "c").await.unwrap();
    assert_eq!(response.status, 503);
    assert_eq!(response.body.len(), 1024);
}
