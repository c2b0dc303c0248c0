//! The listmonk backend: a newsletter is a campaign created as a draft
//! (`POST /api/campaigns`), then scheduled (`PUT /api/campaigns/{id}/status`).
//!
//! listmonk has no idempotency keys, so the campaign id is the resume point:
//! once the campaign exists, a failure returns `Partial` with its id, and a
//! publish that starts with that id only schedules it, never creating a
//! second campaign.

use std::time::SystemTime;

use halcytone_core::prelude::*;
use serde::de::IgnoredAny;

use crate::CHANNEL;
use crate::config::EmailConfig;
use crate::publisher::EmailContent;
use crate::wire::{Campaign, CampaignPage, CampaignRequest, Envelope, StatusRequest};

/// Host used in previews until `base_url` is configured; `.invalid` never resolves.
static UNCONFIGURED_BASE_URL: BaseUrl = BaseUrl::from_static("https://listmonk.invalid");

/// The campaign id in previews, which only listmonk's first answer gives.
pub(crate) const CAMPAIGN_ID_PLACEHOLDER: &str = "<campaign id>";

fn base_url(config: &EmailConfig) -> &BaseUrl {
    config.base_url.as_ref().unwrap_or(&UNCONFIGURED_BASE_URL)
}

/// `Authorization: token <username>:<api_key>`; previews show `token ***`.
fn authorization(config: &EmailConfig) -> HeaderValue {
    let secret = match (&config.username, &config.api_key) {
        (Some(username), Some(api_key)) => Some(SecretString::new(format!(
            "{username}:{}",
            api_key.expose()
        ))),
        _ => None,
    };
    HeaderValue::Secret {
        prefix: "token ",
        secret,
    }
}

/// A campaign's figures, from `GET /api/campaigns/{id}` (its `data`):
/// `sent`, `views` (opens), `clicks` and `bounces`, one campaign a call.
pub(crate) async fn fetch_metrics(
    config: &EmailConfig,
    http: &HttpClient,
    posts: &[MetricsTarget],
    correlation_id: &str,
) -> Result<Vec<Reading>, PublishError> {
    read_each_post(
        http,
        &CHANNEL,
        posts,
        correlation_id,
        &[
            ("/data/sent", "sent"),
            ("/data/views", "views"),
            ("/data/clicks", "clicks"),
            ("/data/bounces", "bounces"),
        ],
        |id| {
            OutboundRequest::get(
                base_url(config).join(&format!("/api/campaigns/{}", percent_encode(id))),
                vec![("authorization", authorization(config))],
            )
        },
    )
    .await
}

/// The campaign name: the subject and the post's key, so that a campaign
/// whose creation timed out can be found with listmonk's campaign search.
fn campaign_name(post: &OutgoingPost, content: &EmailContent) -> String {
    format!("{} [{}]", content.subject, post.idempotency_key())
}

/// `POST /api/campaigns`: the campaign, created as a draft.
fn create_request(
    config: &EmailConfig,
    post: &OutgoingPost,
    content: &EmailContent,
) -> Result<OutboundRequest, PublishError> {
    let body = CampaignRequest {
        name: campaign_name(post, content),
        subject: &content.subject,
        // A segment's issue goes to the segment's list alone.
        lists: match content
            .segment
            .as_ref()
            .and_then(|segment| segment.listmonk_list)
        {
            Some(list) => vec![list],
            None => config.audience(content.locale.as_deref()).list_ids.to_vec(),
        },
        campaign_type: "regular",
        content_type: "html",
        body: &content.html,
        altbody: &content.text,
        send_at: post.scheduled_at.timestamp().to_string(),
        tags: &config.tags,
        from_email: config.from_email.as_deref(),
        template_id: config.template_id,
    };
    OutboundRequest::json(
        &CHANNEL,
        Method::Post,
        base_url(config).join("/api/campaigns"),
        vec![("authorization", authorization(config))],
        &body,
    )
}

/// `PUT /api/campaigns/{id}/status`: schedules the campaign for its `send_at`.
fn status_request(
    config: &EmailConfig,
    campaign_id: &str,
) -> Result<OutboundRequest, PublishError> {
    OutboundRequest::json(
        &CHANNEL,
        Method::Put,
        base_url(config).join(&format!("/api/campaigns/{campaign_id}/status")),
        vec![("authorization", authorization(config))],
        &StatusRequest {
            status: "scheduled",
        },
    )
}

/// The two requests of a newsletter; the second shows `<campaign id>`.
pub(crate) fn requests(
    config: &EmailConfig,
    post: &OutgoingPost,
    content: &EmailContent,
) -> Result<Vec<OutboundRequest>, PublishError> {
    Ok(vec![
        create_request(config, post, content)?,
        status_request(config, CAMPAIGN_ID_PLACEHOLDER)?,
    ])
}

/// Whether `id` can be a listmonk campaign id (it goes into a URL path).
fn is_campaign_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 19 && id.bytes().all(|byte| byte.is_ascii_digit())
}

