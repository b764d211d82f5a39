//! oidc-provider (npm, on the machine's Node.js) as a real OpenID Connect identity provider on
//! a loopback port, with Roster as its one client. It signs in whoever the test names next
//! (`sign_in_as`), or refuses (`refuse`), without a form.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// A running oidc-provider.
pub struct OidcIdp {
    /// Its issuer URL.
    pub issuer: String,
    account: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for OidcIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `scripts/test` installs oidc-provider (`npm install` of the fixture's package.json).
fn installed() -> PathBuf {
    let dir = std::env::var_os("ROSTER_TEST_OIDC_PROVIDER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/oidc-provider")
        });
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "oidc-provider is not installed in {}: run scripts/test, which installs it with npm",
        dir.display()
    );
    dir
}

/// A free loopback port (the identity provider's issuer must be known before it starts, for
/// the connection whose redirect URI it registers).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl OidcIdp {
    /// Starts it on `port` with Roster as the client `client_id`/`secret` at `redirect_uri`.
    pub fn start(port: u16, client_id: &str, secret: &str, redirect_uri: &str) -> OidcIdp {
        Self::run("idp.mjs", port, client_id, secret, redirect_uri, &[])
    }

    /// Starts the multi-tenant one (`ms365.mjs`): one provider per directory in `directories`,
    /// each with its own issuer `{base}/{tid}/v2.0`, behind the shared authority
    /// `{base}/organizations/v2.0` whose configuration's issuer is a template, as Entra's.
    pub fn multi_tenant(
        port: u16,
        client_id: &str,
        secret: &str,
        redirect_uri: &str,
        directories: &[&str],
    ) -> OidcIdp {
        let directories = directories.join(",");
        let env = [("IDP_DIRECTORIES", directories.as_str())];
        Self::run("ms365.mjs", port, client_id, secret, redirect_uri, &env)
    }

    fn run(
        fixture: &str,
        port: u16,
        client_id: &str,
        secret: &str,
        redirect_uri: &str,
        env: &[(&str, &str)],
    ) -> OidcIdp {
        let dir = tempfile::tempdir().expect("a directory");
        let install = installed();
        // ES modules resolve packages from the script's own folder: run a copy beside them.
        let script = install.join(format!("{}-{fixture}", std::process::id()));
        std::fs::copy(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/e2e/fixtures/oidc-provider")
                .join(fixture),
            &script,
        )
        .expect("the identity provider's script");
        let account = dir.path().join("account.json");
        std::fs::write(&account, json!({"sub": "nobody"}).to_string()).unwrap();
        let client = json!({
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": [redirect_uri],
        });
        // Node has been seen to hang at start, before listening, now and then on a busy
        // machine: the readiness line is awaited a bounded time, and a start that does not
        // come is killed and tried again.
        let mut tries = 0;
        let child = loop {
            tries += 1;
            let mut child = Command::new("node")
                .arg(&script)
                .env("IDP_PORT", port.to_string())
                .env("IDP_CLIENT", client.to_string())
                .env("IDP_ACCOUNT_FILE", &account)
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("node starts (the machine's Node.js)");
            let stdout = child.stdout.take().expect("its output");
            let (said, heard) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let _ = said.send(line);
                // What it says later (warnings) is read and dropped: a closed pipe would end
                // it.
                std::io::copy(&mut reader, &mut std::io::sink())
            });
            match heard.recv_timeout(std::time::Duration::from_secs(30)) {
                Ok(line) => {
                    assert!(line.starts_with("listening"), "oidc-provider said {line:?}");
                    break child;
                }
                Err(_) if tries < 3 => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                Err(_) => panic!("oidc-provider did not start listening in 30 s, three times"),
            }
        };
        OidcIdp {
            issuer: format!("http://127.0.0.1:{port}"),
            account,
            child,
            _dir: dir,
        }
    }

    /// The next sign-in is this account (its claims: `sub`, `email`, `oid`, …).
    pub fn sign_in_as(&self, claims: Value) {
        std::fs::write(&self.account, claims.to_string()).expect("writing the account");
    }

    /// The next sign-in is refused with this OAuth error.
    pub fn refuse(&self, error: &str) {
        std::fs::write(&self.account, json!({"error": error}).to_string())
            .expect("writing the refusal");
    }
}
