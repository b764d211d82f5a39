//! The SSO section of a tenant's Provisioning & SSO page: its connections with the values to
//! paste into the identity provider, a form to add one from the identity provider's
//! metadata, a test sign-in, and the last sign-ins with their traces (in the provisioning log).

use crate::form::PageForm;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use roster_directory::DirectoryError;
use roster_directory::sso::{NewOidcConnection, NewSamlConnection, Preset, UserKey};
use roster_directory::sso_changes::ConnectionChange;
use roster_sso::urls;
use roster_store::{LogQuery, Outcome, Tenant};
use serde::Deserialize;

use crate::pages::not_found;
use crate::portal::{Extra, access, failed, forbidden, show};
use crate::{ConsoleState, see_other};

/// One connection as the page shows it.
pub struct ConnectionRow {
    pub id: String,
    pub redirect_uri: String,
    pub name: String,
    pub provider: &'static str,
    pub is_default: bool,
    pub sign_on_url: String,
    pub entity_id: String,
    pub acs_url: String,
    /// What the identity provider calls the Entity ID and the ACS URL.
    pub entity_label: &'static str,
    pub acs_label: &'static str,
    pub idp_entity_id: String,
    pub matches: String,
    pub idp_initiated: bool,
    /// An OpenID Connect connection (no Entity ID; a redirect URI instead).
    pub oidc: bool,
}

/// One recent sign-in.
pub struct SignInRow {
    pub seq: i64,
    pub when: String,
    pub summary: String,
    pub refused: bool,
}

/// The section's content.
#[derive(Default)]
pub struct SsoSection {
    pub included: bool,
    pub connections: Vec<ConnectionRow>,
    pub recent: Vec<SignInRow>,
    pub presets: Vec<(&'static str, &'static str)>,
    /// The e-mail domains that lead to this tenant (`/auth/login?email=`).
    pub domains: Vec<String>,
    /// The Microsoft Entra directories bound to it (Microsoft 365 sign-in).
    pub entra: Vec<String>,
    /// The SSO redirect URL.
    pub login_url: String,
    /// The DNS record that verifies the domain the administrator entered, when they asked.
    pub challenge: Option<roster_directory::domains::DomainChallenge>,
}

/// The section for `tenant`.
pub async fn section(state: &ConsoleState, tenant: &Tenant) -> Result<SsoSection, DirectoryError> {
    let public = &state.public_url;
    let connections = state
        .directory
        .sso_connections(&tenant.id)
        .await?
        .into_iter()
        .map(|c| {
            let key = c.user_key();
            let claim = if key.claim == UserKey::NAME_ID {
                "the NameID".to_owned()
            } else {
                format!("the claim {}", key.claim)
            };
            let (entity_label, acs_label) = c.preset.saml_field_names();
            ConnectionRow {
                redirect_uri: urls::oidc_redirect_uri(public, tenant.id.as_str(), &c.id),
                sign_on_url: urls::sign_on_url(public, &tenant.slug, Some(&c.name)),
                entity_id: urls::entity_id(public, tenant.id.as_str(), &c.id),
                acs_url: urls::acs_url(public, tenant.id.as_str(), &c.id),
                idp_entity_id: c.trusted().to_owned(),
                oidc: c.protocol_name() == "oidc",
                matches: format!("{claim} is the user's {}", key.attribute.attribute()),
                idp_initiated: c.idp_initiated(),
                entity_label,
                acs_label,
                provider: c.preset.title(),
                is_default: c.is_default,
                name: c.name,
                id: c.id,
            }
        })
        .collect();
    let query = LogQuery {
        limit: 5,
        action: Some("sign-in".into()),
        ..LogQuery::default()
    };
    let recent = state
        .directory
        .log_page(&tenant.id, &query)
        .await?
        .into_iter()
        .map(|e| SignInRow {
            seq: e.seq,
            when: crate::view::when(e.at),
            refused: e.outcome != Outcome::Succeeded,
            summary: if e.explanation.is_empty() {
                e.summary
            } else {
                format!("{}: {}", e.summary, e.explanation)
            },
        })
        .collect();
    Ok(SsoSection {
        domains: state.directory.domains(&tenant.id).await?,
        entra: state.directory.entra_directories(&tenant.id).await?,
        login_url: format!("{}/auth/login", state.public_url.trim_end_matches('/')),
        included: tenant.plan.sso,
        connections,
        recent,
        presets: Preset::ALL.map(|p| (p.name(), p.title())).to_vec(),
        challenge: None,
    })
}

