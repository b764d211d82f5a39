//! What a [`Seen`] says, read once: which endpoint, the query's parameters, both bodies as
//! JSON (a cut body closed into JSON), the identity provider. [`crate::describe`] and
//! [`crate::explain`] read this, never the raw bytes.

use serde::Deserialize;
use serde_json::Value;

use crate::client::Client;
use crate::form;
use crate::json_scan::complete;
use crate::{BODY_LIMIT, Seen};

/// A SCIM resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl Kind {
    /// `user` or `group`.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
        }
    }

    /// `users` or `groups`.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Group => "groups",
        }
    }

    /// `User` or `Group`, as the log's `resource_type`.
    pub(crate) fn resource_type(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// The attribute that names it: `userName` or `displayName`.
    pub(crate) fn name_attribute(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Group => "displayName",
        }
    }
}

/// The endpoint a request went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/Users` or `/Groups`.
    Collection(Kind),
    /// `/Users/{id}` or `/Groups/{id}`.
    Resource(Kind, String),
    /// `/Users/.search`, `/Groups/.search`, or `/.search` (no kind).
    Search(Option<Kind>),
    /// `/Bulk`.
    Bulk,
    /// `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes` (and what is below them).
    Discovery(&'static str),
    /// `/oauth/token`.
    Token,
    /// Anything else.
    Unknown,
}

impl Endpoint {
    /// The endpoint of `path` (below the tenant's base URL), matched as the server routes it:
    /// the endpoint's name without case, a trailing slash ignored.
    pub(crate) fn of(path: &str) -> Endpoint {
        let trimmed = path.trim_start_matches('/').trim_end_matches('/');
        let mut segments = trimmed.split('/');
        let first = segments.next().unwrap_or("");
        let second = segments.next();
        let third = segments.next();
        let kind = if first.eq_ignore_ascii_case("users") {
            Some(Kind::User)
        } else if first.eq_ignore_ascii_case("groups") {
            Some(Kind::Group)
        } else {
            None
        };
        if let Some(kind) = kind {
            return match (second, third) {
                (None, _) => Endpoint::Collection(kind),
                (Some(".search"), None) => Endpoint::Search(Some(kind)),
                (Some(id), None) if !id.is_empty() => Endpoint::Resource(kind, decode(id)),
                _ => Endpoint::Unknown,
            };
        }
        let lower = first.to_ascii_lowercase();
        match (lower.as_str(), second) {
            (".search", None) => Endpoint::Search(None),
            ("bulk", None) => Endpoint::Bulk,
            ("serviceproviderconfig" | "serviceconfiguration", None) => {
                Endpoint::Discovery("ServiceProviderConfig")
            }
            ("schemas", _) => Endpoint::Discovery("Schemas"),
            ("resourcetypes", _) => Endpoint::Discovery("ResourceTypes"),
            ("oauth", Some("token")) if third.is_none() => Endpoint::Token,
            _ => Endpoint::Unknown,
        }
    }
}

/// A path segment with its percent-escapes decoded.
fn decode(segment: &str) -> String {
    // A path segment is not a form: `+` stays `+`.
    form::unescape(segment.as_bytes(), false)
}

/// A request and its answer, read.
#[derive(Debug)]
pub(crate) struct View<'a> {
    /// What the edge saw.
    pub(crate) seen: &'a Seen,
    /// Who sent it.
    pub(crate) client: Client,
    /// Where it went.
    pub(crate) endpoint: Endpoint,
    /// The query's parameters, decoded (`+` is a space, as Entra encodes it).
    pub(crate) params: Vec<(String, String)>,
    /// The request body as JSON, when it is JSON (a cut one closed after its last whole
    /// value).
    pub(crate) request: Option<Value>,
    /// Whether the request body was cut, so counts read from it are lower bounds.
    pub(crate) request_cut: bool,
    /// The token endpoint's form fields.
    pub(crate) form: Vec<(String, String)>,
    /// An error answer's body as JSON, when it is JSON (`None` for a successful one).
    pub(crate) response: Option<Value>,
    /// What describing reads of a successful answer (`None` for an error, or a body that is
    /// not a JSON object).
    pub(crate) answered: Option<Skim>,
}

