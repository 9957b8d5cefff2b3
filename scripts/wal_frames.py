#!/usr/bin/env python3
"""WAL frames written per commit by the SQLite writer thread, from an strace log.

Each commit of rapport-sqlite's writer writes its dirty pages to the WAL (one 24-byte frame
header and one page per frame) and then waits on its channel (a futex) for the next job, so
the page writes between two futex calls of the writer thread are one commit. The writer is
the thread writing the most whole pages; its WAL is the file it writes them to.

Record (inside quiet.sh, the bench built first):

    strace -f -qq -e trace=pwrite64,futex,fsync -o /tmp/wal.strace \\
        target/release/deps/merge-<hash> --bench zzz

then, for the merge bench's CPU summary (three rounds of: 300 customers created, 300
applies, 600 customers created, 300 merges):

    scripts/wal_frames.py /tmp/wal.strace --page 8192 \\
        --phases create:300,apply:300,create:600,merge:300 --rounds 3

It prints, per phase and round, the mean frames per commit, the most common counts, and the
pages written by kind (the page's first byte: table or index b-tree, leaf or interior).
"""

import argparse
import codecs
import collections
import re
import sys

KINDS = {0x0D: "table leaf", 0x0A: "index leaf", 0x05: "table interior", 0x02: "index interior"}
WRITE = re.compile(r'(\d+) pwrite64\((\d+), "(.*?)"(?:\.\.\.)?, (\d+), (\d+)\) = ')


def commits(lines, page):
    sizes = collections.Counter()
    for line in lines:
        m = WRITE.match(line)
        if m and int(m.group(4)) == page:
            sizes[(m.group(1), m.group(2))] += 1
    if not sizes:
        sys.exit("no page-sized writes in the log (wrong --page?)")
    (writer, wal), _ = sizes.most_common(1)[0]
    out, cur = [], []
    for line in lines:
        if not line.startswith(writer + " "):
            continue
        m = WRITE.match(line)
        if m and m.group(2) == wal and int(m.group(4)) == page:
            first = codecs.escape_decode(m.group(3).encode())[0][:1]
            cur.append(KINDS.get(first[0], "other") if first else "other")
        elif "futex" in line and cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log")
    ap.add_argument("--page", type=int, default=8192, help="the database's page size")
    ap.add_argument("--phases", help="name:commits,... in the order the program commits")
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    with open(a.log, encoding="utf-8", errors="replace") as f:
        cs = commits(f.read().splitlines(), a.page)
    print(f"{len(cs)} commits, {sum(map(len, cs))} frames")
    if not a.phases:
        return
    phases = [(n, int(k)) for n, k in (p.split(":") for p in a.phases.split(","))]
    i = 0
    for r in range(a.rounds):
        for name, k in phases:
            part = cs[i : i + k]
            i += k
            if not part:
                continue
            kinds = collections.Counter(x for c in part for x in c)
            common = collections.Counter(len(c) for c in part).most_common(3)
            per = {n: round(v / len(part), 2) for n, v in kinds.items()}
            print(
                f"round {r + 1} {name:>8}: {sum(map(len, part)) / len(part):5.2f} frames/commit"
                f" (most common {common}); per commit by kind {per}"
            )
    if i != len(cs):
        print(f"note: {len(cs) - i} commits left over (phases do not match the log)")


if __name__ == "__main__":
    main()
