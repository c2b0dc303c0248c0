//! The admin UI (PRODUCT §10): its handlers over plain HTTP, and a person's
//! week of review in a real headless Chromium driven over WebDriver.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use halcytone_e2e::{Server, root};
use serde_json::{Value, json};

const TOKEN: &str = "admin-test-token-1234";
/// A Monday far from today, so that no post of the plan is due while the
/// test runs, whatever the date.
const WEEK: &str = "2031-01-06";

async fn server_with_week(name: &str, extra: &[(&str, &str)]) -> Server {
    let mut environment = vec![("HALCYTONE__SERVER__API_TOKEN", TOKEN)];
    environment.extend_from_slice(extra);
    let server = Server::start(name, &environment).await;
    let plan = plan_week(&server).await;
    assert_eq!(plan["posts"].as_array().unwrap().len(), 25);
    server
}

/// Plans and stores the week of [`WEEK`] through the API.
async fn plan_week(server: &Server) -> Value {
    let response = http()
        .post(server.url("/generateBatch?period=week"))
        .bearer_auth(TOKEN)
        .json(&json!({ "start": WEEK }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `GET path` on the API, as JSON.
async fn api(server: &Server, path: &str) -> Value {
    let response = http()
        .get(server.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Signs in over HTTP: the session cookie and the page's CSRF token.
async fn sign_in(server: &Server) -> (String, String) {
    let response = http()
        .post(server.url("/admin/login"))
        .form(&[("token", TOKEN), ("next", "/admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "loopback keeps plain HTTP: {cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = page(server, &session, &format!("/admin?start={WEEK}")).await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    (session, csrf)
}

async fn page(server: &Server, session: &str, path: &str) -> String {
    let response = http()
        .get(server.url(path))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

async fn stored(server: &Server, id: &str) -> Value {
    api(server, &format!("/posts/{id}")).await
}

async fn first_post(server: &Server, channel: &str) -> String {
    let listing = api(server, &format!("/posts?channel={channel}&from={WEEK}")).await;
    listing["posts"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn pages_need_a_sign_in_and_a_wrong_token_is_refused_then_limited() {
    let server = server_with_week("admin-signin", &[]).await;
    let response = http().get(server.url("/admin")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/admin/login?next=/admin");
    let login = http().get(server.url("/admin/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(!login.text().await.unwrap().contains("Sign out"));
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let response = http()
            .post(server.url("/admin/login"))
            .form(&[("token", "wrong")])
            .send()
            .await
            .unwrap();
        assert!(response.headers().get("set-cookie").is_none());
        statuses.push(response.status().as_u16());
        let body = response.text().await.unwrap();
        assert!(!body.contains(TOKEN));
    }
    assert_eq!(statuses[..5], [401; 5]);
    assert_eq!(statuses[5..], [429; 2]);
    // Past the limit even the right token waits, so guessing cannot go on.
    let response = http()
        .post(server.url("/admin/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let server = server_with_week("admin-csrf", &[]).await;
    let (session, csrf) = sign_in(&server).await;
    let id = first_post(&server, "twitter").await;
    for form in [vec![], vec![("csrf", "0123")]] {
        let response = http()
            .post(server.url(&format!("/admin/posts/{id}/approve")))
            .header("cookie", &session)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
    }
    // The right token without the session cookie is refused as well.
    let response = http()
        .post(server.url(&format!("/admin/posts/{id}/approve")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = http()
        .post(server.url("/admin/approve-all"))
        .header("cookie", &session)
        .form(&[("start", WEEK), ("period", "week")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = http()
        .post(server.url(&format!("/admin/posts/{id}/edit")))
        .header("cookie", &session)
        .form(&[("item.parts", "changed")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let post = stored(&server, &id).await;
    assert_eq!(post["status"], "draft");
    assert!(post["edited_at"].is_null(), "{post}");
    // With the token the same form goes through.
    let response = http()
        .post(server.url(&format!("/admin/posts/{id}/approve")))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str()), ("back", "/admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(stored(&server, &id).await["status"], "approved");
    // The edit form's extra field adds a post to the thread; an empty one is dropped.
    let response = http()
        .post(server.url(&format!("/admin/posts/{id}/edit")))
        .header("cookie", &session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("item.parts", "Breathe in."),
            ("item.parts", "Breathe out."),
            ("item.parts", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let post = stored(&server, &id).await;
    assert_eq!(
        post["content"]["parts"],
        json!(["Breathe in.", "Breathe out."])
    );
    assert_eq!(post["status"], "draft", "the edit voided the approval");
}

#[tokio::test]
async fn a_session_expires_and_signing_out_ends_it() {
    let server =
        server_with_week("admin-expiry", &[("HALCYTONE__SERVER__SESSION_TTL", "3s")]).await;
    let (session, _) = sign_in(&server).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let response = http()
        .get(server.url("/admin"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "an expired session signs in again");

    let (session, csrf) = sign_in(&server).await;
    let response = http()
        .post(server.url("/admin/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let response = http()
        .get(server.url("/admin"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn no_admin_page_shows_a_secret() {
    let secrets = [
        (
            "HALCYTONE__CHANNELS__TWITTER__CONSUMER_KEY",
            "secret-x-consumer-key",
        ),
        (
            "HALCYTONE__CHANNELS__TWITTER__CONSUMER_SECRET",
            "secret-x-api-secret",
        ),
        (
            "HALCYTONE__CHANNELS__TWITTER__ACCESS_TOKEN",
            "secret-x-access-token",
        ),
        (
            "HALCYTONE__CHANNELS__TWITTER__ACCESS_TOKEN_SECRET",
            "secret-x-access-secret",
        ),
        (
            "HALCYTONE__CHANNELS__LINKEDIN__ACCESS_TOKEN",
            "secret-linkedin-token",
        ),
        (
            "HALCYTONE__CHANNELS__LINKEDIN__AUTHOR_URN",
            "urn:li:organization:42",
        ),
        ("HALCYTONE__CHANNELS__EMAIL__API_KEY", "secret-crm-key"),
        ("HALCYTONE__CHANNELS__EMAIL__BASE_URL", "http://127.0.0.1:9"),
        ("HALCYTONE__CHANNELS__WEB__API_KEY", "secret-platform-key"),
        ("HALCYTONE__CHANNELS__WEB__BASE_URL", "http://127.0.0.1:9"),
        ("HALCYTONE__CHANNELS__TWITTER__RATE_LIMIT", "100/1d"),
    ];
    let server = server_with_week("admin-secrets", &secrets).await;
    let (session, _) = sign_in(&server).await;
    let mut paths = vec![
        format!("/admin?start={WEEK}"),
        "/admin/channels".to_owned(),
        "/admin/analytics".to_owned(),
        "/admin/experiments".to_owned(),
    ];
    for channel in ["twitter", "linkedin", "email", "web"] {
        let id = first_post(&server, channel).await;
        paths.push(format!("/admin/posts/{id}"));
        paths.push(format!("/admin/posts/{id}/edit"));
    }
    let mut redacted = 0;
    for path in &paths {
        let html = page(&server, &session, path).await;
        for (_, secret) in secrets
            .iter()
            .filter(|(_, value)| value.starts_with("secret-"))
        {
            assert!(!html.contains(secret), "{path} shows {secret}");
        }
        assert!(!html.contains(TOKEN), "{path} shows the API token");
        redacted += usize::from(html.contains("***"));
    }
    assert!(redacted >= 4, "each post page shows its request redacted");

    // The channels page shows each quota with what it lets through now.
    let channels = page(&server, &session, "/admin/channels").await;
    assert!(channels.contains("100/1d, 10 free now"), "{channels}");

    // The newsletter is shown in a sandboxed frame whose policy allows no script.
    let email = first_post(&server, "email").await;
    let post_page = page(&server, &session, &format!("/admin/posts/{email}")).await;
    assert!(post_page.contains(&format!("sandbox src=\"/admin/posts/{email}/email\"")));
    let frame = http()
        .get(server.url(&format!("/admin/posts/{email}/email")))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let policy = frame.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.starts_with("sandbox;") && !policy.contains("script"),
        "{policy}"
    );
    // An article's HTML is sanitised on the page, whatever an edit put in it.
    let article = first_post(&server, "web").await;
    let mut content = stored(&server, &article).await["content"].clone();
    content["html"] = json!("<p onclick=\"steal()\">Hello</p><script>steal()</script>");
    let response = http()
        .patch(server.url(&format!("/posts/{article}")))
        .bearer_auth(TOKEN)
        .json(&json!({ "content": content }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let article_page = page(&server, &session, &format!("/admin/posts/{article}")).await;
    assert!(article_page.contains("<p>Hello</p>"), "{article_page}");
    assert!(!article_page.contains("<script>steal()"), "{article_page}");
    assert!(
        !article_page.contains("onclick=\"steal()\""),
        "{article_page}"
    );
}

#[tokio::test]
async fn the_week_filters_by_language_when_there_are_two() {
    let german = root().join("examples/living-document.de.md");
    let german = german.display().to_string();
    let environment = [
        ("HALCYTONE__SERVER__API_TOKEN", TOKEN),
        ("HALCYTONE__LOCALES__DE__PATH", german.as_str()),
    ];
    let server = Server::start("admin-locales", &environment).await;
    let plan = plan_week(&server).await;
    let posts = plan["posts"].as_array().unwrap();
    assert!(posts.iter().any(|post| post["locale"] == "de"), "{plan}");
    assert!(posts.iter().any(|post| post["locale"] == "en-GB"), "{plan}");
    let (session, _) = sign_in(&server).await;
    let all = page(&server, &session, &format!("/admin?start={WEEK}")).await;
    assert!(
        all.contains("<select id=\"filter-locale\" name=\"locale\">"),
        "{all}"
    );
    assert!(all.contains("Morning resonance sessions"));
    assert!(all.contains("Morgendliche Resonanz-Sessions"));
    assert!(all.contains("<span class=\"chip locale\" lang=\"de\">de</span>"));
    let german = page(&server, &session, &format!("/admin?start={WEEK}&locale=de")).await;
    assert!(german.contains("Morgendliche Resonanz-Sessions"));
    assert!(!german.contains("Morning resonance sessions"), "{german}");
    assert!(
        german.contains("<option value=\"de\" selected>de</option>"),
        "{german}"
    );
    // The pager keeps the filter.
    assert!(
        german.contains("&amp;locale&#x3D;de\" class=\"button\" rel=\"next\""),
        "{german}"
    );
    // "Approve all" sends the page's own filter and approves what it shows, no more.
    let form = german
        .split("<form method=\"post\" action=\"/admin/approve-all\">")
        .nth(1)
        .and_then(|rest| rest.split("</form>").next())
        .unwrap();
    let fields: Vec<(String, String)> = form
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|input| {
            let (name, rest) = input.split_once("\" value=\"").unwrap();
            let value = rest.split('"').next().unwrap();
            (
                name.to_owned(),
                value.replace("&amp;", "&").replace("&#x3D;", "="),
            )
        })
        .collect();
    assert!(
        fields.contains(&("locale".to_owned(), "de".to_owned())),
        "{fields:?}"
    );
    let response = http()
        .post(server.url("/admin/approve-all"))
        .header("cookie", &session)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let stored = api(&server, "/posts?limit=1000").await;
    let statuses = |locale: &str| -> Vec<String> {
        stored["posts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|post| post["locale"] == locale)
            .map(|post| post["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let (de, en) = (statuses("de"), statuses("en-GB"));
    assert!(
        !de.is_empty() && de.iter().all(|status| status == "approved"),
        "{de:?}"
    );
    assert!(
        !en.is_empty() && en.iter().all(|status| status == "draft"),
        "{en:?}"
    );
}

#[tokio::test]
async fn a_post_page_shows_what_a_document_change_did() {
    let directory = halcytone_e2e::scratch("admin-change-doc");
    let document = directory.join("living-document.md");
    let original = std::fs::read_to_string(root().join("examples/living-document.md")).unwrap();
    std::fs::write(&document, &original).unwrap();
    let path = document.display().to_string();
    let server = server_with_week(
        "admin-change",
        &[("HALCYTONE__SOURCE__PATH", path.as_str())],
    )
    .await;
    let (session, _) = sign_in(&server).await;
    let id = first_post(&server, "twitter").await;
    let before = page(&server, &session, &format!("/admin/posts/{id}")).await;
    assert!(!before.contains("What the document"), "no change yet");

    let changed = original.replacen(
        "Thank you for breathing with us!",
        "Thank you for breathing with all of us!",
        1,
    );
    assert_ne!(changed, original);
    std::fs::write(&document, changed).unwrap();
    let plan = plan_week(&server).await;
    assert!(
        plan["stored"]["updated"]
            .as_array()
            .unwrap()
            .iter()
            .any(|updated| updated == id.as_str()),
        "{}",
        plan["stored"]
    );
    let after = page(&server, &session, &format!("/admin/posts/{id}")).await;
    assert!(after.contains("What the document"), "{after}");
    assert!(after.contains("<span class=\"removed\">- This week Breathscape members completed their ten-thousandth resonance session. Thank you for breathing with us!</span>"), "{after}");
    assert!(after.contains("<span class=\"added\">+ This week Breathscape members completed their ten-thousandth resonance session. Thank you for breathing with all of us!</span>"), "{after}");
    assert!(stored(&server, &id).await["previous_content"]["parts"].is_array());
}

/// A chromedriver for the browser tests: `HALCYTONE_TEST_CHROMEDRIVER`, or
/// Debian's; `None` (the test skips) when neither is there, outside CI.
fn chromedriver() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/bin/chromedriver");
    if std::env::var_os("HALCYTONE_TEST_CHROMEDRIVER").is_none() && debian.exists() {
        return Some(debian);
    }
    halcytone_core::testkit::required_service(
        "HALCYTONE_TEST_CHROMEDRIVER",
        "a_person_reviews_the_week_in_chromium",
    )
    .map(PathBuf::from)
}

/// Chromium under chromedriver, headless, killed when dropped: chromedriver
/// leads a process group of its own, and the whole group is killed, since
/// Chromium outlives a chromedriver killed alone.
struct Browser {
    driver: tokio::process::Child,
    client: Client,
}

impl Browser {
    /// A browser whose system setting is light, or dark with `dark`.
    async fn start(chromedriver: &PathBuf, dark: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile = halcytone_e2e::scratch("chromium-profile");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": std::env::var("HALCYTONE_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.display()),
                    // Blink's colour scheme 0 is dark, 1 light.
                    format!("--blink-settings=preferredColorScheme={}", if dark { 0 } else { 1 }),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut last_error = String::new();
        for _ in 0..100 {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => return Self { driver, client },
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start a session: {last_error}");
    }

    async fn statuses(&self) -> Vec<(String, String)> {
        let mut statuses = Vec::new();
        for post in self
            .client
            .find_all(Locator::Css("[data-post-id]"))
            .await
            .unwrap()
        {
            statuses.push((
                post.attr("data-post-id").await.unwrap().unwrap(),
                post.attr("data-status").await.unwrap().unwrap(),
            ));
        }
        statuses
    }

    async fn status_of(&self, id: &str) -> String {
        self.client
            .find(Locator::Css(&format!("[data-post-id='{id}']")))
            .await
            .unwrap()
            .attr("data-status")
            .await
            .unwrap()
            .unwrap()
    }

    /// Signs in with the page the browser is on.
    async fn sign_in(&self) {
        let token = self
            .client
            .wait()
            .for_element(Locator::Css("input[name='token']"))
            .await
            .unwrap();
        token.send_keys(TOKEN).await.unwrap();
        self.press(None, "Sign in").await;
    }

    /// Clicks the button named `name`, inside post `post`'s element when
    /// given, and waits for the page the form leads to.
    async fn press(&self, post: Option<&str>, name: &str) {
        let scope = post.map_or_else(String::new, |id| format!("//*[@data-post-id='{id}']"));
        let button = self
            .client
            .find(Locator::XPath(&format!(
                "{scope}//button[normalize-space(.)='{name}' or @aria-label='{name}']"
            )))
            .await
            .unwrap_or_else(|error| panic!("no button `{name}` in {post:?}: {error}"));
        button.click().await.unwrap();
        gone(&button).await;
    }

    /// axe-core's serious and critical violations on the page shown.
    async fn accessibility_violations(&self) -> Vec<Value> {
        static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let axe = AXE.get_or_init(|| {
            std::fs::read_to_string(root().join("tests/data/axe-core/axe.min.js")).unwrap()
        });
        self.client.execute(axe, vec![]).await.unwrap();
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                    .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                        .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3) }))))
                    .catch(e => done([{ id: 'axe-failed', help: String(e) }]));",
                vec![],
            )
            .await
            .unwrap();
        result.as_array().cloned().unwrap_or_default()
    }

    /// Saves a screenshot when `HALCYTONE_SCREENSHOTS` names a directory.
    async fn screenshot(&self, name: &str) {
        if let Some(directory) = std::env::var_os("HALCYTONE_SCREENSHOTS") {
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(PathBuf::from(directory).join(name), png).unwrap();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(group) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .status();
        }
        let _ = self.driver.start_kill();
    }
}

/// Waits until `element`'s page has been replaced by the next one.
async fn gone(element: &fantoccini::elements::Element) {
    for _ in 0..200 {
        if element.text().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page did not change");
}

#[tokio::test]
async fn a_person_reviews_the_week_in_chromium() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let server = server_with_week("admin-browser", &[]).await;
    let browser = Browser::start(&chromedriver, false).await;
    let client = &browser.client;

    // Signing in.
    client
        .goto(&server.url(&format!("/admin?start={WEEK}")))
        .await
        .unwrap();
    let token = client
        .find(Locator::Css("input[name='token']"))
        .await
        .unwrap();
    token.send_keys("not-the-token").await.unwrap();
    browser.press(None, "Sign in").await;
    let error = client
        .wait()
        .for_element(Locator::Css(".error"))
        .await
        .unwrap();
    assert!(error.text().await.unwrap().contains("not the API token"));
    browser.sign_in().await;
    client
        .wait()
        .for_element(Locator::Css("table.week"))
        .await
        .unwrap();

    // The week's 25 posts, all drafts.
    let posts = browser.statuses().await;
    assert_eq!(posts.len(), 25, "{posts:?}");
    assert!(posts.iter().all(|(_, status)| status == "draft"));
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "week view: {violations:#?}");

    // Approving one.
    let (first, _) = posts[0].clone();
    browser.press(Some(&first), "Approve").await;
    client
        .wait()
        .for_element(Locator::Css(".flash"))
        .await
        .unwrap();
    assert_eq!(browser.status_of(&first).await, "approved");
    browser.screenshot("admin-week.png").await;

    // A tweet: approved, then edited past 280 (refused, live and on save),
    // then within the limit (saved, the approval voided).
    let tweet = first_post(&server, "twitter").await;
    browser.press(Some(&tweet), "Approve").await;
    client
        .wait()
        .for_element(Locator::Css(".flash"))
        .await
        .unwrap();
    assert_eq!(browser.status_of(&tweet).await, "approved");
    client
        .goto(&server.url(&format!("/admin/posts/{tweet}")))
        .await
        .unwrap();
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "post page: {violations:#?}");
    browser.screenshot("admin-post.png").await;
    browser.press(None, "Edit").await;
    let field = client
        .wait()
        .for_element(Locator::Css("textarea[name='item.parts']"))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field.send_keys(&"breathe ".repeat(40)).await.unwrap();
    let counter = client
        .find(Locator::Css("output[data-measure='0']"))
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("output.over[data-measure='0']"))
        .await
        .unwrap();
    let count = counter.text().await.unwrap();
    let weight: usize = count.strip_suffix("/280").unwrap().parse().unwrap();
    assert!(weight > 280, "{count}");
    let live = client.find(Locator::Css("#edit-error")).await.unwrap();
    assert!(
        live.text().await.unwrap().contains("more than 280"),
        "{}",
        live.text().await.unwrap()
    );
    browser.screenshot("admin-edit.png").await;
    browser.press(None, "Save").await;
    let refused = client
        .wait()
        .for_element(Locator::Css("#edit-error"))
        .await
        .unwrap();
    assert!(refused.text().await.unwrap().contains("more than 280"));
    let post = stored(&server, &tweet).await;
    assert_eq!(post["status"], "approved", "a refused edit changes nothing");
    assert!(post["edited_at"].is_null());

    let field = client
        .find(Locator::Css("textarea[name='item.parts']"))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field
        .send_keys("Breathe in for five, out for five. #Breathscape")
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("#edit-error[hidden]"))
        .await
        .unwrap();
    browser.press(None, "Save").await;
    let flash = client
        .wait()
        .for_element(Locator::Css(".flash"))
        .await
        .unwrap();
    assert!(flash.text().await.unwrap().contains("voided the approval"));
    let post = stored(&server, &tweet).await;
    assert_eq!(post["status"], "draft");
    assert_eq!(
        post["content"]["parts"],
        json!(["Breathe in for five, out for five. #Breathscape"])
    );

    // Approving all of a day.
    client
        .goto(&server.url(&format!("/admin?start={WEEK}")))
        .await
        .unwrap();
    let day = client.find(Locator::Css("th.day button")).await.unwrap();
    let label = day.attr("aria-label").await.unwrap().unwrap();
    assert!(label.starts_with("Approve all of Monday"), "{label}");
    day.click().await.unwrap();
    gone(&day).await;
    client
        .wait()
        .for_element(Locator::Css(".flash"))
        .await
        .unwrap();
    let listing = api(&server, &format!("/posts?from={WEEK}&to=2031-01-07")).await;
    let monday = listing["posts"].as_array().unwrap();
    assert!(!monday.is_empty());
    assert!(
        monday.iter().all(|post| post["status"] == "approved"),
        "{monday:#?}"
    );

    // Signing out: the pages ask for the token again.
    browser.press(None, "Sign out").await;
    client
        .wait()
        .for_element(Locator::Css("input[name='token']"))
        .await
        .unwrap();
    client.goto(&server.url("/admin")).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("input[name='token']"))
        .await
        .unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login")
    );
}

#[tokio::test]
async fn every_page_passes_axe_in_the_light_and_the_dark_scheme() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let server = server_with_week("admin-axe", &[]).await;
    let mut pages = vec![
        format!("/admin?start={WEEK}"),
        "/admin/channels".to_owned(),
        "/admin/analytics".to_owned(),
        "/admin/experiments".to_owned(),
    ];
    for channel in ["twitter", "linkedin", "email", "web"] {
        let id = first_post(&server, channel).await;
        pages.push(format!("/admin/posts/{id}"));
        pages.push(format!("/admin/posts/{id}/edit"));
    }
    for (dark, background) in [(false, "rgb(246, 247, 249)"), (true, "rgb(16, 20, 24)")] {
        let browser = Browser::start(&chromedriver, dark).await;
        let client = &browser.client;
        client.goto(&server.url("/admin/login")).await.unwrap();
        let violations = browser.accessibility_violations().await;
        assert!(
            violations.is_empty(),
            "sign-in page (dark: {dark}): {violations:#?}"
        );
        browser.sign_in().await;
        for path in &pages {
            client.goto(&server.url(path)).await.unwrap();
            let shown = client
                .execute(
                    "return getComputedStyle(document.body).backgroundColor",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(
                shown, background,
                "{path}: the scheme asked for (dark: {dark})"
            );
            let violations = browser.accessibility_violations().await;
            assert!(
                violations.is_empty(),
                "{path} (dark: {dark}): {violations:#?}"
            );
        }
    }
}
