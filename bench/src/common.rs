//! Shared pieces: target addressing, REST calls, WebSocket connect/subscribe/join,
//! the reader task, latency histograms, /proc sampling and the report.

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;
pub type AnyErr = Box<dyn std::error::Error + Send + Sync>;
pub type Res<T> = Result<T, AnyErr>;

/// Unix time in microseconds.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A fresh name suffix (no randomness crate needed).
pub fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:x}",
        (nanos as u64) & 0xffff_ffff_ffff,
        std::process::id() & 0xffff
    )
}

// --- target -----------------------------------------------------------------

/// Where the server is and how to reach it.
pub struct Target {
    pub base: String,
    pub key: String,
    /// Source addresses to spread client sockets over (empty: let the kernel pick).
    pub sources: Vec<IpAddr>,
    pub http: reqwest::Client,
    /// Every node sockets connect to (address, Host header); the first is `--url`.
    pub nodes: Vec<(SocketAddr, String)>,
}

/// A loopback `http://host:port` URL's address and Host header.
async fn resolve(url: &str) -> Res<(SocketAddr, String)> {
    let base = url.trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .ok_or("--url must start with http:// (the bench speaks plain HTTP/WS over loopback)")?;
    let hostport = rest.split('/').next().unwrap_or(rest).to_owned();
    let full = if hostport.contains(':') {
        hostport.clone()
    } else {
        format!("{hostport}:80")
    };
    let addr = tokio::net::lookup_host(full.as_str())
        .await?
        .find(|a| a.is_ipv4())
        .ok_or("could not resolve --url host to an IPv4 address")?;
    if !addr.ip().is_loopback() {
        return Err(format!("refusing non-loopback target {addr}: the bench runs on loopback only").into());
    }
    Ok((addr, hostport))
}

impl Target {
    pub async fn new(url: &str, also: &[String], key: &str, source_addrs: usize) -> Res<Target> {
        let base = url.trim_end_matches('/').to_owned();
        let (addr, hostport) = resolve(url).await?;
        let mut nodes = vec![(addr, hostport.clone())];
        for u in also {
            nodes.push(resolve(u).await?);
        }
        let sources = (0..source_addrs)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)))
            .collect();
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Target {
            base,
            key: key.to_owned(),
            sources,
            http,
            nodes,
        })
    }

    fn ws_url(&self, host: &str) -> String {
        format!("ws://{}/realtime?token={}", host, pct(&self.key))
    }

    /// An authorised request builder.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .header("authorization", format!("Bearer {}", self.key))
    }

    /// Sends a JSON body and checks the status.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>, want: u16) -> Res<String> {
        let mut rb = self.req(method.clone(), path);
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b.to_string());
        }
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status != want {
            return Err(format!("{method} {path}: HTTP {status}: {text}").into());
        }
        Ok(text)
    }

    /// Creates or configures a collection with every rule public.
    pub async fn public_collection(&self, name: &str) -> Res<()> {
        let body = json!({"rules":{"read":"public","create":"public","update":"public","delete":"public"}});
        self.call(
            reqwest::Method::PUT,
            &format!("/v1/collections/{name}"),
            Some(&body),
            200,
        )
        .await?;
        Ok(())
    }

    pub async fn delete_collection(&self, name: &str) -> Res<()> {
        self.call(reqwest::Method::DELETE, &format!("/v1/collections/{name}"), None, 204)
            .await?;
        Ok(())
    }

    /// Opens one WebSocket (the i-th client: picks its source address).
    pub async fn connect_ws(&self, i: usize, read_buffer: usize) -> Res<Ws> {
        let sock = TcpSocket::new_v4()?;
        if !self.sources.is_empty() {
            sock.bind(SocketAddr::new(self.sources[i % self.sources.len()], 0))?;
        }
        let (addr, host) = &self.nodes[i % self.nodes.len()];
        let stream = sock.connect(*addr).await?;
        stream.set_nodelay(true)?;
        let cfg = WebSocketConfig::default()
            .read_buffer_size(read_buffer)
            .write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::client_async_with_config(self.ws_url(host), stream, Some(cfg)).await?;
        Ok(ws)
    }
}

fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends a message and reads until a frame of type `want` (skipping others,
/// e.g. presence diffs); an `error` frame fails.
pub async fn request_reply(ws: &mut Ws, msg: &Value, want: &str) -> Res<String> {
    ws.send(Message::text(msg.to_string())).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                match v.get("type").and_then(Value::as_str) {
                    Some(ty) if ty == want => return Ok(t.as_str().to_owned()),
                    Some("error") => return Err(format!("server error: {}", t.as_str()).into()),
                    _ => {}
                }
            }
            Some(Ok(Message::Close(f))) => return Err(format!("closed by server: {f:?}").into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err("connection ended".into()),
        }
    }
}

