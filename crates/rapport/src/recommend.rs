//! Recommendations from the tenant's line items: the item-item cosine model
//! ([`ItemModel`](rapport_core::recommend::ItemModel)) built in one pass over every stored
//! line list (net of refunded lines), and the most-bought items of the customer's tier when
//! nothing scores (DOMAIN.md "Products and recommendations").

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    /// The categories each sku's lines name (skus whose lines name none are absent).
    pub categories: BTreeMap<Sku, BTreeSet<ProductCategory>>,
}

/// A tenant's recommendation model kept by the host (see [`Service::recommender`]): the
/// item-item model, what each customer bought (net of refunds) and each tier's most-bought
/// items for the cold start. Pure once built; its answers are those of
/// [`Service::recommend_with`] on the line items it was built from.
///
/// ```
/// # use futures::executor::block_on;
/// # use rapport::{NewActivity, Service};
/// # use rapport::core::*;
/// # use rapport::core::recommend::CosineParams;
/// # use rapport_memory::MemoryStore;
/// let svc = Service::new(MemoryStore::new());
/// let t = TenantId::from_u128(1);
/// let ann = block_on(svc.register(t, Profile::default()))?.customer;
/// let tea = LineItem::new(Sku::new("tea")?, 1, Money::new(2.into(), Currency::USD), None)?;
/// let buy = NewActivity::purchase(ann.id(), "o1", Money::new(2.into(), Currency::USD), svc.now())?;
/// block_on(svc.record_with_lines(t, buy, vec![tea], false))?;
/// let kept = block_on(svc.recommender(t, CosineParams::default()))?;
/// // Ann's tier's favourite is tea: the only item, and Ann has it.
/// let tier = block_on(svc.customer(t, ann.id()))?.customer.tier();
/// assert_eq!(kept.top_by_tier(3), vec![(tier, vec![(Sku::new("tea")?, 1)])]);
/// assert!(kept.recommend(ann.id(), tier, 3).items.is_empty());
/// assert_eq!(kept.model().skus().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Recommender {
    model: ItemModel,
    bought: HashMap<CustomerId, Vec<Sku>>,
    popular: BTreeMap<Tier, Popularity>,
    categories: BTreeMap<Sku, BTreeSet<ProductCategory>>,
    repeatable: BTreeSet<ProductCategory>,
    repeatable_skus: HashSet<Sku>,
}

impl Recommender {
    /// The item-item model.
    #[must_use]
    pub fn model(&self) -> &ItemModel {
        &self.model
    }

