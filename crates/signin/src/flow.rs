//! What every sign-in shares, whatever the protocol: starting it (a sealed cookie remembers
//! which request, for which application), matching the user the identity provider names to
//! the one it provisioned, and ending it (a trace, a session, the host application's code or
//! a page).

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use roster_directory::sso::{Connection, Protocol, UserKey};
use roster_directory::{DirectoryError, TenantContext};
use roster_sso::sign_in::Failure;
use roster_store::Tenant;

use crate::state::{
    Authorize, PENDING_COOKIE, PENDING_SECONDS, Pending, SESSION_COOKIE, SESSION_SECONDS, Session,
    read_cookie,
};
use crate::trace::{SignedIn, Trace};
use crate::{SignIn, oidc, pages, provider, saml};

/// The sealing context of the pending cookie.
pub const PENDING_CONTEXT: &str = "signin:pending";
/// The sealing context of a session cookie.
pub const SESSION_CONTEXT: &str = "signin:session";

/// A failure on Roster's side, as a page (logged; nothing internal shown).
pub fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "sign-in failed on Roster's side");
    pages::refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Roster could not complete the sign-in.",
        "Try again in a minute; if it keeps happening, the operator finds the cause in Roster's log.",
        "",
    )
}

/// Nothing at this address.
pub fn not_found(what: &str) -> Response {
    pages::refused(
        StatusCode::NOT_FOUND,
        &format!("There is no {what} at this address."),
        "Check the sign-on URL: your IT administrator finds it on the Provisioning & SSO page.",
        "",
    )
}

/// Sends the browser to `tenant`'s identity provider through `connection` (its default when
/// `None`), remembering in a sealed cookie which request it was and what the host application
/// asked for (or that it is a `test` sign-in, which ends on its trace).
pub async fn start(
    signin: &SignIn,
    tenant: &Tenant,
    connection: Option<&str>,
    authorize: Option<Authorize>,
    test: bool,
) -> Response {
    let generic = roster_sso::saml::Vendor::Generic;
    if !tenant.plan.sso {
        let failure = Failure::NotInPlan;
        return pages::refused(
            StatusCode::FORBIDDEN,
            &failure.to_string(),
            &failure.hint(generic),
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
                &failure.hint(generic),
                "",
            );
        }
        Err(e) => return internal(e),
    };
    let now = signin.directory().now();
    let force = authorize.as_ref().is_some_and(|a| a.force);
    let started = match &connection.protocol {
        Protocol::Saml { .. } => saml::request(signin, &connection, force).await,
        Protocol::Oidc(_) => oidc::request(signin, &connection, force).await,
    };
    let (url, request, secret) = match started {
        Ok(s) => s,
        Err(response) => return *response,
    };
    let pending = Pending {
        tenant: tenant.id.to_string(),
        connection: connection.id.clone(),
        request,
        secret,
        started: now.unix_timestamp(),
        authorize,
        test,
    };
    let Some(sealed) = signin.seal(PENDING_CONTEXT, &pending) else {
        return internal("sealing the pending sign-in");
    };
    let mut response = Redirect::to(&url).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        signin.cookie(PENDING_COOKIE, &sealed, "/auth/", PENDING_SECONDS),
    );
    response
}

/// The tenant and the connection an answer's URL names, when the connection is the tenant's
/// and speaks `protocol`; else the page to answer with.
pub async fn answered_at(
    signin: &SignIn,
    tenant_id: &str,
    connection_id: &str,
    protocol: &str,
) -> Result<(std::sync::Arc<TenantContext>, Connection), Box<Response>> {
    let tenant_id = roster_store::TenantId::new(tenant_id);
    let directory = signin.directory();
    let tenant = match directory.tenant_context(&tenant_id).await {
        Ok(Some(ctx)) => ctx,
        Ok(None) => return Err(Box::new(not_found("organisation"))),
        Err(e) => return Err(Box::new(internal(e))),
    };
    match directory
        .sso_connection(&tenant_id, Some(connection_id))
        .await
    {
        Ok(c) if c.id == connection_id && c.protocol_name() == protocol => Ok((tenant, c)),
        Ok(_) | Err(DirectoryError::NotFound { .. }) => Err(Box::new(not_found("connection"))),
        Err(e) => Err(Box::new(internal(e))),
    }
}

