//! The admin UI of PRODUCT §10 at `/admin`: server-rendered pages whose
//! forms work without JavaScript, and the same store transitions as the CLI
//! and the HTTP API. Pages are handlebars templates embedded from
//! `crates/halcytone-server/admin/`.

mod pages;
mod session;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use handlebars::Handlebars;
use serde::Deserialize;

use crate::app::App;
use crate::http::{MAX_BODY_BYTES, constant_time_eq};
use session::{COOKIE, Sessions};

/// The templates and assets of the admin UI.
#[derive(rust_embed::RustEmbed)]
#[folder = "admin/"]
struct Assets;

/// What every admin handler shares.
pub(crate) struct Admin {
    app: Arc<App>,
    sessions: Sessions,
    pages: Handlebars<'static>,
    /// Whether cookies are marked `Secure` (the server listens off loopback).
    secure: bool,
}

/// The admin router, to nest at `/admin`; `secure` when serving off loopback.
///
/// # Errors
/// A template of the admin UI that does not compile (a build defect).
pub(crate) fn router(app: Arc<App>, secure: bool) -> Result<Router, String> {
    let mut pages = Handlebars::new();
    pages
        .register_embed_templates_with_extension::<Assets>(".hbs")
        .map_err(|error| format!("admin UI templates: {error}"))?;
    let admin = Arc::new(Admin {
        sessions: Sessions::new(app.settings.session_ttl),
        app,
        pages,
        secure,
    });
    Ok(Router::new()
        .route("/", get(pages::week))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/channels", get(pages::channels))
        .route("/analytics", get(pages::analytics))
        .route("/experiments", get(pages::experiments))
        .route("/generate", post(pages::generate))
        .route("/approve-all", post(pages::approve_all))
        .route("/posts/{id}", get(pages::post))
        .route("/posts/{id}/email", get(pages::email))
        .route("/posts/{id}/edit", get(pages::edit_page).post(pages::edit))
        .route("/posts/{id}/check", post(pages::check))
        .route("/posts/{id}/enhance", post(pages::enhance))
        .route(
            "/posts/{id}/suggestion/{decision}",
            post(pages::decide_suggestion),
        )
        .route("/posts/{id}/{action}", post(pages::decide))
        .route("/assets/{file}", get(asset))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(admin))
}

/// Who is asking: a live session (its id and CSRF token), and the cookie to
/// set when the session was started for this request.
pub(crate) struct Visitor {
    session: String,
    csrf: String,
    set_cookie: Option<HeaderValue>,
}

impl Visitor {
    /// Someone without a session: the sign-in page and refusals, which
    /// carry no form that changes anything.
    fn anonymous() -> Self {
        Self {
            session: String::new(),
            csrf: String::new(),
            set_cookie: None,
        }
    }
}

impl Admin {
    /// The visitor of a page request: their session; a new one when no
    /// token is configured (loopback without sign-in); otherwise a redirect
    /// to the sign-in page.
    fn visitor(&self, headers: &HeaderMap, path: &str) -> Result<Visitor, Box<Response>> {
        let now = Instant::now();
        if let Some(session) = session_cookie(headers)
            && let Some(csrf) = self.sessions.csrf(&session, now)
        {
            return Ok(Visitor {
                session,
                csrf,
                set_cookie: None,
            });
        }
        if self.app.settings.server.api_token.is_none() {
            let (session, csrf) = self.sessions.start(now);
            let set_cookie = Some(self.cookie(&session));
            return Ok(Visitor {
                session,
                csrf,
                set_cookie,
            });
        }
        let next = url_encode(path);
        Err(Box::new(
            Redirect::to(&format!("/admin/login?next={next}")).into_response(),
        ))
    }

    /// The visitor of a state-changing request: a live session whose CSRF
    /// token the request carries; 403 otherwise, and nothing changes.
    fn checked_visitor(
        &self,
        headers: &HeaderMap,
        presented: &str,
    ) -> Result<Visitor, Box<Response>> {
        let now = Instant::now();
        let forbidden = |message: &str| {
            Box::new(self.page(
                &Visitor::anonymous(),
                StatusCode::FORBIDDEN,
                "templates/message",
                serde_json::json!({ "title": "Refused", "message": message }),
            ))
        };
        let Some(session) = session_cookie(headers) else {
            return Err(forbidden(
                "You are not signed in, or your session expired: reload the page.",
            ));
        };
        let Some(csrf) = self.sessions.csrf(&session, now) else {
            return Err(forbidden("Your session expired: reload the page."));
        };
        if !constant_time_eq(presented.as_bytes(), csrf.as_bytes()) {
            return Err(forbidden(
                "The form's CSRF token is missing or wrong: reload the page and try again.",
            ));
        }
        Ok(Visitor {
            session,
            csrf,
            set_cookie: None,
        })
    }

