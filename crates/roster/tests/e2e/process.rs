//! Tests of the `roster` program as a user runs it: the CLI beside a running server, the
//! first-start tenant, and durability of acknowledged writes across `kill -9`.

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::support::eventually;
use crate::support::process::{Server, cli_json, roster};
use serde_json::Value;

fn temp_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("roster.db").display());
    (dir, db)
}

#[tokio::test]
async fn cli_tenants_and_tokens_work_on_a_running_server_at_once() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db);
    let http = crate::support::http_client();

    let created = cli_json(&db, &["tenant", "create", "Contoso", "--json"]);
    for key in ["id", "name", "provisioning_url", "token"] {
        assert!(created.get(key).is_some(), "{key} in {created}");
    }
    assert_eq!(created["name"], "Contoso");
    let id = created["id"].as_str().unwrap();
    assert!(!id.to_lowercase().contains("contoso"));
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("rst_"));
    let base = format!("{}/scim/v2/{id}", server.address);

    let status = |token: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.get(format!("{base}/Users"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(token.to_owned()).await, 200);

    let list = cli_json(&db, &["tenant", "list", "--json"]);
    assert!(list.as_array().unwrap().iter().any(|t| t["id"] == id));

    // Rotation: the new token works at once; the old one stops within the documented second
    // (a token lookup is trusted for at most one second).
    let rotated = cli_json(&db, &["tenant", "token", id, "--json"]);
    let new_token = rotated["token"].as_str().unwrap().to_owned();
    assert_eq!(rotated["id"], id);
    assert_eq!(status(new_token.clone()).await, 200);
    eventually("the rotated token", 401, async || {
        status(token.to_owned()).await
    })
    .await;

    // --keep-old keeps the previous token working.
    let kept = cli_json(&db, &["tenant", "token", id, "--keep-old", "--json"]);
    assert_eq!(
        status(kept["token"].as_str().unwrap().to_owned()).await,
        200
    );
    assert_eq!(status(new_token).await, 200);
    drop(server);
}

