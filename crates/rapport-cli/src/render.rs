//! The report on the terminal (tables) and as one self-contained HTML page with SVG charts.

use std::fmt::Write as _;

use comfy_table::{Cell, Table, presets::UTF8_FULL_CONDENSED};

use rapport_core::Stage;
use rapport_core::metrics::Rate;

use crate::report::{CONVERSION_DAYS, Report, Row, amount_text};

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// A rate as a percentage, `n/a` when nobody could be counted.
fn rate(r: &Rate) -> String {
    r.value().map_or_else(|| "n/a".into(), pct)
}

/// A score already in percent (NPS from −100 to 100, CSAT 0–100), `n/a` without answers.
fn score(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.1}"))
}

/// The period `[from, to)` as `from – last day`.
fn period_text(r: &Report) -> String {
    let last = r.period.end().pred_opt().unwrap_or(r.period.end());
    format!("{} – {}", r.period.start(), last)
}

/// The stage flows as a table: one row per stage at the start, one column per stage at the
/// end (`new` = joined during the period).
fn flow_table(r: &Report) -> Vec<(String, Vec<u64>)> {
    let froms = std::iter::once(None).chain(Stage::LIVE.iter().copied().map(Some));
    froms
        .filter_map(|from| {
            let row: Vec<u64> = Stage::LIVE
                .iter()
                .map(|to| {
                    r.stage_flow
                        .iter()
                        .find(|f| f.from == from && f.to == *to)
                        .map_or(0, |f| f.customers)
                })
                .collect();
            row.iter()
                .any(|n| *n > 0)
                .then(|| (from.map_or("(joined)", Stage::as_str).to_owned(), row))
        })
        .collect()
}

/// `x` with two decimals; a value that rounds to zero is `0.00`, never `-0.00`.
pub(crate) fn fixed2(x: f64) -> String {
    let s = format!("{x:.2}");
    if s == "-0.00" { "0.00".into() } else { s }
}

