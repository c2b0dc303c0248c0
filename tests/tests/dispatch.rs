//! The dispatcher as users run it: `halcytone serve` sending due posts to
//! emulations of the four APIs, killed with SIGKILL at random moments and
//! restarted, then `posts reconcile` (nothing lost, nothing sent twice,
//! nothing left unconfirmed); two replicas sharing one PostgreSQL queue; a
//! graceful shutdown; and `publish --due`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use halcytone_e2e::{root, scratch};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What an emulated API created: its id, the request body and when.
#[derive(Debug, Clone)]
struct Created {
    id: u64,
    body: Value,
    at: jiff::Timestamp,
}

/// An API that answers every create with a new id, and the same id again
/// for a request whose idempotency key it has seen (as the CRM and the
/// Platform do). Each answer takes `latency`, so kills land mid-request; a
/// create is applied when it arrives, answered or not, as a real API does.
struct Emulated {
    channel: &'static str,
    latency: Duration,
    next: AtomicU64,
    by_key: Mutex<HashMap<String, u64>>,
    created: Arc<Mutex<Vec<Created>>>,
}

impl Respond for Emulated {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = request
            .headers
            .get("idempotency-key")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let id = match key {
            Some(key) => *self
                .by_key
                .lock()
                .unwrap()
                .entry(key)
                .or_insert_with(|| self.next.fetch_add(1, Ordering::SeqCst)),
            None => self.next.fetch_add(1, Ordering::SeqCst),
        };
        self.created.lock().unwrap().push(Created {
            id,
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
            at: jiff::Timestamp::now(),
        });
        let answer = match self.channel {
            "twitter" => ResponseTemplate::new(201)
                .set_body_json(json!({"data": {"id": format!("{}", 2_099_000_000 + id), "text": "…"}})),
            "linkedin" => ResponseTemplate::new(201)
                .insert_header("x-restli-id", format!("urn:li:share:{id}").as_str()),
            "email" => ResponseTemplate::new(202)
                .set_body_json(json!({"id": format!("nl_{id}"), "status": "scheduled"})),
            _ => ResponseTemplate::new(201).set_body_json(json!({
                "id": format!("c_{id}"), "url": format!("https://halcytone.example/blog/{id}"), "status": "scheduled",
            })),
        };
        answer.set_delay(self.latency)
    }
}

struct Apis {
    servers: Vec<(&'static str, MockServer)>,
    created: Vec<Arc<Mutex<Vec<Created>>>>,
}

/// X's look-ups over what the emulation created: the account, and its
/// posts newest first, a page of `max_results` at a time.
struct XTimeline(Arc<Mutex<Vec<Created>>>);

impl Respond for XTimeline {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.url.path() == "/2/users/me" {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": "7", "username": "halcytone"}}));
        }
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let size: usize = query["max_results"].parse().unwrap();
        let from: usize = query
            .get("pagination_token")
            .map_or(0, |token| token.parse().unwrap());
        let created = self.0.lock().unwrap();
        let newest_first: Vec<Value> = created
            .iter()
            .rev()
            .map(|post| {
                let mut shown = json!({"id": format!("{}", 2_099_000_000 + post.id), "text": post.body["text"]});
                if let Some(to) = post.body["reply"]["in_reply_to_tweet_id"].as_str() {
                    shown["referenced_tweets"] = json!([{"type": "replied_to", "id": to}]);
                }
                shown
            })
            .collect();
        let page: Vec<&Value> = newest_first.iter().skip(from).take(size).collect();
        let mut meta = json!({"result_count": page.len()});
        if from + size < newest_first.len() {
            meta["next_token"] = json!((from + size).to_string());
        }
        ResponseTemplate::new(200).set_body_json(json!({"data": page, "meta": meta}))
    }
}

/// LinkedIn's author finder over what the emulation created, newest first.
struct LinkedinPosts(Arc<Mutex<Vec<Created>>>);

