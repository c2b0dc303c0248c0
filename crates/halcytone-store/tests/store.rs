//! End-to-end tests of `SqlStore`: SQLite in a temporary file always,
//! PostgreSQL when `HALCYTONE_TEST_POSTGRES_URL` is set.

mod common;

use halcytone_core::channel::Channel;
use halcytone_core::experiment::{Arm, ArmFigures, ArmOf, Decision};
use halcytone_core::publisher::{PostId, PostStatus, Reading};
use halcytone_core::store::*;
use halcytone_store::{Backend, SqlStore};
use jiff::Timestamp;
use serde_json::json;

use halcytone_core::testkit::required_service;

use crate::common::{sqlite, unique};

async fn postgres(test: &str) -> Option<SqlStore> {
    let url = required_service("HALCYTONE_TEST_POSTGRES_URL", test)?;
    Some(SqlStore::connect(&url).await.unwrap())
}

fn plan(prefix: &str, revision: &str) -> PlanRecord {
    PlanRecord {
        id: format!("{prefix}plan_{revision}"),
        period: "week".to_owned(),
        start: "2026-11-30".to_owned(),
        timezone: "Europe/London".to_owned(),
        warnings: vec![],
    }
}

fn post(prefix: &str, n: i64, text: &str) -> NewPost {
    let channel = if n % 2 == 0 { "twitter" } else { "email" };
    NewPost {
        id: PostId(format!("{prefix}post_{n}")),
        channel: Channel::parse(channel).unwrap(),
        scheduled_at: Timestamp::from_second(1_796_029_200 + n * 3600).unwrap(),
        item_id: format!("item-{n}"),
        item: json!({"id": format!("item-{n}"), "section": "Breathscape", "title": "T"}),
        includes: vec![],
        status: PostStatus::Draft,
        locale: "en-GB".to_owned(),
        segment: None,
        experiment: None,
        content: json!({"text": text}),
        request: json!([{"method": "POST", "url": "https://x.test/2/tweets", "body": {"text": text}}]),
    }
}

fn ids(report: &[PostId]) -> Vec<&str> {
    report.iter().map(|id| id.0.as_str()).collect()
}

