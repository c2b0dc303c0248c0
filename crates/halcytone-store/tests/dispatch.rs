//! The dispatcher against a real SQLite store and scripted publishers.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use serde_json::json;

mod common;

use std::sync::Arc;
use std::time::Duration;

use halcytone_core::cadence::Cadence;
use halcytone_core::channel::Channel;
use halcytone_core::dispatch::*;
use halcytone_core::error::PublishError;
use halcytone_core::publisher::{
    Content, Lookup, LookupContext, OutgoingPost, PostId, PostStatus, PublishContext,
    PublishReceipt, Publisher, QuotaLeft, RenderInput,
};
use halcytone_core::render::Renderer;
use halcytone_core::request::{Method, OutboundRequest};
use halcytone_core::resilience::{RateLimit, ResilienceSettings, Resilient};
use halcytone_core::store::{
    Action, Attempt, AttemptOutcome, Finish, Leasing, NewPost, PlanRecord, PostFilter, Requeue,
    Store, StoreError, StoredPost, sha256_hex,
};
use halcytone_store::SqlStore;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio_util::sync::CancellationToken;

/// A publisher whose answers are scripted; it records every call.
#[derive(Debug)]
struct Scripted {
    channel: Channel,
    idempotent: bool,
    configured: bool,
    script: Mutex<VecDeque<Result<PublishReceipt, PublishError>>>,
    calls: Mutex<Vec<(PostId, Vec<String>, String)>>,
    lookups: Mutex<VecDeque<Result<Lookup, PublishError>>>,
}

impl Scripted {
    fn new(channel: &str, idempotent: bool) -> Self {
        Self {
            channel: Channel::parse(channel).unwrap(),
            idempotent,
            configured: true,
            script: Mutex::new(VecDeque::new()),
            calls: Mutex::new(Vec::new()),
            lookups: Mutex::new(VecDeque::new()),
        }
    }

    fn then_look_up(self, answer: Result<Lookup, PublishError>) -> Self {
        self.lookups.lock().unwrap().push_back(answer);
        self
    }

    fn then(self, answer: Result<PublishReceipt, PublishError>) -> Self {
        self.script.lock().unwrap().push_back(answer);
        self
    }

    fn calls(&self) -> Vec<(PostId, Vec<String>, String)> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Publisher for Scripted {
    fn channel(&self) -> Channel {
        self.channel.clone()
    }

    fn default_cadence(&self) -> Cadence {
        Cadence(Vec::new())
    }

    fn idempotent(&self) -> bool {
        self.idempotent
    }

    fn missing_configuration(&self) -> Vec<&'static str> {
        if self.configured {
            Vec::new()
        } else {
            vec!["channels.test.api_key"]
        }
    }

    fn render(&self, _: &RenderInput<'_>, _: &Renderer) -> Result<Content, PublishError> {
        unreachable!("the dispatcher never renders")
    }

    fn validate(&self, _: &Content) -> Result<(), PublishError> {
        Ok(())
    }

    fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError> {
        Ok(vec![OutboundRequest::json(
            &self.channel,
            Method::Post,
            "https://api.test/posts".to_owned(),
            Vec::new(),
            &post.content.0,
        )?])
    }

    async fn look_up(&self, _: &OutgoingPost, _: &LookupContext) -> Result<Lookup, PublishError> {
        let answer = self.lookups.lock().unwrap().pop_front();
        answer.expect("a scripted look-up")
    }

    async fn publish(
        &self,
        post: &OutgoingPost,
        context: &PublishContext,
    ) -> Result<PublishReceipt, PublishError> {
        self.calls.lock().unwrap().push((
            post.id.clone(),
            context.already_sent.clone(),
            context.correlation_id.clone(),
        ));
        let answer = self.script.lock().unwrap().pop_front();
        answer.unwrap_or_else(|| {
            Ok(PublishReceipt {
                external_ids: vec![format!("ext-{}", post.id)],
                url: None,
                quota_left: None,
            })
        })
    }
}

async fn sqlite() -> (Arc<SqlStore>, common::TempDb) {
    let (store, db) = common::sqlite().await;
    (Arc::new(store), db)
}

/// 2026-11-30 09:00 UTC: the posts' time; the clock starts here.
const T0: i64 = 1_796_029_200;

fn new_post(channel: &str, n: i64, status: PostStatus) -> NewPost {
    NewPost {
        id: PostId(format!("{channel}_{n}")),
        channel: Channel::parse(channel).unwrap(),
        scheduled_at: Timestamp::from_second(T0 + n).unwrap(),
        item_id: format!("item-{n}"),
        item: json!({"id": format!("item-{n}")}),
        includes: vec![],
        status,
        locale: "en-GB".to_owned(),
        segment: None,
        experiment: None,
        content: json!({"text": format!("post {n}")}),
        request: json!([]),
    }
}

fn plan(channel: &str) -> PlanRecord {
    PlanRecord {
        id: format!("plan_{channel}"),
        period: "week".to_owned(),
        start: "2026-11-30".to_owned(),
        timezone: "UTC".to_owned(),
        warnings: vec![],
    }
}

async fn store_posts(store: &SqlStore, channel: &str, count: i64, status: PostStatus) {
    let posts: Vec<NewPost> = (0..count).map(|n| new_post(channel, n, status)).collect();
    store.save_plan(&plan(channel), &posts).await.unwrap();
}

