//! Failed sign-ins counted per account and per address: past [`MAX_FAILURES`] in
//! [`WINDOW`], further attempts are refused until the window ends. Bounded: the oldest keys go
//! first when it holds [`MAX_KEYS`].

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

/// Failures allowed per key and window.
pub const MAX_FAILURES: u32 = 10;
/// The window.
pub const WINDOW: Duration = Duration::minutes(15);
/// The most keys remembered.
pub const MAX_KEYS: usize = 10_000;

/// The counts.
#[derive(Debug, Default)]
pub struct Limiter {
    failures: HashMap<String, (OffsetDateTime, u32)>,
}

impl Limiter {
    /// Whether any of `keys` is blocked at `now`.
    pub fn blocked(&self, keys: &[String], now: OffsetDateTime) -> bool {
        keys.iter().any(|k| {
            self.failures
                .get(k)
                .is_some_and(|(since, n)| *n >= MAX_FAILURES && now - *since < WINDOW)
        })
    }

    /// Counts a failure for each of `keys` at `now`.
    pub fn failed(&mut self, keys: &[String], now: OffsetDateTime) {
        if self.failures.len() >= MAX_KEYS {
            self.failures.retain(|_, (since, _)| now - *since < WINDOW);
            if self.failures.len() >= MAX_KEYS {
                let oldest = self
                    .failures
                    .iter()
                    .min_by_key(|(_, (since, _))| *since)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.failures.remove(&k);
                }
            }
        }
        for k in keys {
            let entry = self.failures.entry(k.clone()).or_insert((now, 0));
            if now - entry.0 >= WINDOW {
                *entry = (now, 0);
            }
            entry.1 += 1;
        }
    }

    /// Forgets an account's failures after it signed in.
    pub fn succeeded(&mut self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ten_failures_block_until_the_window_ends() {
        let mut l = Limiter::default();
        let t = datetime!(2026-01-01 0:00 UTC);
        let keys = ["account:a@x.com".to_owned(), "address:10.0.0.1".to_owned()];
        for _ in 0..MAX_FAILURES {
            assert!(!l.blocked(&keys, t));
            l.failed(&keys, t);
        }
        assert!(l.blocked(&keys, t + Duration::minutes(14)));
        assert!(l.blocked(&["address:10.0.0.1".to_owned()], t));
        assert!(!l.blocked(&["address:10.0.0.2".to_owned()], t));
        assert!(!l.blocked(&keys, t + WINDOW));
        l.succeeded("account:a@x.com");
        assert!(!l.blocked(&["account:a@x.com".to_owned()], t));
    }

    #[test]
    fn the_limiter_is_bounded() {
        let mut l = Limiter::default();
        let t = datetime!(2026-01-01 0:00 UTC);
        for i in 0..MAX_KEYS + 10 {
            l.failed(&[format!("address:{i}")], t);
        }
        assert!(l.failures.len() <= MAX_KEYS);
    }
}
