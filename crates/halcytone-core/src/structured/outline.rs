//! Which heading level is the title, a section, an item or a sub-heading of
//! an item's body.
//!
//! The contract is level 1 (or a title style) = document title, level 2 =
//! section, level 3 = item, deeper = sub-headings in the body. Documents that
//! use level 1 for sections (they already have a title, have several level-1
//! headings, or no level-2 heading at all) are read one level up: level 1 =
//! section, and the first heading below a section starts its items; headings
//! deeper than an item's own level are sub-headings of its body.

/// What a heading is in the living document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The document title.
    Title,
    /// A section (`##` in Markdown).
    Section,
    /// An item (`###` in Markdown).
    Item,
    /// A heading inside an item's body, with its Markdown level (4 to 6).
    SubHeading(usize),
}

/// Why the headings are read one level up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shift {
    /// The document has a separate title, so level 1 cannot be the title.
    HasTitle,
    /// There are several level-1 headings, and a document has one title.
    SeveralTopHeadings,
    /// There is no level-2 heading, so level 2 cannot be the sections.
    NoSecondLevel,
}

/// Assigns a [`Role`] to each heading in document order.
#[derive(Debug)]
pub struct Outline {
    shifted: bool,
    /// In a shifted outline, the level of the current section's items.
    item_level: Option<usize>,
}

impl Outline {
    /// Decides the reading from how many headings of each kind the document
    /// has: `titles` (a title paragraph style), `level_1` and `level_2`.
    pub fn new(titles: usize, level_1: usize, level_2: usize) -> (Self, Option<Shift>) {
        let shift = if level_1 == 0 {
            None
        } else if titles > 0 {
            Some(Shift::HasTitle)
        } else if level_1 > 1 {
            Some(Shift::SeveralTopHeadings)
        } else if level_2 == 0 {
            Some(Shift::NoSecondLevel)
        } else {
            None
        };
        let outline = Self {
            shifted: shift.is_some(),
            item_level: None,
        };
        (outline, shift)
    }

    /// The role of a heading of `level` (0 for a title style, 1 to 6).
    pub fn role(&mut self, level: usize) -> Role {
        if level == 0 {
            return Role::Title;
        }
        if !self.shifted {
            return match level {
                1 => Role::Title,
                2 => Role::Section,
                3 => Role::Item,
                _ => Role::SubHeading(level.min(6)),
            };
        }
        if level == 1 {
            self.item_level = None;
            return Role::Section;
        }
        match self.item_level {
            Some(item_level) if level > item_level => {
                Role::SubHeading((level - item_level + 3).min(6))
            }
            _ => {
                self.item_level = Some(level);
                Role::Item
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(outline: &mut Outline, levels: &[usize]) -> Vec<Role> {
        levels.iter().map(|level| outline.role(*level)).collect()
    }

    #[test]
    fn the_contract_reads_levels_as_they_are() {
        let (mut outline, shift) = Outline::new(0, 1, 2);
        assert_eq!(shift, None);
        assert_eq!(
            roles(&mut outline, &[1, 2, 3, 4, 3, 5]),
            [
                Role::Title,
                Role::Section,
                Role::Item,
                Role::SubHeading(4),
                Role::Item,
                Role::SubHeading(5)
            ]
        );
    }

    #[test]
    fn level_one_sections_shift_the_outline_up() {
        let (mut outline, shift) = Outline::new(1, 3, 3);
        assert_eq!(shift, Some(Shift::HasTitle));
        assert_eq!(
            roles(&mut outline, &[0, 1, 2, 3, 2, 1, 3, 3, 4]),
            [
                Role::Title,
                Role::Section,
                Role::Item,
                Role::SubHeading(4),
                Role::Item,
                Role::Section,
                Role::Item,
                Role::Item,
                Role::SubHeading(4)
            ]
        );
        assert_eq!(Outline::new(0, 2, 1).1, Some(Shift::SeveralTopHeadings));
        assert_eq!(Outline::new(0, 1, 0).1, Some(Shift::NoSecondLevel));
        assert_eq!(Outline::new(1, 0, 2).1, None);
    }
}
