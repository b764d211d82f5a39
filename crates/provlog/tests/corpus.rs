//! Every request of the recorded identity-provider corpus (`crates/roster/tests/corpus/*.json`,
//! requests taken from Entra's, Okta's and OneLogin's documentation) becomes a log entry whose
//! summary says specifically what it did, attributed to the provider that sent it.
//!
//! Each step is answered as Roster answers it when the step succeeds: a create echoes the body
//! with an id, a lookup answers the list the step expects, a PATCH answers the resource or
//! nothing; a step that expects a refusal gets Roster's real error body.

use std::collections::BTreeMap;
use std::path::PathBuf;

use roster_provlog::{Seen, entry};
use roster_store::{LogEntry, Outcome, TenantId};
use serde_json::{Value, json};
use time::macros::datetime;

/// The User-Agent of a corpus file that records none: what the provider sends (see
/// `src/client.rs` for the sources).
fn default_agent(provider: &str) -> &'static str {
    match provider {
        p if p.contains("Entra") => "Microsoft Azure AD SCIM provisioning 1.0.0",
        p if p.contains("OneLogin") => "OneLogin SCIM",
        _ => "",
    }
}

fn expected_client(provider: &str) -> &'static str {
    match provider {
        p if p.contains("Entra") => "entra",
        p if p.contains("Okta") => "okta",
        p if p.contains("OneLogin") => "onelogin",
        _ => "other",
    }
}

/// `s` percent-encoded as Okta encodes query values (a space is `%20`).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `text` with each `{{var}}` replaced by its value.
fn fill(text: &str, vars: &BTreeMap<String, String>) -> String {
    vars.iter().fold(text.to_owned(), |t, (k, v)| {
        t.replace(&format!("{{{{{k}}}}}"), v)
    })
}

/// The id Roster would give the resource captured as `var`.
fn id_for(var: &str, n: usize) -> String {
    format!(
        "{:08x}-5ef8-43c1-bf79-f8c2d23f3109",
        0x9307_8bf2_u32 + n as u32 + var.len() as u32
    )
}

fn error(status: u16, scim_type: Option<&str>, detail: &str) -> Value {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                          "status": status.to_string(), "detail": detail});
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    body
}

