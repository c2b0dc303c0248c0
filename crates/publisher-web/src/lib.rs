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
pub fn register<T: Table>(registry: &mut Registry<T>) {
    registry.add_publisher(CHANNEL, |config: WebConfig, context| {
        config.check(context.key)?;
        Ok(std::sync::Arc::new(WebPublisher::new(
            config,
            context.http.clone(),
        )))
    });
}