/// A clock that stands still until moved, in milliseconds.
#[derive(Clone)]
struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    fn at(second: i64) -> Self {
        Self(Arc::new(AtomicI64::new(second * 1000)))
    }

    fn advance(&self, by: Duration) {
        self.0
            .fetch_add(i64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }

    fn clock(&self) -> Clock {
        let millis = Arc::clone(&self.0);
        Arc::new(move || Timestamp::from_millisecond(millis.load(Ordering::SeqCst)).unwrap())
    }
}

fn resilience() -> ResilienceSettings {
    ResilienceSettings {
        max_attempts: 3,
        min_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(60),
        breaker_threshold: 5,
        breaker_cooldown: Duration::from_secs(60),
    }
}

fn dispatcher(
    store: &Arc<SqlStore>,
    publishers: &[Arc<Scripted>],
    clock: &ManualClock,
) -> Dispatcher {
    rate_limited_dispatcher(store, publishers, clock, None)
}

fn rate_limited_dispatcher(
    store: &Arc<SqlStore>,
    publishers: &[Arc<Scripted>],
    clock: &ManualClock,
    rate_limit: Option<RateLimit>,
) -> Dispatcher {
    let channels = publishers
        .iter()
        .map(|publisher| {
            let wrapped = Resilient::new(
                Arc::clone(publisher) as Arc<dyn Publisher>,
                resilience(),
                rate_limit,
            );
            (publisher.channel(), Arc::new(wrapped))
        })
        .collect();
    Dispatcher::new(
        Arc::clone(store) as Arc<dyn Store>,
        channels,
        DispatchSettings {
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(20),
            batch: 4,
            concurrency: 2,
            shutdown_grace: Duration::from_millis(200),
            reconcile_interval: Duration::from_secs(300),
            reconcile_after: Duration::from_secs(120),
        },
        resilience(),
        TimeZone::UTC,
    )
    .with_clock(clock.clock())
}

async fn once(dispatcher: &Dispatcher) -> PassSummary {
    dispatcher
        .run_once(&CancellationToken::new(), &|_| {})
        .await
        .unwrap()
}

async fn status(store: &SqlStore, id: &str) -> StoredPost {
    store.post(&PostId(id.to_owned())).await.unwrap().unwrap()
}

fn transient(channel: &str) -> PublishError {
    PublishError::Transient {
        service: Channel::parse(channel).unwrap().into(),
        message: "503 Service Unavailable".to_owned(),
        source: None,
    }
}

fn unknown(channel: &str) -> PublishError {
    PublishError::OutcomeUnknown {
        service: Channel::parse(channel).unwrap().into(),
        message: "timed out after the request was sent".to_owned(),
    }
}

#[tokio::test]
async fn due_posts_are_sent_once_each_with_the_attempt_on_record() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 6, PostStatus::Scheduled).await;
    let twitter = Arc::new(Scripted::new("twitter", false));
    let clock = ManualClock::at(T0 + 3);
    let dispatcher = dispatcher(&store, &[Arc::clone(&twitter)], &clock);

    let summary = once(&dispatcher).await;

    // Only the posts due at T0+3 went out, in time order.
    let sent: Vec<String> = twitter
        .calls()
        .iter()
        .map(|call| call.0.0.clone())
        .collect();
    let mut expected: Vec<String> = (0..4).map(|n| format!("twitter_{n}")).collect();
    let mut sorted = sent.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    assert_eq!(summary.posts.len(), 4);
    let post = status(&store, "twitter_0").await;
    assert_eq!(post.status, PostStatus::Published);
    assert_eq!(post.external_ids, ["ext-twitter_0"]);
    assert_eq!(
        post.published_at,
        Some(Timestamp::from_second(T0 + 3).unwrap())
    );
    assert_eq!(post.attempts.len(), 1);
    let attempt = &post.attempts[0];
    assert_eq!(attempt.outcome, AttemptOutcome::Succeeded);
    assert_eq!(attempt.external_ids, ["ext-twitter_0"]);
    assert!(
        attempt
            .correlation_id
            .as_deref()
            .is_some_and(|id| id.starts_with("twitter_0-"))
    );
    assert_eq!(
        attempt.body_hash.as_deref(),
        Some(sha256_hex([br#"{"text":"post 0"}"#.as_slice()]).as_str())
    );
    assert_eq!(
        status(&store, "twitter_5").await.status,
        PostStatus::Scheduled
    );

    // A second pass sends nothing again.
    let summary = once(&dispatcher).await;
    assert!(summary.posts.is_empty());
    assert_eq!(twitter.calls().len(), 4);
}

#[tokio::test]
async fn transient_failures_wait_in_the_queue_until_retries_run_out() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "web", 1, PostStatus::Scheduled).await;
    let web = Arc::new(
        Scripted::new("web", false)
            .then(Err(transient("web")))
            .then(Err(transient("web")))
            .then(Err(transient("web"))),
    );
    let clock = ManualClock::at(T0);
    let dispatcher = dispatcher(&store, &[Arc::clone(&web)], &clock);

    let first = once(&dispatcher).await;
    assert_eq!(first.posts[0].status, PostStatus::Scheduled);
    let retry_at = first.posts[0].next_attempt_at.expect("a retry time");
    // The first retry waits between min_delay and twice it (jitter).
    let wait = retry_at.duration_since(Timestamp::from_second(T0).unwrap());
    assert!(
        wait >= jiff::SignedDuration::from_secs(10) && wait <= jiff::SignedDuration::from_secs(20),
        "{wait:?}"
    );
    // Not due before its retry time.
    assert!(once(&dispatcher).await.posts.is_empty());
    clock.advance(Duration::from_secs(21));
    assert_eq!(
        once(&dispatcher).await.posts[0].status,
        PostStatus::Scheduled
    );
    clock.advance(Duration::from_secs(61));
    let last = once(&dispatcher).await;
    assert_eq!(last.posts[0].status, PostStatus::Failed);
    let post = status(&store, "web_0").await;
    assert_eq!(post.status, PostStatus::Failed);
    assert_eq!(post.attempt_count, 3);
    assert_eq!(post.attempts.len(), 3);
    assert!(
        post.attempts[2]
            .error
            .as_deref()
            .is_some_and(|error| error.contains("retries exhausted")),
        "{:?}",
        post.attempts[2]
    );

    // A person's retry starts the attempts afresh; the next send succeeds.
    store
        .transition(&PostId("web_0".to_owned()), Action::Retry, None)
        .await
        .unwrap();
    assert_eq!(status(&store, "web_0").await.attempt_count, 0);
    assert_eq!(
        once(&dispatcher).await.posts[0].status,
        PostStatus::Published
    );
}

