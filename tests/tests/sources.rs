//! `halcytone generate` with the living document in Google Docs and in
//! Notion, against wiremock emulations of their APIs.

use std::process::Command;

use halcytone_e2e::{halcytone, root, scratch};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn generate(environment: &[(String, String)]) -> (Option<i32>, Value, String) {
    generate_with(environment, &[])
}

fn generate_with(environment: &[(String, String)], extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut command = Command::new(halcytone());
    command
        .args([
            "generate",
            "--period",
            "week",
            "--start",
            "2026-11-30",
            "--dry-run",
            "--json",
        ])
        .args(extra)
        .current_dir(scratch("sources"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("HALCYTONE")) {
        command.env_remove(name);
    }
    command.envs(
        environment
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let output = command.output().expect("halcytone runs");
    let plan = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (
        output.status.code(),
        plan,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The environment of a Google Docs source read from `server` with the test
/// service account, and `extra`.
fn gdocs_environment(server: &MockServer, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let key = root().join("crates/source-gdocs/tests/data/test-service-account.json");
    [
        ("HALCYTONE__SOURCE__KIND", "gdocs".to_owned()),
        ("HALCYTONE__SOURCE__DOCUMENT_ID", "1AbCdEfGh".to_owned()),
        (
            "HALCYTONE__SOURCE__CREDENTIALS_FILE",
            key.display().to_string(),
        ),
        ("HALCYTONE__SOURCE__BASE_URL", server.uri()),
        (
            "HALCYTONE__SOURCE__TOKEN_URL",
            format!("{}/token", server.uri()),
        ),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// Google's token endpoint, answering every exchange.
async fn mount_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": "ya29.e2e", "expires_in": 3599})),
        )
        .mount(server)
        .await;
}

fn titles(plan: &Value) -> Vec<String> {
    let mut titles: Vec<String> = plan["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["item"]["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles.dedup();
    titles
}

#[tokio::test]
async fn a_week_planned_from_a_google_doc() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"access_token": "ya29.e2e", "expires_in": 3599, "token_type": "Bearer"})))
        .expect(1)
        .mount(&server)
        .await;
    let document =
        std::fs::read_to_string(root().join("crates/source-gdocs/tests/data/gdocs-document.json"))
            .unwrap();
    Mock::given(method("GET"))
        .and(path("/v1/documents/1AbCdEfGh"))
        .and(header("authorization", "Bearer ya29.e2e"))
        .respond_with(ResponseTemplate::new(200).set_body_string(document))
        .expect(1)
        .mount(&server)
        .await;
    let environment = gdocs_environment(
        &server,
        &[("HALCYTONE__SOURCE__DRIVE_BASE_URL", server.uri())],
    );
    let (code, plan, stderr) = generate(&environment);
    assert_eq!(code, Some(0), "{stderr}");
    let posts = plan["posts"].as_array().unwrap();
    assert!(!posts.is_empty());
    assert_eq!(
        titles(&plan).len(),
        4,
        "the four items of the document: {:?}",
        titles(&plan)
    );
    let warnings = plan["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|warning| warning
            .as_str()
            .unwrap()
            .starts_with("Google Doc 1AbCdEfGh: ")),
        "the document's own warnings (the skipped table) name it: {warnings:?}"
    );
}

#[tokio::test]
async fn a_google_doc_that_is_not_shared_fails_with_what_to_do() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/documents/1AbCdEfGh"))
        .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}})))
        .mount(&server)
        .await;
    let environment = gdocs_environment(&server, &[]);
    let (code, _, stderr) = generate(&environment);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("not shared with living-doc@halcytone-test.iam.gserviceaccount.com"),
        "{stderr}"
    );
}

fn heading(kind: &str, text: &str, id: &str) -> Value {
    serde_json::json!({
        "object": "block", "id": id, "type": kind, "has_children": false, "in_trash": false,
        kind: {"rich_text": [{"type": "text", "text": {"content": text, "link": null}, "plain_text": text,
            "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"}}],
            "color": "default", "is_toggleable": false}
    })
}

fn paragraph(text: &str, id: &str) -> Value {
    serde_json::json!({
        "object": "block", "id": id, "type": "paragraph", "has_children": false, "in_trash": false,
        "paragraph": {"rich_text": [{"type": "text", "text": {"content": text, "link": null}, "plain_text": text,
            "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"}}],
            "color": "default"}
    })
}

