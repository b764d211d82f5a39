//! Roles, the mappings that give them, and entitlement rules, as OneLogin's provisioning
//! engine has them (`004_*.txt`): a tenant's **roles**, given to a user directly or by
//! ordered **role mappings** (conditions over the user's attributes and groups, e.g. a member
//! of the group "Office 365" gets the role "Office 365"); a target attached to roles receives
//! their users; and a target's **entitlement rules** set values (licences, app roles, any
//! mapped attribute) from conditions. Conditions are [`Scope`]s: clauses ANDed in a filter,
//! filters ORed, with Entra's operators (`IS MEMBER OF` for groups); none always holds.
//!
//! Pure: the engine asks [`Roles::of`] and [`apply`] with the user as the directory holds it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::scoping::{Membership, Scope};

/// The most roles a tenant has.
pub const MAX_ROLES: usize = 100;
/// The most role mappings a tenant has.
pub const MAX_MAPPINGS: usize = 200;
/// The most users given a role directly.
pub const MAX_DIRECT: usize = 1_000;
/// The most entitlement rules a target has.
pub const MAX_RULES: usize = 200;
/// The most values one rule sets.
pub const MAX_VALUES: usize = 100;

/// A tenant's roles and role mappings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// The roles.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The mappings, in order.
    #[serde(default)]
    pub mappings: Vec<RoleMapping>,
}

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Its name.
    pub name: String,
    /// Users (ids) given it directly.
    #[serde(default)]
    pub users: Vec<String>,
}

/// A role mapping: when its conditions hold, the user has its roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    /// Its name, as the trace shows it.
    pub name: String,
    /// When it applies.
    #[serde(default)]
    pub conditions: Scope,
    /// The roles it gives.
    pub roles: Vec<String>,
}

/// An entitlement rule of a target: when its conditions hold, it sets values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// When it applies.
    #[serde(default)]
    pub conditions: Scope,
    /// What it sets.
    #[serde(default)]
    pub set: Vec<Set>,
    /// The target's groups it puts the user in.
    #[serde(default)]
    pub groups: Option<GroupSet>,
}

/// The target's groups (by display name) a rule puts a user in: a fixed list, and the user's
/// own groups whose names match a pattern (the same names in the target).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSet {
    /// Groups by name.
    #[serde(default)]
    pub names: Vec<String>,
    /// A regular expression on the names of the user's groups at the source.
    #[serde(default)]
    pub source_pattern: Option<String>,
}

/// Values a rule sets on an attribute of the target's object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    /// The target attribute: `entitlements` or `roles` (SCIM's multi-valued complex
    /// attributes, sent as `[{"value": …}]`), another attribute, or `urn:…:attr`.
    pub attribute: String,
    /// The values (licences, SKUs, app roles…).
    pub values: Vec<String>,
}

/// Why roles or rules do not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

fn bad(text: String) -> RuleError {
    RuleError(text)
}

impl Roles {
    /// Checks names, references, bounds and conditions.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.roles.len() > MAX_ROLES {
            return Err(bad(format!("at most {MAX_ROLES} roles")));
        }
        if self.mappings.len() > MAX_MAPPINGS {
            return Err(bad(format!("at most {MAX_MAPPINGS} role mappings")));
        }
        let mut names = std::collections::HashSet::new();
        for role in &self.roles {
            if role.name.trim().is_empty() || role.name.len() > 100 {
                return Err(bad("a role needs a name of up to 100 characters".into()));
            }
            if !names.insert(role.name.as_str()) {
                return Err(bad(format!("two roles are named {:?}", role.name)));
            }
            if role.users.len() > MAX_DIRECT {
                return Err(bad(format!(
                    "role {:?}: at most {MAX_DIRECT} users given it directly; use a mapping",
                    role.name
                )));
            }
        }
        for m in &self.mappings {
            m.conditions
                .validate()
                .map_err(|e| bad(format!("mapping {:?}: {e}", m.name)))?;
            if m.roles.is_empty() {
                return Err(bad(format!("mapping {:?} gives no role", m.name)));
            }
            if let Some(r) = m.roles.iter().find(|r| !names.contains(r.as_str())) {
                return Err(bad(format!(
                    "mapping {:?} gives {r:?}, which is no role",
                    m.name
                )));
            }
        }
        Ok(())
    }

    /// The roles of a user (`id`, its SCIM JSON, its groups), each with why, in the roles'
    /// order.
    pub fn of(&self, id: &str, object: &Json, groups: &[Membership]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for role in &self.roles {
            let why = if role.users.iter().any(|u| u == id) {
                Some("given directly".to_owned())
            } else {
                self.mappings
                    .iter()
                    .filter(|m| m.roles.contains(&role.name))
                    .find(|m| m.conditions.check(object, groups).0)
                    .map(|m| format!("by the mapping {:?}", m.name))
            };
            if let Some(why) = why {
                out.push((role.name.clone(), why));
            }
        }
        out
    }
}

