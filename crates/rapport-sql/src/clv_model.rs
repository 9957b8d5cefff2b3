//! The fitted-CLV-model table both SQL stores share: one row per tenant (`tenant_id`,
//! `fitted_at_us`, `model_json`), written by an upsert that keeps the latest `fitted_at`.
//! The statements are written once here; each store passes its table name and placeholders.

use rapport_core::FittedClv;

use crate::codec::{CorruptRow, from_json, to_json};

/// The upsert: insert the tenant's row, or replace it unless the stored model was fitted
/// later. `table` is the (qualified) table name; `p` the three placeholders (tenant,
/// fitted-at in µs since the epoch, model JSON).
///
/// ```
/// let sql = rapport_sql::clv_model::save_sql("rapport_clv_models", ["?1", "?2", "?3"]);
/// assert!(sql.starts_with("INSERT INTO rapport_clv_models AS m"));
/// assert!(sql.ends_with("WHERE excluded.fitted_at_us >= m.fitted_at_us"));
/// ```
#[must_use]
pub fn save_sql(table: &str, p: [&str; 3]) -> String {
    let [t, at, body] = p;
    format!(
        "INSERT INTO {table} AS m (tenant_id, fitted_at_us, model_json) VALUES ({t}, {at}, {body}) \
         ON CONFLICT (tenant_id) DO UPDATE SET fitted_at_us = excluded.fitted_at_us, \
         model_json = excluded.model_json WHERE excluded.fitted_at_us >= m.fitted_at_us"
    )
}

/// The read of a tenant's model JSON (`p`: the tenant placeholder).
///
/// ```
/// let sql = rapport_sql::clv_model::load_sql("rapport_clv_models", "?1");
/// assert_eq!(sql, "SELECT model_json FROM rapport_clv_models WHERE tenant_id = ?1");
/// ```
#[must_use]
pub fn load_sql(table: &str, p: &str) -> String {
    format!("SELECT model_json FROM {table} WHERE tenant_id = {p}")
}

/// The `fitted_at_us` and `model_json` values of a model.
///
/// # Errors
/// [`CorruptRow`] when the model does not serialise (it always does).
///
/// ```
/// use rapport_core::*;
/// let m = FittedClv {
///     model: ClvModel::BgNbd { r: 0.24, alpha: 4.41, a: 0.79, b: 2.43 },
///     spend: None,
///     period: ClvPeriod::Week,
///     monthly_discount: 0.01,
///     fitted_at: chrono::DateTime::from_timestamp_micros(1_000_000).unwrap(),
/// };
/// let (at, json) = rapport_sql::clv_model::encode(&m)?;
/// assert_eq!(at, 1_000_000);
/// assert_eq!(rapport_sql::clv_model::decode(&json)?, m);
/// # Ok::<(), rapport_sql::codec::CorruptRow>(())
/// ```
pub fn encode(model: &FittedClv) -> Result<(i64, String), CorruptRow> {
    Ok((
        model.fitted_at.timestamp_micros(),
        to_json("clv_models", model)?,
    ))
}

/// A model from its `model_json` text.
///
/// # Errors
/// [`CorruptRow`] naming `clv_models` when the text does not decode.
pub fn decode(json: &str) -> Result<FittedClv, CorruptRow> {
    from_json("clv_models", json)
}
