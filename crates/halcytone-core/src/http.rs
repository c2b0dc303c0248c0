//! The one HTTP client of Halcytone: a timeout on every call, the
//! correlation id sent as `X-Request-Id`, and the mapping of transport
//! failures and HTTP statuses to [`PublishError`] classes.
//!
//! Publishers send their [`OutboundRequest`] here and keep only their API's
//! quirks (rate-limit headers, duplicate markers) in their own `error.rs`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::channel::{Channel, Service};
use crate::error::PublishError;
use crate::request::{Method, OutboundRequest};

/// The header that carries the correlation id on every outbound call.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// How long a call may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest response body read unless configured otherwise (8 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// The trace-context headers (W3C `traceparent`) of the current span, for
/// the server's tracing to put on every outbound call.
pub type TraceHeaders = Arc<dyn Fn() -> Vec<(&'static str, String)> + Send + Sync>;

/// An HTTP client shared by all publishers (cheap to clone).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    max_response_bytes: usize,
    trace_headers: Option<TraceHeaders>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("traced", &self.trace_headers.is_some())
            .finish_non_exhaustive()
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
}

impl HttpResponse {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Reads a success body as the API documents it.
    ///
    /// # Errors
    /// A body that is not the documented JSON is `OutcomeUnknown`: the API
    /// said yes, but what it created cannot be known, so it must not be sent again.
    pub fn json<T: DeserializeOwned>(
        &self,
        service: impl Into<Service>,
    ) -> Result<T, PublishError> {
        serde_json::from_str(&self.body).map_err(|error| PublishError::OutcomeUnknown {
            service: service.into(),
            message: format!(
                "the API answered {} but its body is not the documented JSON ({error}): {}",
                self.status,
                excerpt(&self.body)
            ),
        })
    }
}

impl HttpClient {
    /// A client whose calls time out after `timeout`.
    ///
    /// # Errors
    /// Says why the TLS backend could not start.
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("halcytone/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|error| format!("cannot start the HTTP client: {error}"))?;
        Ok(Self {
            client,
            timeout,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            trace_headers: None,
        })
    }

    /// The same client, sending `headers()` (the current span's trace
    /// context) on every call.
    #[must_use]
    pub fn with_trace_headers(mut self, headers: TraceHeaders) -> Self {
        self.trace_headers = Some(headers);
        self
    }

    /// The same client, reading response bodies of at most `bytes`.
    #[must_use]
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sends `request` with `correlation_id` as `X-Request-Id`.
    ///
    /// Returns the response whatever its status; see [`classify_status`].
    ///
    /// # Errors
    /// `NotConfigured` when a credential the request needs is unset;
    /// `Transient` when no connection could be made, or a read's connection
    /// failed; `OutcomeUnknown` when no answer came in time, or a write's
    /// connection failed once made, since the request may have been applied.
    pub async fn send(
        &self,
        service: impl Into<Service>,
        request: &OutboundRequest,
        correlation_id: &str,
    ) -> Result<HttpResponse, PublishError> {
        let service: Service = service.into();
        let path = url::Url::parse(&request.url)
            .map(|url| url.path().to_owned())
            .unwrap_or_default();
        let span = tracing::info_span!("http", service = %service, method = request.method.as_str(), path = %path);
        self.send_in_span(service, request, correlation_id)
            .instrument(span)
            .await
    }

