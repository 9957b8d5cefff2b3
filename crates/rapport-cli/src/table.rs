//! Named numeric columns of a CSV file (the CLV summaries), read column by column.
//!
//! Plain files (no quotes, `\n` or `\r\n` line ends — what every summary export looks like)
//! are scanned directly, split between the cores; anything else goes through the `csv` crate.
//! Both give the same table and the same errors: line and column of the first bad cell.

use std::ops::Range;
use std::path::Path;

use crate::error::{Result, fail};

/// A CSV's first column as ids, and named numeric columns (each `f64`, finite and ≥ 0).
pub(crate) struct Table {
    /// The file (direct scan) or the ids one after another (`csv` crate).
    text: Vec<u8>,
    /// Where each row's id is in `text` (checked UTF-8).
    ids: Vec<[u32; 2]>,
    cols: Vec<Vec<f64>>,
    /// The file line of each row, when `text` is not the file.
    lines: Option<Vec<u64>>,
}

impl Table {
    /// Rows.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The id of row `i`.
    pub(crate) fn id(&self, i: usize) -> &str {
        let [s, e] = self.ids[i];
        std::str::from_utf8(&self.text[s as usize..e as usize]).unwrap_or_default()
    }

    /// The id of row `i` as bytes (UTF-8, checked when read): for writing it out.
    pub(crate) fn id_bytes(&self, i: usize) -> &[u8] {
        let [s, e] = self.ids[i];
        &self.text[s as usize..e as usize]
    }

    /// Column `c`, in the order the columns were asked for.
    pub(crate) fn col(&self, c: usize) -> &[f64] {
        &self.cols[c]
    }

    /// The file line of row `i` (for error messages: counted, when the table is the file).
    pub(crate) fn line(&self, i: usize) -> u64 {
        match &self.lines {
            Some(lines) => lines[i],
            None => {
                let start = self.ids[i][0] as usize;
                1 + memchr::memchr_iter(b'\n', &self.text[..start]).count() as u64
            }
        }
    }
}

/// Reads the named numeric columns of a CSV; errors name the line and column.
pub(crate) fn read_columns(path: &Path, names: &[&str]) -> Result<Table> {
    let mut data = std::fs::read(path).map_err(|e| fail!("cannot read {}: {e}", path.display()))?;
    if data.starts_with(b"\xEF\xBB\xBF") {
        data.drain(..3);
    }
    if is_plain(&data) && u32::try_from(data.len()).is_ok() {
        scan(data, names, path)
    } else {
        read_with_csv(&data, names, path)
    }
}

/// No quotes, and every `\r` ends a line before its `\n`.
fn is_plain(data: &[u8]) -> bool {
    memchr::memchr(b'"', data).is_none()
        && memchr::memchr_iter(b'\r', data).all(|i| data.get(i + 1) == Some(&b'\n'))
}

