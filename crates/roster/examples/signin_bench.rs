//! What a sign-in costs on Roster's side: a Roster server in this process (SQLite in a
//! temporary directory, the provisioning log on), a tenant with 2,000 provisioned users, a
//! SAML connection to a test identity provider whose responses this program signs (outside the
//! timings: that is the identity provider's work), and a host application. Each round, timed
//! over loopback HTTP:
//!
//! 1. `GET /oauth/authorize` (with `organization`): the signed request to the identity
//!    provider;
//! 2. `POST` the identity provider's signed answer to the ACS: verified, used once, matched,
//!    traced, a session set, the application's code;
//! 3. `GET /oauth/authorize` again, with that session: a code at once;
//! 4. `POST /oauth/token`: the ID token and access token.
//!
//! `cargo run --release -p roster --example signin_bench -- [ROUNDS]` (default 500).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use roster::startup::{self, Application, StoreOptions, Workers};
use roster_directory::sso::{NewSamlConnection, Preset};
use roster_directory::{SystemClock, SystemSecrets};
use roster_server::Config;
use roster_sso::testing::{Signing, TestIdp};
use roster_store::TenantId;
use sha2::Digest;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{name:<34} p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse())
        .transpose()?
        .unwrap_or(500);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let store = startup::open_store(
        &url,
        StoreOptions {
            may_create: true,
            max_connections: 8,
        },
    )
    .await?;
    let key = roster_directory::sealing::ServerKey::generate(&SystemSecrets);
    let directory = startup::directory(store, Arc::new(SystemClock), Arc::new(SystemSecrets))
        .with_keyring(roster_directory::sealing::Keyring::new(key));
    directory.check_keys().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let state = startup::app_state(directory.clone(), Config::new(&address), true);
    tokio::spawn(Application::new(listener, state, Workers::default()).run(std::future::pending()));

    let issued = directory.create_tenant("Contoso").await?;
    let tenant = issued.tenant.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let scim = format!("{address}/scim/v2/{}", tenant.id);
    for i in 0..2000 {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("user{i}@contoso.com"),
            "active": true,
        });
        let r = http
            .post(format!("{scim}/Users"))
            .bearer_auth(&issued.token)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 201, "seeding: {}", r.status());
    }
    let idp = TestIdp::new("https://idp.bench", directory.now());
    let connection = directory
        .add_saml_connection(
            &TenantId::new(tenant.id.as_str()),
            NewSamlConnection {
                name: "main".into(),
                preset: Preset::Entra,
                metadata: idp.metadata(true),
                user_key: Some(roster_directory::sso::UserKey {
                    claim: "nameid".into(),
                    attribute: roster_directory::sso::Matched::UserName,
                }),
                idp_initiated: Some(true),
                is_default: true,
                metadata_url: None,
            },
        )
        .await?;
    let entity = roster_sso::urls::entity_id(&address, tenant.id.as_str(), &connection.id);
    let acs = roster_sso::urls::acs_url(&address, tenant.id.as_str(), &connection.id);
    let callback = "http://127.0.0.1:9/callback";
    let app = directory
        .create_host_app("Bench", &[callback.to_owned()], None)
        .await?;
    let verifier = "v".repeat(64);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let authorize = format!(
        "{address}/oauth/authorize?response_type=code&client_id={}&redirect_uri={callback}&scope=openid%20email&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256&organization={}",
        app.app.id, tenant.slug
    );

    let (mut start, mut consume, mut code, mut token, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        // The application sends the browser to Roster, which sends it to the identity
        // provider with a signed request.
        let t = Instant::now();
        let r = browser.get(&authorize).send().await?;
        anyhow::ensure!(r.status() == 303, "start: {}", r.status());
        start.push(t.elapsed());
        let to_idp = url::Url::parse(r.headers()["location"].to_str()?)?;
        let request = to_idp
            .query_pairs()
            .find(|(k, _)| k == "SAMLRequest")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| anyhow::anyhow!("no SAMLRequest"))?;
        let mut xml = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::DeflateDecoder::new(
                &base64::engine::general_purpose::STANDARD.decode(request)?[..],
            ),
            &mut xml,
        )?;
        let id = xml
            .split("ID=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .ok_or_else(|| anyhow::anyhow!("no request id"))?
            .to_owned();

        // The identity provider's work, not timed.
        let mut spec = idp.spec(
            &format!("user{}@contoso.com", round % 2000),
            &entity,
            &acs,
            directory.now(),
        );
        spec.signing = Signing::Both;
        spec.in_response_to = Some(id);
        let posted = TestIdp::post(&idp.xml(&spec));

        // The answer: checked, used once, matched; the application's code.
        let began = Instant::now();
        let r = browser
            .post(&acs)
            .form(&[("SAMLResponse", posted.as_str())])
            .send()
            .await?;
        anyhow::ensure!(r.status() == 303, "ACS: {} {}", r.status(), r.text().await?);
        consume.push(began.elapsed());

        // Once signed in, the next authorize answers at once from Roster's session.
        let t = Instant::now();
        let r = browser.get(&authorize).send().await?;
        anyhow::ensure!(r.status() == 303, "authorize: {}", r.status());
        let location = url::Url::parse(r.headers()["location"].to_str()?)?;
        let the_code = location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| anyhow::anyhow!("no code"))?;
        code.push(t.elapsed());

        let t = Instant::now();
        let r = http
            .post(format!("{address}/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", the_code.as_str()),
                ("redirect_uri", callback),
                ("code_verifier", verifier.as_str()),
                ("client_id", app.app.id.as_str()),
                ("client_secret", app.client_secret.as_str()),
            ])
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "token: {}", r.status());
        token.push(t.elapsed());
        total.push(began.elapsed());
    }
    println!("{rounds} sign-ins, SQLite, 2,000 users, provisioning log on, loopback HTTP:");
    report("authorize → signed AuthnRequest", start);
    report("ACS (verify, use once, match, code)", consume);
    report("authorize with the session (code)", code);
    report("token (ID token + access token)", token);
    report("ACS + authorize + token", total);
    Ok(())
}
