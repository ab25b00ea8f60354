//! Object rows: customers, products, prices, Checkout Sessions, refunds,
//! disputes and payment methods. Each keeps the state with the greatest
//! precedence. The upsert for each table is generated from its column list
//! by [`ObjectTable::upsert_sql`], so the precedence guard is written once.

use std::sync::LazyLock;

use paywarden_core::precedence::Precedence;
use paywarden_core::projection::{
    CheckoutSessionRecord, CustomerLink, CustomerRecord, DisputeRecord, PaymentMethodRecord,
    PriceRecord, ProductRecord, RefundRecord,
};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use super::{currency_text, newer_than, ApplyContext};
use crate::error::StoreError;

/// How a column takes the incoming value when the incoming state wins.
#[derive(Debug, Clone, Copy)]
enum Merge {
    /// The newer state's value, null included.
    Replace,
    /// The newer state's value unless it has none (a reference that only
    /// some events carry, such as the charge of a refund).
    KeepIfMissing,
}

use Merge::{KeepIfMissing, Replace};

/// A projected object table: its key, its data columns in bind order, and
/// then, always last, the precedence columns and `updated_at`.
struct ObjectTable {
    name: &'static str,
    key: &'static str,
    columns: &'static [(&'static str, Merge)],
}

const PRECEDENCE_COLUMNS: [&str; 5] = [
    "src_terminal",
    "src_created",
    "src_rank",
    "src_event",
    "updated_at",
];

impl ObjectTable {
    /// `INSERT … ON CONFLICT (key) DO UPDATE SET … WHERE <incoming is newer>`.
    fn upsert_sql(&self) -> String {
        let table = self.name;
        let names: Vec<&str> = std::iter::once(self.key)
            .chain(self.columns.iter().map(|(name, _)| *name))
            .chain(PRECEDENCE_COLUMNS)
            .collect();
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let sets: Vec<String> = self
            .columns
            .iter()
            .map(|(name, merge)| match merge {
                Replace => format!("{name} = excluded.{name}"),
                KeepIfMissing => format!("{name} = COALESCE(excluded.{name}, {table}.{name})"),
            })
            .chain(
                PRECEDENCE_COLUMNS
                    .iter()
                    .map(|name| format!("{name} = excluded.{name}")),
            )
            .collect();
        format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {} WHERE {}",
            names.join(", "),
            placeholders.join(", "),
            self.key,
            sets.join(", "),
            newer_than(table),
        )
    }
}

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// Binds the trailing precedence columns and `updated_at`, then runs the upsert.
async fn run<'q>(
    conn: &mut AnyConnection,
    query: AnyQuery<'q>,
    precedence: &'q Precedence,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    query
        .bind(precedence.terminal)
        .bind(precedence.created)
        .bind(precedence.rank)
        .bind(precedence.event_id.as_str())
        .bind(ctx.now)
        .execute(conn)
        .await?;
    Ok(())
}

static CUSTOMERS: LazyLock<String> = LazyLock::new(|| {
    ObjectTable {
        name: "customers",
        key: "id",
        // The user link comes from metadata or from a Checkout; a snapshot
        // without metadata must not erase it.
        columns: &[
            ("user_id", KeepIfMissing),
            ("email", Replace),
            ("name", Replace),
            ("deleted", Replace),
        ],
    }
    .upsert_sql()
});

pub(super) async fn customer(
    conn: &mut AnyConnection,
    r: &CustomerRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let query = sqlx::query(&CUSTOMERS)
        .bind(r.id.as_str())
        .bind(r.user_id.as_ref().map(|u| u.as_str()))
        .bind(r.email.as_deref())
        .bind(r.name.as_deref())
        .bind(r.deleted);
    run(conn, query, &r.precedence, ctx).await
}

/// Links a customer to a user, creating a placeholder row (no state yet)
/// when the customer has not been seen.
pub(super) async fn customer_link(
    conn: &mut AnyConnection,
    link: &CustomerLink,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO customers (id, user_id, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id",
    )
    .bind(link.customer.as_str())
    .bind(link.user_id.as_str())
    .bind(ctx.now)
    .execute(conn)
    .await?;
    Ok(())
}

static PRODUCTS: LazyLock<String> = LazyLock::new(|| {
    ObjectTable {
        name: "products",
        key: "id",
        columns: &[("name", Replace), ("active", Replace), ("deleted", Replace)],
    }
    .upsert_sql()
});

pub(super) async fn product(
    conn: &mut AnyConnection,
    r: &ProductRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let query = sqlx::query(&PRODUCTS)
        .bind(r.id.as_str())
        .bind(r.name.as_deref())
        .bind(r.active)
        .bind(r.deleted);
    run(conn, query, &r.precedence, ctx).await
}

static PRICES: LazyLock<String> = LazyLock::new(|| {
    ObjectTable {
        name: "prices",
        key: "id",
        columns: &[
            ("product_id", Replace),
            ("active", Replace),
            ("deleted", Replace),
            ("currency", Replace),
            ("unit_amount", Replace),
            ("interval", Replace),
            ("interval_count", Replace),
            ("lookup_key", Replace),
            ("nickname", Replace),
        ],
    }
    .upsert_sql()
});

