//! Halcytone's core: the domain types, the `Publisher` and `Source` traits,
//! the Markdown living document, the planner and the template engine.
//!
//! Publisher and source crates depend on this crate alone (see [`prelude`]);
//! core never names a concrete channel.
#![deny(missing_docs)]

pub mod cadence;
pub mod channel;
pub mod compose;
pub mod dispatch;
pub mod document;
pub mod error;
pub mod experiment;
pub mod http;
pub mod locale;
pub mod markdown;
pub mod plan;
pub mod preflight;
pub mod prelude;
pub mod publisher;
pub mod registry;
pub mod render;
pub mod request;
pub mod resilience;
pub mod secret;
pub mod snapshot;
pub mod source;
pub mod store;
pub mod structured;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod text;
pub mod webhooks;
