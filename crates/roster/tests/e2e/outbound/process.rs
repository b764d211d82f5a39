//! Outbound provisioning with the `roster` program itself, as README's "Provisioning
//! outward" section has a newcomer do it: `roster target add|set|status` beside `roster
//! serve`, into a SCIMMY server; and a cycle killed with `kill -9` halfway resumes after a
//! restart without creating anything twice.

use serde_json::{Value, json};

use super::remote::Scimmy;
use crate::support::eventually;
use crate::support::process::{Server, cli_json, roster};

const USERS: usize = 600;

fn status(db: &str, tenant: &str) -> Value {
    cli_json(db, &["target", "status", tenant, "app", "--json"])
}

#[tokio::test]
async fn a_cycle_killed_halfway_resumes_without_creating_anything_twice() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("roster.db").display());
    let target = Scimmy::start().await;
    let created = cli_json(&db, &["tenant", "create", "Contoso", "--json"]);
    let id = created["id"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap().to_owned();

    // The users come first (through SCIM, as an identity provider sends them), with the
    // target paused so that its first cycle finds them all.
    let added = cli_json(
        &db,
        &[
            "target",
            "add",
            &id,
            "--name",
            "app",
            "--url",
            &target.remote.base,
            "--token",
            &target.remote.token,
            "--scope",
            "all",
            "--json",
        ],
    );
    assert_eq!(added["name"], "app");
    assert_eq!(added["scope"], "all");
    let set = roster(&db)
        .args(["target", "set", &id, "app", "rate-limit=1000", "groups=off"])
        .output()
        .unwrap();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let paused = roster(&db)
        .args(["target", "pause", &id, "app"])
        .output()
        .unwrap();
    assert!(paused.status.success());
    let server = Server::start(&db);
    let http = crate::support::http_client();
    let base = format!("{}/scim/v2/{id}", server.address);
    for i in 0..USERS {
        let r = http
            .post(format!("{base}/Users"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("user{i}@contoso.com"),
                    "name": {"givenName": "User", "familyName": format!("{i}")},
                    "active": true
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }

    // Resumed: killed with -9 once its first page is recorded.
    let resumed = roster(&db)
        .args(["target", "resume", &id, "app"])
        .output()
        .unwrap();
    assert!(resumed.status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = status(&db, &id);
        let processed = s["processed"].as_i64().unwrap_or(0);
        if processed >= 200 {
            assert!(
                processed < USERS as i64,
                "killed halfway, not at the end: {s}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no page recorded: {s}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    server.kill9();

    // Restarted: the cycle goes on from its position and ends with every user there once.
    let _server = Server::start(&db);
    eventually(
        "the cycle ends",
        ("incremental".to_owned(), USERS as i64),
        async || {
            let s = status(&db, &id);
            (
                s["phase"].as_str().unwrap_or_default().to_owned(),
                s["users"].as_i64().unwrap_or(0),
            )
        },
    )
    .await;
    let s = status(&db, &id);
    assert_eq!(s["failures"], 0, "{s}");
    let listed = target.remote.get("/Users?count=1").await;
    assert_eq!(listed["totalResults"], USERS, "nothing created twice");
    // The text form: the phase, a bar, and what the target holds.
    let out = roster(&db)
        .args(["target", "status", &id, "app"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("users {USERS}")), "{text}");
}
