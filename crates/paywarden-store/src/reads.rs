//! Reading projections back: the views operators and tests need, and a
//! digest of every projected row for comparing two stores.

use std::future::Future;

use paywarden_core::ids::SubscriptionId;
use paywarden_core::UserId;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;

/// A subscription as projected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    pub id: String,
    pub customer_id: Option<String>,
    pub user_id: Option<String>,
    pub status: String,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub pause_behavior: Option<String>,
    pub trial_end: Option<i64>,
    /// `(item id, price id, quantity)`, ordered by item id.
    pub items: Vec<(String, Option<String>, Option<i64>)>,
}

/// An account as provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    pub id: String,
    pub user_id: String,
    pub status: String,
    pub locale: String,
    pub quiet_hours_start: String,
    pub quiet_hours_end: String,
    pub daily_cap: i64,
    /// The billing JSON taken from the Checkout Session.
    pub billing: String,
    /// Types of the account's events, oldest first.
    pub events: Vec<String>,
}

/// Row counts of the projection tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectionCounts {
    pub events: i64,
    pub customers: i64,
    pub subscriptions: i64,
    /// Payment rows (one per invoice or PaymentIntent).
    pub payments: i64,
    /// Payments counting each sum of money once: a PaymentIntent's row is
    /// left out when an invoice claims that PaymentIntent.
    pub counted_payments: i64,
    pub payment_failures: i64,
    pub notifications: i64,
    pub accounts: i64,
    pub account_events: i64,
    pub refunds: i64,
    pub disputes: i64,
    pub payment_methods: i64,
}

/// Reading projected state.
pub trait ProjectionReader {
    fn subscription(
        &self,
        id: &SubscriptionId,
    ) -> impl Future<Output = Result<Option<SubscriptionView>, StoreError>> + Send;
    fn account(
        &self,
        user_id: &UserId,
    ) -> impl Future<Output = Result<Option<AccountView>, StoreError>> + Send;
    fn projection_counts(
        &self,
    ) -> impl Future<Output = Result<ProjectionCounts, StoreError>> + Send;
    /// Every projected row as a line of text, sorted, without the columns
    /// that legitimately differ between two runs (our own timestamps and
    /// generated ids). Two stores that saw the same events in any order
    /// have equal digests.
    fn projection_digest(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// The projected tables and the columns the digest compares. Provenance
/// that depends on arrival order stays out: a payment row records the first
/// of its events to arrive (`invoice.paid` or `invoice.payment_succeeded`),
/// just as an account keeps the billing of the first paid Checkout.
const DIGEST: &[(&str, &str)] = &[
    ("customers", "id, user_id, email, name, deleted"),
    ("products", "id, name, active, deleted"),
    ("prices", "id, product_id, active, deleted, currency, unit_amount, interval, interval_count, lookup_key"),
    ("checkout_sessions", "id, user_id, customer_id, mode, status, payment_status, outcome, subscription_id, amount_total, currency"),
    ("subscriptions", "id, customer_id, user_id, status, current_period_start, current_period_end, cancel_at_period_end, cancel_at, canceled_at, ended_at, pause_behavior, pause_resumes_at, trial_start, trial_end"),
    ("subscription_items", "id, subscription_id, price_id, product_id, quantity, unit_amount, currency, current_period_start, current_period_end"),
    ("payments", "source_id, source, invoice_id, payment_intent_id, customer_id, subscription_id, amount, currency, period_start, period_end"),
    ("invoice_payment_links", "payment_intent_id, invoice_id"),
    ("payment_failures", "event_id, invoice_id, customer_id, amount, attempt_count"),
    ("notifications", "cause_key, kind, customer_id, payload"),
    ("refunds", "key, refund_id, charge_id, amount, currency, status"),
    ("disputes", "id, charge_id, amount, currency, status"),
    ("payment_methods", "id, customer_id, brand, last4, exp_month, exp_year, attached"),
    ("accounts", "user_id, status, locale, quiet_hours_start, quiet_hours_end, daily_cap"),
];

/// Renders one column of any type as text.
fn cell(row: &AnyRow, index: usize) -> String {
    if let Ok(v) = row.try_get::<Option<String>, _>(index) {
        return v.unwrap_or_else(|| "∅".into());
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(index) {
        return v.map_or_else(|| "∅".into(), |v| v.to_string());
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(index) {
        return v.map_or_else(|| "∅".into(), |v| i64::from(v).to_string());
    }
    if let Ok(v) = row.try_get::<Option<i32>, _>(index) {
        return v.map_or_else(|| "∅".into(), |v| v.to_string());
    }
    "?".into()
}

impl ProjectionReader for Store {
    async fn subscription(
        &self,
        id: &SubscriptionId,
    ) -> Result<Option<SubscriptionView>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, customer_id, user_id, status, current_period_start, current_period_end, cancel_at_period_end, \
                 cancel_at, canceled_at, pause_behavior, trial_end FROM subscriptions WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let items = sqlx::query("SELECT id, price_id, quantity FROM subscription_items WHERE subscription_id = $1 ORDER BY id")
            .bind(id.as_str())
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("price_id")?, r.try_get("quantity")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(SubscriptionView {
            id: row.try_get("id")?,
            customer_id: row.try_get("customer_id")?,
            user_id: row.try_get("user_id")?,
            status: row.try_get("status")?,
            current_period_start: row.try_get("current_period_start")?,
            current_period_end: row.try_get("current_period_end")?,
            cancel_at_period_end: crate::row::flag(&row, "cancel_at_period_end")?,
            cancel_at: row.try_get("cancel_at")?,
            canceled_at: row.try_get("canceled_at")?,
            pause_behavior: row.try_get("pause_behavior")?,
            trial_end: row.try_get("trial_end")?,
            items,
        }))
    }

    async fn account(&self, user_id: &UserId) -> Result<Option<AccountView>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, user_id, status, locale, quiet_hours_start, quiet_hours_end, daily_cap, billing \
             FROM accounts WHERE user_id = $1",
        )
        .bind(user_id.as_str())
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let id: String = row.try_get("id")?;
        let events =
            sqlx::query("SELECT event_type FROM account_events WHERE account_id = $1 ORDER BY id")
                .bind(id.as_str())
                .fetch_all(&self.read)
                .await?
                .iter()
                .map(|r| r.try_get("event_type"))
                .collect::<Result<Vec<String>, sqlx::Error>>()?;
        Ok(Some(AccountView {
            id,
            user_id: row.try_get("user_id")?,
            status: row.try_get("status")?,
            locale: row.try_get("locale")?,
            quiet_hours_start: row.try_get("quiet_hours_start")?,
            quiet_hours_end: row.try_get("quiet_hours_end")?,
            daily_cap: row.try_get("daily_cap")?,
            billing: row.try_get("billing")?,
            events,
        }))
    }

