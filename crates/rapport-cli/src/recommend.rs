//! `rapport recommend <key> [--k 10] [--json]`: the top items for a customer from the
//! tenant's line items (item-item cosine, cold start by the tier's favourites).

use chrono::Utc;
use rapport_core::recommend::CosineParams;
use rapport_core::{
    ActivityId, CustomerId, LineItemStore, LineItems, ProductCategory, StoreError, TenantId,
};
use serde_json::json;

use crate::error::Result;
use crate::store::{self, Db};

impl LineItemStore for Db {
    async fn line_items(
        &self,
        t: TenantId,
        a: ActivityId,
    ) -> std::result::Result<Option<LineItems>, StoreError> {
        match self {
            Db::Sqlite(s) => s.line_items(t, a).await,
            Db::Postgres(s) => s.line_items(t, a).await,
        }
    }
    async fn customer_line_items(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> std::result::Result<Vec<LineItems>, StoreError> {
        match self {
            Db::Sqlite(s) => s.customer_line_items(t, c).await,
            Db::Postgres(s) => s.customer_line_items(t, c).await,
        }
    }
    async fn line_items_page(
        &self,
        t: TenantId,
        after: Option<ActivityId>,
        limit: u32,
    ) -> std::result::Result<Vec<LineItems>, StoreError> {
        match self {
            Db::Sqlite(s) => s.line_items_page(t, after, limit).await,
            Db::Postgres(s) => s.line_items_page(t, after, limit).await,
        }
    }
}

/// Every customer's purchases from the tenant's line items (read page by page), for
/// `rapport segment` with `bought(...)` / `category_spend(...)`.
pub(crate) fn purchases_by_customer(
    store: &Db,
    t: TenantId,
) -> Result<std::collections::HashMap<CustomerId, rapport_core::PurchaseSummary>> {
    use futures::executor::block_on;
    const PAGE: u32 = 5_000;
    let mut lists: std::collections::HashMap<CustomerId, Vec<LineItems>> =
        std::collections::HashMap::new();
    let mut after = None;
    loop {
        let page = block_on(store.line_items_page(t, after, PAGE))?;
        let full = page.len() == PAGE as usize;
        after = page.last().map(|l| l.activity).or(after);
        for l in page {
            lists.entry(l.customer).or_default().push(l);
        }
        if !full {
            break;
        }
    }
    Ok(lists
        .into_iter()
        .map(|(c, l)| (c, rapport_core::PurchaseSummary::from_line_items(&l)))
        .collect())
}

/// The `[recommend]` section of rapport.toml: `repeatable = ["tea", "coffee"]`, the
/// categories `rapport recommend` recommends again to customers who bought them (the
/// `--repeatable` flag replaces it).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendSection {
    /// Repeatable categories.
    #[serde(default)]
    pub(crate) repeatable: Vec<String>,
}

