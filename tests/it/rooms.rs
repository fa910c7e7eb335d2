//! Rooms: join/leave, broadcast with echo and ack, presence, room rules, server publish.

use crate::support::*;
use serde_json::json;
use std::time::Duration;

async fn authed(s: &Server, token: &str) -> (Ws, String) {
    let mut ws = s.ws(token).await;
    let ok = ws.expect_type("auth_ok").await;
    (ws, ok["connection"].as_str().expect("connection").to_owned())
}

async fn open_rooms(s: &Server) {
    let (st, b) = s
        .call(
            "PUT",
            "/v1/room-rules",
            Some(SERVICE_KEY),
            Some(json!({"rules": [
                {"pattern": "user:{sub}:*", "join": "authenticated", "broadcast": "authenticated"},
                {"pattern": "staff-*", "join": "role:staff", "broadcast": "role:staff"},
                {"pattern": "news", "join": "public", "broadcast": "service"},
                {"pattern": "*", "join": "public", "broadcast": "public"}
            ]})),
        )
        .await;
    assert_eq!(st, 200, "{b}");
}

/// Join, presence diffs, broadcast (echo off/on, ack), presence updates and leave between two clients.
#[tokio::test]
async fn join_broadcast_presence_leave() {
    let s = Server::start().await;
    open_rooms(&s).await;
    let (mut a, a_id) = authed(&s, &jwt("alice", None, 3600)).await;
    let (mut b, b_id) = authed(&s, PUBLIC_KEY).await;
    a.send(json!({"type": "join", "room": "chat-1", "presence": {"name": "Ann"}, "ref": 1}))
        .await;
    let joined = a.expect_type("joined").await;
    assert_eq!(joined["ref"], 1);
    assert_eq!(joined["members"].as_array().map(Vec::len), Some(1));
    b.send(json!({"type": "join", "room": "chat-1", "presence": {"name": "Bo"}}))
        .await;
    let joined = b.expect_type("joined").await;
    assert_eq!(joined["members"].as_array().map(Vec::len), Some(2));
    let p = a.expect_type("presence").await;
    assert_eq!(p["joins"][&b_id]["state"], json!({"name": "Bo"}));
    assert!(p["joins"][&b_id].get("sub").is_none());
    a.send(
        json!({"type": "broadcast", "room": "chat-1", "event": "chat:message", "message": {"text": "hi"}, "ref": "m1"}),
    )
    .await;
    assert_eq!(a.expect_type("ack").await["ref"], "m1");
    let m = b.expect_type("broadcast").await;
    assert_eq!(m["message"], json!({"text": "hi"}));
    assert_eq!(m["event"], "chat:message");
    assert_eq!(m["from"], json!({"sub": "alice", "connection": a_id}));
    assert!(m["ts"].as_i64().is_some());
    assert!(a.next(Duration::from_millis(200)).await.is_none(), "echo was off");
    a.send(json!({"type": "broadcast", "room": "chat-1", "event": "chat:message", "message": 2, "echo": true}))
        .await;
    assert_eq!(a.expect_type("broadcast").await["message"], 2);
    assert_eq!(b.expect_type("broadcast").await["message"], 2);
    b.send(json!({"type": "presence", "room": "chat-1", "state": {"typing": true}, "ref": 3}))
        .await;
    assert_eq!(b.expect_type("ack").await["ref"], 3);
    assert_eq!(
        a.expect_type("presence").await["joins"][&b_id]["state"],
        json!({"typing": true})
    );
    b.send(json!({"type": "leave", "room": "chat-1"})).await;
    assert_eq!(b.expect_type("left").await["room"], "chat-1");
    let p = a.expect_type("presence").await;
    assert!(p["leaves"][&b_id].is_object(), "{p}");
    b.send(json!({"type": "broadcast", "room": "chat-1", "event": "chat:message", "message": 1}))
        .await;
    assert_eq!(b.expect_type("error").await["code"], "not_found");
    b.send(json!({"type": "join", "room": "chat-1"})).await;
    b.expect_type("joined").await;
    assert!(a.expect_type("presence").await["joins"][&b_id].is_object());
    drop(b);
    assert!(a.expect_type("presence").await["leaves"][&b_id].is_object());
    a.send(json!({"type": "broadcast", "room": "chat-1", "event": "bad event!", "message": 1}))
        .await;
    assert_eq!(a.expect_type("error").await["code"], "invalid_message");
}

