//! Two-sample statistics for drift, computed as scipy computes them so the values agree with
//! scipy's to 1e-6 or better:
//!
//! - [`ks_2samp`]: `scipy.stats.ks_2samp(a, b)` (two-sided, `method="auto"`): the exact
//!   distribution when both samples have at most 10,000 values, else `kstwo.sf(d, round(m n / (m + n)))`.
//! - [`wasserstein`]: `scipy.stats.wasserstein_distance(a, b)`.
//! - [`chi2_contingency`]: `scipy.stats.chi2_contingency([[baseline], [current]])`, Yates'
//!   correction when there is one degree of freedom, as scipy does by default.
//! - [`jensen_shannon`]: `scipy.spatial.distance.jensenshannon(p, q, base=2)`.
//! - [`psi`]: the population stability index over the baseline's deciles (not in scipy;
//!   `tests/fixtures/drift/reference.py` computes the same with numpy).
//!
//! Every sample here is sorted ascending and free of NaN.

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The result of a two-sample test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    pub statistic: f64,
    pub pvalue: f64,
}

/// Above this many values in either sample, scipy's `method="auto"` leaves the exact
/// distribution for the asymptotic one.
const MAX_EXACT_N: usize = 10_000;

/// Neumaier's compensated sum: sums of millions of terms stay within a few ulps.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }
    pub fn value(self) -> f64 {
        self.sum + self.compensation
    }
}

/// The largest distance between the two empirical CDFs.
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut max_diff, mut min_diff) = (0.0f64, 0.0f64);
    while i < a.len() || j < b.len() {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
    }
    max_diff.max((-min_diff).clamp(0.0, 1.0))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Two-sample Kolmogorov-Smirnov test, two-sided. Both samples sorted and non-empty.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> TestResult {
    let (n1, n2) = (a.len() as u64, b.len() as u64);
    let mut d = ks_statistic(a, b);
    let mut exact = None;
    if a.len().max(b.len()) <= MAX_EXACT_N {
        let g = gcd(n1, n2);
        let lcm = (n1 / g) * n2;
        let h = (d * lcm as f64).round_ties_even() as u64;
        d = h as f64 / lcm as f64;
        exact = Some(if h == 0 {
            1.0
        } else if n1 == n2 {
            prob_outside_square(n1, h)
        } else {
            outer_prob_inside(n1, n2, g, h)
        });
    }
    let pvalue = match exact {
        Some(p) if p.is_finite() && (0.0..=1.0).contains(&p) => p,
        _ => {
            let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
            let en = (m * n / (m + n)).round_ties_even() as u64;
            kolmogorov_sf(en, d)
        }
    };
    TestResult {
        statistic: d,
        pvalue: pvalue.clamp(0.0, 1.0),
    }
}

/// P(D_{n,n} >= h/n), summing the alternating series with a Horner-like scheme to avoid
/// cancellation (Hodges 1958).
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (n / h).floor();
    while k >= 0.0 {
        let mut p1 = 1.0;
        let mut j = 0.0;
        while j < h {
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1.0);
            j += 1.0;
        }
        p = p1 * (1.0 - p);
        k -= 1.0;
    }
    2.0 * p
}

