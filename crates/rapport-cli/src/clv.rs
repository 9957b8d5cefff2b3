//! `rapport clv fit | summarize | predict`: the CLV models on CSV files, JSON and CSV out.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use rapport_clv::{BgNbd, GammaGamma, Period, clv, summarize};
use serde_json::json;

use crate::error::{Result, fail};

/// Reads named numeric columns of a CSV; errors name the line and column.
fn read_columns(path: &Path, cols: &[&str]) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| fail!("cannot read {}: {e}", path.display()))?;
    let headers = r
        .headers()
        .map_err(|e| fail!("cannot read the CSV header: {e}"))?
        .clone();
    let idx: Vec<usize> = cols
        .iter()
        .map(|c| {
            headers.iter().position(|h| h == *c).ok_or_else(|| {
                fail!(
                    "column `{c}` not found in {} (columns: {})",
                    path.display(),
                    headers.iter().collect::<Vec<_>>().join(", ")
                )
            })
        })
        .collect::<Result<_>>()?;
    let mut ids = Vec::new();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| fail!("malformed CSV: {e}"))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let mut row = Vec::with_capacity(cols.len());
        for (c, i) in cols.iter().zip(&idx) {
            let text = rec.get(*i).unwrap_or("");
            let v: f64 = text
                .parse()
                .map_err(|_| fail!("line {line}, column `{c}`: `{text}` is not a number"))?;
            if !v.is_finite() || v < 0.0 {
                return Err(fail!(
                    "line {line}, column `{c}`: {v} is negative or not finite"
                ));
            }
            row.push(v);
        }
        ids.push(rec.get(0).unwrap_or("").to_owned());
        rows.push(row);
    }
    Ok((ids, rows))
}

fn check_recency(rows: &[Vec<f64>], first_line: u64) -> Result<()> {
    for (i, r) in rows.iter().enumerate() {
        if r[1] > r[2] {
            return Err(fail!(
                "line {}, column `recency`: recency {} is greater than T {}",
                first_line + i as u64,
                r[1],
                r[2]
            ));
        }
    }
    Ok(())
}

/// Column names of `clv fit` and `clv predict`.
pub(crate) struct FitCols {
    pub(crate) frequency: String,
    pub(crate) recency: String,
    pub(crate) t: String,
    pub(crate) monetary: String,
}

/// `rapport clv fit`: prints the fit as JSON.
pub(crate) fn fit(model: &str, input: &Path, c: &FitCols) -> Result<serde_json::Value> {
    match model {
        "bgnbd" => {
            let (_, rows) = read_columns(input, &[&c.frequency, &c.recency, &c.t])?;
            check_recency(&rows, 2)?;
            let rows: Vec<(f64, f64, f64)> = rows.iter().map(|r| (r[0], r[1], r[2])).collect();
            let f = BgNbd::fit(&rows)?;
            Ok(
                json!({"model": "bgnbd", "params": {"r": f.model.r, "alpha": f.model.alpha, "a": f.model.a, "b": f.model.b},
                "log_likelihood": f.log_likelihood, "customers": f.customers, "skipped": f.skipped}),
            )
        }
        "gamma-gamma" => {
            let (_, rows) = read_columns(input, &[&c.frequency, &c.monetary])?;
            let rows: Vec<(f64, f64)> = rows.iter().map(|r| (r[0], r[1])).collect();
            let f = GammaGamma::fit(&rows)?;
            Ok(
                json!({"model": "gamma-gamma", "params": {"p": f.model.p, "q": f.model.q, "v": f.model.v},
                "log_likelihood": f.log_likelihood, "customers": f.customers, "skipped": f.skipped}),
            )
        }
        "pareto-nbd" | "mbgnbd" | "bgbb" => Err(fail!(
            "model `{model}` is not built yet; available: bgnbd, gamma-gamma"
        )),
        other => Err(fail!("unknown model `{other}`; use bgnbd or gamma-gamma")),
    }
}

