//! Dispatch throughput: 10,000 due posts sent by one `halcytone publish --due`
//! (a release build) to a local emulation of the four APIs, rate limits off,
//! on SQLite and, when a server is given, on PostgreSQL. Prints posts per
//! second and the time from due to sent (p50, p99).
//!
//! Run through `cargo xtask bench`, which builds the release binary first.
//! PostgreSQL: set `HALCYTONE_BENCH_POSTGRES_URL` (or
//! `HALCYTONE_TEST_POSTGRES_URL`) to a server where databases may be created.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use halcytone_core::channel::Channel;
use halcytone_core::publisher::{PostId, PostStatus};
use halcytone_core::store::{NewPost, PlanRecord, PostFilter, Store};
use halcytone_e2e::root;
use halcytone_store::SqlStore;
use jiff::Timestamp;
use serde_json::{Value, json};

const POSTS: usize = 10_000;

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let api = start_api().await;
        let binary = std::env::var_os("HALCYTONE_BIN")
            .map_or_else(|| root().join("target/release/halcytone"), PathBuf::from);
        assert!(
            binary.is_file(),
            "{} is missing: run `cargo build --release -p halcytone-server` (cargo xtask bench does)",
            binary.display()
        );
        let directory = std::env::temp_dir().join(format!("halcytone-dispatch-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        let template = plan_template(&binary, &directory).await;
        let sqlite = format!("sqlite://{}/bench.db", directory.display());
        run_one("SQLite", &sqlite, &binary, &api, &template, &directory).await;
        match postgres_database().await {
            Some(url) => run_one("PostgreSQL", &url, &binary, &api, &template, &directory).await,
            None => println!(
                "PostgreSQL: skipped (set HALCYTONE_BENCH_POSTGRES_URL to a server where databases may be created)"
            ),
        }
        let _ = std::fs::remove_dir_all(&directory);
    });
}