/// Runs `rapport recommend`.
pub(crate) fn run(
    db: &str,
    t: TenantId,
    key: &str,
    k: usize,
    params: CosineParams,
    repeatable: &[String],
    as_json: bool,
) -> Result<()> {
    let repeatable = repeatable
        .iter()
        .map(|c| {
            ProductCategory::new(c.trim()).map_err(|e| crate::error::fail!("--repeatable: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let store = store::open(db, Utc::now())?;
    let svc = rapport::blocking::Service::new(store);
    let id = crate::case::customer(&svc, t, key)?;
    let kept = svc.recommender(t, params)?.with_repeatable(repeatable);
    let r = svc.recommend_from(&kept, t, id, k)?;
    if as_json {
        let items: Vec<_> = r
            .items
            .iter()
            .map(|i| {
                json!({
                    "sku": i.sku.as_str(),
                    "score": i.score,
                    "because": i.because.iter().map(|(s, v)| json!({"sku": s.as_str(), "similarity": v})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let out = json!({
            "customer": r.customer.to_string(),
            "tier": r.tier,
            "cold_start": r.cold_start,
            "items": items,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if r.items.is_empty() {
        println!("no recommendations: no line items recorded in this tenant");
        return Ok(());
    }
    if r.cold_start {
        println!(
            "nothing bought yet that scores: the most-bought items of tier {:?}",
            r.tier
        );
    }
    for (n, i) in r.items.iter().enumerate() {
        let why: Vec<&str> = i.because.iter().map(|(s, _)| s.as_str()).collect();
        if why.is_empty() {
            println!("{:>3}. {}  ({} buyers)", n + 1, i.sku, i.score);
        } else {
            println!(
                "{:>3}. {}  score {:.3}  because you bought {}",
                n + 1,
                i.sku,
                i.score,
                why.join(" and ")
            );
        }
    }
    Ok(())
}

/// How many items per tier the report's "top products by tier" lists.
pub(crate) const TOP_PRODUCTS: usize = 5;

/// The report's section: each tier (ladder order) with its top items.
pub(crate) type TopProducts = Vec<(String, Vec<TopProduct>)>;

/// One item of a tier's top list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct TopProduct {
    pub(crate) sku: String,
    /// Distinct buyers in the tier (net of refunded lines).
    pub(crate) buyers: u32,
}

/// The report's "top products by tier": each tier's most-bought items, from
/// [`rapport::Service::top_products_by_tier`] (no computation here). `None` when the tenant
/// has no line items.
pub(crate) fn section(
    svc: &rapport::blocking::Service<Db>,
    t: TenantId,
) -> Result<Option<TopProducts>> {
    let by_tier = svc.top_products_by_tier(t, TOP_PRODUCTS)?;
    if by_tier.iter().all(|(_, items)| items.is_empty()) {
        return Ok(None);
    }
    Ok(Some(
        by_tier
            .into_iter()
            .map(|(tier, items)| {
                let items = items
                    .into_iter()
                    .map(|(sku, buyers)| TopProduct {
                        sku: sku.as_str().to_owned(),
                        buyers,
                    })
                    .collect();
                (tier.as_str().to_owned(), items)
            })
            .collect(),
    ))
}

/// The section as JSON: `{"gold": [{"sku": …, "buyers": n}, …], …}`, tiers in ladder order.
pub(crate) fn section_json(s: &[(String, Vec<TopProduct>)]) -> serde_json::Value {
    s.iter()
        .map(|(tier, items)| (tier.clone(), json!(items)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The section as text.
pub(crate) fn section_text(s: &[(String, Vec<TopProduct>)]) -> String {
    let mut out = String::from("Top products by tier (distinct buyers)\n");
    for (tier, items) in s {
        let list: Vec<String> = items
            .iter()
            .map(|p| format!("{} ({})", p.sku, p.buyers))
            .collect();
        out.push_str(&format!("  {tier:<10} {}\n", list.join(", ")));
    }
    out
}

/// The section as HTML.
pub(crate) fn section_html(s: &[(String, Vec<TopProduct>)]) -> String {
    use crate::render::esc;
    let rows: String = s
        .iter()
        .map(|(tier, items)| {
            let list: Vec<String> = items
                .iter()
                .map(|p| format!("{} ({})", esc(&p.sku), p.buyers))
                .collect();
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(tier),
                list.join(", ")
            )
        })
        .collect();
    format!(
        "<section id=\"top-products\"><h2>Top products by tier</h2><table><tr><th>tier</th><th>most bought (distinct buyers)</th></tr>{rows}</table></section>\n"
    )
}

/// Bulk imports with line items through the opened store's own import (and its log).
impl rapport_core::ports::ActivityImport for Db {
    async fn import_activities(
        &self,
        tenant: TenantId,
        batch: Vec<rapport_core::ports::ImportActivity>,
        policy: &rapport_core::ports::ImportPolicy,
    ) -> std::result::Result<rapport_core::ports::ActivityImportReport, StoreError> {
        match self {
            Db::Sqlite(s) => s.import_activities(tenant, batch, policy).await,
            Db::Postgres(s) => s.import_activities(tenant, batch, policy).await,
        }
    }
}
