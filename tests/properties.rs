//! Property tests: protocol encode/decode round trips, and the hub's indexed
//! fan-out checked against direct per-subscription evaluation (`frame_for`)
//! and against a naive model of filters, read rules and transitions.

use eddy::access::RulesCache;
use eddy::auth::{CollectionRules, Identity, Rule};
use eddy::hub::{frame_for, ConnHandle, EventCache, Hub, Outbound, Subscription};
use eddy::matcher::{Cursor, Filter, Sort};
use eddy::protocol::{
    encode, event_prefix, event_tail, parse_client, BroadcastMsg, ClientMsg, DocumentJson, ErrorCode, ErrorMsg,
    MemberView, ServerMsg,
};
use eddy::store::{Change, ChangeOp};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Keep failures in the test output; do not write regression files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// --- generators shared by the protocol properties --------------------------------

/// Short names, arbitrary Unicode (quotes, backslashes, control characters) and a few fixed nasties.
fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9_.:@-]{1,12}",
        2 => any::<String>(),
        1 => Just("\"\\/\u{0}\u{1F600}é\u{2028}".to_owned()),
    ]
}

/// Floats with at most 14 significant digits (dyadic rationals), which serde_json's default
/// parser reads exactly. Longer ones are not read exactly: see `floats_are_read_exactly`.
fn arb_float() -> impl Strategy<Value = f64> {
    (any::<i32>(), 0u32..5).prop_map(|(m, e)| f64::from(m) / f64::from(1u32 << e))
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        arb_float().prop_map(|f| json!(f)),
        arb_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(arb_text(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A `ref`: absent, a string, an integer or a float.
fn arb_ref() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        arb_text().prop_map(|s| Some(json!(s))),
        any::<i64>().prop_map(|n| Some(json!(n))),
        arb_float().prop_map(|f| Some(json!(f))),
    ]
}

/// A client message as the test generates it; `None` fields are omitted (or sent as null).
#[derive(Debug, Clone)]
enum Msg {
    Auth(String),
    Ping,
    Subscribe {
        id: Option<String>,
        collection: String,
        filters: Option<Value>,
        since: Option<i64>,
        snapshot: Option<bool>,
        limit: Option<i64>,
        sort: Option<String>,
    },
    Unsubscribe(String),
    Join {
        room: String,
        presence: Option<Value>,
    },
    Leave(String),
    Broadcast {
        room: String,
        event: String,
        message: Option<Value>,
        echo: Option<bool>,
    },
    Presence {
        room: String,
        state: Value,
    },
}

fn arb_msg() -> impl Strategy<Value = Msg> {
    let subscribe = (
        (prop::option::of(arb_text()), arb_text(), prop::option::of(arb_json())),
        (
            prop::option::of(any::<i64>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<i64>()),
            prop::option::of(arb_text()),
        ),
    )
        .prop_map(
            |((id, collection, filters), (since, snapshot, limit, sort))| Msg::Subscribe {
                id,
                collection,
                filters,
                since,
                snapshot,
                limit,
                sort,
            },
        );
    prop_oneof![
        arb_text().prop_map(Msg::Auth),
        Just(Msg::Ping),
        subscribe,
        arb_text().prop_map(Msg::Unsubscribe),
        (arb_text(), prop::option::of(arb_json())).prop_map(|(room, presence)| Msg::Join { room, presence }),
        arb_text().prop_map(Msg::Leave),
        (
            arb_text(),
            arb_text(),
            prop::option::of(arb_json()),
            prop::option::of(any::<bool>())
        )
            .prop_map(|(room, event, message, echo)| Msg::Broadcast {
                room,
                event,
                message,
                echo
            }),
        (arb_text(), arb_json()).prop_map(|(room, state)| Msg::Presence { room, state }),
    ]
}

impl Msg {
    /// The wire form; `nulls` sends absent optional fields as explicit nulls.
    fn to_json(&self, reference: &Option<Value>, nulls: bool) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| match v {
            Some(v) => {
                m.insert(k.to_owned(), v);
            }
            None if nulls => {
                m.insert(k.to_owned(), Value::Null);
            }
            None => {}
        };
        let ty = match self {
            Msg::Auth(token) => {
                put("token", Some(json!(token)));
                "auth"
            }
            Msg::Ping => "ping",
            Msg::Subscribe {
                id,
                collection,
                filters,
                since,
                snapshot,
                limit,
                sort,
            } => {
                put("id", id.clone().map(Value::from));
                put("collection", Some(json!(collection)));
                put("filters", filters.clone());
                put("since", since.map(Value::from));
                // `snapshot` is a plain bool: null is not accepted, so never send it as null.
                if let Some(s) = snapshot {
                    put("snapshot", Some(json!(s)));
                }
                put("limit", limit.map(Value::from));
                put("sort", sort.clone().map(Value::from));
                "subscribe"
            }
            Msg::Unsubscribe(id) => {
                put("id", Some(json!(id)));
                "unsubscribe"
            }
            Msg::Join { room, presence } => {
                put("room", Some(json!(room)));
                put("presence", presence.clone());
                "join"
            }
            Msg::Leave(room) => {
                put("room", Some(json!(room)));
                "leave"
            }
            Msg::Broadcast {
                room,
                event,
                message,
                echo,
            } => {
                put("room", Some(json!(room)));
                put("event", Some(json!(event)));
                put("message", message.clone());
                if let Some(e) = echo {
                    put("echo", Some(json!(e)));
                }
                "broadcast"
            }
            Msg::Presence { room, state } => {
                put("room", Some(json!(room)));
                put("state", Some(state.clone()));
                "presence"
            }
        };
        m.insert("type".into(), json!(ty));
        if let Some(r) = reference {
            m.insert("ref".into(), r.clone());
        }
        Value::Object(m)
    }

    /// Asserts that `got` is this message (JSON null in an optional field reads as absent).
    fn check(&self, got: &ClientMsg) {
        let non_null = |v: &Option<Value>| v.clone().filter(|v| !v.is_null());
        let expected = match self {
            Msg::Auth(token) => ClientMsg::Auth {
                token: token.clone(),
                act_as: None,
            },
            Msg::Ping => ClientMsg::Ping,
            Msg::Subscribe {
                id,
                collection,
                filters,
                since,
                snapshot,
                limit,
                sort,
            } => {
                let ClientMsg::Subscribe(m) = got else {
                    panic!("expected subscribe, got {got:?}");
                };
                assert_eq!(&m.id, id);
                assert_eq!(&m.collection, collection);
                assert_eq!(m.filters, non_null(filters));
                assert_eq!(&m.since, since);
                assert_eq!(m.snapshot, snapshot.unwrap_or(false));
                assert_eq!(&m.limit, limit);
                assert_eq!(&m.sort, sort);
                return;
            }
            Msg::Unsubscribe(id) => ClientMsg::Unsubscribe { id: id.clone() },
            Msg::Join { room, presence } => ClientMsg::Join {
                room: room.clone(),
                presence: non_null(presence),
            },
            Msg::Leave(room) => ClientMsg::Leave { room: room.clone() },
            Msg::Broadcast {
                room,
                event,
                message,
                echo,
            } => ClientMsg::Broadcast(BroadcastMsg {
                room: room.clone(),
                event: event.clone(),
                message: message.clone().unwrap_or(Value::Null),
                echo: echo.unwrap_or(false),
            }),
            Msg::Presence { room, state } => ClientMsg::Presence {
                room: room.clone(),
                state: state.clone(),
            },
        };
        assert_eq!(got, &expected);
    }
}

