//! When a channel posts: recurring slots such as `weekdays 10:00` or
//! `mon,thu 12:30`, read from configuration or given by a publisher.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Time, Weekday};

/// A set of weekdays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

impl Weekdays {
    /// Every day of the week.
    pub const EVERY_DAY: Self = Self(0b111_1111);
    /// Monday to Friday.
    pub const MONDAY_TO_FRIDAY: Self = Self(0b001_1111);
    /// Saturday and Sunday.
    pub const WEEKEND: Self = Self(0b110_0000);
    /// Monday alone.
    pub const MONDAY: Self = Self(0b000_0001);

    fn bit(weekday: Weekday) -> u8 {
        1 << weekday.to_monday_zero_offset()
    }

    /// Whether `weekday` is in the set.
    pub fn contains(self, weekday: Weekday) -> bool {
        self.0 & Self::bit(weekday) != 0
    }
}

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

fn parse_weekday(name: &str) -> Option<Weekday> {
    let name = name.trim().to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .find(|(short, weekday)| {
            name == *short || name == format!("{weekday:?}").to_ascii_lowercase()
        })
        .map(|(_, weekday)| *weekday)
}

impl FromStr for Weekdays {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "daily" | "every-day" => return Ok(Self::EVERY_DAY),
            "weekdays" => return Ok(Self::MONDAY_TO_FRIDAY),
            "weekends" | "weekend" => return Ok(Self::WEEKEND),
            _ => {}
        }
        let mut set = 0u8;
        for part in value.split(',') {
            let unknown = || format!("unknown day `{}`", part.trim());
            if let Some((first, last)) = part.split_once('-') {
                let first = parse_weekday(first)
                    .ok_or_else(unknown)?
                    .to_monday_zero_offset();
                let last = parse_weekday(last)
                    .ok_or_else(unknown)?
                    .to_monday_zero_offset();
                if first > last {
                    return Err(format!("day range `{}` runs backwards", part.trim()));
                }
                for offset in first..=last {
                    set |= 1 << offset;
                }
            } else {
                set |= Self::bit(parse_weekday(part).ok_or_else(unknown)?);
            }
        }
        Ok(Self(set))
    }
}

impl fmt::Display for Weekdays {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::EVERY_DAY => return formatter.write_str("daily"),
            Self::MONDAY_TO_FRIDAY => return formatter.write_str("weekdays"),
            Self::WEEKEND => return formatter.write_str("weekends"),
            _ => {}
        }
        let names: Vec<&str> = DAY_NAMES
            .iter()
            .filter(|(_, weekday)| self.contains(*weekday))
            .map(|(name, _)| *name)
            .collect();
        formatter.write_str(&names.join(","))
    }
}

/// One recurring slot: `weekdays 10:00`, `daily 09:00`, `mon,wed 12:30`, `mon-fri 08:15`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SlotRule {
    /// The days the slot recurs on.
    pub days: Weekdays,
    /// The local time of the slot.
    pub time: Time,
}

impl FromStr for SlotRule {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| {
            format!(
                "bad cadence slot `{value}`: {why}; expected DAYS HH:MM such as `weekdays 10:00`, `daily 09:00` or `mon,thu 12:30`"
            )
        };
        let (days, time) = value
            .trim()
            .rsplit_once(' ')
            .ok_or_else(|| bad("no time".to_owned()))?;
        let days = days.parse().map_err(bad)?;
        let time = Time::strptime("%H:%M", time.trim())
            .map_err(|_| bad(format!("bad time `{}`", time.trim())))?;
        Ok(Self { days, time })
    }
}

impl fmt::Display for SlotRule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}", self.days, self.time.strftime("%H:%M"))
    }
}

/// When a channel posts: a list of recurring slots.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cadence(pub Vec<SlotRule>);

impl Cadence {
    /// Parses a configured list such as `["daily 09:00", "daily 17:00"]`.
    ///
    /// # Errors
    /// Returns the first entry that cannot be read, with the expected form.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| entry.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        formatter.write_str(&rules.join(", "))
    }
}
