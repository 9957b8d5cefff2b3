//! Merging two accounts and undoing it (the customer merge rules applied to accounts; the
//! plan is [`plan_account_merge`] / [`plan_account_unmerge`] in the core): one changeset each,
//! written with the versions read and decided again on a concurrent change.

use rapport_core::*;

use crate::error::Error;
use crate::service::Service;

impl<S: AccountStore, N: Notifier> Service<S, N> {
    /// Merges `loser` into `survivor`: the loser's people's links fold into the survivor's
    /// (roles unioned), its attributed purchases and refunds and its subsidiaries move to the
    /// survivor, and the loser becomes a tombstone pointing at it, recording what moved.
    /// Returns the tombstone. The survivor's tier and stage are decided again by the next
    /// [`Service::evaluate_account`] or sweep.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let acme = block_on(svc.create_account(t, AccountName::new("Acme")?, None))?;
    /// let dup = block_on(svc.create_account(t, AccountName::new("ACME Inc.")?, None))?;
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// block_on(svc.link_contact(t, dup.id(), ann, [AccountRole::DecisionMaker].into(), true))?;
    /// let usd = Money::new("900".parse()?, Currency::USD);
    /// block_on(svc.record_for_account(t, dup.id(), NewActivity::purchase(ann, "SO-1", usd, svc.now())?))?;
    ///
    /// let tombstone = block_on(svc.merge_accounts(t, dup.id(), acme.id()))?;
    /// assert_eq!(tombstone.merged_into(), Some(acme.id()));
    /// let view = block_on(svc.account_view(t, acme.id()))?;
    /// assert_eq!(view.stats.revenue(), Some(usd));
    /// assert_eq!(view.rollup.contacts, 1);
    ///
    /// // Undone: everything goes back.
    /// block_on(svc.unmerge_accounts(t, dup.id()))?;
    /// assert_eq!(block_on(svc.account_view(t, dup.id()))?.stats.revenue(), Some(usd));
    /// assert!(block_on(svc.account_contacts(t, acme.id()))?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] naming `account.merge` (the same account twice, a
    /// tombstone) or `account.parent` (the survivor sits below the loser, or a subsidiary
    /// would end up more than five levels deep); a missing account; store errors.
    pub async fn merge_accounts(
        &self,
        t: TenantId,
        loser: AccountId,
        survivor: AccountId,
    ) -> Result<Account, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let l = self.account(t, loser).await?;
            let s = self.account(t, survivor).await?;
            let loser_links = self.store().account_links(t, loser).await?;
            let survivor_links = self.store().account_links(t, survivor).await?;
            let loser_activities = self.store().account_activities(t, loser).await?;
            let mut subsidiaries = Vec::new();
            for sub in self.store().subsidiaries(t, loser).await? {
                let height = self.below(t, sub.id()).await?.iter().map(|(_, h)| *h).max();
                subsidiaries.push((sub, height.unwrap_or(0)));
            }
            let survivor_chain = self.ancestors(t, survivor).await?;
            let cs = plan_account_merge(
                AccountMergeInputs {
                    loser: &l,
                    survivor: &s,
                    loser_links: &loser_links,
                    survivor_links: &survivor_links,
                    loser_activities: &loser_activities,
                    subsidiaries: &subsidiaries,
                    survivor_chain: &survivor_chain,
                },
                self.now(),
            )?;
            match self.store().apply(t, &cs).await {
                Ok(_) => return tombstone_of(&cs, loser),
                Err(StoreError::AccountConflict { .. }) if attempt < self.max_attempts() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Undoes the merge of `loser` (a tombstone): it is live again with its links, its
    /// attributions and the subsidiaries still under the survivor; the survivor's links to
    /// its people are put back as they were before the merge. Returns the restored account.
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] naming `account.merge` when `loser` is not a tombstone; a
    /// missing account; store errors (an attribution no longer with the survivor fails the
    /// changeset: nothing is written).
    pub async fn unmerge_accounts(&self, t: TenantId, loser: AccountId) -> Result<Account, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let l = self.account(t, loser).await?;
            let Some(into) = l.merged_into() else {
                return Err(DomainError::InvalidText {
                    field: "account.merge",
                    value: loser.to_string(),
                    reason: "the account is not merged into another",
                }
                .into());
            };
            let s = self.account(t, into).await?;
            let subsidiaries = self.store().subsidiaries(t, into).await?;
            let cs = plan_account_unmerge(&l, &s, &subsidiaries, self.now())?;
            match self.store().apply(t, &cs).await {
                Ok(_) => return tombstone_of(&cs, loser),
                Err(StoreError::AccountConflict { .. }) if attempt < self.max_attempts() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The account `id` as the changeset wrote it.
fn tombstone_of(cs: &Changeset, id: AccountId) -> Result<Account, Error> {
    cs.accounts
        .iter()
        .map(AccountWrite::account)
        .find(|a| a.id() == id)
        .cloned()
        .ok_or_else(|| {
            Error::Store(StoreError::NotFound {
                entity: rapport_core::ports::Entity::Account(id),
            })
        })
}
