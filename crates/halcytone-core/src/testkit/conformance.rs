//! The conformance suite every publisher runs against wiremock.
//!
//! A publisher crate implements [`Harness`] and expands
//! [`conformance_tests!`](crate::conformance_tests) in `tests/conformance.rs`;
//! each check becomes one named test. The checks go through [`Resilient`],
//! as production does, so call counts prove the retry rules: one call for a
//! permanent error, every attempt for a transient one, none while the
//! circuit is open.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::dispatch::judge;
use crate::error::PublishError;
use crate::experiment::{Arm, ExperimentKind, Variation};
use crate::http::{HttpClient, body_bytes};
use crate::publisher::{
    Lookup, LookupContext, OutgoingPost, PostStatus, PublishContext, Publisher,
};
use crate::request::OutboundRequest;
use crate::resilience::{ResilienceSettings, Resilient};
use crate::store::{AttemptOutcome, LeasedPost};

pub use wiremock;

/// What the suite needs from a publisher crate.
pub trait Harness {
    /// A publisher configured with credentials and pointed at `base_url`.
    fn publisher(base_url: &str, http: HttpClient) -> Arc<dyn Publisher>;
    /// A valid post whose publishing takes exactly one request.
    fn post() -> OutgoingPost;
    /// A post that breaks one of the channel's rules.
    fn invalid_post() -> OutgoingPost;
    /// The success answer the API documents.
    fn success() -> ResponseTemplate;
    /// The credentials `publisher` was configured with.
    fn secrets() -> &'static [&'static str];

    /// A 429 that asks for a wait of `wait`, the way the API says it: by
    /// default `Retry-After`; X overrides it with its `x-rate-limit-reset`
    /// epoch time.
    fn rate_limited(wait: Duration) -> ResponseTemplate {
        problem(429, "Too Many Requests").insert_header("retry-after", wait.as_secs().to_string())
    }

    /// Which of the post's requests the checks aim at: the one with the side
    /// effect a retry could repeat (by default the only one).
    fn request_under_test() -> usize {
        0
    }

    /// Mounts the channel's look-up answers (at priority 1, ahead of
    /// [`Harness::mount_other_steps`]): with `found`, that [`Harness::post`]
    /// is on the channel, returning the ids the look-up must report; else
    /// that it is proven absent. `None` (the default) for a channel without
    /// a look-up, whose look-ups must then always be unsure.
    fn mount_look_up(
        server: &MockServer,
        found: bool,
    ) -> impl std::future::Future<Output = Option<Vec<String>>> {
        let _ = (server, found);
        std::future::ready(None)
    }

    /// Mounts the channel's figures of a published post: returns its
    /// external ids, the path each figures call asks for, and the readings
    /// (metric, value) the fetch must report. `None` (the default) for a
    /// channel whose API reports no figures: its `metrics_batch` must be 0.
    fn mount_metrics(server: &MockServer) -> impl std::future::Future<Output = Option<Figures>> {
        let _ = server;
        std::future::ready(None)
    }

    /// Mounts answers for the post's other requests (a listmonk campaign's
    /// schedule call, WordPress's lookups), so multi-request posts run the
    /// same checks.
    fn mount_other_steps(server: &MockServer) -> impl std::future::Future<Output = ()> {
        let _ = server;
        std::future::ready(())
    }
}

/// A published post's figures as a channel's emulation answers them.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The ids the channel gave the post.
    pub external_ids: Vec<String>,
    /// The path of every call the fetch makes.
    pub paths: Vec<String>,
    /// What the fetch must read, by metric.
    pub readings: Vec<(String, f64)>,
    /// The answer for a post the channel no longer has (a 404, or X's 200
    /// naming it among its errors): it reads nothing, and is no error.
    pub gone: ResponseTemplate,
}

/// The correlation id every check sends.
pub const CORRELATION_ID: &str = "conformance-correlation-id";

/// The publish context of every check.
pub fn context() -> PublishContext {
    PublishContext {
        correlation_id: CORRELATION_ID.to_owned(),
        already_sent: Vec::new(),
    }
}

/// Retry settings with millisecond delays, so checks stay fast.
pub fn fast_settings(max_attempts: u32) -> ResilienceSettings {
    ResilienceSettings {
        max_attempts,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        breaker_threshold: 5,
        breaker_cooldown: Duration::from_secs(60),
    }
}

