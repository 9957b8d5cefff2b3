//! The CSV row reader of `rapport import transactions`: every row read and checked (customer
//! id, date, amount) into a [`Tx`] or a [`RowError`] with its line and column. Pure (no store,
//! no terminal), so the `csv_rows` fuzz target compiles this very file (`fuzz/`).

use std::fmt;
use std::io::Read;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use rapport_core::{Currency, DomainError};
use rust_decimal::Decimal;

/// A reader that turns every line ending (`\r\n`, a lone `\r`) into `\n`: the `csv` crate counts
/// lines by `\n` only and, after a `\r\n`, gives the next record the previous record's line
/// (BurntSushi/rust-csv#395), so a file saved on Windows had two rows reported "on line 2" (found
/// by the `csv_rows` fuzz target). A `\r` inside a quoted cell becomes `\n` too; no cell the
/// reader accepts can hold one (ids refuse control characters, dates and amounts do not parse).
pub(crate) struct Newlines<R> {
    inner: R,
    /// The last byte handed out was a `\r` (turned into `\n`): a `\n` right after it is dropped.
    after_cr: bool,
}

impl<R: Read> Newlines<R> {
    pub(crate) fn new(inner: R) -> Self {
        Newlines {
            inner,
            after_cr: false,
        }
    }
}

impl<R: Read> Read for Newlines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut out = 0;
            for i in 0..n {
                let b = buf[i];
                if b == b'\n' && self.after_cr {
                    self.after_cr = false;
                    continue;
                }
                self.after_cr = b == b'\r';
                buf[out] = if self.after_cr { b'\n' } else { b };
                out += 1;
            }
            // Only the `\n` of a `\r\n` split across reads: read on (0 would mean the end).
            if out > 0 {
                return Ok(out);
            }
        }
    }
}

/// Why a file could not be read: a problem with the file as a whole (its header, a malformed
/// record), or the first bad row (without `skip_bad`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The header or a record cannot be read; the message says what.
    File(String),
    /// A bad row.
    Row(RowError),
}

/// The longest external customer id (in characters) an import accepts: the idempotency key of
/// a purchase, `tx:<id>:<yyyymmdd>:<n>`, must stay within [`IdempotencyKey`]'s 200.
pub(crate) const MAX_EXTERNAL_ID: usize = 160;

/// How the date column of a transactions file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DateFormat {
    /// The default: ISO 8601 calendar dates (`2024-01-05`, stored at noon UTC) and RFC 3339
    /// timestamps (`2024-01-05T10:30:00Z`, `2024-01-05 10:30:00+02:00`).
    Iso,
    /// A chrono format given with `--date-format`: a date (`%Y%m%d`), a date and time
    /// (`%d/%m/%Y %H:%M`, read as UTC) or one with an offset (`%Y-%m-%d %H:%M %z`).
    Custom(String),
}

fn noon(d: NaiveDate) -> Option<DateTime<Utc>> {
    d.and_hms_opt(12, 0, 0).map(|t| t.and_utc())
}

impl DateFormat {
    /// The instant a cell names: a date is noon UTC of that day. Years outside 1–9999 are not
    /// dates of a purchase (chrono's `%Y` reads `-0244-01-05` and `+12024-01-05`, which no
    /// RFC 3339 timestamp can write back; found by the `csv_rows` fuzz target).
    pub(crate) fn read(&self, s: &str) -> Option<DateTime<Utc>> {
        self.read_any(s)
            .filter(|t| (1..=9999).contains(&chrono::Datelike::year(t)))
    }

    fn read_any(&self, s: &str) -> Option<DateTime<Utc>> {
        match self {
            DateFormat::Iso => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(noon)
                .or_else(|| {
                    DateTime::parse_from_rfc3339(s)
                        .ok()
                        .map(|t| t.with_timezone(&Utc))
                }),
            DateFormat::Custom(f) => DateTime::parse_from_str(s, f)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    NaiveDateTime::parse_from_str(s, f)
                        .ok()
                        .map(|t| t.and_utc())
                })
                .or_else(|| NaiveDate::parse_from_str(s, f).ok().and_then(noon)),
        }
    }
}

