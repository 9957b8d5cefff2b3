//! SLA clocks of a case: a first-response and a resolution deadline per severity, counted in
//! calendar time or inside a business-hours calendar, paused while the case waits on the
//! customer. Everything is computed from the case's status history at a `now` passed in, so
//! the same case gives the same deadlines and breaches wherever it is evaluated.
//!
//! **Definitions.** A clock *runs* while the case has one of the clock's statuses (first
//! response: `Open`; resolution: `Open` and `InProgress`; `WaitingOnCustomer`, `Resolved` and
//! `Closed` stop it, and a reopen starts the resolution clock again). The *counted time* up to
//! `t` is the running time before `t` that falls inside open hours (all of it without a
//! calendar). The clock's **due** time is the first instant at which the counted time has
//! reached the target while the clock runs; the clock is **breached** at `now` when its due
//! time is before `now`. A clock that stops exactly at its due time is met. Only history up
//! to `now` is read: the status in force at `now` is taken to continue.
//!
//! The business-hours calendar is read in the tenant's [`TenantZone`]: a fixed offset (the
//! fast path: plain arithmetic on microseconds) or a named IANA zone whose offset follows
//! daylight saving. In a named zone each local day's open span runs from its opening to its
//! closing time, each read as [`TenantZone::to_utc`] reads a local time: a time skipped when
//! the clocks go forward with the offset in force before the jump (so `01:00–02:30` on
//! Berlin's spring night still counts 90 minutes), a time repeated when they go back as its
//! earlier instant.

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::case::{Case, CaseSeverity, CaseStatus};
use crate::model::id::{CaseId, CustomerId};
use crate::model::zone::TenantZone;

const MINUTE_US: i64 = 60_000_000;
const DAY_US: i64 = 86_400_000_000;
/// The longest target a policy accepts (a year), which bounds every deadline computation.
const MAX_TARGET_MINUTES: u32 = 366 * 24 * 60;

/// First-response and resolution targets of one severity, in minutes of counted time.
///
/// ```
/// use rapport_core::{SlaPolicy, CaseSeverity};
/// let urgent = SlaPolicy::default().targets.get(CaseSeverity::Urgent);
/// assert_eq!((urgent.first_response_minutes, urgent.resolution_minutes), (60, 8 * 60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaTarget {
    /// Time to the first response.
    pub first_response_minutes: u32,
    /// Time to the resolution.
    pub resolution_minutes: u32,
}

impl SlaTarget {
    const fn hours(first: u32, resolution: u32) -> Self {
        Self {
            first_response_minutes: first * 60,
            resolution_minutes: resolution * 60,
        }
    }
}

/// The targets per severity. `Default` (DOMAIN.md): Urgent 1 h / 8 h, High 4 h / 24 h,
/// Normal 8 h / 72 h, Low 24 h / 120 h.
///
/// ```
/// use rapport_core::{CaseSeverity, SlaTargets};
/// let t = SlaTargets::default();
/// assert_eq!(t.get(CaseSeverity::Low).resolution_minutes, 120 * 60);
/// assert_eq!(t.get(CaseSeverity::High).first_response_minutes, 4 * 60);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlaTargets {
    /// Low severity.
    pub low: SlaTarget,
    /// Normal severity.
    pub normal: SlaTarget,
    /// High severity.
    pub high: SlaTarget,
    /// Urgent severity.
    pub urgent: SlaTarget,
}

impl Default for SlaTargets {
    fn default() -> Self {
        Self {
            low: SlaTarget::hours(24, 120),
            normal: SlaTarget::hours(8, 72),
            high: SlaTarget::hours(4, 24),
            urgent: SlaTarget::hours(1, 8),
        }
    }
}

impl SlaTargets {
    /// The targets of a severity.
    #[must_use]
    pub fn get(&self, severity: CaseSeverity) -> SlaTarget {
        match severity {
            CaseSeverity::Low => self.low,
            CaseSeverity::Normal => self.normal,
            CaseSeverity::High => self.high,
            CaseSeverity::Urgent => self.urgent,
        }
    }
}

/// Open hours of one weekday in the calendar's local time, `"HH:MM"` to `"HH:MM"` (close
/// may be `"24:00"`).
///
/// ```
/// use rapport_core::DayHours;
/// let d = DayHours::new(chrono::Weekday::Mon, "09:00", "17:30");
/// assert_eq!(d.close, "17:30");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayHours {
    /// The weekday.
    pub day: Weekday,
    /// Opening time.
    pub open: String,
    /// Closing time (after opening).
    pub close: String,
}

