//! Turns a plan into rendered, validated and previewed posts: the content
//! plan that `generate` prints and `POST /generateBatch` returns.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use jiff::ZonedDateTime;
use serde::{Serialize, Serializer};

use crate::channel::Channel;
use crate::document::{Item, ItemId, LivingDocument};
use crate::experiment::{AbSettings, Arm, ArmOf, Variation};
use crate::plan::{Period, Plan, StoredSlot};
use crate::publisher::{
    Content, ItemView, OutgoingPost, PostId, PostStatus, Publisher, RenderInput,
};
use crate::render::Renderer;
use crate::request::RequestPreview;
use crate::snapshot::Changes;
use crate::store::{NewPost, PlanRecord, SaveReport, StoreError, StoredPost};

/// The item a post is about, as plans show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ItemRef {
    /// Stable id.
    pub id: ItemId,
    /// Section name.
    pub section: String,
    /// Title.
    pub title: String,
}

fn as_timestamp<S: Serializer>(zoned: &ZonedDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&zoned.timestamp())
}

/// A rendered post of a plan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduledPost {
    /// Stable id from channel and slot.
    pub id: PostId,
    /// The channel.
    pub channel: Channel,
    /// When it goes out (serialised in UTC, as `2026-11-30T09:00:00Z`).
    #[serde(serialize_with = "as_timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub scheduled_at: ZonedDateTime,
    /// The item (the featured item of a newsletter).
    pub item: ItemRef,
    /// The ids of the other items a newsletter carries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<ItemId>,
    /// Lifecycle state.
    pub status: PostStatus,
    /// The language it is written in (a BCP 47 code such as `de`).
    pub locale: String,
    /// The newsletter segment whose issue it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Its experiment and arm, when it is an arm of an A/B experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ArmOf>,
    /// The channel's rendered content.
    pub content: Content,
    /// The first (usually only) request `publish` sends, secrets redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestPreview>,
    /// Every request, when publishing takes more than one (a thread).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestPreview>,
}

impl ScheduledPost {
    /// The post to store.
    ///
    /// # Errors
    /// Returns [`StoreError::Json`] when a part does not serialise.
    pub fn to_new_post(&self) -> Result<NewPost, StoreError> {
        let requests = if self.requests.is_empty() {
            serde_json::to_value(self.request.iter().collect::<Vec<_>>())?
        } else {
            serde_json::to_value(&self.requests)?
        };
        Ok(NewPost {
            id: self.id.clone(),
            channel: self.channel.clone(),
            scheduled_at: self.scheduled_at.timestamp(),
            item_id: self.item.id.to_string(),
            item: serde_json::to_value(&self.item)?,
            includes: self.includes.iter().map(ToString::to_string).collect(),
            status: self.status,
            locale: self.locale.clone(),
            segment: self.segment.clone(),
            experiment: self.experiment.clone(),
            content: self.content.0.clone(),
            request: requests,
        })
    }
}

/// How the planner sees a stored post; `None` for a post whose item has no id
/// (none is stored that way).
pub fn stored_slot(post: &StoredPost) -> Option<StoredSlot> {
    let item = serde_json::from_value(post.item.get("id")?.clone()).ok()?;
    Some(StoredSlot {
        channel: post.channel.clone(),
        at: post.scheduled_at,
        item,
        includes: post
            .includes
            .iter()
            .filter_map(|id| serde_json::from_value(serde_json::Value::from(id.as_str())).ok())
            .collect(),
        holds_slot: !matches!(post.status, PostStatus::Rejected | PostStatus::Cancelled),
        protected: is_out(post),
        segment: post.segment.clone(),
        experiment: post.experiment.clone(),
    })
}

/// Whether a stored post is going out or out, or partly sent.
fn is_out(post: &StoredPost) -> bool {
    crate::store::lifecycle::is_protected(post.status) || !post.external_ids.is_empty()
}