/// The revenue totals, one per currency (`250.00 USD, 1200.00 CNY`); `0.00` for an empty
/// book.
pub(crate) fn revenue_text(r: &Report) -> String {
    if r.revenue.is_empty() {
        return "0.00".into();
    }
    r.revenue
        .iter()
        .map(|(c, v)| format!("{} {c}", amount_text(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().map(|h| Cell::new(*h)));
    t
}

fn customers_table(rows: &[Row], value: &str, f: impl Fn(&Row) -> String) -> Table {
    let mut t = table(&["customer", "stage", "tier", "orders", "revenue", value]);
    for r in rows {
        let name = if r.external_id.is_empty() {
            r.customer.clone()
        } else {
            r.external_id.clone()
        };
        t.add_row(vec![
            name,
            r.stage.clone(),
            r.tier.clone(),
            r.orders.to_string(),
            r.revenue.clone(),
            f(r),
        ]);
    }
    t
}

/// The terminal report.
pub(crate) fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "rapport report at {}", r.now.format("%Y-%m-%d"));
    let _ = writeln!(
        out,
        "{} customers, {} with a purchase, {} win-backs in all, revenue {}",
        r.customers,
        r.purchasers,
        r.win_backs,
        revenue_text(r)
    );
    if let Some(v) = &r.retention_clv {
        let _ = writeln!(
            out,
            "retention-model CLV (Gupta & Lehmann): {} {} = m {} × r {} / (1 + d {} − r); r: share of the {} purchasers of the year before who bought again\n",
            crate::report::amount_text(v.clv),
            r.currency,
            crate::report::amount_text(v.annual_value),
            v.retention,
            v.discount,
            v.previous_year_purchasers
        );
    }
    let _ = writeln!(
        out,
        "period {}: churn rate {}, win-back rate {}, conversion within {CONVERSION_DAYS} days {}, NPS {}, CSAT {}\n",
        period_text(r),
        rate(&r.churn_rate),
        rate(&r.win_back_rate),
        rate(&r.conversion_rate),
        score(r.nps.value()),
        r.csat
            .value()
            .map_or_else(|| "n/a".into(), |v| format!("{v:.1} %")),
    );
    let clv_header = format!("avg 12-month CLV ({})", r.currency);
    let mut t = table(&["tier (pyramid)", "customers", "share", &clv_header]);
    for tier in ["platinum", "gold", "iron", "lead"] {
        let n = r.tiers.get(tier).copied().unwrap_or(0);
        let avg = r
            .average_clv_by_tier
            .get(tier)
            .map_or("-".into(), |v| fixed2(*v));
        t.add_row(vec![
            tier.to_owned(),
            n.to_string(),
            pct(n as f64 / r.customers.max(1) as f64),
            avg,
        ]);
    }
    let _ = writeln!(out, "{t}\n");
    let mut t = table(&["stage (funnel)", "customers", "share"]);
    for stage in ["prospect", "new", "active", "silent", "churned"] {
        let n = r.stages.get(stage).copied().unwrap_or(0);
        t.add_row(vec![
            stage.to_owned(),
            n.to_string(),
            pct(n as f64 / r.customers.max(1) as f64),
        ]);
    }
    let _ = writeln!(out, "{t}\n");
    let mut t = table(&["RFM segment", "customers"]);
    let mut segs: Vec<_> = r.rfm_segments.iter().collect();
    segs.sort_by(|a, b| b.1.cmp(a.1));
    for (name, n) in segs {
        t.add_row(vec![(*name).to_owned(), n.to_string()]);
    }
    let _ = writeln!(out, "{t}\n");
    match &r.models {
        Some(m) => {
            let _ = writeln!(
                out,
                "BG/NBD (per {}): r = {:.4}, alpha = {:.4}, a = {:.4}, b = {:.4}, log-likelihood {:.2} over {} customers",
                m.period,
                m.bgnbd.r,
                m.bgnbd.alpha,
                m.bgnbd.a,
                m.bgnbd.b,
                m.log_likelihood,
                m.customers
            );
            if let Some(g) = m.gamma_gamma {
                let _ = writeln!(
                    out,
                    "Gamma-Gamma: p = {:.4}, q = {:.4}, v = {:.4}",
                    g.p, g.q, g.v
                );
            }
            let _ = writeln!(out);
            let _ = writeln!(out, "Top customers by 12-month CLV");
            let t = customers_table(&r.top_clv, "CLV", |x| x.clv_12m.map_or("-".into(), fixed2));
            let _ = writeln!(out, "{t}\n");
        }
        None => {
            let _ = writeln!(out, "CLV: not enough purchase history to fit the models\n");
        }
    }
    if r.top_crv.is_empty() {
        let _ = writeln!(
            out,
            "Top customers by CRV: no referral activities in this data\n"
        );
    } else {
        let _ = writeln!(
            out,
            "Top customers by CRV (value of the customers they referred)"
        );
        let t = customers_table(&r.top_crv, "CRV", |x| fixed2(x.crv));
        let _ = writeln!(out, "{t}\n");
    }
    let _ = writeln!(out, "Highest churn risk (not yet churned)");
    let t = customers_table(&r.churn_risk, "risk", |x| fixed2(x.churn_risk));
    let _ = writeln!(out, "{t}\n");
    let _ = writeln!(
        out,
        "Stage flow over {} (rows: stage at the start, columns: at the end)",
        period_text(r)
    );
    let mut header = vec!["from \\ to".to_owned()];
    header.extend(Stage::LIVE.iter().map(|s| s.as_str().to_owned()));
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header);
    for (from, row) in flow_table(r) {
        let mut cells = vec![from];
        cells.extend(row.iter().map(u64::to_string));
        t.add_row(cells);
    }
    let _ = writeln!(out, "{t}\n");
    let months = r
        .cohorts
        .iter()
        .map(|c| c.retention.len())
        .max()
        .unwrap_or(0)
        .min(12);
    let mut header: Vec<String> = vec!["cohort".into(), "size".into()];
    header.extend((1..=months).map(|k| format!("+{k}")));
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header);
    for c in &r.cohorts {
        let mut row = vec![c.month.clone(), c.customers.to_string()];
        row.extend(
            c.retention
                .iter()
                .take(months)
                .map(|v| format!("{:.0}%", v * 100.0)),
        );
        t.add_row(row);
    }
    let _ = writeln!(
        out,
        "Monthly cohort retention (share buying again k months after the first purchase)"
    );
    let _ = writeln!(out, "{t}");
    out
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn bars(title: &str, items: &[(String, f64)], color: &str, funnel: bool) -> String {
    let w = 640.0;
    let h = 34.0 * items.len() as f64 + 40.0;
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max).max(1.0);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="{}"><text x="10" y="22" font-size="16" font-weight="bold">{}</text>"#,
        esc(title),
        esc(title)
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let bw = (v / max) * (w - 260.0);
        let x = if funnel {
            150.0 + (w - 260.0 - bw) / 2.0
        } else {
            150.0
        };
        let y = 36.0 + i as f64 * 34.0;
        let _ = write!(
            s,
            r#"<text x="10" y="{}" font-size="13">{}</text><rect x="{x:.1}" y="{y}" width="{bw:.1}" height="26" fill="{color}" rx="3"/><text x="{}" y="{}" font-size="13">{}</text>"#,
            y + 18.0,
            esc(label),
            w - 100.0,
            y + 18.0,
            v
        );
    }
    s.push_str("</svg>");
    s
}