impl Respond for LinkedinPosts {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let count: usize = query["count"].parse().unwrap();
        let start: usize = query["start"].parse().unwrap();
        let created = self.0.lock().unwrap();
        let elements: Vec<Value> = created
            .iter()
            .rev()
            .skip(start)
            .take(count)
            .map(|post| {
                json!({
                    "id": format!("urn:li:share:{}", post.id),
                    "author": post.body["author"],
                    "commentary": post.body["commentary"],
                    "createdAt": post.at.as_millisecond(),
                })
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(
            json!({"elements": elements, "paging": {"start": start, "count": count}}),
        )
    }
}

impl Apis {
    async fn start(latency: Duration) -> Self {
        let mut servers = Vec::new();
        let mut all_created = Vec::new();
        for (channel, route) in [
            ("email", "/api/v1/newsletters"),
            ("web", "/api/v1/content"),
            ("twitter", "/2/tweets"),
            ("linkedin", "/rest/posts"),
        ] {
            let server = MockServer::start().await;
            let created = Arc::new(Mutex::new(Vec::new()));
            all_created.push(Arc::clone(&created));
            Mock::given(method("POST"))
                .and(path(route))
                .respond_with(Emulated {
                    channel,
                    latency,
                    next: AtomicU64::new(1),
                    by_key: Mutex::new(HashMap::new()),
                    created: Arc::clone(&created),
                })
                .mount(&server)
                .await;
            match channel {
                "twitter" => {
                    Mock::given(method("GET"))
                        .respond_with(XTimeline(created))
                        .mount(&server)
                        .await;
                }
                "linkedin" => {
                    Mock::given(method("GET"))
                        .and(path(route))
                        .respond_with(LinkedinPosts(created))
                        .mount(&server)
                        .await;
                }
                _ => {}
            }
            servers.push((channel, server));
        }
        Self {
            servers,
            created: all_created,
        }
    }

    fn uri(&self, channel: &str) -> String {
        self.servers
            .iter()
            .find(|(name, _)| *name == channel)
            .map(|(_, server)| server.uri())
            .unwrap()
    }

