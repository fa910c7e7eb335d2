//! `protocol`: `parse_client` on arbitrary text, then what the WebSocket session
//! does with a parsed message that needs no I/O (name checks, filter, sort and
//! snapshot query), and the server frames the reply would use.

use super::docs::check_query;
use super::Target;
use crate::feat;
use crate::features::{bucket, normalize, Features};
use crate::mutate::{gen_value, interesting_scalar, Dict};
use crate::rng::Rng;
use eddy::auth::Identity;
use eddy::matcher::{Filter, Sort};
use eddy::protocol::{
    encode, event_prefix, event_tail, parse_client, valid_name, ClientMsg, DocumentJson, ErrorCode, ErrorMsg,
    MemberView, ServerMsg,
};
use serde_json::{json, Value};

const KEYS: &[&str] = &[
    "type",
    "ref",
    "token",
    "id",
    "collection",
    "filters",
    "since",
    "snapshot",
    "limit",
    "sort",
    "room",
    "presence",
    "event",
    "message",
    "echo",
    "state",
    "status",
    "views__gte",
    "[or]a",
];

const TOKENS: &[&str] = &[
    "\"type\"",
    "\"ref\"",
    "\"auth\"",
    "\"ping\"",
    "\"subscribe\"",
    "\"unsubscribe\"",
    "\"join\"",
    "\"leave\"",
    "\"broadcast\"",
    "\"presence\"",
    "\"collection\"",
    "\"filters\"",
    "\"since\"",
    "\"snapshot\"",
    "\"limit\"",
    "\"sort\"",
    "\"id\"",
    "\"room\"",
    "\"event\"",
    "\"message\"",
    "\"echo\"",
    "\"state\"",
    "\"token\"",
    "\"Ping\"",
    "\"PING\"",
    "\"auth_ok\"",
    "\"__proto__\"",
    "chat:message",
    "@",
    "eddy_sk_",
    "eddy_pk_",
    "eyJhbGciOiJIUzI1NiJ9",
    "-$created_at",
    "__gte",
    "[or]",
    "$owner",
];

static DICT: Dict = Dict {
    tokens: TOKENS,
    keys: KEYS,
};

