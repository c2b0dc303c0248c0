//! Finding a post whose send's outcome is unknown among the author's posts:
//! `GET /rest/posts?author=…&q=author&sortBy=CREATED`, newest first, page by
//! page back to the start of the send window, matched by commentary.

use serde::Deserialize;

/// Posts per page.
pub(crate) const PAGE_SIZE: usize = 50;

/// The most pages read: past them the window is too busy to prove an absence.
pub(crate) const MAX_PAGES: usize = 10;

/// A page of the author finder.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    #[serde(default)]
    pub(crate) elements: Vec<AuthorPost>,
}

/// A post of the author.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthorPost {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) commentary: String,
    /// Epoch milliseconds.
    pub(crate) created_at: i64,
}

/// Commentary as compared: LinkedIn may trim and fold white space.
pub(crate) fn comparable(commentary: &str) -> String {
    commentary.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_space_is_folded() {
        assert_eq!(
            comparable(" Breathe in \\#calm\n\nout "),
            comparable("Breathe in \\#calm out")
        );
    }
}
