//! What a publisher or source crate needs, in one `use`.

pub use async_trait::async_trait;

pub use crate::cadence::{Cadence, SlotRule, Weekdays};
pub use crate::channel::{Channel, Service};
pub use crate::error::{ConfigError, PublishError};
pub use crate::experiment::{Arm, ExperimentKind, Variation};
pub use crate::http::{
    HttpClient, HttpResponse, classify_status, is_success, read_each_post, read_figures,
};
pub use crate::locale::Locale;
pub use crate::preflight::Check;
pub use crate::publisher::{
    Content, ItemView, Lookup, LookupContext, Measured, MetricsTarget, OutgoingPost, PostShape,
    PublishContext, PublishReceipt, Publisher, QuotaLeft, Reading, RenderInput, Segment, ensure,
    render_field, require_configuration, typed_content,
};
pub use crate::registry::{PublisherContext, Registry, Table};
pub use crate::render::Renderer;
pub use crate::request::{
    BaseUrl, HeaderValue, Method, OutboundRequest, percent_encode, query_string,
};
pub use crate::resilience::RateLimit;
pub use crate::secret::SecretString;
