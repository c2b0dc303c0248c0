//! What `halcytone channels` and `GET /channels` tell: each channel and
//! source, and whether it is ready to send.

use std::collections::BTreeMap;

use halcytone_core::channel::Channel;
use halcytone_core::publisher::Publisher as _;
use serde::Serialize;

use crate::app::App;

/// One channel as reported.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ChannelReport {
    /// The channel name.
    pub(crate) channel: String,
    /// Whether this build has the channel.
    pub(crate) compiled_in: bool,
    /// Whether plans include it.
    pub(crate) enabled: bool,
    /// Configuration keys still missing before it can send; empty when configured.
    #[schema(value_type = Vec<String>)]
    pub(crate) missing: Vec<&'static str>,
    /// Its slots.
    pub(crate) cadence: Option<String>,
    /// Its quota.
    pub(crate) rate_limit: Option<String>,
    /// The sends its quota lets through at once now (absent without one).
    pub(crate) rate_limit_headroom: Option<u32>,
    /// The most posts plans put in any 24 hours (absent without a cap).
    pub(crate) daily_cap: Option<u32>,
    /// What is left of the cap now: less the posts of the last 24 hours,
    /// and no more than the API last said it has left.
    pub(crate) daily_cap_remaining: Option<u32>,
    /// `closed` while calls go through, `open` while its breaker holds them.
    #[schema(value_type = Option<String>, pattern = "^(closed|open)$")]
    pub(crate) circuit: Option<&'static str>,
}

/// Every shipped channel, compiled in or not, by name; `budgets` is what
/// [`App::daily_budgets`] said (empty when the store could not tell).
pub(crate) fn channel_reports(app: &App, budgets: &BTreeMap<Channel, u32>) -> Vec<ChannelReport> {
    let mut reports: Vec<ChannelReport> = app
        .channels
        .iter()
        .map(|(channel, entry)| ChannelReport {
            channel: channel.to_string(),
            compiled_in: true,
            enabled: entry.enabled,
            missing: entry.publisher.missing_configuration(),
            cadence: Some(entry.cadence.to_string()),
            rate_limit: entry.rate_limit.map(|limit| limit.to_string()),
            rate_limit_headroom: entry.publisher.headroom(),
            daily_cap: entry.daily_cap,
            daily_cap_remaining: budgets.get(channel).copied(),
            circuit: Some(if entry.publisher.circuit_closed() {
                "closed"
            } else {
                "open"
            }),
        })
        .collect();
    reports.extend(
        app.registry
            .absent_channels()
            .map(|channel: &Channel| ChannelReport {
                channel: channel.to_string(),
                compiled_in: false,
                enabled: false,
                missing: Vec::new(),
                cadence: None,
                rate_limit: None,
                rate_limit_headroom: None,
                daily_cap: None,
                daily_cap_remaining: None,
                circuit: None,
            }),
    );
    reports.sort_by(|left, right| left.channel.cmp(&right.channel));
    reports
}
