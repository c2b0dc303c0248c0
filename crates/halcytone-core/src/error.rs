//! The classified errors of publishing (and of any call to a remote
//! service, which sources make too), and configuration errors.

use std::time::Duration;

use crate::channel::{Channel, Service};

/// A boxed error kept as the source of a transient failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a post could not be validated, previewed or published.
///
/// The variant says what to do next: `Invalid` and `Permanent` never succeed
/// on retry, `Transient` and `RateLimited` may, and `OutcomeUnknown` must not
/// be retried automatically because the request may have been applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The post breaks a rule of the channel; it is never sent.
    #[error("{channel} post is invalid: {field} {reason}")]
    Invalid {
        /// The channel whose rule is broken.
        channel: Channel,
        /// The content field at fault.
        field: &'static str,
        /// The rule, as a phrase following the field name.
        reason: String,
    },
    /// The API refused the request and will refuse it again.
    #[error("{service} rejected the request ({status}): {message}")]
    Permanent {
        /// The service: a channel's API or a source's.
        service: Service,
        /// The HTTP status.
        status: u16,
        /// The API's own message.
        message: String,
    },
    /// The request failed in a way that may pass on a later attempt.
    #[error("{service} failed transiently: {message}")]
    Transient {
        /// The service: a channel's API or a source's.
        service: Service,
        /// What happened.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The API asked to slow down.
    #[error("{service} rate limited, retry after {retry_after:?}")]
    RateLimited {
        /// The service: a channel's API or a source's.
        service: Service,
        /// How long the API asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The request may or may not have been applied (a timeout after it was sent).
    #[error("{service} outcome unknown: {message}")]
    OutcomeUnknown {
        /// The service: a channel's API or a source's.
        service: Service,
        /// What happened.
        message: String,
    },
    /// The service lacks configuration (a credential) needed to call it.
    #[error("{service} is not configured: set {missing}")]
    NotConfigured {
        /// The service: a channel's API or a source's.
        service: Service,
        /// The configuration keys to set.
        missing: String,
    },
    /// The API refused the post as a duplicate of one it already has: after
    /// an unknown outcome this means the earlier attempt went out.
    #[error("{channel} refused a duplicate: {message}")]
    Duplicate {
        /// The channel.
        channel: Channel,
        /// The API's own message.
        message: String,
    },
    /// The channel's circuit breaker is open: no call was made.
    #[error("{channel} is paused after repeated failures (circuit open)")]
    CircuitOpen {
        /// The channel.
        channel: Channel,
    },
    /// Some parts of a thread went out before the failure.
    #[error("{error} (after {} part(s) went out)", .sent.len())]
    Partial {
        /// The ids of the parts that went out, in order.
        sent: Vec<String>,
        /// Why the next part failed.
        error: Box<PublishError>,
    },
}

impl PublishError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Partial { error, .. } => error.is_retryable(),
            other => matches!(other, Self::Transient { .. } | Self::RateLimited { .. }),
        }
    }

    /// Whether the request may have been applied although it failed.
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Self::Partial { error, .. } => error.is_outcome_unknown(),
            other => matches!(other, Self::OutcomeUnknown { .. }),
        }
    }

    /// How long the API asked to wait before the next request, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            Self::Partial { error, .. } => error.retry_after(),
            _ => None,
        }
    }

    /// Whether the same request will fail again, whatever the wait.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Partial { error, .. } => error.is_permanent(),
            other => matches!(
                other,
                Self::Invalid { .. }
                    | Self::Permanent { .. }
                    | Self::Duplicate { .. }
                    | Self::NotConfigured { .. }
            ),
        }
    }

    /// A short name of the class, for metrics and logs.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::Permanent { .. } => "permanent",
            Self::Transient { .. } => "transient",
            Self::RateLimited { .. } => "rate_limited",
            Self::OutcomeUnknown { .. } => "outcome_unknown",
            Self::NotConfigured { .. } => "not_configured",
            Self::Duplicate { .. } => "duplicate",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::Partial { error, .. } => error.class(),
        }
    }
}

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The dotted key, such as `channels.twitter.base_url`.
    pub key: String,
    /// Why the value cannot be used.
    pub message: String,
}

impl ConfigError {
    /// Makes an error for `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let channel = Channel::from_static("twitter");
        let transient = PublishError::Transient {
            service: (&channel).into(),
            message: "503".to_owned(),
            source: None,
        };
        assert!(transient.is_retryable() && !transient.is_permanent());
        let invalid = PublishError::Invalid {
            channel: channel.clone(),
            field: "text",
            reason: "is empty".to_owned(),
        };
        assert!(invalid.is_permanent() && !invalid.is_retryable());
        assert_eq!(
            invalid.to_string(),
            "twitter post is invalid: text is empty"
        );
        let unknown = PublishError::OutcomeUnknown {
            service: channel.into(),
            message: "timeout".to_owned(),
        };
        assert!(!unknown.is_retryable() && !unknown.is_permanent());
    }
}
