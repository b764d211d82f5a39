//! The stylesheet, the copy-button script and htmx (vendored, `assets/README.md`), served under
//! names that carry a hash of their content, so that they can be cached for ever and a new
//! build is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");
const HTMX: &str = include_str!("../assets/htmx.min.js");

fn hashed(stem: &str, ext: &str, content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{stem}.{hex}.{ext}")
}

static CSS_NAME: LazyLock<String> = LazyLock::new(|| hashed("console", "css", CSS));
static JS_NAME: LazyLock<String> = LazyLock::new(|| hashed("console", "js", JS));
static HTMX_NAME: LazyLock<String> = LazyLock::new(|| hashed("htmx", "js", HTMX));

/// The stylesheet's URL.
pub fn css_url() -> String {
    format!("/console/assets/{}", *CSS_NAME)
}

/// The script's URL.
pub fn js_url() -> String {
    format!("/console/assets/{}", *JS_NAME)
}

/// htmx's URL.
pub fn htmx_url() -> String {
    format!("/console/assets/{}", *HTMX_NAME)
}

/// `GET /console/assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, kind) = if name == *CSS_NAME {
        (CSS, "text/css; charset=utf-8")
    } else if name == *JS_NAME {
        (JS, "text/javascript; charset=utf-8")
    } else if name == *HTMX_NAME {
        (HTMX, "text/javascript; charset=utf-8")
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}
