//! Replays what identity providers really send, recorded in `tests/corpus/*.json` from their
//! documentation and public captures, against a Roster served on loopback, and checks both the
//! answers and the state each request leaves behind.
//!
//! A corpus file is one provider in one mode:
//!
//! ```text
//! {
//!   "provider": "Okta", "mode": "...", "source": ["https://..."], "notes": "...",
//!   "headers": {"User-Agent": "Okta SCIM Client 1.0.0"},
//!   "content_type": "application/scim+json; charset=utf-8",
//!   "steps": [{
//!     "name": "create the user", "source": "https://...",
//!     "method": "POST", "path": "/Users",
//!     "query": {"count": "1"}  or  "filter=userName+eq+%22x%22",
//!     "headers": {}, "body": {...},
//!     "capture": {"userId": "/id"},
//!     "expect": {
//!       "status": 201  or  [200, 204] where the provider documents that it accepts either,
//!       "body": {"/active": true},
//!       "state": {"/userName": "x", "/password": "absent"}  or  "absent",
//!       "state_of": "/Users/{{userId}}",
//!       "log": {"/summary": "Created user x", "/outcome": "succeeded"}
//!     }
//!   }]
//! }
//! ```
//!
//! `path` is relative to the tenant's base URL; `{{name}}` anywhere in a step is replaced by a
//! value captured (a JSON pointer into a response) by an earlier step. A `query` object is
//! percent-encoded as Okta does (`%20`); a `query` string is sent as written, so a provider's own
//! encoding (Entra's `+`) is kept. The file's `headers` go with every step, its `content_type`
//! (by default `application/scim+json`) with every body; the tenant's bearer token is added
//! unless a step sets `Authorization` itself.
//!
//! `expect.body` checks the response; `expect.state` checks a fresh `GET` of the affected
//! resource: `state_of` if given, else the step's own `/Users/{id}` or `/Groups/{id}`, else (for
//! a create) the resource the response names. `"state": "absent"` expects that `GET` to be 404.
//! A check maps a JSON pointer to an expected value, compared by [`matches`]: `"absent"`
//! (missing, null or an empty array), `"present"` (anything else), `{"$len": n}`,
//! `{"$contains": x}` and `{"$excludes": x}` (an array element that matches `x`, or none),
//! `{"$text": s}` and `{"$lacks": s}` (a string that holds `s`, or one that does not),
//! `{"$all": [m, ...]}` (every matcher), an object (its listed members match), or any other JSON
//! value (equal).
//!
//! Every step's request is then found in the tenant's provisioning log, in order, with its
//! method, path, query and status, the client its User-Agent names, an action and a summary,
//! and an explanation and a hint when it was refused; `expect.log` checks more of the entry, as
//! the tenant API gives it (`/summary`, `/action`, `/resource/name`, `/request_body`, ...).
//!
//! A failing step does not stop the replay: every step runs, so one run lists every difference;
//! a step that needs a value an earlier failure did not capture is reported as not run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::support::{TestApp, TestTenant, spawn_app};
use reqwest::Method;
use serde_json::{Map, Value};

#[tokio::test]
async fn entra_default() {
    replay("entra-default.json").await;
}

#[tokio::test]
async fn entra_aadoptscim() {
    replay("entra-aadoptscim.json").await;
}

#[tokio::test]
async fn okta_patch() {
    replay("okta-patch.json").await;
}

#[tokio::test]
async fn okta_put() {
    replay("okta-put.json").await;
}

#[tokio::test]
async fn okta_group_push() {
    replay("okta-group-push.json").await;
}

#[tokio::test]
async fn onelogin() {
    replay("onelogin.json").await;
}

/// Every corpus file has a test above, so a new file cannot be forgotten.
#[test]
fn every_corpus_file_is_replayed() {
    let replayed = [
        "entra-aadoptscim.json",
        "entra-default.json",
        "okta-group-push.json",
        "okta-patch.json",
        "okta-put.json",
        "onelogin.json",
    ];
    let mut found: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    found.sort();
    assert_eq!(found, replayed, "add a #[tokio::test] for each corpus file");
}

const CONTENT_TYPE_KEY: &str = "Content-Type";

fn corpus_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus").to_owned()
}

