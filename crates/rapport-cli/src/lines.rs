//! Line items for `rapport import transactions`: read from item columns of the transactions
//! file itself (`--sku-col …`: the rows of one order become one purchase with its lines) or
//! from a separate lines file keyed by order id (`--lines FILE`), and checked against the
//! order's amount before anything is written (DOMAIN.md "Products and recommendations").
//!
//! Pure: the rows in, the grouped orders and their lines (or the bad rows) out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use rapport_core::{Currency, LineItem, Money, OrderId, ProductCategory, Sku, check_line_total};
use rust_decimal::Decimal;

use crate::rows::{Problem, ReadError, RowError, Tx};

/// The item columns of a transactions file (`--sku-col …`) or of a lines file (`--lines`).
#[derive(Debug, Clone)]
pub(crate) struct ItemColumns {
    /// The order id column (required: lines belong to an order).
    pub(crate) order: String,
    pub(crate) sku: String,
    pub(crate) quantity: String,
    pub(crate) unit_price: String,
    /// The category column; without a flag, `category` when the file has it.
    pub(crate) category: Option<String>,
    /// The currency of the unit prices (the import's).
    pub(crate) currency: Currency,
}

/// One line item read from a row.
#[derive(Debug, Clone)]
pub(crate) struct ItemRow {
    pub(crate) line: u64,
    pub(crate) order: String,
    pub(crate) item: LineItem,
}

/// A row whose item cells are bad, with its order cell as written.
pub(crate) type BadItem = (String, RowError);

/// Reads the item columns of every row; a bad cell stops the read with its line and column,
/// or is listed with `skip_bad` (with the row's order cell).
pub(crate) fn parse_items(
    input: impl Read,
    cols: &ItemColumns,
    skip_bad: bool,
) -> std::result::Result<(Vec<ItemRow>, Vec<BadItem>), ReadError> {
    let (mut reader, headers) = crate::rows::open(input)?;
    let find = |name: &str| {
        crate::rows::column(
            &headers,
            name,
            "--order-col/--sku-col/--quantity-col/--unit-price-col/--category-col",
        )
    };
    let (oi, si, qi, pi) = (
        find(&cols.order)?,
        find(&cols.sku)?,
        find(&cols.quantity)?,
        find(&cols.unit_price)?,
    );
    let category = match &cols.category {
        Some(name) => Some((name.clone(), find(name)?)),
        None => headers
            .iter()
            .position(|h| h == "category")
            .map(|i| ("category".to_owned(), i)),
    };
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| ReadError::File(format!("malformed CSV: {e}")))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let field = |i: usize| rec.get(i).unwrap_or("");
        let at = |col: &str, problem| RowError {
            line,
            column: Some(col.to_owned()),
            problem,
        };
        let invalid =
            |col: &str, e: &dyn std::fmt::Display| at(col, Problem::Invalid(e.to_string()));
        let row = (|| -> std::result::Result<ItemRow, RowError> {
            let order = field(oi);
            if order.is_empty() {
                return Err(invalid(&cols.order, &"a line item must name its order"));
            }
            OrderId::new(order).map_err(|e| invalid(&cols.order, &e))?;
            let sku = Sku::new(field(si)).map_err(|e| invalid(&cols.sku, &e))?;
            let quantity: u32 = field(qi).parse().map_err(|_| {
                invalid(
                    &cols.quantity,
                    &format!("`{}` is not a whole number of items", field(qi)),
                )
            })?;
            let price: Decimal = field(pi).parse().map_err(|_| {
                at(
                    &cols.unit_price,
                    Problem::NotANumber {
                        value: field(pi).to_owned(),
                    },
                )
            })?;
            let category = match &category {
                Some((col, i)) if !field(*i).is_empty() => {
                    Some(ProductCategory::new(field(*i)).map_err(|e| invalid(col, &e))?)
                }
                _ => None,
            };
            let item = LineItem::new(sku, quantity, Money::new(price, cols.currency), category)
                .map_err(|e| {
                    let col = if quantity == 0 {
                        &cols.quantity
                    } else {
                        &cols.unit_price
                    };
                    invalid(col, &e)
                })?;
            Ok(ItemRow {
                line,
                order: order.to_owned(),
                item,
            })
        })();
        match row {
            Ok(r) => out.push(r),
            Err(e) if skip_bad => bad.push((field(oi).to_owned(), e)),
            Err(e) => return Err(ReadError::Row(e)),
        }
    }
    Ok((out, bad))
}

