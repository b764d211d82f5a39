//! The SAML flow: the sign-on URL sends the browser to the identity provider with a signed
//! request; the identity provider posts its answer to the connection's ACS URL, where it is
//! checked, used once, and matched to a provisioned user.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use roster_directory::DirectoryError;
use roster_directory::sso::{Connection, Protocol, UserKey};
use roster_sso::saml::{self, Asserted, Expected};
use roster_sso::sign_in::Failure;
use roster_store::TenantId;
use serde::Deserialize;

use crate::SignIn;
use crate::flow::{self, Outcome, Vouched, internal, not_found};
use crate::state::Pending;
use crate::trace::Trace;

/// `GET /auth/request-access/{slug}`: the tenant's default connection.
pub async fn request_access(
    State(signin): State<SignIn>,
    Path(slug): Path<String>,
    Query(mode): Query<Mode>,
) -> Response {
    start_by_slug(&signin, &slug, None, mode.test()).await
}

/// `GET /auth/request-access/{slug}/{connection}`.
pub async fn request_access_to(
    State(signin): State<SignIn>,
    Path((slug, connection)): Path<(String, String)>,
    Query(mode): Query<Mode>,
) -> Response {
    start_by_slug(&signin, &slug, Some(&connection), mode.test()).await
}

/// The sign-on URL's query: `?test=1` from the page's *Test sign-in* button.
#[derive(Debug, serde::Deserialize)]
pub struct Mode {
    #[serde(default)]
    test: Option<String>,
}

impl Mode {
    fn test(&self) -> bool {
        self.test
            .as_deref()
            .is_some_and(|t| t == "1" || t == "true")
    }
}

async fn start_by_slug(
    signin: &SignIn,
    slug: &str,
    connection: Option<&str>,
    test: bool,
) -> Response {
    if slug == crate::ms365::NAME
        && connection.is_none()
        && let Some(ms365) = signin.ms365().cloned()
    {
        return crate::ms365::start(signin, &ms365, None).await;
    }
    match signin.directory().tenant_by_slug(slug).await {
        Ok(Some(tenant)) => flow::start(signin, &tenant, connection, None, test).await,
        Ok(None) => not_found("organisation"),
        Err(e) => internal(e),
    }
}

/// The signed request to the identity provider: (where to send the browser, the request's id,
/// no secret).
pub async fn request(
    signin: &SignIn,
    connection: &Connection,
    force: bool,
) -> Result<(String, String, Option<String>), Box<Response>> {
    let Protocol::Saml { idp, .. } = &connection.protocol else {
        return Err(Box::new(internal("not a SAML connection")));
    };
    let sp = service_provider(signin, connection).map_err(|e| Box::new(internal(e)))?;
    let request_id = format!("_{}", signin.directory().secrets().resource_id());
    let now = signin.directory().now();
    let request = saml::request(&sp, idp, &request_id, now, &connection.id, force)
        .map_err(|e| Box::new(internal(e)))?;
    Ok((request.url, request_id, None))
}

fn service_provider(
    signin: &SignIn,
    connection: &Connection,
) -> Result<saml::ServiceProvider, DirectoryError> {
    signin.directory().saml_service_provider(
        connection,
        signin.entity_id(connection.tenant.as_str(), &connection.id),
        signin.acs_url(connection.tenant.as_str(), &connection.id),
    )
}

/// `GET /auth/saml/{tenant}/{connection}`: Roster's metadata for the connection (its entity
/// id is this URL).
pub async fn metadata(
    State(signin): State<SignIn>,
    Path((tenant, connection)): Path<(String, String)>,
) -> Response {
    let tenant = TenantId::new(tenant);
    let connection = match signin
        .directory()
        .sso_connection(&tenant, Some(&connection))
        .await
    {
        Ok(c) if c.id == connection && c.protocol_name() == "saml" => c,
        Ok(_) | Err(DirectoryError::NotFound { .. }) => return not_found("connection"),
        Err(e) => return internal(e),
    };
    match service_provider(&signin, &connection) {
        Ok(sp) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            )],
            sp.metadata_xml(),
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

/// The HTTP-POST binding's form.
#[derive(Debug, Deserialize)]
pub struct Posted {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState", default)]
    _relay_state: Option<String>,
}

