//! Booking a course end to end over HTTP, through the Stripe stand-in:
//! a seat is held and paid on Checkout, a declined card leaves the booking
//! pending and a retry pays it, an expired session frees the seat, and
//! every rule answers a clear error. On both backends.

use paywarden_app::seed::seed_courses;
use paywarden_core::courses::{Course, CourseDraft};
use paywarden_core::ids::CourseId;
use paywarden_store::{now_ms, Bookings};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::shop::{shops, Shop};

const CARD_OK: &str = "4242424242424242";
const CARD_DECLINED: &str = "4000000000000002";

async fn add_course(shop: &Shop, capacity: i64, starts_in: i64, published: bool) -> String {
    let now = now_ms() / 1000;
    let course = Course::new(
        CourseId::generate(),
        CourseDraft {
            title: "Checkout in depth".into(),
            description: "Half a day.".into(),
            price: 8_900,
            currency: "usd".into(),
            capacity,
            starts_at: now + starts_in,
            ends_at: now + starts_in + 3_600,
            published,
        },
    )
    .expect("valid");
    shop.store
        .add_course(&course, None, now_ms())
        .await
        .expect("add course")
        .to_string()
}

async fn book(shop: &Shop, user: &str, course: &str) -> (StatusCode, Value) {
    let reply = shop
        .call(
            Method::POST,
            "/api/bookings",
            Some(user),
            Some(json!({ "course_id": course })),
        )
        .await;
    (reply.status, reply.body)
}

async fn booking(shop: &Shop, user: &str, id: &str) -> Value {
    let reply = shop
        .call(
            Method::GET,
            &format!("/api/bookings/{id}"),
            Some(user),
            None,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}: {}",
        shop.backend,
        reply.body
    );
    reply.body
}

/// Pays a booking's Checkout with `card`; the hosted page's status.
async fn pay(shop: &Shop, checkout: &Value, card: &str) -> StatusCode {
    let session = json!({ "url": checkout["checkout_url"] });
    let status = shop.pay(&session, card).await;
    shop.flush().await;
    status
}

#[tokio::test]
async fn a_booking_is_paid_on_checkout_and_confirmed_from_stripe() {
    for shop in shops().await {
        let course = add_course(&shop, 3, 86_400, true).await;
        let (status, created) = book(&shop, "ada", &course).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {created}", shop.backend);
        let id = created["booking"].as_str().expect("booking id").to_owned();
        assert_eq!(created["status"], "pending");
        // The session charges the server's price for the course.
        let session = shop
            .sim_get(&format!(
                "/v1/checkout/sessions/{}",
                created["checkout_session"].as_str().expect("cs_")
            ))
            .await;
        assert_eq!(
            session["amount_total"], 8_900,
            "{}: {session}",
            shop.backend
        );
        assert_eq!(session["metadata"]["booking_id"], id.as_str());
        let seats = shop
            .call(Method::GET, &format!("/api/courses/{course}"), None, None)
            .await;
        assert_eq!(
            seats.body["seats_left"], 2,
            "{}: a held seat counts",
            shop.backend
        );

        pay(&shop, &created, CARD_OK).await;
        let confirmed = booking(&shop, "ada", &id).await;
        assert_eq!(
            confirmed["status"], "confirmed",
            "{}: {confirmed}",
            shop.backend
        );
        assert_eq!(confirmed["amount_paid"], 8_900);
        // Booking twice is a conflict; another user cannot see the booking.
        let (again, body) = book(&shop, "ada", &course).await;
        assert_eq!(again, StatusCode::CONFLICT, "{}: {body}", shop.backend);
        let theirs = shop
            .call(
                Method::GET,
                &format!("/api/bookings/{id}"),
                Some("bob"),
                None,
            )
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", shop.backend);
        let listed = shop
            .call(Method::GET, "/api/bookings", Some("ada"), None)
            .await;
        assert_eq!(listed.body["data"][0]["course_title"], "Checkout in depth");
        assert_eq!(
            shop.call(Method::GET, "/api/bookings", Some("bob"), None)
                .await
                .body["data"],
            json!([])
        );
    }
}

