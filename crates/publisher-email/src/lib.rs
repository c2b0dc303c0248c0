//! The email channel.