impl DayHours {
    /// Hours for a weekday.
    #[must_use]
    pub fn new(day: Weekday, open: &str, close: &str) -> Self {
        Self {
            day,
            open: open.to_owned(),
            close: close.to_owned(),
        }
    }
}

/// The serialised form of a [`BusinessHours`] (what a config file holds).
///
/// ```
/// use rapport_core::*;
/// let spec: BusinessHoursSpec = serde_json::from_str(
///     r#"{"time_zone": "Europe/Berlin", "days": [{"day": "Mon", "open": "09:00", "close": "17:00"}]}"#,
/// )?;
/// assert_eq!(spec.time_zone, Some("Europe/Berlin".parse()?));
/// assert_eq!(spec.utc_offset_minutes, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHoursSpec {
    /// Offset of the local time from UTC in minutes (east positive: `480` for UTC+8), when no
    /// `time_zone` is given.
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// The tenant's zone (`"Europe/Berlin"`, `"+08:00"`); a named zone follows daylight
    /// saving. Setting it and a non-zero `utc_offset_minutes` is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TenantZone>,
    /// Open hours per weekday; a weekday not listed is closed.
    pub days: Vec<DayHours>,
    /// Local dates closed all day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<NaiveDate>,
}

/// A business-hours calendar: open hours per weekday (one span a day) and closed dates, in
/// the tenant's zone (module docs: daylight saving). Built from a [`BusinessHoursSpec`],
/// checked once.
///
/// ```
/// use chrono::{TimeZone, Utc, Weekday};
/// use rapport_core::*;
/// let weekdays = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
/// let cal = BusinessHours::new(BusinessHoursSpec {
///     utc_offset_minutes: 480, // Beijing
///     time_zone: None,
///     days: weekdays.iter().map(|d| DayHours::new(*d, "09:00", "18:00")).collect(),
///     holidays: vec![],
/// })?;
/// // Friday 17:00 local + 2 open hours = Monday 10:00 local (02:00 UTC).
/// let fri_17 = Utc.with_ymd_and_hms(2026, 3, 6, 9, 0, 0).unwrap();
/// assert_eq!(cal.add_open(fri_17, 120), Utc.with_ymd_and_hms(2026, 3, 9, 2, 0, 0).unwrap());
/// assert_eq!(cal.open_minutes_between(fri_17, Utc.with_ymd_and_hms(2026, 3, 9, 2, 0, 0).unwrap()), 120);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BusinessHoursSpec", into = "BusinessHoursSpec")]
pub struct BusinessHours {
    spec: BusinessHoursSpec,
    /// The fixed offset (fast path), or 0 with `zone` set.
    offset_us: i64,
    /// A zone with daylight-saving rules; `None` for a fixed offset.
    zone: Option<TenantZone>,
    /// Monday first: the open span of each weekday as microseconds of the local day.
    week: [Option<(i64, i64)>; 7],
    /// Closed local days, as days since 1970-01-01, sorted.
    holidays: Vec<i64>,
}

fn bad(field: &'static str, value: impl Into<String>, reason: &'static str) -> DomainError {
    DomainError::InvalidPolicy {
        field,
        value: value.into(),
        reason,
    }
}

fn parse_hhmm(s: &str) -> Result<i64, DomainError> {
    let err = || {
        bad(
            "sla.calendar.hours",
            s,
            "expected HH:MM between 00:00 and 24:00",
        )
    };
    let (h, m) = s.split_once(':').ok_or_else(err)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
    if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
        return Err(err());
    }
    Ok((h * 60 + m) * MINUTE_US)
}

impl TryFrom<BusinessHoursSpec> for BusinessHours {
    type Error = DomainError;
    fn try_from(spec: BusinessHoursSpec) -> Result<Self, DomainError> {
        Self::new(spec)
    }
}

impl From<BusinessHours> for BusinessHoursSpec {
    fn from(b: BusinessHours) -> Self {
        b.spec
    }
}

