//! The `Stripe-Signature` check at the door: bad headers, bodies that are
//! not events, oversized bodies, and secret rotation.

use paywarden_core::stripe::MAX_EVENT_BYTES;
use paywarden_testkit::{now_secs, TEST_WEBHOOK_SECRET};
use reqwest::StatusCode;

use crate::support::{apps, sign_at, stripe, AppConfig, Reply, TestApp};

async fn refused(app: &TestApp, what: &str, body: Vec<u8>, header: Option<&str>) -> Reply {
    let reply = app.post_webhook(body, header).await;
    let what = format!("[{}] {what}", app.backend);
    reply.assert_error(StatusCode::BAD_REQUEST, "invalid_signature", &what);
    assert_eq!(
        app.counts().await.events,
        0,
        "{what}: nothing may be stored"
    );
    reply
}

#[tokio::test]
async fn bad_signature_headers_are_refused_and_store_nothing() {
    for app in apps().await {
        let body = stripe::invoice_paid("evt_sig_1", "in_sig_1", "cus_sig", 500, now_secs());
        let other = stripe::invoice_paid("evt_sig_2", "in_sig_2", "cus_sig", 500, now_secs());
        let now = now_secs();
        let good = sign_at(TEST_WEBHOOK_SECRET, now, &body);
        let v1 = good.split_once(",v1=").expect("v1 in header").1.to_owned();

        refused(
            &app,
            "wrong secret",
            body.clone(),
            Some(&sign_at("whsec_wrong", now, &body)),
        )
        .await;
        refused(
            &app,
            "signature of another body",
            body.clone(),
            Some(&sign_at(TEST_WEBHOOK_SECRET, now, &other)),
        )
        .await;
        for index in [0, body.len() / 2, body.len() - 1] {
            let mut changed = body.clone();
            changed[index] ^= 0x01;
            refused(&app, &format!("byte {index} changed"), changed, Some(&good)).await;
        }
        refused(
            &app,
            "one hex digit of v1 changed",
            body.clone(),
            Some(&format!("t={now},v1={}0", &v1[..63])),
        )
        .await;
        refused(
            &app,
            "timestamp changed after signing",
            body.clone(),
            Some(&format!("t={},v1={v1}", now - 1)),
        )
        .await;

        let now = now_secs();
        let only_v0 = format!(
            "t={now},v0={}",
            sign_at(TEST_WEBHOOK_SECRET, now, &body)
                .split_once(",v1=")
                .expect("v1")
                .1
        );
        let huge = format!(
            "{}{}",
            sign_at(TEST_WEBHOOK_SECRET, now, &body),
            ",v0=00".repeat(800)
        );
        assert!(huge.len() > 4096, "the huge header is over 4 KiB");
        for (what, header) in [
            ("header without v1", format!("t={now}")),
            ("header without t", format!("v1={v1}")),
            ("empty header", String::new()),
            ("only v0", only_v0),
            ("huge header (> 4 KiB) around a valid signature", huge),
            ("garbage", "garbage".to_owned()),
            ("garbage pairs", "t=yesterday,v1=zzzz".to_owned()),
            ("v1 not hex", format!("t={now},v1=not-hex-at-all")),
            ("two timestamps", format!("t={now},t={now},v1={v1}")),
            (
                "several v1, none matching",
                format!("t={now},v1={},v1={}", "0".repeat(64), "f".repeat(64)),
            ),
        ] {
            refused(&app, what, body.clone(), Some(&header)).await;
        }
        refused(&app, "missing header", body.clone(), None).await;

        // A header that is not text at all.
        let reply = app
            .client
            .post(app.url("/webhooks/stripe"))
            .header(
                "stripe-signature",
                reqwest::header::HeaderValue::from_bytes(b"t=1,v1=\xff\xfe")
                    .expect("opaque header bytes"),
            )
            .body(body.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(
            reply.status(),
            StatusCode::BAD_REQUEST,
            "[{}] non-text header",
            app.backend
        );
        assert_eq!(
            app.counts().await.events,
            0,
            "[{}] non-text header stores nothing",
            app.backend
        );

        // The same body, correctly signed, is accepted: the refusals above
        // were about the headers.
        let reply = app
            .post_webhook(
                body.clone(),
                Some(&sign_at(TEST_WEBHOOK_SECRET, now_secs(), &body)),
            )
            .await;
        app.assert_received(&reply, "the correctly signed body");
        assert_eq!(
            app.counts().await.events,
            1,
            "[{}] one event stored",
            app.backend
        );
    }
}

/// Delivers a body signed `offset` seconds from now, which must be refused.
/// The server reads its clock between our two readings, so only when both
/// fall in the same second is the offset it saw exactly `offset`; an
/// attempt straddling a second proves nothing and is repeated with a new
/// event. Returns how many inconclusive attempts were accepted.
async fn refused_at_offset(app: &TestApp, offset: i64) -> i64 {
    let b = app.backend;
    let mut accepted = 0;
    for attempt in 0..10 {
        let id = format!(
            "evt_tol_{}{}_{attempt}",
            if offset < 0 { "m" } else { "p" },
            offset.abs()
        );
        let before = now_secs();
        let body = stripe::invoice_paid(&id, &format!("in_{}", &id[4..]), "cus_tol", 100, before);
        let header = sign_at(TEST_WEBHOOK_SECRET, before + offset, &body);
        let reply = app.post_webhook(body, Some(&header)).await;
        if now_secs() == before {
            let what = format!("[{b}] signed {offset:+} s from now");
            reply.assert_error(StatusCode::BAD_REQUEST, "invalid_signature", &what);
            assert!(
                app.event(&id).await.is_none(),
                "{what}: nothing may be stored"
            );
            return accepted;
        }
        accepted += i64::from(reply.status == StatusCode::OK);
    }
    panic!("[{b}] 10 attempts at {offset:+} s all straddled a second");
}

#[tokio::test]
async fn signatures_outside_the_tolerance_are_refused() {
    for app in apps().await {
        let mut inconclusive_accepted = 0;
        for offset in [-301, 301, -302, 302, -3600, 86_400] {
            inconclusive_accepted += refused_at_offset(&app, offset).await;
        }
        assert_eq!(
            app.counts().await.events,
            inconclusive_accepted,
            "[{}] only attempts straddling a second may have been stored",
            app.backend
        );
        // Inside the tolerance, either way, is accepted.
        for (id, offset) in [("evt_tol_in_past", -290), ("evt_tol_in_future", 290)] {
            let body =
                stripe::invoice_paid(id, &format!("in_{}", &id[4..]), "cus_tol", 100, now_secs());
            let header = sign_at(TEST_WEBHOOK_SECRET, now_secs() + offset, &body);
            let reply = app.post_webhook(body, Some(&header)).await;
            app.assert_received(&reply, &format!("signed {offset:+} s from now"));
        }
    }
}

#[tokio::test]
async fn signed_bodies_that_are_not_events_are_refused_and_store_nothing() {
    for app in apps().await {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("not JSON", b"this is not json".to_vec()),
            (
                "truncated JSON",
                br#"{"id":"evt_trunc","type":"invoice.paid","data":{"object":"#.to_vec(),
            ),
            ("not UTF-8", b"{\"id\":\"evt_\xff\xfe\"}".to_vec()),
            ("empty body", Vec::new()),
            ("JSON array", b"[]".to_vec()),
            ("JSON string", br#""evt_1""#.to_vec()),
            ("empty object", b"{}".to_vec()),
            (
                "not an event id",
                br#"{"id":"cus_1","object":"event","type":"x","data":{"object":{}}}"#.to_vec(),
            ),
            (
                "no type",
                br#"{"id":"evt_1","object":"event","data":{"object":{}}}"#.to_vec(),
            ),
            (
                "empty type",
                br#"{"id":"evt_1","object":"event","type":"","data":{"object":{}}}"#.to_vec(),
            ),
            (
                "no data",
                br#"{"id":"evt_1","object":"event","type":"invoice.paid"}"#.to_vec(),
            ),
            (
                "another object",
                br#"{"id":"evt_1","object":"customer","type":"x","data":{"object":{}}}"#.to_vec(),
            ),
            (
                "numeric id",
                br#"{"id":7,"object":"event","type":"x","data":{"object":{}}}"#.to_vec(),
            ),
        ];
        for (what, body) in cases {
            let header = sign_at(TEST_WEBHOOK_SECRET, now_secs(), &body);
            let reply = app.post_webhook(body, Some(&header)).await;
            let what = format!("[{}] signed, {what}", app.backend);
            reply.assert_error(StatusCode::BAD_REQUEST, "invalid_request", &what);
            assert_eq!(
                app.counts().await.events,
                0,
                "{what}: nothing may be stored"
            );
        }
    }
}

/// A valid event padded with trailing spaces to exactly `len` bytes.
fn padded_event(id: &str, len: usize) -> Vec<u8> {
    let mut body =
        stripe::invoice_paid(id, &format!("in_{}", &id[4..]), "cus_big", 100, now_secs());
    assert!(body.len() <= len);
    body.resize(len, b' ');
    body
}

#[tokio::test]
async fn bodies_over_one_mib_are_refused_with_413() {
    for app in apps().await {
        let body = padded_event("evt_big_over", MAX_EVENT_BYTES + 1);
        let header = sign_at(TEST_WEBHOOK_SECRET, now_secs(), &body);
        let reply = app.post_webhook(body, Some(&header)).await;
        reply.assert_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("[{}] signed body of 1 MiB + 1 byte", app.backend),
        );
        assert_eq!(
            app.counts().await.events,
            0,
            "[{}] oversized body stores nothing",
            app.backend
        );

        let body = padded_event("evt_big_limit", MAX_EVENT_BYTES);
        let reply = app.deliver(&body).await;
        app.assert_received(&reply, "signed body of exactly 1 MiB");
        assert_eq!(
            app.counts().await.payments,
            1,
            "[{}] the 1 MiB event applied",
            app.backend
        );
    }
}

