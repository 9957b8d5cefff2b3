#!/usr/bin/env python3
"""Makes testdata/clv/extra_reference.json: lifetimes 0.11.3 results for the models the
shared reference files do not cover (MBG/NBD, BG/BB) and Pareto/NBD CLV.

Run with the venv of scripts/bench-vs-lifetimes (lifetimes==0.11.3, numpy<2, pandas<2.1,
scipy<1.12):  /tmp/lt-venv/bin/python scripts/clv-reference.py
"""
import json, os, sys
import numpy as np
import pandas as pd
import lifetimes
from lifetimes import ModifiedBetaGeoFitter, BetaGeoBetaBinomFitter, ParetoNBDFitter, GammaGammaFitter
from lifetimes.datasets import load_donations

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "testdata", "clv")
ref = json.load(open(os.path.join(data, "cdnow_2357_reference.json")))
sample_ref = json.load(open(os.path.join(data, "cdnow_sample_reference.json")))


def params(f, names):
    return {n: float(f.params_[n]) for n in names}


def total_ll(f, n):
    # lifetimes stores the mean negative log-likelihood on the scaled data; report the total on
    # the unscaled data as the shared reference does.
    return float(-f._negative_log_likelihood_ * n)


def mbg_block(summary, horizons, freq, ids, gg_params):
    m = ModifiedBetaGeoFitter()
    m.fit(summary["frequency"], summary["recency"], summary["T"])
    p = params(m, ["r", "alpha", "a", "b"])
    x, tx, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    ll = ModifiedBetaGeoFitter._negative_log_likelihood(
        np.log([p["r"], p["alpha"], p["a"], p["b"]]), x, tx, T, np.ones_like(x), 0.0) * -len(x)
    gg = GammaGammaFitter()
    gg.params_ = pd.Series(gg_params)
    out = {"params": p, "log_likelihood": float(ll), "customers": int(len(x)), "customers_mbgnbd": []}
    sel = summary.loc[ids]
    for cid, row in sel.iterrows():
        c = {"id": str(cid), "frequency": row["frequency"], "recency": row["recency"], "T": row["T"]}
        for h in horizons:
            c[f"expected_purchases_{h}"] = float(m.conditional_expected_number_of_purchases_up_to_time(
                h, row["frequency"], row["recency"], row["T"]))
        c["p_alive"] = float(m.conditional_probability_alive(row["frequency"], row["recency"], row["T"])[0])
        if "monetary_value" in row:
            c["monetary_value"] = row["monetary_value"]
            c["clv_12m"] = float(gg.customer_lifetime_value(
                m, pd.Series([row["frequency"]]), pd.Series([row["recency"]]), pd.Series([row["T"]]),
                pd.Series([row["monetary_value"]]), time=12, discount_rate=0.01, freq=freq).iloc[0])
        out["customers_mbgnbd"].append(c)
    out["expected_purchases_new_customer"] = {str(h): float(m.expected_number_of_purchases_up_to_time(h)) for h in horizons}
    out["sum_p_alive"] = float(m.conditional_probability_alive(x, tx, T).sum())
    out["sum_expected_purchases_%d" % horizons[-1]] = float(
        m.conditional_expected_number_of_purchases_up_to_time(horizons[-1], x, tx, T).sum())
    return out


def pareto_clv(summary, p, gg_params, freq, ids):
    m = ParetoNBDFitter()
    m.params_ = pd.Series(p)
    m.predict = m.conditional_expected_number_of_purchases_up_to_time
    gg = GammaGammaFitter()
    gg.params_ = pd.Series(gg_params)
    sel = summary.loc[ids]
    v = gg.customer_lifetime_value(m, sel["frequency"], sel["recency"], sel["T"], sel["monetary_value"],
                                   time=12, discount_rate=0.01, freq=freq)
    return {str(i): float(x) for i, x in zip(sel.index, v)}


out = {"software": {"lifetimes": lifetimes.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                    "python": sys.version.split()[0]},
       "made_by": "scripts/clv-reference.py", "penalizer_coef": 0.0}

# The 2,357 cohort in weeks, with zbar as monetary value.
cohort = pd.read_csv(os.path.join(data, "cdnow_customers_summary_with_transactions.csv"))
cohort = cohort.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"}).set_index("ID")
cohort.index = cohort.index.astype(str)
ids = [c["id"] for c in ref["customers_bgnbd"]]
out["cohort_mbgnbd"] = mbg_block(cohort, [1, 10, 39, 52], "W", ids, ref["gamma_gamma"]["params"])
out["cohort_pareto_nbd_clv_12m"] = pareto_clv(cohort, ref["pareto_nbd"]["params"], ref["gamma_gamma"]["params"], "W", ids)

for name, freq, horizons in (("daily", "D", [7, 30, 273, 365]), ("weekly", "W", [1, 10, 39, 52])):
    s = pd.read_csv(os.path.join(data, sample_ref[name]["file"]), dtype={"customer_id": str}).set_index("customer_id")
    ids = [c["id"] for c in sample_ref[name]["customers_bgnbd"]]
    out[f"sample_{name}_mbgnbd"] = mbg_block(s, horizons, freq, ids, sample_ref[name]["gamma_gamma"]["params"])

# BG/BB on the donations data of Fader, Hardie & Shang (2010), 11,104 donors, 6 opportunities.
d = load_donations()
d.to_csv(os.path.join(data, "donations.csv"), index=False)
bb = BetaGeoBetaBinomFitter()
bb.fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
p = params(bb, ["alpha", "beta", "gamma", "delta"])
lp = np.log([p["alpha"], p["beta"], p["gamma"], p["delta"]])
ll = -BetaGeoBetaBinomFitter._negative_log_likelihood(
    lp, d["frequency"].to_numpy(), d["recency"].to_numpy(), d["periods"].to_numpy(), d["weights"].to_numpy(), 0.0
) * d["weights"].sum()
rows = []
for _, r in d.iterrows():
    x, tx, n = (np.array([int(r[c])]) for c in ("frequency", "recency", "periods"))
    row = {"frequency": int(x[0]), "recency": int(tx[0]), "periods": int(n[0]), "weights": int(r["weights"])}
    for m in (1, 5, 10):
        row[f"expected_purchases_{m}"] = float(bb.conditional_expected_number_of_purchases_up_to_time(m, x, tx, n)[0])
    row["p_alive_0"] = float(bb.conditional_probability_alive(0, x, tx, n)[0])
    row["p_alive_5"] = float(bb.conditional_probability_alive(5, x, tx, n)[0])
    rows.append(row)
out["donations_bgbb"] = {
    "data": "donations.csv (lifetimes.datasets.load_donations(): frequency, recency, periods, weights)",
    "paper": {"source": "Fader, Hardie & Shang (2010), Customer-base analysis in a discrete-time noncontractual setting, Marketing Science 29(6)",
              "alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783, "log_likelihood": -33225.6},
    "params": p, "log_likelihood": float(ll), "customers": int(d["weights"].sum()), "rows": rows,
    "expected_transactions_in_first_6": {str(int(k)): float(v) for k, v in
        bb.expected_number_of_transactions_in_first_n_periods(6)["model"].items()},
}
json.dump(out, open(os.path.join(data, "extra_reference.json"), "w"), indent=1)
print(json.dumps({k: v.get("params") if isinstance(v, dict) else v for k, v in out.items()}, indent=1))