#[tokio::test]
async fn unknown_outcomes_are_unconfirmed_without_idempotency_keys_and_resent_with_them() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 1, PostStatus::Scheduled).await;
    store_posts(&store, "email", 1, PostStatus::Scheduled).await;
    let twitter = Arc::new(Scripted::new("twitter", false).then(Err(unknown("twitter"))));
    let email = Arc::new(Scripted::new("email", true).then(Err(unknown("email"))));
    let clock = ManualClock::at(T0);
    let dispatcher = dispatcher(&store, &[Arc::clone(&twitter), Arc::clone(&email)], &clock);

    once(&dispatcher).await;
    let post = status(&store, "twitter_0").await;
    assert_eq!(post.status, PostStatus::Unconfirmed);
    assert_eq!(post.attempts[0].outcome, AttemptOutcome::Unknown);
    assert_eq!(
        status(&store, "email_0").await.status,
        PostStatus::Scheduled
    );

    // Nothing sends the unconfirmed post again; the email goes out on retry.
    clock.advance(Duration::from_secs(30));
    once(&dispatcher).await;
    assert_eq!(twitter.calls().len(), 1);
    assert_eq!(email.calls().len(), 2);
    assert_eq!(
        status(&store, "email_0").await.status,
        PostStatus::Published
    );

    // A person who finds the post on X confirms it.
    let id = PostId("twitter_0".to_owned());
    store.transition(&id, Action::Confirm, None).await.unwrap();
    let confirmed = status(&store, "twitter_0").await;
    assert_eq!(confirmed.status, PostStatus::Published);
    assert!(confirmed.published_at.is_some());
    assert!(matches!(
        store.transition(&id, Action::Retry, None).await,
        Err(StoreError::Illegal(_))
    ));
}

#[tokio::test]
async fn reconciliation_publishes_what_was_found_and_resends_what_is_proven_absent() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 4, PostStatus::Scheduled).await;
    let mut twitter = Scripted::new("twitter", false);
    for _ in 0..4 {
        twitter = twitter.then(Err(unknown("twitter")));
    }
    let twitter = Arc::new(
        twitter
            .then_look_up(Ok(Lookup::Published {
                external_ids: vec!["found-0".to_owned()],
                evidence: "found among the account's posts".to_owned(),
            }))
            .then_look_up(Ok(Lookup::Absent {
                sent: Vec::new(),
                evidence: "not among the account's posts".to_owned(),
            }))
            .then_look_up(Ok(Lookup::Unsure {
                reason: "the timeline is too busy".to_owned(),
            }))
            .then_look_up(Err(transient("twitter"))),
    );
    let clock = ManualClock::at(T0 + 10);
    let dispatcher = dispatcher(&store, &[Arc::clone(&twitter)], &clock);
    once(&dispatcher).await;
    assert_eq!(
        store
            .posts(&PostFilter {
                status: Some(PostStatus::Unconfirmed),
                ..PostFilter::default()
            })
            .await
            .unwrap()
            .len(),
        4
    );

    // Too soon after the send: the channel may not list the post yet.
    let early = dispatcher.reconcile().await.unwrap();
    assert_eq!(early.len(), 4);
    assert!(
        early
            .iter()
            .all(|post| post.status == PostStatus::Unconfirmed
                && post.note.contains("dispatcher.reconcile_after")),
        "{early:?}"
    );

    clock.advance(Duration::from_secs(180));
    let done = dispatcher.reconcile().await.unwrap();
    let statuses: Vec<(&str, PostStatus)> = done
        .iter()
        .map(|post| (post.id.0.as_str(), post.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("twitter_0", PostStatus::Published),
            ("twitter_1", PostStatus::Scheduled),
            ("twitter_2", PostStatus::Unconfirmed),
            ("twitter_3", PostStatus::Unconfirmed),
        ]
    );
    assert_eq!(done[2].note, "the timeline is too busy");
    assert!(
        done[3]
            .note
            .starts_with("the look-up failed: twitter failed transiently")
    );
    let found = status(&store, "twitter_0").await;
    assert_eq!(found.external_ids, ["found-0"]);
    let record = found.attempts.last().unwrap();
    assert_eq!(
        (record.outcome, record.note.as_deref()),
        (
            AttemptOutcome::Found,
            Some("found among the account's posts")
        )
    );
    assert_eq!(
        status(&store, "twitter_1")
            .await
            .attempts
            .last()
            .unwrap()
            .outcome,
        AttemptOutcome::Absent
    );

    // The post proven absent goes out on the next pass, once; the others
    // are not sent again.
    once(&dispatcher).await;
    let calls = twitter.calls();
    assert_eq!(calls.len(), 5);
    assert_eq!(calls[4].0, PostId("twitter_1".to_owned()));
    assert_eq!(
        status(&store, "twitter_1").await.status,
        PostStatus::Published
    );
}

