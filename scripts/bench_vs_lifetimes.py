"""Driver of scripts/bench-vs-lifetimes: generate, time lifetimes, time rapport, compare."""
import argparse, json, os, platform, resource, subprocess, sys, time

import numpy as np

# CDNOW-like parameters (Fader, Hardie & Lee 2005).
BG = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = dict(p=6.25, q=3.74, v=15.44)
SEED = 20261124


def generate(n, path):
    """BG/NBD purchases in continuous weeks, summarised to whole weeks like lifetimes does
    (several purchases in one week count once), observed 39..78 weeks after the first
    purchase; Gamma-Gamma spend per repeat week."""
    rng = np.random.default_rng(SEED)
    lam = rng.gamma(BG["r"], 1.0 / BG["alpha"], n)
    p = rng.beta(BG["a"], BG["b"], n)
    T = rng.integers(39, 79, n).astype(float)
    t = np.zeros(n)
    last_week = np.zeros(n)
    freq = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1.0, idx.size) / lam[idx]
        inside = t[idx] < T[idx]
        week = np.floor(t[idx])
        new = inside & (week != last_week[idx])
        freq[idx[new]] += 1
        last_week[idx[new]] = week[new]
        survive = inside & (rng.random(idx.size) >= p[idx])
        alive[idx[~survive]] = False
    recency = np.where(freq > 0, last_week, 0.0)
    nu = rng.gamma(GG["q"], 1.0 / GG["v"], n)
    shape = np.maximum(GG["p"] * freq, 1e-9)
    monetary = np.where(freq > 0, rng.gamma(shape, 1.0 / (np.maximum(freq, 1) * nu)), 0.0)
    monetary = np.round(monetary, 2)
    with open(path, "w") as f:
        f.write("customer_id,frequency,recency,T,monetary_value\n")
        for i in range(n):
            f.write("%d,%d,%d,%d,%.2f\n" % (i, freq[i], recency[i], T[i], monetary[i]))


