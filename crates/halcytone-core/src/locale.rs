//! Languages (PRODUCT §14): a post's locale, and dates and numbers in its
//! words, from ICU4X's compiled CLDR data.

use std::fmt::Write as _;
use std::str::FromStr;

use icu_datetime::DateTimeFormatter;
use icu_datetime::fieldsets::{T, YMD, YMDE};
use icu_datetime::input::{Date, DateTime, Time};
use icu_decimal::DecimalFormatter;
use icu_decimal::input::Decimal;

/// The locale of the main document unless `locale` says otherwise: its
/// dates read as the bundled templates always wrote them (`30 November 2026`).
pub const DEFAULT_LOCALE: &str = "en-GB";

/// A code that is not a BCP 47 language tag, or a style or number that
/// cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LocaleError(String);

/// A language, by its BCP 47 tag (`de`, `en-GB`, `pt-BR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale {
    /// The tag in its canonical form, as templates' folders are named.
    code: String,
    icu: icu_locale_core::Locale,
}

impl Default for Locale {
    fn default() -> Self {
        Self::parse(DEFAULT_LOCALE).unwrap_or_else(|_| unreachable!("the default locale parses"))
    }
}

impl Locale {
    /// Reads a BCP 47 tag; `de_at` and `DE-at` are `de-AT`.
    ///
    /// # Errors
    /// Returns a message naming the code when it is not a language tag.
    pub fn parse(code: &str) -> Result<Self, LocaleError> {
        let icu = icu_locale_core::Locale::try_from_str(&code.replace('_', "-")).map_err(|_| {
            LocaleError(format!(
                "`{code}` is not a BCP 47 language tag (such as `de`, `en-GB` or `pt-BR`)"
            ))
        })?;
        if icu.id.language.is_unknown() {
            return Err(LocaleError(format!(
                "`{code}` names no language: give one such as `de`, `en-GB` or `pt-BR`"
            )));
        }
        Ok(Self {
            code: icu.to_string(),
            icu,
        })
    }

    /// The canonical tag (`de-AT`).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The language alone (`de` of `de-AT`).
    pub fn language(&self) -> &str {
        self.icu.id.language.as_str()
    }

    /// The tags to look templates up by, most specific first: `zh-Hant-TW`,
    /// `zh-Hant`, `zh`.
    pub fn fallbacks(&self) -> Vec<&str> {
        let mut tags = vec![self.code.as_str()];
        let mut rest = self.code.as_str();
        while let Some((shorter, _)) = rest.rsplit_once('-') {
            tags.push(shorter);
            rest = shorter;
        }
        tags
    }

    /// Whether CLDR has words for this locale's dates: a language it lacks
    /// (`xx`, `kw`) writes them in the root locale's style, `2026 M11 30`.
    pub fn has_own_words(&self) -> bool {
        let sample = jiff::civil::date(2026, 11, 30).at(0, 0, 0, 0);
        let root = Self {
            code: "und".to_owned(),
            icu: icu_locale_core::Locale::UNKNOWN,
        };
        self.format_datetime(sample, DateStyle::Long)
            != root.format_datetime(sample, DateStyle::Long)
    }

