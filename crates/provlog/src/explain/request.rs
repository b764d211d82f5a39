//! Refusals of the request itself (where it went, its method, size, media type and syntax)
//! and Roster's own failures (5xx), which say nothing of their cause to the client: the
//! cause is in Roster's log under the request id.

use crate::client::Client;
use crate::redact::thousands;
use crate::view::{Endpoint, Kind, View};

use super::{Explained, between, generic, where_logs, where_url};

/// A 404: no such endpoint, or no such resource.
pub(super) fn not_found(v: &View<'_>) -> Explained {
    let idp = v.client.name();
    let (kind, id) = match &v.endpoint {
        Endpoint::Resource(k, id) => (*k, id.as_str()),
        Endpoint::Discovery(_) => {
            return Explained::new(
                v.detail().trim_end_matches('.').to_owned(),
                format!(
                    "{} names no schema or resource type Roster has.",
                    v.seen.path
                ),
                "Read /Schemas or /ResourceTypes without an id for the list.",
            );
        }
        _ => {
            return Explained::new(
                "no such endpoint",
                format!(
                    "There is no SCIM endpoint at {} under this organisation's Provisioning URL: \
                     the URL configured in {idp} is probably wrong ({idp} adds /Users and \
                     /Groups to it itself).",
                    v.seen.path
                ),
                format!(
                    "Paste the Provisioning URL from the Provisioning & SSO page, exactly, into \
                     {}.",
                    where_url(v.client)
                ),
            );
        }
    };
    let noun = kind.noun();
    match v.seen.method.to_ascii_uppercase().as_str() {
        "DELETE" => Explained::new(
            format!("{noun} {id} already gone"),
            format!("{idp} deleted {noun} {id}, which was already gone from Roster."),
            format!("Nothing to do: the {noun} is deleted either way."),
        ),
        "PATCH" | "PUT" => {
            let hint = match (v.client, kind) {
                (Client::Entra, Kind::User) => "Entra keeps the id until its state is cleared. \
                     To create the user again, use Provision on demand for it (Entra looks it \
                     up by userName and creates it), or Restart provisioning (Provisioning → \
                     Restart provisioning) to clear Entra's state for everyone; if the user \
                     should stay deleted, remove it from the app's assignments in Entra."
                    .to_owned(),
                (Client::Okta, Kind::User) => "Unassign the user from the app in Okta and \
                     assign it again: Okta then creates it anew."
                    .to_owned(),
                (Client::OneLogin, Kind::User) => "Remove the user's access to the app in \
                     OneLogin and give it again: OneLogin then creates it anew."
                    .to_owned(),
                (_, Kind::Group) => format!(
                    "Push the group again from {idp} so that it is created anew (in Entra, \
                     Provision on demand or Restart provisioning; in Okta, unlink and push it)."
                ),
                (Client::Other, Kind::User) => {
                    "Provision the user again from the identity provider so that it is created \
                     anew."
                        .to_owned()
                }
            };
            Explained::new(
                format!("{noun} {id} no longer exists"),
                format!(
                    "{idp} tried to update {noun} {id}, which no longer exists in Roster: it was \
                     deleted here (by the host application, an operator, or an earlier DELETE) \
                     while {idp} still remembers the id it was given when it created the {noun}."
                ),
                hint,
            )
        }
        _ => Explained::new(
            format!("{noun} {id} not found"),
            format!(
                "{idp} asked for {noun} {id}, which does not exist in this organisation: it was \
                 deleted, or the id comes from another system."
            ),
            format!(
                "If the {noun} should exist, provision it again from {idp}; {idp} looks it up \
                 by its name before creating it."
            ),
        ),
    }
}

/// A 405.
pub(super) fn method_not_allowed(v: &View<'_>) -> Explained {
    let idp = v.client.name();
    let method = v.seen.method.to_ascii_uppercase();
    let on_collection = matches!(v.endpoint, Endpoint::Collection(_));
    let explanation = if on_collection {
        format!(
            "{idp} sent {method} to {} without a resource id; Roster takes {method} only on one \
             resource (/Users/{{id}}).",
            v.seen.path
        )
    } else {
        format!("Roster does not take {method} on {}.", v.seen.path)
    };
    Explained::new(
        format!("{method} not allowed on {}", v.seen.path),
        explanation,
        format!(
            "Check that {} is exactly the Provisioning URL from the Provisioning & SSO page; \
             {idp} adds /Users and /Groups and the ids itself.",
            where_url(v.client)
        ),
    )
}

/// A 413: the body, or a Bulk request's operations, over the limit.
pub(super) fn too_large(v: &View<'_>) -> Explained {
    let idp = v.client.name();
    let detail = v.detail();
    if let Some(max) = between(detail, "at most ", " operations") {
        let sent = v.operations().len();
        let sent = if v.request_cut {
            format!("at least {}", thousands(sent))
        } else {
            thousands(sent)
        };
        return Explained::new(
            "too many Bulk operations",
            format!(
                "The Bulk request held {sent} operations; Roster takes at most {max} per \
                 request, as its /ServiceProviderConfig says (bulk.maxOperations)."
            ),
            format!(
                "Send fewer operations per Bulk request: {idp} keeps to the limit when it \
                 reads /ServiceProviderConfig."
            ),
        );
    }
    let limit = between(detail, "the limit of ", " bytes")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1024 * 1024);
    let about = match (&v.endpoint, v.seen.method.to_ascii_uppercase().as_str()) {
        (Endpoint::Resource(Kind::Group, _), "PATCH" | "PUT") => {
            " A group's members sent all at once make the largest requests."
        }
        (Endpoint::Bulk, _) => " A Bulk request adds up its operations.",
        _ => "",
    };
    Explained::new(
        "request too large",
        format!(
            "The request body was larger than {} bytes ({}), the most Roster reads in one \
             request.{about}",
            thousands(limit),
            size(limit)
        ),
        format!(
            "Send less per request: fewer members per PATCH, fewer operations per Bulk request. \
             {idp} shows the failure in {}.",
            where_logs(v.client)
        ),
    )
}

