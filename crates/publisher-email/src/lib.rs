#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod publisher;
mod wire;

use halcytone_core::prelude::*;

pub use crate::config::EmailConfig;
pub use crate::publisher::EmailPublisher;

/// The channel name.
pub const CHANNEL: Channel = Channel::from_static("email");

/// Registers the email publisher.
pub fn register(registry: &mut Registry) {
    registry.add_publisher(CHANNEL, |settings, http| {
        Ok(std::sync::Arc::new(EmailPublisher::new(
            settings.parse()?,
            http.clone(),
        )))
    });
}
