//! Settings of the resilience layer shared by every channel.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A channel's quota: at most `count` requests per `period`, as `100/15m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// How many requests.
    pub count: u32,
    /// In how long.
    pub period: Duration,
}

/// Reads `90s`, `15m`, `3h` or `1d` (a bare number is seconds).
///
/// # Errors
/// Says what form was expected.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        format!(
            "bad duration `{value}`: expected a whole number and a unit, such as 90s, 15m, 3h or 1d"
        )
    })?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "bad duration `{value}`: the unit must be s, m, h or d"
            ));
        }
    };
    Ok(Duration::from_secs(number * seconds))
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (count, period) = value.split_once('/').ok_or_else(|| {
            format!("bad rate limit `{value}`: expected COUNT/PERIOD such as 100/15m")
        })?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|count| *count > 0)
            .ok_or_else(|| {
                format!("bad rate limit `{value}`: the count must be a whole number above 0")
            })?;
        let period = parse_duration(period)?;
        if period.is_zero() {
            return Err(format!(
                "bad rate limit `{value}`: the period must be longer than 0"
            ));
        }
        Ok(Self { count, period })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.period.as_secs();
        match seconds {
            _ if seconds.is_multiple_of(86_400) => {
                write!(formatter, "{}/{}d", self.count, seconds / 86_400)
            }
            _ if seconds.is_multiple_of(3600) => {
                write!(formatter, "{}/{}h", self.count, seconds / 3600)
            }
            _ if seconds.is_multiple_of(60) => {
                write!(formatter, "{}/{}m", self.count, seconds / 60)
            }
            _ => write!(formatter, "{}/{}s", self.count, seconds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits() {
        let limit: RateLimit = "100/15m".parse().unwrap();
        assert_eq!(limit.count, 100);
        assert_eq!(limit.period, Duration::from_secs(900));
        assert_eq!(limit.to_string(), "100/15m");
        for bad in ["100", "0/1m", "x/1m", "5/1w", "5/0s"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("1.5h").is_err());
    }
}
