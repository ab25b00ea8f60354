"""Flows over billing: Checkout in subscription mode, subscription changes
(plan switch, cancel at period end, pause_collection and resume, cancel),
test clock renewals that succeed and fail, and the billing portal."""

import time

import stripe

from harness import check, eq, flow, wait_until
from flows_payments import CARD_OK, pay_on_page

DAY = 86400


def plans(ctx, currency="usd"):
    """A product with a basic and a pro monthly price."""
    c = ctx.client.v1
    product = c.products.create(params={"name": f"Team {ctx.run_id}"})
    basic = c.prices.create(params={"product": product.id, "unit_amount": 1000, "currency": currency, "recurring": {"interval": "month"}})
    pro = c.prices.create(params={"product": product.id, "unit_amount": 2500, "currency": currency, "recurring": {"interval": "month"}})
    return basic, pro


def paying_customer(ctx, card="pm_card_visa", **params):
    """A customer whose default payment method is `card`."""
    c = ctx.client.v1
    customer = c.customers.create(params={"email": f"payer-{ctx.run_id}@example.com", **params})
    pm = c.payment_methods.attach(card, params={"customer": customer.id})
    c.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    return customer, pm


def period_end(sub):
    return sub["items"].data[0].current_period_end


@flow(needs_hooks=True)
def checkout_subscription_hosted_page_4242(ctx):
    c = ctx.client.v1
    basic, _ = plans(ctx)
    session = c.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": basic.id, "quantity": 1}],
            "customer_email": f"new-{ctx.run_id}@example.com",
            "success_url": ctx.hooks.origin + "/billing/ok?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.example/billing/cancel",
            "client_reference_id": "team_77",
            "subscription_data": {"metadata": {"team": "77"}},
        }
    )
    eq((session.mode, session.status, session.amount_total), ("subscription", "open", 1000), "open subscription session")
    page, response = pay_on_page(ctx, session, CARD_OK, email=f"new-{ctx.run_id}@example.com")
    check("Subscribe" in page.html, "the subscription page's button", page.text[:400])
    eq(response.status_code, 303, "a successful subscription redirects")
    eq(response.headers["Location"], f"{ctx.hooks.origin}/billing/ok?session_id={session.id}", "redirect to success_url with the id")
    eq(ctx.browser.follow(response).status_code, 200, "the browser lands on success_url")
    check(f"/billing/ok?session_id={session.id}" in ctx.hooks.visits, "the shop saw the session id", ctx.hooks.visits[-3:])

    done = c.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    eq((done.status, done.payment_status), ("complete", "paid"), "session completed")
    sub = done.subscription
    eq((sub.status, sub.customer, sub["items"].data[0].price.id), ("active", done.customer, basic.id), "subscription")
    eq(sub.metadata.to_dict(), {"team": "77"}, "subscription_data.metadata")
    invoice = c.invoices.retrieve(sub.latest_invoice)
    eq((invoice.status, invoice.amount_paid, invoice.billing_reason), ("paid", 1000, "subscription_create"), "first invoice")
    ctx.expect_events(["customer.created"], done.customer)
    ctx.expect_events(["customer.subscription.created", "invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded"], sub.id)
    ctx.expect_events(["checkout.session.completed"], session.id)


@flow(needs_hooks=True)
def subscription_update_cancel_pause_resume(ctx):
    c = ctx.client.v1
    basic, pro = plans(ctx)
    customer, _ = paying_customer(ctx)
    sub = c.subscriptions.create(params={"customer": customer.id, "items": [{"price": basic.id}], "expand": ["latest_invoice"]})
    eq((sub.status, sub.latest_invoice.status, sub.latest_invoice.amount_paid), ("active", "paid", 1000), "created and paid")
    item = sub["items"].data[0]

    switched = c.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "price": pro.id}], "proration_behavior": "create_prorations"}
    )
    eq([i.price.id for i in switched["items"].data], [pro.id], "plan switched in place")
    eq(switched["items"].data[0].id, item.id, "the item keeps its id")

    ending = c.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    eq((ending.status, ending.cancel_at_period_end), ("active", True), "cancel at period end keeps it active")
    check(ending.cancel_at == period_end(ending), "cancel_at is the period end", ending.cancel_at, period_end(ending))
    kept = c.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    eq((kept.cancel_at_period_end, kept.cancel_at), (False, None), "cancellation undone")

    paused = c.subscriptions.update(sub.id, params={"pause_collection": {"behavior": "mark_uncollectible"}})
    eq((paused.status, paused.pause_collection.behavior), ("active", "mark_uncollectible"), "pause_collection")
    resumed = c.subscriptions.update(sub.id, params={"pause_collection": ""})
    eq(resumed.pause_collection, None, "resumed: pause_collection unset")

    listed = c.subscriptions.list(params={"customer": customer.id})
    eq([s.id for s in listed.data], [sub.id], "subscriptions.list(customer)")
    canceled = c.subscriptions.cancel(sub.id)
    eq(canceled.status, "canceled", "canceled now")
    check(canceled.ended_at is not None, "ended_at set", canceled)
    eq(c.subscriptions.list(params={"customer": customer.id}).data, [], "a canceled subscription is not listed by default")
    eq([s.id for s in c.subscriptions.list(params={"customer": customer.id, "status": "canceled"}).data], [sub.id], "status=canceled")

    ctx.expect_events(["customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"], sub.id)
    # Deliveries may arrive in any order: wait for each change's own update.
    for field in ("items", "cancel_at_period_end", "pause_collection"):
        ctx.hooks.wait_for(
            ["customer.subscription.updated"],
            lambda raw, field=field: raw["data"]["object"]["id"] == sub.id and field in raw["data"].get("previous_attributes", {}),
        )


