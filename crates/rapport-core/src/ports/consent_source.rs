//! The consent port automation asks before acting.

use crate::model::consent::{ContactChannel, Purpose};
use crate::model::customer::Customer;

/// Whether a customer allows contact for a purpose on a channel, asked by the automation
/// guards at send time. Today's implementation, [`CustomerConsents`], reads the consents on
/// the customer; a consent ledger plugs in here.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::ports::{ConsentSource, CustomerConsents};
/// use rapport_core::*;
/// let at = DateTime::UNIX_EPOCH;
/// let mut ann = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), at);
/// assert!(!CustomerConsents.allows(&ann, Purpose::Marketing, ContactChannel::Email));
/// assert!(!CustomerConsents.withdrawn(&ann, Purpose::Transactional, ContactChannel::Phone)); // never asked
/// ann.consents.set(Purpose::Transactional, ContactChannel::Phone, false, at, "do-not-call");
/// assert!(CustomerConsents.withdrawn(&ann, Purpose::Transactional, ContactChannel::Phone));
/// ```
pub trait ConsentSource: Send + Sync {
    /// Consent is granted now.
    fn allows(&self, customer: &Customer, purpose: Purpose, channel: ContactChannel) -> bool;

    /// Consent was explicitly withdrawn (not merely never given).
    fn withdrawn(&self, customer: &Customer, purpose: Purpose, channel: ContactChannel) -> bool;
}

/// Reads [`Customer::consents`]: the channel's own record, else the one for
/// [`ContactChannel::Any`]; nothing recorded means not granted (and not withdrawn).
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerConsents;

impl ConsentSource for CustomerConsents {
    fn allows(&self, customer: &Customer, purpose: Purpose, channel: ContactChannel) -> bool {
        customer.consents.allows(purpose, channel)
    }

    fn withdrawn(&self, customer: &Customer, purpose: Purpose, channel: ContactChannel) -> bool {
        customer
            .consents
            .get(purpose, channel)
            .or_else(|| customer.consents.get(purpose, ContactChannel::Any))
            .is_some_and(|c| !c.granted)
    }
}
