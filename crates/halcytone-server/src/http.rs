//! The HTTP API (PRODUCT §7): routes, the bearer token, request ids, body
//! limits, RFC 9457 problem responses and the OpenAPI document generated
//! from the handlers' types. No other crate knows HTTP routes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use halcytone_core::compose::ContentPlan;
use halcytone_core::plan::Period;
use jiff::civil::Date;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use halcytone_core::store::StoreError;

use crate::app::{App, AppError, GenerateRequest, PostsRequest};
use crate::experiments::Experiment;
use crate::ready::{Check, Readiness};
use crate::report::{ChannelReport, channel_reports};
use halcytone_core::dispatch::Reconciled;
use halcytone_core::store::{PostKey, StoredPlan, StoredPost, Transitioned};

/// The largest request body accepted.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of a request: taken from `X-Request-Id` or generated.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// An RFC 9457 problem.
#[derive(Debug)]
pub(crate) struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
    field: Option<String>,
    correlation_id: String,
    /// The readiness checks, on a `not-ready` problem.
    checks: Option<Vec<Check>>,
}

/// An RFC 9457 problem as it goes on the wire (`application/problem+json`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProblemDocument {
    /// `urn:halcytone:problem:<code>`, such as `urn:halcytone:problem:invalid-value`.
    #[serde(rename = "type")]
    kind: String,
    /// The status's reason phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What is wrong, for a person.
    detail: String,
    /// The request's id (`X-Request-Id`), in every log line of it.
    correlation_id: String,
    /// The request field the problem is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    /// Each readiness check, on a `not-ready` problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<Vec<Check>>,
}

impl Problem {
    fn new(
        request_id: &RequestId,
        status: StatusCode,
        code: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            field: None,
            correlation_id: request_id.0.clone(),
            checks: None,
        }
    }

    fn with_checks(mut self, checks: Vec<Check>) -> Self {
        self.checks = Some(checks);
        self
    }

    fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    fn from_app(request_id: &RequestId, error: &AppError) -> Self {
        let (status, code) = classify(error);
        let problem = Self::new(request_id, status, code, error.to_string());
        match error {
            AppError::BadRequest { field, .. } => problem.with_field(*field),
            _ => problem,
        }
    }
}

/// The HTTP status and problem code of an app error: the API's problem
/// responses and the admin UI's refusals answer alike.
pub(crate) fn classify(error: &AppError) -> (StatusCode, &'static str) {
    match error {
        AppError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "invalid-value"),
        AppError::Source(halcytone_core::source::SourceError::Document(_)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid-document")
        }
        AppError::Source(_) => (StatusCode::SERVICE_UNAVAILABLE, "source-unavailable"),
        AppError::Plan(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unplannable"),
        AppError::Store(StoreError::NotFound(_))
        | AppError::PlanNotFound(_)
        | AppError::ExperimentNotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
        AppError::Store(
            StoreError::Illegal(_)
            | StoreError::Conflict { .. }
            | StoreError::StaleApproval(_)
            | StoreError::PartlySent(_)
            | StoreError::NotEdited(_),
        ) => (StatusCode::CONFLICT, "conflict"),
        AppError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store-failed"),
        AppError::Enhance(error) => crate::enhance::classify(error),
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemDocument {
            kind: format!("urn:halcytone:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            correlation_id: self.correlation_id,
            field: self.field,
            checks: self.checks,
        };
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// Builds the router; `metrics` renders `GET /metrics`, `admin` serves
/// `/admin` (its pages sign in with a session, not the bearer token).
pub(crate) fn router(app: Arc<App>, metrics: PrometheusHandle, admin: Router) -> Router {
    let openapi = openapi_json();
    let protected = Router::new()
        .route("/generate", post(generate))
        .route("/generateBatch", post(generate_batch))
        .route("/channels", get(channels))
        .route("/plans/{id}", get(show_plan))
        .route("/posts", get(list_posts))
        .route("/posts/{id}", get(show_post).patch(edit_post))
        .route("/posts/{id}/{action}", post(decide_post))
        .route("/posts/{id}/enhance", post(enhance_post))
        .route("/posts/{id}/suggestion/{decision}", post(decide_suggestion))
        .route("/reconcile", post(reconcile))
        .route("/analytics", get(analytics))
        .route("/experiments", get(list_experiments))
        .route("/experiments/{id}", get(show_experiment))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            require_token,
        ));
    Router::new()
        .route("/health", get(health))
        .route(
            "/openapi.json",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    openapi,
                )
            }),
        )
        .route("/ready", get(ready))
        .route(
            "/metrics",
            get(move |State(app): State<Arc<App>>| async move {
                app.record_post_counts().await;
                metrics.render()
            }),
        )
        .merge(protected)
        .nest_service("/admin", admin)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(request_id))
        .with_state(app)
}

