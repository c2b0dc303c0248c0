//! The planner: which item goes out on which channel when, for a period.
//!
//! Rules (PRODUCT §3): an item appears at most once per channel — within the
//! period, and, for a stored plan, across every post already stored (a slot
//! holding a stored post keeps its item, so overlapping plans and re-plans
//! never post an item twice);
//! consecutive posts on a channel come from different sections when possible;
//! high priority and earlier dates first; never before an item's `Date`; only
//! on the channels an item allows; the featured section (Breathscape) is
//! featured every week on every channel; slots no item can fill are left out
//! and named in the warnings. Times are local to the plan's time zone, so a
//! 09:00 slot stays 09:00 across daylight-saving changes.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use jiff::ToSpan;
use jiff::ZonedDateTime;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::cadence::Cadence;
use crate::channel::Channel;
use crate::document::{Item, ItemId, LivingDocument, short_hex};
use crate::experiment::{AbSettings, Arm, ArmOf, ExperimentKind, experiment_id};
use crate::publisher::{PostId, PostShape};

/// The longest `Nd` period.
pub const MAX_PERIOD_DAYS: i64 = 92;

/// How long a plan runs: `day`, `week`, `month` or `Nd` (1–92 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// One day.
    Day,
    /// Seven days.
    Week,
    /// From the start date to the same day of the next month.
    Month,
    /// A number of days from 1 to 92.
    Days(u8),
}

/// A period that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad period `{0}`: expected day, week, month or Nd with N from 1 to 92 (such as 10d)")]
pub struct PeriodError(pub String);

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            other => other
                .strip_suffix('d')
                .and_then(|days| days.parse::<u8>().ok())
                .filter(|days| (1..=MAX_PERIOD_DAYS).contains(&i64::from(*days)))
                .map(Self::Days)
                .ok_or_else(|| PeriodError(value.to_owned())),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Day => formatter.write_str("day"),
            Self::Week => formatter.write_str("week"),
            Self::Month => formatter.write_str("month"),
            Self::Days(days) => write!(formatter, "{days}d"),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Period {
    /// The number of days the period covers from `start`.
    pub fn days_from(&self, start: Date) -> i64 {
        match self {
            Self::Day => 1,
            Self::Week => 7,
            Self::Days(days) => i64::from(*days),
            Self::Month => start
                .checked_add(1.month())
                .ok()
                .and_then(|end| start.until(end).ok())
                .map_or(30, |span| i64::from(span.get_days())),
        }
    }
}

