//! Filters against the evaluator: a seeded directory ([`FilterFixture`]) listed through the
//! backend and through the protocol crate's evaluator, which must agree.

use super::*;

/// The key test: for a seeded directory (see [`FilterFixture`]), a table of filters over every
/// operator on the indexed attributes, non-indexed ones, and mixes of both, each listed five
/// ways (everything, a page, the total alone, and two sorts): the backend must return what the
/// protocol crate's evaluator selects, in the same order, with the same total.
pub async fn filters_agree_with_evaluator(store: &dyn Store) {
    let fixture = FilterFixture::seed(store).await;
    let mut failures = Vec::new();
    let mut cases = 0;
    for (kind, table, sorts) in [
        (Kind::User, USER_FILTERS, user_sorts()),
        (Kind::Group, GROUP_FILTERS, group_sorts()),
    ] {
        let all = fixture.resources(kind).len() as u64;
        let mut selective = 0;
        for (i, text) in table.iter().enumerate() {
            let text = expand_ids(text);
            let filter = match Filter::parse(&text) {
                Ok(f) => f,
                Err(e) => {
                    failures.push(format!("{kind:?} filter {text}: does not parse: {e}"));
                    continue;
                }
            };
            for shape in table_shapes(i, &sorts) {
                cases += 1;
                match fixture.check(store, kind, &filter, &shape).await {
                    Ok(total) if shape.limit > 0 && shape.sort.is_none() && shape.offset == 0 => {
                        if total > 0 && total < all {
                            selective += 1;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => failures.push(format!("{kind:?} filter {text} ({shape}):\n    {e}")),
                }
            }
        }
        // A table whose filters select nothing, or everything, would agree with any backend.
        if selective * 3 < table.len() * 2 {
            failures.push(format!(
                "the {kind:?} table is too weak: only {selective} of {} filters select some but not all \
                 resources, by the evaluator",
                table.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} filtered lists disagree with the evaluator:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The filter fixture
// ---------------------------------------------------------------------------------------------

/// The users of the filter fixture, one a line:
/// `userName | externalId | active | givenName/familyName | displayName | title |
/// emails (type:value, the first primary) | department | employeeNumber`, `-` for absent.
/// Names vary in case, script and punctuation (`%` and `_` are LIKE wildcards in SQL), and the
/// last four are spelt with full-width letters, ligatures, a combining diaeresis (NFD) and a
/// no-break space, which fold to the same keys as their plain spellings.
const USERS: &str = "
ada.lovelace@contoso.com | EXT-0001 | true | Ada/Lovelace | Ada Lovelace | Engineer | work:ada.lovelace@contoso.com home:ada@analytical.example | Research | 1001
Alan.Turing@Contoso.com | EXT-0002 | true | Alan/Turing | - | Cryptanalyst | work:alan.turing@contoso.com | Research | 1002
GRACE.HOPPER@CONTOSO.COM | ext-0003 | false | Grace/Hopper | Grace Hopper | Rear Admiral | work:Grace.Hopper@Contoso.com other:grace@navy.example | Engineering | 1003
linus | - | - | Linus/Torvalds | - | - | - | - | -
margaret.hamilton@contoso.com | EXT-0005 | true | Margaret/Hamilton | Margaret Hamilton | Engineer | work:margaret.hamilton@contoso.com | Engineering | 1005
katherine_johnson | EXT-0006 | true | Katherine/Johnson | - | Mathematician | home:kj@example.org | Research | 1006
dennis.ritchie@contoso.com | EXT-0007 | false | Dennis/Ritchie | dmr | - | work:dmr@contoso.com | Engineering | 1007
Ken.Thompson@contoso.com | - | true | Ken/Thompson | - | Engineer | work:ken@contoso.com home:ken@home.example | Engineering | 1008
barbara.liskov@fabrikam.com | FAB-1 | true | Barbara/Liskov | Barbara Liskov | Professor | work:barbara.liskov@fabrikam.com | - | -
edsger@fabrikam.com | FAB-2 | - | Edsger/Dijkstra | - | - | work:edsger@fabrikam.com | - | -
john.mccarthy | EXT-0011 | true | John/McCarthy | - | - | - | Research | 1011
frances.allen@contoso.com | EXT-0012 | true | Frances/Allen | Fran Allen | Fellow | work:frances.allen@contoso.com | Research | 0012
tony.hoare@contoso.com | ext-0013 | true | Tony/Hoare | - | Professor | work:tony.hoare@contoso.com | Research | 1013
donald.knuth@stanford.example | - | true | Donald/Knuth | Don Knuth | Professor | home:knuth@stanford.example | - | -
BJARNE | EXT-0015 | false | Bjarne/Stroustrup | - | Engineer | work:bjarne@contoso.com | Engineering | 1015
guido@contoso.com | EXT-0016 | true | Guido/van Rossum | Guido van Rossum | BDFL | work:guido@contoso.com home:guido@python.example | Engineering | 1016
james.gosling@contoso.com | EXT-0017 | true | James/Gosling | - | - | work:james.gosling@contoso.com | Engineering | 1017
anders@fabrikam.com | FAB-3 | true | Anders/Hejlsberg | - | Architect | work:anders@fabrikam.com | Engineering | 2001
rob.pike@contoso.com | EXT-0019 | - | Rob/Pike | - | - | work:rob.pike@contoso.com | Engineering | 1019
radia.perlman@contoso.com | EXT-0020 | true | Radia/Perlman | Radia Perlman | Engineer | work:radia.perlman@contoso.com | Networking | 1020
vint.cerf@contoso.com | EXT-0021 | true | Vint/Cerf | - | Evangelist | work:vint.cerf@contoso.com | Networking | 1021
bob.kahn@contoso.com | EXT-0022 | false | Bob/Kahn | - | - | work:bob.kahn@contoso.com | Networking | 1022
tim.berners-lee@contoso.com | EXT-0023 | true | Tim/Berners-Lee | TimBL | Director | work:tim.berners-lee@contoso.com | Networking | 1023
zoë.ødegaard@contoso.com | EXT-0024 | true | Zoë/Ødegaard | Zoë Ødegaard | Engineer | work:zoe.odegaard@contoso.com | Research | 1024
JOSÉ.GARCÍA@CONTOSO.COM | EXT-0025 | true | José/García | - | - | work:jose.garcia@contoso.com | Sales | 1025
ΟΔΥΣΣΕΥΣ@olympus.example | EXT-0026 | true | Οδυσσεύς/- | - | Navigator | - | Sales | 1026
sales.bot | svc-sales | false | - | Sales Bot | - | - | Sales | -
100%_match | EXT-0028 | true | Percent/Underscore | - | - | work:100%_match@contoso.com | - | -
hedy.lamarr@contoso.com | EXT-0029 | true | Hedy/Lamarr | - | Inventor | work:hedy.lamarr@contoso.com | Research | 1029
annie.easley@contoso.com | EXT-0030 | - | Annie/Easley | - | - | work:annie.easley@contoso.com | Research | 1030
claude.shannon@contoso.com | EXT-0031 | true | Claude/Shannon | - | Engineer | work:claude.shannon@contoso.com home:claude@juggling.example | Research | 1031
Ivan.Sutherland@Fabrikam.com | FAB-4 | true | Ivan/Sutherland | - | - | work:ivan.sutherland@fabrikam.com | - | 3001
lynn.conway@contoso.com | EXT-0033 | true | Lynn/Conway | Lynn Conway | Engineer | work:lynn.conway@contoso.com | Engineering | 1033
ward.cunningham | - | false | Ward/Cunningham | - | - | home:ward@c2.example | - | -
sophie.wilson@contoso.com | EXT-0035 | true | Sophie/Wilson | - | Architect | work:sophie.wilson@contoso.com | Engineering | 1035
mary.kenneth.keller@contoso.com | EXT-0036 | true | Mary Kenneth/Keller | - | - | work:mary.keller@contoso.com | Research | 1036
joan.clarke@contoso.com | EXT-0037 | false | Joan/Clarke | - | Cryptanalyst | work:joan.clarke@contoso.com | Research | 1037
Niklaus.Wirth@contoso.com | EXT-0038 | true | Niklaus/Wirth | - | Professor | work:niklaus.wirth@contoso.com | Engineering | 1038
adele.goldberg@contoso.com | EXT-0039 | true | Adele/Goldberg | Adele Goldberg | - | work:adele.goldberg@contoso.com | Engineering | 1039
xavier | EXT-0040 | - | - | - | - | - | - | -
\u{ff26}\u{ff55}\u{ff4c}\u{ff4c}.\u{ff37}\u{ff49}\u{ff44}\u{ff54}\u{ff48}@contoso.com | EXT-0041 | true | Full/Width | - | - | work:\u{ff46}\u{ff55}\u{ff4c}\u{ff4c}@contoso.com | - | -
\u{fb01}ona.\u{fb02}ynn@contoso.com | EXT-0042 | true | Fiona/Flynn | - | - | work:\u{fb01}ona@contoso.com | - | -
noe\u{308}l.nfd@contoso.com | EXT-0043 | true | Noe\u{308}l/- | - | - | work:noe\u{308}l@contoso.com | - | -
nora\u{a0}nobreak | EXT-0044 | true | Nora/- | - | - | - | - | -
";

/// The groups of the filter fixture: `displayName | externalId | members`, where `u7` is the
/// user on line 7 of [`USERS`] (from 0) and `g0` the group on line 0 of this table.
const GROUPS: &str = "
Engineering | grp-eng | u2 u4 u6 u7 u14 u15 u16 u17 u18 u32 u34 u37
Research | grp-res | u0 u1 u5 u10 u11 u12 u23 u28 u29 u30 u35 u36
Networking | GRP-NET | u19 u20 u21 u22
all-staff | - | g0 g1 g2 u26
Empty Group | - | -
Ωmega team | grp-omega | u25 u23
sales | grp-sales | u24 u25 u26
Admins | - | u0 g4 u3
Re\u{301}seau \u{ff26}\u{ff32} | grp-fr | u41 u43
";

/// Filters over users. `{u7}` stands for the id of user 7, `{g3}` for that of group 3.
///
/// Creation times: user `i` was created at 2024-01-01 plus `i / 2` days (so pairs share an
/// instant), plus half a second when `i % 5 == 4`. Users with `i % 3 == 0` were written under
/// a placeholder and updated to their data at 2024-02-10 plus `i` hours (version 2).
const USER_FILTERS: &[&str] = &[
    // id: indexed, case-exact.
    r#"id eq "{u7}""#,
    r#"id ne "{u7}""#,
    r#"id co "-4000-8000-""#,
    r#"id co "-4000-9000-""#,
    r#"id co "-4000-8000-00000000001""#,
    r#"id sw "a""#,
    r#"id sw "A""#,
    r#"id ew "00000000000b""#,
    r#"id gt "c""#,
    r#"id le "3c6ef362-0000-4000-8000-000000000001""#,
    r#"id pr"#,
    // userName: indexed, case-insensitive.
    r#"userName eq "ada.lovelace@contoso.com""#,
    r#"userName eq "ADA.LOVELACE@CONTOSO.COM""#,
    r#"USERNAME eq "grace.hopper@contoso.com""#,
    r#"userName ne "linus""#,
    r#"userName co "contoso""#,
    r#"userName co "CONTOSO.COM""#,
    r#"userName sw "a""#,
    r#"userName sw "J""#,
    r#"userName ew "@FABRIKAM.COM""#,
    r#"userName gt "m""#,
    r#"userName ge "Margaret.Hamilton@contoso.com""#,
    r#"userName lt "B""#,
    r#"userName le "bjarne""#,
    r#"userName pr"#,
    r#"userName co "%""#,
    r#"userName co "_""#,
    r#"userName sw "100%_""#,
    r#"userName co "Ø""#,
    r#"userName eq "josé.garcía@contoso.com""#,
    r#"userName eq "ΟΔΥΣΣΕΥΣ@olympus.example""#,
    r#"userName co "Σ@""#,
    // Look-alike spellings: NFD against NFC, full-width, ligatures, the no-break space.
    "userName eq \"JOSE\u{301}.GARCI\u{301}A@contoso.com\"",
    r#"userName eq "full.width@CONTOSO.COM""#,
    "userName sw \"\u{ff26}\u{ff35}\u{ff2c}\u{ff2c}\"",
    r#"userName eq "fiona.flynn@contoso.com""#,
    "userName co \"\u{fb02}ynn\"",
    r#"userName eq "noël.nfd@contoso.com""#,
    "userName ew \"E\u{308}L.NFD@CONTOSO.COM\"",
    r#"userName eq "nora nobreak""#,
    "userName eq \"nora\u{a0}nobreak\"",
    "userName gt \"\u{ff4e}\"",
    "emails.value eq \"\u{ff26}\u{ff35}\u{ff2c}\u{ff2c}@contoso.com\"",
    r#"emails[value sw "fiona@"]"#,
    "emails.value co \"e\u{308}l@\"",
    // externalId: indexed, case-exact.
    r#"externalId eq "EXT-0001""#,
    r#"externalId eq "ext-0001""#,
    r#"externalId ne "EXT-0001""#,
    r#"externalId sw "EXT""#,
    r#"externalId sw "ext""#,
    r#"externalId co "-00""#,
    r#"externalId ew "3""#,
    r#"externalId gt "FAB""#,
    r#"externalId lt "EXT-0010""#,
    r#"externalId pr"#,
    r#"not (externalId pr)"#,
    // emails: indexed values, case-insensitive; types are not indexed.
    r#"emails.value eq "ada@analytical.example""#,
    r#"emails.value eq "GRACE.HOPPER@CONTOSO.COM""#,
    r#"emails co "fabrikam""#,
    r#"emails.value sw "ken@""#,
    r#"emails.value ew ".example""#,
    r#"emails.value gt "t""#,
    r#"emails.value le "b""#,
    r#"emails.value pr"#,
    r#"emails pr"#,
    r#"emails.value ne "ken@contoso.com""#,
    r#"emails[value eq "dmr@contoso.com"]"#,
    r#"emails[value co "%_"]"#,
    r#"emails[type eq "work" and value co "contoso"]"#,
    r#"emails[type eq "home"]"#,
    r#"emails.type eq "other""#,
    r#"emails[primary eq true and value ew "fabrikam.com"]"#,
    r#"not (emails.value co "contoso")"#,
    // active: indexed boolean, sometimes absent.
    r#"active eq true"#,
    r#"active eq false"#,
    r#"active ne true"#,
    r#"active ne false"#,
    r#"active pr"#,
    r#"not (active pr)"#,
    r#"not (active eq true)"#,
    r#"active gt false"#,
    // meta: indexed instants.
    r#"meta.created eq "2024-01-03T00:00:00Z""#,
    r#"meta.created ne "2024-01-03T00:00:00Z""#,
    r#"meta.created gt "2024-01-05T00:00:00Z""#,
    r#"meta.created ge "2024-01-05T00:00:00Z""#,
    r#"meta.created lt "2024-01-05T00:00:00.5Z""#,
    r#"meta.created le "2024-01-05T00:00:00.5Z""#,
    r#"meta.created lt "2024-01-05T02:00:00+02:00""#,
    r#"meta.created gt "2024-01-10T12:00:00""#,
    r#"meta.created le "2024-01-03T00:00:00.000000000Z""#,
    r#"meta.lastModified gt "2024-02-01T00:00:00Z""#,
    r#"meta.lastModified ge "2024-02-11T09:00:00Z""#,
    r#"meta.lastModified lt "2024-01-10T00:00:00Z""#,
    r#"meta.lastModified le "2024-02-10T00:00:00Z""#,
    r#"meta.created co "2024-01-0""#,
    r#"meta.created gt "not a date""#,
    // Not indexed: evaluated in memory.
    r#"name.givenName eq "ada""#,
    r#"name.givenName sw "J""#,
    r#"name.familyName co "van""#,
    r#"name pr"#,
    r#"title pr"#,
    r#"not (title pr)"#,
    r#"title eq "engineer""#,
    r#"displayName co "a""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Research""#,
    r#"department eq "networking""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber gt "1020""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr"#,
    r#"meta.version eq "W/\"2\"""#,
    r#"meta.resourceType eq "User""#,
    r#"nickName pr"#,
    // Indexed and not, mixed.
    r#"userName sw "a" and title pr"#,
    r#"userName co "contoso" and not (title pr)"#,
    r#"active eq true and department eq "Research""#,
    r#"active eq false or title eq "Professor""#,
    r#"externalId pr and name.givenName sw "B""#,
    r#"not (userName co "contoso" or department pr)"#,
    r#"(active eq true or externalId sw "FAB") and meta.created lt "2024-01-12T00:00:00Z""#,
    r#"emails[type eq "work" and value co "contoso"] and not (active eq false)"#,
    r#"userName sw "a" or userName sw "b" or userName sw "z""#,
    r#"not (not (active eq true))"#,
    r#"not (active eq true and title pr)"#,
    r#"(userName ew ".com" and active eq true) or (title pr and not (emails pr))"#,
    r#"id eq "{u3}" or id eq "{u27}" or userName eq "linus""#,
    r#"emails.value co "contoso" and emails.value co "example""#,
    r#"meta.lastModified gt "2024-02-01T00:00:00Z" and not (externalId sw "EXT")"#,
    r#"title eq "Engineer" and (emails.value ew "contoso.com" or meta.created gt "2024-01-15T00:00:00Z")"#,
];

/// Filters over groups; see [`USER_FILTERS`] for `{u7}`. Group `j` was created at 2024-02-01
/// plus `j` hours; groups 0 and 2 got their final members by an update at 2024-02-20 plus `j`
/// hours.
const GROUP_FILTERS: &[&str] = &[
    r#"displayName eq "engineering""#,
    r#"displayName eq "ΩMEGA TEAM""#,
    r#"displayName sw "e""#,
    r#"displayName co "TEAM""#,
    r#"displayName ew "S""#,
    r#"displayName gt "m""#,
    r#"displayName le "Empty Group""#,
    r#"displayName ne "sales""#,
    r#"displayName pr"#,
    r#"displayName eq "RÉSEAU FR""#,
    "displayName sw \"r\u{e9}s\"",
    "displayName ew \"\u{ff46}\u{ff52}\"",
    r#"externalId eq "grp-eng""#,
    r#"externalId sw "grp""#,
    r#"externalId co "NET""#,
    r#"externalId pr"#,
    r#"not (externalId pr)"#,
    r#"id eq "{g3}""#,
    r#"id ne "{g3}""#,
    r#"members[value eq "{u25}"]"#,
    r#"members.value eq "{u0}""#,
    r#"members eq "{g4}""#,
    r#"members[value eq "{g0}"]"#,
    r#"members pr"#,
    r#"not (members pr)"#,
    r#"members[type eq "Group"]"#,
    r#"members.type eq "User""#,
    r#"members.display co "hopper""#,
    r#"members[display sw "Ada" or value eq "{u24}"]"#,
    r#"members.value ne "{u0}""#,
    r#"members[value eq "{u26}"] or members[value eq "{u0}"]"#,
    r#"members.value eq "{u0}" and displayName sw "a""#,
    r#"not (members.value eq "{u0}")"#,
    r#"meta.created ge "2024-02-01T03:00:00Z""#,
    r#"meta.created lt "2024-02-01T02:00:00+01:00""#,
    r#"meta.lastModified gt "2024-02-10T00:00:00Z""#,
    r#"meta.lastModified le "2024-02-01T05:00:00Z""#,
    r#"displayName co "e" and not (members pr)"#,
    r#"externalId sw "grp" or members[type eq "Group"]"#,
];

/// The sorts the table tries, in turn, on the user filters.
pub(super) fn user_sorts() -> Vec<SortBy> {
    sorts(&[
        ("userName", SortOrder::Ascending),
        ("userName", SortOrder::Descending),
        ("meta.created", SortOrder::Ascending),
        ("meta.created", SortOrder::Descending),
        ("externalId", SortOrder::Ascending),
        ("externalId", SortOrder::Descending),
        ("id", SortOrder::Ascending),
        ("active", SortOrder::Ascending),
        ("name.givenName", SortOrder::Descending),
        ("title", SortOrder::Ascending),
        ("emails", SortOrder::Ascending),
        ("meta.lastModified", SortOrder::Descending),
        ("department", SortOrder::Ascending),
    ])
}

/// The sorts the table tries, in turn, on the group filters.
pub(super) fn group_sorts() -> Vec<SortBy> {
    sorts(&[
        ("displayName", SortOrder::Ascending),
        ("displayName", SortOrder::Descending),
        ("meta.created", SortOrder::Descending),
        ("externalId", SortOrder::Ascending),
        ("id", SortOrder::Ascending),
        ("meta.lastModified", SortOrder::Descending),
    ])
}

fn sorts(list: &[(&str, SortOrder)]) -> Vec<SortBy> {
    list.iter()
        .map(|(path, order)| SortBy {
            path: attr_path(path),
            order: *order,
        })
        .collect()
}

/// The five ways the table lists each filter.
fn table_shapes(i: usize, sorts: &[SortBy]) -> [QueryShape; 5] {
    let sort = |k: usize| Some(sorts[(i + k) % sorts.len()].clone());
    [
        QueryShape::new(None, 0, EVERYTHING, true),
        QueryShape::new(None, 2, 3, false),
        QueryShape::new(None, 0, 0, false),
        QueryShape::new(sort(0), 0, EVERYTHING, false),
        QueryShape::new(sort(1), 1, 4, true),
    ]
}

/// The id of user `i` of the filter fixture. Ids look like UUIDs whose order is not creation
/// order, so that sorting by id or creation cannot pass by accident.
pub fn user_id(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{i:012x}", scramble(i))
}

/// The id of group `j` of the filter fixture.
pub fn group_id(j: usize) -> String {
    format!("{:08x}-0000-4000-9000-{j:012x}", scramble(j + 100))
}

fn scramble(i: usize) -> u32 {
    // Fibonacci hashing: consecutive numbers land far apart.
    u32::try_from(i + 1)
        .unwrap_or(u32::MAX)
        .wrapping_mul(0x9E37_79B1)
}

/// Replaces `{u7}` and `{g3}` in a filter of the table by fixture ids.
fn expand_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("a placeholder closes with }");
        let key = &rest[open + 1..close];
        let n: usize = key[1..].parse().expect("a placeholder is u<n> or g<n>");
        out.push_str(&match &key[..1] {
            "u" => user_id(n),
            "g" => group_id(n),
            other => panic!("unknown placeholder kind {other} in {text}"),
        });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// How a filtered list is asked for, besides the filter.
#[derive(Clone)]
pub struct QueryShape {
    /// The sort, if any.
    pub sort: Option<SortBy>,
    /// How many matches to skip.
    pub offset: u64,
    /// How many to return at most.
    pub limit: u64,
    /// Whether group members are asked for.
    pub with_relations: bool,
}

impl QueryShape {
    /// A shape from its parts.
    pub fn new(sort: Option<SortBy>, offset: u64, limit: u64, with_relations: bool) -> Self {
        QueryShape {
            sort,
            offset,
            limit,
            with_relations,
        }
    }
}

/// As [`fmt::Display`]: property tests print failing inputs with `Debug`.
impl fmt::Debug for QueryShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for QueryShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sort {
            Some(s) => write!(f, "sorted by {} {}", s.path, s.order.as_str())?,
            None => f.write_str("unsorted")?,
        }
        write!(f, ", offset {}, limit {}", self.offset, self.limit)?;
        if self.with_relations {
            f.write_str(", with members")?;
        }
        Ok(())
    }
}

/// A seeded directory for filter tests: 44 users and 9 groups (see the `USERS` and `GROUPS`
/// tables in this module's source) in one tenant, and look-alikes in a tenant next door that
/// no list may return. [`FilterFixture::check`] compares a backend's list with the evaluator.
#[derive(Debug, Clone)]
pub struct FilterFixture {
    /// The tenant holding the data.
    pub tenant: TenantId,
    users: Vec<StoredResource>,
    groups: Vec<StoredResource>,
    user_schema: Arc<ResourceSchema>,
    group_schema: Arc<ResourceSchema>,
}

impl FilterFixture {
    /// Seeds an empty store and reads every resource back (one `get` each, not through `list`,
    /// which is what gets checked), asserting that each reads back as written.
    pub async fn seed(store: &dyn Store) -> FilterFixture {
        let registry = Registry::core();
        let tenant = new_tenant(store, "t-filters").await;
        let next_door = new_tenant(store, "t-next-door").await;

        let user_rows: Vec<Value> = rows(USERS).map(user_row).collect();
        for (i, data) in user_rows.iter().enumerate() {
            let hours = i64::try_from(i).unwrap_or(0);
            let mut created = BASE + Duration::days(hours / 2);
            if i % 5 == 4 {
                created += Duration::milliseconds(500);
            }
            if i % 3 == 0 {
                // Written under a placeholder first, so that what the filters see of these
                // users went through `update`, which must index the new data as insert does.
                let first = resource(
                    Kind::User,
                    &user_id(i),
                    json!({"schemas": [USER_SCHEMA], "userName": format!("pending-{i}"), "active": true}),
                    created,
                );
                ok(store.insert(&tenant, &first, &[]).await, "seeding a user");
                let modified = datetime!(2024-02-10 0:00 UTC) + Duration::hours(hours);
                let second = next_version(&first, data.clone(), modified);
                ok(
                    store
                        .update(&tenant, &second, 1, &MembersChange::Keep)
                        .await,
                    "seeding a user's final data",
                );
            } else {
                let r = resource(Kind::User, &user_id(i), data.clone(), created);
                ok(store.insert(&tenant, &r, &[]).await, "seeding a user");
            }
        }

        let group_rows: Vec<(Value, Vec<String>)> = rows(GROUPS).map(group_row).collect();
        for (j, (data, members)) in group_rows.iter().enumerate() {
            let hours = i64::try_from(j).unwrap_or(0);
            let created = datetime!(2024-02-01 0:00 UTC) + Duration::hours(hours);
            let modified = datetime!(2024-02-20 0:00 UTC) + Duration::hours(hours);
            let r = resource(Kind::Group, &group_id(j), data.clone(), created);
            match j {
                // Members arrive in two steps, by delta.
                0 => {
                    let (early, late) = members.split_at(members.len() / 2);
                    ok(
                        store.insert(&tenant, &r, &refs(early)).await,
                        "seeding a group",
                    );
                    let change = MembersChange::Delta {
                        add: refs(late),
                        remove: vec![],
                    };
                    let next = next_version(&r, data.clone(), modified);
                    ok(
                        store.update(&tenant, &next, 1, &change).await,
                        "seeding a group's members",
                    );
                }
                // Members replaced wholesale.
                2 => {
                    let wrong = [user_id(0), user_id(1)];
                    ok(
                        store.insert(&tenant, &r, &refs(&wrong)).await,
                        "seeding a group",
                    );
                    let change = MembersChange::Replace(refs(members));
                    let next = next_version(&r, data.clone(), modified);
                    ok(
                        store.update(&tenant, &next, 1, &change).await,
                        "seeding a group's members",
                    );
                }
                _ => ok(
                    store.insert(&tenant, &r, &refs(members)).await,
                    "seeding a group",
                ),
            }
        }

        // Next door: the same names, other ids. Any of them in a list is a leak.
        for (i, data) in user_rows.iter().take(6).enumerate() {
            let r = resource(Kind::User, &format!("next-door-{i}"), data.clone(), BASE);
            ok(
                store.insert(&next_door, &r, &[]).await,
                "seeding the tenant next door",
            );
        }
        let (eng, _) = &group_rows[0];
        let r = resource(Kind::Group, "next-door-group", eng.clone(), BASE);
        let members = ["next-door-0".to_owned(), "next-door-2".to_owned()];
        ok(
            store.insert(&next_door, &r, &refs(&members)).await,
            "seeding the tenant next door",
        );

        let mut users = Vec::new();
        for (i, data) in user_rows.iter().enumerate() {
            // Read with relations: a user's groups come with it when a list asks for them.
            let r = ok(
                store.get(&tenant, Kind::User, &user_id(i), true).await,
                "reading a seeded user",
            );
            let r = r.unwrap_or_else(|| panic!("seeded user {i} is not found"));
            assert_eq!(&r.data, data, "seeded user {i} reads back as written");
            users.push(r);
        }
        let mut groups = Vec::new();
        for (j, (data, members)) in group_rows.iter().enumerate() {
            let r = get_group(store, &tenant, &group_id(j)).await;
            assert_eq!(&r.data, data, "seeded group {j} reads back as written");
            let got = r.members.iter().flatten().map(|m| m.id.clone());
            assert_eq!(
                sorted(got),
                sorted(members.iter().cloned()),
                "seeded group {j} has the members it was given"
            );
            groups.push(r);
        }
        FilterFixture {
            tenant,
            users,
            groups,
            user_schema: registry.user().clone(),
            group_schema: registry.group().clone(),
        }
    }

    fn resources(&self, kind: Kind) -> &[StoredResource] {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    /// The resource type schema of a kind.
    pub fn schema(&self, kind: Kind) -> &ResourceSchema {
        match kind {
            Kind::User => &self.user_schema,
            Kind::Group => &self.group_schema,
        }
    }

    /// Lists `kind` through the backend with `filter` and `shape`, and compares the page with
    /// what the evaluator selects among the seeded resources (in creation order, then stably
    /// sorted by the protocol crate's comparator, then paged). Returns the total on agreement,
    /// and on disagreement what differs, naming resources by userName or displayName.
    pub async fn check(
        &self,
        store: &dyn Store,
        kind: Kind,
        filter: &Filter,
        shape: &QueryShape,
    ) -> Result<u64, String> {
        let schema = self.schema(kind);
        let mut matched: Vec<(&StoredResource, Value)> = self
            .resources(kind)
            .iter()
            .map(|r| (r, memory_eval::scim_view(r)))
            .filter(|(_, view)| filter.matches(view, schema))
            .collect();
        if let Some(sort) = &shape.sort {
            // `sort_by` is stable: ties keep creation order, as a backend must.
            matched.sort_by(|a, b| sort.compare(schema, &a.1, &b.1));
        }
        let total = matched.len() as u64;
        let expected: Vec<StoredResource> = matched
            .into_iter()
            .skip(usize::try_from(shape.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(shape.limit).unwrap_or(usize::MAX))
            .map(|(r, _)| {
                let mut r = r.clone();
                if !shape.with_relations {
                    r.members = None;
                    r.groups = None;
                }
                r
            })
            .collect();

        let query = ListQuery {
            filter: Some(filter.clone()),
            sort: shape.sort.clone(),
            offset: shape.offset,
            limit: shape.limit,
            with_relations: shape.with_relations,
            max_bytes: usize::MAX,
            count_at_most: None,
        };
        let page = store
            .list(&self.tenant, kind, schema, &query)
            .await
            .map_err(|e| format!("the list failed: {e} ({e:?})"))?;
        let names = |rs: &[StoredResource]| rs.iter().map(label).collect::<Vec<_>>();
        if page.total != total
            || ids(&page) != expected.iter().map(|r| r.id.as_str()).collect::<Vec<_>>()
        {
            let want = names(&expected);
            let got = names(&page.resources);
            let missing: Vec<_> = want.iter().filter(|n| !got.contains(n)).collect();
            let extra: Vec<_> = got.iter().filter(|n| !want.contains(n)).collect();
            return Err(format!(
                "expected total {total} and {want:?}\n    got total {} and {got:?}\n    \
                 missing {missing:?}, unexpected {extra:?}",
                page.total
            ));
        }
        if let Some((want, got)) = expected.iter().zip(&page.resources).find(|(a, b)| a != b) {
            return Err(format!(
                "{} comes back different from a get: expected {want:?}, got {got:?}",
                label(want)
            ));
        }
        Ok(total)
    }

    /// [`FilterFixture::check`] on each part of `filter` (the operands of every `and`, `or`
    /// and `not`) and then on the whole, so that a disagreement in one part is found even where
    /// the whole filter hides it (`x and false`). Parts are checked innermost first: the part
    /// an error names is a smallest one that disagrees. Returns the whole filter's total.
    pub async fn check_with_parts(
        &self,
        store: &dyn Store,
        kind: Kind,
        filter: &Filter,
        shape: &QueryShape,
    ) -> Result<u64, String> {
        // Pre-order: every part comes before its own parts; reversed, after them.
        let mut parts = Vec::new();
        let mut stack = vec![filter];
        while let Some(part) = stack.pop() {
            parts.push(part);
            match part {
                Filter::And(a, b) | Filter::Or(a, b) => stack.extend([&**b, &**a]),
                Filter::Not(a) => stack.push(a),
                Filter::Compare { .. } | Filter::Present(_) | Filter::ValuePath { .. } => {}
            }
        }
        let mut total = 0;
        for part in parts.into_iter().rev() {
            total = self
                .check(store, kind, part, shape)
                .await
                .map_err(|e| format!("the part `{part}` disagrees: {e}"))?;
        }
        Ok(total)
    }
}

/// The lines of a fixture table, without blanks.
fn rows(table: &'static str) -> impl Iterator<Item = &'static str> {
    table.lines().map(str::trim).filter(|l| !l.is_empty())
}

fn fields(line: &str, count: usize) -> Vec<Option<&str>> {
    let f: Vec<Option<&str>> = line
        .split('|')
        .map(str::trim)
        .map(|s| (s != "-").then_some(s))
        .collect();
    assert_eq!(f.len(), count, "fixture row {line:?} has {count} fields");
    f
}

/// A user's canonical JSON from a row of [`USERS`].
fn user_row(line: &str) -> Value {
    let f = fields(line, 9);
    let enterprise = f[7].is_some() || f[8].is_some();
    let mut schemas = vec![json!(USER_SCHEMA)];
    if enterprise {
        schemas.push(json!(ENTERPRISE_USER_SCHEMA));
    }
    let mut data = Map::new();
    data.insert("schemas".into(), Value::Array(schemas));
    data.insert(
        "userName".into(),
        json!(f[0].expect("every user has a userName")),
    );
    if let Some(x) = f[1] {
        data.insert("externalId".into(), json!(x));
    }
    if let Some(x) = f[2] {
        data.insert("active".into(), json!(x == "true"));
    }
    if let Some(x) = f[3] {
        let (given, family) = x.split_once('/').expect("a name is given/family");
        let mut name = Map::new();
        name.insert("givenName".into(), json!(given));
        if family != "-" {
            name.insert("familyName".into(), json!(family));
        }
        data.insert("name".into(), Value::Object(name));
    }
    if let Some(x) = f[4] {
        data.insert("displayName".into(), json!(x));
    }
    if let Some(x) = f[5] {
        data.insert("title".into(), json!(x));
    }
    if let Some(x) = f[6] {
        let emails: Vec<Value> = x
            .split_whitespace()
            .enumerate()
            .map(|(n, e)| {
                let (ty, value) = e.split_once(':').expect("an e-mail is type:value");
                json!({"value": value, "type": ty, "primary": n == 0})
            })
            .collect();
        data.insert("emails".into(), Value::Array(emails));
    }
    if enterprise {
        let mut ext = Map::new();
        if let Some(x) = f[8] {
            ext.insert("employeeNumber".into(), json!(x));
        }
        if let Some(x) = f[7] {
            ext.insert("department".into(), json!(x));
        }
        data.insert(ENTERPRISE_USER_SCHEMA.into(), Value::Object(ext));
    }
    Value::Object(data)
}

/// A group's canonical JSON and member ids from a row of [`GROUPS`].
fn group_row(line: &str) -> (Value, Vec<String>) {
    let f = fields(line, 3);
    let mut data = group_data(f[0].expect("every group has a displayName"));
    if let Some(x) = f[1] {
        data["externalId"] = json!(x);
    }
    let members = f[2]
        .unwrap_or("")
        .split_whitespace()
        .map(|m| expand_ids(&format!("{{{m}}}")))
        .collect();
    (data, members)
}
