//! The end-user pages over HTTP, as a browser without JavaScript uses
//! them: signed-out visitors are refused, every form post needs the
//! visitor's CSRF token, booking from `/courses` lands on Checkout, and
//! `/bookings` shows the confirmed booking after payment.

use paywarden_core::courses::{Course, CourseDraft};
use paywarden_core::ids::CourseId;
use paywarden_store::{now_ms, Bookings};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::json;

use crate::shop::{shops, Shop};

async fn add_course(shop: &Shop, title: &str, capacity: i64) -> String {
    let now = now_ms() / 1000;
    let course = Course::new(
        CourseId::generate(),
        CourseDraft {
            title: title.into(),
            description: "A <b>bold</b> claim & more.".into(),
            price: 14_900,
            currency: "usd".into(),
            capacity,
            starts_at: now + 86_400,
            ends_at: now + 90_000,
            published: true,
        },
    )
    .expect("valid");
    shop.store
        .add_course(&course, None, now_ms())
        .await
        .expect("add")
        .to_string()
}

/// A browser-like client that does not follow redirects, signed in as
/// `user` through the session cookie.
struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: String,
}

impl Visitor {
    fn new(shop: &Shop, user: Option<&str>) -> Self {
        let cookies = user
            .map(|u| format!("pw_session={}", Shop::token(u)))
            .unwrap_or_default();
        Self {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: shop.base.clone(),
            cookies,
        }
    }

    /// GETs a page, keeping any CSRF cookie it sets.
    async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookies)
            .send()
            .await
            .expect("get");
        for set in response.headers().get_all(SET_COOKIE) {
            let pair = set.to_str().expect("ascii").split(';').next().unwrap_or("");
            if pair.starts_with("pw_csrf=") {
                self.cookies = format!("{}; {pair}", self.cookies);
            }
        }
        let status = response.status();
        (status, response.text().await.expect("html"))
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookies)
            .form(form)
            .send()
            .await
            .expect("post")
    }
}

/// The value of the form's hidden CSRF field.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().expect("value").to_owned()
}

#[tokio::test]
async fn booking_from_the_courses_page_needs_the_csrf_token_and_ends_confirmed() {
    for shop in shops().await {
        let b = shop.backend;
        let course = add_course(&shop, "Pages & forms", 4).await;
        let mut ada = Visitor::new(&shop, Some("ada"));
        let (status, html) = ada.get("/courses").await;
        assert_eq!(status, StatusCode::OK, "{b}: {html}");
        assert!(
            html.contains("Pages &amp; forms"),
            "{b}: titles are escaped"
        );
        assert!(
            html.contains("USD 149.00") && html.contains("4 of 4 seats left"),
            "{b}"
        );
        let (status, detail) = ada.get(&format!("/courses/{course}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            detail.contains("A &lt;b&gt;bold&lt;/b&gt; claim &amp; more."),
            "{b}: {detail}"
        );
        let token = csrf_of(&html);

        // Without the token, or with another one, nothing is booked.
        for form in [vec![], vec![("csrf", "x".repeat(43))]] {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let refused = ada.post(&format!("/courses/{course}/book"), &form).await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{b}");
        }
        assert_eq!(
            shop.store
                .bookings_of_user(&"ada".parse().expect("user"))
                .await
                .expect("list")
                .len(),
            0,
            "{b}: a refused post books nothing"
        );

        let booked = ada
            .post(&format!("/courses/{course}/book"), &[("csrf", &token)])
            .await;
        assert_eq!(booked.status(), StatusCode::SEE_OTHER, "{b}");
        let checkout = booked.headers()[LOCATION].to_str().expect("url").to_owned();
        assert!(checkout.contains("/checkout/"), "{b}: {checkout}");
        shop.pay(&json!({ "url": checkout }), "4242424242424242")
            .await;
        shop.flush().await;
        let (_, bookings) = ada.get("/bookings").await;
        assert!(bookings.contains("Pages &amp; forms"), "{b}: {bookings}");
        assert!(bookings.contains("status-confirmed"), "{b}: {bookings}");
        // Bob sees none of it.
        let mut bob = Visitor::new(&shop, Some("bob"));
        let (_, theirs) = bob.get("/bookings").await;
        assert!(!theirs.contains("Pages &amp; forms"), "{b}");
    }
}

#[tokio::test]
async fn signed_out_visitors_reach_no_booking_or_payment_page() {
    for shop in shops().await {
        let course = add_course(&shop, "Private", 2).await;
        let mut nobody = Visitor::new(&shop, None);
        for path in [
            "/courses".to_owned(),
            format!("/courses/{course}"),
            "/bookings".to_owned(),
            "/payment/cancel".to_owned(),
            "/payment/success?session_id=cs_test_x".to_owned(),
        ] {
            let (status, html) = nobody.get(&path).await;
            assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::SEE_OTHER,
                "{}: {path} answered {status}",
                shop.backend
            );
            assert!(
                !html.contains("Private"),
                "{}: {path} shows the course",
                shop.backend
            );
        }
        let posted = nobody
            .post(&format!("/courses/{course}/book"), &[("csrf", "x")])
            .await;
        assert!(
            posted.status() == StatusCode::UNAUTHORIZED || posted.status() == StatusCode::SEE_OTHER
        );
    }
}

