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

/// Writes `fill`'s text for `0..n` to `out` in order, formatted in slices on `threads`
/// threads while this one writes the finished slices: formatting and writing overlap, and
/// at most `2 × threads` slices are in memory whatever `n` is.
pub(crate) fn write_in_order(
    n: usize,
    threads: usize,
    out: &mut dyn std::io::Write,
    fill: impl Fn(Range<usize>, &mut Vec<u8>) + Sync,
) -> std::io::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, mpsc};
    const SLICE: usize = 1 << 15;
    let slices = n.div_ceil(SLICE);
    let slice = |k: usize| k * SLICE..n.min((k + 1) * SLICE);
    if threads <= 1 || slices <= 1 {
        let mut buf = Vec::new();
        for k in 0..slices {
            buf.clear();
            fill(slice(k), &mut buf);
            out.write_all(&buf)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    let free_rx = Mutex::new(free_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, Vec<u8>)>();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (next, free_rx, done_tx, fill) = (&next, &free_rx, done_tx.clone(), &fill);
            s.spawn(move || {
                loop {
                    // A free buffer first, then a slice: the lowest unwritten slice always
                    // has a buffer, so the writer never waits on a slice nobody can format.
                    let buf = match free_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok(mut buf) = buf else { break };
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= slices {
                        break;
                    }
                    buf.clear();
                    fill(slice(k), &mut buf);
                    if done_tx.send((k, buf)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let result = (|| {
            for _ in 0..2 * threads {
                let _ = free_tx.send(Vec::new());
            }
            let mut pending: std::collections::BTreeMap<usize, Vec<u8>> = Default::default();
            let mut want = 0;
            while want < slices {
                let Ok((k, buf)) = done_rx.recv() else {
                    return Err(std::io::Error::other("a formatting thread stopped"));
                };
                pending.insert(k, buf);
                while let Some(buf) = pending.remove(&want) {
                    out.write_all(&buf)?;
                    want += 1;
                    let _ = free_tx.send(buf);
                }
            }
            Ok(())
        })();
        // Wakes the threads still waiting for a buffer or sending one: they stop.
        drop(free_tx);
        drop(done_rx);
        result
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

    #[test]
    fn writes_every_slice_once_in_order_and_stops_on_a_write_error() {
        let fill = |r: Range<usize>, buf: &mut Vec<u8>| {
            for i in r {
                buf.extend_from_slice(format!("{i}\n").as_bytes());
            }
        };
        let want: String = (0..200_000).map(|i| format!("{i}\n")).collect();
        for threads in [1, 2, 5] {
            let mut out = Vec::new();
            write_in_order(200_000, threads, &mut out, fill).unwrap();
            assert!(out == want.as_bytes(), "{threads} threads");
        }
        /// Fails after a few writes.
        struct Full(usize);
        impl std::io::Write for Full {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= 1;
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let e = write_in_order(200_000, 3, &mut Full(2), fill).unwrap_err();
        assert_eq!(e.to_string(), "disk full");
    }
}
