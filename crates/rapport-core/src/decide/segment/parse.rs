//! A hand-written lexer and recursive-descent parser for the predicate text form.
//!
//! Grammar (`and` binds tighter than `or`, `not` tighter than both):
//! ```text
//! expr    := conj ("or" conj)*
//! conj    := unary ("and" unary)*
//! unary   := "not" unary | atom
//! atom    := "(" expr ")" | "true" | "false"
//!          | ("all" | "any") "(" [expr ("," expr)*] ")"
//!          | "has_tag" "(" STRING ")"
//!          | "consent" "(" STRING "," STRING ")"
//!          | "has_account_role" "(" STRING ")"
//!          | "bought" "(" STRING ")"
//!          | field op value | field "in" "(" value ("," value)* ")"
//! field   := NAME | "attr." KEY | "days_since" "(" ACTIVITY ")"
//!          | "category_spend" "(" STRING "," DAYS ")"
//! ```
//! Recursion only happens through `(` and `not`, and both count against [`MAX_DEPTH`], so
//! hostile input gets a typed error instead of a stack overflow.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::Segment;
use super::ast::{
    CmpOp, Field, FieldMismatch, Literal, MAX_SPEND_DAYS, NAMED_FIELDS, StageName, activity_type,
};
use super::error::{ParseErrorKind, SegmentParseError};
use crate::model::customer::AttrKey;
use crate::model::id::{ProductCategory, Sku};
use crate::model::tag::Tag;
use crate::model::tier::Tier;

