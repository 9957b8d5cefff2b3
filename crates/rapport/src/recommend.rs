//! Recommendations from the tenant's line items: the item-item cosine model
//! ([`ItemModel`](rapport_core::recommend::ItemModel)) built in one pass over every stored
//! line list (net of refunded lines), and the most-bought items of the customer's tier when
//! nothing scores (DOMAIN.md "Products and recommendations").

use std::collections::{HashMap, HashSet};

use rapport_core::ports::net_purchases;
use rapport_core::recommend::{
    CosineParams, ItemModel, Popularity, Recommendation, recommend_with_fallback,
};
use rapport_core::*;

use crate::error::Error;
use crate::service::Service;
use crate::store_ext::StoreExt;

/// The page size line items are read with.
const LINE_PAGE: u32 = 5_000;

/// A customer's recommendations (see [`Service::recommend`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendations {
    /// The customer (the survivor when the id asked for was merged).
    pub customer: CustomerId,
    /// Its tier, whose most-bought items are the cold-start fallback.
    pub tier: Tier,
    /// Best first, each with its score and the bought items behind it.
    pub items: Vec<Recommendation>,
    /// True when nothing scored and `items` are the tier's most-bought items.
    pub cold_start: bool,
}

/// Each tier with its most-bought items and their distinct buyer counts, tiers in ladder
/// order (see [`Service::top_products_by_tier`]).
pub type TopByTier = Vec<(Tier, Vec<(Sku, u32)>)>;

/// A tenant's purchases as the recommender sees them: `(customer, sku)` net of refunds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purchases {
    /// Every `(customer, sku)` pair, customer then sku order.
    pub pairs: Vec<(CustomerId, Sku)>,
}

impl<S: LineItemStore, N: Notifier> Service<S, N> {
    /// Every stored line list of the tenant, net of refunded lines (read page by page).
    ///
    /// # Errors
    /// Store errors.
    pub async fn purchases(&self, t: TenantId) -> Result<Purchases, Error> {
        let mut rows: Vec<LineItems> = Vec::new();
        let mut after = None;
        loop {
            let page = self.store().line_items_page(t, after, LINE_PAGE).await?;
            let full = page.len() == LINE_PAGE as usize;
            after = page.last().map(|l| l.activity).or(after);
            rows.extend(page);
            if !full {
                break;
            }
        }
        Ok(Purchases {
            pairs: net_purchases(&rows),
        })
    }

    /// The item-item model of the tenant's purchases with `params`.
    ///
    /// # Errors
    /// Store errors.
    pub async fn recommendation_model(
        &self,
        t: TenantId,
        params: CosineParams,
    ) -> Result<ItemModel, Error> {
        let p = self.purchases(t).await?;
        Ok(ItemModel::build(
            p.pairs.iter().map(|(c, s)| (*c, s)),
            params,
        ))
    }

    /// The top `k` items for customer `id`, from the tenant's line items with the default
    /// model parameters (min support 3, 50 neighbours): items similar to what it bought and
    /// has not bought, each explained; when nothing scores, the most-bought items among the
    /// customers of its tier. The model is built from the store on each call (one pass over
    /// the tenant's line items); hosts serving many requests build it once with
    /// [`Service::recommendation_model`] and call `ItemModel::recommend` themselves.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// // Nobody bought anything: a cold start with nothing to offer.
    /// let r = block_on(svc.recommend(t, ann, 10))?;
    /// assert!(r.cold_start && r.items.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown customer; store errors.
    pub async fn recommend(
        &self,
        t: TenantId,
        id: CustomerId,
        k: usize,
    ) -> Result<Recommendations, Error> {
        self.recommend_with(t, id, k, CosineParams::default()).await
    }

    /// [`Service::recommend`] with other model parameters.
    ///
    /// # Errors
    /// As [`Service::recommend`].
    pub async fn recommend_with(
        &self,
        t: TenantId,
        id: CustomerId,
        k: usize,
        params: CosineParams,
    ) -> Result<Recommendations, Error> {
        let r = self.customer(t, id).await?;
        let me = r.customer.id();
        let tier = r.customer.tier();
        let p = self.purchases(t).await?;
        let model = ItemModel::build(p.pairs.iter().map(|(c, s)| (*c, s)), params);
        let bought: Vec<Sku> = p
            .pairs
            .iter()
            .filter(|(c, _)| *c == me)
            .map(|(_, s)| s.clone())
            .collect();
        let popular = self.tier_popularity(t, &p, tier).await?;
        let (items, cold_start) = recommend_with_fallback(&model, &popular, &bought, k, |_| false);
        Ok(Recommendations {
            customer: me,
            tier,
            items,
            cold_start,
        })
    }

    /// The most-bought items among the customers of `tier`.
    async fn tier_popularity(
        &self,
        t: TenantId,
        p: &Purchases,
        tier: Tier,
    ) -> Result<Popularity, Error> {
        let tiers = self.tiers_of(t, p).await?;
        Ok(Popularity::build(
            p.pairs
                .iter()
                .filter(|(c, _)| tiers.get(c) == Some(&tier))
                .map(|(c, s)| (*c, s)),
        ))
    }

    /// The tier of every buyer.
    async fn tiers_of(
        &self,
        t: TenantId,
        p: &Purchases,
    ) -> Result<HashMap<CustomerId, Tier>, Error> {
        let buyers: HashSet<CustomerId> = p.pairs.iter().map(|(c, _)| *c).collect();
        Ok(self
            .store()
            .scan_all(t, 1_000)
            .await?
            .into_iter()
            .filter(|r| buyers.contains(&r.customer.id()))
            .map(|r| (r.customer.id(), r.customer.tier()))
            .collect())
    }

    /// The `k` most-bought items of each tier (distinct buyers, ties by sku), tiers in
    /// ladder order: the report's "top products by tier".
    ///
    /// # Errors
    /// Store errors.
    pub async fn top_products_by_tier(&self, t: TenantId, k: usize) -> Result<TopByTier, Error> {
        let p = self.purchases(t).await?;
        let tiers = self.tiers_of(t, &p).await?;
        let mut by: std::collections::BTreeMap<Tier, Vec<(CustomerId, &Sku)>> =
            std::collections::BTreeMap::new();
        for (c, s) in &p.pairs {
            if let Some(tier) = tiers.get(c) {
                by.entry(*tier).or_default().push((*c, s));
            }
        }
        Ok(by
            .into_iter()
            .map(|(tier, pairs)| (tier, Popularity::build(pairs).top(k, &[])))
            .collect())
    }
}
