//! Transports and edges: TLS (https + wss), the Origin allow-list, subscription churn.

use crate::support::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Eddy serves HTTPS and `wss://` from a certificate and key file.
#[tokio::test]
async fn tls_serves_https_and_wss() {
    let dir = std::env::temp_dir().join(format!("eddy-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (needed to make a test certificate)");
    assert!(status.success());
    let (c, k) = (cert.to_string_lossy().to_string(), key.to_string_lossy().to_string());
    let s = Server::start_tls(&["--tls-cert", &c, "--tls-key", &k]).await;
    s.open_collection("tls").await;

    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).expect("cert");
    for c in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(c.expect("pem")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(s.base.trim_start_matches("https://"))
        .await
        .expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let url = format!("wss://localhost/realtime?token={SERVICE_KEY}");
    let (stream, _) = tokio_tungstenite::client_async(url, tls).await.expect("wss upgrade");
    let mut ws = WsAny { stream };
    assert_eq!(ws.next().await["type"], "auth_ok");
    ws.send(json!({"type": "subscribe", "id": "t", "collection": "tls"}))
        .await;
    assert_eq!(ws.next().await["type"], "subscribed");
    s.create("tls", json!({"secure": true})).await;
    let ev = ws.next().await;
    assert_eq!(ev["document"]["data"]["secure"], true);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A WebSocket over any stream (here TLS).
struct WsAny<S> {
    stream: tokio_tungstenite::WebSocketStream<S>,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> WsAny<S> {
    async fn send(&mut self, v: serde_json::Value) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }

    async fn next(&mut self) -> serde_json::Value {
        use futures_util::StreamExt;
        loop {
            let m = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("timeout")
                .expect("open")
                .expect("frame");
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                return serde_json::from_str(&t).expect("json");
            }
        }
    }
}

/// With an Origin allow-list, browsers from other origins are refused (403) on WebSocket and SSE.
#[tokio::test]
async fn origin_allow_list() {
    let s = Server::start_with(&["--allowed-origins", "https://app.example"]).await;
    s.open_collection("o").await;
    let request = |origin: &str| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("{}?token={SERVICE_KEY}", s.ws_url())
            .into_client_request()
            .expect("request");
        req.headers_mut().insert("origin", origin.parse().expect("origin"));
        req
    };
    let ok = tokio_tungstenite::connect_async(request("https://app.example")).await;
    assert!(ok.is_ok(), "allowed origin refused");
    match tokio_tungstenite::connect_async(request("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let r = s
        .http
        .get(format!("{}/realtime/sse?collection=o&token={SERVICE_KEY}", s.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("sse");
    assert_eq!(r.status(), 403);
}

/// Thousands of subscriptions on one socket (up to the limit) and subscribe/unsubscribe
/// churn leave the server healthy and delivering to what remains.
#[tokio::test]
async fn subscription_churn() {
    let s = Server::start_with(&[
        "--max-subscriptions",
        "3000",
        "--rate-limit",
        "100000",
        "--rate-burst",
        "100000",
    ])
    .await;
    s.open_collection("churn").await;
    let mut ws = s.ws(SERVICE_KEY).await;
    ws.expect_type("auth_ok").await;
    for i in 0..3000 {
        ws.send(json!({"type": "subscribe", "id": format!("s{i}"), "collection": "churn", "filters": {"k": i}}))
            .await;
    }
    let mut subscribed = 0;
    while subscribed < 3000 {
        let v = ws.recv().await;
        assert_ne!(v["type"], "error", "{v}");
        if v["type"] == "subscribed" {
            subscribed += 1;
        }
    }
    ws.send(json!({"type": "subscribe", "id": "over", "collection": "churn"}))
        .await;
    assert_eq!(ws.expect_type("error").await["code"], "limit_exceeded");
    for round in 0..5 {
        for i in 0..500 {
            ws.send(json!({"type": "unsubscribe", "id": format!("s{i}")})).await;
            ws.send(
                json!({"type": "subscribe", "id": format!("s{i}"), "collection": "churn", "filters": {"k": i + round}}),
            )
            .await;
        }
        let mut n = 0;
        while n < 1000 {
            let v = ws.recv().await;
            assert_ne!(v["type"], "error", "{v}");
            if v["type"] == "subscribed" || v["type"] == "unsubscribed" {
                n += 1;
            }
        }
    }
    s.create("churn", json!({"k": 2999})).await;
    let ev = ws.expect_type("event").await;
    assert_eq!(ev["subscription"], "s2999");
    assert!(ws.next(Duration::from_millis(300)).await.is_none());
}

/// A client that never finishes its request headers is disconnected after the read timeout.
#[tokio::test]
async fn slow_request_headers_time_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start_with(&["--request-timeout", "1s"]).await;
    let mut tcp = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .expect("tcp");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("partial headers");
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(WAIT, tcp.read(&mut buf))
        .await
        .expect("server kept the connection")
        .unwrap_or(0);
    assert!(started.elapsed() >= Duration::from_millis(900), "closed too early");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "unexpected answer {text:?}");
    // The server still answers others. A fresh connection: the pooled one that
    // started the server may have been idle past the 1 s header timeout, and
    // reusing a connection the server is closing fails at random.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let st = fresh
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .expect("healthz")
        .status();
    assert_eq!(st, 200);
}

/// SSE obeys the read rule: owner-only collections stream only the caller's documents,
/// and identities the rule excludes get 403 before the stream starts.
#[tokio::test]
async fn sse_access_rules() {
    let s = Server::start().await;
    s.collection(
        "private",
        json!({"read": "owner", "create": "authenticated", "update": "owner", "delete": "owner"}),
    )
    .await;
    let alice = jwt("alice", None, 3600);
    let bob = jwt("bob", None, 3600);
    let (st, _) = s
        .call("GET", "/realtime/sse?collection=private", Some(PUBLIC_KEY), None)
        .await;
    assert_eq!(st, 403);
    let mut sse = Sse::open(&s, &format!("/realtime/sse?collection=private&token={alice}"), None).await;
    sse.until_subscribed().await;
    s.call(
        "POST",
        "/v1/collections/private/documents",
        Some(&bob),
        Some(json!({"data": {"who": "bob"}})),
    )
    .await;
    s.call(
        "POST",
        "/v1/collections/private/documents",
        Some(&alice),
        Some(json!({"data": {"who": "alice"}})),
    )
    .await;
    // Events arrive in commit order: bob's write came first, so alice's event
    // being the first one proves bob's was withheld.
    let first = sse.recv().await;
    assert_eq!(
        first.data["document"]["data"]["who"], "alice",
        "bob's document leaked: {first:?}"
    );
}
