"""The overlapping part of the conformance suite (customers, products,
prices/plans, subscriptions, invoices, refunds), driven with the official
Python SDK against paywarden-sim AND against localstripe, checked against
what Stripe returns.

    python localstripe_compare.py --sim URL --localstripe-python PATH --report FILE

Every check names the value Stripe answers with (STRIPE_NOTES section in
`source`). Against the sim a mismatch FAILS the run; against localstripe it
is only RECORDED. The JSON report lists every check with the Stripe value,
the sim's and localstripe's; docs/STRIPE.md summarises it. localstripe is
started here (tests/sdk/conformance/localstripe_server.py, 127.0.0.1, a
free port) and stopped at the end; the run fails if it cannot be started or
if no check reached it, so the comparison always really executes.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

import stripe

from harness import KEY, client_for

MISSING = "<absent>"


class Mismatch(AssertionError):
    pass


class Observer:
    """Collects `(probe, check) -> value` for one server. Strict observers
    raise on the first value that differs from Stripe's."""

    def __init__(self, name, strict):
        self.name = name
        self.strict = strict
        self.values = {}
        self.expected = {}
        self.sources = {}
        self.unasserted = set()
        self.probe = None

    def see(self, check, actual, expected, source, asserted=True):
        key = (self.probe, check)
        if not asserted:
            self.unasserted.add(key)
        self.values[key] = actual
        self.expected[key] = expected
        self.sources[key] = source
        if self.strict and asserted and actual != expected:
            raise Mismatch(f"{self.name}: {self.probe} / {check}: Stripe answers {expected!r}, got {actual!r}")

    def call(self, check, func, expected="ok", source="§8.2", asserted=True):
        """Runs one SDK call; records `ok` or the error it raised."""
        try:
            result = func()
        except stripe.StripeError as error:
            body = error.json_body if isinstance(error.json_body, dict) else {}
            message = ((body.get("error") or {}).get("message") or str(error))[:160]
            self.see(check, f"{type(error).__name__} HTTP {error.http_status}: {message}", expected, source, asserted)
            return None
        self.see(check, "ok", expected, source, asserted)
        return result


def field(obj, *path):
    """`obj[path...]` as plain JSON, or MISSING when a key is absent."""
    value = obj.to_dict() if hasattr(obj, "to_dict") else obj
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and isinstance(key, int) and len(value) > key:
            value = value[key]
        else:
            return MISSING
    return value


def prefix(value, length):
    if isinstance(value, str):
        return value[:length]
    if hasattr(value, "get") or hasattr(value, "to_dict"):
        return f"<expanded {field(value, 'object')}>"
    return value


def id_of(value):
    return value if isinstance(value, str) else field(value, "id")


# --- probes ------------------------------------------------------------------------


def customers(obs, c, run):
    customer = obs.call("create", lambda: c.customers.create(params={"email": f"cmp-{run}@example.com", "metadata": {"a": "1", "b": "2"}}))
    if customer is None:
        return
    obs.see("id prefix", prefix(customer.id, 4), "cus_", "§1.11")
    obs.see("object", field(customer, "object"), "customer", "§4.1")
    obs.see("livemode", field(customer, "livemode"), False, "§4.1")
    obs.see("balance", field(customer, "balance"), 0, "§4.1")
    obs.see("tax_exempt", field(customer, "tax_exempt"), "none", "§4.1")
    obs.see("preferred_locales", field(customer, "preferred_locales"), [], "§4.1")
    obs.see("invoice_settings.default_payment_method", field(customer, "invoice_settings", "default_payment_method"), None, "§4.1")
    obs.see("test_clock key present", field(customer, "test_clock"), None, "§4.1")
    obs.see("account_balance (removed 2019)", field(customer, "account_balance"), MISSING, "§4.1 (balance)")
    subs = field(customer, "subscriptions")
    obs.see("subscriptions list not included by default", subs if subs == MISSING else "<list>", MISSING, "§1.10 (includable)")
    updated = obs.call("update metadata", lambda: c.customers.update(customer.id, params={"metadata": {"a": ""}}))
    if updated is not None:
        obs.see("empty metadata value unsets the key", field(updated, "metadata"), {"b": "2"}, "§1.3")
    deleted = obs.call("delete", lambda: c.customers.delete(customer.id))
    if deleted is not None:
        obs.see("delete answers {id, object, deleted}", (field(deleted, "object"), field(deleted, "deleted")), ("customer", True), "§1.12")
    try:
        c.customers.retrieve("cus_doesnotexist")
        obs.see("unknown id", "ok", "InvalidRequestError 404 resource_missing", "§1.7")
    except stripe.StripeError as error:
        obs.see("unknown id", f"{type(error).__name__} {error.http_status} {error.code}", "InvalidRequestError 404 resource_missing", "§1.7")
    try:
        c.customers.create(params={"emial": "typo@example.com"})
        obs.see("unknown param", "ok", "InvalidRequestError 400 parameter_unknown param=emial", "§1.7")
    except stripe.StripeError as error:
        obs.see(
            "unknown param",
            f"{type(error).__name__} {error.http_status} {error.code} param={error.param}",
            "InvalidRequestError 400 parameter_unknown param=emial",
            "§1.7",
        )


