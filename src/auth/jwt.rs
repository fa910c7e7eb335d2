//! User JWT verification with a pinned algorithm, and minting of dev tokens.

use super::Identity;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Why a JWT was refused or could not be built.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// Signature, algorithm, claims or format are wrong.
    #[error("{0}")]
    Invalid(String),
    /// The verifier configuration is unusable.
    #[error("JWT configuration: {0}")]
    Config(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

/// Verifies user JWTs against one configured key and algorithm.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    /// Builds a verifier; `alg` is pinned, so `none` and algorithm confusion fail.
    pub fn new(
        alg: &str,
        secret: Option<&str>,
        public_pem: Option<&[u8]>,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, JwtError> {
        let (algorithm, key) = match (alg.to_ascii_uppercase().as_str(), secret, public_pem) {
            ("HS256", Some(s), _) if !s.is_empty() => (Algorithm::HS256, DecodingKey::from_secret(s.as_bytes())),
            ("RS256", _, Some(pem)) => (
                Algorithm::RS256,
                DecodingKey::from_rsa_pem(pem).map_err(|e| JwtError::Config(e.to_string()))?,
            ),
            ("ES256", _, Some(pem)) => (
                Algorithm::ES256,
                DecodingKey::from_ec_pem(pem).map_err(|e| JwtError::Config(e.to_string()))?,
            ),
            (other, _, _) => {
                return Err(JwtError::Config(format!(
                    "algorithm {other} needs {}",
                    if other == "HS256" {
                        "--jwt-secret"
                    } else {
                        "--jwt-public-key-file (RS256 or ES256)"
                    }
                )))
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(iss) = issuer {
            validation.set_issuer(&[iss]);
            validation.required_spec_claims.insert("iss".into());
        }
        match audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        Ok(Self { key, validation })
    }

    /// Verifies a token and returns the user identity.
    pub fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = decode::<Claims>(token, &self.key, &self.validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => JwtError::Expired,
            _ => JwtError::Invalid(e.to_string()),
        })?;
        if !segments_are_utf8(token) {
            return Err(JwtError::Invalid("header or claims are not UTF-8 JSON".into()));
        }
        let c = data.claims;
        if c.sub.is_empty() {
            return Err(JwtError::Invalid("empty sub".into()));
        }
        Ok(Identity::User {
            sub: Arc::from(c.sub),
            role: c.role.map(Arc::from),
            exp: c.exp,
        })
    }
}

/// Whether the header and claims segments decode to UTF-8 text. RFC 7515 requires it, but the
/// JWT library skips members it does not know without checking their bytes, so it accepts a
/// signed token with invalid UTF-8 inside an unknown member (found by the `credentials` fuzz target).
fn segments_are_utf8(token: &str) -> bool {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    token
        .splitn(3, '.')
        .take(2)
        .all(|s| URL_SAFE_NO_PAD.decode(s).is_ok_and(|b| std::str::from_utf8(&b).is_ok()))
}

/// Signs an HS256 token (for `eddy token` and tests).
pub fn mint_hs256(
    secret: &str,
    sub: &str,
    role: Option<&str>,
    exp: i64,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<String, JwtError> {
    let claims = Claims {
        sub: sub.to_owned(),
        exp,
        iat: None,
        role: role.map(str::to_owned),
        iss: issuer.map(str::to_owned),
        aud: audience.map(str::to_owned),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| JwtError::Config(e.to_string()))
}

/// Signs access tokens for user accounts with the configured key.
pub struct JwtSigner {
    algorithm: Algorithm,
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
}

impl JwtSigner {
    /// Builds a signer: HS256 with a secret, or RS256/ES256 with a PEM private key.
    pub fn new(
        alg: &str,
        secret: Option<&str>,
        private_pem: Option<&[u8]>,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, JwtError> {
        let (algorithm, key) = match (alg.to_ascii_uppercase().as_str(), secret, private_pem) {
            ("HS256", Some(s), _) if !s.is_empty() => (Algorithm::HS256, EncodingKey::from_secret(s.as_bytes())),
            ("RS256", _, Some(pem)) => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(pem).map_err(|e| JwtError::Config(e.to_string()))?,
            ),
            ("ES256", _, Some(pem)) => (
                Algorithm::ES256,
                EncodingKey::from_ec_pem(pem).map_err(|e| JwtError::Config(e.to_string()))?,
            ),
            (other, _, _) => {
                return Err(JwtError::Config(format!(
                    "signing {other} tokens needs {}",
                    if other == "HS256" {
                        "--jwt-secret"
                    } else {
                        "--jwt-private-key-file (RS256 or ES256)"
                    }
                )))
            }
        };
        Ok(Self {
            algorithm,
            key,
            issuer: issuer.map(str::to_owned),
            audience: audience.map(str::to_owned),
        })
    }

    /// Signs a token for `sub` valid from `iat` until `exp` (Unix seconds).
    pub fn sign(&self, sub: &str, role: Option<&str>, iat: i64, exp: i64) -> Result<String, JwtError> {
        let claims = Claims {
            sub: sub.to_owned(),
            exp,
            iat: Some(iat),
            role: role.map(str::to_owned),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        encode(&Header::new(self.algorithm), &claims, &self.key).map_err(|e| JwtError::Config(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn accepts_good_and_rejects_bad_tokens() {
        let v = JwtVerifier::new("HS256", Some("s3cret"), None, Some("me"), Some("app")).expect("verifier");
        let good = mint_hs256("s3cret", "alice", Some("editor"), now() + 60, Some("me"), Some("app")).expect("mint");
        assert!(matches!(v.verify(&good), Ok(Identity::User { .. })));
        let expired = mint_hs256("s3cret", "alice", None, now() - 10, Some("me"), Some("app")).expect("mint");
        assert!(matches!(v.verify(&expired), Err(JwtError::Expired)));
        let wrong_key = mint_hs256("other", "alice", None, now() + 60, Some("me"), Some("app")).expect("mint");
        assert!(v.verify(&wrong_key).is_err());
        let wrong_iss = mint_hs256("s3cret", "alice", None, now() + 60, Some("you"), Some("app")).expect("mint");
        assert!(v.verify(&wrong_iss).is_err());
        let wrong_aud = mint_hs256("s3cret", "alice", None, now() + 60, Some("me"), Some("web")).expect("mint");
        assert!(v.verify(&wrong_aud).is_err());
        // alg "none": header {"alg":"none"} with the same claims and no signature.
        let parts: Vec<&str> = good.split('.').collect();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        assert!(v.verify(&format!("{none_header}.{}.", parts[1])).is_err());
    }

    /// A correctly signed token whose header or claims hold invalid UTF-8 (inside a member the
    /// library skips) is refused; the same token with valid text is accepted.
    #[test]
    fn refuses_signed_tokens_that_are_not_utf8() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        // Found by the `credentials` target under libFuzzer (fuzz/crashes/credentials-cdc325857b7ef8ac).
        let sign = |header: &[u8], claims: &[u8]| {
            let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
            let key = EncodingKey::from_secret(b"secret");
            let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::HS256).expect("sign");
            format!("{input}.{sig}")
        };
        let v = JwtVerifier::new("HS256", Some("secret"), None, None, None).expect("verifier");
        let claims = format!(r#"{{"exp":{},"sub":"1"}}"#, now() + 60).into_bytes();
        let mut bad_claims = format!(r#"{{"exp":{},"sub":"1","x":"t"#, now() + 60).into_bytes();
        bad_claims.extend_from_slice(b"\xd8\xcd\"}");
        let header = br#"{"alg":"HS256","x":"t"}"#;
        let bad_header = b"{\"alg\":\"HS256\",\"x\":\"t\xd8\xcd\"}";
        assert!(matches!(v.verify(&sign(header, &claims)), Ok(Identity::User { .. })));
        assert!(matches!(
            v.verify(&sign(bad_header, &claims)),
            Err(JwtError::Invalid(_))
        ));
        assert!(matches!(
            v.verify(&sign(header, &bad_claims)),
            Err(JwtError::Invalid(_))
        ));
    }
}