impl BusinessHours {
    /// Checks and compiles a calendar.
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`] for an offset beyond ±18 h, both an offset and a zone,
    /// a time that is not `HH:MM`, a close not after the open, a weekday listed twice, or no
    /// open day at all.
    ///
    /// ```
    /// use rapport_core::*;
    /// let none = BusinessHoursSpec { utc_offset_minutes: 0, time_zone: None, days: vec![], holidays: vec![] };
    /// assert!(BusinessHours::new(none).is_err());
    /// let backwards = BusinessHoursSpec { utc_offset_minutes: 0, time_zone: None, days: vec![DayHours::new(chrono::Weekday::Mon, "17:00", "09:00")], holidays: vec![] };
    /// assert!(BusinessHours::new(backwards).is_err());
    /// let both = BusinessHoursSpec { utc_offset_minutes: 60, time_zone: Some("Europe/Berlin".parse()?),
    ///     days: vec![DayHours::new(chrono::Weekday::Mon, "09:00", "17:00")], holidays: vec![] };
    /// assert!(BusinessHours::new(both).is_err());
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn new(spec: BusinessHoursSpec) -> Result<Self, DomainError> {
        if spec.utc_offset_minutes.abs() > 18 * 60 {
            return Err(bad(
                "sla.calendar.utc_offset_minutes",
                spec.utc_offset_minutes.to_string(),
                "must be within ±18 hours",
            ));
        }
        let (offset_minutes, zone) = match spec.time_zone {
            None => (spec.utc_offset_minutes, None),
            Some(_) if spec.utc_offset_minutes != 0 => {
                return Err(bad(
                    "sla.calendar.time_zone",
                    spec.utc_offset_minutes.to_string(),
                    "give a time_zone or a utc_offset_minutes, not both",
                ));
            }
            Some(TenantZone::Utc) => (0, None),
            Some(TenantZone::Offset(m)) => (m, None),
            Some(z) => (0, Some(z)),
        };
        let mut week = [None; 7];
        for d in &spec.days {
            let (open, close) = (parse_hhmm(&d.open)?, parse_hhmm(&d.close)?);
            if close <= open {
                return Err(bad(
                    "sla.calendar.hours",
                    format!("{}-{}", d.open, d.close),
                    "the close is after the open",
                ));
            }
            let slot = &mut week[d.day.num_days_from_monday() as usize];
            if slot.is_some() {
                return Err(bad(
                    "sla.calendar.days",
                    d.day.to_string(),
                    "a weekday is listed once",
                ));
            }
            *slot = Some((open, close));
        }
        if week.iter().all(Option::is_none) {
            return Err(bad(
                "sla.calendar.days",
                "[]",
                "a calendar has at least one open weekday",
            ));
        }
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let mut holidays: Vec<i64> = spec
            .holidays
            .iter()
            .map(|d| (*d - epoch).num_days())
            .collect();
        holidays.sort_unstable();
        holidays.dedup();
        Ok(Self {
            offset_us: i64::from(offset_minutes) * MINUTE_US,
            zone,
            spec,
            week,
            holidays,
        })
    }

    /// The spec it was built from.
    #[must_use]
    pub fn spec(&self) -> &BusinessHoursSpec {
        &self.spec
    }

    /// The open span of a local day (days since 1970-01-01) as local microseconds.
    fn window(&self, day: i64) -> Option<(i64, i64)> {
        if self.holidays.binary_search(&day).is_ok() {
            return None;
        }
        // 1970-01-01 was a Thursday: Monday-based index 3.
        let wd = (day + 3).rem_euclid(7) as usize;
        self.week[wd].map(|(o, c)| (day * DAY_US + o, day * DAY_US + c))
    }

    /// The open span of a local day as UTC microseconds, in a named zone: each end read as
    /// [`TenantZone::to_utc`] reads a local time.
    fn zoned_window(&self, zone: &TenantZone, day: i64) -> Option<(i64, i64)> {
        let (s, e) = self.window(day)?;
        let utc = |local_us: i64| {
            DateTime::from_timestamp_micros(local_us)
                .map_or(local_us, |l| zone.to_utc(l.naive_utc()).timestamp_micros())
        };
        Some((utc(s), utc(e)))
    }

    /// The local day (days since 1970-01-01) of the UTC instant `us` in `zone`.
    fn local_day(zone: &TenantZone, us: i64) -> i64 {
        let offset = DateTime::from_timestamp_micros(us)
            .map_or(0, |t| i64::from(zone.offset_at(t)) * MINUTE_US);
        (us + offset).div_euclid(DAY_US)
    }

    /// [`Self::open_between_us`] in a named zone: the days' spans in order, each clipped to
    /// start no earlier than the previous one ended (a span never counts twice).
    fn zoned_open_between_us(&self, zone: &TenantZone, a: i64, b: i64) -> i64 {
        let mut total = 0;
        let mut prev_end = i64::MIN;
        for day in Self::local_day(zone, a) - 1..=Self::local_day(zone, b) + 1 {
            if let Some((s, e)) = self.zoned_window(zone, day) {
                let s = s.max(prev_end);
                total += (e.min(b) - s.max(a)).max(0);
                prev_end = prev_end.max(e);
            }
        }
        total
    }

