//! The twitter channel.