/// The whole scenario, run against each backend.
async fn scenario(store: &SqlStore) {
    let p = unique("t");
    let p = format!("{p}_");
    let pid = |n: i64| PostId(format!("{p}post_{n}"));
    let mut posts: Vec<NewPost> = (0..4).map(|n| post(&p, n, "first")).collect();
    // One post of another language's document.
    posts[3].locale = "de".to_owned();

    // First save: all new.
    let report = store.save_plan(&plan(&p, "a"), &posts).await.unwrap();
    assert_eq!(report.inserted.len(), 4);

    // Same plan again: nothing changes, no duplicates.
    let report = store.save_plan(&plan(&p, "a"), &posts).await.unwrap();
    assert!(report.inserted.is_empty());
    assert_eq!(report.unchanged.len(), 4);
    let mine = |all: Vec<StoredPost>| -> Vec<StoredPost> {
        all.into_iter()
            .filter(|post| post.id.0.starts_with(&p))
            .collect()
    };
    assert_eq!(
        mine(store.posts(&PostFilter::default()).await.unwrap()).len(),
        4
    );
    let german = mine(
        store
            .posts(&PostFilter {
                locale: Some("de".to_owned()),
                ..PostFilter::default()
            })
            .await
            .unwrap(),
    );
    assert_eq!(german.len(), 1);
    assert_eq!(german[0].id, pid(3));
    assert_eq!(german[0].locale.as_deref(), Some("de"));
    assert_eq!(
        store
            .post(&pid(0))
            .await
            .unwrap()
            .unwrap()
            .locale
            .as_deref(),
        Some("en-GB")
    );

    // Approve post 0 and bring it to published; approve post 1.
    let approved = store
        .transition(&pid(0), Action::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        (approved.from, approved.to),
        (PostStatus::Draft, PostStatus::Approved)
    );
    for action in [Action::Schedule, Action::Lease, Action::PublishSucceeded] {
        store.transition(&pid(0), action, None).await.unwrap();
    }
    let hash_1 = store.post(&pid(1)).await.unwrap().unwrap().content_hash;
    store
        .transition(&pid(1), Action::Approve, Some(&hash_1))
        .await
        .unwrap();
    assert_eq!(
        store.post(&pid(1)).await.unwrap().unwrap().approved_hash,
        Some(hash_1.clone())
    );
    // An approval of content the reviewer did not see is refused.
    assert!(matches!(
        store
            .transition(&pid(2), Action::Approve, Some("stale"))
            .await,
        Err(StoreError::StaleApproval(_))
    ));

    // A re-plan with new content: drafts updated in place, the published
    // post kept, the approval of post 1 voided.
    let changed: Vec<NewPost> = (0..4).map(|n| post(&p, n, "second")).collect();
    let report = store.save_plan(&plan(&p, "b"), &changed).await.unwrap();
    assert_eq!(ids(&report.kept), [pid(0).0.as_str()]);
    assert_eq!(report.updated.len(), 3);
    assert_eq!(ids(&report.voided), [pid(1).0.as_str()]);
    let all = mine(store.posts(&PostFilter::default()).await.unwrap());
    assert_eq!(all.len(), 4, "no duplicates");
    let published = &all[0];
    assert_eq!(published.status, PostStatus::Published);
    assert_eq!(published.content, json!({"text": "first"}));
    assert_eq!(published.plan_id, format!("{p}plan_a"));
    for stored in &all[1..] {
        assert_eq!(stored.status, PostStatus::Draft);
        assert_eq!(stored.content, json!({"text": "second"}));
        assert_eq!(stored.approved_hash, None);
        assert_eq!(stored.plan_id, format!("{p}plan_b"));
    }

    // Filters.
    let filter = PostFilter {
        status: Some(PostStatus::Draft),
        channel: Some(Channel::parse("twitter").unwrap()),
        ..PostFilter::default()
    };
    assert_eq!(
        mine(store.posts(&filter).await.unwrap())
            .iter()
            .map(|post| post.id.clone())
            .collect::<Vec<_>>(),
        [pid(2)]
    );
    let window = PostFilter {
        from: Some(all[1].scheduled_at),
        to: Some(all[3].scheduled_at),
        ..PostFilter::default()
    };
    assert_eq!(mine(store.posts(&window).await.unwrap()).len(), 2);
    // Pages: after a post's key, at most `limit`, in the listing's order.
    let prefixed = PostFilter {
        id_prefix: Some(format!("{p}post_")),
        ..PostFilter::default()
    };
    let listed = store.posts(&prefixed).await.unwrap();
    assert_eq!(listed.len(), 4, "the prefix names this run's posts only");
    let page = store
        .posts(&PostFilter {
            after: Some(PostKey::of(&listed[0])),
            limit: Some(2),
            ..prefixed.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|post| &post.id).collect::<Vec<_>>(),
        [&listed[1].id, &listed[2].id]
    );

    // Reject, cancel, and illegal moves name the current state.
    store
        .transition(&pid(2), Action::Reject, None)
        .await
        .unwrap();
    let error = store
        .transition(&pid(2), Action::Approve, None)
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "cannot approve a post that is rejected");
    store
        .transition(&pid(3), Action::Cancel, None)
        .await
        .unwrap();
    assert!(matches!(
        store.transition(&pid(0), Action::Cancel, None).await,
        Err(StoreError::Illegal(_))
    ));
    assert!(matches!(
        store
            .transition(&PostId(format!("{p}missing")), Action::Approve, None)
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Failure, attempts, retry.
    store
        .transition(&pid(1), Action::Approve, None)
        .await
        .unwrap();
    store
        .transition(&pid(1), Action::Schedule, None)
        .await
        .unwrap();
    store
        .transition(&pid(1), Action::Lease, None)
        .await
        .unwrap();
    let first = Attempt {
        at: Timestamp::from_second(1_796_029_300).unwrap(),
        outcome: AttemptOutcome::Transient,
        error: Some("503 Service Unavailable".to_owned()),
        external_ids: vec![],
        correlation_id: Some("req-1".to_owned()),
        body_hash: Some("abc".to_owned()),
        note: None,
    };
    let second = Attempt {
        at: Timestamp::from_second(1_796_029_400).unwrap(),
        outcome: AttemptOutcome::Permanent,
        error: Some("403 Forbidden".to_owned()),
        external_ids: vec!["1".to_owned(), "2".to_owned()],
        correlation_id: None,
        body_hash: None,
        note: None,
    };
    // A dispatcher that does not hold the lease has its attempts recorded,
    // and the post's state left alone.
    let failed = |attempt: &Attempt| Finish {
        status: PostStatus::Failed,
        attempt: Some(attempt.clone()),
        external_ids: attempt.external_ids.clone(),
        next_attempt_at: None,
        counted: true,
    };
    for attempt in [&first, &second] {
        let held = store
            .finish("another", &[(pid(1), failed(attempt))], attempt.at)
            .await
            .unwrap();
        assert_eq!(held, [false]);
    }
    assert_eq!(
        store.post(&pid(1)).await.unwrap().unwrap().status,
        PostStatus::Publishing
    );
    // No attempt without its post.
    assert!(
        store
            .finish(
                "another",
                &[(PostId(format!("{p}missing")), failed(&first))],
                first.at
            )
            .await
            .is_err()
    );
    store
        .transition(&pid(1), Action::PublishFailed, None)
        .await
        .unwrap();
    let failed = store.post(&pid(1)).await.unwrap().unwrap();
    assert_eq!(failed.status, PostStatus::Failed);
    assert_eq!(failed.attempts, [first, second]);
    let retried = store
        .transition(&pid(1), Action::Retry, None)
        .await
        .unwrap();
    assert_eq!(retried.to, PostStatus::Scheduled);

    // An edit of a scheduled, approved post voids the approval.
    let edited = store
        .edit(&pid(1), &json!({"text": "edited"}), &json!([]))
        .await
        .unwrap();
    assert_eq!(
        (edited.from, edited.to, edited.voided),
        (PostStatus::Scheduled, PostStatus::Draft, true)
    );
    let stored = store.post(&pid(1)).await.unwrap().unwrap();
    assert_eq!(stored.content, json!({"text": "edited"}));
    assert_eq!(
        stored.content_hash,
        content_hash(&json!({"text": "edited"}), &json!([]))
    );
    assert_eq!(stored.approved_hash, None);
    assert!(
        store
            .post(&PostId(format!("{p}missing")))
            .await
            .unwrap()
            .is_none()
    );
    reconciliation(store, &p, &pid).await;
}

/// Two new posts become unconfirmed: one is found out, the other proven
/// absent after its first part went out; each finding is on record, and a
/// post no longer unconfirmed is refused.
async fn reconciliation(store: &SqlStore, p: &str, pid: &dyn Fn(i64) -> PostId) {
    let posts = [post(p, 10, "found"), post(p, 12, "absent")];
    store.save_plan(&plan(p, "c"), &posts).await.unwrap();
    for n in [10, 12] {
        for action in [
            Action::Approve,
            Action::Schedule,
            Action::Lease,
            Action::OutcomeUnknown,
        ] {
            store.transition(&pid(n), action, None).await.unwrap();
        }
    }
    let at = Timestamp::from_second(1_796_040_000).unwrap();
    let found = Resolution::Published {
        external_ids: vec!["111".to_owned(), "112".to_owned()],
        evidence: "found among the account's posts".to_owned(),
    };
    let resolved = store
        .resolve_unconfirmed(&pid(10), &found, at)
        .await
        .unwrap();
    assert_eq!(
        (resolved.from, resolved.to),
        (PostStatus::Unconfirmed, PostStatus::Published)
    );
    let published = store.post(&pid(10)).await.unwrap().unwrap();
    assert_eq!(published.status, PostStatus::Published);
    assert_eq!(published.external_ids, ["111", "112"]);
    assert_eq!(published.published_at, Some(at));
    let record = published.attempts.last().unwrap();
    assert_eq!(record.outcome, AttemptOutcome::Found);
    assert_eq!(
        record.note.as_deref(),
        Some("found among the account's posts")
    );
    assert_eq!(record.external_ids, ["111", "112"]);

    let absent = Resolution::Absent {
        sent: vec!["221".to_owned()],
        evidence: "part 2 is not among the account's posts".to_owned(),
    };
    let resolved = store
        .resolve_unconfirmed(&pid(12), &absent, at)
        .await
        .unwrap();
    assert_eq!(resolved.to, PostStatus::Scheduled);
    let scheduled = store.post(&pid(12)).await.unwrap().unwrap();
    assert_eq!(
        (scheduled.status, scheduled.attempt_count),
        (PostStatus::Scheduled, 0)
    );
    assert_eq!(scheduled.external_ids, ["221"]);
    assert_eq!(scheduled.published_at, None);
    assert_eq!(
        scheduled.attempts.last().unwrap().outcome,
        AttemptOutcome::Absent
    );
    // It is sent from where it stopped: the lease carries the part out.
    let now = Timestamp::from_second(1_900_000_000).unwrap();
    let leased = store
        .lease(
            "reconciled",
            &scheduled.channel,
            now,
            now + std::time::Duration::from_secs(30),
            100,
            Leasing::Now(&[pid(12)]),
        )
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].sent, ["221"]);

    for id in [pid(10), pid(12), PostId(format!("{p}missing"))] {
        assert!(store.resolve_unconfirmed(&id, &found, at).await.is_err());
    }
    assert_eq!(
        store.post(&pid(10)).await.unwrap().unwrap().attempts.len(),
        published.attempts.len()
    );
    outbox(store, &pid(10), at).await;
}