    /// [`Self::add_open_us`] in a named zone (spans clipped as in
    /// [`Self::zoned_open_between_us`]).
    fn zoned_add_open_us(&self, zone: &TenantZone, a: i64, mut r: i64) -> i64 {
        let mut day = Self::local_day(zone, a) - 1;
        let mut prev_end = i64::MIN;
        // Terminates: some weekday is open and holidays are finite.
        loop {
            if let Some((s, e)) = self.zoned_window(zone, day) {
                let s = s.max(a).max(prev_end);
                if e > s {
                    if r <= e - s {
                        return s + r;
                    }
                    r -= e - s;
                }
                prev_end = prev_end.max(e);
            }
            day += 1;
        }
    }

    /// Open time in `[a, b)`, in microseconds (UTC microseconds in).
    fn open_between_us(&self, a: i64, b: i64) -> i64 {
        if let Some(zone) = &self.zone {
            return if b <= a {
                0
            } else {
                self.zoned_open_between_us(zone, a, b)
            };
        }
        let (a, b) = (a + self.offset_us, b + self.offset_us);
        if b <= a {
            return 0;
        }
        let mut total = 0;
        for day in a.div_euclid(DAY_US)..=(b - 1).div_euclid(DAY_US) {
            if let Some((s, e)) = self.window(day) {
                total += (e.min(b) - s.max(a)).max(0);
            }
        }
        total
    }

    /// The first instant `t ≥ a` with `r` microseconds of open time in `[a, t)`.
    fn add_open_us(&self, a: i64, mut r: i64) -> i64 {
        if r <= 0 {
            return a;
        }
        if let Some(zone) = &self.zone {
            return self.zoned_add_open_us(zone, a, r);
        }
        let a = a + self.offset_us;
        let mut day = a.div_euclid(DAY_US);
        // Terminates: some weekday is open and holidays are finite.
        loop {
            if let Some((s, e)) = self.window(day) {
                let s = s.max(a);
                if e > s {
                    if r <= e - s {
                        return s + r - self.offset_us;
                    }
                    r -= e - s;
                }
            }
            day += 1;
        }
    }

    /// Open minutes in `[from, to)` (rounded down).
    #[must_use]
    pub fn open_minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.open_between_us(from.timestamp_micros(), to.timestamp_micros()) / MINUTE_US
    }

    /// The first instant from `from` on after which `minutes` open minutes have passed.
    #[must_use]
    pub fn add_open(&self, from: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
        let us = self.add_open_us(from.timestamp_micros(), i64::from(minutes) * MINUTE_US);
        DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// Which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaKind {
    /// Time to the first response (runs while `Open`).
    FirstResponse,
    /// Time to the resolution (runs while `Open` or `InProgress`).
    Resolution,
}

impl SlaKind {
    /// The snake-case name.
    ///
    /// ```
    /// assert_eq!(rapport_core::SlaKind::FirstResponse.as_str(), "first_response");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SlaKind::FirstResponse => "first_response",
            SlaKind::Resolution => "resolution",
        }
    }

    /// True when the clock runs in `status`.
    #[must_use]
    pub fn runs_in(self, status: CaseStatus) -> bool {
        match self {
            SlaKind::FirstResponse => status == CaseStatus::Open,
            SlaKind::Resolution => matches!(status, CaseStatus::Open | CaseStatus::InProgress),
        }
    }
}

/// One clock of a case at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    /// Which clock.
    pub kind: SlaKind,
    /// The target in minutes of counted time.
    pub target_minutes: u32,
    /// When the target is (or was) reached while running; `None` while paused or once
    /// stopped before reaching it.
    pub due: Option<DateTime<Utc>>,
    /// True when `due` is before `now`.
    pub breached: bool,
}

/// Both clocks of a case at `now`, from [`SlaPolicy::evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaEvaluation {
    /// The case.
    pub case: CaseId,
    /// Its customer.
    pub customer: CustomerId,
    /// Time to first response.
    pub first_response: SlaClock,
    /// Time to resolution.
    pub resolution: SlaClock,
}

impl SlaEvaluation {
    /// True when either clock is breached.
    #[must_use]
    pub fn breached(&self) -> bool {
        self.first_response.breached || self.resolution.breached
    }

    /// The breaches, first response first.
    pub fn breaches(&self) -> impl Iterator<Item = SlaBreach> + '_ {
        [self.first_response, self.resolution]
            .into_iter()
            .filter(|c| c.breached)
            .filter_map(|c| {
                c.due.map(|due| SlaBreach {
                    case: self.case,
                    customer: self.customer,
                    kind: c.kind,
                    due,
                })
            })
    }
}

/// A breached clock: an event at its due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaBreach {
    /// The case.
    pub case: CaseId,
    /// Its customer.
    pub customer: CustomerId,
    /// Which clock.
    pub kind: SlaKind,
    /// When it was breached.
    pub due: DateTime<Utc>,
}

