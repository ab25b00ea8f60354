//! The webhook inbox under bursts: group commit on SQLite, and the
//! one-by-one fallback when a batch cannot be written whole.

use std::time::Duration;

use paywarden_app::webhooks::{Receipt, WebhookInbox, WebhookSettings};
use paywarden_app::AppError;
use paywarden_core::signature::{header_for, WebhookSecret};
use paywarden_store::{EventLog, EventStatus, ProjectionReader};
use paywarden_testkit::{backends, now_secs, TEST_WEBHOOK_SECRET};

fn inbox(store: paywarden_store::Store) -> (WebhookInbox, WebhookSecret) {
    let secret = WebhookSecret::new(TEST_WEBHOOK_SECRET).expect("secret");
    let settings = WebhookSettings {
        secrets: vec![secret.clone()],
        tolerance: Duration::from_secs(300),
        default_daily_cap: 10,
        catalog: None,
    };
    (WebhookInbox::new(store, settings), secret)
}

fn invoice_paid(i: usize) -> String {
    format!(
        r#"{{"id":"evt_b{i}","object":"event","type":"invoice.paid","created":1,"data":{{"object":{{"id":"in_b{i}","amount_paid":5,"currency":"usd"}}}}}}"#
    )
}

/// Signs every body now and delivers them all at once, answers in order.
async fn deliver_together(
    inbox: &WebhookInbox,
    secret: &WebhookSecret,
    bodies: &[String],
) -> Vec<Result<Receipt, AppError>> {
    let now = now_secs();
    let headers: Vec<String> = bodies
        .iter()
        .map(|b| header_for(std::slice::from_ref(secret), now, b.as_bytes()))
        .collect();
    futures::future::join_all(
        bodies
            .iter()
            .zip(&headers)
            .map(|(body, header)| inbox.receive(Some(header), body.as_bytes(), now)),
    )
    .await
}

/// Plans fine; the database refuses it (card data is brand/last4/expiry only).
const UNSTORABLE: &str = r#"{"id":"evt_bad","object":"event","type":"payment_method.attached","created":1,
  "data":{"object":{"id":"pm_bad","customer":"cus_1","card":{"last4":"12345"}}}}"#;

/// On the current-thread test runtime every `receive` below queues its
/// delivery before the writer task runs, so they form one batch.
#[tokio::test]
async fn a_batch_with_an_unstorable_event_is_rewritten_one_by_one() {
    for t in backends().await {
        let (inbox, secret) = inbox(t.store.clone());
        let mut bodies: Vec<String> = (0..63).map(invoice_paid).collect();
        bodies.insert(30, UNSTORABLE.to_owned());
        bodies.push(invoice_paid(5)); // a duplicate inside the same batch
        let receipts = deliver_together(&inbox, &secret, &bodies).await;
        let receipts: Vec<_> = receipts.into_iter().map(|r| r.expect("accepted")).collect();
        assert_eq!(
            receipts.iter().filter(|r| r.duplicate).count(),
            1,
            "{}",
            t.name
        );
        let bad = t
            .store
            .event(&"evt_bad".parse().expect("id"))
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(bad.status, EventStatus::Failed, "{}", t.name);
        assert!(bad.last_error.is_some(), "{}", t.name);
        let counts = t.store.projection_counts().await.expect("counts");
        assert_eq!(counts.events, 64, "{}", t.name);
        assert_eq!(
            counts.payments, 63,
            "{}: one per invoice, none twice",
            t.name
        );
        assert_eq!(
            counts.payment_methods, 0,
            "{}: nothing of the bad event",
            t.name
        );
        let dup = t
            .store
            .event(&"evt_b5".parse().expect("id"))
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(dup.received_count, 2, "{}", t.name);
    }
}

#[tokio::test]
async fn a_burst_is_applied_once_per_event() {
    for t in backends().await {
        let (inbox, secret) = inbox(t.store.clone());
        let bodies: Vec<String> = (0..200).map(|i| invoice_paid(i % 100)).collect();
        let receipts = deliver_together(&inbox, &secret, &bodies).await;
        assert!(receipts.iter().all(Result::is_ok), "{}", t.name);
        assert_eq!(
            receipts
                .iter()
                .filter(|r| r.as_ref().is_ok_and(|r| r.duplicate))
                .count(),
            100,
            "{}",
            t.name
        );
        let counts = t.store.projection_counts().await.expect("counts");
        assert_eq!((counts.events, counts.payments), (100, 100), "{}", t.name);
    }
}
