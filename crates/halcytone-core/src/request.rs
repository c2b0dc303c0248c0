//! `OutboundRequest`: the HTTP request a publisher sends, and its redacted preview.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};

use crate::channel::Channel;
use crate::error::PublishError;
use crate::secret::SecretString;

/// The HTTP method of an outbound request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
}

impl Method {
    /// The method as it goes on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
        }
    }

    /// Whether the request changes something on the API, so that one whose
    /// answer is lost may have been applied.
    pub fn is_write(self) -> bool {
        matches!(self, Self::Post | Self::Put)
    }
}

/// A header value that may hold a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// A value shown as it is.
    Plain(String),
    /// A credential after an optional scheme (`Bearer `); previews show `***`.
    Secret {
        /// The text before the secret, such as `Bearer `.
        prefix: &'static str,
        /// The secret, or `None` when the channel is not configured.
        secret: Option<SecretString>,
    },
}

impl HeaderValue {
    /// `Bearer <token>`, redacted in previews.
    pub fn bearer(token: Option<&SecretString>) -> Self {
        Self::Secret {
            prefix: "Bearer ",
            secret: token.cloned(),
        }
    }

    fn redacted(&self) -> String {
        match self {
            Self::Plain(value) => value.clone(),
            Self::Secret {
                prefix,
                secret: Some(_),
            } => format!("{prefix}***"),
            Self::Secret {
                prefix,
                secret: None,
            } => format!("{prefix}<unset>"),
        }
    }

    /// The value as it goes on the wire; `None` for a secret that is not set.
    pub fn expose(&self) -> Option<String> {
        match self {
            Self::Plain(value) => Some(value.clone()),
            Self::Secret { prefix, secret } => secret
                .as_ref()
                .map(|secret| format!("{prefix}{}", secret.expose())),
        }
    }
}

/// The base URL of an external API, as configured: absolute http(s), with a
/// host and no query or fragment. Tests point it at a mock server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Cow<'static, str>);

impl BaseUrl {
    /// A base URL known at compile time (a channel's public default).
    pub const fn from_static(url: &'static str) -> Self {
        Self(Cow::Borrowed(url))
    }

    /// Checks a configured base URL.
    ///
    /// # Errors
    /// Says why the URL cannot be a base URL.
    pub fn parse(value: &str) -> Result<Self, String> {
        let url = url::Url::parse(value.trim())
            .map_err(|error| format!("`{value}` is not a URL: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("`{value}` is not an absolute http or https URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "`{value}` has a query or fragment; give the base URL alone"
            ));
        }
        Ok(Self(Cow::Owned(
            value.trim().trim_end_matches('/').to_owned(),
        )))
    }

    /// The URL without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL of `path` under this base.
    pub fn join(&self, path: &str) -> String {
        endpoint(&self.0, path)
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// Joins a configured base URL and an API path, whatever trailing slash the
/// base has: `https://crm.example/` + `/api/v1/x` → `https://crm.example/api/v1/x`.
fn endpoint(base_url: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base_url.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// One HTTP request exactly as a publisher sends it.
///
/// Publishers build it once (`Publisher::build_requests`); the preview is
/// this request with its secrets redacted, so what is previewed is what is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Header names (lowercase) and values, in sending order.
    pub headers: Vec<(&'static str, HeaderValue)>,
    /// The JSON body, if any.
    pub body: Option<serde_json::Value>,
}

/// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - . _ ~`, as
/// OAuth 1.0a signs and as a URL path segment takes any text.
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `name=value&…`, form-encoded (`+` for a space), for a URL's query.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

impl OutboundRequest {
    /// A JSON request with the given headers; `content-type` is added.
    ///
    /// # Errors
    /// Returns `Invalid` for a body that cannot be JSON (a map with non-string keys).
    pub fn json<T: Serialize>(
        channel: &Channel,
        method: Method,
        url: String,
        headers: Vec<(&'static str, HeaderValue)>,
        body: &T,
    ) -> Result<Self, PublishError> {
        let body = serde_json::to_value(body).map_err(|error| PublishError::Invalid {
            channel: channel.clone(),
            field: "body",
            reason: error.to_string(),
        })?;
        Ok(Self::json_value(method, url, headers, body))
    }

    /// A JSON request whose body is already a JSON value (so it cannot
    /// fail); `content-type` is added.
    pub fn json_value(
        method: Method,
        url: String,
        mut headers: Vec<(&'static str, HeaderValue)>,
        body: serde_json::Value,
    ) -> Self {
        headers.push((
            "content-type",
            HeaderValue::Plain("application/json".to_owned()),
        ));
        Self {
            method,
            url,
            headers,
            body: Some(body),
        }
    }

    /// A `GET` request with the given headers and no body.
    pub fn get(url: String, headers: Vec<(&'static str, HeaderValue)>) -> Self {
        Self {
            method: Method::Get,
            url,
            headers,
            body: None,
        }
    }

    /// The request with every secret replaced by `***`.
    pub fn redacted(&self) -> RequestPreview {
        RequestPreview {
            method: self.method,
            url: self.url.clone(),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        (*name).to_owned(),
                        serde_json::Value::String(value.redacted()),
                    )
                })
                .collect(),
            body: self.body.clone(),
        }
    }
}

/// A request as previews and plans show it: secrets redacted.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RequestPreview {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Header names and values, secrets as `***`.
    #[schema(value_type = Object)]
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// The JSON body, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {

    #[test]
    fn query_values_are_form_encoded_as_php_decodes_them() {
        assert_eq!(
            query_string(&[("search", "R&D launch"), ("slug", "café-crème")]),
            "search=R%26D+launch&slug=caf%C3%A9-cr%C3%A8me"
        );
    }
    use super::*;

    #[test]
    fn base_urls_must_be_absolute_http() {
        assert_eq!(
            BaseUrl::parse("https://api.x.com/")
                .unwrap()
                .join("2/tweets"),
            "https://api.x.com/2/tweets"
        );
        for bad in [
            "api.x.com",
            "ftp://x.example",
            "https://x.example/?a=1",
            "https://",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_join_with_one_slash() {
        assert_eq!(
            endpoint("https://crm.example/", "/api/v1/x"),
            "https://crm.example/api/v1/x"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:9/base", "api"),
            "http://127.0.0.1:9/base/api"
        );
    }

    #[test]
    fn previews_redact_secrets() {
        let request = OutboundRequest::json(
            &Channel::from_static("twitter"),
            Method::Post,
            "https://api.x.com/2/tweets".to_owned(),
            vec![(
                "authorization",
                HeaderValue::Secret {
                    prefix: "Bearer ",
                    secret: Some(SecretString::new("token-123")),
                },
            )],
            &serde_json::json!({"text": "hi"}),
        )
        .unwrap();
        let preview = serde_json::to_string(&request.redacted()).unwrap();
        assert!(!preview.contains("token-123"));
        assert_eq!(
            preview,
            r#"{"method":"POST","url":"https://api.x.com/2/tweets","headers":{"authorization":"Bearer ***","content-type":"application/json"},"body":{"text":"hi"}}"#
        );
        assert_eq!(
            request.headers[0].1.expose().as_deref(),
            Some("Bearer token-123")
        );
    }
}
