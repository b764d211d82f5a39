//! The credential and the organisation's settings: 401, 403, the token endpoint.

use roster_store::Outcome;
use time::macros::datetime;

use super::*;
use crate::Refusal;
use crate::testing::{ENTRA, OKTA, ONELOGIN, req};

const GENERIC_401: &str = "The bearer token is not valid here: it is unknown, expired or revoked, or belongs to another organisation.";

fn bad_token(client: &str, why: Refusal) -> LogEntry {
    refused(
        req("GET", "/Users?filter=userName+eq+%22ada%40contoso.com%22")
            .ua(client)
            .refused(why),
        401,
        None,
        GENERIC_401,
    )
}

#[test]
fn no_token() {
    let e = refused(
        req("GET", "/Users")
            .ua(ENTRA)
            .refused(Refusal::NoCredential),
        401,
        None,
        "Authentication failed: send the tenant's Secret Token as 'Authorization: Bearer <token>' on the tenant's Provisioning URL.",
    );
    assert_eq!(e.outcome, Outcome::Refused);
    check(
        &e,
        "Refused: no token",
        &["no bearer token"],
        &["Admin Credentials → Secret Token"],
    );
}

#[test]
fn unknown_token() {
    let e = bad_token(OKTA, Refusal::UnknownToken);
    check(
        &e,
        "Refused: unknown token",
        &[
            "Okta sent a bearer token that Roster has no record of",
            "mistyped",
        ],
        &["Provisioning & SSO page", "Authentication Mode HTTP Header"],
    );
}

#[test]
fn expired_token_names_the_date() {
    let e = bad_token(
        ENTRA,
        Refusal::ExpiredToken(datetime!(2026-12-01 08:00 UTC)),
    );
    check(
        &e,
        "Refused: token expired",
        &["expired on 2026-12-01 08:00 UTC (3 days before this request)"],
        &["Generate a new token", "Test Connection"],
    );
}

#[test]
fn revoked_or_rotated_token() {
    let e = bad_token(
        ENTRA,
        Refusal::RevokedToken(datetime!(2026-12-04 07:10 UTC)),
    );
    check(
        &e,
        "Refused: token revoked",
        &[
            "revoked on 2026-12-04 07:10 UTC (2 hours before",
            "replaced",
            "still sends the old one",
        ],
        &["Paste the current token"],
    );
}

#[test]
fn token_of_another_organisation() {
    let e = bad_token(ONELOGIN, Refusal::OtherTenant);
    check(
        &e,
        "Refused: another organisation's token",
        &["another organisation", "two different organisations"],
        &[
            "OneLogin's Configuration → SCIM Base URL",
            "SCIM Bearer Token",
        ],
    );
}

#[test]
fn expired_access_token() {
    let e = bad_token(
        ENTRA,
        Refusal::ExpiredAccessToken(datetime!(2026-12-04 09:25 UTC)),
    );
    check(
        &e,
        "Refused: access token expired",
        &[
            "OAuth access token",
            "2026-12-04 09:25 UTC (5 minutes before",
        ],
        &["token endpoint", "access-token-minutes"],
    );
}

#[test]
fn entra_token_without_a_trusted_issuer() {
    let detail =
        "This organisation trusts no token issuer; send its Secret Token or an access token.";
    let e = refused(
        req("GET", "/Users")
            .ua(ENTRA)
            .refused(Refusal::Federated(detail.into())),
        401,
        None,
        detail,
    );
    check(
        &e,
        "Refused: token from an issuer this organisation does not trust",
        &["Secret Token field is left empty"],
        &["Secret Token", "roster tenant trust"],
    );
}

#[test]
fn federated_token_for_another_audience() {
    let detail = "Federated token refused: the token's audience is not the audience this organisation configured.";
    let e = refused(
        req("GET", "/Users")
            .ua(ENTRA)
            .refused(Refusal::Federated(detail.into())),
        401,
        None,
        detail,
    );
    check(
        &e,
        "Refused: federated token refused",
        &["refused: the token's audience is not the audience this organisation configured."],
        &["aud claim", "api://<app id>"],
    );
}

#[test]
fn provisioning_turned_off() {
    let e = refused(
        req("POST", "/Users")
            .ua(OKTA)
            .json(json!({"schemas": [USER], "userName": "ada@contoso.com"})),
        403,
        None,
        "Provisioning is turned off for this organisation. Its administrator can turn it on again on its Provisioning & SSO page in Roster (Settings, \"Provisioning is on\").",
    );
    check(
        &e,
        "Refused: provisioning is turned off",
        &[
            "turned off for this organisation",
            "every SCIM request Okta sends",
        ],
        &["provisioning on", "To App"],
    );
}

