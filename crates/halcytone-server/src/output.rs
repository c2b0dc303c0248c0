//! Human-readable output of the CLI: the plan as a table by day and channel.
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;

use halcytone_core::compose::{ContentPlan, ScheduledPost};

use halcytone_core::dispatch::{Dispatched, DuePreview, PassSummary, Reconciled};
use halcytone_core::experiment::{Arm, ExperimentKind};
use halcytone_core::publisher::PostStatus;
use halcytone_core::store::lifecycle::status_name;
use halcytone_core::store::{DeliveryRecord, StoredPost, lifecycle};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::app::PublishReport;
use crate::experiments::{Decided, Experiment};
use crate::report::ChannelReport;

/// A time as people read it: in the configured zone, with the zone's abbreviation.
fn local(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned_datetime(zone.clone())
        .strftime("%a %Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A one-line summary of a post's content for the table.
fn summary(post: &ScheduledPost) -> String {
    let parts = post
        .content
        .0
        .get("parts")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    let mut line = match post
        .content
        .0
        .get("subject")
        .and_then(serde_json::Value::as_str)
    {
        Some(subject) => subject.to_owned(),
        // An arm's opening line is what it tries.
        None if post.experiment.is_some() => crate::experiments::arm_text(&post.content.0),
        None => post.item.title.clone(),
    };
    if !post.includes.is_empty() {
        let _ = write!(line, " (+{} items)", post.includes.len());
    }
    if let Some(segment) = &post.segment {
        let _ = write!(line, " [{segment}]");
    }
    if let Some(arm) = &post.experiment {
        let _ = match arm.arm {
            Arm::Winner => write!(line, " (winner of {} to the rest)", arm.id),
            other => write!(line, " (arm {other} of {})", arm.id),
        };
    }
    if parts > 1 {
        let _ = write!(line, " (thread of {parts})");
    }
    line
}

/// Formats a plan as a table by day, then time and channel.
pub(crate) fn plan_table(plan: &ContentPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan {} · {} from {} · {}{}",
        plan.plan_id,
        plan.period,
        plan.start,
        plan.timezone,
        if plan.dry_run { " · dry run" } else { "" }
    );
    // A plan of several languages names each post's.
    let multilingual = plan
        .posts
        .iter()
        .any(|post| post.locale != plan.posts[0].locale);
    let mut current_day = String::new();
    for post in &plan.posts {
        let day = post.scheduled_at.strftime("%a %Y-%m-%d").to_string();
        if day != current_day {
            let _ = writeln!(out, "\n{day}");
            current_day = day;
        }
        let locale = if multilingual {
            format!("{:<7}", post.locale)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {}  {:<9} {locale}{}",
            post.scheduled_at.strftime("%H:%M"),
            post.channel.as_str(),
            summary(post)
        );
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for post in &plan.posts {
        match counts
            .iter_mut()
            .find(|(channel, _)| channel == post.channel.as_str())
        {
            Some((_, count)) => *count += 1,
            None => counts.push((post.channel.to_string(), 1)),
        }
    }
    counts.sort();
    let by_channel: Vec<String> = counts
        .iter()
        .map(|(channel, count)| format!("{channel} {count}"))
        .collect();
    let _ = writeln!(
        out,
        "\n{} posts: {}",
        plan.posts.len(),
        by_channel.join(", ")
    );
    if let Some(changes) = &plan.changes {
        let _ = writeln!(
            out,
            "\nSince the document was last read: {} new, {} changed, {} gone",
            changes.new.len(),
            changes.changed.len(),
            changes.gone.len()
        );
        for (label, ids) in [
            ("new", &changes.new),
            ("changed", &changes.changed),
            ("gone", &changes.gone),
        ] {
            for id in ids {
                let _ = writeln!(out, "  {label:<8} {id}");
            }
        }
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for warning in &plan.warnings {
            let _ = writeln!(out, "  - {warning}");
        }
    }
    if plan.dry_run {
        let _ = writeln!(
            out,
            "\nDry run: nothing was stored or sent. Add --json to see every request that would be sent."
        );
    }
    if let Some(stored) = &plan.stored {
        let _ = writeln!(
            out,
            "\nStored: {} new, {} updated, {} unchanged, {} kept (already going out or out). Review with `halcytone posts list`.",
            stored.inserted.len(),
            stored.updated.len(),
            stored.unchanged.len(),
            stored.kept.len()
        );
        for id in &stored.voided {
            let _ = writeln!(
                out,
                "  approval voided: {id} changed with the document and is a draft again; review it"
            );
        }
        for id in &stored.conflicts {
            let _ = writeln!(
                out,
                "  edit kept: {id} was edited by a person and the document changed too; `halcytone posts show {id}` shows both, `halcytone posts revert {id}` takes the document's"
            );
        }
        let _ = writeln!(
            out,
            "Approved and scheduled posts go out when due: `halcytone serve` sends them, or run `halcytone publish --due`."
        );
    }
    out
}

/// Formats the channel reports and sources.
pub(crate) fn channels_table(
    reports: &[ChannelReport],
    sources: &[&str],
    active_source: &str,
) -> String {
    let mut out = String::from("Channels\n");
    for report in reports {
        let state = if !report.compiled_in {
            format!(
                "not compiled in (rebuild with --features {})",
                report.channel
            )
        } else if !report.enabled {
            "disabled".to_owned()
        } else if report.missing.is_empty() {
            "configured".to_owned()
        } else {
            format!(
                "not configured, previews only (set {})",
                report.missing.join(", ")
            )
        };
        let _ = writeln!(out, "  {:<9} {state}", report.channel);
        if let Some(cadence) = &report.cadence {
            let rate = report
                .rate_limit
                .as_deref()
                .map(|rate| format!(", rate limit {rate}"))
                .unwrap_or_default();
            let circuit = report
                .circuit
                .map(|state| format!(", circuit {state}"))
                .unwrap_or_default();
            let cap = match (report.daily_cap, report.daily_cap_remaining) {
                (Some(cap), Some(left)) => format!(", daily cap {cap} ({left} left)"),
                (Some(cap), None) => format!(", daily cap {cap}"),
                (None, _) => String::new(),
            };
            let _ = writeln!(out, "            cadence {cadence}{rate}{cap}{circuit}");
        }
    }
    let _ = writeln!(
        out,
        "Sources\n  {} (active: {active_source})",
        sources.join(", ")
    );
    out
}

/// Formats the outcome of `generate --publish-now`, one line a post.
pub(crate) fn publish_table(
    reports: &[PublishReport],
    warnings: &[String],
    zone: &TimeZone,
) -> String {
    let count = |outcome: &str| {
        reports
            .iter()
            .filter(|report| report.outcome == outcome)
            .count()
    };
    let mut out = format!(
        "Published {} of {} posts now ({} already published, {} waiting, {} failed, {} unconfirmed, {} skipped)\n",
        count("published"),
        reports.len(),
        count("already-published"),
        count("waiting"),
        count("failed"),
        count("unconfirmed"),
        count("skipped")
    );
    for report in reports {
        let detail = match (&report.reason, report.external_ids.is_empty()) {
            (Some(reason), _) => reason.clone(),
            (None, false) => report.external_ids.join(", "),
            (None, true) => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<17} {}  {:<9} {}: {detail}",
            report.outcome,
            local(report.scheduled_at, zone),
            report.channel.as_str(),
            report.title
        );
    }
    if !warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for warning in warnings {
            let _ = writeln!(out, "  - {warning}");
        }
    }
    out
}

