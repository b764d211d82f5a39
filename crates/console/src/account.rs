//! The operator's own account: two-step sign-in (TOTP, RFC 6238) turned on with a QR code
//! and a code from the app, and turned off with a code.

use crate::form::PageForm;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_directory::totp::Enrolment;
use serde::Deserialize;

use crate::operators::operator;
use crate::pages::{Account, Chrome, render};
use crate::portal::failed;
use crate::session::Viewer;
use crate::{ConsoleState, see_other};

/// The QR code of an `otpauth://` URI, as inline SVG (no image request, no script).
pub fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // The XML declaration belongs to a file, not to an element inside HTML.
            match svg.find("<svg") {
                Some(at) => svg[at..].to_owned(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

fn page(
    v: &Viewer,
    setup: Option<Enrolment>,
    notice: Option<&str>,
    error: Option<String>,
) -> Response {
    let enabled = v.operator.as_ref().is_some_and(|o| o.totp_sealed.is_some());
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = Account {
        chrome: Chrome::of(Some(v)),
        email: v
            .operator
            .as_ref()
            .map(|o| o.email.clone())
            .unwrap_or_default(),
        enabled,
        qr: setup.as_ref().map(|e| qr_svg(&e.uri)),
        setup,
        notice: notice.map(str::to_owned),
        error,
        csrf: v.session.csrf.clone(),
    };
    render(status, &page)
}

/// `?setup=1` (show a new secret) or `?done=on|off`.
#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    #[serde(default)]
    setup: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// `GET /console/account`.
pub async fn show(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<AccountQuery>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(op) = v.operator.as_ref() else {
        return see_other("/console/login");
    };
    let setup = if q.setup.is_some() && op.totp_sealed.is_none() {
        match state.directory.new_totp(op) {
            Ok(e) => Some(e),
            Err(e) => return failed(&e),
        }
    } else {
        None
    };
    let notice = match q.done.as_deref() {
        Some("on") => Some("Two-step sign-in is on: from now on, signing in asks for a code."),
        Some("off") => Some("Two-step sign-in is off."),
        _ => None,
    };
    page(&v, setup, notice, None)
}

/// The forms that turn two-step sign-in on and off.
#[derive(Debug, Deserialize)]
pub struct TwoStep {
    csrf: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    code: String,
}

/// `POST /console/account/two-step`: turns it on with the secret shown and a code.
pub async fn enable(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    PageForm(form): PageForm<TwoStep>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(op) = v.operator.as_ref().filter(|_| v.csrf_ok(&form.csrf)) else {
        return see_other("/console/account");
    };
    if op.totp_sealed.is_some() {
        return see_other("/console/account");
    }
    match state
        .directory
        .enable_totp(op, &form.secret, &form.code)
        .await
    {
        Ok(true) => see_other("/console/account?done=on"),
        Ok(false) => {
            let again = state.directory.totp_enrolment(op, &form.secret).ok();
            let why = "That code is not right. Enter the six digits the app shows now (check \
                       that the phone's clock is set automatically).";
            page(&v, again, None, Some(why.to_owned()))
        }
        Err(roster_directory::DirectoryError::Setting(why)) => {
            page(&v, None, None, Some(format!("Start again: {why}.")))
        }
        Err(e) => failed(&e),
    }
}

/// `POST /console/account/two-step/off`: turns it off with a current code.
pub async fn disable(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    PageForm(form): PageForm<TwoStep>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(op) = v.operator.as_ref().filter(|_| v.csrf_ok(&form.csrf)) else {
        return see_other("/console/account");
    };
    match state.directory.disable_totp(op, &form.code).await {
        Ok(true) => see_other("/console/account?done=off"),
        Ok(false) => page(
            &v,
            None,
            None,
            Some(
                "That code is not right, or was used already: enter the code the app shows now."
                    .into(),
            ),
        ),
        Err(e) => failed(&e),
    }
}
