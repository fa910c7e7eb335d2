//! Request log: one line per request with method, path (never the query string, which may
//! carry `?token=`), status, latency and the kind of caller (never the credential); and the
//! `eddy_http_requests_seconds` histogram by route template and status.

use crate::auth::Identity;
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{Extensions, HeaderMap, Request, Response};
use axum::middleware::Next;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// HTTP request durations by route template, method and status.
pub const HTTP_HISTOGRAM: &str = "eddy_http_requests_seconds";

/// Where a handler leaves the caller's kind for the log line (request extension).
#[derive(Clone, Default)]
struct IdentitySlot(Arc<OnceLock<&'static str>>);

/// The span every request runs in; `identity` is recorded once, when the response is ready.
fn make_span(req: &Request<Body>) -> Span {
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        identity = tracing::field::Empty,
    )
}

fn has_credential(headers: &HeaderMap, query: Option<&str>) -> bool {
    headers.contains_key(axum::http::header::AUTHORIZATION)
        || headers.contains_key("x-api-key")
        || query.is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "token"))
}

/// Runs inside the span: lends handlers a slot for the identity, then records it (or
/// `anonymous` / `unverified`) on the span before the response line is written.
async fn identity(mut req: Request<Body>, next: Next) -> Response<Body> {
    // Realtime endpoints authenticate after the upgrade: theirs stays `unverified`.
    let fallback = if has_credential(req.headers(), req.uri().query()) {
        "unverified"
    } else {
        "anonymous"
    };
    let slot = IdentitySlot::default();
    req.extensions_mut().insert(slot.clone());
    // The route template, not the raw path: ids in paths would make one series per document.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    metrics::histogram!(
        HTTP_HISTOGRAM,
        "route" => route,
        "method" => method,
        "status" => res.status().as_str().to_owned()
    )
    .record(started.elapsed().as_secs_f64());
    let kind = slot.0.get().copied().unwrap_or(fallback);
    Span::current().record("identity", tracing::field::display(kind));
    res
}

fn on_response(res: &Response<Body>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = res.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request"
    );
}

/// Notes the authenticated caller's kind for the request log.
pub fn record_identity(extensions: &Extensions, who: &Identity) {
    let kind = match who {
        Identity::Service { .. } => "service",
        Identity::Public { .. } => "public",
        Identity::User { .. } => "user",
    };
    if let Some(slot) = extensions.get::<IdentitySlot>() {
        let _ = slot.0.set(kind);
    }
}

type Trace = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&Request<Body>) -> Span,
    (),
    fn(&Response<Body>, Duration, &Span),
    (),
    (),
    (),
>;

type IdentityLayer = axum::middleware::FromFnLayer<fn(Request<Body>, Next) -> IdentityFuture, (), (Request<Body>,)>;
type Layers = tower::layer::util::Stack<IdentityLayer, tower::layer::util::Stack<Trace, tower::layer::util::Identity>>;

/// The layers that write the request log.
pub fn layer() -> tower::ServiceBuilder<Layers> {
    let trace: Trace = TraceLayer::new_for_http()
        .make_span_with(make_span as fn(&Request<Body>) -> Span)
        .on_request(())
        .on_response(on_response as fn(&Response<Body>, Duration, &Span))
        .on_body_chunk(())
        .on_eos(())
        .on_failure(());
    tower::ServiceBuilder::new()
        .layer(trace)
        .layer(axum::middleware::from_fn(
            identity_boxed as fn(Request<Body>, Next) -> IdentityFuture,
        ))
}

type IdentityFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Response<Body>> + Send>>;

fn identity_boxed(req: Request<Body>, next: Next) -> IdentityFuture {
    Box::pin(identity(req, next))
}
