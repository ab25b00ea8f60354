"""Flows over payments: expand, refunds, and Checkout in payment mode through
the hosted page (paid with 4242, declined, expired)."""

from urllib.parse import parse_qs, urlsplit

from harness import check, eq, flow

CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"


def pay_on_page(ctx, session, card, email="buyer@example.com"):
    """Opens the session's hosted page and submits the card form as a
    browser would; returns (page, response)."""
    page = ctx.browser.open(session.url)
    form = page.form("card_number")
    response = ctx.browser.submit(page, form, {"email": email, "name": "Ada Buyer", "card_number": card, "exp": "12 / 34", "cvc": "123"})
    return page, response


def one_time_price(ctx, amount=2500):
    return ctx.client.v1.prices.create(params={"unit_amount": amount, "currency": "usd", "product_data": {"name": f"Ebook {ctx.run_id}"}})


@flow()
def expand(ctx):
    c = ctx.client.v1
    product = c.products.create(params={"name": "Expandable"})
    price = c.prices.create(params={"product": product.id, "unit_amount": 700, "currency": "eur", "expand": ["product"]})
    eq((price.product.object, price.product.id), ("product", product.id), "expand on create")
    eq(c.prices.retrieve(price.id).product, product.id, "unexpanded is an id")
    eq(c.prices.retrieve(price.id, params={"expand": ["product"]}).product.name, "Expandable", "expand on retrieve")
    listed = c.prices.list(params={"product": product.id, "expand": ["data.product"]})
    eq([p.product.id for p in listed.data], [product.id], "expand data.* on lists")

    customer = c.customers.create(params={"email": "expand@example.com"})
    pi = c.payment_intents.create(
        params={
            "amount": 1200,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": "pm_card_visa",
            "confirm": True,
            "expand": ["latest_charge", "customer"],
        }
    )
    eq((pi.status, pi.latest_charge.object, pi.customer.email), ("succeeded", "charge", "expand@example.com"), "expand on confirm")
    charge = c.charges.retrieve(pi.latest_charge.id, params={"expand": ["payment_intent.customer"]})
    eq(charge.payment_intent.customer.id, customer.id, "nested expand (two levels)")


@flow(needs_hooks=True)
def refund(ctx):
    c = ctx.client.v1
    customer = c.customers.create(params={"email": "refund@example.com"})
    pm = c.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    eq(pm.customer, customer.id, "attached")
    pi = c.payment_intents.create(
        params={"amount": 3000, "currency": "usd", "customer": customer.id, "payment_method": pm.id, "confirm": True}
    )
    eq(pi.status, "succeeded", "payment intent")
    partial = c.refunds.create(params={"payment_intent": pi.id, "amount": 1000, "reason": "requested_by_customer"})
    eq((partial.status, partial.amount, partial.payment_intent, partial.charge), ("succeeded", 1000, pi.id, pi.latest_charge), "partial refund")
    charge = c.charges.retrieve(pi.latest_charge)
    eq((charge.amount_refunded, charge.refunded), (1000, False), "charge after partial refund")
    rest = c.refunds.create(params={"charge": charge.id})
    eq(rest.amount, 2000, "refund of the rest")
    charge = c.charges.retrieve(charge.id)
    eq((charge.amount_refunded, charge.refunded), (3000, True), "charge fully refunded")
    listed = c.refunds.list(params={"payment_intent": pi.id})
    eq({r.id for r in listed.data}, {partial.id, rest.id}, "refunds.list(payment_intent)")
    ctx.expect_events(["payment_method.attached"], pm.id)
    ctx.expect_events(["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"], pi.id)
    ctx.expect_events(["refund.created"], rest.id)
    ctx.expect_events(["charge.refunded"], charge.id)