/// What adding a connection starts with: the viewer may open the page and sent its form, the
/// plan includes single sign-on, the preset is one Roster knows; else the page to answer.
async fn ready(
    state: &ConsoleState,
    slug: &str,
    headers: &HeaderMap,
    csrf: &str,
    preset: &str,
) -> Result<(Tenant, crate::session::Viewer, Preset), Box<Response>> {
    let (tenant, viewer) = access(state, headers, slug).await.map_err(Box::new)?;
    if !viewer.csrf_ok(csrf) {
        return Err(Box::new(forbidden()));
    }
    let refused = |text: String| Extra {
        error: Some(text),
        ..Extra::default()
    };
    if !tenant.plan.sso {
        let text = "Single sign-on is not part of this organisation's plan.".to_owned();
        return Err(Box::new(show(state, &tenant, &viewer, refused(text)).await));
    }
    match Preset::parse(preset) {
        Ok(p) => Ok((tenant, viewer, p)),
        Err(e) => Err(Box::new(
            show(state, &tenant, &viewer, refused(e.to_string())).await,
        )),
    }
}

/// The page after adding a connection: back to the section, or the form's refusal.
async fn added_page(
    state: &ConsoleState,
    tenant: &Tenant,
    viewer: &crate::session::Viewer,
    added: Result<roster_directory::sso::Connection, DirectoryError>,
) -> Response {
    match added {
        Ok(_) => see_other(&format!(
            "/portal/{}?done=sso-added#sso-heading",
            tenant.slug
        )),
        Err(DirectoryError::Setting(text)) => {
            let extra = Extra {
                error: Some(format!("The connection was not added: {text}")),
                ..Extra::default()
            };
            show(state, tenant, viewer, extra).await
        }
        Err(e) => failed(&e),
    }
}

/// The form that adds a SAML connection.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    csrf: String,
    #[serde(default)]
    preset: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    metadata: String,
    #[serde(default)]
    default: Option<String>,
}

/// `POST /portal/{slug}/sso`: adds a SAML connection from the pasted metadata.
pub async fn add(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<AddForm>,
) -> Response {
    let (tenant, viewer, preset) =
        match ready(&state, &slug, &headers, &form.csrf, &form.preset).await {
            Ok(ready) => ready,
            Err(page) => return *page,
        };
    let name = if form.name.trim().is_empty() {
        preset.name().to_owned()
    } else {
        form.name.clone()
    };
    let new = NewSamlConnection {
        name,
        preset,
        metadata: form.metadata.trim().to_owned(),
        user_key: None,
        idp_initiated: None,
        is_default: form.default.is_some(),
        metadata_url: None,
    };
    let added = state.directory.add_saml_connection(&tenant.id, new).await;
    added_page(&state, &tenant, &viewer, added).await
}

/// A form that only carries the CSRF token.
#[derive(Debug, Deserialize)]
pub struct Plain {
    csrf: String,
}

/// `POST /portal/{slug}/sso/{id}/remove`.
pub async fn remove(
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
    match state.directory.remove_sso_connection(&tenant.id, &id).await {
        Ok(()) => see_other(&format!(
            "/portal/{}?done=sso-removed#sso-heading",
            tenant.slug
        )),
        Err(DirectoryError::NotFound { .. }) => not_found(),
        Err(e) => failed(&e),
    }
}

/// The form that adds an OpenID Connect connection.
#[derive(Debug, Deserialize)]
pub struct AddOidcForm {
    csrf: String,
    #[serde(default)]
    preset: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    default: Option<String>,
}

