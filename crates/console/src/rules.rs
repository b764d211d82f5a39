//! Roles and entitlement rules on an application's page: the roles whose users it receives,
//! its rules in words, and "Check rules" with a user (what matched, what it sets, the request;
//! nothing sent).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use roster_directory::targets::Target;
use roster_engine::Engine;
use serde::Deserialize;

use crate::ConsoleState;
use crate::portal::failed;
use crate::targets::{Shown, open, target_page};

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
    Form(form): Form<CheckForm>,
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