async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| {
            !value.is_empty() && value.len() <= 128 && value.chars().all(|c| c.is_ascii_graphic())
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), ToOwned::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    metrics::counter!("halcytone_http_requests_total", "route" => route, "status" => response.status().as_u16().to_string())
        .increment(1);
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "Request served."
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

async fn require_token(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &app.settings.server.api_token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(presented) if constant_time_eq(presented.as_bytes(), token.expose().as_bytes()) => {
            next.run(request).await
        }
        _ => {
            let mut response = Problem::new(
                &id,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs Authorization: Bearer <api token>",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

/// Compares without stopping at the first difference, so timing does not
/// reveal how much of a guessed token was right.
pub(crate) fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(left, right).into()
}

/// The answer of `GET /health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `ok`: the process answers.
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
}

/// Whether the process answers.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The process answers.", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /ready`: 200 when the server can serve (`ready`, or `degraded` with
/// the channels that wait), 503 problem JSON naming each failing check.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses(
        (status = 200, description = "The server can serve: `ready`, or `degraded` naming what waits.", body = Readiness),
        (status = 503, description = "A check fails; the problem names each.", body = ProblemDocument, content_type = "application/problem+json"),
    ))]
async fn ready(State(app): State<Arc<App>>, Extension(id): Extension<RequestId>) -> Response {
    let readiness = crate::ready::readiness(&app).await;
    let failing = readiness.failing();
    if failing.is_empty() {
        return Json(readiness).into_response();
    }
    let detail = failing
        .iter()
        .map(|check| format!("{}: {}", check.name, check.detail))
        .collect::<Vec<_>>()
        .join("; ");
    Problem::new(
        &id,
        StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
        format!("not ready: {detail}"),
    )
    .with_checks(readiness.checks)
    .into_response()
}

async fn not_found(Extension(id): Extension<RequestId>, request: Request) -> Problem {
    Problem::new(
        &id,
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no route for {}", request.uri().path()),
    )
}

