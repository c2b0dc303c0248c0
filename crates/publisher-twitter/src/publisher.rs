//! `TwitterPublisher`: renders, validates and previews posts and threads.

use std::time::SystemTime;

use halcytone_core::prelude::*;
use halcytone_core::text::replace_first_line;
use jiff::civil::time;
use serde::{Deserialize, Serialize};

use crate::CHANNEL;
use crate::config::TwitterConfig;
use crate::error::{parse_error, quota_left};
use crate::lookup::{MAX_PAGES, Me, Timeline, match_parts, timeline_query};
use crate::oauth1;
use crate::render::{MAX_WEIGHT, compose};
use crate::weighted::{WeightConfig, parse_post};
use crate::wire::{CreatePost, Created, Reply};

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
    http: HttpClient,
}

impl TwitterPublisher {
    /// Makes a publisher from its configuration and the shared HTTP client.
    pub fn new(config: TwitterConfig, http: HttpClient) -> Self {
        Self { config, http }
    }

    /// Signs `request` with the OAuth 1.0a keys when they, not a bearer
    /// token, are configured: the header is computed per request (nonce,
    /// timestamp), so previews show only `OAuth ***`.
    fn authorize(&self, mut request: OutboundRequest) -> OutboundRequest {
        if self.config.bearer_token.is_some() {
            return request;
        }
        let (Some(consumer_key), Some(consumer_secret), Some(token), Some(token_secret)) = (
            &self.config.consumer_key,
            &self.config.consumer_secret,
            &self.config.access_token,
            &self.config.access_token_secret,
        ) else {
            return request;
        };
        let keys = oauth1::Keys {
            consumer_key,
            consumer_secret,
            token,
            token_secret,
        };
        let timestamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let signed = oauth1::header_value(
            &keys,
            request.method.as_str(),
            &request.url,
            &oauth1::nonce(),
            timestamp,
        );
        for (name, value) in &mut request.headers {
            if *name == "authorization" {
                *value = HeaderValue::Secret {
                    prefix: "OAuth ",
                    secret: Some(SecretString::new(signed.clone())),
                };
            }
        }
        request
    }

    /// Posts one part and returns its id, with what X says is left of its
    /// 24-hour quotas.
    async fn send_part(
        &self,
        request: &OutboundRequest,
        correlation_id: &str,
    ) -> Result<(String, Option<QuotaLeft>), PublishError> {
        let response = self.http.send(&CHANNEL, request, correlation_id).await?;
        if !is_success(response.status) {
            return Err(parse_error(&response, SystemTime::now()));
        }
        let created: Created = response.json(CHANNEL)?;
        Ok((created.data.id, quota_left(&response)))
    }