fn client(timeout: Duration) -> HttpClient {
    HttpClient::new(timeout).expect("the HTTP client starts")
}

/// The request under test of the harness's post, as the publisher builds it.
fn the_request<H: Harness>(publisher: &dyn Publisher) -> OutboundRequest {
    let mut requests = publisher
        .build_requests(&H::post())
        .expect("the sample post builds");
    assert!(
        H::request_under_test() < requests.len(),
        "the post makes {} requests",
        requests.len()
    );
    requests.swap_remove(H::request_under_test())
}

/// A server with the post's other steps answered, a publisher pointed at it
/// whose calls time out after `timeout`, and the request under test.
async fn setup<H: Harness>(timeout: Duration) -> (MockServer, Arc<dyn Publisher>, OutboundRequest) {
    let server = server::<H>().await;
    let publisher = H::publisher(&server.uri(), client(timeout));
    let request = the_request::<H>(publisher.as_ref());
    (server, publisher, request)
}

/// A mock server with the post's other steps answered.
async fn server<H: Harness>() -> MockServer {
    let server = MockServer::start().await;
    H::mount_other_steps(&server).await;
    server
}

/// A mock for the request's method and path.
fn route(request: &OutboundRequest) -> wiremock::MockBuilder {
    let url = url::Url::parse(&request.url).expect("publishers build absolute URLs");
    Mock::given(method(request.method.as_str())).and(path(url.path()))
}

fn problem(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(serde_json::json!({
        "type": "about:blank", "title": "Error", "status": status, "detail": message, "message": message,
    }))
}

/// What wiremock received is byte for byte the previewed request, secrets
/// filled in, with the correlation id; the publisher returns the API's ids.
pub async fn sends_exactly_the_previewed_request<H: Harness>() {
    let (server, publisher, request) = setup::<H>(Duration::from_secs(5)).await;
    route(&request)
        .respond_with(H::success())
        .expect(1)
        .mount(&server)
        .await;
    let preview = publisher.preview(&H::post()).expect("previews")[H::request_under_test()].clone();
    let resilient = Resilient::new(publisher, fast_settings(3), None);
    let receipt = resilient
        .publish(&H::post(), &context())
        .await
        .expect("publishes");
    assert!(
        !receipt.external_ids.is_empty(),
        "the receipt carries the API's id"
    );
    let received = server.received_requests().await.expect("recording is on");
    let target = url::Url::parse(&request.url).expect("publishers build absolute URLs");
    let received = received
        .iter()
        .find(|received| {
            received.method.as_str() == request.method.as_str()
                && received.url.path() == target.path()
        })
        .expect("the request under test was sent");
    let expected_body = preview.body.as_ref().map(body_bytes).unwrap_or_default();
    assert_eq!(
        received.body, expected_body,
        "the body sent is the previewed body, byte for byte"
    );
    let previewed = url::Url::parse(&preview.url).expect("previews show absolute URLs");
    assert_eq!(
        (received.url.path(), received.url.query()),
        (previewed.path(), previewed.query())
    );
    for (name, value) in &request.headers {
        let sent = received
            .headers
            .get(*name)
            .and_then(|value| value.to_str().ok());
        assert_eq!(sent, value.expose().as_deref(), "header {name}");
    }
    for (name, shown) in &preview.headers {
        if !shown.as_str().is_some_and(|shown| shown.contains("***")) {
            let sent = received
                .headers
                .get(name.as_str())
                .and_then(|value| value.to_str().ok());
            assert_eq!(sent, shown.as_str(), "previewed header {name}");
        }
    }
    let correlation = received
        .headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok());
    assert_eq!(correlation, Some(CORRELATION_ID));
}

/// 400, 401, 403, 404, 409 and 422 are permanent, carry the API's message,
/// and are sent once.
pub async fn rejections_are_permanent_and_not_retried<H: Harness>() {
    for status in [400, 401, 403, 404, 409, 422] {
        let (server, publisher, request) = setup::<H>(Duration::from_secs(5)).await;
        let message = format!("the API refused this with {status}");
        route(&request)
            .respond_with(problem(status, &message))
            .expect(1)
            .mount(&server)
            .await;
        let error = Resilient::new(publisher, fast_settings(4), None)
            .publish(&H::post(), &context())
            .await
            .expect_err("a rejection fails");
        assert!(error.is_permanent(), "{status} gives {error:?}");
        assert!(error.to_string().contains(&message), "{status}: {error}");
        server.verify().await;
    }
}

