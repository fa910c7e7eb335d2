//! Operations: environment handling, request logs, rate limits, metrics access.

use super::support::*;

/// `VAR=` (as compose passes `${VAR:-}`) counts as unset for every setting.
#[tokio::test]
async fn empty_environment_variables_count_as_unset() {
    let s = Server::start_env(
        &[],
        &[
            // Each of these would fail to parse or be refused if taken literally.
            ("EDDY_PUBLIC_KEY", ""),
            ("EDDY_JWT_SECRET", ""),
            ("EDDY_TLS_CERT", ""),
            ("EDDY_RETENTION", ""),
            ("EDDY_MAX_CONNECTIONS", ""),
            ("EDDY_ALLOWED_ORIGINS", ""),
            ("EDDY_LOG", ""),
        ],
    )
    .await;
    // Empty EDDY_PUBLIC_KEY: no public key, so the test's public key is unknown.
    let (st, _) = s.call("GET", "/v1/collections", Some(PUBLIC_KEY), None).await;
    assert_eq!(st, 401);
    // Empty EDDY_JWT_SECRET: JWTs are not configured.
    let (st, _) = s
        .call("GET", "/v1/collections/x/documents", Some(&jwt("u", None, 60)), None)
        .await;
    assert_eq!(st, 401);
    let (st, b) = s.call("GET", "/v1/collections", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 200, "{b}");

    // A subcommand sees the same: an empty secret is a missing secret, not an empty key.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["token", "--sub", "alice"])
        .env("EDDY_JWT_SECRET", "")
        .output()
        .expect("run eddy token");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set EDDY_JWT_SECRET"), "{err}");
}

fn healthcheck(listen: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["healthcheck", "--timeout", "5s"])
        .env("EDDY_LISTEN", listen)
        .output()
        .expect("run eddy healthcheck");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `eddy healthcheck` (the image's HEALTHCHECK) probes `/readyz` on the listen port.
#[tokio::test]
async fn healthcheck_subcommand_reports_readiness() {
    let s = Server::start().await;
    let port = s.base.rsplit(':').next().expect("port").to_owned();
    // The image listens on 0.0.0.0: the probe goes to loopback.
    let (ok, out) = healthcheck(&format!("0.0.0.0:{port}"));
    assert!(ok, "{out}");
    assert!(out.contains("ready"), "{out}");
    drop(s);
    let (ok, out) = healthcheck(&format!("127.0.0.1:{port}"));
    assert!(!ok, "healthcheck passed with no server: {out}");
    assert!(out.contains("127.0.0.1"), "{out}");
}

/// Without any service key the server still starts and says how to create one.
#[tokio::test]
async fn start_without_service_key_explains_how_to_get_one() {
    let s = Server::start_env(&[], &[("EDDY_SERVICE_KEY", ""), ("EDDY_LOG", "warn")]).await;
    let log = s.log();
    assert!(log.contains("eddy keys create --kind service"), "{log}");
}

/// Requests that carry credentials in every place a client may put them.
async fn credentialed_requests(s: &Server, user: &str) {
    let r = s
        .http
        .get(format!("{}/v1/collections?token={PUBLIC_KEY}&x=1", s.base))
        .bearer_auth(SERVICE_KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let r = s
        .http
        .get(format!("{}/v1/collections/none/documents?token={user}", s.base))
        .header("x-api-key", PUBLIC_KEY)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_client_error());
    let r = s
        .http
        .get(format!("{}/v1/collections", s.base))
        .bearer_auth(user)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 403);
    let r = s.http.get(format!("{}/healthz", s.base)).send().await.expect("request");
    assert_eq!(r.status(), 200);
}

/// Waits until the server's log holds `n` lines containing `needle`.
async fn log_with(s: &Server, needle: &str, n: usize) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let log = s.log();
        if log.lines().filter(|l| l.contains(needle)).count() >= n {
            return log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} {needle:?} lines in:\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn assert_no_secrets(log: &str, user: &str) {
    for secret in [SERVICE_KEY, PUBLIC_KEY, user, JWT_SECRET] {
        assert!(!log.contains(secret), "log leaks a credential:\n{log}");
    }
    assert!(!log.contains("token="), "log holds a query string:\n{log}");
}