    async fn send_in_span(
        &self,
        service: Service,
        request: &OutboundRequest,
        correlation_id: &str,
    ) -> Result<HttpResponse, PublishError> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        };
        let mut builder = self
            .client
            .request(method, &request.url)
            .header(REQUEST_ID_HEADER, correlation_id);
        for (name, value) in self.trace_headers.iter().flat_map(|headers| headers()) {
            builder = builder.header(name, value);
        }
        for (name, value) in &request.headers {
            let Some(value) = value.expose() else {
                return Err(PublishError::NotConfigured {
                    service,
                    missing: format!("the credential for the `{name}` header"),
                });
            };
            builder = builder.header(*name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body_bytes(body));
        }
        let response = builder
            .send()
            .await
            .map_err(|error| self.transport_error(&service, request.method.is_write(), &error))?;
        self.read(&service, request.method, response).await
    }

    /// Posts an `application/x-www-form-urlencoded` form, as OAuth token
    /// endpoints want; the fields may hold credentials, so nothing of them is
    /// ever logged or previewed.
    ///
    /// # Errors
    /// As [`HttpClient::send`].
    pub async fn send_form(
        &self,
        service: impl Into<Service>,
        url: &str,
        fields: &[(&str, &str)],
        correlation_id: &str,
    ) -> Result<HttpResponse, PublishError> {
        let service: Service = service.into();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let response = self
            .client
            .post(url)
            .header(REQUEST_ID_HEADER, correlation_id)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|error| self.transport_error(&service, true, &error))?;
        self.read(&service, Method::Post, response).await
    }

    /// Sends `request` and reads a success body as `T`; a response that is
    /// not a success goes through `parse_error`, the channel's own mapping.
    ///
    /// # Errors
    /// As [`HttpClient::send`], `parse_error`'s class, or `OutcomeUnknown` for
    /// a success whose body is not the documented JSON.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        service: impl Into<Service>,
        request: &OutboundRequest,
        correlation_id: &str,
        parse_error: impl FnOnce(&HttpResponse) -> PublishError,
    ) -> Result<T, PublishError> {
        let service: Service = service.into();
        let response = self.send(&service, request, correlation_id).await?;
        if !is_success(response.status) {
            return Err(parse_error(&response));
        }
        response.json(service)
    }

    /// Reads a response whole, up to the body limit. An error answer that
    /// is larger is cut at the limit and classified by its status as usual;
    /// a success that is larger cannot be read, which is `Permanent` for a
    /// read (it will be as large again) and `OutcomeUnknown` for a write
    /// (what it created cannot be known).
    async fn read(
        &self,
        service: &Service,
        method: Method,
        mut response: reqwest::Response,
    ) -> Result<HttpResponse, PublishError> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let limit = self.max_response_bytes;
        let mut body: Vec<u8> = Vec::new();
        // A success announced as too large is not read at all.
        let mut too_large = is_success(status)
            && response
                .content_length()
                .is_some_and(|length| length > limit as u64);
        // An error answer says nothing was applied, whatever the method.
        let may_apply = method.is_write() && is_success(status);
        while !too_large {
            let Some(chunk) = response
                .chunk()
                .await
                .map_err(|error| self.transport_error(service, may_apply, &error))?
            else {
                break;
            };
            let room = limit - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            too_large = chunk.len() > room;
        }
        if too_large && is_success(status) {
            let message = format!(
                "the API answered {status} with a body larger than {limit} bytes, the most Halcytone reads (resilience.max_response_body)"
            );
            return Err(match method {
                Method::Get => PublishError::Permanent {
                    service: service.clone(),
                    status,
                    message,
                },
                Method::Post | Method::Put => PublishError::OutcomeUnknown {
                    service: service.clone(),
                    message: format!("{message}; the request may have been applied"),
                },
            });
        }
        Ok(HttpResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// `may_apply`: whether the request, once it reached the API, may have
    /// changed something there (a write, not answered with an error).
    fn transport_error(
        &self,
        service: &Service,
        may_apply: bool,
        error: &reqwest::Error,
    ) -> PublishError {
        // The causes under reqwest's own error, down to the socket's: its
        // Display repeats the URL, which may carry an id but never a secret.
        let mut causes = Vec::new();
        let mut cause = std::error::Error::source(error);
        while let Some(inner) = cause {
            causes.push(inner.to_string());
            cause = inner.source();
        }
        let detail = if causes.is_empty() {
            error.to_string()
        } else {
            causes.join(": ")
        };
        if error.is_connect() {
            return PublishError::Transient {
                service: service.clone(),
                message: format!("cannot connect: {detail}"),
                source: None,
            };
        }
        // Once connected, the request may have reached the API: a write
        // whose connection then fails (a reset after the request went out,
        // a success's body cut off) may have been applied, like a timeout.
        if error.is_timeout() {
            return PublishError::OutcomeUnknown {
                service: service.clone(),
                message: format!(
                    "no answer within {:?}; the request may have been applied",
                    self.timeout
                ),
            };
        }
        if may_apply {
            return PublishError::OutcomeUnknown {
                service: service.clone(),
                message: format!(
                    "the connection failed once made ({detail}); the request may have been applied"
                ),
            };
        }
        PublishError::Transient {
            service: service.clone(),
            message: format!("the connection failed: {detail}"),
            source: None,
        }
    }
}

