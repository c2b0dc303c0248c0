//! A/B experiments (PRODUCT §12): what each stored experiment is, and the
//! decision pass that reads its arms' figures once `ab.decide_after` has
//! passed since they went out, records the winner and why, and gives the
//! winner's send to the rest the winning arm's content.

use std::collections::BTreeMap;

use halcytone_core::channel::Channel;
use halcytone_core::experiment::{Arm, ArmFigures, Decision, ExperimentKind, Variation, decide};
use halcytone_core::publisher::{Content, OutgoingPost, PostId, PostStatus};
use halcytone_core::store::lifecycle::status_name;
use halcytone_core::store::{PostFilter, RestContent, Store as _, StoreError, StoredPost};
use jiff::Timestamp;
use serde::Serialize;

use crate::analytics::rates;
use crate::app::{App, AppError};

/// An experiment as stored: its arms and, once decided, the decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct Experiment {
    /// Its id (`exp_…`).
    pub(crate) id: String,
    /// The channel.
    pub(crate) channel: Channel,
    /// `split` (one send split, then the winner to the rest) or `slots`
    /// (the arms in two slots).
    pub(crate) kind: ExperimentKind,
    /// The item, as plans show it (`{id, section, title}`).
    pub(crate) item: serde_json::Value,
    /// `running`, `decided`, `inconclusive` or `cancelled` (each of its
    /// posts rejected or cancelled, as when the document drops its B line).
    pub(crate) status: &'static str,
    /// When it is decided: `ab.decide_after` after the later arm went
    /// out; absent until both arms are out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) decides_at: Option<Timestamp>,
    /// Its posts: arms A and B, and the winner's send of a split.
    pub(crate) arms: Vec<ArmPost>,
    /// The decision, once made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) decision: Option<Decision>,
}

/// One post of an experiment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct ArmPost {
    /// `A`, `B` or `winner`.
    pub(crate) arm: Arm,
    /// The post.
    pub(crate) post: PostId,
    /// Its state.
    pub(crate) status: PostStatus,
    /// When it goes out.
    #[schema(value_type = String, format = DateTime)]
    pub(crate) scheduled_at: Timestamp,
    /// When it went out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) published_at: Option<Timestamp>,
    /// What the arm tries: the newsletter's subject, or the post's
    /// opening line.
    pub(crate) text: String,
    /// Its latest figures.
    pub(crate) figures: BTreeMap<String, f64>,
    /// Their rates.
    pub(crate) rates: BTreeMap<String, f64>,
}

/// What the decision pass did with one experiment.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Decided {
    /// The experiment.
    pub(crate) experiment: String,
    /// The decision, when one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) decision: Option<Decision>,
    /// Why it was not decided yet, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) waiting: Option<String>,
}

/// Whether a post's send has ended, one way or another.
fn finished(status: PostStatus) -> bool {
    matches!(
        status,
        PostStatus::Published | PostStatus::Failed | PostStatus::Rejected | PostStatus::Cancelled
    )
}

/// What an arm's content tries: a newsletter's subject, or the first line
/// of a social post.
pub(crate) fn arm_text(content: &serde_json::Value) -> String {
    let text = content
        .get("subject")
        .or_else(|| content.get("commentary"))
        .or_else(|| content.get("parts").and_then(|parts| parts.get(0)))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    text.lines().next().unwrap_or_default().to_owned()
}

