//! The registry of compiled-in publishers and sources, filled by the server
//! from its cargo features.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::channel::Channel;
use crate::error::ConfigError;
use crate::http::HttpClient;
use crate::publisher::Publisher;
use crate::resilience::ResilienceSettings;
use crate::source::Source;

/// One configuration table (`[channels.twitter]`, `[source]`), handed to the
/// crate that owns it to read into its own typed configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    key: String,
    value: config::Value,
}

impl Settings {
    /// Wraps the table found at the dotted `key`.
    pub fn new(key: impl Into<String>, value: config::Value) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }

    /// An empty table at `key`.
    pub fn empty(key: impl Into<String>) -> Self {
        Self::new(
            key,
            config::Value::new(None, config::Map::<String, config::Value>::new()),
        )
    }

    /// The dotted key of the table.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Reads the table as `T`; unknown keys are errors when `T` denies them.
    ///
    /// # Errors
    /// Returns a [`ConfigError`] naming the table and the problem.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.value
            .clone()
            .try_deserialize()
            .map_err(|error| ConfigError::new(self.key.clone(), error.to_string()))
    }
}

/// Builds a publisher from its configuration table and the shared HTTP client.
pub type PublisherFactory = fn(&Settings, &HttpClient) -> Result<Arc<dyn Publisher>, ConfigError>;

/// What a source needs besides its `[source]` table.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// The shared HTTP client.
    pub http: HttpClient,
    /// How to retry failed reads.
    pub resilience: ResilienceSettings,
}

/// Builds a source from the `[source]` table.
pub type SourceFactory = fn(&Settings, &SourceContext) -> Result<Arc<dyn Source>, ConfigError>;

/// Every publisher and source compiled into the binary.
#[derive(Default)]
pub struct Registry {
    publishers: BTreeMap<Channel, PublisherFactory>,
    sources: BTreeMap<&'static str, SourceFactory>,
    absent_channels: BTreeSet<Channel>,
}

impl Registry {
    /// Adds a publisher for `channel`.
    pub fn add_publisher(&mut self, channel: Channel, factory: PublisherFactory) {
        self.absent_channels.remove(&channel);
        self.publishers.insert(channel, factory);
    }

    /// Adds a source of the given kind.
    pub fn add_source(&mut self, kind: &'static str, factory: SourceFactory) {
        self.sources.insert(kind, factory);
    }

    /// Records a channel this build leaves out, so documents that name it
    /// stay valid and users are told why it is missing.
    pub fn add_absent_channel(&mut self, channel: Channel) {
        if !self.publishers.contains_key(&channel) {
            self.absent_channels.insert(channel);
        }
    }

    /// The compiled-in publishers, by channel name.
    pub fn publishers(&self) -> impl Iterator<Item = (&Channel, &PublisherFactory)> {
        self.publishers.iter()
    }

    /// The compiled-in source kinds.
    pub fn sources(&self) -> impl Iterator<Item = (&'static str, &SourceFactory)> {
        self.sources.iter().map(|(kind, factory)| (*kind, factory))
    }

    /// The source factory of `kind`.
    pub fn source(&self, kind: &str) -> Option<&SourceFactory> {
        self.sources.get(kind)
    }

    /// Channels known by name but not compiled in.
    pub fn absent_channels(&self) -> impl Iterator<Item = &Channel> {
        self.absent_channels.iter()
    }
}