const CODES: [ErrorCode; 13] = [
    ErrorCode::InvalidJson,
    ErrorCode::UnknownType,
    ErrorCode::InvalidMessage,
    ErrorCode::InvalidFilter,
    ErrorCode::Unauthorized,
    ErrorCode::Forbidden,
    ErrorCode::TokenExpired,
    ErrorCode::CursorExpired,
    ErrorCode::RateLimited,
    ErrorCode::PayloadTooLarge,
    ErrorCode::LimitExceeded,
    ErrorCode::NotFound,
    ErrorCode::Internal,
];

/// Server message fields; which variant is built is chosen by `kind`.
#[derive(Debug, Clone)]
struct ServerCase {
    kind: usize,
    a: String,
    b: String,
    n: i64,
    flag: bool,
    payload: Value,
    code: usize,
    opt_a: Option<String>,
    opt_b: Option<String>,
}

fn arb_server_case() -> impl Strategy<Value = ServerCase> {
    (
        (0usize..11, arb_text(), arb_text(), any::<i64>(), any::<bool>()),
        (
            arb_json(),
            0..CODES.len(),
            prop::option::of(arb_text()),
            prop::option::of(arb_text()),
        ),
    )
        .prop_map(|((kind, a, b, n, flag), (payload, code, opt_a, opt_b))| ServerCase {
            kind,
            a,
            b,
            n,
            flag,
            payload,
            code,
            opt_a,
            opt_b,
        })
}

