//! `TwitterPublisher`: renders, validates and previews posts and threads.

use halcytone_core::prelude::*;
use jiff::civil::time;
use serde::{Deserialize, Serialize};

use crate::CHANNEL;
use crate::config::TwitterConfig;
use crate::render::{MAX_WEIGHT, compose};
use crate::weighted::{WeightConfig, parse_post};
use crate::wire::{CreatePost, Reply};

/// A post or thread.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TwitterContent {
    pub(crate) parts: Vec<String>,
}

/// Publishes posts through the X API v2.
#[derive(Debug)]
pub struct TwitterPublisher {
    config: TwitterConfig,
}

impl TwitterPublisher {
    /// Makes a publisher from its configuration.
    pub fn new(config: TwitterConfig) -> Self {
        Self { config }
    }

    fn authorization(&self) -> HeaderValue {
        if self.config.bearer_token.is_none() && self.config.has_oauth1() {
            // The OAuth 1.0a header is signed per request; previews show its scheme.
            return HeaderValue::Secret {
                prefix: "OAuth ",
                secret: self.config.consumer_key.clone(),
            };
        }
        HeaderValue::bearer(self.config.bearer_token.as_ref())
    }

    /// The request for one part; `reply_to` is the id of the part before it.
    fn part_request(
        &self,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<OutboundRequest, PublishError> {
        let body = CreatePost {
            text,
            reply: reply_to.map(|id| Reply {
                in_reply_to_tweet_id: id,
            }),
        };
        OutboundRequest::json(
            &CHANNEL,
            Method::Post,
            self.config.base_url.join("/2/tweets"),
            vec![("authorization", self.authorization())],
            &body,
        )
    }
}

#[derive(Serialize)]
struct TemplateData<'a> {
    item: &'a ItemView,
    scheduled_at: String,
}

#[async_trait]
impl Publisher for TwitterPublisher {
    fn channel(&self) -> Channel {
        CHANNEL
    }

    fn default_cadence(&self) -> Cadence {
        Cadence(vec![
            SlotRule {
                days: Weekdays::EVERY_DAY,
                time: time(9, 0, 0, 0),
            },
            SlotRule {
                days: Weekdays::EVERY_DAY,
                time: time(17, 0, 0, 0),
            },
        ])
    }

    fn missing_configuration(&self) -> Vec<&'static str> {
        if self.config.bearer_token.is_some() || self.config.has_oauth1() {
            Vec::new()
        } else {
            vec!["channels.twitter.bearer_token (or the four OAuth 1.0a keys)"]
        }
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
        let lead = render_field(renderer, &CHANNEL, "parts", "twitter/post", &data)?;
        let tail: Vec<&str> = input
            .item
            .link
            .iter()
            .map(String::as_str)
            .chain(input.item.hashtags.iter().map(String::as_str))
            .collect();
        let parts = compose(
            &lead,
            &tail.join(" "),
            self.config.long_posts,
            self.config.max_thread_parts,
        );
        Content::from_typed(&CHANNEL, &TwitterContent { parts })
    }

    fn validate(&self, content: &Content) -> Result<(), PublishError> {
        let content: TwitterContent = typed_content(&CHANNEL, content)?;
        ensure(&CHANNEL, !content.parts.is_empty(), "parts", || {
            "is empty".to_owned()
        })?;
        let max_parts = self.config.max_thread_parts;
        ensure(&CHANNEL, content.parts.len() <= max_parts, "parts", || {
            format!(
                "has {} posts, more than max_thread_parts = {max_parts}",
                content.parts.len()
            )
        })?;
        let config = WeightConfig::v3();
        for (index, part) in content.parts.iter().enumerate() {
            let number = index + 1;
            ensure(&CHANNEL, !part.trim().is_empty(), "parts", || {
                format!("post {number} is empty")
            })?;
            let parsed = parse_post(part, &config);
            ensure(
                &CHANNEL,
                parsed.weighted_length <= MAX_WEIGHT,
                "parts",
                || {
                    format!(
                        "post {number} weighs {}, more than {MAX_WEIGHT}",
                        parsed.weighted_length
                    )
                },
            )?;
            ensure(&CHANNEL, parsed.valid, "parts", || {
                format!("post {number} has a character X refuses (U+FFFE, U+FEFF or U+FFFF)")
            })?;
        }
        Ok(())
    }

    fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError> {
        let content: TwitterContent = typed_content(&CHANNEL, &post.content)?;
        content
            .parts
            .iter()
            .enumerate()
            .map(|(index, part)| {
                let reply_to = (index > 0).then(|| format!("<id of part {index}>"));
                self.part_request(part, reply_to.as_deref())
            })
            .collect()
    }

    async fn publish(&self, _post: &OutgoingPost) -> Result<PublishReceipt, PublishError> {
        Err(PublishError::Unsupported {
            channel: CHANNEL,
            what: "publishing",
        })
    }
}