impl App {
    /// Every stored experiment, by its arm A's time.
    ///
    /// # Errors
    /// The store's error.
    pub(crate) async fn experiments(&self) -> Result<Vec<Experiment>, AppError> {
        let store = self.store().await?;
        let posts: Vec<StoredPost> = store
            .posts(&PostFilter::default())
            .await?
            .into_iter()
            .filter(|post| post.experiment.is_some())
            .collect();
        let mut figures: BTreeMap<PostId, BTreeMap<String, f64>> = BTreeMap::new();
        if let (Some(first), Some(last)) = (posts.first(), posts.last()) {
            let to = last.scheduled_at + jiff::SignedDuration::from_secs(1);
            for reading in store.latest_readings(first.scheduled_at, to, None).await? {
                figures
                    .entry(reading.post)
                    .or_default()
                    .insert(reading.metric, reading.value);
            }
        }
        let mut decisions: BTreeMap<String, Decision> = store
            .decisions()
            .await?
            .into_iter()
            .map(|decision| (decision.experiment.clone(), decision))
            .collect();
        let mut grouped: BTreeMap<String, Vec<StoredPost>> = BTreeMap::new();
        for post in posts {
            if let Some(arm) = &post.experiment {
                grouped.entry(arm.id.clone()).or_default().push(post);
            }
        }
        let decide_after = self.settings.ab.decide_after;
        let mut experiments: Vec<Experiment> = grouped
            .into_iter()
            .filter_map(|(id, mut posts)| {
                posts.sort_by_key(|post| post.experiment.as_ref().map(|arm| arm.arm));
                let first = posts.first()?;
                let kind = if posts.iter().any(|post| {
                    post.experiment
                        .as_ref()
                        .is_some_and(|arm| arm.arm == Arm::Winner)
                }) {
                    ExperimentKind::Split
                } else {
                    ExperimentKind::Slots
                };
                let arms_out: Vec<Option<Timestamp>> = posts
                    .iter()
                    .filter(|post| {
                        post.experiment
                            .as_ref()
                            .is_some_and(|arm| arm.arm != Arm::Winner)
                    })
                    .map(|post| post.published_at)
                    .collect();
                let decides_at = (arms_out.len() == 2 && arms_out.iter().all(Option::is_some))
                    .then(|| arms_out.iter().flatten().max().copied())
                    .flatten()
                    .map(|out| out + decide_after);
                let decision = decisions.remove(&id);
                let dropped = posts.iter().all(|post| {
                    matches!(post.status, PostStatus::Rejected | PostStatus::Cancelled)
                });
                let status = match &decision {
                    None if dropped => "cancelled",
                    None => "running",
                    Some(decision) if decision.inconclusive => "inconclusive",
                    Some(_) => "decided",
                };
                Some(Experiment {
                    channel: first.channel.clone(),
                    kind,
                    item: first.item.clone(),
                    status,
                    decides_at,
                    arms: posts
                        .iter()
                        .filter_map(|post| {
                            let figures = figures.get(&post.id).cloned().unwrap_or_default();
                            Some(ArmPost {
                                arm: post.experiment.as_ref()?.arm,
                                post: post.id.clone(),
                                status: post.status,
                                scheduled_at: post.scheduled_at,
                                published_at: post.published_at,
                                text: arm_text(&post.content),
                                rates: rates(&figures),
                                figures,
                            })
                        })
                        .collect(),
                    decision,
                    id,
                })
            })
            .collect();
        experiments.sort_by_key(|experiment| {
            experiment
                .arms
                .first()
                .map(|arm| (arm.scheduled_at, arm.post.clone()))
        });
        Ok(experiments)
    }

    /// One stored experiment.
    ///
    /// # Errors
    /// `ExperimentNotFound`, or the store's error.
    pub(crate) async fn experiment(&self, id: &str) -> Result<Experiment, AppError> {
        self.experiments()
            .await?
            .into_iter()
            .find(|experiment| experiment.id == id)
            .ok_or_else(|| AppError::ExperimentNotFound(id.to_owned()))
    }