/// Whether `html` has a form posting to `action`.
fn has_form(html: &str, action: &str) -> bool {
    html.contains(&format!("action=\"{action}\""))
}

#[tokio::test]
async fn a_plan_bought_on_pricing_shows_on_account_and_can_be_cancelled_at_period_end() {
    for shop in shops().await {
        let b = shop.backend;
        let mut ada = Visitor::new(&shop, Some("ada"));
        let (status, pricing) = ada.get("/pricing").await;
        assert_eq!(status, StatusCode::OK, "{b}");
        assert!(
            pricing.contains("Starter") && pricing.contains("Subscribe"),
            "{b}"
        );
        let token = csrf_of(&pricing);
        // The form names a catalog price; an amount in it would be ignored,
        // and a price outside the catalog is refused.
        let bogus = ada
            .post(
                "/pricing/checkout",
                &[("csrf", &token), ("price", "free_forever")],
            )
            .await;
        assert_eq!(bogus.status(), StatusCode::BAD_REQUEST, "{b}");
        let started = ada
            .post(
                "/pricing/checkout",
                &[("csrf", &token), ("price", "starter_monthly")],
            )
            .await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER, "{b}");
        let url = started.headers()[LOCATION]
            .to_str()
            .expect("url")
            .to_owned();
        shop.pay(&json!({ "url": url }), "4242424242424242").await;
        shop.flush().await;

        let (_, account) = ada.get("/account").await;
        assert!(
            account.contains("<strong>Starter</strong>"),
            "{b}: the plan shows: {account}"
        );
        assert!(
            account.contains("data-feature=\"api\""),
            "{b}: the entitlement shows"
        );
        assert!(account.contains("Renews on"), "{b}");
        let subscription = account
            .split("data-subscription=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a subscription")
            .to_owned();
        let cancel = format!("/account/subscriptions/{subscription}/cancel");
        assert!(has_form(&account, &cancel), "{b}");
        let done = ada.post(&cancel, &[("csrf", &csrf_of(&account))]).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{b}");
        let (_, after) = ada.get("/account").await;
        assert!(after.contains("Ends on"), "{b}: {after}");
        assert!(
            after.contains("data-feature=\"api\""),
            "{b}: access lasts to the period end"
        );
        assert!(
            has_form(
                &after,
                &format!("/account/subscriptions/{subscription}/resume")
            ),
            "{b}"
        );
        assert!(
            after.contains("Payment history") && after.contains("USD"),
            "{b}: the payment is listed"
        );
        // Bob cannot cancel ada's subscription.
        let mut bob = Visitor::new(&shop, Some("bob"));
        let (_, theirs) = bob.get("/account").await;
        let refused = bob.post(&cancel, &[("csrf", &csrf_of(&theirs))]).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{b}");
    }
}
