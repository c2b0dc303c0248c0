//! Halcytone's durable store: [`SqlStore`], the [`Store`] of
//! `halcytone-core` on SQLite or PostgreSQL through sqlx's `Any` driver,
//! with the same SQL on both (`$n` placeholders, `ON CONFLICT`) and the
//! migrations of each backend embedded.
#![deny(missing_docs)]

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Row};

use halcytone_core::channel::Channel;
use halcytone_core::experiment::{Arm, ArmOf, Decision};
use halcytone_core::publisher::{PostId, PostStatus, Reading};
use halcytone_core::store::lifecycle::{self, Action, is_protected, parse_status, status_name};
use halcytone_core::store::{
    Attempt, AttemptOutcome, DeliveryOutcome, DeliveryRecord, DueDelivery, Finish, LatestReading,
    LeasedPost, Leasing, NewPost, PlanRecord, PlannedVersion, PostFilter, Requeue, Requeued,
    Resolution, RestContent, SaveReport, Store, StoreError, StoredPlan, StoredPost, Transitioned,
    content_hash, event_type, new_event_id,
};

/// How often a compare-and-set transition is tried again when the post
/// changed between reading and writing it.
const CAS_TRIES: usize = 3;

/// A post with its content: `{POST_SELECT} WHERE …`.
const POST_SELECT: &str = "SELECT id, plan_id, channel, scheduled_at, item, includes, status, locale, segment, \
                           experiment, arm, content, request, content_hash, approved_hash, created_at, updated_at, \
                           attempt_count, next_attempt_ms, external_ids, published_at_ms, \
                           edited_at, conflict, previous, suggestion \
                           FROM posts JOIN post_contents ON post_contents.post_id = posts.id";

/// Who wrote a post's new content.
#[derive(Debug, Clone, Copy)]
enum Author {
    /// A person (an edit): kept through re-plans.
    Person,
    /// The document (a conflict taken back): as planned.
    Document,
}

/// What makes a scheduled post due at `$1` (seconds) and `$2` (milliseconds):
/// its time has come, its backoff is over, and its approval still holds.
/// A winner's send waits for its experiment's decision.
macro_rules! due {
    () => {
        "status = 'scheduled' AND scheduled_at <= $1 \
         AND (next_attempt_ms IS NULL OR next_attempt_ms <= $2) \
         AND (approved_hash IS NULL OR approved_hash = content_hash) \
         AND (arm IS NULL OR arm <> 'winner' OR experiment IN \
         (SELECT experiment FROM experiment_decisions))"
    };
}
const DUE: &str = due!();

/// Due posts, and approved ones whose time has come (queued on the next pass).
const DUE_OR_APPROVED: &str = concat!(
    "((",
    due!(),
    ") OR (status = 'approved' AND approved_hash = content_hash AND scheduled_at <= $1))"
);

/// The database behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (WAL), one file.
    Sqlite,
    /// PostgreSQL, shared by several replicas.
    Postgres,
}

/// The store on SQLite (`sqlite://file.db`) or PostgreSQL (`postgres://…`).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

impl SqlStore {
    /// Connects to `url`, creating a SQLite file if missing (in WAL mode),
    /// and runs the embedded migrations.
    ///
    /// # Errors
    /// Returns [`StoreError::UnsupportedUrl`] for another scheme, and the
    /// database's or the migrations' error.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            let url = if url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let mut options =
            AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 4 } else { 8 });
        if backend == Backend::Sqlite {
            // In WAL mode, NORMAL still keeps every commit through a crash or
            // kill -9 of the process (the WAL is written before COMMIT
            // returns); only a power cut or kernel crash can lose the last
            // commits. FULL fsyncs on every commit, which cost the
            // dispatcher a third of its throughput (BENCHMARKS.md).
            options = options.after_connect(|connection, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(connection)
                        .await?;
                    Ok(())
                })
            });
        }
        // One connection first, on its own: a refused connection or a failed
        // login is then reported as such, not as a pool timeout 30 s later.
        sqlx::Connection::close(
            <AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .map_err(database)?,
        )
        .await
        .map_err(database)?;
        let pool = options.connect(&url).await.map_err(database)?;
        match backend {
            Backend::Sqlite => {
                // WAL is a property of the file: set once, kept by every connection.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .fetch_optional(&pool)
                    .await
                    .map_err(database)?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&pool)
                    .await
                    .map_err(migration)?;
            }
            Backend::Postgres => sqlx::migrate!("./migrations/postgres")
                .run(&pool)
                .await
                .map_err(migration)?,
        }
        Ok(Self { pool, backend })
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for the dispatcher's leasing queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn current(&self, id: &PostId) -> Result<Current, StoreError> {
        let row = sqlx::query(
            "SELECT status, content_hash, approved_hash, external_ids FROM posts WHERE id = $1",
        )
        .bind(id.0.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(database)?
        .ok_or_else(|| StoreError::NotFound(id.clone()))?;
        Ok(Current {
            status: status_of(&row)?,
            content_hash: row.try_get("content_hash").map_err(database)?,
            approved_hash: row.try_get("approved_hash").map_err(database)?,
            partly_sent: partly_sent(&row)?,
        })
    }

    /// Applies `action` with compare-and-set on the status, optionally
    /// replacing the content (an edit).
    async fn apply(
        &self,
        id: &PostId,
        action: Action,
        hash: Option<&str>,
        new_content: Option<(&serde_json::Value, &serde_json::Value, Author)>,
    ) -> Result<Transitioned, StoreError> {
        let mut last = None;
        for _ in 0..CAS_TRIES {
            let current = self.current(id).await?;
            let from = current.status;
            let mut to = lifecycle::transition(from, action)?;
            let mut approved_hash = current.approved_hash.clone();
            let mut new_hash = current.content_hash.clone();
            let mut voided = false;
            match action {
                Action::Approve => {
                    if hash.is_some_and(|seen| seen != current.content_hash) {
                        return Err(StoreError::StaleApproval(id.clone()));
                    }
                    approved_hash = Some(current.content_hash.clone());
                }
                Action::Edit if current.partly_sent => {
                    return Err(StoreError::PartlySent(id.clone()));
                }
                Action::Edit => {
                    new_hash = hash.ok_or(StoreError::MissingHash)?.to_owned();
                    // The same content again changes nothing: no edit mark,
                    // no voided approval.
                    if new_hash == current.content_hash {
                        return Ok(Transitioned {
                            id: id.clone(),
                            from,
                            to: from,
                            voided: false,
                        });
                    } else {
                        voided = approved_hash.is_some();
                        approved_hash = None;
                    }
                }
                Action::Schedule | Action::Lease
                    if current
                        .approved_hash
                        .as_ref()
                        .is_some_and(|approved| *approved != current.content_hash) =>
                {
                    to = PostStatus::Draft;
                    approved_hash = None;
                    voided = true;
                }
                Action::Reject | Action::Cancel => approved_hash = None,
                _ => {}
            }
            let at = Timestamp::now();
            let now = at.as_second();
            let result = match new_content {
                Some((content, request, author)) => {
                    let mut tx = self.pool.begin().await.map_err(database)?;
                    // A person's edit is kept through re-plans; the
                    // document's version, taken back, is as planned.
                    let (edited_at, planned_hash) = match author {
                        Author::Person => (Some(now), None),
                        Author::Document => (None, Some(new_hash.clone())),
                    };
                    let result = sqlx::query(
                        "UPDATE posts SET status = $1, approved_hash = $2, content_hash = $3, \
                         updated_at = $4, edited_at = $7, \
                         planned_hash = COALESCE($8, planned_hash) \
                         WHERE id = $5 AND status = $6 AND content_hash = $9",
                    )
                    .bind(status_name(to))
                    .bind(approved_hash)
                    .bind(new_hash)
                    .bind(now)
                    .bind(id.0.as_str())
                    .bind(status_name(from))
                    .bind(edited_at)
                    .bind(planned_hash)
                    .bind(current.content_hash.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(database)?;
                    if result.rows_affected() == 1 {
                        write_content(&mut *tx, id, content, request).await?;
                    }
                    tx.commit().await.map_err(database)?;
                    result
                }
                None => {
                    let mut tx = self.pool.begin().await.map_err(database)?;
                    // A retry starts the attempts afresh; a confirmation is
                    // when the post is known to be out.
                    let result = sqlx::query(
                        "UPDATE posts SET status = $1, approved_hash = $2, content_hash = $3, \
                         updated_at = $4, \
                         attempt_count = CASE WHEN $7 = 1 THEN 0 ELSE attempt_count END, \
                         next_attempt_ms = CASE WHEN $7 = 1 THEN NULL ELSE next_attempt_ms END, \
                         published_at_ms = CASE WHEN $8 = 1 THEN $9 ELSE published_at_ms END \
                         WHERE id = $5 AND status = $6 AND content_hash = $3",
                    )
                    .bind(status_name(to))
                    .bind(approved_hash)
                    .bind(new_hash)
                    .bind(now)
                    .bind(id.0.as_str())
                    .bind(status_name(from))
                    .bind(i64::from(action == Action::Retry))
                    .bind(i64::from(action == Action::Confirm))
                    .bind(at.as_millisecond())
                    .execute(&mut *tx)
                    .await
                    .map_err(database)?;
                    if result.rows_affected() == 1 {
                        insert_events(&mut *tx, &[(id, to)], at).await?;
                    }
                    tx.commit().await.map_err(database)?;
                    result
                }
            };
            if result.rows_affected() == 1 {
                return Ok(Transitioned {
                    id: id.clone(),
                    from,
                    to,
                    voided,
                });
            }
            last = Some(from);
        }
        let current = self.current(id).await.map(|now| now.status).ok();
        Err(StoreError::Conflict {
            id: id.clone(),
            current: current.or(last).unwrap_or(PostStatus::Draft),
        })
    }

    async fn attempts(&self, id: &PostId) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempted_at, outcome, error, external_ids, correlation_id, body_hash, note \
             FROM attempts WHERE post_id = $1 ORDER BY id",
        )
        .bind(id.0.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                let outcome: String = row.try_get("outcome").map_err(database)?;
                let external_ids: String = row.try_get("external_ids").map_err(database)?;
                Ok(Attempt {
                    at: timestamp(row.try_get("attempted_at").map_err(database)?)?,
                    outcome: AttemptOutcome::parse(&outcome)
                        .ok_or_else(|| StoreError::Corrupt(format!("outcome `{outcome}`")))?,
                    error: row.try_get("error").map_err(database)?,
                    external_ids: serde_json::from_str(&external_ids)?,
                    correlation_id: row.try_get("correlation_id").map_err(database)?,
                    body_hash: row.try_get("body_hash").map_err(database)?,
                    note: row.try_get("note").map_err(database)?,
                })
            })
            .collect()
    }
}