/// Targets per severity and an optional business-hours calendar. `Default`: DOMAIN.md's
/// targets in calendar time.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
/// let case = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2),
///     CaseCategory::new("outage")?, CaseSeverity::Urgent, Channel::Phone, t0))
///     .move_to(CaseStatus::InProgress, t0 + Duration::minutes(20))?           // responded in time
///     .move_to(CaseStatus::WaitingOnCustomer, t0 + Duration::hours(2))?       // clock pauses…
///     .move_to(CaseStatus::InProgress, t0 + Duration::hours(5))?;             // …for 3 h
/// let sla = SlaPolicy::default();
/// let e = sla.evaluate(&case, t0 + Duration::hours(10));
/// assert!(!e.first_response.breached);
/// // 8 h of resolution time, 3 of them paused: due at 9:00 + 11 h.
/// assert_eq!(e.resolution.due, Some(t0 + Duration::hours(11)));
/// assert!(!e.breached());
/// assert!(sla.evaluate(&case, t0 + Duration::hours(12)).resolution.breached);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SlaPolicy {
    /// Targets per severity.
    pub targets: SlaTargets,
    /// Count only open hours when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar: Option<BusinessHours>,
}

impl SlaPolicy {
    /// Checks every target is positive and at most a year.
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`] naming `sla.targets`.
    ///
    /// ```
    /// use rapport_core::*;
    /// let mut p = SlaPolicy::default();
    /// assert!(p.validate().is_ok());
    /// p.targets.low.first_response_minutes = 0;
    /// assert!(p.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), DomainError> {
        for s in CaseSeverity::ALL {
            let t = self.targets.get(s);
            for m in [t.first_response_minutes, t.resolution_minutes] {
                if m == 0 || m > MAX_TARGET_MINUTES {
                    return Err(bad(
                        "sla.targets",
                        format!("{s}: {m}"),
                        "targets are between 1 minute and a year",
                    ));
                }
            }
        }
        Ok(())
    }

    fn open_between(&self, a: i64, b: i64) -> i64 {
        match &self.calendar {
            Some(c) => c.open_between_us(a, b),
            None => (b - a).max(0),
        }
    }

    fn add_open(&self, a: i64, r: i64) -> i64 {
        match &self.calendar {
            Some(c) => c.add_open_us(a, r),
            None => a.saturating_add(r),
        }
    }

    /// The due time of one clock (see the module documentation), in UTC microseconds.
    fn due_us(&self, case: &Case, kind: SlaKind, target_us: i64, now: i64) -> Option<i64> {
        let history = case.history();
        let known = history.partition_point(|c| c.at.timestamp_micros() <= now);
        let mut remaining = target_us;
        let mut i = 0;
        while i < known {
            if !kind.runs_in(history[i].to) {
                i += 1;
                continue;
            }
            // A run of consecutive running statuses is one interval.
            let start = history[i].at.timestamp_micros();
            let mut j = i + 1;
            while j < known && kind.runs_in(history[j].to) {
                j += 1;
            }
            let end = (j < known).then(|| history[j].at.timestamp_micros());
            if remaining == 0 {
                // Over the target as soon as the clock runs again (not for a run that
                // ends at the instant it starts: the later status is in force then).
                if end != Some(start) {
                    return Some(start);
                }
                i = j;
                continue;
            }
            let candidate = self.add_open(start, remaining);
            match end {
                Some(end) if candidate >= end => remaining -= self.open_between(start, end),
                _ => return Some(candidate),
            }
            i = j;
        }
        None
    }

    fn clock(&self, case: &Case, kind: SlaKind, minutes: u32, now: DateTime<Utc>) -> SlaClock {
        let now_us = now.timestamp_micros();
        let due = self.due_us(case, kind, i64::from(minutes) * MINUTE_US, now_us);
        SlaClock {
            kind,
            target_minutes: minutes,
            due: due.and_then(DateTime::from_timestamp_micros),
            breached: due.is_some_and(|d| d < now_us),
        }
    }

    /// Both clocks of `case` at `now`.
    #[must_use]
    pub fn evaluate(&self, case: &Case, now: DateTime<Utc>) -> SlaEvaluation {
        let t = self.targets.get(case.severity);
        SlaEvaluation {
            case: case.id(),
            customer: case.customer,
            first_response: self.clock(case, SlaKind::FirstResponse, t.first_response_minutes, now),
            resolution: self.clock(case, SlaKind::Resolution, t.resolution_minutes, now),
        }
    }

    /// The breaches among `cases` at `now`, in the order of the cases.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rapport_core::*;
    /// let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    /// let open = |i, sev| Case::open(NewCase::new(CaseId::from_u128(i), TenantId::from_u128(1), CustomerId::from_u128(i),
    ///     CaseCategory::new("x").unwrap(), sev, Channel::Web, t0));
    /// let cases = [open(1, CaseSeverity::Urgent), open(2, CaseSeverity::Low)];
    /// let b = SlaPolicy::default().breaches(&cases, t0 + Duration::hours(2));
    /// assert_eq!(b.len(), 1); // the urgent case's first response (due after 1 h)
    /// assert_eq!((b[0].case, b[0].kind, b[0].due), (CaseId::from_u128(1), SlaKind::FirstResponse, t0 + Duration::hours(1)));
    /// ```
    #[must_use]
    pub fn breaches(&self, cases: &[Case], now: DateTime<Utc>) -> Vec<SlaBreach> {
        cases
            .iter()
            .flat_map(|c| self.evaluate(c, now).breaches().collect::<Vec<_>>())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::activity::Channel;
    use crate::model::case::NewCase;
    use crate::model::id::{CaseCategory, TenantId};
    use chrono::Duration;
    use proptest::prelude::*;

    fn at(min: i64) -> DateTime<Utc> {
        // A Monday, 00:00 UTC.
        DateTime::from_timestamp(1_772_409_600, 0).unwrap_or_default() + Duration::minutes(min)
    }

    fn open_case(sev: CaseSeverity, opened: i64) -> Case {
        Case::open(NewCase::new(
            CaseId::from_u128(1),
            TenantId::from_u128(1),
            CustomerId::from_u128(2),
            CaseCategory::new("x").unwrap(),
            sev,
            Channel::Web,
            at(opened),
        ))
    }

    /// The independent computation: step minute by minute from the opening, adding a minute
    /// when the clock runs and the calendar is open in it; the due time is the first minute
    /// at which the counted time has reached the target while the clock runs.
    fn stepped(
        case: &Case,
        kind: SlaKind,
        target: i64,
        cal: Option<&Spec>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let known: Vec<_> = case.history().iter().filter(|c| c.at <= now).collect();
        let status_at = |t: DateTime<Utc>| {
            known
                .iter()
                .rev()
                .find(|c| c.at <= t)
                .map_or(CaseStatus::Open, |c| c.to)
        };
        // A named zone's spans over the horizon, found once.
        let spans: Vec<_> = cal
            .and_then(|c| c.zone.map(|tz| (c, tz)))
            .map(|(c, tz)| {
                let first = case.opened_at().with_timezone(&tz).date_naive() - Duration::days(1);
                (0..HORIZON_MINUTES / 1440 + 3)
                    .filter_map(|i| c.span(tz, first + Duration::days(i)))
                    .collect()
            })
            .unwrap_or_default();
        let open = |t: DateTime<Utc>| match cal {
            Some(c) if c.zone.is_some() => spans.iter().any(|(s, e)| *s <= t && t < *e),
            Some(c) => c.is_open(t),
            None => true,
        };
        let mut counted = 0;
        let mut t = case.opened_at();
        for _ in 0..HORIZON_MINUTES {
            let running = kind.runs_in(status_at(t));
            if running && counted >= target {
                return Some(t);
            }
            if running && open(t) {
                counted += 1;
            }
            t += Duration::minutes(1);
        }
        None
    }

    /// How far the stepping looks (the strategies open, move and look within 12 days).
    const HORIZON_MINUTES: i64 = 20 * 1440;

    /// A calendar written as a plain per-minute predicate, independent of `BusinessHours`.
    #[derive(Debug, Clone)]
    struct Spec {
        offset: i64,
        /// A named zone instead of `offset`.
        zone: Option<chrono_tz::Tz>,
        hours: [Option<(i64, i64)>; 7],
        holidays: Vec<NaiveDate>,
    }

    /// The instant a local time names in `tz`, found with chrono-tz's own lookups: the
    /// earlier of a repeated time; for a skipped one, the same wall-clock distance after the
    /// last existing local minute before it, read there.
    fn instant_of(tz: chrono_tz::Tz, local: chrono::NaiveDateTime) -> DateTime<Utc> {
        use chrono::TimeZone;
        use chrono::offset::LocalResult;
        let mut back = local;
        loop {
            match tz.from_local_datetime(&back) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    return t.with_timezone(&Utc) + (local - back);
                }
                LocalResult::None => back -= Duration::minutes(1),
            }
        }
    }

    impl Spec {
        fn is_open(&self, t: DateTime<Utc>) -> bool {
            use chrono::{Datelike, Timelike};
            let local = t.naive_utc() + Duration::minutes(self.offset);
            if self.holidays.contains(&local.date()) {
                return false;
            }
            let m = i64::from(local.hour() * 60 + local.minute());
            self.hours[local.weekday().num_days_from_monday() as usize]
                .is_some_and(|(o, c)| o <= m && m < c)
        }

        /// The open span of local day `d` in `tz`, as instants.
        fn span(&self, tz: chrono_tz::Tz, d: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
            use chrono::Datelike;
            if self.holidays.contains(&d) {
                return None;
            }
            let (o, c) = self.hours[d.weekday().num_days_from_monday() as usize]?;
            let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            let at = |m: i64| instant_of(tz, midnight + Duration::minutes(m));
            Some((at(o), at(c)))
        }

        fn calendar(&self) -> BusinessHours {
            let fmt = |m: i64| format!("{:02}:{:02}", m / 60, m % 60);
            let days = self
                .hours
                .iter()
                .enumerate()
                .filter_map(|(i, h)| {
                    h.map(|(o, c)| DayHours {
                        day: Weekday::try_from(i as u8).unwrap_or(Weekday::Mon),
                        open: fmt(o),
                        close: fmt(c),
                    })
                })
                .collect();
            BusinessHours::new(BusinessHoursSpec {
                utc_offset_minutes: if self.zone.is_some() {
                    0
                } else {
                    self.offset as i32
                },
                time_zone: self.zone.map(TenantZone::Named),
                days,
                holidays: self.holidays.clone(),
            })
            .unwrap()
        }
    }

    fn spec() -> impl Strategy<Value = Spec> {
        let day = prop_oneof![
            1 => Just(None),
            3 => (0i64..1440, 1i64..1440).prop_map(|(o, len)| Some((o, (o + len).min(1440)))),
        ];
        (
            -720i64..=840,
            proptest::array::uniform7(day),
            proptest::collection::vec(0i64..30, 0..4),
        )
            .prop_filter("one open day", |(_, h, _)| h.iter().any(Option::is_some))
            .prop_map(|(offset, hours, hol)| Spec {
                offset,
                zone: None,
                hours,
                holidays: hol
                    .into_iter()
                    .map(|d| at(0).date_naive() + Duration::days(d))
                    .collect(),
            })
    }

    /// Random moves along the machine with minute-aligned gaps (pauses included).
    fn history() -> impl Strategy<Value = Vec<(u8, i64)>> {
        proptest::collection::vec((0u8..4, 0i64..600), 0..8)
    }

    fn build(mut case: Case, steps: &[(u8, i64)]) -> Case {
        for (choice, gap) in steps {
            let t = case.last_change_at() + Duration::minutes(*gap);
            let next = match (case.status(), choice) {
                (CaseStatus::Open, _) => case.move_to(CaseStatus::InProgress, t),
                (CaseStatus::InProgress, 0 | 1) => case.move_to(CaseStatus::WaitingOnCustomer, t),
                (CaseStatus::WaitingOnCustomer, 0 | 1) => case.move_to(CaseStatus::InProgress, t),
                (CaseStatus::Resolved, 0 | 1) => case.reopen(t, Duration::days(14)),
                (CaseStatus::Resolved, _) => case.move_to(CaseStatus::Closed, t),
                (_, _) => case.resolve(t, None),
            };
            if let Ok(n) = next {
                case = n;
            }
        }
        case
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// SLA deadlines against the minute-stepping computation over random calendars,
        /// pauses and reopens.
        #[test]
        fn prop_deadlines_match_minute_stepping(
            spec in proptest::option::of(spec()),
            zone in proptest::sample::select(vec![None, Some(chrono_tz::Europe::Berlin),
                Some(chrono_tz::America::New_York), Some(chrono_tz::Australia::Lord_Howe)]),
            // The week starting Monday 2 March 2026 (New York's spring night on the 8th),
            // 23 March (Berlin's on the 29th) or 19 October (Berlin's autumn night on the 25th).
            week in proptest::sample::select(vec![0i64, 3, 33]),
            sev in proptest::sample::select(CaseSeverity::ALL.to_vec()),
            opened in 0i64..(7 * 1440),
            steps in history(),
            now_after in 0i64..(6 * 1440),
        ) {
            let spec = spec.map(|mut s| {
                s.zone = zone;
                s.holidays = s.holidays.iter().map(|d| *d + Duration::weeks(week)).collect();
                s
            });
            let opened = opened + week * 7 * 1440;
            // Short targets keep the stepping quick; the shape of the problem is the same.
            let policy = SlaPolicy {
                targets: SlaTargets {
                    low: SlaTarget { first_response_minutes: 90, resolution_minutes: 600 },
                    normal: SlaTarget { first_response_minutes: 45, resolution_minutes: 300 },
                    high: SlaTarget { first_response_minutes: 20, resolution_minutes: 200 },
                    urgent: SlaTarget { first_response_minutes: 5, resolution_minutes: 60 },
                },
                calendar: spec.as_ref().map(Spec::calendar),
            };
            let case = build(open_case(sev, opened), &steps);
            let now = at(opened + now_after);
            let e = policy.evaluate(&case, now);
            let t = policy.targets.get(sev);
            for (clock, target) in [(e.first_response, t.first_response_minutes), (e.resolution, t.resolution_minutes)] {
                let expect = stepped(&case, clock.kind, i64::from(target), spec.as_ref(), now);
                match expect {
                    Some(_) => prop_assert_eq!(clock.due, expect, "{:?}", clock.kind),
                    // Not due within the stepped horizon (a thin calendar): due later or never.
                    None => prop_assert!(clock.due.is_none_or(|d| d >= case.opened_at() + Duration::minutes(HORIZON_MINUTES))),
                }
                prop_assert_eq!(clock.breached, expect.is_some_and(|d| d < now));
            }
        }
    }

    #[test]
    fn berlin_hours_follow_the_spring_and_autumn_switch_nights() {
        let every_day = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        let cal = BusinessHours::new(BusinessHoursSpec {
            utc_offset_minutes: 0,
            time_zone: Some("Europe/Berlin".parse().unwrap()),
            days: every_day
                .iter()
                .map(|d| DayHours::new(*d, "09:00", "17:00"))
                .collect(),
            holidays: vec![],
        })
        .unwrap();
        let utc = |d, h, m| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, d, h, m, 0).unwrap();
        // Saturday 28 March 16:00 in Berlin (15:00 UTC, winter) + 8 open hours: one on
        // Saturday, seven on Sunday from 09:00 summer time (07:00 UTC): 16:00 = 14:00 UTC.
        assert_eq!(cal.add_open(utc(28, 15, 0), 480), utc(29, 14, 0));
        assert_eq!(
            cal.open_minutes_between(utc(28, 15, 0), utc(29, 14, 0)),
            480
        );
        // In October the clocks go back on the 25th: 09:00 is 08:00 UTC again.
        let oct = |d, h| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 10, d, h, 0, 0).unwrap();
        assert_eq!(cal.add_open(oct(24, 14), 180), oct(25, 10));
        // The fixed-offset fast path is kept for an offset given as a zone.
        let fixed = BusinessHours::new(BusinessHoursSpec {
            utc_offset_minutes: 0,
            time_zone: Some("+01:00".parse().unwrap()),
            days: cal.spec().days.clone(),
            holidays: vec![],
        })
        .unwrap();
        assert!(fixed.zone.is_none());
        assert_eq!(fixed.add_open(utc(28, 15, 0), 480), utc(29, 15, 0));
    }

    #[test]
    fn a_clock_stopped_exactly_at_its_due_time_is_met() {
        let c = open_case(CaseSeverity::Urgent, 0)
            .move_to(CaseStatus::InProgress, at(60))
            .unwrap();
        let e = SlaPolicy::default().evaluate(&c, at(1000));
        assert_eq!(e.first_response.due, None);
        assert!(!e.first_response.breached);
        // Resolved exactly at 8 h: met; a reopen afterwards is at once over the target.
        let r = c.resolve(at(480), None).unwrap();
        assert!(
            !SlaPolicy::default()
                .evaluate(&r, at(1000))
                .resolution
                .breached
        );
        let again = r.reopen(at(500), Duration::days(14)).unwrap();
        let e = SlaPolicy::default().evaluate(&again, at(501));
        assert_eq!(e.resolution.due, Some(at(500)));
        assert!(e.resolution.breached);
    }

    #[test]
    fn business_hours_skip_nights_weekends_and_holidays() {
        let weekdays = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        let cal = BusinessHours::new(BusinessHoursSpec {
            utc_offset_minutes: 0,
            time_zone: None,
            days: weekdays
                .iter()
                .map(|d| DayHours::new(*d, "09:00", "17:00"))
                .collect(),
            holidays: vec![at(0).date_naive() + Duration::days(1)], // Tuesday
        })
        .unwrap();
        // Monday 16:00 + 2 h: one hour Monday, Tuesday is a holiday, Wednesday 10:00.
        assert_eq!(cal.add_open(at(16 * 60), 120), at(2 * 1440 + 10 * 60));
        // Friday 16:30 + 1 h: Monday 09:30.
        assert_eq!(
            cal.add_open(at(4 * 1440 + 16 * 60 + 30), 60),
            at(7 * 1440 + 9 * 60 + 30)
        );
        assert_eq!(
            cal.open_minutes_between(at(0), at(7 * 1440)),
            4 * 8 * 60 // five weekdays less the holiday
        );
    }
}
