//! The WordPress backend: an article is a post created through the REST API
//! (`/wp-json/wp/v2`), with its tags as term ids.
//!
//! WordPress has no idempotency keys, so `publish` first looks for a post
//! with the article's slug and, when there is one, returns it instead of
//! creating a second post. Tag ids are looked up (and the missing tags
//! created) at publish time; previews show `<id of tag NAME>` in their place.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use halcytone_core::prelude::*;

use crate::CHANNEL;
use crate::config::WebConfig;
use crate::error::{existing_term, read, repeatable};
use crate::publisher::WebContent;
use crate::wire::{PostRequest, TagId, TagRequest, WpPost, WpTerm};

/// Host used in previews until `base_url` is configured; `.invalid` never resolves.
static UNCONFIGURED_BASE_URL: BaseUrl = BaseUrl::from_static("https://wordpress.invalid");

/// The most tags one search returns (WordPress's own maximum).
const PER_PAGE: &str = "100";

fn base_url(config: &WebConfig) -> &BaseUrl {
    config.base_url.as_ref().unwrap_or(&UNCONFIGURED_BASE_URL)
}

/// `Authorization: Basic base64(username:application password)`; previews
/// show `Basic ***`.
fn authorization(config: &WebConfig) -> HeaderValue {
    let secret = match (&config.username, &config.application_password) {
        (Some(username), Some(password)) => Some(SecretString::new(
            STANDARD.encode(format!("{username}:{}", password.expose())),
        )),
        _ => None,
    };
    HeaderValue::Secret {
        prefix: "Basic ",
        secret,
    }
}

fn get(config: &WebConfig, url: String) -> OutboundRequest {
    OutboundRequest {
        method: Method::Get,
        url,
        headers: vec![("authorization", authorization(config))],
        body: None,
    }
}

/// `GET /wp-json/wp/v2/posts?slug=…&status=any`: a post that already has the slug.
fn slug_request(config: &WebConfig, slug: &str) -> OutboundRequest {
    let url = format!(
        "{}?{}",
        base_url(config).join("/wp-json/wp/v2/posts"),
        query_string(&[("slug", slug), ("status", "any")])
    );
    get(config, url)
}

/// `GET /wp-json/wp/v2/tags?search=…&per_page=100`: the tags whose name or
/// slug contains `name`.
fn tag_search_request(config: &WebConfig, name: &str) -> OutboundRequest {
    let url = format!(
        "{}?{}",
        base_url(config).join("/wp-json/wp/v2/tags"),
        query_string(&[("search", name), ("per_page", PER_PAGE)])
    );
    get(config, url)
}

/// `POST /wp-json/wp/v2/tags`: creates a tag the search did not find.
fn tag_create_request(config: &WebConfig, name: &str) -> Result<OutboundRequest, PublishError> {
    OutboundRequest::json(
        &CHANNEL,
        Method::Post,
        base_url(config).join("/wp-json/wp/v2/tags"),
        vec![("authorization", authorization(config))],
        &TagRequest { name },
    )
}

/// `POST /wp-json/wp/v2/posts`: the article, tags as ids.
fn post_request(
    config: &WebConfig,
    post: &OutgoingPost,
    content: &WebContent,
    tags: &[TagId],
) -> Result<OutboundRequest, PublishError> {
    let body = PostRequest {
        title: &content.title,
        content: &content.html,
        excerpt: &content.excerpt,
        slug: &content.slug,
        status: config.status.unwrap_or_default(),
        date_gmt: post
            .scheduled_at
            .timestamp()
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string(),
        tags,
    };
    OutboundRequest::json(
        &CHANNEL,
        Method::Post,
        base_url(config).join("/wp-json/wp/v2/posts"),
        vec![("authorization", authorization(config))],
        &body,
    )
}

/// The article's tag names, each once (compared without case), blanks left out.
fn tag_names(tags: &[String]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for tag in tags.iter().map(|tag| tag.trim()) {
        if !tag.is_empty() && !names.iter().any(|name| same_name(name, tag)) {
            names.push(tag);
        }
    }
    names
}

/// Whether two tag names are the same, without case. WordPress returns
/// names HTML-escaped (`R&amp;D`), so the five escapes it makes are undone.
fn same_name(wordpress: &str, wanted: &str) -> bool {
    let unescaped = wordpress
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&amp;", "&");
    unescaped.trim().to_lowercase() == wanted.trim().to_lowercase()
}

/// The placeholder of a tag's id in previews.
pub(crate) fn tag_placeholder(name: &str) -> String {
    format!("<id of tag {name}>")
}

