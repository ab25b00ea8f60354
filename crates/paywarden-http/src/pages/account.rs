//! `/account`: the visitor's plan (cancel at period end, resume, the
//! billing portal), credits balance and latest ledger entries, and payment
//! history. Every change is a form post with the CSRF token; the state
//! shown comes from Stripe's answers and webhooks.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::html;
use paywarden_app::billing::SubscriptionChange;

use super::csrf::{CsrfToken, CSRF_FIELD};
use super::layout::{feature_items, money, page, when};
use super::{back_to, to_stripe, IdPath, PageError, PagePost, SignedIn};
use crate::extract::Path;
use crate::route_table::Routes;
use crate::AppState;

pub fn routes() -> Routes {
    Routes::new()
        .route("/account", get(account))
        .route("/account/portal", post(portal))
        .route("/account/subscriptions/{id}/cancel", post(cancel))
        .route("/account/subscriptions/{id}/resume", post(resume))
}

async fn account(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    csrf: CsrfToken,
) -> Result<Response, PageError> {
    let billing = state.billing()?;
    let subscriptions = billing.subscriptions(&user).await?;
    let payments = billing.payments_of(&user).await?;
    let (wallet, _holds) = state.credits().wallet(&user).await?;
    let ledger = state.credits().ledger(&user, None, Some(20)).await?;
    let access = state.entitlements()?.check(&user, None).await?;
    let features = &access.snapshot.row().features;
    let token = html! { input type="hidden" name=(CSRF_FIELD) value=(csrf.value()); };
    let body = html! {
        h1 { "Account" }
        section aria-labelledby="plan" {
            h2 #plan { "Your plan" }
            @if subscriptions.is_empty() {
                p { "No subscription yet. " a href="/pricing" { "See the plans" } "." }
            }
            @for sub in &subscriptions {
                @let plans: Vec<&str> = sub.items.iter().filter_map(|item| {
                    // The catalog's name for the item's price, else its plan key.
                    item.price.as_deref()
                        .and_then(|key| billing.catalog().price(key))
                        .map(|(product, _)| product.name.as_str())
                        .or(item.plan.as_deref())
                }).collect();
                div.card data-subscription=(sub.id) {
                    p { strong { (if plans.is_empty() { "Subscription".to_owned() } else { plans.join(", ") }) } " — " span class={ "status status-" (sub.status) } { (sub.status) } }
                    @if let Some(end) = sub.current_period_end {
                        @if sub.cancel_at_period_end {
                            p { "Ends on " (when(end)) "; access lasts until then." }
                        } @else if sub.status == "active" || sub.status == "trialing" {
                            p { "Renews on " (when(end)) "." }
                        }
                    }
                    @if sub.cancel_at_period_end {
                        form method="post" action={ "/account/subscriptions/" (sub.id) "/resume" } { (token) button type="submit" { "Resume subscription" } }
                    } @else if sub.status != "canceled" {
                        form method="post" action={ "/account/subscriptions/" (sub.id) "/cancel" } { (token) button.secondary type="submit" { "Cancel at period end" } }
                    }
                }
            }
            form method="post" action="/account/portal" { (token) button.secondary type="submit" { "Manage billing and invoices" } }
        }
        section aria-labelledby="access" {
            h2 #access { "What you can use" }
            @if features.is_empty() {
                p.muted { "Nothing yet: a plan or a purchase grants features." }
            } @else {
                ul { (feature_items(features)) }
            }
        }
        section aria-labelledby="credits" {
            h2 #credits { "Credits" }
            p { "Balance: " strong data-balance=(wallet.balance) { (wallet.balance) } " credits (" (wallet.available) " available)" }
            @if !ledger.entries.is_empty() {
                table {
                    caption.muted { "Latest credit movements" }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "What" } th scope="col" { "Amount" } th scope="col" { "Balance" } } }
                    tbody { @for e in &ledger.entries { tr { td { (when(e.created_at / 1000)) } td { (e.description) } td { (e.amount) } td { (e.balance_after) } } } }
                }
            }
        }
        section aria-labelledby="payments" {
            h2 #payments { "Payment history" }
            @if payments.is_empty() {
                p.muted { "No payments yet." }
            } @else {
                table {
                    caption.muted { "Payments Stripe confirmed; receipts and invoices are in the billing portal" }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "For" } th scope="col" { "Amount" } } }
                    tbody {
                        @for p in &payments {
                            tr {
                                td { (when(p.created)) }
                                td { @if p.subscription_id.is_some() { "Subscription" } @else if p.source == "invoice" { "Invoice" } @else { "One-time payment" } }
                                td { (money(p.amount, p.currency.as_deref().unwrap_or("usd"))) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(StatusCode::OK, "Account", Some(&csrf), body))
}

async fn portal(
    State(state): State<AppState>,
    PagePost { user, .. }: PagePost,
) -> Result<Response, PageError> {
    let session = state.billing()?.portal_session(&user).await?;
    Ok(to_stripe(&session.url))
}

async fn set_cancel_at_period_end(
    state: &AppState,
    user: &paywarden_core::UserId,
    id: &str,
    cancel: bool,
) -> Result<Response, PageError> {
    let change = SubscriptionChange {
        cancel_at_period_end: Some(cancel),
        ..SubscriptionChange::default()
    };
    state
        .billing()?
        .change_subscription(user, id, &change, None)
        .await?;
    Ok(back_to("/account"))
}

async fn cancel(
    State(state): State<AppState>,
    Path(IdPath { id }): Path<IdPath>,
    PagePost { user, .. }: PagePost,
) -> Result<Response, PageError> {
    set_cancel_at_period_end(&state, &user, &id, true).await
}

async fn resume(
    State(state): State<AppState>,
    Path(IdPath { id }): Path<IdPath>,
    PagePost { user, .. }: PagePost,
) -> Result<Response, PageError> {
    set_cancel_at_period_end(&state, &user, &id, false).await
}