    /// With `categories` repeatable (DOMAIN.md: "j not bought by c, unless j's category is
    /// repeatable"): an item a line of one of these categories names is recommended again to
    /// a customer who already bought it (tea, coffee: bought again and again). Replaces the
    /// repeatable categories set before; none by default.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport::core::recommend::CosineParams;
    /// # use rapport_memory::MemoryStore;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let tea = Some(ProductCategory::new("tea")?);
    /// let mut ids = Vec::new();
    /// for n in 0..2 {
    ///     let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///     let lines = vec![
    ///         LineItem::new(Sku::new("puer")?, 1, usd("2"), tea.clone())?,
    ///         LineItem::new(Sku::new("cup")?, 1, usd("2"), None)?,
    ///     ];
    ///     let buy = NewActivity::purchase(id, format!("o{n}"), usd("4"), svc.now())?;
    ///     block_on(svc.record_with_lines(t, buy, lines, false))?;
    ///     ids.push(id);
    /// }
    /// let params = CosineParams { min_support: 1, neighbours: 50 };
    /// let kept = block_on(svc.recommender(t, params))?;
    /// // Both items bought: nothing left to recommend…
    /// assert!(block_on(svc.recommend_from(&kept, t, ids[0], 10))?.items.is_empty());
    /// // …unless tea is bought again and again.
    /// let kept = kept.with_repeatable([ProductCategory::new("tea")?]);
    /// let r = block_on(svc.recommend_from(&kept, t, ids[0], 10))?;
    /// assert_eq!(r.items[0].sku.as_str(), "puer");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_repeatable(
        mut self,
        categories: impl IntoIterator<Item = ProductCategory>,
    ) -> Self {
        self.repeatable = categories.into_iter().collect();
        self.repeatable_skus = self
            .categories
            .iter()
            .filter(|(_, cs)| !cs.is_disjoint(&self.repeatable))
            .map(|(s, _)| s.clone())
            .collect();
        self
    }

    /// The repeatable categories (see [`Recommender::with_repeatable`]).
    #[must_use]
    pub fn repeatable(&self) -> &BTreeSet<ProductCategory> {
        &self.repeatable
    }

    /// The top `k` items for `customer` of `tier`: the model's, or the tier's most bought
    /// when nothing scores.
    #[must_use]
    pub fn recommend(&self, customer: CustomerId, tier: Tier, k: usize) -> Recommendations {
        let none = Vec::new();
        let bought = self.bought.get(&customer).unwrap_or(&none);
        let empty = Popularity::default();
        let popular = self.popular.get(&tier).unwrap_or(&empty);
        let (items, cold_start) = recommend_with_fallback(&self.model, popular, bought, k, |s| {
            self.repeatable_skus.contains(s)
        });
        Recommendations {
            customer,
            tier,
            items,
            cold_start,
        }
    }

    /// The `k` most-bought items of each tier with buyers, tiers in ladder order.
    #[must_use]
    pub fn top_by_tier(&self, k: usize) -> TopByTier {
        self.popular
            .iter()
            .map(|(tier, p)| (*tier, p.top(k, &[])))
            .collect()
    }
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
        let mut categories: BTreeMap<Sku, BTreeSet<ProductCategory>> = BTreeMap::new();
        for l in rows.iter().filter(|r| !r.refund).flat_map(|r| &r.items) {
            if let Some(c) = &l.category {
                categories
                    .entry(l.sku.clone())
                    .or_default()
                    .insert(c.clone());
            }
        }
        Ok(Purchases {
            pairs: net_purchases(&rows),
            categories,
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

    /// A [`Recommender`] of the tenant's purchases with `params`: the model, what every
    /// customer bought and each tier's most-bought items, built in one pass over the
    /// tenant's line items. A host serving many requests keeps it and asks
    /// [`Service::recommend_from`]; it does not see line items written after it was built
    /// (build a new one to take them in, e.g. after an import or nightly).
    ///
    /// # Errors
    /// Store errors.
    pub async fn recommender(
        &self,
        t: TenantId,
        params: CosineParams,
    ) -> Result<Recommender, Error> {
        let p = self.purchases(t).await?;
        let model = ItemModel::build(p.pairs.iter().map(|(c, s)| (*c, s)), params);
        let popular = self.popular_by_tier(t, &p).await?;
        let mut bought: HashMap<CustomerId, Vec<Sku>> = HashMap::new();
        for (c, s) in &p.pairs {
            bought.entry(*c).or_default().push(s.clone());
        }
        Ok(Recommender {
            model,
            bought,
            popular,
            categories: p.categories,
            repeatable: BTreeSet::new(),
            repeatable_skus: HashSet::new(),
        })
    }

    /// The top `k` items for customer `id`, from the tenant's line items with the default
    /// model parameters (min support 3, 50 neighbours): items similar to what it bought and
    /// has not bought, each explained; when nothing scores, the most-bought items among the
    /// customers of its tier. The model is built from the store on each call (one pass over
    /// the tenant's line items); hosts serving many requests build a [`Recommender`] once
    /// with [`Service::recommender`] and ask [`Service::recommend_from`].
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

    /// [`Service::recommend`] with other model parameters. For repeatable categories, build a
    /// [`Recommender`] and name them with [`Recommender::with_repeatable`].
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
        let r = self.recommender(t, params).await?;
        self.recommend_from(&r, t, id, k).await
    }

    /// The top `k` items for customer `id` from a kept [`Recommender`]: one customer read
    /// (its tier, or its survivor's after a merge), no line items read.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport::core::recommend::CosineParams;
    /// # use rapport_memory::MemoryStore;
    /// let svc = Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let mut ids = Vec::new();
    /// for (n, basket) in [&["tea", "cup"][..], &["tea"][..]].iter().enumerate() {
    ///     let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///     let lines = basket
    ///         .iter()
    ///         .map(|s| LineItem::new(Sku::new(*s)?, 1, usd("2"), None))
    ///         .collect::<Result<Vec<_>, _>>()?;
    ///     let amount = usd(&(2 * basket.len()).to_string());
    ///     let buy = NewActivity::purchase(id, format!("o{n}"), amount, svc.now())?;
    ///     block_on(svc.record_with_lines(t, buy, lines, false))?;
    ///     ids.push(id);
    /// }
    /// let params = CosineParams { min_support: 1, neighbours: 50 };
    /// let kept = block_on(svc.recommender(t, params))?;
    /// let r = block_on(svc.recommend_from(&kept, t, ids[1], 10))?;
    /// assert_eq!(r.items[0].sku.as_str(), "cup");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown customer; store errors.
    pub async fn recommend_from(
        &self,
        kept: &Recommender,
        t: TenantId,
        id: CustomerId,
        k: usize,
    ) -> Result<Recommendations, Error> {
        let r = self.customer(t, id).await?;
        Ok(kept.recommend(r.customer.id(), r.customer.tier(), k))
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
        Ok(self
            .popular_by_tier(t, &p)
            .await?
            .iter()
            .map(|(tier, pop)| (*tier, pop.top(k, &[])))
            .collect())
    }

    /// Each tier's most-bought items (distinct buyers), tiers with buyers only.
    async fn popular_by_tier(
        &self,
        t: TenantId,
        p: &Purchases,
    ) -> Result<BTreeMap<Tier, Popularity>, Error> {
        let tiers = self.tiers_of(t, p).await?;
        let mut by_tier: BTreeMap<Tier, Vec<(CustomerId, &Sku)>> = BTreeMap::new();
        for (c, s) in &p.pairs {
            if let Some(tier) = tiers.get(c) {
                by_tier.entry(*tier).or_default().push((*c, s));
            }
        }
        Ok(by_tier
            .into_iter()
            .map(|(tier, pairs)| (tier, Popularity::build(pairs)))
            .collect())
    }
}
