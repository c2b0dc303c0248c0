//! `EmailPublisher`: renders, validates, previews and publishes the weekly
//! newsletter, through the CRM (here) or listmonk (`listmonk.rs`).

use halcytone_core::http::{create_each, services_create, services_look_up};
use halcytone_core::prelude::*;
use halcytone_core::text::truncate_on_word;
use jiff::civil::time;
use serde::{Deserialize, Serialize};

use crate::CHANNEL;
use crate::config::{Backend, EmailConfig};
use crate::listmonk;
use crate::wire::{NewsletterRequest, Split};

/// The longest subject line, in characters; mail clients cut around here.
const MAX_SUBJECT: usize = 150;
/// The longest preheader, in characters.
const MAX_PREHEADER: usize = 150;

/// Newsletters whose figures one pass reads, a call each.
const FIGURES_PER_PASS: usize = 50;
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
    /// The `channels.email.locales` entry whose audience it goes to; the
    /// channel's own `list_id` / `list_ids` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) locale: Option<String>,
    /// The segment whose issue it is, with its target: the CRM sends it to
    /// `crm_segment` of the list, listmonk to `listmonk_list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) segment: Option<Segment>,
    /// The issue's share of an A/B experiment (the CRM's `split`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) split: Option<Split>,
}

/// Publishes the newsletter through the CRM or listmonk.
#[derive(Debug)]
pub struct EmailPublisher {
    config: EmailConfig,
    http: HttpClient,
}

impl EmailPublisher {
    /// Makes a publisher from its configuration and the shared HTTP client.
    pub fn new(config: EmailConfig, http: HttpClient) -> Self {
        Self { config, http }
    }

    /// The CRM's collection URL (`/api/v1/newsletters`): creates go there, and
    /// look-ups by idempotency key ask it.
    fn collection(&self) -> String {
        self.config
            .base_url
            .as_ref()
            .unwrap_or(&UNCONFIGURED_BASE_URL)
            .join("/api/v1/newsletters")
    }
}

