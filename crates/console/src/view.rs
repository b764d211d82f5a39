//! What the pages show, computed without I/O: the values each identity provider asks for, in
//! its own words; times; a tenant's tokens as rows; the choices of the forms.

use roster_store::TokenRecord;
use time::{Duration, OffsetDateTime};

/// Where an identity provider wants the Provisioning URL and the token, in its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paste {
    /// The identity provider.
    pub provider: &'static str,
    /// Its field for the Provisioning URL.
    pub url_field: &'static str,
    /// Its field for the token.
    pub token_field: &'static str,
    /// What else to choose there.
    pub note: &'static str,
}

/// Microsoft Entra ID, Okta and OneLogin, as their setup pages name things.
pub const PASTE: [Paste; 3] = [
    Paste {
        provider: "Microsoft Entra ID",
        url_field: "Tenant URL",
        token_field: "Secret Token",
        note: "Provisioning → Provisioning Mode: Automatic → Admin Credentials; then Test Connection.",
    },
    Paste {
        provider: "Okta",
        url_field: "SCIM connector base URL (Base URL)",
        token_field: "API Token",
        note: "Authentication Mode: HTTP Header (Authorization: Bearer); unique identifier field: userName.",
    },
    Paste {
        provider: "OneLogin",
        url_field: "SCIM Base URL",
        token_field: "SCIM Bearer Token",
        note: "Configuration → API Connection → Enable.",
    },
];

/// A time as the pages show it: `2026-12-03 17:04 UTC`.
pub fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// A time as the provisioning log shows it, to the second (as the identity providers' own logs
/// do, so that an entry can be matched with theirs): the day and the time of day apart, so that
/// a narrow column breaks between them and nowhere else.
pub fn instant(t: OffsetDateTime) -> (String, String) {
    let t = t.to_offset(time::UtcOffset::UTC);
    (
        format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second()),
    )
}

/// A token as a row of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Its id (for the forms).
    pub id: String,
    /// Its name, or a dash.
    pub name: String,
    /// Its last four characters.
    pub last4: String,
    /// When it was made.
    pub created: String,
    /// When it stops working, or "never".
    pub expires: String,
    /// When it was last used, or "never".
    pub last_used: String,
    /// Whether it can be shown again (it was sealed).
    pub revealable: bool,
    /// Whether it has expired.
    pub expired: bool,
}

/// A tenant's tokens as rows, newest first.
pub fn token_rows(tokens: &[TokenRecord], now: OffsetDateTime) -> Vec<TokenRow> {
    let mut rows: Vec<TokenRow> = tokens
        .iter()
        .map(|t| TokenRow {
            id: t.id.clone(),
            name: if t.name.is_empty() {
                "—".to_owned()
            } else {
                t.name.clone()
            },
            last4: t.last4.clone(),
            created: when(t.created_at),
            expires: t.expires_at.map_or("never".to_owned(), when),
            last_used: t.last_used_at.map_or("never".to_owned(), when),
            revealable: t.sealed.is_some(),
            expired: t.expires_at.is_some_and(|e| e <= now),
        })
        .collect();
    rows.reverse();
    rows
}

