//! `rapport clv fit | summarize | predict`: the CLV models on CSV files, JSON and CSV out.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use chrono::NaiveDate;
use rapport_clv::{
    BgBb, BgNbd, ClvParams, CountModel, GammaGamma, MbgNbd, Opportunities, ParetoNbd, Period,
    discount_monthly, summarize,
};
use serde_json::json;

use crate::error::{Result, fail};
use crate::table::{Table, read_columns};

/// Rejects recency > T, and recency without repeat purchases (columns 0, 1 and 2).
fn check_recency(t: &Table) -> Result<()> {
    // A branch-free pass on all cores first; the rows again, in order, only to name the first
    // bad one.
    let (x, tx, big_t) = (t.col(0), t.col(1), t.col(2));
    let fine = |r: std::ops::Range<usize>| {
        let mut fine = true;
        for i in r {
            fine &= !(x[i] == 0.0 && tx[i] > 0.0) & (tx[i] <= big_t[i]);
        }
        vec![fine]
    };
    let threads = crate::par::threads(t.len() * 24);
    if crate::par::map_ranges(t.len(), threads, fine)
        .into_iter()
        .all(|f| f)
    {
        return Ok(());
    }
    for (i, (r, big_t)) in t.col(1).iter().zip(t.col(2)).enumerate() {
        if t.col(0)[i] == 0.0 && *r > 0.0 {
            return Err(fail!(
                "line {}, column `recency`: recency {r} without a repeat purchase (frequency 0 means recency 0)",
                t.line(i)
            ));
        }
        if r > big_t {
            return Err(fail!(
                "line {}, column `recency`: recency {r} is greater than T {big_t}",
                t.line(i)
            ));
        }
    }
    Ok(())
}

/// `(frequency, monetary value)` rows of a table of those two columns.
fn spend_rows(t: &Table) -> Vec<(f64, f64)> {
    t.col(0)
        .iter()
        .copied()
        .zip(t.col(1).iter().copied())
        .collect()
}

fn triples(t: &Table) -> Vec<(f64, f64, f64)> {
    (0..t.len())
        .map(|i| (t.col(0)[i], t.col(1)[i], t.col(2)[i]))
        .collect()
}

/// The models of `clv fit` and `clv predict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Model {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    Bgnbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbd,
    /// MBG/NBD (Batislam, Denizel & Filiztekin 2007).
    Mbgnbd,
    /// BG/BB for discrete opportunities (Fader, Hardie & Shang 2010).
    Bgbb,
    /// Gamma-Gamma spend (Fader, Hardie & Lee 2005).
    GammaGamma,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Bgnbd => "bgnbd",
            Model::ParetoNbd => "pareto-nbd",
            Model::Mbgnbd => "mbgnbd",
            Model::Bgbb => "bgbb",
            Model::GammaGamma => "gamma-gamma",
        }
    }
}

/// The summary's column names (`--frequency-col`, …), shared by the `clv` subcommands.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct SummaryCols {
    #[arg(long = "frequency-col", default_value = "frequency")]
    pub(crate) frequency: String,
    #[arg(long = "recency-col", default_value = "recency")]
    pub(crate) recency: String,
    #[arg(long = "t-col", default_value = "T")]
    pub(crate) t: String,
    #[arg(long = "monetary-col", default_value = "monetary_value")]
    pub(crate) monetary: String,
}

/// Column names of `clv fit` and `clv predict`: the summary's, and BG/BB's and weights.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct FitCols {
    #[command(flatten)]
    pub(crate) summary: SummaryCols,
    /// BG/BB: the column of opportunities observed.
    #[arg(long = "periods-col", default_value = "periods")]
    pub(crate) periods: String,
    /// How many customers each row stands for (bgnbd, pareto-nbd, mbgnbd, bgbb).
    #[arg(long = "weights-col")]
    pub(crate) weights: Option<String>,
}

impl std::ops::Deref for FitCols {
    type Target = SummaryCols;
    fn deref(&self) -> &SummaryCols {
        &self.summary
    }
}