/// The share of lattice paths from (0,0) to (m,n) that leave the band |x/m - y/n| < h/lcm,
/// by Viehmann's numerically stable recursion for 1 - p (arXiv:2102.08037).
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (m, n, h) = (m as i64, n as i64, h as i64);
    let ceil_div = |a: i64, b: i64| -> i64 { (a as f64 / b as f64).ceil() as i64 };
    let floor_div = |a: i64, b: i64| -> i64 { (a as f64 / b as f64).floor() as i64 };

    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len_a.max(1)];
    for x in a.iter_mut().take(maxj as usize) {
        *x = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            let prev = a[(jj + minj - lastminj) as usize];
            val = (prev * i as f64 + val * j) / (i as f64 + j);
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = (start + (lastlen - curlen) as usize).min(a.len());
            for x in &mut a[start..end] {
                *x = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

const LOG_2PI: f64 = 1.837_877_066_409_345_3;
/// B_{2j} / (2j (2j - 1)) for j = 8, ..., 1: the coefficients of Stirling's series.
const STIRLING_COEFFS: [f64; 8] = [
    -3617.0 / 122_400.0,
    1.0 / 156.0,
    -691.0 / 360_360.0,
    1.0 / 1188.0,
    -1.0 / 1680.0,
    1.0 / 1260.0,
    -1.0 / 360.0,
    1.0 / 12.0,
];

/// log(n! / n^n) by Stirling's series, with n log n removed first.
fn log_nfactorial_div_n_pow_n(n: f64) -> f64 {
    let rn = 1.0 / n;
    let poly = STIRLING_COEFFS
        .iter()
        .fold(0.0, |acc, c| acc * (rn / n) + c);
    n.ln() / 2.0 - n + LOG_2PI / 2.0 + rn * poly
}

/// The survival function of the two-sided one-sample Kolmogorov statistic, P(D_n > x), choosing
/// between exact and asymptotic methods as Simard and L'Ecuyer (2011) do, as scipy's
/// `kstwo.sf` does.
pub fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    if n == 0 {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let cdf = if n <= 140 {
            (1..=n).fold(1.0, |acc, i| {
                acc * (i as f64 * (1.0 / nf) * (2.0 * t - 1.0))
            })
        } else {
            (log_nfactorial_div_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return (2.0 * (1.0 - x).powf(nf)).clamp(0.0, 1.0);
    }
    if x >= 0.5 {
        return (2.0 * smirnov(n, x)).clamp(0.0, 1.0);
    }
    let nxsquared = t * x;
    if n <= 140 {
        // scipy uses Durbin's matrix up to 0.754693 and Pomeranz's recursion up to 4; both are
        // exact, so Durbin's serves for both here.
        if nxsquared <= 4.0 {
            return (1.0 - durbin_cdf(n, x)).clamp(0.0, 1.0);
        }
        return (2.0 * smirnov(n, x)).clamp(0.0, 1.0);
    }
    if nxsquared >= 370.0 {
        return 0.0;
    }
    if nxsquared >= 2.2 {
        return (2.0 * smirnov(n, x)).clamp(0.0, 1.0);
    }
    let cdf = if nxsquared >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(nf, x)
    };
    (1.0 - cdf).clamp(0.0, 1.0)
}

/// P(D_n <= d) by Durbin's matrix method as Marsaglia, Tsang and Wang (2003) compute it.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    const E128: i32 = 128;
    let ep128 = 2f64.powi(E128);
    let em128 = 2f64.powi(-E128);
    if d >= 1.0 {
        return 1.0;
    }
    let nd = n as f64 * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;

    let mut v: Vec<f64> = (1..=m).map(|j| 1.0 - h.powi(j as i32)).collect();
    let mut w = vec![0.0; m];
    let mut fac = 1.0;
    for j in 1..=m {
        w[j - 1] = fac;
        fac /= j as f64;
        v[j - 1] *= fac;
    }
    let tt = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + tt) * fac;

    let mut hm = vec![0.0; m * m];
    for i in 1..m {
        for r in (i - 1)..m {
            hm[r * m + i] = w[r - (i - 1)];
        }
    }
    for r in 0..m {
        hm[r * m] = v[r];
    }
    for c in 0..m {
        hm[(m - 1) * m + c] = v[m - 1 - c];
    }

    let matmul = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; m * m];
        for i in 0..m {
            for k2 in 0..m {
                let aik = a[i * m + k2];
                if aik == 0.0 {
                    continue;
                }
                let (row_out, row_b) = (&mut out[i * m..(i + 1) * m], &b[k2 * m..(k2 + 1) * m]);
                for (o, bv) in row_out.iter_mut().zip(row_b) {
                    *o += aik * bv;
                }
            }
        }
        out
    };

    let mut hpwr = vec![0.0; m * m];
    for i in 0..m {
        hpwr[i * m + i] = 1.0;
    }
    let mut nn = n;
    let mut expnt: i64 = 0;
    let mut hexpnt: i64 = 0;
    while nn > 0 {
        if nn % 2 == 1 {
            hpwr = matmul(&hpwr, &hm);
            expnt += hexpnt;
        }
        hm = matmul(&hm, &hm);
        hexpnt *= 2;
        if hm[(k - 1) * m + (k - 1)].abs() > ep128 {
            for x in &mut hm {
                *x /= ep128;
            }
            hexpnt += E128 as i64;
        }
        nn /= 2;
    }
    let mut p = hpwr[(k - 1) * m + (k - 1)];
    let nf = n as f64;
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < em128 {
            p *= ep128;
            expnt -= E128 as i64;
        }
    }
    if expnt != 0 {
        p *= 2f64.powi(expnt as i32);
    }
    p.clamp(0.0, 1.0)
}

