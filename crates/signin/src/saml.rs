//! The SAML flow: the sign-on URL sends the browser to the identity provider with a signed
//! request; the identity provider posts its answer to the connection's ACS URL, where it is
//! checked, used once, and matched to a provisioned user.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use roster_directory::sso::{Connection, UserKey};
use roster_directory::{DirectoryError, TenantContext};
use roster_sso::saml::{self, Asserted, Expected};
use roster_sso::sign_in::Failure;
use roster_store::{Tenant, TenantId};
use serde::Deserialize;

use crate::state::{
    Authorize, PENDING_COOKIE, PENDING_SECONDS, Pending, SESSION_COOKIE, SESSION_SECONDS, Session,
    read_cookie,
};
use crate::trace::{SignedIn, Trace};
use crate::{SignIn, pages, provider};

const PENDING_CONTEXT: &str = "signin:pending";
/// The sealing context of a session cookie.
pub const SESSION_CONTEXT: &str = "signin:session";

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "sign-in failed on Roster's side");
    pages::refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Roster could not complete the sign-in.",
        "Try again in a minute; if it keeps happening, the operator finds the cause in Roster's log.",
        "",
    )
}

fn not_found(what: &str) -> Response {
    pages::refused(
        StatusCode::NOT_FOUND,
        &format!("There is no {what} at this address."),
        "Check the sign-on URL: your IT administrator finds it on the Provisioning & SSO page.",
        "",
    )
}

/// `GET /auth/request-access/{slug}`: the tenant's default connection.
pub async fn request_access(State(signin): State<SignIn>, Path(slug): Path<String>) -> Response {
    start_by_slug(&signin, &slug, None).await
}

/// `GET /auth/request-access/{slug}/{connection}`.
pub async fn request_access_to(
    State(signin): State<SignIn>,
    Path((slug, connection)): Path<(String, String)>,
) -> Response {
    start_by_slug(&signin, &slug, Some(&connection)).await
}

async fn start_by_slug(signin: &SignIn, slug: &str, connection: Option<&str>) -> Response {
    match signin.directory().tenant_by_slug(slug).await {
        Ok(Some(tenant)) => start(signin, &tenant, connection, None).await,
        Ok(None) => not_found("organisation"),
        Err(e) => internal(e),
    }
}

/// Sends the browser to `tenant`'s identity provider through `connection` (its default when
/// `None`), remembering in a sealed cookie which request it was and what the host application
/// asked for.
pub async fn start(
    signin: &SignIn,
    tenant: &Tenant,
    connection: Option<&str>,
    authorize: Option<Authorize>,
) -> Response {
    if !tenant.plan.sso {
        let failure = Failure::NotInPlan;
        return pages::refused(
            StatusCode::FORBIDDEN,
            &failure.to_string(),
            &failure.hint(roster_sso::saml::Vendor::Generic),
            "",
        );
    }
    let connection = match signin
        .directory()
        .sso_connection(&tenant.id, connection)
        .await
    {
        Ok(c) => c,
        Err(DirectoryError::NotFound { id, .. }) => {
            let failure = Failure::NoConnection(id);
            return pages::refused(
                StatusCode::NOT_FOUND,
                &failure.to_string(),
                &failure.hint(roster_sso::saml::Vendor::Generic),
                "",
            );
        }
        Err(e) => return internal(e),
    };
    let sp = match service_provider(signin, &connection) {
        Ok(sp) => sp,
        Err(e) => return internal(e),
    };
    let request_id = format!("_{}", signin.directory().secrets().resource_id());
    let now = signin.directory().now();
    let request = match saml::request(&sp, &connection.idp, &request_id, now, &connection.id) {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let pending = Pending {
        tenant: tenant.id.to_string(),
        connection: connection.id.clone(),
        request: request_id,
        started: now.unix_timestamp(),
        authorize,
    };
    let Some(sealed) = signin.seal(PENDING_CONTEXT, &pending) else {
        return internal("sealing the pending sign-in");
    };
    let mut response = Redirect::to(&request.url).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        signin.cookie(PENDING_COOKIE, &sealed, "/auth/", PENDING_SECONDS),
    );
    response
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
        Ok(c) if c.id == connection => c,
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
    let tenant_id = TenantId::new(tenant_id);
    let directory = signin.directory();
    let tenant = match directory.tenant_context(&tenant_id).await {
        Ok(Some(ctx)) => ctx,
        Ok(None) => return not_found("organisation"),
        Err(e) => return internal(e),
    };
    let connection = match directory
        .sso_connection(&tenant_id, Some(&connection_id))
        .await
    {
        Ok(c) if c.id == connection_id => c,
        Ok(_) | Err(DirectoryError::NotFound { .. }) => return not_found("connection"),
        Err(e) => return internal(e),
    };
    let mut trace = Trace::start(
        &signin,
        &headers,
        format!("/auth/saml/{}/acs", connection.name),
    );
    trace.step(format!(
        "response received ({} bytes)",
        posted.saml_response.len()
    ));
    let now = directory.now();
    let pending: Option<Pending> = read_cookie(&headers, PENDING_COOKIE)
        .and_then(|v| signin.open::<Pending>(PENDING_CONTEXT, v))
        .filter(|p| {
            p.tenant == tenant_id.as_str()
                && p.connection == connection.id
                && now.unix_timestamp() - p.started <= PENDING_SECONDS
        });
    let outcome = check(
        &signin,
        &tenant,
        &connection,
        &posted.saml_response,
        pending.as_ref(),
        &mut trace,
    )
    .await;
    match outcome {
        Ok((user_id, user_name, asserted)) => {
            trace
                .finish(
                    &signin,
                    &tenant_id,
                    &connection,
                    Ok(SignedIn {
                        id: &user_id,
                        name: &user_name,
                    }),
                )
                .await;
            let session = Session {
                tenant: tenant_id.to_string(),
                user: user_id,
                connection: connection.name.clone(),
                auth_time: now.unix_timestamp(),
                amr: amr(&asserted),
            };
            let mut response = match pending.and_then(|p| p.authorize) {
                Some(authorize) => provider::issue_code(&signin, &authorize, &session).await,
                None => landing(&signin, &tenant.tenant, &user_name).await,
            };
            let cookies = response.headers_mut();
            if let Some(sealed) = signin.seal(SESSION_CONTEXT, &session) {
                cookies.append(
                    header::SET_COOKIE,
                    signin.cookie(SESSION_COOKIE, &sealed, "/", SESSION_SECONDS),
                );
            }
            cookies.append(
                header::SET_COOKIE,
                signin.cookie(PENDING_COOKIE, "", "/auth/", 0),
            );
            response
        }
        Err(Ok(failure)) => {
            let vendor = connection.preset.vendor();
            let reference = trace_reference(&headers);
            trace
                .finish(&signin, &tenant_id, &connection, Err(&failure))
                .await;
            pages::refused(
                StatusCode::FORBIDDEN,
                &failure.to_string(),
                &failure.hint(vendor),
                &reference,
            )
        }
        Err(Err(e)) => internal(e),
    }
}