/// The orders of an import with their line items, keyed by the line of the order's first
/// row (the line its purchase or refund is built from).
#[derive(Debug, Clone, Default)]
pub(crate) struct Lined {
    /// One transaction per order (item columns) or per row (a lines file).
    pub(crate) txs: Vec<Tx>,
    /// The lines of each transaction that has some, by the transaction's line.
    pub(crate) lines: BTreeMap<u64, Vec<LineItem>>,
    /// Rows refused (with `skip_bad`): of the transactions file, and of the lines file.
    pub(crate) bad: Vec<RowError>,
    pub(crate) bad_lines_file: Vec<RowError>,
}

/// What a bad row costs the other rows of its order.
fn sibling(line: u64, order: &str, bad: u64) -> RowError {
    RowError {
        line,
        column: None,
        problem: Problem::Invalid(format!(
            "a line of order `{order}`, which has a bad row at line {bad}"
        )),
    }
}

/// Item columns in the transactions file: the rows of one order (same customer, order id and
/// type; a refund's rows also the same time) become one transaction with their lines. Every
/// row of an order must carry the same date and amount (the order's). A row found bad by
/// either reader (`bad_lines`, with `skip_bad`) takes its order down with it, so no order is
/// stored with part of its lines.
///
/// # Errors
/// The first bad row, unless `skip_bad` (then listed in [`Lined::bad`]).
pub(crate) fn group_rows(
    txs: Vec<Tx>,
    items: Vec<ItemRow>,
    bad_items: &[BadItem],
    bad_lines: &BTreeSet<u64>,
    cols: (&str, &str),
    skip_bad: bool,
) -> std::result::Result<Lined, RowError> {
    let (date_col, amount_col) = cols;
    // Orders with a bad row: named by its item cells, or by its order cell when those are bad.
    let mut bad_orders: HashMap<String, u64> = HashMap::new();
    for r in items.iter().filter(|r| bad_lines.contains(&r.line)) {
        bad_orders.entry(r.order.clone()).or_insert(r.line);
    }
    for (order, b) in bad_items {
        bad_orders.entry(order.clone()).or_insert(b.line);
    }
    let mut item_of: HashMap<u64, LineItem> = items.into_iter().map(|r| (r.line, r.item)).collect();
    // Orders in the order of their first row.
    type Key = (String, String, bool, Option<chrono::DateTime<chrono::Utc>>);
    let mut groups: Vec<Vec<Tx>> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    let mut out = Lined::default();
    for t in txs {
        let Some(order) = t.order.clone() else {
            let e = RowError {
                line: t.line,
                column: None,
                problem: Problem::Invalid(
                    "line items need an order id; add an order_id column (or name it with --order-col)"
                        .into(),
                ),
            };
            if !skip_bad {
                return Err(e);
            }
            out.bad.push(e);
            continue;
        };
        let key = (
            t.customer.clone(),
            order,
            t.refund,
            t.refund.then_some(t.at),
        );
        let n = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[n].push(t);
    }
    for rows in groups {
        let first = &rows[0];
        let order = first.order.clone().unwrap_or_default();
        let mut problem: Option<RowError> = None;
        for t in &rows[1..] {
            if t.at != first.at {
                problem = Some(RowError {
                    line: t.line,
                    column: Some(date_col.to_owned()),
                    problem: Problem::Invalid(format!(
                        "order `{order}` is dated {} at line {}",
                        first.at.to_rfc3339(),
                        first.line
                    )),
                });
            } else if t.amount != first.amount {
                problem = Some(RowError {
                    line: t.line,
                    column: Some(amount_col.to_owned()),
                    problem: Problem::Invalid(format!(
                        "order `{order}` has the amount {} at line {} (every row of an order carries the order's amount)",
                        first.amount, first.line
                    )),
                });
            }
            if problem.is_some() {
                break;
            }
        }
        // A bad row of the order reported by a reader (already listed).
        let reported = bad_orders.get(&order).copied();
        if let Some(p) = problem {
            if !skip_bad {
                return Err(p);
            }
            for t in rows.iter().filter(|t| t.line != p.line) {
                out.bad.push(sibling(t.line, &order, p.line));
            }
            out.bad.push(p);
            continue;
        }
        if let Some(at) = reported {
            for t in rows.iter().filter(|t| !bad_lines.contains(&t.line)) {
                out.bad.push(sibling(t.line, &order, at));
            }
            continue;
        }
        let lines: Vec<LineItem> = rows
            .iter()
            .filter_map(|t| item_of.remove(&t.line))
            .collect();
        out.lines.insert(first.line, lines);
        out.txs.push(rows[0].clone());
    }
    Ok(out)
}

