//! When a failing event is tried again: about a second after the first failure, then growing
//! to eight hours, each wait spread by ±20 % so that endpoints that failed together (a
//! receiver that was down) are not all retried in the same instant.

/// Seconds to wait after the n-th failure (1-based), before jitter.
pub const BACKOFF_SECONDS: [i64; 11] = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800];

/// The wait after `failures` failures, in milliseconds: the schedule's step, times a factor
/// in [0.8, 1.2) that `random` (uniform over all of `u64`, from `Secrets::random_u64`) picks.
/// Integer arithmetic, so that a test can name the exact result.
pub fn backoff_ms(failures: i64, random: u64) -> i64 {
    let step = usize::try_from(failures.max(1) - 1).unwrap_or(usize::MAX);
    let base = BACKOFF_SECONDS[step.min(BACKOFF_SECONDS.len() - 1)] * 1000;
    // 80 % of the step, plus a share of the remaining 40 % in proportion to `random`.
    let spread = base * 2 / 5;
    let share = (u128::from(spread.unsigned_abs()) * u128::from(random)) >> 64;
    base * 4 / 5 + i64::try_from(share).unwrap_or(spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_waits_its_step_with_the_jitter_at_either_end() {
        // (failures, random, expected milliseconds)
        let cases = [
            (1, 0, 800),
            (1, u64::MAX, 1_199),
            (1, 1 << 63, 1_000),
            (2, 0, 4_000),
            (2, u64::MAX, 5_999),
            (3, 1 << 63, 15_000),
            (4, 1 << 63, 60_000),
            (5, 1 << 63, 300_000),
            (11, 1 << 63, 8 * 3_600_000),
            (11, 0, 8 * 3_600_000 * 4 / 5),
            (11, u64::MAX, 8 * 3_600_000 * 6 / 5 - 1),
        ];
        for (failures, random, expected) in cases {
            assert_eq!(
                backoff_ms(failures, random),
                expected,
                "{failures} failures, random {random:#x}"
            );
        }
    }

    #[test]
    fn past_the_schedule_the_wait_stays_at_eight_hours() {
        assert_eq!(backoff_ms(12, 1 << 63), 8 * 3_600_000);
        assert_eq!(backoff_ms(i64::MAX, 1 << 63), 8 * 3_600_000);
    }

    #[test]
    fn no_failure_counts_as_one() {
        assert_eq!(backoff_ms(0, 1 << 63), 1_000);
        assert_eq!(backoff_ms(-3, 1 << 63), 1_000);
    }

    #[test]
    fn the_schedule_only_grows() {
        for failures in 1..15 {
            assert!(
                backoff_ms(failures + 1, 0) >= backoff_ms(failures, 0),
                "after {failures} failures"
            );
        }
    }
}
