//! Hub matcher micro-benchmark: one change dispatched against 100,000
//! subscriptions with equality filters on the same collection.
//!
//! Run: `cargo bench --bench matcher` (needs the `criterion` dev-dependency and
//! the `[[bench]] name = "matcher" harness = false` entry in Cargo.toml).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eddy::auth::{CollectionRules, Identity, Rule};
use eddy::hub::{ConnHandle, Hub, Subscription};
use eddy::matcher::Filter;
use eddy::store::{Change, ChangeOp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SUBS: usize = 100_000;
/// Dispatches timed between two drains of the matching queue (below its capacity).
const CHUNK: u64 = 512;

fn change(data: Value) -> Change {
    let now = chrono::Utc::now();
    Change {
        seq: 0,
        collection: "c".into(),
        doc_id: uuid::Uuid::new_v4(),
        op: ChangeOp::Created,
        data: Some(data),
        old_data: None,
        owner: None,
        old_owner: None,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

fn bench_dispatch(c: &mut Criterion) {
    let rules = std::sync::Arc::new(eddy::access::RulesCache::default());
    let hub = Hub::new(rules.clone());
    let public = CollectionRules {
        read: Rule::Public,
        create: Rule::Public,
        update: Rule::Public,
        delete: Rule::Public,
    };
    rules.set("c", public);
    let mut receivers = Vec::with_capacity(SUBS);
    for i in 0..SUBS {
        let (conn, rx) = ConnHandle::new(Identity::Service { key: None }, 1024, "websocket");
        receivers.push(rx);
        let filter = Filter::from_json(&json!({ "room": format!("r{i}") })).expect("filter");
        let sub = Subscription::new(format!("s{i}"), "c".into(), filter, conn);
        assert!(hub.try_subscribe(sub, 0).is_ok(), "subscribe");
    }
    assert_eq!(hub.subscription_count(), SUBS);

    let mut group = c.benchmark_group("hub_dispatch_100k_eq_subs");
    group.throughput(Throughput::Elements(1));

    // Exactly one subscription (s42) matches: includes building and queueing its frame.
    let mut hit = change(json!({"room": "r42"}));
    let mut seq = 0i64;
    group.bench_function("one_match", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(CHUNK);
                let start = Instant::now();
                for _ in 0..n {
                    seq += 1;
                    hit.seq = seq;
                    hub.dispatch(std::slice::from_ref(&hit));
                }
                timed += start.elapsed();
                done += n;
                let mut got = 0;
                while receivers[42].try_recv().is_ok() {
                    got += 1;
                }
                assert_eq!(got, n, "the matching subscription must get every change");
            }
            timed
        })
    });

    // Nobody matches.
    let mut miss = change(json!({"room": "nobody"}));
    group.bench_function("no_match", |b| {
        b.iter(|| {
            seq += 1;
            miss.seq = seq;
            hub.dispatch(std::slice::from_ref(&miss));
        })
    });
    group.finish();
    drop(receivers);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = bench_dispatch
}
criterion_main!(benches);
