//! `EmailPublisher`: renders, validates and previews the weekly newsletter.

use halcytone_core::prelude::*;
use halcytone_core::text::truncate_on_word;
use jiff::civil::time;
use serde::{Deserialize, Serialize};

use crate::CHANNEL;
use crate::config::EmailConfig;
use crate::wire::NewsletterRequest;

/// The longest subject line, in characters; mail clients cut around here.
const MAX_SUBJECT: usize = 150;
/// The longest preheader, in characters.
const MAX_PREHEADER: usize = 150;
/// Host used in previews until `base_url` is configured; `.invalid` never resolves.
static UNCONFIGURED_BASE_URL: BaseUrl = BaseUrl::from_static("https://crm.invalid");

/// The newsletter content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailContent {
    pub(crate) subject: String,
    pub(crate) preheader: String,
    pub(crate) html: String,
    pub(crate) text: String,
}

/// Publishes the newsletter through the CRM.
#[derive(Debug)]
pub struct EmailPublisher {
    config: EmailConfig,
}

impl EmailPublisher {
    /// Makes a publisher from its configuration.
    pub fn new(config: EmailConfig) -> Self {
        Self { config }
    }
}

#[derive(Serialize)]
struct TemplateData<'a> {
    item: &'a ItemView,
    includes: &'a [&'a ItemView],
    scheduled_at: String,
    intro: &'a str,
    preheader: &'a str,
}

#[async_trait]
impl Publisher for EmailPublisher {
    fn channel(&self) -> Channel {
        CHANNEL
    }

    fn default_cadence(&self) -> Cadence {
        Cadence(vec![SlotRule {
            days: Weekdays::MONDAY,
            time: time(9, 0, 0, 0),
        }])
    }

    fn shape(&self) -> PostShape {
        PostShape::Digest {
            more: self.config.more_items,
        }
    }

    fn missing_configuration(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.config.base_url.is_none() {
            missing.push("channels.email.base_url");
        }
        if self.config.api_key.is_none() {
            missing.push("channels.email.api_key");
        }
        if self.config.list_id.is_none() {
            missing.push("channels.email.list_id");
        }
        missing
    }

    fn render(
        &self,
        input: &RenderInput<'_>,
        renderer: &Renderer,
    ) -> Result<Content, PublishError> {
        let mut data = TemplateData {
            item: input.item,
            includes: input.includes,
            scheduled_at: input.scheduled_at.to_string(),
            intro: &self.config.intro,
            preheader: "",
        };
        let subject = render_field(renderer, &CHANNEL, "subject", "email/subject", &data)?;
        let preheader = render_field(renderer, &CHANNEL, "preheader", "email/preheader", &data)?;
        let preheader = truncate_on_word(&preheader, MAX_PREHEADER);
        data.preheader = &preheader;
        let html = render_field(renderer, &CHANNEL, "html", "email/body.html", &data)?;
        let text = render_field(renderer, &CHANNEL, "text", "email/body.txt", &data)?;
        let content = EmailContent {
            subject: truncate_on_word(&subject, MAX_SUBJECT),
            preheader: preheader.clone(),
            html,
            text: text.trim().to_owned(),
        };
        Content::from_typed(&CHANNEL, &content)
    }

    fn validate(&self, content: &Content) -> Result<(), PublishError> {
        let content: EmailContent = typed_content(&CHANNEL, content)?;
        ensure(
            &CHANNEL,
            !content.subject.trim().is_empty(),
            "subject",
            || "is empty".to_owned(),
        )?;
        let subject_length = content.subject.chars().count();
        ensure(&CHANNEL, subject_length <= MAX_SUBJECT, "subject", || {
            format!("is {subject_length} characters, more than {MAX_SUBJECT}")
        })?;
        ensure(
            &CHANNEL,
            !content.subject.contains(['\r', '\n']),
            "subject",
            || "contains a line break".to_owned(),
        )?;
        let preheader_length = content.preheader.chars().count();
        ensure(
            &CHANNEL,
            preheader_length <= MAX_PREHEADER,
            "preheader",
            || format!("is {preheader_length} characters, more than {MAX_PREHEADER}"),
        )?;
        ensure(&CHANNEL, !content.html.trim().is_empty(), "html", || {
            "is empty".to_owned()
        })?;
        ensure(&CHANNEL, !content.text.trim().is_empty(), "text", || {
            "is empty".to_owned()
        })
    }

    fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError> {
        let content: EmailContent = typed_content(&CHANNEL, &post.content)?;
        let base_url = self
            .config
            .base_url
            .as_ref()
            .unwrap_or(&UNCONFIGURED_BASE_URL);
        let body = NewsletterRequest {
            subject: &content.subject,
            preheader: &content.preheader,
            html: &content.html,
            text: &content.text,
            list_id: self.config.list_id.as_deref().unwrap_or("<unset>"),
            send_at: post.scheduled_at.timestamp().to_string(),
            tags: &self.config.tags,
        };
        Ok(vec![OutboundRequest::json(
            &CHANNEL,
            Method::Post,
            base_url.join("/api/v1/newsletters"),
            vec![
                (
                    "authorization",
                    HeaderValue::bearer(self.config.api_key.as_ref()),
                ),
                (
                    "idempotency-key",
                    HeaderValue::Plain(post.idempotency_key()),
                ),
            ],
            &body,
        )?])
    }

    async fn publish(&self, _post: &OutgoingPost) -> Result<PublishReceipt, PublishError> {
        Err(PublishError::Unsupported {
            channel: CHANNEL,
            what: "publishing",
        })
    }
}
