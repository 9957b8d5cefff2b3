//! An account's value (B2B): purchases attributed to an account, its figures (own and rolled
//! up over its subsidiaries), its tier, stage and churn risk decided with the tenant's
//! [`AccountPolicies`], and the sweep that re-evaluates every account.

use std::collections::BTreeMap;

use rapport_core::*;

use crate::account::AccountRollup;
use crate::activity::NewActivity;
use crate::error::Error;
use crate::service::{Recorded, Service};

/// Everything known about an account's value at `now` (see [`Service::account_view`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountView {
    /// The account as stored (with the standing of its last evaluation).
    pub account: Account,
    /// Figures of the purchases attributed to the account itself.
    pub stats: Stats,
    /// Figures over the account and every subsidiary below it (what it is decided on).
    pub group_stats: Stats,
    /// Net revenue by the person who bought, over the account and its subsidiaries.
    pub revenue_by_contact: BTreeMap<CustomerId, Money>,
    /// Contacts by role, own and over the group.
    pub rollup: AccountRollup,
    /// Tier, stage and churn risk at `now`, with reasons (not written: see
    /// [`Service::evaluate_account`]).
    pub evaluation: AccountEvaluation,
}

/// What [`Service::sweep_accounts`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountSweep {
    /// Accounts evaluated.
    pub accounts: usize,
    /// Accounts whose standing changed (written).
    pub changed: usize,
    /// Accounts per tier after the sweep.
    pub by_tier: BTreeMap<Tier, usize>,
    /// Accounts per stage after the sweep (by the stage's name).
    pub by_stage: BTreeMap<&'static str, usize>,
    /// Active contacts per role over every account (a person counted once per account).
    pub contacts_by_role: BTreeMap<AccountRole, usize>,
}

/// How many account updates one sweep changeset carries.
const SWEEP_BATCH: usize = 256;

impl<S: AccountStore, N: Notifier> Service<S, N> {
    /// Attributes a customer's recorded purchase or refund (by idempotency key) to an account.
    /// Idempotent: an activity stays with the first account it was attributed to. Returns the
    /// attribution written (or already kept).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let acme = block_on(svc.create_account(t, AccountName::new("Acme")?, None))?;
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let order = NewActivity::purchase(ann, "SO-1", usd("5000"), svc.now())?;
    /// let key = order.idempotency_key.clone();
    /// block_on(svc.record(t, order))?;
    /// block_on(svc.attribute(t, acme.id(), ann, &key))?;
    /// let view = block_on(svc.account_view(t, acme.id()))?;
    /// assert_eq!(view.stats.revenue(), Some(usd("5000")));
    /// assert_eq!(view.revenue_by_contact[&ann], usd("5000"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A missing account or customer; an unknown key ([`DomainError::InvalidText`] naming
    /// `account.activity`); an activity that is not a purchase or refund; store errors.
    pub async fn attribute(
        &self,
        t: TenantId,
        account: AccountId,
        customer: CustomerId,
        key: &IdempotencyKey,
    ) -> Result<AccountActivity, Error> {
        self.account(t, account).await?;
        let activity = self
            .store()
            .activities(t, customer, TimeRange::all())
            .await?
            .into_iter()
            .find(|a| &a.idempotency_key == key)
            .ok_or_else(|| DomainError::InvalidText {
                field: "account.activity",
                value: key.as_str().to_owned(),
                reason: "no activity of this customer has the key",
            })?;
        let attributed = AccountActivity::new(account, activity)?;
        let mut cs = Changeset::new();
        cs.account_activities.push(attributed.clone());
        self.store().apply(t, &cs).await?;
        Ok(attributed)
    }

    /// Records an activity ([`Service::record`]) and attributes it to `account` (a purchase or
    /// refund made for the company), both in one changeset. The account is checked first. A
    /// key recorded before (a retry, or a plain `record` of the same order) writes nothing
    /// new and is attributed as [`Service::attribute`] does (the first attribution wins).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let acme = block_on(svc.create_account(t, AccountName::new("Acme")?, None))?;
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let order = NewActivity::purchase(ann, "SO-1", usd("5000"), svc.now())?;
    /// assert!(!block_on(svc.record_for_account(t, acme.id(), order.clone()))?.duplicate);
    /// assert!(block_on(svc.record_for_account(t, acme.id(), order))?.duplicate); // a retry
    /// assert_eq!(block_on(svc.account_view(t, acme.id()))?.stats.revenue(), Some(usd("5000")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Service::record`] and [`Service::attribute`].
    pub async fn record_for_account(
        &self,
        t: TenantId,
        account: AccountId,
        a: NewActivity,
    ) -> Result<Recorded, Error> {
        self.account(t, account).await?;
        AccountActivity::check(&Activity::new(
            ActivityId::from_u128(0),
            a.customer,
            a.at,
            a.channel,
            a.idempotency_key.clone(),
            a.kind.clone(),
        )?)?;
        let (customer, key) = (a.customer, a.idempotency_key.clone());
        let recorded = self
            .record_into(t, a, Vec::new(), false, Some(account))
            .await?;
        if recorded.duplicate {
            self.attribute(t, account, customer, &key).await?;
        }
        Ok(recorded)
    }