/// `rapport clv summarize`: CSV `customer_id,frequency,recency,T,monetary_value`.
pub(crate) fn summarize_csv(
    input: &Path,
    customer: &str,
    date: &str,
    amount: &str,
    date_format: &str,
    period: Period,
    end: NaiveDate,
) -> Result<String> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(input)
        .map_err(|e| fail!("cannot read {}: {e}", input.display()))?;
    let headers = r
        .headers()
        .map_err(|e| fail!("cannot read the CSV header: {e}"))?
        .clone();
    let find = |n: &str| {
        headers
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| fail!("column `{n}` not found in {}", input.display()))
    };
    let (ci, di, ai) = (find(customer)?, find(date)?, find(amount)?);
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| fail!("malformed CSV: {e}"))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let d =
            NaiveDate::parse_from_str(rec.get(di).unwrap_or(""), date_format).map_err(|_| {
                fail!(
                    "line {line}, column `{date}`: `{}` is not a date in the format {date_format}",
                    rec.get(di).unwrap_or("")
                )
            })?;
        let a: f64 = rec.get(ai).unwrap_or("").parse().map_err(|_| {
            fail!(
                "line {line}, column `{amount}`: `{}` is not a number",
                rec.get(ai).unwrap_or("")
            )
        })?;
        rows.push((rec.get(ci).unwrap_or("").to_owned(), d, a));
    }
    let s: BTreeMap<String, rapport_clv::Summary> = summarize(rows, period, end);
    let mut out = String::from("customer_id,frequency,recency,T,monetary_value\n");
    for (k, v) in s {
        out.push_str(&format!(
            "{k},{:.1},{:.1},{:.1},{}\n",
            v.frequency, v.recency, v.t, v.monetary_value
        ));
    }
    Ok(out)
}

/// `rapport clv predict`: CSV per customer.
#[allow(clippy::too_many_arguments)]
pub(crate) fn predict(
    model: &str,
    params: &str,
    spend: Option<&str>,
    input: &Path,
    c: &FitCols,
    horizon: f64,
    months: u32,
    discount: f64,
    period: Period,
) -> Result<String> {
    if model != "bgnbd" {
        return Err(fail!(
            "prediction with `{model}` is not built yet; use --model bgnbd"
        ));
    }
    let p: serde_json::Value =
        serde_json::from_str(params).map_err(|e| fail!("--params is not JSON: {e}"))?;
    let p = p.get("params").unwrap_or(&p);
    let num = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| fail!("--params has no number `{k}`"))
    };
    let m = BgNbd::new(num(p, "r")?, num(p, "alpha")?, num(p, "a")?, num(p, "b")?)?;
    let g = match spend {
        Some(s) => {
            let v: serde_json::Value =
                serde_json::from_str(s).map_err(|e| fail!("--spend-params is not JSON: {e}"))?;
            let v = v.get("params").unwrap_or(&v).clone();
            Some(GammaGamma::new(
                num(&v, "p")?,
                num(&v, "q")?,
                num(&v, "v")?,
            )?)
        }
        None => None,
    };
    let (ids, rows) = read_columns(input, &[&c.frequency, &c.recency, &c.t, &c.monetary])?;
    check_recency(&rows, 2)?;
    let mut out = String::from("customer_id,expected_purchases,p_alive,expected_avg_profit,clv\n");
    for (id, r) in ids.iter().zip(&rows) {
        let (x, tx, t, mv) = (r[0], r[1], r[2], r[3]);
        let e = m.conditional_expected_purchases(horizon, x, tx, t);
        let pa = m.p_alive(x, tx, t);
        let (profit, value) = match g {
            Some(g) => (
                format!("{}", g.conditional_expected_average_profit(x, mv)),
                format!("{}", clv(&m, &g, x, tx, t, mv, months, discount, period)),
            ),
            None => (String::new(), String::new()),
        };
        out.push_str(&format!("{id},{e},{pa},{profit},{value}\n"));
    }
    Ok(out)
}
