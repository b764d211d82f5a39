//! The protocol messages: list queries from GET parameters and SearchRequest bodies, ListResponse,
//! BulkRequest parsing and bulkId references, BulkResponse, and the Error body.

use std::collections::HashMap;

use roster_scim::error::{Error, ScimType};
use roster_scim::filter::{FilterError, FilterErrorKind};
use roster_scim::messages::{
    BULK_REQUEST, BulkLimits, BulkMethod, BulkOperationResponse, BulkRejection, BulkRequest,
    BulkResponse, ERROR, ErrorBody, ListQuery, ListResponse, SEARCH_REQUEST, SearchRequest,
    bulk_id_references, substitute_bulk_ids,
};
use roster_scim::path::AttrPath;
use roster_scim::sort::SortOrder;
use serde_json::{Value, json};

const MAX: u64 = 100;

// ---------------------------------------------------------------------------------------------
// ListQuery from GET parameters

/// `(parameters, Ok((startIndex, count)) or Err(scimType))`.
type PageCase = (
    &'static [(&'static str, &'static str)],
    Result<(u64, u64), ScimType>,
);

const PAGING: &[PageCase] = &[
    (&[], Ok((1, MAX))),
    (&[("startIndex", "0")], Ok((1, MAX))),
    (&[("startIndex", "-5")], Ok((1, MAX))),
    (&[("startIndex", "1")], Ok((1, MAX))),
    (&[("startIndex", "42")], Ok((42, MAX))),
    (
        &[("startIndex", "99999999999999999999")],
        Ok((i64::MAX as u64, MAX)),
    ),
    (&[("count", "0")], Ok((1, 0))),
    (&[("count", "-3")], Ok((1, 0))),
    (&[("count", "50")], Ok((1, 50))),
    (&[("count", "100")], Ok((1, 100))),
    (&[("count", "101")], Ok((1, 100))),
    (&[("count", "99999999999999999999999")], Ok((1, 100))),
    (&[("count", "+7")], Ok((1, 7))),
    (&[("count", " 7 ")], Ok((1, 7))),
    (&[("count", "")], Ok((1, MAX))),
    (&[("count", "5"), ("count", "7")], Ok((1, 7))),
    (&[("COUNT", "5"), ("startindex", "3")], Ok((3, 5))),
    (&[("startIndex", "11"), ("count", "10")], Ok((11, 10))),
    (&[("foo", "bar"), ("count", "2")], Ok((1, 2))),
    (&[("count", "abc")], Err(ScimType::InvalidValue)),
    (&[("count", "1.5")], Err(ScimType::InvalidValue)),
    (&[("count", "10abc")], Err(ScimType::InvalidValue)),
    (&[("count", "-")], Err(ScimType::InvalidValue)),
    (&[("count", "1e3")], Err(ScimType::InvalidValue)),
    (&[("startIndex", "one")], Err(ScimType::InvalidValue)),
    (&[("startIndex", "0x10")], Err(ScimType::InvalidValue)),
    (
        &[("sortBy", "userName"), ("sortOrder", "sideways")],
        Err(ScimType::InvalidValue),
    ),
    (&[("sortOrder", "sideways")], Err(ScimType::InvalidValue)),
    (&[("sortBy", "name..givenName")], Err(ScimType::InvalidPath)),
    (
        &[("attributes", "userName,bad..x")],
        Err(ScimType::InvalidPath),
    ),
    (
        &[("excludedAttributes", "1abc")],
        Err(ScimType::InvalidPath),
    ),
];

#[test]
fn paging_parameters() {
    for (params, want) in PAGING {
        let got = ListQuery::from_params(params.iter().copied(), MAX)
            .map(|q| (q.start_index, q.count))
            .map_err(|e| {
                assert_eq!(e.status(), 400, "{params:?}: {e}");
                e.scim_type()
            });
        assert_eq!(&got, want, "{params:?}");
    }
}