/// X says after a post that its 24-hour quota is used up: the channel's
/// other due posts wait, unleased, until the quota's reset, then go.
#[tokio::test]
async fn an_api_quota_used_up_holds_the_channel_until_its_reset() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 4, PostStatus::Scheduled).await;
    let reset = Timestamp::from_second(T0 + 3600).unwrap();
    let twitter = Arc::new(Scripted::new("twitter", false).then(Ok(PublishReceipt {
        external_ids: vec!["1".to_owned()],
        url: None,
        quota_left: Some(QuotaLeft {
            sends: 0,
            until: reset,
        }),
    })));
    let clock = ManualClock::at(T0);
    let dispatcher = dispatcher(&store, &[Arc::clone(&twitter)], &clock);
    once(&dispatcher).await;
    assert_eq!(twitter.calls().len(), 1);

    clock.advance(Duration::from_secs(10));
    let summary = once(&dispatcher).await;
    assert!(summary.posts.is_empty(), "{summary:?}");
    assert_eq!(twitter.calls().len(), 1);
    assert!(
        summary.waiting.iter().any(|waiting| waiting
            == &format!(
                "twitter: the API's daily quota is used up until {reset}; its due posts wait"
            )),
        "{:?}",
        summary.waiting
    );
    assert_eq!(
        status(&store, "twitter_1").await.status,
        PostStatus::Scheduled
    );

    clock.advance(Duration::from_secs(3600));
    let summary = once(&dispatcher).await;
    assert_eq!(summary.posts.len(), 3);
    assert_eq!(twitter.calls().len(), 4);
}

#[tokio::test]
async fn permanent_failures_fail_at_once() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "linkedin", 1, PostStatus::Scheduled).await;
    let linkedin = Arc::new(
        Scripted::new("linkedin", false).then(Err(PublishError::Permanent {
            service: Channel::parse("linkedin").unwrap().into(),
            status: 422,
            message: "commentary is too long".to_owned(),
        })),
    );
    let clock = ManualClock::at(T0);
    let dispatcher = dispatcher(&store, &[Arc::clone(&linkedin)], &clock);
    once(&dispatcher).await;
    let post = status(&store, "linkedin_0").await;
    assert_eq!(post.status, PostStatus::Failed);
    assert_eq!(post.attempts[0].outcome, AttemptOutcome::Permanent);
    assert!(
        post.attempts[0]
            .error
            .as_deref()
            .is_some_and(|error| error.contains("commentary is too long"))
    );
}

#[tokio::test]
async fn a_thread_resumes_after_the_parts_that_went_out() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 1, PostStatus::Scheduled).await;
    let twitter = Arc::new(
        Scripted::new("twitter", false)
            .then(Err(PublishError::Partial {
                sent: vec!["part-1".to_owned()],
                error: Box::new(transient("twitter")),
            }))
            .then(Ok(PublishReceipt {
                external_ids: vec!["part-1".to_owned(), "part-2".to_owned()],
                url: None,
                quota_left: None,
            })),
    );
    let clock = ManualClock::at(T0);
    let dispatcher = dispatcher(&store, &[Arc::clone(&twitter)], &clock);
    once(&dispatcher).await;
    assert_eq!(status(&store, "twitter_0").await.external_ids, ["part-1"]);
    // With a part out, the thread's content is fixed: neither a re-plan nor
    // an edit changes it.
    let id = PostId("twitter_0".to_owned());
    let replanned = NewPost {
        content: json!({"text": "another thread"}),
        ..new_post("twitter", 0, PostStatus::Scheduled)
    };
    let report = store
        .save_plan(&plan("twitter"), &[replanned])
        .await
        .unwrap();
    assert_eq!(report.kept, std::slice::from_ref(&id));
    assert!(matches!(
        store
            .edit(&id, &json!({"text": "edited"}), &json!([]))
            .await,
        Err(StoreError::PartlySent(_))
    ));
    clock.advance(Duration::from_secs(30));
    once(&dispatcher).await;
    let calls = twitter.calls();
    assert_eq!(calls[0].1, Vec::<String>::new());
    assert_eq!(calls[1].1, ["part-1"]);
    let post = status(&store, "twitter_0").await;
    assert_eq!(post.status, PostStatus::Published);
    assert_eq!(post.external_ids, ["part-1", "part-2"]);
    assert_eq!(post.attempts[0].external_ids, ["part-1"]);
}