/// The end of the line that starts at `pos` (before its `\r\n` or `\n`), and where the next
/// line starts.
fn line_at(data: &[u8], pos: usize, end: usize) -> (usize, usize) {
    let nl = memchr::memchr(b'\n', &data[pos..end]).map_or(end, |i| pos + i);
    let stop = if nl > pos && data[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    (stop, nl + 1)
}

/// The position of each wanted column among the header's fields.
fn positions(header: &[String], names: &[&str], path: &Path) -> Result<Vec<usize>> {
    names
        .iter()
        .map(|c| {
            header.iter().position(|h| h == c).ok_or_else(|| {
                fail!(
                    "column `{c}` not found in {} (columns: {})",
                    path.display(),
                    header.join(", ")
                )
            })
        })
        .collect()
}

/// One part of the file for one thread: its byte range, rows and first line.
struct Part {
    range: Range<usize>,
    rows: usize,
    first_line: u64,
}

/// The direct scan of a plain file: the body is cut at line ends into one part per core;
/// each part's rows are counted, then every thread writes its rows in place.
fn scan(data: Vec<u8>, names: &[&str], path: &Path) -> Result<Table> {
    let (header_stop, body_start) = line_at(&data, 0, data.len());
    let header: Vec<String> = data[..header_stop]
        .split(|b| *b == b',')
        .map(|h| String::from_utf8_lossy(h.trim_ascii()).into_owned())
        .collect();
    let at = positions(&header, names, path)?;
    // Which wanted column (if any) each field of a row feeds.
    let mut slot = vec![None; header.len()];
    for (k, i) in at.iter().enumerate() {
        slot[*i] = Some(k);
    }
    let body_start = body_start.min(data.len());
    let bounds = split_lines(&data, body_start, crate::par::threads(data.len()));
    // Rows are counted as line ends (plus a last line without one): a vectorised count, no
    // pass line by line. Empty lines make a part's real rows fewer: the scan says how many it
    // wrote, and the columns are closed up after it (rare).
    let counted: Vec<(usize, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = bounds
            .iter()
            .map(|r| {
                let data = &data;
                s.spawn(move || count_lines(data, r.clone()))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or((0, 0)))
            .collect()
    });
    let mut parts = Vec::with_capacity(bounds.len());
    let mut first_line = 2;
    for (range, (rows, lines)) in bounds.into_iter().zip(counted) {
        parts.push(Part {
            range,
            rows,
            first_line,
        });
        first_line += lines;
    }
    let total: usize = parts.iter().map(|p| p.rows).sum();
    let mut ids = vec![[0_u32; 2]; total];
    let mut cols: Vec<Vec<f64>> = names.iter().map(|_| vec![0.0; total]).collect();
    {
        // Each part's rows of the id and value columns, for its thread.
        let mut id_rest: &mut [[u32; 2]] = &mut ids;
        let mut col_rests: Vec<&mut [f64]> = cols.iter_mut().map(Vec::as_mut_slice).collect();
        let mut outs = Vec::with_capacity(parts.len());
        for p in &parts {
            let (mine, rest) = std::mem::take(&mut id_rest).split_at_mut(p.rows);
            id_rest = rest;
            let mut mine_cols = Vec::with_capacity(col_rests.len());
            for c in &mut col_rests {
                let (m, rest) = std::mem::take(c).split_at_mut(p.rows);
                *c = rest;
                mine_cols.push(m);
            }
            outs.push((mine, mine_cols));
        }
        let fields = header.len();
        let results: Vec<Result<usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .iter()
                .zip(outs)
                .map(|(p, (ids, cols))| {
                    let (data, slot) = (&data, &slot);
                    s.spawn(move || scan_part(data, p, slot, fields, names, ids, cols))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(fail!("reading the CSV failed")))
                })
                .collect()
        });
        // The first error in file order wins.
        let written = results.into_iter().collect::<Result<Vec<usize>>>()?;
        close_up(&parts, &written, &mut ids, &mut cols);
    }
    Ok(Table {
        text: data,
        ids,
        cols,
        lines: None,
    })
}

/// Cuts `data[start..]` into at most `n` byte ranges that end at line ends.
fn split_lines(data: &[u8], start: usize, n: usize) -> Vec<Range<usize>> {
    let mut parts = Vec::with_capacity(n);
    let mut from = start;
    for k in (1..=n).rev() {
        if k == 1 || from == data.len() {
            parts.push(from..data.len());
            break;
        }
        let target = from + (data.len() - from) / k;
        let cut = memchr::memchr(b'\n', &data[target..]).map_or(data.len(), |i| target + i + 1);
        parts.push(from..cut);
        from = cut;
    }
    parts
}

/// Line ends in `range`, and the rows they make at most: one per line end, plus a last line
/// without one (empty lines are rows of none: `scan_part` skips them).
fn count_lines(data: &[u8], range: Range<usize>) -> (usize, u64) {
    let part = &data[range];
    let lines = memchr::memchr_iter(b'\n', part).count();
    let unterminated = usize::from(part.last().is_some_and(|b| *b != b'\n'));
    (lines + unterminated, lines as u64)
}

/// Moves each part's rows down to follow the previous part's, when empty lines left some
/// of the rows counted for it unwritten, and drops the unwritten tail.
fn close_up(parts: &[Part], written: &[usize], ids: &mut Vec<[u32; 2]>, cols: &mut [Vec<f64>]) {
    if parts.iter().zip(written).all(|(p, w)| p.rows == *w) {
        return;
    }
    let (mut from, mut to) = (0, 0);
    for (p, w) in parts.iter().zip(written) {
        ids.copy_within(from..from + w, to);
        for c in cols.iter_mut() {
            c.copy_within(from..from + w, to);
        }
        from += p.rows;
        to += w;
    }
    ids.truncate(to);
    for c in cols.iter_mut() {
        c.truncate(to);
    }
}

