//! Command line and environment settings. Every flag has an `EDDY_*` variable.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The `eddy` command line.
#[derive(Debug, Parser)]
#[command(name = "eddy", version, about = "Realtime change feed and rooms over PostgreSQL")]
pub struct Cli {
    /// Subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations first).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// Manage API keys.
    Keys {
        /// Database to use.
        #[command(flatten)]
        db: DbArgs,
        /// What to do.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Mint a development JWT signed with the configured HS256 secret.
    Token(TokenArgs),
    /// Exit 0 if the local server's `/readyz` answers 200, else 1 (for container health checks).
    Healthcheck(HealthcheckArgs),
}

/// `eddy healthcheck` arguments.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's listen address; a wildcard address (0.0.0.0, ::) is probed on loopback.
    #[arg(long, env = "EDDY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Give up after this long.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// `eddy keys` actions.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key and print it once.
    Create {
        /// `service` (bypasses rules) or `public` (anonymous).
        #[arg(long, default_value = "public")]
        kind: String,
        /// A label for the key.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List keys (never the secret part).
    List,
    /// Revoke a key by id; open sockets using it are closed.
    Revoke {
        /// The key id shown by `eddy keys list`.
        id: uuid::Uuid,
    },
}

/// Database connection settings.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PostgreSQL URL. The database is created if it does not exist.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/eddy"
    )]
    pub database_url: String,
    /// Maximum pooled connections.
    #[arg(long, global = true, env = "EDDY_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,
}

/// JWT verification settings.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// HS256 secret for user JWTs.
    #[arg(long, env = "EDDY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// PEM public key file for RS256/ES256 JWTs (instead of a secret).
    #[arg(long, env = "EDDY_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,
    /// Pinned JWT algorithm: HS256, RS256 or ES256.
    #[arg(long, env = "EDDY_JWT_ALGORITHM", default_value = "HS256")]
    pub jwt_algorithm: String,
    /// Required `iss` claim, if set.
    #[arg(long, env = "EDDY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, if set.
    #[arg(long, env = "EDDY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

/// `eddy token` arguments.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user id (`sub` claim).
    #[arg(long)]
    pub sub: String,
    /// Optional `role` claim.
    #[arg(long)]
    pub role: Option<String>,
    /// Lifetime, e.g. `1h`, `30m`.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// JWT settings (only the HS256 secret, issuer and audience are used).
    #[command(flatten)]
    pub jwt: JwtArgs,
}