struct Current {
    status: PostStatus,
    content_hash: String,
    approved_hash: Option<String>,
    partly_sent: bool,
}

/// Whether some of the post (a thread's first parts) already went out: its
/// content is then fixed, whatever its state.
fn partly_sent(row: &AnyRow) -> Result<bool, StoreError> {
    let sent: String = row.try_get("external_ids").map_err(database)?;
    let sent: Vec<String> = serde_json::from_str(&sent)?;
    Ok(!sent.is_empty())
}

fn status_of(row: &AnyRow) -> Result<PostStatus, StoreError> {
    let name: String = row.try_get("status").map_err(database)?;
    parse_status(&name).ok_or_else(|| StoreError::Corrupt(format!("status `{name}`")))
}

fn arm_of(row: &AnyRow) -> Result<Option<ArmOf>, StoreError> {
    let experiment: Option<String> = row.try_get("experiment").map_err(database)?;
    let arm: Option<String> = row.try_get("arm").map_err(database)?;
    match (experiment, arm) {
        (Some(id), Some(arm)) => {
            let arm =
                Arm::parse(&arm).ok_or_else(|| StoreError::Corrupt(format!("arm `{arm}`")))?;
            Ok(Some(ArmOf { id, arm }))
        }
        _ => Ok(None),
    }
}

fn timestamp(seconds: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_second(seconds)
        .map_err(|error| StoreError::Corrupt(format!("time {seconds}: {error}")))
}

fn post_of(row: &AnyRow) -> Result<StoredPost, StoreError> {
    let channel: String = row.try_get("channel").map_err(database)?;
    let external_ids: String = row.try_get("external_ids").map_err(database)?;
    let item: String = row.try_get("item").map_err(database)?;
    let includes: String = row.try_get("includes").map_err(database)?;
    let content: String = row.try_get("content").map_err(database)?;
    let request: String = row.try_get("request").map_err(database)?;
    Ok(StoredPost {
        id: PostId(row.try_get("id").map_err(database)?),
        plan_id: row.try_get("plan_id").map_err(database)?,
        channel: Channel::parse(&channel)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?,
        scheduled_at: timestamp(row.try_get("scheduled_at").map_err(database)?)?,
        item: serde_json::from_str(&item)?,
        includes: serde_json::from_str(&includes)?,
        status: status_of(row)?,
        locale: row.try_get("locale").map_err(database)?,
        segment: row.try_get("segment").map_err(database)?,
        experiment: arm_of(row)?,
        content: serde_json::from_str(&content)?,
        request: serde_json::from_str(&request)?,
        content_hash: row.try_get("content_hash").map_err(database)?,
        approved_hash: row.try_get("approved_hash").map_err(database)?,
        created_at: timestamp(row.try_get("created_at").map_err(database)?)?,
        updated_at: timestamp(row.try_get("updated_at").map_err(database)?)?,
        attempt_count: count(row.try_get("attempt_count").map_err(database)?)?,
        next_attempt_at: row
            .try_get::<Option<i64>, _>("next_attempt_ms")
            .map_err(database)?
            .map(millis)
            .transpose()?,
        external_ids: serde_json::from_str(&external_ids)?,
        published_at: row
            .try_get::<Option<i64>, _>("published_at_ms")
            .map_err(database)?
            .map(millis)
            .transpose()?,
        attempts: Vec::new(),
        edited_at: row
            .try_get::<Option<i64>, _>("edited_at")
            .map_err(database)?
            .map(timestamp)
            .transpose()?,
        conflict: row
            .try_get::<Option<String>, _>("conflict")
            .map_err(database)?
            .map(|conflict| serde_json::from_str(&conflict))
            .transpose()?,
        previous_content: row
            .try_get::<Option<String>, _>("previous")
            .map_err(database)?
            .map(|previous| serde_json::from_str(&previous))
            .transpose()?,
        suggestion: row
            .try_get::<Option<String>, _>("suggestion")
            .map_err(database)?
            .map(|suggestion| serde_json::from_str(&suggestion))
            .transpose()?,
    })
}

