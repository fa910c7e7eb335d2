//! The scenarios. Each returns a report; every loop is bounded in count and time.

use crate::common::*;
use crate::Global;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// Read buffer for sockets in many-socket scenarios (keeps client memory small).
const SMALL_READ_BUF: usize = 8 * 1024;
/// Most POSTs in flight for the paced writer.
const WRITER_INFLIGHT: usize = 256;

fn pid(g: &Global) -> Option<String> {
    g.server_pid.map(|p| p.to_string())
}

fn mib(kib: Option<u64>) -> Value {
    kib.map_or(Value::Null, |k| json!(r2(k as f64 / 1024.0)))
}

/// Opens `n` subscribed sockets on `coll`.
async fn open_subscribers(
    t: &Arc<Target>,
    g: &Global,
    coll: &str,
    n: usize,
    read_buf: usize,
) -> (Vec<Ws>, Vec<String>, f64) {
    let started = Instant::now();
    let msg = json!({"type":"subscribe","id":"s","collection":coll});
    let (socks, errors) = open_many(
        t,
        n,
        g.parallel,
        Duration::from_secs_f64(g.setup_timeout),
        read_buf,
        move |_, mut ws| {
            let msg = msg.clone();
            async move {
                request_reply(&mut ws, &msg, "subscribed").await?;
                Ok(ws)
            }
        },
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    (socks.into_iter().flatten().collect(), errors, secs)
}

struct Readers {
    stop: watch::Sender<bool>,
    counters: Arc<Vec<AtomicU64>>,
    hist: Arc<Hist>,
    handles: Vec<tokio::task::JoinHandle<ReaderOut>>,
}

fn spawn_readers(socks: Vec<Ws>, kind: Kind, mut cmds: Vec<Option<(mpsc::Receiver<u64>, String)>>) -> Readers {
    let (stop, stop_rx) = watch::channel(false);
    let counters: Arc<Vec<AtomicU64>> = Arc::new((0..socks.len()).map(|_| AtomicU64::new(0)).collect());
    let hist = Hist::new();
    cmds.resize_with(socks.len(), || None);
    let handles = socks
        .into_iter()
        .zip(cmds)
        .enumerate()
        .map(|(idx, (ws, cmds))| {
            let ctx = ReaderCtx {
                idx,
                kind,
                hist: hist.clone(),
                counters: counters.clone(),
                stop: stop_rx.clone(),
                cmds,
            };
            tokio::spawn(reader(ws, ctx))
        })
        .collect();
    Readers {
        stop,
        counters,
        hist,
        handles,
    }
}

impl Readers {
    async fn finish(self) -> (Vec<ReaderOut>, Arc<Hist>) {
        let _ = self.stop.send(true);
        let mut outs = Vec::with_capacity(self.handles.len());
        for h in self.handles {
            if let Ok(o) = h.await {
                outs.push(o);
            }
        }
        (outs, self.hist)
    }
}

/// Lost / duplicated / unexpected counts of one reader against the acked set.
fn check(seen: &[u8], acked: &[bool], skip: impl Fn(usize) -> bool) -> (u64, u64, u64) {
    let (mut lost, mut dup, mut unexpected) = (0, 0, 0);
    for (n, &ok) in acked.iter().enumerate() {
        let c = seen.get(n).copied().unwrap_or(0) as u64;
        if !ok || skip(n) {
            unexpected += c;
        } else if c == 0 {
            lost += 1;
        } else {
            dup += c - 1;
        }
    }
    for &c in seen.iter().skip(acked.len()) {
        unexpected += c as u64;
    }
    (lost, dup, unexpected)
}

// --- latency / fanout ---------------------------------------------------------------

/// `latency` and `fanout`: S subscribers, one paced writer.
pub async fn subscribe_load(
    name: &str,
    t: &Arc<Target>,
    g: &Global,
    subs: usize,
    rate: f64,
    duration: f64,
) -> Res<Report> {
    if rate <= 0.0 || duration <= 0.0 {
        return Err("--rate and --duration must be positive".into());
    }
    let coll = format!("bench_{name}_{}", unique_suffix());
    t.public_collection(&coll).await?;
    let pid = pid(g);
    let rss0 = pid.as_deref().and_then(rss_kib);
    progress(format!("{name}: collection {coll}; opening {subs} subscribers"));
    let (socks, errors, setup_secs) = open_subscribers(t, g, &coll, subs, SMALL_READ_BUF).await;
    let connected = socks.len();
    progress(format!(
        "{name}: {connected} subscribed in {setup_secs:.1}s ({} failed)",
        errors.len()
    ));
    if connected == 0 {
        return Err(format!("no subscriber could connect: {}", error_summary(&errors)).into());
    }
    let rss1 = pid.as_deref().and_then(rss_kib);
    let readers = spawn_readers(socks, Kind::Event, Vec::new());

    // Paced open-loop writer.
    let total = (rate * duration).round().max(1.0) as usize;
    progress(format!("{name}: writing {total} documents at {rate}/s"));
    let acked: Arc<Vec<AtomicBool>> = Arc::new((0..total).map(|_| AtomicBool::new(false)).collect());
    let post_hist = Arc::new(Mutex::new(new_hist()));
    let write_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let sem = Arc::new(Semaphore::new(WRITER_INFLIGHT));
    let cpu = CpuMeter::start(pid.as_deref());
    let start = tokio::time::Instant::now();
    let start_us = now_us();
    let hard_stop = Duration::from_secs_f64(duration + 10.0);
    let path = format!("/v1/collections/{coll}/documents");
    let mut issued = 0usize;
    for i in 0..total {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        if start.elapsed() > hard_stop {
            break;
        }
        let Ok(permit) =
            tokio::time::timeout(hard_stop.saturating_sub(start.elapsed()), sem.clone().acquire_owned()).await
        else {
            break;
        };
        let permit = permit.expect("semaphore");
        issued += 1;
        let (t2, acked, post_hist, write_errors, path) = (
            t.clone(),
            acked.clone(),
            post_hist.clone(),
            write_errors.clone(),
            path.clone(),
        );
        tokio::spawn(async move {
            let sent = Instant::now();
            let body = format!(r#"{{"data":{{"t":{},"n":{i}}}}}"#, now_us());
            let r = t2
                .req(reqwest::Method::POST, &path)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match r {
                Ok(resp) if resp.status().as_u16() == 201 => {
                    let _ = resp.bytes().await;
                    acked[i].store(true, Ordering::Release);
                    post_hist
                        .lock()
                        .unwrap()
                        .saturating_record(sent.elapsed().as_micros().max(1) as u64);
                }
                Ok(resp) => {
                    let s = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    write_errors.lock().unwrap().push(format!("HTTP {s}: {body}"));
                }
                Err(e) => write_errors.lock().unwrap().push(e.to_string()),
            }
            drop(permit);
        });
    }
    // Wait for the in-flight writes.
    let _ = tokio::time::timeout(Duration::from_secs(35), sem.acquire_many(WRITER_INFLIGHT as u32)).await;
    let write_secs = start.elapsed().as_secs_f64();
    let acked_flags: Vec<bool> = acked.iter().map(|a| a.load(Ordering::Acquire)).collect();
    let acked_n = acked_flags.iter().filter(|a| **a).count() as u64;
    progress(format!(
        "{name}: {acked_n}/{issued} writes acknowledged in {write_secs:.1}s; draining"
    ));
    let complete = drain(
        &readers.counters,
        acked_n * connected as u64,
        Duration::from_secs_f64(g.drain_timeout),
        Duration::from_secs(120),
    )
    .await;
    let cpu = cpu.stop();
    let rss2 = pid.as_deref().and_then(rss_kib);
    let (outs, hist) = readers.finish().await;

    let (mut lost, mut dup, mut unexpected, mut garbled, mut last_rx) = (0, 0, 0, 0, 0i64);
    let mut subs_missing = 0;
    for o in &outs {
        let (l, d, u) = check(&o.seen, &acked_flags, |_| false);
        lost += l;
        dup += d;
        unexpected += u;
        garbled += o.garbled;
        subs_missing += (l > 0) as u64;
        last_rx = last_rx.max(o.last_rx_us);
    }
    let deliveries = total_delivered(&outs);
    let window = ((last_rx - start_us) as f64 / 1e6).max(1e-6);
    let lat = hist.merged();
    let post = post_hist.lock().unwrap().clone();

    let mut rep = Report::new(name);
    rep.add("collection", coll.as_str());
    rep.add("subscribers", connected as u64);
    rep.add("subscribe_failed", errors.len() as u64);
    if !errors.is_empty() {
        rep.add("subscribe_errors", error_summary(&errors));
    }
    rep.add("setup_seconds", r2(setup_secs));
    rep.add("rate_target", rate);
    rep.add("duration_s", duration);
    rep.add("writes_issued", issued as u64);
    rep.add("writes_acked", acked_n);
    rep.add("writes_acked_per_s", r2(acked_n as f64 / write_secs));
    let werr = write_errors.lock().unwrap().clone();
    rep.add("write_errors", werr.len() as u64);
    if !werr.is_empty() {
        rep.add("write_error_kinds", error_summary(&werr));
    }
    rep.add("post_latency", percentiles(&post));
    rep.add("deliveries", deliveries);
    rep.add("deliveries_expected", acked_n * connected as u64);
    rep.add("deliveries_per_s", r2(deliveries as f64 / window));
    rep.add("latency", percentiles(&lat));
    rep.add("lost", lost);
    rep.add("duplicated", dup);
    rep.add("unexpected", unexpected);
    rep.add("subscribers_missing_events", subs_missing);
    rep.add("garbled_frames", garbled);
    rep.add("all_delivered", complete && lost == 0);
    rep.add("sockets", endings(&outs));
    rep.add("cpu", cpu);
    rep.add(
        "server_rss_mib",
        json!({"before": mib(rss0), "subscribed": mib(rss1), "end": mib(rss2)}),
    );
    if g.cleanup {
        let _ = t.delete_collection(&coll).await;
    }
    Ok(rep)
}

fn total_delivered(outs: &[ReaderOut]) -> u64 {
    outs.iter().map(|o| o.seen.iter().map(|&c| c as u64).sum::<u64>()).sum()
}

// --- feed -------------------------------------------------------------------------------

/// `feed`: C writers as fast as possible, one subscriber.
pub async fn feed(t: &Arc<Target>, g: &Global, writers: usize, duration: f64, batch: usize) -> Res<Report> {
    if writers == 0 || duration <= 0.0 {
        return Err("--writers and --duration must be positive".into());
    }
    if batch > 1000 {
        return Err("--batch is at most 1000 (server limit)".into());
    }
    let coll = format!("bench_feed_{}", unique_suffix());
    t.public_collection(&coll).await?;
    let pid = pid(g);
    let (socks, errors, _) = open_subscribers(t, g, &coll, 1, 256 * 1024).await;
    if socks.is_empty() {
        return Err(format!("subscriber could not connect: {}", error_summary(&errors)).into());
    }
    let readers = spawn_readers(socks, Kind::Event, Vec::new());
    let per_req = batch.max(1);
    progress(format!(
        "feed: collection {coll}; {writers} writers for {duration}s, {}",
        if batch > 0 {
            format!("batches of {batch}")
        } else {
            "single creates".into()
        }
    ));

    let next = Arc::new(AtomicU64::new(0));
    let post_hist = Arc::new(Mutex::new(new_hist()));
    let cpu = CpuMeter::start(pid.as_deref());
    let start = Instant::now();
    let start_us = now_us();
    let deadline = start + Duration::from_secs_f64(duration);
    let mut handles = Vec::new();
    for _ in 0..writers {
        let (t2, next, post_hist, coll) = (t.clone(), next.clone(), post_hist.clone(), coll.clone());
        handles.push(tokio::spawn(async move {
            let mut acked: Vec<(u64, usize)> = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            let mut last_ack_us = 0i64;
            let path = if batch > 0 {
                format!("/v1/collections/{coll}/batch")
            } else {
                format!("/v1/collections/{coll}/documents")
            };
            let want = if batch > 0 { 200 } else { 201 };
            while Instant::now() < deadline {
                let n0 = next.fetch_add(per_req as u64, Ordering::Relaxed);
                let now = now_us();
                let body = if batch > 0 {
                    let mut s = String::with_capacity(32 + per_req * 48);
                    s.push_str(r#"{"operations":["#);
                    for k in 0..per_req {
                        if k > 0 {
                            s.push(',');
                        }
                        s.push_str(&format!(
                            r#"{{"op":"create","data":{{"t":{now},"n":{}}}}}"#,
                            n0 + k as u64
                        ));
                    }
                    s.push_str("]}");
                    s
                } else {
                    format!(r#"{{"data":{{"t":{now},"n":{n0}}}}}"#)
                };
                let sent = Instant::now();
                let r = t2
                    .req(reqwest::Method::POST, &path)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().as_u16() == want => {
                        let _ = resp.bytes().await;
                        acked.push((n0, per_req));
                        last_ack_us = now_us();
                        post_hist
                            .lock()
                            .unwrap()
                            .saturating_record(sent.elapsed().as_micros().max(1) as u64);
                    }
                    Ok(resp) => {
                        let s = resp.status();
                        errors.push(format!("HTTP {s}: {}", resp.text().await.unwrap_or_default()));
                    }
                    Err(e) => {
                        errors.push(e.to_string());
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (acked, errors, last_ack_us)
        }));
    }
    let mut acked_ranges = Vec::new();
    let mut write_errors = Vec::new();
    let mut last_ack_us = 0i64;
    for h in handles {
        if let Ok((a, e, l)) = h.await {
            acked_ranges.extend(a);
            write_errors.extend(e);
            last_ack_us = last_ack_us.max(l);
        }
    }
    let write_secs = start.elapsed().as_secs_f64();
    let issued = next.load(Ordering::Relaxed) as usize;
    let mut acked = vec![false; issued];
    let mut acked_n = 0u64;
    for (n0, k) in &acked_ranges {
        for a in &mut acked[*n0 as usize..*n0 as usize + k] {
            *a = true;
            acked_n += 1;
        }
    }
    progress(format!(
        "feed: {acked_n} documents acknowledged in {write_secs:.1}s; draining"
    ));
    let complete = drain(
        &readers.counters,
        acked_n,
        Duration::from_secs_f64(g.drain_timeout),
        Duration::from_secs(300),
    )
    .await;
    let cpu = cpu.stop();
    let (outs, hist) = readers.finish().await;
    let o = &outs[0];
    let (lost, dup, unexpected) = check(&o.seen, &acked, |_| false);
    let events = total_delivered(&outs);
    let lat = hist.merged();
    let post = post_hist.lock().unwrap().clone();

    let mut rep = Report::new(if batch > 0 { "feed-batch" } else { "feed" });
    rep.add("collection", coll.as_str());
    rep.add("writers", writers as u64);
    rep.add("batch", batch as u64);
    rep.add("duration_s", duration);
    rep.add("requests_acked", acked_ranges.len() as u64);
    rep.add("docs_acked", acked_n);
    rep.add("docs_acked_per_s", r2(acked_n as f64 / write_secs));
    rep.add("requests_per_s", r2(acked_ranges.len() as f64 / write_secs));
    rep.add("write_errors", write_errors.len() as u64);
    if !write_errors.is_empty() {
        rep.add("write_error_kinds", error_summary(&write_errors));
    }
    rep.add("post_latency", percentiles(&post));
    rep.add("events", events);
    rep.add(
        "events_per_s",
        r2(events as f64 / (((o.last_rx_us - start_us) as f64) / 1e6).max(1e-6)),
    );
    rep.add(
        "lag_at_end_ms",
        if complete && o.last_rx_us > 0 {
            json!(r2((o.last_rx_us - last_ack_us).max(0) as f64 / 1000.0))
        } else {
            Value::Null
        },
    );
    rep.add("write_to_event_latency", percentiles(&lat));
    rep.add("lost", lost);
    rep.add("duplicated", dup);
    rep.add("unexpected", unexpected);
    rep.add("all_delivered", complete && lost == 0);
    rep.add("sockets", endings(&outs));
    rep.add("cpu", cpu);
    rep.add("server_rss_mib_end", mib(pid.as_deref().and_then(rss_kib)));
    if g.cleanup {
        let _ = t.delete_collection(&coll).await;
    }
    Ok(rep)
}

// --- rooms ------------------------------------------------------------------------------

/// `rooms`: N clients in rooms of K; each room broadcasts R messages/s from its members in turn.
pub async fn rooms(t: &Arc<Target>, g: &Global, clients: usize, k: usize, rate: f64, duration: f64) -> Res<Report> {
    if k < 2 || clients < k || rate <= 0.0 || duration <= 0.0 {
        return Err("need --room-size >= 2, --clients >= --room-size, positive --rate and --duration".into());
    }
    let rules = json!({"rules":[{"pattern":"*","join":"public","broadcast":"public"}]});
    t.call(reqwest::Method::PUT, "/v1/room-rules", Some(&rules), 200)
        .await?;
    let prefix = format!("bench-{}", unique_suffix());
    let n_rooms = clients.div_ceil(k);
    let pid = pid(g);
    let rss0 = pid.as_deref().and_then(rss_kib);
    progress(format!(
        "rooms: {clients} clients in {n_rooms} rooms of {k} ({prefix}-*)"
    ));
    let started = Instant::now();
    let p2 = prefix.clone();
    let (socks, errors) = open_many(
        t,
        clients,
        g.parallel,
        Duration::from_secs_f64(g.setup_timeout),
        SMALL_READ_BUF,
        move |i, mut ws| {
            let msg = json!({"type":"join","room":format!("{p2}-{}", i / k)});
            async move {
                request_reply(&mut ws, &msg, "joined").await?;
                Ok(ws)
            }
        },
    )
    .await;
    let setup_secs = started.elapsed().as_secs_f64();
    progress(format!(
        "rooms: {} joined in {setup_secs:.1}s ({} failed)",
        socks.iter().flatten().count(),
        errors.len()
    ));

    // Members per room (client indexes among the connected sockets) and their command channels.
    let mut members: Vec<Vec<(usize, mpsc::Sender<u64>)>> = vec![Vec::new(); n_rooms];
    let mut room_of = Vec::new();
    let mut live = Vec::new();
    let mut cmds = Vec::new();
    for (i, s) in socks.into_iter().enumerate() {
        if let Some(ws) = s {
            let room = i / k;
            let (tx, rx) = mpsc::channel(64);
            members[room].push((live.len(), tx));
            room_of.push(room);
            live.push(ws);
            cmds.push(Some((rx, format!("{prefix}-{room}"))));
        }
    }
    if live.is_empty() {
        return Err(format!("no client could join: {}", error_summary(&errors)).into());
    }
    let rss1 = pid.as_deref().and_then(rss_kib);
    let readers = spawn_readers(live, Kind::Broadcast, cmds);
    // Let the readers consume the presence backlog of the joins.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let per_room = (rate * duration).round().max(1.0) as u64;
    let cpu = CpuMeter::start(pid.as_deref());
    let start = tokio::time::Instant::now();
    let start_us = now_us();
    let mut tickers = Vec::new();
    for (r, m) in members.iter().enumerate() {
        if m.len() < 2 {
            continue;
        }
        let m: Vec<mpsc::Sender<u64>> = m.iter().map(|(_, tx)| tx.clone()).collect();
        // Spread the rooms' ticks evenly over one period.
        let offset = r as f64 / n_rooms as f64 / rate;
        tickers.push(tokio::spawn(async move {
            let mut queued = 0u64;
            for n in 0..per_room {
                tokio::time::sleep_until(start + Duration::from_secs_f64(offset + n as f64 / rate)).await;
                if m[n as usize % m.len()].try_send(n).is_ok() {
                    queued += 1;
                }
            }
            queued * (m.len() as u64 - 1)
        }));
    }
    let mut expected = 0u64;
    for h in tickers {
        expected += h.await.unwrap_or(0);
    }
    let send_secs = start.elapsed().as_secs_f64();
    progress(format!("rooms: broadcasting done in {send_secs:.1}s; draining"));
    let complete = drain(
        &readers.counters,
        expected,
        Duration::from_secs_f64(g.drain_timeout),
        Duration::from_secs(120),
    )
    .await;
    let cpu = cpu.stop();
    let rss2 = pid.as_deref().and_then(rss_kib);
    let (outs, hist) = readers.finish().await;

    // Exact accounting: per room, who sent which n.
    let mut sent_by: Vec<Vec<Option<usize>>> = vec![vec![None; per_room as usize]; n_rooms];
    let mut sent_total = 0u64;
    for (idx, o) in outs.iter().enumerate() {
        for &n in &o.sent {
            sent_by[room_of[idx]][n as usize] = Some(idx);
            sent_total += 1;
        }
    }
    let (mut lost, mut dup, mut unexpected, mut last_rx) = (0, 0, 0, 0i64);
    for (idx, o) in outs.iter().enumerate() {
        let room = &sent_by[room_of[idx]];
        let acked: Vec<bool> = room.iter().map(|s| s.is_some()).collect();
        let (l, d, u) = check(&o.seen, &acked, |n| room[n] == Some(idx));
        lost += l;
        dup += d;
        unexpected += u;
        last_rx = last_rx.max(o.last_rx_us);
    }
    let deliveries = total_delivered(&outs);
    let window = ((last_rx - start_us) as f64 / 1e6).max(1e-6);

    let mut rep = Report::new("rooms");
    rep.add("clients", outs.len() as u64);
    rep.add("join_failed", errors.len() as u64);
    if !errors.is_empty() {
        rep.add("join_errors", error_summary(&errors));
    }
    rep.add("rooms", n_rooms as u64);
    rep.add("room_size", k as u64);
    rep.add("setup_seconds", r2(setup_secs));
    rep.add("rate_per_room", rate);
    rep.add("duration_s", duration);
    rep.add("broadcasts_sent", sent_total);
    rep.add("broadcasts_per_s", r2(sent_total as f64 / send_secs));
    rep.add("deliveries", deliveries);
    rep.add("deliveries_expected", expected);
    rep.add("deliveries_per_s", r2(deliveries as f64 / window));
    rep.add("latency", percentiles(&hist.merged()));
    rep.add("lost", lost);
    rep.add("duplicated", dup);
    rep.add("unexpected", unexpected);
    rep.add("all_delivered", complete && lost == 0);
    rep.add("sockets", endings(&outs));
    rep.add("cpu", cpu);
    rep.add(
        "server_rss_mib",
        json!({"before": mib(rss0), "joined": mib(rss1), "end": mib(rss2)}),
    );
    Ok(rep)
}

// --- connections ------------------------------------------------------------------------

/// `connections`: N idle subscribed sockets held for T seconds.
pub async fn connections(t: &Arc<Target>, g: &Global, n: usize, duration: f64) -> Res<Report> {
    let coll = format!("bench_conns_{}", unique_suffix());
    t.public_collection(&coll).await?;
    let pid = pid(g);
    if pid.is_none() {
        progress("connections: without --server-pid only client-side figures are reported");
    }
    let rss0 = pid.as_deref().and_then(rss_kib);
    let thr0 = pid.as_deref().and_then(threads);
    progress(format!("connections: opening {n} subscribed sockets on {coll}"));
    let (socks, errors, setup_secs) = open_subscribers(t, g, &coll, n, 4096).await;
    let connected = socks.len();
    progress(format!(
        "connections: {connected} open in {setup_secs:.1}s ({} failed)",
        errors.len()
    ));
    if connected == 0 {
        return Err(format!("no socket could connect: {}", error_summary(&errors)).into());
    }
    let readers = spawn_readers(socks, Kind::Event, Vec::new());
    // Let allocations settle before sampling.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss1 = pid.as_deref().and_then(rss_kib);
    let self1 = rss_kib("self");
    progress(format!("connections: holding for {duration}s"));
    let cpu = CpuMeter::start(pid.as_deref());
    tokio::time::sleep(Duration::from_secs_f64(duration)).await;
    let cpu = cpu.stop();
    let rss2 = pid.as_deref().and_then(rss_kib);
    let thr2 = pid.as_deref().and_then(threads);
    let (outs, _) = readers.finish().await;
    let still_open = outs.iter().filter(|o| matches!(o.end, End::Stopped)).count();
    let pings: u64 = outs.iter().map(|o| o.pings).sum();

    let per_conn = match (rss0, rss1) {
        (Some(a), Some(b)) => json!(r2((b as f64 - a as f64) / connected as f64)),
        _ => Value::Null,
    };
    let mut rep = Report::new("connections");
    rep.add("collection", coll.as_str());
    rep.add("connections", connected as u64);
    rep.add("connect_failed", errors.len() as u64);
    if !errors.is_empty() {
        rep.add("connect_errors", error_summary(&errors));
    }
    rep.add("setup_seconds", r2(setup_secs));
    rep.add("connects_per_s", r2(connected as f64 / setup_secs));
    rep.add("hold_s", duration);
    rep.add("still_open_at_end", still_open as u64);
    rep.add("pings_received", pings);
    rep.add(
        "server_rss_mib",
        json!({"before": mib(rss0), "open": mib(rss1), "end": mib(rss2)}),
    );
    rep.add("server_rss_per_conn_kib", per_conn);
    rep.add("server_threads", json!({"before": thr0, "end": thr2}));
    rep.add("idle_cpu", cpu);
    rep.add("bench_rss_mib", mib(self1));
    rep.add("sockets", endings(&outs));
    if g.cleanup {
        let _ = t.delete_collection(&coll).await;
    }
    Ok(rep)
}