/// One channel of a plan request.
#[derive(Debug, Clone)]
pub struct PlanChannel {
    /// The channel.
    pub channel: Channel,
    /// Its slots.
    pub cadence: Cadence,
    /// How many items one post carries.
    pub shape: PostShape,
    /// The most posts in any 24 hours, counting stored ones; `None` for no cap.
    pub daily_cap: Option<u32>,
    /// The newsletter segment these slots are the issues of (`[[segments]]`
    /// `id`): a channel planned once per segment has a `PlanChannel` each.
    pub segment: Option<String>,
    /// How the channel runs an item's A/B experiment; `None`: it cannot,
    /// and the item goes out as the document has it.
    pub experiments: Option<ExperimentKind>,
    /// An experiment the channel cannot run in its configuration, and why
    /// ([`crate::publisher::Publisher::experiments_refused`]).
    pub experiments_refused: Option<(ExperimentKind, &'static str)>,
}

/// Whether a stored post is a split experiment's arm B or winner's send.
fn is_extra_arm(stored: &StoredSlot) -> bool {
    stored
        .experiment
        .as_ref()
        .is_some_and(|arm| matches!(arm.arm, Arm::B | Arm::Winner))
}

/// One day of a daily cap's window.
const DAY: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// The most posts in any 24-hour window that holds `at`, among `taken`
/// (sorted) with `at` added: what placing a post at `at` would make the
/// busiest window hold.
fn busiest_window_with(taken: &[jiff::Timestamp], at: jiff::Timestamp) -> usize {
    // A window holding `at` starts in (at - 24h, at]; its count changes only
    // at posts, so the windows starting at each post in that range, and at
    // `at` itself, are the ones to count.
    let starts = taken
        .iter()
        .copied()
        .filter(|start| *start <= at && at.duration_since(*start) < DAY)
        .chain(std::iter::once(at));
    starts
        .map(|start| {
            taken
                .iter()
                .filter(|post| **post >= start && post.duration_since(start) < DAY)
                .count()
                + 1
        })
        .max()
        .unwrap_or(1)
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// How long.
    pub period: Period,
    /// The first day.
    pub start: Date,
    /// The zone slot times are in.
    pub timezone: TimeZone,
    /// The section featured every week (Breathscape).
    pub featured_section: String,
    /// The channels to plan, with their cadences.
    pub channels: Vec<PlanChannel>,
    /// Posts already stored, from earlier plans: a slot holding one keeps
    /// its item, and an item stored on a channel is never planned into
    /// another of its slots (overlapping plans do not post it twice).
    pub stored: Vec<StoredSlot>,
    /// Posts of the channels outside this plan's document (another
    /// locale's), stored or planned: they hold no slot here but count
    /// towards the channel's daily cap, as they go to the same account.
    pub elsewhere: Vec<(Channel, jiff::Timestamp)>,
    /// The locale of a `[locales.<code>]` document, which its post ids
    /// and the plan id include; `None` for the main document, whose ids
    /// are those it always had.
    pub locale: Option<String>,
    /// The `[ab]` settings: when a split send's winner goes to the rest.
    pub ab: AbSettings,
}

/// A post already in the store, as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSlot {
    /// The channel.
    pub channel: Channel,
    /// Its slot.
    pub at: jiff::Timestamp,
    /// The item it carries.
    pub item: ItemId,
    /// The other items of a digest.
    pub includes: Vec<ItemId>,
    /// Whether it still holds its slot: a rejected or cancelled post frees
    /// its slot, and its items are still not planned again on the channel.
    pub holds_slot: bool,
    /// Whether it is going out or out (or partly sent): its slot is its own
    /// even when its item left the document or moved to a later date.
    pub protected: bool,
    /// The segment whose issue it is.
    pub segment: Option<String>,
    /// Its experiment and arm, when it is one of an experiment's arms.
    pub experiment: Option<ArmOf>,
}

/// A post in a plan, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedPost {
    /// Stable id from channel and slot.
    pub id: PostId,
    /// The channel.
    pub channel: Channel,
    /// When it goes out.
    pub scheduled_at: ZonedDateTime,
    /// The item (the featured item of a digest).
    pub item: ItemId,
    /// The other items of a digest.
    pub includes: Vec<ItemId>,
    /// The segment whose issue it is.
    pub segment: Option<String>,
    /// Its experiment and arm, when it is one of an experiment's arms.
    pub experiment: Option<ArmOf>,
}

/// A planned period.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Stable id from the document revision and the request.
    pub id: String,
    /// The period.
    pub period: Period,
    /// The first day.
    pub start: Date,
    /// The time zone name.
    pub timezone: String,
    /// Posts by time, then channel.
    pub posts: Vec<PlannedPost>,
    /// Slots left empty and other things a person should know.
    pub warnings: Vec<String>,
}

/// The Monday after `today` (a week from `today` when `today` is a Monday).
pub fn next_monday(today: Date) -> Date {
    let days = 7 - i64::from(today.weekday().to_monday_zero_offset());
    today.checked_add(days.days()).unwrap_or(today)
}

/// A slot that cannot be placed in time (the date is outside jiff's range).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot place a slot on {date}: {message}")]
pub struct PlanError {
    /// The date.
    pub date: String,
    /// Why.
    pub message: String,
}

struct Slot {
    at: ZonedDateTime,
    week: i64,
}