/// One text line per request: method, path without query, status, latency, identity kind.
#[tokio::test]
async fn request_log_lines_never_hold_credentials() {
    let s = Server::start_env(&[], &[("EDDY_LOG", "info")]).await;
    let user = jwt("alice", None, 600);
    credentialed_requests(&s, &user).await;
    let mut ws = s.ws(PUBLIC_KEY).await;
    ws.send(serde_json::json!({"type": "ping", "ref": 1})).await;
    ws.expect_type("pong").await;
    let log = log_with(&s, "status=", 5).await;
    assert_no_secrets(&log, &user);
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{log}"))
            .to_owned()
    };
    let l = line("path=/v1/collections identity=service");
    assert!(
        l.contains("method=GET") && l.contains("status=200") && l.contains("latency_ms="),
        "{l}"
    );
    let l = line("path=/v1/collections/none/documents");
    assert!(l.contains("identity=public"), "{l}");
    let l = line("path=/v1/collections identity=user");
    assert!(l.contains("status=403"), "{l}");
    let l = line("path=/healthz");
    assert!(l.contains("identity=anonymous") && l.contains("status=200"), "{l}");
    let l = line("path=/realtime");
    assert!(l.contains("identity=unverified") && l.contains("status=101"), "{l}");
}

/// `EDDY_LOG_FORMAT=json`: every line is a JSON object with the same fields.
#[tokio::test]
async fn request_log_in_json() {
    let s = Server::start_env(&[], &[("EDDY_LOG", "info"), ("EDDY_LOG_FORMAT", "json")]).await;
    let user = jwt("alice", None, 600);
    credentialed_requests(&s, &user).await;
    let log = log_with(&s, "\"status\":", 4).await;
    assert_no_secrets(&log, &user);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let hit = lines.iter().find(|v| {
        v["span"]["path"] == "/v1/collections" && v["span"]["identity"] == "service" && v["fields"]["status"] == 200
    });
    let hit = hit.unwrap_or_else(|| panic!("no service request line in:\n{log}"));
    assert_eq!(hit["span"]["method"], "GET");
    assert!(hit["fields"]["latency_ms"].is_number(), "{hit}");
}

