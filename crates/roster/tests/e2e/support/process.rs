//! The `roster` program as a child process: its CLI, and `roster serve` on a port 0.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The `roster` binary with a database and a loopback port 0.
pub fn roster(db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roster"));
    c.env("ROSTER_DATABASE_URL", db)
        .env("ROSTER_LISTEN", "127.0.0.1:0")
        .env_remove("ROSTER_PUBLIC_URL")
        .env_remove("ROSTER_SECRET_KEY")
        .env("ROSTER_LOG", "info");
    // Processes sharing a PostgreSQL database share a server key; on SQLite each database
    // gets the key file beside it.
    if db.starts_with("postgres") {
        c.env("ROSTER_SECRET_KEY", TEST_SERVER_KEY);
    }
    c
}

/// The server key of the tests' PostgreSQL processes (32 bytes of 7).
pub const TEST_SERVER_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// Runs a CLI command that prints JSON, and parses it.
pub fn cli_json(db: &str, args: &[&str]) -> Value {
    let out = roster(db).args(args).output().expect("run roster");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// A `roster serve` child process and the address it listens on.
pub struct Server {
    /// The child process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub address: String,
}

impl Server {
    /// Starts `roster serve` on the database and waits for it to listen.
    pub fn start(db: &str) -> Server {
        Server::start_with(db, &[])
    }

    /// Starts `roster serve` with extra environment variables.
    pub fn start_with(db: &str, env: &[(&str, &str)]) -> Server {
        let mut command = roster(db);
        command.envs(env.iter().copied());
        let mut child = command
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn roster serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut address = None;
        // The log line that announces the bound address is written before serving begins.
        let mut lines = BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.expect("log line");
            if let Some(rest) = line.split("listen=").nth(1) {
                address = Some(rest.split_whitespace().next().unwrap_or("").to_owned());
                break;
            }
        }
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.count());
        let address = address.expect("roster announced its address");
        Server {
            child,
            address: format!("http://{address}"),
        }
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
