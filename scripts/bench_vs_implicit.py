#!/usr/bin/env python3
"""rapport's item-item cosine model against `implicit`'s CosineRecommender, side by side in
one run (see scripts/bench-vs-implicit, which sets up the venv and builds the Rust side).

Generates line items with planted co-purchase structure (documented in
docs/recommendations.md): 50k skus in 5,000 groups of 10; every customer has 2 favourite
groups drawn with a Zipf-like skew (p ∝ 1/(rank+10)); each of its 10 lines is, with
probability 0.7, a random item of one of its groups, else an item drawn by global popularity
(p ∝ 1/(rank+50)). Pairs are de-duplicated (a customer who bought an item twice counts once).

Then: model build (ours: ItemModel::build; implicit: CosineRecommender(K+1).fit — implicit
keeps the item itself among its K neighbours, so K+1 there is K neighbours here), and the
top-10 of the first USERS customers (ours: ItemModel::recommend per customer; implicit:
recommend(ids, user_items[ids], N=10)), and the agreement of the two top-10 lists on every
100th of those customers, with min_support = 1.

Usage: bench_vs_implicit.py CUSTOMERS LINES_PER_CUSTOMER USERS K RUST_BINARY WORKDIR
"""
import json
import resource
import subprocess
import sys
import time

import numpy as np
from scipy.sparse import csr_matrix

from implicit.nearest_neighbours import CosineRecommender


def generate(customers, per_customer, items=50_000, group=10, seed=19):
    rng = np.random.default_rng(seed)
    groups = items // group
    pg = 1.0 / (np.arange(groups) + 10.0)
    pg /= pg.sum()
    pi = 1.0 / (np.arange(items) + 50.0)
    pi /= pi.sum()
    fav = rng.choice(groups, size=(customers, 2), p=pg)
    c = np.repeat(np.arange(customers, dtype=np.int64), per_customer)
    n = c.size
    from_group = rng.random(n) < 0.7
    g = fav[c, rng.integers(0, 2, size=n)]
    item = np.where(
        from_group,
        g * group + rng.integers(0, group, size=n),
        rng.choice(items, size=n, p=pi),
    )
    key = np.unique(c * items + item)
    return (key // items).astype(np.uint32), (key % items).astype(np.uint32), items


def main():
    customers, per, users, k, binary, work = sys.argv[1:7]
    customers, per, users, k = int(customers), int(per), int(users), int(k)
    t = time.perf_counter()
    cs, its, n_items = generate(customers, per)
    gen_s = time.perf_counter() - t
    pairs_path = f"{work}/pairs.bin"
    np.stack([cs, its], axis=1).astype("<u4").tofile(pairs_path)
    ours_path = f"{work}/ours.tsv"
    rust = subprocess.run(
        ["/usr/bin/time", "-f", "%M", binary, pairs_path, str(users), str(k), "1", ours_path],
        check=True,
        capture_output=True,
        text=True,
    )
    ours = json.loads(rust.stdout)
    ours["peak_rss_mb"] = int(rust.stderr.strip().splitlines()[-1]) / 1024

    matrix = csr_matrix(
        (np.ones(cs.size, dtype=np.float64), (cs.astype(np.int64), its.astype(np.int64))),
        shape=(customers, n_items),
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = CosineRecommender(K=k + 1)
    t = time.perf_counter()
    model.fit(matrix, show_progress=False)
    fit_s = time.perf_counter() - t
    ids = np.arange(users)
    rows = matrix[ids]
    t = time.perf_counter()
    rec_ids, rec_scores = model.recommend(ids, rows, N=10)
    rec_s = time.perf_counter() - t
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    same, same_up_to_ties, compared = 0, 0, 0
    for line in open(ours_path):
        c, items, scores = line.rstrip("\n").split("\t")
        mine = [int(x) for x in items.split(",")] if items else []
        my_scores = [float(x) for x in scores.split(",")] if scores else []
        theirs = [int(x) for x in rec_ids[int(c)] if x >= 0]
        their_scores = [float(x) for x in rec_scores[int(c)][: len(theirs)]]
        compared += 1
        if mine == theirs:
            same += 1
            same_up_to_ties += 1
        elif len(mine) == len(theirs) and np.allclose(my_scores, their_scores, rtol=1e-6, atol=1e-9):
            # Same scores in the same order: the lists differ only in how ties are broken
            # (ours by sku; implicit's by its heap).
            same_up_to_ties += 1
    print(
        json.dumps(
            {
                "customers": customers,
                "line_items": int(cs.size),
                "skus": n_items,
                "k": k,
                "users": users,
                "generate_s": round(gen_s, 2),
                "ours": ours,
                "implicit": {
                    "version": __import__("implicit").__version__,
                    "fit_s": round(fit_s, 3),
                    "recommend_s": round(rec_s, 3),
                    "peak_rss_mb_process": round(rss_after, 1),
                    "peak_rss_mb_before_fit": round(rss_before, 1),
                },
                "ratio_build": round(fit_s / ours["build_s"], 2),
                "ratio_recommend": round(rec_s / ours["recommend_s"], 2),
                "agreement": {
                    "compared": compared,
                    "identical": same,
                    "identical_up_to_tie_order": same_up_to_ties,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
