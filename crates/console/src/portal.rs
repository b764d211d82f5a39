//! A tenant's Provisioning & SSO page: opened by a setup link (a session for that tenant) or
//! by an operator; its token (generate, show again, rotate, revoke) and its settings.

use crate::form::PageForm;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use roster_directory::console::SessionFor;
use roster_directory::{TenantSettings, TokenOptions};
use roster_store::Tenant;
use serde::Deserialize;

use crate::pages::{Chrome, ClientRow, Portal, SettingsForm, Shown, message, not_found, render};
use crate::session::{Viewer, cookie_name, set_cookie, viewer};
use crate::view::{GRACE, LIFETIMES, PASTE, grace, lifetime, token_rows};
use crate::{ConsoleState, see_other};

/// `GET /portal/open/{secret}`: a setup link. Opens once: starts a session for its tenant and
/// goes to the tenant's page.
pub async fn open(State(state): State<ConsoleState>, Path(secret): Path<String>) -> Response {
    let tenant = match state.directory.open_portal_link(&secret).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                None,
                "This link cannot be opened",
                "A setup link opens once, within the time it was made for. This one has been \
                 used, has expired or was withdrawn: ask for a new one.",
            );
        }
        Err(e) => return failed(&e),
    };
    match state
        .directory
        .start_session(SessionFor::Tenant(tenant.id.clone()))
        .await
    {
        Ok((secret, session)) => {
            let age = (session.expires_at - session.created_at).whole_seconds();
            let mut response = see_other(&format!("/portal/{}", tenant.slug));
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(cookie_name(state.secure), &secret, state.secure, age),
            );
            response
        }
        Err(e) => failed(&e),
    }
}

/// A directory failure as a page (logged; nothing internal shown).
pub fn failed(e: &roster_directory::DirectoryError) -> Response {
    tracing::error!(error = %e, "a page failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "Something went wrong",
        "The page could not be shown. Try again in a moment.",
    )
}

/// The tenant of a page and its viewer, if the viewer may open it; else the 404 page.
pub async fn access(
    state: &ConsoleState,
    headers: &HeaderMap,
    slug: &str,
) -> Result<(Tenant, Viewer), Response> {
    let Some(viewer) = viewer(state, headers).await else {
        return Err(not_found());
    };
    match state.directory.tenant_by_slug(slug).await {
        Ok(Some(tenant)) if viewer.may_open(&tenant) => Ok((tenant, viewer)),
        Ok(_) => Err(not_found()),
        Err(e) => Err(failed(&e)),
    }
}

/// What a page shows besides the tenant's state.
#[derive(Default)]
pub(crate) struct Extra {
    pub(crate) new_client: Option<(String, String)>,
    pub(crate) shown: Option<Shown>,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
    /// The DNS record that verifies a domain, when the administrator asked for it.
    pub(crate) challenge: Option<roster_directory::domains::DomainChallenge>,
}

pub(crate) async fn show(
    state: &ConsoleState,
    tenant: &Tenant,
    viewer: &Viewer,
    extra: Extra,
) -> Response {
    let settings = match TenantSettings::of(tenant) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(tenant = %tenant.id, error = %e, "a tenant's settings cannot be read");
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(viewer),
                "Settings cannot be read",
                "This organisation's settings cannot be read; the operator has been told.",
            );
        }
    };
    let tokens = match state.directory.tokens(&tenant.id).await {
        Ok(t) => t,
        Err(e) => return failed(&e),
    };
    let clients = match state.directory.clients(&tenant.id).await {
        Ok(c) => c,
        Err(e) => return failed(&e),
    };
    let mut sso = match crate::sso::section(state, tenant).await {
        Ok(s) => s,
        Err(e) => return failed(&e),
    };
    sso.challenge = extra.challenge;
    let hold = match state.directory.hold_status(&tenant.id).await {
        Ok(h) => crate::hold::banner(h),
        Err(e) => return failed(&e),
    };
    let now = state.directory.clock().now();
    // A refused form is shown again with why, and answered as refused (as the applications'
    // pages are), so that a script or a test reading the status is not told it worked.
    let status = if extra.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = Portal {
        hold,
        sso,
        clients: clients
            .iter()
            .map(|c| ClientRow {
                id: c.id.clone(),
                name: c.name.clone(),
                created: crate::view::when(c.created_at),
            })
            .collect(),
        new_client: extra.new_client,
        chrome: Chrome::of(Some(viewer)),
        tenant_name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        plan: tenant.plan.name.clone(),
        provisioning_included: tenant.plan.provisioning,
        provisioning_url: format!("{}/scim/v2/{}", state.public_url, tenant.id),
        token_endpoint: format!("{}/oauth/token", state.public_url),
        tokens: token_rows(&tokens, now),
        shown: extra.shown,
        notice: extra.notice,
        error: extra.error,
        paste: PASTE.to_vec(),
        settings: SettingsForm::of(&settings),
        lifetimes: LIFETIMES.to_vec(),
        grace: GRACE.to_vec(),
        csrf: viewer.session.csrf.clone(),
    };
    render(status, &page)
}

