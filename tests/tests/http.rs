//! `halcytone serve`, driven over HTTP as a client would.

use std::time::Duration;

use halcytone_e2e::{Server, halcytone, scratch};
use serde_json::{Value, json};
use tokio::process::Command;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["correlation_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{body}"
    );
    body
}

#[tokio::test]
async fn generate_batch_over_http_gives_the_cli_plan() {
    let server = Server::start("http-plan", &[]).await;
    let response = client()
        .post(server.url("/generateBatch?period=week"))
        .json(&json!({"start": "2026-11-30", "dry_run": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let over_http: Value = response.json().await.unwrap();
    let output = std::process::Command::new(halcytone())
        .args([
            "generate",
            "--period",
            "week",
            "--start",
            "2026-11-30",
            "--dry-run",
            "--json",
        ])
        .current_dir(scratch("http-plan-cli"))
        .env_remove("HALCYTONE_DRY_RUN")
        .output()
        .unwrap();
    assert!(output.status.success());
    let from_cli: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(over_http, from_cli);
    assert_eq!(over_http["posts"].as_array().unwrap().len(), 25);
}

#[tokio::test]
async fn health_ready_and_request_ids() {
    let server = Server::start("http-health", &[]).await;
    let response = client()
        .get(server.url("/health"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-123");
    let response = client().get(server.url("/ready")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(!response.headers()["x-request-id"].is_empty());
    let ready: Value = response.json().await.unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    let checks: Vec<(&str, &str)> = ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| {
            (
                check["name"].as_str().unwrap(),
                check["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(checks, [("store", "ok"), ("templates", "ok")], "{ready}");
    assert_eq!(
        ready["checks"][1]["detail"],
        "a probe post renders on 4 channels"
    );
    let body = problem(
        client().get(server.url("/nowhere")).send().await.unwrap(),
        404,
    )
    .await;
    assert_eq!(body["type"], "urn:halcytone:problem:not-found");
}

#[tokio::test]
async fn ready_answers_503_naming_an_unreachable_store_and_a_broken_template() {
    // Nothing listens on port 1; the dispatcher (which needs the store to
    // start) is off in these tests, so the server comes up without it.
    let server = Server::start(
        "http-ready-store",
        &[(
            "HALCYTONE__STORE__URL",
            "postgres://halcytone@127.0.0.1:1/halcytone",
        )],
    )
    .await;
    let body = problem(
        client().get(server.url("/ready")).send().await.unwrap(),
        503,
    )
    .await;
    assert_eq!(body["type"], "urn:halcytone:problem:not-ready");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("not ready: store: "), "{detail}");
    assert!(!detail.contains("templates"), "{detail}");
    assert_eq!(body["checks"][0]["name"], "store");
    assert_eq!(body["checks"][0]["status"], "failing");
    assert_eq!(body["checks"][1]["status"], "ok");
    // /health stays a liveness probe.
    assert_eq!(
        client()
            .get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A template that cannot render fails the template check.
    let templates = scratch("http-ready-templates");
    std::fs::create_dir_all(templates.join("twitter")).unwrap();
    std::fs::write(
        templates.join("twitter/post.hbs"),
        "{{no_such_helper item.title}}",
    )
    .unwrap();
    let templates = templates.display().to_string();
    let server = Server::start(
        "http-ready-broken",
        &[("HALCYTONE__TEMPLATES__DIR", templates.as_str())],
    )
    .await;
    let response = client().get(server.url("/ready")).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("not ready: templates: twitter: "),
        "{body}"
    );
}

#[tokio::test]
async fn bad_requests_get_problems_naming_the_field() {
    let server = Server::start("http-bad", &[]).await;
    let post = |path: &str, body: &str| {
        client()
            .post(server.url(path))
            .header("content-type", "application/json")
            .header("x-request-id", "bad-1")
            .body(body.to_owned())
            .send()
    };
    let body = problem(
        post("/generateBatch?period=fortnight", "{}").await.unwrap(),
        400,
    )
    .await;
    assert_eq!(body["field"], "period");
    assert_eq!(body["correlation_id"], "bad-1");
    let body = problem(
        post(
            "/generateBatch?period=week",
            r#"{"dry_run": true, "chanels": ["x"]}"#,
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["field"], "chanels");
    let body = problem(
        post(
            "/generateBatch?period=week",
            r#"{"dry_run": true, "channels": ["emial"]}"#,
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["field"], "channels");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown channel `emial`")
    );
    let body = problem(
        post(
            "/generateBatch?period=week",
            r#"{"dry_run": true, "start": "2026-13-01"}"#,
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["field"], "start");
    let body = problem(
        post("/generateBatch?period=week", r#"{"dry_run": "yes"}"#)
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["field"], "dry_run");
    for (sent, detail) in [
        (
            r#"{"dry_run": tr"#,
            "the request body is not valid JSON: it ends early, at line 1, column 14",
        ),
        (
            "dry_run=true",
            "the request body is not valid JSON: expected value (line 1, column 1)",
        ),
        ("[true]", "invalid request body: it must be a JSON object"),
    ] {
        let body = problem(post("/generateBatch?period=week", sent).await.unwrap(), 400).await;
        assert_eq!(body["detail"], detail, "{sent}");
    }
    let body = problem(
        post("/generateBatch?period=week", "{not json")
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["type"], "urn:halcytone:problem:invalid-body");
    let huge = format!(
        r#"{{"dry_run": true, "channels": ["{}"]}}"#,
        "x".repeat(1024 * 1024)
    );
    problem(
        post("/generateBatch?period=week", &huge).await.unwrap(),
        413,
    )
    .await;
    let body = problem(
        post("/generate", r#"{"dry_run": false}"#).await.unwrap(),
        400,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("stores nothing"));
    assert_eq!(body["field"], "dry_run");
    problem(
        client()
            .get(server.url("/generateBatch"))
            .send()
            .await
            .unwrap(),
        405,
    )
    .await;
}

#[tokio::test]
async fn generate_renders_one_item_on_every_channel_it_allows() {
    let server = Server::start("http-item", &[]).await;
    let response = client()
        .post(server.url("/generate"))
        .json(&json!({"item_id": "community/ask-us-anything-on-thursday", "dry_run": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let plan: Value = response.json().await.unwrap();
    let channels: Vec<&str> = plan["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["linkedin", "twitter"]);
    let body = problem(
        client()
            .post(server.url("/generate"))
            .json(&json!({"item_id": "nope/nothing", "dry_run": true}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["field"], "item_id");
}

#[tokio::test]
async fn the_api_token_guards_everything_but_health() {
    let server = Server::start(
        "http-auth",
        &[("HALCYTONE__SERVER__API_TOKEN", "sesame-123")],
    )
    .await;
    let batch = || {
        client()
            .post(server.url("/generateBatch?period=day"))
            .json(&json!({"start": "2026-11-30", "dry_run": true}))
    };
    let body = problem(batch().send().await.unwrap(), 401).await;
    assert!(!body.to_string().contains("sesame-123"));
    // Reconciliation calls the channels: it needs the token too.
    let reconcile = || client().post(server.url("/reconcile"));
    problem(reconcile().send().await.unwrap(), 401).await;
    let reconciled: Value = reconcile()
        .bearer_auth("sesame-123")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reconciled, json!({"posts": []}));
    problem(batch().bearer_auth("wrong").send().await.unwrap(), 401).await;
    assert_eq!(
        batch()
            .bearer_auth("sesame-123")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for guarded in ["/channels", "/posts", "/posts/post_x", "/plans/plan_x"] {
        problem(client().get(server.url(guarded)).send().await.unwrap(), 401).await;
    }
    problem(
        client()
            .post(server.url("/posts/post_x/approve"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        client()
            .patch(server.url("/posts/post_x"))
            .json(&json!({"content": {}}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let channels: Value = client()
        .get(server.url("/channels"))
        .bearer_auth("sesame-123")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(channels["channels"].as_array().unwrap().len(), 4);
    assert!(
        channels["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|channel| channel["circuit"] == "closed"),
        "{channels}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_public_and_documents_every_operation() {
    let server = Server::start(
        "http-openapi",
        &[("HALCYTONE__SERVER__API_TOKEN", "sesame-123")],
    )
    .await;
    let response = client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let mut operations: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations.push(format!("{} {path}", method.to_uppercase()));
            let public = ["/health", "/ready"].contains(&path.as_str());
            assert_eq!(
                operation.get("security").is_none(),
                public,
                "{method} {path}: only /health and /ready are public"
            );
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("200"), "{method} {path}");
            if !public {
                assert!(responses.contains_key("401"), "{method} {path}");
                assert!(responses.contains_key("default"), "{method} {path}");
            }
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "GET /analytics",
            "GET /channels",
            "GET /experiments",
            "GET /experiments/{id}",
            "GET /health",
            "GET /plans/{id}",
            "GET /posts",
            "GET /posts/{id}",
            "GET /ready",
            "PATCH /posts/{id}",
            "POST /generate",
            "POST /generateBatch",
            "POST /posts/{id}/enhance",
            "POST /posts/{id}/suggestion/{decision}",
            "POST /posts/{id}/{action}",
            "POST /reconcile",
        ]
    );
    let problem_schema = &document["components"]["schemas"]["ProblemDocument"];
    assert_eq!(
        problem_schema["required"],
        json!(["type", "title", "status", "detail", "correlation_id"])
    );
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer"})
    );
}

#[tokio::test]
async fn serve_refuses_a_public_address_without_a_token() {
    // No token, and an empty one, which is no token either.
    for token in [None, Some(""), Some(" ")] {
        let mut command = Command::new(halcytone());
        command
            .args(["serve", "--bind", "0.0.0.0:0"])
            .current_dir(scratch("http-public"))
            .env_remove("HALCYTONE__SERVER__API_TOKEN");
        if let Some(token) = token {
            command.env("HALCYTONE__SERVER__API_TOKEN", token);
        }
        let output = command.output().await.unwrap();
        assert_eq!(output.status.code(), Some(2), "{token:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr)
                .contains("refusing to listen on 0.0.0.0:0 without an API token"),
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn a_stored_plan_is_reviewed_over_http() {
    let server = Server::start("http-store", &[]).await;
    let response = client()
        .post(server.url("/generateBatch?period=week"))
        .json(&json!({"start": "2026-11-30"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let plan: Value = response.json().await.unwrap();
    assert_eq!(plan["dry_run"], false);
    assert_eq!(plan["stored"]["inserted"].as_array().unwrap().len(), 25);
    let listed: Value = client()
        .get(server.url("/posts?status=draft&channel=twitter"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let posts = listed["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 14);
    assert_eq!(listed["next_cursor"], Value::Null);
    // The same listing, five at a time, cursor to cursor.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = "/posts?status=draft&channel=twitter&limit=5".to_owned();
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = client()
            .get(server.url(&url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        paged.extend(page["posts"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(&paged, posts);
    for (query, detail) in [
        ("limit=0", "limit: 0 is out of range"),
        (
            "cursor=post_nope",
            "cursor: `post_nope` is not a cursor of this listing",
        ),
    ] {
        let body = problem(
            client()
                .get(server.url(&format!("/posts?{query}")))
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains(detail), "{body}");
    }
    let id = posts[0]["id"].as_str().unwrap().to_owned();
    let approved: Value = client()
        .post(server.url(&format!("/posts/{id}/approve")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (approved["from"].as_str(), approved["to"].as_str()),
        (Some("draft"), Some("approved"))
    );
    let body = problem(
        client()
            .post(server.url(&format!("/posts/{id}/approve")))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("approved"),
        "{body}"
    );
    let shown: Value = client()
        .get(server.url(&format!("/posts/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "approved");
    problem(
        client()
            .get(server.url("/posts/post_nope"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(
        client()
            .get(server.url("/posts?status=posted"))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    // Planning the same week again changes nothing and keeps the approval.
    let again: Value = client()
        .post(server.url("/generateBatch?period=week"))
        .json(&json!({"start": "2026-11-30"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["stored"]["unchanged"].as_array().unwrap().len(), 25);

    // The stored plan, with its posts.
    let plan_id = plan["plan_id"].as_str().unwrap();
    let stored: Value = client()
        .get(server.url(&format!("/plans/{plan_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["id"], plan_id);
    assert_eq!(stored["period"], "week");
    assert_eq!(stored["start"], "2026-11-30");
    assert_eq!(stored["posts"].as_array().unwrap().len(), 25);
    let body = problem(
        client()
            .get(server.url("/plans/plan_nope"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("plan_nope"),
        "{body}"
    );

    // Posts of one day, by date or by RFC 3339 times.
    for query in [
        "from=2026-12-01&to=2026-12-02",
        "from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z",
    ] {
        let day: Value = client()
            .get(server.url(&format!("/posts?{query}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let day = day["posts"].as_array().unwrap();
        assert!(!day.is_empty());
        assert!(
            day.iter().all(|post| post["scheduled_at"]
                .as_str()
                .unwrap()
                .starts_with("2026-12-01")),
            "{query}: {day:?}"
        );
    }
    let body = problem(
        client()
            .get(server.url("/posts?from=tuesday"))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["field"], "from");

    // The metrics count posts by state.
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("halcytone_posts{status=\"draft\"} 24"),
        "{metrics}"
    );
    assert!(
        metrics.contains("halcytone_posts{status=\"approved\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("halcytone_posts{status=\"published\"} 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_draft_is_edited_revalidated_and_its_approval_voided() {
    let server = Server::start("http-edit", &[]).await;
    let response = client()
        .post(server.url("/generateBatch?period=day"))
        .json(&json!({"start": "2026-11-30"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let listed: Value = client()
        .get(server.url("/posts?channel=twitter"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = listed["posts"][0]["id"].as_str().unwrap().to_owned();
    // A filter's unknown channel names the query field it came in.
    for path in ["/posts?channel=twiter", "/analytics?channel=twiter"] {
        let body = problem(client().get(server.url(path)).send().await.unwrap(), 400).await;
        assert_eq!(body["field"], "channel", "{path}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("unknown channel `twiter`"),
            "{body}"
        );
    }
    let url = server.url(&format!("/posts/{id}"));
    let approved = client()
        .post(format!("{url}/approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);

    let edited = client()
        .patch(&url)
        .json(&json!({"content": {"parts": ["Breathe in, breathe out. #Breathscape"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["status"], "draft", "the edit voids the approval");
    assert_eq!(
        edited["content"]["parts"][0],
        "Breathe in, breathe out. #Breathscape"
    );
    assert_eq!(
        edited["request"][0]["body"]["text"], "Breathe in, breathe out. #Breathscape",
        "the preview is rebuilt"
    );

    let body = problem(
        client()
            .patch(&url)
            .json(&json!({"content": {"parts": ["x".repeat(281)]}}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["field"], "content");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("weighs 281, more than 280"),
        "{body}"
    );
    let body = problem(
        client()
            .patch(&url)
            .json(&json!({"text": "x"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["field"], "text");
    problem(
        client()
            .patch(server.url("/posts/post_nope"))
            .json(&json!({"content": {"parts": ["x"]}}))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let unchanged: Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        unchanged["content"]["parts"][0], "Breathe in, breathe out. #Breathscape",
        "a refused edit changes nothing"
    );
}

/// A dry-run plan is served from the plan cache while the document keeps
/// its revision: the answer must be byte for byte what composing it afresh
/// gives (the fixtures were written by the server before the cache), and a
/// change to the document must show at once.
#[tokio::test]
async fn cached_dry_run_plans_are_byte_identical_and_follow_the_document() {
    for document in ["doc-60", "doc-600"] {
        let data = halcytone_e2e::root().join("tests/benches/data");
        let expected = std::fs::read(data.join(format!("{document}.week.json"))).unwrap();
        let directory = scratch(&format!("plan-cache-{document}"));
        let living = directory.join("living.md");
        let original = std::fs::read_to_string(data.join(format!("{document}.md"))).unwrap();
        std::fs::write(&living, &original).unwrap();
        let path = living.display().to_string();
        let server = Server::start(
            &format!("plan-cache-server-{document}"),
            &[("HALCYTONE__SOURCE__PATH", path.as_str())],
        )
        .await;
        let plan = || async {
            let response = client()
                .post(server.url("/generateBatch?period=week"))
                .json(&json!({"start": "2026-11-30", "dry_run": true}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-type"], "application/json");
            response.bytes().await.unwrap().to_vec()
        };
        for _ in 0..3 {
            assert!(plan().await == expected, "{document}: the plan changed");
        }
        std::fs::write(&living, format!("{original}\nA new sentence.\n")).unwrap();
        assert!(
            plan().await != expected,
            "{document}: the change is not seen"
        );
        // Back to the first text: the same posts, and the plan now says
        // what changed since the reading before.
        std::fs::write(&living, &original).unwrap();
        let mut back: Value = serde_json::from_slice(&plan().await).unwrap();
        assert!(
            back["changes"].is_object(),
            "{document}: {}",
            back["changes"]
        );
        back.as_object_mut().unwrap().remove("changes");
        let expected: Value = serde_json::from_slice(&expected).unwrap();
        assert!(
            back == expected,
            "{document}: the revision back is not seen"
        );
    }
}

/// A revoked X token, a retired LinkedIn-Version and a LinkedIn token that
/// expires in three days: `serve` checks at start, `/ready` is degraded
/// naming each, the gauge says which, and `doctor --online` fails on them.
#[tokio::test]
async fn failing_preflight_checks_degrade_ready_and_fail_doctor_online() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/me"))
        .and(header("authorization", "Bearer revoked-x-token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
        ))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/userinfo"))
        .and(header("authorization", "Bearer li-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"sub": "782bbtaQ", "name": "Halcytone"})),
        )
        .mount(&api)
        .await;
    let expires = (jiff::Timestamp::now() + Duration::from_secs(3 * 86_400)).to_string();
    let environment = [
        ("HALCYTONE__CHANNELS__TWITTER__BASE_URL", api.uri()),
        (
            "HALCYTONE__CHANNELS__TWITTER__BEARER_TOKEN",
            "revoked-x-token".to_owned(),
        ),
        ("HALCYTONE__CHANNELS__LINKEDIN__BASE_URL", api.uri()),
        (
            "HALCYTONE__CHANNELS__LINKEDIN__ACCESS_TOKEN",
            "li-token".to_owned(),
        ),
        (
            "HALCYTONE__CHANNELS__LINKEDIN__AUTHOR_URN",
            "urn:li:organization:1".to_owned(),
        ),
        (
            "HALCYTONE__CHANNELS__LINKEDIN__VERSION",
            "202501".to_owned(),
        ),
        (
            "HALCYTONE__CHANNELS__LINKEDIN__ACCESS_TOKEN_EXPIRES_AT",
            expires,
        ),
    ];
    let borrowed: Vec<(&str, &str)> = environment
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let server = Server::start("http-preflight", &borrowed).await;
    let mut ready = Value::Null;
    for _ in 0..50 {
        ready = client()
            .get(server.url("/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready["checks"].as_array().unwrap().len() > 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready["status"], "degraded", "{ready:#}");
    let failing: Vec<(&str, &str)> = ready["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["status"] == "degraded")
        .map(|check| {
            (
                check["name"].as_str().unwrap(),
                check["detail"].as_str().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = failing.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "preflight:linkedin.token_expiry",
            "preflight:linkedin.version",
            "preflight:twitter.credentials"
        ],
        "{ready:#}"
    );
    assert!(
        failing[0].1.contains("in 2 days") || failing[0].1.contains("in 3 days"),
        "{failing:?}"
    );
    assert!(
        failing[1].1.contains("LinkedIn-Version 202501 was retired"),
        "{failing:?}"
    );
    assert!(failing[2].1.contains("401"), "{failing:?}");
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("halcytone_preflight_ok{check=\"twitter.credentials\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("halcytone_preflight_ok{check=\"linkedin.credentials\"} 1"),
        "{metrics}"
    );
    assert!(!metrics.contains("revoked-x-token"));

    let directory = scratch("doctor-online");
    let mut doctor = halcytone_e2e::command(&directory);
    doctor.args(["doctor", "--online"]);
    doctor.envs(borrowed.iter().copied());
    let output = doctor.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "twitter.credentials: FAILING, GET /2/users/me: twitter rejected the request (401)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("linkedin.credentials: ok, LinkedIn accepts the access token"),
        "{stdout}"
    );
    assert!(
        stderr.contains("linkedin.version: LinkedIn-Version 202501 was retired"),
        "{stderr}"
    );
    assert!(!stdout.contains("revoked-x-token") && !stderr.contains("revoked-x-token"));
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans go to the collector over
/// OTLP/HTTP: a served request with its plan and render, and a publish with
/// its outbound call, which carries the W3C `traceparent` of that trace.
#[tokio::test]
async fn traces_reach_an_otlp_collector_and_outbound_calls_carry_traceparent() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&collector)
        .await;
    let x = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"data": {"id": "1901", "text": "…"}})),
        )
        .mount(&x)
        .await;
    let exported = |requests: &[wiremock::Request]| -> Vec<u8> {
        requests
            .iter()
            .flat_map(|request| request.body.clone())
            .collect()
    };
    let holds =
        |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|window| window == needle);

    // A served request: its span, and the plan and render under it.
    let endpoint = collector.uri();
    let server = Server::start(
        "http-otel",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            // The SDK's batch delay (5 s by default), short for the test.
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    )
    .await;
    let response = client()
        .post(server.url("/generateBatch?period=day"))
        .json(&json!({"start": "2026-11-30", "dry_run": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body = exported(&collector.received_requests().await.unwrap());
        if holds(&body, b"request") && holds(&body, b"plan") && holds(&body, b"render") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no request, plan and render spans exported"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);
    collector.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&collector)
        .await;

    // A publish pass: flushed at exit, its outbound call in the same trace.
    let directory = scratch("otel-publish");
    let x_uri = x.uri();
    let environment = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("HALCYTONE__APPROVAL__REQUIRED", "false"),
        ("HALCYTONE__CHANNELS__TWITTER__BASE_URL", x_uri.as_str()),
        ("HALCYTONE__CHANNELS__TWITTER__BEARER_TOKEN", "x-token"),
    ];
    for arguments in [
        &[
            "generate",
            "--period",
            "day",
            "--start",
            "2020-01-06",
            "--channels",
            "twitter",
        ][..],
        &["publish", "--due"][..],
    ] {
        let mut command = halcytone_e2e::command(&directory);
        command.args(arguments);
        command.envs(environment.iter().copied());
        let output = command.output().await.unwrap();
        assert!(
            output.status.success(),
            "{arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let sent = x.received_requests().await.unwrap();
    assert!(!sent.is_empty());
    let traceparent = sent[0].headers["traceparent"].to_str().unwrap().to_owned();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(
        (parts[0], parts[1].len(), parts[2].len(), parts[3]),
        ("00", 32, 16, "01")
    );
    let trace_id: Vec<u8> = (0..16)
        .map(|index| u8::from_str_radix(&parts[1][index * 2..index * 2 + 2], 16).unwrap())
        .collect();
    let body = exported(&collector.received_requests().await.unwrap());
    assert!(
        holds(&body, &trace_id),
        "the outbound call's trace is exported"
    );
    for name in [&b"publish"[..], b"http", b"halcytone"] {
        assert!(holds(&body, name), "{}", String::from_utf8_lossy(name));
    }
    for request in collector.received_requests().await.unwrap() {
        assert_eq!(request.headers["content-type"], "application/x-protobuf");
    }
}