#[tokio::test]
async fn expired_leases_are_requeued_by_whether_the_request_may_have_left() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 2, PostStatus::Scheduled).await;
    store_posts(&store, "email", 1, PostStatus::Scheduled).await;
    let clock = ManualClock::at(T0 + 5);
    let now = clock.clock()();
    let until = now + Duration::from_secs(30);
    // A dispatcher that died: it leased everything and was sending twitter_0
    // and email_0 when it stopped.
    let twitter_channel = Channel::parse("twitter").unwrap();
    let email_channel = Channel::parse("email").unwrap();
    store
        .lease("dead", &twitter_channel, now, until, 10, Leasing::Due)
        .await
        .unwrap();
    store
        .lease("dead", &email_channel, now, until, 10, Leasing::Due)
        .await
        .unwrap();
    for id in ["twitter_0", "email_0"] {
        let ids = [PostId(id.to_owned())];
        assert_eq!(store.mark_sending(&ids, "dead", now).await.unwrap(), ids);
    }

    let twitter = Arc::new(Scripted::new("twitter", false));
    let email = Arc::new(Scripted::new("email", true));
    let dispatcher = dispatcher(&store, &[Arc::clone(&twitter), Arc::clone(&email)], &clock);
    // Before the lease expires nothing is taken from the dead dispatcher.
    assert!(once(&dispatcher).await.posts.is_empty());

    clock.advance(Duration::from_secs(31));
    let summary = once(&dispatcher).await;
    assert_eq!(summary.requeued.len(), 3);
    // Not in flight: sent. In flight without idempotency keys: unconfirmed,
    // never sent again. In flight with keys: sent again with the same key.
    assert_eq!(
        status(&store, "twitter_1").await.status,
        PostStatus::Published
    );
    let lost = status(&store, "twitter_0").await;
    assert_eq!(lost.status, PostStatus::Unconfirmed);
    assert!(lost.attempts[0].error.as_deref().unwrap().contains("dead"));
    assert_eq!(
        status(&store, "email_0").await.status,
        PostStatus::Published
    );
    let sent: Vec<String> = twitter.calls().into_iter().map(|call| call.0.0).collect();
    assert_eq!(sent, ["twitter_1"]);
    assert_eq!(email.calls().len(), 1);
}

#[tokio::test]
async fn a_dispatcher_that_lost_its_lease_does_not_overwrite_the_new_state() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 1, PostStatus::Scheduled).await;
    let id = PostId("twitter_0".to_owned());
    let now = Timestamp::from_second(T0).unwrap();
    let channel = Channel::parse("twitter").unwrap();
    store
        .lease(
            "slow",
            &channel,
            now,
            now + Duration::from_secs(1),
            1,
            Leasing::Due,
        )
        .await
        .unwrap();
    let marked = store
        .mark_sending(std::slice::from_ref(&id), "slow", now)
        .await
        .unwrap();
    assert_eq!(marked, std::slice::from_ref(&id));
    let later = now + Duration::from_secs(2);
    store
        .requeue(Requeue::ExpiredBefore(later), &[], later)
        .await
        .unwrap();
    let finish = Finish {
        status: PostStatus::Published,
        attempt: Some(Attempt {
            at: later,
            outcome: AttemptOutcome::Succeeded,
            error: None,
            external_ids: vec!["1".to_owned()],
            correlation_id: None,
            body_hash: None,
            note: None,
        }),
        external_ids: vec!["1".to_owned()],
        next_attempt_at: None,
        counted: true,
    };
    assert_eq!(
        store
            .finish("slow", &[(id.clone(), finish)], later)
            .await
            .unwrap(),
        [false]
    );
    let post = status(&store, "twitter_0").await;
    assert_eq!(post.status, PostStatus::Unconfirmed);
    // Both the requeue and the late success are on record.
    assert_eq!(post.attempts.len(), 2);
}

#[tokio::test]
async fn an_open_breaker_leaves_posts_queued_and_other_channels_carry_on() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "web", 8, PostStatus::Scheduled).await;
    store_posts(&store, "email", 2, PostStatus::Scheduled).await;
    let mut web = Scripted::new("web", false);
    for _ in 0..5 {
        web = web.then(Err(transient("web")));
    }
    let web = Arc::new(web);
    let email = Arc::new(Scripted::new("email", true));
    let clock = ManualClock::at(T0 + 60);
    let dispatcher = dispatcher(&store, &[Arc::clone(&web), Arc::clone(&email)], &clock);
    let summary = once(&dispatcher).await;
    // Five failures open the breaker; the other three posts were never tried.
    assert_eq!(web.calls().len(), 5);
    assert!(
        summary
            .waiting
            .iter()
            .any(|reason| reason.contains("circuit open")),
        "{:?}",
        summary.waiting
    );
    let web_posts = store
        .posts(&PostFilter {
            channel: Some(Channel::parse("web").unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        web_posts
            .iter()
            .all(|post| post.status == PostStatus::Scheduled)
    );
    assert_eq!(
        web_posts
            .iter()
            .filter(|post| post.attempt_count == 0)
            .count(),
        3
    );
    assert_eq!(email.calls().len(), 2);
}

#[tokio::test]
async fn unconfigured_channels_wait_and_approved_posts_are_queued() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "linkedin", 1, PostStatus::Draft).await;
    store_posts(&store, "web", 1, PostStatus::Scheduled).await;
    let id = PostId("linkedin_0".to_owned());
    store.transition(&id, Action::Approve, None).await.unwrap();
    let linkedin = Arc::new(Scripted::new("linkedin", false));
    let mut web = Scripted::new("web", false);
    web.configured = false;
    let web = Arc::new(web);
    let clock = ManualClock::at(T0);
    let dispatcher = dispatcher(&store, &[Arc::clone(&linkedin), Arc::clone(&web)], &clock);
    let summary = once(&dispatcher).await;
    assert_eq!(summary.queued, 1);
    assert_eq!(
        status(&store, "linkedin_0").await.status,
        PostStatus::Published
    );
    assert!(web.calls().is_empty());
    assert_eq!(status(&store, "web_0").await.status, PostStatus::Scheduled);
    assert!(
        summary
            .waiting
            .iter()
            .any(|reason| reason.contains("channels.test.api_key")),
        "{:?}",
        summary.waiting
    );
    // A channel with no publisher here: its due posts are named, not sent.
    store_posts(&store, "mastodon", 3, PostStatus::Scheduled).await;
    clock.advance(Duration::from_secs(1));
    let summary = once(&dispatcher).await;
    assert!(
        summary.waiting.contains(
            &"mastodon: 2 due posts wait: the channel is disabled or not in this build".to_owned()
        ),
        "{:?}",
        summary.waiting
    );
}

