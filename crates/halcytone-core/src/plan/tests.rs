//! Tests of the planner: every rule, the DST weeks and the invariants.

use std::collections::{BTreeSet, HashSet};

use jiff::civil::{date, time};
use proptest::prelude::*;

use super::*;
use crate::cadence::{SlotRule, Weekdays};
use crate::document::{DocumentBuilder, KnownChannels, Location};

const CHANNELS: [&str; 4] = ["email", "linkedin", "twitter", "web"];

fn channel(name: &str) -> Channel {
    Channel::parse(name).unwrap()
}

fn known() -> KnownChannels {
    KnownChannels::new(CHANNELS.map(channel))
}

/// `(section, title, metadata lines)` → a document.
fn document(items: &[(&str, &str, &[&str])]) -> LivingDocument {
    let known = known();
    let mut builder = DocumentBuilder::new("test", &known);
    let mut current_section = "";
    for (line, (section, title, metadata)) in items.iter().enumerate() {
        if *section != current_section {
            builder.section(section, Location::Line(line));
            current_section = section;
        }
        builder.item(title, Location::Line(line));
        for entry in *metadata {
            assert!(builder.metadata_line(entry, Location::Line(line)));
        }
        builder.body("Body.");
    }
    builder.finish().unwrap().document
}

fn default_channels() -> Vec<PlanChannel> {
    let every = |hour| SlotRule {
        days: Weekdays::EVERY_DAY,
        time: time(hour, 0, 0, 0),
    };
    let weekdays = |hour| SlotRule {
        days: Weekdays::MONDAY_TO_FRIDAY,
        time: time(hour, 0, 0, 0),
    };
    vec![
        PlanChannel {
            channel: channel("email"),
            cadence: Cadence(vec![SlotRule {
                days: Weekdays::MONDAY,
                time: time(9, 0, 0, 0),
            }]),
            shape: PostShape::Digest { more: 5 },
            daily_cap: None,
            segment: None,
            experiments: None,
            experiments_refused: None,
        },
        PlanChannel {
            channel: channel("linkedin"),
            cadence: Cadence(vec![weekdays(12)]),
            shape: PostShape::Single,
            daily_cap: None,
            segment: None,
            experiments: None,
            experiments_refused: None,
        },
        PlanChannel {
            channel: channel("twitter"),
            cadence: Cadence(vec![every(9), every(17)]),
            shape: PostShape::Single,
            daily_cap: None,
            segment: None,
            experiments: None,
            experiments_refused: None,
        },
        PlanChannel {
            channel: channel("web"),
            cadence: Cadence(vec![weekdays(10)]),
            shape: PostShape::Single,
            daily_cap: None,
            segment: None,
            experiments: None,
            experiments_refused: None,
        },
    ]
}

fn request(period: Period, start: Date, zone: &str, channels: Vec<PlanChannel>) -> PlanRequest {
    PlanRequest {
        period,
        start,
        timezone: TimeZone::get(zone).unwrap(),
        featured_section: "Breathscape".to_owned(),
        channels,
        stored: Vec::new(),
        elsewhere: Vec::new(),
        locale: None,
        ab: AbSettings::default(),
    }
}

fn many_items() -> LivingDocument {
    let sections = ["Breathscape", "Product", "Community", "Science"];
    let titles: Vec<(String, String)> = (0..40)
        .map(|index| (sections[index % 4].to_owned(), format!("Item {index}")))
        .collect();
    let items: Vec<(&str, &str, &[&str])> = titles
        .iter()
        .map(|(s, t)| (s.as_str(), t.as_str(), &[][..]))
        .collect();
    document(&items)
}

fn posts_on<'a>(plan: &'a Plan, name: &str) -> Vec<&'a PlannedPost> {
    plan.posts
        .iter()
        .filter(|post| post.channel.as_str() == name)
        .collect()
}

#[test]
fn periods_parse_and_count_days() {
    assert_eq!(
        "day"
            .parse::<Period>()
            .unwrap()
            .days_from(date(2026, 11, 30)),
        1
    );
    assert_eq!(
        "week"
            .parse::<Period>()
            .unwrap()
            .days_from(date(2026, 11, 30)),
        7
    );
    assert_eq!(
        "month"
            .parse::<Period>()
            .unwrap()
            .days_from(date(2026, 11, 30)),
        30
    );
    assert_eq!(
        "month"
            .parse::<Period>()
            .unwrap()
            .days_from(date(2027, 1, 31)),
        28
    );
    assert_eq!(
        "10d"
            .parse::<Period>()
            .unwrap()
            .days_from(date(2026, 11, 30)),
        10
    );
    assert_eq!("92d".parse::<Period>().unwrap().to_string(), "92d");
    for bad in ["0d", "93d", "fortnight", "d", "-1d", "7 d"] {
        assert!(bad.parse::<Period>().is_err(), "{bad}");
    }
}

