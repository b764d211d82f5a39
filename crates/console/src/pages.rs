//! The templates (`templates/`) and what each is given.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use roster_directory::TenantSettings;
use roster_directory::settings::{PatchResponse, UnknownMembers};

use crate::assets::{css_url, htmx_url, js_url};
use crate::html;
use crate::session::Viewer;
use crate::view::{Paste, TokenRow};

/// What every page has around its content.
pub struct Chrome {
    /// The stylesheet's URL.
    pub css: String,
    /// The script's URL.
    pub js: String,
    /// htmx's URL.
    pub htmx: String,
    /// Who is signed in, as the header says it.
    pub who: Option<String>,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: Option<String>,
    /// Whether the viewer is an operator (the header links to the tenants).
    pub operator: bool,
}

impl Chrome {
    /// The chrome of a page seen by `viewer`.
    pub fn of(viewer: Option<&Viewer>) -> Chrome {
        Chrome {
            css: css_url(),
            js: js_url(),
            htmx: htmx_url(),
            who: viewer.map(|v| match &v.operator {
                Some(o) => o.email.clone(),
                None => "Administrator".to_owned(),
            }),
            csrf: viewer.map(|v| v.session.csrf.clone()),
            operator: viewer.is_some_and(|v| v.operator.is_some()),
        }
    }
}

/// A page that says one thing.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub chrome: Chrome,
    pub title: String,
    pub text: String,
    pub link: Option<(String, String)>,
}

/// Renders a template, or says that it could not.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>An internal error occurred.</p>".into(),
            )
        }
    }
}

/// A page that says one thing, with a status.
pub fn message(status: StatusCode, viewer: Option<&Viewer>, title: &str, text: &str) -> Response {
    render(
        status,
        &Message {
            chrome: Chrome::of(viewer),
            title: title.to_owned(),
            text: text.to_owned(),
            link: None,
        },
    )
}

/// The answer for a page that does not exist or that the viewer may not open: the same, so
/// that an address names no tenant it may not see.
pub fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        None,
        "Page not found",
        "This page does not exist, or your session does not open it. If you came from a setup \
         link, it may have expired or been used already: ask for a new one.",
    )
}

/// A tenant's settings as the form shows them.
pub struct SettingsForm {
    pub provisioning: bool,
    pub groups: bool,
    pub compatibility: String,
    pub patch_response: String,
    pub unknown_members: String,
    pub access_token_minutes: u32,
    pub user_attributes: String,
    /// Empty when off.
    pub hold_threshold: String,
}

