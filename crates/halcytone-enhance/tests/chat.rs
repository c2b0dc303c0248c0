//! The enhancer against a wiremock chat-completions server: the exact
//! request, the channel's rules enforced on the answer (asked again once,
//! then refused), and every error class of the model server.

use std::time::Duration;

use halcytone_core::channel::Channel;
use halcytone_core::error::PublishError;
use halcytone_core::http::HttpClient;
use halcytone_core::publisher::Content;
use halcytone_core::render::Renderer;
use halcytone_core::request::BaseUrl;
use halcytone_core::secret::SecretString;
use halcytone_core::testkit::conformance::fast_settings;
use halcytone_enhance::{Draft, EnhanceConfig, EnhanceError, Enhancer};
use publisher_twitter::{TwitterConfig, TwitterPublisher};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const POST: &str = "Breathscape 2.4 is out https://halcytone.example/notes";

fn enhancer(server: &MockServer, timeout: Duration) -> Enhancer {
    Enhancer::new(
        EnhanceConfig {
            base_url: BaseUrl::parse(&format!("{}/v1", server.uri())).unwrap(),
            model: "llama-3.1-8b-instruct".to_owned(),
            api_key: Some(SecretString::new("model-key-42")),
            temperature: Some(0.4),
        },
        HttpClient::new(timeout).unwrap(),
        fast_settings(3),
    )
}

fn twitter() -> TwitterPublisher {
    TwitterPublisher::new(
        TwitterConfig {
            bearer_token: Some(SecretString::new("x")),
            ..TwitterConfig::default()
        },
        halcytone_core::testkit::test_http_client(),
    )
}

fn content() -> Content {
    Content(json!({ "parts": [POST] }))
}

fn answer(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000,
        "model": "llama-3.1-8b-instruct",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 90, "completion_tokens": 20, "total_tokens": 110}
    }))
}

async fn suggest(enhancer: &Enhancer) -> Result<Content, EnhanceError> {
    let channel = Channel::parse("twitter").unwrap();
    let content = content();
    enhancer
        .suggest(
            &Renderer::new(None).unwrap(),
            &twitter(),
            Draft {
                channel: &channel,
                title: "Breathscape 2.4",
                content: &content,
            },
            "enhance-correlation-id",
        )
        .await
}

