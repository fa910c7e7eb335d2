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

fn time(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .unwrap_or_else(|e| panic!("{s}: {e}"))
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
                    members: vec![],
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
                    "updated",
                    43,
                    &DocumentJson {
                        id: uuid::Uuid::from_u128(1),
                        collection: "posts",
                        data: Some(&json!({"a":2})),
                        owner: None,
                        version: 2,
                        created_at: time("2026-11-26T10:00:00Z"),
                        updated_at: time("2026-11-26T10:00:01Z"),
                    },
                    Some(&json!({"a":1})),
                    Some("enter"),
                )
                .json
            ),
        ),
        (
            "server/broadcast.json",
            encode(
                &ServerMsg::Broadcast {
                    room: "chat",
                    event: "chat:message",
                    message: &json!({"text": "hi"}),
                    from: Sender::Member {
                        sub: Some("alice"),
                        connection: "c1",
                    },
                    ts: 1795000000000,
                },
                None,
            ),
        ),
        (
            "server/broadcast_server.json",
            encode(
                &ServerMsg::Broadcast {
                    room: "chat",
                    event: "notice",
                    message: &json!({"text": "maintenance at noon"}),
                    from: Sender::Server { server: true },
                    ts: 1795000000000,
                },
                None,
            ),
        ),
        (
            "server/presence.json",
            encode(
                &ServerMsg::Presence {
                    room: "chat",
                    joins: [(
                        "c2",
                        MemberView {
                            connection: None,
                            sub: Some("bob"),
                            state: &json!({"typing": true}),
                        },
                    )]
                    .into_iter()
                    .collect(),
                    leaves: Default::default(),
                },
                None,
            ),
        ),
        (
            "server/message.json",
            encode(
                &ServerMsg::Message {
                    event: "billing:updated",
                    message: &json!({"plan": "pro"}),
                    ts: 1795000000000,
                },
                None,
            ),
        ),
    ];
    for (name, encoded) in cases {
        let got: Value = serde_json::from_str(&encoded).unwrap_or_else(|e| panic!("{name}: {e}: {encoded}"));
        assert_eq!(got, fixture(name), "{name}");
    }
}
