//! REST rate limits: a token bucket per credential (per client IP for requests without a
//! valid one), answering `429 rate_limited` with `Retry-After`. Service keys are not limited. Realtime sockets have their own
//! per-socket limits; health, readiness and metrics are never limited.

use super::ApiError;
use crate::access::credential;
use crate::auth::Identity;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most buckets kept; past it, idle ones are dropped and, if none is idle, new callers go unlimited
/// (failing open keeps legitimate clients working when very many addresses are active).
const MAX_BUCKETS: usize = 100_000;
/// How often buckets that have refilled completely are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// A hash of a credential that authenticated: the credential itself is not kept.
    Credential(u64),
    /// The client address, for requests without a valid credential.
    Ip(IpAddr),
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Buckets {
    map: HashMap<Key, Bucket>,
    swept: Instant,
}

/// Per-caller token buckets for the REST API.
pub struct RestLimiter {
    rate: f64,
    burst: f64,
    /// Credential → identity (the access policy's check, without its errors).
    identify: Identify,
    hasher: RandomState,
    buckets: Mutex<Buckets>,
}

impl RestLimiter {
    /// A limiter of `rate` requests per second with bursts of `burst`; None when `rate` is 0.
    pub fn new(rate: u32, burst: u32, identify: Identify) -> Option<Arc<RestLimiter>> {
        (rate > 0).then(|| {
            Arc::new(RestLimiter {
                rate: f64::from(rate),
                burst: f64::from(burst.max(1)),
                identify,
                hasher: RandomState::new(),
                buckets: Mutex::new(Buckets {
                    map: HashMap::new(),
                    swept: Instant::now(),
                }),
            })
        })
    }

    /// The bucket for a request; None for service keys, which are trusted (SECURITY.md) and
    /// drive bulk back-end writes well past any per-client rate.
    fn key(&self, req: &Request) -> Option<Key> {
        if let Some(token) = credential(req.headers()) {
            match (self.identify)(&token) {
                Some(who) if who.is_service() => return None,
                Some(_) => return Some(Key::Credential(self.hasher.hash_one(&token))),
                None => {}
            }
        }
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Some(Key::Ip(ip))
    }

    /// Takes a token; Err holds how long until one is available.
    fn take(&self, key: Key, now: Instant) -> Result<(), Duration> {
        let mut b = self.buckets.lock();
        let full_after = Duration::from_secs_f64(self.burst / self.rate);
        if now.duration_since(b.swept) >= SWEEP_EVERY || b.map.len() >= MAX_BUCKETS {
            b.map.retain(|_, v| now.duration_since(v.at) < full_after);
            b.swept = now;
        }
        if b.map.len() >= MAX_BUCKETS && !b.map.contains_key(&key) {
            metrics::counter!("eddy_rest_rate_limit_untracked_total").increment(1);
            return Ok(());
        }
        let bucket = b.map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

/// The middleware; `limiter` None means limits are off.
pub async fn limit(State(limiter): State<Option<Arc<RestLimiter>>>, req: Request, next: Next) -> Response<Body> {
    let Some(limiter) = limiter else {
        return next.run(req).await;
    };
    if !req.uri().path().starts_with("/v1/") {
        return next.run(req).await;
    }
    let Some(key) = limiter.key(&req) else {
        return next.run(req).await;
    };
    match limiter.take(key, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            metrics::counter!("eddy_rest_rate_limited_total").increment(1);
            // Whole seconds, rounded up: a client that waits this long gets a token.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let secs = secs.max(1);
            let mut res = ApiError::body(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                &format!("too many requests for this credential or address; retry in {secs} s"),
            );
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            res
        }
    }
}

/// How the limiter identifies a credential.
pub type Identify = Box<dyn Fn(&str) -> Option<Identity> + Send + Sync>;

/// The limiter configured by `--rest-rate-limit`/`--rest-rate-burst` (None: off).
pub fn limiter(state: &AppState) -> Option<Arc<RestLimiter>> {
    RestLimiter::new(state.config.rest_rate_limit, state.config.rest_rate_burst, {
        let access = state.access.clone();
        Box::new(move |t: &str| access.authenticate(t).ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, burst: u32) -> Arc<RestLimiter> {
        RestLimiter::new(rate, burst, Box::new(|_: &str| None)).expect("limits on")
    }

    fn ip(i: u32) -> Key {
        Key::Ip(IpAddr::V4(Ipv4Addr::from(i)))
    }

    #[test]
    fn bucket_refills_at_the_rate() {
        let l = limiter(2, 2);
        let t0 = Instant::now();
        assert!(l.take(ip(1), t0).is_ok());
        assert!(l.take(ip(1), t0).is_ok());
        let wait = l.take(ip(1), t0).expect_err("empty");
        assert_eq!(wait, Duration::from_millis(500));
        assert!(l.take(ip(2), t0).is_ok(), "other keys have their own bucket");
        assert!(l.take(ip(1), t0 + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn bucket_count_is_bounded() {
        let l = limiter(1, 1);
        let t0 = Instant::now();
        for i in 0..MAX_BUCKETS as u32 {
            assert!(l.take(ip(i), t0).is_ok());
        }
        // Full and nothing idle: a newcomer passes untracked.
        assert!(l.take(ip(u32::MAX), t0).is_ok());
        assert_eq!(l.buckets.lock().map.len(), MAX_BUCKETS);
        // Once the buckets have refilled they are dropped.
        assert!(l.take(ip(u32::MAX), t0 + Duration::from_secs(2)).is_ok());
        assert_eq!(l.buckets.lock().map.len(), 1);
    }
}