    fn cookie(&self, session: &str) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let max_age = self.sessions.ttl().as_secs();
        HeaderValue::from_str(&format!(
            "{COOKIE}={session}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// Renders page `name` with `data` and the layout's fields.
    fn page(
        &self,
        visitor: &Visitor,
        status: StatusCode,
        name: &str,
        mut data: serde_json::Value,
    ) -> Response {
        data["csrf"] = serde_json::Value::String(visitor.csrf.clone());
        // Sign-out is offered to a session that a sign-in started.
        data["signed_in"] = serde_json::Value::Bool(
            self.app.settings.server.api_token.is_some() && !visitor.session.is_empty(),
        );
        if let Some(flash) = self.sessions.take_flash(&visitor.session) {
            data["flash"] = serde_json::Value::String(flash);
        }
        let mut response = match self.pages.render(name, &data) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, page = name, "An admin page failed to render.");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(format!(
                        "<!doctype html><title>Error</title><p>The page {} failed to render.</p>",
                        handlebars::html_escape(name)
                    )),
                )
                    .into_response()
            }
        };
        let headers = response.headers_mut();
        if let Some(cookie) = &visitor.set_cookie {
            headers.insert(header::SET_COOKIE, cookie.clone());
        }
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                 base-uri 'none'",
            ),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// The session id in the request's cookies.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// Percent-encodes `text` for a query value.
pub(crate) fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Where a form sends the browser back to: a path inside the admin UI, so
/// a crafted form cannot redirect elsewhere.
pub(crate) fn back_to(back: Option<&str>) -> String {
    back.filter(|path| {
        path.starts_with("/admin") && !path.starts_with("//") && !path.contains('\\')
    })
    .map_or_else(|| "/admin".to_owned(), ToOwned::to_owned)
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn login_page(State(admin): State<Arc<Admin>>, Query(query): Query<LoginQuery>) -> Response {
    login_form(&admin, StatusCode::OK, query.next.as_deref(), None)
}

fn login_form(
    admin: &Admin,
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
) -> Response {
    if admin.app.settings.server.api_token.is_none() {
        return Redirect::to("/admin").into_response();
    }
    // The sign-in form needs no CSRF token: it changes nothing until the
    // token is right, and SameSite=Strict keeps the cookie first-party.
    admin.page(
        &Visitor::anonymous(),
        status,
        "templates/login",
        serde_json::json!({
            "title": "Sign in",
            "next": back_to(next),
            "error": error,
        }),
    )
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(
    State(admin): State<Arc<Admin>>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(token) = &admin.app.settings.server.api_token else {
        return Redirect::to("/admin").into_response();
    };
    let client = connection.map_or(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        |Extension(ConnectInfo(address))| address.ip(),
    );
    if !admin.sessions.may_try_token(client) {
        tracing::warn!(%client, "Admin UI sign-ins from one address went over the limit.");
        return login_form(
            &admin,
            StatusCode::TOO_MANY_REQUESTS,
            form.next.as_deref(),
            Some("Too many sign-in attempts: wait a minute before trying again."),
        );
    }
    if !constant_time_eq(form.token.trim().as_bytes(), token.expose().as_bytes()) {
        tracing::warn!(%client, "A sign-in to the admin UI gave a wrong token.");
        return login_form(
            &admin,
            StatusCode::UNAUTHORIZED,
            form.next.as_deref(),
            Some("That is not the API token. Check server.api_token and try again."),
        );
    }
    let (session, _) = admin.sessions.start(Instant::now());
    let mut response = Redirect::to(&back_to(form.next.as_deref())).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, admin.cookie(&session));
    response
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = match admin.checked_visitor(&headers, &form.csrf) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    admin.sessions.end(&visitor.session);
    let target = if admin.app.settings.server.api_token.is_some() {
        "/admin/login"
    } else {
        "/admin"
    };
    let mut response = Redirect::to(target).into_response();
    if let Ok(expired) = HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, expired);
    }
    response
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some(asset) = Assets::get(&format!("assets/{file}")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = match file.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.data.into_owned(),
    )
        .into_response()
}

async fn not_found(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    match admin.visitor(&headers, request.uri().path()) {
        Ok(visitor) => admin.page(
            &visitor,
            StatusCode::NOT_FOUND,
            "templates/message",
            serde_json::json!({
                "title": "Not found",
                "message": format!("There is no page at {}.", request.uri().path()),
            }),
        ),
        Err(redirect) => *redirect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_send_the_browser_back_only_inside_the_admin_ui() {
        assert_eq!(
            back_to(Some("/admin?start=2026-12-07")),
            "/admin?start=2026-12-07"
        );
        assert_eq!(back_to(Some("https://evil.example/admin")), "/admin");
        assert_eq!(back_to(Some("//evil.example")), "/admin");
        assert_eq!(back_to(Some("/admin\\@evil")), "/admin");
        assert_eq!(back_to(None), "/admin");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; halcytone_session=abc123; x=1"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc123"));
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn templates_compile() {
        let mut pages = Handlebars::new();
        pages
            .register_embed_templates_with_extension::<Assets>(".hbs")
            .unwrap();
        for name in ["login", "week", "post", "edit", "channels", "message"] {
            assert!(pages.has_template(&format!("templates/{name}")), "{name}");
        }
    }
}
