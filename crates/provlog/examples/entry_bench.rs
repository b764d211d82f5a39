//! How long [`roster_provlog::entry`] takes for the requests `roster-bench` sends (a create, a
//! `userName eq` filter, a PATCH, a get), in microseconds per entry (the fastest of 20 rounds). The recorder runs it off
//! the request's path, but on the same cores.
//!
//!     cargo run --release -p roster-provlog --example entry_bench [create|get|filter|patch]

use std::time::Instant;

use roster_provlog::{Seen, entry};
use roster_store::TenantId;
use serde_json::json;
use time::OffsetDateTime;

fn user(i: usize) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": format!("0b7c4a1e-5f2d-4c3b-9a8e-{i:012}"),
        "userName": format!("bench.user{i}@example.com"),
        "externalId": format!("ext-{i}"),
        "active": true,
        "displayName": format!("Bench User {i}"),
        "name": {"givenName": "Bench", "familyName": format!("User{i}"), "formatted": format!("Bench User{i}")},
        "emails": [{"value": format!("bench.user{i}@example.com"), "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "created": "2026-12-04T09:30:00Z", "lastModified": "2026-12-04T09:30:00Z",
                 "location": format!("http://127.0.0.1/scim/v2/t/Users/{i}"), "version": "W/\"1\""}
    })
}

fn seen(method: &str, path: &str, query: &str, status: u16, req: String, resp: String) -> Seen {
    Seen {
        tenant: TenantId::new("bb95cc0fdeaabe85f34b0d7ecd8170bc"),
        at: OffsetDateTime::UNIX_EPOCH,
        request_id: "0f6d2a9c-4b1e-4a53-9d7e-2f1c8b3a5e10".into(),
        duration_ms: 2,
        method: method.into(),
        path: path.into(),
        query: query.into(),
        status,
        user_agent: "roster-bench".into(),
        credential: "Secret Token …9JbY".into(),
        refusal: None,
        normalizations: Vec::new(),
        request_body: req.into_bytes(),
        response_body: resp.into_bytes(),
        subject: None,
        holder: None,
    }
}

fn main() {
    let u = user(42);
    let list = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 1, "itemsPerPage": 1, "startIndex": 1, "Resources": [u]});
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}]});
    let cases = [
        (
            "create",
            seen("POST", "/Users", "", 201, u.to_string(), u.to_string()),
        ),
        (
            "get",
            seen("GET", "/Users/42", "", 200, String::new(), u.to_string()),
        ),
        (
            "filter",
            seen(
                "GET",
                "/Users",
                "filter=userName+eq+%22bench.user42%40example.com%22",
                200,
                String::new(),
                list.to_string(),
            ),
        ),
        (
            "patch",
            seen(
                "PATCH",
                "/Users/42",
                "",
                200,
                patch.to_string(),
                u.to_string(),
            ),
        ),
    ];
    const N: u32 = 100_000;
    const ROUNDS: u32 = 20;
    // One case alone when named (`entry_bench filter`), for a profiler.
    let only = std::env::args().nth(1);
    for (name, s) in cases {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        // The fastest of several rounds: this machine's speed drifts within a second.
        let per = (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..N / ROUNDS {
                    std::hint::black_box(entry(std::hint::black_box(s.clone())));
                }
                started.elapsed().as_secs_f64() * 1e6 / f64::from(N / ROUNDS)
            })
            .fold(f64::INFINITY, f64::min);
        println!("{name:>7}: {per:6.2} µs per entry");
    }
}