/// What a page was redirected with after a form (`?done=`).
#[derive(Debug, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /portal/{slug}`.
pub async fn page(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    Query(done): Query<Done>,
    headers: HeaderMap,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let notice = match done.done.as_deref() {
        Some("settings") => Some("Settings saved.".to_owned()),
        Some("revoked") => Some("The token is revoked: it no longer works.".to_owned()),
        Some("client-revoked") => {
            Some("The OAuth client is revoked, with its access tokens.".to_owned())
        }
        Some("sso-added") => Some(
            "The connection is added: paste its values into your identity provider.".to_owned(),
        ),
        Some("hold-released") => Some(
            "The held changes are released: your application receives them now, in order."
                .to_owned(),
        ),
        Some("hold-discarded") => Some(
            "The held changes are discarded: your application keeps those users as they were. \
             Users your identity provider has restored since are reported as reactivated."
                .to_owned(),
        ),
        Some("sso-removed") => Some("The connection is removed.".to_owned()),
        Some("sso-changed") => Some("The connection is changed.".to_owned()),
        Some("domain-verified") => Some(
            "The domain is verified: users who enter an address at it are sent to your default \
             connection."
                .to_owned(),
        ),
        _ => None,
    };
    show(
        &state,
        &tenant,
        &viewer,
        Extra {
            notice,
            ..Extra::default()
        },
    )
    .await
}

/// A form that only carries the CSRF token.
#[derive(Debug, Deserialize)]
pub struct Plain {
    pub(crate) csrf: String,
}

/// The token form.
#[derive(Debug, Deserialize)]
pub struct Generate {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    lifetime: String,
    #[serde(default)]
    mode: String,
    /// On a rotation: when the current tokens stop working.
    #[serde(default)]
    old: String,
}

pub(crate) fn forbidden() -> Response {
    message(
        StatusCode::FORBIDDEN,
        None,
        "The form has expired",
        "Reload the page and try again.",
    )
}

/// `POST /portal/{slug}/tokens`: a new token, shown on the answer (never in a URL). The
/// first is generated; later ones rotate: the current ones keep working until revoked.
pub async fn generate(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<Generate>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    if !tenant.plan.provisioning {
        return show(&state, &tenant, &viewer, Extra::default()).await;
    }
    let expires_in = match lifetime(&form.lifetime) {
        Ok(l) => l,
        Err(e) => {
            let extra = Extra {
                error: Some(e),
                ..Extra::default()
            };
            return show(&state, &tenant, &viewer, extra).await;
        }
    };
    let (keep_old, old_expire_in) = match grace(&form.old) {
        Ok(g) => g,
        Err(e) => {
            let extra = Extra {
                error: Some(e),
                ..Extra::default()
            };
            return show(&state, &tenant, &viewer, extra).await;
        }
    };
    let options = TokenOptions {
        name: form.name.trim().chars().take(100).collect(),
        expires_in,
        keep_old,
        old_expire_in,
    };
    match state.directory.issue_token(&tenant.id, &options).await {
        Ok((_, token)) => {
            let heading = if form.mode != "rotate" {
                "Your token: paste it into your identity provider."
            } else if !keep_old {
                "A new token: paste it into your identity provider now; the old ones no longer work."
            } else if old_expire_in.is_some() {
                "A new token: paste it into your identity provider before the old ones expire."
            } else {
                "A new token: paste it into your identity provider, then revoke the old one."
            };
            let shown = Shown {
                heading: heading.to_owned(),
                token,
            };
            show(
                &state,
                &tenant,
                &viewer,
                Extra {
                    shown: Some(shown),
                    ..Extra::default()
                },
            )
            .await
        }
        Err(e) => failed(&e),
    }
}

