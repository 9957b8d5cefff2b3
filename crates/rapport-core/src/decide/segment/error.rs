//! [`SegmentParseError`]: what is wrong with a predicate's text, and where.

use std::fmt;

/// A predicate (or tag rule) that does not parse: what was wrong and the **column** (1-based,
/// in characters) where it was found.
///
/// ```
/// use rapport_core::Segment;
/// let err = Segment::parse("revenue >= ").unwrap_err();
/// assert_eq!(err.column(), 12);
/// assert_eq!(err.to_string(), "expected a value after '>=' at column 12, found end of input");
/// ```
///
/// [`SegmentParseError::kind`] tells the problems apart, e.g. to underline the bad word:
///
/// ```
/// use rapport_core::segment::{ParseErrorKind, Segment};
/// let err = Segment::parse("orders > 1 and revnue > 100").unwrap_err();
/// assert_eq!(err.column(), 16);
/// let ParseErrorKind::UnknownField { name, suggestion } = err.kind() else { panic!("{err}") };
/// assert_eq!((name.as_str(), suggestion.as_deref()), ("revnue", Some("revenue")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentParseError {
    column: usize,
    kind: ParseErrorKind,
}

/// What is wrong in a [`SegmentParseError`].
///
/// ```
/// use rapport_core::segment::{ParseErrorKind, Segment};
/// let kind = |text: &str| Segment::parse(text).unwrap_err().kind().clone();
/// assert_eq!(kind("stage < silent"), ParseErrorKind::WrongOperator { field: "stage".into(), op: "<" });
/// assert_eq!(kind("(orders > 1"), ParseErrorKind::Unclosed);
/// assert_eq!(kind("days_since(lunch) < 3"), ParseErrorKind::UnknownActivityType { name: "lunch".into() });
/// assert!(matches!(kind("tier == 3"), ParseErrorKind::WrongValue { expected, .. } if expected.starts_with("a tier")));
/// assert!(matches!(kind("last_purchase_date == 2026-02-30"), ParseErrorKind::UnknownField { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Something else was expected here.
    Expected {
        /// What would have fit, e.g. `a value after '>='`.
        expected: String,
        /// What was found, e.g. `end of input`, `'foo'`.
        found: String,
    },
    /// A word that names no field.
    UnknownField {
        /// The word.
        name: String,
        /// The closest field name, if one is close.
        suggestion: Option<String>,
    },
    /// `days_since(...)` of a name that is no activity type.
    UnknownActivityType {
        /// The name.
        name: String,
    },
    /// A `(` without its `)`; the column is the `(`.
    Unclosed,
    /// A `"` without its closing `"`; the column is the opening one.
    UnterminatedString,
    /// A `\` escape that is not one of `\" \\ \n \r \t \u{...}`.
    InvalidEscape {
        /// The escape as written.
        escape: String,
    },
    /// A number that does not fit a decimal (28 significant digits).
    InvalidNumber {
        /// The number as written.
        text: String,
    },
    /// A date that does not exist or is malformed.
    InvalidDate {
        /// The date as written.
        text: String,
    },
    /// A tag that is not `namespace:name`.
    InvalidTag {
        /// The tag as written.
        text: String,
        /// Why.
        reason: String,
    },
    /// A sku in `bought(...)` that is not one (empty, too long, surrounding whitespace, ...).
    ///
    /// ```
    /// use rapport_core::Segment;
    /// use rapport_core::segment::ParseErrorKind;
    /// let err = Segment::parse(r#"bought("")"#).unwrap_err();
    /// assert!(matches!(err.kind(), ParseErrorKind::InvalidSku { text, .. } if text.is_empty()));
    /// assert_eq!(err.column(), 8);
    /// ```
    InvalidSku {
        /// The sku as written.
        text: String,
        /// Why.
        reason: String,
    },
    /// A category in `category_spend(...)` that is not one.
    ///
    /// ```
    /// use rapport_core::Segment;
    /// use rapport_core::segment::ParseErrorKind;
    /// let err = Segment::parse(r#"category_spend(" tea", 30) > 1"#).unwrap_err();
    /// assert!(matches!(err.kind(), ParseErrorKind::InvalidCategory { .. }));
    /// ```
    InvalidCategory {
        /// The category as written.
        text: String,
        /// Why.
        reason: String,
    },
    /// A `category_spend` window that is not a whole number of days in `1..=max`.
    ///
    /// ```
    /// use rapport_core::Segment;
    /// use rapport_core::segment::ParseErrorKind;
    /// let err = Segment::parse(r#"category_spend("tea", 0) > 1"#).unwrap_err();
    /// assert_eq!(err.kind(), &ParseErrorKind::InvalidDays { text: "0".into(), max: 36_500 });
    /// assert_eq!(err.to_string(), "invalid number of days '0' at column 23: expected a whole number from 1 to 36500");
    /// ```
    InvalidDays {
        /// The number as written.
        text: String,
        /// The largest allowed.
        max: u32,
    },
    /// An attribute key that is not 1–64 of `a-z 0-9 _` starting with a letter.
    InvalidAttrKey {
        /// The key.
        key: String,
    },
    /// The field takes another kind of value.
    WrongValue {
        /// The field.
        field: String,
        /// What it takes.
        expected: &'static str,
        /// What was given.
        found: &'static str,
    },
    /// The operator does not apply to this kind of value.
    WrongOperator {
        /// The field.
        field: String,
        /// The operator.
        op: &'static str,
    },
    /// A duration (tag rule `for ...`) that is malformed, zero or too long.
    InvalidDuration {
        /// The duration as written.
        text: String,
    },
    /// Parentheses and `not` nested deeper than the limit.
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The input is longer than the limit; the column is the first character past it.
    TooLong {
        /// The limit, in bytes.
        max: usize,
    },
}

