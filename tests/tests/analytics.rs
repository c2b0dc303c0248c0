//! Analytics (PRODUCT §13) against emulations of the four APIs: a day's
//! posts go out, `analytics fetch` reads their figures, and `report --json`,
//! `GET /analytics` and `/metrics` total exactly what the platforms said. A
//! later reading is the one reported, and a failing platform leaves the
//! others, and its own earlier figures, alone.

use std::sync::atomic::{AtomicU64, Ordering};

use halcytone_e2e::{Server, command, scratch};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// X: creates posts with ids 1, 2, 3 … (offset), and reports each id's
/// figures as `impressions = 1000 + n`, `likes = n` (times `scale`).
struct X {
    next: AtomicU64,
    scale: u64,
}

const X_BASE: u64 = 1_900_000_000_000_000_000;

impl Respond for X {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.method.as_str() == "POST" {
            let id = X_BASE + self.next.fetch_add(1, Ordering::SeqCst) + 1;
            return ResponseTemplate::new(201)
                .set_body_json(json!({"data": {"id": id.to_string(), "text": "…"}}));
        }
        let ids = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "ids")
            .map(|(_, ids)| ids.into_owned())
            .unwrap_or_default();
        let data: Vec<Value> = ids
            .split(',')
            .map(|id| {
                let n = id.parse::<u64>().unwrap() - X_BASE;
                json!({"id": id, "text": "…", "public_metrics": {
                    "impression_count": (1000 + n) * self.scale, "like_count": n * self.scale,
                    "retweet_count": 1, "reply_count": 0, "quote_count": 0, "bookmark_count": 0
                }})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
    }
}

struct Apis {
    email: MockServer,
    web: MockServer,
    twitter: MockServer,
    linkedin: MockServer,
}

impl Apis {
    async fn start() -> Self {
        let apis = Self {
            email: MockServer::start().await,
            web: MockServer::start().await,
            twitter: MockServer::start().await,
            linkedin: MockServer::start().await,
        };
        Mock::given(method("POST"))
            .and(path("/api/v1/newsletters"))
            .respond_with(
                ResponseTemplate::new(202)
                    .set_body_json(json!({"id": "nl_8f2c", "status": "scheduled"})),
            )
            .mount(&apis.email)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/v1/content"))
            .respond_with(ResponseTemplate::new(201).set_body_json(
                json!({"id": "cnt_1", "url": "https://halcytone.example/a", "status": "scheduled"}),
            ))
            .mount(&apis.web)
            .await;
        Mock::given(method("POST"))
            .and(path("/rest/posts"))
            .respond_with(
                ResponseTemplate::new(201)
                    .insert_header("x-restli-id", "urn:li:share:7373456789012345678"),
            )
            .mount(&apis.linkedin)
            .await;
        apis
    }

    /// The figures each platform reports, `scale` times the first ones.
    async fn report_figures(&self, scale: u64) {
        Mock::given(method("GET"))
            .and(path("/api/v1/newsletters/nl_8f2c/stats"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "nl_8f2c", "sent": 2000, "delivered": 1980, "opens": 1300 * scale,
                "unique_opens": 990 * scale, "clicks": 200, "unique_clicks": 99 * scale,
                "unsubscribes": 3, "bounces": 20, "updated_at": "2026-01-05T12:00:00Z"
            })))
            .with_priority(u8::try_from(10 - scale).unwrap())
            .mount(&self.email)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/content/cnt_1/stats"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "cnt_1", "views": 640 * scale, "unique_visitors": 500, "avg_read_seconds": 81.5
            })))
            .with_priority(u8::try_from(10 - scale).unwrap())
            .mount(&self.web)
            .await;
        Mock::given(method("GET"))
            .and(path(
                "/rest/socialActions/urn%3Ali%3Ashare%3A7373456789012345678",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "likesSummary": {"totalLikes": 40 * scale},
                "commentsSummary": {"aggregatedTotalComments": 6}
            })))
            .with_priority(u8::try_from(10 - scale).unwrap())
            .mount(&self.linkedin)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/organizationalEntityShareStatistics"))
            .and(query_param(
                "shares",
                "List(urn:li:share:7373456789012345678)",
            ))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"elements": [{
                    "totalShareStatistics": {"impressionCount": 2500 * scale, "clickCount": 90,
                        "shareCount": 4, "engagement": 0.056}
                }]})),
            )
            .with_priority(u8::try_from(10 - scale).unwrap())
            .mount(&self.linkedin)
            .await;
    }

    fn environment(&self) -> Vec<(&'static str, String)> {
        vec![
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
    }
}

