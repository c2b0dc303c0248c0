//! The web channel.
