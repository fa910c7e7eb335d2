//! Test support: start/kill/restart `eddy serve`, HTTP helpers, a WebSocket client.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Bootstrap service key of test servers.
pub const SERVICE_KEY: &str = "eddy_sk_test_service_key_0123456789";
/// Bootstrap public key of test servers.
pub const PUBLIC_KEY: &str = "eddy_pk_test_public_key_0123456789";
/// HS256 secret of test servers.
pub const JWT_SECRET: &str = "test-secret-for-integration-tests";
/// Every wait in tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

fn base_db_url() -> String {
    std::env::var("EDDY_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running `eddy serve` on its own database.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Database URL.
    pub db_url: String,
    port: u16,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: Option<std::path::PathBuf>,
    child: Option<Child>,
    /// HTTP client.
    pub http: reqwest::Client,
}

impl Server {
    /// Starts a server with default settings.
    pub async fn start() -> Server {
        Server::start_with(&[]).await
    }

    /// Starts a server with extra `serve` flags.
    pub async fn start_with(extra: &[&str]) -> Server {
        let db_url = format!("{}/eddy_it_{}", base_db_url(), uuid::Uuid::new_v4().simple());
        Server::start_on(db_url, extra).await
    }

    /// Starts a server with extra flags and environment variables (these override the
    /// test defaults; an empty value is passed as empty) and its stderr captured for `log()`.
    pub async fn start_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let db_url = format!("{}/eddy_it_{}", base_db_url(), uuid::Uuid::new_v4().simple());
        let port = free_port();
        let mut s = Server::unstarted(db_url, port, extra, format!("http://127.0.0.1:{port}"));
        s.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        s.log = Some(std::env::temp_dir().join(format!("eddy-it-log-{}", uuid::Uuid::new_v4().simple())));
        s.spawn().await;
        s
    }

    /// What the server wrote to stderr so far (servers from `start_env` only).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// Starts a server serving TLS (give `--tls-cert` and `--tls-key` in `extra`).
    pub async fn start_tls(extra: &[&str]) -> Server {
        let db_url = format!("{}/eddy_it_{}", base_db_url(), uuid::Uuid::new_v4().simple());
        let port = free_port();
        let mut s = Server::unstarted(db_url, port, extra, format!("https://127.0.0.1:{port}"));
        s.spawn().await;
        s
    }

    /// Starts a server on an existing database URL.
    pub async fn start_on(db_url: String, extra: &[&str]) -> Server {
        let port = free_port();
        let mut s = Server::unstarted(db_url, port, extra, format!("http://127.0.0.1:{port}"));
        s.spawn().await;
        s
    }

    fn unstarted(db_url: String, port: u16, extra: &[&str], base: String) -> Server {
        let insecure = base.starts_with("https");
        Server {
            base,
            db_url,
            port,
            args: extra.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            log: None,
            child: None,
            http: reqwest::Client::builder()
                .danger_accept_invalid_certs(insecure)
                .build()
                .expect("client"),
        }
    }

    async fn spawn(&mut self) {
        let stderr = match &self.log {
            Some(p) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .expect("open the server log"),
            ),
            None => Stdio::inherit(),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--database-url")
            .arg(&self.db_url)
            .arg("--poll-interval")
            .arg("200ms")
            .args(&self.args)
            .env("EDDY_SERVICE_KEY", SERVICE_KEY)
            .env("EDDY_PUBLIC_KEY", PUBLIC_KEY)
            .env("EDDY_JWT_SECRET", JWT_SECRET)
            .env(
                "EDDY_LOG",
                std::env::var("EDDY_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn eddy");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.base)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "eddy did not become ready");
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("eddy exited early: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// SIGKILLs the server.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for exit; returns how long it took.
    pub async fn terminate(&mut self) -> Duration {
        let start = std::time::Instant::now();
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while c.try_wait().ok().flatten().is_none() {
                assert!(std::time::Instant::now() < deadline, "eddy did not stop after SIGTERM");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        start.elapsed()
    }

    /// Starts the server again on the same port and database.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// A pool on the server's database.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(&self.db_url)
            .await
            .expect("pool")
    }

    /// `ws://127.0.0.1:PORT/realtime`.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/realtime", self.port)
    }

    /// Sends a request with a credential and JSON body; returns status and JSON.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Creates or configures a collection with the given rules (service key).
    pub async fn collection(&self, name: &str, rules: Value) {
        let (s, b) = self
            .call(
                "PUT",
                &format!("/v1/collections/{name}"),
                Some(SERVICE_KEY),
                Some(json!({"rules": rules})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }

    /// A collection everyone may read and write.
    pub async fn open_collection(&self, name: &str) {
        self.collection(
            name,
            json!({"read":"public","create":"public","update":"public","delete":"public"}),
        )
        .await;
    }

    /// Creates a document with the service key; returns it.
    pub async fn create(&self, coll: &str, data: Value) -> Value {
        let (s, b) = self
            .call(
                "POST",
                &format!("/v1/collections/{coll}/documents"),
                Some(SERVICE_KEY),
                Some(json!({"data": data})),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b
    }

    /// Opens a WebSocket authenticated with `token` at the handshake.
    pub async fn ws(&self, token: &str) -> Ws {
        Ws::connect(&format!("{}?token={}", self.ws_url(), token)).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(p) = &self.log {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Creates document `{"i": i}` with a client-chosen id, retrying through outages for
/// up to `patience` (a 409 on a retry means the earlier attempt landed).
pub async fn create_retrying(http: &reqwest::Client, base: &str, coll: &str, i: i64, patience: Duration) {
    let id = uuid::Uuid::new_v4();
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let r = http
            .post(format!("{base}/v1/collections/{coll}/documents"))
            .bearer_auth(SERVICE_KEY)
            .json(&json!({"id": id, "data": {"i": i}}))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 || r.status() == 409 => return,
            _ => {
                assert!(tokio::time::Instant::now() < deadline, "write {i} never succeeded");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A user JWT for tests.
pub fn jwt(sub: &str, role: Option<&str>, ttl_secs: i64) -> String {
    let exp = chrono::Utc::now().timestamp() + ttl_secs;
    eddy::auth::mint_hs256(JWT_SECRET, sub, role, exp, None, None).expect("mint")
}

/// A raw WebSocket client.
pub struct Ws {
    /// The stream.
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Connects.
    pub async fn connect(url: &str) -> Ws {
        let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timeout")
            .expect("connect");
        Ws { stream }
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, t: &str) {
        self.stream
            .send(Message::Text(t.to_owned().into()))
            .await
            .expect("send");
    }

    /// Next JSON message (pings skipped), or panics after `WAIT`.
    pub async fn recv(&mut self) -> Value {
        match self.next(WAIT).await {
            Some(v) => v,
            None => panic!("no message within {WAIT:?}"),
        }
    }

    /// Next JSON message within `d`, or None (also None on close).
    pub async fn next(&mut self, d: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()??;
            match msg {
                Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).expect("server sent invalid JSON")),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Waits for a message of this type, skipping others.
    pub async fn expect_type(&mut self, ty: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["type"] == ty {
                return v;
            }
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn close_code(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(Message::Close(f)))) => return f.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) => return None,
                Err(_) => panic!("socket not closed within {WAIT:?}"),
            }
        }
    }

    /// Subscribes and returns the `subscribed` reply (after any snapshot/replay).
    pub async fn subscribe(&mut self, msg: Value) -> (Vec<Value>, Value) {
        self.send(msg).await;
        let mut before = Vec::new();
        loop {
            let v = self.recv().await;
            match v["type"].as_str() {
                Some("subscribed") => return (before, v),
                Some("error") => panic!("subscribe failed: {v}"),
                _ => before.push(v),
            }
        }
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// `event:` name.
    pub event: String,
    /// `id:` (empty when absent).
    pub id: String,
    /// `data:` as JSON.
    pub data: Value,
}

/// A raw SSE client (`GET /realtime/sse`).
pub struct Sse {
    resp: reqwest::Response,
    buf: String,
}

impl Sse {
    /// Opens a stream; `path_and_query` starts with `/realtime/sse?`.
    pub async fn open(s: &Server, path_and_query: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = s.http.get(format!("{}{}", s.base, path_and_query));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = tokio::time::timeout(WAIT, req.send())
            .await
            .expect("sse connect timeout")
            .expect("sse connect");
        assert_eq!(resp.status(), 200, "sse refused");
        Sse {
            resp,
            buf: String::new(),
        }
    }

    /// The next event within `d`; None when the stream ended or nothing came.
    pub async fn next(&mut self, d: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:")) {
                        event = v.into();
                    } else if let Some(v) = line.strip_prefix("id: ").or_else(|| line.strip_prefix("id:")) {
                        id = v.into();
                    } else if let Some(v) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
                        data.push_str(v);
                    }
                }
                if !data.is_empty() && data != "keepalive" {
                    let data = serde_json::from_str(&data).expect("sse data is not JSON");
                    return Some(SseEvent { event, id, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .ok()?
                .ok()??;
            self.buf.push_str(std::str::from_utf8(&chunk).expect("utf8"));
        }
    }

    /// The next event, or panics after `WAIT`.
    pub async fn recv(&mut self) -> SseEvent {
        match self.next(WAIT).await {
            Some(e) => e,
            None => panic!("no SSE event within {WAIT:?}"),
        }
    }

    /// Events up to and including `subscribed` (the stream is then live).
    pub async fn until_subscribed(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        loop {
            let e = self.recv().await;
            match e.event.as_str() {
                "subscribed" => {
                    out.push(e);
                    return out;
                }
                "error" => panic!("subscription refused: {:?}", e.data),
                _ => out.push(e),
            }
        }
    }

    /// Whether the stream ends (after any remaining events) within `WAIT`.
    pub async fn ended(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Ok(Ok(Some(c))) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                Ok(Ok(None)) | Ok(Err(_)) => return true,
                Err(_) => return false,
            }
        }
    }
}

/// A percent-encoded query value.
pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Server {
    /// Creates an API key with the CLI; returns (id, key) once this server accepts it.
    pub async fn create_key(&self, kind: &str) -> (String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args([
                "keys",
                "create",
                "--kind",
                kind,
                "--name",
                "t",
                "--database-url",
                &self.db_url,
            ])
            .output()
            .expect("keys create");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .expect("field")
                .to_owned()
        };
        let (id, key) = (field("id:"), field("key:"));
        // Servers learn of new keys through a database notification: wait until it is accepted.
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.call("GET", "/healthz", None, None).await.0 != 200
            || self
                .call("GET", "/v1/collections/none/documents", Some(&key), None)
                .await
                .0
                == 401
        {
            assert!(tokio::time::Instant::now() < deadline, "new key never accepted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (id, key)
    }

    /// Revokes an API key with the CLI.
    pub fn revoke_key(&self, id: &str) {
        let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(["keys", "revoke", id, "--database-url", &self.db_url])
            .output()
            .expect("keys revoke");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Server {
    /// The value of one Prometheus sample line (`name` includes any labels), or 0.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .header("x-api-key", SERVICE_KEY)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .unwrap_or_default();
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}
