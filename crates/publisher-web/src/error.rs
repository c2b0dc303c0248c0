//! WordPress's error quirks: creating a tag that exists answers 400
//! `term_exists` with the existing tag's id, and a lookup whose answer never
//! came is safe to send again.

use std::time::SystemTime;

use halcytone_core::http::api_message;
use halcytone_core::prelude::*;
use serde::de::DeserializeOwned;

use crate::CHANNEL;

/// The id of the existing tag when WordPress refused to create a tag as a
/// duplicate: `400 {"code": "term_exists", "data": {"status": 400, "term_id": N}}`
/// (some versions send the id as a string).
pub(crate) fn existing_term(response: &HttpResponse) -> Option<u64> {
    if response.status != 400 {
        return None;
    }
    let body: serde_json::Value = serde_json::from_str(&response.body).ok()?;
    if body.get("code")?.as_str()? != "term_exists" {
        return None;
    }
    let term_id = body.get("data")?.get("term_id")?;
    term_id
        .as_u64()
        .or_else(|| term_id.as_str()?.trim().parse().ok())
}

/// For a request that is safe to send again (a lookup, or creating a tag
/// that may exist): no answer in time is transient, not an unknown outcome.
pub(crate) fn repeatable(error: PublishError) -> PublishError {
    match error {
        PublishError::OutcomeUnknown { service, message } => PublishError::Transient {
            service,
            message: format!("{message}; the request is safe to send again"),
            source: None,
        },
        other => other,
    }
}

/// Reads the answer to a lookup or a tag creation: an error status by its
/// class; a success that is not the documented JSON is permanent, since
/// asking again gets the same page (usually a `base_url` that is not the
/// WordPress site, or a site without `/wp-json`).
pub(crate) fn read<T: DeserializeOwned>(response: &HttpResponse) -> Result<T, PublishError> {
    if !is_success(response.status) {
        return Err(classify_status(&CHANNEL, response, SystemTime::now()));
    }
    serde_json::from_str(&response.body).map_err(|error| PublishError::Permanent {
        service: CHANNEL.into(),
        status: response.status,
        message: format!(
            "the answer is not WordPress REST JSON ({error}): {}; is base_url the WordPress site?",
            api_message(&response.body)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: Default::default(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn term_exists_gives_the_existing_id() {
        let exists = |term_id: &str| {
            format!(
                r#"{{"code":"term_exists","message":"A term with the name provided already exists in this taxonomy.","data":{{"status":400,"term_id":{term_id}}}}}"#
            )
        };
        assert_eq!(existing_term(&response(400, &exists("12"))), Some(12));
        assert_eq!(existing_term(&response(400, &exists("\"12\""))), Some(12));
        assert_eq!(existing_term(&response(409, &exists("12"))), None);
        assert_eq!(
            existing_term(&response(
                400,
                r#"{"code":"rest_invalid_param","message":"Invalid parameter(s): name","data":{"status":400}}"#
            )),
            None
        );
        assert_eq!(existing_term(&response(400, "<html></html>")), None);
    }

    #[test]
    fn answers_are_read_or_classified() {
        let ids: Vec<serde_json::Value> = read(&response(200, "[]")).unwrap();
        assert!(ids.is_empty());
        let error = read::<Vec<serde_json::Value>>(&response(
            200,
            "<html><head><title>My Blog</title></head></html>",
        ))
        .unwrap_err();
        assert!(error.is_permanent());
        assert!(
            error.to_string().contains("an HTML page titled `My Blog`"),
            "{error}"
        );
        let error = read::<Vec<serde_json::Value>>(&response(
            401,
            r#"{"code":"rest_not_logged_in","message":"You are not currently logged in.","data":{"status":401}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "web rejected the request (401): You are not currently logged in."
        );
        let unknown = PublishError::OutcomeUnknown {
            service: CHANNEL.into(),
            message: "no answer".to_owned(),
        };
        assert!(repeatable(unknown).is_retryable());
    }
}
