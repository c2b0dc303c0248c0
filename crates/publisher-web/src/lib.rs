#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod publisher;
mod wire;
mod wordpress;

use halcytone_core::prelude::*;

pub use crate::config::{Backend, WebConfig, WordPressStatus};
pub use crate::publisher::WebPublisher;

/// The channel name.
pub const CHANNEL: Channel = Channel::from_static("web");

/// Registers the web publisher.
pub fn register(registry: &mut Registry) {
    registry.add_publisher(CHANNEL, |settings, http| {
        let config: WebConfig = settings.parse()?;
        config.check(settings.key())?;
        Ok(std::sync::Arc::new(WebPublisher::new(config, http.clone())))
    });
}
