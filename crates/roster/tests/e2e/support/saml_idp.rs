//! SimpleSAMLphp (Debian's `simplesamlphp`, PHP's built-in server) as a real SAML identity
//! provider on a loopback port, with a login form and three users, and a browser leg (an HTTP
//! client with a cookie jar) that signs in through it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use roster_sso::keys;

/// The users of the test identity provider: (username, password, e-mail).
pub const USERS: [(&str, &str, &str); 3] = [
    ("alice", "alicepass", "alice@example.org"),
    ("bob", "bobpass", "bob@example.org"),
    ("carol", "carolpass", "carol@example.org"),
];

/// A running SimpleSAMLphp.
pub struct SamlIdp {
    /// Its base URL.
    pub base: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn php_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl SamlIdp {
    /// Starts it; fails (it does not skip) when SimpleSAMLphp is not installed (`scripts/test`
    /// installs it).
    pub async fn start() -> SamlIdp {
        let www = PathBuf::from("/usr/share/simplesamlphp/www");
        assert!(
            www.exists(),
            "SimpleSAMLphp is not installed: run scripts/test, which installs simplesamlphp, php-cli and php-xml"
        );
        let dir = tempfile::tempdir().expect("a directory");
        let root = dir.path();
        for sub in ["config", "metadata", "cert", "log", "data", "tmp"] {
            std::fs::create_dir_all(root.join(sub)).expect("a directory");
        }
        let pair = keys::generate(
            "test-idp",
            1,
            time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        )
        .expect("a key");
        std::fs::write(
            root.join("cert/server.crt"),
            pair.certificate_pem().unwrap(),
        )
        .unwrap();
        std::fs::write(
            root.join("cert/server.pem"),
            pair.private_key_pem().unwrap(),
        )
        .unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let path = |p: &str| php_string(&format!("{}/{p}/", root.display()));
        std::fs::write(
            root.join("config/config.php"),
            format!(
                "<?php\n$config = [\n 'baseurlpath' => {base},\n 'certdir' => {cert},\n 'loggingdir' => {log},\n 'datadir' => {data},\n 'tempdir' => {tmp},\n 'metadatadir' => {meta},\n 'secretsalt' => 'roster-test-salt',\n 'auth.adminpassword' => 'roster-test-admin',\n 'timezone' => 'UTC',\n 'technicalcontact_name' => 'Roster tests',\n 'technicalcontact_email' => 'na@example.org',\n 'enable.saml20-idp' => true,\n 'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],\n 'logging.level' => SimpleSAML\\Logger::WARNING,\n 'logging.handler' => 'file',\n 'logging.logfile' => 'simplesamlphp.log',\n 'session.cookie.secure' => false,\n 'session.cookie.samesite' => null,\n 'language.cookie.secure' => false,\n 'store.type' => 'phpsession',\n 'admin.checkforupdates' => false,\n 'showerrors' => true,\n 'production' => true,\n];\n",
                base = php_string(&format!("{base}/")),
                cert = path("cert"),
                log = path("log"),
                data = path("data"),
                tmp = path("tmp"),
                meta = path("metadata"),
            ),
        )
        .unwrap();
        // The users are constants without quotes.
        let users: String = USERS
            .iter()
            .map(|(u, p, e)| {
                format!(
                    "  '{u}:{p}' => ['uid' => ['{u}'], 'email' => ['{e}'], 'displayName' => ['{u}']],\n"
                )
            })
            .collect();
        std::fs::write(
            root.join("config/authsources.php"),
            format!("<?php\n$config = [\n 'example-userpass' => [\n  'exampleauth:UserPass',\n{users} ],\n];\n"),
        )
        .unwrap();
        std::fs::write(
            root.join("metadata/saml20-idp-hosted.php"),
            "<?php\n$metadata['__DYNAMIC:1__'] = [\n 'host' => '__DEFAULT__',\n 'privatekey' => 'server.pem',\n 'certificate' => 'server.crt',\n 'auth' => 'example-userpass',\n 'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',\n 'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',\n 'simplesaml.nameidattribute' => 'email',\n];\n",
        )
        .unwrap();
        std::fs::write(root.join("metadata/saml20-sp-remote.php"), "<?php\n").unwrap();
        let child = Command::new("php")
            .args(["-S", &format!("127.0.0.1:{port}"), "-t"])
            .arg(&www)
            .env("SIMPLESAMLPHP_CONFIG_DIR", root.join("config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("php -S starts (php-cli)");
        let idp = SamlIdp { base, dir, child };
        let client = super::http_client();
        for _ in 0..200 {
            if let Ok(r) = client.get(idp.metadata_url()).send().await
                && r.status().is_success()
            {
                return idp;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("SimpleSAMLphp did not answer at {}", idp.metadata_url());
    }

    /// Its metadata URL (and entity id).
    pub fn metadata_url(&self) -> String {
        format!("{}/saml2/idp/metadata.php", self.base)
    }

    /// Its metadata XML.
    pub async fn metadata(&self) -> String {
        super::http_client()
            .get(self.metadata_url())
            .send()
            .await
            .expect("the metadata")
            .text()
            .await
            .expect("its text")
    }

    /// Trusts service providers: (entity id, ACS URL) each, signing responses and assertions.
    pub fn trust(&self, sps: &[(String, String)]) {
        let entries: String = sps
            .iter()
            .map(|(entity, acs)| {
                format!(
                    "$metadata[{}] = [\n 'AssertionConsumerService' => {},\n 'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',\n 'simplesaml.nameidattribute' => 'email',\n 'simplesaml.attributes' => true,\n 'saml20.sign.assertion' => true,\n 'saml20.sign.response' => true,\n];\n",
                    php_string(entity),
                    php_string(acs)
                )
            })
            .collect();
        std::fs::write(
            self.dir.path().join("metadata/saml20-sp-remote.php"),
            format!("<?php\n{entries}"),
        )
        .expect("writing the SP metadata");
    }
}

/// A browser: an HTTP client with a cookie jar that follows no redirect by itself.
pub struct Browser {
    client: reqwest::Client,
}

/// Where a walk ended.
pub struct Landed {
    /// The last URL asked for.
    pub url: String,
    /// Its status.
    pub status: u16,
    /// Its `Location`, when it is a redirect the walk stopped at.
    pub location: Option<String>,
    /// Its body.
    pub body: String,
}

fn attribute(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle)? + needle.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#039;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

fn form_action(html: &str) -> Option<String> {
    let start = html.find("action=\"")? + "action=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}

impl Browser {
    /// A new browser with an empty cookie jar.
    pub fn new() -> Browser {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a browser"),
        }
    }

    /// Follows redirects from `url` until a page answers, or until a redirect to a URL that
    /// starts with `stop_at` (the application's redirect URI, where nobody listens).
    pub async fn walk(&self, url: &str, stop_at: Option<&str>) -> Landed {
        self.walk_from(self.client.get(url), url.to_owned(), stop_at)
            .await
    }

    async fn walk_from(
        &self,
        mut request: reqwest::RequestBuilder,
        mut url: String,
        stop_at: Option<&str>,
    ) -> Landed {
        for _ in 0..20 {
            let response = request.send().await.expect("the request is answered");
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(|l| {
                    url::Url::parse(&url)
                        .and_then(|u| u.join(l))
                        .map(|u| u.to_string())
                        .unwrap_or_else(|_| l.to_owned())
                });
            match location {
                Some(next) if (300..400).contains(&status) => {
                    if stop_at.is_some_and(|s| next.starts_with(s)) {
                        return Landed {
                            url,
                            status,
                            location: Some(next),
                            body: String::new(),
                        };
                    }
                    request = self.client.get(&next);
                    url = next;
                }
                _ => {
                    let body = response.text().await.unwrap_or_default();
                    return Landed {
                        url,
                        status,
                        location: None,
                        body,
                    };
                }
            }
        }
        panic!("more than 20 redirects from {url}");
    }

    /// On SimpleSAMLphp's login form (`page`), signs in as `user`, and posts the answer it
    /// gives to where it says (Roster's ACS), following Roster's redirects up to `stop_at`.
    pub async fn log_in(
        &self,
        page: &Landed,
        user: &str,
        password: &str,
        stop_at: Option<&str>,
    ) -> Landed {
        let auth_state = attribute(&page.body, "AuthState").unwrap_or_else(|| {
            panic!(
                "no login form at {}: {}",
                page.url,
                &page.body[..page.body.len().min(800)]
            )
        });
        let login = url::Url::parse(&page.url)
            .unwrap()
            .join("/module.php/core/loginuserpass.php")
            .unwrap();
        let answered = self
            .client
            .post(login.as_str())
            .form(&[
                ("username", user),
                ("password", password),
                ("AuthState", &auth_state),
            ])
            .send()
            .await
            .expect("the login form is answered")
            .text()
            .await
            .unwrap_or_default();
        self.post_answer(&answered, stop_at).await
    }

    /// Posts the SAMLResponse of an identity provider's auto-submitting form to its action.
    pub async fn post_answer(&self, form: &str, stop_at: Option<&str>) -> Landed {
        let response = attribute(form, "SAMLResponse").unwrap_or_else(|| {
            panic!(
                "no SAMLResponse in the identity provider's answer: {}",
                &form[..form.len().min(800)]
            )
        });
        let relay = attribute(form, "RelayState").unwrap_or_default();
        let action = form_action(form).expect("the form's action");
        self.post_saml(&action, &response, &relay, stop_at).await
    }

    /// Posts a SAMLResponse to an ACS URL as the HTTP-POST binding does.
    pub async fn post_saml(
        &self,
        acs: &str,
        response: &str,
        relay: &str,
        stop_at: Option<&str>,
    ) -> Landed {
        let request = self
            .client
            .post(acs)
            .form(&[("SAMLResponse", response), ("RelayState", relay)]);
        self.walk_from(request, acs.to_owned(), stop_at).await
    }

    /// The SAMLResponse SimpleSAMLphp gives `user` for the sign-in started at `start` (not
    /// posted anywhere yet), for replaying it.
    pub async fn answer_for(&self, start: &str, user: &str, password: &str) -> (String, String) {
        let page = self.walk(start, None).await;
        let auth_state = attribute(&page.body, "AuthState").expect("the login form");
        let login = url::Url::parse(&page.url)
            .unwrap()
            .join("/module.php/core/loginuserpass.php")
            .unwrap();
        let answered = self
            .client
            .post(login.as_str())
            .form(&[
                ("username", user),
                ("password", password),
                ("AuthState", &auth_state),
            ])
            .send()
            .await
            .expect("the login form is answered")
            .text()
            .await
            .unwrap_or_default();
        (
            form_action(&answered).expect("the form's action"),
            attribute(&answered, "SAMLResponse").expect("a SAMLResponse"),
        )
    }
}
