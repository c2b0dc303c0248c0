//! Analytics (PRODUCT §13): reading the published posts' figures from each
//! channel into the store, and the report over a period: totals by
//! channel, each post's latest figures and rates, the top posts.

use std::collections::BTreeMap;

use halcytone_core::channel::Channel;
use halcytone_core::error::PublishError;
use halcytone_core::publisher::{MetricsTarget, PostId, PostStatus, Publisher as _};
use halcytone_core::store::{LatestReading, PostFilter, Store as _, StoredPost};
use jiff::Timestamp;
use serde::Serialize;

use crate::app::{App, AppError};

/// What one fetch pass did on one channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct Fetched {
    /// The channel.
    #[schema(value_type = String)]
    pub(crate) channel: Channel,
    /// Its published posts asked about.
    pub(crate) posts: usize,
    /// The figures read and stored.
    pub(crate) readings: usize,
    /// Why some or all were not read (tried again on the next pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// A period's figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct Report {
    /// The first instant of the period.
    #[schema(value_type = String, format = DateTime)]
    pub(crate) from: Timestamp,
    /// The instant after it.
    #[schema(value_type = String, format = DateTime)]
    pub(crate) to: Timestamp,
    /// Totals by channel.
    pub(crate) channels: Vec<ChannelFigures>,
    /// Each post with figures, by time.
    pub(crate) posts: Vec<PostFigures>,
    /// The ids of the posts with the most interactions, most first (at most five).
    #[schema(value_type = Vec<String>)]
    pub(crate) top: Vec<PostId>,
}

/// One channel's totals over a period: the sum of each post's latest figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelFigures {
    /// The channel.
    #[schema(value_type = String)]
    pub(crate) channel: Channel,
    /// Its posts with figures.
    pub(crate) posts: usize,
    /// Each figure summed.
    pub(crate) totals: BTreeMap<String, f64>,
    /// Rates of the totals (see [`rates`]).
    pub(crate) rates: BTreeMap<String, f64>,
}

/// One post's latest figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct PostFigures {
    /// The post.
    #[schema(value_type = String)]
    pub(crate) id: PostId,
    /// Its channel.
    #[schema(value_type = String)]
    pub(crate) channel: Channel,
    /// When it went out.
    #[schema(value_type = String, format = DateTime)]
    pub(crate) scheduled_at: Timestamp,
    /// Its item's title.
    pub(crate) title: String,
    /// Each figure's latest reading.
    pub(crate) figures: BTreeMap<String, f64>,
    /// When the latest figure was read.
    #[schema(value_type = String, format = DateTime)]
    pub(crate) read_at: Timestamp,
    /// Its rates (see [`rates`]).
    pub(crate) rates: BTreeMap<String, f64>,
}

/// The figures that count as a reader acting on a post.
const INTERACTIONS: [&str; 8] = [
    "likes",
    "reposts",
    "replies",
    "quotes",
    "bookmarks",
    "comments",
    "shares",
    "clicks",
];

/// The interactions among `figures`, summed.
fn interactions(figures: &BTreeMap<String, f64>) -> f64 {
    INTERACTIONS
        .iter()
        .filter_map(|metric| figures.get(*metric))
        .sum()
}

/// Rates of a post's (or a channel's) figures, each where its parts exist
/// and its base is not zero: `engagement_rate` (interactions over
/// impressions), `open_rate` and `click_rate` (unique opens and clicks, or
/// listmonk's views and clicks, over newsletters delivered, or sent).
pub(crate) fn rates(figures: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let mut rates = BTreeMap::new();
    let mut rate = |name: &str, part: Option<f64>, base: Option<f64>| {
        if let (Some(part), Some(base)) = (part, base)
            && base > 0.0
        {
            rates.insert(name.to_owned(), part / base);
        }
    };
    let get = |metric: &str| figures.get(metric).copied();
    rate(
        "engagement_rate",
        Some(interactions(figures)),
        get("impressions"),
    );
    let reached = get("delivered").or_else(|| get("sent"));
    rate(
        "open_rate",
        get("unique_opens").or_else(|| get("views").filter(|_| get("sent").is_some())),
        reached,
    );
    rate(
        "click_rate",
        get("unique_clicks").or_else(|| get("clicks").filter(|_| reached.is_some())),
        reached,
    );
    rates
}

