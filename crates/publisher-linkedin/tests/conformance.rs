//! The shared conformance suite, run against the LinkedIn publisher.

use std::sync::Arc;

use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
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
}

halcytone_core::conformance_tests!(LinkedinHarness);