def run_lifetimes(path, out):
    """Times each step in this process; returns timings, params and peak RSS (MiB)."""
    code = r'''
import json, resource, sys, time
t0 = time.perf_counter()
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
steps = {}
t = time.perf_counter()
d = pd.read_csv(sys.argv[1])
steps["read CSV"] = time.perf_counter() - t
t = time.perf_counter()
bg = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
steps["BG/NBD fit"] = time.perf_counter() - t
rep = d[(d["frequency"] > 0) & (d["monetary_value"] > 0)]
t = time.perf_counter()
gg = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
steps["Gamma-Gamma fit"] = time.perf_counter() - t
t = time.perf_counter()
e = bg.conditional_expected_number_of_purchases_up_to_time(52, d["frequency"], d["recency"], d["T"])
pa = bg.conditional_probability_alive(d["frequency"], d["recency"], d["T"])
profit = gg.conditional_expected_average_profit(d["frequency"], d["monetary_value"])
steps["52-week predictions + P(alive)"] = time.perf_counter() - t
t = time.perf_counter()
clv = gg.customer_lifetime_value(bg, d["frequency"], d["recency"], d["T"], d["monetary_value"], time=12, discount_rate=0.01, freq="W")
steps["12-month CLV"] = time.perf_counter() - t
total = time.perf_counter() - t0
print(json.dumps({"steps": steps, "total": total,
  "bgnbd": {k: float(v) for k, v in bg.params_.items()},
  "gamma_gamma": {k: float(v) for k, v in gg.params_.items()},
  "sum_expected_52": float(e.sum()), "sum_p_alive": float(pa.sum()), "sum_clv": float(clv.sum()),
  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("lifetimes failed:\n" + r.stderr)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["wall"] = time.perf_counter() - t
    return res


def run_rapport(exe, path, out):
    """One `rapport clv run` process (read, both fits, predictions, CLV, the CSV written to a
    file); returns its wall time, its own step timings, params, sums and peak RSS (MiB)."""
    pred = os.path.join(out, "rapport_predictions.csv")
    fits = os.path.join(out, "rapport_fits.json")
    cmd = ["/usr/bin/time", "-f", "%M", exe, "clv", "run", "--model", "bgnbd", "--input", path,
           "--horizon", "52", "--clv-months", "12", "--discount", "0.01", "--period", "week",
           "--fit-output", fits, "--timings"]
    with open(pred, "w") as f:
        t = time.perf_counter()
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit("rapport failed: %s\n%s" % (cmd, r.stderr))
    lines = r.stderr.strip().splitlines()
    steps = json.loads(lines[0])
    fit = json.load(open(fits))
    sums = np.loadtxt(pred, delimiter=",", skiprows=1, usecols=(1, 2, 4)).sum(axis=0)
    return {"steps": steps, "total": wall,
            "bgnbd": fit["purchases"]["params"], "gamma_gamma": fit["spend"]["params"],
            "sum_expected_52": float(sums[0]), "sum_p_alive": float(sums[1]), "sum_clv": float(sums[2]),
            "peak_rss_mib": int(lines[-1]) / 1024}


def median_run(runs):
    """The run of median total time."""
    return sorted(runs, key=lambda r: r["total"])[len(runs) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--out", default="target/bench-vs-lifetimes")
    ap.add_argument("--rapport", default="target/release/rapport")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    path = os.path.join(a.out, "summary_%d.csv" % a.customers)
    if not os.path.exists(path):
        t = time.perf_counter()
        generate(a.customers, path)
        print("generated %d customers in %.1f s -> %s" % (a.customers, time.perf_counter() - t, path), file=sys.stderr)
    # Alternate the two, a.repeat times each; report the median run of each.
    lts, ras = [], []
    for _ in range(a.repeat):
        lts.append(run_lifetimes(path, a.out))
        ras.append(run_rapport(a.rapport, path, a.out))
    lt, ra = median_run(lts), median_run(ras)
    rel = lambda x, y: abs(x - y) / abs(y)
    param_diff = max([rel(ra["bgnbd"][k], lt["bgnbd"][k]) for k in lt["bgnbd"]] +
                     [rel(ra["gamma_gamma"][k], lt["gamma_gamma"][k]) for k in lt["gamma_gamma"]])
    ls, rs = lt["steps"], ra["steps"]
    rows = [
        ("read the CSV", ls["read CSV"], rs["read"]),
        ("BG/NBD fit + Gamma-Gamma fit (rapport: both at once, on two threads)",
         ls["BG/NBD fit"] + ls["Gamma-Gamma fit"], rs["group and fit both models"]),
        ("52-week predictions, P(alive), profit, 12-month CLV (rapport: and writing the CSV)",
         ls["52-week predictions + P(alive)"] + ls["12-month CLV"], rs["predict and write"]),
        ("**end to end** (lifetimes: imports + all steps; rapport: the process, wall clock)",
         lt["total"], ra["total"]),
    ]
    print("\n%d customers, %s, %d cores, %s UTC, median of %d runs each\n" % (
        a.customers, platform.machine(), os.cpu_count(),
        time.strftime("%Y-%m-%d %H:%M", time.gmtime()), a.repeat))
    print("| step | lifetimes 0.11.3 (s) | rapport (s) | speed-up |")
    print("|---|---|---|---|")
    for name, l, r in rows:
        print("| %s | %.3f | %.3f | %.0f× |" % (name, l, r, l / r))
    print("| peak memory | %.0f MiB | %.0f MiB | %.1f× less |" % (lt["peak_rss_mib"], ra["peak_rss_mib"],
                                                             lt["peak_rss_mib"] / ra["peak_rss_mib"]))
    print("\nall end-to-end times (s) — lifetimes: %s; rapport: %s" % (
        ", ".join("%.2f" % r["total"] for r in lts), ", ".join("%.3f" % r["total"] for r in ras)))
    print("\nlargest relative parameter difference (BG/NBD and Gamma-Gamma): %.1e" % param_diff)
    print("sums — E[N(52)]: %.6g vs %.6g; P(alive): %.6g vs %.6g; CLV: %.6g vs %.6g" % (
        lt["sum_expected_52"], ra["sum_expected_52"], lt["sum_p_alive"], ra["sum_p_alive"], lt["sum_clv"], ra["sum_clv"]))
    json.dump({"customers": a.customers, "lifetimes": lts, "rapport": ras, "max_param_rel_diff": param_diff},
              open(os.path.join(a.out, "results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
