//! The statistics of a backtest (SPEC §11, settled detail 11), from the daily series alone:
//! exceptions, Kupiec's proportion of failures, Christoffersen's independence and
//! conditional coverage, the Basel traffic light, Acerbi–Székely Z₂ and the
//! procyclicality of initial margin.
//!
//! With T days, exceptions I_t, x = Σ I_t, p = 1 − α, x̂ = x/T and 0·ln 0 = 0:
//!
//! ```text
//! LR_uc  = −2 ln[(1−p)^(T−x) p^x] + 2 ln[(1−x̂)^(T−x) x̂^x]                  ~ χ²(1)
//! LR_ind = −2 ln[(1−π)^(n₀₀+n₁₀) π^(n₀₁+n₁₁)]
//!          + 2 ln[(1−π₀₁)^n₀₀ π₀₁^n₀₁ (1−π₁₁)^n₁₀ π₁₁^n₁₁]                   ~ χ²(1)
//! LR_cc  = LR_uc + LR_ind                                                     ~ χ²(2)
//! zone   = green if P[Bin(D, p) ≤ x_D] < 0.95, yellow if < 0.9999, else red; D = min(T, 250)
//! Z₂     = 1 − (1/(T p)) Σ_t L_t I_t / ES_t
//! ```
//! LRs are clamped at 0 (rounding can make a zero statistic slightly negative).

use serde::Serialize;

/// Days of the traffic light's window (Basel: the last 250 business days).
pub const TRAFFIC_LIGHT_DAYS: usize = 250;

/// Kupiec's proportion-of-failures test.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Kupiec {
    pub lr: f64,
    pub p_value: f64,
}

/// Christoffersen's independence and conditional-coverage tests.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Christoffersen {
    pub lr_ind: f64,
    pub p_ind: f64,
    pub lr_cc: f64,
    pub p_cc: f64,
}

/// The Basel zone of a backtest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Zone {
    Green,
    Yellow,
    Red,
}

impl Zone {
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Green => "green",
            Zone::Yellow => "yellow",
            Zone::Red => "red",
        }
    }
}

/// The Basel traffic light on the last min(T, 250) days.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TrafficLight {
    pub zone: Zone,
    pub exceptions_250: usize,
}

/// Acerbi–Székely's Z₂; `None` when an exception day forecast ES ≤ 0 (the ratio L/ES has
/// no meaning there).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EsTest {
    pub z2: Option<f64>,
}

/// How much initial margin moved: `None` where undefined (settled detail 11: T ≤ 5 or
/// T ≤ 30; a zero IM in the denominator).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Procyclicality {
    pub peak_to_trough: Option<f64>,
    pub max_increase_5d: Option<f64>,
    pub max_increase_30d: Option<f64>,
}

/// n ln p with 0·ln 0 = 0.
fn n_ln(n: usize, p: f64) -> f64 {
    if n == 0 { 0.0 } else { n as f64 * p.ln() }
}

/// P[χ²(1) > x] = erfc(√(x/2)).
pub fn chi2_1_sf(x: f64) -> f64 {
    libm::erfc((x.max(0.0) / 2.0).sqrt())
}

/// P[χ²(2) > x] = e^{−x/2}.
pub fn chi2_2_sf(x: f64) -> f64 {
    (-x.max(0.0) / 2.0).exp()
}

/// Kupiec's LR_uc over `exceptions` with coverage probability `p` = 1 − α.
pub fn kupiec(exceptions: &[bool], p: f64) -> Kupiec {
    let t = exceptions.len();
    let x = exceptions.iter().filter(|&&e| e).count();
    let x_hat = if t == 0 { 0.0 } else { x as f64 / t as f64 };
    let null = n_ln(t - x, 1.0 - p) + n_ln(x, p);
    let fitted = n_ln(t - x, 1.0 - x_hat) + n_ln(x, x_hat);
    let lr = (2.0 * (fitted - null)).max(0.0);
    Kupiec {
        lr,
        p_value: chi2_1_sf(lr),
    }
}

