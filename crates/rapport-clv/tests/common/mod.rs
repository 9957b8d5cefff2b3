//! Shared helpers of the reference tests: the vendored lifetimes files in testdata/clv.
#![allow(clippy::unwrap_used, missing_docs, dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/clv")
}

pub fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join(name)).unwrap()).unwrap()
}

pub fn csv_rows(name: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir().join(name)).unwrap();
    r.deserialize().map(|x| x.unwrap()).collect()
}

pub fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// Asserts `got` is within `rel` relative error of `want`.
pub fn close(got: f64, want: f64, rel: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-12);
    assert!(
        err <= rel,
        "{what}: got {got}, want {want} (relative error {err:e} > {rel:e})"
    );
}

pub fn gg(p: &Value) -> rapport_clv::GammaGamma {
    rapport_clv::GammaGamma::new(f(&p["p"]), f(&p["q"]), f(&p["v"])).unwrap()
}

/// The customer a CLV is computed for: `(frequency, recency, T, monetary_value)`.
pub fn customer(x: f64, tx: f64, t: f64, monetary_value: f64) -> rapport_clv::Summary {
    rapport_clv::Summary {
        frequency: x,
        recency: tx,
        t,
        monetary_value,
    }
}