def products(obs, c, run):
    product = obs.call("create", lambda: c.products.create(params={"name": f"Cmp {run}"}))
    if product is None:
        return
    obs.see("id prefix", prefix(product.id, 5), "prod_", "§1.11")
    obs.see("active", field(product, "active"), True, "§4.2")
    obs.see("default_price key present", field(product, "default_price"), None, "§4.2")
    obs.see("images", field(product, "images"), [], "§4.2")
    obs.see("marketing_features", field(product, "marketing_features"), [], "§4.2")
    obs.see("updated is an int", isinstance(field(product, "updated"), int), True, "§4.2")
    listed = obs.call("list", lambda: c.products.list(params={"limit": 3}))
    if listed is not None:
        obs.see("list envelope", (field(listed, "object"), field(listed, "url")), ("list", "/v1/products"), "§1.8")


def prices(obs, c, run):
    product = c.products.create(params={"name": f"Priced {run}"})
    lookup_key = f"cmp_{run}"
    price = obs.call(
        "create recurring price",
        lambda: c.prices.create(
            params={"product": product.id, "unit_amount": 1500, "currency": "usd", "recurring": {"interval": "month"}, "lookup_key": lookup_key}
        ),
    )
    if price is not None:
        obs.see("id prefix", prefix(price.id, 6), "price_", "§1.11")
        obs.see("type", field(price, "type"), "recurring", "§4.3")
        obs.see("unit_amount_decimal (a decimal string, Decimal in the SDK)", str(field(price, "unit_amount_decimal")), "1500", "§1.12, §8.3 #9")
        obs.see("recurring", {k: field(price, "recurring", k) for k in ("interval", "interval_count", "usage_type")}, {"interval": "month", "interval_count": 1, "usage_type": "licensed"}, "§4.3")
        obs.see("lookup_key", field(price, "lookup_key"), lookup_key, "§4.3")
        found = obs.call("list by lookup_keys", lambda: c.prices.list(params={"lookup_keys": [lookup_key]}))
        if found is not None:
            obs.see("lookup_keys filter finds exactly the price", [p.id for p in found.data] == [price.id], True, "§4.3")
    one_time = obs.call("create one-time price", lambda: c.prices.create(params={"product": product.id, "unit_amount": 900, "currency": "usd"}))
    if one_time is not None:
        obs.see("one-time type", field(one_time, "type"), "one_time", "§4.3")


def plans(obs, c, run):
    """Legacy plans: Stripe still serves /v1/plans (a plan is usable as a
    price). Recorded for both servers, asserted for neither (the sim
    implements prices only)."""
    product = c.products.create(params={"name": f"Planned {run}"})
    plan = obs.call("create plan", lambda: c.plans.create(params={"product": product.id, "amount": 1500, "currency": "usd", "interval": "month"}))
    if plan is not None:
        obs.see("object", field(plan, "object"), "plan", "§1.11")


def _recurring_price(obs, c, run):
    """A monthly price; on a server without /v1/prices a plan instead."""
    product = c.products.create(params={"name": f"Sub {run}"})
    try:
        return c.prices.create(params={"product": product.id, "unit_amount": 2000, "currency": "usd", "recurring": {"interval": "month"}}).id, "price"
    except stripe.StripeError:
        plan = c.plans.create(params={"product": product.id, "amount": 2000, "currency": "usd", "interval": "month"})
        return plan.id, "plan"


def _paying_customer(obs, c, run):
    customer = c.customers.create(params={"email": f"sub-{run}@example.com"})
    pm = obs.call("attach pm_card_visa", lambda: c.payment_methods.attach("pm_card_visa", params={"customer": customer.id}))
    if pm is not None:
        obs.call(
            "set invoice_settings.default_payment_method",
            lambda: c.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": pm.id}}),
        )
    return customer


