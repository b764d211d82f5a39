//! Thresholds of removals, as administrators set them: `500` or `10%`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SettingError;

/// A limit on removals: more than a number, or than a percentage of a whole (a tenant's
/// users for the inbound hold, what a target holds for the accidental-deletions threshold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Threshold {
    /// More than this many.
    Count(u64),
    /// More than this percentage (1 to 100) of the whole.
    Percent(u8),
}

impl Threshold {
    /// Whether `removals` cross it, out of a whole of `of`.
    pub fn crossed(self, removals: u64, of: u64) -> bool {
        removals > self.limit(of)
    }

    /// The most removals it allows out of a whole of `of`.
    pub fn limit(self, of: u64) -> u64 {
        match self {
            Threshold::Count(n) => n,
            Threshold::Percent(p) => of * u64::from(p) / 100,
        }
    }
}

impl FromStr for Threshold {
    type Err = SettingError;

    fn from_str(text: &str) -> Result<Self, SettingError> {
        let text = text.trim();
        let bad = || {
            SettingError(format!(
                "a threshold is a number (1 or more), a percentage (1% to 100%), or off, not \
                 {text:?}"
            ))
        };
        match text.strip_suffix('%') {
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p @ 1..=100) => Ok(Threshold::Percent(p)),
                _ => Err(bad()),
            },
            None => match text.parse::<u64>() {
                Ok(n @ 1..) => Ok(Threshold::Count(n)),
                _ => Err(bad()),
            },
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Count(n) => write!(f, "{n}"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl TryFrom<String> for Threshold {
    type Error = SettingError;
    fn try_from(text: String) -> Result<Self, SettingError> {
        text.parse()
    }
}

impl From<Threshold> for String {
    fn from(t: Threshold) -> String {
        t.to_string()
    }
}
