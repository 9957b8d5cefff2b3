//! rapport-clv on synthetic CDNOW-like customers (whole weeks): the BG/NBD and Gamma-Gamma
//! fits on 1M customers, and on the same customers already grouped into distinct rows with
//! counts, beside one naive pass of the likelihood over the same rows, and
//! 12-month CLV of 100k customers beside their closed-form P(alive).
//!
//! Run: `cargo bench -p rapport-clv --bench clv`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_clv::*;

/// xorshift64* with gamma and beta draws (Marsaglia–Tsang).
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0) * self.unit().powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let n = (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos();
            let v = (1.0 + c * n).powi(3);
            if v > 0.0 && self.unit().ln() < 0.5 * n * n + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
}

/// (frequency, recency, T, monetary) in whole weeks, BG/NBD + Gamma-Gamma at CDNOW's
/// published parameters.
fn customers(n: usize) -> Vec<(f64, f64, f64, f64)> {
    let mut rng = Rng(0x5EED);
    (0..n)
        .map(|_| {
            let lambda = rng.gamma(0.243) / 4.414;
            let (pa, pb) = (rng.gamma(0.793), rng.gamma(2.426));
            let p = pa / (pa + pb);
            let t = (39.0 + (rng.unit() * 40.0).floor()).min(78.0);
            let (mut now, mut x, mut last): (f64, f64, f64) = (0.0, 0.0, 0.0);
            loop {
                now += -rng.unit().ln() / lambda;
                if now >= t {
                    break;
                }
                if now.floor() != last {
                    x += 1.0;
                    last = now.floor();
                }
                if rng.unit() < p {
                    break;
                }
            }
            let nu = rng.gamma(3.74) / 15.44;
            let m = if x > 0.0 {
                (rng.gamma(6.25 * x) / (x * nu) * 100.0).round() / 100.0
            } else {
                0.0
            };
            (x, if x > 0.0 { last } else { 0.0 }, t, m)
        })
        .collect()
}

fn bench_fit(c: &mut Criterion) {
    let data = customers(1_000_000);
    let rows: Vec<(f64, f64, f64)> = data.iter().map(|r| (r.0, r.1, r.2)).collect();
    let spend: Vec<(f64, f64)> = data.iter().map(|r| (r.0, r.3)).collect();
    let at = BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap();
    let mut g = c.benchmark_group("fit_1m_customers");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("baseline_one_naive_likelihood_pass", |b| {
        b.iter(|| black_box(at.log_likelihood(black_box(&rows))))
    });
    g.bench_function("bgnbd_fit", |b| {
        b.iter(|| black_box(BgNbd::fit(&rows).unwrap()))
    });
    g.bench_function("gamma_gamma_fit", |b| {
        b.iter(|| black_box(GammaGamma::fit(&spend).unwrap()))
    });
    // The same customers already grouped: distinct rows with their counts.
    let (rows_grouped, rows_counts) = grouped(rows.iter().map(|r| [r.0, r.1, r.2]));
    let (spend_grouped, spend_counts) = grouped(spend.iter().map(|r| [r.0, r.1]));
    let rows_grouped: Vec<(f64, f64, f64)> =
        rows_grouped.iter().map(|r| (r[0], r[1], r[2])).collect();
    let spend_grouped: Vec<(f64, f64)> = spend_grouped.iter().map(|r| (r[0], r[1])).collect();
    g.bench_function("bgnbd_fit_weighted_distinct_rows", |b| {
        b.iter(|| black_box(BgNbd::fit_weighted(&rows_grouped, &rows_counts).unwrap()))
    });
    g.bench_function("gamma_gamma_fit_weighted_distinct_rows", |b| {
        b.iter(|| black_box(GammaGamma::fit_weighted(&spend_grouped, &spend_counts).unwrap()))
    });
    g.finish();
}

/// Distinct rows with their counts.
fn grouped<const N: usize>(rows: impl Iterator<Item = [f64; N]>) -> (Vec<[f64; N]>, Vec<f64>) {
    let mut m = std::collections::BTreeMap::<[u64; N], f64>::new();
    for r in rows {
        *m.entry(r.map(f64::to_bits)).or_default() += 1.0;
    }
    m.into_iter()
        .map(|(k, w)| (k.map(f64::from_bits), w))
        .unzip()
}

fn bench_clv(c: &mut Criterion) {
    let data = customers(100_000);
    let m = BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap();
    let s = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
    let mut g = c.benchmark_group("clv_100k_customers");
    g.sample_size(10);
    g.throughput(Throughput::Elements(data.len() as u64));
    g.bench_function("baseline_p_alive", |b| {
        b.iter(|| {
            black_box(
                data.iter()
                    .map(|(x, tx, t, _)| m.p_alive(*x, *tx, *t))
                    .sum::<f64>(),
            )
        })
    });
    let weekly = ClvParams::new(Period::Week);
    g.bench_function("clv_12_months", |b| {
        b.iter(|| {
            black_box(
                data.iter()
                    .map(|&(frequency, recency, t, monetary_value)| {
                        let customer = Summary {
                            frequency,
                            recency,
                            t,
                            monetary_value,
                        };
                        clv(&m, &s, &customer, &weekly)
                    })
                    .sum::<f64>(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench_fit, bench_clv);
criterion_main!(benches);