impl<'a> View<'a> {
    /// Reads `seen`.
    pub(crate) fn new(seen: &'a Seen) -> View<'a> {
        let endpoint = Endpoint::of(&seen.path);
        let (response, answered) = if (200..300).contains(&seen.status) {
            (None, skim(&seen.response_body))
        } else {
            (json(&seen.response_body), None)
        };
        let form = if endpoint == Endpoint::Token {
            form::pairs(&seen.request_body[..seen.request_body.len().min(BODY_LIMIT)])
        } else {
            Vec::new()
        };
        View {
            client: Client::from_user_agent(&seen.user_agent),
            params: form::pairs(seen.query.as_bytes()),
            request: json(&seen.request_body),
            request_cut: seen.request_body.len() > BODY_LIMIT,
            response,
            answered,
            form,
            endpoint,
            seen,
        }
    }

    /// The query parameter `name` (without case, as SCIM names them).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The form field `name` of a token request.
    pub(crate) fn form_field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The OAuth client of a token request: its form's `client_id`, else the one the edge
    /// accepted.
    pub(crate) fn client_id(&self) -> Option<String> {
        self.form_field("client_id")
            .or_else(|| self.seen.credential.strip_prefix("OAuth client "))
            .map(str::to_owned)
    }

    /// The response's string member `key` (`detail`, `scimType`, `error`, ...).
    pub(crate) fn answer(&self, key: &str) -> Option<&str> {
        self.response.as_ref()?.get(key)?.as_str()
    }

    /// The error answer's `detail`, or empty.
    pub(crate) fn detail(&self) -> &str {
        self.answer("detail").unwrap_or("")
    }

    /// The kind of resource the endpoint is about.
    pub(crate) fn kind(&self) -> Option<Kind> {
        match &self.endpoint {
            Endpoint::Collection(k) | Endpoint::Resource(k, _) => Some(*k),
            Endpoint::Search(k) => *k,
            _ => None,
        }
    }

    /// The resource id of the path.
    pub(crate) fn path_id(&self) -> Option<&str> {
        match &self.endpoint {
            Endpoint::Resource(_, id) => Some(id),
            _ => None,
        }
    }

    /// The request's string attribute `name` (its name, e.g. `userName`), at the top level.
    pub(crate) fn request_str(&self, name: &str) -> Option<&str> {
        get_ci(self.request.as_ref()?, name)?.as_str()
    }

    /// The successful answer's `id`, `userName` or `displayName` (`name`, without case).
    pub(crate) fn response_str(&self, name: &str) -> Option<&str> {
        let a = self.answered.as_ref()?;
        named(name, &a.id, &a.user_name, &a.display_name)
    }

    /// The PATCH request's operations.
    pub(crate) fn operations(&self) -> &[Value] {
        self.request
            .as_ref()
            .and_then(|r| get_ci(r, "Operations"))
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

/// What describing a successful answer reads of it: a resource's id and name, a list's total
/// and its resources' ids and names, a Bulk answer's statuses, a token's lifetime; the rest is
/// skipped, not built (a list's resources are most of a page's bytes). Roster wrote the
/// answer, so its attribute names are the canonical ones.
#[derive(Debug, Deserialize)]
pub(crate) struct Skim {
    id: Option<Value>,
    #[serde(rename = "userName")]
    user_name: Option<Value>,
    #[serde(rename = "displayName")]
    display_name: Option<Value>,
    /// A list's `totalResults`.
    #[serde(rename = "totalResults")]
    pub(crate) total_results: Option<Value>,
    /// A list's resources.
    #[serde(rename = "Resources")]
    pub(crate) resources: Option<Vec<SkimmedResource>>,
    /// A Bulk answer's operations.
    #[serde(rename = "Operations")]
    pub(crate) operations: Option<Vec<SkimmedOperation>>,
    /// A token's lifetime, in seconds.
    pub(crate) expires_in: Option<Value>,
}

/// A resource of a list answer, skimmed.
#[derive(Debug, Deserialize)]
pub(crate) struct SkimmedResource {
    id: Option<Value>,
    #[serde(rename = "userName")]
    user_name: Option<Value>,
    #[serde(rename = "displayName")]
    display_name: Option<Value>,
}

impl SkimmedResource {
    /// Its `id`, `userName` or `displayName` (`name`, without case).
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        named(name, &self.id, &self.user_name, &self.display_name)
    }
}

/// An operation of a Bulk answer, skimmed.
#[derive(Debug, Deserialize)]
pub(crate) struct SkimmedOperation {
    /// Its status (`"201"`, or a number).
    pub(crate) status: Option<Value>,
}

/// Of a skimmed `id`, `userName` and `displayName`, the string one `name` (without case)
/// names.
fn named<'v>(
    name: &str,
    id: &'v Option<Value>,
    user_name: &'v Option<Value>,
    display_name: &'v Option<Value>,
) -> Option<&'v str> {
    let value = if name.eq_ignore_ascii_case("id") {
        id
    } else if name.eq_ignore_ascii_case("userName") {
        user_name
    } else if name.eq_ignore_ascii_case("displayName") {
        display_name
    } else {
        return None;
    };
    value.as_ref()?.as_str()
}