/// Deepest nesting of parentheses and `not`.
///
/// ```
/// use rapport_core::Segment;
/// use rapport_core::segment::{MAX_DEPTH, ParseErrorKind};
/// let nested = |n| format!("{}orders > 0{}", "(".repeat(n), ")".repeat(n));
/// assert!(Segment::parse(&nested(MAX_DEPTH - 1)).is_ok());
/// let err = Segment::parse(&nested(MAX_DEPTH + 1)).unwrap_err();
/// assert!(matches!(err.kind(), ParseErrorKind::TooDeep { .. }));
/// ```
pub const MAX_DEPTH: usize = 64;
/// Longest input, in bytes.
///
/// ```
/// use rapport_core::Segment;
/// use rapport_core::segment::{MAX_LEN, ParseErrorKind};
/// let long = format!("orders > {}", "0".repeat(MAX_LEN));
/// assert!(matches!(Segment::parse(&long).unwrap_err().kind(), ParseErrorKind::TooLong { max: MAX_LEN }));
/// ```
pub const MAX_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Word(&'a str),
    Number(&'a str),
    Date(&'a str),
    Str(String),
    LParen,
    RParen,
    Comma,
    Op(CmpOp),
    Eof,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    tok: Tok<'a>,
    start: usize,
    end: usize,
}

type Result<T> = std::result::Result<T, SegmentParseError>;

/// A pull parser over one input; [`Parser::segment`] parses a whole predicate, the tag rule
/// parser drives the pieces itself.
pub(crate) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    peeked: Option<Token<'a>>,
    depth: usize,
    /// The text of the last token consumed, for "expected ... after 'x'" messages.
    prev: &'a str,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Result<Self> {
        if src.len() > MAX_LEN {
            let mut cut = MAX_LEN;
            while !src.is_char_boundary(cut) {
                cut -= 1;
            }
            let column = src[..cut].chars().count() + 1;
            return Err(SegmentParseError::new(
                column,
                ParseErrorKind::TooLong { max: MAX_LEN },
            ));
        }
        Ok(Self {
            src,
            pos: 0,
            peeked: None,
            depth: 0,
            prev: "",
        })
    }

    /// Parses a whole predicate: an expression, then the end of the input.
    pub(crate) fn segment(src: &'a str) -> Result<Segment> {
        let mut p = Parser::new(src)?;
        let seg = p.expr()?;
        p.expect_end("'and', 'or' or end of input")?;
        Ok(seg)
    }

    /// Parses a field alone (the serialised form of [`Field`]), then the end of the input.
    pub(crate) fn field_only(src: &'a str) -> Result<Field> {
        let mut p = Parser::new(src)?;
        let t = p.next()?;
        let Tok::Word(w) = t.tok else {
            return Err(p.expected(&t, "a field"));
        };
        let f = p.field(w, t.start)?;
        p.expect_end("end of input")?;
        Ok(f)
    }

    /// 1-based character column of a byte offset.
    pub(crate) fn column(&self, byte: usize) -> usize {
        self.src[..byte].chars().count() + 1
    }

    fn err(&self, byte: usize, kind: ParseErrorKind) -> SegmentParseError {
        SegmentParseError::new(self.column(byte), kind)
    }

    fn found(&self, t: &Token<'_>) -> String {
        if t.tok == Tok::Eof {
            return "end of input".to_owned();
        }
        let text = &self.src[t.start..t.end];
        if text.chars().count() > 24 {
            let short: String = text.chars().take(24).collect();
            format!("'{short}...'")
        } else {
            format!("'{text}'")
        }
    }

    fn expected(&self, t: &Token<'_>, expected: impl Into<String>) -> SegmentParseError {
        self.err(
            t.start,
            ParseErrorKind::Expected {
                expected: expected.into(),
                found: self.found(t),
            },
        )
    }

    fn skip_ws(&mut self) {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
    }

    fn lex(&mut self) -> Result<Token<'a>> {
        self.skip_ws();
        let start = self.pos;
        let rest = &self.src[start..];
        let mut chars = rest.chars();
        let Some(c) = chars.next() else {
            return Ok(Token {
                tok: Tok::Eof,
                start,
                end: start,
            });
        };
        let next = chars.next();
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '=' if next == Some('=') => (Tok::Op(CmpOp::Eq), 2),
            '!' if next == Some('=') => (Tok::Op(CmpOp::Ne), 2),
            '<' if next == Some('=') => (Tok::Op(CmpOp::Le), 2),
            '>' if next == Some('=') => (Tok::Op(CmpOp::Ge), 2),
            '<' => (Tok::Op(CmpOp::Lt), 1),
            '>' => (Tok::Op(CmpOp::Gt), 1),
            '=' => return Err(self.lex_error(start, 1, "'==' to compare")),
            '!' => return Err(self.lex_error(start, 1, "'!=' to compare, or 'not'")),
            '"' => return self.string(start),
            c if c.is_ascii_digit() || (c == '-' && next.is_some_and(|n| n.is_ascii_digit())) => {
                return self.number(start);
            }
            c if is_word_start(c) => {
                let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
                (Tok::Word(&rest[..len]), len)
            }
            c => {
                return Err(self.lex_error(
                    start,
                    c.len_utf8(),
                    "a field, value, operator or parenthesis",
                ));
            }
        };
        self.pos = start + len;
        Ok(Token {
            tok,
            start,
            end: start + len,
        })
    }

    fn lex_error(&self, start: usize, len: usize, expected: &str) -> SegmentParseError {
        self.err(
            start,
            ParseErrorKind::Expected {
                expected: expected.to_owned(),
                found: format!("'{}'", &self.src[start..start + len]),
            },
        )
    }

    fn number(&mut self, start: usize) -> Result<Token<'a>> {
        let rest = &self.src[start..];
        let bytes = rest.as_bytes();
        let mut i = usize::from(bytes[0] == b'-');
        let digits = |i: usize| i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let int_end = digits(i);
        let mut date = false;
        if bytes[0] != b'-' && int_end == 4 && bytes.get(4) == Some(&b'-') {
            // A date: take digits and dashes, then check the shape.
            i = 4 + bytes[4..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b'-')
                .count();
            date = true;
        } else {
            i = int_end;
            if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i = digits(i + 1);
            }
        }
        // `30d`, `1.2.3`, `12abc`: glued letters make it something other than a number.
        let tail = rest[i..]
            .find(|c: char| !is_word_char(c))
            .unwrap_or(rest.len() - i);
        let end = start + i + tail;
        if tail > 0 {
            return Err(self.err(
                start,
                ParseErrorKind::Expected {
                    expected: if date {
                        "a date (YYYY-MM-DD)"
                    } else {
                        "a number"
                    }
                    .to_owned(),
                    found: format!("'{}'", &self.src[start..end]),
                },
            ));
        }
        self.pos = end;
        let text = &self.src[start..end];
        Ok(Token {
            tok: if date {
                Tok::Date(text)
            } else {
                Tok::Number(text)
            },
            start,
            end,
        })
    }

    fn string(&mut self, start: usize) -> Result<Token<'a>> {
        let mut out = String::new();
        let mut it = self.src[start + 1..].char_indices();
        while let Some((off, c)) = it.next() {
            let at = start + 1 + off;
            match c {
                '"' => {
                    self.pos = at + 1;
                    return Ok(Token {
                        tok: Tok::Str(out),
                        start,
                        end: at + 1,
                    });
                }
                '\\' => {
                    let esc = match it.next() {
                        Some((_, '"')) => '"',
                        Some((_, '\\')) => '\\',
                        Some((_, 'n')) => '\n',
                        Some((_, 'r')) => '\r',
                        Some((_, 't')) => '\t',
                        Some((_, 'u')) => self.unicode_escape(at, &mut it)?,
                        Some((o, e)) => {
                            let end = start + 1 + o + e.len_utf8();
                            return Err(self.err(
                                at,
                                ParseErrorKind::InvalidEscape {
                                    escape: self.src[at..end].to_owned(),
                                },
                            ));
                        }
                        None => break,
                    };
                    out.push(esc);
                }
                c => out.push(c),
            }
        }
        Err(self.err(start, ParseErrorKind::UnterminatedString))
    }

    /// `\u{...}` after the `u`: 1–6 hex digits naming a scalar value.
    fn unicode_escape(&self, at: usize, it: &mut std::str::CharIndices<'_>) -> Result<char> {
        let base = at + 1; // the byte after the backslash ('u')
        let rest = &self.src[base + 1..];
        let bad = |len: usize| {
            self.err(
                at,
                ParseErrorKind::InvalidEscape {
                    escape: self.src[at..base + 1 + len].to_owned(),
                },
            )
        };
        let Some(body) = rest.strip_prefix('{') else {
            return Err(bad(0));
        };
        let hex_len = body
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(body.len());
        if !body[hex_len..].starts_with('}') || !(1..=6).contains(&hex_len) {
            return Err(bad(1 + hex_len.min(body.len())));
        }
        let c = u32::from_str_radix(&body[..hex_len], 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| bad(hex_len + 2))?;
        // Skip `{`, the digits and `}` (all ASCII).
        for _ in 0..hex_len + 2 {
            it.next();
        }
        Ok(c)
    }

    fn peek(&mut self) -> Result<&Token<'a>> {
        let t = match self.peeked.take() {
            Some(t) => t,
            None => self.lex()?,
        };
        Ok(self.peeked.insert(t))
    }

    fn next(&mut self) -> Result<Token<'a>> {
        let t = match self.peeked.take() {
            Some(t) => t,
            None => self.lex()?,
        };
        self.prev = &self.src[t.start..t.end];
        Ok(t)
    }

    fn peek_word(&mut self, w: &str) -> Result<bool> {
        Ok(matches!(self.peek()?.tok, Tok::Word(x) if x == w))
    }

    /// Consumes the word `w` or fails expecting it.
    pub(crate) fn expect_word(&mut self, w: &str, expected: &str) -> Result<()> {
        let t = self.next()?;
        match t.tok {
            Tok::Word(x) if x == w => Ok(()),
            _ => Err(self.expected(&t, expected)),
        }
    }

    /// Succeeds at the end of the input.
    pub(crate) fn expect_end(&mut self, expected: &str) -> Result<()> {
        let t = self.next()?;
        if t.tok == Tok::Eof {
            Ok(())
        } else {
            Err(self.expected(&t, expected))
        }
    }

    /// Consumes the word `w` if it comes next.
    pub(crate) fn eat_word(&mut self, w: &str) -> Result<bool> {
        if self.peek_word(w)? {
            self.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The next run of non-space characters, raw (for tags and durations in tag rules), with
    /// its byte offset; empty at the end.
    pub(crate) fn raw_word(&mut self) -> (usize, &'a str) {
        debug_assert!(self.peeked.is_none());
        self.skip_ws();
        let start = self.pos;
        let rest = &self.src[start..];
        let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        self.pos += len;
        self.prev = &rest[..len];
        (start, &rest[..len])
    }

    fn enter(&mut self, at: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(at, ParseErrorKind::TooDeep { max: MAX_DEPTH }));
        }
        Ok(())
    }

    /// `conj ("or" conj)*`
    pub(crate) fn expr(&mut self) -> Result<Segment> {
        let first = self.conj()?;
        if !self.peek_word("or")? {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_word("or")? {
            items.push(self.conj()?);
        }
        Ok(Segment::Or(items))
    }

    fn conj(&mut self) -> Result<Segment> {
        let first = self.unary()?;
        if !self.peek_word("and")? {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_word("and")? {
            items.push(self.unary()?);
        }
        Ok(Segment::And(items))
    }

    fn unary(&mut self) -> Result<Segment> {
        let (is_not, start) = {
            let t = self.peek()?;
            (matches!(t.tok, Tok::Word("not")), t.start)
        };
        if is_not {
            self.next()?;
            self.enter(start)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Segment::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn expected_predicate(after: &str) -> String {
        if after.is_empty() {
            "a predicate".to_owned()
        } else {
            format!("a predicate after '{after}'")
        }
    }

    fn atom(&mut self) -> Result<Segment> {
        let after = self.prev;
        let t = self.next()?;
        match t.tok {
            Tok::LParen => {
                self.enter(t.start)?;
                let inner = self.expr()?;
                self.close(t.start, "'and', 'or' or ')'")?;
                self.depth -= 1;
                Ok(inner)
            }
            Tok::Word("true") => Ok(Segment::True),
            Tok::Word("false") => Ok(Segment::False),
            Tok::Word(w @ ("all" | "any")) => {
                let items = self.call_args(w)?;
                Ok(if w == "all" {
                    Segment::And(items)
                } else {
                    Segment::Or(items)
                })
            }
            Tok::Word("has_tag") => self.has_tag(),
            Tok::Word("consent") => self.consent(),
            Tok::Word("has_account_role") => self.has_account_role(),
            Tok::Word("bought") => self.bought(),
            Tok::Word("and" | "or" | "not" | "in" | "then" | "when" | "for") | Tok::Eof => {
                Err(self.expected(&t, Self::expected_predicate(after)))
            }
            Tok::Word(w) => {
                let field = self.field(w, t.start)?;
                self.comparison(field)
            }
            _ => Err(self.expected(&t, Self::expected_predicate(after))),
        }
    }

    /// Consumes the `)` closing the `(` at `open`.
    fn close(&mut self, open: usize, expected: &str) -> Result<()> {
        let t = self.next()?;
        match t.tok {
            Tok::RParen => Ok(()),
            Tok::Eof => Err(self.err(open, ParseErrorKind::Unclosed)),
            _ => Err(self.expected(&t, expected)),
        }
    }

    fn open(&mut self, after: &str) -> Result<usize> {
        let t = self.next()?;
        if t.tok == Tok::LParen {
            Ok(t.start)
        } else {
            Err(self.expected(&t, format!("'(' after '{after}'")))
        }
    }

    /// `all(...)` / `any(...)`: zero or more predicates separated by commas.
    fn call_args(&mut self, name: &str) -> Result<Vec<Segment>> {
        let open = self.open(name)?;
        self.enter(open)?;
        let mut items = Vec::new();
        if self.peek()?.tok == Tok::RParen {
            self.next()?;
        } else {
            loop {
                items.push(self.expr()?);
                let t = self.next()?;
                match t.tok {
                    Tok::Comma => {}
                    Tok::RParen => break,
                    Tok::Eof => return Err(self.err(open, ParseErrorKind::Unclosed)),
                    _ => return Err(self.expected(&t, "'and', 'or', ',' or ')'")),
                }
            }
        }
        self.depth -= 1;
        Ok(items)
    }

    /// `consent("purpose", "channel")`.
    fn consent(&mut self) -> Result<Segment> {
        let open = self.open("consent")?;
        let purpose = self.quoted(open, "a quoted purpose like \"marketing\" in consent(...)")?;
        let purpose = purpose.0.parse().map_err(|_| {
            self.expected(
                &purpose.1,
                "a purpose (marketing, profiling, transactional, analytics, sensitive_data, cross_border_transfer)",
            )
        })?;
        let t = self.next()?;
        match t.tok {
            Tok::Comma => {}
            Tok::Eof => return Err(self.err(open, ParseErrorKind::Unclosed)),
            _ => return Err(self.expected(&t, "',' after the purpose")),
        }
        let channel = self.quoted(open, "a quoted channel like \"email\" in consent(...)")?;
        let channel = channel.0.parse().map_err(|_| {
            self.expected(&channel.1, "a channel (email, sms, phone, push, post, any)")
        })?;
        self.close(open, "')' after the channel")?;
        Ok(Segment::Consent { purpose, channel })
    }

    /// `has_account_role("decision_maker")`.
    fn has_account_role(&mut self) -> Result<Segment> {
        let open = self.open("has_account_role")?;
        let role = self.quoted(
            open,
            "a quoted role like \"decision_maker\" in has_account_role(...)",
        )?;
        let role = role.0.parse().map_err(|_| {
            self.expected(
                &role.1,
                "a role (decision_maker, buyer, user, billing, other)",
            )
        })?;
        self.close(open, "')' after the role")?;
        Ok(Segment::HasAccountRole(role))
    }

    /// `bought("sku")`.
    fn bought(&mut self) -> Result<Segment> {
        let open = self.open("bought")?;
        let (text, t) = self.quoted(open, "a quoted sku like \"sku-123\" in bought(...)")?;
        let sku = Sku::new(text.clone()).map_err(|e| {
            self.err(
                t.start,
                ParseErrorKind::InvalidSku {
                    text,
                    reason: e.to_string(),
                },
            )
        })?;
        self.close(open, "')' after the sku")?;
        Ok(Segment::Bought(sku))
    }

    /// `category_spend("category", DAYS)` after its name.
    fn category_spend(&mut self) -> Result<Field> {
        let open = self.open("category_spend")?;
        let (text, t) = self.quoted(
            open,
            "a quoted category like \"tea\" in category_spend(...)",
        )?;
        let category = ProductCategory::new(text.clone()).map_err(|e| {
            self.err(
                t.start,
                ParseErrorKind::InvalidCategory {
                    text,
                    reason: e.to_string(),
                },
            )
        })?;
        let t = self.next()?;
        match t.tok {
            Tok::Comma => {}
            Tok::Eof => return Err(self.err(open, ParseErrorKind::Unclosed)),
            _ => return Err(self.expected(&t, "',' and a number of days after the category")),
        }
        let t = self.next()?;
        let days = match t.tok {
            Tok::Number(n) => n
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=MAX_SPEND_DAYS).contains(d))
                .ok_or_else(|| {
                    self.err(
                        t.start,
                        ParseErrorKind::InvalidDays {
                            text: n.to_owned(),
                            max: MAX_SPEND_DAYS,
                        },
                    )
                })?,
            Tok::Eof => return Err(self.err(open, ParseErrorKind::Unclosed)),
            _ => return Err(self.expected(&t, "a number of days (1 to 36500)")),
        };
        self.close(open, "')' after the number of days")?;
        Ok(Field::CategorySpend { category, days })
    }

    /// The next token as a quoted string, with the token.
    fn quoted(&mut self, open: usize, expected: &str) -> Result<(String, Token<'a>)> {
        let t = self.next()?;
        let Tok::Str(text) = &t.tok else {
            if t.tok == Tok::Eof {
                return Err(self.err(open, ParseErrorKind::Unclosed));
            }
            return Err(self.expected(&t, expected));
        };
        Ok((text.clone(), t))
    }

    fn has_tag(&mut self) -> Result<Segment> {
        let open = self.open("has_tag")?;
        let t = self.next()?;
        let Tok::Str(text) = &t.tok else {
            if t.tok == Tok::Eof {
                return Err(self.err(open, ParseErrorKind::Unclosed));
            }
            return Err(self.expected(&t, "a quoted tag like \"ns:name\" in has_tag(...)"));
        };
        let tag = Tag::from_str(text).map_err(|e| {
            let reason = match e {
                crate::error::DomainError::InvalidTag { reason, .. } => reason.to_owned(),
                other => other.to_string(),
            };
            self.err(
                t.start,
                ParseErrorKind::InvalidTag {
                    text: text.clone(),
                    reason,
                },
            )
        })?;
        self.close(open, "')' after the tag")?;
        Ok(Segment::HasTag(tag))
    }

    fn field(&mut self, w: &'a str, start: usize) -> Result<Field> {
        if let Some(f) = Field::from_name(w) {
            return Ok(f);
        }
        if let Some(key) = w.strip_prefix("attr.") {
            return AttrKey::new(key).map(Field::Attr).map_err(|_| {
                self.err(
                    start + 5,
                    ParseErrorKind::InvalidAttrKey {
                        key: key.to_owned(),
                    },
                )
            });
        }
        if w == "category_spend" {
            return self.category_spend();
        }
        if w == "days_since" {
            let open = self.open("days_since")?;
            let t = self.next()?;
            let ty = match t.tok {
                Tok::Word(name) => activity_type(name).ok_or_else(|| {
                    self.err(
                        t.start,
                        ParseErrorKind::UnknownActivityType {
                            name: name.to_owned(),
                        },
                    )
                })?,
                Tok::Eof => return Err(self.err(open, ParseErrorKind::Unclosed)),
                _ => return Err(self.expected(&t, "an activity type like purchase")),
            };
            self.close(open, "')' after the activity type")?;
            return Ok(Field::DaysSince(ty));
        }
        Err(self.err(
            start,
            ParseErrorKind::UnknownField {
                name: w.to_owned(),
                suggestion: suggest(w).map(str::to_owned),
            },
        ))
    }

    fn comparison(&mut self, field: Field) -> Result<Segment> {
        let t = self.next()?;
        match t.tok {
            Tok::Op(op) => {
                let value_at = self.peek()?.start;
                let value = self.value(&format!("a value after '{op}'"))?;
                self.check(&field, op, &value, t.start, value_at)?;
                Ok(Segment::Compare { field, op, value })
            }
            Tok::Word("in") => {
                let open = self.open("in")?;
                let mut items = Vec::new();
                loop {
                    let value_at = self.peek()?.start;
                    let expected = if items.is_empty() {
                        "a value after '('"
                    } else {
                        "a value after ','"
                    };
                    let value = self.value(expected)?;
                    self.check(&field, CmpOp::Eq, &value, t.start, value_at)?;
                    items.push(Segment::Compare {
                        field: field.clone(),
                        op: CmpOp::Eq,
                        value,
                    });
                    let t = self.next()?;
                    match t.tok {
                        Tok::Comma => {}
                        Tok::RParen => break,
                        Tok::Eof => return Err(self.err(open, ParseErrorKind::Unclosed)),
                        _ => return Err(self.expected(&t, "',' or ')'")),
                    }
                }
                Ok(if items.len() == 1 {
                    items.pop().unwrap_or(Segment::False)
                } else {
                    Segment::Or(items)
                })
            }
            _ => Err(self.expected(
                &t,
                format!("an operator (== != < <= > >= or in) after '{field}'"),
            )),
        }
    }

    fn check(
        &self,
        field: &Field,
        op: CmpOp,
        value: &Literal,
        op_at: usize,
        value_at: usize,
    ) -> Result<()> {
        match field.check(op, value) {
            Ok(()) => Ok(()),
            Err(FieldMismatch::Value) => Err(self.err(
                value_at,
                ParseErrorKind::WrongValue {
                    field: field.to_string(),
                    expected: field
                        .kind()
                        .map_or("a number, a quoted string, true or false, or a date", |k| {
                            k.describe()
                        }),
                    found: value.kind().describe(),
                },
            )),
            Err(_) => Err(self.err(
                op_at,
                ParseErrorKind::WrongOperator {
                    field: field.to_string(),
                    op: op.as_str(),
                },
            )),
        }
    }

    fn value(&mut self, expected: &str) -> Result<Literal> {
        let t = self.next()?;
        match &t.tok {
            Tok::Number(text) => Decimal::from_str_exact(text)
                .map(Literal::Number)
                .map_err(|_| {
                    self.err(
                        t.start,
                        ParseErrorKind::InvalidNumber {
                            text: (*text).to_owned(),
                        },
                    )
                }),
            Tok::Date(text) => parse_date(text).map(Literal::Date).ok_or_else(|| {
                self.err(
                    t.start,
                    ParseErrorKind::InvalidDate {
                        text: (*text).to_owned(),
                    },
                )
            }),
            Tok::Str(s) => Ok(Literal::Text(s.clone())),
            Tok::Word("true") => Ok(Literal::Bool(true)),
            Tok::Word("false") => Ok(Literal::Bool(false)),
            Tok::Word(w) => {
                if let Some(tier) = Tier::ALL.into_iter().find(|t| t.as_str() == *w) {
                    Ok(Literal::Tier(tier))
                } else if let Some(s) = StageName::from_name(w) {
                    Ok(Literal::Stage(s))
                } else {
                    Err(self.expected(&t, expected))
                }
            }
            _ => Err(self.expected(&t, expected)),
        }
    }
}

/// `YYYY-MM-DD` exactly (chrono alone would accept `2026-1-5`).
fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The closest known name within a small edit distance.
fn suggest(word: &str) -> Option<&'static str> {
    let names = NAMED_FIELDS.iter().map(|(n, _)| *n).chain([
        "has_tag",
        "consent",
        "has_account_role",
        "bought",
        "category_spend",
        "days_since",
        "not",
        "and",
        "or",
    ]);
    let limit = (word.chars().count() / 3).clamp(1, 3);
    names
        .map(|n| (edit_distance(word, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance over characters (inputs here are short words).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = diag + usize::from(ca != *cb);
            diag = row[j + 1];
            row[j + 1] = sub.min(row[j] + 1).min(diag + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("revnue", "revenue"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(suggest("revnue"), Some("revenue"));
        assert_eq!(suggest("zzzzzz"), None);
    }

    #[test]
    fn dates_need_the_exact_shape() {
        assert!(parse_date("2026-01-31").is_some());
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("2026-1-31").is_none());
    }
}