/// Christoffersen's tests over the T − 1 pairs of consecutive days (settled detail 11);
/// `kupiec_lr` is LR_uc of the same days.
pub fn christoffersen(exceptions: &[bool], kupiec_lr: f64) -> Christoffersen {
    let mut n = [[0usize; 2]; 2];
    for pair in exceptions.windows(2) {
        n[pair[0] as usize][pair[1] as usize] += 1;
    }
    let ratio = |a: usize, b: usize| {
        if a + b == 0 {
            0.0
        } else {
            b as f64 / (a + b) as f64
        }
    };
    let pi01 = ratio(n[0][0], n[0][1]);
    let pi11 = ratio(n[1][0], n[1][1]);
    let pi = ratio(n[0][0] + n[1][0], n[0][1] + n[1][1]);
    let null = n_ln(n[0][0] + n[1][0], 1.0 - pi) + n_ln(n[0][1] + n[1][1], pi);
    let markov = n_ln(n[0][0], 1.0 - pi01)
        + n_ln(n[0][1], pi01)
        + n_ln(n[1][0], 1.0 - pi11)
        + n_ln(n[1][1], pi11);
    let lr_ind = (2.0 * (markov - null)).max(0.0);
    let lr_cc = (kupiec_lr + lr_ind).max(0.0);
    Christoffersen {
        lr_ind,
        p_ind: chi2_1_sf(lr_ind),
        lr_cc,
        p_cc: chi2_2_sf(lr_cc),
    }
}

/// P[Binomial(n, p) ≤ x], summing the probabilities from pmf(0) = (1 − p)^n upwards by
/// pmf(k + 1) = pmf(k)·(n − k)/(k + 1)·p/(1 − p).
pub fn binomial_cdf(x: usize, n: usize, p: f64) -> f64 {
    if x >= n {
        return 1.0;
    }
    let mut pmf = (1.0 - p).powi(n as i32);
    let mut cdf = pmf;
    for k in 0..x {
        pmf *= (n - k) as f64 / (k + 1) as f64 * p / (1.0 - p);
        cdf += pmf;
    }
    cdf.min(1.0)
}

/// The Basel zone of `exceptions_in_window` exceptions over `days` days at probability `p`.
pub fn zone(exceptions_in_window: usize, days: usize, p: f64) -> Zone {
    let cdf = binomial_cdf(exceptions_in_window, days, p);
    if cdf < 0.95 {
        Zone::Green
    } else if cdf < 0.9999 {
        Zone::Yellow
    } else {
        Zone::Red
    }
}

/// The traffic light on the last min(T, 250) days.
pub fn traffic_light(exceptions: &[bool], p: f64) -> TrafficLight {
    let days = exceptions.len().min(TRAFFIC_LIGHT_DAYS);
    let last = &exceptions[exceptions.len() - days..];
    let x = last.iter().filter(|&&e| e).count();
    TrafficLight {
        zone: zone(x, days, p),
        exceptions_250: x,
    }
}

/// Acerbi–Székely Z₂ = 1 − (1/(T p)) Σ_t L_t I_t / ES_t, as SPEC §11 writes it for any
/// sign of ES_t; `None` when an exception day's ES_t is 0 (L_t/0 is no number).
pub fn z2(losses: &[f64], es: &[f64], exceptions: &[bool], p: f64) -> EsTest {
    let t = exceptions.len();
    let mut sum = 0.0;
    for ((&l, &e), &hit) in losses.iter().zip(es).zip(exceptions) {
        if hit {
            if e == 0.0 {
                return EsTest { z2: None };
            }
            sum += l / e;
        }
    }
    EsTest {
        z2: (t > 0).then(|| 1.0 - sum / (t as f64 * p)),
    }
}

