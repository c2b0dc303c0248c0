//! A/B experiments (PRODUCT §12): an item's `Subject B:` or `Hook B:` makes
//! arms A and B of its posts, and the figures pick the winner.
//!
//! On a channel that splits one send (the CRM's newsletter) both arms go to
//! a test fraction of the list at the slot, and a third post sends the
//! winner to the rest once the experiment is decided; on a channel that
//! cannot (X, LinkedIn) the arms go out in two of the channel's slots.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::document::short_hex;
use crate::publisher::PostId;

/// Which arm of an experiment a post is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Arm {
    /// The document's own version.
    A,
    /// The version with the item's `Subject B:` or `Hook B:`.
    B,
    /// The send of the winning arm to the rest of the list.
    #[serde(rename = "winner")]
    Winner,
}

impl Arm {
    /// The arm as the store and the CRM's `split.arm` spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::Winner => "winner",
        }
    }

    /// The arm of its stored spelling.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "A" => Some(Self::A),
            "B" => Some(Self::B),
            "winner" => Some(Self::Winner),
            _ => None,
        }
    }
}

impl fmt::Display for Arm {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// How a channel runs an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExperimentKind {
    /// One send split between the arms, then the winner to the rest
    /// (`Subject B:`, the newsletter); decided on the open rate.
    Split,
    /// The arms in two slots of the channel (`Hook B:`, X and LinkedIn);
    /// decided on the engagement rate.
    Slots,
}

impl ExperimentKind {
    /// The rate an experiment of this kind is decided on (a key of the
    /// analytics report's rates).
    pub const fn rate(self) -> &'static str {
        match self {
            Self::Split => "open_rate",
            Self::Slots => "engagement_rate",
        }
    }

    /// The figure an arm needs enough of (`ab.min_sample`) for its rate
    /// to count.
    pub const fn sample(self) -> &'static str {
        match self {
            Self::Split => "unique_opens",
            Self::Slots => "impressions",
        }
    }

    /// The item line whose text arm B carries.
    pub const fn line(self) -> &'static str {
        match self {
            Self::Split => "Subject B",
            Self::Slots => "Hook B",
        }
    }

    /// The item's text for arm B of an experiment of this kind, if it asks
    /// for one.
    pub fn arm_b_text(self, item: &crate::document::Item) -> Option<&str> {
        match self {
            Self::Split => item.subject_b.as_deref(),
            Self::Slots => item.hook_b.as_deref(),
        }
    }
}

/// The `[ab]` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AbSettings {
    /// The part of the list each arm of a split send goes to.
    pub test_fraction: f64,
    /// How long after the arms went out the experiment is decided.
    pub decide_after: jiff::SignedDuration,
    /// The fewest unique opens (newsletter) or impressions (social) an arm needs
    /// for the experiment to be decided on its figures.
    pub min_sample: u64,
}

impl Default for AbSettings {
    fn default() -> Self {
        Self {
            test_fraction: 0.2,
            decide_after: jiff::SignedDuration::from_hours(4),
            min_sample: 100,
        }
    }
}

/// A post's place in an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArmOf {
    /// The experiment's id.
    pub id: String,
    /// The arm.
    pub arm: Arm,
}

/// What a channel's [`crate::publisher::Publisher::vary`] makes of a post's
/// content for an arm.
#[derive(Debug, Clone, PartialEq)]
pub struct Variation<'a> {
    /// The experiment's id.
    pub experiment: &'a str,
    /// The arm.
    pub arm: Arm,
    /// The part of the list arm A or B goes to (a split send).
    pub fraction: f64,
    /// Arm B's text: the subject (a split send) or the opening line
    /// (slots); `None` keeps the content's own.
    pub text: Option<&'a str>,
}

/// The id of the experiment whose arm A is `arm_a`.
pub fn experiment_id(arm_a: &PostId) -> String {
    let hash = Sha256::new()
        .chain_update("experiment|")
        .chain_update(&arm_a.0)
        .finalize();
    format!("exp_{}", short_hex(&hash))
}

/// The figures of one arm at the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArmFigures {
    /// The arm's post.
    pub post: PostId,
    /// Its latest figures, as the channel reported them.
    pub figures: BTreeMap<String, f64>,
    /// The rate decided on, when its parts were reported.
    pub rate: Option<f64>,
    /// The figure [`ExperimentKind::sample`] names (0 when not reported).
    pub sample: f64,
    /// Whether the arm went out; an arm that did not cannot win.
    pub sent: bool,
}

/// What decided an experiment, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// The experiment.
    pub experiment: String,
    /// The arm whose version goes to the rest, or won (`None` only when
    /// neither arm went out).
    pub winner: Option<Arm>,
    /// Whether the figures were too few or equal, so arm A was taken.
    pub inconclusive: bool,
    /// Why, in a sentence.
    pub reason: String,
    /// The rate decided on.
    pub rate: String,
    /// Arm A's figures.
    pub a: ArmFigures,
    /// Arm B's figures.
    pub b: ArmFigures,
    /// When it was decided.
    #[schema(value_type = String, format = DateTime)]
    pub decided_at: jiff::Timestamp,
}

