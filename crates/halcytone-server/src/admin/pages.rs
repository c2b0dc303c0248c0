//! The admin UI's pages and form actions.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use halcytone_core::experiment::{Arm, ExperimentKind};
use halcytone_core::plan::{Period, next_monday};
use halcytone_core::publisher::{Measured, PostStatus, Publisher as _};
use halcytone_core::store::{Action, StoredPost, lifecycle};
use halcytone_core::text::sanitize_html;
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan as _};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Admin, Visitor, back_to, url_encode};
use crate::analytics::figure_text;
use crate::app::{AppError, GenerateRequest, PostsRequest};
use crate::report::channel_reports;

/// The period a page shows.
struct Shown {
    start: Date,
    period: Period,
    end: Date,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WeekQuery {
    start: Option<String>,
    period: Option<String>,
    channel: Option<String>,
    status: Option<String>,
    locale: Option<String>,
}

impl Admin {
    fn shown(&self, start: Option<&str>, period: Option<&str>) -> Result<Shown, String> {
        let period: Period = period
            .filter(|period| !period.is_empty())
            .map_or(Ok(Period::Week), str::parse)
            .map_err(|error| format!("period: {error}"))?;
        let start = match start.filter(|start| !start.is_empty()) {
            None => next_monday(self.app.today()),
            Some(start) => start
                .parse::<Date>()
                .ok()
                .filter(|_| start.len() == 10)
                .ok_or_else(|| format!("start: `{start}` is not a date (YYYY-MM-DD)"))?,
        };
        let end = start
            .checked_add(period.days_from(start).days())
            .map_err(|error| format!("start: {error}"))?;
        Ok(Shown { start, period, end })
    }

    fn message(
        &self,
        visitor: &Visitor,
        status: StatusCode,
        title: &str,
        message: &str,
    ) -> Response {
        self.page(
            visitor,
            status,
            "templates/message",
            json!({ "title": title, "message": message }),
        )
    }

    fn app_error(&self, visitor: &Visitor, error: &AppError) -> Response {
        let (status, _) = crate::http::classify(error);
        self.message(visitor, status, "Refused", &error.to_string())
    }

    /// Keeps what a form action did for the next page and sends the browser
    /// back to the page the form was on.
    fn done(&self, visitor: &Visitor, flash: String, back: Option<&str>) -> Response {
        self.sessions.set_flash(&visitor.session, flash);
        Redirect::to(&back_to(back)).into_response()
    }