/// `eddy serve` settings.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "EDDY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database settings.
    #[command(flatten)]
    pub db: DbArgs,
    /// JWT settings.
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Bootstrap service key (kept in memory, not in the database).
    #[arg(long, env = "EDDY_SERVICE_KEY", hide_env_values = true)]
    pub service_key: Option<String>,
    /// Bootstrap public key (kept in memory, not in the database).
    #[arg(long, env = "EDDY_PUBLIC_KEY", hide_env_values = true)]
    pub public_key: Option<String>,
    /// TLS certificate chain (PEM); serves HTTPS/WSS together with --tls-key.
    #[arg(long, env = "EDDY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "EDDY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// How long the change log keeps changes (resume window).
    #[arg(long, env = "EDDY_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub retention: Duration,
    /// How often old changes are pruned.
    #[arg(long, env = "EDDY_PRUNE_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub prune_interval: Duration,
    /// How often the feed reads the change log without a notification (safety net).
    #[arg(long, env = "EDDY_POLL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
    /// Default rules of new collections, e.g. `read=owner,create=authenticated,update=owner,delete=owner`.
    #[arg(
        long,
        env = "EDDY_DEFAULT_RULES",
        default_value = "read=owner,create=authenticated,update=owner,delete=owner"
    )]
    pub default_rules: String,
    /// Let non-service identities create collections by writing to them.
    #[arg(long, env = "EDDY_AUTO_CREATE_COLLECTIONS", default_value_t = false)]
    pub auto_create_collections: bool,
    /// Largest accepted request body (documents, batches).
    #[arg(long, env = "EDDY_MAX_DOCUMENT_BYTES", default_value_t = 1 << 20)]
    pub max_document_bytes: usize,
    /// Maximum concurrent realtime connections (WebSocket + SSE).
    #[arg(long, env = "EDDY_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Largest inbound WebSocket message.
    #[arg(long, env = "EDDY_MAX_MESSAGE_BYTES", default_value_t = 65_536)]
    pub max_message_bytes: usize,
    /// Maximum subscriptions per socket.
    #[arg(long, env = "EDDY_MAX_SUBSCRIPTIONS", default_value_t = 100)]
    pub max_subscriptions: usize,
    /// Maximum rooms per socket.
    #[arg(long, env = "EDDY_MAX_ROOMS", default_value_t = 50)]
    pub max_rooms: usize,
    /// Outbound queue per socket, in messages; a socket that overflows it is closed (4100).
    #[arg(long, env = "EDDY_OUTBOUND_QUEUE", default_value_t = 16384)]
    pub outbound_queue: usize,
    /// Outbound queue per socket, in bytes (each message counts its bytes plus 64);
    /// a socket over it is closed as a slow consumer (4100).
    #[arg(long, env = "EDDY_OUTBOUND_QUEUE_BYTES", default_value_t = 4 << 20)]
    pub outbound_queue_bytes: usize,
    /// Sustained inbound messages per second per socket.
    #[arg(long, env = "EDDY_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,
    /// Inbound burst allowance per socket.
    #[arg(long, env = "EDDY_RATE_BURST", default_value_t = 200)]
    pub rate_burst: u32,
    /// Sustained REST requests per second per credential (per IP without one); 0 turns limits off.
    #[arg(long, env = "EDDY_REST_RATE_LIMIT", default_value_t = 1000)]
    pub rest_rate_limit: u32,
    /// REST burst allowance per credential (per IP without one).
    #[arg(long, env = "EDDY_REST_RATE_BURST", default_value_t = 2000)]
    pub rest_rate_burst: u32,
    /// Serve `/metrics` on this separate (internal) address without credentials, and not on the public one.
    #[arg(long, env = "EDDY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Interval of server pings and SSE keep-alives.
    #[arg(long, env = "EDDY_HEARTBEAT_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Duration,
    /// Close a socket that sent nothing for this long (4101).
    #[arg(long, env = "EDDY_IDLE_TIMEOUT", default_value = "75s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Close a socket that has not authenticated after this long (4001).
    #[arg(long, env = "EDDY_AUTH_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub auth_timeout: Duration,
    /// Warn this long before a token expires (`token_expiring`).
    #[arg(long, env = "EDDY_TOKEN_EXPIRY_WARNING", default_value = "60s", value_parser = humantime::parse_duration)]
    pub token_expiry_warning: Duration,
    /// Comma-separated allowed `Origin`s for WebSocket/SSE (empty: any).
    #[arg(long, env = "EDDY_ALLOWED_ORIGINS", default_value = "")]
    pub allowed_origins: String,
    /// Time allowed for draining connections on shutdown.
    #[arg(long, env = "EDDY_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// Time allowed to receive a request's headers and body.
    #[arg(long, env = "EDDY_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Rooms, presence and publish across nodes: `memory` (one node), `postgres`,
    /// `redis://host:port[/db]` or `nats://host:port`.
    #[arg(long, env = "EDDY_BROKER", default_value = "memory", value_parser = BrokerSpec::parse)]
    pub broker: BrokerSpec,
    /// A node not heard from for this long is gone: its room members are removed.
    #[arg(long, env = "EDDY_PRESENCE_TTL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub presence_ttl: Duration,
    /// User account settings.
    #[command(flatten)]
    pub accounts: AccountArgs,
}

/// Who may create user accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignupMode {
    /// Anyone may sign up.
    Open,
    /// Only a service key creates users.
    Closed,
}

/// User account settings (`/v1/auth`).
#[derive(Debug, Clone, Args)]
pub struct AccountArgs {
    /// Whether anyone may sign up (`open`) or only a service key creates users (`closed`).
    #[arg(long, env = "EDDY_AUTH_SIGNUP", value_enum, default_value = "open")]
    pub auth_signup: SignupMode,
    /// Lifetime of access tokens issued to users (at most 24h).
    #[arg(long, env = "EDDY_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,
    /// Lifetime of each refresh token (a session idle this long ends).
    #[arg(long, env = "EDDY_REFRESH_TOKEN_TTL", default_value = "30d", value_parser = humantime::parse_duration)]
    pub refresh_token_ttl: Duration,
    /// PEM private key that signs RS256/ES256 access tokens (HS256 uses --jwt-secret).
    #[arg(long, env = "EDDY_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,
    /// Sign-in and sign-up attempts per minute per client IP.
    #[arg(long, env = "EDDY_AUTH_IP_RATE", default_value_t = 20)]
    pub auth_ip_rate: u32,
    /// Sign-in and sign-up attempts per minute per email address.
    #[arg(long, env = "EDDY_AUTH_ACCOUNT_RATE", default_value_t = 5)]
    pub auth_account_rate: u32,
    /// Argon2id memory cost in KiB.
    #[arg(long, env = "EDDY_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (time cost).
    #[arg(long, env = "EDDY_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,
}

