//! The post lifecycle (PRODUCT §5) as a pure function of a state and an action.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::publisher::PostStatus;

/// Something that happens to a post: a person's decision or a dispatcher step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A person approves a draft.
    Approve,
    /// A person refuses a post that has not gone out.
    Reject,
    /// A person withdraws a post that is not being sent or sent.
    Cancel,
    /// A person sends a failed or unconfirmed post again.
    Retry,
    /// A person found an unconfirmed post on the channel: it went out.
    Confirm,
    /// An approved post is queued; a leased post goes back to the queue
    /// (transient failure, released or expired lease).
    Schedule,
    /// A dispatcher takes a queued post to send it.
    Lease,
    /// The channel confirmed the post.
    PublishSucceeded,
    /// Retries exhausted or a permanent failure.
    PublishFailed,
    /// The send's outcome is unknown and the channel takes no idempotency key.
    OutcomeUnknown,
    /// The content changed: an approved or scheduled post returns to draft.
    Edit,
}

impl Action {
    /// Every action, for tables and tests.
    pub const ALL: [Self; 11] = [
        Self::Approve,
        Self::Reject,
        Self::Cancel,
        Self::Retry,
        Self::Confirm,
        Self::Schedule,
        Self::Lease,
        Self::PublishSucceeded,
        Self::PublishFailed,
        Self::OutcomeUnknown,
        Self::Edit,
    ];

    /// The action's name, as in URLs and JSON (`publish-succeeded`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Cancel => "cancel",
            Self::Retry => "retry",
            Self::Confirm => "confirm",
            Self::Schedule => "schedule",
            Self::Lease => "lease",
            Self::PublishSucceeded => "publish-succeeded",
            Self::PublishFailed => "publish-failed",
            Self::OutcomeUnknown => "outcome-unknown",
            Self::Edit => "edit",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An unknown action name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an action")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
            .ok_or_else(|| UnknownAction(name.to_owned()))
    }
}

/// Every status, for tables and tests.
pub const ALL_STATUSES: [PostStatus; 9] = [
    PostStatus::Draft,
    PostStatus::Approved,
    PostStatus::Scheduled,
    PostStatus::Publishing,
    PostStatus::Published,
    PostStatus::Rejected,
    PostStatus::Cancelled,
    PostStatus::Failed,
    PostStatus::Unconfirmed,
];

/// The name of a status, as stored and shown (`draft`, `publishing`, …).
pub const fn status_name(status: PostStatus) -> &'static str {
    match status {
        PostStatus::Draft => "draft",
        PostStatus::Approved => "approved",
        PostStatus::Scheduled => "scheduled",
        PostStatus::Publishing => "publishing",
        PostStatus::Published => "published",
        PostStatus::Rejected => "rejected",
        PostStatus::Cancelled => "cancelled",
        PostStatus::Failed => "failed",
        PostStatus::Unconfirmed => "unconfirmed",
    }
}

/// Parses a status name written by [`status_name`].
pub fn parse_status(name: &str) -> Option<PostStatus> {
    ALL_STATUSES
        .into_iter()
        .find(|status| status_name(*status) == name)
}

/// An action that the post's current state does not allow (an HTTP 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a post that is {}", status_name(*.from))]
pub struct IllegalTransition {
    /// The post's current state.
    pub from: PostStatus,
    /// The refused action.
    pub action: Action,
}

/// The state a post in state `from` moves to on `action`.
///
/// # Errors
/// Returns [`IllegalTransition`], naming the current state, when `action` is
/// not allowed in `from`.
pub fn transition(from: PostStatus, action: Action) -> Result<PostStatus, IllegalTransition> {
    use PostStatus::{
        Approved, Cancelled, Draft, Failed, Published, Publishing, Rejected, Scheduled, Unconfirmed,
    };
    let to = match (action, from) {
        (Action::Approve, Draft) => Approved,
        (Action::Reject, Draft | Approved | Scheduled) => Rejected,
        (Action::Cancel, Draft | Approved | Scheduled | Failed | Unconfirmed) => Cancelled,
        (Action::Retry, Failed | Unconfirmed) => Scheduled,
        (Action::Confirm, Unconfirmed) => Published,
        (Action::Schedule, Approved | Publishing) => Scheduled,
        (Action::Lease, Scheduled) => Publishing,
        (Action::PublishSucceeded, Publishing) => Published,
        (Action::PublishFailed, Publishing) => Failed,
        (Action::OutcomeUnknown, Publishing) => Unconfirmed,
        (Action::Edit, Draft | Approved | Scheduled) => Draft,
        _ => return Err(IllegalTransition { from, action }),
    };
    Ok(to)
}

