//! The discovery documents: snapshots of what clients read, and structural checks that every
//! attribute of the registry is announced with RFC 7643 §7 characteristics.

use roster_scim::discovery::{
    AuthenticationScheme, ServiceProviderConfig, resource_type_document, resource_types_document,
    schema_document, schemas_document, service_provider_config,
};
use roster_scim::messages::BulkLimits;
use roster_scim::schema::{
    Attribute, AttributeType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Registry, Returned, Schema,
    USER_SCHEMA,
};
use serde_json::{Value, json};

const BASE: &str = "https://roster.example/scim/v2/t/acme";
const ACME: &str = "urn:example:params:scim:schemas:extension:acme:1.0:User";

fn with_extension() -> Registry {
    let mut r = Registry::core();
    r.register_extension(
        "User",
        Schema {
            id: ACME.into(),
            name: "AcmeUser".into(),
            description: "Acme's own user attributes".into(),
            attributes: vec![
                Attribute::string("badge")
                    .returned(Returned::Request)
                    .describe("Badge number"),
                Attribute::new("level", AttributeType::Integer).required(),
                Attribute::complex(
                    "desk",
                    vec![
                        Attribute::string("building").canonical(&["north", "south"]),
                        Attribute::new("photo", AttributeType::Reference).refs(&["external"]),
                    ],
                )
                .multi(),
            ],
        },
        true,
    )
    .expect("the test extension registers");
    r
}

fn config() -> ServiceProviderConfig {
    ServiceProviderConfig {
        documentation_uri: Some("https://roster.example/docs/scim".into()),
        patch: true,
        bulk: Some(BulkLimits {
            max_operations: 1000,
            max_payload_size: 1_048_576,
        }),
        filter_max_results: Some(200),
        change_password: false,
        sort: true,
        etag: true,
        authentication_schemes: vec![AuthenticationScheme::oauth_bearer_token(true)],
    }
}

#[test]
fn snapshots() {
    let core = Registry::core();
    let extended = with_extension();
    insta::assert_json_snapshot!("schemas", schemas_document(&core, BASE));
    insta::assert_json_snapshot!("resource_types", resource_types_document(&core, BASE));
    insta::assert_json_snapshot!(
        "resource_types_extended",
        resource_types_document(&extended, BASE)
    );
    insta::assert_json_snapshot!(
        "schema_acme",
        schema_document(&extended, ACME, BASE).expect("registered")
    );
    insta::assert_json_snapshot!(
        "service_provider_config",
        service_provider_config(&config(), BASE)
    );
    let minimal = ServiceProviderConfig {
        documentation_uri: None,
        patch: true,
        bulk: None,
        filter_max_results: None,
        change_password: false,
        sort: false,
        etag: false,
        authentication_schemes: vec![],
    };
    insta::assert_json_snapshot!(
        "service_provider_config_minimal",
        service_provider_config(&minimal, BASE)
    );
}

const TYPES: &[&str] = &[
    "string",
    "boolean",
    "decimal",
    "integer",
    "dateTime",
    "reference",
    "complex",
    "binary",
];
const MUTABILITY: &[&str] = &["readOnly", "readWrite", "immutable", "writeOnly"];
const RETURNED: &[&str] = &["always", "never", "default", "request"];
const UNIQUENESS: &[&str] = &["none", "server", "global"];