#[tokio::test]
async fn a_preview_of_due_posts_changes_nothing() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 2, PostStatus::Scheduled).await;
    let twitter = Arc::new(Scripted::new("twitter", false));
    let clock = ManualClock::at(T0);
    let dispatcher = dispatcher(&store, &[Arc::clone(&twitter)], &clock);
    let due = dispatcher.preview_due(100).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(dispatcher.due_count().await.unwrap(), 1);
    assert_eq!(
        store.due_by_channel(clock.clock()()).await.unwrap(),
        [(Channel::parse("twitter").unwrap(), 1)]
    );
    assert_eq!(due[0].requests[0].body, Some(json!({"text": "post 0"})));
    assert!(twitter.calls().is_empty());
    assert_eq!(
        status(&store, "twitter_0").await.status,
        PostStatus::Scheduled
    );
}

#[tokio::test]
async fn two_dispatchers_on_one_store_never_send_a_post_twice() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 60, PostStatus::Scheduled).await;
    let twitter = Arc::new(Scripted::new("twitter", false));
    let clock = ManualClock::at(T0 + 100);
    let first = dispatcher(&store, &[Arc::clone(&twitter)], &clock);
    let second = dispatcher(&store, &[Arc::clone(&twitter)], &clock);
    let (a, b) = tokio::join!(once(&first), once(&second));
    assert_eq!(a.posts.len() + b.posts.len(), 60);
    let mut sent: Vec<String> = twitter
        .calls()
        .iter()
        .map(|call| call.0.0.clone())
        .collect();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 60);
    assert_eq!(twitter.calls().len(), 60);
}

#[tokio::test]
async fn shutdown_releases_what_was_leased_but_not_sent() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 3, PostStatus::Scheduled).await;
    let twitter = Arc::new(Scripted::new("twitter", false));
    let clock = ManualClock::at(T0 + 10);
    let dispatcher = dispatcher(&store, &[Arc::clone(&twitter)], &clock);
    let stop = CancellationToken::new();
    stop.cancel();
    // Leased by a pass that was told to stop before sending anything.
    let channel = Channel::parse("twitter").unwrap();
    let now = clock.clock()();
    store
        .lease(
            dispatcher.owner(),
            &channel,
            now,
            now + Duration::from_secs(30),
            10,
            Leasing::Due,
        )
        .await
        .unwrap();
    dispatcher.run(stop).await.unwrap();
    assert!(twitter.calls().is_empty());
    for n in 0..3 {
        assert_eq!(
            status(&store, &format!("twitter_{n}")).await.status,
            PostStatus::Scheduled
        );
    }
}

#[tokio::test]
async fn a_rate_limit_with_a_reset_time_pauses_the_channel_without_using_up_attempts() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 8, PostStatus::Scheduled).await;
    let twitter = Arc::new(
        Scripted::new("twitter", false).then(Err(PublishError::RateLimited {
            service: Channel::parse("twitter").unwrap().into(),
            retry_after: Some(Duration::from_secs(900)),
        })),
    );
    let clock = ManualClock::at(T0 + 60);
    let dispatcher = dispatcher(&store, &[Arc::clone(&twitter)], &clock);

    let summary = once(&dispatcher).await;
    // Only the send in flight beside the limited one was made; the rest of
    // the batch went back untried, and no further batch was leased.
    assert_eq!(twitter.calls().len(), 2);
    assert_eq!(
        summary
            .posts
            .iter()
            .filter(|post| post.rate_limited)
            .count(),
        3
    );
    let reset = Timestamp::from_second(T0 + 60 + 900).unwrap();
    assert!(
        summary
            .posts
            .iter()
            .filter(|post| post.rate_limited)
            .all(|post| post.next_attempt_at.unwrap() >= reset)
    );
    assert!(
        summary
            .waiting
            .iter()
            .any(|reason| reason.starts_with("twitter: rate limited by the API until")),
        "{:?}",
        summary.waiting
    );
    // The first call met the limit.
    let limited = twitter.calls()[0].0.clone();
    let post = status(&store, &limited.0).await;
    assert_eq!(post.status, PostStatus::Scheduled);
    assert_eq!(post.attempt_count, 0, "a rate limit uses up no attempt");
    assert_eq!(post.attempts.len(), 1, "but it is on record");

    // The send that was in flight beside it is on record as what it was.
    let beside = status(&store, &twitter.calls()[1].0.0).await;
    assert_eq!(beside.status, PostStatus::Published);
    assert_eq!(beside.attempts.len(), 1);
    assert_eq!(beside.attempts[0].outcome, AttemptOutcome::Succeeded);
    assert_eq!(beside.external_ids, [format!("ext-{}", beside.id)]);
    assert_eq!(
        summary
            .posts
            .iter()
            .filter(|post| post.status == PostStatus::Published)
            .count(),
        1,
        "only what went out is reported as sent"
    );

    let untried = status(&store, "twitter_3").await;
    assert_eq!(untried.status, PostStatus::Scheduled);
    assert!(untried.attempts.is_empty(), "sent back without a request");

    clock.advance(Duration::from_secs(16 * 60));
    once(&dispatcher).await;
    assert_eq!(twitter.calls().len(), 9);
    let posts = store.posts(&PostFilter::default()).await.unwrap();
    assert!(
        posts
            .iter()
            .all(|post| post.status == PostStatus::Published)
    );
}

