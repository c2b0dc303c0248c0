//! The request and response bodies of the CRM and of listmonk.

use serde::{Deserialize, Serialize};

/// CRM: `POST /api/v1/newsletters` body.
#[derive(Debug, Serialize)]
pub(crate) struct NewsletterRequest<'a> {
    pub(crate) subject: &'a str,
    pub(crate) preheader: &'a str,
    pub(crate) html: &'a str,
    pub(crate) text: &'a str,
    pub(crate) list_id: &'a str,
    pub(crate) send_at: String,
    pub(crate) tags: &'a [String],
    /// The segment of the list the issue goes to, when it is a segment's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) segment: Option<&'a str>,
    /// The share of an A/B experiment, when it is an arm or the
    /// winner's send to the rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) split: Option<&'a Split>,
}

/// The CRM's `split`: `{"experiment", "arm": "A"|"B", "fraction"}` for an
/// arm, `{"experiment", "arm": "winner", "rest": true}` for the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Split {
    pub(crate) experiment: String,
    pub(crate) arm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rest: Option<bool>,
}

/// listmonk: `POST /api/campaigns` body.
#[derive(Debug, Serialize)]
pub(crate) struct CampaignRequest<'a> {
    pub(crate) name: String,
    pub(crate) subject: &'a str,
    pub(crate) lists: Vec<u64>,
    #[serde(rename = "type")]
    pub(crate) campaign_type: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) body: &'a str,
    pub(crate) altbody: &'a str,
    pub(crate) send_at: String,
    pub(crate) tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) from_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) template_id: Option<u64>,
}

/// listmonk: `PUT /api/campaigns/{id}/status` body.
#[derive(Debug, Serialize)]
pub(crate) struct StatusRequest {
    pub(crate) status: &'static str,
}

/// listmonk's envelope around every answer: `{"data": …}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<T> {
    pub(crate) data: T,
}

/// The part of a listmonk campaign the publisher reads.
#[derive(Debug, Deserialize)]
pub(crate) struct Campaign {
    pub(crate) id: u64,
}

/// The part of a listed listmonk campaign a look-up reads.
#[derive(Debug, Deserialize)]
pub(crate) struct ListedCampaign {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) status: String,
}

/// listmonk: a page of `GET /api/campaigns`.
#[derive(Debug, Deserialize)]
pub(crate) struct CampaignPage {
    pub(crate) results: Vec<ListedCampaign>,
    pub(crate) total: u64,
}
