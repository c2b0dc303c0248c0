//! `OutboundRequest`: the HTTP request a publisher sends, and its redacted preview.

use serde::Serialize;

use crate::secret::SecretString;

/// The HTTP method of an outbound request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
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
    fn redacted(&self) -> String {
        match self {
            Self::Plain(value) => value.clone(),
            Self::Secret { prefix, secret: Some(_) } => format!("{prefix}***"),
            Self::Secret { prefix, secret: None } => format!("{prefix}<unset>"),
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

impl OutboundRequest {
    /// A JSON request with the given headers; `content-type` is added.
    pub fn json(
        method: Method,
        url: String,
        mut headers: Vec<(&'static str, HeaderValue)>,
        body: serde_json::Value,
    ) -> Self {
        headers.push(("content-type", HeaderValue::Plain("application/json".to_owned())));
        Self {
            method,
            url,
            headers,
            body: Some(body),
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
                .map(|(name, value)| ((*name).to_owned(), serde_json::Value::String(value.redacted())))
                .collect(),
            body: self.body.clone(),
        }
    }
}

/// A request as previews and plans show it: secrets redacted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestPreview {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Header names and values, secrets as `***`.
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// The JSON body, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_redact_secrets() {
        let request = OutboundRequest::json(
            Method::Post,
            "https://api.x.com/2/tweets".to_owned(),
            vec![(
                "authorization",
                HeaderValue::Secret {
                    prefix: "Bearer ",
                    secret: Some(SecretString::new("token-123")),
                },
            )],
            serde_json::json!({"text": "hi"}),
        );
        let preview = serde_json::to_string(&request.redacted()).unwrap();
        assert!(!preview.contains("token-123"));
        assert_eq!(
            preview,
            r#"{"method":"POST","url":"https://api.x.com/2/tweets","headers":{"authorization":"Bearer ***","content-type":"application/json"},"body":{"text":"hi"}}"#
        );
        assert_eq!(request.headers[0].1.expose().as_deref(), Some("Bearer token-123"));
    }
}
