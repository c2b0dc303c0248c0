//! Publishing to X against wiremock: exact bodies, threads as chained
//! replies, and a thread that resumes after a failure without re-posting.

use std::time::Duration;

use halcytone_core::error::PublishError;
use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::testkit::conformance::wiremock::matchers::{body_json, header, method, path};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer, ResponseTemplate};
use publisher_twitter::{TwitterConfig, TwitterPublisher};
use serde_json::json;

fn publisher(server: &MockServer) -> TwitterPublisher {
    TwitterPublisher::new(
        TwitterConfig {
            base_url: BaseUrl::parse(&server.uri()).unwrap(),
            bearer_token: Some(SecretString::new("user-token")),
            ..TwitterConfig::default()
        },
        HttpClient::new(Duration::from_secs(5)).unwrap(),
    )
}

fn post(parts: &[&str]) -> OutgoingPost {
    OutgoingPost {
        id: PostId("post_thread".to_owned()),
        scheduled_at: "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap(),
        content: Content(json!({ "parts": parts })),
    }
}

fn created(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(201)
        .set_body_json(json!({"data": {"id": id, "text": "…", "edit_history_tweet_ids": [id]}}))
}

fn context(sent: &[&str]) -> PublishContext {
    PublishContext {
        correlation_id: "req-1".to_owned(),
        already_sent: sent.iter().map(|id| (*id).to_owned()).collect(),
    }
}

/// Mounts one mock per part, in order, each answering with its id.
async fn expect_parts(server: &MockServer, parts: &[(serde_json::Value, &str)]) {
    for (body, id) in parts {
        Mock::given(method("POST"))
            .and(path("/2/tweets"))
            .and(header("authorization", "Bearer user-token"))
            .and(header("content-type", "application/json"))
            .and(body_json(body))
            .respond_with(created(id))
            .up_to_n_times(1)
            .expect(1)
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn non_ascii_text_and_hashtags_go_out_exactly() {
    let server = MockServer::start().await;
    let text = "Résonance 🌬️ 呼吸 — naïve café 👨‍👩‍👧 https://halcytone.example/a #Breathscape #sleep";
    expect_parts(&server, &[(json!({"text": text}), "2099392716078206976")]).await;
    let receipt = publisher(&server)
        .publish(&post(&[text]), &context(&[]))
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["2099392716078206976"]);
    assert_eq!(
        receipt.url.as_deref(),
        Some("https://x.com/i/web/status/2099392716078206976")
    );
}

#[tokio::test]
async fn a_thread_posts_each_part_as_a_reply_to_the_one_before() {
    let server = MockServer::start().await;
    expect_parts(
        &server,
        &[
            (json!({"text": "one 1/3"}), "1001"),
            (
                json!({"text": "two 2/3", "reply": {"in_reply_to_tweet_id": "1001"}}),
                "1002",
            ),
            (
                json!({"text": "three 3/3", "reply": {"in_reply_to_tweet_id": "1002"}}),
                "1003",
            ),
        ],
    )
    .await;
    let receipt = publisher(&server)
        .publish(&post(&["one 1/3", "two 2/3", "three 3/3"]), &context(&[]))
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["1001", "1002", "1003"]);
}

#[tokio::test]
async fn a_thread_that_fails_half_way_resumes_without_reposting() {
    let server = MockServer::start().await;
    expect_parts(&server, &[(json!({"text": "one 1/3"}), "1001")]).await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(body_json(
            json!({"text": "two 2/3", "reply": {"in_reply_to_tweet_id": "1001"}}),
        ))
        .respond_with(
            ResponseTemplate::new(503).set_body_string("<html><title>Over capacity</title></html>"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let thread = post(&["one 1/3", "two 2/3", "three 3/3"]);
    let publisher = publisher(&server);
    let error = publisher.publish(&thread, &context(&[])).await.unwrap_err();
    let PublishError::Partial { sent, error } = error else {
        panic!("expected a partial thread, got {error:?}");
    };
    assert_eq!(sent, ["1001"]);
    assert!(error.is_retryable(), "{error}");
    assert_eq!(
        error.to_string(),
        "twitter failed transiently: HTTP 503: an HTML page titled `Over capacity`"
    );
    // The retry carries the ids that went out and starts at part 2.
    expect_parts(
        &server,
        &[
            (
                json!({"text": "two 2/3", "reply": {"in_reply_to_tweet_id": "1001"}}),
                "1002",
            ),
            (
                json!({"text": "three 3/3", "reply": {"in_reply_to_tweet_id": "1002"}}),
                "1003",
            ),
        ],
    )
    .await;
    let receipt = publisher
        .publish(
            &thread,
            &context(&sent.iter().map(String::as_str).collect::<Vec<_>>()),
        )
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["1001", "1002", "1003"]);
}

#[tokio::test]
async fn duplicate_content_and_rate_limit_headers_are_read() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden", "status": 403})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-remaining", "99")
                .insert_header("x-user-limit-24hour-remaining", "0")
                .insert_header("x-user-limit-24hour-reset", reset.to_string().as_str())
                .set_body_json(json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})),
        )
        .mount(&server)
        .await;
    let publisher = publisher(&server);
    let duplicate = publisher
        .publish(&post(&["same again"]), &context(&[]))
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, PublishError::Duplicate { .. }),
        "{duplicate:?}"
    );
    let limited = publisher
        .publish(&post(&["later"]), &context(&[]))
        .await
        .unwrap_err();
    let PublishError::RateLimited {
        retry_after: Some(wait),
        ..
    } = limited
    else {
        panic!("expected a rate limit with a wait, got {limited:?}");
    };
    assert!(
        wait > Duration::from_secs(590) && wait <= Duration::from_secs(600),
        "{wait:?}"
    );
}

