//! The linkedin channel.
