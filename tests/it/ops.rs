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