async fn run(
    directory: &std::path::Path,
    environment: &[(&'static str, String)],
    arguments: &[&str],
) -> Value {
    let output = command(directory)
        .args(arguments)
        .envs(
            environment
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        )
        .output()
        .await
        .expect("halcytone runs");
    assert!(
        output.status.success(),
        "{arguments:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn totals(report: &Value, channel: &str) -> Value {
    report["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["channel"] == channel)
        .unwrap_or_else(|| panic!("no {channel} in {report}"))["totals"]
        .clone()
}

const DAY: [&str; 4] = ["--period", "day", "--start", "2026-01-05"];

#[tokio::test]
async fn reports_total_what_the_platforms_reported() {
    let apis = Apis::start().await;
    let x = X {
        next: AtomicU64::new(0),
        scale: 1,
    };
    Mock::given(path("/2/tweets"))
        .respond_with(x)
        .mount(&apis.twitter)
        .await;
    apis.report_figures(1).await;
    let environment = apis.environment();
    let directory = scratch("analytics");

    let published = run(
        &directory,
        &environment,
        &[&["generate"], &DAY[..], &["--publish-now", "--json"]].concat(),
    )
    .await;
    assert!(
        published["posts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|post| post["outcome"] == "published"),
        "{published}"
    );
    let fetched = run(
        &directory,
        &environment,
        &["analytics", "fetch", "--since", "3650d", "--json"],
    )
    .await;
    assert!(
        fetched["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|line| line.get("error").is_none() && line["readings"].as_u64() > Some(0)),
        "{fetched}"
    );

    // X: every part of every post asked about in one call, and summed.
    let created = apis
        .twitter
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|request| request.method.as_str() == "POST")
        .count() as u64;
    assert!(created >= 2, "two posts, one of them maybe a thread");
    let reads: Vec<String> = apis
        .twitter
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|request| request.method.as_str() == "GET")
        .map(|request| request.url.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert!(
        reads[0].ends_with("&tweet.fields=public_metrics"),
        "{reads:?}"
    );
    let report = run(
        &directory,
        &environment,
        &[&["report"], &DAY[..], &["--json"]].concat(),
    )
    .await;
    let n: u64 = (1..=created).sum();
    assert_eq!(
        totals(&report, "twitter")["impressions"],
        json!((1000 * created + n) as f64),
        "{report}"
    );
    assert_eq!(totals(&report, "twitter")["likes"], json!(n as f64));
    assert_eq!(totals(&report, "email")["unique_opens"], json!(990.0));
    assert_eq!(totals(&report, "email")["delivered"], json!(1980.0));
    assert_eq!(totals(&report, "web")["views"], json!(640.0));
    assert_eq!(totals(&report, "web")["avg_read_seconds"], json!(81.5));
    assert_eq!(totals(&report, "linkedin")["likes"], json!(40.0));
    assert_eq!(totals(&report, "linkedin")["impressions"], json!(2500.0));
    let email = report["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["channel"] == "email")
        .unwrap();
    assert_eq!(email["rates"]["open_rate"], json!(990.0 / 1980.0));
    assert_eq!(report["posts"].as_array().unwrap().len(), 5, "{report}");
    assert!(!report["top"].as_array().unwrap().is_empty());

    // Later figures are what the report shows; the CRM failing this time
    // keeps its last figures and stops no other channel.
    apis.report_figures(2).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/newsletters/nl_8f2c/stats"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .with_priority(1)
        .mount(&apis.email)
        .await;
    let fetched = run(
        &directory,
        &environment,
        &["analytics", "fetch", "--since", "3650d", "--json"],
    )
    .await;
    let lines = fetched["channels"].as_array().unwrap();
    let email_line = lines
        .iter()
        .find(|line| line["channel"] == "email")
        .unwrap();
    assert!(
        email_line["error"].as_str().unwrap().contains("503"),
        "{fetched}"
    );
    let report = run(
        &directory,
        &environment,
        &[&["report"], &DAY[..], &["--json"]].concat(),
    )
    .await;
    assert_eq!(totals(&report, "web")["views"], json!(1280.0), "{report}");
    assert_eq!(totals(&report, "linkedin")["impressions"], json!(5000.0));
    assert_eq!(totals(&report, "email")["unique_opens"], json!(990.0));

    // The same figures over HTTP, and per-channel totals at /metrics.
    let mut serving: Vec<(&str, String)> = environment
        .iter()
        .map(|(name, value)| (*name, value.clone()))
        .collect();
    serving.push((
        "HALCYTONE__DATA_DIR",
        directory.join("data").display().to_string(),
    ));
    serving.push(("HALCYTONE__ANALYTICS__INTERVAL", "200ms".to_owned()));
    serving.push((
        "HALCYTONE__SERVER__API_TOKEN",
        "analytics-token-1234".to_owned(),
    ));
    let borrowed: Vec<(&str, &str)> = serving
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let server = Server::start("analytics-serve", &borrowed).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let over_http: Value = client
        .get(server.url("/analytics?from=2026-01-05&to=2026-01-06"))
        .bearer_auth("analytics-token-1234")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["channels"], report["channels"]);
    let mut exposed = String::new();
    for _ in 0..50 {
        exposed = client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if exposed.contains("halcytone_analytics_total") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        exposed.contains("halcytone_analytics_total{channel=\"web\",metric=\"views\"} 1280"),
        "{exposed}"
    );

    // The admin UI: a chart per channel over the weeks, and each post's
    // figures on its page.
    let signed_in = client
        .post(server.url("/admin/login"))
        .form(&[("token", "analytics-token-1234"), ("next", "/admin")])
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
    let page = |path: String| {
        let client = client.clone();
        let session = session.clone();
        let url = server.url(&path);
        async move {
            let response = client
                .get(url)
                .header("cookie", session)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.text().await.unwrap()
        }
    };
    let charts = page("/admin/analytics?week=2026-01-05".to_owned()).await;
    for expected in [
        "<h2 id=\"chart-web\"><span class=\"chip ch-web\">Website</span> views</h2>",
        "<tr><td>5 Jan</td><td>1,280</td></tr>",
        "<tr><td>29 Dec</td><td>—</td></tr>",
        "<h2 id=\"chart-linkedin\"><span class=\"chip ch-linkedin\">LinkedIn</span> impressions</h2>",
        "<tr><td>5 Jan</td><td>5,000</td></tr>",
        "<rect x=\"284\" y=\"0\" width=\"32\" height=\"100\"></rect>",
    ] {
        assert!(charts.contains(expected), "{expected} not in {charts}");
    }
    let web_post = report["posts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|post| post["channel"] == "web")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post_page = page(format!("/admin/posts/{web_post}")).await;
    assert!(
        post_page.contains("<tr><th scope=\"row\">views</th><td>1,280</td></tr>"),
        "{post_page}"
    );
    assert!(post_page.contains("<tr><th scope=\"row\">avg read seconds</th><td>81.50</td></tr>"));
    let bad = client
        .get(server.url("/admin/analytics?week=soon"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