/// Replays one corpus file on a fresh server and tenant; panics listing every step that differed.
async fn replay(file: &str) {
    let text = std::fs::read_to_string(format!("{}/{file}", corpus_dir()))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let corpus: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let steps = corpus["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: no \"steps\" array"));
    let mut default_headers = string_map(&corpus["headers"], file, "headers");
    // The media type the provider sends with a body, kept out of bodiless requests.
    let content_type = corpus["content_type"]
        .as_str()
        .unwrap_or("application/scim+json")
        .to_owned();
    let app = spawn_app().await;
    let tenant = app.tenant(file).await;
    let mut vars = BTreeMap::new();
    vars.insert("tenantId".to_owned(), tenant.id.clone());
    let mut failures = Vec::new();
    let mut sent = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let name = step["name"].as_str().unwrap_or("(unnamed)");
        let label = format!("{file} step {} \"{name}\"", i + 1);
        let step = match substitute(step, &vars) {
            Ok(step) => step,
            Err(missing) => {
                failures.push(format!(
                    "{label}: not run, {{{{{missing}}}}} was not captured by an earlier step"
                ));
                continue;
            }
        };
        default_headers.remove(CONTENT_TYPE_KEY);
        if !step["body"].is_null() {
            default_headers.insert(CONTENT_TYPE_KEY.to_owned(), content_type.clone());
        }
        // Tagged, so that the log's entries of the steps are told from the state checks' GETs.
        let mut headers = default_headers.clone();
        headers.insert("x-request-id".to_owned(), format!("corpus-step-{}", i + 1));
        let (problems, status) = run_step(&app, &tenant, &headers, &step, &mut vars, &label).await;
        sent.push(Sent {
            label: label.clone(),
            method: step["method"].as_str().unwrap_or("GET").to_owned(),
            path: step["path"].as_str().unwrap_or_default().to_owned(),
            query: query_of(&step, &label),
            status,
            log: step["expect"]["log"].clone(),
        });
        if !problems.is_empty() {
            failures.push(format!("{label}:\n  {}", problems.join("\n  ")));
        }
    }
    let client = client_of(default_headers.get("User-Agent").map_or("", String::as_str));
    failures.extend(check_log(&app, &tenant, &sent, client).await);
    assert!(
        failures.is_empty(),
        "{} of {} steps of {file} ({}) differ from what a correct server does:\n\n{}\n",
        failures.len(),
        steps.len(),
        corpus["provider"].as_str().unwrap_or(""),
        failures.join("\n\n")
    );
}

/// Sends one step and returns what differed from its expectations.
async fn run_step(
    app: &TestApp,
    tenant: &TestTenant,
    default_headers: &BTreeMap<String, String>,
    step: &Value,
    vars: &mut BTreeMap<String, String>,
    label: &str,
) -> (Vec<String>, u16) {
    let method_name = step["method"].as_str().unwrap_or("GET");
    let method = Method::from_bytes(method_name.as_bytes())
        .unwrap_or_else(|_| panic!("{label}: bad method {method_name}"));
    let path = step["path"]
        .as_str()
        .unwrap_or_else(|| panic!("{label}: no path"));
    let query = query_of(step, label);
    let url = if query.is_empty() {
        format!("{}{path}", tenant.base)
    } else {
        format!("{}{path}?{query}", tenant.base)
    };
    let mut headers = default_headers.clone();
    headers.extend(string_map(&step["headers"], label, "headers"));
    let mut request = app.http.request(method.clone(), &url);
    if !headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("authorization"))
    {
        request = request.bearer_auth(&tenant.token);
    }
    for (k, v) in &headers {
        request = request.header(k.as_str(), v.as_str());
    }
    if !step["body"].is_null() {
        request = request.body(step["body"].to_string());
    }
    let reply = crate::support::reply(request.send().await.expect("request")).await;

    let expect = &step["expect"];
    // One status, or a list when the provider documents that it accepts any of them.
    let statuses: Vec<u64> = match &expect["status"] {
        Value::Number(n) => n.as_u64().into_iter().collect(),
        Value::Array(list) => list.iter().filter_map(Value::as_u64).collect(),
        _ => Vec::new(),
    };
    assert!(!statuses.is_empty(), "{label}: no expect.status");
    let request_line = format!("{method_name} {path}{}", query_suffix(&query));
    let mut problems = Vec::new();
    if statuses.contains(&u64::from(reply.status.as_u16())) {
        // The body and captures are only worth checking when the status is the expected one;
        // after a wrong status they would only repeat that the request failed.
        let mut wrong = Vec::new();
        for (pointer, expected) in object(&expect["body"], label, "expect.body") {
            wrong.extend(check(&reply.body, pointer, expected));
        }
        for (var, pointer) in string_map(&step["capture"], label, "capture") {
            match reply.body.pointer(&pointer) {
                Some(Value::String(s)) => {
                    vars.insert(var, s.clone());
                }
                Some(Value::Number(n)) => {
                    vars.insert(var, n.to_string());
                }
                _ => wrong.push(format!("no {pointer} to capture as {var}")),
            }
        }
        if !wrong.is_empty() {
            problems.push(format!(
                "{request_line} answered {} as expected, but its body differs: {}; body: {}",
                reply.status.as_u16(),
                wrong.join("; "),
                brief(&reply.body)
            ));
        }
    } else {
        problems.push(format!(
            "{request_line} answered {}, expected {}; body: {}",
            reply.status.as_u16(),
            expect["status"],
            brief(&reply.body)
        ));
    }
    if !expect["state"].is_null() {
        problems.extend(check_state(app, tenant, step, &reply.body, label).await);
    }
    (problems, reply.status.as_u16())
}