#[test]
fn cadence_slots_parse_and_print() {
    for (text, printed) in [
        ("daily 09:00", "daily 09:00"),
        ("weekdays 10:00", "weekdays 10:00"),
        ("mon 09:00", "mon 09:00"),
        ("Mon,Wed,friday 12:30", "mon,wed,fri 12:30"),
        ("mon-fri 08:15", "weekdays 08:15"),
        ("sat-sun 11:00", "weekends 11:00"),
    ] {
        assert_eq!(
            text.parse::<SlotRule>().unwrap().to_string(),
            printed,
            "{text}"
        );
    }
    for bad in [
        "daily",
        "daily 25:00",
        "someday 09:00",
        "fri-mon 09:00",
        "09:00",
    ] {
        assert!(bad.parse::<SlotRule>().is_err(), "{bad}");
    }
}

#[test]
fn next_monday_is_strictly_after_today() {
    assert_eq!(next_monday(date(2026, 11, 27)), date(2026, 11, 30));
    assert_eq!(next_monday(date(2026, 11, 30)), date(2026, 12, 7));
    assert_eq!(next_monday(date(2026, 12, 6)), date(2026, 12, 7));
}

#[test]
fn a_week_from_monday_has_the_default_cadence() {
    let plan = plan(
        &many_items(),
        &request(Period::Week, date(2026, 11, 30), "UTC", default_channels()),
    )
    .unwrap();
    assert_eq!(posts_on(&plan, "email").len(), 1);
    assert_eq!(posts_on(&plan, "web").len(), 5);
    assert_eq!(posts_on(&plan, "twitter").len(), 14);
    assert_eq!(posts_on(&plan, "linkedin").len(), 5);
    assert_eq!(plan.posts.len(), 25);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let email = posts_on(&plan, "email")[0];
    assert_eq!(
        email.scheduled_at.to_string(),
        "2026-11-30T09:00:00+00:00[UTC]"
    );
    assert_eq!(email.includes.len(), 5);
    assert!(email.item.as_str().starts_with("breathscape/"));
}