#[test]
fn other_parameters() {
    let q = |params: &[(&str, &str)]| ListQuery::from_params(params.iter().copied(), MAX).unwrap();

    let v = q(&[("filter", "userName eq \"ada\"")]);
    assert_eq!(v.filter.as_deref(), Some("userName eq \"ada\""));
    assert_eq!(q(&[("filter", "   ")]).filter, None);
    assert_eq!(q(&[]).filter, None);

    let v = q(&[("sortBy", "userName")]).sort.unwrap();
    assert_eq!(
        (v.path, v.order),
        (AttrPath::simple("userName"), SortOrder::Ascending)
    );
    let v = q(&[("sortBy", "name.givenName"), ("sortOrder", "Descending")])
        .sort
        .unwrap();
    assert_eq!(
        (v.path, v.order),
        (AttrPath::sub("name", "givenName"), SortOrder::Descending)
    );
    assert_eq!(q(&[("sortOrder", "descending")]).sort, None);
    assert_eq!(q(&[("sortBy", "")]).sort, None);

    assert_eq!(
        q(&[("attributes", "userName, emails")]).attributes,
        ["userName", "emails"]
    );
    assert_eq!(
        q(&[("attributes", "userName"), ("attributes", "title")]).attributes,
        ["userName", "title"]
    );
    assert_eq!(q(&[("attributes", " , ")]).attributes, Vec::<String>::new());
    assert_eq!(
        q(&[("excludedAttributes", "members")]).excluded_attributes,
        ["members"]
    );
    assert_eq!(
        q(&[(
            "attributes",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        )])
        .attributes,
        ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    );
    assert_eq!(q(&[("startIndex", "7")]).offset(), 6);
    assert_eq!(q(&[]).offset(), 0);
}

#[test]
fn list_query_projection_resolves_against_the_resource_type() {
    let registry = roster_scim::Registry::core();
    let q = ListQuery::from_params([("excludedAttributes", "members")], MAX).unwrap();
    let p = q.projection(registry.group()).unwrap();
    assert!(!p.needs(registry.group(), "members"));
    assert!(p.needs(registry.group(), "displayName"));
}

// ---------------------------------------------------------------------------------------------
// SearchRequest

/// `(body, Ok((filter, sortBy, order, startIndex, count, attributes, excluded)) or Err)`.
type SearchCase = (
    Value,
    Result<
        (
            Option<&'static str>,
            Option<&'static str>,
            SortOrder,
            u64,
            u64,
            Vec<&'static str>,
            Vec<&'static str>,
        ),
        ScimType,
    >,
);

fn search_cases() -> Vec<SearchCase> {
    let asc = SortOrder::Ascending;
    vec![
        (
            json!({
                "schemas": [SEARCH_REQUEST],
                "attributes": ["displayName", "userName"],
                "filter": "displayName sw \"smith\"",
                "startIndex": 1,
                "count": 10
            }),
            Ok((
                Some("displayName sw \"smith\""),
                None,
                asc,
                1,
                10,
                vec!["displayName", "userName"],
                vec![],
            )),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST]}),
            Ok((None, None, asc, 1, MAX, vec![], vec![])),
        ),
        (
            json!({
                "SCHEMAS": [SEARCH_REQUEST.to_uppercase()],
                "FILTER": "active eq true",
                "SortBy": "userName",
                "SORTORDER": "descending",
                "STARTINDEX": 3,
                "Count": 2,
                "ATTRIBUTES": ["userName"],
                "excludedattributes": ["groups"]
            }),
            Ok((
                Some("active eq true"),
                Some("userName"),
                SortOrder::Descending,
                3,
                2,
                vec!["userName"],
                vec!["groups"],
            )),
        ),
        (
            json!({"schemas": ["urn:other", SEARCH_REQUEST], "attributes": "userName, title"}),
            Ok((None, None, asc, 1, MAX, vec!["userName", "title"], vec![])),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "count": "10", "startIndex": "0"}),
            Ok((None, None, asc, 1, 10, vec![], vec![])),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "count": -1, "startIndex": -3}),
            Ok((None, None, asc, 1, 0, vec![], vec![])),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "count": 18446744073709551615u64}),
            Ok((None, None, asc, 1, MAX, vec![], vec![])),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "count": null, "filter": null, "attributes": null}),
            Ok((None, None, asc, 1, MAX, vec![], vec![])),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "vendorExtra": {"x": 1}, "attributes": []}),
            Ok((None, None, asc, 1, MAX, vec![], vec![])),
        ),
        (json!({"filter": "x"}), Err(ScimType::InvalidSyntax)),
        (
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]}),
            Err(ScimType::InvalidSyntax),
        ),
        (
            json!({"schemas": SEARCH_REQUEST}),
            Err(ScimType::InvalidSyntax),
        ),
        (json!([SEARCH_REQUEST]), Err(ScimType::InvalidSyntax)),
        (json!("search"), Err(ScimType::InvalidSyntax)),
        (
            json!({"schemas": [SEARCH_REQUEST], "count": 1.5}),
            Err(ScimType::InvalidValue),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "count": "x"}),
            Err(ScimType::InvalidValue),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "count": true}),
            Err(ScimType::InvalidValue),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "filter": 5}),
            Err(ScimType::InvalidValue),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "attributes": [1]}),
            Err(ScimType::InvalidValue),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "attributes": {"a": 1}}),
            Err(ScimType::InvalidValue),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "sortOrder": "random"}),
            Err(ScimType::InvalidValue),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "sortBy": "a b"}),
            Err(ScimType::InvalidPath),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "excludedAttributes": ["emails[type eq \"work\"]"]}),
            Err(ScimType::InvalidPath),
        ),
    ]
}