/// The publication found by reconciliation is an event in the outbox: it
/// is queued once per webhook, taken by one taker, its body fixed by the
/// first delivery, and its outcome logged.
async fn outbox(store: &SqlStore, published: &PostId, at: Timestamp) {
    let url = format!("https://hooks.example/{}", published.0);
    let types = ["post.published".to_owned()];
    let since = at - std::time::Duration::from_secs(60);
    assert!(store.fan_out(&url, &types, since, at).await.unwrap() >= 1);
    assert_eq!(store.fan_out(&url, &types, since, at).await.unwrap(), 0);
    let hold = at + std::time::Duration::from_secs(60);
    let claimed = store.claim_deliveries(at, hold, 1000).await.unwrap();
    let mine: Vec<&DueDelivery> = claimed
        .iter()
        .filter(|delivery| delivery.url == url && delivery.post_id.as_ref() == Some(published))
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].post_id.as_ref(), Some(published));
    assert_eq!(mine[0].event_type, "post.published");
    // Held: a second taker gets nothing of it.
    assert!(
        store
            .claim_deliveries(at, hold, 1000)
            .await
            .unwrap()
            .iter()
            .all(|delivery| delivery.event_id != mine[0].event_id)
    );
    let event = mine[0].event_id.clone();
    assert_eq!(
        store.fix_event_body(&event, "{\"a\":1}").await.unwrap(),
        "{\"a\":1}"
    );
    assert_eq!(
        store.fix_event_body(&event, "{\"b\":2}").await.unwrap(),
        "{\"a\":1}"
    );
    store
        .record_delivery(
            &event,
            &url,
            &DeliveryOutcome::Retry {
                status: Some(503),
                error: "the receiver answered 503".to_owned(),
                next: at,
            },
            at,
        )
        .await
        .unwrap();
    let retried = store.claim_deliveries(at, hold, 1000).await.unwrap();
    let again = retried
        .iter()
        .find(|delivery| delivery.event_id == event)
        .unwrap();
    assert_eq!(
        (again.attempts, again.body.as_deref()),
        (1, Some("{\"a\":1}"))
    );
    store
        .record_delivery(
            &event,
            &url,
            &DeliveryOutcome::Delivered { status: 204 },
            at,
        )
        .await
        .unwrap();
    let log = store.deliveries(10_000).await.unwrap();
    let record = log
        .iter()
        .find(|record| record.event_id == event && record.url == url)
        .unwrap();
    assert_eq!(
        (record.status.as_str(), record.attempts, record.last_status),
        ("delivered", 2, Some(204))
    );
    assert_eq!(record.delivered_at, Some(at));
}