/// Whether a re-plan must leave a post in `status` alone: it is being sent,
/// was sent, or may have been sent.
pub const fn is_protected(status: PostStatus) -> bool {
    matches!(
        status,
        PostStatus::Publishing | PostStatus::Published | PostStatus::Unconfirmed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use PostStatus::{
        Approved, Cancelled, Draft, Failed, Published, Publishing, Rejected, Scheduled, Unconfirmed,
    };

    /// Every legal pair and where it leads; every other pair is illegal.
    const LEGAL: &[(PostStatus, Action, PostStatus)] = &[
        (Draft, Action::Approve, Approved),
        (Draft, Action::Reject, Rejected),
        (Approved, Action::Reject, Rejected),
        (Scheduled, Action::Reject, Rejected),
        (Draft, Action::Cancel, Cancelled),
        (Approved, Action::Cancel, Cancelled),
        (Scheduled, Action::Cancel, Cancelled),
        (Failed, Action::Cancel, Cancelled),
        (Unconfirmed, Action::Cancel, Cancelled),
        (Failed, Action::Retry, Scheduled),
        (Unconfirmed, Action::Retry, Scheduled),
        (Unconfirmed, Action::Confirm, Published),
        (Approved, Action::Schedule, Scheduled),
        (Publishing, Action::Schedule, Scheduled),
        (Scheduled, Action::Lease, Publishing),
        (Publishing, Action::PublishSucceeded, Published),
        (Publishing, Action::PublishFailed, Failed),
        (Publishing, Action::OutcomeUnknown, Unconfirmed),
        (Draft, Action::Edit, Draft),
        (Approved, Action::Edit, Draft),
        (Scheduled, Action::Edit, Draft),
    ];

    #[test]
    fn every_pair_is_legal_or_illegal_as_the_table_says() {
        let mut legal = 0;
        let mut illegal = 0;
        for from in ALL_STATUSES {
            for action in Action::ALL {
                let expected = LEGAL
                    .iter()
                    .find(|(state, act, _)| *state == from && *act == action)
                    .map(|(_, _, to)| *to);
                match (transition(from, action), expected) {
                    (Ok(to), Some(want)) => {
                        assert_eq!(to, want, "{from:?} --{action}-->");
                        legal += 1;
                    }
                    (Err(error), None) => {
                        assert_eq!(error, IllegalTransition { from, action });
                        assert!(
                            error.to_string().contains(status_name(from)),
                            "message names the state: {error}"
                        );
                        illegal += 1;
                    }
                    (got, want) => panic!("{from:?} --{action}--> {got:?}, expected {want:?}"),
                }
            }
        }
        assert_eq!(legal, LEGAL.len());
        assert_eq!(legal + illegal, 99);
    }

    #[test]
    fn published_is_final_and_nothing_leaves_publishing_but_the_dispatcher() {
        for action in Action::ALL {
            assert!(transition(Published, action).is_err());
        }
        let from_publishing: Vec<Action> = Action::ALL
            .into_iter()
            .filter(|action| transition(Publishing, *action).is_ok())
            .collect();
        assert_eq!(
            from_publishing,
            [
                Action::Schedule,
                Action::PublishSucceeded,
                Action::PublishFailed,
                Action::OutcomeUnknown
            ]
        );
    }

    #[test]
    fn message_names_the_state() {
        let error = transition(Published, Action::Approve).unwrap_err();
        assert_eq!(error.to_string(), "cannot approve a post that is published");
    }

    #[test]
    fn names_round_trip() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(action));
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::json!(action.as_str())
            );
        }
        for status in ALL_STATUSES {
            assert_eq!(parse_status(status_name(status)), Some(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status_name(status))
            );
        }
        assert!("launch".parse::<Action>().is_err());
        assert_eq!(parse_status("gone"), None);
    }
}