/// Reads a part's rows into its slices of the id and value columns; returns how many rows it
/// wrote (fewer than counted when the part has empty lines).
fn scan_part(
    data: &[u8],
    part: &Part,
    slot: &[Option<usize>],
    fields: usize,
    names: &[&str],
    ids: &mut [[u32; 2]],
    mut cols: Vec<&mut [f64]>,
) -> Result<usize> {
    let (mut row, mut line_no, mut pos) = (0, part.first_line, part.range.start);
    let end = part.range.end;
    // The one-pass reading takes the first column as the id only.
    let fast = matches!(slot.first(), Some(None));
    while pos < end {
        if fast {
            if let Some(next) = fast_row(&data[..end], pos, slot, fields, row, ids, &mut cols) {
                row += 1;
                line_no += 1;
                pos = next;
                continue;
            }
        }
        let (stop, next) = line_at(data, pos, end);
        if stop > pos {
            let (mut field, mut from) = (0, pos);
            loop {
                let to = data[from..stop]
                    .iter()
                    .position(|b| *b == b',')
                    .map_or(stop, |i| from + i);
                let (s, e) = trim_span(data, from, to);
                if field == 0 {
                    std::str::from_utf8(&data[s..e])
                        .map_err(|_| fail!("line {line_no}: the id is not UTF-8"))?;
                    // The file is below 4 GiB (checked before the scan).
                    ids[row] = [s as u32, e as u32];
                }
                if let Some(k) = slot.get(field).copied().flatten() {
                    cols[k][row] = number(&data[s..e], line_no, names[k])?;
                }
                field += 1;
                if to == stop {
                    break;
                }
                from = to + 1;
            }
            if field != fields {
                return Err(fail!(
                    "malformed CSV: line {line_no} has {field} fields, the header has {fields}"
                ));
            }
            row += 1;
        }
        line_no += 1;
        pos = next;
    }
    Ok(row)
}

/// The usual row, read in one pass over its bytes: an ASCII id (not a wanted column) without
/// spaces at its ends,
/// then plain decimals of up to 15 digits in the wanted columns (anything in the others),
/// the line ended by `\n` or `\r\n` (or the end of the file). Writes row `row` and returns
/// where the next line starts; `None` for anything else (an empty line, spaces around a
/// number, an exponent, a wrong field count, …), which the general reading then reads with
/// the same values, or the error. A plain decimal is read as [`number`] reads it.
#[inline]
fn fast_row(
    data: &[u8],
    pos: usize,
    slot: &[Option<usize>],
    fields: usize,
    row: usize,
    ids: &mut [[u32; 2]],
    cols: &mut [&mut [f64]],
) -> Option<usize> {
    let mut i = pos;
    loop {
        let b = *data.get(i)?;
        if b == b',' {
            break;
        }
        if b >= 0x80 || b == b'\n' || b == b'\r' {
            return None;
        }
        i += 1;
    }
    if i > pos && (data[pos].is_ascii_whitespace() || data[i - 1].is_ascii_whitespace()) {
        return None;
    }
    // The file is below 4 GiB (checked before the scan).
    ids[row] = [pos as u32, i as u32];
    let mut field = 1;
    loop {
        // Past the comma.
        i += 1;
        let wanted = slot.get(field).copied().flatten();
        let (mut mantissa, mut digits, mut decimals, mut dot) = (0_u64, 0_usize, 0_usize, false);
        let end = loop {
            match data.get(i).copied() {
                Some(b @ b'0'..=b'9') => {
                    mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
                    digits += 1;
                    decimals += usize::from(dot);
                }
                Some(b'.') if !dot => dot = true,
                Some(b',') => break b',',
                Some(b'\n') | None => break b'\n',
                Some(b'\r') => break b'\r',
                Some(_) if wanted.is_some() => return None,
                Some(_) => {}
            }
            i += 1;
        };
        if let Some(k) = wanted {
            if digits == 0 || digits > 15 {
                return None;
            }
            let v = mantissa as f64;
            cols[k][row] = if decimals == 0 {
                v
            } else {
                v / POW10[decimals]
            };
        }
        field += 1;
        match end {
            b',' => {}
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                return (field == fields).then_some(i + 2);
            }
            b'\n' => return (field == fields).then_some((i + 1).min(data.len())),
            _ => return None,
        }
    }
}

