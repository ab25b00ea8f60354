"""Flows over the wire layer and the catalog: products, prices, customers,
pagination, idempotency and the SDK's error classes."""

import stripe

from harness import KEY, check, eq, flow, raises


@flow()
def catalog_product_and_prices(ctx):
    c = ctx.client.v1
    product = c.products.create(params={"name": "Pro plan", "metadata": {"tier": "pro"}})
    check(product.id.startswith("prod_"), "product id prefix", product)
    eq(product.active, True, "product.active")
    eq(product.metadata.to_dict(), {"tier": "pro"}, "product.metadata")

    one_time = c.prices.create(params={"product": product.id, "unit_amount": 4900, "currency": "usd"})
    eq((one_time.type, one_time.unit_amount, one_time.currency, one_time.recurring), ("one_time", 4900, "usd", None), "one-time price")

    lookup_key = f"pro_monthly_{ctx.run_id}"
    monthly = c.prices.create(
        params={
            "product": product.id,
            "unit_amount": 1500,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": lookup_key,
        }
    )
    eq(monthly.type, "recurring", "recurring price type")
    eq((monthly.recurring.interval, monthly.recurring.interval_count), ("month", 1), "recurring")
    eq(monthly.lookup_key, lookup_key, "lookup_key")

    found = c.prices.list(params={"lookup_keys": [lookup_key]})
    eq([p.id for p in found.data], [monthly.id], "prices.list(lookup_keys)")
    by_product = c.prices.list(params={"product": product.id})
    eq({p.id for p in by_product.data}, {monthly.id, one_time.id}, "prices.list(product)")

    renamed = c.products.update(product.id, params={"name": "Pro", "metadata": {"tier": ""}})
    eq((renamed.name, renamed.metadata.to_dict()), ("Pro", {}), "product update (empty metadata value unsets)")
    archived = c.prices.update(one_time.id, params={"active": False})
    eq(archived.active, False, "price archived")


@flow()
def customer_create_update_delete(ctx):
    c = ctx.client.v1
    customer = c.customers.create(params={"email": "ada@example.com", "name": "Ada", "metadata": {"user_id": "42"}})
    check(customer.id.startswith("cus_"), "customer id prefix", customer)
    eq((customer.email, customer.livemode, customer.metadata.to_dict()), ("ada@example.com", False, {"user_id": "42"}), "customer")
    updated = c.customers.update(customer.id, params={"name": "Ada Lovelace", "metadata": {"plan": "pro"}})
    eq(updated.metadata.to_dict(), {"user_id": "42", "plan": "pro"}, "metadata merges")
    eq(c.customers.retrieve(customer.id).name, "Ada Lovelace", "retrieve after update")
    deleted = c.customers.delete(customer.id)
    eq((deleted.id, deleted.deleted), (customer.id, True), "delete answers the stub")


@flow()
def list_auto_paging(ctx):
    c = ctx.client.v1
    email = f"page-{ctx.run_id}@example.com"
    created = [c.customers.create(params={"email": email, "name": f"n{i}"}).id for i in range(27)]
    first = c.customers.list(params={"email": email, "limit": 10})
    eq((len(first.data), first.has_more), (10, True), "first page")
    eq([x.id for x in first.data], created[::-1][:10], "newest first")
    walked = [x.id for x in c.customers.list(params={"email": email, "limit": 10}).auto_paging_iter()]
    eq(walked, created[::-1], "auto_paging_iter walks all 27 once, newest first")
    before = c.customers.list(params={"email": email, "limit": 5, "ending_before": created[10]})
    eq([x.id for x in before.data], created[11:16][::-1], "ending_before page")


@flow()
def idempotent_replay_and_mismatch(ctx):
    c = ctx.client.v1
    key = f"conformance-{ctx.run_id}"
    params = {"email": "idem@example.com", "metadata": {"k": "v"}}
    first = c.customers.create(params=params, options={"idempotency_key": key})
    again = c.customers.create(params=params, options={"idempotency_key": key})
    eq(again.id, first.id, "same key, same object")
    eq(again.last_response.headers.get("Idempotent-Replayed"), "true", "Idempotent-Replayed header")
    check(first.last_response.headers.get("Idempotent-Replayed") is None, "first answer is not a replay")
    listed = c.customers.list(params={"email": "idem@example.com"})
    eq([x.id for x in listed.data if x.id == first.id], [first.id], "created once")
    error = raises(
        stripe.IdempotencyError,
        lambda: c.customers.create(params={"email": "other@example.com"}, options={"idempotency_key": key}),
    )
    eq(error.http_status, 400, "idempotency_error status")
    eq(error.error.type, "idempotency_error", "error.type")


@flow()
def error_classes(ctx):
    c = ctx.client.v1
    unknown = raises(stripe.InvalidRequestError, lambda: c.customers.create(params={"emial": "typo@example.com"}))
    eq((unknown.http_status, unknown.code, unknown.param), (400, "parameter_unknown", "emial"), "unknown param")
    missing = raises(stripe.InvalidRequestError, lambda: c.prices.create(params={"unit_amount": 100, "currency": "usd"}))
    eq((missing.http_status, missing.param), (400, "product"), "missing param is named")
    wrong_type = raises(
        stripe.InvalidRequestError,
        lambda: c.prices.create(params={"product_data": {"name": "x"}, "unit_amount": "lots", "currency": "usd"}),
    )
    eq((wrong_type.http_status, wrong_type.param), (400, "unit_amount"), "wrong type names the param")
    absent = raises(stripe.InvalidRequestError, lambda: c.customers.retrieve("cus_doesnotexist"))
    eq((absent.http_status, absent.code), (404, "resource_missing"), "unknown id")

    declined = raises(
        stripe.CardError,
        lambda: c.payment_intents.create(
            params={"amount": 2000, "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": True}
        ),
    )
    eq((declined.http_status, declined.code, declined.error.decline_code), (402, "card_declined", "generic_decline"), "CardError")
    funds = raises(
        stripe.CardError,
        lambda: c.payment_intents.create(
            params={
                "amount": 2000,
                "currency": "usd",
                "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                "confirm": True,
            }
        ),
    )
    eq(funds.error.decline_code, "insufficient_funds", "insufficient funds decline_code")

    for bad_key in ("sk_test_", "not_a_key", "sk_live_" + "x" * 24):
        error = raises(stripe.AuthenticationError, lambda key=bad_key: ctx.other_client(key).v1.customers.list())
        eq(error.http_status, 401, f"bad key {bad_key[:8]}…")
    check(KEY.startswith("sk_test_"), "the suite's own key is a test key")


@flow()
def module_level_api(ctx):
    """The classic global configuration (`stripe.api_key`, `stripe.api_base`)
    and resource classes work as well as `StripeClient`."""
    saved = (stripe.api_key, stripe.api_base)
    stripe.api_key, stripe.api_base = ctx.key, ctx.base
    try:
        customer = stripe.Customer.create(email=f"global-{ctx.run_id}@example.com", metadata={"via": "module"})
        eq(stripe.Customer.retrieve(customer.id).metadata.to_dict(), {"via": "module"}, "stripe.Customer.retrieve")
        modified = stripe.Customer.modify(customer.id, name="Global")
        eq(modified.name, "Global", "stripe.Customer.modify")
        found = [c.id for c in stripe.Customer.list(email=f"global-{ctx.run_id}@example.com").auto_paging_iter()]
        eq(found, [customer.id], "stripe.Customer.list")
        eq(stripe.Customer.delete(customer.id).deleted, True, "stripe.Customer.delete")
    finally:
        stripe.api_key, stripe.api_base = saved