impl ServeArgs {
    /// The configured Origin allow-list, empty when any origin is allowed.
    pub fn origins(&self) -> Vec<String> {
        self.allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Removes `EDDY_*` and `DATABASE_URL` variables whose value is empty, so that they count as
/// unset (compose files and shells often pass `VAR=`). Call before parsing and before any
/// thread starts: changing the environment is only sound while the process is single-threaded.
pub fn unset_empty_env() {
    let empty: Vec<std::ffi::OsString> = std::env::vars_os()
        .filter(|(k, v)| {
            let k = k.to_string_lossy();
            (k.starts_with("EDDY_") || k == "DATABASE_URL") && v.is_empty()
        })
        .map(|(k, _)| k)
        .collect();
    for k in empty {
        std::env::remove_var(k);
    }
}

/// Which broker, from `--broker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerSpec {
    /// One node; nothing crosses processes.
    Memory,
    /// The database Eddy already uses.
    Postgres,
    /// `redis://` or `rediss://` URL.
    Redis(String),
    /// `nats://` or `tls://` URL.
    Nats(String),
}

impl BrokerSpec {
    /// Parses `--broker`; the error names the problem.
    pub fn parse(s: &str) -> Result<BrokerSpec, String> {
        let s = s.trim();
        let scheme_ok = |rest: &str| !rest.is_empty() && !rest.starts_with('/');
        if s.is_empty() || s == "memory" {
            return Ok(BrokerSpec::Memory);
        }
        if s == "postgres" || s == "postgresql" {
            return Ok(BrokerSpec::Postgres);
        }
        if let Some(rest) = s.strip_prefix("redis://").or_else(|| s.strip_prefix("rediss://")) {
            if !scheme_ok(rest) {
                return Err(format!(
                    "--broker {s:?}: a Redis URL needs a host, e.g. redis://127.0.0.1:6379/0"
                ));
            }
            if s.starts_with("rediss://") {
                return Err(
                    "--broker rediss:// (Redis over TLS) is not supported by this build; use redis:// on a \
                            private network or a TLS tunnel"
                        .into(),
                );
            }
            return ::redis::Client::open(s)
                .map(|_| BrokerSpec::Redis(s.to_owned()))
                .map_err(|e| format!("--broker {s:?}: {e}"));
        }
        if let Some(rest) = s.strip_prefix("nats://").or_else(|| s.strip_prefix("tls://")) {
            if !scheme_ok(rest) {
                return Err(format!(
                    "--broker {s:?}: a NATS URL needs a host, e.g. nats://127.0.0.1:4222"
                ));
            }
            return Ok(BrokerSpec::Nats(s.to_owned()));
        }
        Err(format!(
            "--broker {s:?}: expected memory, postgres, redis://host:port[/db] or nats://host:port"
        ))
    }

    /// The engine's name (readiness, logs).
    pub fn name(&self) -> &'static str {
        match self {
            BrokerSpec::Memory => "memory",
            BrokerSpec::Postgres => "postgres",
            BrokerSpec::Redis(_) => "redis",
            BrokerSpec::Nats(_) => "nats",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BrokerSpec;

    #[test]
    fn parses_broker_urls() {
        assert_eq!(BrokerSpec::parse("memory"), Ok(BrokerSpec::Memory));
        assert_eq!(BrokerSpec::parse(""), Ok(BrokerSpec::Memory));
        assert_eq!(BrokerSpec::parse("postgres"), Ok(BrokerSpec::Postgres));
        assert_eq!(
            BrokerSpec::parse("redis://127.0.0.1:6379/2"),
            Ok(BrokerSpec::Redis("redis://127.0.0.1:6379/2".into()))
        );
        assert_eq!(
            BrokerSpec::parse("nats://u:p@127.0.0.1:4222"),
            Ok(BrokerSpec::Nats("nats://u:p@127.0.0.1:4222".into()))
        );
        for bad in ["redis://", "nats://", "kafka://x", "redis", "redis://h:notaport"] {
            let e = BrokerSpec::parse(bad).expect_err(bad);
            assert!(e.contains("--broker"), "{bad}: {e}");
        }
    }
}