/// `POST /portal/{slug}/tokens/{id}/reveal`: the eye icon.
pub async fn reveal(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    let extra = match state.directory.reveal_token(&tenant.id, &id).await {
        Ok(token) => Extra {
            shown: Some(Shown {
                heading: "The token, shown again.".to_owned(),
                token,
            }),
            ..Extra::default()
        },
        Err(roster_directory::DirectoryError::NotFound { .. }) => return not_found(),
        Err(roster_directory::DirectoryError::Sealing(why)) => Extra {
            error: Some(format!("This token cannot be shown again: {why}.")),
            ..Extra::default()
        },
        Err(e) => return failed(&e),
    };
    show(&state, &tenant, &viewer, extra).await
}

/// `POST /portal/{slug}/tokens/{id}/revoke`.
pub async fn revoke(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    match state.directory.revoke_token(&tenant.id, &id).await {
        Ok(()) => see_other(&format!("/portal/{}?done=revoked", tenant.slug)),
        Err(roster_directory::DirectoryError::NotFound { .. }) => not_found(),
        Err(e) => failed(&e),
    }
}

/// The settings form: checkboxes are absent when off.
#[derive(Debug, Deserialize)]
pub struct Settings {
    csrf: String,
    #[serde(default)]
    provisioning: Option<String>,
    #[serde(default)]
    groups: Option<String>,
    compatibility: String,
    #[serde(rename = "patch-response")]
    patch_response: String,
    #[serde(rename = "unknown-members")]
    unknown_members: String,
    #[serde(rename = "access-token-minutes")]
    access_token_minutes: String,
    #[serde(rename = "user-attributes", default)]
    user_attributes: String,
    #[serde(rename = "hold-threshold", default)]
    hold_threshold: String,
}

/// `POST /portal/{slug}/settings`: all of them change, or none (the page says why).
pub async fn settings(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<Settings>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    let onoff = |v: &Option<String>| if v.is_some() { "on" } else { "off" }.to_owned();
    let changes = vec![
        ("provisioning".to_owned(), onoff(&form.provisioning)),
        ("groups".to_owned(), onoff(&form.groups)),
        ("compatibility".to_owned(), form.compatibility),
        ("patch-response".to_owned(), form.patch_response),
        ("unknown-members".to_owned(), form.unknown_members),
        ("access-token-minutes".to_owned(), form.access_token_minutes),
        ("user-attributes".to_owned(), form.user_attributes),
        ("hold-threshold".to_owned(), form.hold_threshold),
    ];
    match state.directory.set_settings(&tenant.id, &changes).await {
        Ok(_) => see_other(&format!("/portal/{}?done=settings", tenant.slug)),
        Err(roster_directory::DirectoryError::Setting(why)) => {
            let extra = Extra {
                error: Some(format!("Nothing was saved: {why}.")),
                ..Extra::default()
            };
            show(&state, &tenant, &viewer, extra).await
        }
        Err(e) => failed(&e),
    }
}

/// The OAuth client form.
#[derive(Debug, Deserialize)]
pub struct NewClient {
    csrf: String,
    #[serde(default)]
    name: String,
}

/// `POST /portal/{slug}/clients`: a client for Entra's gallery mode; its secret shown once.
pub async fn create_client(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<NewClient>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    if !tenant.plan.provisioning {
        return show(&state, &tenant, &viewer, Extra::default()).await;
    }
    let name: String = form.name.trim().chars().take(100).collect();
    let name = if name.is_empty() {
        "identity provider".to_owned()
    } else {
        name
    };
    match state.directory.create_client(&tenant.id, &name).await {
        Ok((client, secret)) => {
            let extra = Extra {
                new_client: Some((client.id, secret)),
                ..Extra::default()
            };
            show(&state, &tenant, &viewer, extra).await
        }
        Err(e) => failed(&e),
    }
}

/// `POST /portal/{slug}/clients/{id}/revoke`: the client and its access tokens stop.
pub async fn revoke_client(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    match state.directory.revoke_client(&tenant.id, &id).await {
        Ok(()) => see_other(&format!("/portal/{}?done=client-revoked", tenant.slug)),
        Err(roster_directory::DirectoryError::NotFound { .. }) => not_found(),
        Err(e) => failed(&e),
    }
}
