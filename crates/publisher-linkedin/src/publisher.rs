//! `LinkedinPublisher`: renders, validates and previews LinkedIn posts.

use std::time::SystemTime;

use halcytone_core::prelude::*;
use halcytone_core::text::replace_first_line;
use jiff::civil::time;
use serde::{Deserialize, Serialize};

use crate::CHANNEL;
use crate::config::LinkedinConfig;
use crate::error::parse_error;
use crate::lookup::{MAX_PAGES, PAGE_SIZE, Page, comparable};
use crate::render::{MAX_COMMENTARY, commentary, displayed, escape, first_unescaped};
use crate::wire::{Distribution, PostRequest};

/// Posts whose figures one pass reads (two calls each for an organisation).
const FIGURES_PER_PASS: usize = 25;

/// A LinkedIn post.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkedinContent {
    pub(crate) commentary: String,
}

/// Publishes posts through the Posts API.
#[derive(Debug)]
pub struct LinkedinPublisher {
    config: LinkedinConfig,
    http: HttpClient,
}

impl LinkedinPublisher {
    /// Makes a publisher from its configuration and the shared HTTP client.
    pub fn new(config: LinkedinConfig, http: HttpClient) -> Self {
        Self { config, http }
    }

    /// The headers of every call of the versioned REST API.
    fn headers(&self) -> Vec<(&'static str, HeaderValue)> {
        vec![
            (
                "authorization",
                HeaderValue::bearer(self.config.access_token.as_ref()),
            ),
            (
                "linkedin-version",
                HeaderValue::Plain(self.config.version.clone()),
            ),
            (
                "x-restli-protocol-version",
                HeaderValue::Plain("2.0.0".to_owned()),
            ),
        ]
    }

    /// One post's figures: its likes and comments (`socialActions`) and,
    /// for an organisation's post, its share statistics. `None` for a post
    /// LinkedIn no longer has.
    async fn figures(
        &self,
        urn: &str,
        correlation_id: &str,
    ) -> Result<Option<Vec<(String, f64)>>, PublishError> {
        let version = self.config.version.clone();
        let social = OutboundRequest::get(
            self.config
                .base_url
                .join(&format!("/rest/socialActions/{}", percent_encode(urn))),
            self.headers(),
        );
        let Some(mut figures) = read_figures(
            &self.http,
            &CHANNEL,
            &social,
            correlation_id,
            &[
                ("/likesSummary/totalLikes", "likes"),
                ("/commentsSummary/aggregatedTotalComments", "comments"),
            ],
            |response| parse_error(response, &version, SystemTime::now()),
        )
        .await?
        else {
            return Ok(None);
        };
        let Some(organization) = self
            .config
            .author_urn
            .as_deref()
            .filter(|author| author.starts_with("urn:li:organization:"))
        else {
            return Ok(Some(figures));
        };
        // Share statistics name a post by its kind: `shares` or `ugcPosts`.
        let kind = if urn.starts_with("urn:li:ugcPost:") {
            "ugcPosts"
        } else {
            "shares"
        };
        let query = format!(
            "q=organizationalEntity&organizationalEntity={}&{kind}=List({})",
            percent_encode(organization),
            percent_encode(urn)
        );
        let statistics = OutboundRequest::get(
            format!(
                "{}?{query}",
                self.config
                    .base_url
                    .join("/rest/organizationalEntityShareStatistics")
            ),
            self.headers(),
        );
        let shared = read_figures(
            &self.http,
            &CHANNEL,
            &statistics,
            correlation_id,
            &[
                (
                    "/elements/0/totalShareStatistics/impressionCount",
                    "impressions",
                ),
                ("/elements/0/totalShareStatistics/clickCount", "clicks"),
                ("/elements/0/totalShareStatistics/shareCount", "shares"),
                ("/elements/0/totalShareStatistics/engagement", "engagement"),
            ],
            |response| parse_error(response, &version, SystemTime::now()),
        )
        .await?;
        figures.extend(shared.into_iter().flatten());
        Ok(Some(figures))
    }

