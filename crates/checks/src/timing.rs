//! Whether two sets of answer times differ by more than chance and network noise (issue 15:
//! user enumeration by timing).
//!
//! The test is Mann–Whitney U (rank-based: one slow answer cannot carry it, and it assumes no
//! distribution), two-sided, with the normal approximation and the tie correction (times are
//! whole milliseconds, so ties are common). A difference counts only when all three hold:
//! - p < [`ALPHA`] (a false alarm in at most one run of a thousand under the null hypothesis);
//! - the samples are nearly separated: the probability that a time from one side exceeds one
//!   from the other is at least [`MIN_SEPARATION`] (or at most 1 − it);
//! - the medians differ by at least [`MIN_GAP_MS`] and by a quarter of the faster median, a
//!   gap an attacker can measure over a network.
//!
//! A caller that wants a stated false-alarm rate over the whole check replicates: two
//! independent rounds that must both pass, in the same direction, bound it by ALPHA² / 2.

/// The largest two-sided p-value that counts as a difference.
pub const ALPHA: f64 = 0.001;
/// The least probability that a time of the slower side exceeds one of the faster side.
pub const MIN_SEPARATION: f64 = 0.85;
/// The least difference between the medians, in milliseconds.
pub const MIN_GAP_MS: f64 = 5.0;

/// How two samples compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub median_a: f64,
    pub median_b: f64,
    /// P(a > b) + P(a = b) / 2: 1 when every `a` is slower than every `b`.
    pub separation: f64,
    /// The two-sided p-value of Mann–Whitney U.
    pub p_value: f64,
}

impl Comparison {
    /// True when `a` and `b` differ by the three rules above; `a_slower` says which way.
    pub fn differs(&self) -> bool {
        let (slow, fast) = if self.median_a >= self.median_b {
            (self.median_a, self.median_b)
        } else {
            (self.median_b, self.median_a)
        };
        let separated =
            self.separation >= MIN_SEPARATION || self.separation <= 1.0 - MIN_SEPARATION;
        self.p_value < ALPHA && separated && slow - fast >= MIN_GAP_MS.max(fast / 4.0)
    }

    pub fn a_slower(&self) -> bool {
        self.median_a > self.median_b
    }
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Mann–Whitney U of `a` against `b`.
pub fn compare(a: &[f64], b: &[f64]) -> Comparison {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|x| (*x, true))
        .chain(b.iter().map(|x| (*x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Mid-ranks for ties, and the tie term of the variance.
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        rank_sum_a += all[i..=j].iter().filter(|x| x.1).count() as f64 * rank;
        i = j + 1;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    let p_value = if variance <= 0.0 {
        1.0
    } else {
        // Continuity correction toward the mean.
        let z = ((u - mean).abs() - 0.5).max(0.0) / variance.sqrt();
        erfc(z / std::f64::consts::SQRT_2).min(1.0)
    };
    Comparison {
        median_a: median(a),
        median_b: median(b),
        separation: u / (n1 * n2),
        p_value,
    }
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so the tests need no crate and never flake.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        /// A network-like answer time: a base, jitter, and now and then a slow outlier,
        /// rounded to whole milliseconds as the transport records it.
        fn answer_ms(&mut self, base: f64) -> f64 {
            let jitter = -3.0 * (1.0 - self.next()).ln();
            let outlier = if self.next() < 0.05 {
                40.0 * self.next()
            } else {
                0.0
            };
            (base + jitter + outlier).round()
        }
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122),
            (1.0, 0.157_299_207),
            (2.0, 0.004_677_735),
            (-1.0, 1.842_700_793),
        ] {
            assert!((erfc(x) - want).abs() < 1e-6, "{x}");
        }
    }

    #[test]
    fn u_and_p_match_a_worked_example() {
        // Fully separated samples of 16: U = 256, z ≈ 4.81, p ≈ 1.5e-6.
        let a: Vec<f64> = (0..16).map(|i| 30.0 + i as f64).collect();
        let b: Vec<f64> = (0..16).map(|i| 3.0 + i as f64 / 10.0).collect();
        let c = compare(&a, &b);
        assert_eq!(c.separation, 1.0);
        assert!(c.p_value < 1e-5 && c.p_value > 1e-7, "{}", c.p_value);
        assert!(c.differs() && c.a_slower());
        let back = compare(&b, &a);
        assert_eq!(back.separation, 0.0);
        assert!(back.differs() && !back.a_slower());
    }

    #[test]
    fn identical_and_all_tied_samples_do_not_differ() {
        let a = vec![4.0; 16];
        let c = compare(&a, &a);
        assert_eq!(c.p_value, 1.0);
        assert!(!c.differs());
    }

    #[test]
    fn a_leak_of_thirty_milliseconds_under_network_noise_is_found() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut found = 0;
        for _ in 0..200 {
            let known: Vec<f64> = (0..16).map(|_| rng.answer_ms(33.0)).collect();
            let unknown: Vec<f64> = (0..16).map(|_| rng.answer_ms(3.0)).collect();
            found += compare(&known, &unknown).differs() as usize;
        }
        assert!(found >= 198, "{found}/200");
    }

    #[test]
    fn equal_work_under_network_noise_stays_below_the_stated_false_alarm_rate() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let runs = 20_000;
        let mut alarms = 0;
        for _ in 0..runs {
            let known: Vec<f64> = (0..16).map(|_| rng.answer_ms(30.0)).collect();
            let unknown: Vec<f64> = (0..16).map(|_| rng.answer_ms(30.0)).collect();
            alarms += compare(&known, &unknown).differs() as usize;
        }
        // ALPHA is 1e-3 per round; the separation and gap rules only remove alarms.
        assert!(
            alarms as f64 <= runs as f64 * ALPHA,
            "{alarms} false alarms in {runs}"
        );
    }

    #[test]
    fn a_gap_too_small_to_measure_is_not_a_difference() {
        // Perfectly separated but 2 ms apart: below MIN_GAP_MS.
        let a = vec![12.0; 16];
        let b = vec![10.0; 16];
        let c = compare(&a, &b);
        assert!(c.p_value < ALPHA);
        assert!(!c.differs());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