#[test]
fn posts_are_ordered_by_time_then_channel() {
    let plan = plan(
        &many_items(),
        &request(Period::Week, date(2026, 11, 30), "UTC", default_channels()),
    )
    .unwrap();
    let keys: Vec<_> = plan
        .posts
        .iter()
        .map(|post| (post.scheduled_at.timestamp(), post.channel.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn high_priority_and_earlier_dates_come_first() {
    let doc = document(&[
        ("Breathscape", "Featured", &[]),
        ("A", "Normal", &[]),
        ("B", "Later date", &["Date: 2026-11-20"]),
        ("C", "Earlier date", &["Date: 2026-11-10"]),
        ("D", "Urgent", &["Priority: high"]),
        ("E", "Whenever", &["Priority: low"]),
    ]);
    let web = vec![default_channels().remove(3)];
    let plan = plan(&doc, &request(Period::Week, date(2026, 11, 30), "UTC", web)).unwrap();
    let titles: Vec<&str> = plan.posts.iter().map(|post| post.item.as_str()).collect();
    // The first post of the week features Breathscape; then priority, dates, document order.
    assert_eq!(
        titles,
        [
            "breathscape/featured",
            "d/urgent",
            "c/earlier-date",
            "b/later-date",
            "a/normal"
        ]
    );
}

#[test]
fn never_before_an_items_date() {
    let doc = document(&[
        (
            "Breathscape",
            "Launch",
            &["Date: 2026-12-03", "Priority: high"],
        ),
        ("A", "One", &[]),
        ("A", "Two", &[]),
        ("B", "Three", &[]),
    ]);
    let web = vec![default_channels().remove(3)];
    let plan = plan(&doc, &request(Period::Week, date(2026, 11, 30), "UTC", web)).unwrap();
    let launch = plan
        .posts
        .iter()
        .find(|post| post.item.as_str() == "breathscape/launch")
        .unwrap();
    assert_eq!(launch.scheduled_at.date(), date(2026, 12, 3));
}

#[test]
fn only_on_channels_the_item_allows() {
    let doc = document(&[
        ("Breathscape", "Only web", &["Channels: web"]),
        ("A", "Everywhere", &[]),
    ]);
    let plan = plan(
        &doc,
        &request(Period::Day, date(2026, 11, 30), "UTC", default_channels()),
    )
    .unwrap();
    for post in &plan.posts {
        if post.item.as_str() == "breathscape/only-web" {
            assert_eq!(post.channel.as_str(), "web");
        }
    }
}

#[test]
fn consecutive_posts_come_from_different_sections() {
    let doc = document(&[
        ("Breathscape", "B1", &[]),
        ("Breathscape", "B2", &[]),
        ("Breathscape", "B3", &[]),
        ("Product", "P1", &[]),
        ("Product", "P2", &[]),
        ("Product", "P3", &[]),
    ]);
    let twitter = vec![default_channels().remove(2)];
    let plan = plan(
        &doc,
        &request(Period::Days(3), date(2026, 11, 30), "UTC", twitter),
    )
    .unwrap();
    let sections: Vec<&str> = plan
        .posts
        .iter()
        .map(|post| post.item.as_str().split('/').next().unwrap())
        .collect();
    assert_eq!(
        sections,
        [
            "breathscape",
            "product",
            "breathscape",
            "product",
            "breathscape",
            "product"
        ]
    );
}

#[test]
fn breathscape_is_featured_every_week_on_every_channel() {
    let doc = many_items();
    let plan = plan(
        &doc,
        &request(
            Period::Days(21),
            date(2026, 11, 30),
            "UTC",
            default_channels(),
        ),
    )
    .unwrap();
    for name in CHANNELS {
        for week in 0..3 {
            let first = date(2026, 11, 30).checked_add((week * 7).days()).unwrap();
            let last = first.checked_add(6.days()).unwrap();
            let featured = plan.posts.iter().any(|post| {
                post.channel.as_str() == name
                    && (first..=last).contains(&post.scheduled_at.date())
                    && post.item.as_str().starts_with("breathscape/")
            });
            assert!(featured, "{name} week {week}");
        }
    }
}

#[test]
fn unfillable_slots_are_warnings() {
    let doc = document(&[("Breathscape", "Only one", &[])]);
    let twitter = vec![default_channels().remove(2)];
    let plan = plan(
        &doc,
        &request(Period::Day, date(2026, 11, 30), "UTC", twitter),
    )
    .unwrap();
    assert_eq!(plan.posts.len(), 1);
    assert_eq!(
        plan.warnings,
        [
            "no item left for twitter at Mon 2026-11-30 17:00 UTC: every item allowed on twitter and dated on or before that day is already planned"
        ]
    );
}

#[test]
fn a_document_without_the_featured_section_is_a_warning() {
    let doc = document(&[("A", "One", &[])]);
    let web = vec![default_channels().remove(3)];
    let plan = plan(&doc, &request(Period::Day, date(2026, 11, 30), "UTC", web)).unwrap();
    assert_eq!(plan.posts.len(), 1);
    assert!(plan.warnings[0].starts_with("the document has no `Breathscape` section items"));
}

#[test]
fn ids_are_stable_and_depend_on_channel_and_slot() {
    let doc = many_items();
    let first = plan(
        &doc,
        &request(Period::Week, date(2026, 11, 30), "UTC", default_channels()),
    )
    .unwrap();
    let second = plan(
        &doc,
        &request(Period::Week, date(2026, 11, 30), "UTC", default_channels()),
    )
    .unwrap();
    assert_eq!(first, second);
    let ids: HashSet<&PostId> = first.posts.iter().map(|post| &post.id).collect();
    assert_eq!(ids.len(), first.posts.len());
    let other_start = plan(
        &doc,
        &request(Period::Week, date(2026, 12, 7), "UTC", default_channels()),
    )
    .unwrap();
    assert_ne!(first.id, other_start.id);
}

fn as_stored(plan: &Plan, status_holds_slot: bool) -> Vec<StoredSlot> {
    plan.posts
        .iter()
        .map(|post| StoredSlot {
            channel: post.channel.clone(),
            at: post.scheduled_at.timestamp(),
            item: post.item.clone(),
            includes: post.includes.clone(),
            holds_slot: status_holds_slot,
            protected: false,
            segment: None,
            experiment: None,
        })
        .collect()
}

#[test]
fn an_overlapping_plan_keeps_stored_slots_and_never_repeats_an_item() {
    let doc = many_items();
    let week = plan(
        &doc,
        &request(Period::Week, date(2026, 11, 30), "UTC", default_channels()),
    )
    .unwrap();
    // Tuesday and Wednesday again, on top of the stored week.
    let mut overlap = request(
        Period::Days(2),
        date(2026, 12, 1),
        "UTC",
        default_channels(),
    );
    overlap.stored = as_stored(&week, true);
    let again = plan(&doc, &overlap).unwrap();
    assert!(!again.posts.is_empty());
    for post in &again.posts {
        let stored = week
            .posts
            .iter()
            .find(|stored| stored.id == post.id)
            .expect("each slot of the overlap is a slot of the week");
        assert_eq!(
            (&post.item, &post.includes),
            (&stored.item, &stored.includes),
            "{} at {} keeps its item",
            post.channel,
            post.scheduled_at
        );
    }
    // Without the stored week, the same two days would repeat its items.
    let afresh = plan(
        &doc,
        &request(
            Period::Days(2),
            date(2026, 12, 1),
            "UTC",
            default_channels(),
        ),
    )
    .unwrap();
    let repeated = afresh.posts.iter().any(|post| {
        week.posts.iter().any(|stored| {
            stored.channel == post.channel && stored.item == post.item && stored.id != post.id
        })
    });
    assert!(repeated, "the overlap case must be one that repeats items");

    // Rejected posts free their slots, and their items are not planned again.
    overlap.stored = as_stored(&week, false);
    let refilled = plan(&doc, &overlap).unwrap();
    for post in &refilled.posts {
        assert!(
            !week
                .posts
                .iter()
                .any(|stored| stored.channel == post.channel && stored.item == post.item),
            "{} at {} repeats {}",
            post.channel,
            post.scheduled_at,
            post.item
        );
    }
}

#[test]
fn a_slot_that_went_out_stays_its_posts_even_when_its_item_left_the_document() {
    let doc = many_items();
    let week = plan(
        &doc,
        &request(Period::Week, date(2026, 11, 30), "UTC", default_channels()),
    )
    .unwrap();
    let sent = posts_on(&week, "twitter")[0].clone();
    let mut again = request(Period::Week, date(2026, 11, 30), "UTC", default_channels());
    again.stored = vec![StoredSlot {
        channel: sent.channel.clone(),
        at: sent.scheduled_at.timestamp(),
        item: ItemId::new("Gone", "An item the document no longer has"),
        includes: Vec::new(),
        holds_slot: true,
        protected: true,
        segment: None,
        experiment: None,
    }];
    let replanned = plan(&doc, &again).unwrap();
    assert!(
        replanned.posts.iter().all(|post| post.id != sent.id),
        "nothing is planned into the published post's slot"
    );
    assert_eq!(
        posts_on(&replanned, "twitter").len(),
        posts_on(&week, "twitter").len() - 1
    );
}

/// Local times of the twitter slots, and their UTC offsets.
fn twitter_times(plan: &Plan) -> Vec<(String, String)> {
    posts_on(plan, "twitter")
        .iter()
        .map(|post| {
            (
                post.scheduled_at.strftime("%a %H:%M").to_string(),
                post.scheduled_at.strftime("%:z").to_string(),
            )
        })
        .collect()
}

fn assert_dst_week(zone: &str, start: Date, before: &str, after: &str, change_day: i64) {
    let twitter = vec![default_channels().remove(2)];
    let plan = plan(&many_items(), &request(Period::Week, start, zone, twitter)).unwrap();
    let times = twitter_times(&plan);
    assert_eq!(times.len(), 14, "{zone}");
    for (index, (local, offset)) in times.iter().enumerate() {
        let day = i64::try_from(index / 2).unwrap();
        let expected_time = if index % 2 == 0 { "09:00" } else { "17:00" };
        assert!(local.ends_with(expected_time), "{zone}: {local}");
        let expected_offset = if day < change_day { before } else { after };
        assert_eq!(offset, expected_offset, "{zone} {local}");
    }
}

#[test]
fn slots_stay_at_local_time_across_dst_in_london() {
    // Clocks go forward on Sunday 29 March 2026 and back on Sunday 25 October 2026.
    assert_dst_week("Europe/London", date(2026, 3, 23), "+00:00", "+01:00", 6);
    assert_dst_week("Europe/London", date(2026, 10, 19), "+01:00", "+00:00", 6);
}

#[test]
fn slots_stay_at_local_time_across_dst_in_new_york() {
    // Clocks go forward on Sunday 8 March 2026 and back on Sunday 1 November 2026.
    assert_dst_week("America/New_York", date(2026, 3, 2), "-05:00", "-04:00", 6);
    assert_dst_week(
        "America/New_York",
        date(2026, 10, 26),
        "-04:00",
        "-05:00",
        6,
    );
}

#[test]
fn a_slot_in_the_spring_gap_moves_to_the_first_valid_time() {
    let early = vec![PlanChannel {
        channel: channel("twitter"),
        cadence: "daily 01:30"
            .parse::<SlotRule>()
            .map(|rule| Cadence(vec![rule]))
            .unwrap(),
        shape: PostShape::Single,
        daily_cap: None,
        segment: None,
        experiments: None,
        experiments_refused: None,
    }];
    let plan = plan(
        &many_items(),
        &request(Period::Day, date(2026, 3, 29), "Europe/London", early),
    )
    .unwrap();
    assert_eq!(
        plan.posts[0].scheduled_at.to_string(),
        "2026-03-29T02:30:00+01:00[Europe/London]"
    );
}

fn arbitrary_document() -> impl Strategy<Value = LivingDocument> {
    let item = (
        0usize..4,
        proptest::option::of(0u8..20),
        proptest::option::of(proptest::sample::subsequence(CHANNELS.to_vec(), 1..=4)),
        0u8..3,
    );
    proptest::collection::vec(item, 1..30).prop_map(|items| {
        let sections = ["Breathscape", "Product", "Community", "Science"];
        let known = known();
        let mut builder = DocumentBuilder::new("generated", &known);
        let mut ordered: Vec<_> = items.into_iter().enumerate().collect();
        ordered.sort_by_key(|(_, (section, ..))| *section);
        let mut current = None;
        for (index, (section, day, channels, priority)) in ordered {
            if current != Some(section) {
                builder.section(sections[section], Location::Line(index));
                current = Some(section);
            }
            builder.item(&format!("Item {index}"), Location::Line(index));
            if let Some(day) = day {
                builder.metadata_line(
                    &format!("Date: 2026-12-{:02}", day + 1),
                    Location::Line(index),
                );
            }
            if let Some(channels) = channels {
                builder.metadata_line(
                    &format!("Channels: {}", channels.join(", ")),
                    Location::Line(index),
                );
            }
            builder.metadata_line(
                &format!(
                    "Priority: {}",
                    ["low", "normal", "high"][usize::from(priority)]
                ),
                Location::Line(index),
            );
            builder.body("Body.");
        }
        builder.finish().unwrap().document
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn plans_keep_the_invariants(doc in arbitrary_document(), days in 1u8..=31, start_day in 1i8..=28, zone in prop::sample::select(vec!["UTC", "Europe/London", "America/New_York", "Asia/Tokyo"])) {
        let start = date(2026, 12, start_day);
        let request = request(Period::Days(days), start, zone, default_channels());
        let planned = plan(&doc, &request).unwrap();
        let items: std::collections::HashMap<&ItemId, &Item> = doc.items().map(|item| (&item.id, item)).collect();
        let mut seen: BTreeSet<(Channel, ItemId)> = BTreeSet::new();
        for post in &planned.posts {
            for id in std::iter::once(&post.item).chain(&post.includes) {
                // No item twice on a channel in a period.
                prop_assert!(seen.insert((post.channel.clone(), id.clone())), "{} twice on {}", id, post.channel);
                let item = items[id];
                // Never on a channel the item excludes.
                prop_assert!(item.allows(&post.channel));
                // Never before the item's date.
                if let Some(day) = item.date {
                    prop_assert!(post.scheduled_at.date() >= day, "{} before {}", id, day);
                }
            }
            let end = start.checked_add(i64::from(days).days()).unwrap();
            prop_assert!(post.scheduled_at.date() >= start && post.scheduled_at.date() < end);
        }
        // Same input, same plan.
        prop_assert_eq!(&planned, &plan(&doc, &request).unwrap());
    }

    #[test]
    fn no_24_hour_window_holds_more_than_the_daily_cap(
        cap in 1u32..=4,
        hours in prop::collection::btree_set(0i8..24, 1..6),
        stored_hours in prop::collection::vec(0i64..(10 * 24), 0..6),
        days in 1u8..=10,
    ) {
        let start = date(2026, 12, 1);
        let cadence = Cadence(hours.iter().map(|hour| SlotRule { days: Weekdays::EVERY_DAY, time: time(*hour, 0, 0, 0) }).collect());
        let mut capped = request(Period::Days(days), start, "Europe/London", vec![PlanChannel {
            channel: channel("twitter"), cadence, shape: PostShape::Single, daily_cap: Some(cap), segment: None, experiments: None, experiments_refused: None,
        }]);
        let origin = start.to_zoned_datetime(TimeZone::UTC).unwrap().timestamp();
        capped.stored = stored_hours.iter().map(|hour| StoredSlot {
            channel: channel("twitter"),
            at: origin + jiff::SignedDuration::from_hours(*hour - 24),
            item: ItemId::new("Gone", &format!("Stored {hour}")),
            includes: Vec::new(),
            holds_slot: true,
            protected: true,
            segment: None,
            experiment: None,
        }).collect();
        let planned = plan(&many_items(), &capped).unwrap();
        let mut all: Vec<jiff::Timestamp> = planned.posts.iter().map(|post| post.scheduled_at.timestamp())
            .chain(capped.stored.iter().map(|stored| stored.at)).collect();
        all.sort_unstable();
        all.dedup();
        let planned_times: Vec<jiff::Timestamp> = planned.posts.iter().map(|post| post.scheduled_at.timestamp()).collect();
        for start in &all {
            let within: Vec<&jiff::Timestamp> = all.iter().filter(|at| **at >= *start && at.duration_since(*start) < jiff::SignedDuration::from_hours(24)).collect();
            // Stored posts are facts; no window holding a newly planned post holds more than the cap.
            let new_in_window = within.iter().any(|at| planned_times.contains(at) && !capped.stored.iter().any(|stored| stored.at == **at));
            prop_assert!(!new_in_window || within.len() <= cap as usize, "{} posts in the 24 h from {start}", within.len());
        }
    }
}

/// Three slots a day under a cap of two: no 24-hour window holds more than
/// two posts, counting a post already stored the evening before, and every
/// slot left out is named.
#[test]
fn a_daily_cap_holds_in_every_24_hour_window_counting_stored_posts() {
    let every = |hour| SlotRule {
        days: Weekdays::EVERY_DAY,
        time: time(hour, 0, 0, 0),
    };
    let capped = vec![PlanChannel {
        channel: channel("twitter"),
        cadence: Cadence(vec![every(9), every(12), every(17)]),
        shape: PostShape::Single,
        daily_cap: Some(2),
        segment: None,
        experiments: None,
        experiments_refused: None,
    }];
    let mut capped_request = request(Period::Days(3), date(2026, 11, 30), "UTC", capped);
    let evening_before = date(2026, 11, 29)
        .at(20, 0, 0, 0)
        .to_zoned_datetime(TimeZone::UTC)
        .unwrap()
        .timestamp();
    capped_request.stored = vec![StoredSlot {
        channel: channel("twitter"),
        at: evening_before,
        item: ItemId::new("Gone", "Sent on Sunday"),
        includes: Vec::new(),
        holds_slot: true,
        protected: true,
        segment: None,
        experiment: None,
    }];
    let planned = plan(&many_items(), &capped_request).unwrap();
    let times: Vec<String> = planned
        .posts
        .iter()
        .map(|post| post.scheduled_at.strftime("%a %H:%M").to_string())
        .collect();
    // Monday 09:00 joins Sunday 20:00 (two in 24 h); 12:00 would make three
    // with them, 17:00 three with 09:00 and Sunday's; Tuesday 09:00 is more
    // than 24 h after Sunday's, and so on.
    assert_eq!(
        times,
        [
            "Mon 09:00",
            "Tue 09:00",
            "Tue 12:00",
            "Wed 09:00",
            "Wed 12:00"
        ]
    );
    let mut all: Vec<jiff::Timestamp> = planned
        .posts
        .iter()
        .map(|post| post.scheduled_at.timestamp())
        .chain(std::iter::once(evening_before))
        .collect();
    all.sort_unstable();
    for start in &all {
        let within = all
            .iter()
            .filter(|at| {
                **at >= *start && at.duration_since(*start) < jiff::SignedDuration::from_hours(24)
            })
            .count();
        assert!(within <= 2, "{within} posts in the 24 h from {start}");
    }
    let left_out: Vec<&String> = planned
        .warnings
        .iter()
        .filter(|warning| warning.starts_with("left out twitter at"))
        .collect();
    assert_eq!(left_out.len(), 4, "{:#?}", planned.warnings);
    assert!(left_out[0].starts_with(
        "left out twitter at Mon 2026-11-30 12:00 UTC: the channel's daily_cap of 2 posts in 24 hours is reached there"
    ));
    // Without the cap every slot is planned.
    let mut uncapped = capped_request.clone();
    uncapped.channels[0].daily_cap = None;
    assert_eq!(plan(&many_items(), &uncapped).unwrap().posts.len(), 9);
}

#[test]
fn another_locales_posts_have_their_own_ids_and_count_towards_the_cap() {
    let every = |hour| SlotRule {
        days: Weekdays::EVERY_DAY,
        time: time(hour, 0, 0, 0),
    };
    let channels = vec![PlanChannel {
        channel: channel("twitter"),
        cadence: Cadence(vec![every(9), every(17)]),
        shape: PostShape::Single,
        daily_cap: Some(3),
        segment: None,
        experiments: None,
        experiments_refused: None,
    }];
    let main = request(Period::Day, date(2026, 11, 30), "UTC", channels);
    let english = plan(&many_items(), &main).unwrap();
    assert_eq!(english.posts.len(), 2);
    let mut german_request = main.clone();
    german_request.locale = Some("de".to_owned());
    // The English posts go to the same account at the same times: with
    // them, a cap of 3 leaves room for one German post, not two.
    german_request.elsewhere = english
        .posts
        .iter()
        .map(|post| (post.channel.clone(), post.scheduled_at.timestamp()))
        .collect();
    let german = plan(&many_items(), &german_request).unwrap();
    assert_eq!(german.posts.len(), 1, "{:#?}", german.warnings);
    assert_eq!(german.posts[0].scheduled_at, english.posts[0].scheduled_at);
    assert_ne!(german.posts[0].id, english.posts[0].id);
    assert_eq!(
        german.posts[0].id,
        post_id_in(
            &channel("twitter"),
            &german.posts[0].scheduled_at,
            Some("de"),
            None
        )
    );
    assert_eq!(
        english.posts[0].id,
        post_id(&channel("twitter"), &english.posts[0].scheduled_at)
    );
    assert_ne!(german.id, english.id);
    assert!(
        german.warnings.iter().any(|warning| warning.starts_with(
            "left out twitter at Mon 2026-11-30 17:00 UTC: the channel's daily_cap of 3"
        )),
        "{:#?}",
        german.warnings
    );
}

#[test]
fn a_newsletter_per_segment_takes_only_the_items_of_its_segment() {
    let newsletter = |segment: &str| PlanChannel {
        channel: channel("email"),
        cadence: Cadence(vec![SlotRule {
            days: Weekdays::MONDAY,
            time: time(9, 0, 0, 0),
        }]),
        shape: PostShape::Digest { more: 5 },
        daily_cap: None,
        segment: Some(segment.to_owned()),
        experiments: None,
        experiments_refused: None,
    };
    let items = document(&[
        ("Breathscape", "For everyone", &[]),
        ("Breathscape", "Welcome back", &["Segments: lapsed"]),
        ("News", "Your first week", &["Segments: new"]),
        ("News", "Also for everyone", &[]),
    ]);
    let request = request(
        Period::Day,
        date(2026, 11, 30),
        "UTC",
        vec![newsletter("new"), newsletter("lapsed"), newsletter("vip")],
    );
    let planned = plan(&items, &request).unwrap();
    let issues: Vec<(Option<&str>, Vec<String>)> = planned
        .posts
        .iter()
        .map(|post| {
            (
                post.segment.as_deref(),
                std::iter::once(&post.item)
                    .chain(&post.includes)
                    .map(|item| item.as_str().to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        issues,
        [
            (
                Some("new"),
                vec![
                    "breathscape/for-everyone".to_owned(),
                    "news/your-first-week".to_owned(),
                    "news/also-for-everyone".to_owned()
                ]
            ),
            (
                Some("lapsed"),
                vec![
                    "breathscape/for-everyone".to_owned(),
                    "breathscape/welcome-back".to_owned(),
                    "news/also-for-everyone".to_owned()
                ]
            ),
            (
                Some("vip"),
                vec![
                    "breathscape/for-everyone".to_owned(),
                    "news/also-for-everyone".to_owned()
                ]
            ),
        ]
    );
    let ids: BTreeSet<&PostId> = planned.posts.iter().map(|post| &post.id).collect();
    assert_eq!(ids.len(), 3, "each issue has its own id");
    // A stored issue pins its own segment's slot only.
    let mut again = request.clone();
    again.stored = vec![StoredSlot {
        channel: channel("email"),
        at: planned.posts[1].scheduled_at.timestamp(),
        item: ItemId::new("Breathscape", "Welcome back"),
        includes: Vec::new(),
        holds_slot: true,
        protected: true,
        segment: Some("lapsed".to_owned()),
        experiment: None,
    }];
    let replanned = plan(&items, &again).unwrap();
    let lapsed = replanned
        .posts
        .iter()
        .find(|post| post.segment.as_deref() == Some("lapsed"))
        .unwrap();
    assert_eq!(lapsed.item.as_str(), "breathscape/welcome-back");
    let new = replanned
        .posts
        .iter()
        .find(|post| post.segment.as_deref() == Some("new"))
        .unwrap();
    assert_eq!(new.item.as_str(), "breathscape/for-everyone");
}

/// A stored post of `planned`, as the planner sees it on a re-plan.
fn stored_from(planned: &PlannedPost) -> StoredSlot {
    StoredSlot {
        channel: planned.channel.clone(),
        at: planned.scheduled_at.timestamp(),
        item: planned.item.clone(),
        includes: planned.includes.clone(),
        holds_slot: true,
        protected: false,
        segment: planned.segment.clone(),
        experiment: planned.experiment.clone(),
    }
}

#[test]
fn a_subject_b_splits_the_newsletter_into_two_arms_and_the_winners_send() {
    let mut channels = default_channels();
    channels.retain(|plan_channel| plan_channel.channel == channel("email"));
    channels[0].experiments = Some(ExperimentKind::Split);
    let items = document(&[
        (
            "Breathscape",
            "Sleep timer",
            &["Subject B: Fall asleep to the fade"],
        ),
        ("News", "Other", &[]),
    ]);
    let request = request(Period::Week, date(2026, 11, 30), "UTC", channels);
    let planned = plan(&items, &request).unwrap();
    let arms: Vec<(Option<Arm>, String)> = planned
        .posts
        .iter()
        .map(|post| {
            (
                post.experiment.as_ref().map(|arm| arm.arm),
                post.scheduled_at.strftime("%a %H:%M").to_string(),
            )
        })
        .collect();
    assert_eq!(
        arms,
        [
            (Some(Arm::A), "Mon 09:00".to_owned()),
            (Some(Arm::B), "Mon 09:00".to_owned()),
            (Some(Arm::Winner), "Mon 13:00".to_owned()),
        ],
        "the winner goes ab.decide_after (4h) after the arms"
    );
    let slot_id = post_id(&channel("email"), &planned.posts[0].scheduled_at);
    assert_eq!(planned.posts[0].id, slot_id, "arm A keeps the slot's id");
    let experiment = experiment_id(&slot_id);
    assert!(
        planned
            .posts
            .iter()
            .all(|post| post.experiment.as_ref().unwrap().id == experiment
                && post.item == planned.posts[0].item
                && post.includes == planned.posts[0].includes)
    );
    let ids: BTreeSet<&PostId> = planned.posts.iter().map(|post| &post.id).collect();
    assert_eq!(ids.len(), 3);

    // A re-plan over the stored arms gives the same three posts.
    let mut again = request.clone();
    again.stored = planned.posts.iter().map(stored_from).collect();
    assert_eq!(plan(&items, &again).unwrap().posts, planned.posts);

    // The document drops the Subject B line: arm A alone, of no experiment
    // (the stored arm B and winner's send are the composer's to retire).
    let unsplit = document(&[("Breathscape", "Sleep timer", &[]), ("News", "Other", &[])]);
    let replanned = plan(&unsplit, &again).unwrap();
    assert_eq!(replanned.posts.len(), 1);
    assert_eq!(replanned.posts[0].id, planned.posts[0].id);
    assert_eq!(replanned.posts[0].experiment, None);
    // Once an arm is out, arm A keeps its experiment: the winner's send has
    // the rest of the list to reach.
    let mut out = again.clone();
    out.stored[1].protected = true;
    let replanned = plan(&unsplit, &out).unwrap();
    assert_eq!(replanned.posts.len(), 1);
    assert_eq!(replanned.posts[0].experiment, planned.posts[0].experiment);

    // A channel that runs no experiments sends the item as it is.
    let mut plain = request;
    plain.channels[0].experiments = None;
    let planned = plan(&items, &plain).unwrap();
    assert_eq!(planned.posts.len(), 1);
    assert_eq!(planned.posts[0].experiment, None);
    assert!(planned.warnings.is_empty(), "{:?}", planned.warnings);

    // One whose configuration cannot run it says so, naming the item.
    plain.channels[0].experiments_refused =
        Some((ExperimentKind::Split, "listmonk cannot split one send"));
    let planned = plan(&items, &plain).unwrap();
    assert_eq!(planned.posts.len(), 1);
    assert_eq!(
        planned.warnings,
        [format!(
            "`{}` has a `Subject B:` line, but email cannot run its experiment: listmonk cannot split one send; the post at Mon 2026-11-30 09:00 UTC goes out as the document has it",
            planned.posts[0].item
        )]
    );
}

#[test]
fn a_hook_b_puts_the_arms_in_two_slots_of_the_channel() {
    let mut channels = default_channels();
    channels.retain(|plan_channel| plan_channel.channel == channel("twitter"));
    channels[0].experiments = Some(ExperimentKind::Slots);
    let items = document(&[
        (
            "Breathscape",
            "Sleep timer",
            &["Hook B: Your phone can fall asleep too"],
        ),
        ("News", "Other", &[]),
        ("Science", "Third", &[]),
    ]);
    let request = request(Period::Day, date(2026, 11, 30), "UTC", channels);
    let planned = plan(&items, &request).unwrap();
    let slots: Vec<(String, &str, Option<Arm>)> = planned
        .posts
        .iter()
        .map(|post| {
            (
                post.scheduled_at.strftime("%H:%M").to_string(),
                post.item.as_str(),
                post.experiment.as_ref().map(|arm| arm.arm),
            )
        })
        .collect();
    assert_eq!(
        slots,
        [
            ("09:00".to_owned(), "breathscape/sleep-timer", Some(Arm::A)),
            ("17:00".to_owned(), "breathscape/sleep-timer", Some(Arm::B)),
        ]
    );
    let experiment = experiment_id(&planned.posts[0].id);
    assert_eq!(planned.posts[1].experiment.as_ref().unwrap().id, experiment);
    assert_eq!(
        planned.posts[1].id,
        post_id(&channel("twitter"), &planned.posts[1].scheduled_at),
        "arm B has its own slot's id"
    );

    // A re-plan keeps both arms where they are.
    let mut again = request.clone();
    again.stored = planned.posts.iter().map(stored_from).collect();
    assert_eq!(plan(&items, &again).unwrap().posts, planned.posts);

    // The document drops the Hook B line: arm B's slot goes to another
    // item, and arm A is a post of no experiment.
    let unhooked = document(&[
        ("Breathscape", "Sleep timer", &[]),
        ("News", "Other", &[]),
        ("Science", "Third", &[]),
    ]);
    let replanned = plan(&unhooked, &again).unwrap();
    let slots: Vec<(&str, Option<&ArmOf>)> = replanned
        .posts
        .iter()
        .map(|post| (post.item.as_str(), post.experiment.as_ref()))
        .collect();
    assert_eq!(
        slots,
        [("breathscape/sleep-timer", None), ("news/other", None)]
    );
    assert_eq!(replanned.posts[1].id, planned.posts[1].id);
    // Once arm B is out, its slot stays its own.
    let mut out = again.clone();
    out.stored[1].protected = true;
    let replanned = plan(&unhooked, &out).unwrap();
    assert_eq!(replanned.posts[1].item, planned.posts[1].item);
    assert_eq!(replanned.posts[1].experiment, planned.posts[1].experiment);

    // Without a second slot in the period, arm A goes out alone.
    let mut short = request;
    short.channels[0].cadence = Cadence(vec![SlotRule {
        days: Weekdays::EVERY_DAY,
        time: time(9, 0, 0, 0),
    }]);
    let planned = plan(&items, &short).unwrap();
    assert_eq!(planned.posts.len(), 1);
    assert_eq!(planned.posts[0].experiment, None);
    assert!(
        planned.warnings.iter().any(|warning| warning
            .starts_with("the experiment of `breathscape/sleep-timer` has no second twitter slot")),
        "{:#?}",
        planned.warnings
    );
}
