//! The plan for one object: what to send a target so that it holds what the mappings give for
//! the object, and nothing more than that.
//!
//! - What the engine knows of the object in the target is [`Known`]: its id there, a digest of
//!   what was last sent, and which attributes that was. An object whose mapped value has the
//!   same digest is not sent again.
//! - An object with no known id is looked up first, by its matching attributes in order of
//!   precedence; only when none finds it is it created (so a cycle resumed after a crash does
//!   not create anything twice).
//! - An object that left the scope is deactivated (`active: false`, Entra's soft delete) when
//!   it is a user and deleted when it is a group; one deleted at the source is deleted.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

/// What the engine keeps about an object it provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// The object's id in the target.
    pub target_id: String,
    /// The digest of what was last sent ([`digest`]).
    pub digest: String,
    /// The top-level attributes last sent (to remove those a change leaves empty).
    pub sent: Vec<String>,
    /// Whether it was last left deactivated (out of scope).
    #[serde(default)]
    pub deactivated: bool,
}

/// Where the object stands at the source.
#[derive(Debug, Clone, PartialEq)]
pub enum AtSource {
    /// In scope, with what the mappings give: on create and on update (`OnCreate` mappings
    /// only in the first).
    InScope {
        /// The body to create it with.
        create: Json,
        /// The values to keep it at.
        update: Json,
        /// The matching attributes and their values, by precedence.
        matching: Vec<(String, String)>,
    },
    /// Out of scope (a scoping filter, not assigned).
    OutOfScope,
    /// Deleted.
    Deleted,
}

/// Users or groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Users: leaving scope deactivates.
    User,
    /// Groups: leaving scope deletes.
    Group,
}

/// One SCIM PATCH operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchOp {
    /// `add`, `replace` or `remove`.
    pub op: &'static str,
    /// The attribute path.
    pub path: String,
    /// The value (none for `remove`).
    pub value: Option<Json>,
}

impl PatchOp {
    /// As SCIM JSON.
    pub fn to_json(&self) -> Json {
        let mut o = Map::new();
        o.insert("op".into(), json!(self.op));
        o.insert("path".into(), json!(self.path));
        if let Some(v) = &self.value {
            o.insert("value".into(), v.clone());
        }
        Json::Object(o)
    }
}

/// What to do next for an object.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing: the target already holds it (or never had it).
    Nothing(&'static str),
    /// Look it up by these attributes (the first that finds exactly one object wins), then
    /// plan again with what was found.
    Lookup(Vec<(String, String)>),
    /// Create it with this body.
    Create(Json),
    /// Change it in place.
    Update {
        /// Its id in the target.
        target_id: String,
        /// The operations (for a target without PATCH, [`put_body`] gives the whole object).
        ops: Vec<PatchOp>,
    },
    /// Deactivate it (`active: false`).
    Deactivate(String),
    /// Delete it.
    Delete(String),
}