    /// A date and time of day in `style`, in this locale's words and calendar.
    pub fn format_datetime(&self, moment: jiff::civil::DateTime, style: DateStyle) -> String {
        let date = Date::try_new_iso(
            i32::from(moment.year()),
            moment.month().unsigned_abs(),
            moment.day().unsigned_abs(),
        );
        let time = Time::try_new(
            moment.hour().unsigned_abs(),
            moment.minute().unsigned_abs(),
            moment.second().unsigned_abs(),
            0,
        );
        let (Ok(date), Ok(time)) = (date, time) else {
            // jiff's dates are all within ICU's range; strftime is the fallback.
            return moment.strftime("%Y-%m-%d %H:%M").to_string();
        };
        let input = DateTime { date, time };
        let prefs = (&self.icu).into();
        let mut text = String::new();
        // Compiled data covers every locale (falling back to the root
        // locale's patterns), so building a formatter does not fail.
        let written = match style {
            DateStyle::Full => DateTimeFormatter::try_new(prefs, YMDE::long())
                .map(|formatter| write!(text, "{}", formatter.format(&input))),
            DateStyle::Long => DateTimeFormatter::try_new(prefs, YMD::long())
                .map(|formatter| write!(text, "{}", formatter.format(&input))),
            DateStyle::Medium => DateTimeFormatter::try_new(prefs, YMD::medium())
                .map(|formatter| write!(text, "{}", formatter.format(&input))),
            DateStyle::Short => DateTimeFormatter::try_new(prefs, YMD::short())
                .map(|formatter| write!(text, "{}", formatter.format(&input))),
            DateStyle::Time => DateTimeFormatter::try_new(prefs, T::hm())
                .map(|formatter| write!(text, "{}", formatter.format(&input))),
        };
        match written {
            Ok(Ok(())) => text,
            _ => moment.strftime("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// A decimal number (`12345.5`) with this locale's separators.
    ///
    /// # Errors
    /// Returns a message naming the value when it is not a decimal number.
    pub fn format_number(&self, number: &str) -> Result<String, LocaleError> {
        let decimal = Decimal::from_str(number.trim())
            .map_err(|_| LocaleError(format!("`{number}` is not a decimal number")))?;
        let formatter = DecimalFormatter::try_new((&self.icu).into(), Default::default())
            .map_err(|error| LocaleError(format!("no number format for {}: {error}", self.code)))?;
        Ok(formatter.format(&decimal).to_string())
    }
}

/// How `{{date …}}` writes a date (the names of CLDR's lengths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// Weekday and date in words: `Monday 30 November 2026`, `Montag, 30. November 2026`.
    Full,
    /// Date in words: `30 November 2026`, `30. November 2026`.
    Long,
    /// Abbreviated: `30 Nov 2026`, `30.11.2026`.
    Medium,
    /// Digits: `30/11/2026`, `30.11.26`.
    Short,
    /// Time of day: `17:00`, `5:00 PM`.
    Time,
}

impl FromStr for DateStyle {
    type Err = LocaleError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "full" => Ok(Self::Full),
            "long" => Ok(Self::Long),
            "medium" => Ok(Self::Medium),
            "short" => Ok(Self::Short),
            "time" => Ok(Self::Time),
            other => Err(LocaleError(format!(
                "unknown style `{other}`: use full, long, medium, short or time, or a strftime format with %"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i8) -> jiff::civil::DateTime {
        jiff::civil::date(2026, 11, 30).at(hour, 0, 0, 0)
    }

    #[test]
    fn dates_are_written_in_each_locales_words() {
        let format =
            |code: &str, style| Locale::parse(code).unwrap().format_datetime(at(17), style);
        assert_eq!(format("en-GB", DateStyle::Long), "30 November 2026");
        assert_eq!(format("de", DateStyle::Full), "Montag, 30. November 2026");
        assert_eq!(format("de", DateStyle::Long), "30. November 2026");
        assert_eq!(format("de", DateStyle::Time), "17:00");
        assert_eq!(format("fr", DateStyle::Long), "30 novembre 2026");
        assert_eq!(format("en", DateStyle::Long), "November 30, 2026");
        assert_eq!(format("en", DateStyle::Time), "5:00\u{202f}PM");
        // A region falls back to its language's data.
        assert_eq!(format("de-AT", DateStyle::Long), "30. November 2026");
    }

    #[test]
    fn a_language_cldr_lacks_is_told_apart() {
        for known in ["de", "en-GB", "fr", "pt-BR", "zh-Hant-TW", "de-XX"] {
            assert!(Locale::parse(known).unwrap().has_own_words(), "{known}");
        }
        for unknown in ["xx", "zz-ZZ"] {
            let locale = Locale::parse(unknown).unwrap();
            assert!(!locale.has_own_words(), "{unknown}");
            assert_eq!(
                locale.format_datetime(at(9), DateStyle::Long),
                "2026 M11 30"
            );
        }
    }

    #[test]
    fn numbers_take_the_locales_separators() {
        let format = |code: &str| {
            Locale::parse(code)
                .unwrap()
                .format_number("12345.5")
                .unwrap()
        };
        assert_eq!(format("en-GB"), "12,345.5");
        assert_eq!(format("de"), "12.345,5");
        assert!(
            Locale::parse("de")
                .unwrap()
                .format_number("twelve")
                .unwrap_err()
                .to_string()
                .contains("`twelve` is not a decimal number")
        );
    }

    #[test]
    fn codes_are_canonical_and_bad_ones_are_named() {
        assert_eq!(Locale::parse("de_at").unwrap().code(), "de-AT");
        assert_eq!(Locale::parse("DE-at").unwrap().code(), "de-AT");
        assert_eq!(Locale::parse("de-AT").unwrap().language(), "de");
        assert_eq!(
            Locale::parse("zh-Hant-TW").unwrap().fallbacks(),
            ["zh-Hant-TW", "zh-Hant", "zh"]
        );
        for bad in ["d e", "", "german!", "und"] {
            let error = Locale::parse(bad).unwrap_err().to_string();
            assert!(error.contains(&format!("`{bad}`")), "{error}");
        }
        assert_eq!(
            "weekly".parse::<DateStyle>().unwrap_err().to_string(),
            "unknown style `weekly`: use full, long, medium, short or time, or a strftime format with %"
        );
    }
}