/// Opens `n` sockets and runs `setup` on each, `parallel` at a time, each
/// bounded by `timeout`. Returns the sockets (None for failures) and the errors seen.
pub async fn open_many<F, Fut>(
    target: &Arc<Target>,
    n: usize,
    parallel: usize,
    timeout: Duration,
    read_buffer: usize,
    setup: F,
) -> (Vec<Option<Ws>>, Vec<String>)
where
    F: Fn(usize, Ws) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Res<Ws>> + Send + 'static,
{
    let sem = Arc::new(Semaphore::new(parallel.max(1)));
    let setup = Arc::new(setup);
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let target = target.clone();
        let setup = setup.clone();
        handles.push(tokio::spawn(async move {
            let r = tokio::time::timeout(timeout, async {
                let ws = target.connect_ws(i, read_buffer).await?;
                setup(i, ws).await
            })
            .await;
            drop(permit);
            match r {
                Ok(Ok(ws)) => Ok(ws),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_owned()),
            }
        }));
    }
    let mut out = Vec::with_capacity(n);
    let mut errors = Vec::new();
    for h in handles {
        match h.await {
            Ok(Ok(ws)) => out.push(Some(ws)),
            Ok(Err(e)) => {
                errors.push(e);
                out.push(None);
            }
            Err(e) => {
                errors.push(e.to_string());
                out.push(None);
            }
        }
    }
    (out, errors)
}

