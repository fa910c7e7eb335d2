//! All SQL lives here. Functions take an executor (pool or transaction) so that
//! callers decide transaction boundaries; nothing here knows about HTTP or sockets.

mod bus;
mod changes;
mod collections;
mod documents;
mod keys;
mod list;
mod pgtls;
mod rooms;
pub mod users;

pub use bus::{bus_message, notify_many, notify_stored, prune_bus_messages};
pub use changes::{
    change_at, changes_after, head_seq, latest_change, prune, pruned_through, sequence_pending, snapshot, Change,
    ChangeOp, Numbered, Snapshot,
};
pub use collections::{
    collection_rules, delete_collection, get_collection, list_collections, load_collections, put_collection,
    CollectionInfo,
};
pub use documents::{
    delete_document, get_document, insert_document, insert_documents, insert_documents_skipping_existing,
    lock_document, merge_patch, update_document, Document, NewDocument,
};
pub use keys::{active_keys, create_key, list_keys, revoke_key, KeyInfo};
pub use list::{build_list_query, list_documents, ListQuery, Page};
pub use rooms::{load_room_rules, put_room_rules, RoomRuleRow};
pub use users::User;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgExecutor, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// Channel that wakes feeds when changes commit.
pub const CHANGES_CHANNEL: &str = "eddy_changes";
/// Channel that tells servers to reload keys, collections or room rules.
pub const CONFIG_CHANNEL: &str = "eddy_config";

/// Errors from the store, mapped to client errors at the edge.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    /// A unique key already exists.
    #[error("already exists")]
    Conflict,
    /// The database failed or is unreachable.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// Turns unique violations into `Conflict`.
    pub fn classify(e: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &e {
            if db.code().as_deref() == Some("23505") {
                return StoreError::Conflict;
            }
        }
        StoreError::Db(e)
    }
}

/// Connects a pool, creating the database first if it does not exist.
pub async fn connect(url: &str, max: u32) -> anyhow::Result<PgPool> {
    let opts = PgConnectOptions::from_str(url)?.log_statements(tracing::log::LevelFilter::Trace);
    create_database_if_missing(&opts).await?;
    let pool = PgPoolOptions::new()
        .max_connections(max)
        // Our own writes wake our feed in-process; other writers NOTIFY.
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(conn, "SET eddy.quiet = 'on'").await?;
                Ok(())
            })
        })
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(opts.clone())
        .await
        .map_err(|e| pgtls::explain(&opts, e))?;
    Ok(pool)
}

async fn create_database_if_missing(opts: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = opts.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let admin = opts.clone().database("postgres");
    let mut conn = match admin.connect().await {
        Ok(c) => c,
        // No rights on `postgres`: assume the database exists; connecting will tell.
        Err(_) => return Ok(()),
    };
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&mut conn)
            .await
        {
            // Another process may have created it at the same time.
            tracing::debug!(error = %e, "create database");
        }
    }
    Ok(())
}

/// Applies the migrations under `migrations/`.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    // Serialise concurrent starts of several servers on one database.
    sqlx::migrate!("./migrations").run(pool).await?;
    Ok(())
}

/// Which cached configuration a server must re-read (the `eddy_config` payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadHint {
    /// Everything (also after a lost LISTEN connection).
    All,
    /// API keys (created or revoked).
    Keys,
    /// Collections and their rules.
    Collections,
    /// Room rules.
    RoomRules,
    /// Disabled and deleted users (accounts).
    Users,
    /// One user signed out everywhere: close their sockets.
    Sessions(uuid::Uuid),
}

impl ReloadHint {
    /// The notification payload.
    pub fn payload(self) -> String {
        match self {
            ReloadHint::All => "all".into(),
            ReloadHint::Keys => "keys".into(),
            ReloadHint::Collections => "collections".into(),
            ReloadHint::RoomRules => "room_rules".into(),
            ReloadHint::Users => "users".into(),
            ReloadHint::Sessions(id) => format!("sessions:{id}"),
        }
    }

    /// Reads a payload; an unknown one (a newer server's) reloads everything.
    pub fn parse(payload: &str) -> ReloadHint {
        match payload {
            "keys" => ReloadHint::Keys,
            "collections" => ReloadHint::Collections,
            "room_rules" => ReloadHint::RoomRules,
            "users" => ReloadHint::Users,
            p => match p.strip_prefix("sessions:").map(uuid::Uuid::parse_str) {
                Some(Ok(id)) => ReloadHint::Sessions(id),
                _ => ReloadHint::All,
            },
        }
    }

    /// Whether this hint covers `other`.
    pub fn covers(self, other: ReloadHint) -> bool {
        self == ReloadHint::All || self == other
    }
}

/// Sends a reload hint to every server on this database.
pub async fn notify_config(db: impl PgExecutor<'_>, hint: ReloadHint) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CONFIG_CHANNEL)
        .bind(hint.payload())
        .execute(db)
        .await?;
    Ok(())
}

/// Whether the database answers (readiness probe).
pub async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