/// Formats stored posts, one line each.
pub(crate) fn posts_table(posts: &[StoredPost], zone: &TimeZone) -> String {
    if posts.is_empty() {
        return "No stored posts match.\n".to_owned();
    }
    let mut out = format!(
        "{:<21} {:<11} {:<24} {:<9} {:<7} ITEM\n",
        "ID", "STATUS", "SCHEDULED", "CHANNEL", "LOCALE"
    );
    for post in posts {
        let mut title = title_of(post).to_owned();
        if post.conflict.is_some() {
            title.push_str("  (edited; the document changed too)");
        } else if post.edited_at.is_some() {
            title.push_str("  (edited)");
        }
        let _ = writeln!(
            out,
            "{:<21} {:<11} {:<24} {:<9} {:<7} {title}",
            post.id.0,
            lifecycle::status_name(post.status),
            local(post.scheduled_at, zone),
            post.channel.as_str(),
            post.locale.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(out, "{} posts", posts.len());
    out
}

fn title_of(post: &StoredPost) -> &str {
    post.item
        .get("title")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

/// A post's content as people read it: each field on its own, strings as
/// written (line breaks kept), lists one entry per line.
fn readable(value: &serde_json::Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields {
                match field {
                    serde_json::Value::String(text) if !text.contains('\n') => {
                        let _ = writeln!(out, "{pad}{name}: {text}");
                    }
                    serde_json::Value::Number(_)
                    | serde_json::Value::Bool(_)
                    | serde_json::Value::Null => {
                        let _ = writeln!(out, "{pad}{name}: {field}");
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}{name}:");
                        readable(field, indent + 2, out);
                    }
                }
            }
        }
        serde_json::Value::Array(entries) => {
            for (number, entry) in entries.iter().enumerate() {
                let _ = writeln!(out, "{pad}[{}]", number + 1);
                readable(entry, indent + 2, out);
            }
        }
        serde_json::Value::String(text) => {
            for line in text.lines() {
                let _ = writeln!(out, "{pad}{line}");
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{other}");
        }
    }
}

/// Formats one stored post: its state, content and attempts.
pub(crate) fn post_details(post: &StoredPost, zone: &TimeZone) -> String {
    let mut out = format!(
        "{}  {}\n{} at {}\nitem: {}\n",
        post.id,
        lifecycle::status_name(post.status),
        post.channel,
        local(post.scheduled_at, zone),
        title_of(post)
    );
    if let Some(locale) = &post.locale {
        let _ = writeln!(out, "locale: {locale}");
    }
    if let Some(edited) = post.edited_at {
        let _ = writeln!(out, "edited by a person at {}", local(edited, zone));
    }
    let _ = writeln!(out, "\ncontent:");
    readable(&post.content, 2, &mut out);
    if let Some(conflict) = &post.conflict {
        let _ = writeln!(
            out,
            "\nthe document's newer version (kept beside your edit; `halcytone posts revert {}` takes it):",
            post.id
        );
        readable(&conflict.content, 2, &mut out);
    }
    if let Some(suggestion) = &post.suggestion {
        let _ = writeln!(
            out,
            "\nsuggestion (never sent; `halcytone posts accept-suggestion {}` takes it):",
            post.id
        );
        readable(suggestion, 2, &mut out);
    }
    if !post.external_ids.is_empty() {
        let _ = writeln!(out, "\nexternal ids: {}", post.external_ids.join(", "));
    }
    if post.attempts.is_empty() {
        let _ = writeln!(out, "\nattempts: none");
    } else {
        let _ = writeln!(out, "\nattempts:");
    }
    for attempt in &post.attempts {
        let _ = writeln!(
            out,
            "  {}  {}{}{}",
            local(attempt.at, zone),
            attempt.outcome.as_str(),
            attempt
                .error
                .as_deref()
                .or(attempt.note.as_deref())
                .map(|text| format!(": {text}"))
                .unwrap_or_default(),
            if attempt.external_ids.is_empty() {
                String::new()
            } else {
                format!(" ({})", attempt.external_ids.join(", "))
            }
        );
    }
    out
}

/// Formats the webhook delivery log, one line per event and URL.
pub(crate) fn deliveries(log: &[DeliveryRecord], zone: &TimeZone) -> String {
    if log.is_empty() {
        return "No webhook event yet.\n".to_owned();
    }
    let mut out = String::new();
    for record in log {
        let how = match (record.status.as_str(), &record.last_error) {
            ("delivered", _) => format!(
                "delivered{}",
                record
                    .delivered_at
                    .map(|at| format!(" {}", local(at, zone)))
                    .unwrap_or_default()
            ),
            (status, Some(error)) => format!("{status} after {} tries: {error}", record.attempts),
            (status, None) => status.to_owned(),
        };
        let _ = writeln!(
            out,
            "  {}  {:<16} {} → {}: {how}",
            local(record.created_at, zone),
            record.event_type,
            record.post_id.as_ref().map_or("-", |id| id.0.as_str()),
            record.url
        );
    }
    out
}

/// Formats what `posts reconcile` did, one line per unconfirmed post.
pub(crate) fn reconciled(posts: &[Reconciled]) -> String {
    if posts.is_empty() {
        return "No post is unconfirmed.\n".to_owned();
    }
    let count = |status: PostStatus| posts.iter().filter(|post| post.status == status).count();
    let mut out = format!(
        "Reconciled {} unconfirmed posts: {} published, {} queued to be sent, {} still unconfirmed\n",
        posts.len(),
        count(PostStatus::Published),
        count(PostStatus::Scheduled),
        count(PostStatus::Unconfirmed)
    );
    for post in posts {
        let _ = writeln!(
            out,
            "  {:<11} {:<9} {}: {}",
            lifecycle::status_name(post.status),
            post.channel.as_str(),
            post.id,
            post.note
        );
    }
    out
}

/// Formats a dry run of `publish --due`: each due post and its requests.
pub(crate) fn due_table(due: &[DuePreview], zone: &TimeZone) -> String {
    if due.is_empty() {
        return "Dry run: no post is due.\n".to_owned();
    }
    let mut out = format!(
        "Dry run: {} due posts would be sent (nothing is changed)\n",
        due.len()
    );
    for preview in due {
        let post = &preview.post;
        let title = title_of(post);
        let _ = writeln!(
            out,
            "  {}  {}  {:<9} {title}",
            post.id,
            local(post.scheduled_at, zone),
            post.channel.as_str()
        );
        if let Some(error) = &preview.error {
            let _ = writeln!(out, "      cannot be sent: {error}");
        }
        for request in &preview.requests {
            let _ = writeln!(out, "      {} {}", request.method.as_str(), request.url);
        }
    }
    out
}

/// Formats what a dispatch pass did.
pub(crate) fn dispatch_summary(summary: &PassSummary) -> String {
    let count = |status: PostStatus| {
        summary
            .posts
            .iter()
            .filter(|post| post.status == status)
            .count()
    };
    let mut out = format!(
        "Sent {} due posts: {} published, {} waiting for a retry, {} failed, {} unconfirmed\n",
        summary.posts.len(),
        count(PostStatus::Published),
        count(PostStatus::Scheduled),
        count(PostStatus::Failed),
        count(PostStatus::Unconfirmed)
    );
    if summary.queued > 0 {
        let _ = writeln!(out, "Queued {} approved posts.", summary.queued);
    }
    for requeued in &summary.requeued {
        let _ = writeln!(
            out,
            "Requeued {} ({}): its dispatcher stopped; now {}",
            requeued.id,
            requeued.channel,
            lifecycle::status_name(requeued.status)
        );
    }
    for post in &summary.posts {
        let detail = match (&post.error, post.next_attempt_at) {
            (Some(error), Some(at)) => format!("{error}; next attempt at {at}"),
            (Some(error), None) => error.clone(),
            (None, _) => post.external_ids.join(", "),
        };
        let _ = writeln!(
            out,
            "  {:<11} {:<9} {}  {detail}",
            lifecycle::status_name(post.status),
            post.channel.as_str(),
            post.id
        );
    }
    for reason in &summary.waiting {
        let _ = writeln!(out, "Waiting: {reason}");
    }
    out
}

/// A progress bar on standard error while a pass runs, when it is a terminal.
pub(crate) struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    /// A bar for `total` posts on standard error (a terminal).
    pub(crate) fn new(total: u64) -> Self {
        if total == 0 {
            return Self::hidden();
        }
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} posts  {msg}")
        {
            bar.set_style(style);
        }
        Self(Some(bar))
    }

    /// No bar: standard error is not a terminal.
    pub(crate) fn hidden() -> Self {
        Self(None)
    }

    /// One post finished.
    pub(crate) fn finished(&self, post: &Dispatched) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!(
                "{} {}",
                post.id,
                lifecycle::status_name(post.status)
            ));
            bar.inc(1);
        }
    }

    /// Removes the bar before the summary is printed.
    pub(crate) fn clear(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Prints to standard output. A reader that went away (`… | head`) is not an
/// error: the rest of the output has nowhere to go, and the command ends as
/// it would have.
pub(crate) fn print(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    if let Err(error) = written
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("warning: cannot write the output: {error}");
    }
}

