//! Refusals of the values a request held (`invalidValue`): a required attribute missing, an
//! unknown attribute, a value of the wrong type, a name with invisible characters, too many
//! values, a resource too large, a group member that does not exist. Each names the
//! attribute and the value the request sent.

use serde_json::Value;

use crate::client::Client;
use crate::describe::Description;
use crate::view::{View, at_path, get_ci, shown};

use super::{Explained, between, noun, where_logs};

/// The value the request gave the attribute at `path` (as the protocol prints paths): in the
/// resource, or in a PATCH operation on it.
fn value_of<'v>(v: &'v View<'_>, path: &str) -> Option<&'v Value> {
    // A password's value is never repeated, whatever its type.
    let last = path.rsplit(['.', ':']).next().unwrap_or(path);
    if crate::redact::is_secret_key(last) {
        return None;
    }
    let request = v.request.as_ref()?;
    if let Some(found) = at_path(request, path) {
        return Some(found);
    }
    v.operations().iter().find_map(|op| {
        let value = get_ci(op, "value")?;
        match get_ci(op, "path").and_then(Value::as_str) {
            Some(p) if p.eq_ignore_ascii_case(path) => Some(value),
            Some(_) => None,
            None => at_path(value, path),
        }
    })
}

/// A 400 `invalidValue`: `{path}: {reason}`.
pub(super) fn invalid_value(v: &View<'_>, d: &Description) -> Explained {
    let idp = v.client.name();
    let detail = v.detail();
    let (path, reason) = detail.split_once(": ").unwrap_or(("", detail));
    let noun = noun(d);
    let value = value_of(v, path);
    if let Some(member) = reason.strip_suffix(" is not a user or group of this tenant") {
        return unknown_member(v, d, member);
    }
    if reason == "is required" {
        let hint = match (v.client, path) {
            (Client::Entra, "userName") => "Map a source attribute to userName (Provisioning → \
                 Mappings → Provision Microsoft Entra ID Users; by default userPrincipalName → \
                 userName) and check that this user has a value for it."
                .to_owned(),
            (Client::Okta, "userName") => "Check the app's username format in Okta (Sign On → \
                 Credentials Details → Application username format) and that this user has a \
                 value for it."
                .to_owned(),
            (Client::OneLogin, "userName") => "OneLogin builds the body from the app's SCIM \
                 JSON template: it must set userName (\"userName\": \
                 \"{$parameters.scimusername}\"), and the scimusername parameter must be mapped \
                 to a field this user has."
                .to_owned(),
            _ => format!("Map a value to {path} in {idp}'s attribute mappings."),
        };
        return Explained::new(
            format!("{path} missing"),
            format!("The {noun} has no {path}, which Roster requires."),
            hint,
        );
    }
    if reason == "unknown attribute" {
        return Explained::new(
            format!("unknown attribute {path}"),
            format!(
                "The request sets {path}, which a {noun} does not have in this organisation, and \
                 the organisation's compatibility is strict (auto would leave it out and say \
                 so)."
            ),
            format!(
                "Remove the mapping to {path} in {idp}, or ask the operator to add it as an \
                 extra user attribute (roster tenant set TENANT user-attributes NAME)."
            ),
        );
    }
    if let Some(what) = between(reason, "must not contain ", " (")
        .or_else(|| {
            reason
                .starts_with("must not begin with white space")
                .then_some("white space at its beginning")
        })
        .or_else(|| {
            reason
                .starts_with("must not end with white space")
                .then_some("white space at its end")
        })
    {
        let code = between(reason, "(", " at position").unwrap_or("");
        let position = between(reason, "at position ", ")").unwrap_or("?");
        let name = value
            .and_then(Value::as_str)
            .map(visible)
            .unwrap_or_default();
        return Explained::new(
            format!("{path} with {what}"),
            format!(
                "{path} \"{name}\" was refused: it must not contain {what}, and it has {}{} at \
                 position {position} (counted in characters from 1). Such characters cannot be \
                 seen on a screen, so two names that look the same would be two users.",
                code,
                char_name(code)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
            ),
            format!(
                "Correct the name where it comes from (the user in {idp}, or the HR system that \
                 feeds it): retype it without the {}. {idp} sends it again on its next cycle{}.",
                if what.starts_with("white space") {
                    "white space"
                } else {
                    "invisible character"
                },
                if v.client == Client::Entra {
                    ", or at once with Provision on demand"
                } else {
                    ""
                }
            ),
        );
    }
    if reason.starts_with("must be at most") || reason.starts_with("must not be empty") {
        return Explained::new(
            format!("{path} refused"),
            format!("{path} was refused: it {reason}."),
            format!("Correct the name where it comes from (the user or group in {idp})."),
        );
    }
    if let Some(n) = between(reason, "", " values were given; at most ") {
        let max = between(reason, "at most ", " are").unwrap_or("100");
        return Explained::new(
            format!("too many values in {path}"),
            format!(
                "{path} has {n} values; Roster accepts at most {max} per multi-valued \
                 attribute."
            ),
            format!(
                "Look for the attribute mapping in {idp} that fills {path} (for example every \
                 proxy address into emails) and send fewer values, or ask the operator to raise \
                 the limit (ROSTER_MAX_VALUES_PER_ATTRIBUTE)."
            ),
        );
    }
    if let Some(bytes) = between(reason, "the resource is ", " bytes of JSON") {
        let max = between(reason, "at most ", " bytes").unwrap_or("65536");
        return Explained::new(
            format!("{noun} too large"),
            format!(
                "The {noun} is {bytes} bytes as stored JSON; Roster accepts at most {max} bytes \
                 per {noun} (a group's members are not counted)."
            ),
            format!(
                "Look for an attribute mapping in {idp} that sends very long values (a photo, a \
                 certificate, a long description) and remove it, or ask the operator to raise \
                 the limit (ROSTER_MAX_RESOURCE_BYTES)."
            ),
        );
    }
    if let Some(expected) = reason.strip_prefix("expected ") {
        return wrong_type(v, path, expected, value);
    }
    let given = value
        .map(|x| format!(" (the request sent {})", shown(x)))
        .unwrap_or_default();
    Explained::new(
        format!("{path}: {reason}"),
        format!("{path} was refused: {reason}{given}."),
        format!(
            "Correct the value {idp} sends for {path}; {} shows it too.",
            where_logs(v.client)
        ),
    )
}

