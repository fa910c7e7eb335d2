//! Subcommands: `serve`, `migrate`, `keys`, `token`, `healthcheck`.

use crate::auth::{generate_key, KeyKind};
use crate::config::{Cli, Command, KeysAction};
use crate::{app, store};
use std::process::ExitCode;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    init_tracing();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EDDY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files and log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // Log collectors parse JSON lines; people read the default text.
    let _ = match std::env::var("EDDY_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().try_init(),
        Ok("text") | Err(_) => builder.try_init(),
        Ok(other) => {
            let r = builder.try_init();
            tracing::warn!("EDDY_LOG_FORMAT={other:?} is neither `json` nor `text`: using text");
            r
        }
    };
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let state = app::build(*args).await?;
            app::serve(state).await
        }
        Command::Migrate(db) => {
            let pool = store::connect(&db.database_url, 2).await?;
            store::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys { db, action } => {
            let pool = store::connect(&db.database_url, 2).await?;
            store::migrate(&pool).await?;
            match action {
                KeysAction::Create { kind, name } => {
                    let kind =
                        KeyKind::parse(&kind).ok_or_else(|| anyhow::anyhow!("--kind must be service or public"))?;
                    let key = generate_key(kind);
                    let id = store::create_key(&pool, kind, &name, &key).await?;
                    store::notify_config(&pool, store::ReloadHint::Keys).await?;
                    println!("id:  {id}\nkey: {key}\n(store the key now: it is not shown again)");
                }
                KeysAction::List => {
                    for k in store::list_keys(&pool).await? {
                        let state = k.revoked_at.map_or("active".to_owned(), |t| format!("revoked {t}"));
                        println!("{}  {:7}  {:14}  {}  {}", k.id, k.kind, k.prefix, k.name, state);
                    }
                }
                KeysAction::Revoke { id } => {
                    store::revoke_key(&pool, id)
                        .await
                        .map_err(|e| anyhow::anyhow!("revoke {id}: {e}"))?;
                    store::notify_config(&pool, store::ReloadHint::Keys).await?;
                    println!("revoked {id}");
                }
            }
            Ok(())
        }
        Command::Healthcheck(h) => crate::healthcheck::run(&h).await,
        Command::Token(t) => {
            let secret = t
                .jwt
                .jwt_secret
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("set EDDY_JWT_SECRET or --jwt-secret"))?;
            let exp = chrono::Utc::now().timestamp() + i64::try_from(t.ttl.as_secs())?;
            let token = crate::auth::mint_hs256(
                secret,
                &t.sub,
                t.role.as_deref(),
                exp,
                t.jwt.jwt_issuer.as_deref(),
                t.jwt.jwt_audience.as_deref(),
            )?;
            println!("{token}");
            Ok(())
        }
    }
}
