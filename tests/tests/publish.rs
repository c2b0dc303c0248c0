//! `halcytone generate --publish-now` against wiremock emulations of the
//! four APIs: what each receives is what the dry run previewed, one failing
//! channel does not stop the others, and a second run sends nothing again.

use std::collections::BTreeMap;
use std::process::Command;

use halcytone_e2e::{halcytone, scratch};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

struct Apis {
    email: MockServer,
    web: MockServer,
    twitter: MockServer,
    linkedin: MockServer,
}

impl Apis {
    async fn start() -> Self {
        Self {
            email: MockServer::start().await,
            web: MockServer::start().await,
            twitter: MockServer::start().await,
            linkedin: MockServer::start().await,
        }
    }

    fn environment(&self) -> Vec<(String, String)> {
        [
            ("HALCYTONE__CHANNELS__EMAIL__BASE_URL", self.email.uri()),
            (
                "HALCYTONE__CHANNELS__EMAIL__API_KEY",
                "crm-secret".to_owned(),
            ),
            (
                "HALCYTONE__CHANNELS__EMAIL__LIST_ID",
                "newsletter-main".to_owned(),
            ),
            ("HALCYTONE__CHANNELS__WEB__BASE_URL", self.web.uri()),
            (
                "HALCYTONE__CHANNELS__WEB__API_KEY",
                "platform-secret".to_owned(),
            ),
            ("HALCYTONE__CHANNELS__TWITTER__BASE_URL", self.twitter.uri()),
            (
                "HALCYTONE__CHANNELS__TWITTER__BEARER_TOKEN",
                "x-secret".to_owned(),
            ),
            (
                "HALCYTONE__CHANNELS__LINKEDIN__BASE_URL",
                self.linkedin.uri(),
            ),
            (
                "HALCYTONE__CHANNELS__LINKEDIN__ACCESS_TOKEN",
                "li-secret".to_owned(),
            ),
            (
                "HALCYTONE__CHANNELS__LINKEDIN__AUTHOR_URN",
                "urn:li:organization:123456".to_owned(),
            ),
            ("HALCYTONE__RESILIENCE__MIN_DELAY", "10ms".to_owned()),
            ("HALCYTONE__RESILIENCE__MAX_DELAY", "50ms".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }
}

fn run(arguments: &[&str], environment: &[(String, String)]) -> std::process::Output {
    run_in(&scratch("publish"), arguments, environment)
}

/// Runs `halcytone` in `directory`, whose store later runs share.
fn run_in(
    directory: &std::path::Path,
    arguments: &[&str],
    environment: &[(String, String)],
) -> std::process::Output {
    let mut command = Command::new(halcytone());
    command.args(arguments).current_dir(directory);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("HALCYTONE")) {
        command.env_remove(name);
    }
    command.envs(
        environment
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    command.output().expect("halcytone runs")
}

const DAY: [&str; 5] = ["generate", "--period", "day", "--start", "2026-11-30"];

/// The dry run's previewed requests, by channel, in plan order.
fn previews(environment: &[(String, String)]) -> BTreeMap<String, Vec<Value>> {
    let output = run(&[&DAY[..], &["--dry-run", "--json"]].concat(), environment);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut previews: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for post in plan["posts"].as_array().unwrap() {
        let requests = match post["requests"].as_array() {
            Some(requests) => requests.clone(),
            None => vec![post["request"].clone()],
        };
        previews
            .entry(post["channel"].as_str().unwrap().to_owned())
            .or_default()
            .extend(requests);
    }
    previews
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test]
async fn three_channels_publish_while_one_fails_and_the_report_says_why() {
    let apis = Apis::start().await;
    let environment = apis.environment();
    let previews = previews(&environment);
    Mock::given(method("POST"))
        .and(path("/api/v1/newsletters"))
        .and(header("authorization", "Bearer crm-secret"))
        .respond_with(ResponseTemplate::new(202).set_body_json(
            serde_json::json!({"id": "nl_8f2c", "status": "scheduled", "recipients": 18342}),
        ))
        .expect(1)
        .mount(&apis.email)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/content"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "the API key is revoked", "code": "unauthorized"})))
        .expect(1)
        .mount(&apis.web)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .and(header("authorization", "Bearer x-secret"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"data": {"id": "2099392716078206976", "text": "…", "edit_history_tweet_ids": ["2099392716078206976"]}})))
        .mount(&apis.twitter)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .and(header("linkedin-version", "202608"))
        .and(header("x-restli-protocol-version", "2.0.0"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-restli-id", "urn:li:share:7373456789012345678"),
        )
        .expect(1)
        .mount(&apis.linkedin)
        .await;

    let output = run(&[&DAY[..], &["--publish-now"]].concat(), &environment);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed post fails the run: {stdout}\n{stderr}"
    );
    assert!(
        stdout.starts_with("Published 4 of 5 posts now (0 already published, 0 waiting, 1 failed, 0 unconfirmed, 0 skipped)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("web rejected the request (401): the API key is revoked"),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 of 5 posts failed or are unconfirmed"),
        "{stderr}"
    );
    for secret in ["crm-secret", "platform-secret", "x-secret", "li-secret"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} leaked"
        );
    }

    assert_received_as_previewed(&apis, &previews).await;
    let newsletter = &apis.email.received_requests().await.unwrap()[0];
    let key = newsletter
        .headers
        .get("idempotency-key")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(key.starts_with("halcytone-post_"), "{key}");
}

