//! Benchmarks of the patch code: run with `cargo bench -p roster-scim --bench patch`.
//!
//! The targets: a 10-operation PATCH (mixed replace/add/remove, with filtered paths) on a user
//! of about 30 attributes under 20 µs; adding or removing one member of a group of 100,000
//! members in time linear in the group (one copy, one hash set), not quadratic. The `dialect_`
//! benchmarks measure what the Auto dialect adds in front of the core for the same requests
//! in the shapes Entra sends them.

use divan::{Bencher, black_box};
use roster_scim::patch::{self, PatchRequest};
use roster_scim::resource::{self, Mode};
use roster_scim::{Dialect, Registry};
use serde_json::{Value, json};

fn main() {
    divan::main();
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A stored user with 30 top-level attributes (enterprise ones counted), as an identity
/// provider fills them.
fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z", "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "version": "W/\"3694e05e9dff591\""},
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
        "addresses": [{"streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA", "type": "work", "primary": true}, {"streetAddress": "456 Hollywood Blvd", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA", "type": "home"}],
        "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}, {"value": "fc348aa8-3835-40eb-a20b-c726e15c55b5", "display": "Employees"}],
        "entitlements": [{"value": "payroll"}],
        "roles": [{"value": "guide"}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
        ENTERPRISE: {"employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios", "division": "Theme Park", "department": "Tour Operations", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}}
    })
}

fn ten_operations() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "displayName", "value": "Barbara Jensen"},
            {"op": "replace", "path": "name.givenName", "value": "Barb"},
            {"op": "add", "path": "emails", "value": [{"value": "barbara@example.org", "type": "other"}]},
            {"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
            {"op": "replace", "path": "active", "value": false},
            {"op": "add", "path": format!("{ENTERPRISE}:department"), "value": "Sales"},
            {"op": "remove", "path": "nickName"},
            {"op": "replace", "value": {"title": "Senior Tour Guide", "userType": "Contractor"}},
            {"op": "remove", "path": "ims[value co \"aim\"]"}
        ]
    })
}

fn group(members: usize) -> Value {
    let members: Vec<Value> = (0..members)
        .map(|i| {
            json!({
                "value": format!("{i:08x}-7f76-453a-919d-413861904646"),
                "$ref": format!("https://example.com/v2/Users/{i:08x}-7f76-453a-919d-413861904646"),
                "display": format!("User {i}")
            })
        })
        .collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Everyone",
        "members": members
    })
}

fn message(ops: Value) -> PatchRequest {
    PatchRequest::from_value(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops
    }))
    .expect("the benchmark's PATCH parses")
}

/// Parsing and applying the 10 operations, as a request does.
#[divan::bench]
fn parse_and_apply_ten_operations(bencher: Bencher) {
    let registry = Registry::core();
    let (user, msg) = (user(), ten_operations());
    bencher.bench(|| {
        let request = PatchRequest::from_value(black_box(&msg)).unwrap();
        patch::apply(registry.user(), black_box(&user), &request).unwrap()
    });
}

/// Applying the 10 operations, already parsed.
#[divan::bench]
fn apply_ten_operations(bencher: Bencher) {
    let registry = Registry::core();
    let user = user();
    let request = PatchRequest::from_value(&ten_operations()).unwrap();
    let out = patch::apply(registry.user(), &user, &request).unwrap();
    assert_eq!(out.changes.len(), 10, "{:?}", out.changes);
    bencher.bench(|| patch::apply(registry.user(), black_box(&user), black_box(&request)).unwrap());
}

/// Validating the user alone: the floor under any PATCH of it.
#[divan::bench]
fn validate_user(bencher: Bencher) {
    let registry = Registry::core();
    let user = user();
    bencher.bench(|| resource::validate(registry.user(), black_box(&user)).unwrap());
}

/// Normalising the user's body as a POST would send it.
#[divan::bench]
fn normalize_user(bencher: Bencher) {
    let registry = Registry::core();
    let user = user();
    bencher.bench(|| resource::normalize(registry.user(), black_box(&user), Mode::Create).unwrap());
}

/// Adding one member to a large group (Entra's form).
#[divan::bench(args = [1_000, 100_000])]
fn add_one_member(bencher: Bencher, members: usize) {
    let registry = Registry::core();
    let group = group(members);
    let request =
        message(json!([{"op": "add", "path": "members", "value": [{"value": "new-member"}]}]));
    bencher
        .bench(|| patch::apply(registry.group(), black_box(&group), black_box(&request)).unwrap());
}

/// Removing one member of a large group through a value filter (Okta's form).
#[divan::bench(args = [1_000, 100_000])]
fn remove_one_member(bencher: Bencher, members: usize) {
    let registry = Registry::core();
    let group = group(members);
    let request = message(
        json!([{"op": "remove", "path": format!("members[value eq \"{:08x}-7f76-453a-919d-413861904646\"]", members / 2)}]),
    );
    bencher
        .bench(|| patch::apply(registry.group(), black_box(&group), black_box(&request)).unwrap());
}

/// Copying the large group: the part of every PATCH that the all-or-nothing rule costs.
#[divan::bench(args = [100_000])]
fn clone_group(bencher: Bencher, members: usize) {
    let group = group(members);
    bencher.bench(|| black_box(&group).clone());
}

/// The 10 operations as Entra sends them (`Replace`, `Add`, `Remove`), rewritten by the Auto
/// dialect, parsed and applied with its options: the whole cost of a tolerant tenant.
#[divan::bench]
fn dialect_ten_operations(bencher: Bencher) {
    let registry = Registry::core();
    let user = user();
    let mut msg = ten_operations();
    for op in msg["Operations"].as_array_mut().unwrap() {
        let kind = op["op"].as_str().unwrap();
        op["op"] = json!(format!("{}{}", kind[..1].to_uppercase(), &kind[1..]));
    }
    let dialect = Dialect::AUTO;
    bencher.bench(|| {
        let mut applied = Vec::new();
        let strict = dialect.patch_body(registry.user(), black_box(&msg), &mut applied);
        let request = PatchRequest::from_value(&strict).unwrap();
        patch::apply_with(
            registry.user(),
            black_box(&user),
            &request,
            &dialect.patch_options(),
        )
        .unwrap()
    });
}

/// The Auto dialect's pass over a POST body of the user, alone.
#[divan::bench]
fn dialect_user_body(bencher: Bencher) {
    let registry = Registry::core();
    let user = user();
    bencher.bench(|| {
        let mut applied = Vec::new();
        Dialect::AUTO.resource_body(registry.user(), black_box(&user), &mut applied)
    });
}

/// Entra removing 1 or 100 members of a group of 100,000 with a value array: the dialect
/// makes one `remove members[value eq ...]` per member (which the directory's members fast
/// path turns into row deletes); this is the in-memory cost when the general path runs.
#[divan::bench(args = [1, 100])]
fn dialect_remove_members(bencher: Bencher, removed: usize) {
    let registry = Registry::core();
    let group = group(100_000);
    let gone: Vec<Value> = (0..removed)
        .map(|i| json!({"value": format!("{:08x}-7f76-453a-919d-413861904646", i * 997)}))
        .collect();
    let msg = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Remove", "path": "members", "value": gone}]
    });
    let dialect = Dialect::AUTO;
    bencher.bench(|| {
        let mut applied = Vec::new();
        let strict = dialect.patch_body(registry.group(), black_box(&msg), &mut applied);
        let request = PatchRequest::from_value(&strict).unwrap();
        patch::apply_with(
            registry.group(),
            black_box(&group),
            &request,
            &dialect.patch_options(),
        )
        .unwrap()
    });
}