/// `POST /portal/{slug}/sso/oidc`: adds an OpenID Connect connection.
pub async fn add_oidc(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<AddOidcForm>,
) -> Response {
    let (tenant, viewer, preset) =
        match ready(&state, &slug, &headers, &form.csrf, &form.preset).await {
            Ok(ready) => ready,
            Err(page) => return *page,
        };
    let name = if form.name.trim().is_empty() {
        format!("{}-oidc", preset.name())
    } else {
        form.name.clone()
    };
    let new = NewOidcConnection {
        name,
        preset,
        issuer: form.issuer.clone(),
        client_id: form.client_id.clone(),
        client_secret: form.client_secret.clone(),
        scopes: None,
        user_key: None,
        is_default: form.default.is_some(),
    };
    let added = state.directory.add_oidc_connection(&tenant.id, new).await;
    added_page(&state, &tenant, &viewer, added).await
}

/// The form that verifies a domain: `step` is `record` (show the TXT record to publish) or
/// `verify` (look it up).
#[derive(Debug, Deserialize)]
pub struct DomainForm {
    csrf: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    step: String,
}

/// `POST /portal/{slug}/sso/domains`: shows the TXT record that verifies a domain, or looks it
/// up and, when it is published, gives the domain to the organisation.
pub async fn domain(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<DomainForm>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    let refused = |text: String| Extra {
        error: Some(text),
        ..Extra::default()
    };
    if !tenant.plan.sso {
        let text = "Single sign-on is not part of this organisation's plan.".to_owned();
        return show(&state, &tenant, &viewer, refused(text)).await;
    }
    let challenge = match state.directory.domain_challenge(&tenant.id, &form.domain) {
        Ok(c) => c,
        Err(DirectoryError::Setting(text)) => {
            return show(&state, &tenant, &viewer, refused(text)).await;
        }
        Err(e) => return failed(&e),
    };
    if form.step != "verify" {
        let extra = Extra {
            challenge: Some(challenge),
            ..Extra::default()
        };
        return show(&state, &tenant, &viewer, extra).await;
    }
    match state
        .directory
        .verify_domain(&tenant.id, &form.domain)
        .await
    {
        Ok(_) => see_other(&format!(
            "/portal/{}?done=domain-verified#sso-heading",
            tenant.slug
        )),
        Err(DirectoryError::Setting(text)) => {
            let extra = Extra {
                error: Some(format!("The domain is not verified: {text}")),
                challenge: Some(challenge),
                ..Extra::default()
            };
            show(&state, &tenant, &viewer, extra).await
        }
        Err(e) => failed(&e),
    }
}

/// The form that changes a connection.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    csrf: String,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    idp_initiated: Option<String>,
    #[serde(default)]
    metadata: String,
    #[serde(default)]
    client_secret: String,
}

/// `POST /portal/{slug}/sso/{id}/change`: the default, IdP-initiated sign-in, new metadata
/// (SAML) or a new client secret (OpenID Connect).
pub async fn change(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<ChangeForm>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    let connection = match state.directory.sso_connection(&tenant.id, Some(&id)).await {
        Ok(c) if c.id == id => c,
        Ok(_) | Err(DirectoryError::NotFound { .. }) => return not_found(),
        Err(e) => return failed(&e),
    };
    let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let saml = connection.protocol_name() == "saml";
    let change = ConnectionChange {
        is_default: Some(form.default.is_some()),
        idp_initiated: saml.then_some(form.idp_initiated.is_some()),
        user_key: None,
        metadata: given(&form.metadata).filter(|_| saml),
        client_secret: given(&form.client_secret).filter(|_| !saml),
    };
    match state
        .directory
        .change_sso_connection(&tenant.id, &id, change)
        .await
    {
        Ok(_) => see_other(&format!(
            "/portal/{}?done=sso-changed#connection-{}",
            tenant.slug, connection.name
        )),
        Err(DirectoryError::Setting(text)) => {
            let extra = Extra {
                error: Some(format!("The connection was not changed: {text}")),
                ..Extra::default()
            };
            show(&state, &tenant, &viewer, extra).await
        }
        Err(e) => failed(&e),
    }
}