/// Room rules by pattern: user-scoped rooms, role rooms, service-only broadcast, secure default.
#[tokio::test]
async fn room_rules() {
    let s = Server::start().await;
    let (mut a, _) = authed(&s, &jwt("alice", None, 3600)).await;
    a.send(json!({"type": "join", "room": "anything"})).await;
    assert_eq!(
        a.expect_type("error").await["code"],
        "forbidden",
        "no rules: service only"
    );
    open_rooms(&s).await;
    let cases = [
        ("user:alice:inbox", true),
        ("user:bob:inbox", false),
        ("staff-room", false),
        ("news", true),
    ];
    for (room, ok) in cases {
        a.send(json!({"type": "join", "room": room})).await;
        let v = a.recv().await;
        assert_eq!(v["type"] == "joined", ok, "{room}: {v}");
    }
    a.send(json!({"type": "broadcast", "room": "news", "event": "x", "message": 1}))
        .await;
    assert_eq!(a.expect_type("error").await["code"], "forbidden");
    let (mut staff, _) = authed(&s, &jwt("sam", Some("staff"), 3600)).await;
    staff.send(json!({"type": "join", "room": "staff-room"})).await;
    staff.expect_type("joined").await;
    // Refreshing to a token without the role ends the membership.
    staff
        .send(json!({"type": "auth", "token": jwt("sam", None, 3600)}))
        .await;
    staff.expect_type("auth_ok").await;
    let e = staff.expect_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["room"].as_str()),
        (Some("forbidden"), Some("staff-room"))
    );
}

/// Server publish API: room broadcast, user messages, global broadcast, room list.
#[tokio::test]
async fn server_publish_api() {
    let s = Server::start().await;
    open_rooms(&s).await;
    let (mut a, _) = authed(&s, &jwt("alice", None, 3600)).await;
    let (mut a2, _) = authed(&s, &jwt("alice", None, 3600)).await;
    let (mut b, _) = authed(&s, &jwt("bob", None, 3600)).await;
    a.send(json!({"type": "join", "room": "lobby"})).await;
    a.expect_type("joined").await;
    let (st, r) = s
        .call(
            "POST",
            "/v1/rooms/lobby/broadcast",
            Some(SERVICE_KEY),
            Some(json!({"event": "sys:note", "message": {"x": 1}})),
        )
        .await;
    assert_eq!((st, &r["delivered"]), (202, &json!(1)));
    let m = a.expect_type("broadcast").await;
    assert_eq!(m["from"], json!({"server": true}));
    let (st, r) = s
        .call(
            "POST",
            "/v1/users/alice/messages",
            Some(SERVICE_KEY),
            Some(json!({"event": "billing:due", "message": 5})),
        )
        .await;
    assert_eq!((st, &r["delivered"]), (202, &json!(2)));
    for ws in [&mut a, &mut a2] {
        let m = ws.expect_type("message").await;
        assert_eq!((m["event"].as_str(), &m["message"]), (Some("billing:due"), &json!(5)));
    }
    assert!(b.next(Duration::from_millis(200)).await.is_none());
    let (st, r) = s
        .call(
            "POST",
            "/v1/broadcast",
            Some(SERVICE_KEY),
            Some(json!({"event": "sys:all", "message": null})),
        )
        .await;
    assert_eq!((st, &r["delivered"]), (202, &json!(3)));
    assert_eq!(b.expect_type("message").await["event"], "sys:all");
    let (st, r) = s.call("GET", "/v1/rooms", Some(SERVICE_KEY), None).await;
    assert_eq!((st, &r["rooms"]), (200, &json!([{"room": "lobby", "members": 1}])));
    let (st, _) = s
        .call(
            "POST",
            "/v1/broadcast",
            Some(&jwt("alice", None, 60)),
            Some(json!({"event": "x"})),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = s
        .call(
            "PUT",
            "/v1/room-rules",
            Some(SERVICE_KEY),
            Some(json!({"rules": [{"pattern": "*", "join": "owner", "broadcast": "public"}]})),
        )
        .await;
    assert_eq!(st, 400);
}