#[tokio::test]
async fn a_declined_card_leaves_the_booking_pending_and_a_retry_pays_it() {
    for shop in shops().await {
        let course = add_course(&shop, 1, 86_400, true).await;
        let (_, created) = book(&shop, "ada", &course).await;
        let id = created["booking"].as_str().expect("id").to_owned();
        pay(&shop, &created, CARD_DECLINED).await;
        assert_eq!(
            booking(&shop, "ada", &id).await["status"],
            "pending",
            "{}",
            shop.backend
        );
        // The full course says so before any checkout.
        let (full, body) = book(&shop, "bob", &course).await;
        assert_eq!(full, StatusCode::CONFLICT, "{}: {body}", shop.backend);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("full"),
            "{body}"
        );
        // The same Checkout again, paid with a good card this time.
        let resumed = shop
            .call(
                Method::POST,
                &format!("/api/bookings/{id}/checkout"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(
            resumed.status,
            StatusCode::OK,
            "{}: {}",
            shop.backend,
            resumed.body
        );
        assert_eq!(
            resumed.body["checkout_session"],
            created["checkout_session"]
        );
        pay(&shop, &resumed.body, CARD_OK).await;
        assert_eq!(
            booking(&shop, "ada", &id).await["status"],
            "confirmed",
            "{}",
            shop.backend
        );
    }
}

#[tokio::test]
async fn an_expired_checkout_frees_the_seat_and_the_booking_can_be_retried() {
    for shop in shops().await {
        let course = add_course(&shop, 1, 86_400, true).await;
        let (_, created) = book(&shop, "ada", &course).await;
        let id = created["booking"].as_str().expect("id").to_owned();
        let session = created["checkout_session"].as_str().expect("cs_");
        shop.sim_post(&format!("/v1/checkout/sessions/{session}/expire"), &[])
            .await;
        shop.flush().await;
        assert_eq!(
            booking(&shop, "ada", &id).await["status"],
            "expired",
            "{}",
            shop.backend
        );
        // The seat is free for someone else...
        let (status, bob) = book(&shop, "bob", &course).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {bob}", shop.backend);
        let bob_session = bob["checkout_session"].as_str().expect("cs_");
        shop.sim_post(&format!("/v1/checkout/sessions/{bob_session}/expire"), &[])
            .await;
        shop.flush().await;
        // ...and ada's retry is the same booking with a new session.
        let retried = shop
            .call(
                Method::POST,
                &format!("/api/bookings/{id}/checkout"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(
            retried.status,
            StatusCode::OK,
            "{}: {}",
            shop.backend,
            retried.body
        );
        assert_eq!(retried.body["booking"], id.as_str());
        assert_ne!(
            retried.body["checkout_session"],
            created["checkout_session"]
        );
        pay(&shop, &retried.body, CARD_OK).await;
        assert_eq!(
            booking(&shop, "ada", &id).await["status"],
            "confirmed",
            "{}",
            shop.backend
        );
    }
}

#[tokio::test]
async fn bad_bookings_get_clear_errors_and_signed_out_visitors_get_401() {
    for shop in shops().await {
        let unknown = CourseId::generate().to_string();
        let (status, _) = book(&shop, "ada", &unknown).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{}: unknown course",
            shop.backend
        );
        let (status, _) = book(&shop, "ada", "not-a-course").await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{}: malformed id",
            shop.backend
        );
        let hidden = add_course(&shop, 5, 86_400, false).await;
        let (status, _) = book(&shop, "ada", &hidden).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{}: unpublished",
            shop.backend
        );
        let past = add_course(&shop, 5, -3_600, true).await;
        let (status, body) = book(&shop, "ada", &past).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", shop.backend);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("started"),
            "{body}"
        );
        // The client chooses only the course: a price is refused.
        let priced = shop
            .call(
                Method::POST,
                "/api/bookings",
                Some("ada"),
                Some(json!({ "course_id": hidden, "price": 1 })),
            )
            .await;
        assert!(
            priced.status.is_client_error(),
            "{}: {}",
            shop.backend,
            priced.body
        );
        for (method, path) in [
            (Method::POST, "/api/bookings".to_owned()),
            (Method::GET, "/api/bookings".to_owned()),
            (Method::GET, format!("/api/bookings/{unknown}")),
            (Method::POST, format!("/api/bookings/{unknown}/checkout")),
        ] {
            let reply = shop
                .call(
                    method.clone(),
                    &path,
                    None,
                    Some(json!({ "course_id": past })),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{}: {method} {path}",
                shop.backend
            );
        }
        // Seed data with a zero price is refused with the entry's name.
        let bad = "[courses.free]\ntitle = \"Free\"\nprice = 0\ncurrency = \"usd\"\ncapacity = 5\n";
        let err = seed_courses(&shop.store, bad)
            .await
            .expect_err("zero price")
            .to_string();
        assert!(err.contains("`free`"), "{err}");
        // Unpublished courses are not listed.
        let listed = shop.call(Method::GET, "/api/courses", None, None).await;
        let ids: Vec<&str> = listed.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert!(
            ids.contains(&past.as_str()) && !ids.contains(&hidden.as_str()),
            "{ids:?}"
        );
    }
}

