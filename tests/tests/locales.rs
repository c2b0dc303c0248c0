//! A German living document beside the English one (`[locales.de]`): the
//! German posts render from the German templates with German dates, carry
//! `locale = "de"`, go to the German list, and list by locale.

use std::path::Path;

use halcytone_e2e::{command, root, scratch};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(crm: &str) -> String {
    let examples = root().join("examples");
    format!(
        r#"timezone = "Europe/Berlin"

[source]
path = "{english}"

[locales.de]
path = "{german}"

[approval]
required = false

[channels.email]
base_url = "{crm}"
api_key = "crm-secret"
list_id = "newsletter-main"

[channels.email.locales.de]
list_id = "newsletter-de"
intro = "Das hat uns diese Woche bewegt."
"#,
        english = examples.join("living-document.md").display(),
        german = examples.join("living-document.de.md").display(),
    )
}

async fn run(directory: &Path, arguments: &[&str]) -> std::process::Output {
    command(directory)
        .args(arguments)
        .output()
        .await
        .expect("halcytone runs")
}

fn json(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn a_german_document_sends_german_newsletters_to_the_german_list() {
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/newsletters"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": "nl_1"})))
        .mount(&crm)
        .await;
    let directory = scratch("locales");
    std::fs::write(directory.join("halcytone.toml"), config(&crm.uri())).unwrap();

    // The day is past, so every post is due at once.
    let report = json(
        &run(
            &directory,
            &[
                "generate",
                "--period",
                "day",
                "--start",
                "2026-01-05",
                "--channels",
                "email",
                "--publish-now",
                "--json",
            ],
        )
        .await,
    );
    let outcomes: Vec<&Value> = report["posts"].as_array().unwrap().iter().collect();
    assert_eq!(outcomes.len(), 2, "{report}");
    assert!(
        outcomes.iter().all(|post| post["outcome"] == "published"),
        "{report}"
    );

    let received = crm.received_requests().await.unwrap();
    let bodies: Vec<Value> = received
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2);
    let german = bodies
        .iter()
        .find(|body| body["list_id"] == "newsletter-de")
        .expect("a newsletter to the German list");
    let english = bodies
        .iter()
        .find(|body| body["list_id"] == "newsletter-main")
        .expect("a newsletter to the main list");
    assert_eq!(
        german["subject"],
        "Diese Woche bei Breathscape: Morgendliche Resonanz-Sessions"
    );
    let text = german["text"].as_str().unwrap();
    assert!(
        text.starts_with("DIESE WOCHE BEI BREATHSCAPE · 5. Januar 2026"),
        "{text}"
    );
    assert!(text.contains("Das hat uns diese Woche bewegt."), "{text}");
    assert!(text.contains("AUSSERDEM DIESE WOCHE"), "{text}");
    let html = german["html"].as_str().unwrap();
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(html.contains("Weiterlesen"), "{html}");
    // The English newsletter is as it always was.
    assert_eq!(
        english["subject"],
        "This Week in Breathscape: Morning resonance sessions"
    );
    assert!(
        english["text"]
            .as_str()
            .unwrap()
            .starts_with("THIS WEEK IN BREATHSCAPE · 5 January 2026"),
        "{english}"
    );
    assert!(
        english["html"]
            .as_str()
            .unwrap()
            .contains("<html lang=\"en\">")
    );
    // Each newsletter has its own idempotency key: two posts, not one.
    let keys: std::collections::BTreeSet<&str> = received
        .iter()
        .map(|request| request.headers["idempotency-key"].to_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 2);

    let listed = json(&run(&directory, &["posts", "list", "--locale", "de", "--json"]).await);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["locale"], "de");
    assert_eq!(listed[0]["status"], "published");
    let everything = json(&run(&directory, &["posts", "list", "--json"]).await);
    let locales: Vec<&str> = everything
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["locale"].as_str().unwrap())
        .collect();
    assert_eq!(locales, ["en-GB", "de"]);

    let unknown = run(&directory, &["posts", "list", "--locale", "fr"]).await;
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("locale: no document is in locale `fr` (locales: en-GB, de)"),
        "{stderr}"
    );

    // Planning again sends nothing twice and keeps each language's post.
    let again = json(
        &run(
            &directory,
            &[
                "generate",
                "--period",
                "day",
                "--start",
                "2026-01-05",
                "--channels",
                "email",
                "--publish-now",
                "--json",
            ],
        )
        .await,
    );
    assert!(
        again["posts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|post| post["outcome"] == "already-published"),
        "{again}"
    );
    assert_eq!(crm.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_bad_locale_is_named_with_where_it_was_set() {
    let directory = scratch("locales-bad");
    std::fs::write(
        directory.join("halcytone.toml"),
        "[locales.\"d e\"]\npath = \"x.md\"\n",
    )
    .unwrap();
    let output = run(&directory, &["doctor"]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("locales.d e: `d e` is not a BCP 47 language tag"),
        "{stderr}"
    );

    std::fs::write(
        directory.join("halcytone.toml"),
        "locale = \"de\"\n[locales.de]\npath = \"x.md\"\n",
    )
    .unwrap();
    let output = run(&directory, &["doctor"]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("locales.de: is the main document's locale (`locale = \"de\"`)"),
        "{stderr}"
    );

    // Well formed, but a language CLDR has no words for: a warning.
    std::fs::write(
        directory.join("halcytone.toml"),
        "[locales.xx]\npath = \"x.md\"\n",
    )
    .unwrap();
    let output = run(&directory, &["doctor"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("warning: locales.xx: CLDR has no data for `xx`: its dates are written in the root style (2026 M11 30)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn one_item_previews_in_the_language_asked_for() {
    let german = root().join("examples/living-document.de.md");
    let german = german.display().to_string();
    let server = halcytone_e2e::Server::start(
        "locales-generate",
        &[("HALCYTONE__LOCALES__DE__PATH", german.as_str())],
    )
    .await;
    let client = reqwest::Client::new();
    let generate = |body: Value| client.post(server.url("/generate")).json(&body).send();
    let plan: Value =
        generate(serde_json::json!({"dry_run": true, "locale": "de", "channels": ["email"]}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let post = &plan["posts"][0];
    assert_eq!(post["locale"], "de", "{plan}");
    assert_eq!(
        post["content"]["subject"],
        "Diese Woche bei Breathscape: Morgendliche Resonanz-Sessions"
    );
    let english: Value = generate(serde_json::json!({"dry_run": true, "channels": ["email"]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(english["posts"][0]["locale"], "en-GB");
    assert_ne!(english["posts"][0]["id"], post["id"]);
    let refused = generate(serde_json::json!({"dry_run": true, "locale": "fr"}))
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["field"], "locale");
    assert_eq!(
        problem["detail"],
        "locale: no document is in locale `fr` (locales: en-GB, de)"
    );
}