/// Every request `publish` may send, in order: the slug check, then for each
/// tag its search and (only when the search finds no exact match) its
/// creation, then the post with `<id of tag NAME>` for each tag id.
pub(crate) fn requests(
    config: &WebConfig,
    post: &OutgoingPost,
    content: &WebContent,
) -> Result<Vec<OutboundRequest>, PublishError> {
    let names = tag_names(&content.tags);
    let mut requests = vec![slug_request(config, &content.slug)];
    for name in &names {
        requests.push(tag_search_request(config, name));
        requests.push(tag_create_request(config, name)?);
    }
    let placeholders: Vec<TagId> = names
        .iter()
        .map(|name| TagId::Placeholder(tag_placeholder(name)))
        .collect();
    requests.push(post_request(config, post, content, &placeholders)?);
    Ok(requests)
}

fn receipt(post: WpPost) -> PublishReceipt {
    PublishReceipt {
        external_ids: vec![post.id.to_string()],
        url: post.link,
        quota_left: None,
    }
}

/// The id of the tag called `name`: the exact match of a search, else a new
/// tag, else the existing tag WordPress names when it refuses a duplicate.
async fn resolve_tag(
    config: &WebConfig,
    http: &HttpClient,
    name: &str,
    correlation_id: &str,
) -> Result<u64, PublishError> {
    let response = http
        .send(&CHANNEL, &tag_search_request(config, name), correlation_id)
        .await
        .map_err(repeatable)?;
    let found: Vec<WpTerm> = read(&response)?;
    if let Some(term) = found.iter().find(|term| same_name(&term.name, name)) {
        return Ok(term.id);
    }
    let response = http
        .send(&CHANNEL, &tag_create_request(config, name)?, correlation_id)
        .await
        .map_err(repeatable)?;
    if let Some(id) = existing_term(&response) {
        return Ok(id);
    }
    read::<WpTerm>(&response).map(|term| term.id)
}

/// Returns the post that already has the article's slug, or resolves the
/// tags and creates the post.
pub(crate) async fn publish(
    config: &WebConfig,
    http: &HttpClient,
    post: &OutgoingPost,
    content: &WebContent,
    context: &PublishContext,
) -> Result<PublishReceipt, PublishError> {
    let correlation_id = &context.correlation_id;
    let response = http
        .send(
            &CHANNEL,
            &slug_request(config, &content.slug),
            correlation_id,
        )
        .await
        .map_err(repeatable)?;
    let existing: Vec<WpPost> = read(&response)?;
    if let Some(existing) = existing.into_iter().next() {
        return Ok(receipt(existing));
    }
    let mut tags = Vec::new();
    for name in tag_names(&content.tags) {
        tags.push(TagId::Known(
            resolve_tag(config, http, name, correlation_id).await?,
        ));
    }
    let created: WpPost = http
        .send_json(
            &CHANNEL,
            &post_request(config, post, content, &tags)?,
            correlation_id,
            |response| classify_status(&CHANNEL, response, SystemTime::now()),
        )
        .await?;
    Ok(receipt(created))
}

/// Looks for the post that has the article's slug: WordPress keeps a slug
/// to one post, so one is the article and none proves it was not created.
pub(crate) async fn look_up(
    config: &WebConfig,
    http: &HttpClient,
    content: &WebContent,
    context: &LookupContext,
) -> Result<Lookup, PublishError> {
    let response = http
        .send(
            &CHANNEL,
            &slug_request(config, &content.slug),
            &context.correlation_id,
        )
        .await?;
    let existing: Vec<WpPost> = read(&response)?;
    Ok(match existing.as_slice() {
        [] => Lookup::Absent {
            sent: Vec::new(),
            evidence: format!(
                "WordPress has no post with the slug `{}` in any status",
                content.slug
            ),
        },
        [found] => Lookup::Published {
            external_ids: vec![found.id.to_string()],
            evidence: format!(
                "WordPress post {} has the slug `{}`",
                found.id, content.slug
            ),
        },
        many => Lookup::Unsure {
            reason: format!(
                "WordPress has {} posts with the slug `{}`",
                many.len(),
                content.slug
            ),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names_are_compared_without_case_and_escapes() {
        assert!(same_name("Product", "product"));
        assert!(same_name("R&amp;D", "r&d"));
        assert!(same_name("Ça va", "ça VA"));
        assert!(!same_name("product launch", "product"));
        let tags = ["product", " Product", "", "Release", "R&D"].map(str::to_owned);
        assert_eq!(tag_names(&tags), ["product", "Release", "R&D"]);
    }
}