    /// A post as the week view and the post page show it.
    fn card(&self, post: &StoredPost, now: Timestamp) -> Value {
        let zone = self.app.settings.timezone.clone();
        let at = post.scheduled_at.to_zoned_datetime(zone);
        let can = |action: Action| lifecycle::transition(post.status, action).is_ok();
        let status = lifecycle::status_name(post.status);
        json!({
            "id": post.id.0,
            "channel": post.channel.as_str(),
            "channel_name": channel_name(post.channel.as_str()),
            "status": status,
            "title": title_of(post),
            "time": at.strftime("%H:%M").to_string(),
            "when": at.strftime("%a %-d %b %Y, %H:%M %Z").to_string(),
            "datetime": post.scheduled_at.to_string(),
            "relative": relative(now, post.scheduled_at),
            "can_approve": can(Action::Approve),
            "can_reject": can(Action::Reject),
            "can_edit": can(Action::Edit),
            "can_cancel": can(Action::Cancel) && post.status != PostStatus::Draft,
            "can_retry": can(Action::Retry),
            "edited": post.edited_at.is_some(),
            "conflict": post.conflict.is_some(),
            // Named only where posts are in more than one language.
            "locale": (self.app.editions.len() > 1).then(|| post.locale.clone()).flatten(),
            "segment": post.segment,
            "experiment": post.experiment.as_ref().map(|arm| arm.id.clone()),
            "arm": post.experiment.as_ref().map(|arm| match arm.arm {
                Arm::Winner => "winner to the rest".to_owned(),
                other => format!("arm {other}"),
            }),
        })
    }
}

/// `GET /admin`: the period's posts by day and channel.
pub(crate) async fn week(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<WeekQuery>,
) -> Response {
    let path = uri.path_and_query().map_or("/admin", |path| path.as_str());
    let visitor = match admin.visitor(&headers, path) {
        Ok(visitor) => visitor,
        Err(redirect) => return *redirect,
    };
    let shown = match admin.shown(query.start.as_deref(), query.period.as_deref()) {
        Ok(shown) => shown,
        Err(message) => {
            return admin.message(&visitor, StatusCode::BAD_REQUEST, "Bad address", &message);
        }
    };
    let channel = query.channel.as_deref().filter(|name| !name.is_empty());
    let status = query.status.as_deref().filter(|name| !name.is_empty());
    let locale = query.locale.as_deref().filter(|code| !code.is_empty());
    let posts = match admin
        .app
        .posts(&PostsRequest {
            status,
            channel,
            locale,
            from: Some(&shown.start.to_string()),
            to: Some(&shown.end.to_string()),
            ..PostsRequest::default()
        })
        .await
    {
        Ok(posts) => posts,
        Err(error) => return admin.app_error(&visitor, &error),
    };
    let now = Timestamp::now();
    let zone = admin.app.settings.timezone.clone();
    let channels: Vec<String> = admin
        .app
        .channels
        .iter()
        .filter(|(name, entry)| entry.enabled && channel.is_none_or(|only| only == name.as_str()))
        .map(|(name, _)| name.to_string())
        .collect();
    let mut by_day: BTreeMap<Date, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    let mut day = shown.start;
    while day < shown.end {
        by_day.insert(day, BTreeMap::new());
        day = day.tomorrow().unwrap_or(shown.end);
    }
    let mut drafts = 0;
    for post in &posts {
        let date = post.scheduled_at.to_zoned_datetime(zone.clone()).date();
        drafts += usize::from(post.status == PostStatus::Draft);
        by_day
            .entry(date)
            .or_default()
            .entry(post.channel.to_string())
            .or_default()
            .push(admin.card(post, now));
    }
    let query_string = |start: Date| {
        let mut query = format!("start={start}&period={}", shown.period);
        if let Some(channel) = channel {
            query.push_str(&format!("&channel={}", url_encode(channel)));
        }
        if let Some(status) = status {
            query.push_str(&format!("&status={}", url_encode(status)));
        }
        if let Some(locale) = locale {
            query.push_str(&format!("&locale={}", url_encode(locale)));
        }
        query
    };
    let back = format!("/admin?{}", query_string(shown.start));
    let days: Vec<Value> = by_day
        .into_iter()
        .map(|(date, mut cells)| {
            let next = date.tomorrow().unwrap_or(date);
            let drafts = cells
                .values()
                .flatten()
                .filter(|card| card["status"] == "draft")
                .count();
            json!({
                "date": date.to_string(),
                "label": date.strftime("%A %-d %B").to_string(),
                "next": next.to_string(),
                "drafts": drafts,
                "cells": channels.iter().map(|name| json!({
                    "channel": name,
                    "channel_name": channel_name(name),
                    "posts": cells.remove(name).unwrap_or_default(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let length = shown.period.days_from(shown.start);
    let previous = shown
        .start
        .checked_sub(length.days())
        .unwrap_or(shown.start);
    let statuses: Vec<Value> = lifecycle::ALL_STATUSES
        .iter()
        .map(|candidate| {
            let name = lifecycle::status_name(*candidate);
            json!({ "name": name, "selected": status == Some(name) })
        })
        .collect();
    let all_channels: Vec<Value> = admin
        .app
        .channels
        .keys()
        .map(|name| json!({ "name": name.as_str(), "label": channel_name(name.as_str()), "selected": channel == Some(name.as_str()) }))
        .collect();
    let last = shown.end.yesterday().unwrap_or(shown.end);
    admin.page(
        &visitor,
        StatusCode::OK,
        "templates/week",
        json!({
            "title": format!("{} to {}", shown.start.strftime("%-d %b"), last.strftime("%-d %b %Y")),
            "start": shown.start.to_string(),
            "end": shown.end.to_string(),
            "period": shown.period.to_string(),
            "previous": format!("/admin?{}", query_string(previous)),
            "next": format!("/admin?{}", query_string(shown.end)),
            "back": back,
            "days": days,
            "channels": channels.iter().map(|name| json!({"name": name, "label": channel_name(name)})).collect::<Vec<_>>(),
            "all_channels": all_channels,
            "statuses": statuses,
            "filter_channel": channel.unwrap_or_default(),
            "filter_locale": locale.unwrap_or_default(),
            // A language filter only where there is more than one language.
            "locales": (admin.app.editions.len() > 1).then(|| admin.app.editions.iter().map(|edition| json!({
                "code": edition.locale(),
                "selected": locale == Some(edition.locale()),
            })).collect::<Vec<_>>()),
            "count": posts.len(),
            "drafts": drafts,
            "timezone": zone.iana_name().unwrap_or("UTC"),
        }),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
    back: Option<String>,
}

/// `POST /admin/posts/{id}/{action}`: approve, reject, cancel, retry,
/// confirm or revert, as `POST /posts/{id}/{action}` does.
pub(crate) async fn decide(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let visitor = match admin.checked_visitor(&headers, &form.csrf) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let flash = match admin.app.decide(&id, &action).await {
        Ok(done) => format!(
            "{} {}: {} → {}.",
            past_tense(&action),
            done.id,
            lifecycle::status_name(done.from),
            lifecycle::status_name(done.to)
        ),
        Err(error) => format!("Could not {action} {id}: {error}"),
    };
    admin.done(&visitor, flash, form.back.as_deref())
}

/// `POST /admin/posts/{id}/enhance`: asks the model server for a
/// suggestion, as `POST /posts/{id}/enhance` does.
pub(crate) async fn enhance(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let visitor = match admin.checked_visitor(&headers, &form.csrf) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let flash = match admin.app.enhance(&id).await {
        Ok(post) => format!(
            "A suggestion for {} is beside it: nothing is sent until you accept it and approve the post.",
            post.id
        ),
        Err(error) => format!("No suggestion for {id}: {error}"),
    };
    admin.done(&visitor, flash, form.back.as_deref())
}

/// `POST /admin/posts/{id}/suggestion/{accept|reject}`.
pub(crate) async fn decide_suggestion(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path((id, decision)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let visitor = match admin.checked_visitor(&headers, &form.csrf) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let decided = match decision.as_str() {
        "accept" => admin.app.accept_suggestion(&id).await.map(|post| {
            format!(
                "The suggestion is the content of {} now; it is a {} to approve.",
                post.id,
                lifecycle::status_name(post.status)
            )
        }),
        "reject" => admin
            .app
            .reject_suggestion(&id)
            .await
            .map(|post| format!("The suggestion for {} is dropped.", post.id)),
        other => Err(crate::app::AppError::BadRequest {
            field: "decision",
            message: format!("unknown decision `{other}` (accept, reject)"),
        }),
    };
    let flash = decided
        .unwrap_or_else(|error| format!("Could not {decision} the suggestion for {id}: {error}"));
    admin.done(&visitor, flash, form.back.as_deref())
}

#[derive(Debug, Deserialize)]
pub(crate) struct RangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    start: String,
    period: Option<String>,
    /// The week page's channel and language filters: "Approve all"
    /// approves the drafts the page shows, no others.
    channel: Option<String>,
    locale: Option<String>,
    back: Option<String>,
}

/// `POST /admin/approve-all`: approves every draft of the range (of the
/// filtered channel and language, when the page was filtered) that the
/// store takes; the message names those it refused and why.
pub(crate) async fn approve_all(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Form(form): Form<RangeForm>,
) -> Response {
    let visitor = match admin.checked_visitor(&headers, &form.csrf) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let flash = match approve_range(&admin, &form).await {
        Ok(flash) | Err(flash) => flash,
    };
    admin.done(&visitor, flash, form.back.as_deref())
}

async fn approve_range(admin: &Admin, form: &RangeForm) -> Result<String, String> {
    let shown = admin.shown(Some(&form.start), form.period.as_deref())?;
    let drafts = admin
        .app
        .posts(&PostsRequest {
            status: Some("draft"),
            channel: form.channel.as_deref().filter(|name| !name.is_empty()),
            locale: form.locale.as_deref().filter(|code| !code.is_empty()),
            from: Some(&shown.start.to_string()),
            to: Some(&shown.end.to_string()),
            ..PostsRequest::default()
        })
        .await
        .map_err(|error| format!("Could not list the drafts: {error}"))?;
    let mut approved = 0;
    let mut refused = Vec::new();
    for post in &drafts {
        match admin.app.decide(&post.id.0, "approve").await {
            Ok(_) => approved += 1,
            Err(error) => refused.push(format!("{}: {error}", post.id)),
        }
    }
    let mut flash = format!("Approved {approved} of {} drafts.", drafts.len());
    if !refused.is_empty() {
        flash.push_str(&format!(" Refused: {}.", refused.join("; ")));
    }
    Ok(flash)
}

/// `POST /admin/generate`: plans and stores the shown period.
pub(crate) async fn generate(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Form(form): Form<RangeForm>,
) -> Response {
    let visitor = match admin.checked_visitor(&headers, &form.csrf) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let flash = match admin.shown(Some(&form.start), form.period.as_deref()) {
        Err(message) => message,
        Ok(shown) => {
            let request = GenerateRequest {
                period: shown.period,
                start: Some(shown.start),
                channels: None,
                dry_run: false,
            };
            match admin.app.generate(&request).await {
                Ok(plan) => match plan.stored {
                    Some(stored) => format!(
                        "Planned {} posts: {} new, {} changed, {} unchanged, {} kept; {} approvals voided, {} edits kept beside a newer version.",
                        plan.posts.len(),
                        stored.inserted.len(),
                        stored.updated.len(),
                        stored.unchanged.len(),
                        stored.kept.len(),
                        stored.voided.len(),
                        stored.conflicts.len()
                    ),
                    None => format!(
                        "Planned {} posts as a dry run (dry_run is set): nothing was stored.",
                        plan.posts.len()
                    ),
                },
                Err(error) => format!("Could not generate: {error}"),
            }
        }
    };
    admin.done(&visitor, flash, form.back.as_deref())
}

/// `GET /admin/posts/{id}`: the post as its channel shows it, its requests,
/// its attempts and the document's newer version beside an edit.
pub(crate) async fn post(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let visitor = match admin.visitor(&headers, &format!("/admin/posts/{}", url_encode(&id))) {
        Ok(visitor) => visitor,
        Err(redirect) => return *redirect,
    };
    let post = match admin.app.post(&id).await {
        Ok(post) => post,
        Err(error) => return admin.app_error(&visitor, &error),
    };
    let publisher = admin
        .app
        .channels
        .get(&post.channel)
        .map(|entry| &entry.publisher);
    let content = halcytone_core::publisher::Content(post.content.clone());
    let measures = publisher
        .map(|publisher| publisher.measure(&content))
        .unwrap_or_default();
    let zone = admin.app.settings.timezone.clone();
    let attempts: Vec<Value> = post
        .attempts
        .iter()
        .map(|attempt| {
            json!({
                "when": attempt.at.to_zoned_datetime(zone.clone()).strftime("%a %-d %b %Y, %H:%M:%S %Z").to_string(),
                "datetime": attempt.at.to_string(),
                "outcome": attempt.outcome.as_str(),
                "error": attempt.error,
                "note": attempt.note,
                "correlation_id": attempt.correlation_id,
                "external": attempt.external_ids.iter().map(|external| json!({
                    "id": external,
                    "url": publisher.and_then(|publisher| publisher.external_url(external)),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let conflict = post
        .conflict
        .as_ref()
        .map(|planned| diff(&post.content, &planned.content));
    let changed = post
        .previous_content
        .as_ref()
        .filter(|_| post.conflict.is_none())
        .map(|previous| diff(previous, &post.content));
    let requests = serde_json::to_string_pretty(&post.request).unwrap_or_default();
    let now = Timestamp::now();
    // Its latest figures, when any were read.
    let figures = admin
        .app
        .analytics(
            post.scheduled_at,
            post.scheduled_at + std::time::Duration::from_secs(1),
            Some(post.channel.as_str()),
        )
        .await
        .ok()
        .and_then(|report| report.posts.into_iter().find(|figures| figures.id == post.id))
        .map(|figures| {
            json!({
                "read": relative(now, figures.read_at),
                "datetime": figures.read_at.to_string(),
                "rows": figures.figures.iter().map(|(metric, value)| json!({"name": metric.replace('_', " "), "value": figure_text(*value)}))
                    .chain(figures.rates.iter().map(|(rate, value)| json!({"name": rate.replace('_', " "), "value": format!("{:.1}%", value * 100.0)})))
                    .collect::<Vec<_>>(),
            })
        });
    admin.page(
        &visitor,
        StatusCode::OK,
        "templates/post",
        json!({
            "title": title_of(&post),
            "post": admin.card(&post, now),
            "back": format!("/admin/posts/{}", post.id),
            "week": format!("/admin?start={}", week_of(post.scheduled_at.to_zoned_datetime(zone.clone()).date())),
            "measures": measured(&measures),
            "email": string_field(&post.content, "subject").is_some() && string_field(&post.content, "html").is_some(),
            "subject": string_field(&post.content, "subject"),
            "preheader": string_field(&post.content, "preheader"),
            "article": (string_field(&post.content, "title").is_some() && string_field(&post.content, "subject").is_none())
                .then(|| string_field(&post.content, "html").map(sanitize_html)).flatten(),
            "article_title": string_field(&post.content, "title"),
            "excerpt": string_field(&post.content, "excerpt"),
            "content_json": measures.is_empty() && string_field(&post.content, "html").is_none(),
            "content": serde_json::to_string_pretty(&post.content).unwrap_or_default(),
            "requests": requests,
            "attempts": attempts,
            "conflict": conflict,
            "changed": changed,
            "attempt_count": post.attempt_count,
            "next_attempt": post.next_attempt_at.map(|at| relative(now, at)),
            "figures": figures,
            "enhance": admin.app.enhancer_if_configured().is_some()
                && lifecycle::transition(post.status, Action::Edit).is_ok(),
            "suggestion": post.suggestion.as_ref().map(|suggestion| diff(&post.content, suggestion)),
        }),
    )
}

/// The weeks the analytics page charts, this one last.
const CHARTED_WEEKS: i64 = 8;

/// Which figure stands for a channel's reach in its chart: the first of
/// these its posts report.
const HEADLINE_FIGURES: [&str; 4] = ["impressions", "views", "unique_opens", "opens"];

#[derive(Debug, Deserialize)]
pub(crate) struct AnalyticsQuery {
    /// A day of the last week charted (`YYYY-MM-DD`); this week when absent.
    week: Option<String>,
}

/// `GET /admin/analytics[?week=YYYY-MM-DD]`: a chart per channel of its
/// reach over eight weeks ending with that day's (this one by default),
/// and the figures of that week's posts.
pub(crate) async fn analytics(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<AnalyticsQuery>,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or("/admin/analytics", |path| path.as_str());
    let visitor = match admin.visitor(&headers, path) {
        Ok(visitor) => visitor,
        Err(redirect) => return *redirect,
    };
    let zone = admin.app.settings.timezone.clone();
    let day = match query.week.as_deref().filter(|week| !week.is_empty()) {
        None => admin.app.today(),
        Some(week) => match week.parse::<Date>() {
            Ok(day) => day,
            Err(_) => {
                return admin.message(
                    &visitor,
                    StatusCode::BAD_REQUEST,
                    "Bad address",
                    &format!("week: `{week}` is not a date (YYYY-MM-DD)"),
                );
            }
        },
    };
    let this_week = week_of(day);
    let mut weeks = Vec::new();
    for back in (0..CHARTED_WEEKS).rev() {
        let start = this_week
            .checked_sub((back * 7).days())
            .unwrap_or(this_week);
        let report = match admin.app.report_window(Period::Week, Some(start)) {
            Ok((from, to)) => admin.app.analytics(from, to, None).await,
            Err(error) => Err(error),
        };
        match report {
            Ok(report) => weeks.push((start, report)),
            Err(error) => return admin.app_error(&visitor, &error),
        }
    }
    let mut charts: BTreeMap<String, Vec<(Date, Option<f64>, String)>> = BTreeMap::new();
    for (start, report) in &weeks {
        for channel in &report.channels {
            let Some(metric) = HEADLINE_FIGURES
                .iter()
                .find(|metric| channel.totals.contains_key(**metric))
            else {
                continue;
            };
            charts
                .entry(channel.channel.to_string())
                .or_default()
                .push((
                    *start,
                    channel.totals.get(*metric).copied(),
                    (*metric).to_owned(),
                ));
        }
    }
    let charts: Vec<Value> = charts
        .into_iter()
        .map(|(channel, points)| {
            let metric = points
                .last()
                .map(|(_, _, metric)| metric.replace('_', " "))
                .unwrap_or_default();
            let highest = points
                .iter()
                .filter_map(|(_, value, _)| *value)
                .fold(0.0_f64, f64::max);
            let rows: Vec<Value> = weeks
                .iter()
                .enumerate()
                .map(|(index, (start, _))| {
                    let value = points
                        .iter()
                        .find(|(week, _, _)| week == start)
                        .and_then(|(_, value, _)| *value);
                    // Bars 0–100 high in a 100-unit box, one 40 units wide per week.
                    let height = match value {
                        Some(value) if highest > 0.0 => (value / highest * 100.0).round() as i64,
                        _ => 0,
                    };
                    json!({
                        "week": start.strftime("%-d %b").to_string(),
                        "value": value.map_or_else(|| "—".to_owned(), figure_text),
                        "x": index * 40 + 4,
                        "y": 100 - height,
                        "height": height,
                    })
                })
                .collect();
            json!({
                "channel": channel,
                "label": channel_name(&channel),
                "metric": metric,
                "rows": rows,
            })
        })
        .collect();
    let now = Timestamp::now();
    let posts: Vec<Value> = weeks
        .last()
        .map(|(_, report)| {
            report
                .posts
                .iter()
                .map(|figures| {
                    json!({
                        "id": figures.id.0,
                        "channel": figures.channel.as_str(),
                        "channel_name": channel_name(figures.channel.as_str()),
                        "title": figures.title,
                        "when": figures.scheduled_at.to_zoned_datetime(zone.clone()).strftime("%a %-d %b, %H:%M").to_string(),
                        "figures": figures_text(&figures.figures),
                        "read": relative(now, figures.read_at),
                        "top": weeks.last().is_some_and(|(_, report)| report.top.contains(&figures.id)),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    admin.page(
        &visitor,
        StatusCode::OK,
        "templates/analytics",
        json!({
            "title": "Analytics",
            "charts": charts,
            "posts": posts,
            "width": CHARTED_WEEKS * 40,
        }),
    )
}

/// A post's figures on one line: `impressions 2,206 · likes 36`.
fn figures_text(figures: &BTreeMap<String, f64>) -> String {
    figures
        .iter()
        .map(|(metric, value)| format!("{} {}", metric.replace('_', " "), figure_text(*value)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `GET /admin/experiments`: each A/B experiment, its arms side by side
/// with what they try and their figures, and the decision with why.
pub(crate) async fn experiments(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    let visitor = match admin.visitor(&headers, "/admin/experiments") {
        Ok(visitor) => visitor,
        Err(redirect) => return *redirect,
    };
    let experiments = match admin.app.experiments().await {
        Ok(experiments) => experiments,
        Err(error) => return admin.app_error(&visitor, &error),
    };
    let zone = admin.app.settings.timezone.clone();
    let at = |time: Timestamp| {
        time.to_zoned_datetime(zone.clone())
            .strftime("%a %-d %b, %H:%M")
            .to_string()
    };
    let shown: Vec<Value> = experiments
        .iter()
        .map(|experiment| {
            let rate = experiment.kind.rate();
            let winner = experiment.decision.as_ref().and_then(|decision| decision.winner);
            json!({
                "id": experiment.id,
                "channel": experiment.channel.as_str(),
                "channel_name": channel_name(experiment.channel.as_str()),
                "title": experiment.item.get("title").and_then(Value::as_str).unwrap_or_default(),
                "status": experiment.status,
                "status_class": match experiment.status {
                    "decided" => "published",
                    "inconclusive" => "failed",
                    // No colour of its own: it is over, with nothing sent.
                    "cancelled" => "cancelled",
                    _ => "scheduled",
                },
                "kind": match experiment.kind {
                    ExperimentKind::Split => "One send split between the arms, then the winner to the rest",
                    ExperimentKind::Slots => "The arms in two slots",
                },
                "decides": experiment.decides_at.filter(|_| experiment.decision.is_none()).map(at),
                "decided": experiment.decision.as_ref().map(|decision| at(decision.decided_at)),
                "rate_label": capitalised(&rate.replace('_', " ")),
                "reason": experiment.decision.as_ref().map(|decision| capitalised(&decision.reason)),
                "arms": experiment.arms.iter().map(|arm| json!({
                    "arm": if arm.arm == Arm::Winner { "To the rest".to_owned() } else { format!("Arm {}", arm.arm) },
                    "won": arm.arm != Arm::Winner && winner == Some(arm.arm),
                    "text": arm.text,
                    "post": arm.post.0,
                    "status": lifecycle::status_name(arm.status),
                    "when": at(arm.published_at.unwrap_or(arm.scheduled_at)),
                    "rate": arm.rates.get(rate).map_or_else(|| "—".to_owned(), |value| format!("{:.1}%", value * 100.0)),
                    "figures": figures_text(&arm.figures),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let settings = admin.app.settings.ab;
    admin.page(
        &visitor,
        StatusCode::OK,
        "templates/experiments",
        json!({
            "title": "Experiments",
            "experiments": shown,
            // jiff's friendly format: `4h`, `1h 30m`.
            "decide_after": format!("{:#}", settings.decide_after),
            "rates": "open rate (newsletter) or engagement rate (X, LinkedIn)",
            "min_sample": settings.min_sample,
        }),
    )
}

/// `GET /admin/posts/{id}/email`: the newsletter's HTML alone, for the
/// post page's sandboxed frame; its policy forbids scripts whatever it holds.
pub(crate) async fn email(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let visitor = match admin.visitor(&headers, "/admin") {
        Ok(visitor) => visitor,
        Err(redirect) => return *redirect,
    };
    let post = match admin.app.post(&id).await {
        Ok(post) => post,
        Err(error) => return admin.app_error(&visitor, &error),
    };
    let Some(html) = string_field(&post.content, "html") else {
        return admin.message(
            &visitor,
            StatusCode::NOT_FOUND,
            "No email",
            "This post has no HTML.",
        );
    };
    let mut response = axum::response::Html(html.to_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'self'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = &visitor.set_cookie {
        headers.insert(header::SET_COOKIE, cookie.clone());
    }
    response
}

/// `GET /admin/posts/{id}/edit`: a field per text of the content.
pub(crate) async fn edit_page(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let visitor = match admin.visitor(&headers, &format!("/admin/posts/{}/edit", url_encode(&id))) {
        Ok(visitor) => visitor,
        Err(redirect) => return *redirect,
    };
    match admin.app.post(&id).await {
        Ok(post) => {
            let content = post.content.clone();
            edit_form(&admin, &visitor, StatusCode::OK, &post, &content, None)
        }
        Err(error) => admin.app_error(&visitor, &error),
    }
}

fn edit_form(
    admin: &Admin,
    visitor: &Visitor,
    status: StatusCode,
    post: &StoredPost,
    content: &Value,
    error: Option<String>,
) -> Response {
    let measures = admin
        .app
        .channels
        .get(&post.channel)
        .map(|entry| {
            entry
                .publisher
                .measure(&halcytone_core::publisher::Content(content.clone()))
        })
        .unwrap_or_default();
    let counters = measured(&measures);
    let mut fields = Vec::new();
    if let Value::Object(map) = content {
        // Measures come in the content's order: a list's items, one each,
        // or a text named like its measure.
        let mut next_measure = 0;
        for (key, value) in map {
            match value {
                Value::String(text) => {
                    let counter = measures.iter().position(|measured| measured.label == *key);
                    fields.push(json!({
                        "name": format!("field.{key}"),
                        "label": key,
                        "value": text,
                        "long": text.len() > 80 || text.contains('\n'),
                        "measure": counter,
                        "counter": counter.and_then(|index| counters.get(index)),
                    }));
                }
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    for (index, item) in items.iter().enumerate() {
                        let counter = counters.get(next_measure).map(|_| next_measure);
                        let label = measures.get(next_measure).map_or_else(
                            || format!("{key} {}", index + 1),
                            |measured| capitalised(&measured.label),
                        );
                        fields.push(json!({
                            "name": format!("item.{key}"),
                            "label": label,
                            "value": item.as_str(),
                            "long": true,
                            "measure": counter,
                            "counter": counter.and_then(|index| counters.get(index)),
                        }));
                        next_measure += 1;
                    }
                    // One empty field more adds an entry (a post to a
                    // thread) without JavaScript; left empty, it is dropped.
                    fields.push(json!({
                        "name": format!("item.{key}"),
                        "label": format!("{key} {}: add one (optional)", items.len() + 1),
                        "value": "",
                        "long": true,
                    }));
                }
                _ => {}
            }
        }
    }
    admin.page(
        visitor,
        status,
        "templates/edit",
        json!({
            "title": format!("Edit: {}", title_of(post)),
            "post": admin.card(post, Timestamp::now()),
            "fields": fields,
            "error": error,
            "approved": matches!(post.status, PostStatus::Approved | PostStatus::Scheduled),
        }),
    )
}

/// The content a form describes: `field.<key>` replaces a text, repeated
/// `item.<key>` replace a list of texts (empty ones dropped); the rest of
/// `stored` stays.
fn content_from_form(stored: &Value, form: &[(String, String)]) -> Value {
    let mut content = stored.clone();
    let Value::Object(map) = &mut content else {
        return content;
    };
    let mut lists: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for (name, value) in form {
        // Browsers send CR LF in text areas; the channels count LF.
        let value = value.replace("\r\n", "\n");
        if let Some(key) = name.strip_prefix("field.") {
            if map.get(key).is_some_and(Value::is_string) {
                map.insert(key.to_owned(), Value::String(value));
            }
        } else if let Some(key) = name.strip_prefix("item.")
            && map.get(key).is_some_and(Value::is_array)
        {
            let list = lists.entry(key).or_default();
            if !value.trim().is_empty() {
                list.push(Value::String(value));
            }
        }
    }
    for (key, list) in lists {
        map.insert(key.to_owned(), Value::Array(list));
    }
    content
}

/// `POST /admin/posts/{id}/edit`: stores the edit as `PATCH /posts/{id}`
/// does, or shows the form again with the rule it broke.
pub(crate) async fn edit(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = form
        .iter()
        .find(|(name, _)| name == "csrf")
        .map_or("", |(_, value)| value.as_str());
    let visitor = match admin.checked_visitor(&headers, csrf) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let post = match admin.app.post(&id).await {
        Ok(post) => post,
        Err(error) => return admin.app_error(&visitor, &error),
    };
    let content = content_from_form(&post.content, &form);
    match admin.app.edit(&post.id.0, content.clone()).await {
        Ok(edited) => {
            let voided = matches!(post.status, PostStatus::Approved | PostStatus::Scheduled)
                && edited.status == PostStatus::Draft;
            let flash = if voided {
                "Saved. The edit voided the approval: the post is a draft again and needs approving."
            } else {
                "Saved."
            };
            let page = format!("/admin/posts/{}", edited.id);
            admin.done(&visitor, flash.to_owned(), Some(&page))
        }
        Err(error) => edit_form(
            &admin,
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            &post,
            &content,
            Some(error.to_string()),
        ),
    }
}

/// `POST /admin/posts/{id}/check`: the edit form's live check, with the
/// rules of `PATCH /posts/{id}`; the CSRF token comes in `X-CSRF-Token`.
pub(crate) async fn check(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = headers
        .get("x-csrf-token")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if let Err(refused) = admin.checked_visitor(&headers, csrf) {
        return *refused;
    }
    let post = match admin.app.post(&id).await {
        Ok(post) => post,
        Err(error) => return (StatusCode::NOT_FOUND, error.to_string()).into_response(),
    };
    let Some(entry) = admin.app.channels.get(&post.channel) else {
        return (
            StatusCode::CONFLICT,
            format!("the {} channel is not compiled in", post.channel),
        )
            .into_response();
    };
    let content = halcytone_core::publisher::Content(content_from_form(&post.content, &form));
    let error = entry
        .publisher
        .validate(&content)
        .err()
        .map(|error| error.to_string());
    Json(json!({
        "error": error,
        "measures": measured(&entry.publisher.measure(&content)),
    }))
    .into_response()
}

/// `GET /admin/channels`: each channel's configuration, breaker, quota, last
/// error and next post, and the readiness checks.
pub(crate) async fn channels(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    let visitor = match admin.visitor(&headers, "/admin/channels") {
        Ok(visitor) => visitor,
        Err(redirect) => return *redirect,
    };
    let now = Timestamp::now();
    let mut rows = Vec::new();
    let budgets = admin.app.daily_budgets().await.unwrap_or_default();
    for report in channel_reports(&admin.app, &budgets) {
        let mut row = serde_json::to_value(&report).unwrap_or_default();
        row["label"] = Value::String(channel_name(&report.channel).to_owned());
        row["daily_cap_text"] =
            Value::String(match (report.daily_cap, report.daily_cap_remaining) {
                (Some(cap), Some(left)) => format!("{cap} in 24 h, {left} left"),
                (Some(cap), None) => format!("{cap} in 24 h"),
                (None, _) => "none".to_owned(),
            });
        if report.compiled_in {
            let next = admin
                .app
                .posts(&PostsRequest {
                    channel: Some(&report.channel),
                    from: Some(&now.to_string()),
                    limit: Some(20),
                    ..PostsRequest::default()
                })
                .await
                .ok()
                .and_then(|posts| {
                    posts.into_iter().find(|post| {
                        matches!(post.status, PostStatus::Approved | PostStatus::Scheduled)
                    })
                });
            if let Some(next) = next {
                row["next"] = json!({"id": next.id.0, "title": title_of(&next), "relative": relative(now, next.scheduled_at), "datetime": next.scheduled_at.to_string()});
            }
            let failed = admin
                .app
                .posts(&PostsRequest {
                    channel: Some(&report.channel),
                    status: Some("failed"),
                    ..PostsRequest::default()
                })
                .await
                .ok()
                .and_then(|posts| posts.into_iter().max_by_key(|post| post.updated_at));
            if let Some(failed) = failed
                && let Ok(failed) = admin.app.post(&failed.id.0).await
            {
                row["last_error"] = json!({
                    "id": failed.id.0,
                    "error": failed.attempts.iter().rev().find_map(|attempt| attempt.error.clone()),
                    "relative": relative(now, failed.updated_at),
                });
            }
        }
        rows.push(row);
    }
    let readiness = crate::ready::readiness(&admin.app).await;
    admin.page(
        &visitor,
        StatusCode::OK,
        "templates/channels",
        json!({
            "title": "Channels",
            "channels": rows,
            "ready": readiness,
        }),
    )
}

fn measured(measures: &[Measured]) -> Vec<Value> {
    measures
        .iter()
        .map(|measured| {
            json!({
                "label": measured.label,
                "text": measured.text,
                "length": measured.length,
                "limit": measured.limit,
                "over": measured.length > measured.limit,
            })
        })
        .collect()
}

fn string_field<'a>(content: &'a Value, key: &str) -> Option<&'a str> {
    content.get(key).and_then(Value::as_str)
}

fn title_of(post: &StoredPost) -> String {
    post.item
        .get("title")
        .and_then(Value::as_str)
        .map_or_else(|| post.id.0.clone(), ToOwned::to_owned)
}

/// How the UI names a channel.
fn channel_name(channel: &str) -> &str {
    match channel {
        "twitter" => "X",
        "linkedin" => "LinkedIn",
        "email" => "Newsletter",
        "web" => "Website",
        other => other,
    }
}

fn capitalised(text: &str) -> String {
    let mut characters = text.chars();
    characters.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(characters).collect()
    })
}

fn past_tense(action: &str) -> String {
    match action {
        "approve" => "Approved".to_owned(),
        "reject" => "Rejected".to_owned(),
        "cancel" => "Cancelled".to_owned(),
        "retry" => "Queued again".to_owned(),
        "confirm" => "Confirmed".to_owned(),
        "revert" => "Reverted".to_owned(),
        other => other.to_owned(),
    }
}

/// The Monday of `date`'s week.
fn week_of(date: Date) -> Date {
    let back = i64::from(date.weekday().to_monday_zero_offset());
    date.checked_sub(back.days()).unwrap_or(date)
}

/// `at` from `now` in words: "in 3 h", "12 min ago", "now".
pub(crate) fn relative(now: Timestamp, at: Timestamp) -> String {
    let seconds = at.as_second() - now.as_second();
    let magnitude = seconds.unsigned_abs();
    let amount = match magnitude {
        0..60 => return "now".to_owned(),
        60..3_600 => format!("{} min", magnitude / 60),
        3_600..86_400 => format!("{} h", magnitude / 3_600),
        _ => format!("{} d", magnitude / 86_400),
    };
    if seconds > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// The changes from `before` to `after`, line by line over each text field.
fn diff(before: &Value, after: &Value) -> Vec<Value> {
    let text = |value: &Value| -> String {
        match value {
            Value::Object(map) => map
                .iter()
                .map(|(key, value)| match value {
                    Value::String(text) => format!("[{key}]\n{text}\n"),
                    Value::Array(items) => items
                        .iter()
                        .enumerate()
                        .map(|(index, item)| {
                            let item = item
                                .as_str()
                                .map_or_else(|| item.to_string(), ToOwned::to_owned);
                            format!("[{key} {}]\n{item}\n", index + 1)
                        })
                        .collect(),
                    other => format!("[{key}]\n{other}\n"),
                })
                .collect(),
            other => other.to_string(),
        }
    };
    let (before, after) = (text(before), text(after));
    similar::TextDiff::from_lines(&before, &after)
        .iter_all_changes()
        .map(|change| {
            let kind = match change.tag() {
                similar::ChangeTag::Delete => "removed",
                similar::ChangeTag::Insert => "added",
                similar::ChangeTag::Equal => "same",
            };
            json!({ "kind": kind, "line": change.value().trim_end_matches('\n') })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_as_words() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let at = |seconds: i64| Timestamp::from_second(1_800_000_000 + seconds).unwrap();
        assert_eq!(relative(now, at(30)), "now");
        assert_eq!(relative(now, at(3 * 3600 + 5)), "in 3 h");
        assert_eq!(relative(now, at(-12 * 60)), "12 min ago");
        assert_eq!(relative(now, at(2 * 86_400)), "in 2 d");
    }

    #[test]
    fn a_form_replaces_texts_and_lists_and_keeps_the_rest() {
        let stored = json!({"parts": ["one", "two"], "subject": "old", "tags": ["a"], "n": 3});
        let form = vec![
            ("csrf".to_owned(), "x".to_owned()),
            ("item.parts".to_owned(), "first\r\nline".to_owned()),
            ("item.parts".to_owned(), "  ".to_owned()),
            ("field.subject".to_owned(), "new".to_owned()),
            ("field.unknown".to_owned(), "ignored".to_owned()),
        ];
        assert_eq!(
            content_from_form(&stored, &form),
            json!({"parts": ["first\nline"], "subject": "new", "tags": ["a"], "n": 3})
        );
    }

    #[test]
    fn a_diff_marks_what_the_document_changed() {
        let lines = diff(&json!({"parts": "a\nb"}), &json!({"parts": "a\nc"}));
        let kinds: Vec<&str> = lines
            .iter()
            .map(|line| line["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["same", "same", "removed", "added"]);
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(
            week_of(jiff::civil::date(2026, 12, 3)),
            jiff::civil::date(2026, 11, 30)
        );
        assert_eq!(
            week_of(jiff::civil::date(2026, 11, 30)),
            jiff::civil::date(2026, 11, 30)
        );
    }
}