/// The `protocol` target.
pub fn target() -> Target {
    Target {
        name: "protocol",
        about: "parse_client on arbitrary text (lossy UTF-8 of arbitrary bytes), session-side checks, reply frames",
        seeds,
        dict: &DICT,
        run,
        special,
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let root = super::repo_root().join("protocol-fixtures");
    let mut out = super::files_in(&root.join("client"));
    out.extend(super::files_in(&root.join("server")));
    let hand = [
        r#"{"type":"ping"}"#,
        r#"{"type":"ping","ref":"a1"}"#,
        r#"{"type":"ping","ref":{}}"#,
        r#"{"type":"auth","token":"eddy_sk_x","ref":1.5}"#,
        r#"{"type":"subscribe","collection":"posts"}"#,
        r#"{"type":"subscribe","collection":"posts","snapshot":true,"limit":1000,"sort":"a,-b,$owner,$updated_at"}"#,
        r#"{"type":"subscribe","collection":"p","filters":{"[or]a":1,"[or]b__in":[1,"x",null]},"since":-1}"#,
        r#"{"type":"subscribe","collection":"p","extra":1}"#,
        r#"{"type":"subscribe","collection":"p","since":"x"}"#,
        r#"{"type":"unsubscribe","id":"sub-1"}"#,
        r#"{"type":"join","room":"a@b.c:d-e_f","presence":null}"#,
        r#"{"type":"broadcast","room":"r","event":"e","message":[1,{"a":null}],"echo":true,"ref":"x"}"#,
        r#"{"type":"presence","room":"r","state":"not-an-object"}"#,
        r#"{"type":"dance"}"#,
        r#"{}"#,
        r#"[1]"#,
        r#""ping""#,
        "not json",
        r#"{"type":"ping","type":"auth","token":"t"}"#,
        r#"{"type":"subscribe","collection":"p","filters":{"a":1},"filters":null}"#,
    ];
    out.extend(hand.iter().map(|s| s.as_bytes().to_vec()));
    out
}

fn special(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    if !rng.one_in(10) {
        return false;
    }
    let kinds = eddy::protocol::CLIENT_MESSAGE_TYPES;
    let kind = rng.pick(kinds).copied().unwrap_or("ping");
    let mut m = json!({ "type": kind });
    fn maybe(rng: &mut Rng, m: &mut Value, k: &str, v: Value) {
        if rng.below(5) != 0 {
            m[k] = v;
        }
    }
    let name = |rng: &mut Rng| -> Value {
        match rng.below(5) {
            0 => json!("s1"),
            1 => json!("chat-123"),
            2 => json!("a@b"),
            3 => json!("x".repeat(64 + rng.below(70))),
            _ => interesting_scalar(rng),
        }
    };
    match kind {
        "auth" => maybe(rng, &mut m, "token", json!("eddy_sk_x")),
        "subscribe" => {
            let id = name(rng);
            maybe(rng, &mut m, "id", id);
            maybe(rng, &mut m, "collection", json!("posts"));
            let filters = gen_value(rng, 2, &DICT);
            maybe(rng, &mut m, "filters", filters);
            let v = json!(rng.below(5) as i64 - 1);
            maybe(rng, &mut m, "since", v);
            let v = json!(rng.one_in(2));
            maybe(rng, &mut m, "snapshot", v);
            let v = json!([0, 1, 1000, 1001, -1][rng.below(5)]);
            maybe(rng, &mut m, "limit", v);
            let v = json!(["-$created_at", "a,b", "", "$id,-x"][rng.below(4)]);
            maybe(rng, &mut m, "sort", v);
        }
        "unsubscribe" => {
            let id = name(rng);
            maybe(rng, &mut m, "id", id);
        }
        "join" | "leave" | "presence" | "broadcast" => {
            let room = name(rng);
            maybe(rng, &mut m, "room", room);
            let state = gen_value(rng, 2, &DICT);
            maybe(rng, &mut m, if kind == "join" { "presence" } else { "state" }, state);
            let event = name(rng);
            maybe(rng, &mut m, "event", event);
            let message = gen_value(rng, 3, &DICT);
            maybe(rng, &mut m, "message", message);
            let v = json!(rng.one_in(2));
            maybe(rng, &mut m, "echo", v);
        }
        _ => {}
    }
    if rng.one_in(2) {
        m["ref"] = interesting_scalar(rng);
    }
    *data = m.to_string().into_bytes();
    true
}

fn run(data: &[u8], f: &mut Features) {
    match std::str::from_utf8(data) {
        Ok(text) => exercise(text, f),
        Err(_) => {
            feat!(f, "utf8:lossy");
            exercise(&String::from_utf8_lossy(data), f);
        }
    }
}

fn exercise(text: &str, f: &mut Features) {
    let as_json = serde_json::from_str::<Value>(text);
    let sent_ref = as_json
        .as_ref()
        .ok()
        .and_then(|v| v.get("ref"))
        .filter(|r| r.is_string() || r.is_number())
        .cloned();
    match parse_client(text) {
        Err((code, msg, reference)) => {
            feat!(f, "err:{}:{}", code.as_str(), normalize(&msg));
            assert_eq!(
                code == ErrorCode::InvalidJson,
                as_json.is_err(),
                "invalid_json must be reported exactly when the text is not JSON: {code:?} {msg}"
            );
            if code != ErrorCode::InvalidJson {
                assert_eq!(reference, sent_ref, "the error must echo the message's ref");
            }
            check_reply(
                &ServerMsg::Error(ErrorMsg::new(code, &msg)),
                reference.as_ref(),
                "error",
            );
        }
        Ok(inc) => {
            assert!(as_json.is_ok(), "parsed a message from text that is not JSON");
            assert_eq!(inc.reference, sent_ref, "parsed ref differs from the message's ref");
            let r = inc.reference.as_ref();
            feat!(f, "ref:{}", ref_kind(r));
            follow_up(inc.msg, r, f);
        }
    }
}

fn ref_kind(r: Option<&Value>) -> &'static str {
    match r {
        None => "none",
        Some(Value::String(_)) => "str",
        Some(Value::Number(n)) if n.is_f64() => "float",
        Some(Value::Number(_)) => "int",
        Some(_) => "other",
    }
}

/// Encodes a control reply and checks it is one JSON object of the right type
/// that echoes `ref`.
fn check_reply(msg: &ServerMsg<'_>, r: Option<&Value>, ty: &str) {
    let text = encode(msg, r);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("encoded reply is not JSON ({e}): {text}"));
    assert_eq!(v["type"], ty, "reply type in {text}");
    match r {
        Some(r) => assert_eq!(&v["ref"], r, "ref not echoed in {text}"),
        None => assert!(v.get("ref").is_none(), "unexpected ref in {text}"),
    }
}

/// Checks that a hand-assembled event frame (prefix + shared tail) is valid
/// JSON carrying the given subscription id and collection.
fn check_event(sub: &str, collection: &str, data: Option<&Value>) {
    let doc = DocumentJson {
        id: uuid::Uuid::from_u128(1),
        collection,
        data,
        owner: Some(sub),
        version: 1,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    };
    let frame = format!(
        "{}{}",
        event_prefix(sub),
        event_tail("updated", i64::MAX, &doc, data, Some("enter")).json
    );
    let v: Value = serde_json::from_str(&frame).unwrap_or_else(|e| panic!("event frame is not JSON ({e}): {frame}"));
    assert_eq!(v["subscription"], sub, "{frame}");
    assert_eq!(v["collection"], collection, "{frame}");
    assert_eq!(v["type"], "event", "{frame}");
}

