//! Reading a Google Doc over HTTP against wiremock: the service-account
//! token exchange (claims and signature checked), `documents.get`, change
//! detection, and errors a person can act on.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use halcytone_core::channel::Channel;
use halcytone_core::document::KnownChannels;
use halcytone_core::http::HttpClient;
use halcytone_core::registry::SourceContext;
use halcytone_core::request::BaseUrl;
use halcytone_core::resilience::ResilienceSettings;
use halcytone_core::secret::SecretString;
use halcytone_core::source::{Source, SourceError};
use halcytone_core::testkit::conformance::wiremock::matchers::{header, method, path, query_param};
use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer, Request, ResponseTemplate};
use serde_json::{Value, json};
use source_gdocs::{GdocsConfig, GdocsSource};

const DOCUMENT: &str = "1AbCdEfGh";
const EMAIL: &str = "living-doc@halcytone-test.iam.gserviceaccount.com";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn context() -> SourceContext {
    SourceContext {
        http: HttpClient::new(Duration::from_secs(5)).unwrap(),
        resilience: ResilienceSettings {
            max_attempts: 3,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            ..ResilienceSettings::default()
        },
    }
}

fn known() -> KnownChannels {
    KnownChannels::new(
        ["email", "web", "twitter", "linkedin"].map(|name| Channel::parse(name).unwrap()),
    )
}

fn source(server: &MockServer) -> GdocsSource {
    GdocsSource::new(
        GdocsConfig {
            document_id: DOCUMENT.to_owned(),
            credentials_file: Some(data("test-service-account.json")),
            access_token: None,
            base_url: BaseUrl::parse(&server.uri()).unwrap(),
            drive_base_url: BaseUrl::parse(&server.uri()).unwrap(),
            token_url: Some(format!("{}/token", server.uri())),
        },
        &context(),
    )
    .unwrap()
}

fn document() -> String {
    std::fs::read_to_string(data("gdocs-document.json")).unwrap()
}

fn token_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"access_token": "ya29.test-token", "expires_in": 3599, "token_type": "Bearer"}),
    )
}

async fn mount_token(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(token_ok())
        .expect(times)
        .mount(server)
        .await;
}

/// The assertion the source posted to the token endpoint, decoded and verified.
fn verified_claims(request: &Request, audience: &str) -> Value {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap()
    };
    assert_eq!(
        field("grant_type"),
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let assertion = field("assertion");
    let public = std::fs::read(data("test-service-account.pub.pem")).unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    let decoded = jsonwebtoken::decode::<Value>(&assertion, &key, &validation)
        .expect("the assertion verifies with the account's public key");
    assert_eq!(decoded.header.kid.as_deref(), Some("0123456789abcdef"));
    let header = assertion.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    decoded.claims
}

#[tokio::test]
async fn a_service_account_reads_the_document_and_keeps_its_token() {
    let server = MockServer::start().await;
    mount_token(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/documents/{DOCUMENT}")))
        .and(header("authorization", "Bearer ya29.test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(document()))
        .expect(2)
        .mount(&server)
        .await;
    let source = source(&server);
    let first = source.fetch(&known()).await.unwrap();
    assert_eq!(first.document.items().count(), 4);
    // The same revisionId: the token is reused and the document is not parsed again.
    let second = source.fetch(&known()).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));

    let received = server.received_requests().await.unwrap();
    let token_request = received
        .iter()
        .find(|request| request.url.path() == "/token")
        .unwrap();
    let claims = verified_claims(token_request, &format!("{}/token", server.uri()));
    assert_eq!(claims["iss"], EMAIL);
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/documents.readonly https://www.googleapis.com/auth/drive.readonly"
    );
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert!(lifetime <= 3600, "exp - iat = {lifetime}");
}

