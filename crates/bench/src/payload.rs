//! The SCIM request bodies the bench sends, and the few response fields it reads.

use serde::Deserialize;
use serde_json::json;

/// The SCIM core User schema URN.
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The SCIM core Group schema URN.
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The SCIM PATCH message URN.
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The userName of bench user `tag` (`7`, `m7`, `c7`, ...) in run `run_id`.
pub fn user_name(run_id: &str, tag: &str) -> String {
    format!("bench-{run_id}-{tag}@example.com")
}

/// A realistic new User: name, a work email, active and an externalId, like an IdP would send.
pub fn new_user(run_id: &str, tag: &str) -> Vec<u8> {
    let user_name = user_name(run_id, tag);
    let body = json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "externalId": format!("bench-{run_id}-{tag}"),
        "name": {
            "givenName": format!("Given{tag}"),
            "familyName": format!("Bench{run_id}"),
            "formatted": format!("Given{tag} Bench{run_id}"),
        },
        "displayName": format!("Given{tag} Bench{run_id}"),
        "emails": [{ "value": user_name, "type": "work", "primary": true }],
        "active": true,
    });
    body.to_string().into_bytes()
}

/// A new, empty Group.
pub fn new_group(display_name: &str) -> Vec<u8> {
    json!({ "schemas": [GROUP_SCHEMA], "displayName": display_name })
        .to_string()
        .into_bytes()
}

/// A PatchOp adding the users `ids` to a Group's members in one operation.
pub fn add_members<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let members: Vec<_> = ids.into_iter().map(|id| json!({ "value": id })).collect();
    json!({
        "schemas": [PATCH_OP],
        "Operations": [{ "op": "add", "path": "members", "value": members }],
    })
    .to_string()
    .into_bytes()
}

/// A PatchOp replacing a Group's displayName (a new name each time: names are unique).
pub fn rename_group(run_id: &str, n: u64) -> Vec<u8> {
    json!({
        "schemas": [PATCH_OP],
        "Operations": [
            { "op": "replace", "path": "displayName", "value": format!("bench-{run_id}-big-{n}") },
        ],
    })
    .to_string()
    .into_bytes()
}

/// A two-operation PatchOp replacing a User's displayName and name.givenName.
pub fn rename_user(n: u64) -> Vec<u8> {
    json!({
        "schemas": [PATCH_OP],
        "Operations": [
            { "op": "replace", "path": "displayName", "value": format!("Renamed {n}") },
            { "op": "replace", "path": "name.givenName", "value": format!("Renamed{n}") },
        ],
    })
    .to_string()
    .into_bytes()
}

/// The id of a created resource; everything else in the body is skipped without being built.
#[derive(Deserialize)]
pub struct Created {
    /// The server-assigned id.
    pub id: String,
}

/// The count of a ListResponse; the resources are skipped without being built.
#[derive(Deserialize)]
pub struct Total {
    /// The number of matching resources.
    #[serde(rename = "totalResults")]
    pub total_results: u64,
}

/// One page of `GET /Groups?attributes=displayName`.
#[derive(Deserialize)]
pub struct GroupPage {
    /// The groups on this page; absent when the page is empty.
    #[serde(rename = "Resources", default)]
    pub resources: Vec<GroupRef>,
}

/// A group of a [`GroupPage`].
#[derive(Deserialize)]
pub struct GroupRef {
    /// The server-assigned id.
    pub id: String,
    /// The displayName.
    #[serde(rename = "displayName")]
    pub display_name: String,
}

/// A group's members, each skipped without being built.
#[derive(Deserialize)]
pub struct Members {
    /// The members; absent when there are none.
    #[serde(default)]
    pub members: Vec<serde::de::IgnoredAny>,
}

/// One page of `GET /Users?attributes=id,userName`.
#[derive(Deserialize)]
pub struct UserPage {
    /// The number of users on the server.
    #[serde(rename = "totalResults")]
    pub total_results: u64,
    /// The users on this page; absent when the page is empty.
    #[serde(rename = "Resources", default)]
    pub resources: Vec<UserRef>,
}

/// A User's id and userName.
#[derive(Deserialize)]
pub struct UserRef {
    /// The server-assigned id.
    pub id: String,
    /// The userName.
    #[serde(rename = "userName")]
    pub user_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_members_is_a_scim_patch() {
        let body: serde_json::Value = serde_json::from_slice(&add_members(["a", "b"])).unwrap();
        assert_eq!(
            body,
            json!({
                "schemas": [PATCH_OP],
                "Operations": [{ "op": "add", "path": "members", "value": [{ "value": "a" }, { "value": "b" }] }],
            })
        );
    }

    #[test]
    fn a_new_user_has_a_work_email() {
        let body: serde_json::Value = serde_json::from_slice(&new_user("ab12", "7")).unwrap();
        assert_eq!(body["userName"], "bench-ab12-7@example.com");
        assert_eq!(body["emails"][0]["type"], "work");
        assert_eq!(body["active"], true);
    }
}