    /// Reads a `GET` of the API, signed like a post.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        correlation_id: &str,
    ) -> Result<T, PublishError> {
        let request = self.authorize(OutboundRequest::get(
            url,
            vec![("authorization", self.authorization())],
        ));
        self.http
            .send_json(&CHANNEL, &request, correlation_id, |response| {
                parse_error(response, SystemTime::now())
            })
            .await
    }

    /// Every post of the authenticated account since `context.since`, or
    /// `None` when there are more than [`MAX_PAGES`] pages of them.
    async fn own_posts(
        &self,
        context: &LookupContext,
    ) -> Result<Option<(String, Vec<crate::lookup::TimelinePost>)>, PublishError> {
        let me: Me = self
            .get(
                self.config.base_url.join("/2/users/me"),
                &context.correlation_id,
            )
            .await?;
        if me.data.id.is_empty() || !me.data.id.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(PublishError::Permanent {
                service: CHANNEL.into(),
                status: 200,
                message: format!("/2/users/me gave `{}`, which is not a user id", me.data.id),
            });
        }
        let timeline = self
            .config
            .base_url
            .join(&format!("/2/users/{}/tweets", me.data.id));
        let mut posts = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let url = format!(
                "{timeline}?{}",
                timeline_query(context.since, page.as_deref())
            );
            let read: Timeline = self.get(url, &context.correlation_id).await?;
            posts.extend(read.data);
            match read.meta.next_token {
                Some(next) => page = Some(next),
                None => return Ok(Some((me.data.username, posts))),
            }
        }
        Ok(None)
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

    /// X's free tier allows 17 posts a user in 24 hours.
    fn default_daily_cap(&self) -> Option<u32> {
        Some(17)
    }

    /// The arms go out in two of the channel's slots.
    fn experiments(&self) -> Option<ExperimentKind> {
        Some(ExperimentKind::Slots)
    }

    /// Arm B opens with the item's `Hook B:` instead of its first line.
    fn vary(&self, content: &Content, variation: &Variation<'_>) -> Result<Content, PublishError> {
        let mut content: TwitterContent = typed_content(&CHANNEL, content)?;
        if let (Some(hook), Some(first)) = (variation.text, content.parts.first_mut()) {
            *first = replace_first_line(first, hook);
        }
        Content::from_typed(&CHANNEL, &content)
    }

    fn metrics_batch(&self) -> usize {
        crate::metrics::IDS_PER_CALL
    }

    /// `GET /2/tweets` allows 15 calls a user in 15 minutes on the Basic tier.
    fn default_metrics_rate_limit(&self) -> Option<RateLimit> {
        Some(RateLimit {
            count: 15,
            period: std::time::Duration::from_secs(15 * 60),
        })
    }

    async fn fetch_metrics(
        &self,
        posts: &[MetricsTarget],
        correlation_id: &str,
    ) -> Result<Vec<Reading>, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        let ids: Vec<&str> = posts
            .iter()
            .flat_map(|post| post.external_ids.iter().map(String::as_str))
            .collect();
        let mut found = Vec::new();
        for chunk in ids.chunks(crate::metrics::IDS_PER_CALL) {
            let url = format!(
                "{}?{}",
                self.config.base_url.join("/2/tweets"),
                crate::metrics::query(chunk)
            );
            let answer: crate::metrics::Tweets = self.get(url, correlation_id).await?;
            found.extend(answer.data);
        }
        Ok(crate::metrics::readings(posts, &found))
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

    fn measure(&self, content: &Content) -> Vec<Measured> {
        let Ok(content) = content.to_typed::<TwitterContent>() else {
            return Vec::new();
        };
        let config = WeightConfig::v3();
        content
            .parts
            .into_iter()
            .enumerate()
            .map(|(index, part)| Measured {
                label: format!("post {}", index + 1),
                length: parse_post(&part, &config).weighted_length,
                text: part,
                limit: MAX_WEIGHT,
            })
            .collect()
    }

    fn external_url(&self, external_id: &str) -> Option<String> {
        Some(format!("https://x.com/i/web/status/{external_id}"))
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

    /// `GET /2/users/me` with the configured credentials.
    async fn preflight(&self, _now: jiff::Timestamp) -> Vec<Check> {
        const NAME: &str = "twitter.credentials";
        if !self.missing_configuration().is_empty() {
            return Vec::new();
        }
        let me: Result<Me, PublishError> = self
            .get(
                self.config.base_url.join("/2/users/me"),
                "preflight-twitter",
            )
            .await;
        vec![match me {
            Ok(me) => Check::pass(NAME, format!("X accepts them for @{}", me.data.username)),
            Err(error) => Check::fail(NAME, format!("GET /2/users/me: {error}")),
        }]
    }

    async fn look_up(
        &self,
        post: &OutgoingPost,
        context: &LookupContext,
    ) -> Result<Lookup, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        let content: TwitterContent = typed_content(&CHANNEL, &post.content)?;
        let since = context.since.strftime("%Y-%m-%dT%H:%M:%SZ");
        let Some((account, posts)) = self.own_posts(context).await? else {
            return Ok(Lookup::Unsure {
                reason: format!(
                    "the account posted more than {MAX_PAGES} pages of posts since {since}; too many to prove an absence"
                ),
            });
        };
        let ids = match match_parts(&content.parts, &context.already_sent, &posts) {
            Ok(ids) => ids,
            Err(reason) => return Ok(Lookup::Unsure { reason }),
        };
        let total = content.parts.len();
        let searched = format!("{} posts of @{account} since {since}", posts.len());
        Ok(if ids.len() == total {
            Lookup::Published {
                evidence: format!("found among the {searched}: {}", ids.join(", ")),
                external_ids: ids,
            }
        } else {
            Lookup::Absent {
                evidence: if ids.is_empty() {
                    format!("not among the {searched}")
                } else {
                    format!(
                        "posts 1-{} of {total} are out ({}); post {} is not among the {searched}",
                        ids.len(),
                        ids.join(", "),
                        ids.len() + 1
                    )
                },
                sent: ids,
            }
        })
    }

    async fn publish(
        &self,
        post: &OutgoingPost,
        context: &PublishContext,
    ) -> Result<PublishReceipt, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        let content: TwitterContent = typed_content(&CHANNEL, &post.content)?;
        let mut ids = context.already_sent.clone();
        if ids.len() > content.parts.len() {
            return Err(PublishError::Invalid {
                channel: CHANNEL,
                field: "parts",
                reason: format!(
                    "has {} parts but {} already went out; the thread was edited after it started",
                    content.parts.len(),
                    ids.len()
                ),
            });
        }
        // Each part replies to the one before it; after a failure the thread
        // resumes from the next part and never posts a sent part again.
        let mut left = None;
        for part in &content.parts[ids.len()..] {
            let request = self.authorize(self.part_request(part, ids.last().map(String::as_str))?);
            match self.send_part(&request, &context.correlation_id).await {
                Ok((id, quota)) => {
                    ids.push(id);
                    left = quota.or(left);
                }
                Err(error) if ids.is_empty() => return Err(error),
                Err(error) => {
                    return Err(PublishError::Partial {
                        sent: ids,
                        error: Box::new(error),
                    });
                }
            }
        }
        let url = ids
            .first()
            .map(|id| format!("https://x.com/i/web/status/{id}"));
        Ok(PublishReceipt {
            external_ids: ids,
            url,
            quota_left: left,
        })
    }
}

