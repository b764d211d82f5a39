//! Fuzz target for the patch code: `cargo fuzz run patch` from crates/scim.
//!
//! The bytes are a PatchOp message. Whatever they hold, parsing and applying must not panic;
//! a PATCH that applies must leave a resource that validates, and one that fails must leave
//! the stored resource as it was. The same holds for the message as the Auto dialect rewrites
//! it, applied with its lenient options, and rewriting that output again changes nothing.
#![no_main]

use std::sync::OnceLock;

use roster_scim::patch::{self, ApplyOptions, PatchRequest};
use roster_scim::resource;
use roster_scim::{Dialect, Registry};
use serde_json::{Value, json};

struct Fixtures {
    registry: Registry,
    user: Value,
    group: Value,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "701984",
            "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"1\""},
            "userName": "bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "active": true,
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
            "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
            "addresses": [{"streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "type": "work", "primary": true}],
            "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "manager": {"value": "26118915", "displayName": "John Smith"}}
        });
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Tour Guides",
            "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"}, {"value": "902c246b", "type": "User"}]
        });
        let registry = Registry::core();
        resource::validate(registry.user(), &user).expect("the user fixture is valid");
        resource::validate(registry.group(), &group).expect("the group fixture is valid");
        Fixtures {
            registry,
            user,
            group,
        }
    })
}

/// Applies a parsed request to both fixtures, checking what every PATCH must guarantee.
fn check(request: &PatchRequest, options: &ApplyOptions) {
    let f = fixtures();
    for (schema, stored) in [(f.registry.user(), &f.user), (f.registry.group(), &f.group)] {
        let before = stored.clone();
        match patch::apply_with(schema, stored, request, options) {
            Ok(outcome) => {
                if let Err(e) = resource::validate(schema, &outcome.resource) {
                    panic!(
                        "a PATCH gave an invalid resource ({e}): {}",
                        outcome.resource
                    );
                }
            }
            Err(_) => assert_eq!(stored, &before, "a failed PATCH changed the resource"),
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(msg) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(request) = PatchRequest::from_value(&msg) {
        check(&request, &ApplyOptions::STRICT);
    }
    let f = fixtures();
    for schema in [f.registry.user(), f.registry.group()] {
        let mut applied = Vec::new();
        let once = Dialect::AUTO.patch_body(schema, &msg, &mut applied);
        let mut again = Vec::new();
        let twice = Dialect::AUTO.patch_body(schema, &once, &mut again);
        assert_eq!(twice, once, "the dialect's output is not a fixed point");
        assert!(
            again.is_empty(),
            "rewriting the dialect's output applied {again:?}"
        );
        if let Ok(request) = PatchRequest::from_value(&once) {
            check(&request, &Dialect::AUTO.patch_options());
        }
    }
});