/// The stored arms an experiment no longer has in the document: for each
/// stored arm A that `planned` replans with no experiment or another one,
/// the other posts of its experiment (arm B, the winner's send) that
/// `planned` does not replan, are still to go and are not rejected or
/// cancelled. An experiment with any post out is left to run to its end.
pub fn retired_arms<'a>(
    stored: &[&'a StoredPost],
    planned: &[ScheduledPost],
) -> Vec<&'a StoredPost> {
    let retired: Vec<&str> = stored
        .iter()
        .filter_map(|post| {
            let arm = post.experiment.as_ref().filter(|arm| arm.arm == Arm::A)?;
            let replanned = planned.iter().find(|planned| planned.id == post.id)?;
            let same = replanned
                .experiment
                .as_ref()
                .is_some_and(|new| new.id == arm.id);
            (!same).then_some(arm.id.as_str())
        })
        .filter(|experiment| {
            !stored.iter().any(|post| {
                is_out(post)
                    && post
                        .experiment
                        .as_ref()
                        .is_some_and(|arm| arm.id == *experiment)
            })
        })
        .collect();
    stored
        .iter()
        .copied()
        .filter(|post| {
            post.experiment
                .as_ref()
                .is_some_and(|arm| arm.arm != Arm::A && retired.contains(&arm.id.as_str()))
                && !planned.iter().any(|planned| planned.id == post.id)
                && !matches!(post.status, PostStatus::Rejected | PostStatus::Cancelled)
        })
        .collect()
}

/// A plan with its rendered posts (PRODUCT §3).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContentPlan {
    /// Stable id from the document revision and the request.
    pub plan_id: String,
    /// The period: `day`, `week`, `month` or `Nd`.
    #[schema(value_type = String, example = "week")]
    pub period: Period,
    /// The first day, `YYYY-MM-DD`.
    #[serde(serialize_with = "serialize_display")]
    #[schema(value_type = String, format = Date)]
    pub start: jiff::civil::Date,
    /// The time zone name.
    pub timezone: String,
    /// Whether this is a dry run.
    pub dry_run: bool,
    /// Posts by time, then channel.
    pub posts: Vec<ScheduledPost>,
    /// Slots left empty, posts left out and why.
    pub warnings: Vec<String>,
    /// Items new, changed or gone since the document was last read, when it
    /// was read before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
    /// What storing the plan did, when it was stored (not a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<SaveReport>,
}

impl ContentPlan {
    /// The plan's record in the store.
    pub fn record(&self) -> PlanRecord {
        PlanRecord {
            id: self.plan_id.clone(),
            period: self.period.to_string(),
            start: self.start.to_string(),
            timezone: self.timezone.clone(),
            warnings: self.warnings.clone(),
        }
    }
}

fn serialize_display<S: Serializer, T: std::fmt::Display>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Item views of the latest document revision, kept across requests so an
/// unchanged item's body is turned into HTML and text once, not per request.
#[derive(Debug, Default)]
pub struct ItemViews {
    cache: Mutex<ViewCache>,
}

#[derive(Debug, Default)]
struct ViewCache {
    revision: String,
    featured_section: String,
    views: HashMap<ItemId, Arc<ItemView>>,
}

impl ItemViews {
    /// The view of `item` of the document at `revision`.
    pub fn view(&self, revision: &str, featured_section: &str, item: &Item) -> Arc<ItemView> {
        let lock = || {
            self.cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        {
            let mut cache = lock();
            if cache.revision != revision || cache.featured_section != featured_section {
                cache.views.clear();
                revision.clone_into(&mut cache.revision);
                featured_section.clone_into(&mut cache.featured_section);
            }
            if let Some(view) = cache.views.get(&item.id) {
                return Arc::clone(view);
            }
        }
        // Rendered outside the lock: other requests go on meanwhile.
        let view = Arc::new(ItemView::new(item, featured_section));
        let mut cache = lock();
        if cache.revision == revision && cache.featured_section == featured_section {
            cache.views.insert(item.id.clone(), Arc::clone(&view));
        }
        view
    }
}

/// What composing needs besides the plan.
pub struct Composer<'a> {
    /// The document the plan was made from.
    pub document: &'a LivingDocument,
    /// Publishers by channel.
    pub publishers: &'a BTreeMap<Channel, Arc<dyn Publisher>>,
    /// Compiled templates, in the document's locale.
    pub renderer: &'a Renderer,
    /// The newsletter segments (`[[segments]]`), which planned posts name.
    pub segments: &'a [crate::publisher::Segment],
    /// The featured section.
    pub featured_section: &'a str,
    /// Item views shared across requests.
    pub views: &'a ItemViews,
    /// Whether requests are previewed.
    pub dry_run: bool,
    /// The status new posts get: `draft` when approval is required, else `scheduled`.
    pub initial_status: PostStatus,
    /// The `[ab]` settings: each split arm's share of the list.
    pub ab: AbSettings,
}

