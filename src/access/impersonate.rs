//! Identities a service key may act as: the console's live tail and the
//! explain endpoint both describe a subscriber as `{kind, sub?, role?}`.

use super::AccessError;
use crate::auth::Identity;
use std::sync::Arc;

/// How long an impersonated user identity lasts on a realtime connection
/// before it expires like a JWT would (send `auth` again to extend).
pub const IMPERSONATION_TTL_SECS: i64 = 3600;

/// The identity described by `kind` (`public`, `user`, `service`), `sub` and
/// `role`, expiring at `exp` (Unix seconds) when it is a user.
pub fn described_identity(
    kind: &str,
    sub: Option<&str>,
    role: Option<&str>,
    exp: i64,
) -> Result<Identity, AccessError> {
    let bad = |m: &str| Err(AccessError::InvalidName(m.to_owned()));
    match kind {
        "public" | "service" if sub.is_some() || role.is_some() => bad("sub and role apply only to kind \"user\""),
        "public" => Ok(Identity::Public { key: None }),
        "service" => Ok(Identity::Service { key: None }),
        "user" => match sub {
            Some(s) if !s.is_empty() && s.len() <= 256 => {
                if role.is_some_and(|r| r.is_empty() || r.len() > 64) {
                    return bad("role must be 1-64 characters");
                }
                Ok(Identity::User {
                    sub: Arc::from(s),
                    role: role.map(Arc::from),
                    exp,
                })
            }
            _ => bad("kind \"user\" needs a sub of 1-256 characters"),
        },
        _ => bad("identity kind must be public, user or service"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_refuses_nonsense() {
        assert!(matches!(
            described_identity("public", None, None, 0),
            Ok(Identity::Public { .. })
        ));
        assert!(matches!(
            described_identity("user", Some("al"), Some("admin"), 9),
            Ok(Identity::User { exp: 9, .. })
        ));
        assert!(described_identity("user", None, None, 0).is_err());
        assert!(described_identity("public", Some("al"), None, 0).is_err());
        assert!(described_identity("root", None, None, 0).is_err());
        assert!(described_identity("user", Some("al"), Some(""), 0).is_err());
    }
}
