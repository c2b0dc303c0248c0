#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod lookup;
mod publisher;
mod render;
mod wire;

use halcytone_core::prelude::*;

pub use crate::config::LinkedinConfig;
pub use crate::publisher::LinkedinPublisher;

/// The channel name.
pub const CHANNEL: Channel = Channel::from_static("linkedin");

/// Registers the LinkedIn publisher.
pub fn register<T: Table>(registry: &mut Registry<T>) {
    registry.add_publisher(CHANNEL, |config: LinkedinConfig, context| {
        config.check(context.key)?;
        Ok(std::sync::Arc::new(LinkedinPublisher::new(
            config,
            context.http.clone(),
        )))
    });
}