fn heatmap(r: &Report) -> String {
    let months = r
        .cohorts
        .iter()
        .map(|c| c.retention.len())
        .max()
        .unwrap_or(0)
        .min(18);
    let cell = 30.0;
    let w = 120.0 + cell * months as f64 + 20.0;
    let h = 60.0 + cell * r.cohorts.len() as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="cohort retention"><text x="10" y="22" font-size="16" font-weight="bold">Monthly cohort retention</text>"#
    );
    for k in 0..months {
        let _ = write!(
            s,
            r#"<text x="{}" y="48" font-size="11">+{}</text>"#,
            120.0 + k as f64 * cell + 6.0,
            k + 1
        );
    }
    for (i, c) in r.cohorts.iter().enumerate() {
        let y = 56.0 + i as f64 * cell;
        let _ = write!(
            s,
            r#"<text x="10" y="{}" font-size="12">{} ({})</text>"#,
            y + 19.0,
            esc(&c.month),
            c.customers
        );
        for (k, v) in c.retention.iter().take(months).enumerate() {
            let shade = (255.0 - (v * 4.0).min(1.0) * 200.0) as u8;
            let _ = write!(
                s,
                r#"<rect x="{}" y="{y}" width="{}" height="{}" fill="rgb({shade},{shade},255)"><title>{:.1} %</title></rect>"#,
                120.0 + k as f64 * cell,
                cell - 2.0,
                cell - 2.0,
                v * 100.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The stage flow as an HTML table, each cell shaded by its share of the row.
fn flow_html(r: &Report) -> String {
    let mut s = String::from(
        r#"<table id="stage-flow"><caption>Stage flow (rows: stage at the start, columns: at the end)</caption><tr><th>from \ to</th>"#,
    );
    for to in Stage::LIVE {
        let _ = write!(s, "<th>{to}</th>");
    }
    s.push_str("</tr>");
    for (from, row) in flow_table(r) {
        let total: u64 = row.iter().sum();
        let _ = write!(s, "<tr><th>{}</th>", esc(&from));
        for n in row {
            let share = n as f64 / total.max(1) as f64;
            let shade = (255.0 - share * 160.0) as u8;
            let _ = write!(
                s,
                r#"<td style="background:rgb({shade},{shade},255)">{n}</td>"#
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// One self-contained HTML page (inline CSS and SVG, no scripts, no external files).
pub(crate) fn html(r: &Report) -> String {
    let tiers: Vec<(String, f64)> = ["platinum", "gold", "iron", "lead"]
        .iter()
        .map(|t| ((*t).to_owned(), r.tiers.get(t).copied().unwrap_or(0) as f64))
        .collect();
    let stages: Vec<(String, f64)> = ["prospect", "new", "active", "silent", "churned"]
        .iter()
        .map(|t| {
            (
                (*t).to_owned(),
                r.stages.get(t).copied().unwrap_or(0) as f64,
            )
        })
        .collect();
    let clv: Vec<(String, f64)> = r
        .clv_distribution
        .iter()
        .map(|(l, n)| (l.clone(), *n as f64))
        .collect();
    let mut top = String::from(
        "<table id=\"top-clv\"><tr><th>customer</th><th>stage</th><th>tier</th><th>orders</th><th>revenue</th><th>12-month CLV</th><th>P(alive)</th></tr>",
    );
    for x in &r.top_clv {
        let _ = write!(
            top,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(if x.external_id.is_empty() {
                &x.customer
            } else {
                &x.external_id
            }),
            esc(&x.stage),
            esc(&x.tier),
            x.orders,
            esc(&x.revenue),
            x.clv_12m.map_or("-".into(), fixed2),
            x.p_alive.map_or("-".into(), |v| format!("{v:.3}"))
        );
    }
    top.push_str("</table>");
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rapport report {date}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}section{{margin:18px 0}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px}}.kpi{{display:inline-block;margin-right:28px}}.kpi b{{font-size:22px;display:block}}.metric{{display:inline-block;margin-right:28px}}.metric b{{font-size:18px;display:block}}</style>
</head><body>
<h1>rapport report — {date}</h1>
<section><div class="kpi"><b>{customers}</b>customers</div><div class="kpi"><b>{conv}</b>conversion</div><div class="kpi"><b>{churn}</b>churn rate</div><div class="kpi"><b>{wb}</b>win-backs</div><div class="kpi" id="revenue"><b>{revenue}</b>revenue</div></section>
<section id="tier-pyramid">{pyramid}</section>
<section id="stage-funnel">{funnel}</section>
<section id="period"><h2>Period {period}</h2><div class="metric"><b>{wbr}</b>win-back rate</div><div class="metric"><b>{nps}</b>NPS</div><div class="metric"><b>{csat}</b>CSAT %</div>{flow}</section>
<section id="cohort-heatmap">{heat}</section>
<section id="clv-distribution">{clvsvg}</section>
<section><h2>Top customers by 12-month CLV</h2>{top}</section>
</body></html>
"#,
        date = r.now.format("%Y-%m-%d"),
        customers = r.customers,
        conv = rate(&r.conversion_rate),
        churn = rate(&r.churn_rate),
        period = esc(&period_text(r)),
        wbr = rate(&r.win_back_rate),
        nps = score(r.nps.value()),
        csat = score(r.csat.value()),
        flow = flow_html(r),
        wb = r.win_backs,
        revenue = esc(&revenue_text(r)),
        pyramid = bars("Tier pyramid", &tiers, "#c9a227", true),
        funnel = bars("Lifecycle stage funnel", &stages, "#3b7dd8", true),
        heat = heatmap(r),
        clvsvg = bars(
            &format!(
                "12-month CLV distribution (customers per bucket, {})",
                r.currency
            ),
            &clv,
            "#4caf50",
            false
        ),
        top = top,
    )
}