#[test]
fn plan_without_provisioning() {
    let e = refused(
        req("GET", "/Users").ua(ENTRA),
        403,
        None,
        "Provisioning is not part of this organisation's plan (starter). The organisation's owner can ask for a plan that includes it.",
    );
    check(
        &e,
        "Refused: plan without provisioning",
        &["plan (starter)"],
        &["owner", "Stop provisioning"],
    );
}

const GROUPS_OFF: &str = "Groups are turned off for this organisation: turn off group provisioning in your identity provider (for example, provision users only), or ask the administrator to turn groups on in Roster.";

#[test]
fn groups_turned_off_for_entra() {
    let e = refused(
        req("POST", "/Groups")
            .ua(ENTRA)
            .json(json!({"schemas": [GROUP], "displayName": "Sales"})),
        403,
        None,
        GROUPS_OFF,
    );
    check(
        &e,
        "Refused: groups are turned off",
        &["(POST /Groups)", "provisions users only"],
        &["Provision Microsoft Entra ID Groups → Enabled: No"],
    );
    assert_eq!(
        (e.action.as_str(), e.resource_type.as_str()),
        ("create", "Group")
    );
}

#[test]
fn groups_turned_off_for_okta() {
    let e = refused(
        req("GET", "/Groups?filter=displayName%20eq%20%22Engineering%22").ua(OKTA),
        403,
        None,
        GROUPS_OFF,
    );
    check(
        &e,
        "Refused: groups are turned off",
        &["Okta sent"],
        &["Push Groups"],
    );
}

#[test]
fn filter_on_a_discovery_endpoint() {
    let e = refused(
        req("GET", "/Schemas?filter=id+eq+%22x%22"),
        403,
        None,
        "Filtering is not supported on discovery endpoints.",
    );
    check(
        &e,
        "Refused: filter on a discovery endpoint",
        &["/Schemas"],
        &["without a filter"],
    );
}

const FORM: &str = "grant_type=client_credentials&client_id=rci_dfa00e3d0adddc65a8d725a1f92a7205&client_secret=rcs_wrong0000000000000000000000";

#[test]
fn wrong_client_secret() {
    let e = req("POST", "/oauth/token")
        .ua(ENTRA)
        .body(FORM)
        .credential("OAuth client rci_dfa00e3d0adddc65a8d725a1f92a7205")
        .answer(
        401,
        r#"{"error":"invalid_client","error_description":"Client authentication failed: check the client id and client secret Roster issued for this organisation."}"#,
        )
        .entry();
    check(
        &e,
        "Refused: wrong client secret",
        &["Client rci_dfa00e3d0adddc65a8d725a1f92a7205 sent a client secret Roster does not know"],
        &["Client Secret", "roster tenant client create"],
    );
    assert!(!e.request_body.contains("rcs_wrong"), "{}", e.request_body);
    assert_eq!(e.action, "token");
}

#[test]
fn client_assertion_without_a_trusted_issuer() {
    let e = req("POST", "/oauth/token")
        .ua(ENTRA)
        .body("grant_type=client_credentials&client_id=rci_dfa00e3d0adddc65a8d725a1f92a7205&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln")
        .answer(401, r#"{"error":"invalid_client","error_description":"This organisation trusts no token issuer: configure one in Roster (roster tenant trust) or authenticate with the client secret."}"#)
        .entry();
    check(
        &e,
        "Refused: client assertion, but no trusted issuer",
        &["signed assertion", "trusts no token issuer"],
        &["roster tenant trust"],
    );
    assert!(!e.request_body.contains("eyJhbGci"), "{}", e.request_body);
}

#[test]
fn replayed_client_assertion() {
    let e = req("POST", "/oauth/token")
        .ua(ENTRA)
        .body("grant_type=client_credentials&client_id=rci_1&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x")
        .answer(400, r#"{"error":"invalid_grant","error_description":"This client assertion was already used: ask its issuer for a new one."}"#)
        .entry();
    check(
        &e,
        "Refused: client assertion used twice",
        &["already used", "jti"],
        &["new assertion"],
    );
}

#[test]
fn too_many_failed_token_requests() {
    let e = req("POST", "/oauth/token")
        .body(FORM)
        .answer(429, r#"{"error":"invalid_client","error_description":"Too many failed attempts for this client or from this address; wait before trying again. The correct credentials are accepted meanwhile."}"#)
        .entry();
    check(
        &e,
        "Refused: too many failed attempts",
        &["too often"],
        &["client secret"],
    );
}