/// `data[from..to]` without ASCII white space at either end.
fn trim_span(data: &[u8], mut from: usize, mut to: usize) -> (usize, usize) {
    while from < to && data[from].is_ascii_whitespace() {
        from += 1;
    }
    while to > from && data[to - 1].is_ascii_whitespace() {
        to -= 1;
    }
    (from, to)
}

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A cell as a finite number ≥ 0. Plain decimals of up to 15 digits (`12`, `0.25`) are
/// read directly — mantissa and power of ten are both exact, so one division rounds
/// correctly, as `str::parse` does; everything else goes through `str::parse`.
fn number(cell: &[u8], line: u64, column: &str) -> Result<f64> {
    let (mut mantissa, mut digits, mut decimals, mut dot) = (0_u64, 0_usize, 0_usize, false);
    let mut simple = !cell.is_empty();
    for b in cell {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
                decimals += usize::from(dot);
                if digits > 15 {
                    simple = false;
                    break;
                }
            }
            b'.' if !dot => dot = true,
            _ => {
                simple = false;
                break;
            }
        }
    }
    if simple && digits > 0 {
        let v = mantissa as f64;
        return Ok(if decimals == 0 {
            v
        } else {
            v / POW10[decimals]
        });
    }
    parse_checked(cell, line, column)
}

