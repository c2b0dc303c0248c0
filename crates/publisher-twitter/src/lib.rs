#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod lookup;
mod metrics;
mod oauth1;
mod publisher;
mod render;
pub mod weighted;
mod wire;

use halcytone_core::prelude::*;

pub use crate::config::TwitterConfig;
pub use crate::publisher::TwitterPublisher;

/// The channel name.
pub const CHANNEL: Channel = Channel::from_static("twitter");

/// Registers the X publisher.
pub fn register<T: Table>(registry: &mut Registry<T>) {
    registry.add_publisher(CHANNEL, |config: TwitterConfig, context| {
        config.check(context.key)?;
        Ok(std::sync::Arc::new(TwitterPublisher::new(
            config,
            context.http.clone(),
        )))
    });
}
