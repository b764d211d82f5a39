//! Refusals of what a request asked for: a name another resource has (`uniqueness`), a
//! filter Roster cannot read or apply (`invalidFilter`), a PATCH path (`invalidPath`,
//! `noTarget`), a read-only attribute (`mutability`), a version out of date (`If-Match`).

use crate::client::Client;
use crate::describe::Description;
use crate::view::View;

use super::{Explained, between, generic, noun, where_logs};

/// A 409: a name that another resource has.
pub(super) fn conflict(v: &View<'_>, d: &Description) -> Explained {
    let idp = v.client.name();
    let detail = v.detail();
    let creating = v.seen.method.eq_ignore_ascii_case("POST");
    if detail.starts_with("userName") {
        let name = v.request_str("userName").unwrap_or(&d.name);
        let attempt = if creating {
            format!("{idp} tried to create a new user with it")
        } else {
            format!("{idp} tried to rename user {} to it", d.id)
        };
        let hint = match (v.client, creating) {
            (_, false) => "Another user already has this name: rename or delete that user \
                           first, or correct this user's name at the source."
                .to_owned(),
            (Client::Entra, true) => "Entra matches users on userName by default (Provisioning \
                 → Mappings → the user mapping's Matching precedence) and looks a user up \
                 before creating it, so it finds an existing user unless matching was changed \
                 to another attribute (such as externalId or objectId) or two creates raced. \
                 Find the user with this name in Roster: if it is the same person, match on \
                 userName again; if it is another person, give one of them another userName at \
                 the source. Entra retries on its next cycle."
                .to_owned(),
            (Client::Okta, true) => "Okta looks a userName up before creating it. Find the user \
                 with this name in Roster: if it is the same person, import users in Okta (the \
                 app's Import tab) and confirm the match so that Okta links them; if it is \
                 another person, change one of the usernames."
                .to_owned(),
            (Client::OneLogin, true) => "OneLogin looks a userName up before creating it. Check \
                 that the SCIM username parameter (scimusername) gives the same person the same \
                 name every time; if this is another person, change one of the names."
                .to_owned(),
            (Client::Other, true) => "Find the user with this name in Roster: if it is the \
                 same person, the identity provider should link to it instead of creating it; \
                 if it is another person, change one of the names."
                .to_owned(),
        };
        return Explained::new(
            format!("userName {name} already taken"),
            format!(
                "userName {name} is already taken by {} of this organisation, and \
                 {attempt}. Roster compares userNames without case and Unicode compatibility \
                 forms (ADA@contoso.com and ada@contoso.com are the same name), so the other \
                 user may be spelt differently.{}",
                holder_phrase(v, "user", "another user"),
                deactivated_holder(v),
            ),
            hint,
        );
    }
    if detail.starts_with("displayName") {
        let name = v.request_str("displayName").unwrap_or(&d.name);
        let hint = match v.client {
            Client::Okta => "In Okta's Push Groups, link the Okta group to the existing group \
                 instead of creating one; or rename one of them."
                .to_owned(),
            Client::Entra => "Entra matches groups on displayName by default: if the existing \
                 group was created by hand or by another identity provider, delete it in Roster \
                 so that Entra creates its own, or rename one of them."
                .to_owned(),
            _ => "Rename one of the groups, or delete the one in Roster that should not exist."
                .to_owned(),
        };
        return Explained::new(
            format!("group name {name} already taken"),
            format!(
                "A group named {name} already exists in this organisation ({}; group names \
                 are compared without case), and {idp} tried to {}.",
                holder_phrase(v, "group", "another group"),
                if creating {
                    "create another with that name"
                } else {
                    "rename a group to it"
                }
            ),
            hint,
        );
    }
    generic(v)
}

/// Who holds the name, as the writer found it: `user 2819c223… (Ada@Contoso.com, externalId
/// 42)`, or `otherwise` when it was not found (gone since, or the store was away).
fn holder_phrase(v: &View<'_>, noun: &str, otherwise: &str) -> String {
    let Some(h) = &v.seen.holder else {
        return otherwise.to_owned();
    };
    let external = h
        .external_id
        .as_deref()
        .map(|x| format!(", externalId {x}"))
        .unwrap_or_default();
    format!("{noun} {} ({}{external})", h.id, h.name)
}