fn parse_checked(cell: &[u8], line: u64, column: &str) -> Result<f64> {
    let text = std::str::from_utf8(cell).unwrap_or("");
    let v: f64 = text
        .parse()
        .map_err(|_| fail!("line {line}, column `{column}`: `{text}` is not a number"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(fail!(
            "line {line}, column `{column}`: {v} is negative or not finite"
        ));
    }
    Ok(v)
}

/// Quoted fields and other rare shapes: the `csv` crate.
fn read_with_csv(data: &[u8], names: &[&str], path: &Path) -> Result<Table> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_reader(data);
    let header: Vec<String> = r
        .headers()
        .map_err(|e| fail!("cannot read the CSV header: {e}"))?
        .iter()
        .map(ToOwned::to_owned)
        .collect();
    let at = positions(&header, names, path)?;
    let mut out = Table {
        text: Vec::new(),
        ids: Vec::new(),
        cols: vec![Vec::new(); names.len()],
        lines: Some(Vec::new()),
    };
    let mut lines = Vec::new();
    let mut rec = csv::ByteRecord::new();
    loop {
        match r.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(fail!("malformed CSV: {e}")),
        }
        let line = rec.position().map_or(0, csv::Position::line);
        for ((c, i), column) in names.iter().zip(&at).zip(&mut out.cols) {
            column.push(parse_checked(
                rec.get(*i).unwrap_or(b"").trim_ascii(),
                line,
                c,
            )?);
        }
        let id = rec.get(0).unwrap_or(b"").trim_ascii();
        std::str::from_utf8(id).map_err(|_| fail!("line {line}: the id is not UTF-8"))?;
        let start = out.text.len();
        out.text.extend_from_slice(id);
        let (Ok(s), Ok(e)) = (u32::try_from(start), u32::try_from(out.text.len())) else {
            return Err(fail!("{}: the ids take more than 4 GiB", path.display()));
        };
        out.ids.push([s, e]);
        lines.push(line);
    }
    out.lines = Some(lines);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<Table> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, body).unwrap();
        read_columns(&p, &["b", "a"])
    }

    #[test]
    fn plain_and_quoted_files_give_the_same_table() {
        let plain = "id,a,b\nx,1,2.5\r\n\ny , 0.1 ,12345678901234567\nz,1e3,0\n";
        let quoted = "id,a,b\n\"x\",1,2.5\r\n\ny , 0.1 ,12345678901234567\nz,1e3,\"0\"\n";
        for body in [plain, quoted] {
            let t = read(body).unwrap();
            assert_eq!(t.len(), 3);
            assert_eq!((t.id(0), t.id(1), t.id(2)), ("x", "y", "z"));
            assert_eq!(t.col(0), &[2.5, 12_345_678_901_234_567.0, 0.0]);
            assert_eq!(t.col(1), &[1.0, 0.1, 1000.0]);
            if body == plain {
                assert_eq!((t.line(0), t.line(1), t.line(2)), (2, 4, 5));
            }
        }
    }

    #[test]
    fn the_one_pass_reading_gives_what_the_csv_crate_gives_in_every_part() {
        // Empty lines (so the parts' counted rows are closed up), CRLF, padded cells,
        // exponents, long numbers, a first column that is wanted, no final line end.
        let mut rows = Vec::new();
        for i in 0..300_000_u64 {
            let a = match i % 7 {
                0 => format!("{}", i % 50),
                1 => format!("{}.{}", i % 90, i % 13),
                2 => format!(" {} ", i % 11),
                3 => "1e2".to_owned(),
                4 => "1234567890123456.5".to_owned(),
                5 => format!("{}.", i % 3),
                _ => format!("0.{:03}", i % 1000),
            };
            let end = if i % 5 == 0 { "\r\n" } else { "\n" };
            rows.push(format!("c{i},{a},{},x y{end}", i % 97));
            if i % 40_000 == 7 {
                rows.push(if i % 2 == 0 { "\n" } else { "\r\n" }.to_owned());
            }
        }
        let mut plain = String::from("id,a,b,c\n");
        plain.extend(rows.iter().map(String::as_str));
        plain.push_str("last,3,4,z");
        // The same file with one quoted id: read by the csv crate.
        let quoted = plain.replacen("c0,", "\"c0\",", 1);
        let dir = tempfile::tempdir().unwrap();
        let read = |body: &str, names: &[&str]| {
            let p = dir.path().join("t.csv");
            std::fs::write(&p, body).unwrap();
            read_columns(&p, names).unwrap()
        };
        for names in [&["b", "a"][..], &["id", "b"][..]] {
            if names[0] == "id" {
                // A wanted first column: only numbers there.
                let numeric = plain.replace(",x y", ",1").replace("c", "");
                let numeric = numeric
                    .replacen("id,a,b,1", "id,a,b,c", 1)
                    .replace("last", "9");
                let (p, q) = (
                    read(&numeric, names),
                    read(&numeric.replacen("\n0,", "\n\"0\",", 1), names),
                );
                assert_eq!((p.len(), p.col(0), p.col(1)), (q.len(), q.col(0), q.col(1)));
                continue;
            }
            let (p, q) = (read(&plain, names), read(&quoted, names));
            assert_eq!(p.len(), 300_001);
            assert_eq!(p.len(), q.len());
            assert!(p.col(0) == q.col(0) && p.col(1) == q.col(1));
            for i in (0..p.len()).step_by(997).chain([p.len() - 1]) {
                assert_eq!(p.id(i), q.id(i).trim_matches('"'));
            }
        }
        // A bad cell in the second half, after empty lines: its file line.
        let bad = plain.replacen("c290001,", "c290001,q", 1);
        let at = bad.find("c290001,").unwrap();
        let line = 1 + bad[..at].matches('\n').count();
        let p = dir.path().join("bad.csv");
        std::fs::write(&p, &bad).unwrap();
        let e = read_columns(&p, &["b", "a"]).err().unwrap().0;
        assert!(e.starts_with(&format!("line {line}, column `a`")), "{e}");
    }

    #[test]
    fn the_direct_reading_of_decimals_rounds_as_str_parse_does() {
        for s in [
            "0.1",
            "0.3",
            "123456789012345",
            "99999.9999999999",
            "1.000000000000001",
            "7",
            "0",
            "0.",
            "12.34",
        ] {
            let v = number(s.as_bytes(), 1, "c").unwrap();
            assert_eq!(v.to_bits(), s.parse::<f64>().unwrap().to_bits(), "{s}");
        }
        assert!(number(b".", 1, "c").is_err());
        assert!(number(b"", 1, "c").is_err());
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = |body: &str| read(body).err().unwrap().0;
        assert_eq!(
            e("id,a,b\nx,1,2\ny,1,-3\n"),
            "line 3, column `b`: -3 is negative or not finite"
        );
        assert_eq!(
            e("id,a,b\nx,1,2\n\ny,q,3\n"),
            "line 4, column `a`: `q` is not a number"
        );
        assert!(e("id,a,b\nx,1\n").contains("line 2 has 2 fields"));
        assert!(e("id,a\nx,1\n").contains("column `b` not found"));
        // The first error in file order, whichever part of the file it is in.
        let mut big = String::from("id,a,b\n");
        for i in 0..200_000 {
            big.push_str(&format!(
                "{i},{},1\n",
                if i == 150_000 || i == 190_000 {
                    "z"
                } else {
                    "1"
                }
            ));
        }
        assert_eq!(e(&big), "line 150002, column `a`: `z` is not a number");
    }
}

#[cfg(test)]
mod timing {
    /// `RAPPORT_TABLE_BENCH=<csv> cargo test --release -p rapport-cli table::timing -- --nocapture`
    #[test]
    fn read_a_big_file() {
        let Ok(path) = std::env::var("RAPPORT_TABLE_BENCH") else {
            return;
        };
        let cols = ["frequency", "recency", "T", "monetary_value"];
        let mut best = f64::MAX;
        for _ in 0..15 {
            let t = std::time::Instant::now();
            let table = super::read_columns(std::path::Path::new(&path), &cols).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert!(table.len() > 0);
        }
        let t = std::time::Instant::now();
        let data = std::fs::read(&path).unwrap();
        eprintln!(
            "read_columns best of 15: {best:.4} s; fs::read alone {:.4} s ({} bytes)",
            t.elapsed().as_secs_f64(),
            data.len()
        );
    }
}
