//! OpenTelemetry traces over OTLP/HTTP (the `otel` feature): when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, every span (request → plan →
//! render → publish → http) is exported to `<endpoint>/v1/traces`, and each
//! outbound call carries the W3C `traceparent` of its span.

use std::collections::HashMap;
use std::sync::Arc;

use halcytone_core::http::TraceHeaders;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The variable naming the collector, as OpenTelemetry's SDKs read it.
pub(crate) const ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// A running exporter: flushes what it holds when shut down.
pub(crate) struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Exports the spans still held; called once, before the process exits.
    pub(crate) fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("warning: cannot flush the last traces: {error}");
        }
    }
}

/// The tracing layer that feeds spans to the exporter.
pub(crate) type TraceLayer<S> =
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>;

/// The exporter and the tracing layer feeding it, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Must run inside the runtime.
///
/// # Errors
/// Says why the exporter cannot start.
pub(crate) fn start<S>() -> Result<Option<(Telemetry, TraceLayer<S>)>, String>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let Some(endpoint) = std::env::var(ENDPOINT_VARIABLE)
        .ok()
        .filter(|value| !value.trim().is_empty())
    else {
        return Ok(None);
    };
    let traces = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces)
        .build()
        .map_err(|error| format!("{ENDPOINT_VARIABLE}: cannot start the OTLP exporter: {error}"))?;
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("halcytone")
                .build(),
        )
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("halcytone"));
    Ok(Some((Telemetry { provider }, layer)))
}

/// The `traceparent` (and `tracestate`) of the current span.
pub(crate) fn trace_headers() -> TraceHeaders {
    Arc::new(|| {
        let mut carrier: HashMap<String, String> = HashMap::new();
        TraceContextPropagator::new()
            .inject_context(&tracing::Span::current().context(), &mut carrier);
        carrier
            .into_iter()
            .filter_map(|(name, value)| match name.as_str() {
                "traceparent" => Some(("traceparent", value)),
                "tracestate" if !value.is_empty() => Some(("tracestate", value)),
                _ => None,
            })
            .collect()
    })
}