async fn method_not_allowed(Extension(id): Extension<RequestId>, request: Request) -> Problem {
    Problem::new(
        &id,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`]; an empty body, or
/// `null`, is `{}`: a body every field of which is optional may be left out.
async fn json_body<T: DeserializeOwned>(id: &RequestId, body: Body) -> Result<T, Problem> {
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            Problem::new(
                id,
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!("the request body is larger than {MAX_BODY_BYTES} bytes (1 MiB)"),
            )
        })?;
    let bytes: &[u8] = if matches!(bytes.trim_ascii(), b"" | b"null") {
        b"{}"
    } else {
        &bytes
    };
    // serde would read an array as a struct's fields in order: refuse
    // anything but an object first, so the message says what is wrong.
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(Problem::new(
            id,
            StatusCode::BAD_REQUEST,
            "invalid-body",
            "invalid request body: it must be a JSON object",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let problem = Problem::new(
            id,
            StatusCode::BAD_REQUEST,
            "invalid-body",
            body_error(error.inner()),
        );
        if field == "." {
            // serde names an unknown field in its message, not in the path.
            match unknown_field(&error.inner().to_string()) {
                Some(unknown) => problem.with_field(unknown),
                None => problem,
            }
        } else {
            problem.with_field(field)
        }
    })?;
    deserializer.end().map_err(|error| {
        Problem::new(
            id,
            StatusCode::BAD_REQUEST,
            "invalid-body",
            body_error(&error),
        )
    })?;
    Ok(value)
}

/// What is wrong with a request body, in the client's terms: where JSON
/// syntax breaks (line and column), or which value does not fit, never the
/// name of a Rust type.
fn body_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let message = error.to_string();
    let location = format!(" at line {} column {}", error.line(), error.column());
    let message = message.strip_suffix(&location).unwrap_or(&message);
    match error.classify() {
        Category::Syntax => format!(
            "the request body is not valid JSON: {} (line {}, column {})",
            message.replace("expected ident", "expected true, false or null"),
            error.line(),
            error.column()
        ),
        Category::Eof => format!(
            "the request body is not valid JSON: it ends early, at line {}, column {}",
            error.line(),
            error.column()
        ),
        Category::Data | Category::Io => {
            format!("invalid request body: {}", without_type_names(message))
        }
    }
}

/// serde says `expected struct BatchBody` where a client sent something
/// other than an object; a client knows it as a JSON object.
fn without_type_names(message: &str) -> String {
    let mut text = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(index) = rest.find("struct ") {
        text.push_str(&rest[..index]);
        text.push_str("a JSON object");
        let after = &rest[index + "struct ".len()..];
        let name_end = after
            .find(|character: char| !(character.is_alphanumeric() || character == '_'))
            .unwrap_or(after.len());
        rest = &after[name_end..];
    }
    text.push_str(rest);
    text.replace("a sequence", "an array")
        .replace("sequence", "array")
        .replace("a map", "an object")
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(field, _)| field.to_owned())
}

fn parse_start(id: &RequestId, start: Option<&str>) -> Result<Option<Date>, Problem> {
    start
        .map(|value| {
            value
                .parse::<Date>()
                .ok()
                .filter(|_| value.len() == 10)
                .ok_or_else(|| {
                    Problem::new(
                        id,
                        StatusCode::BAD_REQUEST,
                        "invalid-value",
                        format!("start: bad date `{value}`: expected YYYY-MM-DD"),
                    )
                    .with_field("start")
                })
        })
        .transpose()
}

/// What `POST /generateBatch` plans; an empty body is `{}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    /// The channels to plan (all enabled ones when absent).
    channels: Option<Vec<String>>,
    /// The first day, `YYYY-MM-DD` (the next Monday when absent).
    #[schema(format = Date)]
    start: Option<String>,
    /// Render and preview without storing anything.
    #[serde(default)]
    dry_run: bool,
}

/// Plans a period of the living document and renders its posts; stores
/// them as drafts unless it is a dry run.
#[utoipa::path(post, path = "/generateBatch", tag = "plans",
    params(("period" = Option<String>, Query, pattern = "^(day|week|month|[1-9][0-9]?d)$", description = "`day`, `week` (the default), `month` or `Nd` with N from 1 to 92")),
    request_body(content = Option<BatchBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "The plan with its rendered posts.", body = ContentPlan, links(
            ("ThePlan" = (operation_id = "show_plan", parameters(("id" = "$response.body#/plan_id")), description = "The stored plan (not for a dry run).")),
            ("ItsFirstPost" = (operation_id = "show_post", parameters(("id" = "$response.body#/posts/0/id")))),
            ("EditItsFirstPost" = (operation_id = "edit_post", parameters(("id" = "$response.body#/posts/0/id")))),
            ("DecideOnItsFirstPost" = (operation_id = "decide_post", parameters(("id" = "$response.body#/posts/0/id")))),
        )),
        (status = 422, description = "The document is malformed or the period cannot be planned.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The living document cannot be read.", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn generate_batch(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, Problem> {
    if let Some(unknown) = query.keys().find(|key| key.as_str() != "period") {
        return Err(Problem::new(
            &id,
            StatusCode::BAD_REQUEST,
            "invalid-value",
            format!("unknown query parameter `{unknown}`"),
        )
        .with_field(unknown.clone()));
    }
    let period: Period = query
        .get("period")
        .map_or(Ok(Period::Week), |period| period.parse())
        .map_err(|error| {
            Problem::new(
                &id,
                StatusCode::BAD_REQUEST,
                "invalid-value",
                format!("period: {error}"),
            )
            .with_field("period")
        })?;
    let body: BatchBody = json_body(&id, body).await?;
    let request = GenerateRequest {
        period,
        start: parse_start(&id, body.start.as_deref())?,
        channels: body.channels,
        dry_run: body.dry_run,
    };
    let answer = app
        .generate_answer(&request)
        .await
        .map_err(|error| Problem::from_app(&id, &error))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        answer,
    )
        .into_response())
}

/// What `POST /generate` renders; an empty body is `{}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    /// The item (the document's first when absent).
    item_id: Option<String>,
    /// The channels to render for (all enabled ones when absent).
    channels: Option<Vec<String>>,
    /// Render and preview without storing anything.
    #[serde(default)]
    dry_run: bool,
    /// The language whose document the item is in (the main one when absent).
    locale: Option<String>,
}

