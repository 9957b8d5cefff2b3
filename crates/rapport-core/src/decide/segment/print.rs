//! The text form of a [`Segment`]: the shortest text the parser reads back to the same tree.
//!
//! Parentheses appear only where the tree needs them: around an `and`/`or` inside an `and`,
//! around an `or` inside an `or` (the tree keeps how the input was grouped), and around an
//! `and`/`or` under `not`. An `and`/`or` with fewer than two operands prints as `all(...)` /
//! `any(...)`.

use std::fmt::{self, Write as _};

use super::Segment;
use super::ast::Literal;

/// True for an `and`/`or` printed with infix operators.
fn is_infix(s: &Segment) -> bool {
    matches!(s, Segment::And(v) | Segment::Or(v) if v.len() >= 2)
}

fn write_group(f: &mut fmt::Formatter<'_>, s: &Segment, parens: bool) -> fmt::Result {
    if parens {
        f.write_char('(')?;
        write_segment(f, s)?;
        f.write_char(')')
    } else {
        write_segment(f, s)
    }
}

fn write_segment(f: &mut fmt::Formatter<'_>, s: &Segment) -> fmt::Result {
    match s {
        Segment::True => f.write_str("true"),
        Segment::False => f.write_str("false"),
        Segment::And(items) | Segment::Or(items) if items.len() >= 2 => {
            let is_and = matches!(s, Segment::And(_));
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(if is_and { " and " } else { " or " })?;
                }
                let parens = if is_and {
                    is_infix(item)
                } else {
                    matches!(item, Segment::Or(v) if v.len() >= 2)
                };
                write_group(f, item, parens)?;
            }
            Ok(())
        }
        Segment::And(items) | Segment::Or(items) => {
            f.write_str(if matches!(s, Segment::And(_)) {
                "all("
            } else {
                "any("
            })?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_segment(f, item)?;
            }
            f.write_char(')')
        }
        Segment::Not(inner) => {
            f.write_str("not ")?;
            write_group(f, inner, is_infix(inner))
        }
        Segment::Compare { field, op, value } => write!(f, "{field} {op} {value}"),
        Segment::HasTag(tag) => write!(f, "has_tag(\"{tag}\")"),
        Segment::Consent { purpose, channel } => {
            write!(f, "consent(\"{purpose}\", \"{channel}\")")
        }
        Segment::HasAccountRole(role) => write!(f, "has_account_role(\"{role}\")"),
        Segment::Bought(sku) => {
            f.write_str("bought(")?;
            write_quoted(f, sku.as_str())?;
            f.write_char(')')
        }
    }
}

impl fmt::Display for Segment {
    /// The text form, which [`Segment::parse`] reads back to an equal tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_segment(f, self)
    }
}

/// Writes `s` in double quotes, escaping `"`, `\` and control characters.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Literal {
    /// The value as written in a predicate: `12.50`, `"text"`, `true`, `2026-01-31`, `gold`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(d) => write!(f, "{d}"),
            Literal::Text(s) => write_quoted(f, s),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Literal::Tier(t) => f.write_str(t.as_str()),
            Literal::Stage(s) => f.write_str(s.as_str()),
        }
    }
}
