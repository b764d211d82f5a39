//! The one source of time: [`Clock`], the system clock, and a clock tests move.

use time::OffsetDateTime;

/// The source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock moved by an adjustable offset: for tests and drills that need time to
/// pass (a token's expiry) without waiting.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_micros: std::sync::atomic::AtomicI64,
}

impl ShiftedClock {
    /// Moves this clock forward (or back, with a negative duration).
    pub fn advance(&self, by: time::Duration) {
        let micros = i64::try_from(by.whole_microseconds()).unwrap_or(i64::MAX);
        self.offset_micros
            .fetch_add(micros, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        let offset = self.offset_micros.load(std::sync::atomic::Ordering::SeqCst);
        SystemClock.now() + time::Duration::microseconds(offset)
    }
}

/// The system clock: the one place Roster reads the time of day (`clippy.toml` refuses the
/// wall clock everywhere else).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Now, to the microsecond: what storage keeps, so that `meta.created` in a create's
    /// response is the same as in every later read.
    // The one call to the wall clock; everything else asks a `Clock`.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        let t = OffsetDateTime::now_utc();
        t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
            .unwrap_or(t)
    }
}
