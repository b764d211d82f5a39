//! Optimistic writes: read, decide, write if nothing changed in between, else read again.
//!
//! Each use case that writes this way is a loop over what it read, bounded by [`Attempts`]:
//!
//! ```text
//! let mut attempts = Attempts::new();
//! loop {
//!     attempts.another()?;      // unavailable once the attempts are spent
//!     let current = read…;
//!     match write(current…) { changed since read => continue, done => return … }
//! }
//! ```
//!
//! (A helper that takes the attempt as an async closure would read better, but the futures it
//! returns cannot be shown to be `Send` for every lifetime, which the HTTP edge needs.)

use crate::DirectoryError;

/// How often a write is tried again after another request changed what it read.
pub(crate) const WRITE_RETRIES: usize = 32;

/// The attempts left to one optimistic write.
#[derive(Debug)]
pub(crate) struct Attempts {
    left: usize,
}

impl Attempts {
    /// [`WRITE_RETRIES`] attempts.
    pub(crate) fn new() -> Attempts {
        Attempts {
            left: WRITE_RETRIES,
        }
    }

    /// Takes one attempt; when none is left, the resource changes under every attempt and is
    /// reported unavailable, so that the client retries later.
    pub(crate) fn another(&mut self) -> Result<(), DirectoryError> {
        if self.left == 0 {
            return Err(DirectoryError::Unavailable(
                "the resource is changing too often".into(),
            ));
        }
        self.left -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_gets_its_attempts_and_then_is_unavailable() {
        let mut attempts = Attempts::new();
        for _ in 0..WRITE_RETRIES {
            assert!(attempts.another().is_ok());
        }
        assert!(matches!(
            attempts.another(),
            Err(DirectoryError::Unavailable(_))
        ));
    }
}
