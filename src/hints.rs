//! Start-up hints for operators: what to do when the server cannot be used as configured.

use crate::auth::KeyKind;
use sqlx::PgPool;

/// Logs how to get a service key when neither `EDDY_SERVICE_KEY` nor an active stored one exists:
/// a fresh `docker compose up` starts without keys and the admin API would be unreachable.
pub async fn service_key(pool: &PgPool, bootstrap: bool) {
    if bootstrap {
        return;
    }
    let stored = crate::store::active_keys(pool)
        .await
        .map(|keys| keys.iter().any(|(_, kind, _)| *kind == KeyKind::Service))
        .unwrap_or(true);
    if !stored {
        tracing::warn!(
            "no service key yet: create one with `eddy keys create --kind service` \
             (Docker: `docker compose exec eddy eddy keys create --kind service`), \
             or set EDDY_SERVICE_KEY=eddy_sk_<at least 16 random characters>"
        );
    }
}