impl ServerCase {
    /// Encodes the message and returns (encoded text, expected JSON without `ref`).
    fn encode(&self, reference: Option<&Value>) -> (String, Value) {
        let (a, b, n, p) = (self.a.as_str(), self.b.as_str(), self.n, &self.payload);
        let (msg, expected) = match self.kind {
            0 => (
                ServerMsg::AuthOk {
                    identity: p.clone(),
                    connection: a,
                    expires_at: self.flag.then_some(n),
                },
                json!({"type": "auth_ok", "identity": p, "connection": a, "expires_at": self.flag.then_some(n)}),
            ),
            1 => (ServerMsg::Pong, json!({"type": "pong"})),
            2 => (
                ServerMsg::Subscribed {
                    id: a,
                    collection: b,
                    seq: n,
                },
                json!({"type": "subscribed", "id": a, "collection": b, "seq": n}),
            ),
            3 => (
                ServerMsg::Unsubscribed { id: a },
                json!({"type": "unsubscribed", "id": a}),
            ),
            4 => (
                ServerMsg::Snapshot {
                    subscription: a,
                    collection: b,
                    documents: p.clone(),
                    seq: n,
                    truncated: self.flag,
                },
                json!({"type": "snapshot", "subscription": a, "collection": b, "documents": p, "seq": n,
                       "truncated": self.flag}),
            ),
            5 => (
                ServerMsg::Joined {
                    room: a,
                    members: vec![MemberView {
                        connection: Some(b),
                        sub: Some(a),
                        state: p,
                    }],
                },
                json!({"type": "joined", "room": a, "members": [{"connection": b, "sub": a, "state": p}]}),
            ),
            6 => (ServerMsg::Left { room: a }, json!({"type": "left", "room": a})),
            7 => (ServerMsg::Ack, json!({"type": "ack"})),
            8 => (
                ServerMsg::TokenExpiring { expires_at: n },
                json!({"type": "token_expiring", "expires_at": n}),
            ),
            9 => (ServerMsg::System { event: a }, json!({"type": "system", "event": a})),
            _ => {
                let code = CODES[self.code];
                let mut expected = json!({"type": "error", "code": code.as_str(), "message": a});
                if let Some(s) = &self.opt_a {
                    expected["subscription"] = json!(s);
                }
                if let Some(r) = &self.opt_b {
                    expected["room"] = json!(r);
                }
                (
                    ServerMsg::Error(ErrorMsg {
                        code,
                        message: a,
                        subscription: self.opt_a.as_deref(),
                        room: self.opt_b.as_deref(),
                    }),
                    expected,
                )
            }
        };
        (encode(&msg, reference), expected)
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Every client message kind, serialised as JSON text (with or without ref, absent or null optionals), parses back to the equivalent ClientMsg with ref kept.
    #[test]
    fn client_messages_round_trip(msg in arb_msg(), reference in arb_ref(), nulls in any::<bool>()) {
        let text = msg.to_json(&reference, nulls).to_string();
        let parsed = parse_client(&text).unwrap_or_else(|e| panic!("{text} did not parse: {e:?}"));
        prop_assert_eq!(&parsed.reference, &reference, "ref of {}", text);
        msg.check(&parsed.msg);
    }

    /// Every server control message encodes to one JSON object with the right type and fields, echoing ref exactly when given.
    #[test]
    fn server_messages_encode(case in arb_server_case(), reference in arb_ref()) {
        let (text, mut expected) = case.encode(reference.as_ref());
        let got: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text} is not JSON: {e}"));
        if let Some(r) = &reference {
            expected["ref"] = r.clone();
        }
        prop_assert_eq!(got, expected, "{}", text);
    }

    /// Event frames assembled from a per-subscription prefix and a shared tail are valid JSON with every field intact.
    #[test]
    fn event_frames_are_json(sub in arb_text(), coll in arb_text(), seq in any::<i64>(), doc in arb_json(),
                             old in prop::option::of(arb_json()), transition in prop::option::of(select(vec!["enter", "leave"])),
                             event in select(vec!["created", "updated", "deleted"])) {
        let t = chrono::DateTime::from_timestamp(1_795_000_000, 123_456_000).unwrap_or_default();
        let document = DocumentJson {
            id: uuid::Uuid::from_u128(seq as u128),
            collection: &coll,
            data: Some(&doc),
            owner: Some(&sub),
            version: seq,
            created_at: t,
            updated_at: t,
        };
        let frame = format!("{}{}", event_prefix(&sub), event_tail(event, seq, &document, old.as_ref(), transition).json);
        let got: Value = serde_json::from_str(&frame).unwrap_or_else(|e| panic!("{frame} is not JSON: {e}"));
        let expected_doc = json!({"id": uuid::Uuid::from_u128(seq as u128), "collection": coll, "data": doc,
                                  "owner": sub, "version": seq, "created_at": "2026-11-18T11:06:40.123456Z",
                                  "updated_at": "2026-11-18T11:06:40.123456Z"});
        let mut expected = json!({"type": "event", "subscription": sub, "collection": coll, "event": event,
                                  "seq": seq, "document": expected_doc});
        if let Some(o) = old {
            expected["old"] = o;
        }
        if let Some(t) = transition {
            expected["transition"] = json!(t);
        }
        prop_assert_eq!(got, expected);
    }

