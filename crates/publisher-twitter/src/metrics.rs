//! The figures of published posts: `GET /2/tweets?ids=…&tweet.fields=public_metrics`,
//! at most 100 ids a call; a thread's parts are summed into its post.

use std::collections::HashMap;

use serde::Deserialize;

use halcytone_core::prelude::*;

/// The most ids one `GET /2/tweets` takes.
pub(crate) const IDS_PER_CALL: usize = 100;

/// `GET /2/tweets`: `data` holds the posts found; those deleted or hidden
/// are in `errors`, which yield no reading.
#[derive(Debug, Deserialize)]
pub(crate) struct Tweets {
    #[serde(default)]
    pub(crate) data: Vec<Tweet>,
}

/// A post with its public figures.
#[derive(Debug, Deserialize)]
pub(crate) struct Tweet {
    pub(crate) id: String,
    pub(crate) public_metrics: PublicMetrics,
}

/// `public_metrics` of a post.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PublicMetrics {
    #[serde(default)]
    impression_count: u64,
    #[serde(default)]
    like_count: u64,
    #[serde(default)]
    retweet_count: u64,
    #[serde(default)]
    reply_count: u64,
    #[serde(default)]
    quote_count: u64,
    #[serde(default)]
    bookmark_count: u64,
}

impl PublicMetrics {
    fn figures(&self) -> [(&'static str, u64); 6] {
        [
            ("impressions", self.impression_count),
            ("likes", self.like_count),
            ("reposts", self.retweet_count),
            ("replies", self.reply_count),
            ("quotes", self.quote_count),
            ("bookmarks", self.bookmark_count),
        ]
    }
}

/// The query of one call: its ids and the field that carries the figures.
pub(crate) fn query(ids: &[&str]) -> String {
    query_string(&[("ids", &ids.join(",")), ("tweet.fields", "public_metrics")])
}

/// Each post's figures: the sum over its parts that X still has; none for
/// a post none of whose parts it has.
pub(crate) fn readings(posts: &[MetricsTarget], found: &[Tweet]) -> Vec<Reading> {
    let by_id: HashMap<&str, &PublicMetrics> = found
        .iter()
        .map(|tweet| (tweet.id.as_str(), &tweet.public_metrics))
        .collect();
    let mut readings = Vec::new();
    for post in posts {
        let parts: Vec<&PublicMetrics> = post
            .external_ids
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).copied())
            .collect();
        if parts.is_empty() {
            continue;
        }
        let mut totals = PublicMetrics::default().figures();
        for part in parts {
            for (total, (_, value)) in totals.iter_mut().zip(part.figures()) {
                total.1 += value;
            }
        }
        readings.extend(totals.into_iter().map(|(metric, value)| Reading {
            post: post.id.clone(),
            metric: metric.to_owned(),
            value: value as f64,
        }));
    }
    readings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threads_parts_are_summed_and_a_gone_post_reads_nothing() {
        let answer: Tweets = serde_json::from_str(
            r#"{"data":[
                {"id":"1","text":"a","public_metrics":{"retweet_count":2,"reply_count":1,"like_count":10,"quote_count":0,"bookmark_count":1,"impression_count":500}},
                {"id":"2","text":"b","public_metrics":{"retweet_count":1,"reply_count":0,"like_count":4,"quote_count":1,"bookmark_count":0,"impression_count":120}}
            ],"errors":[{"resource_id":"9","title":"Not Found Error"}]}"#,
        )
        .unwrap();
        let posts = [
            MetricsTarget {
                id: halcytone_core::publisher::PostId("post_thread".to_owned()),
                external_ids: vec!["1".to_owned(), "2".to_owned()],
            },
            MetricsTarget {
                id: halcytone_core::publisher::PostId("post_gone".to_owned()),
                external_ids: vec!["9".to_owned()],
            },
        ];
        let readings = readings(&posts, &answer.data);
        let figures: Vec<(&str, &str, f64)> = readings
            .iter()
            .map(|reading| {
                (
                    reading.post.0.as_str(),
                    reading.metric.as_str(),
                    reading.value,
                )
            })
            .collect();
        assert_eq!(
            figures,
            [
                ("post_thread", "impressions", 620.0),
                ("post_thread", "likes", 14.0),
                ("post_thread", "reposts", 3.0),
                ("post_thread", "replies", 1.0),
                ("post_thread", "quotes", 1.0),
                ("post_thread", "bookmarks", 1.0),
            ]
        );
        assert_eq!(query(&["1", "2"]), "ids=1%2C2&tweet.fields=public_metrics");
    }
}