/// 500 and 503 are transient and retried up to the attempt limit.
pub async fn server_errors_are_transient_and_retried<H: Harness>() {
    for status in [500, 503] {
        let (server, publisher, request) = setup::<H>(Duration::from_secs(5)).await;
        route(&request)
            .respond_with(problem(status, "try later"))
            .expect(3)
            .mount(&server)
            .await;
        let error = Resilient::new(publisher, fast_settings(3), None)
            .publish(&H::post(), &context())
            .await
            .expect_err("keeps failing");
        assert!(
            matches!(error, PublishError::Transient { .. }),
            "{status} gives {error:?}"
        );
        server.verify().await;
    }
}

/// A transient failure followed by a success publishes once.
pub async fn a_retry_after_a_server_error_succeeds<H: Harness>() {
    let (server, publisher, request) = setup::<H>(Duration::from_secs(5)).await;
    route(&request)
        .respond_with(problem(502, "bad gateway"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    route(&request)
        .respond_with(H::success())
        .expect(1)
        .mount(&server)
        .await;
    Resilient::new(publisher, fast_settings(3), None)
        .publish(&H::post(), &context())
        .await
        .expect("the second attempt succeeds");
}

/// 429 is rate limited; the retry waits at least as long as the API asked
/// (its own way: `Retry-After`, X's reset time).
pub async fn rate_limits_wait_and_retry<H: Harness>() {
    let (server, publisher, request) = setup::<H>(Duration::from_secs(5)).await;
    let limited = H::rate_limited(Duration::from_secs(1));
    route(&request)
        .respond_with(limited.clone())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let error = publisher
        .publish(&H::post(), &context())
        .await
        .expect_err("rate limited");
    assert!(
        matches!(error, PublishError::RateLimited { .. }),
        "{error:?}"
    );
    route(&request)
        .respond_with(limited)
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    route(&request)
        .respond_with(H::success())
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    Resilient::new(publisher, fast_settings(3), None)
        .publish(&H::post(), &context())
        .await
        .expect("publishes after the wait");
    let PublishError::RateLimited {
        retry_after: Some(wait),
        ..
    } = error
    else {
        panic!("the wait the API asked for is read: {error:?}");
    };
    assert!(
        started.elapsed() >= wait,
        "waited {:?}, the API asked {wait:?}",
        started.elapsed()
    );
}

/// Through the queue's rules: a send with no answer is never repeated by the
/// dispatcher on a channel without idempotency keys (the post becomes
/// `unconfirmed` for a person to check), and is queued again, to go with
/// the same key, on a channel with them.
pub async fn an_unknown_outcome_is_unconfirmed_unless_idempotent<H: Harness>() {
    let (server, publisher, request) = setup::<H>(Duration::from_millis(300)).await;
    route(&request)
        .respond_with(H::success().set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    let (idempotent, channel) = (publisher.idempotent(), publisher.channel());
    let settings = fast_settings(3);
    let resilient = Resilient::new(publisher, settings.clone(), None);
    let permit = resilient.permit().await;
    let result = resilient.publish_once(&H::post(), &context(), permit).await;
    let post = H::post();
    let leased = LeasedPost {
        id: post.id.clone(),
        channel,
        scheduled_at: post.scheduled_at.timestamp(),
        content: post.content.0.clone(),
        attempt_count: 0,
        sent: Vec::new(),
    };
    let finish = judge(
        &settings,
        &leased,
        result,
        idempotent,
        jiff::Timestamp::now(),
    );
    let outcome = finish.attempt.as_ref().map(|attempt| attempt.outcome);
    assert_eq!(outcome, Some(AttemptOutcome::Unknown), "{finish:?}");
    if idempotent {
        assert_eq!(finish.status, PostStatus::Scheduled, "{finish:?}");
        assert!(finish.next_attempt_at.is_some(), "{finish:?}");
    } else {
        assert_eq!(finish.status, PostStatus::Unconfirmed, "{finish:?}");
        assert_eq!(finish.next_attempt_at, None, "{finish:?}");
    }
    server.verify().await;
}

/// No answer within the timeout: the outcome is unknown, and the request is
/// sent again only on channels with idempotency keys.
pub async fn a_slow_answer_is_an_unknown_outcome<H: Harness>() {
    let (server, publisher, request) = setup::<H>(Duration::from_millis(300)).await;
    let idempotent = publisher.idempotent();
    let calls = if idempotent { 2 } else { 1 };
    route(&request)
        .respond_with(H::success().set_delay(Duration::from_secs(2)))
        .expect(calls)
        .mount(&server)
        .await;
    let error = Resilient::new(publisher, fast_settings(2), None)
        .publish(&H::post(), &context())
        .await
        .expect_err("times out");
    assert!(error.is_outcome_unknown(), "{error:?}");
    server.verify().await;
}

/// A refused connection is transient: the request never left.
pub async fn a_refused_connection_is_transient<H: Harness>() {
    // Nothing listens on a port that was just released.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds")
        .local_addr()
        .expect("address")
        .port();
    let publisher = H::publisher(
        &format!("http://127.0.0.1:{port}"),
        client(Duration::from_secs(5)),
    );
    let error = publisher
        .publish(&H::post(), &context())
        .await
        .expect_err("refused");
    assert!(
        matches!(error, PublishError::Transient { .. }),
        "refused gives {error:?}"
    );
}

/// A connection lost once the request went out (reset after the API read
/// it, or a success whose body is cut off) may have been applied: the
/// outcome is unknown, and the request is sent again only on channels with
/// idempotency keys.
pub async fn a_connection_lost_after_the_request_is_an_unknown_outcome<H: Harness>() {
    for loss in [Loss::ResetAfterReading, Loss::SuccessCutOff] {
        let (server, _, request) = setup::<H>(Duration::from_secs(5)).await;
        let url = url::Url::parse(&request.url).expect("publishers build absolute URLs");
        let lossy = LossyProxy::start(
            &server,
            request.method.as_str(),
            url.path().to_owned(),
            loss,
        )
        .await;
        let publisher = H::publisher(&lossy.uri(), client(Duration::from_secs(5)));
        let idempotent = publisher.idempotent();
        let error = Resilient::new(publisher, fast_settings(2), None)
            .publish(&H::post(), &context())
            .await
            .expect_err("the connection is lost");
        assert!(error.is_outcome_unknown(), "{loss:?} gives {error:?}");
        let calls = if idempotent { 2 } else { 1 };
        assert_eq!(
            lossy.lost(),
            calls,
            "{loss:?}: the request under test was tried"
        );
    }
}

/// How [`LossyProxy`] loses the request under test.
#[derive(Debug, Clone, Copy)]
enum Loss {
    /// Reads the whole request, then resets the connection.
    ResetAfterReading,
    /// Answers `201` with a body shorter than its `Content-Length`, then closes.
    SuccessCutOff,
}

/// A TCP proxy in front of a wiremock server that loses every request with
/// the given method and path as `loss` says and forwards the rest: wiremock
/// itself always answers whole.
struct LossyProxy {
    address: std::net::SocketAddr,
    lost: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl LossyProxy {
    async fn start(upstream: &MockServer, method: &str, path: String, loss: Loss) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let address = listener.local_addr().expect("has an address");
        let upstream = *upstream.address();
        let lost = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let target = format!("{method} {path}");
        let counter = Arc::clone(&lost);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let target = target.clone();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let _ = proxy_connection(stream, upstream, &target, loss, &counter).await;
                });
            }
        });
        Self {
            address,
            lost,
            task,
        }
    }

    fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    fn lost(&self) -> usize {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one client connection: each request is read whole, then lost or
/// forwarded over a connection of its own that wiremock closes when done.
async fn proxy_connection(
    mut client: tokio::net::TcpStream,
    upstream: std::net::SocketAddr,
    target: &str,
    loss: Loss,
    lost: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // Reads more of the client's bytes; false once it closed.
    async fn read_more(
        client: &mut tokio::net::TcpStream,
        buffer: &mut Vec<u8>,
    ) -> std::io::Result<bool> {
        let mut chunk = [0_u8; 4096];
        let read = client.read(&mut chunk).await?;
        buffer.extend_from_slice(&chunk[..read]);
        Ok(read > 0)
    }
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
            if !read_more(&mut client, &mut buffer).await? {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            if !read_more(&mut client, &mut buffer).await? {
                return Ok(());
            }
        }
        let request: Vec<u8> = buffer.drain(..head_end + length).collect();
        let line = head.lines().next().unwrap_or_default();
        let method_and_path = line
            .rsplit_once(' ')
            .map_or(line, |(start, _)| start)
            .split('?')
            .next()
            .unwrap_or_default();
        if method_and_path == target {
            lost.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match loss {
                Loss::ResetAfterReading => {
                    // A zero linger makes the close a TCP reset; it never
                    // blocks, which is what the deprecation warns about.
                    #[allow(deprecated)]
                    client.set_linger(Some(Duration::ZERO))?;
                }
                Loss::SuccessCutOff => {
                    client
                        .write_all(
                            b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"id\":",
                        )
                        .await?;
                    client.flush().await?;
                }
            }
            return Ok(());
        }
        // Forwarded with `Connection: close`, so wiremock's answer ends
        // where its connection does.
        let mut forwarded = tokio::net::TcpStream::connect(upstream).await?;
        let line_end = request
            .windows(2)
            .position(|window| window == b"\r\n")
            .map_or(0, |end| end + 2);
        forwarded.write_all(&request[..line_end]).await?;
        forwarded.write_all(b"connection: close\r\n").await?;
        forwarded.write_all(&request[line_end..]).await?;
        let mut answer = Vec::new();
        forwarded.read_to_end(&mut answer).await?;
        client.write_all(&answer).await?;
    }
}