/// A thread whose first part is on record and whose second went out
/// unrecorded: the look-up reads the timeline page by page from the send
/// window's start and says where sending resumes.
#[tokio::test]
async fn a_look_up_follows_the_timeline_pages_and_finds_where_a_thread_stopped() {
    use halcytone_core::testkit::conformance::wiremock::matchers::{
        query_param, query_param_is_missing,
    };

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": {"id": "42", "name": "Halcytone", "username": "halcytone"}}),
        ))
        .mount(&server)
        .await;
    let timeline = || {
        Mock::given(method("GET"))
            .and(path("/2/users/42/tweets"))
            .and(query_param("start_time", "2026-11-30T08:00:00Z"))
            .and(header("authorization", "Bearer user-token"))
    };
    timeline()
        .and(query_param_is_missing("pagination_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "9", "text": "unrelated"}],
            "meta": {"result_count": 1, "next_token": "page-2"},
        })))
        .expect(1)
        .mount(&server)
        .await;
    timeline()
        .and(query_param("pagination_token", "page-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "2", "text": "two 2/3", "referenced_tweets": [{"type": "replied_to", "id": "1"}]}],
            "meta": {"result_count": 1},
        })))
        .expect(1)
        .mount(&server)
        .await;
    let context = LookupContext {
        correlation_id: "req-1".to_owned(),
        already_sent: vec!["1".to_owned()],
        since: "2026-11-30T08:00:00Z".parse().unwrap(),
        until: "2026-11-30T10:00:00Z".parse().unwrap(),
    };
    let found = publisher(&server)
        .look_up(&post(&["one 1/3", "two 2/3", "three 3/3"]), &context)
        .await
        .unwrap();
    assert_eq!(
        found,
        Lookup::Absent {
            sent: vec!["1".to_owned(), "2".to_owned()],
            evidence: "posts 1-2 of 3 are out (1, 2); post 3 is not among the 2 posts of @halcytone since 2026-11-30T08:00:00Z".to_owned(),
        }
    );
    server.verify().await;
}

/// Past ten pages of posts in the window, an absence cannot be proven.
#[tokio::test]
async fn a_busy_timeline_leaves_the_look_up_unsure() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": "42", "username": "h"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/users/42/tweets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": [{"id": "9", "text": "busy"}], "meta": {"next_token": "more"}}),
        ))
        .expect(10)
        .mount(&server)
        .await;
    let context = LookupContext {
        correlation_id: "req-1".to_owned(),
        already_sent: Vec::new(),
        since: "2026-11-30T08:00:00Z".parse().unwrap(),
        until: "2026-11-30T10:00:00Z".parse().unwrap(),
    };
    let found = publisher(&server)
        .look_up(&post(&["hello"]), &context)
        .await
        .unwrap();
    assert!(
        matches!(&found, Lookup::Unsure { reason } if reason.contains("more than 10 pages")),
        "{found:?}"
    );
    server.verify().await;
}

/// X's 24-hour headers on a created post say what is left of its quotas:
/// the receipt carries the family with the fewest posts left.
#[tokio::test]
async fn the_receipt_carries_what_is_left_of_the_daily_quota() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            created("7")
                .insert_header("x-rate-limit-remaining", "99")
                .insert_header("x-rate-limit-reset", "1796030000")
                .insert_header("x-user-limit-24hour-limit", "17")
                .insert_header("x-user-limit-24hour-remaining", "3")
                .insert_header("x-user-limit-24hour-reset", "1796100000")
                .insert_header("x-app-limit-24hour-remaining", "1200")
                .insert_header("x-app-limit-24hour-reset", "1796090000"),
        )
        .mount(&server)
        .await;
    let receipt = publisher(&server)
        .publish(&post(&["hello"]), &context(&[]))
        .await
        .unwrap();
    assert_eq!(
        receipt.quota_left,
        Some(QuotaLeft {
            sends: 3,
            until: jiff::Timestamp::from_second(1_796_100_000).unwrap(),
        })
    );
}