fn millis(milliseconds: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(milliseconds)
        .map_err(|error| StoreError::Corrupt(format!("time {milliseconds} ms: {error}")))
}

fn count(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("attempt count {value}")))
}

fn leased_of(row: &AnyRow) -> Result<LeasedPost, StoreError> {
    let channel: String = row.try_get("channel").map_err(database)?;
    let sent: String = row.try_get("external_ids").map_err(database)?;
    Ok(LeasedPost {
        id: PostId(row.try_get("id").map_err(database)?),
        channel: Channel::parse(&channel)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?,
        scheduled_at: timestamp(row.try_get("scheduled_at").map_err(database)?)?,
        // Filled in by `lease`, from `post_contents`.
        content: serde_json::Value::Null,
        attempt_count: count(row.try_get("attempt_count").map_err(database)?)?,
        sent: serde_json::from_str(&sent)?,
    })
}

/// Replaces a post's content and requests.
async fn write_content<'c, E>(
    executor: E,
    id: &PostId,
    content: &serde_json::Value,
    request: &serde_json::Value,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO post_contents (post_id, content, request) VALUES ($1, $2, $3) \
         ON CONFLICT (post_id) DO UPDATE SET content = excluded.content, \
         request = excluded.request, conflict = NULL",
    )
    .bind(id.0.as_str())
    .bind(content.to_string())
    .bind(request.to_string())
    .execute(executor)
    .await
    .map_err(database)?;
    Ok(())
}

/// Inserts attempt rows, all in one statement.
async fn insert_attempts<'c, E>(
    executor: E,
    attempts: &[(&PostId, &Attempt)],
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    if attempts.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..attempts.len())
        .map(|index| {
            let first = 1 + index * 8;
            let numbers: Vec<String> = (first..first + 8).map(|n| format!("${n}")).collect();
            format!("({})", numbers.join(", "))
        })
        .collect();
    let mut insert = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO attempts (post_id, attempted_at, outcome, error, external_ids, \
         correlation_id, body_hash, note) VALUES {}",
        rows.join(", ")
    )));
    for (id, attempt) in attempts {
        insert = insert
            .bind(id.0.as_str())
            .bind(attempt.at.as_second())
            .bind(attempt.outcome.as_str())
            .bind(attempt.error.clone())
            .bind(serde_json::to_string(&attempt.external_ids)?)
            .bind(attempt.correlation_id.clone())
            .bind(attempt.body_hash.clone())
            .bind(attempt.note.clone());
    }
    insert.execute(executor).await.map_err(database)?;
    Ok(())
}

/// Writes the webhook events of posts reaching `(post, status)`, for the
/// statuses that have one, in the caller's transaction.
async fn insert_events<'c, E>(
    executor: E,
    changes: &[(&PostId, PostStatus)],
    now: Timestamp,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let events: Vec<(String, String, &PostId)> = changes
        .iter()
        .filter_map(|(id, status)| {
            let kind = event_type(*status)?;
            Some((new_event_id(&format!("{id}|{kind}")), kind, *id))
        })
        .collect();
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..events.len())
        .map(|index| {
            let first = 1 + index * 4;
            format!(
                "(${}, ${}, ${}, ${})",
                first,
                first + 1,
                first + 2,
                first + 3
            )
        })
        .collect();
    let mut insert = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO events (id, type, post_id, created_at) VALUES {}",
        rows.join(", ")
    )));
    for (event, kind, id) in &events {
        insert = insert
            .bind(event.as_str())
            .bind(kind.as_str())
            .bind(id.0.as_str())
            .bind(now.as_millisecond());
    }
    insert.execute(executor).await.map_err(database)?;
    Ok(())
}