/// Renders one item for its channels now.
#[utoipa::path(post, path = "/generate", tag = "plans",
    request_body(content = Option<ItemBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "The item's rendered posts.", body = ContentPlan),
        (status = 404, description = "No such item.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "The document is malformed.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "The living document cannot be read.", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn generate(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    body: Body,
) -> Result<Json<ContentPlan>, Problem> {
    let body: ItemBody = json_body(&id, body).await?;
    app.generate_item(
        body.item_id.as_deref(),
        body.channels.as_deref(),
        body.dry_run,
        body.locale.as_deref(),
    )
    .await
    .map(Json)
    .map_err(|error| Problem::from_app(&id, &error))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PostsQuery {
    /// Only posts in this state.
    status: Option<String>,
    /// Only posts of this channel.
    channel: Option<String>,
    /// Only posts due at or after this day or time (`YYYY-MM-DD` or RFC 3339).
    from: Option<String>,
    /// Only posts due before this day or time.
    to: Option<String>,
    /// Only posts in this language (a BCP 47 code of a document's locale).
    locale: Option<String>,
    /// Posts per page: 1 to 1000, 100 when absent.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
}

/// Posts per page of `GET /posts` unless `limit` says otherwise, and the most.
const POSTS_PAGE: usize = 100;
const POSTS_PAGE_MAX: usize = 1000;

/// A page of `GET /posts`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PostsPage {
    /// The posts, by time, then channel, without their attempts.
    posts: Vec<StoredPost>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

/// Lists stored posts, a page at a time.
#[utoipa::path(get, path = "/posts", tag = "posts",
    params(PostsQuery),
    responses((status = 200, description = "A page of posts.", body = PostsPage, links(
        ("ItsFirstPost" = (operation_id = "show_post", parameters(("id" = "$response.body#/posts/0/id")))),
        ("DecideOnItsFirstPost" = (operation_id = "decide_post", parameters(("id" = "$response.body#/posts/0/id")))),
    ))),
    security(("bearer" = [])))]