/// A sentence on a deactivated holder, or nothing.
fn deactivated_holder(v: &View<'_>) -> &'static str {
    match &v.seen.holder {
        Some(h) if h.inactive => {
            " That user is deactivated: it may be the same person, deprovisioned earlier, whom \
             the identity provider no longer finds (an identity provider that looks users up \
             only among active ones creates them again)."
        }
        _ => "",
    }
}

/// A 412: `If-Match` named a version that is no longer current.
pub(super) fn precondition(v: &View<'_>, d: &Description) -> Explained {
    let idp = v.client.name();
    Explained::new(
        "changed since it was read",
        format!(
            "The request named a version of {} {} (If-Match) that is no longer current: \
             something changed it after {idp} read it, so Roster did not apply this change over \
             the newer one.",
            noun(d),
            if d.name.is_empty() { &d.id } else { &d.name }
        ),
        format!(
            "{idp} should read it again and retry, which usually settles it. If it repeats, two \
             writers are changing the same resource (two identity providers, or the host \
             application's API)."
        ),
    )
}

/// A 400 `invalidFilter`: `invalid filter "…" at position N: reason`.
pub(super) fn filter(v: &View<'_>) -> Explained {
    let idp = v.client.name();
    let detail = v.detail();
    let reason = detail.split_once(": ").map_or(detail, |(_, r)| r);
    let text = v.param("filter").map(str::to_owned).unwrap_or_else(|| {
        between(detail, "invalid filter \"", "\" at position")
            .unwrap_or("")
            .replace("\\\"", "\"")
    });
    let position = between(detail, "at position ", ":").unwrap_or("?");
    if let Some(attr) = between(reason, "unknown attribute \"", "\"") {
        let hint = match v.client {
            Client::Entra => format!(
                "Entra looks users up by the attribute it matches on (Provisioning → Mappings → \
                 Matching precedence): make it one Roster knows (userName, or externalId), or \
                 ask the operator to add {attr} as an extra user attribute."
            ),
            Client::Okta => format!(
                "Okta looks users up by its 'Unique identifier field for users' (Provisioning → \
                 Integration): set it to userName, or ask the operator to add {attr} as an \
                 extra user attribute."
            ),
            _ => format!(
                "Look users up by userName or externalId, or ask the operator to add {attr} as \
                 an extra user attribute."
            ),
        };
        return Explained::new(
            format!("filter on unknown attribute {attr}"),
            format!(
                "{idp} filtered on {attr} ({text}), which Roster does not know here, so it \
                 cannot look anything up by it."
            ),
            hint,
        );
    }
    if reason.contains("is never returned")
        || reason.contains("names an attribute that is never returned")
    {
        let attr = reason
            .split_whitespace()
            .find(|w| !w.eq_ignore_ascii_case("sortby"))
            .unwrap_or("");
        return Explained::new(
            format!("filter or sort on {attr}"),
            format!(
                "Roster never shows {attr} (a password is kept only as a hash), so it refuses \
                 to filter or sort on it: each comparison would reveal something of the stored \
                 value. {} sent {}.",
                super::sentence(idp.to_owned()),
                if text.is_empty() {
                    "a sort by it".to_owned()
                } else {
                    format!("the filter {text}")
                }
            ),
            "Look users up by userName or externalId instead.",
        );
    }
    let unquoted = reason.contains("expected a JSON number");
    if unquoted && v.client == Client::Entra {
        return Explained::new(
            "filter value without quotes",
            format!(
                "Entra sent the filter {text} with its value unquoted, as it does for some \
                 lookups; Roster reads such values with compatibility auto, but this \
                 organisation's compatibility is strict ({reason})."
            ),
            "Ask the operator to set the organisation's compatibility to auto (roster tenant \
             set TENANT compatibility auto).",
        );
    }
    Explained::new(
        "malformed filter",
        format!("The filter {text} could not be read: at position {position}, {reason}."),
        format!(
            "Filters are written attribute, operator, value: userName eq \"ada@contoso.com\". \
             Correct what builds this filter in {idp} (a custom matching attribute or \
             expression); {} shows the request.",
            where_logs(v.client)
        ),
    )
}

/// A 400 `invalidPath` or `noTarget`.
pub(super) fn path(v: &View<'_>, d: &Description) -> Explained {
    let idp = v.client.name();
    let detail = v.detail();
    if v.answer("scimType") == Some("noTarget") {
        return Explained::new(
            "PATCH selects nothing",
            format!(
                "A PATCH operation's target holds no value in this {} ({detail}), so there is \
                 nothing to change there.",
                noun(d)
            ),
            format!(
                "{idp} believes the {} holds a value it does not: read it in Roster and compare. \
                 With compatibility auto Roster takes a remove of nothing as done.",
                noun(d)
            ),
        );
    }
    let path = between(detail, "invalid path \"", "\"").unwrap_or("");
    let reason = detail.split_once("\": ").map_or(detail, |(_, r)| r);
    if reason.starts_with("at position") {
        return Explained::new(
            "malformed PATCH path",
            format!("The PATCH path {path} could not be read: {reason}."),
            format!(
                "A PATCH path is written attribute[filter].sub-attribute, as in emails[type eq \
                 \"work\"].value (RFC 7644 §3.5.2); correct what builds it in {idp}."
            ),
        );
    }
    let attr = between(reason, "no attribute \"", "\"").unwrap_or(path);
    Explained::new(
        format!("unsupported PATCH path {path}"),
        format!("The PATCH path {path} was refused: {reason}."),
        format!(
            "The path comes from a target attribute in {idp}'s attribute mappings: remove the \
             mapping to {attr}, or ask the operator to add it as an extra user attribute \
             (roster tenant set TENANT user-attributes NAME)."
        ),
    )
}

/// A 400 `mutability`: `{path} is {readOnly|immutable} and cannot be changed`.
pub(super) fn mutability(v: &View<'_>, d: &Description) -> Explained {
    let idp = v.client.name();
    let detail = v.detail();
    let (attr, rest) = detail.split_once(" is ").unwrap_or((detail, ""));
    let kind = rest.split_whitespace().next().unwrap_or("read-only");
    Explained::new(
        format!("{attr} cannot be changed"),
        format!(
            "The request tries to change {attr} of {} {}, which is {kind} in Roster: Roster sets \
             it itself, or it cannot change once set.",
            noun(d),
            if d.name.is_empty() { &d.id } else { &d.name }
        ),
        format!(
            "Remove the attribute mapping that targets {attr} in {idp}: Roster assigns ids \
             itself, and {idp} keeps its own id in externalId."
        ),
    )
}