/// A step's query string as sent: a string as written, an object percent-encoded as Okta
/// does.
fn query_of(step: &Value, label: &str) -> String {
    match &step["query"] {
        Value::Null => String::new(),
        Value::String(raw) => raw.clone(),
        Value::Object(pairs) => pairs
            .iter()
            .map(|(k, v)| {
                let v = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{label}: query {k} is not a string"));
                format!("{}={}", percent_encode(k), percent_encode(v))
            })
            .collect::<Vec<_>>()
            .join("&"),
        other => panic!("{label}: query must be a string or an object, not {other}"),
    }
}

/// A request a step sent, and what its log entry should say.
struct Sent {
    label: String,
    method: String,
    path: String,
    query: String,
    status: u16,
    /// `expect.log`: matchers on the entry as the tenant API gives it.
    log: Value,
}

/// The client the log names for a User-Agent (the corpus's Entra and OneLogin files send none,
/// as their sources show none).
fn client_of(agent: &str) -> &'static str {
    let a = agent.to_ascii_lowercase();
    if a.contains("okta") {
        "okta"
    } else if a.contains("onelogin") {
        "onelogin"
    } else if a.contains("azure") || a.contains("entra") {
        "entra"
    } else {
        "other"
    }
}

/// Checks that the provisioning log holds one entry per request sent, in order, each with
/// the request's method, path, query and status, the client, an action and a summary in
/// words, an explanation and a hint for every refusal, and what `expect.log` lists.
async fn check_log(app: &TestApp, tenant: &TestTenant, sent: &[Sent], client: &str) -> Vec<String> {
    let id = roster_store::TenantId::new(&tenant.id);
    let query = roster_store::LogQuery {
        limit: 200,
        ..roster_store::LogQuery::default()
    };
    let page = async || {
        app.directory
            .log_page(&id, &query)
            .await
            .expect("the provisioning log")
    };
    let steps = async || {
        let mut entries = page().await;
        entries.retain(|e| e.request_id.starts_with("corpus-step-"));
        entries.reverse();
        entries
    };
    crate::support::eventually("one log entry per request", sent.len(), async || {
        steps().await.len()
    })
    .await;
    let entries = steps().await;
    let mut problems = Vec::new();
    for (s, e) in sent.iter().zip(&entries) {
        let json = roster_provlog::entry_json(e);
        let mut wrong = Vec::new();
        let line = (
            e.method.as_str(),
            e.path.as_str(),
            e.query.as_str(),
            e.status,
        );
        let want = (
            s.method.as_str(),
            s.path.as_str(),
            s.query.as_str(),
            s.status,
        );
        if line != want {
            wrong.push(format!("its entry is for {line:?}, not {want:?}"));
        }
        if e.client != client {
            wrong.push(format!("client {:?}, expected {client:?}", e.client));
        }
        if e.action.is_empty() || e.summary.is_empty() {
            wrong.push("no action or summary".to_owned());
        }
        if s.status >= 400 && (e.explanation.is_empty() || e.hint.is_empty()) {
            wrong.push("a refusal without an explanation and a hint".to_owned());
        }
        for (pointer, expected) in object(&s.log, &s.label, "expect.log") {
            wrong.extend(check(&json, pointer, expected));
        }
        if !wrong.is_empty() {
            problems.push(format!(
                "{} (log): {}; entry: {}",
                s.label,
                wrong.join("; "),
                brief(&json)
            ));
        }
    }
    problems
}