/// Checks a target's rules.
pub fn validate_rules(rules: &[Rule]) -> Result<(), RuleError> {
    if rules.len() > MAX_RULES {
        return Err(bad(format!("at most {MAX_RULES} rules")));
    }
    for rule in rules {
        rule.conditions
            .validate()
            .map_err(|e| bad(format!("rule {:?}: {e}", rule.name)))?;
        let groups = rule.groups.as_ref();
        if rule.set.is_empty()
            && groups.is_none_or(|g| g.names.is_empty() && g.source_pattern.is_none())
        {
            return Err(bad(format!("rule {:?} sets nothing", rule.name)));
        }
        if let Some(g) = groups {
            if g.names.len() > MAX_VALUES || g.names.iter().any(|n| n.trim().is_empty()) {
                return Err(bad(format!(
                    "rule {:?}: at most {MAX_VALUES} groups, each named",
                    rule.name
                )));
            }
            if let Some(p) = &g.source_pattern {
                pattern(p).map_err(|e| bad(format!("rule {:?}: {e}", rule.name)))?;
            }
        }
        for s in &rule.set {
            if s.attribute.trim().is_empty() || s.attribute.len() > 300 {
                return Err(bad(format!(
                    "rule {:?}: an attribute needs a name",
                    rule.name
                )));
            }
            if s.values.len() > MAX_VALUES || s.values.iter().any(|v| v.len() > 1000) {
                return Err(bad(format!(
                    "rule {:?}: at most {MAX_VALUES} values of up to 1000 characters",
                    rule.name
                )));
            }
        }
    }
    Ok(())
}

fn pattern(p: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(p)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("the pattern {p:?} does not read: {e}"))
}

/// The target's groups (by name, sorted) that the rules whose conditions hold put the user in.
pub fn groups(rules: &[Rule], object: &Json, member_of: &[Membership]) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for rule in rules {
        let Some(g) = &rule.groups else { continue };
        if !rule.conditions.check(object, member_of).0 {
            continue;
        }
        out.extend(g.names.iter().cloned());
        if let Some(re) = g.source_pattern.as_deref().and_then(|p| pattern(p).ok()) {
            out.extend(
                member_of
                    .iter()
                    .filter(|m| re.is_match(&m.display_name))
                    .map(|m| m.display_name.clone()),
            );
        }
    }
    out.into_iter().collect()
}

/// SCIM's multi-valued complex attributes, whose values are sent as `{"value": …}`.
fn complex(attribute: &str) -> bool {
    matches!(
        attribute,
        "entitlements" | "roles" | "emails" | "phoneNumbers" | "ims" | "photos"
    )
}