impl Composer<'_> {
    /// Renders, validates and previews every post of `plan`.
    ///
    /// A post that fails rendering or validation is left out and named in the
    /// warnings with the channel, the item and the rule, so the plan never
    /// carries a post that would be refused.
    pub fn compose(&self, plan: Plan) -> ContentPlan {
        let _render = tracing::info_span!("render", posts = plan.posts.len()).entered();
        let items: HashMap<&ItemId, &Item> =
            self.document.items().map(|item| (&item.id, item)).collect();
        let view = |id: &ItemId| -> Option<Arc<ItemView>> {
            let item = items.get(id)?;
            Some(
                self.views
                    .view(&self.document.revision, self.featured_section, item),
            )
        };
        let mut warnings = plan.warnings;
        let mut posts = Vec::with_capacity(plan.posts.len());
        for planned in plan.posts {
            let Some(publisher) = self.publishers.get(&planned.channel) else {
                warnings.push(format!(
                    "post {} left out: no {} publisher is enabled",
                    planned.id, planned.channel
                ));
                continue;
            };
            let (Some(item), Some(includes)) = (
                view(&planned.item),
                planned
                    .includes
                    .iter()
                    .map(view)
                    .collect::<Option<Vec<_>>>(),
            ) else {
                warnings.push(format!(
                    "post {} left out: it names an item the document does not have",
                    planned.id
                ));
                continue;
            };
            let include_refs: Vec<&ItemView> = includes.iter().map(AsRef::as_ref).collect();
            let input = RenderInput {
                post_id: &planned.id,
                scheduled_at: &planned.scheduled_at,
                item: &item,
                includes: &include_refs,
                locale: self.renderer.locale(),
                segment: planned
                    .segment
                    .as_deref()
                    .and_then(|id| self.segments.iter().find(|segment| segment.id == id)),
            };
            let arm_text = planned.experiment.as_ref().and_then(|arm| {
                let item = items.get(&planned.item)?;
                let kind = publisher.experiments()?;
                (arm.arm == Arm::B).then(|| kind.arm_b_text(item)).flatten()
            });
            let outgoing = publisher.render(&input, self.renderer).and_then(|content| {
                let content = match &planned.experiment {
                    Some(arm) => publisher.vary(
                        &content,
                        &Variation {
                            experiment: &arm.id,
                            arm: arm.arm,
                            fraction: self.ab.test_fraction,
                            text: arm_text,
                        },
                    )?,
                    None => content,
                };
                publisher.validate(&content)?;
                Ok(OutgoingPost {
                    id: planned.id.clone(),
                    scheduled_at: planned.scheduled_at.clone(),
                    content,
                })
            });
            let previews = outgoing.and_then(|post| {
                let previews = if self.dry_run {
                    publisher.preview(&post)?
                } else {
                    Vec::new()
                };
                Ok((post, previews))
            });
            let (post, mut previews) = match previews {
                Ok(rendered) => rendered,
                Err(error) => {
                    warnings.push(format!(
                        "post {} ({} item `{}`) left out: {error}",
                        planned.id, planned.channel, planned.item
                    ));
                    continue;
                }
            };
            let request = (!previews.is_empty()).then(|| previews[0].clone());
            if previews.len() < 2 {
                previews.clear();
            }
            posts.push(ScheduledPost {
                id: planned.id,
                channel: planned.channel,
                scheduled_at: planned.scheduled_at,
                item: ItemRef {
                    id: item.id.clone(),
                    section: item.section.clone(),
                    title: item.title.clone(),
                },
                includes: planned.includes,
                status: self.initial_status,
                locale: self.renderer.locale().to_owned(),
                segment: planned.segment,
                experiment: planned.experiment,
                content: post.content,
                request,
                requests: previews,
            });
        }
        ContentPlan {
            plan_id: plan.id,
            period: plan.period,
            start: plan.start,
            timezone: plan.timezone,
            dry_run: self.dry_run,
            posts,
            warnings,
            changes: None,
            stored: None,
        }
    }
}