/// A lines file: each line item names its order, which must be exactly one purchase of the
/// transactions file (refunds take no lines from a lines file). A purchase whose lines have a
/// bad row is itself left out (with `skip_bad`), so no order is stored with part of its lines.
///
/// # Errors
/// The first bad row of the lines file.
pub(crate) fn attach(
    txs: Vec<Tx>,
    items: Vec<ItemRow>,
    bad_items: Vec<BadItem>,
    order_col: &str,
    skip_bad: bool,
) -> std::result::Result<Lined, RowError> {
    let mut by_order: HashMap<&str, Vec<u64>> = HashMap::new();
    for t in txs.iter().filter(|t| !t.refund) {
        if let Some(o) = &t.order {
            by_order.entry(o.as_str()).or_default().push(t.line);
        }
    }
    // The first bad lines-file row of each order.
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let mut out = Lined::default();
    for (order, e) in bad_items {
        refused.entry(order).or_insert(e.line);
        out.bad_lines_file.push(e);
    }
    let mut lines: BTreeMap<u64, Vec<LineItem>> = BTreeMap::new();
    for r in items {
        let problem = match by_order.get(r.order.as_str()).map(Vec::as_slice) {
            Some([line]) => {
                lines.entry(*line).or_default().push(r.item);
                continue;
            }
            Some(several) => format!(
                "order `{}` is on {} purchase rows of the transactions file (lines {}); a lines file needs order ids that name one purchase",
                r.order,
                several.len(),
                several
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!(
                "order `{}` is not a purchase of the transactions file",
                r.order
            ),
        };
        let e = RowError {
            line: r.line,
            column: Some(order_col.to_owned()),
            problem: Problem::Invalid(problem),
        };
        if !skip_bad {
            return Err(e);
        }
        out.bad_lines_file.push(e);
    }
    for t in txs {
        let refused_at = t
            .order
            .as_ref()
            .filter(|_| !t.refund)
            .and_then(|o| refused.get(o));
        match refused_at {
            Some(at) => {
                lines.remove(&t.line);
                out.bad.push(RowError {
                    line: t.line,
                    column: None,
                    problem: Problem::Invalid(format!(
                        "a line item of this order is bad (line {at} of the lines file)"
                    )),
                });
            }
            None => out.txs.push(t),
        }
    }
    out.lines = lines;
    Ok(out)
}

/// Checks every order's lines against its amount (unless `allow_mismatch`): a mismatch is a
/// bad row at the order's first line, column amount, with [`Problem::Lines`].
///
/// # Errors
/// The first mismatch, unless `skip_bad` (then the order is dropped and listed).
pub(crate) fn check_totals(
    lined: &mut Lined,
    amount_col: &str,
    currency: Currency,
    allow_mismatch: bool,
    skip_bad: bool,
) -> std::result::Result<(), RowError> {
    let mut dropped = BTreeSet::new();
    for t in &lined.txs {
        let Some(items) = lined.lines.get(&t.line) else {
            continue;
        };
        let order = t.order.clone().unwrap_or_default();
        let checked = OrderId::new(order).and_then(|o| {
            check_line_total(&o, items, &Money::new(t.amount, currency), allow_mismatch)
        });
        if let Err(e) = checked {
            let row = RowError {
                line: t.line,
                column: Some(amount_col.to_owned()),
                problem: Problem::Lines(Box::new(e)),
            };
            if !skip_bad {
                return Err(row);
            }
            lined.bad.push(row);
            dropped.insert(t.line);
        }
    }
    lined.txs.retain(|t| !dropped.contains(&t.line));
    lined.lines.retain(|l, _| !dropped.contains(l));
    Ok(())
}