/// After five transient failures the circuit opens and no call is made.
pub async fn an_open_circuit_makes_no_call<H: Harness>() {
    let (server, publisher, request) = setup::<H>(Duration::from_secs(5)).await;
    route(&request)
        .respond_with(problem(503, "down"))
        .expect(5)
        .mount(&server)
        .await;
    let resilient = Resilient::new(publisher, fast_settings(1), None);
    for _ in 0..5 {
        let error = resilient
            .publish(&H::post(), &context())
            .await
            .expect_err("down");
        assert!(matches!(error, PublishError::Transient { .. }), "{error:?}");
    }
    let error = resilient
        .publish(&H::post(), &context())
        .await
        .expect_err("open");
    assert!(
        matches!(error, PublishError::CircuitOpen { .. }),
        "{error:?}"
    );
    server.verify().await;
}

/// A post that breaks the channel's rules is refused by `validate` and never sent.
pub async fn invalid_posts_are_never_sent<H: Harness>() {
    let server = server::<H>().await;
    let publisher = H::publisher(&server.uri(), client(Duration::from_secs(5)));
    Mock::given(wiremock::matchers::any())
        .respond_with(H::success())
        .expect(0)
        .mount(&server)
        .await;
    let error = publisher
        .validate(&H::invalid_post().content)
        .expect_err("invalid");
    assert!(matches!(error, PublishError::Invalid { .. }), "{error:?}");
    let error = Resilient::new(publisher, fast_settings(3), None)
        .publish(&H::invalid_post(), &context())
        .await
        .expect_err("not sent");
    assert!(matches!(error, PublishError::Invalid { .. }), "{error:?}");
}

