//! Accounts: provisioned on a user's first paid Checkout, never twice.
//! The unique key on `accounts.user_id` decides, so concurrent or repeated
//! completions for one user create one account and one `stripe_checkout`
//! account event.

use paywarden_core::projection::AccountProvision;
use sqlx::{AnyConnection, Row};

use crate::error::StoreError;
use crate::projections::ApplyContext;

/// Settings a new account starts with.
pub const DEFAULT_LOCALE: &str = "en";
pub const DEFAULT_QUIET_HOURS: (&str, &str) = ("22:00", "07:00");

pub(crate) async fn provision(
    conn: &mut AnyConnection,
    p: &AccountProvision,
    ctx: &ApplyContext,
) -> Result<(), StoreError> {
    let id = format!("acc_{}", ulid::Ulid::new());
    let billing = p.billing.to_string();
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, user_id, status, locale, quiet_hours_start, quiet_hours_end, daily_cap, billing, created_at) \
         VALUES ($1, $2, 'provisioning', $3, $4, $5, $6, $7, $8) ON CONFLICT (user_id) DO NOTHING RETURNING id",
    )
    .bind(id.as_str())
    .bind(p.user_id.as_str())
    .bind(DEFAULT_LOCALE)
    .bind(DEFAULT_QUIET_HOURS.0)
    .bind(DEFAULT_QUIET_HOURS.1)
    .bind(ctx.default_daily_cap)
    .bind(billing.as_str())
    .bind(ctx.now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = inserted else {
        return Ok(());
    };
    let account_id: String = row.try_get("id")?;
    sqlx::query(
        "INSERT INTO account_events (account_id, event_type, stripe_event_id, payload, created_at) \
         VALUES ($1, 'stripe_checkout', $2, $3, $4)",
    )
    .bind(account_id.as_str())
    .bind(p.event_id.as_str())
    .bind(billing.as_str())
    .bind(ctx.now)
    .execute(conn)
    .await?;
    Ok(())
}
