//! AI suggestions (PRODUCT §11) for stored posts: asked of the model server
//! of `[enhance]`, kept beside the post, never sent; accepting one is an
//! edit, with its checks, that voids any approval.

use halcytone_core::compose::ContentPlan;
use halcytone_core::publisher::{Content, PostId};
use halcytone_core::request::RequestPreview;
use halcytone_core::store::{Action, Store as _, StoreError, StoredPost, lifecycle};
use halcytone_enhance::{Draft, EnhanceError, Enhancer};
use serde::Serialize;

use crate::app::{App, AppError};

/// The request a suggestion for one post of a plan starts with (a dry run).
#[derive(Debug, Serialize)]
pub(crate) struct SuggestionRequest {
    /// The post.
    pub(crate) post: PostId,
    /// The chat-completions request, secrets redacted.
    pub(crate) request: RequestPreview,
}

impl App {
    fn enhancer(&self) -> Result<&Enhancer, AppError> {
        self.enhancer_if_configured()
            .ok_or_else(|| AppError::BadRequest {
                field: "enhance",
                message: "no model server is configured: set [enhance] base_url and model"
                    .to_owned(),
            })
    }

    /// Asks the model server for a suggestion for post `id` and keeps it
    /// beside the post (PRODUCT §11).
    ///
    /// # Errors
    /// No `[enhance]`, an unknown post, one that can no longer be edited
    /// (409), or the model's failure or unusable answer.
    pub(crate) async fn enhance(&self, id: &str) -> Result<StoredPost, AppError> {
        let enhancer = self.enhancer()?;
        let post = self.post(id).await?;
        lifecycle::transition(post.status, Action::Edit).map_err(StoreError::from)?;
        let publisher = self.enabled_publisher(&post)?;
        let content = Content(post.content.clone());
        let renderer = &self.edition_for(&post).renderer;
        let suggestion = enhancer
            .suggest(
                renderer,
                publisher.as_ref(),
                draft(&post, &content),
                &uuid::Uuid::now_v7().to_string(),
            )
            .await
            .map_err(AppError::Enhance)?;
        self.store()
            .await?
            .set_suggestion(&post.id, Some(&suggestion.0))
            .await?;
        self.post(&post.id.0).await
    }

    /// Makes post `id`'s suggestion its content: an edit, checked by the
    /// channel, that voids any approval; the suggestion is then dropped.
    ///
    /// # Errors
    /// An unknown post, one without a suggestion, or the edit's refusal.
    pub(crate) async fn accept_suggestion(&self, id: &str) -> Result<StoredPost, AppError> {
        let post = self.post(id).await?;
        let Some(suggestion) = post.suggestion.clone() else {
            return Err(AppError::BadRequest {
                field: "suggestion",
                message: format!("post {} has no suggestion to accept", post.id),
            });
        };
        self.edit(&post.id.0, suggestion).await?;
        self.store().await?.set_suggestion(&post.id, None).await?;
        self.post(&post.id.0).await
    }

    /// Drops post `id`'s suggestion.
    ///
    /// # Errors
    /// An unknown post, or one without a suggestion.
    pub(crate) async fn reject_suggestion(&self, id: &str) -> Result<StoredPost, AppError> {
        let post = self.post(id).await?;
        if post.suggestion.is_none() {
            return Err(AppError::BadRequest {
                field: "suggestion",
                message: format!("post {} has no suggestion to reject", post.id),
            });
        }
        self.store().await?.set_suggestion(&post.id, None).await?;
        self.post(&post.id.0).await
    }

    /// A suggestion for every post of a stored plan, one after another,
    /// each announced on standard error; a post the model fails for is a
    /// warning of the plan, which stays as it was.
    ///
    /// # Errors
    /// No `[enhance]`.
    pub(crate) async fn enhance_plan(&self, plan: &mut ContentPlan) -> Result<(), AppError> {
        self.enhancer()?;
        let total = plan.posts.len();
        let mut suggested = 0;
        for (index, post) in plan.posts.iter().enumerate() {
            match self.enhance(&post.id.0).await {
                Ok(_) => {
                    suggested += 1;
                    eprintln!(
                        "Suggestion {}/{total}: {} {}",
                        index + 1,
                        post.channel,
                        post.id
                    );
                }
                Err(error) => {
                    eprintln!(
                        "Suggestion {}/{total}: {} {} failed: {error}",
                        index + 1,
                        post.channel,
                        post.id
                    );
                    plan.warnings
                        .push(format!("no suggestion for post {}: {error}", post.id));
                }
            }
        }
        eprintln!("Suggestions for {suggested} of {total} posts.");
        Ok(())
    }

    /// The request a suggestion for a stored post would start with, sent
    /// nowhere.
    ///
    /// # Errors
    /// No `[enhance]`, or a prompt template that does not render.
    pub(crate) fn suggestion_preview(&self, post: &StoredPost) -> Result<RequestPreview, AppError> {
        let content = Content(post.content.clone());
        Ok(self
            .enhancer()?
            .preview(&self.edition_for(post).renderer, draft(post, &content))?)
    }

    /// The requests a suggestion for each post of a dry-run plan would
    /// start with, sending none.
    ///
    /// # Errors
    /// No `[enhance]`, or a prompt template that does not render.
    pub(crate) fn suggestion_requests(
        &self,
        plan: &ContentPlan,
    ) -> Result<Vec<SuggestionRequest>, AppError> {
        let enhancer = self.enhancer()?;
        plan.posts
            .iter()
            .map(|post| {
                let renderer = self
                    .editions
                    .iter()
                    .find(|edition| edition.locale() == post.locale)
                    .unwrap_or(&self.editions[0])
                    .renderer
                    .clone();
                let request = enhancer
                    .preview(
                        &renderer,
                        Draft {
                            channel: &post.channel,
                            title: &post.item.title,
                            content: &post.content,
                        },
                    )
                    .map_err(AppError::Enhance)?;
                Ok(SuggestionRequest {
                    post: post.id.clone(),
                    request,
                })
            })
            .collect()
    }
}

fn draft<'a>(post: &'a StoredPost, content: &'a Content) -> Draft<'a> {
    Draft {
        channel: &post.channel,
        title: post
            .item
            .get("title")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default(),
        content,
    }
}

/// How an enhance failure answers over HTTP.
pub(crate) fn classify(error: &EnhanceError) -> (axum::http::StatusCode, &'static str) {
    use axum::http::StatusCode;
    match error {
        EnhanceError::Server(_) => (StatusCode::BAD_GATEWAY, "model-unavailable"),
        EnhanceError::Answer(_) | EnhanceError::Refused(_) | EnhanceError::Prompt(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "unusable-suggestion")
        }
    }
}
