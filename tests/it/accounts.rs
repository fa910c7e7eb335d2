//! User accounts (`/v1/auth`): sign-up, sign-in, refresh rotation and reuse detection,
//! sign-out, password change, administration, rate limits, and account tokens under
//! `owner` and `role:` rules over REST, WebSocket and SSE.

use crate::support::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

/// Signs up (open sign-up answers 202 without telling whether the email was new).
async fn signup(s: &Server, email: &str, password: &str) {
    let (st, b) = s
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(json!({"email": email, "password": password, "profile": {"name": email}})),
        )
        .await;
    assert_eq!(st, 202, "{b}");
    assert_eq!(b, json!({"status": "accepted"}));
}

async fn login(s: &Server, email: &str, password: &str) -> (u16, Value) {
    s.call(
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

/// Signs up and in; returns the session.
async fn account(s: &Server, email: &str) -> Value {
    signup(s, email, PASSWORD).await;
    let (st, b) = login(s, email, PASSWORD).await;
    assert_eq!(st, 200, "{b}");
    b
}

async fn refresh(s: &Server, token: &Value) -> (u16, Value) {
    s.call("POST", "/v1/auth/refresh", None, Some(json!({"refresh_token": token})))
        .await
}

fn access(session: &Value) -> String {
    session["access_token"].as_str().expect("access_token").to_owned()
}

/// A server whose limits stay out of the way of tests that do not test them.
async fn server(extra: &[&str]) -> Server {
    let mut args = vec!["--auth-ip-rate", "1000", "--auth-account-rate", "1000"];
    args.extend_from_slice(extra);
    Server::start_with(&args).await
}

#[tokio::test]
async fn sign_up_in_profile_refresh_and_out() {
    let s = server(&[]).await;
    signup(&s, "  Alice@Example.COM ", PASSWORD).await;
    // The same address again, differently spelled: the same answer, and nothing changes.
    signup(&s, "alice@example.com", "another fine password").await;
    let (st, session) = login(&s, "ALICE@example.com", PASSWORD).await;
    assert_eq!(st, 200, "{session}");
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["expires_in"], 900);
    assert_eq!(session["user"]["email"], "alice@example.com");
    assert_eq!(session["user"]["role"], Value::Null);
    let (st, _) = login(&s, "alice@example.com", "another fine password").await;
    assert_eq!(st, 401, "the second sign-up must not have replaced the password");

    let token = access(&session);
    let (st, me) = s.call("GET", "/v1/auth/me", Some(&token), None).await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["id"], session["user"]["id"]);
    assert_eq!(me["profile"], json!({"name": "  Alice@Example.COM "}));
    let (st, me) = s
        .call(
            "PATCH",
            "/v1/auth/me",
            Some(&token),
            Some(json!({"profile": {"name": null, "city": "Oslo"}})),
        )
        .await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["profile"], json!({"city": "Oslo"}));
    for forbidden in [json!({"role": "admin"}), json!({"profile": {}, "email": "x@y.z"})] {
        let (st, b) = s.call("PATCH", "/v1/auth/me", Some(&token), Some(forbidden)).await;
        assert_eq!(st, 400, "{b}");
    }
    // Service keys and plain JWTs without an account have no `me`.
    let (st, _) = s.call("GET", "/v1/auth/me", Some(SERVICE_KEY), None).await;
    assert_eq!(st, 404);

    // Rotation: each refresh token works once and is replaced.
    let first = session["refresh_token"].clone();
    let (st, second) = refresh(&s, &first).await;
    assert_eq!(st, 200, "{second}");
    assert_ne!(second["refresh_token"], first);
    let (st, me) = s.call("GET", "/v1/auth/me", Some(&access(&second)), None).await;
    assert_eq!((st, &me["email"]), (200, &json!("alice@example.com")));

    // Sign-out ends the session: its refresh token is refused.
    let (st, _) = s
        .call(
            "POST",
            "/v1/auth/logout",
            None,
            Some(json!({"refresh_token": second["refresh_token"]})),
        )
        .await;
    assert_eq!(st, 204);
    let (st, b) = refresh(&s, &second["refresh_token"]).await;
    assert_eq!(st, 401, "{b}");
    assert_eq!(b["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_ends_the_session() {
    let s = server(&[]).await;
    let session = account(&s, "bob@example.com").await;
    let other = login(&s, "bob@example.com", PASSWORD).await.1;
    let stolen = session["refresh_token"].clone();
    let (st, rotated) = refresh(&s, &stolen).await;
    assert_eq!(st, 200);
    // The thief (or the victim) presents the old token: refused, and the family dies.
    let (st, _) = refresh(&s, &stolen).await;
    assert_eq!(st, 401);
    let (st, _) = refresh(&s, &rotated["refresh_token"]).await;
    assert_eq!(st, 401, "the rotated token must be revoked with its family");
    // Other sessions of the same user are not affected.
    let (st, _) = refresh(&s, &other["refresh_token"]).await;
    assert_eq!(st, 200);
    let (st, _) = refresh(&s, &json!("eddy_rt_not-a-token")).await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let s = server(&[]).await;
    account(&s, "carol@example.com").await;
    let mut wrong = Duration::ZERO;
    let mut unknown = Duration::ZERO;
    for i in 0..5 {
        let t = Instant::now();
        let (st_w, b_w) = login(&s, "carol@example.com", "not her password").await;
        wrong += t.elapsed();
        let t = Instant::now();
        let (st_u, b_u) = login(&s, &format!("nobody{i}@example.com"), "not her password").await;
        unknown += t.elapsed();
        assert_eq!((st_w, st_u), (401, 401));
        assert_eq!(b_w, b_u, "different answers leak which emails exist");
        assert_eq!(b_w["error"]["message"], "invalid email or password");
    }
    eprintln!("sign-in timing over 5 tries: wrong password {wrong:?}, unknown user {unknown:?}");
    // Both pay for one Argon2id verification; without the dummy hash the unknown
    // case would be about a database round trip and many times faster.
    let (fast, slow) = if wrong < unknown {
        (wrong, unknown)
    } else {
        (unknown, wrong)
    };
    assert!(slow < fast * 3, "timing differs: wrong {wrong:?}, unknown {unknown:?}");
}

#[tokio::test]
async fn weak_passwords_bad_emails_and_bounded_bodies_are_refused() {
    let s = server(&[]).await;
    for (email, password, status) in [
        ("dave@example.com", "short", 422),
        ("dave@example.com", "password123", 422),
        ("not-an-email", PASSWORD, 422),
        ("dave@example.com", "", 422),
    ] {
        let (st, b) = s
            .call(
                "POST",
                "/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(st, status, "{email} / {password}: {b}");
        assert_eq!(b["error"]["code"], "unprocessable");
    }
    let (st, b) = s
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(json!({"email": "dave@example.com", "password": PASSWORD, "role": "admin"})),
        )
        .await;
    assert_eq!(st, 403, "users must not choose their role: {b}");
    let big = "x".repeat(100 * 1024);
    let (st, b) = s
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(json!({"email": "dave@example.com", "password": PASSWORD, "profile": {"bio": big}})),
        )
        .await;
    assert_eq!(st, 413, "{b}");
    let (st, _) = s.call("POST", "/v1/auth/login", None, Some(json!({"email": 1}))).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_account_and_per_ip() {
    let s = Server::start_with(&["--auth-account-rate", "3", "--auth-ip-rate", "5"]).await;
    for _ in 0..3 {
        let (st, _) = login(&s, "erin@example.com", "wrong password!").await;
        assert_eq!(st, 401);
    }
    let resp = s
        .http
        .post(format!("{}/v1/auth/login", s.base))
        .json(&json!({"email": "erin@example.com", "password": "wrong password!"}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Other addresses from the same IP still have their own allowance, until the IP's runs out.
    let (st, _) = login(&s, "frank@example.com", "wrong password!").await;
    assert_eq!(st, 401);
    let (st, _) = login(&s, "grace@example.com", "wrong password!").await;
    assert_eq!(st, 429, "the per-IP limit (5/min) must apply across addresses");
    let (st, _) = s
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(json!({"email": "heidi@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(st, 429, "sign-up shares the per-IP limit");
}

#[tokio::test]
async fn disabled_and_deleted_users_are_locked_out_and_their_sockets_closed() {
    let s = server(&[]).await;
    s.open_collection("notes").await;
    let session = account(&s, "ivan@example.com").await;
    let id = session["user"]["id"].as_str().expect("id").to_owned();
    let token = access(&session);
    let mut ws = s.ws(&token).await;
    ws.subscribe(json!({"type": "subscribe", "id": "s1", "collection": "notes"}))
        .await;
    let mut sse = s
        .http
        .get(format!("{}/realtime/sse?collection=notes&token={token}", s.base))
        .send()
        .await
        .expect("sse");
    assert_eq!(sse.status(), 200);

    let (st, b) = s
        .call(
            "PATCH",
            &format!("/v1/auth/users/{id}"),
            Some(&token),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, 403, "users cannot administer: {b}");
    let (st, user) = s
        .call(
            "PATCH",
            &format!("/v1/auth/users/{id}"),
            Some(SERVICE_KEY),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, 200, "{user}");
    assert_eq!(user["disabled"], true);
    assert_eq!(ws.close_code().await, Some(4001));
    // The SSE stream reports the refusal and ends.
    let mut text = String::new();
    while let Some(chunk) = tokio::time::timeout(WAIT, sse.chunk())
        .await
        .expect("SSE stream still open after the user was disabled")
        .expect("chunk")
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("unauthorized"), "{text}");
    let (st, _) = s
        .call("GET", "/v1/collections/notes/documents", Some(&token), None)
        .await;
    assert_eq!(st, 401, "a disabled user's unexpired access token must be refused");
    let (st, _) = refresh(&s, &session["refresh_token"]).await;
    assert_eq!(st, 401);
    let (st, b) = login(&s, "ivan@example.com", PASSWORD).await;
    assert_eq!(st, 403, "{b}");
    let (st, b) = login(&s, "ivan@example.com", "wrong password!").await;
    assert_eq!(
        st, 401,
        "without the password a disabled account looks like any other: {b}"
    );

    // Enabled again: sign-in works; then deleted: the fresh token is refused at once.
    let (st, _) = s
        .call(
            "PATCH",
            &format!("/v1/auth/users/{id}"),
            Some(SERVICE_KEY),
            Some(json!({"disabled": false})),
        )
        .await;
    assert_eq!(st, 200);
    let (st, session) = login(&s, "ivan@example.com", PASSWORD).await;
    assert_eq!(st, 200, "{session}");
    let mut ws = s.ws(&access(&session)).await;
    ws.subscribe(json!({"type": "subscribe", "id": "s1", "collection": "notes"}))
        .await;
    let (st, _) = s
        .call("DELETE", &format!("/v1/auth/users/{id}"), Some(SERVICE_KEY), None)
        .await;
    assert_eq!(st, 204);
    assert_eq!(ws.close_code().await, Some(4001));
    let (st, _) = s
        .call("GET", "/v1/collections/notes/documents", Some(&access(&session)), None)
        .await;
    assert_eq!(st, 401);
    let (st, _) = s
        .call("GET", &format!("/v1/auth/users/{id}"), Some(SERVICE_KEY), None)
        .await;
    assert_eq!(st, 404);
    let (st, _) = login(&s, "ivan@example.com", PASSWORD).await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn logout_everywhere_and_password_change_end_sessions() {
    let s = server(&[]).await;
    s.open_collection("notes").await;
    let a = account(&s, "judy@example.com").await;
    let b = login(&s, "judy@example.com", PASSWORD).await.1;
    let mut ws = s.ws(&access(&b)).await;
    ws.subscribe(json!({"type": "subscribe", "id": "s1", "collection": "notes"}))
        .await;
    let (st, _) = s.call("POST", "/v1/auth/logout-all", Some(&access(&a)), None).await;
    assert_eq!(st, 204);
    assert_eq!(ws.close_code().await, Some(4001), "open sockets close at once");
    for session in [&a, &b] {
        let (st, _) = refresh(&s, &session["refresh_token"]).await;
        assert_eq!(st, 401);
    }

    let c = login(&s, "judy@example.com", PASSWORD).await.1;
    let d = login(&s, "judy@example.com", PASSWORD).await.1;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let (st, body) = s
        .call(
            "POST",
            "/v1/auth/password",
            Some(&access(&c)),
            Some(change("wrong one!", "a brand new secret")),
        )
        .await;
    assert_eq!(st, 401, "{body}");
    let (st, body) = s
        .call(
            "POST",
            "/v1/auth/password",
            Some(&access(&c)),
            Some(change(PASSWORD, "qwerty123")),
        )
        .await;
    assert_eq!(st, 422, "{body}");
    let (st, fresh) = s
        .call(
            "POST",
            "/v1/auth/password",
            Some(&access(&c)),
            Some(change(PASSWORD, "a brand new secret")),
        )
        .await;
    assert_eq!(st, 200, "{fresh}");
    for session in [&c, &d] {
        let (st, _) = refresh(&s, &session["refresh_token"]).await;
        assert_eq!(st, 401, "sessions from before the change must end");
    }
    let (st, _) = refresh(&s, &fresh["refresh_token"]).await;
    assert_eq!(st, 200, "the session returned by the change goes on");
    assert_eq!(login(&s, "judy@example.com", PASSWORD).await.0, 401);
    assert_eq!(login(&s, "judy@example.com", "a brand new secret").await.0, 200);
}

#[tokio::test]
async fn account_tokens_pass_owner_rules_over_rest_ws_and_sse() {
    let s = server(&[]).await;
    s.collection(
        "diary",
        json!({"read": "owner", "create": "authenticated", "update": "owner", "delete": "owner"}),
    )
    .await;
    let alice = access(&account(&s, "alice@example.com").await);
    let bob = access(&account(&s, "bob@example.com").await);
    let post = |token: String, who: &'static str| {
        let s = &s;
        async move {
            let (st, doc) = s
                .call(
                    "POST",
                    "/v1/collections/diary/documents",
                    Some(&token),
                    Some(json!({"data": {"who": who}})),
                )
                .await;
            assert_eq!(st, 201, "{doc}");
            doc
        }
    };
    let a_doc = post(alice.clone(), "alice").await;
    let b_doc = post(bob.clone(), "bob").await;
    let doc_path = |d: &Value| format!("/v1/collections/diary/documents/{}", d["id"].as_str().expect("id"));
    assert_eq!(s.call("GET", &doc_path(&a_doc), Some(&alice), None).await.0, 200);
    assert_eq!(s.call("GET", &doc_path(&b_doc), Some(&alice), None).await.0, 404);
    assert_eq!(
        s.call(
            "PATCH",
            &doc_path(&b_doc),
            Some(&alice),
            Some(json!({"data": {"x": 1}}))
        )
        .await
        .0,
        404
    );
    let (_, list) = s
        .call("GET", "/v1/collections/diary/documents", Some(&alice), None)
        .await;
    assert_eq!(list["documents"].as_array().map(Vec::len), Some(1), "{list}");

    let mut ws = s.ws(&alice).await;
    ws.subscribe(json!({"type": "subscribe", "id": "s1", "collection": "diary"}))
        .await;
    let mut sse = s
        .http
        .get(format!("{}/realtime/sse?collection=diary&token={alice}", s.base))
        .send()
        .await
        .expect("sse");
    assert_eq!(sse.status(), 200);
    post(bob.clone(), "bob-later").await;
    post(alice.clone(), "alice-later").await;
    let ev = ws.expect_type("event").await;
    assert_eq!(
        ev["document"]["data"]["who"], "alice-later",
        "bob's document leaked: {ev}"
    );
    let mut text = String::new();
    while !text.contains("alice-later") {
        let chunk = tokio::time::timeout(WAIT, sse.chunk())
            .await
            .expect("sse timeout")
            .expect("chunk")
            .expect("open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!text.contains("bob-later"), "bob's document leaked over SSE: {text}");
}

#[tokio::test]
async fn roles_come_only_from_the_service_key() {
    let s = server(&["--auth-signup", "closed"]).await;
    s.collection(
        "drafts",
        json!({"read": "role:editor", "create": "role:editor", "update": "role:editor", "delete": "service"}),
    )
    .await;
    let (st, b) = s
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(json!({"email": "kim@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        (st, &b["error"]["code"]),
        (403, &json!("forbidden")),
        "sign-up is closed: {b}"
    );
    let (st, user) = s
        .call(
            "POST",
            "/v1/auth/users",
            Some(SERVICE_KEY),
            Some(json!({"email": "Kim@Example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(st, 201, "{user}");
    let (st, _) = s
        .call(
            "POST",
            "/v1/auth/signup",
            Some(SERVICE_KEY),
            Some(json!({"email": "kim@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(st, 409, "service keys learn about duplicates");
    let id = user["id"].as_str().expect("id");
    let token = access(&login(&s, "kim@example.com", PASSWORD).await.1);
    let create = json!({"data": {"t": 1}});
    let (st, _) = s
        .call(
            "POST",
            "/v1/collections/drafts/documents",
            Some(&token),
            Some(create.clone()),
        )
        .await;
    assert_eq!(st, 403);
    let (st, b) = s
        .call(
            "PATCH",
            &format!("/v1/auth/users/{id}"),
            Some(SERVICE_KEY),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!((st, &b["role"]), (200, &json!("editor")), "{b}");
    // Roles are in the access token: the next one (sign-in or refresh) carries it.
    let token = access(&login(&s, "kim@example.com", PASSWORD).await.1);
    let (st, b) = s
        .call("POST", "/v1/collections/drafts/documents", Some(&token), Some(create))
        .await;
    assert_eq!(st, 201, "{b}");
    let mut ws = s.ws(&token).await;
    ws.subscribe(json!({"type": "subscribe", "id": "s1", "collection": "drafts"}))
        .await;

    let (st, list) = s
        .call("GET", "/v1/auth/users?search=KIM&limit=10", Some(SERVICE_KEY), None)
        .await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["users"][0]["email"], "kim@example.com");
    assert_eq!(list["next"], Value::Null);
    assert_eq!(s.call("GET", "/v1/auth/users", Some(&token), None).await.0, 403);
    assert_eq!(
        s.call("GET", "/v1/auth/users?limit=0", Some(SERVICE_KEY), None).await.0,
        400
    );
    let (st, _) = s
        .call(
            "PATCH",
            &format!("/v1/auth/users/{id}"),
            Some(SERVICE_KEY),
            Some(json!({"role": "bad role"})),
        )
        .await;
    assert_eq!(st, 400);
}

/// Writes a fresh P-256 key pair (PKCS#8 private key, SPKI public key); returns their paths.
fn es256_pair(dir: &std::path::Path, name: &str) -> (String, String) {
    let (key, public) = (dir.join(format!("{name}.key.pem")), dir.join(format!("{name}.pub.pem")));
    let ok = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key)
        .status()
        .expect("openssl (needed to make a test key)")
        .success();
    assert!(ok);
    let ok = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public)
        .status()
        .expect("openssl")
        .success();
    assert!(ok);
    (
        key.to_string_lossy().into_owned(),
        public.to_string_lossy().into_owned(),
    )
}

#[tokio::test]
async fn es256_tokens_signed_with_a_private_key_file() {
    let dir = std::env::temp_dir().join(format!("eddy-es256-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (key, public) = es256_pair(&dir, "a");
    let s = server(&[
        "--jwt-algorithm",
        "ES256",
        "--jwt-public-key-file",
        &public,
        "--jwt-private-key-file",
        &key,
        "--jwt-issuer",
        "eddy-test",
    ])
    .await;
    let session = account(&s, "liam@example.com").await;
    let token = access(&session);
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let (st, me) = s.call("GET", "/v1/auth/me", Some(&token), None).await;
    assert_eq!(st, 200, "{me}");
    // A private key that does not match the public key: the server refuses to start.
    let (other_key, _) = es256_pair(&dir, "b");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &s.db_url])
        .args(["--jwt-algorithm", "ES256", "--jwt-public-key-file", &public])
        .args(["--jwt-private-key-file", &other_key])
        .env_remove("EDDY_JWT_SECRET")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run eddy");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("eddy started with a private key that does not match the public key");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("read");
    assert!(stderr.contains("do not verify"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn without_a_signing_key_accounts_answer_503() {
    let dir = std::env::temp_dir().join(format!("eddy-es256-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (_, public) = es256_pair(&dir, "verify-only");
    let s = server(&["--jwt-algorithm", "ES256", "--jwt-public-key-file", &public]).await;
    let (st, b) = login(&s, "mia@example.com", PASSWORD).await;
    assert_eq!(st, 503, "{b}");
    assert_eq!(b["error"]["code"], "unavailable");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("EDDY_JWT_PRIVATE_KEY_FILE"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn disabling_a_user_reaches_sockets_on_another_server() {
    let a = server(&[]).await;
    let b = Server::start_on(
        a.db_url.clone(),
        &["--auth-ip-rate", "1000", "--auth-account-rate", "1000"],
    )
    .await;
    a.open_collection("notes").await;
    let session = account(&a, "noah@example.com").await;
    let id = session["user"]["id"].as_str().expect("id").to_owned();
    let mut ws = b.ws(&access(&session)).await;
    ws.subscribe(json!({"type": "subscribe", "id": "s1", "collection": "notes"}))
        .await;
    let (st, _) = a
        .call(
            "PATCH",
            &format!("/v1/auth/users/{id}"),
            Some(SERVICE_KEY),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(ws.close_code().await, Some(4001), "server b must close the socket");
    let (st, _) = b
        .call("GET", "/v1/collections/notes/documents", Some(&access(&session)), None)
        .await;
    assert_eq!(st, 401, "server b must refuse the disabled user's token");
}