@flow(needs_hooks=True)
def checkout_payment_hosted_page_4242(ctx):
    c = ctx.client.v1
    price = one_time_price(ctx)
    session = c.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 2}],
            "success_url": ctx.hooks.origin + "/ok?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://shop.example/cancel",
            "client_reference_id": f"order-{ctx.run_id}",
            "metadata": {"order": "77"},
        }
    )
    check(session.id.startswith("cs_test_"), "session id", session)
    eq((session.status, session.payment_status, session.amount_total, session.mode), ("open", "unpaid", 5000, "payment"), "open session")
    check(session.url and session.url.startswith(ctx.base), "hosted url on the sim", session.url)
    items = c.checkout.sessions.line_items.list(session.id)
    eq([(i.price.id, i.quantity, i.amount_total) for i in items.data], [(price.id, 2, 5000)], "line items")

    page, response = pay_on_page(ctx, session, CARD_OK)
    check("$50.00" in page.text, "the page shows the total", page.text[:500])
    check('href="https://shop.example/cancel"' in page.html, "the page links back to cancel_url", page.html[:1500])
    eq(response.status_code, 303, "a successful payment redirects")
    location = response.headers["Location"]
    eq(parse_qs(urlsplit(location).query).get("session_id"), [session.id], "success_url with {CHECKOUT_SESSION_ID} replaced")
    check(location.startswith(ctx.hooks.origin + "/ok?"), "redirect to success_url", location)
    landed = ctx.browser.follow(response)
    eq(landed.status_code, 200, "the browser lands on success_url")
    check(f"/ok?session_id={session.id}" in ctx.hooks.visits, "the shop saw the session id", ctx.hooks.visits[-3:])

    done = c.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    eq((done.status, done.payment_status, done.client_reference_id), ("complete", "paid", f"order-{ctx.run_id}"), "completed")
    eq((done.payment_intent.status, done.payment_intent.amount), ("succeeded", 5000), "payment intent")
    eq(done.customer_details.email, "buyer@example.com", "customer_details")
    ctx.expect_events(["checkout.session.completed"], session.id)
    ctx.expect_events(["payment_intent.succeeded", "charge.succeeded"], done.payment_intent.id)
    again = ctx.browser.get(session.url)
    check(again.status_code != 303, "a completed session's page does not take payment again", again.status_code)


@flow()
def checkout_payment_declined_card(ctx):
    c = ctx.client.v1
    price = one_time_price(ctx, 900)
    session = c.checkout.sessions.create(
        params={"mode": "payment", "line_items": [{"price": price.id, "quantity": 1}], "success_url": "https://shop.example/ok"}
    )
    page, response = pay_on_page(ctx, session, CARD_DECLINED)
    check(response.status_code not in (301, 302, 303, 307, 308), "a decline does not redirect", response.status_code, response.headers.get("Location"))
    check("declined" in response.text.lower(), "the page shows the decline", response.text[:1500])
    eq(c.checkout.sessions.retrieve(session.id).status, "open", "the session stays open")
    _, retry = pay_on_page(ctx, session, CARD_OK)
    eq(retry.status_code, 303, "paying again with 4242 succeeds")
    eq(c.checkout.sessions.retrieve(session.id).payment_status, "paid", "paid after the retry")


@flow(needs_hooks=True)
def checkout_expire(ctx):
    c = ctx.client.v1
    price = one_time_price(ctx, 1100)
    session = c.checkout.sessions.create(
        params={"mode": "payment", "line_items": [{"price": price.id, "quantity": 1}], "success_url": "https://shop.example/ok", "customer_email": "late@example.com"}
    )
    eq(session.customer_email, "late@example.com", "customer_email")
    expired = c.checkout.sessions.expire(session.id)
    eq((expired.status, expired.url), ("expired", None), "expired session has no url")
    listed = c.checkout.sessions.list(params={"status": "expired", "limit": 100})
    check(session.id in [s.id for s in listed.data], "listed with status=expired")
    ctx.expect_events(["checkout.session.expired"], session.id)


@flow(needs_hooks=True)
def checkout_payment_dispute_card(ctx):
    c = ctx.client.v1
    price = one_time_price(ctx, 1900)
    session = c.checkout.sessions.create(
        params={"mode": "payment", "line_items": [{"price": price.id, "quantity": 1}], "success_url": "https://shop.example/ok"}
    )
    _, response = pay_on_page(ctx, session, "4000 0000 0000 0259")
    eq(response.status_code, 303, "the 0259 card pays")
    pi = c.payment_intents.retrieve(c.checkout.sessions.retrieve(session.id).payment_intent)
    eq(pi.status, "succeeded", "the payment succeeds")
    opened = ctx.expect_events(["charge.dispute.created"], pi.latest_charge)["charge.dispute.created"]
    dispute = c.disputes.retrieve(opened["data"]["object"]["id"])
    eq((dispute.charge, dispute.reason, dispute.amount), (pi.latest_charge, "fraudulent", 1900), "the dispute")
