//! Newsletter segments (PRODUCT §12): with three `[[segments]]`, one plan
//! sends three newsletters, each to its segment of the list, each with the
//! items its `Segments:` lines allow, each with its own idempotency key.

use std::collections::BTreeMap;

use halcytone_e2e::{command, scratch};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DOCUMENT: &str = "# Living document

## Breathscape

### Morning resonance sessions
Tags: breathscape

Morning sessions are live for everyone.

### Welcome back to Breathscape
Segments: lapsed

Everything that changed while you were away.

### Your first week
Segments: new

Where to start, day by day.

## News

### Offline mode
Tags: product

Every session can be downloaded.
";

#[tokio::test]
async fn three_segments_send_three_newsletters_to_their_segments() {
    let crm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/newsletters"))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(json!({"id": "nl_1", "status": "scheduled"})),
        )
        .mount(&crm)
        .await;
    let directory = scratch("segments");
    std::fs::write(directory.join("living.md"), DOCUMENT).unwrap();
    std::fs::write(
        directory.join("halcytone.toml"),
        format!(
            r#"[source]
path = "living.md"

[approval]
required = false

[channels.email]
base_url = "{}"
api_key = "crm-secret"
list_id = "newsletter-main"

[[segments]]
id = "new"
name = "New members"
crm_segment = "seg_new"

[[segments]]
id = "lapsed"
name = "Lapsed members"
crm_segment = "seg_lapsed"

[[segments]]
id = "vip"
name = "Founding members"
crm_segment = "seg_vip"
"#,
            crm.uri()
        ),
    )
    .unwrap();
    let output = command(&directory)
        .args([
            "generate",
            "--period",
            "day",
            "--start",
            "2026-01-05",
            "--channels",
            "email",
            "--publish-now",
            "--json",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let posts = report["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 3, "{report}");
    assert!(
        posts.iter().all(|post| post["outcome"] == "published"),
        "{report}"
    );

    let received = crm.received_requests().await.unwrap();
    let mut by_segment: BTreeMap<String, (Value, String)> = BTreeMap::new();
    for request in &received {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let key = request.headers["idempotency-key"]
            .to_str()
            .unwrap()
            .to_owned();
        by_segment.insert(body["segment"].as_str().unwrap().to_owned(), (body, key));
    }
    assert_eq!(
        by_segment.keys().collect::<Vec<_>>(),
        ["seg_lapsed", "seg_new", "seg_vip"]
    );
    let keys: std::collections::BTreeSet<&String> =
        by_segment.values().map(|(_, key)| key).collect();
    assert_eq!(keys.len(), 3, "each issue has its own idempotency key");
    for (segment, (body, _)) in &by_segment {
        assert_eq!(body["list_id"], "newsletter-main");
        let text = body["text"].as_str().unwrap();
        assert!(
            text.contains("Morning resonance sessions"),
            "{segment}: {text}"
        );
        assert!(text.contains("Offline mode"), "{segment}: {text}");
        assert_eq!(
            text.contains("Welcome back to Breathscape"),
            segment == "seg_lapsed",
            "{segment}: {text}"
        );
        assert_eq!(
            text.contains("Your first week"),
            segment == "seg_new",
            "{segment}: {text}"
        );
    }

    // Each stored post names its segment.
    let listed = command(&directory)
        .args(["posts", "list", "--json"])
        .output()
        .await
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mut segments: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["segment"].as_str().unwrap())
        .collect();
    segments.sort_unstable();
    assert_eq!(segments, ["lapsed", "new", "vip"]);
}

#[tokio::test]
async fn a_bad_segment_is_named() {
    let directory = scratch("segments-bad");
    for (config, expected) in [
        (
            "[[segments]]\nid = \"Lapsed Members\"\nname = \"x\"\n",
            "segments[0].id: `Lapsed Members` is not a segment id",
        ),
        (
            "[[segments]]\nid = \"a\"\nname = \"x\"\n[[segments]]\nid = \"a\"\nname = \"y\"\n",
            "segments[1].id: `a` names two segments",
        ),
    ] {
        std::fs::write(directory.join("halcytone.toml"), config).unwrap();
        let output = command(&directory).arg("doctor").output().await.unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}