fn fit_json<M: serde::Serialize>(
    model: Model,
    f: &rapport_clv::Fit<M>,
) -> Result<serde_json::Value> {
    let params = serde_json::to_value(&f.model).map_err(|e| fail!("cannot print the fit: {e}"))?;
    Ok(
        json!({"model": model.name(), "params": params, "log_likelihood": f.log_likelihood,
        "customers": f.customers, "skipped": f.skipped}),
    )
}

/// Ids, and BG/BB histories with their weights (one per row).
type OpportunityRows = (Vec<String>, Vec<(Opportunities, f64)>);

/// BG/BB histories (whole numbers) with their weights.
fn read_opportunities(input: &Path, c: &FitCols) -> Result<OpportunityRows> {
    let mut cols = vec![c.frequency.as_str(), c.recency.as_str(), c.periods.as_str()];
    if let Some(w) = &c.weights {
        cols.push(w);
    }
    let table = read_columns(input, &cols)?;
    let mut out = Vec::with_capacity(table.len());
    let mut ids = Vec::with_capacity(table.len());
    for i in 0..table.len() {
        let line = table.line(i);
        let r: Vec<f64> = (0..cols.len()).map(|c| table.col(c)[i]).collect();
        ids.push(table.id(i).to_owned());
        let whole = |v: f64, col: &str| -> Result<u32> {
            if v.fract() == 0.0 && v <= f64::from(u32::MAX) {
                Ok(v as u32)
            } else {
                Err(fail!(
                    "line {line}, column `{col}`: {v} is not a whole number"
                ))
            }
        };
        let h = Opportunities::new(
            whole(r[0], &c.frequency)?,
            whole(r[1], &c.recency)?,
            whole(r[2], &c.periods)?,
        )
        .map_err(|e| match e {
            rapport_clv::ClvError::InvalidRow { field, reason, .. } => {
                fail!("line {line}, column `{field}`: {reason}")
            }
            other => other.into(),
        })?;
        out.push((h, r.get(3).copied().unwrap_or(1.0)));
    }
    Ok((ids, out))
}

/// `rapport clv fit`: prints the fit as JSON; with `timings`, the seconds spent reading the
/// file into rows and in the model's `fit` (what `lifetimes`' `fit` is compared with) go
/// to stderr as JSON.
pub(crate) fn fit(
    model: Model,
    input: &Path,
    c: &FitCols,
    timings: bool,
) -> Result<serde_json::Value> {
    let start = std::time::Instant::now();
    let mut read = 0.0;
    let fitted = (|| {
        if model == Model::Bgbb {
            let (_, rows) = read_opportunities(input, c)?;
            read = start.elapsed().as_secs_f64();
            return fit_json(model, &BgBb::fit(&rows)?);
        }
        if model == Model::GammaGamma {
            let rows = spend_rows(&read_columns(input, &[&c.frequency, &c.monetary])?);
            read = start.elapsed().as_secs_f64();
            return fit_json(model, &GammaGamma::fit(&rows)?);
        }
        let mut cols = vec![c.frequency.as_str(), c.recency.as_str(), c.t.as_str()];
        if let Some(w) = &c.weights {
            cols.push(w);
        }
        let table = read_columns(input, &cols)?;
        check_recency(&table)?;
        let weights: Option<Vec<f64>> = c.weights.as_ref().map(|_| table.col(3).to_vec());
        let rows = triples(&table);
        drop(table);
        read = start.elapsed().as_secs_f64();
        match (model, weights) {
            (Model::Bgnbd, None) => fit_json(model, &BgNbd::fit(&rows)?),
            (Model::Bgnbd, Some(w)) => fit_json(model, &BgNbd::fit_weighted(&rows, &w)?),
            (Model::ParetoNbd, None) => fit_json(model, &ParetoNbd::fit(&rows)?),
            (Model::ParetoNbd, Some(w)) => fit_json(model, &ParetoNbd::fit_weighted(&rows, &w)?),
            (_, None) => fit_json(model, &MbgNbd::fit(&rows)?),
            (_, Some(w)) => fit_json(model, &MbgNbd::fit_weighted(&rows, &w)?),
        }
    })()?;
    if timings {
        let total = start.elapsed().as_secs_f64();
        eprintln!(
            "{}",
            json!({"read": read, "fit": total - read, "total": total})
        );
    }
    Ok(fitted)
}