fn trace_reference(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect()
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

type Checked = Result<(String, String, Asserted), Result<Failure, DirectoryError>>;

/// The checks, in order, each noted in the trace: the response, its first use, the user it
/// names, and whether that user may sign in.
async fn check(
    signin: &SignIn,
    tenant: &TenantContext,
    connection: &Connection,
    posted: &str,
    pending: Option<&Pending>,
    trace: &mut Trace,
) -> Checked {
    let directory = signin.directory();
    if !tenant.tenant.plan.sso {
        return Err(Ok(Failure::NotInPlan));
    }
    let sp = service_provider(signin, connection).map_err(Err)?;
    let idp = connection.idp.clone();
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
            idp_initiated: connection.saml.idp_initiated,
            now,
        })
        .map_err(|r| Ok(Failure::Saml(r)))?;
    match &asserted.in_response_to {
        Some(id) => trace.step(format!("answers the request {id} this browser started")),
        None => trace.step("started by the identity provider (allowed for this connection)"),
    }
    let key: &UserKey = &connection.saml.user_key;
    let value = if key.claim == UserKey::NAME_ID {
        asserted.name_id.clone()
    } else {
        asserted.first(&key.claim).map(str::to_owned)
    }
    .filter(|v| !v.trim().is_empty())
    .ok_or_else(|| {
        Ok(Failure::NoKey {
            claim: if key.claim == UserKey::NAME_ID {
                "NameID".to_owned()
            } else {
                key.claim.clone()
            },
        })
    })?;
    let user = directory
        .user_for_sign_in(tenant, key, &value)
        .await
        .map_err(Err)?
        .ok_or_else(|| {
            Ok(Failure::UnknownUser {
                attribute: key.attribute.attribute().to_owned(),
                value: value.clone(),
            })
        })?;
    let user_name = user
        .data
        .get("userName")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    trace.step(format!(
        "matched user {user_name} ({} = {value})",
        key.attribute.attribute()
    ));
    if user.data.get("active").and_then(|v| v.as_bool()) == Some(false) {
        return Err(Ok(Failure::Deactivated { user: user_name }));
    }
    trace.step("the user is active");
    Ok((user.id, user_name, asserted))
}

/// Where a sign-in that no application asked for goes: the one application that takes such
/// sign-ins (its login URI, with the issuer and a hint), else a page that says who is signed in.
async fn landing(signin: &SignIn, tenant: &Tenant, user_name: &str) -> Response {
    let apps = signin.directory().host_apps().await.unwrap_or_default();
    let mut takers = apps
        .iter()
        .filter(|a| a.revoked_at.is_none())
        .filter_map(|a| a.login_uri.as_deref());
    match (takers.next(), takers.next()) {
        (Some(uri), None) => match url::Url::parse(uri) {
            Ok(mut url) => {
                url.query_pairs_mut()
                    .append_pair("iss", signin.public())
                    .append_pair("login_hint", user_name)
                    .append_pair("organization", &tenant.slug);
                Redirect::to(url.as_str()).into_response()
            }
            Err(e) => internal(e),
        },
        _ => pages::signed_in(user_name, &tenant.name),
    }
}
