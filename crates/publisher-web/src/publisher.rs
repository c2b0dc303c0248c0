//! `WebPublisher`: renders, validates, previews and publishes website
//! articles, through the Platform (here) or WordPress (`wordpress.rs`).

use halcytone_core::http::{create_each, services_create, services_look_up};
use halcytone_core::prelude::*;
use halcytone_core::text::{slugify, truncate_on_word};
use jiff::civil::time;
use serde::{Deserialize, Serialize};

use crate::CHANNEL;
use crate::config::{Backend, WebConfig};
use crate::wire::{ContentRequest, Seo};
use crate::wordpress;

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

/// Publishes articles to the Platform or WordPress.
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

    /// The Platform's collection URL (`/api/v1/content`): creates go there, and
    /// look-ups by idempotency key ask it.
    fn collection(&self) -> String {
        self.config
            .base_url
            .as_ref()
            .unwrap_or(&UNCONFIGURED_BASE_URL)
            .join("/api/v1/content")
    }
}

/// Articles whose figures one pass reads, a call each.
const FIGURES_PER_PASS: usize = 50;

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

    /// The Platform takes idempotency keys; WordPress has none (its slug
    /// check guards a later publish, not a request whose answer was lost).
    fn idempotent(&self) -> bool {
        self.config.backend == Backend::Platform
    }

    fn missing_configuration(&self) -> Vec<&'static str> {
        let config = &self.config;
        let keys = match config.backend {
            Backend::Platform => vec![
                ("channels.web.base_url", config.base_url.is_some()),
                ("channels.web.api_key", config.api_key.is_some()),
            ],
            Backend::Wordpress => vec![
                ("channels.web.base_url", config.base_url.is_some()),
                ("channels.web.username", config.username.is_some()),
                (
                    "channels.web.application_password",
                    config.application_password.is_some(),
                ),
            ],
        };
        keys.into_iter()
            .filter(|(_, set)| !set)
            .map(|(key, _)| key)
            .collect()
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
        if self.config.backend == Backend::Wordpress {
            return wordpress::requests(&self.config, post, &content);
        }
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
        Ok(vec![services_create(
            &CHANNEL,
            self.collection(),
            self.config.api_key.as_ref(),
            post,
            &body,
        )?])
    }

    /// The Platform reports each article's figures; WordPress core has none.
    fn metrics_batch(&self) -> usize {
        match self.config.backend {
            Backend::Platform => FIGURES_PER_PASS,
            Backend::Wordpress => 0,
        }
    }

    /// `GET /api/v1/content/{id}/stats`, one article at a time.
    async fn fetch_metrics(
        &self,
        posts: &[MetricsTarget],
        correlation_id: &str,
    ) -> Result<Vec<Reading>, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        let collection = self.collection();
        read_each_post(
            &self.http,
            &CHANNEL,
            posts,
            correlation_id,
            &[
                ("/views", "views"),
                ("/unique_visitors", "unique_visitors"),
                ("/avg_read_seconds", "avg_read_seconds"),
            ],
            |id| {
                OutboundRequest::get(
                    format!("{collection}/{}/stats", percent_encode(id)),
                    vec![(
                        "authorization",
                        HeaderValue::bearer(self.config.api_key.as_ref()),
                    )],
                )
            },
        )
        .await
    }

    async fn look_up(
        &self,
        post: &OutgoingPost,
        context: &LookupContext,
    ) -> Result<Lookup, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        if self.config.backend == Backend::Wordpress {
            let content: WebContent = typed_content(&CHANNEL, &post.content)?;
            return wordpress::look_up(&self.config, &self.http, &content, context).await;
        }
        services_look_up(
            &self.http,
            &CHANNEL,
            &self.collection(),
            self.config.api_key.as_ref(),
            post,
            context,
        )
        .await
    }

    async fn publish(
        &self,
        post: &OutgoingPost,
        context: &PublishContext,
    ) -> Result<PublishReceipt, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        if self.config.backend == Backend::Wordpress {
            let content: WebContent = typed_content(&CHANNEL, &post.content)?;
            return wordpress::publish(&self.config, &self.http, post, &content, context).await;
        }
        create_each(
            &self.http,
            &CHANNEL,
            &self.build_requests(post)?,
            &context.correlation_id,
        )
        .await
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

    fn wordpress(config: WebConfig) -> WebPublisher {
        WebPublisher::new(
            WebConfig {
                backend: Backend::Wordpress,
                ..config
            },
            halcytone_core::testkit::test_http_client(),
        )
    }

    fn post(content: serde_json::Value) -> OutgoingPost {
        OutgoingPost {
            id: PostId("post_9".to_owned()),
            scheduled_at: "2026-12-01T11:00:00+01:00[Europe/Paris]".parse().unwrap(),
            content: Content(content),
        }
    }

    #[test]
    fn the_wordpress_preview_shows_every_request_with_tag_placeholders() {
        let publisher = wordpress(WebConfig {
            base_url: Some(BaseUrl::parse("https://blog.example.com/").unwrap()),
            username: Some("halcytone".to_owned()),
            application_password: Some(SecretString::new("abcd efgh ijkl")),
            ..WebConfig::default()
        });
        let mut content = content();
        content["tags"] = serde_json::json!(["product", "R&D", "Product"]);
        let requests = publisher.build_requests(&post(content)).unwrap();
        let calls: Vec<(Method, &str)> = requests
            .iter()
            .map(|request| (request.method, request.url.as_str()))
            .collect();
        assert_eq!(
            calls,
            [
                (
                    Method::Get,
                    "https://blog.example.com/wp-json/wp/v2/posts?slug=sleep-timer-fades&status=any"
                ),
                (
                    Method::Get,
                    "https://blog.example.com/wp-json/wp/v2/tags?search=product&per_page=100"
                ),
                (Method::Post, "https://blog.example.com/wp-json/wp/v2/tags"),
                (
                    Method::Get,
                    "https://blog.example.com/wp-json/wp/v2/tags?search=R%26D&per_page=100"
                ),
                (Method::Post, "https://blog.example.com/wp-json/wp/v2/tags"),
                (Method::Post, "https://blog.example.com/wp-json/wp/v2/posts"),
            ]
        );
        // base64("halcytone:abcd efgh ijkl")
        assert_eq!(
            requests[0].headers[0].1.expose().as_deref(),
            Some("Basic aGFsY3l0b25lOmFiY2QgZWZnaCBpamts")
        );
        assert!(requests[0].body.is_none());
        assert_eq!(
            requests[2].body.as_ref().unwrap(),
            &serde_json::json!({"name": "product"})
        );
        assert_eq!(
            requests[5].body.as_ref().unwrap(),
            &serde_json::json!({
                "title": "Sleep timer fades", "content": "<p>x</p>", "excerpt": "E",
                "slug": "sleep-timer-fades", "status": "future", "date_gmt": "2026-12-01T10:00:00",
                "tags": ["<id of tag product>", "<id of tag R&D>"],
            })
        );
        for request in &requests {
            assert_eq!(request.redacted().headers["authorization"], "Basic ***");
            assert!(
                !request
                    .headers
                    .iter()
                    .any(|(name, _)| *name == "idempotency-key")
            );
        }
        assert!(!publisher.idempotent());
        assert!(publisher.missing_configuration().is_empty());
    }

    #[test]
    fn an_unconfigured_wordpress_names_its_keys_and_previews() {
        let publisher = wordpress(WebConfig {
            status: Some(crate::config::WordPressStatus::Draft),
            ..WebConfig::default()
        });
        assert_eq!(
            publisher.missing_configuration(),
            [
                "channels.web.base_url",
                "channels.web.username",
                "channels.web.application_password"
            ]
        );
        let preview = publisher.preview(&post(content())).unwrap();
        assert_eq!(
            preview[0].url,
            "https://wordpress.invalid/wp-json/wp/v2/posts?slug=sleep-timer-fades&status=any"
        );
        assert_eq!(preview[0].headers["authorization"], "Basic <unset>");
        let last = preview.last().unwrap().body.as_ref().unwrap();
        assert_eq!(last["status"], "draft");
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
