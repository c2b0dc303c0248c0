//! A/B experiments (PRODUCT §12) against an emulated CRM: an item's
//! `Subject B:` sends arms A and B each to a share of the list, the winner's
//! send waits for the decision, `experiments decide` reads the arms' figures
//! and picks the arm they favour (or, with too few opens, keeps arm A), and
//! the winner then goes to the rest. On X, a `Hook B:` puts the arms in two
//! slots.

use halcytone_e2e::{Server, command, scratch};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DOCUMENT: &str = "# Living document

## Breathscape

### Sleep timer fades out
Subject B: Fall asleep to the fade
Hook B: Your phone can fall asleep too

The sleep timer now fades the session out over a minute.

## News

### Offline mode

Every session can be downloaded.
";

/// The CRM: each arm's create answers its own id, and each id's figures
/// are `opens_b` unique opens for arm B and 210 for arm A, of 1,000.
async fn crm(opens_b: u64) -> MockServer {
    let crm = MockServer::start().await;
    for (arm, id) in [("A", "nl_a"), ("B", "nl_b"), ("winner", "nl_rest")] {
        Mock::given(method("POST"))
            .and(path("/api/v1/newsletters"))
            .and(body_partial_json(json!({"split": {"arm": arm}})))
            .respond_with(
                ResponseTemplate::new(202).set_body_json(json!({"id": id, "status": "scheduled"})),
            )
            .mount(&crm)
            .await;
    }
    for (id, opens) in [("nl_a", 210), ("nl_b", opens_b)] {
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/newsletters/{id}/stats")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": id, "sent": 1000, "delivered": 1000, "opens": opens + 40,
                "unique_opens": opens, "clicks": 12, "unique_clicks": 10,
                "unsubscribes": 1, "bounces": 0, "updated_at": "2026-01-05T13:00:00Z"
            })))
            .mount(&crm)
            .await;
    }
    crm
}

fn project(name: &str, crm: &MockServer) -> std::path::PathBuf {
    let directory = scratch(name);
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

[ab]
test_fraction = 0.15
decide_after = "1s"
min_sample = 100
"#,
            crm.uri()
        ),
    )
    .unwrap();
    directory
}

/// Plans and stores the experiment's day of newsletters.
const PLAN_THE_NEWSLETTER: [&str; 8] = [
    "generate",
    "--period",
    "day",
    "--start",
    "2026-01-05",
    "--channels",
    "email",
    "--json",
];

async fn run(directory: &std::path::Path, args: &[&str]) -> Value {
    let output = command(directory).args(args).output().await.unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The newsletters the CRM received, as sent.
async fn posted(crm: &MockServer) -> Vec<Value> {
    crm.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|request| request.method.as_str() == "POST")
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect()
}

/// The newsletters the CRM received, by the arm of their split.
async fn sent(crm: &MockServer) -> Vec<(String, Value)> {
    posted(crm)
        .await
        .into_iter()
        .map(|body| (body["split"]["arm"].as_str().unwrap().to_owned(), body))
        .collect()
}