/// Checks one attribute document against its model, recursively.
fn check_attribute(doc: &Value, model: &Attribute, at: &str) {
    let at = format!("{at}.{}", model.name);
    assert_eq!(doc["name"], json!(model.name), "{at}");
    let ty = doc["type"].as_str().unwrap_or_else(|| panic!("{at}: type"));
    assert!(TYPES.contains(&ty), "{at}: type {ty}");
    assert_eq!(ty, model.ty.as_str(), "{at}");
    assert_eq!(doc["multiValued"], json!(model.multi_valued), "{at}");
    assert_eq!(doc["description"], json!(model.description), "{at}");
    assert_eq!(doc["required"], json!(model.required), "{at}");
    assert_eq!(doc["caseExact"], json!(model.case_exact), "{at}");
    for (key, allowed) in [
        ("mutability", MUTABILITY),
        ("returned", RETURNED),
        ("uniqueness", UNIQUENESS),
    ] {
        let v = doc[key].as_str().unwrap_or_else(|| panic!("{at}: {key}"));
        assert!(allowed.contains(&v), "{at}: {key} {v}");
    }
    assert_eq!(doc["mutability"], json!(model.mutability.as_str()), "{at}");
    assert_eq!(doc["returned"], json!(model.returned.as_str()), "{at}");
    assert_eq!(doc["uniqueness"], json!(model.uniqueness.as_str()), "{at}");
    match doc.get("canonicalValues") {
        Some(v) => assert_eq!(v, &json!(model.canonical_values), "{at}"),
        None => assert!(
            model.canonical_values.is_empty(),
            "{at}: canonicalValues missing"
        ),
    }
    if model.ty == AttributeType::Reference {
        assert_eq!(doc["referenceTypes"], json!(model.reference_types), "{at}");
        assert!(
            !model.reference_types.is_empty(),
            "{at}: a reference names its types"
        );
    } else {
        assert!(doc.get("referenceTypes").is_none(), "{at}");
    }
    if model.ty == AttributeType::Complex {
        let subs = doc["subAttributes"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: subAttributes"));
        assert_eq!(subs.len(), model.sub_attributes.len(), "{at}");
        for (d, m) in subs.iter().zip(&model.sub_attributes) {
            assert!(d.get("subAttributes").is_none(), "{at}: nested complex");
            check_attribute(d, m, &at);
        }
    } else {
        assert!(doc.get("subAttributes").is_none(), "{at}");
    }
    let known = [
        "name",
        "type",
        "multiValued",
        "description",
        "required",
        "caseExact",
        "mutability",
        "returned",
        "uniqueness",
        "canonicalValues",
        "referenceTypes",
        "subAttributes",
    ];
    for key in doc.as_object().unwrap().keys() {
        assert!(known.contains(&key.as_str()), "{at}: unexpected {key}");
    }
}

#[test]
fn every_attribute_of_every_schema_is_announced() {
    for (registry, base) in [
        (Registry::core(), BASE),
        (with_extension(), "http://localhost:8080/scim/v2/"),
    ] {
        let doc = schemas_document(&registry, base);
        let base = base.trim_end_matches('/');
        assert_eq!(
            doc["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        let resources = doc["Resources"].as_array().unwrap();
        assert_eq!(doc["totalResults"], json!(registry.schemas().len()));
        assert_eq!(doc["itemsPerPage"], json!(registry.schemas().len()));
        assert_eq!(doc["startIndex"], json!(1));
        assert_eq!(resources.len(), registry.schemas().len());
        for (res, model) in resources.iter().zip(registry.schemas()) {
            assert_eq!(
                res["schemas"],
                json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
            );
            assert_eq!(res["id"], json!(model.id));
            assert_eq!(res["name"], json!(model.name));
            assert_eq!(res["description"], json!(model.description));
            assert_eq!(res["meta"]["resourceType"], json!("Schema"));
            assert_eq!(
                res["meta"]["location"],
                json!(format!("{base}/Schemas/{}", model.id))
            );
            let attrs = res["attributes"].as_array().unwrap();
            assert_eq!(attrs.len(), model.attributes.len(), "{}", model.id);
            for (d, m) in attrs.iter().zip(&model.attributes) {
                check_attribute(d, m, &model.id);
            }
            // The single-schema document is the same resource.
            assert_eq!(
                schema_document(&registry, &model.id, base).as_ref(),
                Some(res)
            );
        }
    }
}

#[test]
fn well_known_characteristics() {
    let doc = schema_document(&Registry::core(), USER_SCHEMA, BASE).unwrap();
    let attr = |name: &str| -> Value {
        doc["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == json!(name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} announced"))
    };
    let cases = [
        ("userName", "required", json!(true)),
        ("userName", "uniqueness", json!("server")),
        ("password", "returned", json!("never")),
        ("password", "mutability", json!("writeOnly")),
        ("groups", "mutability", json!("readOnly")),
        ("groups", "multiValued", json!(true)),
        ("emails", "type", json!("complex")),
        ("active", "type", json!("boolean")),
        ("profileUrl", "referenceTypes", json!(["external"])),
        ("x509Certificates", "multiValued", json!(true)),
    ];
    for (name, key, want) in cases {
        assert_eq!(attr(name)[key], want, "{name}.{key}");
    }
    let common: Vec<&str> = ["id", "externalId", "meta"].to_vec();
    for name in common {
        assert!(
            !doc["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["name"] == json!(name)),
            "{name} is a common attribute, in no schema"
        );
    }
}

#[test]
fn lookups_ignore_case() {
    let registry = with_extension();
    let schemas = [
        (USER_SCHEMA, Some(USER_SCHEMA)),
        (
            "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER",
            Some(USER_SCHEMA),
        ),
        (GROUP_SCHEMA, Some(GROUP_SCHEMA)),
        (
            "urn:ietf:params:scim:schemas:extension:Enterprise:2.0:user",
            Some(ENTERPRISE_USER_SCHEMA),
        ),
        (ACME, Some(ACME)),
        ("urn:ietf:params:scim:schemas:core:2.0:Nothing", None),
        ("User", None),
        ("", None),
    ];
    for (id, want) in schemas {
        let got = schema_document(&registry, id, BASE);
        assert_eq!(
            got.as_ref().map(|d| d["id"].as_str().unwrap()),
            want,
            "{id}"
        );
    }
    let types = [
        ("User", Some("/Users")),
        ("user", Some("/Users")),
        ("GROUP", Some("/Groups")),
        ("Users", None),
        ("", None),
    ];
    for (name, endpoint) in types {
        let got = resource_type_document(&registry, name, BASE);
        assert_eq!(
            got.as_ref().map(|d| d["endpoint"].as_str().unwrap()),
            endpoint,
            "{name}"
        );
    }
}

#[test]
fn resource_types_match_the_registry() {
    let registry = with_extension();
    let doc = resource_types_document(&registry, BASE);
    let resources = doc["Resources"].as_array().unwrap();
    assert_eq!(doc["totalResults"], json!(registry.resource_types().len()));
    for (res, rt) in resources.iter().zip(registry.resource_types()) {
        assert_eq!(
            res["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:ResourceType"])
        );
        assert_eq!(res["id"], json!(rt.name));
        assert_eq!(res["name"], json!(rt.name));
        assert_eq!(res["endpoint"], json!(rt.endpoint));
        assert_eq!(res["schema"], json!(rt.schema));
        assert!(
            registry.schema(&rt.schema).is_some(),
            "the core schema is published"
        );
        let exts: Vec<(String, bool)> = res
            .get("schemaExtensions")
            .map(|e| {
                e.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| {
                        (
                            x["schema"].as_str().unwrap().to_owned(),
                            x["required"].as_bool().unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let want: Vec<(String, bool)> = rt
            .extensions
            .iter()
            .map(|e| (e.schema.clone(), e.required))
            .collect();
        assert_eq!(exts, want, "{}", rt.name);
        for (urn, _) in &exts {
            assert!(
                registry.schema(urn).is_some(),
                "{urn} is published in /Schemas"
            );
        }
        assert_eq!(
            res["meta"],
            json!({"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/{}", rt.name)})
        );
        assert_eq!(
            resource_type_document(&registry, &rt.name, BASE).as_ref(),
            Some(res)
        );
    }
}

#[test]
fn base_urls_with_or_without_a_trailing_slash() {
    let registry = Registry::core();
    let cases = [
        (
            "https://x.example/scim/v2",
            "https://x.example/scim/v2/Schemas/",
        ),
        (
            "https://x.example/scim/v2/",
            "https://x.example/scim/v2/Schemas/",
        ),
        (
            "https://x.example/scim/v2//",
            "https://x.example/scim/v2/Schemas/",
        ),
        ("", "/Schemas/"),
    ];
    for (base, prefix) in cases {
        let doc = schema_document(&registry, GROUP_SCHEMA, base).unwrap();
        assert_eq!(
            doc["meta"]["location"],
            json!(format!("{prefix}{GROUP_SCHEMA}")),
            "{base:?}"
        );
        let spc = service_provider_config(&config(), base);
        assert_eq!(
            spc["meta"]["location"],
            json!(format!(
                "{}ServiceProviderConfig",
                prefix.trim_end_matches("Schemas/")
            )),
            "{base:?}"
        );
    }
}

#[test]
fn service_provider_config_reports_the_real_limits() {
    let cases = [
        (
            Some((10, 2048)),
            Some(50),
            json!({"supported": true, "maxOperations": 10, "maxPayloadSize": 2048}),
            json!({"supported": true, "maxResults": 50}),
        ),
        (
            None,
            Some(1),
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0}),
            json!({"supported": true, "maxResults": 1}),
        ),
        (
            Some((1, 1)),
            None,
            json!({"supported": true, "maxOperations": 1, "maxPayloadSize": 1}),
            json!({"supported": false, "maxResults": 0}),
        ),
    ];
    for (bulk, filter, want_bulk, want_filter) in cases {
        let mut c = config();
        c.bulk = bulk.map(|(ops, size)| BulkLimits {
            max_operations: ops,
            max_payload_size: size,
        });
        c.filter_max_results = filter;
        let doc = service_provider_config(&c, BASE);
        assert_eq!(doc["bulk"], want_bulk);
        assert_eq!(doc["filter"], want_filter);
        assert_eq!(
            doc["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
        );
        for feature in ["patch", "changePassword", "sort", "etag"] {
            assert!(doc[feature]["supported"].is_boolean(), "{feature}");
        }
    }
    let mut c = config();
    c.authentication_schemes.push(AuthenticationScheme {
        kind: "httpbasic".into(),
        name: "HTTP Basic".into(),
        description: "Authentication scheme using the HTTP Basic Standard".into(),
        spec_uri: Some("https://www.rfc-editor.org/info/rfc2617".into()),
        documentation_uri: Some("https://roster.example/docs/basic".into()),
        primary: false,
    });
    let doc = service_provider_config(&c, BASE);
    assert_eq!(
        doc["authenticationSchemes"],
        json!([
            {"type": "oauthbearertoken", "name": "OAuth Bearer Token",
             "description": "Authentication scheme using the OAuth Bearer Token Standard",
             "specUri": "https://www.rfc-editor.org/info/rfc6750", "primary": true},
            {"type": "httpbasic", "name": "HTTP Basic",
             "description": "Authentication scheme using the HTTP Basic Standard",
             "specUri": "https://www.rfc-editor.org/info/rfc2617",
             "documentationUri": "https://roster.example/docs/basic", "primary": false}
        ])
    );
}