/// What an analytics fetch did, a line per channel.
pub(crate) fn fetched(lines: &[crate::analytics::Fetched]) -> String {
    if lines.is_empty() {
        return "No configured channel reports figures.\n".to_owned();
    }
    let mut out = String::new();
    for line in lines {
        let _ = write!(
            out,
            "{:<9} {} figures of {} posts",
            line.channel.as_str(),
            line.readings,
            line.posts
        );
        if let Some(error) = &line.error {
            let _ = write!(out, "; not all read: {error}");
        }
        out.push('\n');
    }
    out
}

/// Figures and rates on one line: `impressions 2,206 · likes 36 · engagement_rate 2.1%`.
fn figures_line(
    figures: &std::collections::BTreeMap<String, f64>,
    rates: &std::collections::BTreeMap<String, f64>,
) -> String {
    figures
        .iter()
        .map(|(metric, value)| format!("{metric} {}", crate::analytics::figure_text(*value)))
        .chain(
            rates
                .iter()
                .map(|(rate, value)| format!("{rate} {:.1}%", value * 100.0)),
        )
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A period's figures as a table: totals by channel, then the top posts.
pub(crate) fn report(report: &crate::analytics::Report, zone: &TimeZone) -> String {
    let mut out = format!(
        "Figures of the posts from {} to {}\n",
        local(report.from, zone),
        local(report.to, zone)
    );
    if report.channels.is_empty() {
        out.push_str("\nNo figures yet: `halcytone analytics fetch` reads them.\n");
        return out;
    }
    out.push('\n');
    for channel in &report.channels {
        let _ = writeln!(
            out,
            "{:<9} {:>3} posts  {}",
            channel.channel.as_str(),
            channel.posts,
            figures_line(&channel.totals, &channel.rates)
        );
    }
    if !report.top.is_empty() {
        out.push_str("\nTop posts\n");
        for (rank, id) in report.top.iter().enumerate() {
            if let Some(post) = report.posts.iter().find(|post| &post.id == id) {
                let _ = writeln!(
                    out,
                    "{}. {} {}  {}\n   {}",
                    rank + 1,
                    post.channel.as_str(),
                    local(post.scheduled_at, zone),
                    post.title,
                    figures_line(&post.figures, &post.rates)
                );
            }
        }
    }
    out
}

/// The stored experiments, one line each.
pub(crate) fn experiments_table(experiments: &[Experiment], zone: &TimeZone) -> String {
    if experiments.is_empty() {
        return "No experiments: an item's `Subject B:` or `Hook B:` line makes one.\n".to_owned();
    }
    let mut out = String::new();
    for experiment in experiments {
        let title = experiment
            .item
            .get("title")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let when = experiment
            .arms
            .first()
            .map(|arm| local(arm.scheduled_at, zone))
            .unwrap_or_default();
        let outcome = match &experiment.decision {
            Some(decision) => match decision.winner {
                Some(winner) => format!("{}: {winner}", experiment.status),
                None => experiment.status.to_owned(),
            },
            None => experiment.status.to_owned(),
        };
        let _ = writeln!(
            out,
            "{}  {:<9} {when}  {title}  {outcome}",
            experiment.id,
            experiment.channel.as_str()
        );
    }
    out
}

/// One experiment: its arms, their figures, and the decision with why.
pub(crate) fn experiment_details(experiment: &Experiment, zone: &TimeZone) -> String {
    let title = experiment
        .item
        .get("title")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let mut out = format!(
        "Experiment {} · {} · {} · {title}\n",
        experiment.id,
        experiment.channel.as_str(),
        match experiment.kind {
            ExperimentKind::Split => "one send split, then the winner to the rest",
            ExperimentKind::Slots => "two slots",
        }
    );
    for arm in &experiment.arms {
        let _ = writeln!(
            out,
            "\n{:<6} {}  {}  {}{}\n       \"{}\"",
            arm.arm.as_str(),
            arm.post,
            status_name(arm.status),
            local(arm.scheduled_at, zone),
            arm.published_at
                .map(|out| format!(" (out {})", local(out, zone)))
                .unwrap_or_default(),
            arm.text
        );
        if !arm.figures.is_empty() {
            let _ = writeln!(out, "       {}", figures_line(&arm.figures, &arm.rates));
        }
    }
    out.push('\n');
    match &experiment.decision {
        Some(decision) => {
            let winner = decision
                .winner
                .map_or_else(|| "none".to_owned(), |arm| format!("arm {arm}"));
            let _ = writeln!(
                out,
                "{} {}: {winner}, on the {}: {}.",
                if decision.inconclusive {
                    "Inconclusive"
                } else {
                    "Decided"
                },
                local(decision.decided_at, zone),
                decision.rate,
                decision.reason
            );
        }
        None => {
            let _ = match experiment.decides_at {
                Some(at) => writeln!(out, "Running: decided after {}.", local(at, zone)),
                None => writeln!(out, "Running: decided once both arms are out."),
            };
        }
    }
    out
}

/// What a decision pass did.
pub(crate) fn decided(outcomes: &[Decided]) -> String {
    if outcomes.is_empty() {
        return "No experiment is waiting for a decision.\n".to_owned();
    }
    let mut out = String::new();
    for outcome in outcomes {
        let _ = match (&outcome.decision, &outcome.waiting) {
            (Some(decision), _) => writeln!(
                out,
                "{}  {}: {}",
                outcome.experiment,
                decision
                    .winner
                    .map_or_else(|| "no winner".to_owned(), |arm| format!("arm {arm}")),
                decision.reason
            ),
            (None, Some(why)) => writeln!(out, "{}  waiting: {why}", outcome.experiment),
            (None, None) => Ok(()),
        };
    }
    out
}
