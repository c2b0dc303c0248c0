//! `WebPublisher`: renders, validates and previews website articles.

use std::time::SystemTime;

use halcytone_core::prelude::*;
use halcytone_core::text::{slugify, truncate_on_word};
use jiff::civil::time;
use serde::{Deserialize, Serialize};

use crate::CHANNEL;
use crate::config::WebConfig;
use crate::wire::{ContentRequest, Created, Seo};

/// The longest SEO description search engines show, in characters.
const MAX_SEO_DESCRIPTION: usize = 160;
/// The longest title, in characters.
const MAX_TITLE: usize = 200;
/// Host used in previews until `base_url` is configured; `.invalid` never resolves.
static UNCONFIGURED_BASE_URL: BaseUrl = BaseUrl::from_static("https://platform.invalid");

/// An article.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebContent {
    pub(crate) title: String,
    pub(crate) slug: String,
    pub(crate) excerpt: String,
    pub(crate) html: String,
    pub(crate) seo_description: String,
    pub(crate) tags: Vec<String>,
}

/// Publishes articles to the Platform.
#[derive(Debug)]
pub struct WebPublisher {
    config: WebConfig,
    http: HttpClient,
}

impl WebPublisher {
    /// Makes a publisher from its configuration and the shared HTTP client.
    pub fn new(config: WebConfig, http: HttpClient) -> Self {
        Self { config, http }
    }
}

#[derive(Serialize)]
struct TemplateData<'a> {
    item: &'a ItemView,
    scheduled_at: String,
}

fn is_slug(slug: &str) -> bool {
    !slug.is_empty()
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && slug.chars().all(|character| {
            character == '-' || (character.is_alphanumeric() && !character.is_uppercase())
        })
}

#[async_trait]
impl Publisher for WebPublisher {
    fn channel(&self) -> Channel {
        CHANNEL
    }

    fn default_cadence(&self) -> Cadence {
        Cadence(vec![SlotRule {
            days: Weekdays::MONDAY_TO_FRIDAY,
            time: time(10, 0, 0, 0),
        }])
    }

    fn idempotent(&self) -> bool {
        true
    }

    fn missing_configuration(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.config.base_url.is_none() {
            missing.push("channels.web.base_url");
        }
        if self.config.api_key.is_none() {
            missing.push("channels.web.api_key");
        }
        missing
    }

    fn render(
        &self,
        input: &RenderInput<'_>,
        renderer: &Renderer,
    ) -> Result<Content, PublishError> {
        let data = TemplateData {
            item: input.item,
            scheduled_at: input.scheduled_at.to_string(),
        };
        let excerpt = render_field(renderer, &CHANNEL, "excerpt", "web/excerpt", &data)?;
        let html = render_field(renderer, &CHANNEL, "html", "web/article.html", &data)?;
        let content = WebContent {
            title: input.item.title.clone(),
            slug: slugify(&input.item.title),
            excerpt: excerpt.trim().to_owned(),
            html: html.trim().to_owned(),
            seo_description: truncate_on_word(&input.item.summary, MAX_SEO_DESCRIPTION),
            tags: input.item.tags.clone(),
        };
        Content::from_typed(&CHANNEL, &content)
    }

    fn validate(&self, content: &Content) -> Result<(), PublishError> {
        let content: WebContent = typed_content(&CHANNEL, content)?;
        ensure(&CHANNEL, !content.title.trim().is_empty(), "title", || {
            "is empty".to_owned()
        })?;
        let title_length = content.title.chars().count();
        ensure(&CHANNEL, title_length <= MAX_TITLE, "title", || {
            format!("is {title_length} characters, more than {MAX_TITLE}")
        })?;
        ensure(&CHANNEL, is_slug(&content.slug), "slug", || {
            format!(
                "`{}` is not lowercase letters and digits joined by `-`",
                content.slug
            )
        })?;
        ensure(&CHANNEL, !content.html.trim().is_empty(), "html", || {
            "is empty".to_owned()
        })?;
        let seo_length = content.seo_description.chars().count();
        ensure(
            &CHANNEL,
            seo_length <= MAX_SEO_DESCRIPTION,
            "seo_description",
            || format!("is {seo_length} characters, more than {MAX_SEO_DESCRIPTION}"),
        )
    }

    fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError> {
        let content: WebContent = typed_content(&CHANNEL, &post.content)?;
        let base_url = self
            .config
            .base_url
            .as_ref()
            .unwrap_or(&UNCONFIGURED_BASE_URL);
        let body = ContentRequest {
            content_type: &self.config.content_type,
            title: &content.title,
            slug: &content.slug,
            excerpt: &content.excerpt,
            html: &content.html,
            seo: Seo {
                description: &content.seo_description,
            },
            tags: &content.tags,
            status: "scheduled",
            publish_at: post.scheduled_at.timestamp().to_string(),
        };
        Ok(vec![OutboundRequest::json(
            &CHANNEL,
            Method::Post,
            base_url.join("/api/v1/content"),
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

    async fn publish(
        &self,
        post: &OutgoingPost,
        context: &PublishContext,
    ) -> Result<PublishReceipt, PublishError> {
        let missing = self.missing_configuration();
        if !missing.is_empty() {
            return Err(PublishError::NotConfigured {
                channel: CHANNEL,
                missing: missing.join(", "),
            });
        }
        let mut receipt = PublishReceipt {
            external_ids: Vec::new(),
            url: None,
        };
        for request in &self.build_requests(post)? {
            let created: Created = self
                .http
                .send_json(&CHANNEL, request, &context.correlation_id, |response| {
                    classify_status(&CHANNEL, response, SystemTime::now())
                })
                .await?;
            receipt.external_ids.push(created.id);
            receipt.url = receipt.url.or(created.url);
        }
        Ok(receipt)
    }
}

#[cfg(test)]
mod tests {
    use halcytone_core::publisher::PostId;

    use super::*;

    fn content() -> serde_json::Value {
        serde_json::json!({
            "title": "Sleep timer fades", "slug": "sleep-timer-fades", "excerpt": "E",
            "html": "<p>x</p>", "seo_description": "S", "tags": ["product"],
        })
    }

    #[test]
    fn the_request_is_the_platform_content_call() {
        let publisher = WebPublisher::new(
            WebConfig {
                base_url: Some(BaseUrl::parse("https://platform.example.com").unwrap()),
                api_key: Some(SecretString::new("web-key")),
                ..WebConfig::default()
            },
            halcytone_core::testkit::test_http_client(),
        );
        let post = OutgoingPost {
            id: PostId("post_9".to_owned()),
            scheduled_at: "2026-12-01T10:00:00+00:00[UTC]".parse().unwrap(),
            content: Content(content()),
        };
        let request = &publisher.build_requests(&post).unwrap()[0];
        assert_eq!(request.url, "https://platform.example.com/api/v1/content");
        assert_eq!(
            request.headers[0].1.expose().as_deref(),
            Some("Bearer web-key")
        );
        assert_eq!(
            request.redacted().headers["idempotency-key"],
            "halcytone-post_9"
        );
        assert_eq!(
            request.body.as_ref().unwrap(),
            &serde_json::json!({
                "type": "article", "title": "Sleep timer fades", "slug": "sleep-timer-fades", "excerpt": "E",
                "html": "<p>x</p>", "seo": {"description": "S"}, "tags": ["product"],
                "status": "scheduled", "publish_at": "2026-12-01T10:00:00Z",
            })
        );
    }

    #[test]
    fn validation_names_the_field_and_the_rule() {
        let publisher = WebPublisher::new(
            WebConfig::default(),
            halcytone_core::testkit::test_http_client(),
        );
        let check = |key: &str, value: serde_json::Value| {
            let mut content = content();
            content[key] = value;
            publisher
                .validate(&Content(content))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            check("title", "".into()),
            "web post is invalid: title is empty"
        );
        assert_eq!(
            check("slug", "Bad Slug".into()),
            "web post is invalid: slug `Bad Slug` is not lowercase letters and digits joined by `-`"
        );
        assert_eq!(
            check("seo_description", "x".repeat(161).into()),
            "web post is invalid: seo_description is 161 characters, more than 160"
        );
        assert_eq!(
            check("html", " ".into()),
            "web post is invalid: html is empty"
        );
    }

    #[test]
    fn slugs_are_checked() {
        assert!(is_slug("sleep-timer-fades"));
        assert!(is_slug("café-crème"));
        assert!(!is_slug("Sleep"));
        assert!(!is_slug("-a"));
        assert!(!is_slug("a b"));
        assert!(!is_slug(""));
    }
}