/// Column names and formats of a transactions file, and the checks on its dates.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    pub(crate) customer: String,
    pub(crate) date: String,
    pub(crate) amount: String,
    /// The order id column, when the file has one (`--order-col`, default `order_id`).
    pub(crate) order: Option<String>,
    /// The row type column (`purchase` or `refund`), when the file has one (`--type-col`,
    /// default `type`).
    pub(crate) kind: Option<String>,
    pub(crate) date_format: DateFormat,
    pub(crate) currency: Currency,
    /// The import's now: a purchase after `now + future_tolerance` is a bad row.
    pub(crate) now: DateTime<Utc>,
    /// How far past `now` a purchase may lie (clock skew, time zones).
    pub(crate) future_tolerance: Duration,
}

/// What is wrong with one row of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The customer id cell is empty.
    EmptyCustomerId,
    /// The customer id is longer than [`MAX_EXTERNAL_ID`] characters.
    CustomerIdTooLong { chars: usize },
    /// The customer id has a control character.
    CustomerIdControl,
    /// The date cell does not read in the format.
    NotADate { value: String, format: DateFormat },
    /// The purchase lies after the import's now plus the tolerance.
    InTheFuture {
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        tolerance: Duration,
    },
    /// The amount cell is not a number.
    NotANumber { value: String },
    /// The amount is negative.
    Negative { amount: Decimal },
    /// The type cell is neither `purchase` nor `refund`.
    UnknownType { value: String },
    /// A refund row without an order id.
    RefundWithoutOrder,
    /// The record built from the row is invalid.
    Invalid(String),
    /// The refund is refused: an unknown order, more than is left, another currency.
    Refund(DomainError),
    /// The order's line items do not add up to its amount (or mix currencies); boxed to keep
    /// every row result small.
    Lines(Box<DomainError>),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::EmptyCustomerId => f.write_str("empty customer id"),
            Problem::CustomerIdTooLong { chars } => write!(
                f,
                "the customer id is {chars} characters long; at most {MAX_EXTERNAL_ID}"
            ),
            Problem::CustomerIdControl => f.write_str("the customer id has a control character"),
            Problem::NotADate {
                value,
                format: DateFormat::Iso,
            } => {
                write!(
                    f,
                    "`{value}` is not an ISO 8601 date (2024-01-05) or RFC 3339 timestamp (2024-01-05T10:30:00Z)"
                )?;
                if value.len() == 8 && value.bytes().all(|b| b.is_ascii_digit()) {
                    f.write_str("; for dates like 20240105 pass --date-format %Y%m%d")?;
                } else {
                    f.write_str("; name the format with --date-format, e.g. %d/%m/%Y")?;
                }
                Ok(())
            }
            Problem::NotADate {
                value,
                format: DateFormat::Custom(format),
            } => write!(f, "`{value}` is not a date in the format {format}"),
            Problem::InTheFuture { at, now, tolerance } => write!(
                f,
                "{} is later than the import's now ({}) plus {}; check the date, or pass --now or --future-tolerance-days",
                at.to_rfc3339(),
                now.to_rfc3339(),
                match tolerance.num_days() {
                    1 => "1 day".to_owned(),
                    n => format!("{n} days"),
                }
            ),
            Problem::NotANumber { value } => write!(f, "`{value}` is not a number"),
            Problem::Negative { amount } => write!(f, "amount {amount} is negative"),
            Problem::UnknownType { value } => {
                write!(f, "`{value}` is not a row type; use `purchase` or `refund`")
            }
            Problem::RefundWithoutOrder => f.write_str(
                "a refund must name its order; add an order_id column (or name it with --order-col)",
            ),
            Problem::Invalid(reason) => f.write_str(reason),
            Problem::Refund(e @ DomainError::UnknownOrder { .. }) => write!(
                f,
                "{e} (no purchase of it in the file or the store)"
            ),
            Problem::Refund(e) => write!(f, "{e}"),
            Problem::Lines(e) => write!(
                f,
                "{e}; fix the lines or the amount, or re-run with --allow-line-mismatch"
            ),
        }
    }
}

