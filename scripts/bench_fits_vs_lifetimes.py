"""Each count model's fit, rapport against lifetimes 0.11.3, side by side in one run.

Usage (from the repository root, with lifetimes in the venv of scripts/bench-vs-lifetimes):
    target/bench-venv/bin/python scripts/bench_fits_vs_lifetimes.py --customers 1000000 \
        [--models bgnbd,mbgnbd,pareto-nbd] [--repeat 3] [--rapport target/release/rapport] \
        [--input testdata/clv/cdnow_customers_summary.csv]

The summary is the synthetic CDNOW-like one of bench_vs_lifetimes.py (same seed). Fit against
fit, the CSV read left out on both sides: lifetimes' time is its `fit` call alone, in a process
that has already read the CSV; rapport's is the `fit` of `rapport clv fit --timings` (the
library's fit on the rows read: validation, grouping and optimisation), and the whole process
(read included) is printed beside it. Each model runs `--repeat` times on each side, alternating;
the table gives the medians. Prints a Markdown table."""
import argparse, json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(__file__))
from bench_vs_lifetimes import generate  # noqa: E402

FITTERS = {"bgnbd": "BetaGeoFitter", "mbgnbd": "ModifiedBetaGeoFitter", "pareto-nbd": "ParetoNBDFitter"}


def lifetimes_fit(path, model):
    code = r'''
import json, sys, time
import pandas as pd
import lifetimes
d = pd.read_csv(sys.argv[1])
f = getattr(lifetimes, sys.argv[2])()
t = time.perf_counter()
f.fit(d["frequency"], d["recency"], d["T"])
print(json.dumps({"fit": time.perf_counter() - t, "params": {k: float(v) for k, v in f.params_.items()}}))
'''
    r = subprocess.run([sys.executable, "-c", code, path, FITTERS[model]], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("lifetimes failed:\n" + r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def rapport_fit(exe, path, model):
    t = time.perf_counter()
    r = subprocess.run([exe, "clv", "fit", "--model", model, "--input", path, "--timings"],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit("rapport failed:\n" + r.stderr)
    timings = json.loads(r.stderr.strip().splitlines()[-1])
    return {"fit": timings["fit"], "read": timings["read"], "process": wall,
            "params": json.loads(r.stdout)["params"]}


def median(v):
    return sorted(v)[len(v) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--models", default="bgnbd,mbgnbd,pareto-nbd")
    ap.add_argument("--rapport", default="target/release/rapport")
    ap.add_argument("--out", default="target/bench-fits")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--input", help="a summary CSV (ID/customer_id, frequency, recency, T) "
                    "instead of the synthetic one, e.g. testdata/clv/cdnow_customers_summary.csv")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.input:
        path = a.input
    else:
        path = os.path.join(a.out, "summary_%d.csv" % a.customers)
        if not os.path.exists(path):
            generate(a.customers, path)
    print("| model | lifetimes `fit` | rapport `fit` | fit vs fit | rapport process (read + fit) | "
          "parameters (lifetimes / rapport) |")
    print("|---|---|---|---|---|---|")
    for m in a.models.split(","):
        lts, rps = [], []
        for _ in range(a.repeat):
            lts.append(lifetimes_fit(path, m))
            rps.append(rapport_fit(a.rapport, path, m))
        lt_fit = median([r["fit"] for r in lts])
        rp_fit = median([r["fit"] for r in rps])
        rp_process = median([r["process"] for r in rps])
        print("| %s | %.2f s (%s) | %.4f s (%s) | **%.0f×** | %.3f s (%.0f×) | %s / %s |" % (
            m, lt_fit, ", ".join("%.2f" % r["fit"] for r in lts),
            rp_fit, ", ".join("%.4f" % r["fit"] for r in rps), lt_fit / rp_fit,
            rp_process, lt_fit / rp_process,
            json.dumps({k: round(v, 4) for k, v in lts[0]["params"].items()}),
            json.dumps({k: round(v, 4) for k, v in rps[0]["params"].items()})))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