    /// Every account of the tenant (in id order) with its figures rolled up over its group;
    /// with `roles`, also counts the active contacts by role.
    async fn account_book(
        &self,
        t: TenantId,
        mut roles: Option<&mut BTreeMap<AccountRole, usize>>,
    ) -> Result<(Vec<Account>, BTreeMap<AccountId, Stats>), Error> {
        let mut accounts: Vec<Account> = Vec::new();
        loop {
            let page = self
                .store()
                .accounts(t, accounts.last().map(Account::id), 1_000)
                .await?;
            if page.is_empty() {
                break;
            }
            accounts.extend(page);
        }
        // A tombstone (merged into another account) has handed everything over.
        accounts.retain(Account::is_live);
        let parents: BTreeMap<AccountId, Option<AccountId>> =
            accounts.iter().map(|a| (a.id(), a.parent)).collect();
        // A page of accounts at a time: one store call for their activities, one for their
        // contacts by role.
        let mut own: BTreeMap<AccountId, Vec<Activity>> = BTreeMap::new();
        for page in accounts.chunks(1_000) {
            let ids: Vec<AccountId> = page.iter().map(Account::id).collect();
            let acts = self.store().accounts_activities(t, &ids).await?;
            own.extend(ids.iter().copied().zip(acts).filter(|(_, a)| !a.is_empty()));
            if let Some(by_role) = roles.as_deref_mut() {
                for (role, n) in self.store().contacts_by_role(t, &ids).await? {
                    *by_role.entry(role).or_default() += n;
                }
            }
        }
        let rolled = roll_up(&parents, &own)?;
        Ok((accounts, rolled))
    }