/// The state a stored post moves to when a re-plan changed its content: a
/// failed post needs a new review too; rejected and cancelled ones stay so.
fn replanned_status(current: PostStatus, initial: PostStatus) -> PostStatus {
    match current {
        PostStatus::Draft | PostStatus::Approved | PostStatus::Scheduled | PostStatus::Failed => {
            initial
        }
        other => other,
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn save_plan(
        &self,
        plan: &PlanRecord,
        posts: &[NewPost],
    ) -> Result<SaveReport, StoreError> {
        let now = Timestamp::now().as_second();
        let mut report = SaveReport {
            plan_id: plan.id.clone(),
            ..SaveReport::default()
        };
        let mut tx = self.pool.begin().await.map_err(database)?;
        sqlx::query(
            "INSERT INTO plans (id, period, start_date, timezone, warnings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (id) DO UPDATE SET warnings = excluded.warnings, \
             updated_at = excluded.updated_at",
        )
        .bind(plan.id.as_str())
        .bind(plan.period.as_str())
        .bind(plan.start.as_str())
        .bind(plan.timezone.as_str())
        .bind(serde_json::to_string(&plan.warnings)?)
        .bind(now)
        .execute(&mut *tx)
        .await.map_err(database)?;
        for post in posts {
            let hash = post.content_hash();
            let existing = sqlx::query(
                "SELECT status, content_hash, approved_hash, external_ids, edited_at, \
                 planned_hash, CAST(CASE WHEN EXISTS (SELECT 1 FROM post_contents \
                 WHERE post_id = posts.id AND conflict IS NOT NULL) THEN 1 ELSE 0 END AS BIGINT) \
                 AS pending_conflict, CAST(CASE WHEN arm = 'winner' AND experiment IN \
                 (SELECT experiment FROM experiment_decisions) THEN 1 ELSE 0 END AS BIGINT) \
                 AS decided_winner FROM posts WHERE id = $1",
            )
            .bind(post.id.0.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(database)?;
            let Some(row) = existing else {
                let inserted = sqlx::query(
                    "INSERT INTO posts (id, plan_id, channel, scheduled_at, item_id, item, \
                     includes, status, content_hash, planned_hash, created_at, updated_at, locale, \
                     segment, experiment, arm) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $10, $11, $12, $13, $14) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(post.id.0.as_str())
                .bind(plan.id.as_str())
                .bind(post.channel.as_str())
                .bind(post.scheduled_at.as_second())
                .bind(post.item_id.as_str())
                .bind(post.item.to_string())
                .bind(serde_json::to_string(&post.includes)?)
                .bind(status_name(post.status))
                .bind(hash.as_str())
                .bind(now)
                .bind(post.locale.as_str())
                .bind(post.segment.as_deref())
                .bind(post.experiment.as_ref().map(|arm| arm.id.as_str()))
                .bind(post.experiment.as_ref().map(|arm| arm.arm.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(database)?;
                if inserted.rows_affected() == 1 {
                    write_content(&mut *tx, &post.id, &post.content, &post.request).await?;
                    report.inserted.push(post.id.clone());
                } else {
                    report.kept.push(post.id.clone());
                }
                continue;
            };
            let status = status_of(&row)?;
            let stored_hash: String = row.try_get("content_hash").map_err(database)?;
            let approved_hash: Option<String> = row.try_get("approved_hash").map_err(database)?;
            // A decided experiment's winner's send has the winning arm's
            // content, which the document's plan (arm A's) must not undo.
            let decided_winner: i64 = row.try_get("decided_winner").map_err(database)?;
            if is_protected(status) || partly_sent(&row)? || decided_winner == 1 {
                report.kept.push(post.id.clone());
                continue;
            }
            let edited = row
                .try_get::<Option<i64>, _>("edited_at")
                .map_err(database)?
                .is_some();
            let planned_hash: Option<String> = row.try_get("planned_hash").map_err(database)?;
            if edited && planned_hash.as_deref() != Some(hash.as_str()) {
                // A person's edit stays; the document's newer version waits
                // beside it for them to take or leave.
                sqlx::query(
                    "UPDATE posts SET plan_id = $1, planned_hash = $2, experiment = $3, arm = $4 \
                     WHERE id = $5",
                )
                .bind(plan.id.as_str())
                .bind(hash.as_str())
                .bind(post.experiment.as_ref().map(|arm| arm.id.as_str()))
                .bind(post.experiment.as_ref().map(|arm| arm.arm.as_str()))
                .bind(post.id.0.as_str())
                .execute(&mut *tx)
                .await
                .map_err(database)?;
                let planned = PlannedVersion {
                    content: post.content.clone(),
                    request: post.request.clone(),
                    item_id: post.item_id.clone(),
                    item: post.item.clone(),
                    includes: post.includes.clone(),
                };
                sqlx::query("UPDATE post_contents SET conflict = $1 WHERE post_id = $2")
                    .bind(serde_json::to_string(&planned)?)
                    .bind(post.id.0.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(database)?;
                report.conflicts.push(post.id.clone());
                continue;
            }
            let pending_conflict: i64 = row.try_get("pending_conflict").map_err(database)?;
            if edited && pending_conflict == 1 {
                report.conflicts.push(post.id.clone());
            }
            if edited || stored_hash == hash {
                sqlx::query(
                    "UPDATE posts SET plan_id = $1, experiment = $2, arm = $3 \
                     WHERE id = $4 AND status = $5",
                )
                .bind(plan.id.as_str())
                .bind(post.experiment.as_ref().map(|arm| arm.id.as_str()))
                .bind(post.experiment.as_ref().map(|arm| arm.arm.as_str()))
                .bind(post.id.0.as_str())
                .bind(status_name(status))
                .execute(&mut *tx)
                .await
                .map_err(database)?;
                report.unchanged.push(post.id.clone());
                continue;
            }
            let to = replanned_status(status, post.status);
            let changed = sqlx::query(
                "UPDATE posts SET plan_id = $1, item_id = $2, item = $3, includes = $4, \
                 status = $5, content_hash = $6, planned_hash = $6, \
                 approved_hash = $7, updated_at = $8, attempt_count = 0, next_attempt_ms = NULL, \
                 experiment = $12, arm = $13 \
                 WHERE id = $9 AND status = $10 AND content_hash = $11 AND edited_at IS NULL",
            )
            .bind(plan.id.as_str())
            .bind(post.item_id.as_str())
            .bind(post.item.to_string())
            .bind(serde_json::to_string(&post.includes)?)
            .bind(status_name(to))
            .bind(hash.as_str())
            .bind(None::<String>)
            .bind(now)
            .bind(post.id.0.as_str())
            .bind(status_name(status))
            .bind(stored_hash.as_str())
            .bind(post.experiment.as_ref().map(|arm| arm.id.as_str()))
            .bind(post.experiment.as_ref().map(|arm| arm.arm.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(database)?;
            if changed.rows_affected() == 0 {
                // Leased or changed since it was read: leave it alone.
                report.kept.push(post.id.clone());
                continue;
            }
            // What the document's change replaced, for the reviewer's diff.
            sqlx::query("UPDATE post_contents SET previous = content WHERE post_id = $1")
                .bind(post.id.0.as_str())
                .execute(&mut *tx)
                .await
                .map_err(database)?;
            write_content(&mut *tx, &post.id, &post.content, &post.request).await?;
            if approved_hash.is_some() {
                report.voided.push(post.id.clone());
            }
            report.updated.push(post.id.clone());
        }
        tx.commit().await.map_err(database)?;
        Ok(report)
    }

    async fn posts(&self, filter: &PostFilter) -> Result<Vec<StoredPost>, StoreError> {
        let mut sql = format!("{POST_SELECT} WHERE 1 = 1");
        let mut count = 0;
        let mut next = |column: &str, op: &str| {
            count += 1;
            format!(" AND {column} {op} ${count}")
        };
        if filter.status.is_some() {
            sql.push_str(&next("status", "="));
        }
        if filter.channel.is_some() {
            sql.push_str(&next("channel", "="));
        }
        if filter.from.is_some() {
            sql.push_str(&next("scheduled_at", ">="));
        }
        if filter.to.is_some() {
            sql.push_str(&next("scheduled_at", "<"));
        }
        if filter.locale.is_some() {
            sql.push_str(&next("locale", "="));
        }
        if filter.id_prefix.is_some() {
            // `_` and `%` in the prefix match loosely here; the exact test
            // is made on the rows.
            sql.push_str(&next("id", "LIKE"));
        }
        if filter.after.is_some() {
            let base = count;
            count += 3;
            sql.push_str(&format!(
                " AND (scheduled_at > ${a} OR (scheduled_at = ${a} AND (channel > ${b} \
                 OR (channel = ${b} AND id > ${c}))))",
                a = base + 1,
                b = base + 2,
                c = base + 3
            ));
        }
        sql.push_str(" ORDER BY scheduled_at, channel, id");
        if filter.limit.is_some() {
            count += 1;
            sql.push_str(&format!(" LIMIT ${count}"));
        }
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(status) = filter.status {
            query = query.bind(status_name(status));
        }
        if let Some(channel) = &filter.channel {
            query = query.bind(channel.as_str().to_owned());
        }
        if let Some(from) = filter.from {
            query = query.bind(from.as_second());
        }
        if let Some(to) = filter.to {
            query = query.bind(to.as_second());
        }
        if let Some(locale) = &filter.locale {
            query = query.bind(locale.clone());
        }
        if let Some(prefix) = &filter.id_prefix {
            query = query.bind(format!("{prefix}%"));
        }
        if let Some(after) = &filter.after {
            query = query
                .bind(after.scheduled_at.as_second())
                .bind(after.channel.clone())
                .bind(after.id.clone());
        }
        if let Some(limit) = filter.limit {
            query = query.bind(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let rows = query.fetch_all(&self.pool).await.map_err(database)?;
        let posts: Vec<StoredPost> = rows.iter().map(post_of).collect::<Result<_, _>>()?;
        Ok(match &filter.id_prefix {
            Some(prefix) => posts
                .into_iter()
                .filter(|post| post.id.0.starts_with(prefix.as_str()))
                .collect(),
            None => posts,
        })
    }

    async fn post(&self, id: &PostId) -> Result<Option<StoredPost>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("{POST_SELECT} WHERE id = $1")))
            .bind(id.0.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut post = post_of(&row)?;
        post.attempts = self.attempts(id).await?;
        Ok(Some(post))
    }

    async fn transition(
        &self,
        id: &PostId,
        action: Action,
        content_hash: Option<&str>,
    ) -> Result<Transitioned, StoreError> {
        self.apply(id, action, content_hash, None).await
    }

    async fn edit(
        &self,
        id: &PostId,
        content: &serde_json::Value,
        request: &serde_json::Value,
    ) -> Result<Transitioned, StoreError> {
        let hash = content_hash(content, request);
        self.apply(
            id,
            Action::Edit,
            Some(&hash),
            Some((content, request, Author::Person)),
        )
        .await
    }

    async fn decide_experiment(
        &self,
        decision: &Decision,
        rest: Option<RestContent<'_>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(database)?;
        let recorded = sqlx::query(
            "INSERT INTO experiment_decisions (experiment, decided_at_ms, decision) \
             VALUES ($1, $2, $3) ON CONFLICT (experiment) DO NOTHING",
        )
        .bind(decision.experiment.as_str())
        .bind(decision.decided_at.as_millisecond())
        .bind(serde_json::to_string(decision)?)
        .execute(&mut *tx)
        .await
        .map_err(database)?;
        if recorded.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some(rest) = rest {
            let hash = content_hash(rest.content, rest.request);
            // Only a post still waiting, never edited and with nothing out.
            let changed = sqlx::query(
                "UPDATE posts SET content_hash = $1, planned_hash = $1, \
                 approved_hash = CASE WHEN approved_hash IS NULL THEN NULL ELSE $1 END, \
                 updated_at = $2 WHERE id = $3 AND arm = 'winner' AND experiment = $4 \
                 AND status IN ('draft', 'approved', 'scheduled') AND edited_at IS NULL \
                 AND external_ids = '[]' \
                 AND (approved_hash IS NULL OR approved_hash = content_hash)",
            )
            .bind(hash.as_str())
            .bind(decision.decided_at.as_second())
            .bind(rest.post.0.as_str())
            .bind(decision.experiment.as_str())
            .execute(&mut *tx)
            .await
            .map_err(database)?;
            if changed.rows_affected() == 1 {
                write_content(&mut *tx, rest.post, rest.content, rest.request).await?;
            }
        }
        tx.commit().await.map_err(database)?;
        Ok(true)
    }

    async fn decisions(&self) -> Result<Vec<Decision>, StoreError> {
        let rows = sqlx::query(
            "SELECT decision FROM experiment_decisions ORDER BY decided_at_ms, experiment",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get("decision").map_err(database)?;
                Ok(serde_json::from_str(&text)?)
            })
            .collect()
    }

    async fn set_suggestion(
        &self,
        id: &PostId,
        suggestion: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let text = suggestion.map(serde_json::Value::to_string);
        let changed = sqlx::query("UPDATE post_contents SET suggestion = $1 WHERE post_id = $2")
            .bind(text)
            .bind(id.0.as_str())
            .execute(&self.pool)
            .await
            .map_err(database)?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::NotFound(id.clone()));
        }
        Ok(())
    }

    async fn revert(&self, id: &PostId) -> Result<Transitioned, StoreError> {
        let post = self
            .post(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(id.clone()))?;
        if let Some(planned) = &post.conflict {
            let hash = content_hash(&planned.content, &planned.request);
            let done = self
                .apply(
                    id,
                    Action::Edit,
                    Some(&hash),
                    Some((&planned.content, &planned.request, Author::Document)),
                )
                .await?;
            // The item goes with its content, and the marks go whether or
            // not the content differed from the edit.
            let mut tx = self.pool.begin().await.map_err(database)?;
            sqlx::query(
                "UPDATE posts SET item_id = $1, item = $2, includes = $3, edited_at = NULL, \
                 planned_hash = $4 WHERE id = $5",
            )
            .bind(planned.item_id.as_str())
            .bind(planned.item.to_string())
            .bind(serde_json::to_string(&planned.includes)?)
            .bind(hash.as_str())
            .bind(id.0.as_str())
            .execute(&mut *tx)
            .await
            .map_err(database)?;
            sqlx::query("UPDATE post_contents SET conflict = NULL WHERE post_id = $1")
                .bind(id.0.as_str())
                .execute(&mut *tx)
                .await
                .map_err(database)?;
            tx.commit().await.map_err(database)?;
            return Ok(done);
        }
        if post.edited_at.is_none() {
            return Err(StoreError::NotEdited(id.clone()));
        }
        // No newer version yet: the next plan writes the document's.
        lifecycle::transition(post.status, Action::Edit)?;
        sqlx::query("UPDATE posts SET edited_at = NULL, planned_hash = NULL WHERE id = $1")
            .bind(id.0.as_str())
            .execute(&self.pool)
            .await
            .map_err(database)?;
        Ok(Transitioned {
            id: id.clone(),
            from: post.status,
            to: post.status,
            voided: false,
        })
    }

    async fn plan(&self, id: &str) -> Result<Option<StoredPlan>, StoreError> {
        let row = sqlx::query(
            "SELECT id, period, start_date, timezone, warnings, created_at, updated_at \
             FROM plans WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(database)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let warnings: String = row.try_get("warnings").map_err(database)?;
        let posts = sqlx::query(AssertSqlSafe(format!(
            "{POST_SELECT} WHERE plan_id = $1 ORDER BY scheduled_at, channel, id"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        Ok(Some(StoredPlan {
            record: PlanRecord {
                id: row.try_get("id").map_err(database)?,
                period: row.try_get("period").map_err(database)?,
                start: row.try_get("start_date").map_err(database)?,
                timezone: row.try_get("timezone").map_err(database)?,
                warnings: serde_json::from_str(&warnings)?,
            },
            created_at: timestamp(row.try_get("created_at").map_err(database)?)?,
            updated_at: timestamp(row.try_get("updated_at").map_err(database)?)?,
            posts: posts.iter().map(post_of).collect::<Result<_, _>>()?,
        }))
    }

    async fn status_counts(&self) -> Result<Vec<(PostStatus, u64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS posts FROM posts GROUP BY status")
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| {
                let posts: i64 = row.try_get("posts").map_err(database)?;
                Ok((status_of(row)?, u64::try_from(posts).unwrap_or_default()))
            })
            .collect()
    }

    async fn record_readings(
        &self,
        channel: &Channel,
        readings: &[Reading],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(database)?;
        for reading in readings {
            sqlx::query(
                "INSERT INTO metrics (post_id, channel, metric, value, read_at_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(reading.post.0.as_str())
            .bind(channel.as_str())
            .bind(reading.metric.as_str())
            .bind(reading.value)
            .bind(at.as_millisecond())
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        }
        tx.commit().await.map_err(database)
    }

    async fn latest_readings(
        &self,
        from: Timestamp,
        to: Timestamp,
        channel: Option<&Channel>,
    ) -> Result<Vec<LatestReading>, StoreError> {
        // The newest reading of each (post, metric): the index on
        // (post_id, metric, read_at_ms) finds each maximum directly.
        let mut sql =
            "SELECT m.post_id, m.channel, m.metric, m.value, m.read_at_ms FROM metrics m \
             JOIN posts p ON p.id = m.post_id \
             WHERE p.scheduled_at >= $1 AND p.scheduled_at < $2 \
             AND m.read_at_ms = (SELECT MAX(x.read_at_ms) FROM metrics x \
             WHERE x.post_id = m.post_id AND x.metric = m.metric)"
                .to_owned();
        if channel.is_some() {
            sql.push_str(" AND m.channel = $3");
        }
        sql.push_str(" ORDER BY p.scheduled_at, m.post_id, m.metric");
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(from.as_second())
            .bind(to.as_second());
        if let Some(channel) = channel {
            query = query.bind(channel.as_str().to_owned());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(database)?;
        rows.iter()
            .map(|row| {
                let channel: String = row.try_get("channel").map_err(database)?;
                Ok(LatestReading {
                    post: PostId(row.try_get("post_id").map_err(database)?),
                    channel: Channel::parse(&channel)
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?,
                    metric: row.try_get("metric").map_err(database)?,
                    value: row.try_get("value").map_err(database)?,
                    read_at: millis(row.try_get("read_at_ms").map_err(database)?)?,
                })
            })
            .collect()
    }

    async fn schedule_approved(&self, now: Timestamp) -> Result<u64, StoreError> {
        let queued = sqlx::query(
            "UPDATE posts SET status = 'scheduled', updated_at = $1 \
             WHERE status = 'approved' AND approved_hash = content_hash",
        )
        .bind(now.as_second())
        .execute(&self.pool)
        .await
        .map_err(database)?;
        Ok(queued.rows_affected())
    }

    async fn due(&self, now: Timestamp, limit: usize) -> Result<Vec<StoredPost>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{POST_SELECT} WHERE {DUE_OR_APPROVED} ORDER BY scheduled_at, channel, id LIMIT $3"
        )))
        .bind(now.as_second())
        .bind(now.as_millisecond())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter().map(post_of).collect()
    }

    async fn due_by_channel(&self, now: Timestamp) -> Result<Vec<(Channel, u64)>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT channel, COUNT(*) AS posts FROM posts WHERE {DUE_OR_APPROVED} \
             GROUP BY channel ORDER BY channel"
        )))
        .bind(now.as_second())
        .bind(now.as_millisecond())
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                let channel: String = row.try_get("channel").map_err(database)?;
                let posts: i64 = row.try_get("posts").map_err(database)?;
                Ok((
                    Channel::parse(&channel)
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?,
                    u64::try_from(posts).unwrap_or_default(),
                ))
            })
            .collect()
    }

    async fn lease(
        &self,
        owner: &str,
        channel: &Channel,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
        which: Leasing<'_>,
    ) -> Result<Vec<LeasedPost>, StoreError> {
        // Posts sent now are due whatever their time; their backoff and
        // approval still hold.
        let eligible = match which {
            Leasing::Due => DUE.to_owned(),
            Leasing::Now(ids) => {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholders: Vec<String> =
                    (0..ids.len()).map(|n| format!("${}", n + 7)).collect();
                format!(
                    "status = 'scheduled' AND $1 = $1 \
                     AND (next_attempt_ms IS NULL OR next_attempt_ms <= $2) \
                     AND (approved_hash IS NULL OR approved_hash = content_hash) \
                     AND (arm IS NULL OR arm <> 'winner' OR experiment IN \
                     (SELECT experiment FROM experiment_decisions)) \
                     AND id IN ({})",
                    placeholders.join(", ")
                )
            }
        };
        // PostgreSQL: rows another replica is leasing right now are skipped,
        // not waited for. SQLite has one writer at a time, so the statement
        // is atomic as it is.
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // The picked ids are materialised first: PostgreSQL may evaluate a
        // `WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` subquery
        // more than once and so lease more than `limit` posts.
        let mut query = sqlx::query(AssertSqlSafe(format!(
            "WITH picked AS MATERIALIZED (SELECT id FROM posts WHERE {eligible} \
             AND channel = $5 ORDER BY scheduled_at, id LIMIT $6{skip_locked}) \
             UPDATE posts SET status = 'publishing', lease_owner = $3, lease_until_ms = $4, \
             sending_since_ms = NULL, updated_at = $1 \
             WHERE status = 'scheduled' AND id IN (SELECT id FROM picked) \
             RETURNING id, channel, scheduled_at, attempt_count, external_ids"
        )))
        .bind(now.as_second())
        .bind(now.as_millisecond())
        .bind(owner)
        .bind(until.as_millisecond())
        .bind(channel.as_str())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        if let Leasing::Now(ids) = which {
            for id in ids {
                query = query.bind(id.0.as_str());
            }
        }
        let rows = query.fetch_all(&self.pool).await.map_err(database)?;
        let mut leased = rows.iter().map(leased_of).collect::<Result<Vec<_>, _>>()?;
        // RETURNING gives the `posts` row only; the content is in `post_contents`.
        if !leased.is_empty() {
            let placeholders: Vec<String> = (1..=leased.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT post_id, content FROM post_contents WHERE post_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for post in &leased {
                query = query.bind(post.id.0.as_str());
            }
            let contents: HashMap<String, String> = query
                .fetch_all(&self.pool)
                .await
                .map_err(database)?
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get("post_id").map_err(database)?,
                        row.try_get("content").map_err(database)?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?;
            for post in &mut leased {
                let content = contents.get(&post.id.0).ok_or_else(|| {
                    StoreError::Corrupt(format!("post `{}` has no content", post.id))
                })?;
                post.content = serde_json::from_str(content)?;
            }
        }
        leased.sort_by(|left, right| {
            (left.scheduled_at, &left.id.0).cmp(&(right.scheduled_at, &right.id.0))
        });
        Ok(leased)
    }

    async fn renew(
        &self,
        owner: &str,
        ids: &[PostId],
        until: Timestamp,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        // PostgreSQL: a row whose result is being written is skipped, not
        // waited for; waiting could deadlock with that write, which locks
        // the same rows in another order.
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let placeholders: Vec<String> = (3..ids.len() + 3).map(|n| format!("${n}")).collect();
        let mut query = sqlx::query(AssertSqlSafe(format!(
            "UPDATE posts SET lease_until_ms = $2 WHERE id IN (SELECT id FROM posts \
             WHERE lease_owner = $1 AND status = 'publishing' AND id IN ({}){skip_locked})",
            placeholders.join(", ")
        )))
        .bind(owner)
        .bind(until.as_millisecond());
        for id in ids {
            query = query.bind(id.0.as_str());
        }
        Ok(query
            .execute(&self.pool)
            .await
            .map_err(database)?
            .rows_affected())
    }

    async fn mark_sending(
        &self,
        ids: &[PostId],
        owner: &str,
        now: Timestamp,
    ) -> Result<Vec<PostId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (3..ids.len() + 3).map(|n| format!("${n}")).collect();
        let mut query = sqlx::query(AssertSqlSafe(format!(
            "UPDATE posts SET sending_since_ms = $1 \
             WHERE lease_owner = $2 AND status = 'publishing' AND id IN ({}) RETURNING id",
            placeholders.join(", ")
        )))
        .bind(now.as_millisecond())
        .bind(owner);
        for id in ids {
            query = query.bind(id.0.as_str());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(database)?;
        rows.iter()
            .map(|row| Ok(PostId(row.try_get("id").map_err(database)?)))
            .collect()
    }

    async fn finish(
        &self,
        owner: &str,
        finished: &[(PostId, Finish)],
        now: Timestamp,
    ) -> Result<Vec<bool>, StoreError> {
        if finished.is_empty() {
            return Ok(Vec::new());
        }
        // One UPDATE and one INSERT for the whole batch: the dispatcher
        // commits its senders' results together (group commit).
        let rows: Vec<String> = (0..finished.len())
            .map(|index| {
                let first = 3 + index * 6;
                format!(
                    "(CAST(${} AS TEXT), CAST(${} AS TEXT), CAST(${} AS BIGINT), \
                     CAST(${} AS BIGINT), CAST(${} AS TEXT), CAST(${} AS BIGINT))",
                    first,
                    first + 1,
                    first + 2,
                    first + 3,
                    first + 4,
                    first + 5
                )
            })
            .collect();
        let mut update = sqlx::query(AssertSqlSafe(format!(
            "UPDATE posts SET status = v.column2, lease_owner = NULL, lease_until_ms = NULL, \
             sending_since_ms = NULL, next_attempt_ms = v.column3, \
             attempt_count = attempt_count + v.column4, external_ids = v.column5, \
             published_at_ms = COALESCE(v.column6, published_at_ms), updated_at = $2 \
             FROM (VALUES {}) AS v \
             WHERE posts.id = v.column1 AND posts.lease_owner = $1 AND posts.status = 'publishing' \
             RETURNING id",
            rows.join(", ")
        )))
        .bind(owner)
        .bind(now.as_second());
        for (id, finish) in finished {
            update = update
                .bind(id.0.as_str())
                .bind(status_name(finish.status))
                .bind(finish.next_attempt_at.map(Timestamp::as_millisecond))
                .bind(i64::from(finish.counted))
                .bind(serde_json::to_string(&finish.external_ids)?)
                .bind((finish.status == PostStatus::Published).then(|| now.as_millisecond()));
        }
        // The UPDATE comes first, so that SQLite takes its write lock at once.
        let mut tx = self.pool.begin().await.map_err(database)?;
        let held: Vec<String> = update
            .fetch_all(&mut *tx)
            .await
            .map_err(database)?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()
            .map_err(database)?;
        let attempts: Vec<(&PostId, &Attempt)> = finished
            .iter()
            .filter_map(|(id, finish)| finish.attempt.as_ref().map(|attempt| (id, attempt)))
            .collect();
        insert_attempts(&mut *tx, &attempts).await?;
        let changes: Vec<(&PostId, PostStatus)> = finished
            .iter()
            .filter(|(id, _)| held.contains(&id.0))
            .map(|(id, finish)| (id, finish.status))
            .collect();
        insert_events(&mut *tx, &changes, now).await?;
        tx.commit().await.map_err(database)?;
        Ok(finished
            .iter()
            .map(|(id, _)| held.contains(&id.0))
            .collect())
    }

    async fn resolve_unconfirmed(
        &self,
        id: &PostId,
        resolution: &Resolution,
        now: Timestamp,
    ) -> Result<Transitioned, StoreError> {
        let (action, outcome, ids, evidence) = match resolution {
            Resolution::Published {
                external_ids,
                evidence,
            } => (
                Action::Confirm,
                AttemptOutcome::Found,
                external_ids,
                evidence,
            ),
            Resolution::Absent { sent, evidence } => {
                (Action::Retry, AttemptOutcome::Absent, sent, evidence)
            }
        };
        let to = lifecycle::transition(PostStatus::Unconfirmed, action)?;
        let mut tx = self.pool.begin().await.map_err(database)?;
        // A post back in the queue starts its attempts afresh, as a
        // person's retry does; one found out is published as of now.
        let resolved = sqlx::query(
            "UPDATE posts SET status = $2, external_ids = $3, updated_at = $4, \
             next_attempt_ms = NULL, \
             attempt_count = CASE WHEN $6 = 1 THEN 0 ELSE attempt_count END, \
             published_at_ms = CASE WHEN $6 = 1 THEN published_at_ms ELSE $5 END \
             WHERE id = $1 AND status = 'unconfirmed'",
        )
        .bind(id.0.as_str())
        .bind(status_name(to))
        .bind(serde_json::to_string(ids)?)
        .bind(now.as_second())
        .bind(now.as_millisecond())
        .bind(i64::from(action == Action::Retry))
        .execute(&mut *tx)
        .await
        .map_err(database)?;
        if resolved.rows_affected() != 1 {
            tx.rollback().await.map_err(database)?;
            let from = self.current(id).await?.status;
            return Err(StoreError::Illegal(lifecycle::IllegalTransition {
                from,
                action,
            }));
        }
        let attempt = Attempt {
            at: now,
            outcome,
            error: None,
            external_ids: ids.clone(),
            correlation_id: None,
            body_hash: None,
            note: Some(evidence.clone()),
        };
        insert_attempts(&mut *tx, &[(id, &attempt)]).await?;
        insert_events(&mut *tx, &[(id, to)], now).await?;
        tx.commit().await.map_err(database)?;
        Ok(Transitioned {
            id: id.clone(),
            from: PostStatus::Unconfirmed,
            to,
            voided: false,
        })
    }

    async fn fan_out(
        &self,
        url: &str,
        types: &[String],
        since: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        if types.is_empty() {
            return Ok(0);
        }
        let wanted: Vec<String> = (0..types.len()).map(|n| format!("${}", n + 4)).collect();
        let mut insert = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO deliveries (event_id, url, status, attempts, next_attempt_ms) \
             SELECT id, $1, 'pending', 0, $2 FROM events \
             WHERE created_at >= $3 AND type IN ({}) \
             ON CONFLICT (event_id, url) DO NOTHING",
            wanted.join(", ")
        )))
        .bind(url)
        .bind(now.as_millisecond())
        .bind(since.as_millisecond());
        for kind in types {
            insert = insert.bind(kind.as_str());
        }
        Ok(insert
            .execute(&self.pool)
            .await
            .map_err(database)?
            .rows_affected())
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        hold_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.event_id, d.url, d.attempts, d.next_attempt_ms, e.type, e.post_id, \
             e.created_at, e.body FROM deliveries d JOIN events e ON e.id = d.event_id \
             WHERE d.status = 'pending' AND d.next_attempt_ms <= $1 \
             ORDER BY e.created_at, d.event_id LIMIT $2",
        )
        .bind(now.as_millisecond())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let event_id: String = row.try_get("event_id").map_err(database)?;
            let url: String = row.try_get("url").map_err(database)?;
            let seen: i64 = row.try_get("next_attempt_ms").map_err(database)?;
            // Compare-and-set on the time seen: another taker skips it.
            let taken = sqlx::query(
                "UPDATE deliveries SET next_attempt_ms = $3 \
                 WHERE event_id = $1 AND url = $2 AND next_attempt_ms = $4 AND status = 'pending'",
            )
            .bind(event_id.as_str())
            .bind(url.as_str())
            .bind(hold_until.as_millisecond())
            .bind(seen)
            .execute(&self.pool)
            .await
            .map_err(database)?;
            if taken.rows_affected() != 1 {
                continue;
            }
            let created: i64 = row.try_get("created_at").map_err(database)?;
            claimed.push(DueDelivery {
                event_id,
                event_type: row.try_get("type").map_err(database)?,
                post_id: row
                    .try_get::<Option<String>, _>("post_id")
                    .map_err(database)?
                    .map(PostId),
                created_at: millis(created)?,
                body: row.try_get("body").map_err(database)?,
                url,
                attempts: count(row.try_get("attempts").map_err(database)?)?,
            });
        }
        Ok(claimed)
    }

    async fn fix_event_body(&self, event_id: &str, body: &str) -> Result<String, StoreError> {
        sqlx::query("UPDATE events SET body = $2 WHERE id = $1 AND body IS NULL")
            .bind(event_id)
            .bind(body)
            .execute(&self.pool)
            .await
            .map_err(database)?;
        let fixed: Option<String> = sqlx::query("SELECT body FROM events WHERE id = $1")
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?
            .map(|row| row.try_get("body"))
            .transpose()
            .map_err(database)?
            .flatten();
        fixed.ok_or_else(|| StoreError::Corrupt(format!("event `{event_id}` has no body")))
    }

    async fn record_delivery(
        &self,
        event_id: &str,
        url: &str,
        outcome: &DeliveryOutcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let (status, last_status, error, next, delivered) = match outcome {
            DeliveryOutcome::Delivered { status } => {
                ("delivered", Some(*status), None, now, Some(now))
            }
            DeliveryOutcome::Retry {
                status,
                error,
                next,
            } => ("pending", *status, Some(error.as_str()), *next, None),
            DeliveryOutcome::GaveUp { status, error } => {
                ("failed", *status, Some(error.as_str()), now, None)
            }
        };
        sqlx::query(
            "UPDATE deliveries SET status = $3, attempts = attempts + 1, next_attempt_ms = $4, \
             last_status = $5, last_error = $6, delivered_at = $7 \
             WHERE event_id = $1 AND url = $2",
        )
        .bind(event_id)
        .bind(url)
        .bind(status)
        .bind(next.as_millisecond())
        .bind(last_status.map(i64::from))
        .bind(error)
        .bind(delivered.map(Timestamp::as_millisecond))
        .execute(&self.pool)
        .await
        .map_err(database)?;
        Ok(())
    }

    async fn record_event(
        &self,
        id: &str,
        event_type: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO events (id, type, created_at, body) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(event_type)
            .bind(now.as_millisecond())
            .bind(body)
            .execute(&self.pool)
            .await
            .map_err(database)?;
        Ok(())
    }

    async fn deliveries(&self, limit: usize) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.event_id, d.url, d.status, d.attempts, d.last_status, d.last_error, \
             d.delivered_at, e.type, e.post_id, e.created_at \
             FROM deliveries d JOIN events e ON e.id = d.event_id \
             ORDER BY e.created_at DESC, d.event_id, d.url LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                let last_status: Option<i64> = row.try_get("last_status").map_err(database)?;
                let delivered: Option<i64> = row.try_get("delivered_at").map_err(database)?;
                Ok(DeliveryRecord {
                    event_id: row.try_get("event_id").map_err(database)?,
                    event_type: row.try_get("type").map_err(database)?,
                    post_id: row
                        .try_get::<Option<String>, _>("post_id")
                        .map_err(database)?
                        .map(PostId),
                    created_at: millis(row.try_get("created_at").map_err(database)?)?,
                    url: row.try_get("url").map_err(database)?,
                    status: row.try_get("status").map_err(database)?,
                    attempts: count(row.try_get("attempts").map_err(database)?)?,
                    last_status: last_status.and_then(|status| u16::try_from(status).ok()),
                    last_error: row.try_get("last_error").map_err(database)?,
                    delivered_at: delivered.map(millis).transpose()?,
                })
            })
            .collect()
    }

    async fn requeue(
        &self,
        which: Requeue<'_>,
        idempotent: &[Channel],
        now: Timestamp,
    ) -> Result<Vec<Requeued>, StoreError> {
        let candidates = match which {
            Requeue::ExpiredBefore(at) => sqlx::query(
                "SELECT id, channel, lease_owner, lease_until_ms, sending_since_ms FROM posts \
                     WHERE status = 'publishing' AND lease_until_ms < $1",
            )
            .bind(at.as_millisecond())
            .fetch_all(&self.pool)
            .await
            .map_err(database)?,
            Requeue::HeldBy(owner) => sqlx::query(
                "SELECT id, channel, lease_owner, lease_until_ms, sending_since_ms FROM posts \
                     WHERE status = 'publishing' AND lease_owner = $1",
            )
            .bind(owner)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?,
        };
        let mut requeued = Vec::with_capacity(candidates.len());
        for row in &candidates {
            let id = PostId(row.try_get("id").map_err(database)?);
            let name: String = row.try_get("channel").map_err(database)?;
            let channel =
                Channel::parse(&name).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let owner: Option<String> = row.try_get("lease_owner").map_err(database)?;
            let until: Option<i64> = row.try_get("lease_until_ms").map_err(database)?;
            let was_sending = row
                .try_get::<Option<i64>, _>("sending_since_ms")
                .map_err(database)?
                .is_some();
            let status = if !was_sending || idempotent.contains(&channel) {
                PostStatus::Scheduled
            } else {
                PostStatus::Unconfirmed
            };
            let mut tx = self.pool.begin().await.map_err(database)?;
            // Compare-and-set on the lease seen: another dispatcher may have
            // reclaimed (or the owner finished) the post meanwhile.
            let ended = sqlx::query(
                "UPDATE posts SET status = $2, lease_owner = NULL, lease_until_ms = NULL, \
                 sending_since_ms = NULL, updated_at = $3 \
                 WHERE id = $1 AND status = 'publishing' AND lease_owner = $4 \
                 AND lease_until_ms = $5",
            )
            .bind(id.0.as_str())
            .bind(status_name(status))
            .bind(now.as_second())
            .bind(owner.clone())
            .bind(until)
            .execute(&mut *tx)
            .await
            .map_err(database)?;
            if ended.rows_affected() != 1 {
                tx.rollback().await.map_err(database)?;
                continue;
            }
            if was_sending {
                let reason = match which {
                    Requeue::ExpiredBefore(_) => "the dispatcher holding the lease stopped",
                    Requeue::HeldBy(_) => "the dispatcher shut down",
                };
                let attempt = Attempt {
                    at: now,
                    outcome: AttemptOutcome::Unknown,
                    error: Some(format!(
                        "{reason} while the request was in flight ({}); {}",
                        owner.as_deref().unwrap_or("unknown dispatcher"),
                        if status == PostStatus::Scheduled {
                            "sent again with the same idempotency key"
                        } else {
                            "not sent again until a person retries it"
                        }
                    )),
                    external_ids: Vec::new(),
                    correlation_id: None,
                    body_hash: None,
                    note: None,
                };
                insert_attempts(&mut *tx, &[(&id, &attempt)]).await?;
            }
            insert_events(&mut *tx, &[(&id, status)], now).await?;
            tx.commit().await.map_err(database)?;
            requeued.push(Requeued {
                id,
                channel,
                status,
                was_sending,
            });
        }
        Ok(requeued)
    }
}

/// A database failure as the store reports it.
fn database(error: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(error))
}

/// A failed migration as the store reports it.
fn migration(error: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Migrate(Box::new(error))
}
