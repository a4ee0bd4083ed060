//! Time as a number. Core never reads a clock: callers pass the current time in.

/// A point in time or a duration, in milliseconds, on a clock chosen by the
/// caller (monotonic in the server, `performance.now()` in a browser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// Zero milliseconds.
    pub const ZERO: Millis = Millis(0);

    /// `self + d`, saturating at `u64::MAX`.
    #[must_use]
    pub const fn saturating_add(self, d: Millis) -> Millis {
        Millis(self.0.saturating_add(d.0))
    }

    /// `self - earlier`, or zero when `earlier` is later than `self`.
    #[must_use]
    pub const fn saturating_sub(self, earlier: Millis) -> Millis {
        Millis(self.0.saturating_sub(earlier.0))
    }
}