/// The transaction columns `clv summarize` reads, and the format of the dates.
pub(crate) struct TransactionCols<'a> {
    pub(crate) customer: &'a str,
    pub(crate) date: &'a str,
    pub(crate) amount: &'a str,
    pub(crate) date_format: &'a str,
}

/// `rapport clv summarize`: CSV `customer_id,frequency,recency,T,monetary_value` of the
/// transactions until `end`, counted in `period`.
pub(crate) fn summarize_csv(
    input: &Path,
    cols: &TransactionCols<'_>,
    period: Period,
    end: NaiveDate,
) -> Result<String> {
    let TransactionCols {
        customer,
        date,
        amount,
        date_format,
    } = *cols;
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

/// What `clv predict` and `clv run` predict: expected purchases `horizon` periods ahead and,
/// with a spend model, CLV as `rapport_clv::clv` values it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Forecast {
    /// Periods ahead for expected purchases.
    pub(crate) horizon: f64,
    /// CLV months, discount per month, and the data's period.
    pub(crate) value: ClvParams,
}

/// The fitted parameters `clv predict` is given: the count model's fit JSON (or its params
/// object) and, for profit and CLV, Gamma-Gamma's.
pub(crate) struct Fitted<'a> {
    pub(crate) model: Model,
    pub(crate) params: &'a str,
    pub(crate) spend: Option<&'a str>,
}

/// `rapport clv predict`: CSV per customer.
pub(crate) fn predict(
    fitted: &Fitted<'_>,
    input: &Path,
    c: &FitCols,
    forecast: &Forecast,
    out: &mut dyn Write,
) -> Result<()> {
    let Fitted {
        model,
        params,
        spend,
    } = *fitted;
    let horizon = forecast.horizon;
    let p: serde_json::Value =
        serde_json::from_str(params).map_err(|e| fail!("--params is not JSON: {e}"))?;
    let p = p.get("params").unwrap_or(&p);
    let num = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| fail!("--params has no number `{k}`"))
    };
    let io = |e: std::io::Error| fail!("cannot write the predictions: {e}");
    let count: Box<dyn CountModel + Sync> = match model {
        Model::Bgnbd => Box::new(BgNbd::new(
            num(p, "r")?,
            num(p, "alpha")?,
            num(p, "a")?,
            num(p, "b")?,
        )?),
        Model::ParetoNbd => Box::new(ParetoNbd::new(
            num(p, "r")?,
            num(p, "alpha")?,
            num(p, "s")?,
            num(p, "beta")?,
        )?),
        Model::Mbgnbd => Box::new(MbgNbd::new(
            num(p, "r")?,
            num(p, "alpha")?,
            num(p, "a")?,
            num(p, "b")?,
        )?),
        Model::Bgbb => {
            // Discrete opportunities: expected transactions in the next `horizon`
            // opportunities and P(alive) now; no money.
            let m = BgBb::new(
                num(p, "alpha")?,
                num(p, "beta")?,
                num(p, "gamma")?,
                num(p, "delta")?,
            )?;
            if horizon.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&horizon) {
                return Err(fail!(
                    "--horizon must be a whole number of opportunities for bgbb"
                ));
            }
            let (ids, rows) = read_opportunities(input, c)?;
            let mut w = std::io::BufWriter::new(out);
            w.write_all(HEADER).map_err(io)?;
            for (id, (h, _)) in ids.iter().zip(&rows) {
                let e = m.conditional_expected_purchases(horizon as u32, h);
                let pa = m.p_alive(0, h);
                writeln!(w, "{id},{e},{pa},,").map_err(io)?;
            }
            w.flush().map_err(io)?;
            return Ok(());
        }
        Model::GammaGamma => {
            return Err(fail!(
                "gamma-gamma predicts spend, not purchases: pass it as --spend-params with a count model (bgnbd, pareto-nbd, mbgnbd)"
            ));
        }
    };
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
    // The spend column is needed only for expected profit and CLV.
    let mut cols = vec![c.frequency.as_str(), c.recency.as_str(), c.t.as_str()];
    if g.is_some() {
        cols.push(&c.monetary);
    }
    let table = read_columns(input, &cols)?;
    check_recency(&table)?;
    let h = histories(&table);
    let models = Models {
        count: count.as_ref(),
        spend: g,
        spend_groups: None,
    };
    write_predictions(&table, &h, &models, forecast, out)
}