#[test]
fn search_requests() {
    for (body, want) in search_cases() {
        let got = SearchRequest::from_json(&body)
            .and_then(|r| ListQuery::from_search(&r, MAX))
            .map(|q| {
                (
                    q.filter.clone(),
                    q.sort.as_ref().map(|s| s.path.to_string()),
                    q.sort.as_ref().map_or(SortOrder::Ascending, |s| s.order),
                    q.start_index,
                    q.count,
                    q.attributes.clone(),
                    q.excluded_attributes.clone(),
                )
            })
            .map_err(|e| e.scim_type());
        let want = want.map(|(f, s, o, i, c, a, x)| {
            (
                f.map(str::to_owned),
                s.map(str::to_owned),
                o,
                i,
                c,
                a.into_iter().map(str::to_owned).collect::<Vec<_>>(),
                x.into_iter().map(str::to_owned).collect::<Vec<_>>(),
            )
        });
        assert_eq!(got, want, "{body}");
    }
}

#[test]
fn search_request_serde_round_trip() {
    let req = SearchRequest {
        schemas: vec![SEARCH_REQUEST.into()],
        attributes: vec!["userName".into()],
        excluded_attributes: vec![],
        filter: Some("userName sw \"a\"".into()),
        sort_by: Some("userName".into()),
        sort_order: Some("descending".into()),
        start_index: Some(1),
        count: Some(5),
    };
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(
        v,
        json!({
            "schemas": [SEARCH_REQUEST],
            "attributes": ["userName"],
            "filter": "userName sw \"a\"",
            "sortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 1,
            "count": 5
        })
    );
    assert_eq!(serde_json::from_value::<SearchRequest>(v).unwrap(), req);
    let err = serde_json::from_value::<SearchRequest>(json!({"filter": "x"})).unwrap_err();
    assert!(err.to_string().contains(SEARCH_REQUEST), "{err}");
}

// ---------------------------------------------------------------------------------------------
// ListResponse

#[test]
fn list_responses() {
    let cases: Vec<(ListResponse, Value)> = vec![
        (
            ListResponse::new(vec![json!({"id": "1"}), json!({"id": "2"})], 10, 3),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 10,
                "itemsPerPage": 2,
                "startIndex": 3,
                "Resources": [{"id": "1"}, {"id": "2"}]
            }),
        ),
        (
            ListResponse::new(vec![], 42, 1),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 42,
                "itemsPerPage": 0,
                "startIndex": 1,
                "Resources": []
            }),
        ),
        (
            ListResponse::new(vec![], 0, 0),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0,
                "itemsPerPage": 0,
                "startIndex": 1,
                "Resources": []
            }),
        ),
    ];
    for (resp, want) in cases {
        let v = serde_json::to_value(&resp).unwrap();
        // Key order matters to people reading responses; compare the text, not only the value.
        assert_eq!(v.to_string(), want.to_string());
        assert_eq!(serde_json::from_value::<ListResponse>(v).unwrap(), resp);
    }
    // Another provider may leave out Resources or spell it in lower case.
    let read: ListResponse = serde_json::from_value(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0, "itemsPerPage": 0, "startIndex": 1
    }))
    .unwrap();
    assert!(read.resources.is_empty());
    let read: ListResponse = serde_json::from_value(json!({
        "schemas": [], "totalResults": 1, "itemsPerPage": 1, "startIndex": 1, "resources": [{"id": "x"}]
    }))
    .unwrap();
    assert_eq!(read.resources, [json!({"id": "x"})]);
}

