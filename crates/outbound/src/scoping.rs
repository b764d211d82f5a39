//! Scoping filters, with Entra's operators: an object is in scope when every clause of one of
//! the filters holds (clauses are ANDed, filters ORed); no filter at all puts everything in
//! scope. [`Scope::check`] says which filter let an object in, or, for each filter, the first
//! clause that kept it out, in words for provision-on-demand's trace.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::expr::Value;
use crate::source;

/// A clause's operator, as Entra names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    /// The value equals the clause's, exactly (case-sensitive).
    Equals,
    /// It does not.
    NotEquals,
    /// The attribute is `true`.
    IsTrue,
    /// The attribute is `false`.
    IsFalse,
    /// The attribute has no value.
    IsNull,
    /// It has one.
    IsNotNull,
    /// The value matches the regular expression.
    RegexMatch,
    /// It does not.
    NotRegexMatch,
    /// The value, a whole number, is greater.
    GreaterThan,
    /// Greater or equal.
    GreaterThanOrEquals,
    /// Less.
    LessThan,
    /// Less or equal.
    LessThanOrEquals,
    /// The value (or one of a multi-valued attribute's) contains the clause's.
    Includes,
    /// The object is a member of the group named (id or display name).
    IsMemberOf,
    /// It is not.
    IsNotMemberOf,
}

impl Operator {
    fn words(self) -> &'static str {
        match self {
            Operator::Equals => "EQUALS",
            Operator::NotEquals => "NOT EQUALS",
            Operator::IsTrue => "IS TRUE",
            Operator::IsFalse => "IS FALSE",
            Operator::IsNull => "IS NULL",
            Operator::IsNotNull => "IS NOT NULL",
            Operator::RegexMatch => "REGEX MATCH",
            Operator::NotRegexMatch => "NOT REGEX MATCH",
            Operator::GreaterThan => "GREATER_THAN",
            Operator::GreaterThanOrEquals => "GREATER_THAN_OR_EQUALS",
            Operator::LessThan => "LESS_THAN",
            Operator::LessThanOrEquals => "LESS_THAN_OR_EQUALS",
            Operator::Includes => "INCLUDES",
            Operator::IsMemberOf => "IS MEMBER OF",
            Operator::IsNotMemberOf => "IS NOT MEMBER OF",
        }
    }

    fn takes_value(self) -> bool {
        !matches!(
            self,
            Operator::IsTrue | Operator::IsFalse | Operator::IsNull | Operator::IsNotNull
        )
    }
}

/// One clause: an attribute, an operator, and a value when the operator takes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    /// The source attribute (ignored by the membership operators).
    #[serde(default)]
    pub attribute: String,
    /// The operator.
    pub operator: Operator,
    /// The value compared with.
    #[serde(default)]
    pub value: String,
}

/// Clauses that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// The clauses.
    pub clauses: Vec<Clause>,
}

/// Filters of which one must hold; none puts every object in scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Scope {
    /// The filters.
    pub filters: Vec<Filter>,
}

/// A group an object is a member of, directly or through nesting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The group's id.
    pub id: String,
    /// Its display name.
    pub display_name: String,
}

/// Why a scope does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A clause that needs a value has none, or one it cannot use.
    #[error("filter {filter}, clause {clause}: {message}")]
    Clause {
        /// The filter (from 1).
        filter: usize,
        /// The clause (from 1).
        clause: usize,
        /// What is wrong.
        message: String,
    },
}

fn regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("the pattern {pattern:?} does not read: {e}"))
}

/// The most scoping filters a target has.
pub const MAX_FILTERS: usize = 50;
/// The most clauses in one filter.
pub const MAX_CLAUSES: usize = 50;