/// Creates the campaign unless an earlier attempt did, then schedules it.
pub(crate) async fn publish(
    config: &EmailConfig,
    http: &HttpClient,
    post: &OutgoingPost,
    content: &EmailContent,
    context: &PublishContext,
) -> Result<PublishReceipt, PublishError> {
    let classify = |response: &HttpResponse| classify_status(&CHANNEL, response, SystemTime::now());
    let campaign_id = match context.already_sent.as_slice() {
        [] => {
            let created: Envelope<Campaign> = http
                .send_json(
                    &CHANNEL,
                    &create_request(config, post, content)?,
                    &context.correlation_id,
                    classify,
                )
                .await?;
            created.data.id.to_string()
        }
        [id] if is_campaign_id(id) => id.clone(),
        sent => {
            return Err(PublishError::Invalid {
                channel: CHANNEL,
                field: "campaign",
                reason: format!(
                    "ids from an earlier attempt ({}) are not one listmonk campaign id",
                    sent.join(", ")
                ),
            });
        }
    };
    let scheduled = http
        .send_json::<Envelope<IgnoredAny>>(
            &CHANNEL,
            &status_request(config, &campaign_id)?,
            &context.correlation_id,
            classify,
        )
        .await;
    match scheduled {
        Ok(_) => Ok(PublishReceipt {
            url: Some(base_url(config).join(&format!("/admin/campaigns/{campaign_id}"))),
            external_ids: vec![campaign_id],
            quota_left: None,
        }),
        Err(error) => Err(PublishError::Partial {
            sent: vec![campaign_id],
            error: Box::new(error),
        }),
    }
}

/// The most campaigns one search returns.
const SEARCH_PAGE: u64 = 100;

/// `GET /api/campaigns?query=<key>&per_page=100&no_body=true`: the campaigns
/// whose name or subject holds the post's key.
fn search_request(config: &EmailConfig, post: &OutgoingPost) -> OutboundRequest {
    let query = query_string(&[
        ("query", &post.idempotency_key()),
        ("per_page", &SEARCH_PAGE.to_string()),
        ("no_body", "true"),
    ]);
    OutboundRequest::get(
        format!("{}?{query}", base_url(config).join("/api/campaigns")),
        vec![("authorization", authorization(config))],
    )
}

/// Looks for the campaign named with the post's key. None proves it was
/// never created; a draft was created but not scheduled (sending resumes
/// by scheduling it); scheduled, running, paused or finished is out.
pub(crate) async fn look_up(
    config: &EmailConfig,
    http: &HttpClient,
    post: &OutgoingPost,
    content: &EmailContent,
    context: &LookupContext,
) -> Result<Lookup, PublishError> {
    let page: Envelope<CampaignPage> = http
        .send_json(
            &CHANNEL,
            &search_request(config, post),
            &context.correlation_id,
            |response| classify_status(&CHANNEL, response, SystemTime::now()),
        )
        .await?;
    if page.data.total > SEARCH_PAGE {
        return Ok(Lookup::Unsure {
            reason: format!(
                "listmonk matched {} campaigns to the search for {}, more than one page",
                page.data.total,
                post.idempotency_key()
            ),
        });
    }
    let name = campaign_name(post, content);
    let key = format!("[{}]", post.idempotency_key());
    let named: Vec<_> = page
        .data
        .results
        .iter()
        .filter(|campaign| campaign.name.ends_with(&key))
        .collect();
    Ok(match named.as_slice() {
        [] => Lookup::Absent {
            sent: Vec::new(),
            evidence: format!("listmonk has no campaign named `{name}`"),
        },
        [campaign] => {
            let id = campaign.id.to_string();
            match campaign.status.as_str() {
                "draft" => Lookup::Absent {
                    sent: vec![id],
                    evidence: format!(
                        "listmonk campaign {} `{}` exists as a draft: created, not scheduled",
                        campaign.id, campaign.name
                    ),
                },
                "scheduled" | "running" | "paused" | "finished" => Lookup::Published {
                    external_ids: vec![id],
                    evidence: format!(
                        "listmonk campaign {} `{}` is {}",
                        campaign.id, campaign.name, campaign.status
                    ),
                },
                other => Lookup::Unsure {
                    reason: format!(
                        "listmonk campaign {} `{}` is {other}",
                        campaign.id, campaign.name
                    ),
                },
            }
        }
        many => Lookup::Unsure {
            reason: format!(
                "listmonk has {} campaigns named with {}",
                many.len(),
                post.idempotency_key()
            ),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_ids_are_digits() {
        assert!(is_campaign_id("42"));
        assert!(!is_campaign_id(""));
        assert!(!is_campaign_id("42/../1"));
        assert!(!is_campaign_id(CAMPAIGN_ID_PLACEHOLDER));
        assert!(!is_campaign_id(&"9".repeat(20)));
    }
}