#[cfg(test)]
mod tests {
    use halcytone_core::publisher::PostId;

    use super::*;

    fn http() -> HttpClient {
        HttpClient::new(std::time::Duration::from_secs(5)).unwrap()
    }

    fn post(parts: &[&str]) -> OutgoingPost {
        OutgoingPost {
            id: PostId("post_1".to_owned()),
            scheduled_at: "2026-11-30T09:00:00+00:00[UTC]".parse().unwrap(),
            content: Content(serde_json::json!({ "parts": parts })),
        }
    }

    #[test]
    fn threads_are_replies_in_order() {
        let publisher = TwitterPublisher::new(
            TwitterConfig {
                bearer_token: Some(SecretString::new("user-token")),
                ..TwitterConfig::default()
            },
            http(),
        );
        let requests = publisher
            .build_requests(&post(&["one 1/3", "two 2/3", "three 3/3"]))
            .unwrap();
        let bodies: Vec<&serde_json::Value> = requests
            .iter()
            .map(|request| request.body.as_ref().unwrap())
            .collect();
        assert_eq!(bodies[0], &serde_json::json!({"text": "one 1/3"}));
        assert_eq!(
            bodies[1],
            &serde_json::json!({"text": "two 2/3", "reply": {"in_reply_to_tweet_id": "<id of part 1>"}})
        );
        assert_eq!(bodies[2]["reply"]["in_reply_to_tweet_id"], "<id of part 2>");
        assert!(
            requests
                .iter()
                .all(|request| request.url == "https://api.x.com/2/tweets")
        );
        assert_eq!(
            requests[0].headers[0].1.expose().as_deref(),
            Some("Bearer user-token")
        );
        assert_eq!(
            requests[0].redacted().headers["authorization"],
            "Bearer ***"
        );
    }

