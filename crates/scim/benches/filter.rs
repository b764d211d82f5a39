//! Benchmarks of the filter code: run with `cargo bench -p roster-scim --bench filter`.
//!
//! Targets: parsing a typical provisioning filter under 2 µs; evaluating a five-clause filter
//! against a User of about thirty attributes under 1 µs.

use divan::{Bencher, black_box};
use roster_scim::filter::{Filter, PatchPath};
use roster_scim::schema::Registry;
use serde_json::{Value, json};

fn main() {
    divan::main();
}

/// What Microsoft Entra ID sends before creating a user.
const SIMPLE: &str = r#"userName eq "ada@contoso.com""#;

/// Five clauses touching a string, a boolean, a value path, a dateTime and an extension.
const FIVE: &str = r#"userName eq "Ada@Contoso.com" and active eq true and emails[type eq "work" and value co "@contoso.com"] and meta.lastModified gt "2011-05-13T04:42:34Z" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#;

/// A User with about thirty attributes, the matching one last in each multi-valued list.
fn user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "AdaL-0042",
        "userName": "ada@contoso.com",
        "name": {"formatted": "Ms. Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "displayName": "Ada Lovelace",
        "nickName": "Ada",
        "profileUrl": "https://login.example.com/ada",
        "title": "Analyst",
        "userType": "Employee",
        "preferredLanguage": "en-GB",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "active": true,
        "emails": [
            {"value": "ada@example.org", "type": "home"},
            {"value": "ada@contoso.com", "type": "work", "primary": true}
        ],
        "phoneNumbers": [{"value": "+44 20 7946 0958", "type": "work"}],
        "ims": [{"value": "ada@foo.com", "type": "xmpp"}],
        "photos": [{"value": "https://photos.example.com/ada.jpg", "type": "photo"}],
        "addresses": [{"type": "work", "locality": "London", "country": "GB"}],
        "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Analysts"}],
        "entitlements": [{"value": "reports"}],
        "roles": [{"value": "admin"}],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34.1234567Z",
            "version": "W/\"3694e05e9dff591\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
        },
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

#[divan::bench]
fn parse_simple() -> Filter {
    Filter::parse(black_box(SIMPLE)).unwrap()
}

#[divan::bench]
fn parse_five_clauses() -> Filter {
    Filter::parse(black_box(FIVE)).unwrap()
}

#[divan::bench]
fn parse_patch_path() -> PatchPath {
    PatchPath::parse(black_box(r#"emails[type eq "work"].value"#)).unwrap()
}

/// Linear time: 5,000 clauses should take about 5,000 times one clause.
#[divan::bench]
fn parse_5000_clause_chain(bencher: Bencher) {
    let input = vec![r#"a eq 1"#; 5000].join(" and ");
    bencher.bench(|| Filter::parse(black_box(&input)).unwrap());
}

#[divan::bench]
fn print_five_clauses(bencher: Bencher) {
    let f = Filter::parse(FIVE).unwrap();
    bencher.bench(|| black_box(&f).to_string());
}

#[divan::bench]
fn bind_five_clauses(bencher: Bencher) {
    let registry = Registry::core();
    let f = Filter::parse(FIVE).unwrap();
    bencher.bench_local(|| black_box(&f).bind(registry.user()).is_ok());
}

/// `Filter::matches`: binds, then evaluates, on every call.
#[divan::bench]
fn matches_five_clauses(bencher: Bencher) {
    let registry = Registry::core();
    let f = Filter::parse(FIVE).unwrap();
    let user = user();
    assert!(f.matches(&user, registry.user()));
    bencher.bench_local(|| black_box(&f).matches(black_box(&user), registry.user()));
}

/// `BoundFilter::matches`: the form to use when filtering many resources.
#[divan::bench]
fn bound_matches_five_clauses(bencher: Bencher) {
    let registry = Registry::core();
    let f = Filter::parse(FIVE).unwrap();
    let bound = f.bind(registry.user()).unwrap();
    let user = user();
    assert!(bound.matches(&user));
    bencher.bench_local(|| black_box(&bound).matches(black_box(&user)));
}

#[divan::bench]
fn bound_matches_simple(bencher: Bencher) {
    let registry = Registry::core();
    let bound_filter = Filter::parse(SIMPLE).unwrap();
    let bound = bound_filter.bind(registry.user()).unwrap();
    let user = user();
    assert!(bound.matches(&user));
    bencher.bench_local(|| black_box(&bound).matches(black_box(&user)));
}