/// Sends GETs until the first 429 (at most `max`); returns how many passed and the 429 response.
async fn until_limited(s: &Server, token: Option<&str>, max: usize) -> (usize, Option<reqwest::Response>) {
    for passed in 0..max {
        let mut req = s.http.get(format!("{}/v1/collections", s.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("request");
        if r.status() == 429 {
            return (passed, Some(r));
        }
    }
    (max, None)
}

/// Per-credential token buckets: 429 `rate_limited` with `Retry-After`, other callers unaffected.
#[tokio::test]
async fn rest_rate_limit_per_credential_and_address() {
    let s = Server::start_with(&["--rest-rate-limit", "1", "--rest-rate-burst", "5"]).await;
    let start = std::time::Instant::now();
    let (passed, limited) = until_limited(&s, Some(PUBLIC_KEY), 50).await;
    // The burst, plus at most one refill per second the loop took.
    let slack = start.elapsed().as_secs() as usize + 1;
    assert!((5..=5 + slack).contains(&passed), "{passed} requests passed");
    let r = limited.expect("never limited");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert_eq!(retry, 1);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");

    // Another credential has its own bucket; service keys and health are not limited.
    let (passed, _) = until_limited(&s, Some(&jwt("alice", None, 600)), 3).await;
    assert_eq!(passed, 3);
    let (passed, limited) = until_limited(&s, Some(SERVICE_KEY), 30).await;
    assert!(limited.is_none(), "service key limited after {passed}");
    let (st, _) = s.call("GET", "/healthz", None, None).await;
    assert_eq!(st, 200);

    // No credential and invalid credentials share the address's bucket.
    let (passed, limited) = until_limited(&s, Some("eddy_sk_not_a_real_key_000000000"), 50).await;
    assert!(limited.is_some() && passed <= 5 + slack, "{passed}");
    let (passed, limited) = until_limited(&s, None, 50).await;
    assert!(limited.is_some() && passed <= slack, "{passed}");
}

/// `--rest-rate-limit 0` turns limits off.
#[tokio::test]
async fn rest_rate_limit_zero_is_off() {
    let s = Server::start_with(&["--rest-rate-limit", "0", "--rest-rate-burst", "1"]).await;
    let (passed, limited) = until_limited(&s, Some(PUBLIC_KEY), 30).await;
    assert!(limited.is_none(), "limited after {passed}");
}

/// On the public port `/metrics` needs the service key; requests are counted by route template.
#[tokio::test]
async fn metrics_need_the_service_key_and_use_route_templates() {
    let s = Server::start().await;
    let (st, b) = s.call("GET", "/metrics", None, None).await;
    assert_eq!(st, 401, "{b}");
    let (st, b) = s.call("GET", "/metrics", Some(PUBLIC_KEY), None).await;
    assert_eq!(st, 403, "{b}");
    let (st, b) = s.call("GET", "/metrics", Some(&jwt("alice", None, 60)), None).await;
    assert_eq!(st, 403, "{b}");

    let id = uuid::Uuid::new_v4();
    let (st, _) = s
        .call(
            "GET",
            &format!("/v1/collections/posts/documents/{id}"),
            Some(SERVICE_KEY),
            None,
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = s.call("GET", "/no/such/route", None, None).await;
    assert_eq!(st, 404);
    let (st, m) = s.call("GET", "/metrics", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 200);
    let m = m.as_str().expect("text").to_owned();
    let series = m
        .lines()
        .find(|l| l.starts_with("eddy_http_requests_seconds_bucket") && l.contains("documents/{id}"))
        .unwrap_or_else(|| panic!("no histogram for the document route:\n{m}"));
    for label in [
        r#"route="/v1/collections/{collection}/documents/{id}""#,
        r#"method="GET""#,
        r#"status="404""#,
    ] {
        assert!(series.contains(label), "{label} missing: {series}");
    }
    assert!(m.contains(r#"route="unmatched""#), "{m}");
    assert!(
        !m.contains(&id.to_string()) && !m.contains("/no/such/route"),
        "raw paths in metrics:\n{m}"
    );
}

/// `--metrics-listen`: `/metrics` moves to the internal address (no credentials) and leaves the public one.
#[tokio::test]
async fn metrics_on_a_separate_internal_address() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let s = Server::start_with(&["--metrics-listen", &listen]).await;
    let (st, b) = s.call("GET", "/metrics", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 404, "{b}");
    let r = s
        .http
        .get(format!("http://{listen}/metrics"))
        .send()
        .await
        .expect("internal metrics");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    assert!(text.contains("eddy_http_requests_seconds"), "{text}");
    let r = s
        .http
        .get(format!("http://{listen}/v1/collections"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 404, "the internal address serves only /metrics");
}

/// Every metric the Grafana dashboard queries is one the code records (or one announced as coming).
#[test]
fn dashboard_queries_only_known_metrics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dashboard = std::fs::read_to_string(root.join("deploy/grafana/eddy.json")).expect("dashboard");
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard is JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| p.len() > 5));
    let mut sources = String::new();
    let mut dirs = vec![root.join("src")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("src dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                sources.push_str(&std::fs::read_to_string(&p).expect("source"));
            }
        }
    }
    // Being added to the realtime edge separately; the dashboard already has their panels.
    let planned: [&str; 0] = [];
    let mut names: Vec<&str> = dashboard
        .match_indices("eddy_")
        .map(|(i, _)| {
            let rest = &dashboard[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|n| !n.starts_with("eddy-"))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        if planned.contains(&base) {
            continue;
        }
        assert!(
            sources.contains(&format!("\"{base}\"")),
            "dashboard queries {name}, which nothing in src/ records"
        );
    }
}
