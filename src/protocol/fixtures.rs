//! Golden JSON fixtures: one file per message kind under `protocol-fixtures/`.
//! Client fixtures must parse; server fixtures must equal what we encode.

use super::*;
use serde_json::{json, Value};
use std::path::Path;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("protocol-fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn client_fixtures_parse() {
    for name in [
        "client/auth.json",
        "client/ping.json",
        "client/subscribe.json",
        "client/unsubscribe.json",
        "client/join.json",
        "client/leave.json",
        "client/broadcast.json",
        "client/presence.json",
    ] {
        let text = fixture(name).to_string();
        assert!(parse_client(&text).is_ok(), "{name} does not parse");
    }
}

#[test]
fn server_fixtures_match_encoding() {
    let r = Some(json!(1));
    let cases: Vec<(&str, String)> = vec![
        (
            "server/auth_ok.json",
            encode(
                &ServerMsg::AuthOk {
                    identity: json!({"kind":"user","sub":"alice","role":null}),
                    connection: "c1",
                    expires_at: Some(1795000000),
                },
                r.as_ref(),
            ),
        ),
        ("server/pong.json", encode(&ServerMsg::Pong, r.as_ref())),
        (
            "server/subscribed.json",
            encode(
                &ServerMsg::Subscribed {
                    id: "s1",
                    collection: "posts",
                    seq: 42,
                },
                r.as_ref(),
            ),
        ),
        (
            "server/unsubscribed.json",
            encode(&ServerMsg::Unsubscribed { id: "s1" }, None),
        ),
        (
            "server/snapshot.json",
            encode(
                &ServerMsg::Snapshot {
                    subscription: "s1",
                    collection: "posts",
                    documents: json!([]),
                    seq: 42,
                    truncated: false,
                },
                None,
            ),
        ),
        (
            "server/joined.json",
            encode(
                &ServerMsg::Joined {
                    room: "chat",
                    members: json!([]),
                },
                None,
            ),
        ),
        ("server/left.json", encode(&ServerMsg::Left { room: "chat" }, None)),
        ("server/ack.json", encode(&ServerMsg::Ack, r.as_ref())),
        (
            "server/token_expiring.json",
            encode(&ServerMsg::TokenExpiring { expires_at: 1795000000 }, None),
        ),
        (
            "server/system.json",
            encode(&ServerMsg::System { event: "shutdown" }, None),
        ),
        (
            "server/error.json",
            encode(
                &ServerMsg::Error(ErrorMsg::new(ErrorCode::InvalidFilter, "bad")),
                r.as_ref(),
            ),
        ),
        (
            "server/event.json",
            format!(
                "{}{}",
                event_prefix("s1"),
                event_tail(
                    "posts",
                    "updated",
                    43,
                    &json!({"id":"00000000-0000-0000-0000-000000000001","collection":"posts","data":{"a":2},"owner":null,"version":2,"created_at":"2026-11-26T10:00:00.000000Z","updated_at":"2026-11-26T10:00:01.000000Z"}),
                    Some(&json!({"a":1})),
                    Some("enter"),
                )
            ),
        ),
    ];
    for (name, encoded) in cases {
        let got: Value = serde_json::from_str(&encoded).unwrap_or_else(|e| panic!("{name}: {e}: {encoded}"));
        assert_eq!(got, fixture(name), "{name}");
    }
}
