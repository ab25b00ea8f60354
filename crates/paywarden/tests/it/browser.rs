//! The end-user pages in a real browser: Debian's Chromium, driven over
//! WebDriver (chromedriver and fantoccini), against `paywarden serve` as
//! the README runs it (embedded default: SQLite, the Stripe stand-in, the
//! demo catalog and courses). Each test starts its own server, driver and
//! browser profile. The final page of every flow is saved as a screenshot
//! under `target/artifacts/browser/` (or `$PAYWARDEN_ARTIFACTS`).
//!
//! `scripts/test` installs `chromium` and `chromium-driver` with apt;
//! without them these tests are skipped outside CI and fail in it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::server::{free_port, Server};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const CARD_OK: &str = "4242424242424242";
const CARD_DECLINED: &str = "4000000000000002";
/// How long a page may take to appear after a click.
const PAGE_WITHIN: Duration = Duration::from_secs(20);

/// A browser session; the driver is killed when it drops.
struct Browser {
    client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

async fn browser() -> Option<Browser> {
    if !std::path::Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMEDRIVER} is missing: scripts/test installs chromium-driver"
        );
        eprintln!("{CHROMEDRIVER} missing: skipping the browser test");
        return None;
    }
    let port = free_port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().expect("profile dir");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            // As root, in a closed network: no sandbox, no background
            // connections that the machine would refuse.
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    _driver: driver,
                    _profile: profile,
                })
            }
            // The driver takes a moment to listen.
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("no browser session within 30 s: {err}"),
        }
    }
}

/// `serve` as the README runs it, with the demo catalog.
async fn shop(dir: &std::path::Path) -> Server {
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog.toml");
    let db = format!("sqlite://{}", dir.join("paywarden.db").display());
    Server::start_with_env(dir, &db, &[("PAYWARDEN_CATALOG_FILE", catalog)]).await
}