/// peak_to_trough = max IM / min IM; max_increase_k = max over t of IM_t / IM_{t−k} − 1
/// (entries k earlier in the series; ratios over a zero IM are left out).
pub fn procyclicality(initial: &[f64]) -> Procyclicality {
    let max = initial.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = initial.iter().copied().fold(f64::INFINITY, f64::min);
    let increase = |lag: usize| -> Option<f64> {
        initial
            .iter()
            .skip(lag)
            .zip(initial)
            .filter(|&(_, &before)| before > 0.0)
            .map(|(&now, &before)| now / before - 1.0)
            .reduce(f64::max)
    };
    Procyclicality {
        peak_to_trough: (min > 0.0 && max.is_finite()).then(|| max / min),
        max_increase_5d: increase(5),
        max_increase_30d: increase(30),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(days: usize, exception_days: &[usize]) -> Vec<bool> {
        (0..days).map(|d| exception_days.contains(&d)).collect()
    }

    /// Basel's table at 99 % over 250 days: 0–4 green, 5–9 yellow, 10 or more red.
    #[test]
    fn basel_zones() {
        for (x, expected) in [
            (0, Zone::Green),
            (4, Zone::Green),
            (5, Zone::Yellow),
            (9, Zone::Yellow),
            (10, Zone::Red),
            (15, Zone::Red),
        ] {
            assert_eq!(zone(x, 250, 0.01), expected, "{x} exceptions");
        }
        // Basel's cumulative probabilities (to the table's 4 decimals).
        assert!((binomial_cdf(4, 250, 0.01) - 0.8922).abs() < 5e-5);
        assert!((binomial_cdf(5, 250, 0.01) - 0.9588).abs() < 5e-5);
        assert!((binomial_cdf(9, 250, 0.01) - 0.9997).abs() < 5e-5);
    }

    #[test]
    fn chi_square_tails() {
        // χ²(1) 95 % and 99 % points; χ²(2) 95 % point.
        assert!((chi2_1_sf(3.841_458_820_694_124) - 0.05).abs() < 1e-12);
        assert!((chi2_1_sf(6.634_896_601_021_214) - 0.01).abs() < 1e-12);
        assert!((chi2_2_sf(5.991_464_547_107_979) - 0.05).abs() < 1e-12);
        assert_eq!(chi2_1_sf(0.0), 1.0);
        assert_eq!(chi2_2_sf(0.0), 1.0);
    }

    #[test]
    fn kupiec_is_zero_at_the_expected_rate_and_finite_without_exceptions() {
        let k = kupiec(&series(500, &[10, 100, 200, 300, 400]), 0.01);
        assert!(k.lr.abs() < 1e-9 && (k.p_value - 1.0).abs() < 1e-6);
        // No exception: LR = −2·T·ln(1 − p).
        let none = kupiec(&series(250, &[]), 0.01);
        assert!((none.lr + 2.0 * 250.0 * (0.99f64).ln()).abs() < 1e-9);
    }

    #[test]
    fn christoffersen_sees_clustering() {
        let spread = series(500, &[50, 150, 250, 350, 450]);
        let clustered = series(500, &[200, 201, 202, 203, 204]);
        let lr = kupiec(&spread, 0.01).lr;
        let a = christoffersen(&spread, lr);
        let b = christoffersen(&clustered, lr);
        assert!(a.p_ind > 0.5 && b.p_ind < 1e-6, "{a:?} {b:?}");
        assert!((b.lr_cc - b.lr_ind - lr).abs() < 1e-12);
    }

    #[test]
    fn z2_and_procyclicality() {
        // Exceptions losing exactly ES at the expected rate: Z₂ = 0.
        let hits = series(100, &[7]);
        let es = vec![2.0; 100];
        let mut losses = vec![0.0; 100];
        losses[7] = 2.0;
        assert!(z2(&losses, &es, &hits, 0.01).z2.unwrap().abs() < 1e-12);
        // A negative ES on an exception day enters the sum as written: 1 − (−1/−2)/(100·0.01).
        let mut negative = es.clone();
        negative[7] = -2.0;
        losses[7] = -1.0;
        assert_eq!(z2(&losses, &negative, &hits, 0.01).z2, Some(0.5));
        // An ES of 0 on an exception day: L/0 is no number.
        negative[7] = 0.0;
        assert_eq!(z2(&losses, &negative, &hits, 0.01).z2, None);
        let im = [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 4.0];
        let p = procyclicality(&im);
        assert_eq!(p.peak_to_trough, Some(4.0));
        assert_eq!(p.max_increase_5d, Some(1.0));
        assert_eq!(p.max_increase_30d, None);
        assert_eq!(procyclicality(&im[..5]).max_increase_5d, None);
    }
}
