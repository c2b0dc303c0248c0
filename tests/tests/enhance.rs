//! AI suggestions (PRODUCT §11) against a wiremock chat-completions server:
//! a suggestion is stored beside the post and never sent; accepting it is
//! an edit that returns the post to draft; a dry run shows the requests; a
//! failing model leaves the plan intact with warnings.

use halcytone_e2e::{Server, command, scratch};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BETTER: &str =
    "Morning resonance sessions are live: six calm breaths a minute, before coffee.";

fn answer(parts: &[&str]) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant", "content": json!({ "parts": parts }).to_string()
        }}]
    }))
}

fn config(model: &MockServer) -> String {
    format!(
        "[enhance]\nbase_url = \"{}/v1\"\nmodel = \"llama-3.1-8b-instruct\"\n",
        model.uri()
    )
}

async fn run(directory: &std::path::Path, arguments: &[&str]) -> std::process::Output {
    command(directory).args(arguments).output().await.unwrap()
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

const DAY: [&str; 7] = [
    "generate",
    "--period",
    "day",
    "--start",
    "2031-01-06",
    "--channels",
    "twitter",
];

#[tokio::test]
async fn a_suggestion_is_kept_not_sent_and_accepting_it_makes_a_draft() {
    let model = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(answer(&[BETTER]))
        .mount(&model)
        .await;
    let directory = scratch("enhance");
    std::fs::write(directory.join("halcytone.toml"), config(&model)).unwrap();

    let plan = json_of(&run(&directory, &[&DAY[..], &["--json"]].concat()).await);
    let id = plan["posts"][0]["id"].as_str().unwrap().to_owned();
    let original = plan["posts"][0]["content"].clone();
    assert!(
        run(&directory, &["posts", "approve", &id])
            .await
            .status
            .success()
    );

    let enhanced = json_of(&run(&directory, &["posts", "enhance", &id, "--json"]).await);
    assert_eq!(enhanced["suggestion"], json!({ "parts": [BETTER] }));
    // Kept beside the post: its content, status and approval stand.
    assert_eq!(enhanced["content"], original);
    assert_eq!(enhanced["status"], "approved");
    assert_eq!(model.received_requests().await.unwrap().len(), 1);

    let accepted = run(&directory, &["posts", "accept-suggestion", &id]).await;
    assert!(accepted.status.success());
    assert!(
        String::from_utf8_lossy(&accepted.stdout).contains("draft (approve it to send it)"),
        "{}",
        String::from_utf8_lossy(&accepted.stdout)
    );
    let shown = json_of(&run(&directory, &["posts", "show", &id, "--json"]).await);
    assert_eq!(shown["content"], json!({ "parts": [BETTER] }));
    assert_eq!(shown["status"], "draft");
    assert!(shown["suggestion"].is_null());
    assert!(shown["edited_at"].is_string());
    let again = run(&directory, &["posts", "accept-suggestion", &id]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("has no suggestion to accept"));

    // Over HTTP: ask, then drop it.
    let server = Server::start(
        "enhance-serve",
        &[
            (
                "HALCYTONE__ENHANCE__BASE_URL",
                &format!("{}/v1", model.uri()),
            ),
            ("HALCYTONE__ENHANCE__MODEL", "llama-3.1-8b-instruct"),
            (
                "HALCYTONE__DATA_DIR",
                &directory.join("data").display().to_string(),
            ),
            ("HALCYTONE__SERVER__API_TOKEN", "enhance-token-1234"),
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let asked: Value = client
        .post(server.url(&format!("/posts/{id}/enhance")))
        .bearer_auth("enhance-token-1234")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asked["suggestion"], json!({ "parts": [BETTER] }), "{asked}");
    let dropped: Value = client
        .post(server.url(&format!("/posts/{id}/suggestion/reject")))
        .bearer_auth("enhance-token-1234")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(dropped["suggestion"].is_null(), "{dropped}");
    let refused = client
        .post(server.url(&format!("/posts/{id}/suggestion/keep")))
        .bearer_auth("enhance-token-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    // In the admin UI: ask, see the suggestion as a diff beside the post, accept it.
    let second = "Six calm breaths a minute, before coffee: morning resonance sessions are live.";
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(answer(&[second]))
        .with_priority(1)
        .mount(&model)
        .await;
    let signed_in = client
        .post(server.url("/admin/login"))
        .form(&[("token", "enhance-token-1234"), ("next", "/admin")])
        .send()
        .await
        .unwrap();
    let session = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = || async {
        client
            .get(server.url(&format!("/admin/posts/{id}")))
            .header("cookie", &session)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = page().await;
    assert!(
        before.contains("Ask the model for a suggestion"),
        "{before}"
    );
    let csrf = before
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let form = |path: String| {
        client
            .post(server.url(&path))
            .header("cookie", &session)
            .form(&[("csrf", csrf.as_str()), ("back", "/admin")])
            .send()
    };
    assert_eq!(
        form(format!("/admin/posts/{id}/enhance"))
            .await
            .unwrap()
            .status(),
        303
    );
    let shown = page().await;
    assert!(shown.contains("Accept the suggestion"), "{shown}");
    assert!(
        shown.contains(&format!("+     &quot;{BETTER}&quot;")) || shown.contains(BETTER),
        "{shown}"
    );
    assert_eq!(
        form(format!("/admin/posts/{id}/suggestion/accept"))
            .await
            .unwrap()
            .status(),
        303
    );
    let after: Value = client
        .get(server.url(&format!("/posts/{id}")))
        .bearer_auth("enhance-token-1234")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["content"], json!({ "parts": [second] }));
    assert!(after["suggestion"].is_null());
}

#[tokio::test]
async fn a_dry_run_shows_the_requests_and_a_failing_model_leaves_the_plan() {
    let model = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("loading model"))
        .mount(&model)
        .await;
    let directory = scratch("enhance-dry");
    std::fs::write(
        directory.join("halcytone.toml"),
        format!(
            "{}\n[resilience]\nmax_attempts = 2\nmin_delay = \"10ms\"\nmax_delay = \"20ms\"\n",
            config(&model)
        ),
    )
    .unwrap();
    let shown = json_of(
        &run(
            &directory,
            &[&DAY[..], &["--enhance", "--dry-run"]].concat(),
        )
        .await,
    );
    let requests = shown["suggestion_requests"].as_array().unwrap();
    assert_eq!(
        requests.len(),
        shown["plan"]["posts"].as_array().unwrap().len()
    );
    assert_eq!(
        requests[0]["request"]["url"],
        format!("{}/v1/chat/completions", model.uri())
    );
    assert_eq!(
        requests[0]["request"]["body"]["model"],
        "llama-3.1-8b-instruct"
    );
    assert!(model.received_requests().await.unwrap().is_empty());

    let output = run(&directory, &[&DAY[..], &["--enhance", "--json"]].concat()).await;
    let plan = json_of(&output);
    let posts = plan["posts"].as_array().unwrap();
    assert!(!posts.is_empty());
    let warnings: Vec<&str> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|warning| warning.starts_with("no suggestion for post"))
        .collect();
    assert_eq!(warnings.len(), posts.len(), "{plan}");
    assert!(warnings[0].contains("503"), "{warnings:?}");
    let progress = String::from_utf8_lossy(&output.stderr);
    assert!(progress.contains("Suggestions for 0 of"), "{progress}");
}
