#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod listmonk;
mod publisher;
mod wire;

use halcytone_core::prelude::*;

pub use crate::config::{Backend, EmailConfig};
pub use crate::publisher::EmailPublisher;

/// The channel name.
pub const CHANNEL: Channel = Channel::from_static("email");

/// Registers the email publisher.
pub fn register<T: Table>(registry: &mut Registry<T>) {
    registry.add_publisher(CHANNEL, |config: EmailConfig, context| {
        config.check(context.key)?;
        Ok(std::sync::Arc::new(EmailPublisher::new(
            config,
            context.http.clone(),
        )))
    });
}