/// What each API received is what the dry run previewed, byte for byte
/// (thread replies carry the id X gave the part before them), each once.
/// Posts of one channel may go out side by side, so requests are matched to
/// previews by body, not by order.
async fn assert_received_as_previewed(apis: &Apis, previews: &BTreeMap<String, Vec<Value>>) {
    for (channel, server) in [
        ("email", &apis.email),
        ("web", &apis.web),
        ("linkedin", &apis.linkedin),
        ("twitter", &apis.twitter),
    ] {
        let received = server.received_requests().await.unwrap();
        let mut expected = previews[channel].clone();
        assert_eq!(received.len(), expected.len(), "{channel}");
        for request in &received {
            let body = body_of(request);
            let position = expected
                .iter()
                .position(|preview| {
                    let mut preview_body = preview["body"].clone();
                    if let Some(reply) = preview_body.get_mut("reply") {
                        reply["in_reply_to_tweet_id"] =
                            body["reply"]["in_reply_to_tweet_id"].clone();
                    }
                    preview_body == body
                })
                .unwrap_or_else(|| panic!("{channel}: {body} was not previewed"));
            let preview = expected.remove(position);
            if preview["body"].get("reply").is_none() {
                assert_eq!(
                    request.body,
                    serde_json::to_vec(&preview["body"]).unwrap(),
                    "{channel}: byte for byte"
                );
            }
            let request_id = request
                .headers
                .get("x-request-id")
                .and_then(|value| value.to_str().ok());
            assert!(
                request_id.is_some_and(|id| !id.is_empty()),
                "{channel}: no correlation id"
            );
        }
    }
}

/// Answers every API with success: new ids, and a reply id per X part.
async fn every_api_succeeds(apis: &Apis) {
    Mock::given(method("POST"))
        .and(path("/api/v1/newsletters"))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(serde_json::json!({"id": "nl_8f2c", "status": "scheduled"})),
        )
        .mount(&apis.email)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/content"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            serde_json::json!({"id": "cnt_1", "url": "https://halcytone.example/a", "status": "scheduled"}),
        ))
        .mount(&apis.web)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(
                serde_json::json!({"data": {"id": "2099392716078206976", "text": "…"}}),
            ),
        )
        .mount(&apis.twitter)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/posts"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-restli-id", "urn:li:share:7373456789012345678"),
        )
        .mount(&apis.linkedin)
        .await;
}

#[tokio::test]
async fn publishing_now_twice_sends_each_post_once_and_the_second_run_says_why() {
    let apis = Apis::start().await;
    let environment = apis.environment();
    let previews = previews(&environment);
    every_api_succeeds(&apis).await;
    let directory = scratch("publish-twice");
    let arguments = [&DAY[..], &["--publish-now", "--json"]].concat();

    let first = run_in(&directory, &arguments, &environment);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    let posts = report["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 5);
    assert!(
        posts.iter().all(|post| post["outcome"] == "published"),
        "{report}"
    );

    let second = run_in(&directory, &arguments, &environment);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let again: Value = serde_json::from_slice(&second.stdout).unwrap();
    for (post, before) in again["posts"].as_array().unwrap().iter().zip(posts) {
        assert_eq!(post["outcome"], "already-published", "{again}");
        assert_eq!(post["external_ids"], before["external_ids"], "{again}");
        assert!(
            !post["external_ids"].as_array().unwrap().is_empty(),
            "{again}"
        );
    }
    let table = run_in(
        &directory,
        &[&DAY[..], &["--publish-now"]].concat(),
        &environment,
    );
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.starts_with("Published 0 of 5 posts now (5 already published"),
        "{table}"
    );
    assert!(
        table.contains("urn:li:share:7373456789012345678"),
        "{table}"
    );

    // Each post reached its API once, as previewed, and its send is on record.
    assert_received_as_previewed(&apis, &previews).await;
    for post in posts {
        let shown = run_in(
            &directory,
            &["posts", "show", post["post"].as_str().unwrap(), "--json"],
            &environment,
        );
        let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
        assert_eq!(shown["status"], "published");
        let attempts = shown["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{shown}");
        assert_eq!(attempts[0]["outcome"], "succeeded");
        assert!(attempts[0]["body_hash"].is_string(), "{shown}");
    }
}

#[tokio::test]
async fn unconfigured_channels_are_skipped_and_dry_run_processes_send_nothing() {
    let apis = Apis::start().await;
    let environment: Vec<(String, String)> = apis
        .environment()
        .into_iter()
        .filter(|(name, _)| name.contains("TWITTER") || name.contains("RESILIENCE"))
        .collect();
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"data": {"id": "1", "text": "…"}})),
        )
        .mount(&apis.twitter)
        .await;
    let output = run(
        &[&DAY[..], &["--publish-now", "--json"]].concat(),
        &environment,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let outcomes: Vec<(&str, &str)> = report["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| {
            (
                post["channel"].as_str().unwrap(),
                post["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("email", "skipped"),
            ("twitter", "published"),
            ("web", "skipped"),
            ("linkedin", "skipped"),
            ("twitter", "published"),
        ]
    );
    let mut dry = environment.clone();
    dry.push(("HALCYTONE_DRY_RUN".to_owned(), "true".to_owned()));
    let before = apis.twitter.received_requests().await.unwrap().len();
    let output = run(&[&DAY[..], &["--publish-now"]].concat(), &dry);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing is sent"));
    assert_eq!(
        apis.twitter.received_requests().await.unwrap().len(),
        before
    );
}