async fn list_posts(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    query: Result<Query<PostsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PostsPage>, Problem> {
    let Query(query) = query.map_err(|rejection| {
        Problem::new(
            &id,
            StatusCode::BAD_REQUEST,
            "invalid-value",
            rejection.body_text(),
        )
    })?;
    let bad = |message: String| {
        Problem::from_app(
            &id,
            &AppError::BadRequest {
                field: "query",
                message,
            },
        )
    };
    let limit = query.limit.unwrap_or(POSTS_PAGE);
    if !(1..=POSTS_PAGE_MAX).contains(&limit) {
        return Err(bad(format!(
            "limit: {limit} is out of range; give 1 to {POSTS_PAGE_MAX}"
        )));
    }
    // The cursor is the sort key (time, channel, id) of the last post of
    // the page before; the next page starts after it, so posts that change
    // state between pages neither break the listing nor repeat in it.
    let after = query
        .cursor
        .as_deref()
        .map(|cursor| {
            parse_cursor(cursor).ok_or_else(|| {
                bad(format!(
                    "cursor: `{cursor}` is not a cursor of this listing; pass the `next_cursor` of the page before"
                ))
            })
        })
        .transpose()?;
    // One more than the page says whether another page follows.
    let mut page = app
        .posts(&PostsRequest {
            status: query.status.as_deref(),
            channel: query.channel.as_deref(),
            from: query.from.as_deref(),
            to: query.to.as_deref(),
            after,
            limit: Some(limit + 1),
            locale: query.locale.as_deref(),
        })
        .await
        .map_err(|error| Problem::from_app(&id, &error))?;
    let more = page.len() > limit;
    page.truncate(limit);
    let next_cursor = more.then(|| page.last()).flatten().map(|post| {
        format!(
            "{}.{}.{}",
            post.scheduled_at.as_second(),
            post.channel,
            post.id
        )
    });
    Ok(Json(PostsPage {
        posts: page,
        next_cursor,
    }))
}

/// A `next_cursor` (`<seconds>.<channel>.<id>`) back as the key it names.
fn parse_cursor(cursor: &str) -> Option<PostKey> {
    let mut parts = cursor.splitn(3, '.');
    let seconds: i64 = parts.next()?.parse().ok()?;
    let channel = parts.next()?.to_owned();
    let id = parts.next()?.to_owned();
    Some(PostKey {
        scheduled_at: jiff::Timestamp::from_second(seconds).ok()?,
        channel,
        id,
    })
}

/// A stored plan with the posts it last wrote.
#[utoipa::path(get, path = "/plans/{id}", tag = "plans",
    params(("id" = String, Path, description = "The plan's id")),
    responses(
        (status = 200, description = "The plan.", body = StoredPlan),
        (status = 404, description = "No such plan.", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn show_plan(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    axum::extract::Path(plan_id): axum::extract::Path<String>,
) -> Result<Json<StoredPlan>, Problem> {
    app.plan(&plan_id)
        .await
        .map(Json)
        .map_err(|error| Problem::from_app(&id, &error))
}

/// A stored post with its attempts.
#[utoipa::path(get, path = "/posts/{id}", tag = "posts",
    params(("id" = String, Path, description = "The post's id, or an unambiguous start of it")),
    responses(
        (status = 200, description = "The post.", body = StoredPost),
        (status = 404, description = "No such post.", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn show_post(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    axum::extract::Path(post_id): axum::extract::Path<String>,
) -> Result<Json<StoredPost>, Problem> {
    app.post(&post_id)
        .await
        .map(Json)
        .map_err(|error| Problem::from_app(&id, &error))
}

/// What `PATCH /posts/{id}` changes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EditBody {
    /// The post's new content, in its channel's shape (email
    /// `{subject, preheader, html, text}`, twitter `{parts}`, …).
    #[schema(value_type = Object)]
    content: serde_json::Value,
}

/// Edits a post that has not gone out; its approval is void.
#[utoipa::path(patch, path = "/posts/{id}", tag = "posts",
    params(("id" = String, Path, description = "The post's id, or an unambiguous start of it")),
    request_body(content = EditBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The edited post.", body = StoredPost),
        (status = 404, description = "No such post.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The post can no longer be edited.", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn edit_post(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    axum::extract::Path(post_id): axum::extract::Path<String>,
    body: Body,
) -> Result<Json<StoredPost>, Problem> {
    let body: EditBody = json_body(&id, body).await?;
    app.edit(&post_id, body.content)
        .await
        .map(Json)
        .map_err(|error| Problem::from_app(&id, &error))
}

/// A person's decision on a post.
#[utoipa::path(post, path = "/posts/{id}/{action}", tag = "posts",
    params(
        ("id" = String, Path, description = "The post's id, or an unambiguous start of it"),
        ("action" = String, Path, pattern = "^(approve|reject|cancel|retry|confirm|revert)$", description = "`approve`, `reject`, `cancel`, `retry`, `confirm` or `revert`"),
    ),
    responses(
        (status = 200, description = "The post's state before and after.", body = Transitioned),
        (status = 404, description = "No such post.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The action does not apply to the post's state.", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn decide_post(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    axum::extract::Path((post_id, action)): axum::extract::Path<(String, String)>,
) -> Result<Json<Transitioned>, Problem> {
    app.decide(&post_id, &action)
        .await
        .map(Json)
        .map_err(|error| Problem::from_app(&id, &error))
}

/// Asks the model server of `[enhance]` for a suggestion for the post,
/// kept beside it (`suggestion`) and never sent.
#[utoipa::path(post, path = "/posts/{id}/enhance", tag = "posts",
    params(("id" = String, Path, description = "The post's id, or an unambiguous start of it")),
    responses(
        (status = 200, description = "The post with its suggestion.", body = StoredPost),
        (status = 400, description = "No model server is configured.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The post can no longer be edited.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "The model's answer cannot be used, or breaks the channel's rules twice.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 502, description = "The model server failed.", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn enhance_post(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    axum::extract::Path(post_id): axum::extract::Path<String>,
) -> Result<Json<StoredPost>, Problem> {
    app.enhance(&post_id)
        .await
        .map(Json)
        .map_err(|error| Problem::from_app(&id, &error))
}

/// Takes the post's suggestion as its content (an edit: back to draft, any
/// approval void), or drops it.
#[utoipa::path(post, path = "/posts/{id}/suggestion/{decision}", tag = "posts",
    params(
        ("id" = String, Path, description = "The post's id, or an unambiguous start of it"),
        ("decision" = String, Path, pattern = "^(accept|reject)$", description = "`accept` or `reject`"),
    ),
    responses(
        (status = 200, description = "The post.", body = StoredPost),
        (status = 400, description = "The post has no suggestion, or the decision is unknown.", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "The post can no longer be edited.", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn decide_suggestion(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    axum::extract::Path((post_id, decision)): axum::extract::Path<(String, String)>,
) -> Result<Json<StoredPost>, Problem> {
    let decided = match decision.as_str() {
        "accept" => app.accept_suggestion(&post_id).await,
        "reject" => app.reject_suggestion(&post_id).await,
        other => Err(AppError::BadRequest {
            field: "decision",
            message: format!("unknown decision `{other}` (accept, reject)"),
        }),
    };
    decided
        .map(Json)
        .map_err(|error| Problem::from_app(&id, &error))
}

/// What `POST /reconcile` did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ReconcileAnswer {
    /// Each post that was unconfirmed, and what became of it.
    posts: Vec<Reconciled>,
}

/// Looks every unconfirmed post up on its channel now.
#[utoipa::path(post, path = "/reconcile", tag = "posts",
    responses((status = 200, description = "What became of each unconfirmed post.", body = ReconcileAnswer)),
    security(("bearer" = [])))]
async fn reconcile(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
) -> Result<Json<ReconcileAnswer>, Problem> {
    app.reconcile()
        .await
        .map(|posts| Json(ReconcileAnswer { posts }))
        .map_err(|error| Problem::from_app(&id, &error))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AnalyticsQuery {
    /// Posts due at or after this day or time (`YYYY-MM-DD` or RFC 3339;
    /// default: a week before `to`).
    from: Option<String>,
    /// Posts due before this day or time (default: the end of today).
    to: Option<String>,
    /// Only this channel.
    channel: Option<String>,
}

/// The figures of a period's published posts (PRODUCT §13).
#[utoipa::path(get, path = "/analytics", tag = "analytics",
    params(AnalyticsQuery),
    responses((status = 200, description = "Totals and rates by channel, each post's latest figures, the top posts.", body = crate::analytics::Report)),
    security(("bearer" = [])))]
async fn analytics(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    query: Result<Query<AnalyticsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<crate::analytics::Report>, Problem> {
    let Query(query) = query.map_err(|rejection| {
        Problem::new(
            &id,
            StatusCode::BAD_REQUEST,
            "invalid-value",
            rejection.body_text(),
        )
    })?;
    let answer = async {
        let (week_from, week_to) = app.report_window(Period::Week, None)?;
        let to = match &query.to {
            Some(to) => app.instant("to", to)?,
            None => week_to,
        };
        let from = match &query.from {
            Some(from) => app.instant("from", from)?,
            None if query.to.is_none() => week_from,
            None => to - jiff::SignedDuration::from_hours(7 * 24),
        };
        app.analytics(from, to, query.channel.as_deref()).await
    };
    answer
        .await
        .map(Json)
        .map_err(|error| Problem::from_app(&id, &error))
}

/// The answer of `GET /experiments`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ExperimentsAnswer {
    /// Every stored experiment, by its arm A's time.
    experiments: Vec<Experiment>,
}

/// The A/B experiments: arms, their posts and figures, the winner and why
/// (PRODUCT §12).
#[utoipa::path(get, path = "/experiments", tag = "experiments",
    responses((status = 200, description = "Every stored experiment.", body = ExperimentsAnswer)),
    security(("bearer" = [])))]
async fn list_experiments(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
) -> Result<Json<ExperimentsAnswer>, Problem> {
    app.experiments()
        .await
        .map(|experiments| Json(ExperimentsAnswer { experiments }))
        .map_err(|error| Problem::from_app(&id, &error))
}

/// One A/B experiment.
#[utoipa::path(get, path = "/experiments/{id}", tag = "experiments",
    params(("id" = String, Path, description = "The experiment's id (exp_…)")),
    responses(
        (status = 200, description = "The experiment.", body = Experiment),
        (status = 404, description = "No such experiment.", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
async fn show_experiment(
    State(app): State<Arc<App>>,
    Extension(id): Extension<RequestId>,
    axum::extract::Path(experiment): axum::extract::Path<String>,
) -> Result<Json<Experiment>, Problem> {
    app.experiment(&experiment)
        .await
        .map(Json)
        .map_err(|error| Problem::from_app(&id, &error))
}

/// The answer of `GET /channels`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ChannelsAnswer {
    /// Every shipped channel, by name.
    channels: Vec<ChannelReport>,
}

/// The channels, their quotas, budgets and circuit state.
#[utoipa::path(get, path = "/channels", tag = "channels",
    responses((status = 200, description = "Every shipped channel.", body = ChannelsAnswer)),
    security(("bearer" = [])))]
async fn channels(State(app): State<Arc<App>>) -> Json<ChannelsAnswer> {
    let budgets = app.daily_budgets().await.unwrap_or_default();
    Json(ChannelsAnswer {
        channels: channel_reports(&app, &budgets),
    })
}

/// The API's OpenAPI 3.1 document, from the handlers' annotations and the
/// types they take and return.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Halcytone", description = "Plans, renders, reviews and publishes a living document's posts (PRODUCT §7)."),
    paths(health, ready, generate, generate_batch, channels, show_plan, list_posts, show_post, edit_post, decide_post, enhance_post, decide_suggestion, reconcile, analytics, list_experiments, show_experiment),
    modifiers(&CommonResponses),
)]
struct ApiDoc;

/// What every operation may answer besides its own responses: any error is
/// a problem document, and the protected ones need the bearer token.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ProblemDocument")))
                        .build(),
                )
                .build()
        };
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post, &mut item.patch]
                .into_iter()
                .flatten()
            {
                let responses = &mut operation.responses.responses;
                if operation.security.is_some() {
                    responses
                        .entry("401".to_owned())
                        .or_insert_with(|| problem("No or a wrong bearer token.").into());
                }
                responses.entry("default".to_owned()).or_insert_with(|| {
                    problem("Any other error: a bad request (400, naming the field), a body over 1 MiB (413), a store failure (500), …").into()
                });
            }
        }
    }
}

