//! A minimal OpenID Connect identity provider written here, whose ID tokens a test can make
//! wrong on purpose (another nonce, another issuer, another audience, expired): what a real
//! identity provider never sends, for the refusal tests. Real sign-ins are tested against
//! oidc-provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use roster_directory::Clock as _;
use serde_json::{Value, json};

/// What the next ID token gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrong {
    /// Nothing.
    Nothing,
    /// Another nonce.
    Nonce,
    /// Another issuer.
    Issuer,
    /// Another audience.
    Audience,
    /// Expired an hour ago.
    Expired,
}

struct Inner {
    base: String,
    client_id: String,
    key: EncodingKey,
    jwk: Value,
    wrong: Wrong,
    subject: Value,
    codes: HashMap<String, String>,
}

/// The running identity provider.
#[derive(Clone)]
pub struct FakeOidc(Arc<Mutex<Inner>>);

impl FakeOidc {
    /// Starts it on a loopback port, for `client_id`.
    pub async fn start(client_id: &str) -> FakeOidc {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let der = roster_sso::keys::token_key().unwrap();
        let jwk = roster_sso::keys::public_jwk(&der, "fake-1").unwrap();
        let key = EncodingKey::from_rsa_der(&roster_sso::keys::to_pkcs1_der(&der).unwrap());
        let idp = FakeOidc(Arc::new(Mutex::new(Inner {
            base,
            client_id: client_id.to_owned(),
            key,
            jwk,
            wrong: Wrong::Nothing,
            subject: json!({}),
            codes: HashMap::new(),
        })));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(configuration))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        idp
    }

    /// Its issuer.
    pub fn issuer(&self) -> String {
        self.0.lock().unwrap().base.clone()
    }

    /// The next sign-in: who (their claims) and what the ID token gets wrong.
    pub fn next(&self, subject: Value, wrong: Wrong) {
        let mut inner = self.0.lock().unwrap();
        inner.subject = subject;
        inner.wrong = wrong;
    }
}

async fn configuration(State(idp): State<FakeOidc>) -> Json<Value> {
    let base = idp.issuer();
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(idp): State<FakeOidc>) -> Json<Value> {
    Json(json!({"keys": [idp.0.lock().unwrap().jwk.clone()]}))
}

async fn authorize(
    State(idp): State<FakeOidc>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = idp.0.lock().unwrap();
    let code = format!("code-{}", inner.codes.len());
    inner
        .codes
        .insert(code.clone(), q.get("nonce").cloned().unwrap_or_default());
    let mut url = url::Url::parse(&q["redirect_uri"]).unwrap();
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair(
            "state",
            q.get("state").map(String::as_str).unwrap_or_default(),
        )
        .append_pair("iss", &inner.base);
    Redirect::to(url.as_str()).into_response()
}

async fn token(State(idp): State<FakeOidc>, Form(form): Form<HashMap<String, String>>) -> Response {
    let inner = idp.0.lock().unwrap();
    let nonce = inner
        .codes
        .get(form.get("code").map(String::as_str).unwrap_or_default())
        .cloned()
        .unwrap_or_default();
    // An identity provider's own clock: the server under test reads the same real time.
    let now = roster_directory::SystemClock.now().unix_timestamp();
    let mut claims = inner.subject.clone();
    let fields = claims.as_object_mut().unwrap();
    let issuer = inner.base.clone();
    fields.insert(
        "iss".into(),
        json!(if inner.wrong == Wrong::Issuer {
            "https://elsewhere.test"
        } else {
            issuer.as_str()
        }),
    );
    fields.insert(
        "aud".into(),
        json!(if inner.wrong == Wrong::Audience {
            "someone-else"
        } else {
            inner.client_id.as_str()
        }),
    );
    fields.insert(
        "nonce".into(),
        json!(if inner.wrong == Wrong::Nonce {
            "another-nonce"
        } else {
            nonce.as_str()
        }),
    );
    fields.insert("iat".into(), json!(now - 7200));
    fields.insert(
        "exp".into(),
        json!(if inner.wrong == Wrong::Expired {
            now - 3600
        } else {
            now + 3600
        }),
    );
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("fake-1".into());
    let id_token = jsonwebtoken::encode(&header, &claims, &inner.key).unwrap();
    Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": id_token}))
        .into_response()
}