#[derive(Serialize)]
struct TemplateData<'a> {
    item: &'a ItemView,
    includes: &'a [&'a ItemView],
    scheduled_at: String,
    intro: String,
    preheader: &'a str,
    /// The segment of the issue (`{id, name}`), so an issue can open
    /// differently for it; absent without segments.
    segment: Option<&'a Segment>,
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

    /// The CRM takes idempotency keys; listmonk has none.
    fn idempotent(&self) -> bool {
        self.config.backend == Backend::Crm
    }

    fn missing_configuration(&self) -> Vec<&'static str> {
        let config = &self.config;
        let keys = match config.backend {
            Backend::Crm => vec![
                ("channels.email.base_url", config.base_url.is_some()),
                ("channels.email.api_key", config.api_key.is_some()),
                ("channels.email.list_id", config.list_id.is_some()),
            ],
            Backend::Listmonk => vec![
                ("channels.email.base_url", config.base_url.is_some()),
                ("channels.email.username", config.username.is_some()),
                ("channels.email.api_key", config.api_key.is_some()),
                ("channels.email.list_ids", !config.list_ids.is_empty()),
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
        // The language's own entry, or its base language's (`de` for `de-AT`).
        let locale = Locale::parse(input.locale).ok().and_then(|locale| {
            locale.fallbacks().into_iter().find_map(|tag| {
                self.config.locales.iter().find(|(code, _)| {
                    Locale::parse(code).is_ok_and(|configured| configured.code() == tag)
                })
            })
        });
        let configured = locale
            .and_then(|(_, entry)| entry.intro.clone())
            .or_else(|| self.config.intro.clone());
        let mut data = TemplateData {
            item: input.item,
            includes: input.includes,
            scheduled_at: input.scheduled_at.to_string(),
            intro: String::new(),
            preheader: "",
            segment: input.segment,
        };
        data.intro = match configured {
            Some(intro) => intro,
            None => render_field(renderer, &CHANNEL, "intro", "email/intro", &data)?
                .trim()
                .to_owned(),
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
            locale: locale.map(|(code, _)| code.clone()),
            segment: input.segment.cloned(),
            split: None,
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
        })?;
        if let Some(segment) = &content.segment {
            let (key, set) = match self.config.backend {
                Backend::Crm => ("crm_segment", segment.crm_segment.is_some()),
                Backend::Listmonk => ("listmonk_list", segment.listmonk_list.is_some()),
            };
            ensure(&CHANNEL, set, "segment", || {
                format!(
                    "segment `{}` has no {key}, which the {} backend sends an issue to",
                    segment.id, self.config.backend
                )
            })?;
        }
        if let Some(split) = &content.split {
            ensure(
                &CHANNEL,
                self.config.backend == Backend::Crm,
                "split",
                || "is an A/B experiment's, which only the crm backend can send".to_owned(),
            )?;
            let share = split.fraction.unwrap_or(0.0);
            let valid = match split.arm.as_str() {
                "A" | "B" => split.rest.is_none() && share > 0.0 && share <= 0.5,
                "winner" => split.rest == Some(true) && split.fraction.is_none(),
                _ => false,
            };
            ensure(&CHANNEL, valid, "split", || {
                "must be an arm A or B with a fraction in (0, 0.5], or the winner with rest: true"
                    .to_owned()
            })?;
        }
        if let Some(locale) = &content.locale {
            ensure(
                &CHANNEL,
                self.config.locales.contains_key(locale),
                "locale",
                || format!("channels.email.locales has no `{locale}` to send it to"),
            )?;
        }
        if self.config.backend == Backend::Listmonk {
            // listmonk reads `{{` as Go template syntax in all three.
            for (field, value) in [
                ("subject", &content.subject),
                ("html", &content.html),
                ("text", &content.text),
            ] {
                ensure(&CHANNEL, !value.contains("{{"), field, || {
                    "contains `{{`, which listmonk reads as template syntax".to_owned()
                })?;
            }
        }
        Ok(())
    }

    fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError> {
        let content: EmailContent = typed_content(&CHANNEL, &post.content)?;
        if self.config.backend == Backend::Listmonk {
            return listmonk::requests(&self.config, post, &content);
        }
        let body = NewsletterRequest {
            subject: &content.subject,
            preheader: &content.preheader,
            html: &content.html,
            text: &content.text,
            list_id: self
                .config
                .audience(content.locale.as_deref())
                .list_id
                .as_deref()
                .unwrap_or("<unset>"),
            send_at: post.scheduled_at.timestamp().to_string(),
            tags: &self.config.tags,
            segment: content
                .segment
                .as_ref()
                .and_then(|segment| segment.crm_segment.as_deref()),
            split: content.split.as_ref(),
        };
        Ok(vec![services_create(
            &CHANNEL,
            self.collection(),
            self.config.api_key.as_ref(),
            post,
            &body,
        )?])
    }

    /// The newsletter has an issue per segment.
    fn takes_segments(&self) -> bool {
        true
    }

    /// The CRM splits one send between arms; listmonk cannot.
    fn experiments(&self) -> Option<ExperimentKind> {
        (self.config.backend == Backend::Crm).then_some(ExperimentKind::Split)
    }

    fn experiments_refused(&self) -> Option<(ExperimentKind, &'static str)> {
        (self.config.backend == Backend::Listmonk).then_some((
            ExperimentKind::Split,
            "listmonk cannot split one send between arms (the CRM backend can)",
        ))
    }

    /// Arm B's subject is the item's `Subject B:`; the split is the arm's
    /// share of the list, or the rest for the winner's send.
    fn vary(&self, content: &Content, variation: &Variation<'_>) -> Result<Content, PublishError> {
        ensure(
            &CHANNEL,
            self.config.backend == Backend::Crm,
            "split",
            || "cannot be sent: only the crm backend splits a send".to_owned(),
        )?;
        let mut content: EmailContent = typed_content(&CHANNEL, content)?;
        if let Some(subject) = variation.text {
            subject.clone_into(&mut content.subject);
        }
        let winner = variation.arm == Arm::Winner;
        content.split = Some(Split {
            experiment: variation.experiment.to_owned(),
            arm: variation.arm.as_str().to_owned(),
            fraction: (!winner).then_some(variation.fraction),
            rest: winner.then_some(true),
        });
        Content::from_typed(&CHANNEL, &content)
    }

    fn metrics_batch(&self) -> usize {
        FIGURES_PER_PASS
    }

    /// CRM: `GET /api/v1/newsletters/{id}/stats`; listmonk: the campaign,
    /// `GET /api/campaigns/{id}`. One newsletter at a time.
    async fn fetch_metrics(
        &self,
        posts: &[MetricsTarget],
        correlation_id: &str,
    ) -> Result<Vec<Reading>, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        if self.config.backend == Backend::Listmonk {
            return listmonk::fetch_metrics(&self.config, &self.http, posts, correlation_id).await;
        }
        let collection = self.collection();
        read_each_post(
            &self.http,
            &CHANNEL,
            posts,
            correlation_id,
            &[
                ("/sent", "sent"),
                ("/delivered", "delivered"),
                ("/opens", "opens"),
                ("/unique_opens", "unique_opens"),
                ("/clicks", "clicks"),
                ("/unique_clicks", "unique_clicks"),
                ("/unsubscribes", "unsubscribes"),
                ("/bounces", "bounces"),
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
        if self.config.backend == Backend::Listmonk {
            let content: EmailContent = typed_content(&CHANNEL, &post.content)?;
            return listmonk::look_up(&self.config, &self.http, post, &content, context).await;
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
        if self.config.backend == Backend::Listmonk {
            let content: EmailContent = typed_content(&CHANNEL, &post.content)?;
            return listmonk::publish(&self.config, &self.http, post, &content, context).await;
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
    use halcytone_core::document::{Item, ItemId, Location, Priority};
    use halcytone_core::publisher::PostId;

    use super::*;
    use crate::config::EmailLocale;

    fn item(title: &str, body: &str) -> ItemView {
        let item = Item {
            id: ItemId::new("Breathscape", title),
            section: "Breathscape".to_owned(),
            title: title.to_owned(),
            tags: vec!["breathscape".to_owned()],
            channels: None,
            date: None,
            priority: Priority::Normal,
            link: Some("https://halcytone.example/a?b=1&c=2".to_owned()),
            segments: None,
            subject_b: None,
            hook_b: None,
            body: body.to_owned(),
            location: Location::Line(1),
        };
        ItemView::new(&item, "Breathscape")
    }

    fn publisher() -> EmailPublisher {
        EmailPublisher::new(
            EmailConfig {
                base_url: Some(BaseUrl::parse("https://crm.example.com/").unwrap()),
                api_key: Some(SecretString::new("crm-key")),
                list_id: Some("newsletter-main".to_owned()),
                ..EmailConfig::default()
            },
            halcytone_core::testkit::test_http_client(),
        )
    }

    #[test]
    fn a_language_goes_to_its_own_list_with_its_own_intro() {
        let mut config = publisher().config;
        config.locales.insert(
            "de".to_owned(),
            EmailLocale {
                list_id: Some("newsletter-de".to_owned()),
                intro: Some("Das hat uns diese Woche bewegt.".to_owned()),
                ..EmailLocale::default()
            },
        );
        let publisher = EmailPublisher::new(config, halcytone_core::testkit::test_http_client());
        let featured = item("Morgenatmung", "Jeden Morgen.");
        let at = "2026-11-30T09:00:00+01:00[Europe/Berlin]".parse().unwrap();
        let id = PostId("post_de".to_owned());
        let renderer = Renderer::new(None)
            .unwrap()
            .in_locale(Locale::parse("de-AT").unwrap());
        let input = RenderInput {
            post_id: &id,
            scheduled_at: &at,
            item: &featured,
            includes: &[],
            locale: renderer.locale(),
            segment: None,
        };
        let content = publisher.render(&input, &renderer).unwrap();
        publisher.validate(&content).unwrap();
        // Without an intro of its own, a German newsletter opens with the
        // German `email/intro` template, and goes to the channel's list.
        let plain = self::publisher().render(&input, &renderer).unwrap();
        let plain: EmailContent = typed_content(&CHANNEL, &plain).unwrap();
        assert!(
            plain
                .text
                .contains("\n\nDas hat uns diese Woche bewegt.\n\n"),
            "{}",
            plain.text
        );
        assert_eq!(plain.locale, None);
        let email: EmailContent = typed_content(&CHANNEL, &content).unwrap();
        // de-AT takes the `de` entry, and the bundled German templates.
        assert_eq!(email.locale.as_deref(), Some("de"));
        assert_eq!(email.subject, "Diese Woche bei Breathscape: Morgenatmung");
        assert!(
            email
                .text
                .starts_with("DIESE WOCHE BEI BREATHSCAPE · 30. November 2026"),
            "{}",
            email.text
        );
        assert!(email.text.contains("Das hat uns diese Woche bewegt."));
        assert!(
            email
                .html
                .starts_with("<!doctype html>\n<html lang=\"de\">")
        );
        let post = OutgoingPost {
            id,
            scheduled_at: at,
            content,
        };
        let requests = publisher.build_requests(&post).unwrap();
        assert_eq!(
            requests[0].body.as_ref().unwrap()["list_id"],
            "newsletter-de"
        );
        // An edit naming a language the channel has no audience for is refused.
        let mut edited = email.clone();
        edited.locale = Some("fr".to_owned());
        let error = publisher
            .validate(&Content::from_typed(&CHANNEL, &edited).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("channels.email.locales has no `fr`"),
            "{error}"
        );
        // English posts keep the channel's own list and carry no locale.
        let english = render("Morning", "Every morning.");
        let email: EmailContent = typed_content(&CHANNEL, &english.content).unwrap();
        assert_eq!(email.locale, None);
        let requests = self::publisher().build_requests(&english).unwrap();
        assert_eq!(
            requests[0].body.as_ref().unwrap()["list_id"],
            "newsletter-main"
        );
    }

    #[test]
    fn a_segments_issue_goes_to_its_segment_and_its_template_sees_it() {
        let segment = Segment {
            id: "lapsed".to_owned(),
            name: "Lapsed members".to_owned(),
            crm_segment: Some("seg_lapsed".to_owned()),
            listmonk_list: Some(7),
        };
        let featured = item("Welcome back", "We missed you.");
        let at = "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap();
        let id = PostId("post_seg".to_owned());
        let renderer = Renderer::new(None).unwrap();
        let input = RenderInput {
            post_id: &id,
            scheduled_at: &at,
            item: &featured,
            includes: &[],
            locale: renderer.locale(),
            segment: Some(&segment),
        };
        let crm = publisher();
        let content = crm.render(&input, &renderer).unwrap();
        crm.validate(&content).unwrap();
        let post = OutgoingPost {
            id: id.clone(),
            scheduled_at: at.clone(),
            content: content.clone(),
        };
        let body = crm.build_requests(&post).unwrap()[0].body.clone().unwrap();
        assert_eq!(body["segment"], "seg_lapsed");
        assert_eq!(body["list_id"], "newsletter-main");
        // listmonk sends the issue to the segment's list alone.
        let listmonk = EmailPublisher::new(
            EmailConfig {
                backend: Backend::Listmonk,
                base_url: Some(BaseUrl::parse("https://lists.example.com/").unwrap()),
                username: Some("halcytone".to_owned()),
                api_key: Some(SecretString::new("token")),
                list_ids: vec![3],
                ..EmailConfig::default()
            },
            halcytone_core::testkit::test_http_client(),
        );
        let body = listmonk.build_requests(&post).unwrap()[0]
            .body
            .clone()
            .unwrap();
        assert_eq!(body["lists"], serde_json::json!([7]));
        // A segment without the backend's target is refused, naming it.
        let mut untargeted = segment.clone();
        untargeted.crm_segment = None;
        let input = RenderInput {
            segment: Some(&untargeted),
            ..input
        };
        let error = crm
            .validate(&crm.render(&input, &renderer).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(
                "segment `lapsed` has no crm_segment, which the crm backend sends an issue to"
            ),
            "{error}"
        );
        // Without a segment, no `segment` is sent.
        let plain = render("Morning", "Every morning.");
        let body = crm.build_requests(&plain).unwrap()[0].body.clone().unwrap();
        assert!(body.get("segment").is_none());
    }

    fn render(title: &str, body: &str) -> OutgoingPost {
        let featured = item(title, body);
        let other = item("Second <item>", "Second body.");
        let at = "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap();
        let id = PostId("post_1".to_owned());
        let content = publisher()
            .render(
                &RenderInput {
                    post_id: &id,
                    scheduled_at: &at,
                    item: &featured,
                    includes: &[&other],
                    locale: "en-GB",
                    segment: None,
                },
                &Renderer::new(None).unwrap(),
            )
            .unwrap();
        OutgoingPost {
            id,
            scheduled_at: at,
            content,
        }
    }

    #[test]
    fn document_text_is_escaped_and_bodies_are_sanitised_in_the_html() {
        let post = render(
            "Calm & <b>bold</b>",
            "Hello <script>alert(1)</script> **world**",
        );
        let content: EmailContent = post.content.to_typed().unwrap();
        assert!(
            content.html.contains("Calm &amp; &lt;b&gt;bold&lt;/b&gt;"),
            "{}",
            content.html
        );
        assert!(content.html.contains("Second &lt;item&gt;"));
        assert!(!content.html.contains("<script"));
        assert!(content.html.contains("<strong>world</strong>"));
        assert!(
            content
                .html
                .contains("href=\"https://halcytone.example/a?b&#x3D;1&amp;c&#x3D;2\""),
            "{}",
            content.html
        );
        assert_eq!(
            content.subject,
            "This Week in Breathscape: Calm & <b>bold</b>"
        );
        assert_eq!(content.preheader, "Plus: Second <item>");
        assert!(
            content.text.contains("Hello alert(1) world"),
            "{}",
            content.text
        );
        publisher().validate(&post.content).unwrap();
    }

    #[test]
    fn the_request_is_the_crm_bulk_call() {
        let post = render("Morning", "Body.");
        let requests = publisher().build_requests(&post).unwrap();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://crm.example.com/api/v1/newsletters");
        let preview = request.redacted();
        assert_eq!(preview.headers["authorization"], "Bearer ***");
        assert_eq!(preview.headers["idempotency-key"], "halcytone-post_1");
        assert_eq!(preview.headers["content-type"], "application/json");
        let body = request.body.as_ref().unwrap();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "subject",
                "preheader",
                "html",
                "text",
                "list_id",
                "send_at",
                "tags"
            ]
        );
        assert_eq!(body["list_id"], "newsletter-main");
        assert_eq!(body["send_at"], "2026-11-30T09:00:00Z");
        assert_eq!(body["tags"], serde_json::json!(["breathscape", "weekly"]));
        assert!(publisher().missing_configuration().is_empty());
        assert_eq!(
            EmailPublisher::new(
                EmailConfig::default(),
                halcytone_core::testkit::test_http_client()
            )
            .missing_configuration(),
            [
                "channels.email.base_url",
                "channels.email.api_key",
                "channels.email.list_id"
            ]
        );
    }

    fn listmonk_publisher() -> EmailPublisher {
        EmailPublisher::new(
            EmailConfig {
                backend: Backend::Listmonk,
                base_url: Some(BaseUrl::parse("https://lists.example.com/").unwrap()),
                username: Some("halcytone".to_owned()),
                api_key: Some(SecretString::new("listmonk-token")),
                list_ids: vec![3, 7],
                ..EmailConfig::default()
            },
            halcytone_core::testkit::test_http_client(),
        )
    }

    #[test]
    fn listmonk_creates_a_campaign_then_schedules_it() {
        let listmonk = listmonk_publisher();
        let post = render("Morning", "Body.");
        let content: EmailContent = post.content.to_typed().unwrap();
        let requests = listmonk.build_requests(&post).unwrap();
        assert_eq!(requests.len(), 2);
        let (create, schedule) = (&requests[0], &requests[1]);
        assert_eq!(create.method, Method::Post);
        assert_eq!(create.url, "https://lists.example.com/api/campaigns");
        assert_eq!(
            create.headers[0].1.expose().as_deref(),
            Some("token halcytone:listmonk-token")
        );
        assert_eq!(create.redacted().headers["authorization"], "token ***");
        assert!(
            !create
                .headers
                .iter()
                .any(|(name, _)| *name == "idempotency-key"),
            "listmonk has no idempotency keys"
        );
        assert_eq!(
            create.body.as_ref().unwrap(),
            &serde_json::json!({
                "name": "This Week in Breathscape: Morning [halcytone-post_1]",
                "subject": "This Week in Breathscape: Morning",
                "lists": [3, 7], "type": "regular", "content_type": "html",
                "body": content.html, "altbody": content.text,
                "send_at": "2026-11-30T09:00:00Z", "tags": ["breathscape", "weekly"],
            })
        );
        assert_eq!(schedule.method, Method::Put);
        assert_eq!(
            schedule.url,
            "https://lists.example.com/api/campaigns/<campaign id>/status"
        );
        assert_eq!(
            schedule.body.as_ref().unwrap(),
            &serde_json::json!({"status": "scheduled"})
        );
        assert_eq!(schedule.redacted().headers["authorization"], "token ***");
        assert!(!listmonk.idempotent());
        assert!(publisher().idempotent());
        assert!(listmonk.missing_configuration().is_empty());
    }

    #[test]
    fn listmonk_sends_the_optional_sender_and_template() {
        let publisher = EmailPublisher::new(
            EmailConfig {
                from_email: Some("Breathscape <news@halcytone.example>".to_owned()),
                template_id: Some(4),
                ..listmonk_publisher().config
            },
            halcytone_core::testkit::test_http_client(),
        );
        let requests = publisher
            .build_requests(&render("Morning", "Body."))
            .unwrap();
        let body = requests[0].body.as_ref().unwrap();
        assert_eq!(body["from_email"], "Breathscape <news@halcytone.example>");
        assert_eq!(body["template_id"], 4);
    }

    #[test]
    fn an_unconfigured_listmonk_names_its_keys_and_previews() {
        let publisher = EmailPublisher::new(
            EmailConfig {
                backend: Backend::Listmonk,
                ..EmailConfig::default()
            },
            halcytone_core::testkit::test_http_client(),
        );
        assert_eq!(
            publisher.missing_configuration(),
            [
                "channels.email.base_url",
                "channels.email.username",
                "channels.email.api_key",
                "channels.email.list_ids"
            ]
        );
        let preview = publisher.preview(&render("Morning", "Body.")).unwrap();
        assert_eq!(preview[0].url, "https://listmonk.invalid/api/campaigns");
        assert_eq!(preview[0].headers["authorization"], "token <unset>");
        assert_eq!(
            preview[0].body.as_ref().unwrap()["lists"],
            serde_json::json!([])
        );
    }

    #[test]
    fn listmonk_refuses_template_syntax() {
        let content = serde_json::json!({"subject": "S", "preheader": "P", "html": "<p>{{ x }}</p>", "text": "x"});
        assert_eq!(
            listmonk_publisher()
                .validate(&Content(content.clone()))
                .unwrap_err()
                .to_string(),
            "email post is invalid: html contains `{{`, which listmonk reads as template syntax"
        );
        publisher().validate(&Content(content)).unwrap();
    }

    #[test]
    fn validation_names_the_field_and_the_rule() {
        let check = |content: serde_json::Value| {
            publisher()
                .validate(&Content(content))
                .unwrap_err()
                .to_string()
        };
        let valid =
            serde_json::json!({"subject": "S", "preheader": "P", "html": "<p>x</p>", "text": "x"});
        let with = |key: &str, value: serde_json::Value| {
            let mut content = valid.clone();
            content[key] = value;
            content
        };
        assert_eq!(
            check(with("subject", " ".into())),
            "email post is invalid: subject is empty"
        );
        assert_eq!(
            check(with("subject", "x".repeat(151).into())),
            "email post is invalid: subject is 151 characters, more than 150"
        );
        assert_eq!(
            check(with("subject", "a\nb".into())),
            "email post is invalid: subject contains a line break"
        );
        assert_eq!(
            check(with("html", "".into())),
            "email post is invalid: html is empty"
        );
        assert!(
            check(serde_json::json!({"subject": "S"}))
                .starts_with("email post is invalid: content does not have the email shape")
        );
    }

    #[test]
    fn an_arm_carries_its_subject_and_share_and_the_winner_goes_to_the_rest() {
        let featured = item("Sleep timer", "Fades out.");
        let at: jiff::ZonedDateTime = "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap();
        let id = PostId("post_arm".to_owned());
        let renderer = Renderer::new(None).unwrap();
        let input = RenderInput {
            post_id: &id,
            scheduled_at: &at,
            item: &featured,
            includes: &[],
            locale: renderer.locale(),
            segment: None,
        };
        let crm = publisher();
        assert_eq!(crm.experiments(), Some(ExperimentKind::Split));
        assert_eq!(crm.experiments_refused(), None);
        let arm_a = crm.render(&input, &renderer).unwrap();
        let variation = |arm, text| Variation {
            experiment: "exp_1",
            arm,
            fraction: 0.2,
            text,
        };
        let arm_b = crm
            .vary(&arm_a, &variation(Arm::B, Some("Fall asleep to the fade")))
            .unwrap();
        crm.validate(&arm_b).unwrap();
        let body = |content: &Content| {
            let post = OutgoingPost {
                id: id.clone(),
                scheduled_at: at.clone(),
                content: content.clone(),
            };
            crm.build_requests(&post).unwrap()[0].body.clone().unwrap()
        };
        let sent = body(&arm_b);
        assert_eq!(sent["subject"], "Fall asleep to the fade");
        assert_eq!(
            sent["split"],
            serde_json::json!({"experiment": "exp_1", "arm": "B", "fraction": 0.2})
        );
        assert_eq!(
            body(&arm_a).get("split"),
            None,
            "a post of no experiment has no split"
        );
        let winner = crm.vary(&arm_b, &variation(Arm::Winner, None)).unwrap();
        crm.validate(&winner).unwrap();
        let sent = body(&winner);
        assert_eq!(
            sent["subject"], "Fall asleep to the fade",
            "the winner's content"
        );
        assert_eq!(
            sent["split"],
            serde_json::json!({"experiment": "exp_1", "arm": "winner", "rest": true})
        );
        // A share of more than half the list, or listmonk, is refused.
        let greedy = crm
            .vary(
                &arm_a,
                &Variation {
                    fraction: 0.6,
                    ..variation(Arm::A, None)
                },
            )
            .unwrap();
        assert!(
            crm.validate(&greedy)
                .unwrap_err()
                .to_string()
                .contains("split must be")
        );
        let listmonk = EmailPublisher::new(
            EmailConfig {
                backend: Backend::Listmonk,
                ..EmailConfig::default()
            },
            halcytone_core::testkit::test_http_client(),
        );
        assert_eq!(listmonk.experiments(), None);
        assert!(
            listmonk
                .experiments_refused()
                .is_some_and(|(kind, why)| kind == ExperimentKind::Split && why.contains("CRM"))
        );
        assert!(
            listmonk
                .validate(&arm_b)
                .unwrap_err()
                .to_string()
                .contains("only the crm backend can send")
        );
    }
}