/// Channels with idempotency keys send the same key for every attempt at a post.
pub async fn the_idempotency_key_is_stable<H: Harness>() {
    let (server, publisher, request) = setup::<H>(Duration::from_secs(5)).await;
    if !publisher.idempotent() {
        return;
    }
    route(&request)
        .respond_with(H::success())
        .expect(2)
        .mount(&server)
        .await;
    publisher
        .publish(&H::post(), &context())
        .await
        .expect("first");
    publisher
        .publish(&H::post(), &context())
        .await
        .expect("second");
    let target = url::Url::parse(&request.url).expect("publishers build absolute URLs");
    let received = server.received_requests().await.expect("recording is on");
    let keys: Vec<_> = received
        .iter()
        .filter(|received| received.url.path() == target.path())
        .map(|received| received.headers.get("idempotency-key").cloned())
        .collect();
    assert!(keys[0].is_some(), "no idempotency-key header");
    assert_eq!(keys[0], keys[1]);
}

/// No secret appears in `Debug`, previews or error messages.
pub async fn secrets_never_show<H: Harness>() {
    let (server, publisher, request) = setup::<H>(Duration::from_secs(5)).await;
    route(&request)
        .respond_with(problem(401, "bad token"))
        .mount(&server)
        .await;
    let error = publisher
        .publish(&H::post(), &context())
        .await
        .expect_err("401");
    let shown = format!(
        "{publisher:?} {} {error} {error:?} {request:?}",
        serde_json::to_string(&publisher.preview(&H::post()).expect("previews"))
            .unwrap_or_default()
    );
    for secret in H::secrets() {
        assert!(!shown.contains(secret), "a secret leaked: {shown}");
    }
}

