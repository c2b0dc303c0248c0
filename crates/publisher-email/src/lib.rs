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
pub fn register(registry: &mut Registry) {
    registry.add_publisher(CHANNEL, |settings, http| {
        let config: EmailConfig = settings.parse()?;
        config.check(settings.key())?;
        Ok(std::sync::Arc::new(EmailPublisher::new(
            config,
            http.clone(),
        )))
    });
}