/// Each distinct `(x, tx, T)` once: every prediction of a count model depends on the
/// history alone, and a million customers have a few tens of thousands of histories.
struct Histories {
    /// The history of each row.
    of_row: Vec<u32>,
    /// The distinct histories, in order of first appearance.
    distinct: Vec<(f64, f64, f64)>,
    /// How many rows share each history.
    counts: Vec<f64>,
}

fn histories(t: &Table) -> Histories {
    dense_histories(t).unwrap_or_else(|| hashed_histories(t))
}

/// Whole numbers in small ranges (summaries in whole days or weeks): the history's cell in a
/// table of every possible `(x, tx, T)` is found without hashing. The rows are cut between
/// the cores, each grouping its rows in a table of its own; the groups of the later ranges
/// are then renumbered into the first range's.
fn dense_histories(t: &Table) -> Option<Histories> {
    const MAX_CELLS: usize = 1 << 22;
    let n = t.len();
    let cols = [t.col(0), t.col(1), t.col(2)];
    let ranges = crate::par::ranges(n, crate::par::threads(n * 24));
    // The largest value of each column, and whether all are whole, per range.
    let extent = |r: std::ops::Range<usize>| -> [(f64, bool); 3] {
        std::array::from_fn(|c| {
            let (mut max, mut whole) = (0.0_f64, true);
            for v in &cols[c][r.clone()] {
                // A round trip through an integer (saturating, NaN to 0): cheaper than
                // `fract`, a library call on baseline x86-64.
                whole &= f64::from(*v as u32) == *v;
                max = max.max(*v);
            }
            (max, whole)
        })
    };
    let extents: Vec<[(f64, bool); 3]> = std::thread::scope(|s| {
        let handles: Vec<_> = ranges
            .iter()
            .map(|r| s.spawn(move || extent(r.clone())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or([(f64::INFINITY, false); 3]))
            .collect()
    });
    let mut size = [0_usize; 3];
    for (c, s) in size.iter_mut().enumerate() {
        let max = extents.iter().fold(0.0_f64, |m, e| m.max(e[c].0));
        if !extents.iter().all(|e| e[c].1) || max >= MAX_CELLS as f64 {
            return None;
        }
        *s = max as usize + 1;
    }
    let cells = size[0].checked_mul(size[1])?.checked_mul(size[2])?;
    if cells > MAX_CELLS {
        return None;
    }
    let cell = |x: f64, tx: f64, big_t: f64| {
        (x as usize * size[1] + tx as usize) * size[2] + big_t as usize
    };
    let mut of_row = vec![0_u32; n];
    // Each range: its cell table and groups (the row's group written in its `of_row`).
    let group = |r: std::ops::Range<usize>, of_row: &mut [u32]| {
        let mut cell_of = vec![u32::MAX; cells];
        let (mut distinct, mut counts) = (Vec::new(), Vec::<f64>::new());
        for (i, out) in r.zip(of_row) {
            let (x, tx, big_t) = (cols[0][i], cols[1][i], cols[2][i]);
            let c = cell(x, tx, big_t);
            let mut k = cell_of[c];
            if k == u32::MAX {
                k = distinct.len() as u32;
                cell_of[c] = k;
                distinct.push((x, tx, big_t));
                counts.push(0.0);
            }
            counts[k as usize] += 1.0;
            *out = k;
        }
        (cell_of, distinct, counts)
    };
    let mut grouped = std::thread::scope(|s| {
        let mut rest: &mut [u32] = &mut of_row;
        let mut handles = Vec::with_capacity(ranges.len());
        for r in &ranges {
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(r.len());
            rest = tail;
            let group = &group;
            handles.push(s.spawn(move || group(r.clone(), mine)));
        }
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(g) => g,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect::<Vec<_>>()
    })
    .into_iter();
    let (mut cell_of, distinct, counts) = grouped.next()?;
    let mut h = Histories {
        of_row,
        distinct,
        counts,
    };
    for (r, (_, distinct, counts)) in ranges.iter().skip(1).zip(grouped) {
        // This range's group numbers to the first range's (new groups appended).
        let global: Vec<u32> = distinct
            .iter()
            .zip(&counts)
            .map(|(&(x, tx, big_t), count)| {
                let c = cell(x, tx, big_t);
                if cell_of[c] == u32::MAX {
                    cell_of[c] = h.distinct.len() as u32;
                    h.distinct.push((x, tx, big_t));
                    h.counts.push(0.0);
                }
                h.counts[cell_of[c] as usize] += count;
                cell_of[c]
            })
            .collect();
        for k in &mut h.of_row[r.clone()] {
            *k = global[*k as usize];
        }
    }
    Some(h)
}

fn hashed_histories(t: &Table) -> Histories {
    let mut index: HashMap<[u64; 3], u32, foldhash::fast::RandomState> = HashMap::default();
    let mut h = Histories {
        of_row: Vec::with_capacity(t.len()),
        distinct: Vec::new(),
        counts: Vec::new(),
    };
    for ((x, tx), big_t) in t.col(0).iter().zip(t.col(1)).zip(t.col(2)) {
        let next = h.distinct.len() as u32;
        let k = *index
            .entry([x.to_bits(), tx.to_bits(), big_t.to_bits()])
            .or_insert(next);
        if k == next {
            h.distinct.push((*x, *tx, *big_t));
            h.counts.push(0.0);
        }
        h.counts[k as usize] += 1.0;
        h.of_row.push(k);
    }
    h
}

/// The models the predictions come from: the count model, and Gamma-Gamma for expected
/// profit and CLV.
struct Models<'a> {
    count: &'a (dyn CountModel + Sync),
    spend: Option<GammaGamma>,
    /// The rows' distinct `(x, m)`, when the spend fit grouped them.
    spend_groups: Option<&'a SpendGroups>,
}