// ---------------------------------------------------------------------------------------------
// Bulk

const LIMITS: BulkLimits = BulkLimits {
    max_operations: 4,
    max_payload_size: 4096,
};

fn bulk(ops: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": ops})
}

fn post(bulk_id: &str, data: Value) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data})
}

/// `(request, Ok(execution order) or Err((status, scimType)))`.
type BulkCase = (Value, Result<Vec<usize>, (u16, Option<ScimType>)>);

fn bulk_cases() -> Vec<BulkCase> {
    let invalid = Err((400, Some(ScimType::InvalidValue)));
    let syntax = Err((400, Some(ScimType::InvalidSyntax)));
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"});
    let group_with = |id: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g",
               "members": [{"type": "User", "value": format!("bulkId:{id}")}]})
    };
    vec![
        (
            bulk(json!([post("u1", user.clone()), post("u2", user.clone())])),
            Ok(vec![0, 1]),
        ),
        (bulk(json!([])), Ok(vec![])),
        // A reference moves the operation after the POST it needs.
        (
            bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": group_with("u1")},
                post("u1", user.clone())
            ])),
            Ok(vec![1, 0]),
        ),
        (
            bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": group_with("g2")},
                {"method": "POST", "path": "/Groups", "bulkId": "g2", "data": group_with("u1")},
                post("u1", user.clone()),
                post("u9", user.clone())
            ])),
            Ok(vec![2, 1, 0, 3]),
        ),
        (
            bulk(json!([
                {"method": "PATCH", "path": "/Groups/bulkId:g1", "data": {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}]}]}},
                post("u1", user.clone()),
                {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"displayName": "g"}}
            ])),
            Ok(vec![1, 2, 0]),
        ),
        (
            bulk(json!([
                {"method": "DELETE", "path": "/Users/bulkId:u1"},
                post("u1", user.clone())
            ])),
            Ok(vec![1, 0]),
        ),
        // Methods and keys without regard to case; failOnErrors as a number or numeric string.
        (
            json!({"SCHEMAS": [BULK_REQUEST], "failOnErrors": 1, "operations": [
                {"METHOD": "post", "PATH": "/Users", "BULKID": "x", "DATA": user.clone()},
                {"Method": "Delete", "Path": "/Users/123", "Version": "W/\"1\""}
            ]}),
            Ok(vec![0, 1]),
        ),
        (
            json!({"schemas": [BULK_REQUEST], "failOnErrors": "2", "Operations": [{"method": "PuT", "path": "/Users/1", "data": user.clone()}]}),
            Ok(vec![0]),
        ),
        // Whole-request errors.
        (json!({"schemas": [BULK_REQUEST]}), syntax.clone()),
        (
            json!({"schemas": [BULK_REQUEST], "Operations": {}}),
            syntax.clone(),
        ),
        (
            json!({"schemas": [SEARCH_REQUEST], "Operations": []}),
            syntax.clone(),
        ),
        (json!([]), syntax),
        (
            json!({"schemas": [BULK_REQUEST], "failOnErrors": -1, "Operations": []}),
            invalid.clone(),
        ),
        (
            json!({"schemas": [BULK_REQUEST], "failOnErrors": "many", "Operations": []}),
            invalid.clone(),
        ),
        (
            bulk(json!([
                post("1", user.clone()),
                post("2", user.clone()),
                post("3", user.clone()),
                post("4", user.clone()),
                post("5", user.clone())
            ])),
            Err((413, None)),
        ),
        // Malformed operations.
        (bulk(json!(["POST /Users"])), invalid.clone()),
        (bulk(json!([{"path": "/Users/1"}])), invalid.clone()),
        (
            bulk(json!([{"method": "GET", "path": "/Users/1"}])),
            invalid.clone(),
        ),
        (
            bulk(json!([{"method": 1, "path": "/Users/1"}])),
            invalid.clone(),
        ),
        (bulk(json!([{"method": "DELETE"}])), invalid.clone()),
        (
            bulk(json!([{"method": "DELETE", "path": "  "}])),
            invalid.clone(),
        ),
        (
            bulk(json!([{"method": "DELETE", "path": "Users/1"}])),
            invalid.clone(),
        ),
        (
            bulk(json!([{"method": "POST", "path": "/Users", "data": user.clone()}])),
            invalid.clone(),
        ),
        (
            bulk(json!([{"method": "POST", "path": "/Users", "bulkId": "", "data": user.clone()}])),
            invalid.clone(),
        ),
        (
            bulk(json!([{"method": "POST", "path": "/Users", "bulkId": "x"}])),
            invalid.clone(),
        ),
        (
            bulk(json!([{"method": "PATCH", "path": "/Users/1", "data": "replace"}])),
            invalid.clone(),
        ),
        (
            bulk(json!([{"method": "PUT", "path": "/Users/1"}])),
            invalid.clone(),
        ),
        // bulkId problems.
        (
            bulk(json!([post("u1", user.clone()), post("u1", user.clone())])),
            invalid.clone(),
        ),
        (
            bulk(
                json!([{"method": "POST", "path": "/Groups", "bulkId": "g", "data": group_with("nobody")}]),
            ),
            invalid.clone(),
        ),
        (
            bulk(json!([
                {"method": "PUT", "path": "/Users/1", "bulkId": "p", "data": user.clone()},
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": group_with("p")}
            ])),
            invalid.clone(),
        ),
        (
            bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "a", "data": group_with("b")},
                {"method": "POST", "path": "/Groups", "bulkId": "b", "data": group_with("a")}
            ])),
            invalid.clone(),
        ),
        (
            bulk(
                json!([{"method": "POST", "path": "/Groups", "bulkId": "self", "data": group_with("self")}]),
            ),
            invalid,
        ),
    ]
}

