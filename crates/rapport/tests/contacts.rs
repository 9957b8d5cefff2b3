//! One live customer per email and phone through the service: a profile edit that takes
//! another customer's email is refused with the holder named and nothing written, and the
//! typed error carries no personal data.
#![allow(clippy::unwrap_used, missing_docs)]

use futures::executor::block_on;
use rapport::{Error, Service};
use rapport_core::*;
use rapport_memory::MemoryStore;

#[test]
fn an_edit_taking_another_customers_email_is_refused_naming_the_holder() {
    let svc = Service::new(MemoryStore::new());
    let t = TenantId::from_u128(1);
    let with_email = |e: &str| Profile {
        email: Some(Pii::new(Email::parse(e).unwrap())),
        ..Profile::default()
    };
    let ann = block_on(svc.register_new(t, with_email("ann@example.com"))).unwrap();
    let bob = block_on(svc.register_new(t, with_email("bob@example.com"))).unwrap();
    let err = block_on(svc.update_profile(t, bob.id(), |p| {
        p.email = Some(Pii::new(Email::parse("ANN@example.com")?));
        Ok(())
    }))
    .unwrap_err();
    match &err {
        Error::Store(StoreError::ContactTaken {
            customer,
            contact: ContactKind::Email,
            existing,
        }) => assert_eq!((*customer, *existing), (bob.id(), ann.id())),
        other => panic!("expected ContactTaken, got {other:?}"),
    }
    assert_eq!(err.kind(), "store.contact_taken");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(
            !text.contains("ann@") && !text.contains("example.com"),
            "{text}"
        );
    }
    let stored = block_on(svc.customer(t, bob.id())).unwrap().customer;
    assert_eq!(stored, bob, "a refused edit wrote nothing");
    // `register` with Ann's email (any spelling) gives Ann back.
    let again = block_on(svc.register(t, with_email(" Ann@Example.COM"))).unwrap();
    assert_eq!((again.customer.id(), again.created), (ann.id(), false));
}