/// Applies the rules whose conditions hold to `body` (the object the target is sent), in
/// order; the values of several rules on one attribute add up. Returns the steps, in words:
/// each rule that matched and what it set, or that none did.
pub fn apply(rules: &[Rule], object: &Json, groups: &[Membership], body: &mut Json) -> Vec<String> {
    if rules.is_empty() {
        return Vec::new();
    }
    let mut steps = Vec::new();
    let mut values: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for rule in rules {
        let (holds, why) = rule.conditions.check(object, groups);
        if !holds {
            continue;
        }
        let why = if rule.conditions.filters.is_empty() {
            "always"
        } else {
            why.trim_start_matches("in scope: ")
        };
        let mut what: Vec<String> = rule
            .set
            .iter()
            .map(|s| format!("{} = {}", s.attribute, s.values.join(", ")))
            .collect();
        if let Some(g) = &rule.groups {
            let mut named = g.names.clone();
            if let Some(p) = &g.source_pattern {
                named.push(format!("the user's groups matching {p:?}"));
            }
            what.push(format!("the target's groups {}", named.join(", ")));
        }
        steps.push(format!(
            "rule {:?} matched ({why}): sets {}",
            rule.name,
            what.join("; ")
        ));
        for s in &rule.set {
            let kept = values.entry(s.attribute.as_str()).or_default();
            for v in &s.values {
                if !kept.contains(&v.as_str()) {
                    kept.push(v);
                }
            }
        }
    }
    if steps.is_empty() {
        steps.push("no entitlement rule matched".into());
    }
    let Some(o) = body.as_object_mut() else {
        return steps;
    };
    for (attribute, vs) in values {
        let value = if complex(attribute) {
            Json::Array(vs.iter().map(|v| json!({"value": v})).collect())
        } else if vs.len() == 1 {
            json!(vs[0])
        } else {
            json!(vs)
        };
        match attribute.rsplit_once(':') {
            Some((urn, attr)) if attribute.starts_with("urn:") => {
                let ext = o.entry(urn.to_owned()).or_insert_with(|| json!({}));
                if let Some(e) = ext.as_object_mut() {
                    e.insert(attr.to_owned(), value);
                }
                if let Some(schemas) = o.get_mut("schemas").and_then(Json::as_array_mut)
                    && !schemas.iter().any(|s| s == urn)
                {
                    schemas.push(json!(urn));
                }
            }
            _ => {
                o.insert(attribute.to_owned(), value);
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str) -> Membership {
        Membership {
            id: format!("g-{name}"),
            display_name: name.into(),
        }
    }

    fn scope(json: Json) -> Scope {
        serde_json::from_value(json).expect("a scope")
    }

    /// OneLogin's walkthrough: members of the group "Office 365" get the role "Office 365";
    /// a rule gives licence values to the users of a department.
    fn onelogin() -> (Roles, Vec<Rule>) {
        let roles = Roles {
            roles: vec![
                Role {
                    name: "Office 365".into(),
                    users: vec![],
                },
                Role {
                    name: "Admins".into(),
                    users: vec!["u-root".into()],
                },
            ],
            mappings: vec![RoleMapping {
                name: "Office 365 group".into(),
                conditions: scope(json!([{"clauses": [
                    {"operator": "IS_MEMBER_OF", "value": "Office 365"}]}])),
                roles: vec!["Office 365".into()],
            }],
        };
        let rules = vec![
            Rule {
                name: "E3 for Sales".into(),
                conditions: scope(json!([{"clauses": [
                    {"attribute": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                     "operator": "EQUALS", "value": "Sales"}]}])),
                set: vec![Set {
                    attribute: "entitlements".into(),
                    values: vec!["ENTERPRISEPACK".into()],
                }],
                groups: None,
            },
            Rule {
                name: "Everyone".into(),
                conditions: Scope::default(),
                set: vec![
                    Set {
                        attribute: "entitlements".into(),
                        values: vec!["EXCHANGESTANDARD".into(), "ENTERPRISEPACK".into()],
                    },
                    Set {
                        attribute: "urn:example:2.0:User:usageLocation".into(),
                        values: vec!["GB".into()],
                    },
                ],
                groups: None,
            },
        ];
        (roles, rules)
    }

    #[test]
    fn roles_come_from_mappings_and_direct_grants() {
        let (roles, _) = onelogin();
        roles.validate().expect("valid");
        let user = json!({"userName": "ada@contoso.com"});
        let got = roles.of("u-ada", &user, &[member("Office 365")]);
        assert_eq!(
            got,
            [(
                "Office 365".to_owned(),
                "by the mapping \"Office 365 group\"".to_owned()
            )]
        );
        assert!(roles.of("u-bob", &user, &[member("Sales")]).is_empty());
        assert_eq!(roles.of("u-root", &user, &[])[0].0, "Admins");
    }

    #[test]
    fn bad_roles_and_rules_are_refused_by_name() {
        let (mut roles, mut rules) = onelogin();
        roles.mappings[0].roles = vec!["Nobody".into()];
        assert!(
            roles
                .validate()
                .unwrap_err()
                .0
                .contains("\"Nobody\", which is no role")
        );
        roles.roles.push(roles.roles[0].clone());
        assert!(roles.validate().unwrap_err().0.contains("two roles"));
        rules[0].set.clear();
        assert!(
            validate_rules(&rules)
                .unwrap_err()
                .0
                .contains("sets nothing")
        );
    }

    #[test]
    fn matching_rules_add_up_in_order() {
        let (_, rules) = onelogin();
        validate_rules(&rules).expect("valid");
        let user = json!({"userName": "ada@contoso.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"}});
        let mut body = json!({"userName": "ada@contoso.com", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]});
        let steps = apply(&rules, &user, &[], &mut body);
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert!(
            steps[0].starts_with("rule \"E3 for Sales\" matched"),
            "{steps:?}"
        );
        assert_eq!(
            body["entitlements"],
            json!([{"value": "ENTERPRISEPACK"}, {"value": "EXCHANGESTANDARD"}])
        );
        assert_eq!(body["urn:example:2.0:User"]["usageLocation"], "GB");
        assert!(
            body["schemas"]
                .as_array()
                .unwrap()
                .contains(&json!("urn:example:2.0:User"))
        );

        let mut with_groups = rules.clone();
        with_groups[0].groups = Some(GroupSet {
            names: vec!["Licensed".into()],
            source_pattern: Some("^O365-".into()),
        });
        validate_rules(&with_groups).expect("valid");
        let member_of = [member("O365-Pilot"), member("Sales")];
        assert_eq!(
            groups(&with_groups, &user, &member_of),
            ["Licensed", "O365-Pilot"]
        );
        assert!(groups(&with_groups, &json!({"userName": "bob"}), &member_of).is_empty());
        with_groups[0].groups = Some(GroupSet {
            names: vec![],
            source_pattern: Some("(".into()),
        });
        assert!(
            validate_rules(&with_groups)
                .unwrap_err()
                .0
                .contains("does not read")
        );

        let mut other = json!({"userName": "bob@contoso.com"});
        let steps = apply(&rules[..1], &json!({"userName": "bob"}), &[], &mut other);
        assert_eq!(steps, ["no entitlement rule matched"]);
        assert!(other.get("entitlements").is_none());
    }
}