/// Readings are appended, never overwritten: the latest of each figure is
/// what a report reads, and older ones stay as history.
async fn readings(store: &SqlStore) {
    let p = unique("m");
    let posts: Vec<NewPost> = (0..2)
        .map(|n| post(&format!("{p}_"), n, "measured"))
        .collect();
    store.save_plan(&plan(&p, "m"), &posts).await.unwrap();
    let twitter = Channel::parse("twitter").unwrap();
    let reading = |n: usize, metric: &str, value: f64| Reading {
        post: posts[n].id.clone(),
        metric: metric.to_owned(),
        value,
    };
    let first = Timestamp::from_second(1_900_000_000).unwrap();
    let later = Timestamp::from_second(1_900_003_600).unwrap();
    store
        .record_readings(
            &twitter,
            &[reading(0, "impressions", 100.0), reading(0, "likes", 3.0)],
            first,
        )
        .await
        .unwrap();
    store
        .record_readings(&twitter, &[reading(0, "impressions", 250.0)], later)
        .await
        .unwrap();
    let window = (
        posts[0].scheduled_at,
        posts[1].scheduled_at + std::time::Duration::from_secs(1),
    );
    let latest = store
        .latest_readings(window.0, window.1, Some(&twitter))
        .await
        .unwrap();
    let seen: Vec<(&str, f64, Timestamp)> = latest
        .iter()
        .filter(|latest| latest.post == posts[0].id)
        .map(|latest| (latest.metric.as_str(), latest.value, latest.read_at))
        .collect();
    assert_eq!(seen, [("impressions", 250.0, later), ("likes", 3.0, first)]);
    // Another channel's filter, or a window without the post, sees none of it.
    let email = Channel::parse("email").unwrap();
    assert!(
        store
            .latest_readings(window.0, window.1, Some(&email))
            .await
            .unwrap()
            .iter()
            .all(|latest| latest.post != posts[0].id)
    );
    assert!(
        store
            .latest_readings(
                window.1,
                window.1 + std::time::Duration::from_secs(60),
                None
            )
            .await
            .unwrap()
            .iter()
            .all(|latest| latest.post != posts[0].id)
    );
}