fn slots(request: &PlanRequest, cadence: &Cadence) -> Result<Vec<Slot>, PlanError> {
    let mut slots = Vec::new();
    for offset in 0..request.period.days_from(request.start) {
        let error = |message: String| PlanError {
            date: format!("{} + {offset} days", request.start),
            message,
        };
        let date = request
            .start
            .checked_add(offset.days())
            .map_err(|e| error(e.to_string()))?;
        for rule in cadence
            .0
            .iter()
            .filter(|rule| rule.days.contains(date.weekday()))
        {
            // jiff resolves a time in a DST gap to the later instant and an
            // ambiguous one to the earlier, as calendars do.
            let at = date
                .to_datetime(rule.time)
                .to_zoned_datetime(request.timezone.clone())
                .map_err(|e| error(e.to_string()))?;
            slots.push(Slot {
                at,
                week: offset / 7,
            });
        }
    }
    slots.sort_by(|left, right| left.at.cmp(&right.at));
    slots.dedup_by(|left, right| left.at == right.at);
    Ok(slots)
}

/// The stable id of the post in `channel`'s slot at `at`.
pub fn post_id(channel: &Channel, at: &ZonedDateTime) -> PostId {
    post_id_in(channel, at, None, None)
}

/// The stable id of the post in `channel`'s slot at `at` of the
/// document in `locale` (`None`: the main document), in the issue of
/// `segment` (`None`: the channel's one post of the slot).
pub fn post_id_in(
    channel: &Channel,
    at: &ZonedDateTime,
    locale: Option<&str>,
    segment: Option<&str>,
) -> PostId {
    let mut hasher = Sha256::new()
        .chain_update(channel.as_str())
        .chain_update("|")
        .chain_update(at.timestamp().to_string());
    if let Some(locale) = locale {
        hasher.update(format!("|locale={locale}"));
    }
    if let Some(segment) = segment {
        hasher.update(format!("|segment={segment}"));
    }
    PostId(format!("post_{}", short_hex(&hasher.finalize())))
}

/// The id of arm B or of the winner's send of the split experiment whose
/// arm A is `arm_a` (arm A keeps its slot's id).
pub fn arm_post_id(arm_a: &PostId, arm: Arm) -> PostId {
    let hash = Sha256::new()
        .chain_update(&arm_a.0)
        .chain_update("|arm=")
        .chain_update(arm.as_str())
        .finalize();
    PostId(format!("post_{}", short_hex(&hash)))
}

fn plan_id(document: &LivingDocument, request: &PlanRequest, with_experiments: bool) -> String {
    let mut hasher = Sha256::new()
        .chain_update(&document.revision)
        .chain_update(request.period.to_string())
        .chain_update(request.start.to_string())
        .chain_update(request.timezone.iana_name().unwrap_or("fixed"))
        .chain_update(&request.featured_section);
    for plan_channel in &request.channels {
        hasher.update(format!(
            "|{}={}|{:?}",
            plan_channel.channel, plan_channel.cadence, plan_channel.shape
        ));
        if let Some(cap) = plan_channel.daily_cap {
            hasher.update(format!("|cap={cap}"));
        }
        if let Some(segment) = &plan_channel.segment {
            hasher.update(format!("|segment={segment}"));
        }
    }
    // Only a plan with experiments depends on `[ab]`: the others keep the
    // ids they had before experiments existed.
    if with_experiments {
        hasher.update(format!(
            "|ab={}/{}",
            request.ab.test_fraction, request.ab.decide_after
        ));
    }
    if let Some(locale) = &request.locale {
        hasher.update(format!("|locale={locale}"));
    }
    format!("plan_{}", short_hex(&hasher.finalize()))
}

