//! The claims the host application receives about a signed-in user, from the user as
//! provisioned (not as the identity provider's assertion put it: the directory is the source
//! of truth the application already syncs with).

use roster_store::{StoredResource, Tenant};
use serde_json::{Map, Value, json};

use crate::state::Session;

fn text<'a>(data: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(data, |v, key| v.get(*key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The user's e-mail: the primary one, else the work one, else the first, else a userName that
/// is an address.
pub fn email(user: &StoredResource) -> Option<String> {
    let emails = user.data.get("emails").and_then(Value::as_array);
    let pick = |want: &dyn Fn(&Value) -> bool| {
        emails
            .into_iter()
            .flatten()
            .find(|e| want(e))
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    pick(&|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| pick(&|e| e.get("type").and_then(Value::as_str) == Some("work")))
        .or_else(|| pick(&|_| true))
        .or_else(|| {
            text(&user.data, &["userName"])
                .filter(|n| n.contains('@'))
                .map(str::to_owned)
        })
}

/// The user's name, given and family names, username, e-mail, organisation, groups, and how
/// they signed in. The e-mail is verified when its domain is one the organisation verified
/// (`domains`): the organisation owns the domain and its identity provider gave the address.
pub fn user_claims(
    user: &StoredResource,
    tenant: &Tenant,
    session: &Session,
    domains: &[String],
) -> Map<String, Value> {
    let data = &user.data;
    let given = text(data, &["name", "givenName"]);
    let family = text(data, &["name", "familyName"]);
    let name = text(data, &["displayName"])
        .or_else(|| text(data, &["name", "formatted"]))
        .map(str::to_owned)
        .or_else(|| match (given, family) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
            (None, None) => None,
        });
    let groups: Vec<&str> = user
        .groups
        .iter()
        .flatten()
        .map(|g| g.display.as_str())
        .collect();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id));
    claims.insert(
        "preferred_username".into(),
        json!(text(data, &["userName"]).unwrap_or_default()),
    );
    if let Some(email) = email(user) {
        claims.insert("email".into(), json!(email));
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
        let verified = domain.is_some_and(|d| domains.contains(&d));
        claims.insert("email_verified".into(), json!(verified));
    }
    if let Some(name) = name {
        claims.insert("name".into(), json!(name));
    }
    if let Some(given) = given {
        claims.insert("given_name".into(), json!(given));
    }
    if let Some(family) = family {
        claims.insert("family_name".into(), json!(family));
    }
    claims.insert("org_id".into(), json!(tenant.id.as_str()));
    claims.insert("org_name".into(), json!(tenant.name));
    claims.insert("groups".into(), json!(groups));
    claims.insert("idp".into(), json!(session.connection));
    claims.insert("amr".into(), json!(session.amr));
    claims.insert("auth_time".into(), json!(session.auth_time));
    claims
}