/// A distinct history's predictions: expected purchases at the horizon, P(alive), and the
/// discounted purchases of the CLV months (0 without a spend model).
struct HistoryPrediction {
    expected_purchases: f64,
    p_alive: f64,
    discounted_purchases: f64,
}

const HEADER: &[u8] = b"customer_id,expected_purchases,p_alive,expected_avg_profit,clv\n";

/// Writes `customer_id,expected_purchases,p_alive,expected_avg_profit,clv` per row of `t`
/// (columns frequency, recency, T and, with a spend model, monetary value). Predictions are
/// computed once per distinct history and the lines formatted in parallel, a slice at a
/// time (memory stays flat however many customers there are).
fn write_predictions(
    t: &Table,
    h: &Histories,
    models: &Models<'_>,
    forecast: &Forecast,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e: std::io::Error| fail!("cannot write the predictions: {e}");
    let threads = crate::par::threads(t.len() * 64);
    let count = models.count;
    // The spend model and the CLV months, when there is a spend model.
    let value = models.spend.as_ref().map(|g| (g, &forecast.value));
    // Horizon first, then the end of each CLV month.
    let mut horizons = vec![forecast.horizon];
    if let Some((_, v)) = value {
        horizons.extend(v.month_ends());
    }
    let per_history: Vec<HistoryPrediction> =
        crate::par::map_ranges(h.distinct.len(), threads, |r| {
            let histories = &h.distinct[r];
            let curves = count.conditional_expected_purchases_many(histories, &horizons);
            histories
                .iter()
                .zip(curves.chunks_exact(horizons.len()))
                .map(|(&(x, tx, big_t), curve)| HistoryPrediction {
                    expected_purchases: curve[0],
                    p_alive: count.p_alive(x, tx, big_t),
                    discounted_purchases: value
                        .map_or(0.0, |(_, v)| discount_monthly(&curve[1..], v.discount)),
                })
                .collect()
        });
    // ryu: the shortest text that reads back to the same f64, 3-4× faster than `{}`.
    let mut fmt = ryu::Buffer::new();
    // The text of each history's columns: `e,pa`, and for customers without repeat purchases
    // the whole rest of the line (their expected profit is the population mean, whatever
    // their monetary value), `e,pa,profit,clv`.
    let mut text = String::with_capacity(per_history.len() * 80);
    let mut ends = Vec::with_capacity(per_history.len());
    let mut complete = Vec::with_capacity(per_history.len());
    for (p, (x, _, _)) in per_history.iter().zip(&h.distinct) {
        text.push_str(fmt.format(p.expected_purchases));
        text.push(',');
        text.push_str(fmt.format(p.p_alive));
        let whole = *x == 0.0 && value.is_some();
        if let (true, Some((spend, _))) = (whole, value) {
            let profit = spend.conditional_expected_average_profit(0.0, 0.0);
            text.push(',');
            text.push_str(fmt.format(profit));
            text.push(',');
            text.push_str(fmt.format(profit * p.discounted_purchases));
        }
        ends.push(text.len());
        complete.push(whole);
    }
    // (Bytes: slicing a `str` checks the char boundaries on every line.)
    let history_text = |k: usize| &text.as_bytes()[if k == 0 { 0 } else { ends[k - 1] }..ends[k]];
    // The expected average profit of each distinct (x, m), and its text.
    let groups = models.spend_groups.filter(|_| value.is_some());
    let (mut profits, mut profit_text, mut profit_ends) = (Vec::new(), String::new(), Vec::new());
    if let (Some(g), Some((spend, _))) = (groups, value) {
        profits.reserve(g.rows.len());
        profit_ends.reserve(g.rows.len());
        for &(x, m) in &g.rows {
            let profit = spend.conditional_expected_average_profit(x, m);
            profits.push(profit);
            profit_text.push_str(fmt.format(profit));
            profit_ends.push(profit_text.len());
        }
    }
    let profit_of = |j: usize| {
        let start = if j == 0 { 0 } else { profit_ends[j - 1] };
        (profits[j], &profit_text.as_bytes()[start..profit_ends[j]])
    };
    let line = |i: usize, buf: &mut Vec<u8>, fmt: &mut ryu::Buffer| {
        let k = h.of_row[i] as usize;
        buf.extend_from_slice(t.id_bytes(i));
        buf.push(b',');
        buf.extend_from_slice(history_text(k));
        match value {
            Some(_) if complete[k] => {}
            Some((spend, _)) => {
                buf.push(b',');
                let j = groups.map_or(u32::MAX, |g| g.of_row[i]);
                let profit = if j == u32::MAX {
                    let profit =
                        spend.conditional_expected_average_profit(t.col(0)[i], t.col(3)[i]);
                    buf.extend_from_slice(fmt.format(profit).as_bytes());
                    profit
                } else {
                    let (profit, text) = profit_of(j as usize);
                    buf.extend_from_slice(text);
                    profit
                };
                buf.push(b',');
                buf.extend_from_slice(
                    fmt.format(profit * per_history[k].discounted_purchases)
                        .as_bytes(),
                );
            }
            None => buf.extend_from_slice(b",,"),
        }
        buf.push(b'\n');
    };
    out.write_all(HEADER).map_err(io)?;
    crate::par::write_in_order(t.len(), threads, out, |rows, buf| {
        let mut fmt = ryu::Buffer::new();
        for i in rows {
            line(i, buf, &mut fmt);
        }
    })
    .map_err(io)?;
    out.flush().map_err(io)?;
    Ok(())
}