    #[test]
    fn oauth1_credentials_count_as_configured() {
        let secret = || Some(SecretString::new("s"));
        let config = TwitterConfig {
            consumer_key: secret(),
            consumer_secret: secret(),
            access_token: secret(),
            access_token_secret: secret(),
            ..TwitterConfig::default()
        };
        config.check("channels.twitter").unwrap();
        let publisher = TwitterPublisher::new(config, http());
        assert!(publisher.missing_configuration().is_empty());
        let preview = publisher.preview(&post(&["hi"])).unwrap();
        assert_eq!(preview[0].headers["authorization"], "OAuth ***");
        let partial = TwitterConfig {
            consumer_key: secret(),
            ..TwitterConfig::default()
        };
        assert!(
            partial
                .check("channels.twitter")
                .unwrap_err()
                .to_string()
                .contains("needs all four")
        );
    }

    #[tokio::test]
    async fn oauth1_requests_are_signed_per_request() {
        use halcytone_core::testkit::conformance::wiremock::matchers::{
            header_regex, method, path,
        };
        use halcytone_core::testkit::conformance::wiremock::{Mock, MockServer, ResponseTemplate};

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/2/tweets"))
            .and(header_regex("authorization", "^OAuth oauth_consumer_key=\"ck\", oauth_nonce=\"[A-Za-z0-9]{32}\", oauth_signature=\"[^\"]+\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"[0-9]+\", oauth_token=\"t\", oauth_version=\"1.0\"$"))
            .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"data": {"id": "7", "text": "hi"}})))
            .expect(1)
            .mount(&server)
            .await;
        let secret = |text: &str| Some(SecretString::new(text));
        let publisher = TwitterPublisher::new(
            TwitterConfig {
                base_url: BaseUrl::parse(&server.uri()).unwrap(),
                consumer_key: secret("ck"),
                consumer_secret: secret("cs"),
                access_token: secret("t"),
                access_token_secret: secret("ts"),
                ..TwitterConfig::default()
            },
            http(),
        );
        publisher
            .publish(&post(&["hi"]), &PublishContext::default())
            .await
            .unwrap();
        // The signature verifies: recompute it from the sent nonce and timestamp.
        let received = server.received_requests().await.unwrap();
        let sent = received[0]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let field = |name: &str| {
            let start = sent.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            sent[start..start + sent[start..].find('"').unwrap()].to_owned()
        };
        let keys = (
            SecretString::new("ck"),
            SecretString::new("cs"),
            SecretString::new("t"),
            SecretString::new("ts"),
        );
        let expected = oauth1::header_value(
            &oauth1::Keys {
                consumer_key: &keys.0,
                consumer_secret: &keys.1,
                token: &keys.2,
                token_secret: &keys.3,
            },
            "POST",
            &format!("{}/2/tweets", server.uri()),
            &field("oauth_nonce"),
            field("oauth_timestamp").parse().unwrap(),
        );
        assert_eq!(sent, format!("OAuth {expected}"));
    }

    #[test]
    fn validation_weighs_every_part() {
        let publisher = TwitterPublisher::new(TwitterConfig::default(), http());
        publisher
            .validate(&post(&["fine", &"数".repeat(140)]).content)
            .unwrap();
        let error = publisher
            .validate(&post(&["fine", &"数".repeat(141)]).content)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "twitter post is invalid: parts post 2 weighs 282, more than 280"
        );
        let error = publisher.validate(&post(&[]).content).unwrap_err();
        assert_eq!(error.to_string(), "twitter post is invalid: parts is empty");
        let error = publisher
            .validate(&post(&["a", "b", "c", "d", "e"]).content)
            .unwrap_err();
        assert!(error.to_string().contains("more than max_thread_parts = 4"));
        let error = publisher
            .validate(&post(&["bad \u{FFFE}"]).content)
            .unwrap_err();
        assert!(error.to_string().contains("refuses"));
    }
}