    /// Decides every running experiment whose arms have been out for
    /// `ab.decide_after` (or ended without going out), on figures read
    /// from the channels just before. A channel whose figures cannot be
    /// read leaves its experiments running until the next pass.
    ///
    /// # Errors
    /// The store's error.
    pub(crate) async fn decide_experiments(
        &self,
        now: Timestamp,
    ) -> Result<Vec<Decided>, AppError> {
        let store = self.store().await?;
        let mut outcomes = Vec::new();
        let waiting = |experiment: &Experiment, why: String| Decided {
            experiment: experiment.id.clone(),
            decision: None,
            waiting: Some(why),
        };
        // The experiments due now, and their arms that went out.
        let mut due: Vec<String> = Vec::new();
        let mut published: Vec<StoredPost> = Vec::new();
        for experiment in self.experiments().await? {
            if experiment.decision.is_some() {
                continue;
            }
            let arm = |wanted: Arm| experiment.arms.iter().find(|arm| arm.arm == wanted);
            let (Some(a), Some(b)) = (arm(Arm::A), arm(Arm::B)) else {
                let why = "it has no arm A or no arm B in the store".to_owned();
                outcomes.push(waiting(&experiment, why));
                continue;
            };
            if let Some(open) = [a, b].into_iter().find(|arm| !finished(arm.status)) {
                let why = format!(
                    "arm {} is {} (its post {})",
                    open.arm,
                    status_name(open.status),
                    open.post
                );
                outcomes.push(waiting(&experiment, why));
                continue;
            }
            let out = [a, b].iter().filter_map(|arm| arm.published_at).max();
            if let Some(out) = out
                && now < out + self.settings.ab.decide_after
            {
                let why = format!(
                    "it is decided at {}, ab.decide_after after its arms went out",
                    out + self.settings.ab.decide_after
                );
                outcomes.push(waiting(&experiment, why));
                continue;
            }
            for arm in [a, b] {
                if arm.status == PostStatus::Published
                    && let Some(post) = store.post(&arm.post).await?
                {
                    published.push(post);
                }
            }
            due.push(experiment.id);
        }
        if due.is_empty() {
            return Ok(outcomes);
        }
        // One read of every due arm's figures, a batch per channel; a
        // channel that fails holds its own experiments only.
        let unread: BTreeMap<Channel, String> = self
            .read_figures_of(&published)
            .await?
            .into_iter()
            .filter_map(|line| Some((line.channel, line.error?)))
            .collect();
        for experiment in self.experiments().await? {
            if !due.contains(&experiment.id) {
                continue;
            }
            if let Some(error) = unread.get(&experiment.channel) {
                let why = format!("its figures could not be read: {error}");
                outcomes.push(waiting(&experiment, why));
                continue;
            }
            let arm = |wanted: Arm| experiment.arms.iter().find(|arm| arm.arm == wanted);
            let (Some(a), Some(b)) = (arm(Arm::A), arm(Arm::B)) else {
                continue;
            };
            let figures_of = |arm: &ArmPost| ArmFigures {
                post: arm.post.clone(),
                rate: arm.rates.get(experiment.kind.rate()).copied(),
                sample: arm
                    .figures
                    .get(experiment.kind.sample())
                    .copied()
                    .unwrap_or(0.0),
                sent: arm.status == PostStatus::Published,
                figures: arm.figures.clone(),
            };
            let decision = decide(
                &experiment.id,
                experiment.kind,
                figures_of(a),
                figures_of(b),
                self.settings.ab.min_sample,
                now,
            );
            let rest = match (decision.winner, arm(Arm::Winner)) {
                (Some(winner), Some(rest)) => {
                    let winner_post = if winner == Arm::A { a } else { b };
                    // A channel disabled or a content refused since holds
                    // this experiment only; the others are decided.
                    match self
                        .rest_content(&experiment, &winner_post.post, rest)
                        .await
                    {
                        Ok(content) => Some(content),
                        Err(error) => {
                            let why = format!("the winner's send cannot be prepared: {error}");
                            outcomes.push(waiting(&experiment, why));
                            continue;
                        }
                    }
                }
                _ => None,
            };
            let rest_view = rest.as_ref().map(|(post, content, request)| RestContent {
                post,
                content,
                request,
            });
            if store.decide_experiment(&decision, rest_view).await? {
                tracing::info!(
                    experiment = %experiment.id,
                    winner = ?decision.winner,
                    reason = %decision.reason,
                    "Experiment decided."
                );
                metrics::counter!(
                    "halcytone_experiments_decided_total",
                    "channel" => experiment.channel.to_string(),
                    "outcome" => if decision.inconclusive { "inconclusive" } else { "decided" }
                )
                .increment(1);
                outcomes.push(Decided {
                    experiment: experiment.id.clone(),
                    decision: Some(decision),
                    waiting: None,
                });
            }
        }
        Ok(outcomes)
    }

    /// The winner's send's new content: the winning arm's, sent to the
    /// rest of the list, validated and previewed as an edit would be.
    async fn rest_content(
        &self,
        experiment: &Experiment,
        winner: &PostId,
        rest: &ArmPost,
    ) -> Result<(PostId, serde_json::Value, serde_json::Value), AppError> {
        let store = self.store().await?;
        let winning = store
            .post(winner)
            .await?
            .ok_or_else(|| StoreError::NotFound(winner.clone()))?;
        let publisher = self.enabled_publisher(&winning)?;
        let refused = |error: halcytone_core::error::PublishError| AppError::BadRequest {
            field: "experiment",
            message: format!(
                "{}: the winner's content is refused: {error}",
                experiment.id
            ),
        };
        let content = publisher
            .vary(
                &Content(winning.content.clone()),
                &Variation {
                    experiment: &experiment.id,
                    arm: Arm::Winner,
                    fraction: self.settings.ab.test_fraction,
                    text: None,
                },
            )
            .map_err(refused)?;
        publisher.validate(&content).map_err(refused)?;
        let outgoing = OutgoingPost {
            id: rest.post.clone(),
            scheduled_at: rest
                .scheduled_at
                .to_zoned_datetime(self.settings.timezone.clone()),
            content,
        };
        let previews = publisher.preview(&outgoing).map_err(refused)?;
        let request = serde_json::to_value(&previews).map_err(StoreError::Json)?;
        Ok((rest.post.clone(), outgoing.content.0, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arms_text_is_its_subject_or_opening_line() {
        assert_eq!(
            arm_text(&serde_json::json!({"subject": "Fall asleep", "html": "<p>x</p>"})),
            "Fall asleep"
        );
        assert_eq!(
            arm_text(&serde_json::json!({"parts": ["Hook line\n\nBody", "more"]})),
            "Hook line"
        );
        assert_eq!(
            arm_text(&serde_json::json!({"commentary": "Opening\nrest"})),
            "Opening"
        );
    }

    #[test]
    fn only_ended_sends_are_finished() {
        assert!(finished(PostStatus::Published) && finished(PostStatus::Rejected));
        assert!(!finished(PostStatus::Scheduled) && !finished(PostStatus::Unconfirmed));
    }
}