/// What `rapport clv run` predicts and where it puts the fits.
pub(crate) struct RunOptions {
    /// The horizon of expected purchases, and how CLV is valued.
    pub(crate) forecast: Forecast,
    /// Where to write the two fits as JSON.
    pub(crate) fit_output: Option<std::path::PathBuf>,
    /// Print the time of each step to stderr.
    pub(crate) timings: bool,
}

fn not_a_count_model() -> crate::error::CliError {
    fail!("clv run needs a count model in continuous time: bgnbd, pareto-nbd or mbgnbd")
}

/// A fitted count model, boxed, with its fit JSON.
type CountFit = (Box<dyn CountModel + Sync>, serde_json::Value);

fn fit_count(model: Model, rows: &[(f64, f64, f64)], weights: &[f64]) -> Result<CountFit> {
    Ok(match model {
        Model::Bgnbd => {
            let f = BgNbd::fit_weighted(rows, weights)?;
            (Box::new(f.model), fit_json(model, &f)?)
        }
        Model::ParetoNbd => {
            let f = ParetoNbd::fit_weighted(rows, weights)?;
            (Box::new(f.model), fit_json(model, &f)?)
        }
        Model::Mbgnbd => {
            let f = MbgNbd::fit_weighted(rows, weights)?;
            (Box::new(f.model), fit_json(model, &f)?)
        }
        Model::Bgbb | Model::GammaGamma => return Err(not_a_count_model()),
    })
}