def subscriptions(obs, c, run):
    price, kind = _recurring_price(obs, c, run)
    obs.see("recurring prices exist (/v1/prices)", kind, "price", "§8.2")
    customer = _paying_customer(obs, c, run)
    sub = obs.call("create with items[0][price]", lambda: c.subscriptions.create(params={"customer": customer.id, "items": [{"price": price}]}))
    if sub is None and kind == "plan":
        sub = obs.call(
            "create with items[0][plan] (fallback, not asserted)",
            lambda: c.subscriptions.create(params={"customer": customer.id, "items": [{"plan": price}]}),
            asserted=False,
        )
    if sub is None:
        return
    obs.see("status", field(sub, "status"), "active", "§4.9")
    item = field(sub, "items", "data", 0)
    obs.see("items[0].price is the price subscribed to", field(item, "price", "id") == price, True, "§4.10")
    obs.see("current_period_end on the item (basil+)", isinstance(field(item, "current_period_end"), int), True, "§7.2 basil")
    obs.see("no current_period_end on the subscription (basil+)", field(sub, "current_period_end"), MISSING, "§7.2 basil")
    obs.see("latest_invoice is an in_ id", prefix(field(sub, "latest_invoice"), 3), "in_", "§4.9")
    ending = obs.call("update cancel_at_period_end", lambda: c.subscriptions.update(sub.id, params={"cancel_at_period_end": True}))
    if ending is not None:
        obs.see("cancel_at_period_end keeps it active", (field(ending, "cancel_at_period_end"), field(ending, "status")), (True, "active"), "§5.8")
    canceled = obs.call("cancel (DELETE)", lambda: c.subscriptions.cancel(sub.id))
    if canceled is not None:
        obs.see("canceled status", field(canceled, "status"), "canceled", "§5.9")
        obs.see("ended_at set", isinstance(field(canceled, "ended_at"), int), True, "§5.9")


def invoices(obs, c, run):
    price, kind = _recurring_price(obs, c, run)
    customer = _paying_customer(obs, c, run)
    item = {"price": price} if kind == "price" else {"plan": price}
    sub = obs.call("create subscription", lambda: c.subscriptions.create(params={"customer": customer.id, "items": [item]}))
    if sub is None:
        return
    listed = obs.call("list by subscription", lambda: c.invoices.list(params={"subscription": sub.id}))
    if listed is None or not listed.data:
        obs.see("one invoice", 0, 1, "§5.2")
        return
    invoice = listed.data[0]
    obs.see("id prefix", prefix(invoice.id, 3), "in_", "§1.11")
    obs.see("status", field(invoice, "status"), "paid", "§4.8")
    obs.see("billing_reason", field(invoice, "billing_reason"), "subscription_create", "§4.8")
    obs.see("amount_paid", field(invoice, "amount_paid"), 2000, "§4.8")
    obs.see("parent.subscription_details.subscription is the subscription (basil+)", field(invoice, "parent", "subscription_details", "subscription") == sub.id, True, "§7.2 basil")
    obs.see("no top-level subscription (basil+)", field(invoice, "subscription"), MISSING, "§7.2 basil")
    obs.see("no paid flag (basil+)", field(invoice, "paid"), MISSING, "§7.2 basil")
    obs.see("no payment_intent (basil+)", field(invoice, "payment_intent"), MISSING, "§7.2 basil")
    line = field(invoice, "lines", "data", 0)
    obs.see("line pricing.price_details.price is the price (basil+)", field(line, "pricing", "price_details", "price") == price, True, "§7.2 basil")
    obs.see("no line price (basil+)", field(line, "price"), MISSING, "§7.2 basil")
    retrieved = obs.call("retrieve", lambda: c.invoices.retrieve(invoice.id))
    if retrieved is not None:
        obs.see("retrieve answers the listed invoice", field(retrieved, "id") == invoice.id, True, "§4.8")


def refunds(obs, c, run):
    customer = c.customers.create(params={"email": f"refund-{run}@example.com"})
    pm = obs.call("attach pm_card_visa", lambda: c.payment_methods.attach("pm_card_visa", params={"customer": customer.id}))
    if pm is None:
        return
    pi = obs.call("create payment intent", lambda: c.payment_intents.create(params={"amount": 3000, "currency": "usd", "customer": customer.id, "payment_method": pm.id}))
    if pi is None:
        return
    obs.see("new intent status", field(pi, "status"), "requires_confirmation", "§4.5")
    paid = obs.call("confirm", lambda: c.payment_intents.confirm(pi.id))
    if paid is None:
        return
    obs.see("confirmed status", field(paid, "status"), "succeeded", "§4.5")
    obs.see("latest_charge is a ch_ id", prefix(field(paid, "latest_charge"), 3), "ch_", "§4.5")
    charges = field(paid, "charges")
    obs.see("no charges list (2022-11-15)", charges if charges == MISSING else "<list>", MISSING, "§7.2")
    refund = obs.call("partial refund", lambda: c.refunds.create(params={"payment_intent": pi.id, "amount": 1000}))
    if refund is None:
        return
    obs.see("id prefix", prefix(refund.id, 3), "re_", "§1.11")
    obs.see("status", field(refund, "status"), "succeeded", "§4.7")
    obs.see("payment_intent is the refunded intent", field(refund, "payment_intent") == pi.id, True, "§4.7")
    charge = obs.call("retrieve charge", lambda: c.charges.retrieve(id_of(paid.latest_charge)))
    if charge is not None:
        obs.see("charge after a partial refund", (field(charge, "amount_refunded"), field(charge, "refunded")), (1000, False), "§4.6")