/// The look-up context of every check: nothing on record as sent, a send
/// window of the last hour.
pub fn lookup_context() -> LookupContext {
    let until = jiff::Timestamp::now();
    LookupContext {
        correlation_id: CORRELATION_ID.to_owned(),
        already_sent: Vec::new(),
        since: until - Duration::from_secs(3600),
        until,
    }
}

/// A post on the channel is found, with the ids the channel gave it, and
/// every look-up call carries the correlation id; a channel without a
/// look-up is unsure.
pub async fn a_look_up_finds_what_went_out<H: Harness>() {
    let server = server::<H>().await;
    let ids = H::mount_look_up(&server, true).await;
    let publisher = H::publisher(&server.uri(), client(Duration::from_secs(5)));
    let resilient = Resilient::new(publisher, fast_settings(1), None);
    let found = resilient
        .look_up(&H::post(), &lookup_context())
        .await
        .expect("looks up");
    let Some(ids) = ids else {
        assert!(matches!(found, Lookup::Unsure { .. }), "{found:?}");
        return;
    };
    assert!(
        matches!(&found, Lookup::Published { external_ids, .. } if *external_ids == ids),
        "{found:?}, expected {ids:?}"
    );
    let received = server.received_requests().await.expect("recording is on");
    assert!(!received.is_empty());
    for request in &received {
        assert_eq!(request.method.as_str(), "GET", "a look-up changes nothing");
        assert_eq!(
            request
                .headers
                .get("x-request-id")
                .and_then(|value| value.to_str().ok()),
            Some(CORRELATION_ID)
        );
    }
}

/// A post that is not on the channel is proven absent, nothing of it out;
/// a channel without a look-up is unsure.
pub async fn a_look_up_proves_an_absence<H: Harness>() {
    let server = server::<H>().await;
    let mounted = H::mount_look_up(&server, false).await;
    let publisher = H::publisher(&server.uri(), client(Duration::from_secs(5)));
    let found = publisher
        .look_up(&H::post(), &lookup_context())
        .await
        .expect("looks up");
    if mounted.is_none() {
        assert!(matches!(found, Lookup::Unsure { .. }), "{found:?}");
        return;
    }
    assert!(
        matches!(&found, Lookup::Absent { sent, .. } if sent.is_empty()),
        "{found:?}"
    );
}

/// A look-up that fails (an error status, a body that is not the API's,
/// no answer in time) is an error (or unsure), never a finding.
pub async fn a_failing_look_up_is_never_an_absence<H: Harness>() {
    let answers = [
        problem(401, "bad token"),
        problem(403, "forbidden"),
        problem(404, "not found"),
        problem(429, "slow down"),
        problem(500, "down"),
        problem(503, "down"),
        ResponseTemplate::new(200).set_body_string("<html>a login page</html>"),
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"items": []}))
            .set_delay(Duration::from_secs(2)),
    ];
    for answer in answers {
        let server = server::<H>().await;
        Mock::given(method("GET"))
            .respond_with(answer.clone())
            .with_priority(1)
            .mount(&server)
            .await;
        let publisher = H::publisher(&server.uri(), client(Duration::from_millis(300)));
        let result = publisher.look_up(&H::post(), &lookup_context()).await;
        assert!(
            matches!(result, Err(_) | Ok(Lookup::Unsure { .. })),
            "{answer:?} gave {result:?}"
        );
    }
}

fn metrics_target<H: Harness>(external_ids: Vec<String>) -> crate::publisher::MetricsTarget {
    crate::publisher::MetricsTarget {
        id: H::post().id,
        external_ids,
    }
}