impl SegmentParseError {
    pub(crate) fn new(column: usize, kind: ParseErrorKind) -> Self {
        Self { column, kind }
    }

    /// The 1-based column, in characters, where the problem is.
    ///
    /// ```
    /// use rapport_core::Segment;
    /// let err = Segment::parse("orders >= 10 and revnue > 5").unwrap_err();
    /// assert_eq!(err.column(), 18); // where `revnue` starts
    /// ```
    #[must_use]
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong.
    ///
    /// ```
    /// use rapport_core::Segment;
    /// use rapport_core::segment::ParseErrorKind;
    /// let err = Segment::parse("revnue > 5").unwrap_err();
    /// let ParseErrorKind::UnknownField { name, suggestion } = err.kind() else { panic!("{err}") };
    /// assert_eq!((name.as_str(), suggestion.as_deref()), ("revnue", Some("revenue")));
    /// ```
    #[must_use]
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }
}

impl fmt::Display for SegmentParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let col = self.column;
        match &self.kind {
            ParseErrorKind::Expected { expected, found } => {
                write!(f, "expected {expected} at column {col}, found {found}")
            }
            ParseErrorKind::UnknownField { name, suggestion } => {
                write!(f, "unknown field '{name}' at column {col}")?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean '{s}'?)")?;
                }
                Ok(())
            }
            ParseErrorKind::UnknownActivityType { name } => write!(
                f,
                "unknown activity type '{name}' at column {col} (expected one of purchase, \
                 refund, visit, cart_abandoned, complaint, feedback, referral, contact)"
            ),
            ParseErrorKind::Unclosed => write!(f, "unclosed '(' opened at column {col}"),
            ParseErrorKind::UnterminatedString => {
                write!(f, "unterminated string starting at column {col}")
            }
            ParseErrorKind::InvalidEscape { escape } => {
                write!(f, "invalid escape '{escape}' at column {col}")
            }
            ParseErrorKind::InvalidNumber { text } => write!(
                f,
                "number '{text}' at column {col} does not fit a decimal (28 significant digits)"
            ),
            ParseErrorKind::InvalidDate { text } => {
                write!(f, "invalid date '{text}' at column {col}")
            }
            ParseErrorKind::InvalidTag { text, reason } => {
                write!(f, "invalid tag '{text}' at column {col}: {reason}")
            }
            ParseErrorKind::InvalidSku { text, reason } => {
                write!(f, "invalid sku '{text}' at column {col}: {reason}")
            }
            ParseErrorKind::InvalidCategory { text, reason } => {
                write!(f, "invalid category '{text}' at column {col}: {reason}")
            }
            ParseErrorKind::InvalidDays { text, max } => write!(
                f,
                "invalid number of days '{text}' at column {col}: expected a whole number from 1 \
                 to {max}"
            ),
            ParseErrorKind::InvalidAttrKey { key } => write!(
                f,
                "invalid attribute key '{key}' at column {col}: expected 1-64 of a-z, 0-9, '_' \
                 starting with a letter"
            ),
            ParseErrorKind::WrongValue {
                field,
                expected,
                found,
            } => write!(
                f,
                "'{field}' is compared with {expected}, found {found} at column {col}"
            ),
            ParseErrorKind::WrongOperator { field, op } => write!(
                f,
                "operator '{op}' at column {col} does not apply to '{field}' with this value \
                 (use == or !=)"
            ),
            ParseErrorKind::InvalidDuration { text } => write!(
                f,
                "invalid duration '{text}' at column {col}: expected a positive whole number \
                 with a unit s, m, h, d or w (e.g. 30d)"
            ),
            ParseErrorKind::TooDeep { max } => write!(
                f,
                "parentheses and 'not' nested deeper than {max} at column {col}"
            ),
            ParseErrorKind::TooLong { max } => {
                write!(f, "input longer than {max} bytes (column {col})")
            }
        }
    }
}

impl std::error::Error for SegmentParseError {}