/// Reads the affected resource afresh and checks it against `expect.state`.
async fn check_state(
    app: &TestApp,
    tenant: &TestTenant,
    step: &Value,
    response: &Value,
    label: &str,
) -> Vec<String> {
    let expect = &step["expect"];
    let path = step["path"].as_str().unwrap_or_default();
    let target = if let Some(explicit) = expect["state_of"].as_str() {
        explicit.to_owned()
    } else if resource_path(path) {
        path.to_owned()
    } else if let Some(id) = response["id"].as_str() {
        format!("{}/{id}", path.trim_end_matches('/'))
    } else {
        // Nothing was created, which the status check has already reported.
        return Vec::new();
    };
    let got = app.get(tenant, &target).await;
    if expect["state"] == "absent" {
        if got.status.as_u16() == 404 {
            return Vec::new();
        }
        return vec![format!(
            "afterwards GET {target} answered {}, expected 404 (gone); body: {}",
            got.status.as_u16(),
            brief(&got.body)
        )];
    }
    if got.status.as_u16() != 200 {
        return vec![format!(
            "afterwards GET {target} answered {}, expected 200; body: {}",
            got.status.as_u16(),
            brief(&got.body)
        )];
    }
    let wrong: Vec<String> = object(&expect["state"], label, "expect.state")
        .into_iter()
        .filter_map(|(pointer, expected)| check(&got.body, pointer, expected))
        .collect();
    if wrong.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "afterwards GET {target}: {}; resource: {}",
        wrong.join("; "),
        brief(&got.body)
    )]
}

/// `/Users/{id}` or `/Groups/{id}`, without a query.
fn resource_path(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some("Users" | "Groups"), Some(id), None) if !id.is_empty() && !id.starts_with('.')
    )
}

/// Checks the value at `pointer`; returns why it does not match.
fn check(doc: &Value, pointer: &str, expected: &Value) -> Option<String> {
    let actual = doc.pointer(pointer);
    if matches(actual, expected) {
        None
    } else {
        let shown = actual.map_or_else(|| "nothing".to_owned(), Value::to_string);
        Some(format!("{pointer} is {shown}, expected {expected}"))
    }
}

/// Whether `actual` (None when the pointer leads nowhere) matches an expectation.
fn matches(actual: Option<&Value>, expected: &Value) -> bool {
    let absent = match actual {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    };
    match expected {
        Value::String(s) if s == "absent" => absent,
        Value::String(s) if s == "present" => !absent,
        Value::Object(spec) if spec.len() == 1 && spec.keys().all(|k| k.starts_with('$')) => {
            let (op, arg) = spec.iter().next().expect("one entry");
            let items: &[Value] = match actual {
                Some(Value::Array(a)) => a,
                _ => &[],
            };
            match op.as_str() {
                "$all" => arg
                    .as_array()
                    .expect("$all takes a list")
                    .iter()
                    .all(|m| matches(actual, m)),
                "$len" => arg.as_u64() == Some(items.len() as u64),
                "$contains" => items.iter().any(|i| matches(Some(i), arg)),
                "$excludes" => !items.iter().any(|i| matches(Some(i), arg)),
                "$text" => actual
                    .and_then(Value::as_str)
                    .is_some_and(|text| text.contains(arg.as_str().expect("$text takes a string"))),
                "$lacks" => actual.and_then(Value::as_str).is_some_and(|text| {
                    !text.contains(arg.as_str().expect("$lacks takes a string"))
                }),
                other => panic!("unknown matcher {other}"),
            }
        }
        Value::Object(spec) => match actual {
            Some(Value::Object(_)) => spec
                .iter()
                .all(|(k, v)| matches(actual.and_then(|a| a.get(k)), v)),
            _ => false,
        },
        Value::Array(items) => match actual {
            Some(Value::Array(a)) => {
                a.len() == items.len() && a.iter().zip(items).all(|(x, e)| matches(Some(x), e))
            }
            _ => false,
        },
        scalar => actual == Some(scalar),
    }
}

/// The step with every `{{name}}` replaced, or the first name not yet captured.
fn substitute(value: &Value, vars: &BTreeMap<String, String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(fill(s, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(fill(k, vars)?, substitute(v, vars)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn fill(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        let name = &rest[start + 2..start + 2 + len];
        let value = vars.get(name).ok_or_else(|| name.to_owned())?;
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Percent-encodes all but RFC 3986's unreserved characters, as Okta encodes its queries.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn query_suffix(query: &str) -> String {
    if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    }
}

fn object<'a>(value: &'a Value, label: &str, what: &str) -> Vec<(&'a str, &'a Value)> {
    match value {
        Value::Null => Vec::new(),
        Value::Object(map) => map.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        other => panic!("{label}: {what} must be an object, not {other}"),
    }
}

fn string_map(value: &Value, label: &str, what: &str) -> BTreeMap<String, String> {
    object(value, label, what)
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{label}: {what}.{k} must be a string"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// A response body on one line, cut to a readable length.
fn brief(body: &Value) -> String {
    let text = match body {
        Value::Null => "(empty)".to_owned(),
        other => other.to_string(),
    };
    if text.len() > 600 {
        let cut = (0..=600)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}…", &text[..cut])
    } else {
        text
    }
}