/// The digest of a body: SHA-256 of its JSON with keys sorted, as hex.
pub fn digest(body: &Json) -> String {
    fn sorted(v: &Json) -> Json {
        match v {
            Json::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Json::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Json::Array(a) => Json::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let text = sorted(body).to_string();
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The top-level attributes a body sets (besides `schemas`).
pub fn attributes(body: &Json) -> Vec<String> {
    body.as_object()
        .map(|o| o.keys().filter(|k| *k != "schemas").cloned().collect())
        .unwrap_or_default()
}

/// What to do for an object: where it stands at the source, what is known of it in the
/// target, and (after a [`Action::Lookup`]) the id the lookup found, if any.
pub fn plan(kind: Kind, at_source: &AtSource, known: Option<&Known>, found: Lookup) -> Action {
    match (at_source, known) {
        (AtSource::Deleted, Some(k)) => Action::Delete(k.target_id.clone()),
        (AtSource::Deleted, None) => Action::Nothing("deleted, and never provisioned"),
        (AtSource::OutOfScope, None) => Action::Nothing("out of scope, and never provisioned"),
        (AtSource::OutOfScope, Some(k)) => match kind {
            Kind::Group => Action::Delete(k.target_id.clone()),
            Kind::User if k.deactivated => Action::Nothing("out of scope, already deactivated"),
            Kind::User => Action::Deactivate(k.target_id.clone()),
        },
        (AtSource::InScope { update, .. }, Some(k)) => {
            if k.digest == digest(update) && !k.deactivated {
                return Action::Nothing("the target already holds these values");
            }
            Action::Update {
                target_id: k.target_id.clone(),
                ops: update_ops(update, &k.sent),
            }
        }
        (
            AtSource::InScope {
                create,
                update,
                matching,
            },
            None,
        ) => match found {
            Lookup::NotYet if !matching.is_empty() => Action::Lookup(matching.clone()),
            Lookup::NotYet | Lookup::NotFound => Action::Create(create.clone()),
            Lookup::Found(target_id) => Action::Update {
                target_id,
                ops: update_ops(update, &[]),
            },
        },
    }
}

/// What a lookup by matching attributes found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// No lookup was made yet.
    NotYet,
    /// No object matched.
    NotFound,
    /// This object matched.
    Found(String),
}

/// `replace` for every attribute the body sets, `remove` for those sent before and not now.
fn update_ops(update: &Json, sent_before: &[String]) -> Vec<PatchOp> {
    let now = attributes(update);
    let mut ops: Vec<PatchOp> = now
        .iter()
        .map(|a| PatchOp {
            op: "replace",
            path: a.clone(),
            value: update.get(a).cloned(),
        })
        .collect();
    ops.extend(
        sent_before
            .iter()
            .filter(|a| !now.contains(a))
            .map(|a| PatchOp {
                op: "remove",
                path: a.clone(),
                value: None,
            }),
    );
    ops
}

/// What leaving the scope does to a user in the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leaving {
    /// `active: false` (Entra's soft delete), the default.
    Deactivate,
    /// Deleted.
    Delete,
    /// Left as it is.
    Nothing,
}

/// Which actions a target allows, as Okta's *To App* page switches them, and whether a
/// password is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Create users and groups.
    pub create: bool,
    /// Update their attributes.
    pub update: bool,
    /// Deactivate users (`active: false`).
    pub deactivate: bool,
    /// Delete users and groups.
    pub delete: bool,
    /// What leaving the scope does.
    pub leaving_scope: Leaving,
    /// What deletion at the source does (OneLogin's deprovisioning action; with `leaving_scope`
    /// the deprovision policy): delete (the default), deactivate (suspend) or nothing.
    pub on_source_delete: Leaving,
    /// Send a password on create and on each change (a random one per user: the source never
    /// holds one in clear).
    pub sync_password: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            create: true,
            update: true,
            deactivate: true,
            delete: true,
            leaving_scope: Leaving::Deactivate,
            on_source_delete: Leaving::Delete,
            sync_password: false,
        }
    }
}