    /// parse_client never panics on arbitrary text and answers invalid_json exactly when the text is not JSON.
    #[test]
    fn parse_client_total(text in prop_oneof![any::<String>(), arb_json().prop_map(|v| v.to_string())]) {
        let is_json = serde_json::from_str::<Value>(&text).is_ok();
        match parse_client(&text) {
            Ok(_) => prop_assert!(is_json),
            Err((code, _, _)) => prop_assert_eq!(code == ErrorCode::InvalidJson, !is_json),
        }
    }
}

// --- hub fan-out against direct evaluation and a naive model ---------------------

const COLLS: [&str; 2] = ["c1", "c2"];
const FIELDS: [&str; 3] = ["a", "b", "c"];
const DOC_IDS: usize = 4;

fn doc_id(i: usize) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x1000 + i as u128)
}

fn arb_scalar() -> impl Strategy<Value = Value> {
    select(vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(1.0),
        json!(2),
        json!(-0.0),
        json!("x"),
        json!("y"),
        json!("1"),
    ])
}

fn arb_field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => arb_scalar(),
        1 => Just(json!(["x", 1])),
        1 => Just(json!("xyz")),
        1 => Just(json!({"k": 1})),
    ]
}

fn arb_data() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(select(FIELDS.to_vec()), arb_field_value(), 0..=3)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