#[tokio::test]
async fn new_content_from_a_re_plan_starts_its_attempts_afresh() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "web", 1, PostStatus::Scheduled).await;
    let web = Arc::new(Scripted::new("web", false).then(Err(transient("web"))));
    let clock = ManualClock::at(T0);
    let dispatcher = dispatcher(&store, &[Arc::clone(&web)], &clock);
    once(&dispatcher).await;
    let waiting = status(&store, "web_0").await;
    assert_eq!(
        (waiting.attempt_count, waiting.next_attempt_at.is_some()),
        (1, true)
    );
    let replanned = NewPost {
        content: json!({"text": "corrected"}),
        ..new_post("web", 0, PostStatus::Scheduled)
    };
    let report = store.save_plan(&plan("web"), &[replanned]).await.unwrap();
    assert_eq!(report.updated.len(), 1);
    let fresh = status(&store, "web_0").await;
    assert_eq!((fresh.attempt_count, fresh.next_attempt_at), (0, None));
    // Due again at once, with the new content.
    once(&dispatcher).await;
    assert_eq!(status(&store, "web_0").await.status, PostStatus::Published);
}

#[tokio::test]
async fn only_the_leases_named_are_renewed() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 2, PostStatus::Scheduled).await;
    let channel = Channel::parse("twitter").unwrap();
    let now = Timestamp::from_second(T0 + 10).unwrap();
    store
        .lease(
            "a",
            &channel,
            now,
            now + Duration::from_secs(1),
            2,
            Leasing::Due,
        )
        .await
        .unwrap();
    let kept = PostId("twitter_0".to_owned());
    let renewed = store
        .renew(
            "a",
            std::slice::from_ref(&kept),
            now + Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(renewed, 1);
    // Another owner cannot renew them.
    assert_eq!(
        store
            .renew(
                "b",
                std::slice::from_ref(&kept),
                now + Duration::from_secs(60)
            )
            .await
            .unwrap(),
        0
    );
    let later = now + Duration::from_secs(2);
    let requeued = store
        .requeue(Requeue::ExpiredBefore(later), &[], later)
        .await
        .unwrap();
    let ids: Vec<&str> = requeued.iter().map(|post| post.id.0.as_str()).collect();
    assert_eq!(ids, ["twitter_1"]);
    assert_eq!(
        status(&store, "twitter_0").await.status,
        PostStatus::Publishing
    );
}

#[tokio::test]
async fn posts_waiting_for_the_rate_limit_are_not_leased() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 3, PostStatus::Scheduled).await;
    let twitter = Arc::new(Scripted::new("twitter", false));
    let clock = ManualClock::at(T0 + 10);
    // One send an hour: the first goes at once, the others wait.
    let limit = Some("1/1h".parse().unwrap());
    let statuses = |store: Arc<SqlStore>| async move {
        let mut statuses = Vec::new();
        for n in 0..3 {
            let post = status(&store, &format!("twitter_{n}")).await;
            statuses.push((post.status, post.attempts.len()));
        }
        statuses
    };
    // Each dispatcher (a new process) sends one post at once, then waits.
    for (sent, ending) in [(1, "shutdown"), (2, "crash")] {
        let waiting: Vec<(PostStatus, usize)> = (0..3)
            .map(|n| {
                if n < sent {
                    (PostStatus::Published, 1)
                } else {
                    (PostStatus::Scheduled, 0)
                }
            })
            .collect();
        let dispatcher = rate_limited_dispatcher(&store, &[Arc::clone(&twitter)], &clock, limit);
        let stop = CancellationToken::new();
        let run = dispatcher.run(stop.clone());
        tokio::pin!(run);
        let sent_first = async {
            while statuses(Arc::clone(&store)).await != waiting {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            _ = &mut run => panic!("the dispatcher stopped by itself"),
            () = sent_first => {}
        }
        // Several polls later the other two still wait, unleased.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(statuses(Arc::clone(&store)).await, waiting, "{ending}");
        if ending == "shutdown" {
            stop.cancel();
            run.await.unwrap();
        }
        // Otherwise a crash: the dispatcher is never polled again, mid-wait,
        // and none of its clean-up runs.
        assert_eq!(statuses(Arc::clone(&store)).await, waiting, "{ending}");
        // Nothing for a later dispatcher to sweep.
        let later = clock.clock()() + Duration::from_secs(3600);
        let requeued = store
            .requeue(Requeue::ExpiredBefore(later), &[], later)
            .await
            .unwrap();
        assert!(requeued.is_empty(), "{ending}: {requeued:?}");
    }
    assert_eq!(twitter.calls().len(), 2);
}