def clock_customer(ctx, card):
    """A test clock at now and a customer on it paying with `card`."""
    c = ctx.client.v1
    clock = c.test_helpers.test_clocks.create(params={"frozen_time": int(time.time()), "name": f"renewal {ctx.run_id}"})
    eq((clock.status, clock.object), ("ready", "test_helpers.test_clock"), "new clock")
    customer, pm = paying_customer(ctx, card, test_clock=clock.id)
    eq(c.customers.retrieve(customer.id).test_clock, clock.id, "customer on the clock")
    return clock, customer, pm


def advance(ctx, clock, to):
    c = ctx.client.v1
    moving = c.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": to})
    check(moving.status in ("advancing", "ready"), "advance answers", moving)
    ready = wait_until(
        "the clock to be ready",
        lambda: (lambda k: k if k.status == "ready" else None)(c.test_helpers.test_clocks.retrieve(clock.id)),
        timeout=60,
    )
    eq(ready.frozen_time, to, "frozen_time")
    return ready


@flow(needs_hooks=True)
def test_clock_renewal_succeeds(ctx):
    c = ctx.client.v1
    basic, _ = plans(ctx)
    clock, customer, _ = clock_customer(ctx, "pm_card_visa")
    sub = c.subscriptions.create(params={"customer": customer.id, "items": [{"price": basic.id}]})
    first_end = period_end(sub)
    advance(ctx, clock, first_end + 3600)
    renewed = c.subscriptions.retrieve(sub.id)
    eq(renewed.status, "active", "still active")
    check(period_end(renewed) > first_end, "a new period", period_end(renewed), first_end)
    invoices = c.invoices.list(params={"subscription": sub.id}).data
    eq([(i.billing_reason, i.status) for i in invoices], [("subscription_cycle", "paid"), ("subscription_create", "paid")], "renewal invoice paid")
    ctx.expect_events(["test_helpers.test_clock.advancing", "test_helpers.test_clock.ready"], clock.id)
    ctx.expect_events(["invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_succeeded"], invoices[0].id)
    ctx.expect_events(["customer.subscription.updated"], sub.id)


@flow(needs_hooks=True)
def test_clock_renewal_fails(ctx):
    c = ctx.client.v1
    basic, _ = plans(ctx)
    clock, customer, _ = clock_customer(ctx, "pm_card_visa")
    sub = c.subscriptions.create(params={"customer": customer.id, "items": [{"price": basic.id}]})
    failing = c.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": customer.id})
    eq(failing.customer, customer.id, "0341 attaches")
    c.subscriptions.update(sub.id, params={"default_payment_method": failing.id})
    advance(ctx, clock, period_end(sub) + 3600)
    overdue = c.subscriptions.retrieve(sub.id)
    eq(overdue.status, "past_due", "renewal failed: past_due")
    invoice = c.invoices.list(params={"subscription": sub.id, "limit": 1}).data[0]
    eq((invoice.billing_reason, invoice.status, invoice.attempt_count), ("subscription_cycle", "open", 1), "open renewal invoice")
    check(invoice.next_payment_attempt is not None, "a retry is scheduled", invoice)
    events = ctx.expect_events(["invoice.payment_failed"], invoice.id)
    eq(events["invoice.payment_failed"]["data"]["object"]["attempt_count"], 1, "payment_failed attempt_count")
    status_changes = lambda raw: (  # noqa: E731
        raw["data"]["object"]["id"] == sub.id
        and raw["data"]["object"]["status"] == "past_due"
        and raw["data"].get("previous_attributes", {}).get("status") == "active"
    )
    ctx.hooks.wait_for(["customer.subscription.updated"], status_changes)

    # The customer fixes the card and the invoice is paid: active again (§5.6).
    c.subscriptions.update(sub.id, params={"default_payment_method": "pm_card_visa"})
    paid = c.invoices.pay(invoice.id)
    eq((paid.status, paid.amount_paid), ("paid", 1000), "invoices.pay with a good card")
    eq(c.subscriptions.retrieve(sub.id).status, "active", "active again after paying")
    ctx.expect_events(["invoice.paid"], invoice.id)


