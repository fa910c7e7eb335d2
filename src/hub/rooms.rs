//! Rooms: membership, presence state and room access rules.

use super::conn::{ConnHandle, ConnId};
use crate::auth::{Identity, Rule};
use crate::protocol::{encode, MemberView, ServerMsg};
use axum::extract::ws::Utf8Bytes;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What a room rule governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomAction {
    /// Joining (and receiving).
    Join,
    /// Broadcasting.
    Broadcast,
}

/// One ordered room rule.
#[derive(Debug, Clone)]
pub struct RoomRule {
    /// Pattern with `*` and `{sub}`.
    pub pattern: String,
    /// Who may join.
    pub join: Rule,
    /// Who may broadcast.
    pub broadcast: Rule,
}

impl RoomRule {
    /// Whether this rule governs the room: `{sub}` stands for any text here, so a
    /// user-scoped pattern also governs (and denies) other users' rooms.
    pub fn applies(&self, room: &str) -> bool {
        glob(self.pattern.replace("{sub}", "*").as_bytes(), room.as_bytes())
    }

    /// Whether the room is the caller's own under a `{sub}` pattern (always true
    /// for patterns without `{sub}`).
    pub fn scoped_to(&self, room: &str, who: &Identity) -> bool {
        if !self.pattern.contains("{sub}") {
            return true;
        }
        match who.sub() {
            Some(sub) if !sub.contains('*') => glob(self.pattern.replace("{sub}", sub).as_bytes(), room.as_bytes()),
            _ => false,
        }
    }
}

/// Whether `who` may do `action` in `room` under `rules`: the first rule whose
/// pattern applies decides; with none, only service keys may.
pub fn room_allowed(rules: &[RoomRule], room: &str, who: &Identity, action: RoomAction) -> bool {
    if who.is_service() {
        return true;
    }
    match rules.iter().find(|r| r.applies(room)) {
        Some(r) => {
            let rule = match action {
                RoomAction::Join => &r.join,
                RoomAction::Broadcast => &r.broadcast,
            };
            r.scoped_to(room, who) && rule.admits(who)
        }
        None => false,
    }
}

/// `*` matches any run of bytes; everything else is literal.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|b| *b == b'*')
}

struct Member {
    conn: ConnHandle,
    sub: Option<Arc<str>>,
    state: Value,
}

impl Member {
    fn view<'a>(&'a self, connection: Option<&'a str>) -> MemberView<'a> {
        MemberView {
            connection,
            sub: self.sub.as_deref(),
            state: &self.state,
        }
    }
}

/// A member whose socket is on another node (learnt through the broker).
struct RemoteMember {
    node: Arc<str>,
    sub: Option<Arc<str>>,
    state: Value,
}

/// One room's members: sockets on this node, and on other nodes.
#[derive(Default)]
pub struct Room {
    members: HashMap<ConnId, Member>,
    remote: HashMap<ConnId, RemoteMember>,
}

impl Room {
    /// Adds or replaces a member.
    pub fn join(&mut self, conn: &ConnHandle, state: Value) {
        let sub = conn.identity().sub().map(Arc::from);
        self.members.insert(
            conn.id().clone(),
            Member {
                conn: conn.clone(),
                sub,
                state,
            },
        );
    }

