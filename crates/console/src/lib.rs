//! The pages: each tenant's **Provisioning & SSO** page (`/portal/{slug}`), which a customer's
//! administrator opens with a one-time setup link, and the operator's **console**
//! (`/console`): first operator, sign-in, tenants.
//!
//! Server-rendered HTML (askama, escaped by default) that works without JavaScript; one small
//! script adds copy buttons. Sessions live in the database (any process serves any request):
//! the cookie holds a random secret, the database its SHA-256. Every form carries the
//! session's CSRF token; sign-in and first-operator forms, before any session, a token bound
//! to a cookie of their own. Every page of a tenant checks that the session may open that
//! tenant, and answers 404 otherwise, as for a tenant that does not exist.
//!
//! What is pure (which values an identity provider wants, how times and tokens read, the
//! sign-in limiter, `roster_directory::limiter`) is in `view`; the handlers are in `portal` and `operators`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use roster_directory::Directory;

mod account;
mod approvals;
mod assets;
mod dry_run;
mod form;
mod health;
mod hold;
mod integrations;
mod logs;
mod operators;
mod pages;
mod people;
mod portal;
mod rules;
mod session;
mod sso;
mod targets;
pub mod view;

pub use roster_directory::limiter::Limiter;

/// What every page handler shares.
#[derive(Clone)]
pub struct ConsoleState {
    directory: Directory,
    /// The externally visible base URL (`https://roster.example.com`).
    public_url: String,
    /// Whether cookies are `Secure` and `__Host-` prefixed (the public URL is https).
    secure: bool,
    /// Failed sign-ins per account and per address.
    limiter: Arc<Mutex<Limiter>>,
}

/// The pages over a directory, for a server whose public URL is `public_url`.
pub fn router(directory: Directory, public_url: &str) -> Router {
    let state = ConsoleState {
        directory,
        public_url: public_url.trim_end_matches('/').to_owned(),
        secure: public_url.starts_with("https://"),
        // Ten failed sign-ins per account or address in fifteen minutes.
        limiter: Arc::new(Mutex::new(Limiter::new(
            10,
            time::Duration::minutes(15),
            10_000,
        ))),
    };
    Router::new()
        .route("/console", get(operators::tenants))
        .route("/console/assets/{name}", get(assets::serve))
        .route(
            "/console/setup/{secret}",
            get(operators::setup_form).post(operators::setup),
        )
        .route(
            "/console/login",
            get(operators::login_form).post(operators::login),
        )
        .route("/console/logout", post(operators::logout))
        .route("/console/account", get(account::show))
        .route("/console/account/two-step", post(account::enable))
        .route("/console/account/two-step/off", post(account::disable))
        .route(
            "/console/keys",
            get(integrations::keys).post(integrations::create_key),
        )
        .route("/console/keys/{id}/revoke", post(integrations::revoke_key))
        .route(
            "/console/webhooks",
            get(integrations::webhooks).post(integrations::create_webhook),
        )
        .route("/console/webhooks/{id}", get(integrations::webhook))
        .route(
            "/console/webhooks/{id}/rotate",
            post(integrations::rotate_webhook),
        )
        .route(
            "/console/webhooks/{id}/remove",
            post(integrations::remove_webhook),
        )
        .route(
            "/console/plans",
            get(integrations::plans).post(integrations::set_plan),
        )
        .route("/console/tenants", post(operators::create_tenant))
        .route(
            "/console/tenants/{slug}/setup-link",
            post(operators::setup_link),
        )
        .route(
            "/console/tenants/{slug}/delete",
            get(operators::delete_form).post(operators::delete),
        )
        .route("/portal/open/{secret}", get(portal::open))
        .route("/portal/{slug}", get(portal::page))
        .route("/portal/{slug}/tokens", post(portal::generate))
        .route("/portal/{slug}/tokens/{id}/reveal", post(portal::reveal))
        .route("/portal/{slug}/tokens/{id}/revoke", post(portal::revoke))
        .route("/portal/{slug}/settings", post(portal::settings))
        .route("/portal/{slug}/hold/{decision}", post(hold::decide))
        .route("/portal/{slug}/clients", post(portal::create_client))
        .route(
            "/portal/{slug}/clients/{id}/revoke",
            post(portal::revoke_client),
        )
        .route("/portal/{slug}/sso", post(sso::add))
        .route("/portal/{slug}/sso/oidc", post(sso::add_oidc))
        .route("/portal/{slug}/sso/domains", post(sso::domain))
        .route("/portal/{slug}/sso/{id}/remove", post(sso::remove))
        .route("/portal/{slug}/sso/{id}/change", post(sso::change))
        .route(
            "/portal/{slug}/targets",
            get(targets::list).post(targets::add),
        )
        .route("/portal/{slug}/targets/{id}", get(targets::show))
        .route("/portal/{slug}/targets/{id}/test", post(targets::test))
        .route("/portal/{slug}/targets/{id}/dry-run", get(dry_run::page))
        .route("/portal/{slug}/targets/{id}/check", post(rules::check))
        .route("/portal/{slug}/targets/{id}/rules", post(rules::save))
        .route("/portal/{slug}/targets/{id}/roles", post(rules::save_roles))
        .route(
            "/portal/{slug}/targets/{id}/entitlements",
            post(rules::refresh),
        )
        .route(
            "/portal/{slug}/targets/{id}/approvals",
            post(approvals::decide),
        )
        .route(
            "/portal/{slug}/targets/{id}/dry-run.jsonl",
            get(dry_run::download),
        )
        .route("/portal/{slug}/targets/{id}/pause", post(targets::pause))
        .route(
            "/portal/{slug}/targets/{id}/restart",
            post(targets::restart),
        )
        .route(
            "/portal/{slug}/targets/{id}/provision",
            post(targets::provision),
        )
        .route("/portal/{slug}/targets/{id}/assign", post(targets::assign))
        .route(
            "/portal/{slug}/targets/{id}/settings",
            post(targets::settings),
        )
        .route("/portal/{slug}/logs", get(logs::list))
        .route("/portal/{slug}/logs/export", get(logs::export))
        .route("/portal/{slug}/logs/{seq}", get(logs::entry))
        .route("/portal/{slug}/users", get(people::users))
        .route("/portal/{slug}/users/{id}", get(people::user))
        .route("/portal/{slug}/groups", get(people::groups))
        .route("/portal/{slug}/groups/{id}", get(people::group))
        .fallback(|| async { pages::not_found() })
        .with_state(state)
}

/// The headers every page carries: no script or style but Roster's own, no framing, no
/// referrer (a setup link's secret is in its URL), never cached.
fn page_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A rendered page with its status and the page headers.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    page_headers(response.headers_mut());
    response
}

/// A redirect after a form (303: the browser follows it with GET).
fn see_other(to: &str) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/console")),
        )],
    )
        .into_response();
    page_headers(response.headers_mut());
    response
}
