//! Publishing to LinkedIn against wiremock: the exact Posts API request,
//! every reserved character escaped on the wire, and LinkedIn's quirks.

use std::time::Duration;

use halcytone_core::document::{Item, ItemId, Location, Priority};
use halcytone_core::error::PublishError;
use halcytone_core::http::HttpClient;
use halcytone_core::prelude::*;
use halcytone_core::publisher::PostId;
use halcytone_core::testkit::conformance::wiremock::matchers::{body_json, header, method, path};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer, ResponseTemplate};
use publisher_linkedin::{LinkedinConfig, LinkedinPublisher};
use serde_json::json;

fn publisher(server: &MockServer) -> LinkedinPublisher {
    LinkedinPublisher::new(
        LinkedinConfig {
            base_url: BaseUrl::parse(&server.uri()).unwrap(),
            access_token: Some(SecretString::new("li-token")),
            author_urn: Some("urn:li:organization:10428811".to_owned()),
            ..LinkedinConfig::default()
        },
        HttpClient::new(Duration::from_secs(5)).unwrap(),
    )
}

/// Renders an item whose title and body hold all fifteen reserved characters.
fn rendered_post(publisher: &LinkedinPublisher) -> OutgoingPost {
    let item = Item {
        id: ItemId::new("Breathscape", "Reserved"),
        section: "Breathscape".to_owned(),
        title: r"Ratios \ | { } @ [ ] ( ) < > # * _ ~".to_owned(),
        tags: vec!["breath work".to_owned()],
        channels: None,
        date: None,
        priority: Priority::Normal,
        link: None,
        segments: None,
        subject_b: None,
        hook_b: None,
        body: "Breathe 4:4 — ça va? 呼吸 🌬️".to_owned(),
        location: Location::Line(1),
    };
    let view = ItemView::new(&item, "Breathscape");
    let id = PostId("post_li".to_owned());
    let at = "2026-11-30T12:00:00+00:00[UTC]".parse().unwrap();
    let renderer = Renderer::new(None).unwrap();
    let content = publisher
        .render(
            &RenderInput {
                post_id: &id,
                scheduled_at: &at,
                item: &view,
                includes: &[],
                locale: renderer.locale(),
                segment: None,
            },
            &renderer,
        )
        .unwrap();
    publisher.validate(&content).unwrap();
    OutgoingPost {
        id,
        scheduled_at: at,
        content,
    }
}

#[tokio::test]
async fn the_posts_api_receives_every_reserved_character_escaped() {
    let server = MockServer::start().await;
    let commentary = "Ratios \\\\ \\| \\{ \\} \\@ \\[ \\] \\( \\) \\< \\> \\# \\* \\_ \\~\n\nBreathe 4:4 — ça va? 呼吸 🌬️\n\n{hashtag|#|Breathscape} {hashtag|#|breathWork}";
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .and(header("authorization", "Bearer li-token"))
        .and(header("linkedin-version", "202608"))
        .and(header("x-restli-protocol-version", "2.0.0"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "author": "urn:li:organization:10428811",
            "commentary": commentary,
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        })))
        .respond_with(ResponseTemplate::new(201).insert_header("x-restli-id", "urn:li:share:7373456789012345678"))
        .expect(1)
        .mount(&server)
        .await;
    let publisher = publisher(&server);
    let receipt = publisher
        .publish(&rendered_post(&publisher), &PublishContext::default())
        .await
        .unwrap();
    assert_eq!(receipt.external_ids, ["urn:li:share:7373456789012345678"]);
    assert_eq!(
        receipt.url.as_deref(),
        Some("https://www.linkedin.com/feed/update/urn:li:share:7373456789012345678/")
    );
}

#[tokio::test]
async fn a_retired_version_names_the_setting_to_change() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .respond_with(ResponseTemplate::new(426).set_body_json(json!({"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version 20260801 is not active"})))
        .expect(1)
        .mount(&server)
        .await;
    let publisher = publisher(&server);
    let error = publisher
        .publish(&rendered_post(&publisher), &PublishContext::default())
        .await
        .unwrap_err();
    assert!(error.is_permanent());
    assert!(
        error.to_string().contains("set channels.linkedin.version"),
        "{error}"
    );
}

#[tokio::test]
async fn a_201_without_the_post_urn_is_an_unknown_outcome() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let publisher = publisher(&server);
    let error = publisher
        .publish(&rendered_post(&publisher), &PublishContext::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, PublishError::OutcomeUnknown { .. }),
        "{error:?}"
    );
}