    /// The member list on every node, as `joined` shows it.
    pub fn members(&self) -> Vec<MemberView<'_>> {
        let local = self.members.iter().map(|(id, m)| m.view(Some(id)));
        let remote = self.remote.iter().map(|(id, m)| MemberView {
            connection: Some(id),
            sub: m.sub.as_deref(),
            state: &m.state,
        });
        local.chain(remote).collect()
    }

    /// This node's members: (connection, sub, state).
    pub fn local(&self) -> impl Iterator<Item = (&ConnId, Option<&str>, &Value)> {
        self.members.iter().map(|(id, m)| (id, m.sub.as_deref(), &m.state))
    }

    /// Records (or updates) a member on another node; returns the `presence` frame.
    pub fn remote_upsert(
        &mut self,
        room: &str,
        node: &Arc<str>,
        conn: ConnId,
        sub: Option<Arc<str>>,
        state: Value,
    ) -> Utf8Bytes {
        let m = RemoteMember {
            node: node.clone(),
            sub,
            state,
        };
        let view = MemberView {
            connection: None,
            sub: m.sub.as_deref(),
            state: &m.state,
        };
        let frame = presence_frame(room, Some((&conn, view)), None);
        self.remote.insert(conn, m);
        frame
    }

    /// Forgets a member on another node; returns the `presence` frame.
    pub fn remote_remove(&mut self, room: &str, conn: &str) -> Option<Utf8Bytes> {
        let (id, m) = self.remote.remove_entry(conn)?;
        let view = MemberView {
            connection: None,
            sub: m.sub.as_deref(),
            state: &m.state,
        };
        Some(presence_frame(room, None, Some((&id, view))))
    }

    /// The connections a node has in this room.
    pub fn remote_of(&self, node: &str) -> Vec<ConnId> {
        self.remote
            .iter()
            .filter(|(_, m)| &*m.node == node)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A remote member's current (node, sub, state), to tell a change from a repeat.
    pub fn remote_state(&self, conn: &str) -> Option<(&str, Option<&str>, &Value)> {
        self.remote.get(conn).map(|m| (&*m.node, m.sub.as_deref(), &m.state))
    }

    /// Replaces a member's state; false when not a member.
    pub fn set_state(&mut self, conn: &ConnId, state: Value) -> bool {
        match self.members.get_mut(conn) {
            Some(m) => {
                m.state = state;
                true
            }
            None => false,
        }
    }

    /// Removes a member and returns the `presence` frame announcing it.
    pub fn leave(&mut self, room: &str, conn: &ConnId) -> Option<Utf8Bytes> {
        let m = self.members.remove(conn)?;
        Some(presence_frame(room, None, Some((conn, m.view(None)))))
    }

    /// The `presence` frame announcing a member's (new) state.
    pub fn joined_frame(&self, room: &str, conn: &ConnId) -> Option<Utf8Bytes> {
        let m = self.members.get(conn)?;
        Some(presence_frame(room, Some((conn, m.view(None))), None))
    }

    /// Whether the connection is a member.
    pub fn has(&self, conn: &ConnId) -> bool {
        self.members.contains_key(conn)
    }

    /// Connection ids of the members.
    pub fn member_ids(&self) -> impl Iterator<Item = &ConnId> {
        self.members.keys()
    }

    /// Number of members on every node.
    pub fn len(&self) -> usize {
        self.members.len() + self.remote.len()
    }

    /// Whether the room has no member on any node.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.remote.is_empty()
    }

    /// Sends a frame to every member on this node except `skip`; returns how many got it.
    pub fn send(&self, frame: &Utf8Bytes, skip: Option<&str>) -> usize {
        self.members
            .iter()
            .filter(|(id, _)| Some(&***id) != skip)
            .filter(|(_, m)| m.conn.send(frame.clone()))
            .count()
    }
}

fn presence_frame<'a>(
    room: &str,
    joins: Option<(&'a ConnId, MemberView<'a>)>,
    leaves: Option<(&'a ConnId, MemberView<'a>)>,
) -> Utf8Bytes {
    fn map<'a>(e: Option<(&'a ConnId, MemberView<'a>)>) -> BTreeMap<&'a str, MemberView<'a>> {
        e.map(|(id, v)| (&**id, v)).into_iter().collect()
    }
    Utf8Bytes::from(encode(
        &ServerMsg::Presence {
            room,
            joins: map(joins),
            leaves: map(leaves),
        },
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(sub: &str) -> Identity {
        Identity::User {
            sub: Arc::from(sub),
            role: None,
            exp: i64::MAX,
        }
    }

    #[test]
    fn patterns() {
        let rule = |p: &str| RoomRule {
            pattern: p.into(),
            join: Rule::Public,
            broadcast: Rule::Public,
        };
        let join = |p: &str, room: &str, who: &Identity| room_allowed(&[rule(p)], room, who, RoomAction::Join);
        assert!(join("*", "anything", &user("a")));
        assert!(join("chat-*", "chat-1", &user("a")));
        assert!(!join("chat-*", "chats", &user("a")));
        assert!(join("user:{sub}:*", "user:alice:inbox", &user("alice")));
        assert!(!join("user:{sub}:*", "user:alice:inbox", &user("bob")));
        assert!(!join(
            "user:{sub}:*",
            "user:alice:inbox",
            &Identity::Public { key: None }
        ));
        assert!(join("a*b*c", "axxbyyc", &user("a")));
        assert!(!join("a*b*c", "axxbyy", &user("a")));
        // A later catch-all does not open other users' rooms.
        let rules = [rule("user:{sub}:*"), rule("*")];
        assert!(!room_allowed(&rules, "user:alice:x", &user("bob"), RoomAction::Join));
    }

    #[test]
    fn first_rule_decides_and_default_is_service_only() {
        let rules = vec![
            RoomRule {
                pattern: "admin:*".into(),
                join: Rule::Role("admin".into()),
                broadcast: Rule::Service,
            },
            RoomRule {
                pattern: "*".into(),
                join: Rule::Public,
                broadcast: Rule::Authenticated,
            },
        ];
        let alice = user("alice");
        assert!(!room_allowed(&rules, "admin:x", &alice, RoomAction::Join));
        assert!(room_allowed(&rules, "lobby", &alice, RoomAction::Broadcast));
        assert!(!room_allowed(
            &rules,
            "lobby",
            &Identity::Public { key: None },
            RoomAction::Broadcast
        ));
        assert!(!room_allowed(&[], "lobby", &alice, RoomAction::Join));
        assert!(room_allowed(
            &[],
            "lobby",
            &Identity::Service { key: None },
            RoomAction::Join
        ));
    }
}
