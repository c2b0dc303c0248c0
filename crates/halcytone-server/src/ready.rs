//! What `GET /ready` checks: the store answers a real query, every enabled
//! channel's templates render, which channels' breakers hold their posts,
//! and which pre-flight checks last failed.

use halcytone_core::document::{ItemId, Priority};
use halcytone_core::publisher::{ItemView, PostId, Publisher as _, RenderInput};
use halcytone_core::store::Store as _;
use serde::Serialize;

use crate::app::App;

/// The outcome of one check.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct Check {
    /// What was checked: `store`, `templates`, `channel:<name>`.
    pub(crate) name: String,
    /// `ok`, `degraded` (works, but a channel waits) or `failing`.
    #[schema(value_type = String, pattern = "^(ok|degraded|failing)$")]
    pub(crate) status: &'static str,
    /// What was found.
    pub(crate) detail: String,
}

/// Every check, and whether the server can serve.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct Readiness {
    /// `ready`, `degraded` (ready, but some channel's posts wait) or `not-ready`.
    #[schema(value_type = String, pattern = "^(ready|degraded|not-ready)$")]
    pub(crate) status: &'static str,
    /// Each check.
    pub(crate) checks: Vec<Check>,
}

impl Readiness {
    /// The checks that fail, for the problem's detail.
    pub(crate) fn failing(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|check| check.status == "failing")
            .collect()
    }
}

fn check(name: impl Into<String>, status: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status,
        detail: detail.into(),
    }
}

/// Runs every check.
pub(crate) async fn readiness(app: &App) -> Readiness {
    let mut checks = vec![store(app).await, templates(app)];
    for (channel, entry) in app.channels.iter().filter(|(_, entry)| entry.enabled) {
        if !entry.publisher.circuit_closed() {
            checks.push(check(
                format!("channel:{channel}"),
                "degraded",
                "paused after repeated failures (circuit open); its due posts wait",
            ));
        }
    }
    // A failing pre-flight check warns ahead: the server serves, degraded.
    for failing in app.preflight.failing() {
        checks.push(check(
            format!("preflight:{}", failing.check.name),
            "degraded",
            format!(
                "{} (checked {})",
                failing.check.detail,
                failing.at.strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
        ));
    }
    let status = if checks.iter().any(|check| check.status == "failing") {
        "not-ready"
    } else if checks.iter().any(|check| check.status == "degraded") {
        "degraded"
    } else {
        "ready"
    };
    Readiness { status, checks }
}

async fn store(app: &App) -> Check {
    if app.settings.dry_run {
        return check("store", "ok", "not used: the process is a dry run");
    }
    // A real query, not an open pool: a database that went away fails here.
    let counted = match app.store().await {
        Ok(store) => store
            .status_counts()
            .await
            .map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    };
    match counted {
        Ok(counts) => {
            let posts: u64 = counts.iter().map(|(_, posts)| posts).sum();
            check("store", "ok", format!("{posts} posts"))
        }
        Err(error) => check("store", "failing", error),
    }
}

/// Renders a probe post through every enabled channel's templates and rules.
fn templates(app: &App) -> Check {
    let featured = &app.settings.planner.featured_section;
    let item = ItemView {
        id: ItemId::new(featured, "Readiness probe"),
        section: featured.clone(),
        title: "Readiness probe".to_owned(),
        tags: vec!["probe".to_owned()],
        hashtags: vec!["#probe".to_owned()],
        link: Some("https://halcytone.invalid/probe".to_owned()),
        priority: Priority::Normal,
        date: None,
        body_html: "<p>A probe of the templates.</p>".to_owned(),
        body_text: "A probe of the templates.".to_owned(),
        summary: "A probe of the templates.".to_owned(),
        featured: true,
    };
    let post_id = PostId("post_readiness".to_owned());
    let scheduled_at = jiff::Timestamp::UNIX_EPOCH.to_zoned_datetime(app.settings.timezone.clone());
    let mut rendered = 0;
    let mut failing = Vec::new();
    // Every language's templates: a broken German one fails here too.
    for edition in &app.editions {
        let input = RenderInput {
            post_id: &post_id,
            scheduled_at: &scheduled_at,
            item: &item,
            includes: &[],
            locale: edition.locale(),
            // The first segment's issue, so its target is checked too.
            segment: app.settings.segments.first(),
        };
        for (channel, entry) in app.channels.iter().filter(|(_, entry)| entry.enabled) {
            let result = entry
                .publisher
                .render(&input, &edition.renderer)
                .and_then(|content| entry.publisher.validate(&content));
            match result {
                Ok(()) => rendered += 1,
                Err(error) if app.editions.len() > 1 => {
                    failing.push(format!("{channel} ({}): {error}", edition.locale()));
                }
                Err(error) => failing.push(format!("{channel}: {error}")),
            }
        }
    }
    if !failing.is_empty() {
        return check("templates", "failing", failing.join("; "));
    }
    check(
        "templates",
        "ok",
        if app.editions.len() > 1 {
            format!(
                "a probe post renders on {} channels in each of {} locales",
                rendered / app.editions.len(),
                app.editions.len()
            )
        } else {
            format!("a probe post renders on {rendered} channels")
        },
    )
}
