//! The operator's console: the first operator (through a one-time link), sign-in and
//! sign-out, and tenants (a searchable list, create, setup links, delete with confirmation).

use std::net::SocketAddr;

use crate::form::PageForm;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::Response;
use roster_directory::console::SessionFor;
use roster_directory::{DirectoryError, NewTenant, SignIn};
use serde::Deserialize;

use crate::pages::{Chrome, Delete, Login, Setup, TenantRow, Tenants, message, not_found, render};
use crate::portal::failed;
use crate::session::{Viewer, cookie, cookie_name, form_cookie_name, same, set_cookie, viewer};
use crate::view::page_window;
use crate::{ConsoleState, see_other};

/// Tenants per page of the list.
const PAGE: usize = 50;

/// A new form token, and the cookie that binds it to this browser.
fn form_token(state: &ConsoleState) -> (String, axum::http::HeaderValue) {
    let token = state
        .directory
        .secrets()
        .token()
        .trim_start_matches("rst_")
        .to_owned();
    let cookie = set_cookie(form_cookie_name(state.secure), &token, state.secure, 3600);
    (token, cookie)
}

fn form_ok(state: &ConsoleState, headers: &HeaderMap, given: &str) -> bool {
    cookie(headers, form_cookie_name(state.secure)).is_some_and(|c| same(c, given))
}

