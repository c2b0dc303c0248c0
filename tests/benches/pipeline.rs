//! Criterion benchmarks of the work behind a plan: parse a living document,
//! plan a week on all four channels, render every post (dry run, with
//! previews), and weigh an X post.

use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use halcytone_core::channel::Channel;
use halcytone_core::compose::{Composer, ItemViews};
use halcytone_core::document::{KnownChannels, LivingDocument};
use halcytone_core::experiment::AbSettings;
use halcytone_core::markdown::parse_markdown;
use halcytone_core::plan::{Period, PlanChannel, PlanRequest, plan};
use halcytone_core::publisher::{PostStatus, Publisher};
use halcytone_core::render::Renderer;
use jiff::civil::date;
use jiff::tz::TimeZone;

fn publishers() -> BTreeMap<Channel, Arc<dyn Publisher>> {
    let http = || halcytone_core::http::HttpClient::new(std::time::Duration::from_secs(5)).unwrap();
    let publishers: [Arc<dyn Publisher>; 4] = [
        Arc::new(publisher_email::EmailPublisher::new(
            publisher_email::EmailConfig::default(),
            http(),
        )),
        Arc::new(publisher_web::WebPublisher::new(
            publisher_web::WebConfig::default(),
            http(),
        )),
        Arc::new(publisher_twitter::TwitterPublisher::new(
            publisher_twitter::TwitterConfig::default(),
            http(),
        )),
        Arc::new(publisher_linkedin::LinkedinPublisher::new(
            publisher_linkedin::LinkedinConfig::default(),
            http(),
        )),
    ];
    publishers
        .into_iter()
        .map(|publisher| (publisher.channel(), publisher))
        .collect()
}

fn composer<'a>(
    document: &'a LivingDocument,
    views: &'a ItemViews,
    publishers: &'a BTreeMap<Channel, Arc<dyn Publisher>>,
    renderer: &'a Renderer,
) -> Composer<'a> {
    Composer {
        document,
        publishers,
        renderer,
        segments: &[],
        featured_section: "Breathscape",
        views,
        dry_run: true,
        initial_status: PostStatus::Draft,
        ab: AbSettings::default(),
    }
}

fn bench_pipeline(criterion: &mut Criterion) {
    let publishers = publishers();
    let renderer = Renderer::new(None).unwrap();
    let known = KnownChannels::new(publishers.keys().cloned());
    let request = PlanRequest {
        period: Period::Week,
        start: date(2026, 11, 30),
        timezone: TimeZone::UTC,
        featured_section: "Breathscape".to_owned(),
        channels: publishers
            .iter()
            .map(|(channel, publisher)| PlanChannel {
                channel: channel.clone(),
                cadence: publisher.default_cadence(),
                shape: publisher.shape(),
                daily_cap: None,
                segment: None,
                experiments: publisher.experiments(),
                experiments_refused: publisher.experiments_refused(),
            })
            .collect(),
        stored: Vec::new(),
        elsewhere: Vec::new(),
        locale: None,
        ab: AbSettings::default(),
    };
    for name in ["doc-60", "doc-600"] {
        let path = format!("{}/benches/data/{name}.md", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        let mut group = criterion.benchmark_group(name);
        group.bench_function("parse", |bencher| {
            bencher.iter(|| parse_markdown(name, &text, &known).unwrap())
        });
        let document = parse_markdown(name, &text, &known).unwrap().document;
        group.bench_function("plan", |bencher| {
            bencher.iter(|| plan(&document, &request).unwrap())
        });
        let planned = plan(&document, &request).unwrap();
        // Cold: every item body is turned into HTML and text again, as after a document change.
        group.bench_function("render 25 posts", |bencher| {
            bencher.iter(|| {
                composer(&document, &ItemViews::default(), &publishers, &renderer)
                    .compose(planned.clone())
            });
        });
        // Warm: the document is unchanged since the last request, as the server sees it.
        let views = ItemViews::default();
        group.bench_function("render 25 posts, same revision", |bencher| {
            bencher.iter(|| {
                composer(&document, &views, &publishers, &renderer).compose(planned.clone())
            });
        });
        group.bench_function("parse + plan + render", |bencher| {
            bencher.iter(|| {
                let document = parse_markdown(name, &text, &known).unwrap().document;
                let views = ItemViews::default();
                let content_plan = composer(&document, &views, &publishers, &renderer)
                    .compose(plan(&document, &request).unwrap());
                assert_eq!(content_plan.posts.len(), 25);
                content_plan
            });
        });
        group.finish();
    }
}

/// twitter-text v3 weighing, which every X post goes through when it is
/// rendered and validated.
fn bench_tweet_weighing(criterion: &mut Criterion) {
    let post = "Morning resonance sessions are live in Breathscape: six breaths a minute, \
                paced by light, five minutes before coffee. Try it 🌬️ \
                https://halcytone.example/breathscape/morning-resonance #Breathscape #breathwork";
    criterion.bench_function("weigh an X post (280 limit)", |bencher| {
        bencher.iter(|| publisher_twitter::weighted::weighted_length(std::hint::black_box(post)));
    });
}

criterion_group!(benches, bench_pipeline, bench_tweet_weighing);
criterion_main!(benches);