/// A successful answer skimmed, or `None` when it is not a JSON object. A cut or malformed
/// one is closed after its last complete value first.
fn skim(body: &[u8]) -> Option<Skim> {
    if body.is_empty() {
        return None;
    }
    if body.len() <= BODY_LIMIT
        && let Ok(s) = serde_json::from_slice(body)
    {
        return Some(s);
    }
    Skim::deserialize(json(body)?).ok()
}

/// `body` as JSON: parsed whole, or for a cut or malformed one, closed after its last
/// complete value.
fn json(body: &[u8]) -> Option<Value> {
    if body.is_empty() {
        return None;
    }
    if body.len() <= BODY_LIMIT
        && let Ok(v) = serde_json::from_slice(body)
    {
        return Some(v);
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_LIMIT)]);
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    serde_json::from_str(&complete(&text)?).ok()
}

/// The member `key` of an object, its name compared without case (SCIM attribute names are
/// case-insensitive), preferring an exact match.
pub(crate) fn get_ci<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The value at an attribute path as the protocol's errors print it (`active`,
/// `emails[0].primary`, `name.givenName`, `urn:...:User:manager`), in a resource.
pub(crate) fn at_path<'v>(resource: &'v Value, path: &str) -> Option<&'v Value> {
    let (mut here, rest) = match path.strip_prefix("urn:") {
        // The extension's object is keyed by its URN, the attribute follows the last colon.
        Some(_) => {
            let (urn, attr) = path.rsplit_once(':')?;
            (get_ci(resource, urn)?, attr)
        }
        None => (resource, path),
    };
    for part in rest.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, i)) => (name, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        here = get_ci(here, name)?;
        if let Some(i) = index {
            here = here.as_array()?.get(i)?;
        }
    }
    Some(here)
}

/// A value as a short text for a sentence: a string as it is (quoted), anything else as JSON,
/// cut at 80 characters.
pub(crate) fn shown(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_are_matched_as_the_server_routes_them() {
        let user = |id: &str| Endpoint::Resource(Kind::User, id.to_owned());
        for (path, want) in [
            ("/Users", Endpoint::Collection(Kind::User)),
            ("/users/", Endpoint::Collection(Kind::User)),
            ("/Users/2819c223", user("2819c223")),
            ("/Users/a%20b", user("a b")),
            ("/Users/a+b", user("a+b")),
            ("/Groups/.search", Endpoint::Search(Some(Kind::Group))),
            ("/.search", Endpoint::Search(None)),
            ("/Bulk", Endpoint::Bulk),
            (
                "/serviceConfiguration",
                Endpoint::Discovery("ServiceProviderConfig"),
            ),
            (
                "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                Endpoint::Discovery("Schemas"),
            ),
            ("/oauth/token", Endpoint::Token),
            ("/Users/1/extra", Endpoint::Unknown),
            ("/", Endpoint::Unknown),
            ("/Foo", Endpoint::Unknown),
        ] {
            assert_eq!(Endpoint::of(path), want, "{path}");
        }
    }

    #[test]
    fn values_are_found_at_printed_paths() {
        let u = json!({
            "userName": "ada",
            "emails": [{"value": "a@x", "primary": "yes"}],
            "name": {"givenName": "Ada"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "bob"}
        });
        assert_eq!(at_path(&u, "userName"), Some(&json!("ada")));
        assert_eq!(at_path(&u, "emails[0].primary"), Some(&json!("yes")));
        assert_eq!(at_path(&u, "NAME.givenName"), Some(&json!("Ada")));
        assert_eq!(
            at_path(
                &u,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
            ),
            Some(&json!("bob"))
        );
        assert_eq!(at_path(&u, "emails[3].value"), None);
    }

    #[test]
    fn long_values_are_shortened() {
        assert_eq!(shown(&json!("maybe")), "\"maybe\"");
        assert_eq!(shown(&json!("x".repeat(100))).chars().count(), 78);
    }
}
