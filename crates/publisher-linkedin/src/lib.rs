#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod publisher;
mod render;
mod wire;

use halcytone_core::prelude::*;

pub use crate::config::LinkedinConfig;
pub use crate::publisher::LinkedinPublisher;

/// The channel name.
pub const CHANNEL: Channel = Channel::from_static("linkedin");

/// Registers the LinkedIn publisher.
pub fn register(registry: &mut Registry) {
    registry.add_publisher(CHANNEL, |settings, http| {
        let config: LinkedinConfig = settings.parse()?;
        config.check(settings.key())?;
        Ok(std::sync::Arc::new(LinkedinPublisher::new(
            config,
            http.clone(),
        )))
    });
}