#[tokio::test]
async fn a_pass_over_named_posts_ends_when_they_are_out_whatever_the_rate_limit() {
    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 1, PostStatus::Scheduled).await;
    store_posts(&store, "linkedin", 1, PostStatus::Scheduled).await;
    let twitter = Arc::new(Scripted::new("twitter", false));
    // linkedin's send fails for now: its post waits out a backoff, which
    // must not make the pass wait for another permit either.
    let linkedin = Arc::new(Scripted::new("linkedin", false).then(Err(transient("linkedin"))));
    let clock = ManualClock::at(T0 + 10);
    // One send a day per channel: each post goes at once, and a second
    // permit (for a post already out, or another channel's) would be a
    // day's wait.
    let limit = Some("1/1d".parse().unwrap());
    let dispatcher = rate_limited_dispatcher(
        &store,
        &[Arc::clone(&twitter), Arc::clone(&linkedin)],
        &clock,
        limit,
    );
    let ids: Vec<PostId> = ["twitter_0", "linkedin_0"]
        .into_iter()
        .map(|id| PostId(id.to_owned()))
        .collect();
    let summary = tokio::time::timeout(
        Duration::from_secs(10),
        dispatcher.run_posts(&ids, &CancellationToken::new(), &|_| {}),
    )
    .await
    .expect("the pass ends once its posts are out")
    .unwrap();
    assert_eq!(summary.posts.len(), 2);
    assert_eq!(
        status(&store, "twitter_0").await.status,
        PostStatus::Published
    );
    let retried = status(&store, "linkedin_0").await;
    assert_eq!(retried.status, PostStatus::Scheduled);
    assert!(retried.next_attempt_at.is_some());
}

/// A webhook removed from the configuration has its pending deliveries
/// ended, so that they do not hold the queue for the others.
#[tokio::test]
async fn deliveries_to_a_removed_webhook_are_ended() {
    use halcytone_core::http::HttpClient;
    use halcytone_core::webhooks::{Deliverer, DeliverySettings};

    let (store, _db) = sqlite().await;
    store_posts(&store, "twitter", 1, PostStatus::Scheduled).await;
    let clock = ManualClock::at(T0);
    let twitter = Arc::new(Scripted::new("twitter", false));
    once(&dispatcher(&store, &[twitter], &clock)).await;
    let now = clock.clock()();
    let removed = "https://hooks.example/removed";
    let queued = store
        .fan_out(
            removed,
            &["post.published".to_owned()],
            now - Duration::from_secs(60),
            now,
        )
        .await
        .unwrap();
    assert_eq!(queued, 1);
    let deliverer = Deliverer::new(
        Arc::clone(&store) as Arc<dyn Store>,
        Vec::new(),
        HttpClient::new(Duration::from_secs(1)).unwrap(),
        DeliverySettings::default(),
    )
    .with_clock(clock.clock());
    assert_eq!(deliverer.run_once().await.unwrap(), 1);
    let log = store.deliveries(10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].status.as_str(), log[0].last_error.as_deref()),
        ("failed", Some("the webhook is no longer configured"))
    );
    assert_eq!(log[0].event_type, "post.published");
    assert_eq!(deliverer.run_once().await.unwrap(), 0);
}

/// A pre-flight check that starts failing is a `preflight.failed` webhook
/// event, once: it is delivered with the check, and a check still failing
/// on its next run raises no second event.
#[tokio::test]
async fn a_check_that_starts_failing_is_a_webhook_event_once() {
    use halcytone_core::http::HttpClient;
    use halcytone_core::preflight::{Check, Preflight};
    use halcytone_core::secret::SecretString;
    use halcytone_core::testkit::conformance::wiremock::matchers::{method, path};
    use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer, ResponseTemplate};
    use halcytone_core::webhooks::{Deliverer, DeliverySettings, Webhook};

    let (store, _db) = sqlite().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let board = Preflight::default();
    board.set_outbox(Arc::clone(&store) as Arc<dyn Store>);
    let at = Timestamp::now();
    let revoked = Check::fail("twitter.credentials", "GET /2/users/me: 401");
    board
        .record(&[revoked.clone(), Check::pass("source", "read")], at)
        .await
        .unwrap();
    board.record(&[revoked], at).await.unwrap();
    let deliverer = Deliverer::new(
        Arc::clone(&store) as Arc<dyn Store>,
        vec![Webhook {
            url: format!("{}/hook", receiver.uri()),
            secret: SecretString::new("s"),
            events: vec!["preflight.failed".to_owned()],
        }],
        HttpClient::new(Duration::from_secs(5)).unwrap(),
        DeliverySettings::default(),
    );
    assert_eq!(deliverer.run_once().await.unwrap(), 1);
    let received = receiver.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["type"], "preflight.failed");
    assert_eq!(body["check"]["name"], "twitter.credentials");
    assert_eq!(body["check"]["ok"], false);
    assert_eq!(
        received[0].headers["halcytone-event-id"].to_str().unwrap(),
        body["id"].as_str().unwrap()
    );
    let log = store.deliveries(10).await.unwrap();
    assert_eq!(
        (log[0].status.as_str(), log[0].post_id.as_ref()),
        ("delivered", None)
    );
}