/// A split experiment's winner's send is never due before its decision;
/// the decision is recorded once, and gives the send the winning content
/// with its approval kept.
async fn experiments(store: &SqlStore) {
    let p = format!("{}_", unique("x"));
    let experiment = format!("{p}exp");
    let arm_post = |n: i64, arm: Arm| NewPost {
        channel: Channel::parse("email").unwrap(),
        experiment: Some(ArmOf {
            id: experiment.clone(),
            arm,
        }),
        content: json!({"subject": format!("arm {arm}")}),
        ..post(&p, n, "arm")
    };
    let posts = [
        arm_post(1, Arm::A),
        arm_post(3, Arm::B),
        arm_post(5, Arm::Winner),
    ];
    store.save_plan(&plan(&p, "x"), &posts).await.unwrap();
    // Each post is scheduled by itself: `schedule_approved` would take
    // other tests' posts in a shared database.
    for post in &posts {
        for action in [Action::Approve, Action::Schedule] {
            store.transition(&post.id, action, None).await.unwrap();
        }
    }
    let later = Timestamp::from_second(1_900_000_000).unwrap();
    let due = || async {
        let due: Vec<String> = store
            .due(later, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|post| post.id.0.starts_with(&p))
            .map(|post| post.id.0)
            .collect();
        due
    };
    assert_eq!(
        due().await,
        [posts[0].id.0.clone(), posts[1].id.0.clone()],
        "the winner's send waits"
    );
    let stored = store.post(&posts[2].id).await.unwrap().unwrap();
    assert_eq!(stored.experiment, posts[2].experiment);
    let figures = |post: &NewPost| ArmFigures {
        post: post.id.clone(),
        figures: std::collections::BTreeMap::from([("unique_opens".to_owned(), 300.0)]),
        rate: Some(0.3),
        sample: 300.0,
        sent: true,
    };
    let decision = Decision {
        experiment: experiment.clone(),
        winner: Some(Arm::B),
        inconclusive: false,
        reason: "B's open_rate 30.0% beats A's 20.0%".to_owned(),
        rate: "open_rate".to_owned(),
        a: figures(&posts[0]),
        b: figures(&posts[1]),
        decided_at: later,
    };
    let content = json!({"subject": "arm B", "split": {"arm": "winner"}});
    let request = json!([]);
    let rest = RestContent {
        post: &posts[2].id,
        content: &content,
        request: &request,
    };
    assert!(
        store
            .decide_experiment(&decision, Some(rest))
            .await
            .unwrap()
    );
    assert_eq!(due().await.len(), 3, "decided, the winner's send is due");
    let stored = store.post(&posts[2].id).await.unwrap().unwrap();
    assert_eq!(stored.content, content);
    assert_eq!(stored.status, PostStatus::Scheduled);
    assert_eq!(
        stored.approved_hash.as_deref(),
        Some(stored.content_hash.as_str()),
        "the approval holds: a person approved both arms"
    );
    // A re-plan, which renders arm A's content for it, leaves it alone.
    let report = store.save_plan(&plan(&p, "x"), &posts).await.unwrap();
    assert!(report.kept.contains(&posts[2].id), "{report:?}");
    assert_eq!(
        store.post(&posts[2].id).await.unwrap().unwrap().content,
        content
    );
    // Decided once: a second decision changes nothing.
    let other = json!({"subject": "arm A"});
    let again = RestContent {
        content: &other,
        ..rest
    };
    assert!(
        !store
            .decide_experiment(
                &Decision {
                    winner: Some(Arm::A),
                    ..decision.clone()
                },
                Some(again)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.post(&posts[2].id).await.unwrap().unwrap().content,
        content
    );
    let recorded: Vec<Decision> = store
        .decisions()
        .await
        .unwrap()
        .into_iter()
        .filter(|recorded| recorded.experiment == experiment)
        .collect();
    assert_eq!(recorded, [decision]);
}

#[tokio::test]
async fn sqlite_store_end_to_end() {
    let (store, _db) = sqlite().await;
    assert_eq!(store.backend(), Backend::Sqlite);
    scenario(&store).await;
    readings(&store).await;
    experiments(&store).await;
}

#[tokio::test]
async fn sqlite_store_reopens_with_its_data() {
    let (store, db) = sqlite().await;
    let report = store
        .save_plan(&plan("", "a"), &[post("", 1, "kept")])
        .await
        .unwrap();
    assert_eq!(report.inserted.len(), 1);
    store.pool().close().await;
    let reopened = SqlStore::connect(&format!("sqlite://{}", db.0.display()))
        .await
        .unwrap();
    let stored = reopened.post(&PostId("post_1".to_owned())).await.unwrap();
    assert_eq!(
        stored.map(|post| post.content),
        Some(json!({"text": "kept"}))
    );
    let mode = sqlx::query_scalar::<_, String>("PRAGMA journal_mode")
        .fetch_one(reopened.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn edit_and_approval_hashes() {
    let (store, _db) = sqlite().await;
    let draft = post("", 2, "one");
    store
        .save_plan(&plan("", "a"), std::slice::from_ref(&draft))
        .await
        .unwrap();
    let id = draft.id.clone();
    // Edit needs a hash; an edit to the same content changes nothing.
    assert!(matches!(
        store.transition(&id, Action::Edit, None).await,
        Err(StoreError::MissingHash)
    ));
    store.transition(&id, Action::Approve, None).await.unwrap();
    let same = store
        .transition(&id, Action::Edit, Some(&draft.content_hash()))
        .await
        .unwrap();
    assert_eq!((same.to, same.voided), (PostStatus::Approved, false));
    // A content change behind the approval's back is caught at schedule time.
    sqlx::query("UPDATE posts SET content_hash = 'other' WHERE id = $1")
        .bind(id.0.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    let scheduled = store.transition(&id, Action::Schedule, None).await.unwrap();
    assert_eq!((scheduled.to, scheduled.voided), (PostStatus::Draft, true));
}

#[tokio::test]
async fn approvals_off_replans_scheduled_posts_as_scheduled() {
    let (store, _db) = sqlite().await;
    let mut first = post("", 3, "one");
    first.status = PostStatus::Scheduled;
    store
        .save_plan(&plan("", "a"), std::slice::from_ref(&first))
        .await
        .unwrap();
    let mut second = post("", 3, "two");
    second.status = PostStatus::Scheduled;
    let report = store.save_plan(&plan("", "b"), &[second]).await.unwrap();
    assert_eq!(report.updated.len(), 1);
    assert!(report.voided.is_empty());
    let stored = store.post(&first.id).await.unwrap().unwrap();
    assert_eq!(stored.status, PostStatus::Scheduled);
    // Leased posts are not touched by a re-plan either.
    store
        .transition(&first.id, Action::Lease, None)
        .await
        .unwrap();
    let report = store
        .save_plan(&plan("", "c"), &[post("", 3, "three")])
        .await
        .unwrap();
    assert_eq!(ids(&report.kept), ["post_3"]);
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    assert!(matches!(
        SqlStore::connect("mysql://localhost/db").await,
        Err(StoreError::UnsupportedUrl(_))
    ));
}

#[tokio::test]
async fn postgres_store_end_to_end() {
    let Some(store) = postgres("postgres_store_end_to_end").await else {
        return;
    };
    assert_eq!(store.backend(), Backend::Postgres);
    scenario(&store).await;
    readings(&store).await;
    experiments(&store).await;
}

/// Leases `posts` scheduled posts of a channel of their own, eight at a
/// time by four leasers at once that send what they lease: no lease may
/// hand out more than it was asked for (the extra posts would sit leased
/// with nobody sending them), and no post is leased twice. This states the
/// contract on both backends; the PostgreSQL plan that broke it was only
/// seen with two processes, which the end-to-end replica test
/// (`tests/tests/dispatch.rs`) drives.
async fn leases_at_most_what_is_asked(store: &SqlStore, posts: i64) {
    let p = format!("{}_", unique("lease"));
    let channel = Channel::parse(&format!("c{}", p.replace('_', "-"))[..32]).unwrap();
    let batch: Vec<NewPost> = (0..posts)
        .map(|n| NewPost {
            channel: channel.clone(),
            ..post(&p, n, "due")
        })
        .collect();
    store.save_plan(&plan(&p, "a"), &batch).await.unwrap();
    for post in &batch {
        for action in [Action::Approve, Action::Schedule] {
            store.transition(&post.id, action, None).await.unwrap();
        }
    }
    let now = Timestamp::from_second(1_900_000_000).unwrap();
    let until = now + std::time::Duration::from_secs(30);
    let leaser = |owner: String| {
        let channel = channel.clone();
        async move {
            let mut leased = Vec::new();
            loop {
                let taken = store
                    .lease(&owner, &channel, now, until, 8, Leasing::Due)
                    .await
                    .unwrap();
                assert!(taken.len() <= 8, "asked for 8, leased {}", taken.len());
                if taken.is_empty() {
                    return leased;
                }
                // Sent at once, as a dispatcher would: rows change under
                // the other leasers' feet.
                let ids: Vec<PostId> = taken.into_iter().map(|post| post.id).collect();
                store.mark_sending(&ids, &owner, now).await.unwrap();
                let finished: Vec<(PostId, Finish)> = ids
                    .iter()
                    .map(|id| {
                        let finish = Finish {
                            status: PostStatus::Published,
                            attempt: None,
                            counted: true,
                            external_ids: vec![format!("x-{}", id.0)],
                            next_attempt_at: None,
                        };
                        (id.clone(), finish)
                    })
                    .collect();
                store.finish(&owner, &finished, now).await.unwrap();
                leased.extend(ids);
            }
        }
    };
    let mut leased: Vec<PostId> =
        futures_util::future::join_all((0..4).map(|n| leaser(format!("owner-{n}"))))
            .await
            .into_iter()
            .flatten()
            .collect();
    let taken = leased.len();
    leased.sort_by(|a, b| a.0.cmp(&b.0));
    leased.dedup();
    assert_eq!(leased.len(), taken, "a post was leased twice");
    assert_eq!(taken, usize::try_from(posts).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_lease_takes_at_most_what_is_asked() {
    let (store, _file) = sqlite().await;
    leases_at_most_what_is_asked(&store, 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_lease_takes_at_most_what_is_asked() {
    let Some(store) = postgres("a_postgres_lease_takes_at_most_what_is_asked").await else {
        return;
    };
    leases_at_most_what_is_asked(&store, 300).await;
}