#[tokio::test]
async fn the_request_is_the_documented_chat_completion_and_a_good_answer_is_taken() {
    let server = MockServer::start().await;
    let better =
        "Breathscape 2.4 is here: calmer nights, in one update https://halcytone.example/notes";
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer model-key-42"))
        .and(header("content-type", "application/json"))
        .and(header("x-request-id", "enhance-correlation-id"))
        .respond_with(answer(&json!({ "parts": [better] }).to_string()))
        .expect(1)
        .mount(&server)
        .await;
    let suggested = suggest(&enhancer(&server, Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(suggested.0, json!({ "parts": [better] }));
    let received = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    let prompt = format!(
        "Improve this X post about \"Breathscape 2.4\": a stronger first line, plain words, no more hashtags than it has. \
Every part of \"parts\" must stay within 280 characters as X counts them (a link counts as 23). \
Keep links and facts as they are, in the same language.\n\n{}",
        serde_json::to_string_pretty(&content().0).unwrap()
    );
    assert_eq!(
        body,
        json!({
            "model": "llama-3.1-8b-instruct",
            "messages": [
                {"role": "system", "content": "You edit posts for a content team. You are given a post's content as a JSON object. Answer with one JSON object with exactly the same keys, each value improved as asked, and nothing else: no explanation, no code fence."},
                {"role": "user", "content": prompt}
            ],
            "temperature": 0.4
        })
    );
}

#[tokio::test]
async fn an_over_long_answer_is_asked_for_again_with_the_rule_then_refused() {
    let too_long = json!({ "parts": ["x".repeat(300)] }).to_string();
    let server = MockServer::start().await;
    // The second question carries the first answer and the rule it broke.
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"messages": [{}, {}, {"role": "assistant", "content": too_long}]}),
        ))
        .respond_with(answer(&json!({ "parts": ["Short and calm."] }).to_string()))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(answer(&too_long))
        .with_priority(2)
        .mount(&server)
        .await;
    let suggested = suggest(&enhancer(&server, Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(suggested.0, json!({ "parts": ["Short and calm."] }));
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    let second: Value = serde_json::from_slice(&received[1].body).unwrap();
    let rule = second["messages"][3]["content"].as_str().unwrap();
    assert!(
        rule.starts_with(
            "Your answer breaks the channel's rule: twitter post is invalid: parts post 1 weighs 300, more than 280."
        ),
        "{rule}"
    );

    // Too long twice: refused, naming the rule.
    let stubborn = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer(&too_long))
        .mount(&stubborn)
        .await;
    let error = suggest(&enhancer(&stubborn, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(matches!(error, EnhanceError::Refused(_)), "{error:?}");
    assert!(error.to_string().contains("280"), "{error}");
    assert_eq!(stubborn.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn every_error_class_of_the_model_server() {
    let problem = |status: u16| {
        ResponseTemplate::new(status)
            .set_body_json(json!({"error": {"message": "no", "type": "invalid_request_error"}}))
    };
    // Rejections are permanent and asked once.
    for status in [400, 401, 403, 404, 409, 422] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(problem(status))
            .mount(&server)
            .await;
        let error = suggest(&enhancer(&server, Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert!(
            matches!(error, EnhanceError::Server(PublishError::Permanent { .. })),
            "{status}: {error:?}"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "{status}"
        );
    }
    // A rate limit waits for Retry-After, then the answer is taken.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(problem(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(answer(&json!({ "parts": ["Calm."] }).to_string()))
        .with_priority(2)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    assert!(
        suggest(&enhancer(&server, Duration::from_secs(5)))
            .await
            .is_ok()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    // Server errors are retried, up to the attempts allowed.
    for status in [500, 502, 503] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(problem(status))
            .mount(&server)
            .await;
        let error = suggest(&enhancer(&server, Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert!(
            matches!(error, EnhanceError::Server(PublishError::Transient { .. })),
            "{status}: {error:?}"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            3,
            "{status}"
        );
    }
    // Too slow: an error after the retries, never a suggestion.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer("{}").set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    assert!(matches!(
        suggest(&enhancer(&server, Duration::from_millis(200))).await,
        Err(EnhanceError::Server(_))
    ));
    // Not the documented JSON, or no usable object: no suggestion.
    for body in [
        ResponseTemplate::new(200).set_body_string("<html>gateway</html>"),
        answer("I would rather not."),
        ResponseTemplate::new(200).set_body_json(json!({"choices": []})),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(body.clone())
            .mount(&server)
            .await;
        assert!(
            suggest(&enhancer(&server, Duration::from_secs(5)))
                .await
                .is_err(),
            "{body:?}"
        );
    }
    // A connection reset once made: the request may have reached the model,
    // which is asked again (a suggestion changes nothing), then given up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let resets = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
    });
    let reset = Enhancer::new(
        EnhanceConfig {
            base_url: BaseUrl::parse(&format!("http://{address}/v1")).unwrap(),
            model: "m".to_owned(),
            api_key: None,
            temperature: None,
        },
        HttpClient::new(Duration::from_secs(5)).unwrap(),
        fast_settings(2),
    );
    assert!(matches!(
        suggest(&reset).await,
        Err(EnhanceError::Server(error)) if error.is_outcome_unknown()
    ));
    resets.abort();
}

#[tokio::test]
async fn a_dry_run_shows_the_request_with_its_secret_redacted() {
    let server = MockServer::start().await;
    let channel = Channel::parse("twitter").unwrap();
    let content = content();
    let preview = enhancer(&server, Duration::from_secs(5))
        .preview(
            &Renderer::new(None).unwrap(),
            Draft {
                channel: &channel,
                title: "Breathscape 2.4",
                content: &content,
            },
        )
        .unwrap();
    assert_eq!(preview.url, format!("{}/v1/chat/completions", server.uri()));
    assert_eq!(preview.headers["authorization"], "Bearer ***");
    assert_eq!(
        preview.body.as_ref().unwrap()["model"],
        "llama-3.1-8b-instruct"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}
