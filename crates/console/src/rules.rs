//! Roles and entitlement rules on an application's page: the roles whose users it receives,
//! its rules in words, and "Check rules" with a user (what matched, what it sets, the request;
//! nothing sent).

use crate::form::PageForm;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use roster_directory::DirectoryError;
use roster_directory::targets::{Target, TargetChange};
use roster_engine::Engine;
use roster_outbound::rules::Roles;
use serde::Deserialize;

use crate::ConsoleState;
use crate::portal::failed;
use crate::targets::{Shown, open, target_page};

/// What the rules section edits: the roles attached, the rules as JSON, the tenant's roles
/// and mappings as JSON, and what the target offers when refreshed.
pub struct Editor {
    pub attached: String,
    pub rules_json: String,
    pub roles_json: String,
    pub role_names: Vec<String>,
    pub offered_groups: Vec<String>,
    pub offered_values: Vec<(String, String)>,
    pub refreshed: bool,
}

impl Editor {
    /// The editor of `target` in `tenant` (drafts kept when a save was refused).
    pub fn of(target: &Target, roles: &Roles, shown: &mut Shown) -> Editor {
        let (offered_groups, offered_values, refreshed) = match shown.offered.take() {
            Some(e) => (
                e.groups,
                e.values
                    .into_iter()
                    .map(|(a, v)| (a, v.join(", ")))
                    .collect(),
                true,
            ),
            None => (Vec::new(), Vec::new(), false),
        };
        Editor {
            attached: shown
                .attached_draft
                .take()
                .unwrap_or_else(|| target.settings.roles.join(", ")),
            rules_json: shown.rules_draft.take().unwrap_or_else(|| {
                serde_json::to_string_pretty(&target.settings.rules).unwrap_or_default()
            }),
            roles_json: shown
                .roles_draft
                .take()
                .unwrap_or_else(|| serde_json::to_string_pretty(roles).unwrap_or_default()),
            role_names: roles.roles.iter().map(|r| r.name.clone()).collect(),
            offered_groups,
            offered_values,
            refreshed,
        }
    }
}

/// The rules form.
#[derive(Debug, Deserialize)]
pub struct RulesForm {
    csrf: String,
    #[serde(default)]
    attached: String,
    #[serde(default)]
    rules: String,
}

/// `POST /portal/{slug}/targets/{id}/rules`: the roles attached and the rules, both or none.
pub async fn save(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<RulesForm>,
) -> Response {
    let (tenant, viewer, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let refuse = |why: String, form: &RulesForm| Shown {
        error: Some(format!("Not saved: {why}")),
        rules_draft: Some(form.rules.clone()),
        attached_draft: Some(form.attached.clone()),
        ..Shown::default()
    };
    let text = if form.rules.trim().is_empty() {
        "[]"
    } else {
        form.rules.as_str()
    };
    let rules: Vec<roster_outbound::rules::Rule> = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let shown = refuse(format!("the rules are not JSON rules: {e}"), &form);
            return target_page(&state, &tenant, &viewer, &t, shown).await;
        }
    };
    let attached: Vec<String> = form
        .attached
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let change = TargetChange {
        roles: Some(attached),
        rules: Some(rules),
        ..TargetChange::default()
    };
    let shown = match state
        .directory
        .change_target(&tenant.id, &t.id, change)
        .await
    {
        Ok(_) => Shown {
            notice: Some(
                "Saved: every user is evaluated again; only the differences are sent.".into(),
            ),
            ..Shown::default()
        },
        Err(DirectoryError::Setting(why)) => refuse(why, &form),
        Err(e) => return failed(&e),
    };
    let t = match state.directory.target(&tenant.id, &t.id).await {
        Ok(t) => t,
        Err(e) => return failed(&e),
    };
    target_page(&state, &tenant, &viewer, &t, shown).await
}

/// The roles form.
#[derive(Debug, Deserialize)]
pub struct RolesForm {
    csrf: String,
    #[serde(default)]
    roles: String,
}

