#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod publisher;
mod wire;

use halcytone_core::prelude::*;

pub use crate::config::WebConfig;
pub use crate::publisher::WebPublisher;

/// The channel name.
pub const CHANNEL: Channel = Channel::from_static("web");

/// Registers the web publisher.
pub fn register(registry: &mut Registry) {
    registry.add_publisher(CHANNEL, |settings, http| {
        Ok(std::sync::Arc::new(WebPublisher::new(
            settings.parse()?,
            http.clone(),
        )))
    });
}