#[test]
fn bulk_fail_on_errors_zero_stops_at_the_first_error() {
    let limits = BulkLimits {
        max_operations: 10,
        max_payload_size: 1 << 20,
    };
    let r = BulkRequest::from_json(
        &json!({"schemas": [BULK_REQUEST], "failOnErrors": 0, "Operations": []}),
        &limits,
    )
    .unwrap();
    assert_eq!(r.fail_on_errors, Some(1));
    assert!(!r.should_stop(0));
    assert!(r.should_stop(1));
}

#[test]
fn bulk_requests() {
    for (body, want) in bulk_cases() {
        let got = BulkRequest::from_json(&body, &LIMITS)
            .map(|r| r.execution_order().to_vec())
            .map_err(|e| {
                let body = ErrorBody::from(&e);
                assert_eq!(body.status, e.status());
                (e.status(), body.scim_type)
            });
        assert_eq!(got, want, "{body}");
    }
}

#[test]
fn bulk_cycles_are_named() {
    let ref_to =
        |id: &str| json!({"displayName": "g", "members": [{"value": format!("bulkId:{id}")}]});
    let cases = [
        (
            bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "a", "data": ref_to("b")},
                {"method": "POST", "path": "/Groups", "bulkId": "b", "data": ref_to("a")}
            ])),
            "a -> b -> a",
        ),
        (
            bulk(json!([
                {"method": "POST", "path": "/Groups", "bulkId": "x", "data": {"displayName": "free"}},
                {"method": "POST", "path": "/Groups", "bulkId": "a", "data": ref_to("b")},
                {"method": "POST", "path": "/Groups", "bulkId": "b", "data": ref_to("c")},
                {"method": "POST", "path": "/Groups", "bulkId": "c", "data": ref_to("a")}
            ])),
            "a -> b -> c -> a",
        ),
        (
            bulk(
                json!([{"method": "POST", "path": "/Groups", "bulkId": "s", "data": ref_to("s")}]),
            ),
            "s -> s",
        ),
    ];
    for (body, circle) in cases {
        let e = BulkRequest::from_json(&body, &LIMITS).unwrap_err();
        assert!(e.to_string().contains(circle), "{e} should name {circle}");
    }
}