/// Summarises errors: count per distinct message (first 5).
pub fn error_summary(errors: &[String]) -> Value {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for e in errors {
        let key: String = e.chars().take(160).collect();
        match counts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => *c += 1,
            None => counts.push((key, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    Value::Array(
        counts
            .into_iter()
            .take(5)
            .map(|(k, c)| json!({"error": k, "count": c}))
            .collect(),
    )
}

// --- tiny JSON scanning -------------------------------------------------------

/// The integer after the first occurrence of `key` (e.g. `"n":`) at or after `from`.
pub fn scan_int(hay: &[u8], key: &[u8], from: usize) -> Option<i64> {
    let pos = memchr::memmem::find(hay.get(from..)?, key)? + from + key.len();
    let mut i = pos;
    while i < hay.len() && hay[i] == b' ' {
        i += 1;
    }
    let neg = hay.get(i) == Some(&b'-');
    if neg {
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while i < hay.len() && hay[i].is_ascii_digit() {
        v = v.wrapping_mul(10).wrapping_add((hay[i] - b'0') as i64);
        i += 1;
    }
    if i == start {
        return None;
    }
    Some(if neg { -v } else { v })
}

// --- latency histograms ---------------------------------------------------------

const SHARDS: usize = 16;

/// Latency histogram (microseconds) shared by many tasks: tasks buffer locally
/// and merge into one of a few locked shards.
pub struct Hist {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Hist {
    pub fn new() -> Arc<Hist> {
        Arc::new(Hist {
            shards: (0..SHARDS).map(|_| Mutex::new(new_hist())).collect(),
        })
    }

    pub fn flush(&self, who: usize, buf: &mut Vec<u64>) {
        if buf.is_empty() {
            return;
        }
        let mut h = self.shards[who % SHARDS].lock().unwrap();
        for &v in buf.iter() {
            h.saturating_record(v.max(1));
        }
        buf.clear();
    }

    pub fn merged(&self) -> Histogram<u64> {
        let mut all = new_hist();
        for s in &self.shards {
            all.add(&*s.lock().unwrap()).ok();
        }
        all
    }
}

pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

/// p50/p90/p99/p99.9/max in milliseconds.
pub fn percentiles(h: &Histogram<u64>) -> Value {
    let ms = |v: u64| (v as f64 / 1000.0 * 1000.0).round() / 1000.0;
    if h.is_empty() {
        return json!(null);
    }
    json!({
        "p50_ms": ms(h.value_at_quantile(0.50)),
        "p90_ms": ms(h.value_at_quantile(0.90)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "p999_ms": ms(h.value_at_quantile(0.999)),
        "max_ms": ms(h.max()),
        "mean_ms": (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
        "count": h.len(),
    })
}

// --- reader task -------------------------------------------------------------------

/// What the reader counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `event` frames of a subscription; data carries `t` and `n`.
    Event,
    /// `broadcast` frames of a room; message carries `t` and `n`.
    Broadcast,
}

/// How a reader ended.
#[derive(Debug)]
pub enum End {
    Stopped,
    Closed(u16, String),
    Error(String),
}

pub struct ReaderOut {
    /// Times each `n` was received.
    pub seen: Vec<u8>,
    /// Unix micros of the last counted frame (0: none).
    pub last_rx_us: i64,
    pub end: End,
    /// For rooms: the `n`s this client broadcast itself.
    pub sent: Vec<u64>,
    /// Frames the scanner could not parse.
    pub garbled: u64,
    /// WebSocket pings received (answered automatically).
    pub pings: u64,
}

pub struct ReaderCtx {
    pub idx: usize,
    pub kind: Kind,
    pub hist: Arc<Hist>,
    pub counters: Arc<Vec<AtomicU64>>,
    pub stop: watch::Receiver<bool>,
    /// Rooms: broadcast requests (the `n` to send) and the room name.
    pub cmds: Option<(mpsc::Receiver<u64>, String)>,
}

/// Reads frames until told to stop or the socket ends. Pings are answered by
/// tungstenite while reading.
pub async fn reader(mut ws: Ws, mut ctx: ReaderCtx) -> ReaderOut {
    let mut out = ReaderOut {
        seen: Vec::new(),
        last_rx_us: 0,
        end: End::Stopped,
        sent: Vec::new(),
        garbled: 0,
        pings: 0,
    };
    let mut buf: Vec<u64> = Vec::with_capacity(256);
    let prefix: &[u8] = match ctx.kind {
        Kind::Event => b"{\"type\":\"event\"",
        Kind::Broadcast => b"\"type\":\"broadcast\"",
    };
    let anchor: &[u8] = match ctx.kind {
        Kind::Event => b"\"data\":",
        Kind::Broadcast => b"\"message\":",
    };
    if *ctx.stop.borrow() {
        return out;
    }
    loop {
        tokio::select! {
            biased;
            _ = ctx.stop.changed() => break,
            Some(n) = async {
                match ctx.cmds.as_mut() {
                    Some((rx, _)) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let room = &ctx.cmds.as_ref().expect("cmds").1;
                let text = format!(
                    r#"{{"type":"broadcast","room":"{room}","event":"bench:msg","message":{{"t":{},"n":{n}}}}}"#,
                    now_us()
                );
                if let Err(e) = ws.send(Message::text(text)).await {
                    out.end = End::Error(format!("send: {e}"));
                    break;
                }
                out.sent.push(n);
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let b = t.as_bytes();
                    // Event frames start with a fixed prefix; other frames are
                    // serialised with sorted keys, so look for the type anywhere.
                    let ours = match ctx.kind {
                        Kind::Event => b.starts_with(prefix),
                        Kind::Broadcast => memchr::memmem::find(b, prefix).is_some(),
                    };
                    if !ours {
                        if memchr::memmem::find(b, b"\"type\":\"error\"").is_some() {
                            out.end = End::Error(format!("server error frame: {}", t.as_str()));
                            // Errors do not close the socket; keep reading.
                        }
                        continue;
                    }
                    let now = now_us();
                    let at = memchr::memmem::find(b, anchor).unwrap_or(0);
                    match (scan_int(b, b"\"n\":", at), scan_int(b, b"\"t\":", at)) {
                        (Some(n), Some(t)) if n >= 0 => {
                            let n = n as usize;
                            if n >= out.seen.len() {
                                out.seen.resize((n + 1).max(out.seen.len() * 2).max(64), 0);
                            }
                            out.seen[n] = out.seen[n].saturating_add(1);
                            buf.push((now - t).max(1) as u64);
                            if buf.len() >= 256 {
                                ctx.hist.flush(ctx.idx, &mut buf);
                            }
                            out.last_rx_us = now;
                            ctx.counters[ctx.idx].fetch_add(1, Ordering::Relaxed);
                        }
                        _ => out.garbled += 1,
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    out.end = match f {
                        Some(f) => End::Closed(u16::from(f.code), f.reason.to_string()),
                        None => End::Closed(1005, String::new()),
                    };
                    break;
                }
                Some(Ok(Message::Ping(_))) => out.pings += 1,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    out.end = End::Error(e.to_string());
                    break;
                }
                None => {
                    out.end = End::Error("connection ended".into());
                    break;
                }
            }
        }
    }
    ctx.hist.flush(ctx.idx, &mut buf);
    // Say goodbye without waiting long for the server's close reply.
    let _ = tokio::time::timeout(Duration::from_millis(200), ws.close(None)).await;
    out
}

/// Summarises reader endings: how many were closed by the server (by code) or failed.
pub fn endings(outs: &[ReaderOut]) -> Value {
    let mut closed: Vec<(String, usize)> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for o in outs {
        match &o.end {
            End::Stopped => {}
            End::Closed(code, reason) => {
                let k = format!("{code} {reason}");
                match closed.iter_mut().find(|(c, _)| *c == k) {
                    Some((_, n)) => *n += 1,
                    None => closed.push((k, 1)),
                }
            }
            End::Error(e) => errors.push(e.clone()),
        }
    }
    json!({
        "closed_by_server": closed.iter().map(|(k, n)| json!({"close": k, "count": n})).collect::<Vec<_>>(),
        "errors": errors.len(),
        "error_kinds": error_summary(&errors),
    })
}

/// Sum of all per-reader counters.
pub fn total(counters: &[AtomicU64]) -> u64 {
    counters.iter().map(|c| c.load(Ordering::Relaxed)).sum()
}

/// Waits until `total(counters) >= expected`, or nothing arrived for `idle`,
/// or `cap` passed. Returns whether everything arrived.
pub async fn drain(counters: &[AtomicU64], expected: u64, idle: Duration, cap: Duration) -> bool {
    let start = Instant::now();
    let mut last = total(counters);
    let mut last_change = Instant::now();
    loop {
        let now = total(counters);
        if now >= expected {
            return true;
        }
        if now != last {
            last = now;
            last_change = Instant::now();
        }
        if last_change.elapsed() >= idle || start.elapsed() >= cap {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// --- /proc sampling --------------------------------------------------------------

/// CPU time (utime+stime) of a process in seconds.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the comm: state(3) ... utime(14) stime(15) → indexes 11 and 12 here.
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY-free: sysconf is a plain libc call.
    let hz = clk_tck();
    Some(ticks / hz)
}

fn clk_tck() -> f64 {
    #[allow(unsafe_code)]
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Thread count of a process.
pub fn threads(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU use of the server and of this process over a phase.
pub struct CpuMeter {
    server: Option<String>,
    t0: Instant,
    server0: Option<f64>,
    self0: Option<f64>,
    system0: Option<(f64, f64)>,
}

/// Busy and total jiffies of the whole machine (/proc/stat).
fn system_jiffies() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let line = s.lines().next()?;
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0.0);
    Some((total - idle, total))
}

impl CpuMeter {
    pub fn start(server: Option<&str>) -> CpuMeter {
        CpuMeter {
            server: server.map(str::to_owned),
            t0: Instant::now(),
            server0: server.and_then(cpu_seconds),
            self0: cpu_seconds("self"),
            system0: system_jiffies(),
        }
    }

    /// {"server_cpu_cores", "bench_cpu_cores", "seconds"}.
    pub fn stop(&self) -> Value {
        let secs = self.t0.elapsed().as_secs_f64();
        let rate = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if secs > 0.0 => json!(((b - a) / secs * 100.0).round() / 100.0),
            _ => Value::Null,
        };
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let system = match (self.system0, system_jiffies()) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => json!(r2((b1 - b0) / (t1 - t0) * ncpu)),
            _ => Value::Null,
        };
        json!({
            "seconds": (secs * 100.0).round() / 100.0,
            "machine_busy_cores": system,
            "server_cpu_cores": rate(self.server0, self.server.as_deref().and_then(cpu_seconds)),
            "bench_cpu_cores": rate(self.self0, cpu_seconds("self")),
        })
    }
}

// --- fd limit ------------------------------------------------------------------------

/// Raises RLIMIT_NOFILE as far as allowed; returns the soft limit in effect.
pub fn raise_fd_limit(want: u64) -> u64 {
    #[allow(unsafe_code)]
    unsafe {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 0;
        }
        if rl.rlim_cur >= want as libc::rlim_t {
            return rl.rlim_cur;
        }
        // Try raising the hard limit too (works as root), else up to the hard limit.
        let hard = rl.rlim_max.max(want as libc::rlim_t);
        let try_rl = libc::rlimit {
            rlim_cur: want as libc::rlim_t,
            rlim_max: hard,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &try_rl) == 0 {
            return want;
        }
        let capped = libc::rlimit {
            rlim_cur: rl.rlim_max,
            rlim_max: rl.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &capped) == 0 {
            return rl.rlim_max;
        }
        rl.rlim_cur
    }
}

// --- report ----------------------------------------------------------------------------

/// Ordered results: printed as a table and as one JSON line.
pub struct Report {
    pub scenario: String,
    rows: Vec<(String, Value)>,
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        Report {
            scenario: scenario.to_owned(),
            rows: Vec::new(),
        }
    }

    pub fn add(&mut self, key: &str, v: impl Into<Value>) {
        self.rows.push((key.to_owned(), v.into()));
    }

    pub fn json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("scenario".into(), json!(self.scenario));
        for (k, v) in &self.rows {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    pub fn print_table(&self) {
        println!();
        println!("== eddy-bench {} ==", self.scenario);
        let w = self.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in &self.rows {
            let shown = match v {
                Value::String(s) => s.clone(),
                Value::Object(o) => o
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            if let Value::String(s) = v {
                                s.clone()
                            } else {
                                v.to_string()
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("  "),
                other => other.to_string(),
            };
            println!("{k:<w$}  {shown}");
        }
        println!();
    }
}

/// Rounds to 2 decimals.
pub fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Writes a progress line to stderr.
pub fn progress(msg: impl AsRef<str>) {
    eprintln!("[eddy-bench] {}", msg.as_ref());
}
