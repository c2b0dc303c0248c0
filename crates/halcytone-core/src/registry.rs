//! The registry of compiled-in publishers and sources, filled by the server
//! from its cargo features.
//!
//! Each crate registers a builder that takes its own typed configuration
//! (`TwitterConfig`, `GdocsConfig`, …); the server reads every table with
//! its configuration library and hands the crate the typed value, so no
//! channel or source crate sees the server's configuration machinery.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::channel::Channel;
use crate::error::ConfigError;
use crate::http::HttpClient;
use crate::publisher::Publisher;
use crate::resilience::ResilienceSettings;
use crate::source::Source;

/// One configuration table (`[channels.twitter]`, `[source]`) as the server
/// read it, to be deserialised into a crate's typed configuration.
pub trait Table {
    /// The dotted key of the table, for messages (`channels.twitter`).
    fn key(&self) -> &str;

    /// Reads the table as `T`; unknown keys are errors when `T` denies them.
    ///
    /// # Errors
    /// Returns a [`ConfigError`] naming the table and the problem.
    fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError>;
}

/// What a publisher is built with besides its typed configuration.
#[derive(Debug, Clone, Copy)]
pub struct PublisherContext<'a> {
    /// The dotted key of the channel's table, for configuration errors.
    pub key: &'a str,
    /// The shared HTTP client.
    pub http: &'a HttpClient,
}

/// What a source needs besides its typed `[source]` configuration.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// The shared HTTP client.
    pub http: HttpClient,
    /// How to retry failed reads.
    pub resilience: ResilienceSettings,
}

/// Builds a publisher from its table and the shared HTTP client.
pub type PublisherFactory<T> =
    Box<dyn Fn(&T, &HttpClient) -> Result<Arc<dyn Publisher>, ConfigError> + Send + Sync>;

/// Builds a source from the `[source]` table.
pub type SourceFactory<T> =
    Box<dyn Fn(&T, &SourceContext) -> Result<Arc<dyn Source>, ConfigError> + Send + Sync>;

/// Every publisher and source compiled into the binary, over the server's
/// table type `T`.
pub struct Registry<T> {
    publishers: BTreeMap<Channel, PublisherFactory<T>>,
    sources: BTreeMap<&'static str, SourceFactory<T>>,
    absent_channels: BTreeSet<Channel>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self {
            publishers: BTreeMap::new(),
            sources: BTreeMap::new(),
            absent_channels: BTreeSet::new(),
        }
    }
}

impl<T: Table> Registry<T> {
    /// Adds a publisher for `channel`, built from its typed configuration `C`.
    pub fn add_publisher<C, F>(&mut self, channel: Channel, build: F)
    where
        C: DeserializeOwned,
        F: Fn(C, PublisherContext<'_>) -> Result<Arc<dyn Publisher>, ConfigError>
            + Send
            + Sync
            + 'static,
    {
        self.absent_channels.remove(&channel);
        let factory: PublisherFactory<T> = Box::new(move |table, http| {
            let context = PublisherContext {
                key: table.key(),
                http,
            };
            build(table.parse()?, context)
        });
        self.publishers.insert(channel, factory);
    }

    /// Adds a source of the given kind, built from its typed configuration `C`.
    pub fn add_source<C, F>(&mut self, kind: &'static str, build: F)
    where
        C: DeserializeOwned,
        F: Fn(C, &SourceContext) -> Result<Arc<dyn Source>, ConfigError> + Send + Sync + 'static,
    {
        let factory: SourceFactory<T> =
            Box::new(move |table, context| build(table.parse()?, context));
        self.sources.insert(kind, factory);
    }
}

impl<T> Registry<T> {
    /// Records a channel this build leaves out, so documents that name it
    /// stay valid and users are told why it is missing.
    pub fn add_absent_channel(&mut self, channel: Channel) {
        if !self.publishers.contains_key(&channel) {
            self.absent_channels.insert(channel);
        }
    }

    /// The compiled-in publishers, by channel name.
    pub fn publishers(&self) -> impl Iterator<Item = (&Channel, &PublisherFactory<T>)> {
        self.publishers.iter()
    }

    /// The compiled-in source kinds.
    pub fn sources(&self) -> impl Iterator<Item = (&'static str, &SourceFactory<T>)> {
        self.sources.iter().map(|(kind, factory)| (*kind, factory))
    }

    /// The source factory of `kind`.
    pub fn source(&self, kind: &str) -> Option<&SourceFactory<T>> {
        self.sources.get(kind)
    }

    /// Channels known by name but not compiled in.
    pub fn absent_channels(&self) -> impl Iterator<Item = &Channel> {
        self.absent_channels.iter()
    }
}
