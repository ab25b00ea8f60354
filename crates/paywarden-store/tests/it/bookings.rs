//! Courses and seat bookings on both backends: a seat is held while a
//! Checkout is open, confirmed only by a verified payment, freed by a
//! failure or an expiry, and a course is never oversold, however many
//! users race for it.

use std::sync::Arc;

use paywarden_core::courses::{BookingStatus, Course, CourseDraft};
use paywarden_core::ids::{BookingId, CourseId};
use paywarden_core::UserId;
use paywarden_store::{now_ms, Booking, Bookings, HoldOutcome, Store};
use paywarden_testkit::{backends, TestStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::support::*;

fn now_secs() -> i64 {
    now_ms() / 1000
}

fn user(name: &str) -> UserId {
    name.parse().expect("user id")
}

async fn course(t: &TestStore, capacity: i64) -> CourseId {
    let start = now_secs() + 86_400;
    let course = Course::new(
        CourseId::generate(),
        CourseDraft {
            title: "Webhooks done right".into(),
            description: "One day.".into(),
            price: 12_000,
            currency: "eur".into(),
            capacity,
            starts_at: start,
            ends_at: start + 3_600,
            published: true,
        },
    )
    .expect("valid course");
    t.store
        .add_course(&course, None, now_ms())
        .await
        .unwrap_or_else(|e| panic!("{}: adding a course: {e:?}", t.name))
}

async fn hold(store: &Store, course: CourseId, who: &str, hold_until: i64) -> HoldOutcome {
    store
        .hold_seat(
            course,
            &user(who),
            BookingId::generate(),
            hold_until,
            now_ms(),
        )
        .await
        .expect("hold a seat")
}

fn held(outcome: HoldOutcome, t: &TestStore) -> Booking {
    match outcome {
        HoldOutcome::Held(booking) => booking,
        other => panic!("{}: expected a held seat, got {other:?}", t.name),
    }
}

/// The webhook body of a Checkout event for `booking`'s session.
fn checkout_event(event: &str, kind: &str, session: &str, booking: &Booking, paid: bool) -> String {
    event_body(
        event,
        kind,
        now_secs(),
        json!({
            "id": session,
            "object": "checkout.session",
            "mode": "payment",
            "status": if kind == "checkout.session.expired" { "expired" } else { "complete" },
            "payment_status": if paid { "paid" } else { "unpaid" },
            "client_reference_id": booking.user_id.as_str(),
            "amount_total": booking.price.amount,
            "currency": booking.price.currency.as_str(),
            "payment_intent": format!("pi_{}", &session[3..]),
            "metadata": { "booking_id": booking.id.to_string(), "user_id": booking.user_id.as_str() },
        }),
    )
}

async fn status_of(store: &Store, booking: &Booking) -> BookingStatus {
    store
        .booking_of(&booking.user_id, booking.id)
        .await
        .expect("read booking")
        .expect("booking exists")
        .status
}

#[tokio::test]
async fn a_held_seat_is_confirmed_once_by_the_verified_payment() {
    for t in backends().await {
        let store = &t.store;
        let course = course(&t, 2).await;
        let ada = held(hold(store, course, "ada", now_secs() + 1_800).await, &t);
        assert_eq!(ada.status, BookingStatus::Pending, "{}", t.name);
        assert_eq!(ada.price.amount, 12_000, "{}: the course's price", t.name);
        // Asking again while the hold is live changes nothing.
        match hold(store, course, "ada", now_secs() + 1_800).await {
            HoldOutcome::Exists(same) => assert_eq!(same.id, ada.id, "{}", t.name),
            other => panic!("{}: {other:?}", t.name),
        }
        store
            .attach_session(
                ada.id,
                "cs_test_ada1",
                "https://checkout.example/pay",
                now_secs() + 2_400,
                now_ms(),
            )
            .await
            .expect("attach");
        let paid = checkout_event(
            "evt_b1",
            "checkout.session.completed",
            "cs_test_ada1",
            &ada,
            true,
        );
        deliver(&t, &paid).await;
        deliver(&t, &paid).await;
        let confirmed = store
            .booking_of(&ada.user_id, ada.id)
            .await
            .expect("read")
            .expect("found");
        assert_eq!(confirmed.status, BookingStatus::Confirmed, "{}", t.name);
        assert_eq!(confirmed.amount_paid, Some(12_000), "{}", t.name);
        assert!(confirmed.confirmed_at.is_some(), "{}", t.name);
        // A late expiry of the same session does not undo a payment.
        deliver(
            &t,
            &checkout_event(
                "evt_b2",
                "checkout.session.expired",
                "cs_test_ada1",
                &ada,
                false,
            ),
        )
        .await;
        assert_eq!(
            status_of(store, &ada).await,
            BookingStatus::Confirmed,
            "{}",
            t.name
        );
        // Booking a confirmed course again is refused; the seat count shows it.
        assert!(
            matches!(
                hold(store, course, "ada", now_secs() + 1_800).await,
                HoldOutcome::Exists(_)
            ),
            "{}",
            t.name
        );
        let seats = store
            .course(course, now_secs())
            .await
            .expect("read")
            .expect("found");
        assert_eq!((seats.taken, seats.seats_left()), (1, 1), "{}", t.name);
        // Another user cannot see ada's booking.
        assert!(
            store
                .booking_of(&user("bob"), ada.id)
                .await
                .expect("read")
                .is_none(),
            "{}",
            t.name
        );
        assert_eq!(
            store
                .bookings_of_user(&user("ada"))
                .await
                .expect("list")
                .len(),
            1,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn failures_and_expiries_free_the_seat_and_the_booking_can_be_retried() {
    for t in backends().await {
        let store = &t.store;
        let course = course(&t, 1).await;
        let ada = held(hold(store, course, "ada", now_secs() + 1_800).await, &t);
        store
            .attach_session(
                ada.id,
                "cs_test_a1",
                "https://checkout.example/pay",
                now_secs() + 1_800,
                now_ms(),
            )
            .await
            .expect("attach");
        assert!(
            matches!(
                hold(store, course, "bob", now_secs() + 1_800).await,
                HoldOutcome::Full
            ),
            "{}: full",
            t.name
        );
        deliver(
            &t,
            &checkout_event(
                "evt_f1",
                "checkout.session.async_payment_failed",
                "cs_test_a1",
                &ada,
                false,
            ),
        )
        .await;
        assert_eq!(
            status_of(store, &ada).await,
            BookingStatus::Failed,
            "{}",
            t.name
        );
        // The seat is free: bob takes it, and ada's retry finds it full.
        let bob = held(hold(store, course, "bob", now_secs() + 1_800).await, &t);
        assert!(
            matches!(
                hold(store, course, "ada", now_secs() + 1_800).await,
                HoldOutcome::Full
            ),
            "{}",
            t.name
        );
        store
            .attach_session(
                bob.id,
                "cs_test_b1",
                "https://checkout.example/pay",
                now_secs() + 1_800,
                now_ms(),
            )
            .await
            .expect("attach");
        deliver(
            &t,
            &checkout_event(
                "evt_f2",
                "checkout.session.expired",
                "cs_test_b1",
                &bob,
                false,
            ),
        )
        .await;
        assert_eq!(
            status_of(store, &bob).await,
            BookingStatus::Expired,
            "{}",
            t.name
        );
        // Ada retries on the same booking row with a new session; the old
        // session's late expiry does not touch the new attempt.
        let again = held(hold(store, course, "ada", now_secs() + 1_800).await, &t);
        assert_eq!(again.id, ada.id, "{}: the same booking row", t.name);
        store
            .attach_session(
                ada.id,
                "cs_test_a2",
                "https://checkout.example/pay",
                now_secs() + 1_800,
                now_ms(),
            )
            .await
            .expect("attach");
        deliver(
            &t,
            &checkout_event(
                "evt_f3",
                "checkout.session.expired",
                "cs_test_a1",
                &ada,
                false,
            ),
        )
        .await;
        assert_eq!(
            status_of(store, &ada).await,
            BookingStatus::Pending,
            "{}",
            t.name
        );
        deliver(
            &t,
            &checkout_event(
                "evt_f4",
                "checkout.session.completed",
                "cs_test_a2",
                &ada,
                true,
            ),
        )
        .await;
        assert_eq!(
            status_of(store, &ada).await,
            BookingStatus::Confirmed,
            "{}",
            t.name
        );
        // A hold that ran out frees the seat even without an event.
        let other = course_with_lapsed_hold(&t).await;
        assert!(
            matches!(
                hold(store, other, "bob", now_secs() + 1_800).await,
                HoldOutcome::Held(_)
            ),
            "{}",
            t.name
        );
    }
}

async fn course_with_lapsed_hold(t: &TestStore) -> CourseId {
    let course = course(t, 1).await;
    held(hold(&t.store, course, "carol", now_secs() - 1).await, t);
    course
}

#[tokio::test]
async fn five_hundred_users_racing_for_twenty_seats_never_oversell() {
    for t in backends().await {
        let capacity = 20;
        let course = course(&t, capacity).await;
        let store = Arc::new(t.store.clone());
        let permits = Arc::new(Semaphore::new(32));
        let mut tasks = JoinSet::new();
        for n in 0..500u64 {
            let store = store.clone();
            let permits = permits.clone();
            let body_of = move |b: &Booking, kind: &str, paid: bool| {
                checkout_event(
                    &format!("evt_race{n}_{kind}"),
                    kind,
                    &format!("cs_test_race{n}"),
                    b,
                    paid,
                )
            };
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("permits");
                // Fixed seed per user: a failure replays the same mix.
                let mut rng = StdRng::seed_from_u64(n);
                // One in five holds has already run out, as if its user
                // paid at the last second and the event came late.
                let lapsed = rng.gen_ratio(1, 5);
                let until = if lapsed {
                    now_secs() - 1
                } else {
                    now_secs() + 1_800
                };
                let HoldOutcome::Held(booking) =
                    hold(&store, course, &format!("u{n}"), until).await
                else {
                    return None;
                };
                store
                    .attach_session(
                        booking.id,
                        &format!("cs_test_race{n}"),
                        "https://checkout.example/pay",
                        until,
                        now_ms(),
                    )
                    .await
                    .expect("attach");
                let body = match rng.gen_range(0..4) {
                    0 => body_of(&booking, "checkout.session.expired", false),
                    1 => body_of(&booking, "checkout.session.async_payment_failed", false),
                    _ => body_of(&booking, "checkout.session.completed", true),
                };
                try_deliver(&store, &body).await.expect("deliver");
                Some(booking)
            });
        }
        let mut bookings = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            bookings.extend(joined.expect("task"));
        }
        let mut confirmed = 0;
        for booking in &bookings {
            if status_of(&t.store, booking).await == BookingStatus::Confirmed {
                confirmed += 1;
            }
        }
        let seats = t
            .store
            .course(course, now_secs())
            .await
            .expect("read")
            .expect("found");
        assert!(
            confirmed <= capacity,
            "{}: {confirmed} confirmed of {capacity} seats",
            t.name
        );
        assert!(
            i64::from(seats.taken) <= capacity,
            "{}: {} seats taken",
            t.name,
            seats.taken
        );
        assert!(confirmed > 0, "{}: the race sold nothing", t.name);
        assert!(
            bookings.len() > 20,
            "{}: only {} holds were granted",
            t.name,
            bookings.len()
        );
    }
}

#[tokio::test]
async fn the_database_refuses_a_course_without_a_price_or_seats() {
    for t in backends().await {
        let pool = raw(&t).await;
        for (price, capacity) in [(0, 10), (-100, 10), (100, 0)] {
            let refused = sqlx::query(
                "INSERT INTO courses (id, title, description, price, currency, capacity, starts_at, ends_at, published, created_at) \
                 VALUES ($1, 'x', '', $2, 'usd', $3, 1, 2, $4, 0)",
            )
            .bind(CourseId::generate().to_string())
            .bind(price)
            .bind(capacity)
            .bind(true)
            .execute(&pool)
            .await;
            assert!(
                refused.is_err(),
                "{}: price {price} capacity {capacity} was stored",
                t.name
            );
        }
        // Seeding twice under one key makes one course.
        let draft = CourseDraft {
            title: "Seeded".into(),
            description: String::new(),
            price: 1_000,
            currency: "usd".into(),
            capacity: 5,
            starts_at: now_secs() + 100,
            ends_at: now_secs() + 200,
            published: true,
        };
        let first = Course::new(CourseId::generate(), draft.clone()).expect("valid");
        let second = Course::new(CourseId::generate(), draft).expect("valid");
        let a = t
            .store
            .add_course(&first, Some("demo-seeded"), now_ms())
            .await
            .expect("seed");
        let b = t
            .store
            .add_course(&second, Some("demo-seeded"), now_ms())
            .await
            .expect("seed again");
        assert_eq!(a, b, "{}", t.name);
        assert_eq!(
            t.store.courses(true, now_secs()).await.expect("list").len(),
            1,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn the_product_is_told_of_every_booking_change_in_the_same_transaction() {
    use paywarden_core::ids::WebhookEndpointId;
    use paywarden_core::outbound::{EndpointSecret, OutboundEventType};
    use paywarden_store::{NewWebhookEndpoint, WebhookEndpoints};
    use sqlx::Row;

    for t in backends().await {
        t.store
            .create_webhook_endpoint(&NewWebhookEndpoint {
                id: WebhookEndpointId::generate(),
                url: "https://hooks.example.com/bookings".into(),
                secret: EndpointSecret::generate(),
                event_types: Some(vec![OutboundEventType::BookingUpdated]),
                created_at: now_ms(),
            })
            .await
            .expect("endpoint");
        let course = course(&t, 2).await;
        let ada = held(hold(&t.store, course, "ada", now_secs() + 1_800).await, &t);
        t.store
            .attach_session(
                ada.id,
                "cs_test_out1",
                "https://checkout.example/pay",
                now_secs() + 1_800,
                now_ms(),
            )
            .await
            .expect("attach");
        let paid = checkout_event(
            "evt_o1",
            "checkout.session.completed",
            "cs_test_out1",
            &ada,
            true,
        );
        deliver(&t, &paid).await;
        deliver(&t, &paid).await;
        let pool = raw(&t).await;
        let statuses: Vec<String> = sqlx::query(
            "SELECT payload FROM outbound_messages WHERE event_type = 'booking.updated' ORDER BY created_at, id",
        )
        .fetch_all(&pool)
        .await
        .expect("messages")
        .iter()
        .map(|row| {
            let payload: String = row.try_get("payload").expect("payload");
            let body: serde_json::Value = serde_json::from_str(&payload).expect("json");
            assert_eq!(body["data"]["id"], ada.id.to_string(), "{}: {body}", t.name);
            body["data"]["status"].as_str().expect("status").to_owned()
        })
        .collect();
        assert_eq!(
            statuses,
            ["pending", "confirmed"],
            "{}: one message per change, none for the repeat",
            t.name
        );
    }
}
