//! Forms as the pages read them. A form that cannot be read (a field missing, or not of the
//! kind the page's form sends: only a hand-made request does that) is answered with a page
//! saying nothing was saved, not with the framework's plain-text rejection.

use axum::Form;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::pages::message;

/// A form's fields, read as [`Form`] reads them.
pub struct PageForm<T>(pub T);

impl<T, S> FromRequest<S> for PageForm<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(fields)) => Ok(PageForm(fields)),
            Err(rejection) => {
                tracing::debug!(%rejection, "a form that could not be read");
                Err(message(
                    StatusCode::BAD_REQUEST,
                    None,
                    "The form could not be read",
                    "A field was missing or not what the page's form sends, so nothing was \
                     saved. Reload the page and try again.",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::header;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Two {
        #[allow(dead_code)]
        csrf: String,
        compatibility: String,
    }

    fn post(body: &'static str) -> Request {
        Request::post("/portal/x/settings")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("a request")
    }

    #[tokio::test]
    async fn a_whole_form_is_read() {
        let Ok(PageForm(two)) =
            PageForm::<Two>::from_request(post("csrf=a&compatibility=auto"), &()).await
        else {
            panic!("the form was refused");
        };
        assert_eq!(two.compatibility, "auto");
    }

    #[tokio::test]
    async fn a_form_missing_a_field_is_a_page_that_says_nothing_was_saved() {
        let Err(page) = PageForm::<Two>::from_request(post("csrf=a"), &()).await else {
            panic!("the form was read");
        };
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        let kind = page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(kind.starts_with("text/html"), "{kind}");
        let body = axum::body::to_bytes(page.into_body(), 1 << 20)
            .await
            .expect("the page");
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("nothing was") && text.contains("saved"),
            "{text}"
        );
    }
}
