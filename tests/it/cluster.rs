//! Several nodes over a broker (PostgreSQL, Redis, NATS): rooms, presence and
//! server publish behave as on one node; a dead node's members leave; a broker
//! outage refuses broadcasts instead of dropping them, and traffic resumes.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TTL: &str = "2s";

/// A private Redis or NATS server on a free port (restartable on that port).
struct External {
    bin: String,
    args: Vec<String>,
    port: u16,
    child: Option<Child>,
    scheme: &'static str,
}

fn find(bin: &str) -> Option<String> {
    ["/usr/bin/", "/usr/sbin/", "/usr/local/bin/"]
        .iter()
        .map(|d| format!("{d}{bin}"))
        .find(|p| std::path::Path::new(p).exists())
}

impl External {
    fn redis() -> Option<External> {
        let port = free_port();
        Some(External {
            bin: find("redis-server")?,
            args: [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            .map(String::from)
            .to_vec(),
            port,
            child: None,
            scheme: "redis",
        })
    }

    fn nats() -> Option<External> {
        let port = free_port();
        Some(External {
            bin: find("nats-server")?,
            args: ["-a", "127.0.0.1", "-p", &port.to_string()].map(String::from).to_vec(),
            port,
            child: None,
            scheme: "nats",
        })
    }

    fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    async fn start(&mut self) {
        let child = Command::new(&self.bin)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start broker");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(Instant::now() < deadline, "{} did not start", self.bin);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for External {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A socket that joined room `r`, with everything it received.
struct Member {
    ws: Ws,
    id: String,
    inbox: Vec<Value>,
}

impl Member {
    async fn join(node: &Server, sub: &str) -> Member {
        let mut ws = node.ws(&jwt(sub, None, 3600)).await;
        let id = ws.expect_type("auth_ok").await["connection"]
            .as_str()
            .expect("connection id")
            .to_owned();
        ws.send(json!({"type": "join", "room": "r", "ref": "j", "presence": {"sub": sub}}))
            .await;
        let joined = ws.expect_type("joined").await;
        assert_eq!(joined["ref"], "j", "{joined}");
        Member {
            ws,
            id,
            inbox: vec![joined],
        }
    }

    /// Reads until `done` holds for the inbox, or panics after `WAIT`.
    async fn until(&mut self, what: &str, done: impl Fn(&[Value]) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(&self.inbox) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.ws.next(left).await {
                Some(v) => self.inbox.push(v),
                None => panic!("{}: {what} not seen; got {:?}", self.id, self.inbox),
            }
        }
    }

    fn present(&self) -> BTreeSet<String> {
        known(&self.inbox)
    }

    fn count(&self, ty: &str) -> usize {
        self.inbox.iter().filter(|v| v["type"] == ty).count()
    }
}

/// Members known from the `joined` list and the presence diffs after it.
fn known(inbox: &[Value]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for v in inbox {
        if v["type"] == "joined" {
            let members = v["members"].as_array().into_iter().flatten();
            set.extend(members.filter_map(|m| m["connection"].as_str().map(str::to_owned)));
        }
    }
    {
        for p in inbox.iter().filter(|v| v["type"] == "presence") {
            for id in p["joins"].as_object().into_iter().flat_map(|m| m.keys()) {
                set.insert(id.clone());
            }
            for id in p["leaves"].as_object().into_iter().flat_map(|m| m.keys()) {
                set.remove(id);
            }
        }
    }
    set
}

async fn nodes(broker: &str, n: usize) -> Vec<Server> {
    let flags = ["--broker", broker, "--presence-ttl", TTL];
    let first = Server::start_with(&flags).await;
    let (st, b) = first
        .call(
            "PUT",
            "/v1/room-rules",
            Some(SERVICE_KEY),
            Some(json!({"rules": [{"pattern": "*", "join": "authenticated", "broadcast": "authenticated"}]})),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let mut all = vec![first];
    for _ in 1..n {
        let db = all[0].db_url.clone();
        all.push(Server::start_on(db, &flags).await);
    }
    // Every node is ready (broker connected) and knows the room rules.
    for node in &all {
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = node.call("GET", "/readyz", None, None).await.0 == 200;
            let mut ws = node.ws(&jwt("probe", None, 60)).await;
            ws.expect_type("auth_ok").await;
            ws.send(json!({"type": "join", "room": "probe"})).await;
            if ready && ws.recv().await["type"] == "joined" {
                break;
            }
            assert!(Instant::now() < deadline, "node never became ready with room rules");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    all
}

/// The whole scenario for one broker; `outage` stops and restarts it.
async fn scenario(broker: &str, outage: Option<&mut External>) {
    let nodes = nodes(broker, 3).await;
    let subs = ["alice", "bob", "alice", "dave", "erin", "fred"];
    let mut members = Vec::new();
    for (i, sub) in subs.iter().enumerate() {
        members.push(Member::join(&nodes[i % 3], sub).await);
    }
    let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();

    // Presence: everyone learns everyone else, wherever they are.
    for m in members.iter_mut() {
        let others: BTreeSet<String> = ids.iter().filter(|i| **i != m.id).cloned().collect();
        let me = m.id.clone();
        m.until("presence of every other member", |inbox| {
            let mut set = known(inbox);
            set.remove(&me);
            others.is_subset(&set)
        })
        .await;
        assert_eq!(m.present().intersection(&others).count(), others.len());
    }
    // Member lists are identical on every node.
    let mut lists = Vec::new();
    for node in &nodes {
        let mut ws = node.ws(&jwt("lister", None, 60)).await;
        ws.expect_type("auth_ok").await;
        ws.send(json!({"type": "join", "room": "r"})).await;
        let joined = ws.expect_type("joined").await;
        let mut set: BTreeSet<String> = joined["members"]
            .as_array()
            .expect("members")
            .iter()
            .filter_map(|m| m["connection"].as_str().map(str::to_owned))
            .collect();
        set.retain(|c| ids.contains(c));
        lists.push(set);
    }
    assert!(
        lists.iter().all(|l| l.len() == 6 && *l == lists[0]),
        "member lists differ: {lists:?}"
    );

    // Broadcasts: every member to every other, once each, in per-sender order.
    const PER: usize = 20;
    for (i, m) in members.iter_mut().enumerate() {
        for k in 0..PER {
            m.ws.send(json!({"type": "broadcast", "room": "r", "event": "chat:msg", "ref": k,
                             "message": {"from": i, "k": k}}))
                .await;
        }
    }
    for m in members.iter_mut() {
        m.until("every broadcast and ack", |inbox| {
            let b = inbox.iter().filter(|v| v["type"] == "broadcast").count();
            let a = inbox.iter().filter(|v| v["type"] == "ack").count();
            b >= 5 * PER && a >= PER
        })
        .await;
    }
    for (i, m) in members.iter().enumerate() {
        let mut per_sender: HashMap<i64, Vec<i64>> = HashMap::new();
        for b in m.inbox.iter().filter(|v| v["type"] == "broadcast") {
            let from = b["message"]["from"].as_i64().expect("from");
            per_sender
                .entry(from)
                .or_default()
                .push(b["message"]["k"].as_i64().expect("k"));
        }
        assert!(
            !per_sender.contains_key(&(i as i64)),
            "{} got its own broadcast without echo",
            m.id
        );
        assert_eq!(per_sender.len(), 5, "senders seen by member {i}");
        for (from, ks) in &per_sender {
            assert_eq!(
                *ks,
                (0..PER as i64).collect::<Vec<_>>(),
                "member {i} from {from}: lost, repeated or reordered"
            );
        }
        assert!(
            m.inbox.iter().all(|v| v["type"] != "error"),
            "errors at member {i}: {:?}",
            m.inbox
        );
    }
    // Echo reaches the sender too.
    members[0]
        .ws
        .send(json!({"type": "broadcast", "room": "r", "event": "chat:echo", "echo": true, "message": {}}))
        .await;
    members[0]
        .until("its own echo", |inbox| inbox.iter().any(|v| v["event"] == "chat:echo"))
        .await;

    // Server publish: to a user on two nodes (sent to the third), and to everyone.
    let (st, _) = nodes[2]
        .call(
            "POST",
            "/v1/users/alice/messages",
            Some(SERVICE_KEY),
            Some(json!({"event": "dm", "message": {"hi": 1}})),
        )
        .await;
    assert_eq!(st, 202);
    let (st, _) = nodes[0]
        .call(
            "POST",
            "/v1/broadcast",
            Some(SERVICE_KEY),
            Some(json!({"event": "all", "message": {}})),
        )
        .await;
    assert_eq!(st, 202);
    for (i, m) in members.iter_mut().enumerate() {
        let wants_dm = subs[i] == "alice";
        m.until("server messages", |inbox| {
            let all = inbox.iter().any(|v| v["type"] == "message" && v["event"] == "all");
            let dm = inbox.iter().any(|v| v["type"] == "message" && v["event"] == "dm");
            all && (dm || !wants_dm)
        })
        .await;
        let dms = m.inbox.iter().filter(|v| v["event"] == "dm").count();
        assert_eq!(dms, usize::from(wants_dm), "member {i} ({}) user messages", subs[i]);
    }

    // A killed node's members leave everywhere within the TTL (plus a margin).
    let mut nodes = nodes;
    let dead: BTreeSet<String> = [ids[2].clone(), ids[5].clone()].into();
    let killed = Instant::now();
    nodes[2].kill();
    for i in [0, 1, 3, 4] {
        let dead = dead.clone();
        members[i]
            .until("leave diffs of the killed node's members", |inbox| {
                let mut left = BTreeSet::new();
                for p in inbox.iter().filter(|v| v["type"] == "presence") {
                    left.extend(p["leaves"].as_object().into_iter().flat_map(|o| o.keys().cloned()));
                }
                dead.is_subset(&left)
            })
            .await;
    }
    let took = killed.elapsed();
    eprintln!("{broker}: a killed node's members left after {took:?} (TTL {TTL})");
    assert!(took < Duration::from_secs(6), "leave diffs took {took:?}");
    assert_eq!(members[0].count("error"), 0);

    let Some(ext) = outage else { return };
    // Broker outage: refused, not silently dropped; no node exits; traffic resumes.
    ext.stop();
    let deadline = Instant::now() + WAIT;
    loop {
        members[0]
            .ws
            .send(json!({"type": "broadcast", "room": "r", "event": "outage", "ref": "o", "message": {}}))
            .await;
        let reply = members[0].ws.recv().await;
        if reply["type"] == "error" {
            assert_eq!(reply["code"], "unavailable", "{reply}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "broadcasts kept being accepted with the broker down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (st, b) = nodes[0]
        .call(
            "POST",
            "/v1/broadcast",
            Some(SERVICE_KEY),
            Some(json!({"event": "x", "message": {}})),
        )
        .await;
    assert_eq!((st, &b["error"]["code"]), (503, &json!("unavailable")));
    assert_eq!(nodes[0].call("GET", "/readyz", None, None).await.0, 503);
    ext.start().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        members[1]
            .ws
            .send(json!({"type": "broadcast", "room": "r", "event": "back", "ref": "b", "message": {}}))
            .await;
        let reply = members[1].ws.recv().await;
        if reply["type"] == "ack" {
            break;
        }
        assert!(Instant::now() < deadline, "broadcasts never resumed: {reply}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    members[0]
        .until("a broadcast after the broker came back", |inbox| {
            inbox.iter().any(|v| v["event"] == "back")
        })
        .await;
    for node in &nodes[..2] {
        assert_eq!(
            node.call("GET", "/healthz", None, None).await.0,
            200,
            "a node died in the outage"
        );
    }
}

#[tokio::test]
async fn postgres_broker() {
    scenario("postgres", None).await;
}

#[tokio::test]
async fn redis_broker() {
    let Some(mut redis) = External::redis() else {
        eprintln!("SKIPPED redis_broker: redis-server is not installed (scripts/test.sh installs it)");
        return;
    };
    redis.start().await;
    let url = redis.url();
    scenario(&url, Some(&mut redis)).await;
}

#[tokio::test]
async fn nats_broker() {
    let Some(mut nats) = External::nats() else {
        eprintln!("SKIPPED nats_broker: nats-server is not installed (scripts/test.sh installs it)");
        return;
    };
    nats.start().await;
    let url = nats.url();
    scenario(&url, Some(&mut nats)).await;
}

/// The two-server change-feed test, with each broker configured.
#[tokio::test]
async fn change_feed_with_brokers() {
    crate::faults::two_servers(&["--broker", "postgres"]).await;
    if let Some(mut redis) = External::redis() {
        redis.start().await;
        crate::faults::two_servers(&["--broker", &redis.url()]).await;
    }
}

/// A malformed broker URL is refused at start with a message naming it.
#[test]
fn malformed_broker_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["serve", "--broker", "kafka://x"])
        .output()
        .expect("run eddy");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--broker") && err.contains("kafka://x"), "{err}");
}