/// The Pelz-Good approximation to P(D_n <= x) (1976), for large n and small x.
fn pelz_good_cdf(n: f64, x: f64) -> f64 {
    use std::f64::consts::PI;
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let sqrt2pi = (2.0 * PI).sqrt();
    let (pi2, pi4, pi6) = (PI * PI, PI.powi(4), PI.powi(6));
    let z = n.sqrt() * x;
    let (z2, z3, z4, z6) = (z * z, z.powi(3), z.powi(4), z.powi(6));
    let qlog = -pi2 / 8.0 / z2;
    if qlog < -708.0 {
        return 0.0;
    }
    let q = qlog.exp();
    let (k1a, k1b) = (-z2, pi2 / 4.0);
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powi(8);

    let mut k = [0.0f64; 4];
    let maxk = (16.0 * z / PI).ceil() as i64;
    for kk in (1..=maxk).rev() {
        let m = (2 * kk - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let qpower = q.powf(8.0 * kk as f64);
        let coeffs = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (acc, c) in k.iter_mut().zip(coeffs) {
            *acc = *acc * qpower + c;
        }
    }
    let divisors = [z, 6.0 * z4, 72.0 * z.powi(7), 6480.0 * z.powi(10)];
    for (acc, d) in k.iter_mut().zip(divisors) {
        *acc = *acc * q * sqrt2pi / d;
    }
    let q = (-pi2 / 2.0 / z2).exp();
    let (mut k2extra, mut k3extra) = (0.0, 0.0);
    let sqrt3z = 3f64.sqrt() * z;
    for kk in (1..=maxk).rev() {
        let kf = kk as f64;
        let ksq = kf * kf;
        let qp = q.powf(ksq);
        k2extra += ksq * qp;
        let kspi = PI * kf;
        k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
    }
    k[2] += k2extra * pi2 * sqrt2pi / (-36.0 * z3);
    k[3] += k3extra * pi2 * sqrt2pi / (216.0 * z6);
    k.iter()
        .enumerate()
        .map(|(i, v)| v / n.powf(i as f64 / 2.0))
        .sum()
}

/// The one-sided Smirnov survival function P(D_n^+ >= x), by the Birnbaum-Tingey sum (exact),
/// or, above a million, the approximation scipy uses there.
pub fn smirnov(n: u64, x: f64) -> f64 {
    if n == 0 || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    if -2.0 * nf * x * x < -708.0 {
        return 0.0;
    }
    if n > 1_000_000 {
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 - (-logp.exp_m1())
        };
    }
    // ln C(n, j) is carried from one term to the next; the sum stops, as scipy's does, once the
    // terms left cannot change it.
    let jmax = (nf * (1.0 - x)).floor() as u64;
    let mut ln_binomial = 0.0;
    let mut sum = Sum::default();
    for j in 0..=jmax {
        let jf = j as f64;
        if j > 0 {
            ln_binomial += ((nf - jf + 1.0) / jf).ln();
        }
        let a = 1.0 - x - jf / nf;
        let b = x + jf / nf;
        let term = if a <= 0.0 {
            // (1 - x - j/n)^(n - j) is 0 unless n = j.
            if j == n { b.powf(jf - 1.0) } else { 0.0 }
        } else {
            (ln_binomial + (nf - jf) * a.ln() + (jf - 1.0) * b.ln()).exp()
        };
        sum.add(term);
        if term != 0.0 && j != jmax && 4.0 * (jmax - j) as f64 * term < f64::EPSILON * sum.value() {
            break;
        }
    }
    (x * sum.value()).clamp(0.0, 1.0)
}

/// `scipy.stats.wasserstein_distance(a, b)`: the area between the two empirical CDFs.
pub fn wasserstein(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut total = Sum::default();
    let mut prev: Option<f64> = None;
    loop {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        if let Some(p) = prev {
            // Between the previous value and this one both CDFs are flat.
            let gap = v - p;
            total.add((i as f64 / n1 - j as f64 / n2).abs() * gap);
        }
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        prev = Some(v);
    }
    total.value()
}

/// Linear-interpolation quantile of a sorted sample (numpy's default method).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = h - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// Population stability index of `current` against `baseline`, over the baseline's deciles:
/// edges are the distinct 10th..90th percentiles, bin i holds (edge[i-1], edge[i]], shares are
/// floored at 1e-4, and PSI = sum (cur - base) ln(cur / base).
pub fn psi(baseline: &[f64], current: &[f64]) -> f64 {
    let mut edges: Vec<f64> = (1..10)
        .map(|k| quantile_sorted(baseline, k as f64 / 10.0))
        .collect();
    edges.dedup();
    // Both samples are sorted: a bin's count is the gap between two binary searches.
    let shares = |sample: &[f64]| -> Vec<f64> {
        let mut bounds: Vec<usize> = edges
            .iter()
            .map(|&e| sample.partition_point(|&x| x <= e))
            .collect();
        bounds.push(sample.len());
        let mut previous = 0;
        bounds
            .into_iter()
            .map(|end| {
                let count = end - previous;
                previous = end;
                (count as f64 / sample.len() as f64).max(1e-4)
            })
            .collect()
    };
    let (base, cur) = (shares(baseline), shares(current));
    let mut total = Sum::default();
    for (b, c) in base.iter().zip(&cur) {
        total.add((c - b) * (c / b).ln());
    }
    total.value()
}