#[test]
fn bulk_payload_limits() {
    let body =
        serde_json::to_vec(&bulk(json!([{"method": "DELETE", "path": "/Users/1"}]))).unwrap();
    // (body, maxPayloadSize, Ok(operations) or Err((status, words of the detail)))
    type PayloadCase<'a> = (&'a [u8], usize, Result<usize, (u16, &'a str)>);
    let cases: Vec<PayloadCase<'_>> = vec![
        (&body, 4096, Ok(1)),
        (&body, body.len(), Ok(1)),
        (
            &body,
            body.len() - 1,
            Err((413, "exceeds the maxPayloadSize")),
        ),
        (b"{not json", 4096, Err((400, "not JSON"))),
        (b"", 4096, Err((400, "not JSON"))),
    ];
    for (input, max, want) in cases {
        let limits = BulkLimits {
            max_operations: 10,
            max_payload_size: max,
        };
        let got = BulkRequest::parse(input, &limits).map(|r| r.operations.len());
        match (got, want) {
            (Ok(n), Ok(m)) => assert_eq!(n, m),
            (Err(e), Err((status, text))) => {
                assert_eq!(e.status(), status, "{e}");
                assert!(e.to_string().contains(text), "{e}");
                let body = ErrorBody::from(&e);
                assert_eq!(
                    serde_json::to_value(&body).unwrap()["status"],
                    json!(status.to_string())
                );
            }
            (got, want) => panic!("{got:?} vs {want:?}"),
        }
    }
    let e = BulkRejection::TooManyOperations { max: 4, got: 5 };
    assert_eq!(
        serde_json::to_value(ErrorBody::from(&e)).unwrap(),
        json!({"schemas": [ERROR], "status": "413",
               "detail": "the bulk request holds 5 operations, more than the maxOperations (4)"})
    );
}

