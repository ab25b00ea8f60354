use paywarden_core::projection::{plan, Plan};
use paywarden_core::stripe::Event;
use paywarden_store::*;
use paywarden_testkit::backends;

#[tokio::test]
async fn an_event_is_claimed_once_and_projected() {
    for t in backends().await {
        let body = br#"{"id":"evt_smoke","object":"event","type":"customer.subscription.updated","created":100,
          "data":{"object":{"id":"sub_1","customer":"cus_1","status":"active","items":{"data":[{"id":"si_1","quantity":1,"price":{"id":"price_1"}}]}}}}"#;
        let event = Event::parse(body).expect("event");
        let Ok(Plan::Apply(changes)) = plan(&event) else {
            panic!("plan")
        };
        let ctx = ApplyContext {
            default_daily_cap: 100,
            now: now_ms(),
            catalog: None,
        };
        for expected in [Claim::New, Claim::Duplicate] {
            let mut tx = t.store.begin().await.expect("begin");
            let claim = tx
                .claim_event(&NewEvent {
                    id: &event.id,
                    event_type: &event.event_type,
                    api_version: None,
                    created: event.created,
                    livemode: false,
                    object_id: event.object_id(),
                    payload: std::str::from_utf8(body).expect("utf8"),
                    status: EventStatus::Processed,
                    error: None,
                    next_attempt_at: None,
                    received_at: now_ms(),
                })
                .await
                .expect("claim");
            assert_eq!(claim, expected, "{}", t.name);
            if claim == Claim::New {
                tx.apply_changes(&changes, &ctx).await.expect("apply");
            }
            tx.commit().await.expect("commit");
        }
        let sub = t
            .store
            .subscription(&"sub_1".parse().expect("id"))
            .await
            .expect("read")
            .expect("row");
        assert_eq!(sub.status, "active", "{}", t.name);
        assert_eq!(sub.items.len(), 1, "{}", t.name);
        let stored = t
            .store
            .event(&event.id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.received_count, 2, "{}", t.name);
        let digest = t.store.projection_digest().await.expect("digest");
        assert!(
            digest
                .iter()
                .any(|l| l.starts_with("subscriptions|sub_1|cus_1")),
            "{}: {digest:?}",
            t.name
        );
    }
}