#[tokio::test]
async fn a_confirmed_booking_is_cancelled_with_a_refund_and_frees_its_seat() {
    for shop in shops().await {
        let b = shop.backend;
        let course = add_course(&shop, 1, 3 * 86_400, true).await;
        let (_, created) = book(&shop, "ada", &course).await;
        let id = created["booking"].as_str().expect("id").to_owned();
        pay(&shop, &created, CARD_OK).await;
        assert_eq!(
            booking(&shop, "ada", &id).await["status"],
            "confirmed",
            "{b}"
        );
        // Bob cannot cancel it; the course is full meanwhile.
        let theirs = shop
            .call(
                Method::POST,
                &format!("/api/bookings/{id}/cancel"),
                Some("bob"),
                None,
            )
            .await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{b}");
        assert_eq!(
            book(&shop, "bob", &course).await.0,
            StatusCode::CONFLICT,
            "{b}"
        );

        let cancelled = shop
            .call(
                Method::POST,
                &format!("/api/bookings/{id}/cancel"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(cancelled.status, StatusCode::OK, "{b}: {}", cancelled.body);
        assert_eq!(
            cancelled.body["status"], "cancelled",
            "{b}: {}",
            cancelled.body
        );
        // The money went back through Stripe, once, however often she asks.
        let again = shop
            .call(
                Method::POST,
                &format!("/api/bookings/{id}/cancel"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(again.status, StatusCode::OK, "{b}");
        let refunds = shop.sim_list("/v1/refunds").await;
        assert_eq!(refunds.len(), 1, "{b}: {refunds:?}");
        assert_eq!(refunds[0]["amount"], 8_900, "{b}");
        shop.flush().await;
        // The seat is free again: bob books it.
        let (status, body) = book(&shop, "bob", &course).await;
        assert_eq!(status, StatusCode::CREATED, "{b}: {body}");
    }
}

#[tokio::test]
async fn a_booking_cannot_be_cancelled_inside_the_policy_window() {
    for shop in shops().await {
        // Starts in two hours; the policy allows cancelling until 24 h before.
        let course = add_course(&shop, 2, 2 * 3_600, true).await;
        let (_, created) = book(&shop, "ada", &course).await;
        let id = created["booking"].as_str().expect("id").to_owned();
        pay(&shop, &created, CARD_OK).await;
        let refused = shop
            .call(
                Method::POST,
                &format!("/api/bookings/{id}/cancel"),
                Some("ada"),
                None,
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::CONFLICT,
            "{}: {}",
            shop.backend,
            refused.body
        );
        assert!(
            shop.sim_list("/v1/refunds").await.is_empty(),
            "{}",
            shop.backend
        );
        assert_eq!(booking(&shop, "ada", &id).await["status"], "confirmed");
    }
}