/// A create call of the Halcytone services contract (the CRM's newsletters,
/// the Platform's content): `POST` JSON with `Authorization: Bearer <api key>`
/// and the post's stable `Idempotency-Key`.
///
/// # Errors
/// Returns `Invalid` for a body that cannot be JSON.
pub fn services_create<T: serde::Serialize>(
    channel: &Channel,
    url: String,
    api_key: Option<&crate::secret::SecretString>,
    post: &crate::publisher::OutgoingPost,
    body: &T,
) -> Result<OutboundRequest, PublishError> {
    OutboundRequest::json(
        channel,
        Method::Post,
        url,
        vec![
            (
                "authorization",
                crate::request::HeaderValue::bearer(api_key),
            ),
            (
                "idempotency-key",
                crate::request::HeaderValue::Plain(post.idempotency_key()),
            ),
        ],
        body,
    )
}

/// What a create call of the Halcytone services contract (the CRM's
/// newsletters, the Platform's content) answers: `{"id": "…", "url"?: "…", …}`.
#[derive(Debug, serde::Deserialize)]
struct Created {
    id: String,
    #[serde(default)]
    url: Option<String>,
}

/// Sends create calls of the Halcytone services contract in order and
/// collects the ids (and the first URL) they answer with; statuses map as
/// [`classify_status`] says.
///
/// # Errors
/// The first failure, classified.
pub async fn create_each(
    http: &HttpClient,
    channel: &Channel,
    requests: &[OutboundRequest],
    correlation_id: &str,
) -> Result<crate::publisher::PublishReceipt, PublishError> {
    let mut receipt = crate::publisher::PublishReceipt {
        external_ids: Vec::new(),
        url: None,
        quota_left: None,
    };
    for request in requests {
        let created: Created = http
            .send_json(channel, request, correlation_id, |response| {
                classify_status(channel, response, SystemTime::now())
            })
            .await?;
        receipt.external_ids.push(created.id);
        receipt.url = receipt.url.or(created.url);
    }
    Ok(receipt)
}

/// What a look-up by idempotency key of the Halcytone services contract
/// answers: `{"items": [ … ]}`, zero or one resource.
#[derive(Debug, serde::Deserialize)]
struct Found {
    items: Vec<Created>,
}

/// Looks a post up by its idempotency key on a collection of the Halcytone
/// services contract (`GET {collection}?idempotency_key=<key>`): one item
/// is the post, with its id; none proves that no create call with the key
/// was applied.
///
/// # Errors
/// The call's failure, classified as [`classify_status`] says; an answer
/// that is not the documented JSON is `Permanent`.
pub async fn services_look_up(
    http: &HttpClient,
    channel: &Channel,
    collection: &str,
    api_key: Option<&crate::secret::SecretString>,
    post: &crate::publisher::OutgoingPost,
    context: &crate::publisher::LookupContext,
) -> Result<crate::publisher::Lookup, PublishError> {
    let key = post.idempotency_key();
    let request = OutboundRequest::get(
        format!(
            "{collection}?{}",
            crate::request::query_string(&[("idempotency_key", &key)])
        ),
        vec![(
            "authorization",
            crate::request::HeaderValue::bearer(api_key),
        )],
    );
    let response = http
        .send(channel, &request, &context.correlation_id)
        .await?;
    if !is_success(response.status) {
        return Err(classify_status(channel, &response, SystemTime::now()));
    }
    let found: Found =
        serde_json::from_str(&response.body).map_err(|error| PublishError::Permanent {
            service: channel.into(),
            status: response.status,
            message: format!(
                "the look-up answer is not the documented JSON ({error}): {}",
                excerpt(&response.body)
            ),
        })?;
    Ok(match found.items.as_slice() {
        [] => crate::publisher::Lookup::Absent {
            sent: Vec::new(),
            evidence: format!("{channel} has nothing with the idempotency key {key}"),
        },
        [item] => crate::publisher::Lookup::Published {
            external_ids: vec![item.id.clone()],
            evidence: format!("{channel} has {} with the idempotency key {key}", item.id),
        },
        items => crate::publisher::Lookup::Unsure {
            reason: format!(
                "{channel} has {} items with the idempotency key {key}, where the contract allows one",
                items.len()
            ),
        },
    })
}