/// One run: store 10,000 due posts, time one pass, read back the send times.
async fn run_one(
    label: &str,
    url: &str,
    binary: &Path,
    api: &str,
    template: &[Value],
    directory: &Path,
) {
    let store = SqlStore::connect(url).await.expect("the store opens");
    let now = Timestamp::now();
    let posts: Vec<NewPost> = (0..POSTS)
        .map(|n| {
            let source = &template[n % template.len()];
            NewPost {
                id: PostId(format!("post_bench{n:06}")),
                channel: Channel::parse(source["channel"].as_str().unwrap()).unwrap(),
                // Due a minute before the pass starts.
                scheduled_at: now - Duration::from_secs(60),
                item_id: source["item"]["id"].as_str().unwrap().to_owned(),
                item: source["item"].clone(),
                includes: Vec::new(),
                status: PostStatus::Scheduled,
                locale: "en-GB".to_owned(),
                segment: None,
                experiment: None,
                content: source["content"].clone(),
                request: source["requests"].clone(),
            }
        })
        .collect();
    let record = PlanRecord {
        id: "plan_bench".to_owned(),
        period: "92d".to_owned(),
        start: "2026-01-01".to_owned(),
        timezone: "UTC".to_owned(),
        warnings: Vec::new(),
    };
    for chunk in posts.chunks(1_000) {
        store.save_plan(&record, chunk).await.expect("posts stored");
    }

    let started = Instant::now();
    let pass_start = Timestamp::now();
    let output = Command::new(binary)
        .args(["publish", "--due", "--json"])
        .current_dir(directory)
        .env("HALCYTONE__STORE__URL", url)
        .env("HALCYTONE_LOG", "warn")
        .envs(channel_environment(api))
        .output()
        .expect("halcytone runs");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "publish --due failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let published = store
        .posts(&PostFilter {
            status: Some(PostStatus::Published),
            ..PostFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(published.len(), POSTS, "every post published");
    // Every post was due when the pass began, so due → sent is measured from then.
    let mut latencies: Vec<f64> = published
        .iter()
        .filter_map(|post| post.published_at)
        .map(|sent| sent.duration_since(pass_start).as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{label}: {POSTS} posts in {:.2} s = {:.0} posts/s; due → sent p50 {:.0} ms, p99 {:.0} ms",
        elapsed.as_secs_f64(),
        POSTS as f64 / elapsed.as_secs_f64(),
        percentile(0.50),
        percentile(0.99)
    );
}

/// The posts of 92 days of the 600-item document, rendered (a dry run).
async fn plan_template(binary: &Path, directory: &Path) -> Vec<Value> {
    let document = root().join("tests/benches/data/doc-600.md");
    let output = Command::new(binary)
        .args([
            "generate",
            "--period",
            "92d",
            "--start",
            "2026-01-05",
            "--dry-run",
            "--json",
            "--doc",
        ])
        .arg(document)
        .current_dir(directory)
        .env("HALCYTONE_LOG", "warn")
        .output()
        .expect("halcytone runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    plan["posts"].as_array().unwrap().clone()
}

fn channel_environment(api: &str) -> Vec<(String, String)> {
    [
        ("HALCYTONE__CHANNELS__EMAIL__BASE_URL", api),
        ("HALCYTONE__CHANNELS__EMAIL__API_KEY", "crm-key"),
        ("HALCYTONE__CHANNELS__EMAIL__LIST_ID", "newsletter-main"),
        ("HALCYTONE__CHANNELS__WEB__BASE_URL", api),
        ("HALCYTONE__CHANNELS__WEB__API_KEY", "platform-key"),
        ("HALCYTONE__CHANNELS__TWITTER__BASE_URL", api),
        ("HALCYTONE__CHANNELS__TWITTER__BEARER_TOKEN", "x-token"),
        ("HALCYTONE__CHANNELS__LINKEDIN__BASE_URL", api),
        ("HALCYTONE__CHANNELS__LINKEDIN__ACCESS_TOKEN", "li-token"),
        (
            "HALCYTONE__CHANNELS__LINKEDIN__AUTHOR_URN",
            "urn:li:organization:123456",
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

/// A local emulation of the four create endpoints, answering at once with
/// a new id each time.
async fn start_api() -> String {
    let next = Arc::new(AtomicU64::new(1));
    let id = move || next.fetch_add(1, Ordering::Relaxed);
    let (tweet, share, newsletter, content) = (id.clone(), id.clone(), id.clone(), id);
    let router = Router::new()
        .route(
            "/2/tweets",
            post(move || async move {
                (StatusCode::CREATED, axum::Json(json!({"data": {"id": (2_099_000_000 + tweet()).to_string(), "text": "…"}})))
            }),
        )
        .route(
            "/rest/posts",
            post(move || async move {
                let mut headers = HeaderMap::new();
                headers.insert("x-restli-id", format!("urn:li:share:{}", share()).parse().unwrap());
                (StatusCode::CREATED, headers).into_response()
            }),
        )
        .route(
            "/api/v1/newsletters",
            post(move || async move {
                (StatusCode::ACCEPTED, axum::Json(json!({"id": format!("nl_{}", newsletter()), "status": "scheduled"})))
            }),
        )
        .route(
            "/api/v1/content",
            post(move || async move {
                let id = content();
                (StatusCode::CREATED, axum::Json(json!({"id": format!("c_{id}"), "url": format!("https://halcytone.example/blog/{id}"), "status": "scheduled"})))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

/// A fresh database on the PostgreSQL server named by the environment.
async fn postgres_database() -> Option<String> {
    let url = std::env::var("HALCYTONE_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("HALCYTONE_TEST_POSTGRES_URL"))
        .ok()?;
    let database = format!("halcytone_bench_{}", std::process::id());
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("the PostgreSQL server answers");
    for statement in [
        format!("DROP DATABASE IF EXISTS {database}"),
        format!("CREATE DATABASE {database}"),
    ] {
        sqlx::Executor::execute(&mut connection, sqlx::AssertSqlSafe(statement))
            .await
            .unwrap();
    }
    let (server, _) = url.rsplit_once('/')?;
    Some(format!("{server}/{database}"))
}
