//! The shared conformance suite, run against the LinkedIn publisher.

use std::sync::Arc;

use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::testkit::conformance::wiremock::matchers::{header, method, path, query_param};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer};
use halcytone_core::testkit::conformance::{Figures, Harness, wiremock::ResponseTemplate};
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

    async fn mount_metrics(server: &MockServer) -> Option<Figures> {
        let urn = "urn:li:share:7135000000000000001";
        Mock::given(method("GET"))
            .and(path(
                "/rest/socialActions/urn%3Ali%3Ashare%3A7135000000000000001",
            ))
            .and(header("authorization", "Bearer li-member-token-456"))
            .and(header("x-restli-protocol-version", "2.0.0"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "target": urn,
                "likesSummary": {"totalLikes": 58, "likedByCurrentUser": false},
                "commentsSummary": {"aggregatedTotalComments": 9, "totalFirstLevelComments": 7}
            })))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/organizationalEntityShareStatistics"))
            .and(query_param("q", "organizationalEntity"))
            .and(query_param(
                "organizationalEntity",
                "urn:li:organization:10428811",
            ))
            .and(query_param("shares", format!("List({urn})").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "elements": [{
                    "organizationalEntity": "urn:li:organization:10428811",
                    "share": urn,
                    "totalShareStatistics": {
                        "impressionCount": 3120, "uniqueImpressionsCount": 2600,
                        "clickCount": 141, "shareCount": 12, "likeCount": 58,
                        "commentCount": 9, "engagement": 0.0706
                    }
                }],
                "paging": {"count": 10, "start": 0}
            })))
            .with_priority(1)
            .expect(1)
            .mount(server)
            .await;
        Some(Figures {
            external_ids: vec![urn.to_owned()],
            paths: vec![
                "/rest/socialActions/urn%3Ali%3Ashare%3A7135000000000000001".to_owned(),
                "/rest/organizationalEntityShareStatistics".to_owned(),
            ],
            readings: [
                ("likes", 58.0),
                ("comments", 9.0),
                ("impressions", 3120.0),
                ("clicks", 141.0),
                ("shares", 12.0),
                ("engagement", 0.0706),
            ]
            .map(|(metric, value)| (metric.to_owned(), value))
            .to_vec(),
            gone: ResponseTemplate::new(404)
                .set_body_json(serde_json::json!({"status": 404, "message": "Not Found"})),
        })
    }
}

halcytone_core::conformance_tests!(LinkedinHarness);
