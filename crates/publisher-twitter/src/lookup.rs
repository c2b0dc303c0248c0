//! Finding a post whose send's outcome is unknown among the account's own
//! posts: `GET /2/users/me`, then `GET /2/users/{id}/tweets` from the start
//! of the send window, matched by text, each part of a thread replying to
//! the one before it.

use serde::Deserialize;

use halcytone_core::prelude::*;

/// Posts per timeline page (X's maximum).
const PAGE_SIZE: &str = "100";

/// The most timeline pages read: past them the window is too busy to prove
/// an absence.
pub(crate) const MAX_PAGES: usize = 10;

/// `GET /2/users/me`.
#[derive(Debug, Deserialize)]
pub(crate) struct Me {
    pub(crate) data: User,
}

/// The authenticated account.
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) username: String,
}

/// A page of `GET /2/users/{id}/tweets`; `data` is absent when empty.
#[derive(Debug, Deserialize)]
pub(crate) struct Timeline {
    #[serde(default)]
    pub(crate) data: Vec<TimelinePost>,
    #[serde(default)]
    pub(crate) meta: Meta,
}

/// Paging of a timeline page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Meta {
    #[serde(default)]
    pub(crate) next_token: Option<String>,
}

/// A post of the timeline.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TimelinePost {
    pub(crate) id: String,
    pub(crate) text: String,
    /// The whole text of a post longer than 280 (X cuts `text`).
    #[serde(default)]
    pub(crate) note_tweet: Option<NoteTweet>,
    #[serde(default)]
    pub(crate) referenced_tweets: Vec<Reference>,
}

/// The whole text of a long post.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NoteTweet {
    pub(crate) text: String,
}

/// A post this one refers to.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Reference {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) id: String,
}

impl TimelinePost {
    fn replied_to(&self) -> Option<&str> {
        self.referenced_tweets
            .iter()
            .find(|reference| reference.kind == "replied_to")
            .map(|reference| reference.id.as_str())
    }

    fn full_text(&self) -> &str {
        self.note_tweet
            .as_ref()
            .map_or(self.text.as_str(), |note| note.text.as_str())
    }
}

/// The query of a timeline page from `since`.
pub(crate) fn timeline_query(since: jiff::Timestamp, page: Option<&str>) -> String {
    let start = since.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut pairs = vec![
        ("start_time", start.as_str()),
        ("max_results", PAGE_SIZE),
        ("tweet.fields", "created_at,referenced_tweets,note_tweet"),
    ];
    if let Some(token) = page {
        pairs.push(("pagination_token", token));
    }
    query_string(&pairs)
}

/// A post's text as compared: X shows links as `t.co` links and escapes
/// `&`, `<` and `>`, so links become one mark, the escapes are undone and
/// runs of white space are one space.
pub(crate) fn comparable(text: &str) -> String {
    let unescaped = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    unescaped
        .split_whitespace()
        .map(|word| if word.contains("://") { "<link>" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Matches `parts` against the account's posts: the parts after
/// `already_sent` in order, each a reply to the one before it (the first
/// part a reply to nothing). Returns the ids of every part on the channel,
/// recorded or found, or the reason no answer is sure.
pub(crate) fn match_parts(
    parts: &[String],
    already_sent: &[String],
    posts: &[TimelinePost],
) -> Result<Vec<String>, String> {
    let mut ids = already_sent.to_vec();
    for (index, part) in parts.iter().enumerate().skip(ids.len()) {
        let wanted = comparable(part);
        let previous = ids.last().map(String::as_str);
        let found: Vec<&TimelinePost> = posts
            .iter()
            .filter(|post| post.replied_to() == previous && comparable(post.full_text()) == wanted)
            .collect();
        match found.as_slice() {
            [] => break,
            [post] => ids.push(post.id.clone()),
            many => {
                return Err(format!(
                    "{} of the account's posts match post {} of the thread: {}",
                    many.len(),
                    index + 1,
                    many.iter()
                        .map(|post| post.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, text: &str, reply_to: Option<&str>) -> TimelinePost {
        TimelinePost {
            id: id.to_owned(),
            text: text.to_owned(),
            note_tweet: None,
            referenced_tweets: reply_to
                .map(|to| Reference {
                    kind: "replied_to".to_owned(),
                    id: to.to_owned(),
                })
                .into_iter()
                .collect(),
        }
    }

    fn parts(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| (*text).to_owned()).collect()
    }

    #[test]
    fn links_escapes_and_spaces_compare_as_x_shows_them() {
        assert_eq!(
            comparable("R&D <3\n\nread https://halcytone.example/blog/a-b?x=1 #breathscape"),
            comparable("R&amp;D &lt;3 read https://t.co/AbC123xyz #breathscape")
        );
        assert_ne!(comparable("one two"), comparable("one three"));
    }

    #[test]
    fn a_thread_is_found_part_by_part_along_its_replies() {
        let timeline = [
            post("30", "three 3/3", Some("20")),
            post("20", "two 2/3", Some("10")),
            post("10", "one 1/3", None),
            post("99", "two 2/3", Some("98")),
        ];
        let thread = parts(&["one 1/3", "two 2/3", "three 3/3"]);
        assert_eq!(
            match_parts(&thread, &[], &timeline).unwrap(),
            ["10", "20", "30"]
        );
        // The first part on record: the look-up starts after it.
        assert_eq!(
            match_parts(&thread, &["10".to_owned()], &timeline[1..]).unwrap(),
            ["10", "20"]
        );
        // A part replying to another post is not this thread's.
        assert_eq!(
            match_parts(&thread, &["11".to_owned()], &timeline).unwrap(),
            ["11"]
        );
        assert!(match_parts(&thread, &[], &[]).unwrap().is_empty());
    }

    #[test]
    fn two_matching_posts_leave_it_unsure() {
        let timeline = [post("1", "hello", None), post("2", "hello", None)];
        let error = match_parts(&parts(&["hello"]), &[], &timeline).unwrap_err();
        assert_eq!(
            error,
            "2 of the account's posts match post 1 of the thread: 1, 2"
        );
    }

    #[test]
    fn a_long_post_is_compared_by_its_whole_text() {
        let long = "word ".repeat(80);
        let mut found = post("5", "word word…", None);
        found.note_tweet = Some(NoteTweet { text: long.clone() });
        assert_eq!(
            match_parts(&parts(&[long.trim()]), &[], &[found]).unwrap(),
            ["5"]
        );
    }
}