/// `1 MiB`, `64 KiB`, `512 bytes`.
fn size(n: usize) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// A 415.
pub(super) fn media_type(v: &View<'_>) -> Explained {
    let sent = between(v.detail(), "not ", ".").unwrap_or("another type");
    let hint = match v.client {
        Client::OneLogin => "In OneLogin, the app's Configuration: add the custom header \
             Content-Type: application/scim+json."
            .to_owned(),
        _ => format!(
            "Make {} send its bodies with Content-Type: application/scim+json.",
            v.client.name()
        ),
    };
    Explained::new(
        format!("body sent as {sent}"),
        format!(
            "The body was sent as {sent}; Roster reads SCIM bodies as application/scim+json or \
             application/json."
        ),
        hint,
    )
}

/// A 400 `invalidSyntax`.
pub(super) fn syntax(v: &View<'_>) -> Explained {
    let idp = v.client.name();
    let detail = v.detail();
    if let Some(why) = detail.strip_prefix("The request body is not valid JSON: ") {
        let hint = match v.client {
            Client::OneLogin => "OneLogin builds the body from the app's SCIM JSON template: \
                 check that the template is valid JSON (quotes around each {$…} placeholder of \
                 a string, no comma after the last member)."
                .to_owned(),
            _ => format!(
                "The body was broken on its way (by {idp} or a proxy in between); {idp} \
                 retries. If it repeats, the request below shows where the JSON breaks."
            ),
        };
        return Explained::new(
            "body is not valid JSON",
            format!("The request body is not valid JSON: {why}."),
            hint,
        );
    }
    if let Some(op) = between(detail, "unknown op \"", "\"")
        && ["add", "replace", "remove"]
            .iter()
            .any(|known| op.eq_ignore_ascii_case(known))
    {
        return Explained::new(
            format!("PATCH op {op}"),
            format!(
                "{idp} wrote the PATCH operation as \"{op}\" (Entra writes Add, Replace and \
                     Remove so by default); RFC 7644 writes them in lower case, and this \
                     organisation's compatibility is strict, so Roster refuses them."
            ),
            "Ask the operator to set the organisation's compatibility to auto (roster tenant \
                 set TENANT compatibility auto), or add the aadOptscim062020 flag to Entra's \
                 Tenant URL so that Entra sends RFC requests.",
        );
    }
    if detail.contains("more than one Authorization header") {
        return Explained::new(
            "several Authorization headers",
            "The request carried more than one Authorization header; which one counts would be \
             a guess, so Roster refuses it.",
            format!(
                "Something between {idp} and Roster (a proxy or gateway) adds a second \
                 Authorization header: have it pass the client's header alone."
            ),
        );
    }
    if detail == "The request body could not be read." {
        return Explained::new(
            "body could not be read",
            "The connection broke while Roster read the request body.",
            format!("{idp} retries; nothing was changed."),
        );
    }
    let mut e = generic(v);
    e.hint = format!(
        "The request is not the SCIM message Roster expects ({detail}); compare it with RFC \
         7644 and correct what builds it in {idp}."
    );
    e
}

/// A 5xx: Roster failed, timed out, or could not reach its database.
pub(super) fn failure(v: &View<'_>) -> Explained {
    let idp = v.client.name();
    let id = &v.seen.request_id;
    let tell = format!("If it keeps failing, tell the operator the request id {id}.");
    let detail = v.detail();
    if let Some(secs) = between(detail, "took longer than ", " seconds") {
        return Explained::new(
            format!("timed out after {secs} s"),
            format!(
                "Roster abandoned the request after {secs} seconds; a change it held may or may \
                 not have been made."
            ),
            format!(
                "{idp} retries (Roster answered 503 with Retry-After), and the retry finds the \
                 state as it is. {tell} The database may be overloaded."
            ),
        );
    }
    if detail.contains("temporarily unavailable") {
        return Explained::new(
            "database unavailable",
            "Roster could not reach its database, so it could not handle the request; nothing \
             was changed.",
            format!("{idp} retries. {tell}"),
        );
    }
    if detail.contains("settings cannot be read") {
        return Explained::new(
            "organisation's settings unreadable",
            "Roster cannot read this organisation's stored settings, so it refuses its requests \
             rather than guess them.",
            format!("Tell the operator the request id {id}: Roster's log names the setting."),
        );
    }
    Explained::new(
        "Roster failed",
        format!(
            "Roster failed while handling this request (status {}); the cause is in Roster's own \
             log under request id {id}, never in the answer.",
            v.seen.status
        ),
        format!("Roster failed; {idp} retries. {tell}"),
    )
}