/// Chi-square test of homogeneity of two count vectors over the same categories
/// (`scipy.stats.chi2_contingency`, Yates' correction at one degree of freedom).
/// Categories empty in both are dropped.
pub fn chi2_contingency(baseline: &[u64], current: &[u64]) -> TestResult {
    let cols: Vec<(f64, f64)> = baseline
        .iter()
        .zip(current)
        .filter(|(a, b)| **a + **b > 0)
        .map(|(&a, &b)| (a as f64, b as f64))
        .collect();
    let dof = cols.len().saturating_sub(1);
    let (r0, r1): (f64, f64) = cols
        .iter()
        .fold((0.0, 0.0), |(x, y), (a, b)| (x + a, y + b));
    let total = r0 + r1;
    if dof == 0 || r0 == 0.0 || r1 == 0.0 {
        return TestResult {
            statistic: 0.0,
            pvalue: 1.0,
        };
    }
    let mut stat = Sum::default();
    for &(a, b) in &cols {
        let col = a + b;
        for (observed, row) in [(a, r0), (b, r1)] {
            let expected = row * col / total;
            let mut o = observed;
            if dof == 1 {
                let diff = expected - o;
                o += 0.5f64.min(diff.abs()) * diff.signum();
            }
            stat.add((o - expected).powi(2) / expected);
        }
    }
    let statistic = stat.value();
    let pvalue = ChiSquared::new(dof as f64)
        .map(|d| d.sf(statistic))
        .unwrap_or(f64::NAN);
    TestResult { statistic, pvalue }
}

/// Jensen-Shannon distance (base 2, in [0, 1]) between two count vectors.
pub fn jensen_shannon(baseline: &[u64], current: &[u64]) -> f64 {
    let (sp, sq) = (
        baseline.iter().sum::<u64>() as f64,
        current.iter().sum::<u64>() as f64,
    );
    let (mut left, mut right) = (Sum::default(), Sum::default());
    for (&a, &b) in baseline.iter().zip(current) {
        let (p, q) = (a as f64 / sp, b as f64 / sq);
        let m = (p + q) / 2.0;
        if p > 0.0 {
            left.add(p * (p / m).ln());
        }
        if q > 0.0 {
            right.add(q * (q / m).ln());
        }
    }
    let js = (left.value() + right.value()) / std::f64::consts::LN_2;
    (js / 2.0).max(0.0).sqrt()
}

/// The largest change of one category's share.
pub fn linf(baseline: &[u64], current: &[u64]) -> f64 {
    let (sp, sq) = (
        baseline.iter().sum::<u64>() as f64,
        current.iter().sum::<u64>() as f64,
    );
    baseline
        .iter()
        .zip(current)
        .map(|(&a, &b)| (a as f64 / sp - b as f64 / sq).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_have_no_distance() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let r = ks_2samp(&a, &a);
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.pvalue, 1.0);
        assert_eq!(wasserstein(&a, &a), 0.0);
        assert!(psi(&a, &a).abs() < 1e-12);
    }

    #[test]
    fn disjoint_samples_have_ks_one() {
        let r = ks_2samp(&[1.0, 2.0, 3.0], &[10.0, 11.0, 12.0, 13.0]);
        assert_eq!(r.statistic, 1.0);
        // scipy.stats.ks_2samp([1,2,3],[10,11,12,13]).pvalue == 0.05714285714285714
        assert!(
            (r.pvalue - 0.057_142_857_142_857_14).abs() < 1e-12,
            "{}",
            r.pvalue
        );
    }

    #[test]
    fn wasserstein_of_a_shift_is_the_shift() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 2.5).collect();
        assert!((wasserstein(&a, &b) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn jensen_shannon_of_disjoint_distributions_is_one() {
        assert!((jensen_shannon(&[5, 0], &[0, 7]) - 1.0).abs() < 1e-12);
        assert_eq!(linf(&[5, 0], &[0, 7]), 1.0);
    }
}