/// `POST /auth/saml/{tenant}/{connection}/acs`: the identity provider's answer.
pub async fn acs(
    State(signin): State<SignIn>,
    Path((tenant_id, connection_id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(posted): Form<Posted>,
) -> Response {
    let (tenant, connection) =
        match flow::answered_at(&signin, &tenant_id, &connection_id, "saml").await {
            Ok(found) => found,
            Err(page) => return *page,
        };
    let tenant_id = tenant.id().clone();
    let mut trace = Trace::start(
        &signin,
        &headers,
        format!("/auth/saml/{}/acs", connection.name),
    );
    trace.step(format!(
        "response received ({} bytes)",
        posted.saml_response.len()
    ));
    let pending = flow::pending(&signin, &headers, tenant_id.as_str(), &connection);
    let mut solicited = false;
    let outcome = match check(
        &signin,
        &connection,
        &posted.saml_response,
        pending.as_ref(),
        &mut trace,
    )
    .await
    {
        Ok(vouched) => {
            solicited = vouched.solicited;
            flow::match_user(&signin, &tenant, &connection, vouched, &mut trace).await
        }
        Err(e) => Outcome::Err(e),
    };
    flow::complete(
        &signin,
        &tenant,
        &connection,
        pending,
        &headers,
        trace,
        outcome,
        solicited,
    )
    .await
}

/// How the person authenticated, as RFC 8176 names it, from the assertion's context class.
fn amr(asserted: &Asserted) -> Vec<String> {
    let class = asserted
        .authn_context
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if class.contains("multifactor") || class.contains("mfa") {
        vec!["mfa".into()]
    } else if class.contains("password") {
        vec!["pwd".into()]
    } else {
        Vec::new()
    }
}

/// The protocol's checks, in order, each noted in the trace: the response, its first use,
/// which request it answers; then the claim that names the user.
async fn check(
    signin: &SignIn,
    connection: &Connection,
    posted: &str,
    pending: Option<&Pending>,
    trace: &mut Trace,
) -> Result<Vouched, Result<Failure, DirectoryError>> {
    let directory = signin.directory();
    let Protocol::Saml { idp, .. } = &connection.protocol else {
        return Err(Err(DirectoryError::Internal(
            "not a SAML connection".into(),
        )));
    };
    let sp = service_provider(signin, connection).map_err(Err)?;
    let idp = idp.clone();
    let now = directory.now();
    let posted = posted.to_owned();
    let verified =
        tokio::task::spawn_blocking(move || saml::verify_response(&sp, &idp, &posted, now))
            .await
            .map_err(|e| Err(DirectoryError::Internal(e.to_string())))?;
    let asserted = verified.map_err(|r| Ok(Failure::Saml(r)))?;
    trace.step(format!(
        "signature verified with the certificate of {}; issuer, audience, recipient and times checked",
        asserted.issuer
    ));
    let first = directory
        .first_use_of_assertion(
            &format!("saml:{}", asserted.issuer),
            &asserted.assertion_id,
            asserted.expires_at,
        )
        .await
        .map_err(Err)?;
    if !first {
        return Err(Ok(Failure::Saml(saml::Refusal::Replayed(
            asserted.assertion_id.clone(),
        ))));
    }
    trace.step(format!(
        "assertion {} used for the first time",
        asserted.assertion_id
    ));
    asserted
        .answers(Expected {
            request_id: pending.map(|p| p.request.as_str()),
            idp_initiated: connection.idp_initiated(),
            now,
        })
        .map_err(|r| Ok(Failure::Saml(r)))?;
    match &asserted.in_response_to {
        Some(id) => trace.step(format!("answers the request {id} this browser started")),
        None => trace.step("started by the identity provider (allowed for this connection)"),
    }
    let key: &UserKey = connection.user_key();
    let value = if key.claim == UserKey::NAME_ID {
        asserted.name_id.clone()
    } else {
        asserted.first(&key.claim).map(str::to_owned)
    };
    let email = asserted
        .first("email")
        .or_else(|| {
            asserted.first("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress")
        })
        .map(str::to_owned)
        .or_else(|| asserted.name_id.clone().filter(|n| n.contains('@')));
    let name = asserted
        .first("displayName")
        .or_else(|| asserted.first("http://schemas.microsoft.com/identity/claims/displayname"))
        .map(str::to_owned);
    Ok(Vouched {
        value,
        email,
        name,
        amr: amr(&asserted),
        auth_time: asserted
            .authn_instant
            .map(time::OffsetDateTime::unix_timestamp),
        solicited: asserted.in_response_to.is_some(),
    })
}
