//! `Channel`: the validated name of a publishing channel; `Service`: the name
//! of any remote API Halcytone calls, a channel's or a source's.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The name of a publishing channel, such as `twitter` or `email`.
///
/// Core never names a concrete channel: each publisher crate declares its own
/// `pub const CHANNEL: Channel = Channel::from_static("…")`. A name is 1 to 32
/// characters of lowercase ASCII letters, digits and `-`, starting with a letter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct Channel(Cow<'static, str>);

/// Why a string is not a valid channel name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a channel name: use 1 to 32 lowercase letters, digits or `-`, starting with a letter"
)]
pub struct ChannelNameError {
    /// The rejected name.
    pub name: String,
}

const fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 32 || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if !(byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-') {
            return false;
        }
        index += 1;
    }
    true
}

impl Channel {
    /// Makes a channel from a name known at compile time.
    ///
    /// An invalid name fails the build when used in a `const`, as every
    /// publisher crate's `CHANNEL` is.
    pub const fn from_static(name: &'static str) -> Self {
        assert!(is_valid_name(name), "invalid channel name");
        Self(Cow::Borrowed(name))
    }

    /// Parses a channel name given by a user; surrounding spaces are ignored
    /// and the name is compared in lowercase.
    ///
    /// # Errors
    /// Returns [`ChannelNameError`] when the name is not of the valid form.
    pub fn parse(name: &str) -> Result<Self, ChannelNameError> {
        let normalised = name.trim().to_ascii_lowercase();
        if is_valid_name(&normalised) {
            Ok(Self(Cow::Owned(normalised)))
        } else {
            Err(ChannelNameError {
                name: name.trim().to_owned(),
            })
        }
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Channel({})", self.0)
    }
}

impl<'de> Deserialize<'de> for Channel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_names_in_lowercase() {
        assert_eq!(Channel::parse(" Twitter ").unwrap().as_str(), "twitter");
        assert_eq!(Channel::parse("mastodon-2").unwrap().as_str(), "mastodon-2");
    }

    #[test]
    fn rejects_invalid_names() {
        for name in ["", "2fa", "e mail", "e_mail", "émail", &"x".repeat(33)] {
            assert!(Channel::parse(name).is_err(), "{name:?} should be rejected");
        }
    }

    #[test]
    fn static_and_parsed_names_are_equal() {
        const TWITTER: Channel = Channel::from_static("twitter");
        assert_eq!(TWITTER, Channel::parse("twitter").unwrap());
    }
}

/// The name of a remote API Halcytone calls, as errors and logs name it: a
/// channel's (`twitter`) or a source's (`gdocs`). Sources are not channels;
/// both speak HTTP through the same client and retry loop.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Service(Cow<'static, str>);

impl Service {
    /// A service named at compile time (a source crate's).
    pub const fn from_static(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&Channel> for Service {
    fn from(channel: &Channel) -> Self {
        Self(channel.0.clone())
    }
}

impl From<Channel> for Service {
    fn from(channel: Channel) -> Self {
        Self(channel.0)
    }
}

impl From<&Service> for Service {
    fn from(service: &Service) -> Self {
        service.clone()
    }
}

impl fmt::Display for Service {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for Service {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Service({})", self.0)
    }
}