/// The sign-in this browser started for this connection, if it did, within its time.
pub fn pending(
    signin: &SignIn,
    headers: &HeaderMap,
    tenant: &str,
    connection: &Connection,
) -> Option<Pending> {
    let now = signin.directory().now().unix_timestamp();
    read_cookie(headers, PENDING_COOKIE)
        .and_then(|v| signin.open::<Pending>(PENDING_CONTEXT, v))
        .filter(|p| {
            p.tenant == tenant
                && p.connection == connection.id
                && now - p.started <= PENDING_SECONDS
        })
}

/// A sign-in that passed the protocol's checks: the user it names, by `key` = `value`.
pub struct Vouched {
    /// The value of the connection's key claim, if the identity provider sent it.
    pub value: Option<String>,
    /// The e-mail and the name it sent, for a user created just in time.
    pub email: Option<String>,
    /// The person's name.
    pub name: Option<String>,
    /// How the person authenticated (RFC 8176).
    pub amr: Vec<String>,
    /// When, by the identity provider's account (`auth_time`, `AuthnInstant`), in Unix seconds.
    pub auth_time: Option<i64>,
    /// Whether it answers a sign-in this browser started (always, for OpenID Connect); a SAML
    /// response the identity provider sent on its own creates no session, so that someone
    /// else's assertion posted from another site cannot sign this browser in (login CSRF).
    pub solicited: bool,
}

impl Vouched {
    /// What the verified claims of an ID token vouch for: the key's `value`, the first of
    /// `email_claims` present, the name and `amr` (each cut to a sensible length).
    pub fn from_claims(
        claims: &serde_json::Value,
        value: Option<String>,
        email_claims: &[&str],
    ) -> Vouched {
        let text = |k: &str| {
            claims
                .get(k)
                .and_then(serde_json::Value::as_str)
                .map(|v| v.chars().take(256).collect::<String>())
        };
        let amr = claims
            .get("amr")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .take(10)
                    .collect()
            })
            .unwrap_or_default();
        Vouched {
            value,
            email: email_claims.iter().find_map(|k| text(k)),
            name: text("name"),
            amr,
            auth_time: claims.get("auth_time").and_then(serde_json::Value::as_i64),
            solicited: true,
        }
    }
}

/// The provisioned user a sign-in matched, and how they authenticated.
pub struct Matched {
    /// Roster's id of the user.
    pub id: String,
    /// Their userName.
    pub user_name: String,
    /// How they authenticated (RFC 8176).
    pub amr: Vec<String>,
    /// When they authenticated, by the identity provider's account, if it said.
    pub auth_time: Option<i64>,
}

/// A checked sign-in: the user, or why not.
pub type Outcome = Result<Matched, Result<Failure, DirectoryError>>;

/// The provisioned user the sign-in names: exactly one with that key, and active.
pub async fn match_user(
    signin: &SignIn,
    tenant: &TenantContext,
    connection: &Connection,
    vouched: Vouched,
    trace: &mut Trace,
) -> Outcome {
    let key: &UserKey = connection.user_key();
    if !tenant.tenant.plan.sso {
        return Err(Ok(Failure::NotInPlan));
    }
    let value = vouched
        .value
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
    let found = signin
        .directory()
        .user_for_sign_in(tenant, key, &value)
        .await
        .map_err(Err)?;
    let user = match found {
        Some(user) => user,
        None => {
            let created = signin
                .directory()
                .create_signed_in_user(
                    tenant,
                    connection,
                    &value,
                    vouched.email.as_deref(),
                    vouched.name.as_deref(),
                )
                .await
                .map_err(Err)?;
            let Some(user) = created else {
                return Err(Ok(Failure::UnknownUser {
                    attribute: key.attribute.attribute().to_owned(),
                    value: value.clone(),
                }));
            };
            trace.step(format!(
                "created user {} just in time (provisioning is off)",
                user.data
                    .get("userName")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
            ));
            user
        }
    };
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
    Ok(Matched {
        id: user.id,
        user_name,
        amr: vouched.amr,
        auth_time: vouched.auth_time,
    })
}