#[tokio::test]
async fn a_viewer_gets_the_version_from_drive() {
    let server = MockServer::start().await;
    mount_token(&server, 1).await;
    let mut body: Value = serde_json::from_str(&document()).unwrap();
    body.as_object_mut().unwrap().remove("revisionId");
    Mock::given(method("GET"))
        .and(path(format!("/v1/documents/{DOCUMENT}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(&body))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/drive/v3/files/{DOCUMENT}")))
        .and(query_param("fields", "version,modifiedTime"))
        .and(header("authorization", "Bearer ya29.test-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"version": "87", "modifiedTime": "2026-11-26T10:00:00Z"})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let source = source(&server);
    let first = source.fetch(&known()).await.unwrap();
    let second = source.fetch(&known()).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "the same Drive version is not parsed again"
    );
}

fn message(error: SourceError) -> String {
    error.to_string()
}

#[tokio::test]
async fn a_document_not_shared_with_the_account_says_how_to_share_it() {
    for status in [403, 404] {
        let server = MockServer::start().await;
        mount_token(&server, 1).await;
        Mock::given(method("GET"))
            .and(path(format!("/v1/documents/{DOCUMENT}")))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"error": {"code": status, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}})))
            .expect(1)
            .mount(&server)
            .await;
        let text = message(source(&server).fetch(&known()).await.unwrap_err());
        assert!(
            text.starts_with(&format!("Google Doc {DOCUMENT}: ")),
            "{text}"
        );
        assert!(text.contains(&format!("not shared with {EMAIL}")), "{text}");
        assert!(
            text.contains("The caller does not have permission"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_refused_key_and_a_rate_limit_are_explained() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let text = message(source(&server).fetch(&known()).await.unwrap_err());
    assert!(
        text.contains("the token exchange failed") && text.contains("Invalid JWT Signature."),
        "{text}"
    );

    let server = MockServer::start().await;
    mount_token(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/documents/{DOCUMENT}")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/documents/{DOCUMENT}")))
        .respond_with(ResponseTemplate::new(200).set_body_string(document()))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    source(&server).fetch(&known()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn a_ready_access_token_needs_no_exchange() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_ok())
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/documents/{DOCUMENT}")))
        .and(header("authorization", "Bearer ya29.ready"))
        .respond_with(ResponseTemplate::new(200).set_body_string(document()))
        .expect(1)
        .mount(&server)
        .await;
    let source = GdocsSource::new(
        GdocsConfig {
            document_id: DOCUMENT.to_owned(),
            credentials_file: None,
            access_token: Some(SecretString::new("ya29.ready")),
            base_url: BaseUrl::parse(&server.uri()).unwrap(),
            drive_base_url: BaseUrl::parse(&server.uri()).unwrap(),
            token_url: None,
        },
        &context(),
    )
    .unwrap();
    source.fetch(&known()).await.unwrap();
}

#[test]
fn configuration_errors_name_the_key() {
    let config = |credentials_file: Option<PathBuf>| GdocsConfig {
        document_id: DOCUMENT.to_owned(),
        credentials_file,
        access_token: None,
        base_url: BaseUrl::from_static("https://docs.googleapis.com"),
        drive_base_url: BaseUrl::from_static("https://www.googleapis.com"),
        token_url: None,
    };
    let error = GdocsSource::new(config(None), &context()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("source.credentials_file: is required"),
        "{error}"
    );
    let error = GdocsSource::new(config(Some(data("nowhere.json"))), &context()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("source.credentials_file: cannot read"),
        "{error}"
    );
    let error =
        GdocsSource::new(config(Some(data("gdocs-document.json"))), &context()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is not a service-account JSON key"),
        "{error}"
    );
}

#[tokio::test]
async fn the_preflight_check_exchanges_the_key_afresh() {
    let server = MockServer::start().await;
    mount_token(&server, 2).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/documents/{DOCUMENT}")))
        .respond_with(ResponseTemplate::new(200).set_body_string(document()))
        .expect(1)
        .mount(&server)
        .await;
    let source = source(&server);
    source.fetch(&known()).await.unwrap();
    // A cached token would pass even after the key was revoked.
    let checks = source.preflight().await;
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].name, "gdocs.credentials");
    assert!(checks[0].ok, "{checks:?}");
    assert_eq!(
        checks[0].detail,
        format!(
            "the key of {EMAIL} was exchanged for an access token at {}/token",
            server.uri()
        )
    );
    let received = server.received_requests().await.unwrap();
    let exchanges: Vec<_> = received
        .iter()
        .filter(|request| request.url.path() == "/token")
        .collect();
    assert_eq!(exchanges.len(), 2);
    assert_eq!(
        verified_claims(exchanges[1], &format!("{}/token", server.uri()))["iss"],
        EMAIL
    );
}

#[tokio::test]
async fn the_preflight_check_fails_when_the_exchange_is_refused() {
    let cases: [(ResponseTemplate, u64, &str); 3] = [
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant",
                "error_description": "Invalid JWT Signature."})),
            1,
            "Invalid JWT Signature.",
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client",
                "error_description": "The OAuth client was not found."})),
            1,
            "The OAuth client was not found.",
        ),
        (ResponseTemplate::new(503), 3, "503"),
    ];
    for (response, attempts, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(response)
            .expect(attempts)
            .mount(&server)
            .await;
        let checks = source(&server).preflight().await;
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert!(!checks[0].ok, "{checks:?}");
        let detail = &checks[0].detail;
        assert!(
            detail.starts_with(&format!(
                "Google Doc {DOCUMENT}: the token exchange failed: "
            )),
            "{detail}"
        );
        assert!(detail.contains(expected), "{detail}");
    }
}

#[tokio::test]
async fn a_ready_access_token_has_no_check_of_its_own() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(token_ok())
        .expect(0)
        .mount(&server)
        .await;
    let source = GdocsSource::new(
        GdocsConfig {
            document_id: DOCUMENT.to_owned(),
            credentials_file: None,
            access_token: Some(SecretString::new("ya29.ready")),
            base_url: BaseUrl::parse(&server.uri()).unwrap(),
            drive_base_url: BaseUrl::parse(&server.uri()).unwrap(),
            token_url: None,
        },
        &context(),
    )
    .unwrap();
    assert!(source.preflight().await.is_empty());
}