impl Scope {
    /// Checks every clause can be evaluated (values given where needed, numbers, patterns).
    pub fn validate(&self) -> Result<(), ScopeError> {
        if self.filters.len() > MAX_FILTERS {
            return Err(ScopeError::Clause {
                filter: self.filters.len(),
                clause: 0,
                message: format!("at most {MAX_FILTERS} scoping filters"),
            });
        }
        for (f, filter) in self.filters.iter().enumerate() {
            if filter.clauses.len() > MAX_CLAUSES {
                return Err(ScopeError::Clause {
                    filter: f + 1,
                    clause: filter.clauses.len(),
                    message: format!("at most {MAX_CLAUSES} clauses in a filter"),
                });
            }
            if filter.clauses.is_empty() {
                return Err(ScopeError::Clause {
                    filter: f + 1,
                    clause: 0,
                    message: "a filter needs at least one clause".into(),
                });
            }
            for (c, clause) in filter.clauses.iter().enumerate() {
                let fail = |message: String| ScopeError::Clause {
                    filter: f + 1,
                    clause: c + 1,
                    message,
                };
                let membership = matches!(
                    clause.operator,
                    Operator::IsMemberOf | Operator::IsNotMemberOf
                );
                if !membership && clause.attribute.trim().is_empty() {
                    return Err(fail("the clause names no attribute".into()));
                }
                if clause.operator.takes_value() && clause.value.is_empty() {
                    return Err(fail(format!("{} needs a value", clause.operator.words())));
                }
                match clause.operator {
                    Operator::RegexMatch | Operator::NotRegexMatch => {
                        regex(&clause.value).map_err(fail)?;
                    }
                    Operator::GreaterThan
                    | Operator::GreaterThanOrEquals
                    | Operator::LessThan
                    | Operator::LessThanOrEquals => {
                        clause.value.trim().parse::<i64>().map_err(|_| {
                            fail(format!(
                                "{} compares whole numbers, not {:?}",
                                clause.operator.words(),
                                clause.value
                            ))
                        })?;
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The filters in words: `department EQUALS "Sales" and … or …`; `always` for none.
    pub fn describe(&self) -> String {
        if self.filters.is_empty() {
            return "always".into();
        }
        self.filters
            .iter()
            .map(|f| {
                f.clauses
                    .iter()
                    .map(|c| {
                        let mut text = if c.attribute.is_empty() {
                            c.operator.words().to_owned()
                        } else {
                            format!("{} {}", c.attribute, c.operator.words())
                        };
                        if c.operator.takes_value() {
                            text.push_str(&format!(" {:?}", c.value));
                        }
                        text
                    })
                    .collect::<Vec<_>>()
                    .join(" and ")
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// Whether `object` (a member of `groups`) is in scope, and why, in words.
    pub fn check(&self, object: &Json, groups: &[Membership]) -> (bool, String) {
        if self.filters.is_empty() {
            return (true, "in scope: no scoping filter".into());
        }
        let mut reasons = Vec::new();
        for (f, filter) in self.filters.iter().enumerate() {
            match filter
                .clauses
                .iter()
                .find_map(|c| holds(c, object, groups).err())
            {
                None => return (true, format!("in scope: filter {} holds", f + 1)),
                Some(why) => reasons.push(format!("filter {}: {why}", f + 1)),
            }
        }
        (false, format!("out of scope: {}", reasons.join("; ")))
    }
}

/// Whether a clause holds; else why not.
fn holds(clause: &Clause, object: &Json, groups: &[Membership]) -> Result<(), String> {
    let value = source::read(object, &clause.attribute);
    let all = value.all();
    let shown = match &value {
        Value::Null => "empty".to_owned(),
        v => format!("{:?}", v.text().unwrap_or_default()),
    };
    let want = clause.value.as_str();
    let number = |s: &str| s.trim().parse::<i64>().ok();
    let compare = |test: fn(i64, i64) -> bool| match (value.text().and_then(number), number(want)) {
        (Some(a), Some(b)) => test(a, b),
        _ => false,
    };
    let member = groups
        .iter()
        .any(|g| g.id == want || g.display_name.eq_ignore_ascii_case(want));
    let ok = match clause.operator {
        Operator::Equals => all.contains(&want),
        Operator::NotEquals => !all.contains(&want),
        Operator::IsTrue => value.text().is_some_and(|t| t.eq_ignore_ascii_case("true")),
        Operator::IsFalse => value
            .text()
            .is_some_and(|t| t.eq_ignore_ascii_case("false")),
        Operator::IsNull => value.is_null_or_empty(),
        Operator::IsNotNull => !value.is_null_or_empty(),
        Operator::RegexMatch | Operator::NotRegexMatch => {
            let matched = regex(want).is_ok_and(|r| all.iter().any(|v| r.is_match(v)));
            matched == (clause.operator == Operator::RegexMatch)
        }
        Operator::GreaterThan => compare(|a, b| a > b),
        Operator::GreaterThanOrEquals => compare(|a, b| a >= b),
        Operator::LessThan => compare(|a, b| a < b),
        Operator::LessThanOrEquals => compare(|a, b| a <= b),
        Operator::Includes => all.iter().any(|v| v.contains(want)),
        Operator::IsMemberOf => member,
        Operator::IsNotMemberOf => !member,
    };
    if ok {
        return Ok(());
    }
    Err(match clause.operator {
        Operator::IsMemberOf => format!("not a member of {want:?}"),
        Operator::IsNotMemberOf => format!("a member of {want:?}"),
        op if op.takes_value() => format!(
            "{} is {shown}, not {} {want:?}",
            clause.attribute,
            op.words()
        ),
        op => format!("{} is {shown}, not {}", clause.attribute, op.words()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn clause(attribute: &str, operator: Operator, value: &str) -> Clause {
        Clause {
            attribute: attribute.into(),
            operator,
            value: value.into(),
        }
    }

    fn ada() -> Json {
        json!({
            "userName": "ada@contoso.com",
            "active": true,
            "title": "Engineer",
            "roles": ["admin", "auditor"],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Sales", "employeeNumber": "1042"
            }
        })
    }

    #[test]
    fn each_operator() {
        use Operator::*;
        let sales = [Membership {
            id: "g1".into(),
            display_name: "Sales Team".into(),
        }];
        let cases = [
            (clause("department", Equals, "Sales"), true),
            (clause("department", Equals, "sales"), false),
            (clause("department", NotEquals, "Marketing"), true),
            (clause("active", IsTrue, ""), true),
            (clause("active", IsFalse, ""), false),
            (clause("nickName", IsNull, ""), true),
            (clause("title", IsNotNull, ""), true),
            (
                clause("userName", RegexMatch, "^[a-z]+@contoso\\.com$"),
                true,
            ),
            (clause("userName", NotRegexMatch, "@fabrikam"), true),
            (clause("employeeId", GreaterThan, "1000"), true),
            (clause("employeeId", GreaterThanOrEquals, "1042"), true),
            (clause("employeeId", LessThan, "1042"), false),
            (clause("employeeId", LessThanOrEquals, "1042"), true),
            (clause("roles", Includes, "audit"), true),
            (clause("roles", Equals, "admin"), true),
            (clause("", IsMemberOf, "Sales Team"), true),
            (clause("", IsMemberOf, "g1"), true),
            (clause("", IsNotMemberOf, "g2"), true),
            (clause("", IsMemberOf, "Marketing"), false),
        ];
        for (c, expected) in cases {
            let scope = Scope {
                filters: vec![Filter {
                    clauses: vec![c.clone()],
                }],
            };
            assert!(scope.validate().is_ok(), "{c:?}");
            assert_eq!(scope.check(&ada(), &sales).0, expected, "{c:?}");
        }
    }

    #[test]
    fn clauses_and_filters_combine_and_say_why() {
        let scope = Scope {
            filters: vec![
                Filter {
                    clauses: vec![
                        clause("department", Operator::Equals, "Marketing"),
                        clause("active", Operator::IsTrue, ""),
                    ],
                },
                Filter {
                    clauses: vec![clause("title", Operator::Equals, "Manager")],
                },
            ],
        };
        let (in_scope, why) = scope.check(&ada(), &[]);
        assert!(!in_scope);
        assert_eq!(
            why,
            "out of scope: filter 1: department is \"Sales\", not EQUALS \"Marketing\"; \
             filter 2: title is \"Engineer\", not EQUALS \"Manager\""
        );
        let mut wider = scope.clone();
        wider.filters[1].clauses[0].value = "Engineer".into();
        assert_eq!(
            wider.check(&ada(), &[]),
            (true, "in scope: filter 2 holds".into())
        );
        assert!(Scope::default().check(&ada(), &[]).0);
    }

    #[test]
    fn bad_clauses_are_named() {
        let bad = |c: Clause| {
            Scope {
                filters: vec![Filter { clauses: vec![c] }],
            }
            .validate()
            .unwrap_err()
            .to_string()
        };
        assert!(bad(clause("a", Operator::Equals, "")).contains("EQUALS needs a value"));
        assert!(bad(clause("a", Operator::GreaterThan, "ten")).contains("whole numbers"));
        assert!(bad(clause("a", Operator::RegexMatch, "(")).contains("does not read"));
        assert!(bad(clause("", Operator::IsNull, "")).contains("names no attribute"));
        let json = serde_json::to_value(Scope {
            filters: vec![Filter {
                clauses: vec![clause("department", Operator::NotRegexMatch, "x")],
            }],
        })
        .unwrap();
        assert_eq!(json[0]["clauses"][0]["operator"], "NOT_REGEX_MATCH");
    }
}