impl Browser {
    async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("open a page");
    }

    /// Waits until the page's path is `path` (query ignored).
    async fn until_path(&self, path: &str) {
        let deadline = Instant::now() + PAGE_WITHIN;
        loop {
            let url = self.client.current_url().await.expect("url");
            if url.path() == path {
                return;
            }
            assert!(Instant::now() < deadline, "still on {url}, expected {path}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("main"))
            .await
            .expect("a main element")
            .text()
            .await
            .expect("text")
    }

    /// Waits until the page's main text contains `wanted` (the page may
    /// be replaced meanwhile: a form that posts back to the same path).
    async fn until_text(&self, wanted: &str) -> String {
        let deadline = Instant::now() + PAGE_WITHIN;
        loop {
            let text = match self.client.find(Locator::Css("main")).await {
                Ok(main) => main.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(wanted) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no `{wanted}` on the page: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(PAGE_WITHIN)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"))
            .click()
            .await
            .expect("click");
    }

    async fn fill(&self, name: &str, value: &str) {
        let field = self
            .client
            .wait()
            .at_most(PAGE_WITHIN)
            .for_element(Locator::Css(&format!("input[name=\"{name}\"]")))
            .await
            .expect("a field");
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    /// Pays on the stand-in's hosted Checkout page.
    async fn pay(&self, card: &str) {
        self.until_path_prefix("/sim/checkout/").await;
        self.fill("email", "alice@example.com").await;
        self.fill("name", "Alice Example").await;
        self.fill("card_number", card).await;
        self.fill("exp", "12 / 40").await;
        self.fill("cvc", "123").await;
        self.click("form button[type=submit]").await;
    }

    async fn until_path_prefix(&self, prefix: &str) {
        let deadline = Instant::now() + PAGE_WITHIN;
        loop {
            let url = self.client.current_url().await.expect("url");
            if url.path().starts_with(prefix) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still on {url}, expected {prefix}…"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot of the current page as an artifact.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = std::env::var_os("PAYWARDEN_ARTIFACTS").map_or_else(
            || {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../target/artifacts/browser"
                ))
            },
            PathBuf::from,
        );
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("save screenshot");
    }

    async fn sign_in(&self, base: &str, next: &str) {
        self.open(&format!("{base}/auth/demo?user=alice&next={next}"))
            .await;
        self.until_path(next).await;
    }

    async fn close(self) {
        self.client.close().await.expect("close the browser");
    }
}

/// A fresh server and browser, signed in as alice (demo mode) and on
/// `next`; `None` when the browser is not installed (outside CI).
async fn signed_in_at(next: &str) -> Option<(Browser, Server, tempfile::TempDir)> {
    let browser = browser().await?;
    let dir = tempfile::tempdir().expect("dir");
    let server = shop(dir.path()).await;
    browser.sign_in(&server.base, next).await;
    Some((browser, server, dir))
}

/// The first bookable course's Book button on `/courses`.
const FIRST_BOOK: &str = "form[action$='/book'] button";

#[tokio::test]
async fn booking_paid_with_4242_is_confirmed_on_bookings() {
    let Some((browser, server, _dir)) = signed_in_at("/courses").await else {
        return;
    };
    assert!(browser
        .text()
        .await
        .contains("Stripe webhooks that never double-grant"));
    browser.click(FIRST_BOOK).await;
    browser.pay(CARD_OK).await;
    browser.until_path("/payment/success").await;
    assert!(
        browser.text().await.contains("Your seat is booked"),
        "{}",
        browser.text().await
    );
    browser.open(&format!("{}/bookings", server.base)).await;
    let bookings = browser.text().await;
    assert!(bookings.contains("confirmed"), "{bookings}");
    browser.screenshot("booking-confirmed").await;
    browser.close().await;
}

#[tokio::test]
async fn a_declined_card_leaves_the_booking_pending_and_a_retry_with_4242_pays_it() {
    let Some((browser, server, _dir)) = signed_in_at("/courses").await else {
        return;
    };
    browser.click(FIRST_BOOK).await;
    browser.pay(CARD_DECLINED).await;
    // The hosted page says no; the booking waits.
    tokio::time::sleep(Duration::from_millis(500)).await;
    browser.open(&format!("{}/bookings", server.base)).await;
    let pending = browser.text().await;
    assert!(pending.contains("pending"), "{pending}");
    browser.click("form[action$='/pay'] button").await;
    browser.pay(CARD_OK).await;
    browser.until_path("/payment/success").await;
    browser.open(&format!("{}/bookings", server.base)).await;
    let bookings = browser.text().await;
    assert!(bookings.contains("confirmed"), "{bookings}");
    browser.screenshot("booking-retried").await;
    browser.close().await;
}

#[tokio::test]
async fn cancelling_on_checkout_lands_on_the_cancel_page_with_a_retry() {
    let Some((browser, _server, _dir)) = signed_in_at("/courses").await else {
        return;
    };
    browser.click(FIRST_BOOK).await;
    browser.until_path_prefix("/sim/checkout/").await;
    browser.click("#cancel").await;
    browser.until_path("/payment/cancel").await;
    assert!(browser.text().await.contains("Nothing was charged"));
    browser.screenshot("checkout-cancelled").await;
    browser.click("form[action$='/pay'] button").await;
    browser.until_path_prefix("/sim/checkout/").await;
    browser.close().await;
}

#[tokio::test]
async fn a_plan_bought_on_pricing_shows_on_account_and_is_cancelled_at_period_end() {
    let Some((browser, server, _dir)) = signed_in_at("/pricing").await else {
        return;
    };
    browser
        .click("form[action='/pricing/checkout']:has(input[value='starter_monthly']) button")
        .await;
    browser.pay(CARD_OK).await;
    browser.until_path("/payment/success").await;
    assert!(
        browser.text().await.contains("Thank you"),
        "{}",
        browser.text().await
    );
    browser.open(&format!("{}/account", server.base)).await;
    let account = browser.text().await;
    assert!(
        account.contains("Starter") && account.contains("Renews on"),
        "{account}"
    );
    assert!(account.contains("api"), "the entitlement shows: {account}");
    browser.click("form[action$='/cancel'] button").await;
    // The form posts back to /account: wait for the new page, not the path.
    let after = browser.until_text("Resume subscription").await;
    assert!(after.contains("Ends on"), "{after}");
    browser.screenshot("account-cancel-at-period-end").await;
    browser.close().await;
}