fn with_cookie(mut response: Response, cookie: axum::http::HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// The page an operator signs in to, for a session.
async fn signed_in(state: &ConsoleState, operator_id: String) -> Response {
    match state
        .directory
        .start_session(SessionFor::Operator(operator_id))
        .await
    {
        Ok((secret, session)) => {
            let age = (session.expires_at - session.created_at).whole_seconds();
            with_cookie(
                see_other("/console"),
                set_cookie(cookie_name(state.secure), &secret, state.secure, age),
            )
        }
        Err(e) => failed(&e),
    }
}

/// What a link may prefill.
#[derive(Debug, Deserialize)]
pub struct Prefill {
    #[serde(default)]
    email: String,
}

/// `GET /console/setup/{secret}`: the form that creates an operator.
pub async fn setup_form(
    State(state): State<ConsoleState>,
    Path(secret): Path<String>,
    Query(prefill): Query<Prefill>,
) -> Response {
    match state.directory.operator_invite_live(&secret).await {
        Ok(true) => {}
        Ok(false) => return dead_invite(),
        Err(e) => return failed(&e),
    }
    let (token, cookie) = form_token(&state);
    let page = Setup {
        chrome: Chrome::of(None),
        secret,
        form_token: token,
        email: prefill.email.chars().take(254).collect(),
        error: None,
    };
    with_cookie(render(StatusCode::OK, &page), cookie)
}

fn dead_invite() -> Response {
    message(
        StatusCode::NOT_FOUND,
        None,
        "This link cannot be used",
        "A link that creates an operator works once, for 30 minutes. Make a new one with \
         `roster operator create EMAIL`.",
    )
}

/// The first-operator and sign-in forms.
#[derive(Debug, Deserialize)]
pub struct Credentials {
    form_token: String,
    email: String,
    password: String,
    #[serde(default)]
    confirm: Option<String>,
    /// A TOTP code, for an operator with two-step sign-in.
    #[serde(default)]
    code: String,
}

/// `POST /console/setup/{secret}`: creates the operator, once, and signs it in.
pub async fn setup(
    State(state): State<ConsoleState>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<Credentials>,
) -> Response {
    if !form_ok(&state, &headers, &form.form_token) {
        return message(
            StatusCode::FORBIDDEN,
            None,
            "The form has expired",
            "Open the link again and fill in the form.",
        );
    }
    let again = |error: String| {
        let (token, cookie) = form_token(&state);
        let page = Setup {
            chrome: Chrome::of(None),
            secret: secret.clone(),
            form_token: token,
            email: form.email.clone(),
            error: Some(error),
        };
        with_cookie(render(StatusCode::BAD_REQUEST, &page), cookie)
    };
    if form.confirm.as_deref() != Some(form.password.as_str()) {
        return again("The two passwords differ.".into());
    }
    match state
        .directory
        .create_operator(&secret, &form.email, &form.password)
        .await
    {
        Ok(Some(operator)) => signed_in(&state, operator.id).await,
        Ok(None) => dead_invite(),
        Err(DirectoryError::Setting(why)) => again(format!("{why}.")),
        Err(e) => failed(&e),
    }
}

/// `GET /console/login`.
pub async fn login_form(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    if viewer(&state, &headers)
        .await
        .is_some_and(|v| v.operator.is_some())
    {
        return see_other("/console");
    }
    let (token, cookie) = form_token(&state);
    let page = Login {
        chrome: Chrome::of(None),
        form_token: token,
        email: String::new(),
        error: None,
        code_needed: false,
    };
    with_cookie(render(StatusCode::OK, &page), cookie)
}

/// `POST /console/login`: at most 10 failures per account and per address in 15 minutes.
pub async fn login(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    extensions: Extensions,
    PageForm(form): PageForm<Credentials>,
) -> Response {
    if !form_ok(&state, &headers, &form.form_token) {
        return see_other("/console/login");
    }
    let address = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or("unknown".to_owned(), |c| c.0.ip().to_string());
    let account = format!("account:{}", form.email.trim().to_lowercase());
    let keys = [account.clone(), format!("address:{address}")];
    let now = state.directory.clock().now();
    let blocked = state
        .limiter
        .lock()
        .map(|l| l.blocked(&keys, now))
        .unwrap_or(true);
    let mut code_needed = false;
    let outcome = if blocked {
        Err("Too many failed sign-ins: wait 15 minutes and try again.")
    } else {
        match state
            .directory
            .sign_in(&form.email, &form.password, &form.code)
            .await
        {
            Ok(SignIn::Operator(operator)) => Ok(operator),
            Ok(SignIn::CodeNeeded) => {
                code_needed = true;
                Err("")
            }
            Ok(SignIn::Refused) => {
                if let Ok(mut l) = state.limiter.lock() {
                    l.failed(&keys, now);
                }
                Err("The e-mail, the password or the code is not right.")
            }
            Err(e) => return failed(&e),
        }
    };
    match outcome {
        Ok(operator) => {
            if let Ok(mut l) = state.limiter.lock() {
                l.succeeded(&account);
            }
            signed_in(&state, operator.id).await
        }
        Err(why) => {
            let (token, cookie) = form_token(&state);
            let page = Login {
                chrome: Chrome::of(None),
                form_token: token,
                email: form.email,
                error: (!code_needed).then(|| why.to_owned()),
                code_needed,
            };
            let status = if blocked {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            with_cookie(render(status, &page), cookie)
        }
    }
}

/// A form that only carries the CSRF token.
#[derive(Debug, Deserialize)]
pub struct Plain {
    pub csrf: String,
}

/// `POST /console/logout`: ends the session (an operator's or an administrator's).
pub async fn logout(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let v = viewer(&state, &headers).await;
    let administrator = v.as_ref().is_some_and(|v| v.operator.is_none());
    if let Some(v) = v.filter(|v| v.csrf_ok(&form.csrf))
        && let Err(e) = state.directory.end_session(&v.secret).await
    {
        return failed(&e);
    }
    let gone = set_cookie(cookie_name(state.secure), "", state.secure, 0);
    if administrator {
        let page = message(
            StatusCode::OK,
            None,
            "Signed out",
            "You are signed out. To open your organisation's page again, ask for a new setup link.",
        );
        return with_cookie(page, gone);
    }
    with_cookie(see_other("/console/login"), gone)
}

/// An operator's session, or the sign-in page.
pub async fn operator(state: &ConsoleState, headers: &HeaderMap) -> Result<Viewer, Response> {
    match viewer(state, headers).await {
        Some(v) if v.operator.is_some() => Ok(v),
        Some(_) => Err(not_found()),
        None => Err(see_other("/console/login")),
    }
}

/// The list's query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<usize>,
    /// The slug of the tenant just created (the form redirects here, so that reloading the
    /// page does not create another).
    #[serde(default)]
    created: Option<String>,
}

/// What the list shows besides the tenants.
#[derive(Default)]
struct Said {
    notice: Option<String>,
    error: Option<String>,
    link: Option<(String, String)>,
}

async fn list(state: &ConsoleState, v: &Viewer, q: &str, page: usize, said: Said) -> Response {
    let all = match state.directory.tenants().await {
        Ok(t) => t,
        Err(e) => return failed(&e),
    };
    let needle = q.trim().to_lowercase();
    let matching: Vec<_> = all
        .into_iter()
        .filter(|t| {
            needle.is_empty() || t.name.to_lowercase().contains(&needle) || t.slug.contains(&needle)
        })
        .collect();
    let (start, n, pages) = page_window(matching.len(), page, PAGE);
    let mut rows = Vec::with_capacity(n);
    for t in matching.iter().skip(start).take(n) {
        let held = match state.directory.tenant_holdings(&t.id).await {
            Ok(h) => h,
            Err(e) => return failed(&e),
        };
        let last_request = match state.directory.tokens(&t.id).await {
            Ok(tokens) => tokens
                .iter()
                .filter_map(|k| k.last_used_at)
                .max()
                .map_or("never".to_owned(), crate::view::when),
            Err(e) => return failed(&e),
        };
        rows.push(TenantRow {
            last_request,
            name: t.name.clone(),
            slug: t.slug.clone(),
            plan: t.plan.name.clone(),
            users: held.users,
            groups: held.groups,
        });
    }
    let plans = match state.directory.plans().await {
        Ok(p) => p.into_iter().map(|p| p.name).collect(),
        Err(e) => return failed(&e),
    };
    let page = Tenants {
        chrome: Chrome::of(Some(v)),
        rows,
        q: q.to_owned(),
        page: page.clamp(1, pages),
        pages,
        total: matching.len(),
        plans,
        csrf: v.session.csrf.clone(),
        notice: said.notice,
        error: said.error,
        link: said.link,
    };
    render(StatusCode::OK, &page)
}

/// `GET /console`: the tenants, searchable and paginated.
pub async fn tenants(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut said = Said::default();
    if let Some(slug) = query.created.as_deref() {
        match state.directory.tenant_by_slug(slug).await {
            Ok(Some(t)) => said.notice = Some(format!("Created {} ({}).", t.name, t.slug)),
            Ok(None) => {}
            Err(e) => return failed(&e),
        }
    }
    list(&state, &v, &query.q, query.page.unwrap_or(1), said).await
}

/// The new-tenant form.
#[derive(Debug, Deserialize)]
pub struct Create {
    csrf: String,
    name: String,
    #[serde(default)]
    plan: Option<String>,
}

/// `POST /console/tenants`.
pub async fn create_tenant(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    PageForm(form): PageForm<Create>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.csrf_ok(&form.csrf) {
        return see_other("/console");
    }
    let new = NewTenant {
        name: form.name,
        external_id: None,
        plan: form.plan.filter(|p| !p.is_empty()),
    };
    match state.directory.create_tenant_with(&new).await {
        // Post, redirect, get: reloading the page shows the tenant again, not a second one.
        Ok(t) => see_other(&format!(
            "/console?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("created", &t.slug)
                .finish()
        )),
        Err(DirectoryError::Setting(why)) => {
            let said = Said {
                error: Some(format!("Not created: {why}.")),
                ..Said::default()
            };
            list(&state, &v, "", 1, said).await
        }
        Err(e) => failed(&e),
    }
}

/// `POST /console/tenants/{slug}/setup-link`: a new one-time link, shown on the list.
pub async fn setup_link(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.csrf_ok(&form.csrf) {
        return see_other("/console");
    }
    let tenant = match state.directory.tenant_by_slug(&slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(e) => return failed(&e),
    };
    match state.directory.create_portal_link(&tenant.id, None).await {
        Ok(issued) => {
            let url = format!("{}/portal/open/{}", state.public_url, issued.secret);
            let said = Said {
                link: Some((tenant.name.clone(), url)),
                ..Said::default()
            };
            list(&state, &v, "", 1, said).await
        }
        Err(e) => failed(&e),
    }
}

/// `GET /console/tenants/{slug}/delete`: what deleting would remove.
pub async fn delete_form(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let tenant = match state.directory.tenant_by_slug(&slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(e) => return failed(&e),
    };
    let held = match state.directory.tenant_holdings(&tenant.id).await {
        Ok(h) => h,
        Err(e) => return failed(&e),
    };
    let page = Delete {
        chrome: Chrome::of(Some(&v)),
        tenant_name: tenant.name,
        slug: tenant.slug,
        users: held.users,
        groups: held.groups,
        tokens: held.tokens,
        oauth_clients: held.oauth_clients,
        csrf: v.session.csrf.clone(),
    };
    render(StatusCode::OK, &page)
}

/// The delete confirmation.
#[derive(Debug, Deserialize)]
pub struct Confirm {
    csrf: String,
    confirm: String,
}

/// `POST /console/tenants/{slug}/delete`: deletes once the slug is typed.
pub async fn delete(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<Confirm>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.csrf_ok(&form.csrf) {
        return see_other("/console");
    }
    let tenant = match state.directory.tenant_by_slug(&slug).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(e) => return failed(&e),
    };
    if form.confirm.trim() != tenant.slug {
        let said = Said {
            error: Some(format!(
                "{} was not deleted: the slug typed did not match.",
                tenant.name
            )),
            ..Said::default()
        };
        return list(&state, &v, "", 1, said).await;
    }
    match state.directory.delete_tenant(&tenant.id).await {
        Ok(removed) => {
            let said = Said {
                notice: Some(format!(
                    "Deleted {}: {} users, {} groups, {} tokens, {} OAuth clients.",
                    tenant.name,
                    removed.users,
                    removed.groups,
                    removed.tokens,
                    removed.oauth_clients
                )),
                ..Said::default()
            };
            list(&state, &v, "", 1, said).await
        }
        Err(e) => failed(&e),
    }
}
