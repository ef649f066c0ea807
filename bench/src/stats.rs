//! Percentiles of latency series and a least-squares slope.

/// Figures of one latency series, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarises `samples` (nanoseconds; sorted in place). Percentiles are
    /// nearest-rank: the smallest sample with at least that share of the
    /// samples at or below it.
    pub fn of(samples: &mut [u64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let n = samples.len();
        let rank = |p: f64| {
            let r = (p * n as f64).ceil() as usize;
            samples[r.clamp(1, n) - 1] as f64
        };
        let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
        Summary {
            n,
            p50: rank(0.50),
            p99: rank(0.99),
            p999: rank(0.999),
            mean: sum as f64 / n as f64,
            max: samples[n - 1] as f64,
        }
    }
}

/// Least-squares slope of `ys` over `xs`; 0 with fewer than two points.
pub fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return 0.0;
    }
    let mx = xs[..n].iter().sum::<f64>() / n as f64;
    let my = ys[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for i in 0..n {
        sxy += (xs[i] - mx) * (ys[i] - my);
        sxx += (xs[i] - mx) * (xs[i] - mx);
    }
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=1000).rev().collect();
        let s = Summary::of(&mut v);
        assert_eq!((s.p50, s.p99, s.p999, s.max), (500.0, 990.0, 999.0, 1000.0));
        assert_eq!(s.mean, 500.5);
        assert_eq!(Summary::of(&mut []).n, 0);
        assert_eq!(Summary::of(&mut [7]).p999, 7.0);
    }

    #[test]
    fn slope_of_a_line() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        let ys = [5.0, 7.0, 9.0, 11.0];
        assert!((slope(&xs, &ys) - 2.0).abs() < 1e-12);
        assert_eq!(slope(&[1.0], &[1.0]), 0.0);
    }
}