    fn environment(&self) -> Vec<(String, String)> {
        [
            ("HALCYTONE__CHANNELS__EMAIL__BASE_URL", self.uri("email")),
            (
                "HALCYTONE__CHANNELS__EMAIL__API_KEY",
                "crm-secret".to_owned(),
            ),
            (
                "HALCYTONE__CHANNELS__EMAIL__LIST_ID",
                "newsletter-main".to_owned(),
            ),
            ("HALCYTONE__CHANNELS__WEB__BASE_URL", self.uri("web")),
            (
                "HALCYTONE__CHANNELS__WEB__API_KEY",
                "platform-secret".to_owned(),
            ),
            (
                "HALCYTONE__CHANNELS__TWITTER__BASE_URL",
                self.uri("twitter"),
            ),
            (
                "HALCYTONE__CHANNELS__TWITTER__BEARER_TOKEN",
                "x-secret".to_owned(),
            ),
            (
                "HALCYTONE__CHANNELS__LINKEDIN__BASE_URL",
                self.uri("linkedin"),
            ),
            (
                "HALCYTONE__CHANNELS__LINKEDIN__ACCESS_TOKEN",
                "li-secret".to_owned(),
            ),
            (
                "HALCYTONE__CHANNELS__LINKEDIN__AUTHOR_URN",
                "urn:li:organization:123456".to_owned(),
            ),
            ("HALCYTONE__APPROVAL__REQUIRED", "false".to_owned()),
            ("HALCYTONE__RESILIENCE__MIN_DELAY", "10ms".to_owned()),
            ("HALCYTONE__RESILIENCE__MAX_DELAY", "50ms".to_owned()),
            ("HALCYTONE__DISPATCHER__LEASE", "2s".to_owned()),
            ("HALCYTONE__DISPATCHER__POLL_INTERVAL", "100ms".to_owned()),
            ("HALCYTONE__DISPATCHER__BATCH", "8".to_owned()),
            ("HALCYTONE__DISPATCHER__CONCURRENCY", "2".to_owned()),
            ("HALCYTONE__DISPATCHER__SHUTDOWN_GRACE", "5s".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// How many creates were in flight at `moment`: arrived less than
    /// `latency` before it, so not yet answered.
    fn in_flight_at(&self, moment: jiff::Timestamp, latency: Duration) -> usize {
        self.created
            .iter()
            .map(|created| {
                created
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|post| {
                        post.at <= moment
                            && moment.duration_since(post.at) < latency.try_into().unwrap()
                    })
                    .count()
            })
            .sum()
    }

    /// Every create each channel received (look-ups left out).
    async fn received(&self) -> BTreeMap<&'static str, Vec<Request>> {
        let mut received = BTreeMap::new();
        for (channel, server) in &self.servers {
            let mut requests = server.received_requests().await.unwrap();
            requests.retain(|request| request.method.as_str() == "POST");
            received.insert(*channel, requests);
        }
        received
    }
}

fn command(directory: &Path, environment: &[(String, String)]) -> Command {
    let mut command = halcytone_e2e::command(directory);
    command.envs(
        environment
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    command
}

/// Runs a one-off command to completion.
async fn run(directory: &Path, environment: &[(String, String)], arguments: &[&str]) -> Value {
    let output = command(directory, environment)
        .args(arguments)
        .output()
        .await
        .expect("halcytone runs");
    assert!(
        output.status.success(),
        "halcytone {arguments:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if arguments.contains(&"--json") {
        serde_json::from_slice(&output.stdout).expect("JSON output")
    } else {
        Value::Null
    }
}

/// Stores `days` days of posts from the 600-item document, starting
/// `days_ago` days ago, so that every one is due.
async fn store_due_posts(
    directory: &Path,
    environment: &[(String, String)],
    days_ago: i64,
    days: i64,
) -> usize {
    let start = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .checked_sub(jiff::Span::new().days(days_ago))
        .unwrap()
        .to_string();
    let document = root().join("tests/benches/data/doc-600.md");
    let plan = run(
        directory,
        environment,
        &[
            "generate",
            "--period",
            &format!("{days}d"),
            "--start",
            &start,
            "--doc",
            document.to_str().unwrap(),
            "--json",
        ],
    )
    .await;
    plan["posts"].as_array().unwrap().len()
}

async fn stored_posts(directory: &Path, environment: &[(String, String)]) -> Vec<Value> {
    run(directory, environment, &["posts", "list", "--json"])
        .await
        .as_array()
        .unwrap()
        .clone()
}

fn count(posts: &[Value], status: &str) -> usize {
    posts.iter().filter(|post| post["status"] == status).count()
}

/// A running `halcytone serve`, its log kept in a file.
struct Serve {
    child: Child,
    /// Where it listens: `http://127.0.0.1:<port>`.
    base: String,
}

impl Serve {
    async fn start(directory: &Path, environment: &[(String, String)], log: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = command(directory, environment)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("halcytone serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("halcytone serve prints its address")
        .unwrap();
        let base = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|base| base.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Self { child, base }
    }

    /// Its `/metrics` text.
    async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// SIGTERM, then the exit status (within `bound`).
    async fn terminate(mut self, bound: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success());
        tokio::time::timeout(bound, self.child.wait())
            .await
            .expect("serve exits soon after SIGTERM")
            .unwrap()
    }
}

/// Waits until no post is scheduled or publishing.
async fn settled(
    directory: &Path,
    environment: &[(String, String)],
    within: Duration,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let posts = stored_posts(directory, environment).await;
        if count(&posts, "scheduled") + count(&posts, "publishing") == 0 {
            return posts;
        }
        let waiting: Vec<&Value> = posts
            .iter()
            .filter(|post| post["status"] == "scheduled" || post["status"] == "publishing")
            .collect();
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} posts still waiting, for example {:#}",
            waiting.len(),
            waiting[0]
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The post a request was sent for: its `X-Request-Id` starts with the post id.
fn post_of(request: &Request) -> String {
    let id = request
        .headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .expect("every request carries a correlation id");
    id.split('-').next().unwrap().to_owned()
}

/// Checks that every post is published or unconfirmed, then what the APIs
/// received (see [`check_sent_at_most_once`]). Returns how many posts are
/// unconfirmed.
fn check_exactly_once(posts: &[Value], received: &BTreeMap<&'static str, Vec<Request>>) -> usize {
    for post in posts {
        let status = post["status"].as_str().unwrap();
        assert!(
            status == "published" || status == "unconfirmed",
            "{} is {status}",
            post["id"]
        );
    }
    check_sent_at_most_once(posts, received)
}

/// Checks what the APIs received against the store: a published post's parts
/// each received exactly once (on the channels with idempotency keys: every
/// request of a post carries the same key and body, the API saw one key per
/// post, and the post is published); any other post's parts at most once;
/// nothing received for a post that is not stored. Returns how many posts are
/// unconfirmed.
fn check_sent_at_most_once(
    posts: &[Value],
    received: &BTreeMap<&'static str, Vec<Request>>,
) -> usize {
    let by_id: HashMap<&str, &Value> = posts
        .iter()
        .map(|post| (post["id"].as_str().unwrap(), post))
        .collect();
    for (channel, requests) in received {
        let mut per_post: BTreeMap<String, Vec<&Request>> = BTreeMap::new();
        for request in requests {
            per_post.entry(post_of(request)).or_default().push(request);
        }
        for (id, requests) in &per_post {
            let post = by_id
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{channel} received a request for unknown post {id}"));
            assert_eq!(post["channel"], *channel);
            let published = post["status"] == "published";
            if matches!(*channel, "email" | "web") {
                let key = format!("halcytone-{id}");
                for request in requests {
                    assert_eq!(request.headers["idempotency-key"], key.as_str());
                    assert_eq!(request.body, requests[0].body, "{id}: same key, same body");
                }
                assert!(published, "{channel} post {id} is {}", post["status"]);
            } else {
                // Each part (a distinct body) went out at most once.
                let mut bodies: Vec<&[u8]> = requests
                    .iter()
                    .map(|request| request.body.as_slice())
                    .collect();
                bodies.sort_unstable();
                let parts = bodies.len();
                bodies.dedup();
                assert_eq!(
                    bodies.len(),
                    parts,
                    "{channel} post {id} received a part twice"
                );
                if published {
                    let ids = post["external_ids"].as_array().unwrap().len();
                    assert_eq!(parts, ids, "{channel} post {id}: one request per part");
                }
            }
        }
        for post in posts
            .iter()
            .filter(|post| post["channel"] == *channel && post["status"] == "published")
        {
            assert!(
                per_post.contains_key(post["id"].as_str().unwrap()),
                "{channel} never received published post {}",
                post["id"]
            );
        }
    }
    count(posts, "unconfirmed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_survives_sigkill_at_random_moments_and_reconciles_every_unconfirmed_post() {
    const KILLS: usize = 8;
    const LATENCY: Duration = Duration::from_millis(60);
    let seed = std::env::var("HALCYTONE_CRASH_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(20_261_127_u64);
    let mut random = fastrand::Rng::with_seed(seed);
    let apis = Apis::start(LATENCY).await;
    let mut environment = apis.environment();
    // The social channels' rate limits are on, as in production.
    for (name, value) in [
        ("HALCYTONE__CHANNELS__TWITTER__RATE_LIMIT", "20/1s"),
        ("HALCYTONE__CHANNELS__LINKEDIN__RATE_LIMIT", "20/1s"),
        ("HALCYTONE__DISPATCHER__RECONCILE_AFTER", "1s"),
    ] {
        environment.push((name.to_owned(), value.to_owned()));
    }
    let directory = scratch("crash");
    let log = directory.join("serve.log");
    let stored = store_due_posts(&directory, &environment, 90, 84).await;
    assert_eq!(stored, 300, "the 84 days of doc-600 hold 300 posts");

    let mut in_flight_kills = 0;
    for kill in 1..=KILLS {
        let serve = Serve::start(&directory, &environment, &log).await;
        let after = Duration::from_millis(random.u64(150..1_500));
        tokio::time::sleep(after).await;
        // Aim the kill at a request in flight, as a crash usually finds
        // one: wait (up to a second) for a request that has half its
        // answer's latency left, so a loaded machine's timing does not
        // decide where the kills land.
        for _ in 0..200 {
            if apis.in_flight_at(jiff::Timestamp::now(), LATENCY / 2) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let moment = jiff::Timestamp::now();
        serve.kill().await;
        let in_flight = apis.in_flight_at(moment, LATENCY);
        in_flight_kills += usize::from(in_flight > 0);
        let posts = stored_posts(&directory, &environment).await;
        eprintln!(
            "kill {kill} after {} ms with {in_flight} requests in flight: {} published, {} publishing, {} unconfirmed, {} scheduled",
            after.as_millis(),
            count(&posts, "published"),
            count(&posts, "publishing"),
            count(&posts, "unconfirmed"),
            count(&posts, "scheduled"),
        );
    }
    assert!(
        in_flight_kills * 2 > KILLS,
        "only {in_flight_kills} of {KILLS} kills landed while requests were in flight"
    );
    let serve = Serve::start(&directory, &environment, &log).await;
    let posts = settled(&directory, &environment, Duration::from_secs(120)).await;
    let status = serve.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");

    assert_eq!(posts.len(), 300, "no post lost");
    let unconfirmed = check_exactly_once(&posts, &apis.received().await);
    eprintln!(
        "survived {KILLS} kills (seed {seed}): {} published, {unconfirmed} unconfirmed",
        count(&posts, "published")
    );
    // An unconfirmed post is one whose request was in flight at a kill, on a
    // channel without idempotency keys; its attempt says so.
    for post in posts.iter().filter(|post| post["status"] == "unconfirmed") {
        let id = post["id"].as_str().unwrap();
        let shown = run(&directory, &environment, &["posts", "show", id, "--json"]).await;
        let attempts = shown["attempts"].as_array().unwrap();
        assert!(
            attempts
                .iter()
                .any(|attempt| attempt["outcome"] == "unknown"
                    && attempt["error"]
                        .as_str()
                        .is_some_and(|error| error.contains("in flight"))),
            "{shown}"
        );
    }

    // Reconciliation finds each on its channel, or proves it absent and
    // queues it; one more pass sends those; nothing is left unconfirmed.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let reconciled = run(&directory, &environment, &["posts", "reconcile", "--json"]).await;
    let reconciled = reconciled["posts"].as_array().unwrap();
    assert_eq!(reconciled.len(), unconfirmed);
    for post in reconciled {
        assert!(
            post["status"] == "published" || post["status"] == "scheduled",
            "{post:#}"
        );
    }
    run(&directory, &environment, &["publish", "--due"]).await;
    let posts = stored_posts(&directory, &environment).await;
    assert_eq!(posts.len(), 300, "no post lost");
    assert_eq!(check_exactly_once(&posts, &apis.received().await), 0);
    assert_eq!(count(&posts, "published"), 300);
    eprintln!(
        "reconciled {} posts: {} found, {} proven absent and sent",
        reconciled.len(),
        reconciled
            .iter()
            .filter(|post| post["status"] == "published")
            .count(),
        reconciled
            .iter()
            .filter(|post| post["status"] == "scheduled")
            .count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_sends_finish_and_releases_the_rest() {
    // Each answer takes a second: SIGTERM lands while sends are in flight.
    let apis = Apis::start(Duration::from_secs(1)).await;
    let environment = apis.environment();
    let directory = scratch("sigterm");
    let stored = store_due_posts(&directory, &environment, 10, 7).await;
    let log = directory.join("serve.log");
    let serve = Serve::start(&directory, &environment, &log).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped_at = tokio::time::Instant::now();
    let status = serve.terminate(Duration::from_secs(10)).await;
    assert!(status.success(), "{status}");
    // Within the grace period (5 s here): in-flight sends took a second.
    assert!(stopped_at.elapsed() < Duration::from_secs(5));

    let posts = stored_posts(&directory, &environment).await;
    assert_eq!(posts.len(), stored);
    assert_eq!(count(&posts, "publishing"), 0, "every lease is released");
    assert_eq!(
        count(&posts, "unconfirmed"),
        0,
        "nothing was cut off mid-request"
    );
    let published = count(&posts, "published");
    assert!(published > 0, "the in-flight sends finished");
    assert_eq!(published + count(&posts, "scheduled"), stored);
    let unconfirmed = check_sent_at_most_once(&posts, &apis.received().await);
    assert_eq!(unconfirmed, 0);
}

/// A fresh PostgreSQL database on the test server, or `None` when no server
/// is configured (`HALCYTONE_TEST_POSTGRES_URL`, set by `.ci/run`).
async fn fresh_postgres_database(name: &str) -> Option<String> {
    let url = halcytone_core::testkit::required_service("HALCYTONE_TEST_POSTGRES_URL", name)?;
    let database = format!("{name}_{}", std::process::id());
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("the test PostgreSQL server answers");
    sqlx::Executor::execute(
        &mut connection,
        sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {database}")),
    )
    .await
    .unwrap();
    sqlx::Executor::execute(
        &mut connection,
        sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")),
    )
    .await
    .unwrap();
    let (server, _) = url.rsplit_once('/').unwrap();
    Some(format!("{server}/{database}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_queue_never_send_a_post_twice() {
    let Some(database) = fresh_postgres_database("halcytone_replicas").await else {
        return;
    };
    let apis = Apis::start(Duration::from_millis(5)).await;
    let mut environment = apis.environment();
    environment.push(("HALCYTONE__STORE__URL".to_owned(), database));
    let first_directory = scratch("replica-a");
    let second_directory = scratch("replica-b");
    let (first_log, second_log) = (
        first_directory.join("serve.log"),
        second_directory.join("serve.log"),
    );
    // Migrations run once, before both replicas race for the posts.
    assert!(
        stored_posts(&first_directory, &environment)
            .await
            .is_empty()
    );
    let first = Serve::start(&first_directory, &environment, &first_log).await;
    let second = Serve::start(&second_directory, &environment, &second_log).await;

    let stored = store_due_posts(&first_directory, &environment, 200, 92).await
        + store_due_posts(&first_directory, &environment, 100, 50).await;
    assert!(stored >= 450, "{stored} posts");
    let posts = settled(&first_directory, &environment, Duration::from_secs(180)).await;
    assert!(first.terminate(Duration::from_secs(15)).await.success());
    assert!(second.terminate(Duration::from_secs(15)).await.success());

    assert_eq!(posts.len(), stored);
    let unconfirmed = check_exactly_once(&posts, &apis.received().await);
    assert_eq!(unconfirmed, 0, "no replica died, so every outcome is known");
    let published_by = |log: &PathBuf| {
        std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .filter(|line| line.contains("\"Published.\""))
            .count()
    };
    let (by_first, by_second) = (published_by(&first_log), published_by(&second_log));
    eprintln!("{stored} posts: replica A published {by_first}, replica B {by_second}");
    assert_eq!(by_first + by_second, stored);
    assert!(by_first > 0 && by_second > 0, "both replicas took work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_due_sends_what_is_due_and_a_dry_run_changes_nothing() {
    let apis = Apis::start(Duration::ZERO).await;
    let environment = apis.environment();
    let directory = scratch("publish-due");
    let stored = store_due_posts(&directory, &environment, 10, 3).await;

    let preview = run(
        &directory,
        &environment,
        &["publish", "--due", "--dry-run", "--json"],
    )
    .await;
    assert_eq!(preview["due"].as_array().unwrap().len(), stored);
    let first = &preview["due"][0];
    assert!(
        first["requests"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let rendered = preview.to_string();
    for secret in ["crm-secret", "platform-secret", "x-secret", "li-secret"] {
        assert!(!rendered.contains(secret), "{secret} leaked");
    }
    assert!(apis.received().await.values().all(Vec::is_empty));
    assert_eq!(
        count(&stored_posts(&directory, &environment).await, "scheduled"),
        stored
    );

    let report = run(&directory, &environment, &["publish", "--due", "--json"]).await;
    let sent = report["posts"].as_array().unwrap();
    assert_eq!(sent.len(), stored);
    assert!(
        sent.iter().all(|post| post["status"] == "published"),
        "{report}"
    );
    let posts = stored_posts(&directory, &environment).await;
    assert_eq!(check_exactly_once(&posts, &apis.received().await), 0);

    // Nothing is due any more: a second pass sends nothing.
    let again = run(&directory, &environment, &["publish", "--due", "--json"]).await;
    assert!(again["posts"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_server_previews_due_posts_and_sends_nothing() {
    let apis = Apis::start(Duration::ZERO).await;
    let mut environment = apis.environment();
    let directory = scratch("serve-dry-run");
    let stored = store_due_posts(&directory, &environment, 10, 2).await;
    environment.push(("HALCYTONE_DRY_RUN".to_owned(), "true".to_owned()));
    let log = directory.join("serve.log");
    let serve = Serve::start(&directory, &environment, &log).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(serve.terminate(Duration::from_secs(15)).await.success());
    assert!(apis.received().await.values().all(Vec::is_empty));
    let posts = stored_posts(&directory, &environment).await;
    assert_eq!(count(&posts, "scheduled"), stored);
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        log.lines()
            .filter(|line| line.contains("Dry run: would send."))
            .count(),
        stored,
        "each due post is logged once"
    );
    for secret in ["crm-secret", "platform-secret", "x-secret", "li-secret"] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
}

/// A webhook receiver, as one is written: it checks `Halcytone-Signature`
/// (`t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`) over the raw
/// body. Answers 503 while `down` is set.
struct Receiver {
    secret: &'static str,
    down: Arc<std::sync::atomic::AtomicBool>,
}

fn verified(secret: &str, request: &Request) -> bool {
    use hmac::{KeyInit, Mac};
    let Some(signature) = request
        .headers
        .get("halcytone-signature")
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Some((t, v1)) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    expected == v1
}

impl Respond for Receiver {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if !verified(self.secret, request) {
            return ResponseTemplate::new(401);
        }
        if self.down.load(Ordering::SeqCst) {
            ResponseTemplate::new(503)
        } else {
            ResponseTemplate::new(204)
        }
    }
}

/// Posts go out while the webhook receiver is down, and the server is
/// killed with deliveries pending; after a restart, with the receiver up,
/// every post's event arrives signed, with the id and body it had on every
/// earlier try, and the delivery log says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_events_survive_a_kill_and_arrive_signed_with_stable_ids() {
    const SECRET: &str = "whsec-test-secret";
    let apis = Apis::start(Duration::from_millis(20)).await;
    let receiver = MockServer::start().await;
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    Mock::given(method("POST"))
        .and(path("/hooks/halcytone"))
        .respond_with(Receiver {
            secret: SECRET,
            down: Arc::clone(&down),
        })
        .mount(&receiver)
        .await;
    let mut environment = apis.environment();
    environment.push((
        "HALCYTONE__DISPATCHER__WEBHOOK_RETRY".to_owned(),
        "1s".to_owned(),
    ));
    let directory = scratch("webhooks");
    std::fs::write(
        directory.join("halcytone.toml"),
        format!(
            "[[webhooks]]\nurl = \"{}/hooks/halcytone\"\nsecret = \"{SECRET}\"\nevents = [\"post.published\"]\n",
            receiver.uri()
        ),
    )
    .unwrap();
    let log = directory.join("serve.log");
    let stored = store_due_posts(&directory, &environment, 7, 3).await;
    let serve = Serve::start(&directory, &environment, &log).await;
    let posts = settled(&directory, &environment, Duration::from_secs(60)).await;
    assert_eq!(count(&posts, "published"), stored);
    // At least one try of each reached the receiver, and failed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while receiver.received_requests().await.unwrap().len() < stored {
        assert!(tokio::time::Instant::now() < deadline, "no delivery tried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each failed try is counted once its outcome is on record.
    let mut metrics = serve.metrics().await;
    while !metrics.contains("halcytone_webhook_deliveries_total{outcome=\"retry\"}") {
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = serve.metrics().await;
    }
    assert!(!metrics.contains("outcome=\"delivered\""), "{metrics}");
    serve.kill().await;

    down.store(false, Ordering::SeqCst);
    let serve = Serve::start(&directory, &environment, &log).await;
    let delivered = |requests: &[Request]| -> BTreeMap<String, Vec<Vec<u8>>> {
        let mut by_event: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        for request in requests {
            let id = request.headers["halcytone-event-id"]
                .to_str()
                .unwrap()
                .to_owned();
            by_event.entry(id).or_default().push(request.body.clone());
        }
        by_event
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let log_json = loop {
        let log = run(&directory, &environment, &["webhooks", "--json"]).await;
        let records = log["deliveries"].as_array().unwrap().clone();
        if records.len() == stored && records.iter().all(|record| record["status"] == "delivered") {
            break records;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all delivered: {log:#}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let metrics = serve.metrics().await;
    assert!(
        metrics.contains(&format!(
            "halcytone_webhook_deliveries_total{{outcome=\"delivered\"}} {stored}\n"
        )),
        "{metrics}"
    );
    serve.kill().await;

    let requests = receiver.received_requests().await.unwrap();
    assert!(requests.iter().all(|request| verified(SECRET, request)));
    assert!(requests.len() > stored, "some deliveries were retried");
    let by_event = delivered(&requests);
    assert_eq!(by_event.len(), stored, "one event per published post");
    let mut posts_told = std::collections::BTreeSet::new();
    for (id, bodies) in &by_event {
        assert!(
            bodies.iter().all(|body| body == &bodies[0]),
            "{id}: every try sends the same body"
        );
        let body: Value = serde_json::from_slice(&bodies[0]).unwrap();
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["type"], "post.published");
        assert_eq!(body["post"]["status"], "published");
        assert!(!body["post"]["external_ids"].as_array().unwrap().is_empty());
        posts_told.insert(body["post"]["id"].as_str().unwrap().to_owned());
    }
    let published: std::collections::BTreeSet<String> = posts
        .iter()
        .map(|post| post["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(posts_told, published);
    for record in &log_json {
        assert!(record["attempts"].as_u64().unwrap() >= 2, "{record}");
        assert_eq!(record["url"], receiver.uri() + "/…");
    }
}
