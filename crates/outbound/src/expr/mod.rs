//! Microsoft Entra's expression language for attribute mappings, as its administrators write
//! it: `Join(" ", [givenName], [surname])`, `IIF([country]="USA", …)`,
//! `SelectUniqueValue(…)`. [`parse`] reads one into an [`Expr`] (or says at which character it
//! stops making sense); [`evaluate`] computes it for one object, with the time, randomness and
//! uniqueness checks given by the caller, so the console can show "this mapping on
//! ada@contoso.com gives …" before anything is saved.
//!
//! Values are strings, as Entra's are: a boolean is `"True"` or `"False"`; a multi-valued
//! attribute is a list of strings; an attribute that is absent is null.

mod datetime;
mod eval;
mod functions;
mod parse;
mod replace;

pub use eval::{Env, EvalError, evaluate};
pub use functions::NAMES as FUNCTIONS;
pub use parse::{MAX_DEPTH, MAX_LENGTH, ParseError, parse};

/// An expression, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A function of the language, by its canonical name.
    Call {
        /// Its name as the documentation writes it (`IIF`, `ToLower`).
        name: String,
        /// Its arguments, an omitted one as [`Expr::Omitted`].
        args: Vec<Expr>,
    },
    /// The value of a source attribute: `[givenName]`.
    Attribute(String),
    /// A string constant.
    Text(String),
    /// A number.
    Number(i64),
    /// `a = b`, `a <> b`, `a > b`, `a >= b`, `a < b`, `a <= b`: `"True"` or `"False"`.
    Compare(Box<Expr>, Comparison, Box<Expr>),
    /// An argument left empty: `FormatDateTime([x], , "yyyyMMdd", "yyyy-MM-dd")`.
    Omitted,
}

impl Expr {
    /// The source attributes it reads, each once, in order of appearance.
    pub fn attributes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.visit(&mut |e| {
            if let Expr::Attribute(name) = e
                && !out.contains(&name.as_str())
            {
                out.push(name);
            }
        });
        out
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Call { args, .. } => args.iter().for_each(|a| a.visit(f)),
            Expr::Compare(a, _, b) => {
                a.visit(f);
                b.visit(f);
            }
            _ => {}
        }
    }
}

/// A comparison's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=`
    Equal,
    /// `<>`
    NotEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
}

impl Comparison {
    /// Whether `order` (left against right) satisfies it.
    pub fn holds(self, order: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Comparison::Equal => order == Equal,
            Comparison::NotEqual => order != Equal,
            Comparison::Greater => order == Greater,
            Comparison::GreaterOrEqual => order != Less,
            Comparison::Less => order == Less,
            Comparison::LessOrEqual => order != Greater,
        }
    }
}

/// A value an expression computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Nothing: an absent attribute, an omitted argument.
    Null,
    /// One string.
    One(String),
    /// The values of a multi-valued attribute (`Split`'s result).
    Many(Vec<String>),
}

impl Value {
    /// A boolean as Entra writes it.
    pub fn bool(b: bool) -> Value {
        Value::One(if b { "True" } else { "False" }.to_owned())
    }

    /// One string from any value: null is none, several are their first.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Null => None,
            Value::One(s) => Some(s),
            Value::Many(v) => v.first().map(String::as_str),
        }
    }

    /// Whether it is null, an empty string, or an empty list.
    pub fn is_null_or_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::One(s) => s.is_empty(),
            Value::Many(v) => v.iter().all(String::is_empty),
        }
    }

    /// Every string it holds.
    pub fn all(&self) -> Vec<&str> {
        match self {
            Value::Null => Vec::new(),
            Value::One(s) => vec![s.as_str()],
            Value::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}