/// Decides an experiment of `kind` from its arms' figures: the higher rate
/// wins when both arms went out and each has at least `min_sample` of its
/// sample figure; otherwise it is inconclusive and arm A is taken (or the
/// one arm that went out).
pub fn decide(
    experiment: &str,
    kind: ExperimentKind,
    a: ArmFigures,
    b: ArmFigures,
    min_sample: u64,
    now: jiff::Timestamp,
) -> Decision {
    let rate = kind.rate();
    let sample = kind.sample();
    let shown = |value: Option<f64>| {
        value.map_or_else(
            || "unreported".to_owned(),
            |rate| format!("{:.1}%", rate * 100.0),
        )
    };
    // Sample figures are counts, far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    let min = min_sample as f64;
    let (winner, inconclusive, reason) = match (a.sent, b.sent) {
        (false, false) => (None, true, "neither arm went out".to_owned()),
        (true, false) => (Some(Arm::A), true, "arm B did not go out".to_owned()),
        (false, true) => (Some(Arm::B), true, "arm A did not go out".to_owned()),
        (true, true) if a.sample < min || b.sample < min => (
            Some(Arm::A),
            true,
            format!(
                "too few {sample} to decide (A {}, B {}; ab.min_sample is {min_sample}): arm A is kept",
                a.sample, b.sample
            ),
        ),
        (true, true) => match (a.rate, b.rate) {
            (Some(rate_a), Some(rate_b)) if rate_b > rate_a => (
                Some(Arm::B),
                false,
                format!("B's {rate} {} beats A's {}", shown(b.rate), shown(a.rate)),
            ),
            (Some(rate_a), Some(rate_b)) if rate_a > rate_b => (
                Some(Arm::A),
                false,
                format!("A's {rate} {} beats B's {}", shown(a.rate), shown(b.rate)),
            ),
            (Some(_), Some(_)) => (
                Some(Arm::A),
                true,
                format!(
                    "the arms' {rate} is equal ({}): arm A is kept",
                    shown(a.rate)
                ),
            ),
            _ => (
                Some(Arm::A),
                true,
                format!(
                    "the {rate} is unreported (A {}, B {}): arm A is kept",
                    shown(a.rate),
                    shown(b.rate)
                ),
            ),
        },
    };
    Decision {
        experiment: experiment.to_owned(),
        winner,
        inconclusive,
        reason,
        rate: rate.to_owned(),
        a,
        b,
        decided_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(post: &str, rate: Option<f64>, sample: f64) -> ArmFigures {
        ArmFigures {
            post: PostId(post.to_owned()),
            figures: BTreeMap::new(),
            rate,
            sample,
            sent: true,
        }
    }

    fn decided(a: ArmFigures, b: ArmFigures) -> Decision {
        decide(
            "exp_1",
            ExperimentKind::Split,
            a,
            b,
            100,
            jiff::Timestamp::UNIX_EPOCH,
        )
    }

    #[test]
    fn the_higher_rate_wins_with_enough_data() {
        let decision = decided(arm("a", Some(0.21), 210.0), arm("b", Some(0.34), 340.0));
        assert_eq!(decision.winner, Some(Arm::B));
        assert!(!decision.inconclusive);
        assert_eq!(decision.reason, "B's open_rate 34.0% beats A's 21.0%");
        let decision = decided(arm("a", Some(0.4), 400.0), arm("b", Some(0.3), 300.0));
        assert_eq!(decision.winner, Some(Arm::A));
        assert!(!decision.inconclusive);
    }

    #[test]
    fn too_few_opens_on_either_arm_is_inconclusive_and_keeps_arm_a() {
        let decision = decided(arm("a", Some(0.1), 500.0), arm("b", Some(0.9), 99.0));
        assert_eq!(decision.winner, Some(Arm::A));
        assert!(decision.inconclusive);
        assert!(
            decision.reason.starts_with("too few unique_opens"),
            "{}",
            decision.reason
        );
    }

    #[test]
    fn equal_or_unreported_rates_keep_arm_a() {
        let equal = decided(arm("a", Some(0.2), 200.0), arm("b", Some(0.2), 200.0));
        assert_eq!((equal.winner, equal.inconclusive), (Some(Arm::A), true));
        let unreported = decided(arm("a", None, 200.0), arm("b", Some(0.2), 200.0));
        assert_eq!(
            (unreported.winner, unreported.inconclusive),
            (Some(Arm::A), true)
        );
    }

    #[test]
    fn an_arm_that_did_not_go_out_cannot_win() {
        let mut b = arm("b", Some(0.9), 900.0);
        b.sent = false;
        let decision = decided(arm("a", Some(0.1), 100.0), b);
        assert_eq!(
            (decision.winner, decision.inconclusive),
            (Some(Arm::A), true)
        );
        let mut a = arm("a", None, 0.0);
        a.sent = false;
        let mut b = arm("b", None, 0.0);
        b.sent = false;
        assert_eq!(decided(a, b).winner, None);
    }

    #[test]
    fn experiment_ids_are_stable_and_arms_round_trip() {
        let id = experiment_id(&PostId("post_1".to_owned()));
        assert_eq!(id, experiment_id(&PostId("post_1".to_owned())));
        assert_ne!(id, experiment_id(&PostId("post_2".to_owned())));
        assert!(id.starts_with("exp_"));
        for arm in [Arm::A, Arm::B, Arm::Winner] {
            assert_eq!(Arm::parse(arm.as_str()), Some(arm));
        }
    }
}