/// The distinct `(x, m)` of the repeat customers with spend, and each row's (`u32::MAX` for
/// the others): their expected average profit is computed and formatted once per pair.
struct SpendGroups {
    of_row: Vec<u32>,
    rows: Vec<(f64, f64)>,
}

/// The Gamma-Gamma fit on the repeat customers (frequency > 0 and monetary value > 0),
/// each distinct `(x, m)` once with its count.
fn fit_spend(t: &Table) -> Result<(GammaGamma, serde_json::Value, SpendGroups)> {
    // Sized for a tenth of the rows being distinct (CDNOW-like books: about a twelfth), so
    // the table seldom grows while it fills.
    let mut index: HashMap<[u64; 2], u32, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(t.len() / 10, Default::default());
    let (mut rows, mut counts) = (Vec::new(), Vec::new());
    let mut skipped = 0;
    let mut of_row = Vec::with_capacity(t.len());
    for (x, m) in t.col(0).iter().zip(t.col(3)) {
        if *x <= 0.0 || *m <= 0.0 {
            skipped += 1;
            of_row.push(u32::MAX);
            continue;
        }
        let next = rows.len() as u32;
        let k = *index.entry([x.to_bits(), m.to_bits()]).or_insert(next);
        if k == next {
            rows.push((*x, *m));
            counts.push(0.0);
        }
        counts[k as usize] += 1.0;
        of_row.push(k);
    }
    let mut f = GammaGamma::fit_weighted(&rows, &counts).map_err(|e| match e {
        rapport_clv::ClvError::Empty { .. } => fail!(
            "no repeat customer with a monetary value > 0 in {} rows: Gamma-Gamma needs some",
            t.len()
        ),
        other => other.into(),
    })?;
    f.skipped = skipped;
    Ok((
        f.model,
        fit_json(Model::GammaGamma, &f)?,
        SpendGroups { of_row, rows },
    ))
}

