//! `credentials`: JWT verification (HS256, pinned), API key lookup and the
//! authenticator that chooses between them, on arbitrary strings and on
//! mutated real tokens (re-signed with the right secret most of the time, so
//! claim handling is reached, not just the signature check).

use super::Target;
use crate::feat;
use crate::features::{bucket, normalize, Features};
use crate::mutate::{json_mutate, Dict};
use crate::rng::Rng;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use eddy::auth::{mint_hs256, Authenticator, Identity, JwtVerifier, KeyKind, KeyStore};
use serde_json::json;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const SECRET: &str = "secret";
const SERVICE_KEY: &str = "eddy_sk_fuzz_service_key_0123456789";
const PUBLIC_KEY: &str = "eddy_pk_fuzz_public_key_0123456789";

const KEYS: &[&str] = &[
    "alg", "typ", "kid", "crit", "jku", "jwk", "x5u", "x5c", "cty", "b64", "sub", "exp", "nbf", "iat", "iss", "aud",
    "role", "jti",
];

const TOKENS: &[&str] = &[
    ".",
    "..",
    "eyJ",
    "eyJhbGciOiJub25lIn0",
    "eyJhbGciOiJIUzI1NiJ9",
    "eyJhbGciOiJSUzI1NiJ9",
    "eddy_sk_",
    "eddy_pk_",
    SERVICE_KEY,
    PUBLIC_KEY,
    "=",
    "==",
    "+",
    "/",
    "-",
    "_",
    " ",
    "\t",
    "Bearer ",
    "HS256",
    "none",
    "RS256",
    "\"alg\"",
    "\"exp\"",
    "\"sub\"",
];

static DICT: Dict = Dict {
    tokens: TOKENS,
    keys: KEYS,
};

/// The `credentials` target.
pub fn target() -> Target {
    Target {
        name: "credentials",
        about: "JwtVerifier::verify (HS256), KeyStore::lookup and Authenticator::authenticate on arbitrary strings \
                and mutated, re-signed tokens",
        seeds,
        dict: &DICT,
        run,
        special,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// HMAC-SHA256 written out from the RFC 2104 definition, independent of the
/// JWT library under test.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// A token with this header and payload text, signed with `SECRET`.
fn signed(header: &[u8], payload: &[u8]) -> String {
    let msg = format!("{}.{}", b64(header), b64(payload));
    let sig = hmac_sha256(SECRET.as_bytes(), msg.as_bytes());
    format!("{msg}.{}", b64(&sig))
}

fn seeds() -> Vec<Vec<u8>> {
    let far = now() + 10 * 365 * 86_400;
    let mut out: Vec<String> = Vec::new();
    let minted = [
        mint_hs256(SECRET, "alice", Some("editor"), far, None, None),
        mint_hs256(SECRET, "bob", None, far, Some("me"), Some("app")),
        mint_hs256(SECRET, "carol", None, now() - 10, None, None),
        mint_hs256("other", "mallory", Some("admin"), far, None, None),
        mint_hs256(SECRET, "", None, far, None, None),
    ];
    out.extend(minted.into_iter().flatten());
    let hs = br#"{"alg":"HS256","typ":"JWT"}"#;
    let claims = [
        json!({"sub": "u", "exp": far}),
        json!({"sub": "u", "exp": far, "role": null, "nbf": far}),
        json!({"sub": "u", "exp": far as f64}),
        json!({"sub": "u", "exp": far.to_string()}),
        json!({"sub": "u", "exp": -1}),
        json!({"sub": "u", "exp": u64::MAX}),
        json!({"sub": 7, "exp": far}),
        json!({"sub": "u"}),
        json!({"exp": far}),
        json!({"sub": "u", "exp": far, "aud": ["a", "b"], "iss": ["x"]}),
        json!({"sub": "u", "exp": far, "role": {"x": 1}}),
        json!(["sub", "exp"]),
    ];
    for c in &claims {
        out.push(signed(hs, c.to_string().as_bytes()));
    }
    let payload = json!({"sub": "u", "exp": far}).to_string();
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"hs256"}"#,
        r#"{"alg":"RS256"}"#,
        r#"{"alg":"HS512"}"#,
        r#"{"alg":"HS256","crit":["exp"]}"#,
        r#"{"alg":"HS256","kid":"../../etc/passwd","jku":"http://127.0.0.1/"}"#,
        r#"{"typ":"JWT"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
    ] {
        out.push(signed(header.as_bytes(), payload.as_bytes()));
    }
    out.push(format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(payload.as_bytes())));
    out.extend(
        [
            SERVICE_KEY,
            PUBLIC_KEY,
            " eddy_sk_fuzz_service_key_0123456789 ",
            "eddy_sk_",
            "",
            "a.b.c",
            "....",
            "Bearer x",
        ]
        .map(str::to_owned),
    );
    out.into_iter().map(String::into_bytes).collect()
}