/// A published post's figures are read as the API reports them, by `GET`s
/// carrying the correlation id; a channel without figures says so.
pub async fn figures_are_read_as_the_api_reports_them<H: Harness>() {
    let server = server::<H>().await;
    let figures = H::mount_metrics(&server).await;
    let publisher = H::publisher(&server.uri(), client(Duration::from_secs(5)));
    let Some(figures) = figures else {
        assert_eq!(publisher.metrics_batch(), 0, "a channel without figures");
        return;
    };
    assert!(publisher.metrics_batch() > 0);
    let resilient = Resilient::new(publisher, fast_settings(1), None);
    let mut readings: Vec<(String, f64)> = resilient
        .fetch_metrics(
            &[metrics_target::<H>(figures.external_ids.clone())],
            CORRELATION_ID,
        )
        .await
        .expect("reads the figures")
        .into_iter()
        .map(|reading| {
            assert_eq!(reading.post, H::post().id);
            (reading.metric, reading.value)
        })
        .collect();
    readings.sort_by(|left, right| left.0.cmp(&right.0));
    let mut expected = figures.readings.clone();
    expected.sort_by(|left, right| left.0.cmp(&right.0));
    assert_eq!(readings, expected);
    let received = server.received_requests().await.expect("recording is on");
    let paths: Vec<String> = received
        .iter()
        .map(|request| request.url.path().to_owned())
        .collect();
    assert_eq!(paths, figures.paths);
    for request in &received {
        assert_eq!(
            request.method.as_str(),
            "GET",
            "reading figures changes nothing"
        );
        assert!(request.headers.get("authorization").is_some());
        assert_eq!(
            request
                .headers
                .get("x-request-id")
                .and_then(|value| value.to_str().ok()),
            Some(CORRELATION_ID)
        );
    }
}

/// Whether an error is of the class an answer must give.
type ErrorClass = fn(&PublishError) -> bool;

/// A fetch that fails is an error of its class, never zero figures; a post
/// the channel no longer has (404) reads nothing.
pub async fn a_failing_fetch_is_an_error_not_a_zero<H: Harness>() {
    let answered = server::<H>().await;
    let Some(figures) = H::mount_metrics(&answered).await else {
        return;
    };
    let target = || [metrics_target::<H>(figures.external_ids.clone())];
    // The answered server's expectations are met, as a control.
    H::publisher(&answered.uri(), client(Duration::from_secs(5)))
        .fetch_metrics(&target(), CORRELATION_ID)
        .await
        .expect("the control reads");
    let cases: [(ResponseTemplate, ErrorClass); 8] = [
        (problem(400, "bad"), |error| {
            matches!(error, PublishError::Permanent { .. })
        }),
        (problem(401, "bad token"), |error| {
            matches!(error, PublishError::Permanent { .. })
        }),
        (problem(403, "forbidden"), |error| {
            matches!(error, PublishError::Permanent { .. })
        }),
        (problem(422, "no"), |error| {
            matches!(error, PublishError::Permanent { .. })
        }),
        (
            H::rate_limited(Duration::from_secs(7)),
            |error| matches!(error, PublishError::RateLimited { retry_after: Some(wait), .. } if *wait >= Duration::from_secs(6)),
        ),
        (problem(500, "down"), |error| {
            matches!(error, PublishError::Transient { .. })
        }),
        (problem(503, "down"), |error| {
            matches!(error, PublishError::Transient { .. })
        }),
        // Any error, but never figures of zero.
        (
            ResponseTemplate::new(200).set_body_string("<html>a login page</html>"),
            |error| !matches!(error, PublishError::RateLimited { .. }),
        ),
    ];
    for (answer, expected) in cases {
        let server = server::<H>().await;
        Mock::given(method("GET"))
            .respond_with(answer.clone())
            .with_priority(1)
            .mount(&server)
            .await;
        let publisher = H::publisher(&server.uri(), client(Duration::from_secs(5)));
        let result = publisher.fetch_metrics(&target(), CORRELATION_ID).await;
        match result {
            Err(error) => assert!(expected(&error), "{answer:?} gave {error:?}"),
            Ok(readings) => panic!("{answer:?} gave figures {readings:?}"),
        }
    }
    // Too slow: an error, not figures.
    let slow = server::<H>().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .with_priority(1)
        .mount(&slow)
        .await;
    let publisher = H::publisher(&slow.uri(), client(Duration::from_millis(300)));
    assert!(
        publisher
            .fetch_metrics(&target(), CORRELATION_ID)
            .await
            .is_err()
    );
    // Gone: nothing to read, and not an error.
    let gone = server::<H>().await;
    Mock::given(method("GET"))
        .respond_with(figures.gone.clone())
        .with_priority(1)
        .mount(&gone)
        .await;
    let publisher = H::publisher(&gone.uri(), client(Duration::from_secs(5)));
    let readings = publisher
        .fetch_metrics(&target(), CORRELATION_ID)
        .await
        .expect("a post gone reads nothing");
    assert!(readings.is_empty(), "{readings:?}");
}