/// `rapport clv run`: one pass over a summary — fit the count model and Gamma-Gamma (in
/// parallel), then write the predictions as `clv predict` does.
pub(crate) fn run(
    model: Model,
    input: &Path,
    c: &SummaryCols,
    o: &RunOptions,
    out: &mut dyn Write,
) -> Result<()> {
    if matches!(model, Model::Bgbb | Model::GammaGamma) {
        return Err(not_a_count_model());
    }
    let start = std::time::Instant::now();
    let mut steps: Vec<(&str, f64)> = Vec::new();
    let lap = |steps: &mut Vec<(&str, f64)>, name: &'static str, since: &mut std::time::Instant| {
        steps.push((name, since.elapsed().as_secs_f64()));
        *since = std::time::Instant::now();
    };
    let mut at = start;
    let cols = [
        c.frequency.as_str(),
        c.recency.as_str(),
        c.t.as_str(),
        c.monetary.as_str(),
    ];
    let table = read_columns(input, &cols)?;
    check_recency(&table)?;
    lap(&mut steps, "read", &mut at);
    // Each side's own time, for --timings.
    let (count, spend) = std::thread::scope(|s| {
        let spend = s.spawn(|| {
            let t0 = std::time::Instant::now();
            fit_spend(&table).map(|f| (f, t0.elapsed().as_secs_f64()))
        });
        let count = (|| {
            let t0 = std::time::Instant::now();
            let h = histories(&table);
            let grouped = t0.elapsed().as_secs_f64();
            let fit = fit_count(model, &h.distinct, &h.counts)?;
            Ok::<_, crate::error::CliError>((h, fit, grouped, t0.elapsed().as_secs_f64()))
        })();
        let spend = spend
            .join()
            .unwrap_or_else(|_| Err(fail!("the Gamma-Gamma fit failed")));
        (count, spend)
    });
    let (h, (count, count_json), grouped, count_secs) = count?;
    let ((spend, spend_json, spend_groups), spend_secs) = spend?;
    steps.push(("purchases: group histories", grouped));
    steps.push(("purchases: group and fit", count_secs));
    steps.push(("spend: group and fit", spend_secs));
    lap(&mut steps, "group and fit both models", &mut at);
    if let Some(path) = &o.fit_output {
        let fits = json!({"purchases": count_json, "spend": spend_json});
        std::fs::write(path, format!("{fits}\n"))
            .map_err(|e| fail!("cannot write {}: {e}", path.display()))?;
    }
    let models = Models {
        count: count.as_ref(),
        spend: Some(spend),
        spend_groups: Some(&spend_groups),
    };
    write_predictions(&table, &h, &models, &o.forecast, out)?;
    lap(&mut steps, "predict and write", &mut at);
    if o.timings {
        let mut t: serde_json::Map<String, serde_json::Value> = steps
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        t.insert("total".into(), json!(start.elapsed().as_secs_f64()));
        t.insert("customers".into(), json!(table.len()));
        t.insert("histories".into(), json!(h.distinct.len()));
        eprintln!("{}", serde_json::Value::Object(t));
    }
    Ok(())
}

/// The model `clv fit --store` keeps in the book: the count model fitted on the summary
/// (`fit`'s JSON), and Gamma-Gamma on its monetary column when it has one.
pub(crate) fn fitted_for_book(
    model: Model,
    input: &Path,
    c: &FitCols,
    fit: &serde_json::Value,
    period: rapport_core::ClvPeriod,
    monthly_discount: f64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<rapport_core::FittedClv> {
    use rapport_core::ClvModel;
    let p = |k: &str| -> Result<f64> {
        fit["params"][k]
            .as_f64()
            .ok_or_else(|| fail!("the fit has no parameter `{k}`"))
    };
    let count = match model {
        Model::Bgnbd => ClvModel::BgNbd {
            r: p("r")?,
            alpha: p("alpha")?,
            a: p("a")?,
            b: p("b")?,
        },
        Model::ParetoNbd => ClvModel::ParetoNbd {
            r: p("r")?,
            alpha: p("alpha")?,
            s: p("s")?,
            beta: p("beta")?,
        },
        Model::Mbgnbd => ClvModel::MbgNbd {
            r: p("r")?,
            alpha: p("alpha")?,
            a: p("a")?,
            b: p("b")?,
        },
        Model::Bgbb | Model::GammaGamma => {
            return Err(fail!(
                "--store keeps a count model for decisions: bgnbd, pareto-nbd or mbgnbd"
            ));
        }
    };
    // The spend model, when the summary has its monetary column.
    let spend = match read_columns(input, &[&c.frequency, &c.monetary]) {
        Ok(t) => {
            let rows = spend_rows(&t);
            GammaGamma::fit(&rows)
                .ok()
                .map(|f| rapport_core::SpendModel {
                    p: f.model.p,
                    q: f.model.q,
                    v: f.model.v,
                })
        }
        Err(_) => None,
    };
    let fitted = rapport_core::FittedClv {
        model: count,
        spend,
        period,
        monthly_discount,
        fitted_at: now,
    };
    fitted.validate().map_err(|e| fail!("{e}"))?;
    Ok(fitted)
}