impl App {
    /// Reads the figures of every post published since `since` from its
    /// channel and stores them (PRODUCT §13). A channel that fails or is
    /// rate-limited says so in its line and is asked again on the next
    /// pass; the others go on.
    ///
    /// # Errors
    /// The store's error.
    pub(crate) async fn fetch_analytics(&self, since: Timestamp) -> Result<Vec<Fetched>, AppError> {
        let store = self.store().await?;
        let published = store
            .posts(&PostFilter {
                status: Some(PostStatus::Published),
                from: Some(since),
                ..PostFilter::default()
            })
            .await?;
        let lines = self.read_figures_of(&published).await?;
        self.record_analytics_totals().await;
        Ok(lines)
    }

    /// Reads the figures of `published` from their channels and stores
    /// them: a line per channel asked.
    ///
    /// # Errors
    /// The store's error.
    pub(crate) async fn read_figures_of(
        &self,
        published: &[StoredPost],
    ) -> Result<Vec<Fetched>, AppError> {
        let store = self.store().await?;
        let mut lines = Vec::new();
        for (channel, entry) in self.channels.iter().filter(|(_, entry)| entry.enabled) {
            let batch = entry.publisher.metrics_batch();
            if batch == 0 || !entry.publisher.missing_configuration().is_empty() {
                continue;
            }
            let targets: Vec<MetricsTarget> = published
                .iter()
                .filter(|post| post.channel == *channel && !post.external_ids.is_empty())
                .map(|post| MetricsTarget {
                    id: post.id.clone(),
                    external_ids: post.external_ids.clone(),
                })
                .collect();
            let mut line = Fetched {
                channel: channel.clone(),
                posts: targets.len(),
                readings: 0,
                error: None,
            };
            for chunk in targets.chunks(batch) {
                let correlation_id = uuid::Uuid::now_v7().to_string();
                match entry.publisher.fetch_metrics(chunk, &correlation_id).await {
                    Ok(readings) => {
                        store
                            .record_readings(channel, &readings, Timestamp::now())
                            .await?;
                        line.readings += readings.len();
                    }
                    Err(error) => {
                        tracing::warn!(%channel, %error, "Figures not read; asked again on the next pass.");
                        metrics::counter!("halcytone_analytics_failures_total", "channel" => channel.to_string())
                            .increment(1);
                        line.error = Some(describe(&error));
                        break;
                    }
                }
            }
            lines.push(line);
        }
        Ok(lines)
    }

    /// The figures of the posts scheduled in `[from, to)` (of `channel`
    /// only, when given).
    ///
    /// # Errors
    /// An unknown channel, or the store's error.
    pub(crate) async fn analytics(
        &self,
        from: Timestamp,
        to: Timestamp,
        channel: Option<&str>,
    ) -> Result<Report, AppError> {
        let channel = channel
            .map(|name| self.check_channel(name, "channel"))
            .transpose()?;
        let store = self.store().await?;
        let latest = store.latest_readings(from, to, channel.as_ref()).await?;
        let posts = store
            .posts(&PostFilter {
                from: Some(from),
                to: Some(to),
                channel: channel.clone(),
                ..PostFilter::default()
            })
            .await?;
        Ok(report(from, to, &latest, &posts))
    }

    /// Sets `halcytone_analytics_total{channel,metric}`: each figure summed
    /// over every post's latest reading (never a series per post).
    pub(crate) async fn record_analytics_totals(&self) {
        let Some(store) = self.open_store() else {
            return;
        };
        match store
            .latest_readings(Timestamp::MIN, Timestamp::MAX, None)
            .await
        {
            Ok(latest) => {
                let mut totals: BTreeMap<(Channel, String), f64> = BTreeMap::new();
                for reading in latest {
                    *totals.entry((reading.channel, reading.metric)).or_default() += reading.value;
                }
                for ((channel, metric), total) in totals {
                    metrics::gauge!("halcytone_analytics_total", "channel" => channel.to_string(), "metric" => metric)
                        .set(total);
                }
            }
            Err(error) => tracing::warn!(%error, "Cannot total the figures for /metrics."),
        }
    }
}

