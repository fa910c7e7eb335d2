//! Access rules: per-collection rules for read/create/update/delete, checked in memory.

use super::Identity;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Any credential, including public keys.
    Public,
    /// Any valid user JWT.
    Authenticated,
    /// The document's owner (for create: any user, who becomes the owner).
    Owner,
    /// A user whose `role` claim equals this.
    Role(String),
    /// Service keys only.
    Service,
}

/// A rule string that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid rule {0:?}: expected public, authenticated, owner, role:<name> or service")]
pub struct RuleError(pub String);

impl Rule {
    /// Parses `public`, `authenticated`, `owner`, `role:<name>` or `service`.
    pub fn parse(s: &str) -> Result<Rule, RuleError> {
        Ok(match s {
            "public" => Rule::Public,
            "authenticated" => Rule::Authenticated,
            "owner" => Rule::Owner,
            "service" => Rule::Service,
            _ => match s.strip_prefix("role:") {
                Some(r) if !r.is_empty() && r.len() <= 64 => Rule::Role(r.to_owned()),
                _ => return Err(RuleError(s.to_owned())),
            },
        })
    }

    /// Whether the identity passes this rule regardless of any document.
    pub fn admits(&self, who: &Identity) -> bool {
        match (self, who) {
            (_, Identity::Service { .. }) => true,
            (Rule::Public, _) => true,
            (Rule::Authenticated | Rule::Owner, Identity::User { .. }) => true,
            (Rule::Role(r), Identity::User { role: Some(have), .. }) => **have == **r,
            _ => false,
        }
    }

    /// Whether the identity passes this rule for a document with this owner.
    pub fn allows(&self, who: &Identity, owner: Option<&str>) -> bool {
        match (self, who) {
            (_, Identity::Service { .. }) => true,
            (Rule::Owner, Identity::User { sub, .. }) => owner == Some(&**sub),
            _ => self.admits(who),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Public => f.write_str("public"),
            Rule::Authenticated => f.write_str("authenticated"),
            Rule::Owner => f.write_str("owner"),
            Rule::Role(r) => write!(f, "role:{r}"),
            Rule::Service => f.write_str("service"),
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Rule::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The operations a collection rule governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Reading documents (get, list, subscribe, events).
    Read,
    /// Creating documents.
    Create,
    /// Updating documents.
    Update,
    /// Deleting documents.
    Delete,
}

/// The four rules of one collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CollectionRules {
    /// Who may read.
    pub read: Rule,
    /// Who may create.
    pub create: Rule,
    /// Who may update.
    pub update: Rule,
    /// Who may delete.
    pub delete: Rule,
}

impl CollectionRules {
    /// The rule for an operation.
    pub fn rule(&self, op: Op) -> &Rule {
        match op {
            Op::Read => &self.read,
            Op::Create => &self.create,
            Op::Update => &self.update,
            Op::Delete => &self.delete,
        }
    }

    /// Parses `read=owner,create=authenticated,…`; unnamed operations default to `service`.
    pub fn parse_list(s: &str) -> Result<CollectionRules, RuleError> {
        let mut rules = CollectionRules::service_only();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, rule) = part.split_once('=').ok_or_else(|| RuleError(part.to_owned()))?;
            let rule = Rule::parse(rule.trim())?;
            match op.trim() {
                "read" => rules.read = rule,
                "create" => rules.create = rule,
                "update" => rules.update = rule,
                "delete" => rules.delete = rule,
                _ => return Err(RuleError(part.to_owned())),
            }
        }
        Ok(rules)
    }

    /// Every operation restricted to service keys.
    pub fn service_only() -> CollectionRules {
        CollectionRules {
            read: Rule::Service,
            create: Rule::Service,
            update: Rule::Service,
            delete: Rule::Service,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn user(sub: &str, role: Option<&str>) -> Identity {
        Identity::User {
            sub: Arc::from(sub),
            role: role.map(Arc::from),
            exp: i64::MAX,
        }
    }

    #[test]
    fn rule_matrix() {
        let service = Identity::Service { key: None };
        let public = Identity::Public { key: None };
        let alice = user("alice", Some("editor"));
        let bob = user("bob", None);
        let cases: &[(&str, &Identity, Option<&str>, bool)] = &[
            ("public", &public, None, true),
            ("public", &bob, None, true),
            ("authenticated", &public, None, false),
            ("authenticated", &bob, None, true),
            ("owner", &alice, Some("alice"), true),
            ("owner", &bob, Some("alice"), false),
            ("owner", &public, None, false),
            ("role:editor", &alice, None, true),
            ("role:editor", &bob, None, false),
            ("service", &alice, Some("alice"), false),
            ("service", &service, None, true),
            ("owner", &service, Some("alice"), true),
        ];
        for (rule, who, owner, want) in cases {
            let rule = Rule::parse(rule).expect("rule");
            assert_eq!(rule.allows(who, *owner), *want, "{rule} {who:?} {owner:?}");
        }
        assert!(Rule::parse("role:").is_err());
        assert!(Rule::parse("everyone").is_err());
    }

    #[test]
    fn parses_rule_lists() {
        let r = CollectionRules::parse_list("read=public, create=owner").expect("rules");
        assert_eq!(r.read, Rule::Public);
        assert_eq!(r.create, Rule::Owner);
        assert_eq!(r.delete, Rule::Service);
        assert!(CollectionRules::parse_list("write=public").is_err());
    }
}
