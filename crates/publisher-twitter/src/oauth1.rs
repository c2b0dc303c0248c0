//! OAuth 1.0a request signing (RFC 5849, HMAC-SHA1), X's alternative to an
//! OAuth 2.0 user token. X signs the method, the URL and its query: a JSON
//! body is not part of the signature base string.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use halcytone_core::request::percent_encode as encode;
use halcytone_core::secret::SecretString;

/// The four credentials of a user-context OAuth 1.0a request.
#[derive(Debug, Clone)]
pub(crate) struct Keys<'a> {
    pub(crate) consumer_key: &'a SecretString,
    pub(crate) consumer_secret: &'a SecretString,
    pub(crate) token: &'a SecretString,
    pub(crate) token_secret: &'a SecretString,
}

/// The HMAC-SHA1 signature of a request with these parameters (the `oauth_*`
/// ones, the query and any form fields), base64-encoded.
pub(crate) fn signature(
    method: &str,
    base_url: &str,
    parameters: &[(String, String)],
    consumer_secret: &str,
    token_secret: &str,
) -> String {
    let mut encoded: Vec<(String, String)> = parameters
        .iter()
        .map(|(key, value)| (encode(key), encode(value)))
        .collect();
    encoded.sort();
    let parameter_string = encoded
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let base_string = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(base_url),
        encode(&parameter_string)
    );
    let signing_key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(signing_key.as_bytes()) else {
        return String::new();
    };
    mac.update(base_string.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value after `OAuth `, for `method url`.
pub(crate) fn header_value(
    keys: &Keys<'_>,
    method: &str,
    url: &str,
    nonce: &str,
    timestamp: u64,
) -> String {
    let (base_url, query) = url.split_once('?').unwrap_or((url, ""));
    let oauth = [
        ("oauth_consumer_key", keys.consumer_key.expose().to_owned()),
        ("oauth_nonce", nonce.to_owned()),
        ("oauth_signature_method", "HMAC-SHA1".to_owned()),
        ("oauth_timestamp", timestamp.to_string()),
        ("oauth_token", keys.token.expose().to_owned()),
        ("oauth_version", "1.0".to_owned()),
    ];
    let mut parameters: Vec<(String, String)> = oauth
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect();
    parameters.extend(
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned())),
    );
    let signature = signature(
        method,
        base_url,
        &parameters,
        keys.consumer_secret.expose(),
        keys.token_secret.expose(),
    );
    let mut fields: Vec<(&str, String)> = oauth
        .iter()
        .map(|(key, value)| (*key, value.clone()))
        .collect();
    fields.push(("oauth_signature", signature));
    fields.sort_by(|left, right| left.0.cmp(right.0));
    fields
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", encode(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A fresh nonce: 32 random letters and digits.
pub(crate) fn nonce() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of X's "Creating a signature" guide.
    #[test]
    fn matches_the_worked_example() {
        let parameters: Vec<(String, String)> = [
            (
                "status",
                "Hello Ladies + Gentlemen, a signed OAuth request!",
            ),
            ("include_entities", "true"),
            ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
            ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1318622958"),
            (
                "oauth_token",
                "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            ),
            ("oauth_version", "1.0"),
        ]
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
        let signature = signature(
            "post",
            "https://api.twitter.com/1.1/statuses/update.json",
            &parameters,
            "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        );
        assert_eq!(signature, "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
    }

    #[test]
    fn the_header_lists_the_oauth_fields_in_order() {
        let secret = |text: &str| SecretString::new(text);
        let (consumer_key, consumer_secret, token, token_secret) =
            (secret("ck"), secret("cs"), secret("t"), secret("ts"));
        let keys = Keys {
            consumer_key: &consumer_key,
            consumer_secret: &consumer_secret,
            token: &token,
            token_secret: &token_secret,
        };
        let header = header_value(
            &keys,
            "POST",
            "https://api.x.com/2/tweets",
            "abc",
            1_789_000_000,
        );
        assert!(
            header.starts_with(r#"oauth_consumer_key="ck", oauth_nonce="abc", oauth_signature=""#),
            "{header}"
        );
        assert!(header.ends_with(r#"oauth_signature_method="HMAC-SHA1", oauth_timestamp="1789000000", oauth_token="t", oauth_version="1.0""#), "{header}");
        assert_eq!(nonce().len(), 32);
        assert_eq!(encode("a b+c/~"), "a%20b%2Bc%2F~");
    }
}
