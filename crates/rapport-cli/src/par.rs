//! Splitting work over the machine's cores with scoped threads (no pool to set up: the CLI
//! runs one command and exits).

use std::ops::Range;

/// How many threads to use for `bytes` of input: one below 1 MiB, else one per core (≤ 8).
pub(crate) fn threads(bytes: usize) -> usize {
    if bytes < 1 << 20 {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// `0..n` cut into at most `parts` consecutive ranges of near-equal length.
pub(crate) fn ranges(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, n.max(1));
    (0..parts)
        .map(|k| k * n / parts..(k + 1) * n / parts)
        .collect()
}

/// `f` over `0..n` in parallel ranges, the results concatenated in order.
pub(crate) fn map_ranges<T: Send>(
    n: usize,
    parts: usize,
    f: impl Fn(Range<usize>) -> Vec<T> + Sync,
) -> Vec<T> {
    let rs = ranges(n, parts);
    if rs.len() == 1 {
        return f(0..n);
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = rs.into_iter().map(|r| s.spawn(move || f(r))).collect();
        let mut out = Vec::with_capacity(n);
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_once_in_order() {
        for (n, parts) in [(0, 2), (1, 4), (10, 3), (1_000_001, 2)] {
            let rs = ranges(n, parts);
            assert_eq!(rs.first().unwrap().start, 0);
            assert_eq!(rs.last().unwrap().end, n);
            assert!(rs.windows(2).all(|w| w[0].end == w[1].start));
        }
        let squares = map_ranges(1000, 3, |r| r.map(|i| i * i).collect());
        assert_eq!(squares, (0..1000).map(|i| i * i).collect::<Vec<_>>());
    }
}
