//! The shared conformance suite, run against the X publisher.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::testkit::conformance::wiremock::matchers::{header, method, path, query_param};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer};
use halcytone_core::testkit::conformance::{Figures, Harness, wiremock::ResponseTemplate};
use publisher_twitter::{TwitterConfig, TwitterPublisher};

struct TwitterHarness;

impl Harness for TwitterHarness {
    fn publisher(base_url: &str, http: HttpClient) -> Arc<dyn Publisher> {
        let config = TwitterConfig {
            base_url: BaseUrl::parse(base_url).unwrap(),
            bearer_token: Some(SecretString::new("x-user-token-123")),
            ..TwitterConfig::default()
        };
        Arc::new(TwitterPublisher::new(config, http))
    }

    fn post() -> OutgoingPost {
        OutgoingPost {
            id: PostId("post_conformance".to_owned()),
            scheduled_at: "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap(),
            content: Content(
                serde_json::json!({"parts": ["Breathscape 2.4 is out 🌙 https://halcytone.example/notes #Breathscape"]}),
            ),
        }
    }

    fn invalid_post() -> OutgoingPost {
        OutgoingPost {
            content: Content(serde_json::json!({"parts": ["x".repeat(281)]})),
            ..Self::post()
        }
    }

    fn success() -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_string(include_str!("data/twitter-create-201.json"))
    }

    fn secrets() -> &'static [&'static str] {
        &["x-user-token-123"]
    }

    /// The account, then its posts since the window's start: the post as X
    /// shows it (its link as a t.co link) beside a reply to another post.
    async fn mount_look_up(server: &MockServer, found: bool) -> Option<Vec<String>> {
        Mock::given(method("GET"))
            .and(path("/2/users/me"))
            .and(header("authorization", "Bearer x-user-token-123"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"data": {"id": "2244994945", "name": "Halcytone", "username": "halcytone"}}),
            ))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        let mut data = vec![serde_json::json!({
            "id": "1445880548472328100", "text": "Breathscape 2.4 is out 🌙 https://t.co/Zz9 #Breathscape",
            "created_at": "2026-11-30T09:00:01.000Z",
            "referenced_tweets": [{"type": "replied_to", "id": "1445880548472328000"}],
        })];
        if found {
            data.push(serde_json::json!({
                "id": "1445880548472328192", "text": "Breathscape 2.4 is out 🌙 https://t.co/AbCdEf123 #Breathscape",
                "created_at": "2026-11-30T09:00:00.000Z",
            }));
        }
        Mock::given(method("GET"))
            .and(path("/2/users/2244994945/tweets"))
            .and(query_param("max_results", "100"))
            .and(query_param(
                "tweet.fields",
                "created_at,referenced_tweets,note_tweet",
            ))
            .and(header("authorization", "Bearer x-user-token-123"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"data": data, "meta": {"result_count": data.len()}}),
            ))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(if found {
            vec!["1445880548472328192".to_owned()]
        } else {
            Vec::new()
        })
    }

    /// X says when the window resets, in epoch seconds, not how long to wait.
    fn rate_limited(wait: Duration) -> ResponseTemplate {
        let reset = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + wait.as_secs()
            + 1;
        ResponseTemplate::new(429)
            .set_body_json(serde_json::json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}))
            .insert_header("x-rate-limit-limit", "100")
            .insert_header("x-rate-limit-remaining", "0")
            .insert_header("x-rate-limit-reset", reset.to_string())
    }

    async fn mount_metrics(server: &MockServer) -> Option<Figures> {
        Mock::given(method("GET"))
            .and(path("/2/tweets"))
            .and(query_param(
                "ids",
                "1861234567890123456,1861234567890123457",
            ))
            .and(query_param("tweet.fields", "public_metrics"))
            .and(header("authorization", "Bearer x-user-token-123"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": [
                    {"id": "1861234567890123456", "text": "part 1", "public_metrics": {
                        "retweet_count": 4, "reply_count": 2, "like_count": 31, "quote_count": 1,
                        "bookmark_count": 3, "impression_count": 1804}},
                    {"id": "1861234567890123457", "text": "part 2", "public_metrics": {
                        "retweet_count": 0, "reply_count": 1, "like_count": 5, "quote_count": 0,
                        "bookmark_count": 0, "impression_count": 402}}
                ]})),
            )
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(Figures {
            external_ids: vec![
                "1861234567890123456".to_owned(),
                "1861234567890123457".to_owned(),
            ],
            paths: vec!["/2/tweets".to_owned()],
            readings: [
                ("impressions", 2206.0),
                ("likes", 36.0),
                ("reposts", 4.0),
                ("replies", 3.0),
                ("quotes", 1.0),
                ("bookmarks", 3.0),
            ]
            .map(|(metric, value)| (metric.to_owned(), value))
            .to_vec(),
            gone: ResponseTemplate::new(200).set_body_json(serde_json::json!({"errors": [
                {"value": "1861234567890123456", "detail": "Could not find tweet with ids: [1861234567890123456].",
                 "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                 "resource_id": "1861234567890123456", "type": "https://api.twitter.com/2/problems/resource-not-found"}
            ]})),
        })
    }
}

halcytone_core::conformance_tests!(TwitterHarness);