/// The OpenAPI document as served, serialised once.
fn openapi_json() -> Bytes {
    use utoipa::OpenApi as _;
    Bytes::from(ApiDoc::openapi().to_json().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"token2"));
    }

    #[test]
    fn body_errors_say_where_the_json_breaks_and_name_no_rust_type() {
        let error = |text: &str| {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let result: Result<BatchBody, _> = serde_path_to_error::deserialize(&mut deserializer);
            body_error(result.unwrap_err().inner())
        };
        assert_eq!(
            error("{\"dry_run\": trux}"),
            "the request body is not valid JSON: expected true, false or null (line 1, column 16)"
        );
        assert_eq!(
            error("{\"dry_run\": true"),
            "the request body is not valid JSON: it ends early, at line 1, column 16"
        );
        assert_eq!(
            error("oops"),
            "the request body is not valid JSON: expected value (line 1, column 1)"
        );
        assert_eq!(
            error("{\"channels\": 1}"),
            "invalid request body: invalid type: integer `1`, expected an array"
        );
        assert_eq!(
            error("{\"dry_run\": \"yes\"}"),
            "invalid request body: invalid type: string \"yes\", expected a boolean"
        );
    }

    #[test]
    fn unknown_fields_are_read_from_serde_messages() {
        assert_eq!(
            unknown_field(
                "unknown field `chanels`, expected one of `channels`, `start`, `dry_run`"
            )
            .as_deref(),
            Some("chanels")
        );
        assert_eq!(unknown_field("expected a string"), None);
    }
}