/// A channel that runs experiments makes valid arms of its post: arm B
/// carries its text into the request, and differs from arm A; one that
/// runs none refuses to vary a post.
pub async fn an_experiments_arms_are_valid_and_differ<H: Harness>() {
    let answered = server::<H>().await;
    let publisher = H::publisher(&answered.uri(), client(Duration::from_secs(5)));
    let post = H::post();
    let variation = |arm, text| Variation {
        experiment: "exp_conformance",
        arm,
        fraction: 0.2,
        text,
    };
    let text = "An opening line of its own";
    let Some(kind) = publisher.experiments() else {
        let refused = publisher.vary(&post.content, &variation(Arm::B, Some(text)));
        assert!(
            matches!(refused, Err(PublishError::Invalid { .. })),
            "a channel of no experiments refuses to vary a post: {refused:?}"
        );
        return;
    };
    let body = |content: &crate::publisher::Content| {
        let post = OutgoingPost {
            content: content.clone(),
            ..H::post()
        };
        let requests = publisher.build_requests(&post).expect("an arm builds");
        requests
            .iter()
            .filter_map(|request| request.body.as_ref())
            .map(serde_json::Value::to_string)
            .collect::<String>()
    };
    let arm_a = publisher
        .vary(&post.content, &variation(Arm::A, None))
        .expect("arm A varies");
    let arm_b = publisher
        .vary(&post.content, &variation(Arm::B, Some(text)))
        .expect("arm B varies");
    for arm in [&arm_a, &arm_b] {
        publisher.validate(arm).expect("an arm is valid");
    }
    assert!(body(&arm_b).contains(text), "arm B sends its text");
    assert_ne!(body(&arm_a), body(&arm_b), "the arms differ");
    if kind == ExperimentKind::Split {
        let winner = publisher
            .vary(&arm_b, &variation(Arm::Winner, None))
            .expect("the winner's send varies");
        publisher
            .validate(&winner)
            .expect("the winner's send is valid");
        assert!(
            body(&winner).contains(text),
            "the winner's content is the winning arm's"
        );
        assert_ne!(
            body(&winner),
            body(&arm_b),
            "the winner's send goes to the rest"
        );
    }
}

/// Expands one `#[tokio::test]` per conformance check for a [`Harness`].
#[macro_export]
macro_rules! conformance_tests {
    ($harness:ty) => {
        $crate::conformance_tests!(@tests $harness;
            sends_exactly_the_previewed_request,
            rejections_are_permanent_and_not_retried,
            server_errors_are_transient_and_retried,
            a_retry_after_a_server_error_succeeds,
            rate_limits_wait_and_retry,
            a_slow_answer_is_an_unknown_outcome,
            an_unknown_outcome_is_unconfirmed_unless_idempotent,
            a_refused_connection_is_transient,
            a_connection_lost_after_the_request_is_an_unknown_outcome,
            an_open_circuit_makes_no_call,
            invalid_posts_are_never_sent,
            the_idempotency_key_is_stable,
            secrets_never_show,
            a_look_up_finds_what_went_out,
            a_look_up_proves_an_absence,
            a_failing_look_up_is_never_an_absence,
            figures_are_read_as_the_api_reports_them,
            a_failing_fetch_is_an_error_not_a_zero,
            an_experiments_arms_are_valid_and_differ
        );
    };
    (@tests $harness:ty; $($check:ident),*) => {
        $(
            #[tokio::test]
            async fn $check() {
                $crate::testkit::conformance::$check::<$harness>().await;
            }
        )*
    };
}