    /// One page of the author's posts, newest first, from `start`.
    async fn author_page(
        &self,
        author: &str,
        start: usize,
        correlation_id: &str,
    ) -> Result<Page, PublishError> {
        let query = query_string(&[
            ("author", author),
            ("q", "author"),
            ("sortBy", "CREATED"),
            ("count", &PAGE_SIZE.to_string()),
            ("start", &start.to_string()),
        ]);
        let mut headers = self.headers();
        headers.push(("x-restli-method", HeaderValue::Plain("FINDER".to_owned())));
        let request = OutboundRequest::get(
            format!("{}?{query}", self.config.base_url.join("/rest/posts")),
            headers,
        );
        let version = self.config.version.clone();
        self.http
            .send_json(&CHANNEL, &request, correlation_id, |response| {
                parse_error(response, &version, SystemTime::now())
            })
            .await
    }
}

#[derive(Serialize)]
struct TemplateData<'a> {
    item: &'a ItemView,
    scheduled_at: String,
}

#[async_trait]
impl Publisher for LinkedinPublisher {
    fn channel(&self) -> Channel {
        CHANNEL
    }

    fn default_cadence(&self) -> Cadence {
        Cadence(vec![SlotRule {
            days: Weekdays::MONDAY_TO_FRIDAY,
            time: time(12, 0, 0, 0),
        }])
    }

    /// The arms go out in two of the channel's slots.
    fn experiments(&self) -> Option<ExperimentKind> {
        Some(ExperimentKind::Slots)
    }

    /// Arm B opens with the item's `Hook B:` instead of its first line.
    fn vary(&self, content: &Content, variation: &Variation<'_>) -> Result<Content, PublishError> {
        let mut content: LinkedinContent = typed_content(&CHANNEL, content)?;
        if let Some(hook) = variation.text {
            // The commentary is escaped little text; so is its new first line.
            content.commentary = replace_first_line(&content.commentary, &escape(hook));
        }
        Content::from_typed(&CHANNEL, &content)
    }

    fn metrics_batch(&self) -> usize {
        FIGURES_PER_PASS
    }