/// The lifetimes a new token can be given: `never`, or a number of days from the list.
pub const LIFETIMES: [(&str, &str); 4] = [
    ("never", "Never expires"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
];

/// The lifetime a form chose.
pub fn lifetime(choice: &str) -> Result<Option<Duration>, String> {
    match choice {
        "never" | "" => Ok(None),
        "30" | "90" | "365" => Ok(Some(Duration::days(choice.parse().unwrap_or(0)))),
        other => Err(format!("{other:?} is not a lifetime on offer")),
    }
}

/// How long the current tokens keep working after a rotation (the form's choices).
pub const GRACE: [(&str, &str); 5] = [
    ("revoke", "When I revoke them"),
    ("1h", "In 1 hour"),
    ("24h", "In 24 hours"),
    ("7d", "In 7 days"),
    ("now", "Now"),
];

/// What a rotation does to the current tokens: `Ok((keep_old, old_expire_in))`.
pub fn grace(choice: &str) -> Result<(bool, Option<Duration>), String> {
    match choice {
        "revoke" | "" => Ok((true, None)),
        "1h" => Ok((true, Some(Duration::hours(1)))),
        "24h" => Ok((true, Some(Duration::hours(24)))),
        "7d" => Ok((true, Some(Duration::days(7)))),
        "now" => Ok((false, None)),
        other => Err(format!("{other:?} is not a choice on offer")),
    }
}

/// How many of `total` a page shows and where it starts: pages of `size` from `page` (1 on).
pub fn page_window(total: usize, page: usize, size: usize) -> (usize, usize, usize) {
    let pages = total.div_ceil(size).max(1);
    let page = page.clamp(1, pages);
    (
        (page - 1) * size,
        size.min(total.saturating_sub((page - 1) * size)),
        pages,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_store::TenantId;
    use time::macros::datetime;

    #[test]
    fn the_log_shows_a_time_to_the_second_in_utc() {
        let t = datetime!(2026-12-06 19:28:41.9 +01:00);
        assert_eq!(instant(t), ("2026-12-06".into(), "18:28:41 UTC".into()));
        assert_eq!(when(t), "2026-12-06 18:28 UTC");
    }

    fn token(id: &str, sealed: bool, expires: Option<OffsetDateTime>) -> TokenRecord {
        TokenRecord {
            id: id.into(),
            tenant_id: TenantId::new("t"),
            hash: [0; 32],
            created_at: datetime!(2026-12-03 17:04:59 UTC),
            name: String::new(),
            last4: "wxyz".into(),
            expires_at: expires,
            last_used_at: None,
            revoked_at: None,
            client_id: None,
            sealed: sealed.then(Vec::new),
        }
    }

    #[test]
    fn tokens_read_newest_first_with_what_can_be_done() {
        let now = datetime!(2026-12-10 0:00 UTC);
        let rows = token_rows(
            &[
                token("old", false, Some(datetime!(2026-12-09 0:00 UTC))),
                token("new", true, None),
            ],
            now,
        );
        assert_eq!(rows[0].id, "new");
        assert!(rows[0].revealable && !rows[0].expired);
        assert_eq!(rows[0].expires, "never");
        assert_eq!(rows[0].created, "2026-12-03 17:04 UTC");
        assert_eq!(rows[0].name, "—");
        assert!(!rows[1].revealable && rows[1].expired);
    }

    #[test]
    fn lifetimes_and_pages() {
        assert_eq!(lifetime("never"), Ok(None));
        assert_eq!(lifetime("90"), Ok(Some(Duration::days(90))));
        assert!(lifetime("7").is_err());
        assert_eq!(grace("revoke"), Ok((true, None)));
        assert_eq!(grace("24h"), Ok((true, Some(Duration::hours(24)))));
        assert_eq!(grace("now"), Ok((false, None)));
        assert!(grace("2h").is_err());
        for (value, _) in GRACE {
            assert!(grace(value).is_ok(), "{value}");
        }
        assert_eq!(page_window(0, 1, 50), (0, 0, 1));
        assert_eq!(page_window(120, 3, 50), (100, 20, 3));
        assert_eq!(page_window(120, 9, 50), (100, 20, 3));
    }

    #[test]
    fn every_provider_names_both_fields() {
        for p in PASTE {
            assert!(
                !p.url_field.is_empty() && !p.token_field.is_empty(),
                "{p:?}"
            );
        }
        assert_eq!(PASTE[0].url_field, "Tenant URL");
        assert_eq!(PASTE[0].token_field, "Secret Token");
    }
}

fn reads_as_filter(q: &str) -> bool {
    let lower = q.to_lowercase();
    let operators = [
        " eq ", " ne ", " co ", " sw ", " ew ", " gt ", " ge ", " lt ", " le ",
    ];
    operators.iter().any(|op| lower.contains(op)) || lower.ends_with(" pr")
}

/// The attribute a search's results are ordered by: a prefix of a name lists the names in
/// order, read along the name's index (ordered by creation, a prefix that most names share
/// would sort them all for one page); a SCIM filter, or no search, lists in creation order.
pub fn search_order(q: &str, kind: roster_store::Kind) -> Option<&'static str> {
    let q = q.trim();
    if q.is_empty() || reads_as_filter(q) {
        return None;
    }
    Some(kind.name_attribute())
}

/// The filter a search box asks for: empty is none; text that reads as a SCIM filter (it has
/// an operator such as ` eq ` or ` sw `, or ends in ` pr`) is taken as one; anything else is
/// a prefix of the userName (a user) or of the displayName (a group): one index range each
/// (an `or` over several attributes would read every row of a large tenant).
pub fn search_filter(q: &str, kind: roster_store::Kind) -> Result<Option<String>, String> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(None);
    }
    if q.chars().count() > 500 {
        return Err("A search has at most 500 characters.".into());
    }
    if reads_as_filter(q) {
        return Ok(Some(q.to_owned()));
    }
    let quoted = q.replace('\\', "\\\\").replace('"', "\\\"");
    Ok(Some(match kind {
        roster_store::Kind::User => format!("userName sw \"{quoted}\""),
        roster_store::Kind::Group => format!("displayName sw \"{quoted}\""),
    }))
}

/// A resource's attributes as rows of name and value, nested ones by their path
/// (`name.givenName`, `emails[0].value`), without the password (never shown) or `schemas`.
pub fn attribute_rows(data: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, v) in o {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), v, out);
                }
            }
            serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
            serde_json::Value::Null => {}
            other => out.push((prefix.to_owned(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    if let Some(o) = data.as_object() {
        for (k, v) in o {
            if k == "password" || k == "schemas" {
                continue;
            }
            walk(k, v, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod search_tests {
    use super::*;
    use roster_store::Kind;

    #[test]
    fn a_search_is_a_filter_or_a_prefix() {
        assert_eq!(search_filter("  ", Kind::User), Ok(None));
        assert_eq!(
            search_filter("title eq \"CEO\"", Kind::User),
            Ok(Some("title eq \"CEO\"".into()))
        );
        assert_eq!(
            search_filter("ada", Kind::Group),
            Ok(Some("displayName sw \"ada\"".into()))
        );
        let user = search_filter("a\"b", Kind::User).unwrap().unwrap();
        assert_eq!(user, "userName sw \"a\\\"b\"");
        assert!(search_filter(&"x".repeat(501), Kind::User).is_err());
        assert_eq!(search_order("ada", Kind::User), Some("userName"));
        assert_eq!(search_order("ada", Kind::Group), Some("displayName"));
        assert_eq!(search_order("active eq false", Kind::User), None);
        assert_eq!(search_order(" ", Kind::User), None);
    }

    #[test]
    fn attributes_flatten_without_the_password() {
        let rows = attribute_rows(&serde_json::json!({
            "schemas": ["x"], "userName": "ada", "password": "$argon2id$...",
            "name": {"givenName": "Ada"}, "emails": [{"value": "a@x.com", "primary": true}],
            "active": true
        }));
        let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "userName",
                "name.givenName",
                "emails[0].value",
                "emails[0].primary",
                "active"
            ]
        );
    }
}