/// `POST /portal/{slug}/targets/{id}/roles`: the organisation's roles and role mappings.
pub async fn save_roles(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<RolesForm>,
) -> Response {
    let (tenant, viewer, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let refuse = |why: String| Shown {
        error: Some(format!("Roles not saved: {why}")),
        roles_draft: Some(form.roles.clone()),
        ..Shown::default()
    };
    let text = if form.roles.trim().is_empty() {
        "{}"
    } else {
        form.roles.as_str()
    };
    let shown = match serde_json::from_str::<Roles>(text) {
        Err(e) => refuse(format!("not roles and mappings: {e}")),
        Ok(roles) => match state.directory.set_roles(&tenant.id, &roles).await {
            Ok(()) => Shown {
                notice: Some("Roles saved.".into()),
                ..Shown::default()
            },
            Err(DirectoryError::Setting(why)) => refuse(why),
            Err(e) => return failed(&e),
        },
    };
    let tenant = match state.directory.find_tenant(tenant.id.as_str()).await {
        Ok(t) => t,
        Err(e) => return failed(&e),
    };
    target_page(&state, &tenant, &viewer, &t, shown).await
}

/// `POST /portal/{slug}/targets/{id}/entitlements`: what the target offers, read now.
pub async fn refresh(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<crate::targets::Plain>,
) -> Response {
    let (tenant, viewer, t) = match open(&state, &headers, &slug, &id, Some(form.csrf())).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let shown = match Engine::one_off(&state.directory, "console")
        .entitlements(&tenant.id, &t.id)
        .await
    {
        Ok(Ok(found)) => Shown {
            offered: Some(found),
            ..Shown::default()
        },
        Ok(Err(e)) => Shown {
            error: Some(format!(
                "The application's entitlements cannot be read: {e}"
            )),
            ..Shown::default()
        },
        Err(e) => return failed(&e),
    };
    target_page(&state, &tenant, &viewer, &t, shown).await
}

/// A rule as the page shows it.
pub struct RuleRow {
    pub name: String,
    pub when: String,
    pub sets: String,
}

/// A check's result as the page shows it.
#[derive(Default)]
pub struct CheckView {
    pub name: String,
    pub roles: Vec<String>,
    pub steps: Vec<String>,
    pub request: String,
    pub body: String,
}

/// The target's rules, in words.
pub fn rows(target: &Target) -> Vec<RuleRow> {
    target
        .settings
        .rules
        .iter()
        .map(|r| RuleRow {
            name: r.name.clone(),
            when: r.conditions.describe(),
            sets: r
                .set
                .iter()
                .map(|s| format!("{} = {}", s.attribute, s.values.join(", ")))
                .collect::<Vec<_>>()
                .join("; "),
        })
        .collect()
}

/// The check form.
#[derive(Debug, Deserialize)]
pub struct CheckForm {
    csrf: String,
    who: String,
}

/// `POST /portal/{slug}/targets/{id}/check`.
pub async fn check(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<CheckForm>,
) -> Response {
    let (tenant, viewer, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let who = form.who.trim().to_owned();
    let user = match crate::targets::find(&state, &tenant, &who).await {
        Ok(Some((roster_store::Kind::User, id))) => id,
        Ok(_) => {
            let shown = Shown {
                error: Some(format!("No user has the userName {who:?}.")),
                ..Shown::default()
            };
            return target_page(&state, &tenant, &viewer, &t, shown).await;
        }
        Err(e) => return failed(&e),
    };
    let checks = match Engine::one_off(&state.directory, "console")
        .check_rules(&tenant.id, &t.id, &[user])
        .await
    {
        Ok(c) => c,
        Err(e) => return failed(&e),
    };
    let shown = match checks.into_iter().next() {
        Some(c) => Shown {
            check: Some(CheckView {
                name: c.name,
                roles: c
                    .roles
                    .iter()
                    .map(|(r, why)| format!("{r} ({why})"))
                    .collect(),
                steps: c.steps,
                request: match (&c.request, &c.error) {
                    (_, Some(e)) => format!("cannot be planned: {e}"),
                    (Some(r), None) => format!("{} {}", r.method, r.path),
                    (None, None) => format!("nothing ({})", c.action),
                },
                body: c
                    .request
                    .as_ref()
                    .and_then(|r| r.body.as_ref())
                    .and_then(|b| serde_json::to_string_pretty(b).ok())
                    .unwrap_or_default(),
            }),
            ..Shown::default()
        },
        None => Shown::default(),
    };
    target_page(&state, &tenant, &viewer, &t, shown).await
}