fn follow_up(msg: ClientMsg, r: Option<&Value>, f: &mut Features) {
    match msg {
        ClientMsg::Auth { token, act_as } => {
            feat!(f, "ok:auth:{}", bucket(token.len()));
            if let Some(a) = act_as {
                // What the session does with `as` once a service key is verified.
                match eddy::access::described_identity(&a.kind, a.sub.as_deref(), a.role.as_deref(), 0) {
                    Ok(who) => {
                        // The identity acted as is exactly the one described.
                        let (kind, sub, role) = match &who {
                            Identity::Public { .. } => ("public", None, None),
                            Identity::Service { .. } => ("service", None, None),
                            Identity::User { sub, role, .. } => ("user", Some(&**sub), role.as_deref()),
                        };
                        assert_eq!((kind, sub, role), (&*a.kind, a.sub.as_deref(), a.role.as_deref()));
                        feat!(f, "ok:auth:as:{kind}");
                    }
                    Err(e) => feat!(f, "err:auth:as:{}", normalize(&e.to_string())),
                }
            }
            let identity = json!({"kind": "user", "sub": token, "role": null});
            check_reply(
                &ServerMsg::AuthOk {
                    identity,
                    connection: &token,
                    expires_at: None,
                },
                r,
                "auth_ok",
            );
        }
        ClientMsg::Ping => {
            feat!(f, "ok:ping");
            check_reply(&ServerMsg::Pong, r, "pong");
        }
        ClientMsg::Subscribe(m) => {
            let id_ok = m.id.as_deref().map(|id| valid_name(id, 64, b""));
            let coll_ok = eddy::access::check_collection(&m.collection).is_ok();
            feat!(
                f,
                "ok:subscribe:id={id_ok:?}:coll={coll_ok}:filters={}:since={}:snap={}:limit={:?}:sort={}",
                m.filters
                    .as_ref()
                    .map_or("none", |v| if v.is_object() { "obj" } else { "other" }),
                m.since.is_some(),
                m.snapshot,
                m.limit.map(|l| (1..=1000).contains(&l)),
                m.sort.is_some(),
            );
            let id = m.id.clone().unwrap_or_else(|| "sub-1".into());
            check_reply(
                &ServerMsg::Subscribed {
                    id: &id,
                    collection: &m.collection,
                    seq: m.since.unwrap_or(0),
                },
                r,
                "subscribed",
            );
            check_event(&id, &m.collection, m.filters.as_ref());
            let filter = match m.filters.as_ref().map(Filter::from_json).transpose() {
                Ok(filter) => filter.unwrap_or_default(),
                Err(e) => {
                    feat!(f, "subscribe:filter:{}", normalize(&e.to_string()));
                    return;
                }
            };
            if m.snapshot {
                let limit = m.limit.unwrap_or(100);
                if !(1..=1000).contains(&limit) {
                    return;
                }
                match Sort::parse(m.sort.as_deref()) {
                    Ok(sort) => check_query(&filter, &sort, None, Some("alice"), f),
                    Err(e) => feat!(f, "subscribe:sort:{}", normalize(&e.to_string())),
                }
            }
        }
        ClientMsg::Unsubscribe { id } => {
            feat!(f, "ok:unsubscribe:{}", valid_name(&id, 64, b""));
            check_reply(&ServerMsg::Unsubscribed { id: &id }, r, "unsubscribed");
        }
        ClientMsg::Join { room, presence } => {
            feat!(
                f,
                "ok:join:{}:{}",
                valid_name(&room, 128, b"@"),
                presence
                    .as_ref()
                    .map_or("none", |p| if p.is_object() { "obj" } else { "other" })
            );
            let state = presence.unwrap_or_else(|| json!({}));
            let members = vec![MemberView {
                connection: Some("c1"),
                sub: None,
                state: &state,
            }];
            check_reply(&ServerMsg::Joined { room: &room, members }, r, "joined");
        }
        ClientMsg::Leave { room } => {
            feat!(f, "ok:leave:{}", valid_name(&room, 128, b"@"));
            check_reply(&ServerMsg::Left { room: &room }, r, "left");
        }
        ClientMsg::Broadcast(b) => {
            feat!(
                f,
                "ok:broadcast:{}:{}:{}",
                valid_name(&b.room, 128, b"@"),
                valid_name(&b.event, 64, b""),
                b.echo
            );
            check_reply(&ServerMsg::Ack, r, "ack");
        }
        ClientMsg::Presence { room, state } => {
            feat!(f, "ok:presence:{}:{}", valid_name(&room, 128, b"@"), state.is_object());
            check_reply(&ServerMsg::Ack, r, "ack");
        }
    }
}