    async fn projection_counts(&self) -> Result<ProjectionCounts, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM events) AS events, (SELECT COUNT(*) FROM customers) AS customers, \
                 (SELECT COUNT(*) FROM subscriptions) AS subscriptions, (SELECT COUNT(*) FROM payments) AS payments, \
                 (SELECT COUNT(*) FROM payments p WHERE NOT (p.source = 'payment_intent' AND EXISTS \
                     (SELECT 1 FROM invoice_payment_links l WHERE l.payment_intent_id = p.payment_intent_id))) AS counted_payments, \
                 (SELECT COUNT(*) FROM payment_failures) AS payment_failures, \
                 (SELECT COUNT(*) FROM notifications) AS notifications, (SELECT COUNT(*) FROM accounts) AS accounts, \
                 (SELECT COUNT(*) FROM account_events) AS account_events, (SELECT COUNT(*) FROM refunds) AS refunds, \
                 (SELECT COUNT(*) FROM disputes) AS disputes, (SELECT COUNT(*) FROM payment_methods) AS payment_methods",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(ProjectionCounts {
            events: row.try_get("events")?,
            customers: row.try_get("customers")?,
            subscriptions: row.try_get("subscriptions")?,
            payments: row.try_get("payments")?,
            counted_payments: row.try_get("counted_payments")?,
            payment_failures: row.try_get("payment_failures")?,
            notifications: row.try_get("notifications")?,
            accounts: row.try_get("accounts")?,
            account_events: row.try_get("account_events")?,
            refunds: row.try_get("refunds")?,
            disputes: row.try_get("disputes")?,
            payment_methods: row.try_get("payment_methods")?,
        })
    }

    async fn projection_digest(&self) -> Result<Vec<String>, StoreError> {
        let mut lines = Vec::new();
        for (table, columns) in DIGEST {
            let rows = sqlx::query(&format!("SELECT {columns} FROM {table}"))
                .fetch_all(&self.read)
                .await?;
            let width = columns.split(',').count();
            for row in &rows {
                let cells: Vec<String> = (0..width).map(|i| cell(row, i)).collect();
                lines.push(format!("{table}|{}", cells.join("|")));
            }
        }
        lines.sort();
        Ok(lines)
    }
}
