//! Local copies of customers, products, prices and payment methods.

use super::records::*;
use super::{currency, object, precedence, primary_id, ProjectionError};
use crate::stripe::{metadata_text, Customer, Event, PaymentMethod, Price, Product};

fn deleted(event: &Event, flag: Option<bool>) -> bool {
    flag.unwrap_or(false) || event.event_type.ends_with(".deleted")
}

pub(super) fn customer(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let customer: Customer = object(event)?;
    let deleted = deleted(event, customer.deleted);
    Ok(vec![Change::Customer(CustomerRecord {
        id: primary_id(event, &customer.id)?,
        email: customer.email,
        name: customer.name,
        user_id: metadata_text(&customer.metadata, "user_id").and_then(|id| id.parse().ok()),
        deleted,
        precedence: precedence(event, deleted, 0),
    })])
}

pub(super) fn product(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let product: Product = object(event)?;
    let deleted = deleted(event, product.deleted);
    Ok(vec![Change::Product(ProductRecord {
        id: primary_id(event, &product.id)?,
        name: product.name,
        active: product.active.unwrap_or(true) && !deleted,
        deleted,
        precedence: precedence(event, deleted, 0),
    })])
}

pub(super) fn price(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let price: Price = object(event)?;
    let deleted = deleted(event, price.deleted);
    Ok(vec![Change::Price(PriceRecord {
        id: primary_id(event, &price.id)?,
        product: price.product.as_ref().and_then(|r| r.typed()),
        active: price.active.unwrap_or(true) && !deleted,
        deleted,
        currency: currency(&price.currency),
        unit_amount: price.amount(),
        interval: price.interval().map(str::to_owned),
        interval_count: price.interval_count(),
        lookup_key: price.lookup_key.clone(),
        nickname: price.nickname.clone(),
        precedence: precedence(event, deleted, 0),
    })])
}

pub(super) fn payment_method(event: &Event) -> Result<Vec<Change>, ProjectionError> {
    let method: PaymentMethod = object(event)?;
    let customer = method.customer.as_ref().and_then(|r| r.typed());
    let attached = event.event_type != "payment_method.detached" && customer.is_some();
    let card = method.card.as_ref();
    Ok(vec![Change::PaymentMethod(PaymentMethodRecord {
        id: primary_id(event, &method.id)?,
        customer,
        method_type: method.method_type.clone(),
        brand: card.and_then(|c| c.brand.clone()),
        last4: card.and_then(|c| c.last4.clone()),
        exp_month: card.and_then(|c| c.exp_month),
        exp_year: card.and_then(|c| c.exp_year),
        attached,
        // A detached method cannot be attached again: detaching is terminal.
        precedence: precedence(event, event.event_type == "payment_method.detached", 0),
    })])
}
