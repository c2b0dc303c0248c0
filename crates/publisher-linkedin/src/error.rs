//! LinkedIn's error quirks: a retired `LinkedIn-Version` answers 426, a
//! duplicate post answers 422 `DUPLICATE_POST`, and 429 carries no wait.

use std::time::SystemTime;

use halcytone_core::http::{HttpResponse, api_message, classify_status};
use halcytone_core::prelude::*;

use crate::CHANNEL;

/// Maps a response that is not a success to an error class.
pub(crate) fn parse_error(response: &HttpResponse, version: &str, now: SystemTime) -> PublishError {
    match response.status {
        426 => PublishError::Permanent {
            service: CHANNEL.into(),
            status: 426,
            message: format!(
                "LinkedIn-Version {version} is no longer active ({}); set channels.linkedin.version to a current YYYYMM",
                api_message(&response.body)
            ),
        },
        422 if response.body.contains("DUPLICATE_POST") => PublishError::Duplicate {
            channel: CHANNEL,
            message: api_message(&response.body),
        },
        // LinkedIn documents no Retry-After: its daily limits reset at midnight UTC.
        429 => PublishError::RateLimited {
            service: CHANNEL.into(),
            retry_after: halcytone_core::http::retry_after(&response.headers, now),
        },
        _ => classify_status(&CHANNEL, response, now),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;

    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: HeaderMap::new(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn quirks() {
        let retired = parse_error(
            &response(
                426,
                r#"{"status":426,"code":"NONEXISTENT_VERSION","message":"Requested version 20250401 is not active"}"#,
            ),
            "202504",
            SystemTime::now(),
        );
        assert_eq!(
            retired.to_string(),
            "linkedin rejected the request (426): LinkedIn-Version 202504 is no longer active (Requested version 20250401 is not active); set channels.linkedin.version to a current YYYYMM"
        );
        let duplicate = r#"{"errorDetailType":"com.linkedin.common.error.BadRequest","message":"Content is a duplicate of urn:li:share:1","errorDetails":{"inputErrors":[{"description":"Duplicate post is detected","input":{},"code":"DUPLICATE_POST"}]},"status":422}"#;
        assert!(matches!(
            parse_error(&response(422, duplicate), "202608", SystemTime::now()),
            PublishError::Duplicate { .. }
        ));
        assert!(matches!(
            parse_error(&response(429, "{}"), "202608", SystemTime::now()),
            PublishError::RateLimited {
                retry_after: None,
                ..
            }
        ));
        let too_long = r#"{"message":"ShareCommentary text length (8694 characters) exceeded the maximum allowed (3000 characters)","status":400}"#;
        assert!(
            parse_error(&response(400, too_long), "202608", SystemTime::now())
                .to_string()
                .contains("exceeded the maximum allowed")
        );
    }
}