/// The planned action, under the target's policy: a switched-off action becomes nothing (or,
/// for a user deleted at the source where deleting is off, a deactivation), and leaving the
/// scope does what the policy says.
pub fn restrict(
    kind: Kind,
    at_source: &AtSource,
    known: Option<&Known>,
    action: Action,
    policy: &Policy,
) -> Action {
    let deactivated = known.is_some_and(|k| k.deactivated);
    match action {
        Action::Create(_) if !policy.create => {
            Action::Nothing("creating is switched off for this target")
        }
        Action::Update { .. } if !policy.update => {
            Action::Nothing("updating is switched off for this target")
        }
        Action::Deactivate(id) => match policy.leaving_scope {
            Leaving::Nothing => Action::Nothing("leaving the scope changes nothing (the policy)"),
            Leaving::Delete if policy.delete => Action::Delete(id),
            Leaving::Delete => Action::Nothing("deleting is switched off for this target"),
            Leaving::Deactivate if policy.deactivate => Action::Deactivate(id),
            Leaving::Deactivate => Action::Nothing("deactivating is switched off for this target"),
        },
        Action::Delete(id) => {
            let leaving = matches!(at_source, AtSource::OutOfScope);
            let suspend = kind == Kind::User && policy.deactivate && !deactivated;
            if leaving && policy.leaving_scope == Leaving::Nothing {
                Action::Nothing("leaving the scope changes nothing (the policy)")
            } else if !leaving && policy.on_source_delete == Leaving::Nothing {
                Action::Nothing("deletion at the source changes nothing (the policy)")
            } else if !leaving && policy.on_source_delete == Leaving::Deactivate {
                if suspend {
                    Action::Deactivate(id)
                } else if deactivated {
                    Action::Nothing("already deactivated in the target")
                } else {
                    Action::Nothing("deletion at the source deactivates, which this cannot be")
                }
            } else if policy.delete {
                Action::Delete(id)
            } else if suspend {
                Action::Deactivate(id)
            } else {
                Action::Nothing("deleting is switched off for this target")
            }
        }
        other => other,
    }
}

/// The action with a password: in the body of a create, as one more operation of an update.
pub fn with_password(action: Action, password: &str) -> Action {
    match action {
        Action::Create(mut body) => {
            if let Some(o) = body.as_object_mut() {
                o.insert("password".into(), json!(password));
            }
            Action::Create(body)
        }
        Action::Update { target_id, mut ops } => {
            ops.push(PatchOp {
                op: "replace",
                path: "password".into(),
                value: Some(json!(password)),
            });
            Action::Update { target_id, ops }
        }
        other => other,
    }
}

/// The whole object for a target without PATCH (`PUT`): the update body with its id.
pub fn put_body(update: &Json, target_id: &str) -> Json {
    let mut body = update.clone();
    if let Some(o) = body.as_object_mut() {
        o.insert("id".into(), json!(target_id));
    }
    body
}