@flow(needs_hooks=True)
def billing_portal_session(ctx):
    c = ctx.client.v1
    basic, pro = plans(ctx)
    customer, _ = paying_customer(ctx)
    sub = c.subscriptions.create(params={"customer": customer.id, "items": [{"price": basic.id}]})
    session = c.billing_portal.sessions.create(params={"customer": customer.id, "return_url": "https://app.example/account"})
    check(session.id.startswith("bps_"), "portal session id", session)
    eq((session.customer, session.return_url, session.livemode), (customer.id, "https://app.example/account", False), "portal session")
    check(session.url.startswith(ctx.base), "portal url on the sim", session.url)

    page = ctx.browser.open(session.url)
    check(sub.id in page.html, "the portal lists the subscription", page.text[:500])
    response = ctx.browser.submit(page, page.form_to("/cancel", subscription=sub.id), {})
    eq(response.status_code, 303, "cancel redirects back to the portal")
    eq(c.subscriptions.retrieve(sub.id).cancel_at_period_end, True, "canceled at period end from the portal")

    page = ctx.browser.open(session.url)
    response = ctx.browser.submit(page, page.form_to("/resume", subscription=sub.id), {})
    eq(response.status_code, 303, "renew redirects back")
    eq(c.subscriptions.retrieve(sub.id).cancel_at_period_end, False, "renewed from the portal")

    page = ctx.browser.open(session.url)
    response = ctx.browser.submit(page, page.form_to("/switch", subscription=sub.id), {"price": pro.id})
    eq(response.status_code, 303, "switch redirects back")
    eq(c.subscriptions.retrieve(sub.id)["items"].data[0].price.id, pro.id, "plan switched from the portal")

    page = ctx.browser.open(session.url)
    before = c.customers.retrieve(customer.id).invoice_settings.default_payment_method
    response = ctx.browser.submit(page, page.form_to("/card"), {"number": "5555 5555 5555 4444"})
    eq(response.status_code, 303, "card change redirects back")
    after = c.customers.retrieve(customer.id).invoice_settings.default_payment_method
    check(after is not None and after != before, "a new default payment method", before, after)
    eq(c.payment_methods.retrieve(after).card.last4, "4444", "the new card")

    def portal_cancel(raw):
        obj = raw["data"]["object"]
        return obj["id"] == sub.id and raw["data"].get("previous_attributes", {}).get("cancel_at_period_end") is False

    canceled = ctx.hooks.wait_for(["customer.subscription.updated"], portal_cancel)["customer.subscription.updated"]
    eq(canceled["request"]["id"], None, "portal changes have no request id")
    ctx.expect_events(["payment_method.attached"], after)
    ctx.expect_events(["customer.updated"], customer.id)


@flow()
def older_stripe_version_shapes(ctx):
    """A client pinned to a pre-basil version reads the fields it knows."""
    c = ctx.client.v1
    basic, _ = plans(ctx)
    customer, _ = paying_customer(ctx)
    sub = c.subscriptions.create(params={"customer": customer.id, "items": [{"price": basic.id}]})
    check("current_period_end" not in sub, "endive: no period on the subscription", sub)
    old = stripe.StripeClient(ctx.key, base_addresses={"api": ctx.base}, stripe_version="2024-06-20").v1
    old_sub = old.subscriptions.retrieve(sub.id)
    eq(old_sub.last_response.headers.get("Stripe-Version"), "2024-06-20", "answered at the pinned version")
    eq(old_sub.current_period_end, period_end(sub), "2024-06-20: current_period_end on the subscription")
    old_invoice = old.invoices.retrieve(sub.latest_invoice)
    eq((old_invoice.subscription, old_invoice.paid), (sub.id, True), "2024-06-20: invoice.subscription and paid")
    new_invoice = c.invoices.retrieve(sub.latest_invoice)
    eq(new_invoice.parent.subscription_details.subscription, sub.id, "endive: invoice parent")
    check("paid" not in new_invoice, "endive: no invoice.paid", new_invoice)


@flow(needs_hooks=True)
def test_clock_trial_ends(ctx):
    c = ctx.client.v1
    basic, _ = plans(ctx)
    clock, customer, _ = clock_customer(ctx, "pm_card_visa")
    sub = c.subscriptions.create(params={"customer": customer.id, "items": [{"price": basic.id}], "trial_period_days": 7})
    eq((sub.status, sub.trial_end - sub.trial_start), ("trialing", 7 * DAY), "a 7-day trial")
    eq(c.invoices.retrieve(sub.latest_invoice).amount_due, 0, "the trial's invoice is for 0")
    advance(ctx, clock, clock.frozen_time + 5 * DAY)
    ctx.expect_events(["customer.subscription.trial_will_end"], sub.id)
    eq(c.subscriptions.retrieve(sub.id).status, "trialing", "still trialing 2 days before the end")
    advance(ctx, clock, sub.trial_end + 3600)
    eq(c.subscriptions.retrieve(sub.id).status, "active", "active after the trial")
    first_paid = c.invoices.list(params={"subscription": sub.id, "limit": 1}).data[0]
    eq((first_paid.status, first_paid.amount_paid), ("paid", 1000), "the first charge after the trial")
    ctx.expect_events(["invoice.paid"], first_paid.id)
