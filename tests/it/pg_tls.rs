//! PostgreSQL over TLS: a private cluster with `ssl=on` and a certificate from a test
//! CA; each `sslmode` is tried by the real `eddy` binary.

use super::pg_cluster::{find_pg_bin_dir, PgCluster};
use super::support::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::path::Path;
use std::process::Command;

/// A CA certificate (PEM) and its issuer.
fn make_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA certificate")
}

/// Runs `eddy migrate` against `url`; returns success and stderr.
fn migrate(url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["migrate", "--database-url", url])
        .env("EDDY_LOG", "warn")
        .output()
        .expect("run eddy migrate");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Whether the server's own connections (tagged by application name) use TLS.
async fn server_uses_tls(pg: &PgCluster, app: &str) -> bool {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!("{}?sslmode=disable", pg.url("postgres")))
        .await
        .expect("observer connection");
    let rows: Vec<bool> = sqlx::query_scalar(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
    )
    .bind(app)
    .fetch_all(&pool)
    .await
    .expect("pg_stat_ssl");
    assert!(!rows.is_empty(), "no connection from {app}");
    assert!(
        rows.iter().all(|&s| s == rows[0]),
        "mixed TLS and plaintext connections"
    );
    rows[0]
}

#[tokio::test]
async fn sslmodes_against_a_tls_cluster() {
    if find_pg_bin_dir().is_none() {
        println!("SKIPPED pg_tls: initdb/pg_ctl not found (install the `postgresql` package)");
        return;
    }
    let ca = make_ca("Eddy test CA");
    let other_ca = make_ca("Some other CA");
    let server_key = KeyPair::generate().expect("server key");
    // Valid for `localhost` only: connecting as 127.0.0.1 is a host mismatch.
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
    params.distinguished_name.push(DnType::CommonName, "localhost");
    let server_cert = params.signed_by(&server_key, &ca).expect("server certificate");

    let pg = PgCluster::init().await;
    pg.write_private_file("server.crt", server_cert.pem().as_bytes());
    pg.write_private_file("server.key", server_key.serialize_pem().as_bytes());
    pg.append_conf("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'");
    pg.start().await;

    let dir = std::env::temp_dir().join(format!("eddy-tls-ca-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let right = dir.join("ca.pem");
    let wrong = dir.join("other-ca.pem");
    std::fs::write(&right, ca.pem()).expect("write CA");
    std::fs::write(&wrong, other_ca.pem()).expect("write other CA");
    let url = |host: &str, mode: &str, root: Option<&Path>| {
        let mut u = format!("postgres://postgres@{host}:{}/eddy?sslmode={mode}", pg.port);
        if let Some(r) = root {
            u.push_str(&format!("&sslrootcert={}", r.display()));
        }
        u
    };

    // A server on verify-full talks TLS; one on disable does not.
    let full = format!(
        "{}&application_name=eddy-full",
        url("localhost", "verify-full", Some(&right))
    );
    let s = Server::start_on(full, &[]).await;
    assert!(
        server_uses_tls(&pg, "eddy-full").await,
        "verify-full connection is not TLS"
    );
    drop(s);
    let plain = format!("{}&application_name=eddy-plain", url("localhost", "disable", None));
    let s = Server::start_on(plain, &[]).await;
    assert!(!server_uses_tls(&pg, "eddy-plain").await, "disable connection uses TLS");
    drop(s);

    for (what, u) in [
        ("require", url("127.0.0.1", "require", None)),
        ("prefer", url("127.0.0.1", "prefer", None)),
        // libpq would also accept 127.0.0.1 here; sqlx 0.8 checks the name in verify-ca too (SECURITY.md).
        ("verify-ca, right CA", url("localhost", "verify-ca", Some(&right))),
        ("verify-full, right CA", url("localhost", "verify-full", Some(&right))),
    ] {
        let (ok, err) = migrate(&u);
        assert!(ok, "{what} should connect: {err}");
    }
    for (what, u, expect) in [
        (
            "verify-full, wrong CA",
            url("localhost", "verify-full", Some(&wrong)),
            "UnknownIssuer",
        ),
        (
            "verify-ca, wrong CA",
            url("127.0.0.1", "verify-ca", Some(&wrong)),
            "UnknownIssuer",
        ),
        (
            "verify-full, wrong host",
            url("127.0.0.1", "verify-full", Some(&right)),
            "not valid for name",
        ),
    ] {
        let (ok, err) = migrate(&u);
        assert!(!ok, "{what} must fail");
        println!("{what}: {}", err.trim());
        assert!(
            err.contains("TLS") && err.contains(expect),
            "{what}: unclear error: {err}"
        );
        assert!(err.lines().count() <= 3, "{what}: error should be short: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