/// Plans the day, sends what is due, decides, sends again: the winner's
/// send to the rest as the CRM received it, and the experiment as shown.
async fn experiment_day(
    name: &str,
    opens_b: u64,
) -> (Value, Value, std::path::PathBuf, MockServer) {
    let crm = crm(opens_b).await;
    let directory = project(name, &crm);
    let plan = run(&directory, &PLAN_THE_NEWSLETTER).await;
    let arms: Vec<&str> = plan["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| post["experiment"]["arm"].as_str().unwrap())
        .collect();
    assert_eq!(arms, ["A", "B", "winner"], "{plan}");
    let experiment = plan["posts"][0]["experiment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The arms go out; the winner's send waits for the decision.
    let first = run(&directory, &["publish", "--due", "--json"]).await;
    assert_eq!(first["posts"].as_array().unwrap().len(), 2, "{first}");
    let bodies = sent(&crm).await;
    assert_eq!(bodies.len(), 2);
    for (arm, body) in &bodies {
        assert_eq!(
            body["split"],
            json!({"experiment": experiment, "arm": arm, "fraction": 0.15})
        );
        let subject = body["subject"].as_str().unwrap();
        match arm.as_str() {
            "A" => assert_eq!(subject, "This Week in Breathscape: Sleep timer fades out"),
            _ => assert_eq!(subject, "Fall asleep to the fade"),
        }
    }
    let running = run(&directory, &["experiments", "show", &experiment, "--json"]).await;
    assert_eq!(running["status"], "running", "{running}");
    let again = run(&directory, &["publish", "--due", "--json"]).await;
    assert_eq!(
        again["posts"].as_array().unwrap().len(),
        0,
        "the winner's send is held until the decision: {again}"
    );

    // ab.decide_after (1s) after the arms went out, the figures decide.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let decided = run(&directory, &["experiments", "decide", "--json"]).await;
    assert_eq!(
        decided["experiments"][0]["experiment"], experiment,
        "{decided}"
    );
    let rest = run(&directory, &["publish", "--due", "--json"]).await;
    assert_eq!(rest["posts"].as_array().unwrap().len(), 1, "{rest}");
    assert_eq!(rest["posts"][0]["status"], "published", "{rest}");
    let bodies = sent(&crm).await;
    assert_eq!(bodies.len(), 3, "nothing is sent twice");
    let (_, winner) = bodies.into_iter().find(|(arm, _)| arm == "winner").unwrap();
    assert_eq!(
        winner["split"],
        json!({"experiment": experiment, "arm": "winner", "rest": true})
    );
    let shown = run(&directory, &["experiments", "show", &experiment, "--json"]).await;
    // Deciding again changes nothing.
    let twice = run(&directory, &["experiments", "decide", "--json"]).await;
    assert_eq!(twice["experiments"], json!([]), "{twice}");
    (winner, shown, directory, crm)
}

#[tokio::test]
async fn the_arm_with_the_higher_open_rate_goes_to_the_rest() {
    let (winner, shown, directory, _crm) = experiment_day("experiments-winner", 340).await;
    assert_eq!(winner["subject"], "Fall asleep to the fade");
    assert_eq!(shown["status"], "decided", "{shown}");
    let decision = &shown["decision"];
    assert_eq!(decision["winner"], "B");
    assert_eq!(decision["inconclusive"], false);
    assert_eq!(decision["rate"], "open_rate");
    assert_eq!(decision["reason"], "B's open_rate 34.0% beats A's 21.0%");
    assert_eq!(decision["a"]["figures"]["unique_opens"], 210.0);
    assert_eq!(decision["b"]["figures"]["unique_opens"], 340.0);
    let arms: Vec<(&str, &str)> = shown["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arm| {
            (
                arm["arm"].as_str().unwrap(),
                arm["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        arms,
        [
            ("A", "published"),
            ("B", "published"),
            ("winner", "published")
        ]
    );

    // The same over HTTP.
    let living = directory.join("living.md").display().to_string();
    let data = directory.join("data").display().to_string();
    let server = Server::start(
        "experiments-serve",
        &[
            ("HALCYTONE__SOURCE__PATH", living.as_str()),
            ("HALCYTONE__DATA_DIR", data.as_str()),
            ("HALCYTONE__SERVER__API_TOKEN", "experiments-token-1234"),
            ("HALCYTONE__AB__DECIDE_AFTER", "1s"),
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: String| {
        client
            .get(server.url(&path))
            .bearer_auth("experiments-token-1234")
            .send()
    };
    let listed: Value = get("/experiments".to_owned())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["experiments"], json!([shown.clone()]));
    let id = shown["id"].as_str().unwrap();
    let one: Value = get(format!("/experiments/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one, shown);
    let missing = get("/experiments/exp_nope".to_owned()).await.unwrap();
    assert_eq!(missing.status(), 404);
    let problem: Value = missing.json().await.unwrap();
    assert_eq!(problem["detail"], "no experiment `exp_nope`");

    // And in the admin UI: the arms side by side with the decision.
    let signed_in = client
        .post(server.url("/admin/login"))
        .form(&[("token", "experiments-token-1234"), ("next", "/admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = client
        .get(server.url("/admin/experiments"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for text in [
        "Sleep timer fades out",
        "Fall asleep to the fade",
        "beats A&#x27;s 21.0%",
        "34.0%",
        "decided",
    ] {
        assert!(page.contains(text), "the page shows {text}: {page}");
    }
}

#[tokio::test]
async fn too_few_opens_are_inconclusive_and_the_rest_gets_arm_a() {
    let (winner, shown, _, _crm) = experiment_day("experiments-inconclusive", 60).await;
    assert_eq!(
        winner["subject"],
        "This Week in Breathscape: Sleep timer fades out"
    );
    assert_eq!(shown["status"], "inconclusive", "{shown}");
    assert_eq!(shown["decision"]["winner"], "A");
    assert!(
        shown["decision"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("too few unique_opens to decide (A 210, B 60; ab.min_sample is 100)"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_hook_b_puts_the_arms_in_two_x_slots_opening_differently() {
    let directory = scratch("experiments-x");
    std::fs::write(directory.join("living.md"), DOCUMENT).unwrap();
    std::fs::write(
        directory.join("halcytone.toml"),
        "[source]\npath = \"living.md\"\n",
    )
    .unwrap();
    let plan = run(
        &directory,
        &[
            "generate",
            "--period",
            "day",
            "--start",
            "2026-01-05",
            "--channels",
            "twitter",
            "--dry-run",
            "--json",
        ],
    )
    .await;
    let posts: Vec<(&str, &str, &str)> = plan["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|post| {
            (
                post["scheduled_at"].as_str().unwrap(),
                post["experiment"]["arm"].as_str().unwrap_or("-"),
                post["content"]["parts"][0]
                    .as_str()
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        posts,
        [
            ("2026-01-05T09:00:00Z", "A", "Sleep timer fades out"),
            (
                "2026-01-05T17:00:00Z",
                "B",
                "Your phone can fall asleep too"
            ),
        ],
        "{plan}"
    );
    assert_eq!(
        plan["posts"][0]["experiment"]["id"],
        plan["posts"][1]["experiment"]["id"]
    );
}

/// The document drops its `Subject B:` line before anything went out: the
/// stored arm B and winner's send are cancelled, the plan says so, and the
/// whole list gets the newsletter once, split no more.
#[tokio::test]
async fn a_subject_b_dropped_before_the_send_cancels_its_arms() {
    let crm = crm(340).await;
    Mock::given(method("POST"))
        .and(path("/api/v1/newsletters"))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"id": "nl_whole", "status": "scheduled"})),
        )
        .mount(&crm)
        .await;
    let directory = project("experiments-dropped", &crm);
    let plan = run(&directory, &PLAN_THE_NEWSLETTER).await;
    assert_eq!(plan["posts"].as_array().unwrap().len(), 3, "{plan}");
    let experiment = plan["posts"][0]["experiment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let arm_b = plan["posts"][1]["id"].as_str().unwrap().to_owned();
    let winner = plan["posts"][2]["id"].as_str().unwrap().to_owned();

    std::fs::write(
        directory.join("living.md"),
        DOCUMENT.replace("Subject B: Fall asleep to the fade\n", ""),
    )
    .unwrap();
    let replanned = run(&directory, &PLAN_THE_NEWSLETTER).await;
    let posts = replanned["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 1, "{replanned}");
    assert_eq!(posts[0]["experiment"], Value::Null, "{replanned}");
    let warnings: Vec<&str> = replanned["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for (id, which) in [(&arm_b, "arm B"), (&winner, "the winner's send")] {
        assert!(
            warnings.contains(&format!("cancelled {id} ({which} of {experiment}): `breathscape/sleep-timer-fades-out` no longer has its experiment's B line, and none of the experiment had gone out").as_str()),
            "{warnings:#?}"
        );
    }
    let shown = run(&directory, &["experiments", "show", &experiment, "--json"]).await;
    assert_eq!(shown["status"], "cancelled", "{shown}");

    let published = run(&directory, &["publish", "--due", "--json"]).await;
    assert_eq!(
        published["posts"].as_array().unwrap().len(),
        1,
        "{published}"
    );
    let again = run(&directory, &["publish", "--due", "--json"]).await;
    assert_eq!(again["posts"].as_array().unwrap().len(), 0, "{again}");
    let bodies = posted(&crm).await;
    assert_eq!(bodies.len(), 1, "one newsletter: {bodies:#?}");
    assert_eq!(bodies[0]["split"], Value::Null, "{bodies:#?}");
    assert_eq!(
        bodies[0]["subject"],
        "This Week in Breathscape: Sleep timer fades out"
    );
}