/// Ends a sign-in: the trace and the event, then the host application's code (or where a
/// sign-in no application asked for goes) with Roster's session; or the refusal page.
// The attempt's parts, each from a different step of the handler; a struct would only
// rename them.
#[allow(clippy::too_many_arguments)]
pub async fn complete(
    signin: &SignIn,
    tenant: &TenantContext,
    connection: &Connection,
    pending: Option<Pending>,
    headers: &HeaderMap,
    trace: Trace,
    outcome: Outcome,
    solicited: bool,
) -> Response {
    let tenant_id = tenant.id();
    // An unsolicited answer neither finishes an application's request nor leaves a session.
    let pending = pending.filter(|_| solicited);
    if let Some(p) = pending.as_ref().filter(|p| p.test) {
        return test_ended(signin, tenant, connection, trace, outcome, p).await;
    }
    match outcome {
        Ok(Matched {
            id: user_id,
            user_name,
            amr,
            auth_time,
        }) => {
            trace
                .finish(
                    signin,
                    tenant_id,
                    connection,
                    Ok(SignedIn {
                        id: &user_id,
                        name: &user_name,
                    }),
                )
                .await;
            // The identity provider's authentication time when it said one within the last
            // day and not in the future (beyond the skew); otherwise now.
            let now = signin.directory().now().unix_timestamp();
            let auth_time = auth_time
                .filter(|t| (now - 86_400..=now + 120).contains(t))
                .map_or(now, |t| t.min(now));
            let session = Session {
                tenant: tenant_id.to_string(),
                user: user_id,
                connection: connection.name.clone(),
                auth_time,
                amr,
                since: now,
            };
            let mut response = match pending.and_then(|p| p.authorize) {
                Some(authorize) => provider::issue_code(signin, &authorize, &session).await,
                None => landing(signin, &tenant.tenant, &user_name).await,
            };
            let cookies = response.headers_mut();
            if solicited && let Some(sealed) = signin.seal(SESSION_CONTEXT, &session) {
                cookies.append(
                    header::SET_COOKIE,
                    signin.session_cookie(SESSION_COOKIE, &sealed, SESSION_SECONDS),
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
            let reference: String = headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .chars()
                .take(64)
                .collect();
            trace
                .finish(signin, tenant_id, connection, Err(&failure))
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

/// Ends a test sign-in: its trace is written as any other's, and shown; no one is signed in
/// and no application's request is finished.
async fn test_ended(
    signin: &SignIn,
    tenant: &TenantContext,
    connection: &Connection,
    trace: Trace,
    outcome: Outcome,
    pending: &Pending,
) -> Response {
    let tenant_id = tenant.id();
    let vendor = connection.preset.vendor();
    let (steps, failure) = match &outcome {
        Ok(matched) => {
            let end = Ok(SignedIn {
                id: &matched.id,
                name: &matched.user_name,
            });
            (trace.finish(signin, tenant_id, connection, end).await, None)
        }
        Err(Ok(failure)) => {
            let steps = trace
                .finish(signin, tenant_id, connection, Err(failure))
                .await;
            (steps, Some((failure.to_string(), failure.hint(vendor))))
        }
        Err(Err(e)) => return internal(e),
    };
    let mut response = pages::test_result(
        &tenant.tenant,
        &connection.name,
        &steps,
        failure
            .as_ref()
            .map(|(why, hint)| (why.as_str(), hint.as_str())),
        signin.directory().now().unix_timestamp() - pending.started,
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        signin.cookie(PENDING_COOKIE, "", "/auth/", 0),
    );
    response
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

/// The query of `/auth/login`.
#[derive(Debug, serde::Deserialize)]
pub struct Login {
    #[serde(default)]
    email: String,
}

/// `GET /auth/login?email=ada@contoso.com`: SSO redirect (home-realm discovery). The tenant
/// whose verified domain the address is at signs the user in through its default connection;
/// an address at no tenant's domain goes back to the host application's own login (the
/// operator's `--sso-fallback-url`, with the address), or to a page that says so.
pub async fn login(
    axum::extract::State(signin): axum::extract::State<SignIn>,
    axum::extract::Query(query): axum::extract::Query<Login>,
) -> Response {
    let email: String = query.email.trim().chars().take(320).collect();
    match signin.directory().tenant_for_email(&email).await {
        Ok(Some(tenant)) => start(&signin, &tenant, None, None, false).await,
        Ok(None) => match &signin.0.fallback {
            Some(fallback) => match url::Url::parse(fallback) {
                Ok(mut url) => {
                    url.query_pairs_mut().append_pair("email", &email);
                    Redirect::to(url.as_str()).into_response()
                }
                Err(e) => internal(e),
            },
            None => pages::refused(
                StatusCode::NOT_FOUND,
                "No organisation signs in with this e-mail address's domain here.",
                "Sign in with your password in the application, or ask your IT administrator whether your organisation uses single sign-on.",
                "",
            ),
        },
        Err(e) => internal(e),
    }
}