/// Plans `request.period` from `document`.
///
/// # Errors
/// Returns a [`PlanError`] only when a slot falls outside the supported date range.
pub fn plan(document: &LivingDocument, request: &PlanRequest) -> Result<Plan, PlanError> {
    let mut ranked: Vec<(usize, &Item)> = document.items().enumerate().collect();
    ranked.sort_by_key(|(index, item)| {
        (
            Reverse(item.priority),
            item.date.is_none(),
            item.date,
            *index,
        )
    });
    let ranked: Vec<&Item> = ranked.into_iter().map(|(_, item)| item).collect();
    let is_featured = |item: &Item| item.section.eq_ignore_ascii_case(&request.featured_section);

    let timezone = request.timezone.iana_name().unwrap_or("UTC").to_owned();
    let mut posts = Vec::new();
    let mut warnings = Vec::new();
    if !ranked.iter().any(|item| is_featured(item)) {
        warnings.push(format!(
            "the document has no `{}` section items to feature; other items are featured instead",
            request.featured_section
        ));
    }
    for plan_channel in &request.channels {
        let channel = &plan_channel.channel;
        let segment = plan_channel.segment.as_deref();
        // Warnings name a segment's issues by the segment too.
        let shown = match segment {
            Some(segment) => format!("{channel} ({segment})"),
            None => channel.to_string(),
        };
        let stored: Vec<&StoredSlot> = request
            .stored
            .iter()
            .filter(|stored| stored.channel == *channel && stored.segment.as_deref() == segment)
            .collect();
        // Items already stored on the channel are planned only into the
        // slot that holds them.
        let mut used: HashSet<&ItemId> = stored
            .iter()
            .flat_map(|stored| std::iter::once(&stored.item).chain(&stored.includes))
            .collect();
        // The daily cap counts every post that holds a slot, stored or planned.
        let mut taken: Vec<jiff::Timestamp> = stored
            .iter()
            .filter(|stored| stored.holds_slot)
            .map(|stored| stored.at)
            .chain(
                request
                    .elsewhere
                    .iter()
                    .filter(|(other, _)| other == channel)
                    .map(|(_, at)| *at),
            )
            .collect();
        taken.sort_unstable();
        let kind = plan_channel.experiments;
        // An item with a `Hook B:` placed as arm A, waiting for the
        // channel's next free slot for its arm B: (item, experiment, the
        // index of its arm A among `posts`).
        let mut waiting_arm_b: Option<(&Item, String, usize)> = None;
        let mut last_section: Option<&str> = None;
        let mut featured_weeks: HashSet<i64> = HashSet::new();
        let mut weeks_with_slots: Vec<(i64, Date)> = Vec::new();
        for slot in slots(request, &plan_channel.cadence)? {
            let day = slot.at.date();
            if weeks_with_slots
                .last()
                .is_none_or(|(week, _)| *week != slot.week)
            {
                weeks_with_slots.push((slot.week, day));
            }
            // A split experiment's arm B and winner's send sit beside its
            // arm A, which holds the slot.
            let holder = stored.iter().find(|stored| {
                stored.holds_slot
                    && stored.at == slot.at.timestamp()
                    && !(kind == Some(ExperimentKind::Split) && is_extra_arm(stored))
            });
            if holder.is_none()
                && let Some(cap) = plan_channel.daily_cap
            {
                let busiest = busiest_window_with(&taken, slot.at.timestamp());
                if busiest > usize::try_from(cap).unwrap_or(usize::MAX) {
                    let posts = if cap == 1 { "post" } else { "posts" };
                    warnings.push(format!(
                        "left out {shown} at {} {timezone}: the channel's daily_cap of {cap} {posts} in 24 hours is reached there, counting stored posts",
                        slot.at.strftime("%a %Y-%m-%d %H:%M")
                    ));
                    continue;
                }
            }
            if holder.is_none()
                && let Some((item, experiment, _)) = waiting_arm_b.take()
            {
                let index = taken.partition_point(|at| *at <= slot.at.timestamp());
                taken.insert(index, slot.at.timestamp());
                last_section = Some(&item.section);
                posts.push(PlannedPost {
                    id: post_id_in(channel, &slot.at, request.locale.as_deref(), segment),
                    channel: channel.clone(),
                    scheduled_at: slot.at,
                    item: item.id.clone(),
                    includes: Vec::new(),
                    segment: segment.map(ToOwned::to_owned),
                    experiment: Some(ArmOf {
                        id: experiment,
                        arm: Arm::B,
                    }),
                });
                continue;
            }
            let pinned = holder.and_then(|stored| {
                let item = ranked.iter().copied().find(|item| {
                    item.id == stored.item
                        && item.allows(channel)
                        && item.reaches(segment)
                        && (stored.protected || item.date.is_none_or(|date| date <= day))
                })?;
                // An arm B whose item lost its B line gives its slot back,
                // unless it is out.
                let stale_arm_b = !stored.protected
                    && stored
                        .experiment
                        .as_ref()
                        .is_some_and(|arm| arm.arm == Arm::B)
                    && kind.and_then(|kind| kind.arm_b_text(item)).is_none();
                (!stale_arm_b).then_some((item, *stored))
            });
            if pinned.is_none() && holder.is_some_and(|stored| stored.protected) {
                // Out, or going out, with an item the document no longer
                // has: the slot stays the stored post's, planned by nobody.
                continue;
            }
            let (item, includes) = if let Some((item, stored)) = pinned {
                let includes: Vec<ItemId> = stored
                    .includes
                    .iter()
                    .filter(|included| ranked.iter().any(|other| other.id == **included))
                    .cloned()
                    .collect();
                (item, includes)
            } else {
                let candidates: Vec<&Item> = ranked
                    .iter()
                    .copied()
                    .filter(|item| {
                        item.allows(channel)
                            && item.reaches(segment)
                            && !used.contains(&item.id)
                            && item.date.is_none_or(|date| date <= day)
                    })
                    .collect();
                let wants_featured = match plan_channel.shape {
                    PostShape::Digest { .. } => true,
                    PostShape::Single => !featured_weeks.contains(&slot.week),
                };
                let chosen = candidates
                    .iter()
                    .find(|item| wants_featured && is_featured(item))
                    .or_else(|| {
                        candidates
                            .iter()
                            .find(|item| Some(item.section.as_str()) != last_section)
                    })
                    .or_else(|| candidates.first())
                    .copied();
                let Some(item) = chosen else {
                    warnings.push(format!(
                        "no item left for {shown} at {} {timezone}: every item allowed on {shown} and dated on or before that day is already planned",
                        slot.at.strftime("%a %Y-%m-%d %H:%M")
                    ));
                    continue;
                };
                used.insert(&item.id);
                let includes: Vec<ItemId> = match plan_channel.shape {
                    PostShape::Single => Vec::new(),
                    PostShape::Digest { more } => candidates
                        .iter()
                        .filter(|other| other.id != item.id)
                        .take(more)
                        .map(|other| other.id.clone())
                        .collect(),
                };
                for included in &includes {
                    if let Some(other) = candidates.iter().find(|other| &other.id == included) {
                        used.insert(&other.id);
                    }
                }
                (item, includes)
            };
            if is_featured(item) {
                featured_weeks.insert(slot.week);
            }
            last_section = Some(&item.section);
            // A slot's holder is counted already; another locale's post
            // at the same time is a post of its own.
            if holder.is_none() {
                let index = taken.partition_point(|at| *at <= slot.at.timestamp());
                taken.insert(index, slot.at.timestamp());
            }
            let id = post_id_in(channel, &slot.at, request.locale.as_deref(), segment);
            let pinned_arm = pinned.and_then(|(_, stored)| stored.experiment.clone());
            let started = |experiment: &str| {
                stored.iter().any(|stored| {
                    stored.protected
                        && stored
                            .experiment
                            .as_ref()
                            .is_some_and(|arm| arm.id == experiment)
                })
            };
            if let Some((refused, why)) = plan_channel.experiments_refused
                && kind.is_none()
                && refused.arm_b_text(item).is_some()
            {
                warnings.push(format!(
                    "`{}` has a `{}:` line, but {shown} cannot run its experiment: {why}; the post at {} {timezone} goes out as the document has it",
                    item.id,
                    refused.line(),
                    slot.at.strftime("%a %Y-%m-%d %H:%M")
                ));
            }
            let planned = PlannedPost {
                id: id.clone(),
                channel: channel.clone(),
                scheduled_at: slot.at.clone(),
                item: item.id.clone(),
                includes,
                segment: segment.map(ToOwned::to_owned),
                experiment: None,
            };
            match kind {
                // A slot that holds an arm B keeps it.
                _ if pinned_arm.as_ref().is_some_and(|arm| arm.arm == Arm::B) => {
                    posts.push(PlannedPost {
                        experiment: pinned_arm,
                        ..planned
                    });
                }
                // A split experiment with a send out runs to its end without
                // its B line: its winner's send has the rest of the list to reach.
                Some(ExperimentKind::Split)
                    if item.subject_b.is_none()
                        && pinned_arm
                            .as_ref()
                            .is_some_and(|arm| arm.arm == Arm::A && started(&arm.id)) =>
                {
                    posts.push(PlannedPost {
                        experiment: pinned_arm,
                        ..planned
                    });
                }
                Some(ExperimentKind::Split) if item.subject_b.is_some() => {
                    let experiment = experiment_id(&id);
                    let arm = |arm| {
                        Some(ArmOf {
                            id: experiment.clone(),
                            arm,
                        })
                    };
                    let Ok(decision_at) = slot.at.checked_add(request.ab.decide_after) else {
                        posts.push(planned);
                        continue;
                    };
                    posts.push(PlannedPost {
                        experiment: arm(Arm::A),
                        ..planned.clone()
                    });
                    posts.push(PlannedPost {
                        id: arm_post_id(&id, Arm::B),
                        experiment: arm(Arm::B),
                        ..planned.clone()
                    });
                    posts.push(PlannedPost {
                        id: arm_post_id(&id, Arm::Winner),
                        scheduled_at: decision_at,
                        experiment: arm(Arm::Winner),
                        ..planned
                    });
                }
                Some(ExperimentKind::Slots) if item.hook_b.is_some() => {
                    let experiment = experiment_id(&id);
                    let stored_arm_b = stored.iter().any(|stored| {
                        stored.item == item.id
                            && stored
                                .experiment
                                .as_ref()
                                .is_some_and(|arm| arm.arm == Arm::B && arm.id == experiment)
                    });
                    if !stored_arm_b {
                        waiting_arm_b = Some((item, experiment.clone(), posts.len()));
                    }
                    posts.push(PlannedPost {
                        experiment: Some(ArmOf {
                            id: experiment,
                            arm: Arm::A,
                        }),
                        ..planned
                    });
                }
                _ => posts.push(planned),
            }
        }
        if let Some((item, _, index)) = waiting_arm_b {
            warnings.push(format!(
                "the experiment of `{}` has no second {shown} slot in the period for its arm B: arm A goes out alone, as a post of no experiment",
                item.id
            ));
            posts[index].experiment = None;
        }
        let any_featured = ranked
            .iter()
            .any(|item| is_featured(item) && item.allows(channel) && item.reaches(segment));
        for (week, first_day) in weeks_with_slots {
            if any_featured && !featured_weeks.contains(&week) {
                warnings.push(format!(
                    "no `{}` item could be featured on {shown} in the week from {first_day}",
                    request.featured_section
                ));
            }
        }
    }
    posts.sort_by(|left, right| {
        left.scheduled_at
            .timestamp()
            .cmp(&right.scheduled_at.timestamp())
            .then_with(|| left.channel.cmp(&right.channel))
    });
    Ok(Plan {
        id: plan_id(
            document,
            request,
            posts.iter().any(|post| post.experiment.is_some()),
        ),
        period: request.period,
        start: request.start,
        timezone,
        posts,
        warnings,
    })
}

#[cfg(test)]
mod tests;