PROBES = [customers, products, prices, plans, subscriptions, invoices, refunds]
RECORD_ONLY = {"plans"}


def run_all(name, base, strict):
    obs = Observer(name, strict)
    client = client_for(base, KEY).v1
    run = uuid.uuid4().hex[:8]
    for probe in PROBES:
        obs.probe = probe.__name__
        obs.strict = strict and probe.__name__ not in RECORD_ONLY
        try:
            probe(obs, client, run)
        except Mismatch:
            raise
        except Exception as error:  # noqa: BLE001 (an unexpected failure is a result too)
            if obs.strict:
                raise
            obs.see("probe ran to the end", f"{type(error).__name__}: {str(error)[:160]}", "ok", "")
    return obs


def start_localstripe(python):
    here = os.path.dirname(os.path.abspath(__file__))
    process = subprocess.Popen(
        [python, os.path.join(here, "localstripe_server.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("listening "):
            return process, f"http://127.0.0.1:{int(line.split()[1])}"
        if not line and process.poll() is not None:
            break
    process.kill()
    raise SystemExit(f"localstripe did not start: exit {process.poll()}\n{process.stderr.read()[-3000:]}")


def localstripe_version(python):
    out = subprocess.run([python, "-c", "from importlib.metadata import version; print(version('localstripe'))"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", required=True)
    parser.add_argument("--localstripe-python", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()

    sim = run_all("sim", args.sim, strict=True)
    print(f"sim: {len(sim.values)} checks, all as Stripe answers (record-only: {sorted(RECORD_ONLY)})")

    process, base = start_localstripe(args.localstripe_python)
    try:
        local = run_all("localstripe", base, strict=False)
    finally:
        process.terminate()
        process.wait(timeout=10)

    keys = list(dict.fromkeys(list(sim.values) + list(local.values)))
    rows = []
    for key in keys:
        expected = sim.expected.get(key, local.expected.get(key))
        row = {
            "probe": key[0],
            "check": key[1],
            "stripe": jsonable(expected),
            "sim": jsonable(sim.values.get(key, "<not reached>")),
            "localstripe": jsonable(local.values.get(key, "<not reached>")),
            "source": "STRIPE_NOTES " + (sim.sources.get(key) or local.sources.get(key) or ""),
        }
        row["asserted"] = key[0] not in RECORD_ONLY and key not in sim.unasserted and key not in local.unasserted
        row["sim_matches"] = row["sim"] == row["stripe"]
        row["localstripe_matches"] = row["localstripe"] == row["stripe"]
        rows.append(row)
    reached = [r for r in rows if r["localstripe"] != "<not reached>"]
    report = {
        "stripe_python": stripe.VERSION,
        "stripe_version_sent": stripe.api_version,
        "localstripe": localstripe_version(args.localstripe_python),
        "checks": len(rows),
        "sim_matches": sum(r["sim_matches"] for r in rows),
        "asserted_on_sim": sum(1 for r in rows if r["asserted"]),
        "asserted_sim_matches": sum(1 for r in rows if r["asserted"] and r["sim_matches"]),
        "record_only": sorted(RECORD_ONLY),
        "localstripe_matches": sum(r["localstripe_matches"] for r in rows),
        "localstripe_reached": len(reached),
        "rows": rows,
    }
    with open(args.report, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, default=str)
    print(f"localstripe {report['localstripe']}: {report['localstripe_matches']}/{len(rows)} checks as Stripe answers, {len(reached)} reached")
    for r in rows:
        if not r["localstripe_matches"]:
            print(f"  differs: {r['probe']} / {r['check']}: Stripe {json.dumps(r['stripe'], default=str)} | sim {json.dumps(r['sim'], default=str)} | localstripe {json.dumps(r['localstripe'], default=str)[:200]}")
    print(f"report: {args.report}")
    first = local.values.get(("customers", "create"))
    if not reached or first != "ok":
        print(f"FAIL: localstripe did not serve the first call (customers / create: {first}), so nothing was really compared")
        return 1
    mismatched = [r for r in rows if r["asserted"] and not r["sim_matches"]]
    if mismatched:
        print(f"FAIL: the sim differs from Stripe on {len(mismatched)} checks")
        return 1
    print(f"{report['asserted_on_sim']} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