/// `tenant rename` and `tenant delete` beside a running server: a delete without `--yes` says
/// what it would remove and removes nothing; with it, the tenant's users and token are gone,
/// its SCIM URL answers 401, and the change log says `tenant.deleted` with the counts.
#[tokio::test]
async fn cli_renames_and_deletes_a_tenant_saying_what_goes() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db);
    let http = crate::support::http_client();
    let created = cli_json(&db, &["tenant", "create", "Contoso", "--json"]);
    let id = created["id"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap().to_owned();
    let base = format!("{}/scim/v2/{id}", server.address);
    for name in ["ada@contoso.com", "bob@contoso.com"] {
        let created = http
            .post(format!("{base}/Users"))
            .bearer_auth(&token)
            .json(
                &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                          "userName": name}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let other = cli_json(&db, &["tenant", "create", "Fabrikam", "--json"]);

    let renamed = roster(&db)
        .args(["tenant", "rename", &id, "Contoso Ltd"])
        .output()
        .unwrap();
    assert!(renamed.status.success());
    assert!(String::from_utf8_lossy(&renamed.stdout).contains("Contoso Ltd"));

    let asked = roster(&db)
        .args(["tenant", "delete", "Contoso Ltd"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&asked.stderr);
    assert!(!asked.status.success(), "{said}");
    assert!(
        said.contains("2 users, 0 groups, 1 tokens") && said.contains("--yes"),
        "{said}"
    );
    let users = http
        .get(format!("{base}/Users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200, "nothing is deleted without --yes");

    let deleted = cli_json(&db, &["tenant", "delete", "Contoso Ltd", "--yes", "--json"]);
    assert_eq!(
        deleted["removed"],
        json!({"users": 2, "groups": 0, "tokens": 1, "oauth_clients": 0})
    );
    eventually("the deleted tenant's token", 401, async || {
        http.get(format!("{base}/Users"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
    .await;
    let list = cli_json(&db, &["tenant", "list", "--json"]);
    let ids: Vec<&Value> = list.as_array().unwrap().iter().map(|t| &t["id"]).collect();
    assert!(!ids.contains(&&json!(id)), "the tenant is gone: {list}");
    assert!(
        ids.contains(&&other["id"]),
        "the other tenant stays: {list}"
    );
    drop(server);
}

/// On SQLite, the server key lives in a file beside the database, readable by its owner only;
/// `roster key rotate` replaces it and keeps every sealed token readable; a damaged key file
/// stops every command rather than being replaced.
#[test]
fn the_server_key_file_is_private_and_rotates() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, db) = temp_db();
    let tenant = cli_json(&db, &["tenant", "create", "Contoso", "--json"]);
    // A SAML connection, whose key is sealed too.
    let idp =
        roster_sso::testing::TestIdp::new("https://idp.test", time::OffsetDateTime::UNIX_EPOCH);
    let metadata = dir.path().join("idp.xml");
    std::fs::write(&metadata, idp.metadata(true)).unwrap();
    let connection = cli_json(
        &db,
        &[
            "sso",
            "add-saml",
            "Contoso",
            "--name",
            "main",
            "--preset",
            "entra",
            "--metadata",
            metadata.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(
        connection["user_key"]["match"], "externalId",
        "Entra's preset matches on the object id"
    );
    let file = dir.path().join("roster.db.key");
    let mode = std::fs::metadata(&file)
        .expect("the key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let before = std::fs::read_to_string(&file).unwrap();
    assert_eq!(before.trim().len(), 44, "one base64 key");

    let rotated = roster(&db).args(["key", "rotate"]).output().unwrap();
    let said = String::from_utf8_lossy(&rotated.stdout);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(said.contains("Sealed 2 secrets again"), "{said}");
    let after = std::fs::read_to_string(&file).unwrap();
    assert_ne!(before, after);
    assert_eq!(after.trim().len(), 44, "the new key alone");
    // Serving with the new key passes the start-up check, and opens the connection's key.
    let server = Server::start(&db);
    let metadata_url = format!(
        "{}/auth/saml/{}/{}",
        server.address,
        tenant["id"].as_str().unwrap(),
        connection["id"].as_str().unwrap()
    );
    let served = tokio::runtime::Runtime::new().unwrap().block_on(async {
        crate::support::http_client()
            .get(&metadata_url)
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(served.ok(), Some(200), "{metadata_url}");
    drop(server);

    std::fs::write(&file, "not a key\n").unwrap();
    let out = roster(&db).args(["tenant", "list"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("server key file"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "not a key\n",
        "left as it was"
    );

    let generated = roster(&db).args(["key", "generate"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&generated.stdout).trim().len(), 44);
}

#[tokio::test]
async fn cli_oauth_clients_and_token_lifecycle_work_on_a_running_server() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db);
    let http = crate::support::http_client();
    let created = cli_json(&db, &["tenant", "create", "Fabrikam", "--json"]);
    let id = created["id"].as_str().unwrap().to_owned();
    let first = created["token"].as_str().unwrap().to_owned();
    let base = format!("{}/scim/v2/{id}", server.address);
    let status = |token: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.get(format!("{base}/Users"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let until_refused = |token: String| async move {
        eventually("a revoked credential", 401, async || {
            status(token.clone()).await
        })
        .await;
    };

    // An OAuth client from the CLI; a token from the running server's endpoint.
    let client = cli_json(&db, &["tenant", "client", "create", &id, "--json"]);
    for key in [
        "client_id",
        "client_secret",
        "token_endpoint",
        "provisioning_url",
    ] {
        assert!(client.get(key).is_some(), "{key} in {client}");
    }
    assert!(
        client["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth/token")
    );
    let issued: Value = http
        .post(format!("{}/oauth/token", server.address))
        .basic_auth(
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str(),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = issued["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    assert_eq!(status(access.clone()).await, 200);
    let clients = cli_json(&db, &["tenant", "client", "list", &id, "--json"]);
    assert_eq!(clients.as_array().unwrap().len(), 1);
    let out = roster(&db)
        .args([
            "tenant",
            "client",
            "revoke",
            &id,
            client["client_id"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until_refused(access).await;

    // Rotation without a gap: a second, expiring token beside the first; then the first revoked.
    let second = cli_json(
        &db,
        &[
            "tenant",
            "token",
            &id,
            "--keep-old",
            "--name",
            "rotation",
            "--expires-in",
            "30d",
            "--json",
        ],
    );
    assert!(second["expires_at"].is_string(), "{second}");
    let second_token = second["token"].as_str().unwrap().to_owned();
    assert_eq!(status(first.clone()).await, 200);
    assert_eq!(status(second_token.clone()).await, 200);
    let listed = cli_json(&db, &["tenant", "token", "list", &id, "--json"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[1]["name"], "rotation");
    assert_eq!(listed[1]["last4"], &second_token[second_token.len() - 4..]);
    assert!(
        !listed.iter().any(|t| t.to_string().contains(&first[4..])),
        "the list never shows a token"
    );
    let first_id = listed[0]["id"].as_str().unwrap();
    let out = roster(&db)
        .args(["tenant", "token", "revoke", &id, first_id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until_refused(first).await;
    assert_eq!(status(second_token).await, 200);
    let bad = roster(&db)
        .args(["tenant", "token", &id, "--expires-in", "ninety"])
        .output()
        .unwrap();
    assert!(
        !bad.status.success(),
        "a lifetime without a unit is refused"
    );
    drop(server);
}

/// Under a service manager or in a container standard output is the log: the first start
/// prints the Provisioning URL and the command that issues a token, never a live token.
#[tokio::test]
async fn first_start_prints_no_token_to_a_log_and_says_how_to_issue_one() {
    let (_dir, db) = temp_db();
    let mut child = roster(&db)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let mut url = None;
    let mut command = None;
    let mut printed = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push(line.clone());
        if let Some(v) = line.strip_prefix("Provisioning URL:") {
            url = Some(v.trim().to_owned());
        }
        if let Some(v) = line.strip_prefix("Issue one with:") {
            command = Some(v.trim().to_owned());
            break;
        }
    }
    let printed = printed.join("\n");
    assert!(
        !printed.contains("rst_"),
        "a live token was printed: {printed}"
    );
    let (url, command) = (url.expect("URL printed"), command.expect("command printed"));
    std::thread::spawn(move || lines.count());
    // The printed command issues a token that opens the printed URL.
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    assert_eq!(args[..2], ["tenant", "token"], "{command}");
    let mut with_json = args.clone();
    with_json.push("--json");
    let issued = cli_json(&db, &with_json);
    let token = issued["token"].as_str().expect("a token").to_owned();
    let mut status = 0;
    let mut last_error = String::new();
    // The banner is printed before the server accepts; retry briefly until it does.
    for _ in 0..50 {
        match crate::support::http_client()
            .get(format!("{url}/ServiceProviderConfig"))
            .bearer_auth(&token)
            .send()
            .await
        {
            Ok(r) => {
                status = r.status().as_u16();
                break;
            }
            Err(e) => {
                last_error = format!("{e:?}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    assert_eq!(status, 200, "{url}: {last_error}");
    let _ = child.kill();
    let _ = child.wait();
}

/// On a terminal (here a pseudo-terminal made by util-linux's `script`), the first start
/// prints the token itself, once.
#[tokio::test]
async fn first_start_on_a_terminal_prints_the_token() {
    let (_dir, db) = temp_db();
    let mut child = Command::new("script")
        .args(["-q", "-e", "-f", "-c"])
        .arg(format!("{} serve", env!("CARGO_BIN_EXE_roster")))
        .arg("/dev/null")
        .env("ROSTER_DATABASE_URL", &db)
        .env("ROSTER_LISTEN", "127.0.0.1:0")
        .env("ROSTER_LOG", "off")
        .env_remove("ROSTER_PUBLIC_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // A group of its own, so that the server `script` starts ends with it.
        .process_group(0)
        .spawn()
        .expect("spawn script (util-linux)");
    let stdout = child.stdout.take().unwrap();
    let mut token = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(v) = line.strip_prefix("Secret Token:") {
            token = Some(v.trim().to_owned());
            break;
        }
    }
    let token = token.expect("the token is printed on a terminal");
    assert!(token.starts_with("rst_"), "{token}");
    // With no operator yet, the link that creates the first one follows.
    let mut setup = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.find("/console/setup/roi_") {
            setup = Some(line[at..].trim().to_owned());
            break;
        }
    }
    assert!(
        setup.is_some(),
        "the first operator's link is printed on a terminal"
    );
    // `script` leaves its child behind when killed alone: the whole group goes.
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.wait();
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let (_dir, db) = temp_db();
    let tenant = cli_json(&db, &["tenant", "create", "Durable", "--json"]);
    let id = tenant["id"].as_str().unwrap().to_owned();
    let token = tenant["token"].as_str().unwrap().to_owned();
    let server = Server::start(&db);
    let http = crate::support::http_client();
    let base = format!("{}/scim/v2/{id}", server.address);
    let mut ids = Vec::new();
    for i in 0..20 {
        let r = http
            .post(format!("{base}/Users"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("durable{i}@x.example")
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let body: Value = r.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    // Killed without a chance to flush anything, right after the last acknowledgement.
    server.kill9();

    let server = Server::start(&db);
    let base = format!("{}/scim/v2/{id}", server.address);
    for user_id in &ids {
        let r = http
            .get(format!("{base}/Users/{user_id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "user {user_id} lost");
    }
}

/// What a newcomer met: a mistyped database path made an empty database, a public URL without
/// a scheme was taken, an unknown webhook's attempts printed nothing and exited 0, a domain
/// for `--entra` was accepted, a name two tenants share was "not found", an empty name was a
/// tenant, and a user error printed a backtrace under RUST_BACKTRACE.
#[test]
fn cli_mistakes_are_refused_with_one_clear_line() {
    let (dir, db) = temp_db();
    let run = |args: &[&str]| {
        let out = roster(&db)
            .env("RUST_BACKTRACE", "1")
            .env("ROSTER_LOG", "off")
            .args(args)
            .output()
            .expect("run roster");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = run(&["tenant", "list"]);
    assert!(!ok && err.contains("there is no database at"), "{err}");
    assert!(
        !dir.path().join("roster.db").exists(),
        "a missing database is not created by tenant list"
    );
    assert!(!err.contains("Stack backtrace"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    cli_json(&db, &["tenant", "create", "Contoso", "--json"]);
    cli_json(&db, &["tenant", "create", "Contoso", "--json"]);
    let (ok, err) = run(&["tenant", "show", "Contoso"]);
    assert!(
        !ok && err.contains("2 tenants are named \"Contoso\""),
        "{err}"
    );
    let (ok, err) = run(&["tenant", "create", "   "]);
    assert!(!ok && err.contains("a tenant needs a name"), "{err}");
    let (ok, err) = run(&["tenant", "list", "--public-url", "roster.example.com"]);
    assert!(!ok && err.contains("must start with https://"), "{err}");
    let (ok, err) = run(&["webhook", "attempts", "wh_nothing"]);
    assert!(
        !ok && err.contains("no webhook endpoint wh_nothing"),
        "{err}"
    );
    let one = cli_json(&db, &["tenant", "create", "Fabrikam", "--json"]);
    let (ok, err) = run(&[
        "tenant",
        "trust",
        one["id"].as_str().unwrap(),
        "--entra",
        "contoso.onmicrosoft.com",
        "--audience",
        "api://roster",
    ]);
    assert!(
        !ok && err.contains("is not a Microsoft Entra tenant id"),
        "{err}"
    );
    // An unreachable PostgreSQL says why, not the pool's "timed out"; never the password.
    let out = roster("postgres://roster:s3cret@127.0.0.1:1/roster")
        .env("ROSTER_LOG", "off")
        .args(["tenant", "list"])
        .output()
        .expect("run roster");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("refused"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

/// The server runs without transparent huge pages (see `without_huge_pages` in `main.rs`): the
/// kernel says so of the running process.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_runs_without_transparent_huge_pages() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .expect("the server's /proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("THP_enabled:"))
        .expect("a kernel that reports THP_enabled");
    assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    drop(server);
}

/// The provisioning log's describing and writing run at idle priority (`SCHED_IDLE`, policy 5),
/// each beside a thread at normal priority (0) that takes over what waits too long; the
/// directory's writer stays at normal priority. The kernel says so of the running server.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_log_works_at_idle_priority_beside_a_thread_at_normal_priority() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db);
    // It announces its address before it starts the log; once it answers, the log is there.
    let health = crate::support::http_client()
        .get(format!("{}/healthz", server.address))
        .send()
        .await
        .expect("an answer");
    assert!(health.status().is_success());
    let mut policies = std::collections::BTreeMap::new();
    let tasks = format!("/proc/{}/task", server.child.id());
    for task in std::fs::read_dir(&tasks).expect("the server's threads") {
        let task = task.expect("a thread").path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("stat")),
        ) else {
            continue;
        };
        // The fields after the command's closing parenthesis; the policy is the 41st field.
        let rest = &stat[stat.rfind(')').expect("a command") + 2..];
        let policy: u32 = rest
            .split(' ')
            .nth(38)
            .expect("a policy")
            .parse()
            .expect("a number");
        policies.insert(comm.trim().to_owned(), policy);
    }
    for (thread, policy) in [
        ("roster-provlog", 5),
        ("roster-logwrite", 5),
        ("roster-provlog2", 0),
        ("roster-sqlite-l", 0),
        ("roster-sqlite-w", 0),
    ] {
        assert_eq!(
            policies.get(thread),
            Some(&policy),
            "{thread}: {policies:?}"
        );
    }
    drop(server);
}