/// The corpus steps' entries, each with its file and step name.
fn corpus_entries() -> Vec<(String, String, LogEntry)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../roster/tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the corpus")
        .map(|f| f.expect("a corpus file").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    let mut out = Vec::new();
    for file in files {
        let corpus: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("readable")).expect("JSON");
        let provider = corpus["provider"].as_str().unwrap_or("").to_owned();
        let agent = corpus["headers"]["User-Agent"]
            .as_str()
            .unwrap_or_else(|| default_agent(&provider))
            .to_owned();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut vars = BTreeMap::new();
        // The name of each captured resource, to answer reads of it.
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for (n, step) in corpus["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .enumerate()
        {
            for var in step["capture"]
                .as_object()
                .into_iter()
                .flat_map(|c| c.keys())
            {
                vars.insert(var.clone(), id_for(var, n));
            }
            let method = step["method"].as_str().unwrap().to_owned();
            let path = fill(step["path"].as_str().unwrap(), &vars);
            let query = match &step["query"] {
                Value::String(q) => q.clone(),
                Value::Object(pairs) => pairs
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            percent_encode(k),
                            percent_encode(v.as_str().unwrap())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
                _ => String::new(),
            };
            let body: Option<Value> = (!step["body"].is_null())
                .then(|| serde_json::from_str(&fill(&step["body"].to_string(), &vars)).unwrap());
            let status = step["expect"]["status"]
                .as_u64()
                .or_else(|| step["expect"]["status"][0].as_u64())
                .unwrap() as u16;
            let id = path.rsplit('/').next().unwrap_or("").to_owned();
            let is_group = path.starts_with("/Groups");
            let name_attr = if is_group { "displayName" } else { "userName" };
            let response = match (method.as_str(), status) {
                (_, 404) => Some(error(404, None, &format!("User {id} not found"))),
                (_, 409) => Some(error(
                    409,
                    Some("uniqueness"),
                    "userName is already in use in this tenant.",
                )),
                ("POST", _) => {
                    let mut r = body.clone().unwrap();
                    let new_id = step["capture"]
                        .as_object()
                        .and_then(|c| c.keys().next())
                        .map(|v| vars[v].clone())
                        .unwrap_or_else(|| id_for("x", n));
                    r["id"] = json!(new_id);
                    r.as_object_mut().unwrap().remove("password");
                    if let Some(name) = r[name_attr].as_str() {
                        names.insert(new_id.clone(), name.to_owned());
                    }
                    Some(r)
                }
                ("GET", _) if path.ends_with("/Users") || path.ends_with("/Groups") => {
                    let total = step["expect"]["body"]["/totalResults"]
                        .as_u64()
                        .unwrap_or(1);
                    let resources: Vec<Value> = names
                        .iter()
                        .take(total as usize)
                        .map(|(id, name)| json!({"id": id, name_attr: name}))
                        .collect();
                    Some(
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                                "totalResults": total, "itemsPerPage": resources.len(),
                                "startIndex": 1, "Resources": resources}),
                    )
                }
                (_, 204) | ("DELETE", _) => None,
                _ => {
                    // A rename changes the name the answer carries.
                    let renamed = body
                        .as_ref()
                        .and_then(|b| b["Operations"].as_array())
                        .into_iter()
                        .flatten()
                        .find_map(|op| match op["path"].as_str() {
                            Some(p) if p == name_attr => op["value"].as_str(),
                            Some(_) => None,
                            None => op["value"][name_attr].as_str(),
                        });
                    if let Some(new) = renamed {
                        names.insert(id.clone(), new.to_owned());
                    }
                    Some(json!({"id": id, name_attr: names.get(&id).cloned().unwrap_or_default()}))
                }
            };
            let seen = Seen {
                tenant: TenantId::new("bb95cc0fdeaabe85f34b0d7ecd8170bc"),
                at: datetime!(2026-12-04 09:30 UTC),
                request_id: format!("req-{n}"),
                duration_ms: 5,
                method,
                path,
                query,
                status,
                user_agent: agent.clone(),
                credential: "Secret Token …9JbY".into(),
                refusal: None,
                normalizations: Vec::new(),
                request_body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
                response_body: response
                    .map(|r| r.to_string().into_bytes())
                    .unwrap_or_default(),
                subject: None,
                holder: None,
            };
            let e = entry(seen);
            assert_eq!(e.client, expected_client(&provider), "{name}: {agent}");
            out.push((
                name.clone(),
                step["name"].as_str().unwrap_or("").to_owned(),
                e,
            ));
        }
    }
    out
}

#[test]
fn every_corpus_request_gets_a_specific_summary() {
    let entries = corpus_entries();
    assert!(entries.len() > 100, "{}", entries.len());
    for (file, step, e) in &entries {
        println!("{file:24} {:6} {:3} {}", e.method, e.status, e.summary);
        let at = format!("{file}: {step}: {e:#?}");
        assert_ne!(e.action, "other", "{at}");
        assert!(!e.summary.starts_with(&format!("{} /", e.method)), "{at}");
        // A PATCH says what it changed, not only that it changed something.
        assert!(
            !e.summary.starts_with("Updated") || e.summary.contains(':'),
            "{at}"
        );
        match e.outcome {
            Outcome::Succeeded => {
                assert!(e.status < 400 && e.explanation.is_empty(), "{at}");
                // The resource is named: by its name, its id, or the value looked up.
                let named = [&e.resource_name, &e.resource_id]
                    .iter()
                    .any(|s| !s.is_empty() && e.summary.contains(s.as_str()));
                assert!(named || e.action == "list", "{at}");
            }
            Outcome::Refused | Outcome::Failed => {
                assert!(e.summary.starts_with("Refused: "), "{at}");
                assert!(!e.explanation.is_empty() && !e.hint.is_empty(), "{at}");
            }
        }
        // Passwords Okta sends never reach the log.
        for secret in ["1mz050nq", "2nz161or", "t8Rq2vWm"] {
            assert!(!e.request_body.contains(secret), "{at}");
        }
    }
}
