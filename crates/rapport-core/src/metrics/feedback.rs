//! Net Promoter Score and customer satisfaction over a period.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::metrics::period::Period;
use crate::model::activity::{Activity, ActivityKind, Feedback};
use crate::model::id::CustomerId;

/// One survey answer: who, when, what.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::metrics::Response;
/// let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
/// let a = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(7), at, Channel::Email,
///     IdempotencyKey::new("s-1")?, ActivityKind::Feedback { feedback: Feedback::Nps(Nps::new(9)?) })?;
/// let r = Response::from_activity(&a).unwrap();
/// assert_eq!((r.customer, r.at), (CustomerId::from_u128(7), at));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// Who answered.
    pub customer: CustomerId,
    /// When.
    pub at: DateTime<Utc>,
    /// The answer.
    pub feedback: Feedback,
}

impl Response {
    /// The answer a feedback activity carries; `None` for other kinds.
    #[must_use]
    pub fn from_activity(a: &Activity) -> Option<Self> {
        match a.kind {
            ActivityKind::Feedback { feedback } => Some(Self {
                customer: a.customer,
                at: a.at,
                feedback,
            }),
            _ => None,
        }
    }
}

/// Net Promoter Score counts: each respondent's latest NPS answer in the period.
///
/// ```
/// use rapport_core::metrics::NpsScore;
/// let s = NpsScore { promoters: 5, passives: 3, detractors: 2 };
/// assert_eq!(s.respondents(), 10);
/// assert_eq!(s.value(), Some(30.0)); // 50 % − 20 %
/// assert_eq!(NpsScore::default().value(), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NpsScore {
    /// Latest answer 9–10.
    pub promoters: u64,
    /// Latest answer 7–8.
    pub passives: u64,
    /// Latest answer 0–6.
    pub detractors: u64,
}

impl NpsScore {
    /// Customers who answered in the period.
    #[must_use]
    pub fn respondents(&self) -> u64 {
        self.promoters + self.passives + self.detractors
    }

    /// `% promoters − % detractors`, from −100 to 100; `None` without respondents.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        let n = self.respondents();
        (n > 0).then(|| 100.0 * (self.promoters as f64 - self.detractors as f64) / n as f64)
    }
}

/// NPS over `period`: each customer's latest NPS answer in the period (at the same instant,
/// the higher score, so the result does not depend on the order of `responses`); promoters
/// answered 9–10, detractors 0–6.
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::metrics::{Period, Response, nps};
/// let at = |d| Utc.with_ymd_and_hms(2026, 1, d, 9, 0, 0).unwrap();
/// let r = |c: u128, d, s| Response { customer: CustomerId::from_u128(c), at: at(d), feedback: Feedback::Nps(Nps::new(s).unwrap()) };
/// let p = Period::new(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 2, 1).unwrap())?;
/// // Customer 1 first detracts then promotes: the latest answer counts.
/// let s = nps([r(1, 2, 3), r(1, 9, 10), r(2, 4, 6)], p);
/// assert_eq!((s.promoters, s.detractors, s.value()), (1, 1, Some(0.0)));
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn nps(responses: impl IntoIterator<Item = Response>, period: Period) -> NpsScore {
    let mut latest: HashMap<CustomerId, (DateTime<Utc>, u8)> = HashMap::new();
    for r in responses {
        let Feedback::Nps(score) = r.feedback else {
            continue;
        };
        if !period.contains_time(r.at) {
            continue;
        }
        let new = (r.at, score.get());
        latest
            .entry(r.customer)
            .and_modify(|cur| *cur = (*cur).max(new))
            .or_insert(new);
    }
    let mut s = NpsScore::default();
    for (_, score) in latest.values() {
        match score {
            9..=10 => s.promoters += 1,
            7..=8 => s.passives += 1,
            _ => s.detractors += 1,
        }
    }
    s
}

/// Customer satisfaction counts: every CSAT answer (1–5) in the period.
///
/// ```
/// use rapport_core::metrics::CsatScore;
/// let s = CsatScore { satisfied: 3, responses: 4 };
/// assert_eq!(s.value(), Some(75.0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsatScore {
    /// Answers of 4 or 5.
    pub satisfied: u64,
    /// All answers.
    pub responses: u64,
}

impl CsatScore {
    /// `% of answers 4–5`, from 0 to 100; `None` without answers.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        (self.responses > 0).then(|| 100.0 * self.satisfied as f64 / self.responses as f64)
    }
}

/// CSAT over `period`: the share of the CSAT answers in the period that are 4 or 5 on the
/// 1–5 scale (every answer counts, not only each customer's latest).
///
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::metrics::{Period, Response, csat};
/// let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
/// let r = |s| Response { customer: CustomerId::from_u128(1), at, feedback: Feedback::Csat(Csat::new(s).unwrap()) };
/// let p = Period::new(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 2, 1).unwrap())?;
/// assert_eq!(csat([r(5), r(4), r(2), r(3)], p).value(), Some(50.0));
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn csat(responses: impl IntoIterator<Item = Response>, period: Period) -> CsatScore {
    let mut s = CsatScore::default();
    for r in responses {
        if let Feedback::Csat(score) = r.feedback {
            if period.contains_time(r.at) {
                s.responses += 1;
                s.satisfied += u64::from(score.get() >= 4);
            }
        }
    }
    s
}
