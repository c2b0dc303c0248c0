//! AI suggestions (PRODUCT §11): a post's content improved by any
//! OpenAI-compatible chat-completions server (`POST {base_url}/chat/completions`:
//! llama.cpp, vLLM, OpenAI), from a prompt rendered by the handlebars
//! template `enhance/<channel>` (`enhance/default` for a channel without
//! one). The answer must keep to the channel's rules: one that breaks a rule
//! is asked for again once, with the rule it broke, then refused. The model
//! server is a dependency like a channel: timeouts, retries and a breaker.

use std::time::SystemTime;

use halcytone_core::channel::Channel;
use halcytone_core::error::PublishError;
use halcytone_core::http::{HttpClient, classify_status};
use halcytone_core::publisher::{Content, Publisher};
use halcytone_core::render::Renderer;
use halcytone_core::request::{BaseUrl, HeaderValue, Method, OutboundRequest, RequestPreview};
use halcytone_core::resilience::{Breaker, ResilienceSettings, breaker, retrying, through_breaker};
use halcytone_core::secret::SecretString;
use serde::{Deserialize, Serialize};

/// The service the model server is, as errors, logs and its breaker name it.
pub const SERVICE: Channel = Channel::from_static("enhance");

/// What every conversation starts with: the answer's form.
const SYSTEM_PROMPT: &str = "You edit posts for a content team. You are given a post's content as a JSON object. \
Answer with one JSON object with exactly the same keys, each value improved as asked, and nothing else: \
no explanation, no code fence.";

/// The `[enhance]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnhanceConfig {
    /// The server's base URL, up to and including `/v1`.
    pub base_url: BaseUrl,
    /// The model to ask.
    pub model: String,
    /// The API key, when the server needs one.
    pub api_key: Option<SecretString>,
    /// Sampling temperature; the server's default when unset.
    pub temperature: Option<f64>,
}

/// Why no suggestion came.
#[derive(Debug, thiserror::Error)]
pub enum EnhanceError {
    /// The model server failed or could not be reached.
    #[error(transparent)]
    Server(#[from] PublishError),
    /// The answer is not the documented chat-completions JSON, or holds no
    /// JSON object of the post's keys.
    #[error("the model's answer cannot be used: {0}")]
    Answer(String),
    /// The answer broke a rule of the channel twice.
    #[error("the model's answer breaks the channel's rules, asked again with the rule: {0}")]
    Refused(String),
    /// The prompt template does not render.
    #[error("the prompt cannot be written: {0}")]
    Prompt(String),
}

/// One message of a conversation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Message {
    role: String,
    content: String,
}

/// `POST /chat/completions` body.
#[derive(Debug, Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
}

/// The part of a chat-completions answer that is read.
#[derive(Debug, Deserialize)]
struct ChatAnswer {
    choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Message,
}

/// What a prompt template sees.
#[derive(Debug, Serialize)]
struct PromptData<'a> {
    channel: &'a str,
    title: &'a str,
    /// The content as indented JSON.
    content: String,
}

/// A post to improve.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    /// Its channel.
    pub channel: &'a Channel,
    /// Its item's title.
    pub title: &'a str,
    /// Its content now.
    pub content: &'a Content,
}

/// Asks the model server for suggestions.
pub struct Enhancer {
    config: EnhanceConfig,
    http: HttpClient,
    settings: ResilienceSettings,
    breaker: Breaker,
}

impl std::fmt::Debug for Enhancer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Enhancer")
            .field("base_url", &self.config.base_url)
            .field("model", &self.config.model)
            .finish_non_exhaustive()
    }
}

impl Enhancer {
    /// An enhancer of `config`, calling through `http` with `settings`'s
    /// retries and breaker.
    pub fn new(config: EnhanceConfig, http: HttpClient, settings: ResilienceSettings) -> Self {
        Self {
            breaker: breaker(&settings, SERVICE),
            config,
            http,
            settings,
        }
    }

    /// The conversation's first messages for `draft`.
    ///
    /// # Errors
    /// `Prompt` when the template does not render.
    fn opening(&self, renderer: &Renderer, draft: Draft<'_>) -> Result<Vec<Message>, EnhanceError> {
        let own = format!("enhance/{}", draft.channel);
        let template = if renderer.has_template(&own) {
            own
        } else {
            "enhance/default".to_owned()
        };
        let prompt = renderer
            .render(
                &template,
                &PromptData {
                    channel: draft.channel.as_str(),
                    title: draft.title,
                    content: serde_json::to_string_pretty(&draft.content.0)
                        .map_err(|error| EnhanceError::Prompt(error.to_string()))?,
                },
            )
            .map_err(|error| EnhanceError::Prompt(error.to_string()))?;
        Ok(vec![
            Message {
                role: "system".to_owned(),
                content: SYSTEM_PROMPT.to_owned(),
            },
            Message {
                role: "user".to_owned(),
                content: prompt.trim().to_owned(),
            },
        ])
    }