    async fn fetch_metrics(
        &self,
        posts: &[MetricsTarget],
        correlation_id: &str,
    ) -> Result<Vec<Reading>, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        let mut readings = Vec::new();
        for post in posts {
            let Some(urn) = post.external_ids.first() else {
                continue;
            };
            let figures = self.figures(urn, correlation_id).await?;
            readings.extend(
                figures
                    .into_iter()
                    .flatten()
                    .map(|(metric, value)| Reading {
                        post: post.id.clone(),
                        metric,
                        value,
                    }),
            );
        }
        Ok(readings)
    }

    fn missing_configuration(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.config.access_token.is_none() {
            missing.push("channels.linkedin.access_token");
        }
        if self.config.author_urn.is_none() {
            missing.push("channels.linkedin.author_urn");
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
        let text = render_field(
            renderer,
            &CHANNEL,
            "commentary",
            "linkedin/commentary",
            &data,
        )?;
        let tags: Vec<String> = input
            .item
            .hashtags
            .iter()
            .map(|hashtag| hashtag.trim_start_matches('#').to_owned())
            .collect();
        let content = LinkedinContent {
            commentary: commentary(text.trim(), &tags),
        };
        Content::from_typed(&CHANNEL, &content)
    }

    fn measure(&self, content: &Content) -> Vec<Measured> {
        let Ok(content) = content.to_typed::<LinkedinContent>() else {
            return Vec::new();
        };
        vec![Measured {
            label: "commentary".to_owned(),
            length: content.commentary.encode_utf16().count(),
            text: displayed(&content.commentary),
            limit: MAX_COMMENTARY,
        }]
    }

    fn external_url(&self, external_id: &str) -> Option<String> {
        Some(format!(
            "https://www.linkedin.com/feed/update/{external_id}/"
        ))
    }

    fn validate(&self, content: &Content) -> Result<(), PublishError> {
        let content: LinkedinContent = typed_content(&CHANNEL, content)?;
        ensure(
            &CHANNEL,
            !content.commentary.trim().is_empty(),
            "commentary",
            || "is empty".to_owned(),
        )?;
        let length = content.commentary.encode_utf16().count();
        ensure(&CHANNEL, length <= MAX_COMMENTARY, "commentary", || {
            format!("is {length} UTF-16 code units, more than {MAX_COMMENTARY}")
        })?;
        match first_unescaped(&content.commentary) {
            None => Ok(()),
            Some(character) => ensure(&CHANNEL, false, "commentary", || {
                format!(
                    "has an unescaped `{character}`, where LinkedIn would silently cut the post"
                )
            }),
        }
    }

    fn build_requests(&self, post: &OutgoingPost) -> Result<Vec<OutboundRequest>, PublishError> {
        let content: LinkedinContent = typed_content(&CHANNEL, &post.content)?;
        let body = PostRequest {
            author: self.config.author_urn.as_deref().unwrap_or("<unset>"),
            commentary: &content.commentary,
            visibility: self.config.visibility,
            distribution: Distribution::default(),
            lifecycle_state: "PUBLISHED",
            is_reshare_disabled_by_author: false,
        };
        Ok(vec![OutboundRequest::json(
            &CHANNEL,
            Method::Post,
            self.config.base_url.join("/rest/posts"),
            self.headers(),
            &body,
        )?])
    }

    /// `GET /v2/userinfo` with the token, the `LinkedIn-Version`'s support
    /// window, and the token's expiry when configured.
    async fn preflight(&self, now: jiff::Timestamp) -> Vec<Check> {
        let mut checks = vec![version_check(&self.config.version, now)];
        if let Some(expires_at) = self.config.access_token_expires_at {
            checks.push(halcytone_core::preflight::expiry(
                "linkedin.token_expiry",
                "the access token",
                expires_at,
                now,
            ));
        }
        if self.missing_configuration().is_empty() {
            let request = OutboundRequest::get(
                self.config.base_url.join("/v2/userinfo"),
                vec![(
                    "authorization",
                    HeaderValue::bearer(self.config.access_token.as_ref()),
                )],
            );
            let version = self.config.version.clone();
            let answer: Result<serde_json::Value, PublishError> = self
                .http
                .send_json(&CHANNEL, &request, "preflight-linkedin", |response| {
                    parse_error(response, &version, SystemTime::now())
                })
                .await;
            checks.push(match answer {
                Ok(_) => Check::pass("linkedin.credentials", "LinkedIn accepts the access token"),
                Err(error) => {
                    Check::fail("linkedin.credentials", format!("GET /v2/userinfo: {error}"))
                }
            });
        }
        checks
    }

    async fn look_up(
        &self,
        post: &OutgoingPost,
        context: &LookupContext,
    ) -> Result<Lookup, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        let content: LinkedinContent = typed_content(&CHANNEL, &post.content)?;
        let author = self.config.author_urn.as_deref().unwrap_or_default();
        let since = context.since.as_millisecond();
        let wanted = comparable(&content.commentary);
        let mut found = Vec::new();
        let mut read = 0;
        for page in 0..MAX_PAGES {
            let elements = self
                .author_page(author, page * PAGE_SIZE, &context.correlation_id)
                .await?
                .elements;
            read += elements.len();
            let last_page = elements.len() < PAGE_SIZE
                || elements.iter().any(|element| element.created_at < since);
            found.extend(
                elements
                    .into_iter()
                    .filter(|element| {
                        element.created_at >= since && comparable(&element.commentary) == wanted
                    })
                    .map(|element| element.id),
            );
            if last_page {
                let window = format!(
                    "the {read} newest posts of {author}, back to {}",
                    context.since
                );
                return Ok(match found.as_slice() {
                    [] => Lookup::Absent {
                        sent: Vec::new(),
                        evidence: format!("no post with its commentary among {window}"),
                    },
                    [urn] => Lookup::Published {
                        evidence: format!("{urn} has its commentary, among {window}"),
                        external_ids: found,
                    },
                    many => Lookup::Unsure {
                        reason: format!(
                            "{} posts have its commentary ({}), among {window}",
                            many.len(),
                            many.join(", ")
                        ),
                    },
                });
            }
        }
        Ok(Lookup::Unsure {
            reason: format!(
                "{author} has more than {} posts since {}; too many to prove an absence",
                MAX_PAGES * PAGE_SIZE,
                context.since
            ),
        })
    }

    async fn publish(
        &self,
        post: &OutgoingPost,
        context: &PublishContext,
    ) -> Result<PublishReceipt, PublishError> {
        require_configuration(&CHANNEL, &self.missing_configuration())?;
        let requests = self.build_requests(post)?;
        let mut ids = Vec::with_capacity(requests.len());
        for request in &requests {
            let response = self
                .http
                .send(&CHANNEL, request, &context.correlation_id)
                .await?;
            if !is_success(response.status) {
                return Err(parse_error(
                    &response,
                    &self.config.version,
                    SystemTime::now(),
                ));
            }
            // The post URN comes back in a header; the body is empty.
            let urn =
                response
                    .header("x-restli-id")
                    .ok_or_else(|| PublishError::OutcomeUnknown {
                        service: CHANNEL.into(),
                        message: format!(
                            "LinkedIn answered {} without an x-restli-id header",
                            response.status
                        ),
                    })?;
            ids.push(urn.to_owned());
        }
        let url = ids
            .first()
            .map(|urn| format!("https://www.linkedin.com/feed/update/{urn}/"));
        Ok(PublishReceipt {
            external_ids: ids,
            url,
            quota_left: None,
        })
    }
}