impl SettingsForm {
    /// The form of `settings`.
    pub fn of(settings: &TenantSettings) -> SettingsForm {
        SettingsForm {
            provisioning: settings.provisioning,
            groups: settings.groups,
            compatibility: settings.compatibility.as_str().to_owned(),
            patch_response: match settings.patch_response {
                PatchResponse::Resource => "resource",
                PatchResponse::NoContent => "no-content",
            }
            .to_owned(),
            unknown_members: match settings.unknown_members {
                UnknownMembers::Refuse => "refuse",
                UnknownMembers::Ignore => "ignore",
            }
            .to_owned(),
            access_token_minutes: settings.access_token_minutes,
            hold_threshold: settings
                .hold_threshold
                .map(|t| t.to_string())
                .unwrap_or_default(),
            user_attributes: settings
                .user_attributes
                .iter()
                .map(|a| {
                    format!(
                        "{}:{}{}",
                        a.name,
                        a.ty,
                        if a.multi_valued { "[]" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// A token shown once (just made) or again (the eye).
pub struct Shown {
    pub heading: String,
    pub token: String,
}

/// An OAuth client as a row.
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub created: String,
}

/// The Provisioning & SSO page.
#[derive(Template)]
#[template(path = "portal.html")]
pub struct Portal {
    /// The mass-change hold, while one is active.
    pub hold: Option<crate::hold::HoldBanner>,
    pub sso: crate::sso::SsoSection,
    pub clients: Vec<ClientRow>,
    pub new_client: Option<(String, String)>,
    pub chrome: Chrome,
    pub tenant_name: String,
    pub slug: String,
    pub plan: String,
    pub provisioning_included: bool,
    pub provisioning_url: String,
    pub token_endpoint: String,
    pub tokens: Vec<TokenRow>,
    pub shown: Option<Shown>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub paste: Vec<Paste>,
    pub settings: SettingsForm,
    pub lifetimes: Vec<(&'static str, &'static str)>,
    /// On a rotation, when the current tokens stop working.
    pub grace: Vec<(&'static str, &'static str)>,
    pub csrf: String,
}

/// The operator's account: two-step sign-in.
#[derive(Template)]
#[template(path = "account.html")]
pub struct Account {
    pub chrome: Chrome,
    pub email: String,
    pub enabled: bool,
    /// A new secret being set up.
    pub setup: Option<roster_directory::totp::Enrolment>,
    /// Its QR code (SVG).
    pub qr: Option<String>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub csrf: String,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
pub struct Login {
    pub chrome: Chrome,
    pub form_token: String,
    pub email: String,
    pub error: Option<String>,
    /// The e-mail and password were right and a code is needed.
    pub code_needed: bool,
}

/// The page that creates an operator.
#[derive(Template)]
#[template(path = "setup.html")]
pub struct Setup {
    pub chrome: Chrome,
    pub secret: String,
    pub form_token: String,
    pub email: String,
    pub error: Option<String>,
}

/// A tenant as a row of the console's list.
pub struct TenantRow {
    pub last_request: String,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub users: u64,
    pub groups: u64,
}

/// The console's tenant list.
#[derive(Template)]
#[template(path = "tenants.html")]
pub struct Tenants {
    pub chrome: Chrome,
    pub rows: Vec<TenantRow>,
    pub q: String,
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    pub plans: Vec<String>,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub link: Option<(String, String)>,
}

/// The confirmation before a tenant is deleted.
#[derive(Template)]
#[template(path = "delete.html")]
pub struct Delete {
    pub chrome: Chrome,
    pub tenant_name: String,
    pub slug: String,
    pub users: u64,
    pub groups: u64,
    pub tokens: u64,
    pub oauth_clients: u64,
    pub csrf: String,
}

/// A user or group as a row of a list.
pub struct PersonRow {
    pub id: String,
    pub name: String,
    pub detail: String,
    pub active: bool,
    pub changed: String,
}

/// A tenant's users or groups.
#[derive(Template)]
#[template(path = "people.html")]
pub struct People {
    /// Whether the total is a lower bound (the count stopped).
    pub at_least: bool,
    pub chrome: Chrome,
    pub tenant_name: String,
    pub slug: String,
    pub users: bool,
    pub q: String,
    pub rows: Vec<PersonRow>,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    pub error: Option<String>,
}

/// One user.
#[derive(Template)]
#[template(path = "user.html")]
pub struct User {
    pub chrome: Chrome,
    pub tenant_name: String,
    pub slug: String,
    pub id: String,
    pub user_name: String,
    pub active: bool,
    pub created: String,
    pub changed: String,
    pub version: i64,
    pub attributes: Vec<(String, String)>,
    pub groups: Vec<(String, String)>,
}

/// A member of a group as a row.
pub struct MemberRow {
    pub user: bool,
    pub id: String,
    pub display: String,
}

/// One group and a page of its members.
#[derive(Template)]
#[template(path = "group.html")]
pub struct Group {
    pub chrome: Chrome,
    pub tenant_name: String,
    pub slug: String,
    pub id: String,
    pub display_name: String,
    pub created: String,
    pub changed: String,
    pub attributes: Vec<(String, String)>,
    pub members: Vec<MemberRow>,
    pub first_page: bool,
    pub next: Option<i64>,
}

/// An API key as a row.
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created: String,
    pub revoked: Option<String>,
}

/// The API keys page.
#[derive(Template)]
#[template(path = "keys.html")]
pub struct Keys {
    pub chrome: Chrome,
    pub rows: Vec<KeyRow>,
    pub new_key: Option<String>,
    pub error: Option<String>,
    pub csrf: String,
}

/// A webhook endpoint as a row.
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub tenant: Option<String>,
    pub created: String,
}

/// The webhooks page.
#[derive(Template)]
#[template(path = "webhooks.html")]
pub struct Webhooks {
    pub chrome: Chrome,
    pub rows: Vec<WebhookRow>,
    pub secret: Option<(String, String)>,
    pub error: Option<String>,
    pub csrf: String,
}

/// A delivery attempt or a dead letter as a row.
pub struct AttemptRow {
    pub at: String,
    pub event: String,
    pub attempt: i64,
    pub outcome: String,
}

/// One webhook endpoint's deliveries.
#[derive(Template)]
#[template(path = "webhook.html")]
pub struct WebhookPage {
    pub chrome: Chrome,
    pub id: String,
    pub url: String,
    pub attempts: Vec<AttemptRow>,
    pub dead: Vec<AttemptRow>,
}

/// The plans page.
#[derive(Template)]
#[template(path = "plans.html")]
pub struct Plans {
    pub chrome: Chrome,
    pub plans: Vec<roster_store::Plan>,
    pub error: Option<String>,
    pub csrf: String,
}

/// One application a tenant provisions into, in the list.
pub struct TargetRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub state: String,
    pub quarantined: bool,
    pub paused: bool,
    pub users: u64,
    pub groups: u64,
}

/// A tenant's applications (outbound provisioning targets), with the form that adds one.
#[derive(Template)]
#[template(path = "targets.html")]
pub struct Targets {
    pub chrome: Chrome,
    pub tenant_name: String,
    pub slug: String,
    pub rows: Vec<TargetRow>,
    pub error: Option<String>,
    pub form_name: String,
    pub form_url: String,
}

/// One application: its status, provision on demand, assignments and settings.
#[derive(Template)]
#[template(path = "target.html")]
pub struct TargetPage {
    pub chrome: Chrome,
    pub csrf: String,
    pub tenant_name: String,
    pub slug: String,
    pub id: String,
    pub name: String,
    pub url: String,
    pub scope_all: bool,
    pub state: String,
    pub paused: bool,
    pub quarantined: bool,
    pub last_error: Option<String>,
    pub cycling: bool,
    pub processed: i64,
    pub total: i64,
    pub percent: i64,
    pub pace: Option<String>,
    pub users: u64,
    pub groups: u64,
    pub last_cycle: Option<String>,
    pub assigned: Vec<(String, String, String)>,
    pub policy: roster_outbound::plan::Policy,
    pub leaving: String,
    pub on_delete: String,
    /// Pending actions (the first ones), and how many there are.
    pub pending: Vec<crate::approvals::PendingRow>,
    pub pending_total: u64,
    /// The actions that need approval.
    pub needs_approval: Vec<&'static str>,
    /// Empty when off.
    pub deletion_threshold: String,
    /// The roles whose users it receives.
    pub roles_attached: Vec<String>,
    /// Its entitlement rules, in words.
    pub rules: Vec<crate::rules::RuleRow>,
    /// A check of the rules with a user.
    pub check: Option<crate::rules::CheckView>,
    /// The roles and rules editor.
    pub editor: crate::rules::Editor,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub steps: Vec<String>,
    pub demand_who: String,
}
