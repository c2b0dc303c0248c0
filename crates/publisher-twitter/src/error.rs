//! X's error quirks: the wait after a 429 comes from three families of
//! reset headers (X sends no `Retry-After`), and a 403 may mean duplicate content.

use std::time::{Duration, SystemTime};

use halcytone_core::http::{HttpResponse, api_message, classify_status};
use halcytone_core::prelude::*;

use crate::CHANNEL;

/// The rate-limit header families X sends on `POST /2/tweets`.
const LIMIT_FAMILIES: [&str; 3] = ["x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"];

/// How long until X accepts posts again: the latest reset among the
/// exhausted families (a 429 can come with `x-rate-limit-remaining` above 0
/// when a 24-hour cap is hit), else the 15-minute window's reset.
pub(crate) fn rate_limit_wait(response: &HttpResponse, now: SystemTime) -> Option<Duration> {
    let number = |name: String| {
        response
            .header(&name)
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    let resets: Vec<u64> = LIMIT_FAMILIES
        .iter()
        .filter(|family| number(format!("{family}-remaining")) == Some(0))
        .filter_map(|family| number(format!("{family}-reset")))
        .collect();
    let reset = resets
        .into_iter()
        .max()
        .or_else(|| number("x-rate-limit-reset".to_owned()))?;
    let now = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(reset.saturating_sub(now)))
}

/// What is left of X's 24-hour post quotas after a post, from the
/// `x-user-limit-24hour-*` and `x-app-limit-24hour-*` headers: the family
/// with the fewest posts left, and when it resets.
pub(crate) fn quota_left(response: &HttpResponse) -> Option<QuotaLeft> {
    let number = |name: String| {
        response
            .header(&name)
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    LIMIT_FAMILIES
        .iter()
        .filter(|family| family.ends_with("24hour"))
        .filter_map(|family| {
            let sends = u32::try_from(number(format!("{family}-remaining"))?).ok()?;
            let reset = i64::try_from(number(format!("{family}-reset"))?).ok()?;
            Some(QuotaLeft {
                sends,
                until: jiff::Timestamp::from_second(reset).ok()?,
            })
        })
        .min_by_key(|left| left.sends)
}

/// Maps a response that is not a success to an error class.
pub(crate) fn parse_error(response: &HttpResponse, now: SystemTime) -> PublishError {
    match response.status {
        429 => PublishError::RateLimited {
            service: CHANNEL.into(),
            retry_after: rate_limit_wait(response, now),
        },
        403 if api_message(&response.body).contains("duplicate content") => {
            PublishError::Duplicate {
                channel: CHANNEL,
                message: api_message(&response.body),
            }
        }
        _ => classify_status(&CHANNEL, response, now),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    use super::*;

    fn response(status: u16, body: &str, headers: &[(&str, &str)]) -> HttpResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        HttpResponse {
            status,
            headers: map,
            body: body.to_owned(),
        }
    }

    /// The headers of the reference 429, where the per-user 24-hour cap is spent.
    fn fixture_headers() -> Vec<(String, String)> {
        include_str!("../tests/data/twitter-429-headers.txt")
            .lines()
            .skip(1)
            .take_while(|line| !line.trim().is_empty())
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    #[test]
    fn a_429_waits_for_the_exhausted_24_hour_family() {
        let headers = fixture_headers();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_789_378_000);
        let error = parse_error(
            &response(429, r#"{"title":"Too Many Requests"}"#, &headers),
            now,
        );
        // x-user-limit-24hour-remaining is 0 with reset 1789424423, while the
        // 15-minute window (reset 1789378061) still has 99 left.
        assert!(
            matches!(error, PublishError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(46_423)),
            "{error:?}"
        );
    }

    #[test]
    fn a_429_without_exhausted_families_waits_for_the_window() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let error = parse_error(
            &response(
                429,
                "",
                &[
                    ("x-rate-limit-remaining", "3"),
                    ("x-rate-limit-reset", "1060"),
                ],
            ),
            now,
        );
        assert!(
            matches!(error, PublishError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(60))
        );
        let error = parse_error(&response(429, "", &[]), now);
        assert!(matches!(
            error,
            PublishError::RateLimited {
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn duplicate_content_is_recognised() {
        let body = r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#;
        assert!(matches!(
            parse_error(&response(403, body, &[]), SystemTime::now()),
            PublishError::Duplicate { .. }
        ));
        let body = r#"{"detail":"You are not permitted to perform this action.","type":"about:blank","title":"Forbidden","status":403}"#;
        let error = parse_error(&response(403, body, &[]), SystemTime::now());
        assert_eq!(
            error.to_string(),
            "twitter rejected the request (403): You are not permitted to perform this action."
        );
    }
}