/// The PATCH operations that change a group's members from `before` to `after` (target ids),
/// in requests of at most `per_request` operations' worth of members each.
pub fn member_ops(before: &[String], after: &[String], per_request: usize) -> Vec<Vec<PatchOp>> {
    let per_request = per_request.max(1);
    let added: Vec<&String> = after.iter().filter(|m| !before.contains(m)).collect();
    let removed: Vec<&String> = before.iter().filter(|m| !after.contains(m)).collect();
    let mut requests = Vec::new();
    for chunk in added.chunks(per_request) {
        requests.push(vec![PatchOp {
            op: "add",
            path: "members".into(),
            value: Some(Json::Array(
                chunk.iter().map(|id| json!({"value": id})).collect(),
            )),
        }]);
    }
    for chunk in removed.chunks(per_request) {
        requests.push(
            chunk
                .iter()
                .map(|id| PatchOp {
                    op: "remove",
                    path: format!("members[value eq \"{id}\"]"),
                    value: None,
                })
                .collect(),
        );
    }
    requests
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_scope(update: Json) -> AtSource {
        AtSource::InScope {
            create: update.clone(),
            update,
            matching: vec![("userName".into(), "ada@contoso.com".into())],
        }
    }

    fn known(body: &Json) -> Known {
        Known {
            target_id: "t1".into(),
            digest: digest(body),
            sent: attributes(body),
            deactivated: false,
        }
    }

    #[test]
    fn a_new_object_is_looked_up_before_it_is_created() {
        let body = json!({"userName": "ada@contoso.com", "active": true});
        let at = in_scope(body.clone());
        assert_eq!(
            plan(Kind::User, &at, None, Lookup::NotYet),
            Action::Lookup(vec![("userName".into(), "ada@contoso.com".into())])
        );
        assert_eq!(
            plan(Kind::User, &at, None, Lookup::NotFound),
            Action::Create(body.clone())
        );
        let Action::Update { target_id, ops } =
            plan(Kind::User, &at, None, Lookup::Found("t9".into()))
        else {
            panic!("an update of what the lookup found");
        };
        assert_eq!(target_id, "t9");
        assert_eq!(ops.len(), 2);
    }

    #[test]
    fn nothing_equal_is_sent_again_and_a_change_sends_its_attributes() {
        let before = json!({"userName": "ada@contoso.com", "title": "Engineer", "active": true});
        let k = known(&before);
        assert!(matches!(
            plan(
                Kind::User,
                &in_scope(before.clone()),
                Some(&k),
                Lookup::NotYet
            ),
            Action::Nothing(_)
        ));
        let after = json!({"userName": "ada@contoso.com", "active": true, "displayName": "Ada"});
        let Action::Update { ops, .. } =
            plan(Kind::User, &in_scope(after), Some(&k), Lookup::NotYet)
        else {
            panic!("an update");
        };
        let shown: Vec<(&str, &str)> = ops.iter().map(|o| (o.op, o.path.as_str())).collect();
        assert_eq!(
            shown,
            [
                ("replace", "userName"),
                ("replace", "active"),
                ("replace", "displayName"),
                ("remove", "title")
            ]
        );
        assert_eq!(
            digest(&json!({"a": 1, "b": 2})),
            digest(&json!({"b": 2, "a": 1}))
        );
    }

    #[test]
    fn leaving_scope_and_deletion() {
        let body = json!({"userName": "ada@contoso.com"});
        let k = known(&body);
        assert_eq!(
            plan(Kind::User, &AtSource::OutOfScope, Some(&k), Lookup::NotYet),
            Action::Deactivate("t1".into())
        );
        let off = Known {
            deactivated: true,
            ..k.clone()
        };
        assert!(matches!(
            plan(
                Kind::User,
                &AtSource::OutOfScope,
                Some(&off),
                Lookup::NotYet
            ),
            Action::Nothing(_)
        ));
        assert!(
            matches!(
                plan(
                    Kind::User,
                    &in_scope(body.clone()),
                    Some(&off),
                    Lookup::NotYet
                ),
                Action::Update { .. }
            ),
            "back in scope: sent again"
        );
        assert_eq!(
            plan(Kind::Group, &AtSource::OutOfScope, Some(&k), Lookup::NotYet),
            Action::Delete("t1".into())
        );
        assert_eq!(
            plan(Kind::User, &AtSource::Deleted, Some(&k), Lookup::NotYet),
            Action::Delete("t1".into())
        );
        assert!(matches!(
            plan(Kind::User, &AtSource::Deleted, None, Lookup::NotYet),
            Action::Nothing(_)
        ));
    }

    #[test]
    fn the_policy_switches_actions_off_and_says_what_leaving_the_scope_does() {
        let body = json!({"userName": "ada@contoso.com"});
        let k = known(&body);
        let all = Policy::default();
        let at = in_scope(body.clone());
        let create = plan(Kind::User, &at, None, Lookup::NotFound);
        let no_create = Policy {
            create: false,
            ..all
        };
        assert!(matches!(
            restrict(Kind::User, &at, None, create.clone(), &no_create),
            Action::Nothing(why) if why.contains("creating")
        ));
        assert_eq!(
            restrict(Kind::User, &at, None, create.clone(), &all),
            create
        );
        let leave = plan(Kind::User, &AtSource::OutOfScope, Some(&k), Lookup::NotYet);
        let delete_on_leave = Policy {
            leaving_scope: Leaving::Delete,
            ..all
        };
        assert_eq!(
            restrict(
                Kind::User,
                &AtSource::OutOfScope,
                Some(&k),
                leave.clone(),
                &delete_on_leave
            ),
            Action::Delete("t1".into())
        );
        let keep = Policy {
            leaving_scope: Leaving::Nothing,
            ..all
        };
        assert!(matches!(
            restrict(Kind::User, &AtSource::OutOfScope, Some(&k), leave, &keep),
            Action::Nothing(_)
        ));
        let group_leaves = plan(Kind::Group, &AtSource::OutOfScope, Some(&k), Lookup::NotYet);
        assert!(matches!(
            restrict(
                Kind::Group,
                &AtSource::OutOfScope,
                Some(&k),
                group_leaves,
                &keep
            ),
            Action::Nothing(_)
        ));
        // Deleted at the source with deleting off: deactivated instead, once.
        let deleted = plan(Kind::User, &AtSource::Deleted, Some(&k), Lookup::NotYet);
        let no_delete = Policy {
            delete: false,
            ..all
        };
        assert_eq!(
            restrict(
                Kind::User,
                &AtSource::Deleted,
                Some(&k),
                deleted.clone(),
                &no_delete
            ),
            Action::Deactivate("t1".into())
        );
        let off = Known {
            deactivated: true,
            ..k.clone()
        };
        assert!(matches!(
            restrict(
                Kind::User,
                &AtSource::Deleted,
                Some(&off),
                deleted.clone(),
                &no_delete
            ),
            Action::Nothing(_)
        ));
        // The deprovision policy for deletion at the source: suspend, or nothing.
        let suspend = Policy {
            on_source_delete: Leaving::Deactivate,
            ..all
        };
        assert_eq!(
            restrict(
                Kind::User,
                &AtSource::Deleted,
                Some(&k),
                deleted.clone(),
                &suspend
            ),
            Action::Deactivate("t1".into())
        );
        assert!(
            matches!(
                restrict(
                    Kind::Group,
                    &AtSource::Deleted,
                    Some(&k),
                    deleted.clone(),
                    &suspend
                ),
                Action::Nothing(_)
            ),
            "a group cannot be suspended"
        );
        let nothing = Policy {
            on_source_delete: Leaving::Nothing,
            ..all
        };
        assert!(matches!(
            restrict(Kind::User, &AtSource::Deleted, Some(&k), deleted.clone(), &nothing),
            Action::Nothing(why) if why.contains("deletion at the source")
        ));
        assert_eq!(
            restrict(Kind::User, &AtSource::Deleted, Some(&k), deleted, &all),
            Action::Delete("t1".into()),
            "deleted by default"
        );
        // A password goes in the create's body and as one more replace of an update.
        let Action::Create(with) = with_password(create, "S3cret!") else {
            panic!("a create");
        };
        assert_eq!(with["password"], "S3cret!");
        let changed = json!({"userName": "ada@contoso.com", "title": "CTO"});
        let Action::Update { ops, .. } = with_password(
            plan(Kind::User, &in_scope(changed), Some(&k), Lookup::NotYet),
            "S3cret!",
        ) else {
            panic!("an update");
        };
        assert_eq!(ops.last().map(|o| o.path.as_str()), Some("password"));
    }

    #[test]
    fn members_are_added_and_removed_in_bounded_requests() {
        let ids = |r: std::ops::Range<u32>| r.map(|i| format!("m{i}")).collect::<Vec<_>>();
        let requests = member_ops(&ids(0..5), &ids(3..10), 3);
        // 5 added (m5..m9) in 2 requests, 3 removed (m0..m2) in 1.
        assert_eq!(requests.len(), 3);
        assert_eq!(
            requests[0][0].to_json(),
            json!({"op": "add", "path": "members", "value": [{"value": "m5"}, {"value": "m6"}, {"value": "m7"}]})
        );
        assert_eq!(requests[2].len(), 3);
        assert_eq!(requests[2][0].path, "members[value eq \"m0\"]");
        assert!(member_ops(&ids(0..3), &ids(0..3), 10).is_empty());
        assert_eq!(
            put_body(&json!({"userName": "a"}), "t1"),
            json!({"userName": "a", "id": "t1"})
        );
    }
}