#[test]
fn bulk_parsed_fields() {
    let body = json!({"schemas": [BULK_REQUEST], "failOnErrors": 2, "Operations": [
        {"method": "post", "path": " /Users ", "bulkId": "q", "data": {"userName": "a"}},
        {"method": "PATCH", "path": "/Users/7", "version": "W/\"4\"", "data": {"Operations": []}},
        {"method": "DELETE", "path": "/Users/8", "data": {"ignored": true}}
    ]});
    let r = BulkRequest::from_json(&body, &LIMITS).unwrap();
    assert_eq!(r.fail_on_errors, Some(2));
    let ops: Vec<_> = r
        .operations
        .iter()
        .map(|o| {
            (
                o.method,
                o.path.as_str(),
                o.bulk_id.as_deref(),
                o.version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            (BulkMethod::Post, "/Users", Some("q"), None),
            (BulkMethod::Patch, "/Users/7", None, Some("W/\"4\"")),
            (BulkMethod::Delete, "/Users/8", None, None),
        ]
    );
    let stops: Vec<bool> = (0..4).map(|n| r.should_stop(n)).collect();
    assert_eq!(stops, [false, false, true, true]);
    let never = BulkRequest::from_json(&bulk(json!([])), &LIMITS).unwrap();
    assert!(!never.should_stop(1_000));
    // Serialising gives back the wire form.
    assert_eq!(
        serde_json::to_value(&r).unwrap()["Operations"][0],
        json!({"method": "POST", "bulkId": "q", "path": "/Users", "data": {"userName": "a"}})
    );
}

#[test]
fn bulk_method_names() {
    let cases = [
        ("POST", Some(BulkMethod::Post)),
        ("post", Some(BulkMethod::Post)),
        ("Put", Some(BulkMethod::Put)),
        ("pAtCh", Some(BulkMethod::Patch)),
        (" DELETE ", Some(BulkMethod::Delete)),
        ("GET", None),
        ("", None),
    ];
    for (input, want) in cases {
        assert_eq!(BulkMethod::parse(input), want, "{input:?}");
        if let Some(m) = want {
            assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
            assert_eq!(
                serde_json::from_value::<BulkMethod>(json!(input)).unwrap(),
                m
            );
        }
    }
}

#[test]
fn bulk_id_reference_lists() {
    let cases = [
        (json!("bulkId:a"), vec!["a"]),
        (
            json!({"members": [{"value": "bulkId:a"}, {"value": "bulkId:b"}, {"value": "bulkId:a"}]}),
            vec!["a", "b"],
        ),
        (
            json!({"x": {"y": ["plain", 3, null, true, "bulkId:deep"]}}),
            vec!["deep"],
        ),
        (
            json!({"value": "xbulkId:a", "other": "bulkid:a", "n": "BULKID:a"}),
            vec![],
        ),
        (json!({"bulkId:a": "keys are not references"}), vec![]),
        (json!(null), vec![]),
    ];
    for (value, want) in cases {
        assert_eq!(bulk_id_references(&value), want, "{value}");
    }
}

#[test]
fn bulk_id_substitution() {
    let created: HashMap<String, String> = [("u1", "id-1"), ("g1", "id-g")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let cases = [
        (json!("bulkId:u1"), Ok(json!("id-1"))),
        (
            json!({"members": [{"value": "bulkId:u1", "type": "User"}, {"value": "bulkId:g1"}]}),
            Ok(json!({"members": [{"value": "id-1", "type": "User"}, {"value": "id-g"}]})),
        ),
        (
            json!({"Operations": [{"op": "add", "value": {"members": [{"value": "bulkId:u1"}]}}]}),
            Ok(json!({"Operations": [{"op": "add", "value": {"members": [{"value": "id-1"}]}}]})),
        ),
        (
            json!({"note": "see bulkId:u1", "n": 1}),
            Ok(json!({"note": "see bulkId:u1", "n": 1})),
        ),
        (
            json!({"value": "bulkId:missing"}),
            Err(ScimType::InvalidValue),
        ),
        (
            json!(["bulkId:u1", ["bulkId:nobody"]]),
            Err(ScimType::InvalidValue),
        ),
    ];
    for (mut value, want) in cases {
        let input = value.clone();
        let got = substitute_bulk_ids(&mut value, &created)
            .map(|()| value)
            .map_err(|e| e.scim_type());
        assert_eq!(got, want, "{input}");
    }

    let request = BulkRequest::from_json(
        &bulk(json!([
            {"method": "PATCH", "path": "/Groups/bulkId:g1", "data": {"Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}]}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "a"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"displayName": "g"}}
        ])),
        &LIMITS,
    )
    .unwrap();
    let op = &request.operations[0];
    assert_eq!(op.references(), ["g1", "u1"]);
    let resolved = op.resolve(&created).unwrap();
    assert_eq!(resolved.path, "/Groups/id-g");
    assert_eq!(
        resolved.data.unwrap()["Operations"][0]["value"][0]["value"],
        json!("id-1")
    );
    let e = op.resolve(&HashMap::new()).unwrap_err();
    assert_eq!(e.scim_type(), ScimType::InvalidValue);
    assert!(e.to_string().contains("bulkId:g1"), "{e}");
}

#[test]
fn bulk_responses() {
    let request = BulkRequest::from_json(
        &bulk(json!([
            {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": {"userName": "a"}},
            {"method": "DELETE", "path": "/Users/b7c14771"},
            {"method": "POST", "path": "/Users", "bulkId": "dup", "data": {"userName": "a"}}
        ])),
        &LIMITS,
    )
    .unwrap();
    let ops = &request.operations;
    let response = BulkResponse::new(vec![
        BulkOperationResponse::success(
            &ops[0],
            201,
            "https://example.com/v2/Users/92b725cd".into(),
            Some("W/\"oY4m4wn58tkVjJxK\"".into()),
        ),
        BulkOperationResponse::success(
            &ops[1],
            204,
            "https://example.com/v2/Users/b7c14771".into(),
            None,
        ),
        BulkOperationResponse::failure(
            &ops[2],
            None,
            &ErrorBody::uniqueness("userName \"a\" is already taken"),
        ),
    ]);
    let want = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"],
        "Operations": [
            {"location": "https://example.com/v2/Users/92b725cd", "method": "POST", "bulkId": "qwerty",
             "version": "W/\"oY4m4wn58tkVjJxK\"", "status": "201"},
            {"location": "https://example.com/v2/Users/b7c14771", "method": "DELETE", "status": "204"},
            {"method": "POST", "bulkId": "dup", "status": "409",
             "response": {"schemas": [ERROR], "status": "409", "scimType": "uniqueness",
                          "detail": "userName \"a\" is already taken"}}
        ]
    });
    let v = serde_json::to_value(&response).unwrap();
    assert_eq!(v.to_string(), want.to_string());
    assert_eq!(serde_json::from_value::<BulkResponse>(v).unwrap(), response);
    // Statuses read back from numbers too, as some providers send them.
    let read: BulkOperationResponse =
        serde_json::from_value(json!({"method": "put", "status": 200})).unwrap();
    assert_eq!((read.method, read.status), (BulkMethod::Put, 200));
}

// ---------------------------------------------------------------------------------------------
// Error body

#[test]
fn error_bodies_from_protocol_errors() {
    let path_error = AttrPath::parse("name..x").unwrap_err();
    let filter_error = FilterError {
        input: "userName eq".into(),
        position: 11,
        kind: FilterErrorKind::Syntax("expected a value".into()),
    };
    let cases = [
        (
            Error::invalid_value("count", "\"x\" is not an integer"),
            "invalidValue",
            "count: \"x\" is not an integer",
        ),
        (
            Error::InvalidSyntax("a SearchRequest must be a JSON object".into()),
            "invalidSyntax",
            "a SearchRequest must be a JSON object",
        ),
        (
            Error::invalid_path("emails[", "unclosed bracket"),
            "invalidPath",
            "invalid path \"emails[\": unclosed bracket",
        ),
        (
            Error::NoTarget("no member matches".into()),
            "noTarget",
            "no member matches",
        ),
        (
            Error::Mutability {
                path: "id".into(),
                mutability: "readOnly",
            },
            "mutability",
            "id is readOnly and cannot be changed",
        ),
        (
            Error::TooMany("the filter matches too many resources".into()),
            "tooMany",
            "the filter matches too many resources",
        ),
        (
            Error::Path(path_error.clone()),
            "invalidPath",
            &*path_error.to_string(),
        ),
        (
            Error::Filter(filter_error.clone()),
            "invalidFilter",
            &*filter_error.to_string(),
        ),
    ];
    for (error, scim_type, detail) in cases {
        let body = ErrorBody::from(&error);
        assert_eq!(
            serde_json::to_value(&body).unwrap().to_string(),
            json!({"schemas": [ERROR], "status": "400", "scimType": scim_type, "detail": detail})
                .to_string(),
            "{error:?}"
        );
        assert_eq!(ErrorBody::from(error), body);
    }
}

#[test]
fn server_error_bodies() {
    let bodies = [
        ErrorBody::unauthorized(),
        ErrorBody::forbidden("This token belongs to another tenant."),
        ErrorBody::not_found("User", "2819c223"),
        ErrorBody::uniqueness("userName \"ada@contoso.com\" is already taken"),
        ErrorBody::precondition_failed(),
        ErrorBody::payload_too_large(
            "The size of the bulk operation exceeds the maxPayloadSize (1048576).",
        ),
        ErrorBody::internal(),
        ErrorBody::not_implemented("changePassword is not supported"),
    ];
    for b in &bodies {
        let v = serde_json::to_value(b).unwrap();
        assert_eq!(
            v["status"],
            json!(b.status.to_string()),
            "status is a string"
        );
        assert_eq!(serde_json::from_value::<ErrorBody>(v).unwrap(), *b);
    }
    insta::assert_json_snapshot!("server_errors", bodies);
}

#[test]
fn error_bodies_from_other_providers() {
    let cases = [
        (
            json!({"schemas": [ERROR], "status": "404"}),
            404,
            None,
            None,
        ),
        (
            json!({"schemas": [ERROR], "status": 409, "scimType": "uniqueness"}),
            409,
            Some(ScimType::Uniqueness),
            None,
        ),
        (
            json!({"schemas": [ERROR], "status": "400", "scimType": "INVALIDFILTER", "detail": "d"}),
            400,
            Some(ScimType::InvalidFilter),
            Some("d"),
        ),
        (
            json!({"schemas": [ERROR], "status": "400", "scimType": "somethingNew"}),
            400,
            None,
            None,
        ),
        (
            json!({"schemas": [ERROR], "status": " 503 ", "scimType": null}),
            503,
            None,
            None,
        ),
    ];
    for (v, status, scim_type, detail) in cases {
        let b: ErrorBody = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            (b.status, b.scim_type, b.detail.as_deref()),
            (status, scim_type, detail),
            "{v}"
        );
    }
    assert!(
        serde_json::from_value::<ErrorBody>(json!({"schemas": [ERROR], "status": "bad"})).is_err()
    );
}