/// A figure as people read it: whole numbers with their thousands grouped
/// (`2,206`), others to two places (`81.50`).
pub(crate) fn figure_text(value: f64) -> String {
    if value.fract() != 0.0 || value.abs() >= 1e15 {
        return format!("{value:.2}");
    }
    let digits = format!("{value:.0}");
    let (sign, digits) = digits
        .strip_prefix('-')
        .map_or(("", digits.as_str()), |rest| ("-", rest));
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}")
}

/// An error in a line of the fetch report.
fn describe(error: &PublishError) -> String {
    match error {
        PublishError::RateLimited {
            retry_after: Some(wait),
            ..
        } => format!(
            "rate-limited: asked again on the next pass (the limit frees in {} s)",
            wait.as_secs()
        ),
        other => other.to_string(),
    }
}

/// The report of a period from the latest readings of its posts.
fn report(
    from: Timestamp,
    to: Timestamp,
    latest: &[LatestReading],
    posts: &[halcytone_core::store::StoredPost],
) -> Report {
    let mut by_post: BTreeMap<&PostId, (BTreeMap<String, f64>, Timestamp)> = BTreeMap::new();
    for reading in latest {
        let (figures, read_at) = by_post
            .entry(&reading.post)
            .or_insert_with(|| (BTreeMap::new(), reading.read_at));
        figures.insert(reading.metric.clone(), reading.value);
        *read_at = (*read_at).max(reading.read_at);
    }
    let mut channels: BTreeMap<Channel, (usize, BTreeMap<String, f64>)> = BTreeMap::new();
    let mut figures_of_posts = Vec::new();
    for post in posts {
        let Some((figures, read_at)) = by_post.get(&post.id) else {
            continue;
        };
        let (count, totals) = channels.entry(post.channel.clone()).or_default();
        *count += 1;
        for (metric, value) in figures {
            *totals.entry(metric.clone()).or_default() += value;
        }
        figures_of_posts.push(PostFigures {
            id: post.id.clone(),
            channel: post.channel.clone(),
            scheduled_at: post.scheduled_at,
            title: post
                .item
                .get("title")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            rates: rates(figures),
            figures: figures.clone(),
            read_at: *read_at,
        });
    }
    let mut ranked: Vec<&PostFigures> = figures_of_posts.iter().collect();
    ranked.sort_by(|left, right| {
        interactions(&right.figures).total_cmp(&interactions(&left.figures))
    });
    Report {
        from,
        to,
        channels: channels
            .into_iter()
            .map(|(channel, (posts, totals))| ChannelFigures {
                channel,
                posts,
                rates: rates(&totals),
                totals,
            })
            .collect(),
        top: ranked
            .into_iter()
            .filter(|post| interactions(&post.figures) > 0.0)
            .take(5)
            .map(|post| post.id.clone())
            .collect(),
        posts: figures_of_posts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs
            .iter()
            .map(|(metric, value)| ((*metric).to_owned(), *value))
            .collect()
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(figure_text(2206.0), "2,206");
        assert_eq!(figure_text(1_234_567.0), "1,234,567");
        assert_eq!(figure_text(999.0), "999");
        assert_eq!(figure_text(-4500.0), "-4,500");
        assert_eq!(figure_text(81.5), "81.50");
        assert_eq!(figure_text(0.0), "0");
    }

    #[test]
    fn rates_exist_where_their_parts_do() {
        let tweet = rates(&figures(&[
            ("impressions", 2000.0),
            ("likes", 30.0),
            ("reposts", 6.0),
            ("replies", 4.0),
        ]));
        assert_eq!(tweet, figures(&[("engagement_rate", 0.02)]));
        let newsletter = rates(&figures(&[
            ("delivered", 1000.0),
            ("sent", 1010.0),
            ("unique_opens", 420.0),
            ("opens", 600.0),
            ("unique_clicks", 55.0),
            ("clicks", 70.0),
        ]));
        assert_eq!(
            newsletter,
            figures(&[("click_rate", 0.055), ("open_rate", 0.42)])
        );
        let campaign = rates(&figures(&[
            ("sent", 900.0),
            ("views", 450.0),
            ("clicks", 90.0),
        ]));
        assert_eq!(
            campaign,
            figures(&[("click_rate", 0.1), ("open_rate", 0.5)])
        );
        // An article has views but no base for a rate; nothing divides by zero.
        assert!(rates(&figures(&[("views", 10.0)])).is_empty());
        assert!(rates(&figures(&[("impressions", 0.0), ("likes", 1.0)])).is_empty());
    }
}
