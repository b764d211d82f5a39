//! Failures counted per key (an account, an address): past `max_failures` in a `window`,
//! further attempts are refused until the window ends. Bounded: the oldest keys go first when
//! it holds `max_keys`. The console counts failed sign-ins with it, and the sign-in answers
//! (SAML ACS, OpenID Connect callbacks) refused answers per address. Times are the caller's
//! (the directory's clock).

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

/// The counts.
#[derive(Debug)]
pub struct Limiter {
    failures: HashMap<String, (OffsetDateTime, u32)>,
    max_failures: u32,
    window: Duration,
    max_keys: usize,
}

impl Limiter {
    /// A limiter that allows `max_failures` per key in `window`, remembering at most
    /// `max_keys` keys.
    pub fn new(max_failures: u32, window: Duration, max_keys: usize) -> Limiter {
        Limiter {
            failures: HashMap::new(),
            max_failures,
            window,
            max_keys,
        }
    }

    /// Whether any of `keys` is blocked at `now`.
    pub fn blocked(&self, keys: &[String], now: OffsetDateTime) -> bool {
        self.blocked_for(keys, now).is_some()
    }

    /// How long the longest-blocked of `keys` stays blocked at `now`, if any is.
    pub fn blocked_for(&self, keys: &[String], now: OffsetDateTime) -> Option<Duration> {
        keys.iter()
            .filter_map(|k| self.failures.get(k))
            .filter(|(since, n)| *n >= self.max_failures && now - *since < self.window)
            .map(|(since, _)| self.window - (now - *since))
            .max()
    }

    /// Counts a failure for each of `keys` at `now`.
    pub fn failed(&mut self, keys: &[String], now: OffsetDateTime) {
        let window = self.window;
        if self.failures.len() >= self.max_keys {
            self.failures.retain(|_, (since, _)| now - *since < window);
            if self.failures.len() >= self.max_keys {
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
            if now - entry.0 >= window {
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

    const MAX_FAILURES: u32 = 10;
    const WINDOW: Duration = Duration::minutes(15);
    const MAX_KEYS: usize = 10_000;

    fn limiter() -> Limiter {
        Limiter::new(MAX_FAILURES, WINDOW, MAX_KEYS)
    }

    #[test]
    fn ten_failures_block_until_the_window_ends() {
        let mut l = limiter();
        let t = datetime!(2026-01-01 0:00 UTC);
        let keys = ["account:a@x.com".to_owned(), "address:10.0.0.1".to_owned()];
        for _ in 0..MAX_FAILURES {
            assert!(!l.blocked(&keys, t));
            l.failed(&keys, t);
        }
        assert!(l.blocked(&keys, t + Duration::minutes(14)));
        assert_eq!(
            l.blocked_for(&keys, t + Duration::minutes(14)),
            Some(Duration::minutes(1))
        );
        assert!(l.blocked(&["address:10.0.0.1".to_owned()], t));
        assert!(!l.blocked(&["address:10.0.0.2".to_owned()], t));
        assert!(!l.blocked(&keys, t + WINDOW));
        l.succeeded("account:a@x.com");
        assert!(!l.blocked(&["account:a@x.com".to_owned()], t));
    }

    #[test]
    fn the_limiter_is_bounded() {
        let mut l = limiter();
        let t = datetime!(2026-01-01 0:00 UTC);
        for i in 0..MAX_KEYS + 10 {
            l.failed(&[format!("address:{i}")], t);
        }
        assert!(l.failures.len() <= MAX_KEYS);
    }
}