/// Mutates one segment of a JWT-shaped input: decodes it, mutates the JSON (or
/// bytes) inside, re-encodes, and usually re-signs with the right secret.
fn special(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    if !rng.one_in(3) {
        return false;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let (Ok(mut header), Ok(mut payload)) = (URL_SAFE_NO_PAD.decode(parts[0]), URL_SAFE_NO_PAD.decode(parts[1])) else {
        return false;
    };
    let which = if rng.one_in(3) { &mut header } else { &mut payload };
    if !json_mutate(rng, which, &[], &DICT) {
        crate::mutate::havoc(rng, which, &[], &DICT, 4096);
    }
    *data = if rng.below(4) != 0 {
        signed(&header, &payload)
    } else {
        format!("{}.{}.{}", b64(&header), b64(&payload), parts[2])
    }
    .into_bytes();
    true
}

struct Fixture {
    verifier: JwtVerifier,
    auth: Authenticator,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let verifier = JwtVerifier::new("HS256", Some(SECRET), None, None, None).ok()?;
        let keys = KeyStore::new(&[
            (KeyKind::Service, SERVICE_KEY.to_owned()),
            (KeyKind::Public, PUBLIC_KEY.to_owned()),
        ]);
        let auth = Authenticator::new(keys, JwtVerifier::new("HS256", Some(SECRET), None, None, None).ok());
        Some(Fixture { verifier, auth })
    })
    .as_ref()
}

/// What an accepted token must look like, checked independently of the JWT
/// library: three segments, header `alg` exactly HS256, a signature that is
/// HMAC-SHA256 of the first two segments under the secret, a non-empty string
/// `sub` and an integer `exp` not in the past.
fn check_accepted(token: &str, who: &Identity) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "accepted a token without three segments: {token:?}");
    // Members as raw text: skipping values has no depth limit, like the JWT library's own
    // header parsing, so deeply nested unknown members do not trip this check.
    let header: BTreeMap<String, Box<RawValue>> = URL_SAFE_NO_PAD
        .decode(parts[0])
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .unwrap_or_else(|| panic!("accepted a token whose header is not a JSON object: {token:?}"));
    let alg = header.get("alg").map(|a| a.get());
    assert_eq!(alg, Some("\"HS256\""), "accepted a token with alg {alg:?}: {token:?}");
    let expected = b64(&hmac_sha256(
        SECRET.as_bytes(),
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
    ));
    assert_eq!(parts[2], expected, "accepted a token with a wrong signature: {token:?}");
    let Identity::User { sub, exp, .. } = who else {
        panic!("a JWT produced a non-user identity: {who:?}");
    };
    assert!(!sub.is_empty(), "accepted an empty sub: {token:?}");
    assert!(*exp >= now() - 2, "accepted an expired token (exp {exp}): {token:?}");
}

fn run(data: &[u8], f: &mut Features) {
    let Some(fx) = fixture() else {
        panic!("the HS256 verifier could not be built");
    };
    let text = String::from_utf8_lossy(data);
    let token: &str = &text;
    feat!(
        f,
        "len:{}:dots:{}",
        bucket(token.len()).min(12),
        token.matches('.').count().min(4)
    );
    match fx.verifier.verify(token) {
        Ok(who) => {
            check_accepted(token, &who);
            let role = matches!(&who, Identity::User { role: Some(_), .. });
            feat!(f, "jwt:ok:role={role}");
        }
        Err(e) => feat!(f, "jwt:err:{}", normalize(&e.to_string())),
    }
    let looked_up = fx.auth.keys().lookup(token);
    let expected = match token {
        SERVICE_KEY => Some(Identity::Service { key: None }),
        PUBLIC_KEY => Some(Identity::Public { key: None }),
        _ => None,
    };
    assert_eq!(looked_up, expected, "key lookup of {token:?}");
    feat!(f, "key:{}", looked_up.is_some());
    match fx.auth.authenticate(token) {
        Ok(who) => {
            let t = token.trim();
            if t != SERVICE_KEY && t != PUBLIC_KEY {
                check_accepted(t, &who);
            }
            let kind = serde_json::to_value(who.view())
                .map(|v| v["kind"].clone())
                .unwrap_or_default();
            feat!(f, "auth:ok:{kind}");
        }
        Err(e) => feat!(f, "auth:err:{}", normalize(&e.to_string())),
    }
}