/// A bad row: its line in the file (the header is line 1), the column when one is to blame,
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowError {
    pub(crate) line: u64,
    pub(crate) column: Option<String>,
    pub(crate) problem: Problem,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column `{c}`: {}", self.line, self.problem),
            None => write!(f, "line {}: {}", self.line, self.problem),
        }
    }
}

/// One parsed transaction.
#[derive(Debug, Clone)]
pub(crate) struct Tx {
    pub(crate) line: u64,
    pub(crate) customer: String,
    pub(crate) at: DateTime<Utc>,
    pub(crate) amount: Decimal,
    /// The order id cell, when the file has one and it is not empty.
    pub(crate) order: Option<String>,
    /// A refund row (else a purchase).
    pub(crate) refund: bool,
}

/// Checks an external customer id: not empty, at most [`MAX_EXTERNAL_ID`] characters, no
/// control characters.
pub(crate) fn check_external(id: &str) -> std::result::Result<(), Problem> {
    if id.is_empty() {
        return Err(Problem::EmptyCustomerId);
    }
    let chars = id.chars().count();
    if chars > MAX_EXTERNAL_ID {
        return Err(Problem::CustomerIdTooLong { chars });
    }
    if id.chars().any(char::is_control) {
        return Err(Problem::CustomerIdControl);
    }
    Ok(())
}

/// A CSV reader over `input` (cells trimmed, every line ending read as `\n`) and its header.
pub(crate) fn open<R: Read>(
    input: R,
) -> Result<(csv::Reader<Newlines<R>>, csv::StringRecord), ReadError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(Newlines::new(input));
    let headers = reader
        .headers()
        .map_err(|e| ReadError::File(format!("cannot read the CSV header: {e}")))?
        .clone();
    Ok((reader, headers))
}