/// A group member that is no resource of the organisation.
fn unknown_member(v: &View<'_>, d: &Description, member: &str) -> Explained {
    let idp = v.client.name();
    let group = if d.name.is_empty() {
        d.id.as_str()
    } else {
        &d.name
    };
    let group = if group.is_empty() {
        "the group".to_owned()
    } else {
        format!("group {group}")
    };
    let hint = match v.client {
        Client::Entra => "Make sure the member is assigned to the app (Users and groups) or in \
             its scope, so that Entra creates the user before adding it to groups; if it was \
             deleted in Roster, Provision on demand creates it again. To have Roster leave such \
             members out instead, ask the operator (roster tenant set TENANT unknown-members \
             ignore)."
            .to_owned(),
        Client::Okta => "Assign the member to the app in Okta (Assignments) so that it is \
             created before the group is pushed, then Push Now on the group. To have Roster \
             leave such members out instead, ask the operator (unknown-members ignore)."
            .to_owned(),
        _ => format!(
            "Give the member access to the app in {idp} so that it is provisioned before it \
             joins groups; or ask the operator to have Roster leave such members out \
             (unknown-members ignore)."
        ),
    };
    Explained::new(
        format!("unknown member {member}"),
        format!(
            "{idp} asked for {member} to be a member of {group}, but {member} is no user or \
             group of this organisation in Roster: it was never provisioned here, or it was \
             deleted."
        ),
        hint,
    )
}

/// A value of the wrong type.
fn wrong_type(v: &View<'_>, path: &str, expected: &str, value: Option<&Value>) -> Explained {
    let idp = v.client.name();
    let given = value.map_or_else(|| "something else".to_owned(), shown);
    let string_boolean = expected == "a boolean"
        && value
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false"));
    if string_boolean {
        return Explained::new(
            format!("{path} is a string, not a boolean"),
            format!(
                "{path} must be a boolean (true or false), and {idp} sent the string {given}. \
                 Entra sends booleans so by default; Roster reads them with compatibility auto, \
                 but this organisation's compatibility is strict."
            ),
            "Ask the operator to set the organisation's compatibility to auto (roster tenant set \
             TENANT compatibility auto), or add the aadOptscim062020 flag to Entra's Tenant URL \
             so that Entra sends real booleans.",
        );
    }
    let hint = match v.client {
        Client::Entra => format!(
            "Check the mapping to {path} in Entra (Provisioning → Mappings → the target \
             attribute {path}): its source, constant or expression must give {expected}."
        ),
        Client::Okta => format!(
            "Check {path} in the app's profile in Okta (Directory → Profile Editor): its data \
             type and its mapping must give {expected}."
        ),
        Client::OneLogin => {
            let unquoted = ["boolean", "number", "integer", "decimal"]
                .iter()
                .any(|t| expected.contains(t));
            format!(
                "Check {path} in the app's SCIM JSON template in OneLogin: it must give \
                 {expected}{}.",
                if unquoted {
                    " (without quotes around it)"
                } else {
                    ""
                }
            )
        }
        Client::Other => format!("Correct the value {idp} sends for {path}: {expected}."),
    };
    Explained::new(
        format!("{path} has the wrong type"),
        format!(
            "{path} has the wrong type: Roster expects {expected}, and the request sent {given}."
        ),
        hint,
    )
}

/// A name with its invisible characters shown as `<U+200D>`.
fn visible(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || (c != ' ' && c.is_whitespace()) || is_invisible(c) {
                format!("<U+{:04X}>", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// The name of a character Roster's name check often meets.
fn char_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "U+0009" => "a tab",
        "U+000A" => "a line feed",
        "U+000D" => "a carriage return",
        "U+0020" => "a space",
        "U+00A0" => "a no-break space",
        "U+00AD" => "a soft hyphen",
        "U+200B" => "a zero-width space",
        "U+200C" => "a zero-width non-joiner",
        "U+200D" => "a zero-width joiner",
        "U+200E" => "a left-to-right mark",
        "U+200F" => "a right-to-left mark",
        "U+2028" => "a line separator",
        "U+2060" => "a word joiner",
        "U+FEFF" => "a byte order mark",
        _ => return None,
    })
}
