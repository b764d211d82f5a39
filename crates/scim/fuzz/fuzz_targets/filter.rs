//! Fuzz target for the filter code: `cargo fuzz run filter` from crates/scim.
//!
//! Parses the input as a filter and as a PATCH path. Whatever parses must print to text that
//! parses back to the same value, and must evaluate and validate against a fixed User without
//! panicking; the bound and unbound evaluations must agree.
#![no_main]

use std::sync::OnceLock;

use roster_scim::filter::{Filter, PatchPath};
use roster_scim::schema::Registry;
use serde_json::{Value, json};

fn fixture() -> &'static (Registry, Value) {
    static FIXTURE: OnceLock<(Registry, Value)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "AdaL-0042",
            "userName": "ada@contoso.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "active": true,
            "title": "",
            "emails": [
                {"value": "ada@contoso.com", "type": "work", "primary": true},
                {"value": "ada@example.org", "type": "home"}
            ],
            "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34.5Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "26118915"}
            }
        });
        (Registry::core(), user)
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (registry, user) = fixture();
    if let Ok(filter) = Filter::parse(input) {
        let printed = filter.to_string();
        let again = Filter::parse(&printed)
            .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?}, which fails: {e}"));
        assert!(again == filter, "{input:?} printed as {printed:?} parses to another tree");
        let matched = filter.matches(user, registry.user());
        if let Ok(bound) = filter.bind(registry.user()) {
            assert_eq!(bound.matches(user), matched, "{input:?}");
        }
        let _ = filter.validate(registry.group());
    }
    if let Ok(path) = PatchPath::parse(input) {
        let printed = path.to_string();
        assert_eq!(PatchPath::parse(&printed), Ok(path), "{input:?} printed as {printed:?}");
    }
});