    /// The accounts in an [`AccountSegment`] at `now`, read over each account's rolled-up
    /// figures and stored standing (the tier and stage of the last sweep or evaluation), in
    /// id order. Evaluated here for every backend: the SQL stores keep accounts as JSON rows
    /// and their figures in the attributed activities, so there is no push-down yet.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let acme = block_on(svc.create_account(t, AccountName::new("Acme")?, None))?;
    /// block_on(svc.create_account(t, AccountName::new("Small")?, None))?;
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// block_on(svc.record_for_account(t, acme.id(), NewActivity::purchase(ann, "SO-1", usd("12000"), svc.now())?))?;
    /// block_on(svc.sweep_accounts(t, svc.now()))?;
    /// let big = AccountSegment::parse("account.tier >= gold and account.revenue_365d > 10000")?;
    /// let found = block_on(svc.find_accounts(t, &big, svc.now()))?;
    /// assert_eq!(found.iter().map(Account::id).collect::<Vec<_>>(), vec![acme.id()]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A currency mix within a group; store errors.
    pub async fn find_accounts(
        &self,
        t: TenantId,
        segment: &AccountSegment,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Account>, Error> {
        let (accounts, rolled) = self.account_book(t, None).await?;
        let empty = Stats::default();
        let currency = Some(self.policies().accounts.tier.currency);
        Ok(accounts
            .into_iter()
            .filter(|a| segment.matches(a, rolled.get(&a.id()).unwrap_or(&empty), now, currency))
            .collect())
    }

    /// The account's own attributed activities and those of the group below it.
    async fn group_activities(
        &self,
        t: TenantId,
        id: AccountId,
    ) -> Result<(Vec<Activity>, Vec<Activity>), Error> {
        let own = self.store().account_activities(t, id).await?;
        let mut group = own.clone();
        for (sub, _) in self.below(t, id).await? {
            group.extend(self.store().account_activities(t, sub).await?);
        }
        Ok((own, group))
    }

    /// The account's figures, roll-ups and evaluation at the service's `now` (nothing
    /// written). A parent's figures include its subsidiaries'.
    ///
    /// # Errors
    /// A missing account; a currency mix in the group's purchases; store errors.
    pub async fn account_view(&self, t: TenantId, id: AccountId) -> Result<AccountView, Error> {
        let account = self.account(t, id).await?;
        let (own, group) = self.group_activities(t, id).await?;
        let stats = Stats::from_activities(&own)?;
        let group_stats = Stats::from_activities(&group)?;
        let evaluation = evaluate_account(
            &account,
            &group_stats,
            &self.policies().accounts,
            &EvalInputs::at(self.now()),
        )?;
        Ok(AccountView {
            revenue_by_contact: revenue_by_contact(&group)?,
            rollup: self.account_rollup(t, id).await?,
            account,
            stats,
            group_stats,
            evaluation,
        })
    }

    /// Evaluates one account at `now` on its rolled-up figures and stores its new standing
    /// when it changed (with the version read, decided again on a conflict). Without a
    /// ranking of all accounts, RFM scores are absent (the sweep gives them).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let group = block_on(svc.create_account(t, AccountName::new("Group")?, None))?;
    /// let sub = block_on(svc.create_account(t, AccountName::new("Sub")?, Some(group.id())))?;
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// block_on(svc.record_for_account(t, sub.id(), NewActivity::purchase(ann, "SO-1", usd("12000"), svc.now())?))?;
    /// // The group's figures include its subsidiary's: both are Platinum.
    /// assert_eq!(block_on(svc.evaluate_account(t, group.id()))?.tier.to, Tier::Platinum);
    /// assert_eq!(block_on(svc.account(t, group.id()))?.tier(), Tier::Platinum);
    /// assert_eq!(block_on(svc.evaluate_account(t, sub.id()))?.stage.to, Stage::New);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A missing account; a currency mix; store errors.
    pub async fn evaluate_account(
        &self,
        t: TenantId,
        id: AccountId,
    ) -> Result<AccountEvaluation, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let read = self.account(t, id).await?;
            let (_, group) = self.group_activities(t, id).await?;
            let stats = Stats::from_activities(&group)?;
            let e = evaluate_account(
                &read,
                &stats,
                &self.policies().accounts,
                &EvalInputs::at(self.now()),
            )?;
            if e.is_noop(&read) {
                return Ok(e);
            }
            let mut next = read.next_version();
            e.apply_to(&mut next);
            let mut cs = Changeset::new();
            cs.accounts.push(AccountWrite::Update {
                expected_version: read.version(),
                account: Box::new(next),
            });
            match self.store().apply(t, &cs).await {
                Ok(_) => return Ok(e),
                Err(StoreError::AccountConflict { .. }) if attempt < self.max_attempts() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Re-evaluates every account of the tenant at `now` (as [`Service::sweep`] does people): figures rolled up over each group
    /// structure, RFM ranked over the tenant's accounts, tier, stage and churn alert decided
    /// with [`AccountPolicies`]; changed standings are written in batches (a batch that meets
    /// a concurrent change is decided again account by account). Also counts the active
    /// contacts by role.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let acme = block_on(svc.create_account(t, AccountName::new("Acme")?, None))?;
    /// block_on(svc.create_account(t, AccountName::new("Idle Ltd")?, None))?;
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// block_on(svc.link_contact(t, acme.id(), ann, [AccountRole::DecisionMaker].into(), true))?;
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// block_on(svc.record_for_account(t, acme.id(), NewActivity::purchase(ann, "SO-1", usd("2500"), svc.now())?))?;
    /// let s = block_on(svc.sweep_accounts(t, svc.now()))?;
    /// assert_eq!((s.accounts, s.changed), (2, 1));
    /// assert_eq!(s.by_tier[&Tier::Gold], 1);
    /// assert_eq!(s.by_stage["prospect"], 1);
    /// assert_eq!(s.contacts_by_role[&AccountRole::DecisionMaker], 1);
    /// assert_eq!(block_on(svc.sweep_accounts(t, svc.now()))?.changed, 0); // nothing moved since
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A currency mix within a group; store errors.
    pub async fn sweep_accounts(
        &self,
        t: TenantId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<AccountSweep, Error> {
        let mut out = AccountSweep::default();
        let (accounts, rolled) = self
            .account_book(t, Some(&mut out.contacts_by_role))
            .await?;
        out.accounts = accounts.len();
        let policies = &self.policies().accounts;
        let ranks = rank_accounts(rolled.iter().map(|(id, s)| (*id, s)), &policies.rfm, now);
        let mut batch: Vec<(Account, Account)> = Vec::new();
        for a in &accounts {
            let empty = Stats::default();
            let stats = rolled.get(&a.id()).unwrap_or(&empty);
            let inputs = EvalInputs {
                rfm: ranks.get(&a.id()).copied().flatten(),
                ranked: true,
                ..EvalInputs::at(now)
            };
            let e = evaluate_account(a, stats, policies, &inputs)?;
            *out.by_tier.entry(e.standing.tier.tier).or_default() += 1;
            *out.by_stage
                .entry(e.standing.lifecycle.stage.as_str())
                .or_default() += 1;
            if !e.is_noop(a) {
                let mut next = a.next_version();
                e.apply_to(&mut next);
                batch.push((a.clone(), next));
            }
        }
        out.changed = batch.len();
        for chunk in batch.chunks(SWEEP_BATCH) {
            let mut cs = Changeset::new();
            cs.accounts = chunk
                .iter()
                .map(|(read, next)| AccountWrite::Update {
                    expected_version: read.version(),
                    account: Box::new(next.clone()),
                })
                .collect();
            match self.store().apply(t, &cs).await {
                Ok(_) => {}
                Err(StoreError::AccountConflict { .. } | StoreError::NotFound { .. }) => {
                    // Someone changed an account since it was read: decide those again one
                    // by one (a deleted one is skipped).
                    for (read, _) in chunk {
                        match self.evaluate_account(t, read.id()).await {
                            Ok(_) | Err(Error::Store(StoreError::NotFound { .. })) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}