/// The position of column `name` in `headers`, or an error listing the columns and the
/// `flags` that name them.
pub(crate) fn column(
    headers: &csv::StringRecord,
    name: &str,
    flags: &str,
) -> Result<usize, ReadError> {
    headers.iter().position(|h| h == name).ok_or_else(|| {
        ReadError::File(format!(
            "column `{name}` not found (columns: {}); name it with {flags}",
            headers.iter().collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Reads and checks every row; a bad row stops the import with its line and column, or is
/// listed and skipped with `skip_bad`.
pub(crate) fn parse(
    input: impl Read,
    cols: &Columns,
    skip_bad: bool,
) -> Result<(Vec<Tx>, Vec<RowError>), ReadError> {
    let (mut reader, headers) = open(input)?;
    let find = |name: &str| column(&headers, name, "--customer-col/--date-col/--amount-col");
    let (ci, di, ai) = (
        find(&cols.customer)?,
        find(&cols.date)?,
        find(&cols.amount)?,
    );
    // Optional columns: a name given by a flag must exist; a default is used when present.
    let optional =
        |name: &Option<String>, default: &str| -> Result<Option<(String, usize)>, ReadError> {
            match name {
                Some(n) => Ok(Some((n.clone(), find(n)?))),
                None => Ok(headers
                    .iter()
                    .position(|h| h == default)
                    .map(|i| (default.to_owned(), i))),
            }
        };
    let order_col = optional(&cols.order, "order_id")?;
    let kind_col = optional(&cols.kind, "type")?;
    let latest = cols
        .now
        .checked_add_signed(cols.future_tolerance)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| ReadError::File(format!("malformed CSV: {e}")))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let field = |i: usize| rec.get(i).unwrap_or("");
        let at_col = |col: &String| {
            let col = col.clone();
            move |problem| RowError {
                line,
                column: Some(col),
                problem,
            }
        };
        let row = (|| -> std::result::Result<Tx, RowError> {
            let customer = field(ci);
            check_external(customer).map_err(at_col(&cols.customer))?;
            let at = cols.date_format.read(field(di)).ok_or_else(|| {
                at_col(&cols.date)(Problem::NotADate {
                    value: field(di).to_owned(),
                    format: cols.date_format.clone(),
                })
            })?;
            if at > latest {
                return Err(at_col(&cols.date)(Problem::InTheFuture {
                    at,
                    now: cols.now,
                    tolerance: cols.future_tolerance,
                }));
            }
            let mut amount: Decimal = field(ai).parse().map_err(|_| {
                at_col(&cols.amount)(Problem::NotANumber {
                    value: field(ai).to_owned(),
                })
            })?;
            if amount.is_sign_negative() && !amount.is_zero() {
                return Err(at_col(&cols.amount)(Problem::Negative { amount }));
            }
            // `-0.00` is zero: stored (and shown) as 0.00.
            amount.set_sign_positive(true);
            let refund = match &kind_col {
                Some((col, i)) => match field(*i).to_ascii_lowercase().as_str() {
                    "" | "purchase" => false,
                    "refund" => true,
                    _ => {
                        return Err(at_col(col)(Problem::UnknownType {
                            value: field(*i).to_owned(),
                        }));
                    }
                },
                None => false,
            };
            let order = order_col
                .as_ref()
                .map(|(_, i)| field(*i))
                .filter(|o| !o.is_empty())
                .map(str::to_owned);
            if refund && order.is_none() {
                let col = order_col
                    .as_ref()
                    .or(kind_col.as_ref())
                    .map(|c| c.0.clone());
                return Err(RowError {
                    line,
                    column: col,
                    problem: Problem::RefundWithoutOrder,
                });
            }
            Ok(Tx {
                line,
                customer: customer.to_owned(),
                at,
                amount,
                order,
                refund,
            })
        })();
        match row {
            Ok(t) => out.push(t),
            Err(e) if skip_bad => bad.push(e),
            Err(e) => return Err(ReadError::Row(e)),
        }
    }
    Ok((out, bad))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::TimeZone;

    fn cols() -> Columns {
        Columns {
            customer: "customer_id".into(),
            date: "date".into(),
            amount: "amount".into(),
            order: None,
            kind: None,
            date_format: DateFormat::Iso,
            currency: rapport_core::Currency::USD,
            now: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap(),
            future_tolerance: Duration::days(1),
        }
    }

    /// Regression (found by the `csv_rows` fuzz target): with Windows (`\r\n`) or old Mac (`\r`)
    /// line endings, every row is reported at its own line, as with `\n`.
    #[test]
    fn rows_are_numbered_by_line_whatever_the_line_endings() {
        for end in ["\n", "\r\n", "\r"] {
            let file = [
                "customer_id,date,amount",
                "C1,2024-01-05,10",
                "C2,2024-01-06,x",
                "C3,2024-01-07,5",
                "",
            ]
            .join(end);
            let (txs, bad) = parse(file.as_bytes(), &cols(), true).unwrap();
            let lines: Vec<u64> = txs.iter().map(|t| t.line).collect();
            assert_eq!(lines, [2, 4], "{end:?}");
            assert_eq!(bad.len(), 1);
            assert_eq!(bad[0].line, 3, "{end:?}");
            assert_eq!(txs[1].customer, "C3");
        }
    }

    /// Regression (found by the `csv_rows` fuzz target): a date with a negative or five-digit
    /// year was read as a purchase (`-0244-01-05`: 245 BC).
    #[test]
    fn dates_outside_years_1_to_9999_are_not_dates() {
        for (cell, format) in [
            ("-0244-01-05", DateFormat::Iso),
            ("+12024-01-05", DateFormat::Iso),
            ("0000-01-05", DateFormat::Iso),
            ("-2440105", DateFormat::Custom("%Y%m%d".into())),
        ] {
            assert_eq!(format.read(cell), None, "{cell}");
        }
        let first = DateFormat::Iso.read("0001-01-01").unwrap();
        assert_eq!(first.to_rfc3339(), "0001-01-01T12:00:00+00:00");
        let file = "customer_id,date,amount\nC1,-0244-01-05,1\n";
        let (txs, bad) = parse(file.as_bytes(), &cols(), true).unwrap();
        assert!(txs.is_empty());
        assert_eq!(bad[0].column.as_deref(), Some("date"));
    }

    #[test]
    fn newlines_survive_a_crlf_split_across_reads() {
        // One byte at a time: every `\r\n` is split.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let mut out = String::new();
        Newlines::new(Trickle(b"a\r\nb\rc\n\r\n\nd"))
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "a\nb\nc\n\n\nd");
    }
}