/// The exact bytes sent for a JSON body: compact JSON, the same text a
/// preview's body serialises to.
pub fn body_bytes(body: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// At most 300 characters of a body, on one line, for messages.
/// Reads one post's figures with `request` (a `GET` of a stats resource):
/// each `(JSON pointer, metric)` of `fields` the answer has, as a number.
/// `None` when the channel no longer has the post (404).
///
/// # Errors
/// The call's failure, as `parse_error` classifies it (the channel's own,
/// or [`classify_status`]); an answer that is not JSON is `Permanent`.
pub async fn read_figures(
    http: &HttpClient,
    channel: &Channel,
    request: &OutboundRequest,
    correlation_id: &str,
    fields: &[(&str, &str)],
    parse_error: impl FnOnce(&HttpResponse) -> PublishError,
) -> Result<Option<Vec<(String, f64)>>, PublishError> {
    let response = http.send(channel, request, correlation_id).await?;
    if response.status == 404 {
        return Ok(None);
    }
    if !is_success(response.status) {
        return Err(parse_error(&response));
    }
    let answer: serde_json::Value =
        serde_json::from_str(&response.body).map_err(|error| PublishError::Permanent {
            service: channel.into(),
            status: response.status,
            message: format!(
                "the figures are not JSON ({error}): {}",
                excerpt(&response.body)
            ),
        })?;
    Ok(Some(
        fields
            .iter()
            .filter_map(|(pointer, metric)| {
                let value = answer.pointer(pointer)?.as_f64()?;
                Some(((*metric).to_owned(), value))
            })
            .collect(),
    ))
}

/// Reads each post's figures one call at a time with [`read_figures`]:
/// `request` builds the call for a post's first external id; failures are
/// classified by [`classify_status`].
///
/// # Errors
/// The first call that fails.
pub async fn read_each_post(
    http: &HttpClient,
    channel: &Channel,
    posts: &[crate::publisher::MetricsTarget],
    correlation_id: &str,
    fields: &[(&str, &str)],
    request: impl Fn(&str) -> OutboundRequest,
) -> Result<Vec<crate::publisher::Reading>, PublishError> {
    let mut readings = Vec::new();
    for post in posts {
        let Some(id) = post.external_ids.first() else {
            continue;
        };
        let figures = read_figures(
            http,
            channel,
            &request(id),
            correlation_id,
            fields,
            |response| classify_status(channel, response, SystemTime::now()),
        )
        .await?;
        readings.extend(figures.into_iter().flatten().map(|(metric, value)| {
            crate::publisher::Reading {
                post: post.id.clone(),
                metric,
                value,
            }
        }));
    }
    Ok(readings)
}

fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 300 {
        format!("{}…", flat.chars().take(300).collect::<String>())
    } else if flat.is_empty() {
        "(empty body)".to_owned()
    } else {
        flat
    }
}