/// Whether a `LinkedIn-Version` (`YYYYMM`) is within its support window:
/// LinkedIn retires a version about a year after its month, so the check
/// fails from a month before that.
fn version_check(version: &str, now: jiff::Timestamp) -> Check {
    const NAME: &str = "linkedin.version";
    let month = version
        .get(..4)
        .zip(version.get(4..6))
        .and_then(|(year, month)| Some((year.parse::<i16>().ok()?, month.parse::<i8>().ok()?)))
        .and_then(|(year, month)| jiff::civil::Date::new(year, month, 1).ok());
    let Some(released) = month else {
        return Check::fail(NAME, format!("`{version}` is not a YYYYMM version"));
    };
    let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let retires = released.saturating_add(jiff::Span::new().months(12));
    let warn_from = released.saturating_add(jiff::Span::new().months(11));
    if today >= retires {
        Check::fail(
            NAME,
            format!(
                "LinkedIn-Version {version} was retired about {retires}; set channels.linkedin.version to a current YYYYMM"
            ),
        )
    } else if today >= warn_from {
        Check::fail(
            NAME,
            format!(
                "LinkedIn-Version {version} retires about {retires}; set channels.linkedin.version to a current YYYYMM before then"
            ),
        )
    } else {
        Check::pass(
            NAME,
            format!("LinkedIn-Version {version} is supported until about {retires}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_warns_a_month_before_its_year_is_up() {
        let at = |text: &str| text.parse::<jiff::Timestamp>().unwrap();
        assert!(version_check("202608", at("2027-06-30T00:00:00Z")).ok);
        let soon = version_check("202608", at("2027-07-02T00:00:00Z"));
        assert!(!soon.ok);
        assert!(
            soon.detail.contains("retires about 2027-08-01"),
            "{}",
            soon.detail
        );
        let gone = version_check("202608", at("2027-08-01T00:00:00Z"));
        assert!(gone.detail.contains("was retired about 2027-08-01"));
    }

    #[test]
    fn the_request_body_matches_the_reference_fixture() {
        let fixture: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/data/linkedin-commentary-escaping.json"
        ))
        .unwrap();
        let publisher = LinkedinPublisher::new(
            LinkedinConfig {
                access_token: Some(SecretString::new("token")),
                author_urn: Some("urn:li:organization:10428811".to_owned()),
                ..LinkedinConfig::default()
            },
            HttpClient::new(std::time::Duration::from_secs(5)).unwrap(),
        );
        let post = OutgoingPost {
            id: halcytone_core::publisher::PostId("post_1".to_owned()),
            scheduled_at: "2026-11-30T12:00:00+00:00[UTC]".parse().unwrap(),
            content: Content(serde_json::json!({"commentary": fixture["commentary"]})),
        };
        publisher.validate(&post.content).unwrap();
        let requests = publisher.build_requests(&post).unwrap();
        assert_eq!(requests[0].body.as_ref().unwrap(), &fixture["request_body"]);
        assert_eq!(requests[0].url, "https://api.linkedin.com/rest/posts");
    }
}
