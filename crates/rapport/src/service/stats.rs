//! Per-category spend kept in `Stats` under the [`StatsPolicy`]: folded as purchases and
//! refunds with lines are recorded, and folded again from a customer's whole history when its
//! stats were folded under another policy (`Service::refold_stats`).

use rapport_core::*;

use super::{Decision, Service, Step};
use crate::error::Error;

impl<S: Store, N: Notifier> Service<S, N> {
    /// Folds a recorded activity's lines into `stats` (the activity itself folded already)
    /// under the policy's tracked categories. Stats folded under another policy start
    /// tracking the policy's categories when the customer had no order before this one (no
    /// lines to catch up on); otherwise they stop keeping per-category spend, which is then
    /// read from the line items until [`Service::refold_stats`] folds them again.
    pub(crate) fn fold_category_spend(
        &self,
        stats: &mut Stats,
        first_order: bool,
        activity: &Activity,
        lines: &[LineItems],
    ) -> Result<(), DomainError> {
        stats.fold_lines(
            &self.policies.stats.category_spend,
            first_order,
            activity,
            lines,
        )
    }

    /// Folds the customer's stats again from its whole history — activities and line lists —
    /// under the policy in force, and stores them when they changed: after the
    /// [`StatsPolicy`] changed (a category tracked since), so that `category_spend` of the
    /// tracked categories is answered from the stats again. Returns the record as stored.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// let store = std::sync::Arc::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let tea = ProductCategory::new("tea")?;
    /// let id = {
    ///     // Lines recorded before the policy tracks tea.
    ///     let svc = Service::new(store.clone());
    ///     let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    ///     let lines = vec![LineItem::new(Sku::new("puer")?, 2, usd("15"), Some(tea.clone()))?];
    ///     block_on(svc.record_with_lines(t, NewActivity::purchase(id, "o1", usd("30"), svc.now())?, lines, false))?;
    ///     id
    /// };
    /// let mut policies = Policies::default();
    /// policies.stats.category_spend.insert(tea.clone());
    /// let svc = Service::new(store).with_policies(policies)?;
    /// assert!(!block_on(svc.customer(t, id))?.stats.tracks_category(&tea));
    /// let r = block_on(svc.refold_stats(t, id))?;
    /// assert_eq!(r.stats.category_spend(&tea, 365, svc.now()), Some("30".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`], tombstones, stats errors, store errors.
    pub async fn refold_stats(&self, t: TenantId, id: CustomerId) -> Result<Record, Error> {
        let lines = self.store.purchase_lines(t, id).await?;
        let tracked = &self.policies.stats.category_spend;
        let (r, _) = self
            .modify_with_history(t, id, None, true, |read, history, _now| {
                read.customer.ensure_live()?;
                let stats = match &lines {
                    Some(lines) => Stats::from_history(history, lines, tracked.iter().cloned())?,
                    // A store without line items: nothing to keep per category.
                    None => Stats::from_activities(history)?,
                };
                if stats == read.stats {
                    return Ok(Step::Keep(read));
                }
                Ok(Step::Write(Decision {
                    customer: read.customer,
                    stats,
                    activities: Vec::new(),
                    events: Vec::new(),
                    line_items: Vec::new(),
                    account_activities: Vec::new(),
                }))
            })
            .await?;
        Ok(r)
    }
}
