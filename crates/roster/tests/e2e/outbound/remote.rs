//! The SCIM applications the engine pushes into in tests, and a small client to read what
//! they hold.

use serde_json::Value;

/// A target's SCIM base URL and token, and a client that reads it.
pub struct Remote {
    /// The SCIM base URL.
    pub base: String,
    /// Its bearer token.
    pub token: String,
    http: reqwest::Client,
}

impl Remote {
    /// A target at `base` with `token`.
    pub fn new(base: &str, token: &str) -> Remote {
        Remote {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// `GET path` (below the base URL), as JSON; `Null` on 404.
    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept", "application/scim+json")
            .send()
            .await
            .expect("the target answers");
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Value::Null;
        }
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("JSON")
    }

    /// The one `endpoint` object whose `attribute` is `value`.
    pub async fn find(&self, endpoint: &str, attribute: &str, value: &str) -> Option<Value> {
        let filter = format!("{attribute} eq \"{value}\"");
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", &filter)
            .finish();
        let list = self.get(&format!("/{endpoint}?{query}")).await;
        super::first(&list)
    }
}

/// A SCIM server in a child process, stopped when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn workspace() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts `command`, which prints `listening on URL` first; returns it and the URL.
fn launch(make: impl Fn() -> std::process::Command, what: &str) -> (Child, String) {
    use std::io::BufRead as _;
    // A start that does not say it listens within 30 s (Node has been seen to hang before
    // listening on a busy machine) is killed and tried again, three times at most.
    for _ in 0..3 {
        let mut child = make()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} starts: {e}"));
        let stdout = child.stdout.take().expect("its output");
        let child = Child(child);
        let (said, heard) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = said.send(line);
            // What it says later is read and dropped: a closed pipe would end it.
            std::io::copy(&mut reader, &mut std::io::sink())
        });
        if let Ok(line) = heard.recv_timeout(std::time::Duration::from_secs(30)) {
            let url = line
                .trim()
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("{what} said {line:?}"))
                .to_owned();
            return (child, url);
        }
    }
    panic!("{what} did not start listening in 30 s, three times")
}

/// A fresh random token for a test server.
fn token() -> String {
    format!("test-{}", std::process::id()) + &format!("{:x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(7);
    h.finish()
}

/// python-scim's scim2-server (PyPI), in the virtual environment `scripts/test` makes.
pub struct Scim2Server {
    /// Its base URL and token.
    pub remote: Remote,
    _child: Child,
}

impl Scim2Server {
    /// Starts one on a free port.
    pub async fn start() -> Scim2Server {
        let venv = std::env::var_os("ROSTER_TEST_SCIM2_SERVER")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| workspace().join("target/scim2-server"));
        let python = venv.join("bin/python");
        assert!(
            python.exists(),
            "scim2-server is not installed in {}: run scripts/test, which installs it with pip",
            venv.display()
        );
        let token = token();
        let make = || {
            let mut command = std::process::Command::new(&python);
            command
                .arg(workspace().join("crates/roster/tests/e2e/fixtures/scim2-server/serve.py"))
                .env("SCIM_TOKEN", &token);
            command
        };
        let (child, url) = launch(make, "scim2-server");
        Scim2Server {
            remote: Remote::new(&url, &token),
            _child: child,
        }
    }
}

/// A server built on SCIMMY and scimmy-routers (npm), installed by `scripts/test`.
pub struct Scimmy {
    /// Its base URL and token.
    pub remote: Remote,
    _child: Child,
}

impl Scimmy {
    /// Starts one on a free port.
    pub async fn start() -> Scimmy {
        let install = std::env::var_os("ROSTER_TEST_SCIMMY")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| workspace().join("target/scimmy"));
        assert!(
            install.join("node_modules/scimmy").exists(),
            "SCIMMY is not installed in {}: run scripts/test, which installs it with npm",
            install.display()
        );
        // ES modules resolve packages from the script's own folder: run a copy beside them.
        let script = install.join(format!("{}-server.mjs", std::process::id()));
        std::fs::copy(
            workspace().join("crates/roster/tests/e2e/fixtures/scimmy/server.mjs"),
            &script,
        )
        .expect("the SCIMMY server's script");
        let token = token();
        let make = || {
            let mut command = std::process::Command::new("node");
            command.arg(&script).env("SCIM_TOKEN", &token);
            command
        };
        let (child, url) = launch(make, "the SCIMMY server");
        Scimmy {
            remote: Remote::new(&format!("{url}/scim/v2"), &token),
            _child: child,
        }
    }
}
