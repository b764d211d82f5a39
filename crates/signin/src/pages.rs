//! The few pages a person sees during sign-in: a refusal that says why and whom to ask, the
//! question for their organisation, and "you are signed in" when no application waits. Plain
//! HTML, no script, their own small stylesheet inline (allowed by hash-free `style-src` of the
//! page's CSP, which allows nothing else).

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const LAYOUT_HEAD: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><style>body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}main{max-width:34rem;margin:4rem auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:2rem}h1{font-size:1.4rem;margin-top:0}.why{background:#fff5f5;border-left:4px solid #cf222e;padding:.75rem 1rem}.hint{background:#f6f8fa;border-left:4px solid #0969da;padding:.75rem 1rem}label{display:block;font-weight:600;margin:.5rem 0}input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}button{font:inherit;margin-top:1rem;padding:.5rem 1rem;background:#0969da;color:#fff;border:0;border-radius:6px}small{color:#57606a}</style>"#;

/// A refused sign-in.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"{{ head|safe }}<title>Sign-in refused</title></head><body><main>
<h1>You could not be signed in</h1>
<p class="why" id="why">{{ explanation }}</p>
<p class="hint" id="hint">{{ hint }}</p>
<p>{{ whom }}</p>
{% if !reference.is_empty() %}<p><small>Reference for your IT administrator: {{ reference }}</small></p>{% endif %}
</main></body></html>"#
)]
pub struct Refused<'a> {
    head: &'a str,
    pub explanation: &'a str,
    pub hint: &'a str,
    pub whom: &'a str,
    pub reference: &'a str,
}

/// The question for the organisation, when the application did not say which.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"{{ head|safe }}<title>Sign in</title></head><body><main>
<h1>Sign in with your organisation</h1>
<form method="get" action="/oauth/authorize">
{% for (name, value) in hidden %}<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}<label for="organization">Your organisation's sign-in name</label>
<input id="organization" name="organization" required autocomplete="organization" value="{{ given }}">
<small>Your IT administrator finds it on the Provisioning &amp; SSO page, in the sign-on URL.</small>
{% if !problem.is_empty() %}<p class="why" id="problem">{{ problem }}</p>{% endif %}
<button type="submit">Continue</button>
</form></main></body></html>"#
)]
pub struct Organisation<'a> {
    head: &'a str,
    pub hidden: Vec<(String, String)>,
    pub given: &'a str,
    pub problem: &'a str,
}

/// Signed in, with no application waiting.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"{{ head|safe }}<title>Signed in</title></head><body><main>
<h1>You are signed in</h1>
<p id="who">Signed in as <strong>{{ user }}</strong> of {{ organisation }}.</p>
<p>Return to the application and sign in there; it will not ask for your password again.</p>
</main></body></html>"#
)]
pub struct SignedIn<'a> {
    head: &'a str,
    pub user: &'a str,
    pub organisation: &'a str,
}

/// The end of a test sign-in, with its trace.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"{{ head|safe }}<title>Test sign-in</title></head><body><main>
<h1>{% if failure.is_some() %}Test sign-in failed{% else %}Test sign-in succeeded{% endif %}</h1>
<p>Through the connection <strong>{{ connection }}</strong> of {{ organisation }}, in {{ seconds }} s.</p>
<ol id="steps">{% for step in steps %}<li>{{ step }}</li>{% endfor %}</ol>
{% if let Some((why, hint)) = failure %}<p class="why" id="why">{{ why }}</p>
<p class="hint" id="hint">{{ hint }}</p>{% endif %}
<p><small>This was a test: no one was signed in to the application. The trace is also in the
provisioning log.</small></p>
<p><a href="/portal/{{ slug }}#sso-heading">Back to the Provisioning &amp; SSO page</a></p>
</main></body></html>"#
)]
pub struct TestResult<'a> {
    head: &'a str,
    pub organisation: &'a str,
    pub slug: &'a str,
    pub connection: &'a str,
    pub steps: &'a [String],
    pub failure: Option<(String, &'a str)>,
    pub seconds: i64,
}

/// The test sign-in's page.
pub fn test_result(
    tenant: &roster_store::Tenant,
    connection: &str,
    steps: &[String],
    failure: Option<(&str, &str)>,
    seconds: i64,
) -> Response {
    page(
        StatusCode::OK,
        TestResult {
            head: LAYOUT_HEAD,
            organisation: &tenant.name,
            slug: &tenant.slug,
            connection,
            steps,
            failure: failure.map(|(why, hint)| (sentence(why), hint)),
            seconds: seconds.max(0),
        }
        .render(),
    )
}

fn page(status: StatusCode, html: Result<String, askama::Error>) -> Response {
    match html {
        Ok(body) => {
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
            headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering a sign-in page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `text` with its first letter capitalised, as a sentence on a page.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The refusal page.
pub fn refused(status: StatusCode, explanation: &str, hint: &str, reference: &str) -> Response {
    let explanation = &sentence(explanation);
    let whom = "If you think this is wrong, send this page to your IT administrator: they manage your access to this application in your organisation's identity provider.";
    page(
        status,
        Refused {
            head: LAYOUT_HEAD,
            explanation,
            hint,
            whom,
            reference,
        }
        .render(),
    )
}

/// The organisation question.
pub fn organisation(hidden: Vec<(String, String)>, given: &str, problem: &str) -> Response {
    let status = if problem.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    page(
        status,
        Organisation {
            head: LAYOUT_HEAD,
            hidden,
            given,
            problem,
        }
        .render(),
    )
}

/// The signed-in page.
pub fn signed_in(user: &str, organisation: &str) -> Response {
    page(
        StatusCode::OK,
        SignedIn {
            head: LAYOUT_HEAD,
            user,
            organisation,
        }
        .render(),
    )
}
