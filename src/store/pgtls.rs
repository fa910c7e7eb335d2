//! Turns a failed TLS handshake with PostgreSQL into one actionable message.

use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// Explains a connection error; TLS failures name the host, `sslmode` and the rustls reason.
pub fn explain(opts: &PgConnectOptions, e: sqlx::Error) -> anyhow::Error {
    let Some(reason) = tls_reason(&e) else {
        return e.into();
    };
    let mode = match opts.get_ssl_mode() {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    };
    anyhow::anyhow!(
        "TLS connection to PostgreSQL at {}:{} failed (sslmode={mode}): {reason}; \
         check that sslrootcert names the CA that signed the server certificate and that \
         the certificate is valid for the host name in the URL",
        opts.get_host(),
        opts.get_port()
    )
}

fn tls_reason(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Tls(inner) => Some(inner.to_string()),
        // A rejected certificate surfaces as an I/O error wrapping the rustls error.
        sqlx::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(|r| r.to_string()),
        _ => None,
    }
}