    fn request(&self, messages: &[Message]) -> Result<OutboundRequest, EnhanceError> {
        let mut headers = Vec::new();
        if let Some(key) = &self.config.api_key {
            headers.push(("authorization", HeaderValue::bearer(Some(key))));
        }
        OutboundRequest::json(
            &SERVICE,
            Method::Post,
            self.config.base_url.join("/chat/completions"),
            headers,
            &ChatRequest {
                model: &self.config.model,
                messages,
                temperature: self.config.temperature,
            },
        )
        .map_err(EnhanceError::Server)
    }

    /// The request a suggestion for `draft` starts with, secrets redacted:
    /// what a dry run shows instead of sending it.
    ///
    /// # Errors
    /// `Prompt` when the template does not render.
    pub fn preview(
        &self,
        renderer: &Renderer,
        draft: Draft<'_>,
    ) -> Result<RequestPreview, EnhanceError> {
        Ok(self.request(&self.opening(renderer, draft)?)?.redacted())
    }

    /// Asks for a suggestion for `draft`: the post's content with the
    /// model's values for its keys, kept to `publisher`'s rules.
    ///
    /// # Errors
    /// The server's failure after retries, an answer that cannot be used,
    /// or `Refused` when the second answer breaks a rule too.
    pub async fn suggest(
        &self,
        renderer: &Renderer,
        publisher: &dyn Publisher,
        draft: Draft<'_>,
        correlation_id: &str,
    ) -> Result<Content, EnhanceError> {
        let mut messages = self.opening(renderer, draft)?;
        let answer = self.ask(&messages, correlation_id).await?;
        let first = suggestion(draft.content, &answer)?;
        let Err(broken) = publisher.validate(&first) else {
            return Ok(first);
        };
        // Once more, with the rule the answer broke.
        messages.push(Message {
            role: "assistant".to_owned(),
            content: answer,
        });
        messages.push(Message {
            role: "user".to_owned(),
            content: format!(
                "Your answer breaks the channel's rule: {broken}. Answer again with the same keys, keeping to the rule."
            ),
        });
        let answer = self.ask(&messages, correlation_id).await?;
        let second = suggestion(draft.content, &answer)?;
        publisher
            .validate(&second)
            .map_err(|error| EnhanceError::Refused(error.to_string()))?;
        Ok(second)
    }

    /// One question, with retries and through the breaker: the answer's text.
    async fn ask(
        &self,
        messages: &[Message],
        correlation_id: &str,
    ) -> Result<String, EnhanceError> {
        let request = self.request(messages)?;
        let service = SERVICE;
        let answer: ChatAnswer = retrying(&self.settings, true, "the model's suggestion", || {
            through_breaker(
                &self.breaker,
                &service,
                self.http
                    .send_json(&service, &request, correlation_id, |response| {
                        classify_status(&service, response, SystemTime::now())
                    }),
            )
        })
        .await?;
        answer
            .choices
            .into_iter()
            .next()
            .map(|choice| choice.message.content)
            .ok_or_else(|| EnhanceError::Answer("it has no choices".to_owned()))
    }
}

/// The post's content with the answer's values for its keys: the answer is
/// one JSON object (a code fence around it is tolerated); a key the content
/// lacks is ignored, a value of another JSON type than the content's is not
/// taken.
fn suggestion(content: &Content, answer: &str) -> Result<Content, EnhanceError> {
    let text = answer.trim();
    let text = text
        .strip_prefix("```json")
        .or_else(|| text.strip_prefix("```"))
        .and_then(|inner| inner.strip_suffix("```"))
        .unwrap_or(text)
        .trim();
    let proposed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|error| EnhanceError::Answer(format!("it is not one JSON object ({error})")))?;
    let Some(fields) = content.0.as_object() else {
        return Err(EnhanceError::Answer(
            "the post's content is not a JSON object".to_owned(),
        ));
    };
    let mut improved = fields.clone();
    let mut taken = 0;
    for (key, value) in proposed {
        if let Some(current) = improved.get_mut(&key)
            && same_kind(current, &value)
        {
            *current = value;
            taken += 1;
        }
    }
    if taken == 0 {
        return Err(EnhanceError::Answer(format!(
            "it has none of the post's keys ({})",
            fields.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(Content(serde_json::Value::Object(improved)))
}

fn same_kind(left: &serde_json::Value, right: &serde_json::Value) -> bool {
    std::mem::discriminant(left) == std::mem::discriminant(right)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_replaces_the_keys_it_has_of_their_type() {
        let content =
            Content(serde_json::json!({"subject": "Old", "preheader": "Keep", "parts": ["a"]}));
        let improved = suggestion(
            &content,
            "```json\n{\"subject\": \"New\", \"parts\": \"not a list\", \"extra\": 1}\n```",
        )
        .unwrap();
        assert_eq!(
            improved.0,
            serde_json::json!({"subject": "New", "preheader": "Keep", "parts": ["a"]})
        );
        assert!(matches!(
            suggestion(&content, "Sure! Here is a better subject."),
            Err(EnhanceError::Answer(_))
        ));
        let error = suggestion(&content, "{\"title\": \"x\"}")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "the model's answer cannot be used: it has none of the post's keys (subject, preheader, parts)"
        );
    }
}