#[tokio::test]
async fn a_week_planned_from_a_notion_page_over_two_pages_of_blocks() {
    let server = MockServer::start().await;
    let page = "1a8f0c2e9b3d4e7a8c516d2f4b9e0a17";
    let first = vec![
        heading("heading_2", "Breathscape", "b1"),
        heading("heading_3", "Morning resonance sessions", "b2"),
        paragraph("Tags: breathscape, feature", "b3"),
        paragraph("Morning sessions are live.", "b4"),
    ];
    let second = vec![
        heading("heading_2", "Community", "b5"),
        heading("heading_3", "Breath clubs", "b6"),
        paragraph("Channels: twitter, linkedin", "b7"),
        paragraph("Breath clubs meet in twelve cities.", "b8"),
    ];
    Mock::given(method("GET"))
        .and(path(format!("/v1/blocks/{page}/children")))
        .and(wiremock::matchers::query_param("page_size", "100"))
        .and(wiremock::matchers::query_param_is_missing("start_cursor"))
        .and(header("authorization", "Bearer ntn_e2e"))
        .and(header("notion-version", "2025-09-03"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"object": "list", "results": first, "next_cursor": "b5", "has_more": true, "type": "block", "block": {}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/blocks/{page}/children")))
        .and(wiremock::matchers::query_param("start_cursor", "b5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"object": "list", "results": second, "next_cursor": null, "has_more": false, "type": "block", "block": {}})))
        .expect(1)
        .mount(&server)
        .await;
    let environment: Vec<(String, String)> = [
        ("HALCYTONE__SOURCE__KIND", "notion".to_owned()),
        ("HALCYTONE__SOURCE__PAGE_ID", page.to_owned()),
        ("HALCYTONE__SOURCE__TOKEN", "ntn_e2e".to_owned()),
        ("HALCYTONE__SOURCE__BASE_URL", server.uri()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let (code, plan, stderr) = generate(&environment);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        titles(&plan),
        ["Breath clubs", "Morning resonance sessions"]
    );
    let posts = plan["posts"].as_array().unwrap();
    let clubs: Vec<&str> = posts
        .iter()
        .filter(|post| post["item"]["title"] == "Breath clubs")
        .map(|post| post["channel"].as_str().unwrap())
        .collect();
    assert!(
        !clubs.is_empty()
            && clubs
                .iter()
                .all(|channel| ["twitter", "linkedin"].contains(channel)),
        "{clubs:?}"
    );
}

#[tokio::test]
async fn an_unreachable_google_doc_shows_each_retry_and_gives_up_at_the_timeout() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/documents/1AbCdEfGh"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    // Retries that would take minutes without the timeout.
    let environment = gdocs_environment(
        &server,
        &[
            ("HALCYTONE__RESILIENCE__MIN_DELAY", "400ms".to_owned()),
            ("HALCYTONE__RESILIENCE__MAX_DELAY", "60s".to_owned()),
        ],
    );
    let started = std::time::Instant::now();
    let (code, _, stderr) = generate_with(&environment, &["--timeout", "2s"]);
    let took = started.elapsed();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    assert!(stderr.contains("; retry 1/7 in "), "{stderr}");
    assert!(
        stderr.contains("no answer within 2 s (--timeout), retries included"),
        "{stderr}"
    );
}

/// `doctor --online` asks Notion who the token is (`GET /v1/users/me`):
/// a working token names its integration, a revoked one fails the check
/// by name, and the token is in neither report.
#[tokio::test]
async fn doctor_online_checks_the_notion_token_on_its_own() {
    let page = "1a8f0c2e9b3d4e7a8c516d2f4b9e0a17";
    for (token, status) in [("ntn_working", 200), ("ntn_revoked", 401)] {
        let server = MockServer::start().await;
        let answer = if status == 200 {
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "object": "user", "id": "16d84278-ab0e-484c-9bdd-b35da3bd8905", "name": "Halcytone",
                "type": "bot", "bot": {"owner": {"type": "workspace", "workspace": true},
                "workspace_name": "Breathscape"}}))
        } else {
            ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "object": "error", "status": 401, "code": "unauthorized",
                "message": "API token is invalid."}))
        };
        Mock::given(method("GET"))
            .and(path("/v1/users/me"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .and(header("notion-version", "2025-09-03"))
            .respond_with(answer.clone())
            .expect(1..)
            .mount(&server)
            .await;
        let blocks = if status == 200 {
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "object": "list", "has_more": false, "next_cursor": null, "type": "block", "block": {},
                "results": [heading("heading_2", "Breathscape", "b1"),
                            heading("heading_3", "Morning resonance sessions", "b2"),
                            paragraph("Morning sessions are live.", "b3")]}))
        } else {
            answer
        };
        Mock::given(method("GET"))
            .and(path(format!("/v1/blocks/{page}/children")))
            .respond_with(blocks)
            .mount(&server)
            .await;
        let mut doctor = halcytone_e2e::command(&scratch("doctor-notion"));
        doctor.args(["doctor", "--online"]).envs([
            ("HALCYTONE__SOURCE__KIND", "notion"),
            ("HALCYTONE__SOURCE__PAGE_ID", page),
            ("HALCYTONE__SOURCE__TOKEN", token),
            ("HALCYTONE__SOURCE__BASE_URL", server.uri().as_str()),
        ]);
        let output = doctor.output().await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stdout.contains(token) && !stderr.contains(token),
            "{stdout}\n{stderr}"
        );
        if status == 200 {
            assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
            assert!(
                stdout.contains(
                    "notion.credentials: ok, the token is the integration `Halcytone` of \
                     workspace `Breathscape`"
                ),
                "{stdout}"
            );
        } else {
            assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
            assert!(
                stdout.contains(&format!(
                    "notion.credentials: FAILING, Notion page {page}: Notion refused the token \
                     while reading the token's bot user (GET /v1/users/me) (401 unauthorized: \
                     API token is invalid.)"
                )),
                "{stdout}"
            );
        }
    }
}