/// One condition of the naive model.
#[derive(Debug, Clone)]
enum NCond {
    Eq(&'static str, Value),
    Ne(&'static str, Value),
    Gt(&'static str, Value),
    Lt(&'static str, Value),
    In(&'static str, Vec<Value>),
    Contains(&'static str, Value),
    Owner(Option<&'static str>),
    Id(uuid::Uuid),
}

fn arb_cond() -> impl Strategy<Value = NCond> {
    let field = || select(FIELDS.to_vec());
    let ordered = || select(vec![json!(0.5), json!(1), json!("x"), json!("xz")]);
    prop_oneof![
        4 => (field(), arb_scalar()).prop_map(|(k, v)| NCond::Eq(k, v)),
        1 => field().prop_map(|k| NCond::Eq(k, json!(["x", 1]))),
        1 => (field(), arb_scalar()).prop_map(|(k, v)| NCond::Ne(k, v)),
        1 => (field(), ordered()).prop_map(|(k, v)| NCond::Gt(k, v)),
        1 => (field(), ordered()).prop_map(|(k, v)| NCond::Lt(k, v)),
        1 => (field(), prop::collection::vec(arb_scalar(), 0..3)).prop_map(|(k, v)| NCond::In(k, v)),
        1 => (field(), select(vec![json!("x"), json!(1), json!("y")])).prop_map(|(k, v)| NCond::Contains(k, v)),
        1 => select(vec![None, Some("alice"), Some("bob")]).prop_map(NCond::Owner),
        1 => (0..DOC_IDS).prop_map(|i| NCond::Id(doc_id(i))),
    ]
}

/// A document as the naive model sees it.
struct NDoc<'a> {
    id: uuid::Uuid,
    data: &'a Value,
    owner: Option<&'a str>,
}

/// jsonb equality for the generated value space: numbers by value, containers element-wise.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| json_eq(p, q)))
        }
        _ => a == b,
    }
}

impl NCond {
    fn key(&self) -> String {
        match self {
            NCond::Eq(f, _) => (*f).to_owned(),
            NCond::Ne(f, _) => format!("{f}__ne"),
            NCond::Gt(f, _) => format!("{f}__gt"),
            NCond::Lt(f, _) => format!("{f}__lt"),
            NCond::In(f, _) => format!("{f}__in"),
            NCond::Contains(f, _) => format!("{f}__contains"),
            NCond::Owner(_) => "$owner".into(),
            NCond::Id(_) => "$id".into(),
        }
    }

    fn value(&self) -> Value {
        match self {
            NCond::Eq(_, v) | NCond::Ne(_, v) | NCond::Gt(_, v) | NCond::Lt(_, v) | NCond::Contains(_, v) => v.clone(),
            NCond::In(_, items) => Value::Array(items.clone()),
            NCond::Owner(o) => json!(o),
            NCond::Id(id) => json!(id.to_string()),
        }
    }

    fn holds(&self, d: &NDoc<'_>) -> bool {
        let get = |f: &str| d.data.get(f);
        let order = |f: &str, v: &Value| -> Option<std::cmp::Ordering> {
            match (get(f)?, v) {
                (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
                (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
                _ => None,
            }
        };
        match self {
            NCond::Eq(f, v) => get(f).is_some_and(|x| json_eq(x, v)),
            NCond::Ne(f, v) => !get(f).is_some_and(|x| json_eq(x, v)),
            NCond::Gt(f, v) => order(f, v) == Some(std::cmp::Ordering::Greater),
            NCond::Lt(f, v) => order(f, v) == Some(std::cmp::Ordering::Less),
            NCond::In(f, items) => get(f).is_some_and(|x| items.iter().any(|i| json_eq(x, i))),
            NCond::Contains(f, v) => match (get(f), v) {
                (Some(Value::String(s)), Value::String(n)) => s.contains(n.as_str()),
                (Some(Value::Array(items)), v) => items.iter().any(|i| json_eq(i, v)),
                _ => false,
            },
            NCond::Owner(o) => d.owner == *o,
            NCond::Id(id) => d.id == *id,
        }
    }
}

/// A filter of the naive model: AND of `all`, and at least one of `any` when it is non-empty.
#[derive(Debug, Clone)]
struct NFilter {
    all: BTreeMap<String, NCond>,
    any: BTreeMap<String, NCond>,
}

impl NFilter {
    fn new(all: Vec<NCond>, any: Vec<NCond>) -> NFilter {
        // Later conditions on the same key replace earlier ones, as in a JSON object.
        NFilter {
            all: all.into_iter().map(|c| (c.key(), c)).collect(),
            any: any.into_iter().map(|c| (c.key(), c)).collect(),
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, c) in &self.all {
            m.insert(k.clone(), c.value());
        }
        for (k, c) in &self.any {
            m.insert(format!("[or]{k}"), c.value());
        }
        Value::Object(m)
    }

    fn matches(&self, d: &NDoc<'_>) -> bool {
        self.all.values().all(|c| c.holds(d)) && (self.any.is_empty() || self.any.values().any(|c| c.holds(d)))
    }
}

fn arb_filter() -> impl Strategy<Value = Option<NFilter>> {
    prop_oneof![
        1 => Just(None),
        5 => (prop::collection::vec(arb_cond(), 0..3), prop::collection::vec(arb_cond(), 0..3))
            .prop_map(|(all, any)| Some(NFilter::new(all, any))),
    ]
}

fn arb_identity() -> impl Strategy<Value = Identity> {
    prop_oneof![
        1 => Just(Identity::Service { key: None }),
        1 => Just(Identity::Public { key: None }),
        4 => (select(vec!["alice", "bob", "carol"]), select(vec![None, Some("editor"), Some("viewer")])).prop_map(
            |(sub, role)| Identity::User {
                sub: Arc::from(sub),
                role: role.map(Arc::from),
                exp: i64::MAX,
            }
        ),
    ]
}

fn arb_rule() -> impl Strategy<Value = Option<Rule>> {
    select(vec![
        None,
        Some(Rule::Public),
        Some(Rule::Owner),
        Some(Rule::Authenticated),
        Some(Rule::Role("editor".into())),
        Some(Rule::Service),
    ])
}

fn rules_of(read: &Option<Rule>) -> CollectionRules {
    match read {
        Some(read) => CollectionRules {
            read: read.clone(),
            ..CollectionRules::service_only()
        },
        // No cached rules: the hub falls back to service-only.
        None => CollectionRules::service_only(),
    }
}

/// The read rule, written out from docs/PROTOCOL.md and README rather than taken from `Rule::allows`.
fn naive_allows(rule: &Rule, who: &Identity, owner: Option<&str>) -> bool {
    match who {
        Identity::Service { .. } => true,
        Identity::Public { .. } => *rule == Rule::Public,
        Identity::User { sub, role, .. } => match rule {
            Rule::Public | Rule::Authenticated => true,
            Rule::Owner => owner == Some(&**sub),
            Rule::Role(r) => role.as_deref() == Some(r.as_str()),
            Rule::Service => false,
        },
    }
}

#[derive(Debug, Clone)]
struct GenChange {
    coll: usize,
    doc: usize,
    op: usize,
    data: Value,
    old: Value,
    owner: Option<&'static str>,
    old_owner: Option<&'static str>,
    version: i64,
    gap: i64,
}

fn arb_change() -> impl Strategy<Value = GenChange> {
    let owner = || select(vec![None, Some("alice"), Some("bob")]);
    (
        (0..COLLS.len(), 0..DOC_IDS, 0usize..3),
        (arb_data(), arb_data(), owner(), owner()),
        (1i64..5, 1i64..3),
    )
        .prop_map(
            |((coll, doc, op), (data, old, owner, old_owner), (version, gap))| GenChange {
                coll,
                doc,
                op,
                data,
                old,
                owner,
                old_owner,
                version,
                gap,
            },
        )
}

fn to_changes(gen: &[GenChange]) -> Vec<Change> {
    let t = chrono::DateTime::from_timestamp(1_750_000_000, 123_456_000).unwrap_or_default();
    let mut seq = 0;
    gen.iter()
        .map(|g| {
            seq += g.gap;
            let op = [ChangeOp::Created, ChangeOp::Updated, ChangeOp::Deleted][g.op];
            let (data, old_data, owner, old_owner) = match op {
                ChangeOp::Created => (Some(g.data.clone()), None, g.owner, None),
                ChangeOp::Updated => (Some(g.data.clone()), Some(g.old.clone()), g.owner, g.old_owner),
                // A delete carries the owner the document had, before and "after".
                ChangeOp::Deleted => (None, Some(g.old.clone()), g.old_owner, g.old_owner),
            };
            Change {
                seq,
                collection: COLLS[g.coll].to_owned(),
                doc_id: doc_id(g.doc),
                op,
                data,
                old_data,
                owner: owner.map(str::to_owned),
                old_owner: old_owner.map(str::to_owned),
                version: g.version,
                created_at: t,
                updated_at: t,
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
struct SubSpec {
    conn: usize,
    coll: usize,
    filter: Option<NFilter>,
    /// Registered after the first batch was dispatched (live from the hub's head then).
    late: bool,
}

fn arb_sub(conns: usize) -> impl Strategy<Value = SubSpec> {
    (0..conns, 0..COLLS.len(), arb_filter(), prop::bool::weighted(0.25)).prop_map(|(conn, coll, filter, late)| {
        SubSpec {
            conn,
            coll,
            filter,
            late,
        }
    })
}

#[derive(Debug, Clone)]
struct HubCase {
    rules: Vec<Option<Rule>>,
    identities: Vec<Identity>,
    subs: Vec<SubSpec>,
    changes: Vec<GenChange>,
    split: usize,
}

fn arb_hub_case() -> impl Strategy<Value = HubCase> {
    (
        prop::collection::vec(arb_rule(), COLLS.len()),
        prop::collection::vec(arb_identity(), 1..=4),
    )
        .prop_flat_map(|(rules, identities)| {
            let n = identities.len();
            (
                Just(rules),
                Just(identities),
                prop::collection::vec(arb_sub(n), 1..=10),
                prop::collection::vec(arb_change(), 1..=30),
                0usize..=30,
            )
        })
        .prop_map(|(rules, identities, subs, changes, split)| {
            let split = split.min(changes.len());
            HubCase {
                rules,
                identities,
                subs,
                changes,
                split,
            }
        })
}

/// What the naive model expects one subscription to receive for one change:
/// None, or (transition, data shown in `document.data`).
fn naive_event(
    c: &Change,
    rule: &Rule,
    who: &Identity,
    filter: Option<&NFilter>,
) -> Option<(Option<&'static str>, Value)> {
    let visible = |data: Option<&Value>, owner: Option<&str>| {
        data.is_some_and(|data| {
            naive_allows(rule, who, owner)
                && filter.is_none_or(|f| {
                    f.matches(&NDoc {
                        id: c.doc_id,
                        data,
                        owner,
                    })
                })
        })
    };
    let new = visible(c.data.as_ref(), c.owner.as_deref());
    let old = visible(c.old_data.as_ref(), c.old_owner.as_deref());
    let new_data = c.data.clone().unwrap_or(Value::Null);
    match c.op {
        ChangeOp::Created => new.then_some((None, new_data)),
        ChangeOp::Deleted => old.then(|| (None, c.old_data.clone().unwrap_or(Value::Null))),
        ChangeOp::Updated => match (old, new) {
            (true, true) => Some((None, new_data)),
            (false, true) => Some((Some("enter"), new_data)),
            (true, false) if naive_allows(rule, who, c.owner.as_deref()) => Some((Some("leave"), new_data)),
            (true, false) => Some((Some("leave"), Value::Null)),
            (false, false) => None,
        },
    }
}

/// The text a connection would write for a queued item.
fn text_of(o: Outbound) -> String {
    o.into_frame().as_str().to_owned()
}

/// Frames grouped by subscription id, each group in arrival order.
fn by_subscription(frames: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in frames {
        let v: Value = serde_json::from_str(f).unwrap_or_else(|e| panic!("frame is not JSON ({e}): {f}"));
        let id = v["subscription"]
            .as_str()
            .expect("frame names its subscription")
            .to_owned();
        out.entry(id).or_default().push(f.clone());
    }
    out
}

fn run_hub_case(case: &HubCase) {
    let rules = std::sync::Arc::new(RulesCache::default());
    let hub = Hub::new(rules.clone());
    for (coll, read) in COLLS.iter().zip(&case.rules) {
        if read.is_some() {
            rules.set(coll, rules_of(read));
        }
    }
    let mut conns = Vec::new();
    for who in &case.identities {
        conns.push(ConnHandle::new(who.clone(), 100_000, "websocket"));
    }
    let changes = to_changes(&case.changes);
    let filters: Vec<Filter> = case
        .subs
        .iter()
        .map(|s| {
            let v = s.filter.as_ref().map_or(Value::Null, NFilter::to_json);
            Filter::from_json(&v).unwrap_or_else(|e| panic!("generated filter {v} rejected: {e}"))
        })
        .collect();
    let register = |late: bool, cursor: i64| {
        for (i, s) in case.subs.iter().enumerate().filter(|(_, s)| s.late == late) {
            let sub = Subscription::new(
                format!("s{i}"),
                COLLS[s.coll].to_owned(),
                filters[i].clone(),
                conns[s.conn].0.clone(),
            );
            assert!(
                hub.try_subscribe(sub, cursor).is_ok(),
                "registration at the head must succeed"
            );
        }
    };
    register(false, 0);
    hub.dispatch(&changes[..case.split]);
    let head = hub.head();
    register(true, head);
    hub.dispatch(&changes[case.split..]);

    // What each connection actually received.
    let mut actual: Vec<Vec<String>> = Vec::new();
    for (_, rx) in conns.iter_mut() {
        let mut frames = Vec::new();
        while let Ok(f) = rx.try_recv() {
            frames.push(text_of(f));
        }
        actual.push(frames);
    }

    // Direct evaluation: every (subscription, change) pair through frame_for, no index.
    let mut reference: Vec<Vec<String>> = vec![Vec::new(); conns.len()];
    for (i, s) in case.subs.iter().enumerate() {
        let rules = rules_of(&case.rules[s.coll]);
        let who = case.identities[s.conn].clone();
        let (copy_conn, _rx) = ConnHandle::new(who.clone(), 1, "websocket");
        let mut copy = Subscription::new(format!("s{i}"), COLLS[s.coll].to_owned(), filters[i].clone(), copy_conn);
        copy.start_after = if s.late { head } else { 0 };
        for c in &changes {
            let direct = frame_for(c, &rules, &copy, &mut EventCache::default()).map(text_of);
            // The naive model, independent of frame_for and Filter::matches.
            let expected = if c.seq > copy.start_after && c.collection == COLLS[s.coll] {
                naive_event(c, &rules.read, &who, s.filter.as_ref())
            } else {
                None
            };
            match (&direct, &expected) {
                (None, None) => {}
                (Some(frame), Some((transition, data))) => {
                    let v: Value = serde_json::from_str(frame).expect("frame is JSON");
                    assert_eq!(v["subscription"], format!("s{i}"));
                    assert_eq!(v["seq"], c.seq);
                    assert_eq!(v["event"], c.op.as_str());
                    assert_eq!(
                        v.get("transition").and_then(Value::as_str),
                        *transition,
                        "transition of {frame}"
                    );
                    assert_eq!(&v["document"]["data"], data, "document.data of {frame}");
                    assert_eq!(v.get("old"), c.old_data.as_ref(), "old of {frame}");
                }
                _ => panic!(
                    "sub s{i} ({:?} as {who:?}, read {:?}) and change {c:?}: frame_for gave {:?}, naive model {:?}",
                    s.filter, rules.read, direct, expected
                ),
            }
            if let Some(f) = direct {
                reference[s.conn].push(f);
            }
        }
    }

    for (conn, (got, want)) in actual.iter().zip(&reference).enumerate() {
        assert_eq!(got.len(), want.len(), "connection {conn}: frame count");
        assert_eq!(
            by_subscription(got),
            by_subscription(want),
            "connection {conn}: frames per subscription"
        );
    }
}

proptest! {
    #![proptest_config(config(400))]

    /// The hub's indexed dispatch delivers to every connection exactly the frames that direct per-subscription evaluation (and a naive model of filters, read rules and enter/leave) gives, in the same order per subscription.
    #[test]
    fn hub_dispatch_matches_direct_evaluation(case in arb_hub_case()) {
        run_hub_case(&case);
    }
}

/// Equality-indexed subscriptions on numbers written differently (1 vs 1.0, 0 vs -0.0) still receive matching changes.
#[test]
fn index_normalises_numbers() {
    let case = HubCase {
        rules: vec![Some(Rule::Public), None],
        identities: vec![Identity::Public { key: None }],
        subs: vec![
            SubSpec {
                conn: 0,
                coll: 0,
                filter: Some(NFilter::new(vec![NCond::Eq("a", json!(1.0))], vec![])),
                late: false,
            },
            SubSpec {
                conn: 0,
                coll: 0,
                filter: Some(NFilter::new(vec![NCond::Eq("b", json!(-0.0))], vec![])),
                late: false,
            },
        ],
        changes: vec![GenChange {
            coll: 0,
            doc: 0,
            op: 0,
            data: json!({"a": 1, "b": 0}),
            old: json!({}),
            owner: None,
            old_owner: None,
            version: 1,
            gap: 1,
        }],
        split: 0,
    };
    run_hub_case(&case);
}

// --- regressions for fuzzer findings (see docs/FUZZING.md) ---------------------------

/// A float that a client sends (in `ref`, a broadcast message, a document) is read as exactly the number its text denotes, so it is echoed and stored unchanged.
#[test]
fn floats_are_read_exactly() {
    // Found by the `protocol` fuzz target; 17-significant-digit doubles as JavaScript prints them.
    for text in [
        "1040489.8466796875",
        "9.63660265250854e-26",
        "6.1995384504574595e-24",
        "1.3840015263977887e+72",
        "-8.106060921084767e-153",
        "1.2345678901234567e+38",
    ] {
        let sent: f64 = text.parse().expect("std reads the text exactly");
        let msg = format!(r#"{{"type":"broadcast","room":"r","event":"e","message":{text},"ref":{text}}}"#);
        let parsed = parse_client(&msg).expect("valid broadcast");
        let got_ref = parsed.reference.as_ref().and_then(Value::as_f64);
        assert_eq!(
            got_ref.map(f64::to_bits),
            Some(sent.to_bits()),
            "ref {text} read as {got_ref:?}"
        );
        let ClientMsg::Broadcast(b) = parsed.msg else {
            panic!("expected a broadcast");
        };
        let got = b.message.as_f64();
        assert_eq!(
            got.map(f64::to_bits),
            Some(sent.to_bits()),
            "message {text} read as {got:?}"
        );
        // And the reply echoes the same text back.
        let echoed = encode(&ServerMsg::Ack, parsed.reference.as_ref());
        assert!(
            echoed.contains(&format!(":{}", json!(sent))),
            "{echoed} does not echo {text}"
        );
    }
}

/// A keyset cursor holding a float sort key decodes to exactly the value it was encoded from, so the next page starts right after the last row (no row skipped or repeated).
#[test]
fn float_cursors_round_trip() {
    // Found by the `filter-url` and `filter-json` fuzz targets.
    let sort = Sort::parse(Some("-score")).expect("valid sort");
    for x in [1040489.8466796875f64, 9.63660265250854e-26, -4.0592979291267996e138] {
        let c = Cursor::from_sort_keys(json!([x, "67e55044-10b1-426f-9247-bb680e5fe0c8"]));
        assert_eq!(Cursor::parse(&c.encode(), &sort), Ok(c.clone()), "cursor with {x:e}");
    }
}

/// Nested `depth` levels deep: `[[[…1…]]]`.
fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

/// The deepest presence state that parse_client accepts is relayed to the other room members as JSON that a serde_json client (limit 128 levels) can read.
#[test]
fn relayed_presence_stays_readable() {
    // Found by the `protocol` fuzz target (joined/presence frames nest the state three levels deeper).
    let mut depth = 1;
    let mut deepest = None;
    while depth < 200 {
        let msg = format!(r#"{{"type":"join","room":"r","presence":{{"s":{}}}}}"#, nested(depth));
        match parse_client(&msg) {
            Ok(m) => deepest = Some(m),
            Err(_) => break,
        }
        depth += 1;
    }
    let Some(accepted) = deepest else {
        return;
    };
    let ClientMsg::Join { presence, .. } = accepted.msg else {
        panic!("expected a join");
    };
    let hub = Hub::new(std::sync::Arc::new(RulesCache::default()));
    let (watcher, mut rx) = ConnHandle::new(Identity::Public { key: None }, 16, "websocket");
    let (joiner, _rx) = ConnHandle::new(Identity::Public { key: None }, 16, "websocket");
    hub.join("r", &watcher, json!({}), |_| ());
    let joined = hub.join("r", &joiner, presence.unwrap_or_else(|| json!({})), |members| {
        encode(&ServerMsg::Joined { room: "r", members }, None)
    });
    assert!(
        serde_json::from_str::<Value>(&joined).is_ok(),
        "the joined reply is not readable"
    );
    let frame = text_of(rx.try_recv().expect("the watcher is told about the join"));
    assert!(
        serde_json::from_str::<Value>(&frame).is_ok(),
        "the presence frame is not readable"
    );
}
