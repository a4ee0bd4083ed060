//! Latency samples and nearest-rank percentiles.
//!
//! The bench keeps every sample (one `u64` of nanoseconds each; a run is
//! bounded by `--msgs`), so percentiles are exact rather than bucketed.

use core::time::Duration;

/// Recorded latencies, in nanoseconds.
#[derive(Debug, Default, Clone)]
pub(crate) struct Histogram {
    samples: Vec<u64>,
    sorted: bool,
}

/// Summary of a histogram, all values in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Summary {
    pub(crate) count: usize,
    pub(crate) min_us: f64,
    pub(crate) mean_us: f64,
    pub(crate) p50_us: f64,
    pub(crate) p90_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) p999_us: f64,
    pub(crate) max_us: f64,
}

impl Histogram {
    /// An empty histogram with room for `n` samples.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Histogram {
            samples: Vec::with_capacity(n),
            sorted: true,
        }
    }

    /// Records one latency.
    pub(crate) fn record(&mut self, d: Duration) {
        self.samples
            .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.sorted = false;
    }

    /// Adds all samples of `other`.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        self.samples.extend_from_slice(&other.samples);
        self.sorted = false;
    }

    /// Nearest-rank percentile `p` in 0..=100 (in ns): the smallest sample
    /// such that at least `p` % of samples are ≤ it. `None` when empty.
    pub(crate) fn percentile(&mut self, p: f64) -> Option<u64> {
        if self.samples.is_empty() {
            return None;
        }
        if !self.sorted {
            self.samples.sort_unstable();
            self.sorted = true;
        }
        let n = self.samples.len();
        // The epsilon keeps binary rounding (0.999 * 1000 = 999.0000000000001)
        // from pushing the rank one sample up.
        let rank = ((p / 100.0) * n as f64 - 1e-9).ceil() as usize;
        Some(self.samples[rank.clamp(1, n) - 1])
    }

    /// min/mean/p50/p90/p99/p99.9/max in µs; `None` when empty.
    pub(crate) fn summary(&mut self) -> Option<Summary> {
        let us = |ns: u64| ns as f64 / 1000.0;
        let p50 = self.percentile(50.0)?;
        let n = self.samples.len();
        let sum: u128 = self.samples.iter().map(|&s| u128::from(s)).sum();
        Some(Summary {
            count: n,
            min_us: us(self.samples[0]),
            mean_us: (sum as f64 / n as f64) / 1000.0,
            p50_us: us(p50),
            p90_us: us(self.percentile(90.0)?),
            p99_us: us(self.percentile(99.0)?),
            p999_us: us(self.percentile(99.9)?),
            max_us: us(self.samples[n - 1]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_ns(v: impl IntoIterator<Item = u64>) -> Histogram {
        let mut h = Histogram::default();
        for ns in v {
            h.record(Duration::from_nanos(ns));
        }
        h
    }

    #[test]
    fn nearest_rank_percentiles_of_1_to_1000() {
        // Insert in reverse to check sorting.
        let mut h = from_ns((1..=1000).rev());
        assert_eq!(h.percentile(50.0), Some(500));
        assert_eq!(h.percentile(90.0), Some(900));
        assert_eq!(h.percentile(99.0), Some(990));
        assert_eq!(h.percentile(99.9), Some(999));
        assert_eq!(h.percentile(100.0), Some(1000));
        assert_eq!(h.percentile(0.0), Some(1));
    }

    #[test]
    fn tail_percentiles_see_rare_outliers() {
        // 990 fast samples and 10 slow ones: p99 is still fast, p99.9 is slow.
        let mut h = from_ns(core::iter::repeat_n(100, 990).chain(core::iter::repeat_n(50_000, 10)));
        assert_eq!(h.percentile(99.0), Some(100));
        assert_eq!(h.percentile(99.1), Some(50_000));
        let s = h.summary().unwrap();
        assert_eq!(s.p50_us, 0.1);
        assert_eq!(s.p999_us, 50.0);
        assert_eq!(s.max_us, 50.0);
        assert_eq!(s.min_us, 0.1);
        assert_eq!(s.count, 1000);
        assert!((s.mean_us - 0.599).abs() < 1e-9, "{}", s.mean_us);
    }

    #[test]
    fn empty_and_single_sample() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(50.0), None);
        assert!(h.summary().is_none());
        h.record(Duration::from_micros(7));
        assert_eq!(h.percentile(0.1), Some(7000));
        assert_eq!(h.percentile(99.9), Some(7000));
    }

    #[test]
    fn merge_combines_samples_and_resorts() {
        let mut a = from_ns([5, 1]);
        assert_eq!(a.percentile(100.0), Some(5));
        a.merge(&from_ns([10, 2]));
        assert_eq!(a.summary().unwrap().count, 4);
        assert_eq!(a.percentile(100.0), Some(10));
        assert_eq!(a.percentile(50.0), Some(2));
    }
}