/// The message an API put in an error body: the usual JSON fields (`detail`,
/// `message`, `error_description`, `error.message`, `title`), else the text
/// of an HTML page's title, else an excerpt of the body.
pub fn api_message(body: &str) -> String {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body) {
        let candidates = [
            json.get("detail"),
            json.get("message"),
            json.get("error_description"),
            json.get("error").and_then(|error| error.get("message")),
            json.get("error"),
            json.get("title"),
        ];
        if let Some(message) = candidates
            .into_iter()
            .flatten()
            .find_map(serde_json::Value::as_str)
        {
            return message.to_owned();
        }
        return excerpt(body);
    }
    let lower = body.to_ascii_lowercase();
    if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>"))
        && start + 7 <= end
    {
        return format!("an HTML page titled `{}`", body[start + 7..end].trim());
    }
    if lower.trim_start().starts_with("<!doctype") || lower.trim_start().starts_with("<html") {
        return "an HTML page instead of JSON".to_owned();
    }
    excerpt(body)
}

/// `Retry-After` as seconds or an HTTP date, relative to `now`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let now = jiff::Timestamp::try_from(now).ok()?;
    let wait = now.until(at).ok()?.total(jiff::Unit::Second).ok()?;
    Some(Duration::from_secs_f64(wait.max(0.0)))
}

/// The default class of a response that is not a success, after vector's
/// `RetryStrategy`: 408 and 5xx (but 501) are transient, 429 is rate limited
/// (with `Retry-After`), every other status is permanent with the API's message.
pub fn classify_status(
    service: impl Into<Service>,
    response: &HttpResponse,
    now: SystemTime,
) -> PublishError {
    let service = service.into();
    let message = api_message(&response.body);
    match response.status {
        429 => PublishError::RateLimited {
            service,
            retry_after: retry_after(&response.headers, now),
        },
        408 | 500 | 502..=599 => PublishError::Transient {
            service,
            message: format!("HTTP {}: {message}", response.status),
            source: None,
        },
        status => PublishError::Permanent {
            service,
            status,
            message,
        },
    }
}

/// Whether a status is a success.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn response(status: u16, body: &str, headers: &[(&'static str, &str)]) -> HttpResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        HttpResponse {
            status,
            headers: map,
            body: body.to_owned(),
        }
    }

    #[test]
    fn statuses_map_to_classes() {
        let channel = Channel::from_static("web");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_789_000_000);
        let class =
            |status: u16, body: &str| classify_status(&channel, &response(status, body, &[]), now);
        for status in [400, 401, 403, 404, 409, 422, 426, 501] {
            assert!(class(status, "{}").is_permanent(), "{status}");
        }
        for status in [408, 500, 502, 503, 504] {
            assert!(
                matches!(class(status, ""), PublishError::Transient { .. }),
                "{status}"
            );
        }
        assert!(matches!(
            class(429, ""),
            PublishError::RateLimited {
                retry_after: None,
                ..
            }
        ));
        assert_eq!(
            class(422, r#"{"type":"x","title":"Unprocessable","detail":"slug is taken","code":"slug_taken"}"#).to_string(),
            "web rejected the request (422): slug is taken"
        );
        let limited = classify_status(&channel, &response(429, "", &[("retry-after", "7")]), now);
        assert!(
            matches!(limited, PublishError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(7))
        );
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_789_457_000);
        let headers = |value: &str| {
            let mut map = HeaderMap::new();
            map.insert("retry-after", HeaderValue::from_str(value).unwrap());
            map
        };
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        // 1_789_457_000 is Tue, 15 Sep 2026 07:23:20 GMT.
        assert_eq!(
            retry_after(&headers("Tue, 15 Sep 2026 07:24:20 GMT"), now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
    }

    #[test]
    fn messages_are_read_from_json_and_html() {
        assert_eq!(
            api_message(
                r#"{"error":{"code":403,"message":"The caller does not have permission"}}"#
            ),
            "The caller does not have permission"
        );
        assert_eq!(
            api_message(
                r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
            ),
            "Invalid JWT Signature."
        );
        assert_eq!(
            api_message("<html><head><title>502 Bad Gateway</title></head></html>"),
            "an HTML page titled `502 Bad Gateway`"
        );
        assert_eq!(api_message("{\"truncated"), "{\"truncated");
        assert_eq!(api_message(""), "(empty body)");
    }
}
