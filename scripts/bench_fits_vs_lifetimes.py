"""Each count model's fit, rapport against lifetimes 0.11.3, side by side in one run.

Usage (from the repository root, with lifetimes in the venv of scripts/bench-vs-lifetimes):
    target/bench-venv/bin/python scripts/bench_fits_vs_lifetimes.py --customers 1000000 \
        [--models bgnbd,mbgnbd,pareto-nbd] [--rapport target/release/rapport] \
        [--input testdata/clv/cdnow_customers_summary.csv]

The summary is the synthetic CDNOW-like one of bench_vs_lifetimes.py (same seed). lifetimes'
time is its `fit` call alone, in a process that has already read the CSV; rapport's is the wall
time of `rapport clv fit --model M --input summary.csv` (reading the CSV included). Prints a
Markdown table."""
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
    r = subprocess.run([exe, "clv", "fit", "--model", model, "--input", path], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit("rapport failed:\n" + r.stderr)
    return {"fit": wall, "params": json.loads(r.stdout)["params"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--models", default="bgnbd,mbgnbd,pareto-nbd")
    ap.add_argument("--rapport", default="target/release/rapport")
    ap.add_argument("--out", default="target/bench-fits")
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
    print("| model | lifetimes fit | rapport `clv fit` (read + fit) | ratio | parameters (lifetimes / rapport) |")
    print("|---|---|---|---|---|")
    for m in a.models.split(","):
        lt = lifetimes_fit(path, m)
        rp = rapport_fit(a.rapport, path, m)
        ratio = lt["fit"] / rp["fit"]
        print("| %s | %.2f s | %.3f s | **%.0f×** | %s / %s |" % (
            m, lt["fit"], rp["fit"], ratio,
            json.dumps({k: round(v, 4) for k, v in lt["params"].items()}),
            json.dumps({k: round(v, 4) for k, v in rp["params"].items()})))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