pub(super) async fn price(
    conn: &mut AnyConnection,
    r: &PriceRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let query = sqlx::query(&PRICES)
        .bind(r.id.as_str())
        .bind(r.product.as_ref().map(|id| id.as_str()))
        .bind(r.active)
        .bind(r.deleted)
        .bind(currency_text(r.currency))
        .bind(r.unit_amount)
        .bind(r.interval.as_deref())
        .bind(r.interval_count)
        .bind(r.lookup_key.as_deref())
        .bind(r.nickname.as_deref());
    run(conn, query, &r.precedence, ctx).await
}

static CHECKOUT_SESSIONS: LazyLock<String> = LazyLock::new(|| {
    ObjectTable {
        name: "checkout_sessions",
        key: "id",
        columns: &[
            ("user_id", KeepIfMissing),
            ("customer_id", KeepIfMissing),
            ("mode", Replace),
            ("status", Replace),
            ("payment_status", Replace),
            ("outcome", Replace),
            ("subscription_id", KeepIfMissing),
            ("payment_intent_id", KeepIfMissing),
            ("amount_total", Replace),
            ("currency", Replace),
            ("plan", KeepIfMissing),
        ],
    }
    .upsert_sql()
});

pub(super) async fn checkout_session(
    conn: &mut AnyConnection,
    r: &CheckoutSessionRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let query = sqlx::query(&CHECKOUT_SESSIONS)
        .bind(r.id.as_str())
        .bind(r.user_id.as_ref().map(|u| u.as_str()))
        .bind(r.customer.as_ref().map(|c| c.as_str()))
        .bind(r.mode.as_deref())
        .bind(r.status.as_deref())
        .bind(r.payment_status.as_deref())
        .bind(r.outcome.as_str())
        .bind(r.subscription.as_ref().map(|s| s.as_str()))
        .bind(r.payment_intent.as_ref().map(|s| s.as_str()))
        .bind(r.amount_total)
        .bind(currency_text(r.currency))
        .bind(r.plan.as_deref());
    run(conn, query, &r.precedence, ctx).await
}

static REFUNDS: LazyLock<String> = LazyLock::new(|| {
    ObjectTable {
        name: "refunds",
        key: "key",
        columns: &[
            ("refund_id", Replace),
            ("charge_id", KeepIfMissing),
            ("payment_intent_id", KeepIfMissing),
            ("amount", Replace),
            ("currency", Replace),
            ("status", Replace),
            ("reason", Replace),
        ],
    }
    .upsert_sql()
});

pub(super) async fn refund(
    conn: &mut AnyConnection,
    r: &RefundRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let query = sqlx::query(&REFUNDS)
        .bind(r.key.as_str())
        .bind(r.refund.as_ref().map(|id| id.as_str()))
        .bind(r.charge.as_ref().map(|id| id.as_str()))
        .bind(r.payment_intent.as_ref().map(|id| id.as_str()))
        .bind(r.amount)
        .bind(currency_text(r.currency))
        .bind(r.status.as_deref())
        .bind(r.reason.as_deref());
    run(conn, query, &r.precedence, ctx).await
}

static DISPUTES: LazyLock<String> = LazyLock::new(|| {
    ObjectTable {
        name: "disputes",
        key: "id",
        columns: &[
            ("charge_id", KeepIfMissing),
            ("payment_intent_id", KeepIfMissing),
            ("amount", Replace),
            ("currency", Replace),
            ("status", Replace),
            ("reason", Replace),
        ],
    }
    .upsert_sql()
});

pub(super) async fn dispute(
    conn: &mut AnyConnection,
    r: &DisputeRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let query = sqlx::query(&DISPUTES)
        .bind(r.id.as_str())
        .bind(r.charge.as_ref().map(|id| id.as_str()))
        .bind(r.payment_intent.as_ref().map(|id| id.as_str()))
        .bind(r.amount)
        .bind(currency_text(r.currency))
        .bind(r.status.as_deref())
        .bind(r.reason.as_deref());
    run(conn, query, &r.precedence, ctx).await
}

static PAYMENT_METHODS: LazyLock<String> = LazyLock::new(|| {
    ObjectTable {
        name: "payment_methods",
        key: "id",
        // Stripe sends `customer: null` on detach: the winning state's
        // customer is the answer, whatever the delivery order.
        columns: &[
            ("customer_id", Replace),
            ("method_type", Replace),
            ("brand", Replace),
            ("last4", Replace),
            ("exp_month", Replace),
            ("exp_year", Replace),
            ("attached", Replace),
        ],
    }
    .upsert_sql()
});

pub(super) async fn payment_method(
    conn: &mut AnyConnection,
    r: &PaymentMethodRecord,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let query = sqlx::query(&PAYMENT_METHODS)
        .bind(r.id.as_str())
        .bind(r.customer.as_ref().map(|id| id.as_str()))
        .bind(r.method_type.as_deref())
        .bind(r.brand.as_deref())
        .bind(r.last4.as_deref())
        .bind(r.exp_month)
        .bind(r.exp_year)
        .bind(r.attached);
    run(conn, query, &r.precedence, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_bind_every_column_once_and_guard_on_precedence() {
        let sql = CUSTOMERS.as_str();
        assert!(sql.starts_with(
            "INSERT INTO customers (id, user_id, email, name, deleted, src_terminal, src_created, src_rank, src_event, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id)"
        ), "{sql}");
        assert!(
            sql.contains("user_id = COALESCE(excluded.user_id, customers.user_id)"),
            "{sql}"
        );
        assert!(sql.contains("email = excluded.email"), "{sql}");
        assert!(sql.ends_with(&newer_than("customers")), "{sql}");
    }
}