#[tokio::test]
async fn either_configured_secret_is_accepted_during_a_rotation() {
    const OLD: &str = "whsec_rotation_old";
    const NEW: &str = "whsec_rotation_new";
    for db in paywarden_testkit::backends().await {
        let config = AppConfig {
            secrets: vec![OLD.to_owned(), NEW.to_owned()],
            ..AppConfig::default()
        };
        let app = TestApp::spawn_with(std::sync::Arc::new(db), config).await;
        let now = now_secs();

        let old_body = stripe::invoice_paid("evt_rot_old", "in_rot_old", "cus_rot", 100, now);
        let reply = app
            .post_webhook(old_body.clone(), Some(&sign_at(OLD, now, &old_body)))
            .await;
        app.assert_received(&reply, "signed with the old secret");

        let new_body = stripe::invoice_paid("evt_rot_new", "in_rot_new", "cus_rot", 100, now);
        let reply = app
            .post_webhook(new_body.clone(), Some(&sign_at(NEW, now, &new_body)))
            .await;
        app.assert_received(&reply, "signed with the new secret");

        // Stripe's own rotation header: one v1 per secret, the first stale.
        let both_body = stripe::invoice_paid("evt_rot_both", "in_rot_both", "cus_rot", 100, now);
        let third = sign_at("whsec_rotation_gone", now, &both_body);
        let new_v1 = sign_at(NEW, now, &both_body);
        let header = format!("{third},v1={}", new_v1.split_once(",v1=").expect("v1").1);
        let reply = app.post_webhook(both_body, Some(&header)).await;
        app.assert_received(&reply, "a header with a stale and a current v1");

        let third_body = stripe::invoice_paid("evt_rot_third", "in_rot_third", "cus_rot", 100, now);
        let reply = app
            .post_webhook(
                third_body.clone(),
                Some(&sign_at("whsec_rotation_third", now, &third_body)),
            )
            .await;
        reply.assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_signature",
            &format!("[{}] signed with a third secret", app.backend),
        );
        let counts = app.counts().await;
        assert_eq!(
            (counts.events, counts.payments),
            (3, 3),
            "[{}] the three accepted events stored and applied, the refused one not",
            app.backend
        );
        assert!(
            app.event("evt_rot_third").await.is_none(),
            "[{}] refused event not stored",
            app.backend
        );
    }
}
