"""What every conformance flow needs: a StripeClient aimed at a server, a
webhook receiver that verifies deliveries with the SDK's own
`stripe.Webhook.construct_event`, a browser-like client for the hosted
pages, and a runner that runs named flows and prints one line per flow.

A flow is a plain function taking a `Ctx`; it raises on failure. When one
fails, the runner prints the SDK's last requests and responses (captured
from the `stripe` logger) so the failing exchange is in the test output.
"""

import argparse
import collections
import json
import logging
import re
import sys
import threading
import time
import traceback
import uuid
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin

import requests
import stripe

KEY = "sk_test_paywarden_sdk"


class Flow:
    def __init__(self, name, func, needs_hooks):
        self.name = name
        self.func = func
        self.needs_hooks = needs_hooks


FLOWS = []


def flow(needs_hooks=False):
    """Registers a flow under its function name."""

    def register(func):
        FLOWS.append(Flow(func.__name__, func, needs_hooks))
        return func

    return register


def check(condition, message, *details):
    if not condition:
        extra = "".join("\n  " + _show(d) for d in details)
        raise AssertionError(message + extra)


def eq(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def _show(value):
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    try:
        return json.dumps(value, default=str)[:2000]
    except TypeError:
        return repr(value)[:2000]


def raises(kind, call):
    """Runs `call`, which must raise the SDK error class `kind`."""
    try:
        result = call()
    except kind as error:
        return error
    except stripe.StripeError as error:
        raise AssertionError(
            f"expected {kind.__name__}, got {type(error).__name__} "
            f"(HTTP {error.http_status}): {error.json_body}"
        ) from error
    raise AssertionError(f"expected {kind.__name__}, got a result: {_show(result)}")


def wait_until(what, probe, timeout=20.0, interval=0.05):
    """Polls `probe` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {_show(last)}")


# --- webhooks -----------------------------------------------------------------


class Receiver:
    """A tiny HTTP server on 127.0.0.1:0 that takes webhook deliveries.

    Every body is verified with `stripe.Webhook.construct_event` and the
    endpoint's secret before it counts; a delivery that fails verification
    is answered 400 and recorded as a failure.
    """

    def __init__(self):
        self.secret = None
        # Other endpoints pointing here: path -> secret; their verified
        # deliveries go to `others`, not `events`.
        self.secrets = {}
        self.others = []
        self.events = []
        # GETs the "shop" received: the pages Checkout redirects a browser to.
        self.visits = []
        self.failures = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                signature = self.headers.get("Stripe-Signature")
                status = receiver._take(body, signature, self.path.split("?")[0])
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):  # noqa: N802 (http.server's name)
                with receiver.cond:
                    receiver.visits.append(self.path)
                body = b"<!doctype html><title>Thanks</title><p>Thanks for your order.</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.origin}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _take(self, body, signature, path):
        secret = self.secrets.get(path, self.secret)
        try:
            event = stripe.Webhook.construct_event(body, signature, secret)
        except Exception as error:  # noqa: BLE001 (recorded, then the sim gets a 400)
            with self.cond:
                self.failures.append(f"{type(error).__name__}: {error}; body {body[:300]!r}")
                self.cond.notify_all()
            return 400
        raw = json.loads(body)
        with self.cond:
            (self.others if path in self.secrets else self.events).append((event, raw))
            self.cond.notify_all()
        return 200

    def stop(self):
        self.server.shutdown()

    def wait_for(self, types, where, timeout=20.0):
        """Waits until one verified event of each type in `types` whose raw
        JSON satisfies `where(raw)` has arrived; returns them by type."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = {}
                for event, raw in self.events:
                    if event.type in types and event.type not in found and where(raw):
                        found[event.type] = raw
                if len(found) == len(set(types)):
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(e.type, (r.get("data") or {}).get("object", {}).get("id")) for e, r in self.events]
                    raise AssertionError(
                        f"webhooks: missing {sorted(set(types) - set(found))}; "
                        f"verification failures {self.failures[-3:]}; last received {seen[-25:]}"
                    )
                self.cond.wait(remaining)


def about(object_id):
    """`where` for `Receiver.wait_for`: the event's object is `object_id`, or
    names it as its customer, subscription, payment intent or invoice."""

    def where(raw):
        obj = (raw.get("data") or {}).get("object") or {}
        if obj.get("id") == object_id:
            return True
        for field in ("customer", "subscription", "payment_intent", "invoice", "charge"):
            value = obj.get(field)
            if isinstance(value, dict):
                value = value.get("id")
            if value == object_id:
                return True
        parent = ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        return parent == object_id

    return where


# --- hosted pages -------------------------------------------------------------


class _Forms(HTMLParser):
    """Collects every <form> with its inputs, selects and buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self._form = None
        self._select = None
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {"action": attrs.get("action") or "", "method": (attrs.get("method") or "get").lower(), "fields": {}, "buttons": []}
            self.forms.append(self._form)
        elif self._form is not None and tag == "input" and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind == "submit":
                self._form["buttons"].append((attrs["name"], attrs.get("value") or ""))
                return
            self._form["fields"][attrs["name"]] = attrs.get("value") or ""
        elif self._form is not None and tag == "button" and attrs.get("name"):
            self._form["buttons"].append((attrs["name"], attrs.get("value") or ""))
        elif self._form is not None and tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self._form["fields"].setdefault(self._select, "")
        elif self._select is not None and tag == "option":
            if "selected" in attrs or not self._form["fields"].get(self._select):
                self._form["fields"][self._select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        self.text.append(data)


class Page:
    """A fetched HTML page: its URL, status, text and forms."""

    def __init__(self, response):
        self.url = response.url
        self.status = response.status_code
        self.html = response.text
        parser = _Forms()
        parser.feed(self.html)
        self.forms = parser.forms
        self.text = re.sub(r"\s+", " ", " ".join(parser.text))

    def form(self, having):
        """The first POST form that has a field (or button) named `having`."""
        for form in self.forms:
            names = set(form["fields"]) | {name for name, _ in form["buttons"]}
            if form["method"] == "post" and having in names:
                return form
        raise AssertionError(f"no POST form with `{having}` on {self.url}: {self.forms}")

    def form_to(self, suffix, **fields):
        """The first POST form whose action ends with `suffix` and whose
        fields have the given values (e.g. `subscription=sub_…`)."""
        for form in self.forms:
            if form["method"] == "post" and form["action"].endswith(suffix):
                if all(form["fields"].get(k) == v for k, v in fields.items()):
                    return form
        raise AssertionError(f"no POST form to `…{suffix}` with {fields} on {self.url}: {self.forms}")


class Browser:
    """Plain HTTP as a browser without JavaScript: GET a page, POST a form's
    fields to its action, follow redirects by hand (`follow`)."""

    def __init__(self):
        self.http = requests.Session()

    def get(self, url):
        response = self.http.get(url, allow_redirects=False, timeout=30)
        return response

    def open(self, url):
        response = self.get(url)
        eq(response.status_code, 200, f"GET {url}")
        check("text/html" in response.headers.get("content-type", ""), f"GET {url} is HTML", response.headers.get("content-type"))
        return Page(response)

    def follow(self, response):
        """GETs the `Location` of a redirect, as a browser does after a 303."""
        check(response.status_code in (301, 302, 303, 307, 308), "a redirect", response.status_code)
        return self.http.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False, timeout=30)

    def submit(self, page, form, values, button=None):
        """POSTs `form`'s fields overlaid with `values`; returns the raw
        response (a 303 on success, a page on error)."""
        fields = dict(form["fields"])
        fields.update(values)
        if button is not None:
            fields[button[0]] = button[1]
        target = urljoin(page.url, form["action"] or page.url)
        return self.http.post(target, data=fields, allow_redirects=False, timeout=30)


# --- context and runner -------------------------------------------------------


class Ctx:
    def __init__(self, base, key=KEY):
        self.base = base.rstrip("/")
        self.key = key
        self.client = client_for(self.base, key)
        self.hooks = None
        self.endpoint = None
        self.browser = Browser()
        self.run_id = uuid.uuid4().hex[:8]

    def other_client(self, key):
        return client_for(self.base, key)

    def start_hooks(self):
        """Runs the receiver and registers it as a webhook endpoint for every
        event type; the secret comes from the create response."""
        self.hooks = Receiver()
        self.endpoint = self.client.v1.webhook_endpoints.create(
            params={"url": self.hooks.url, "enabled_events": ["*"], "description": "sdk conformance"}
        )
        check(self.endpoint.secret and self.endpoint.secret.startswith("whsec_"), "webhook endpoint secret", self.endpoint)
        self.hooks.secret = self.endpoint.secret

    def expect_events(self, types, object_id, timeout=20.0):
        return self.hooks.wait_for(list(types), about(object_id), timeout)


def client_for(base, key):
    return stripe.StripeClient(key, base_addresses={"api": base, "files": base, "connect": base})


class _Capture(logging.Handler):
    """Keeps the SDK's last log lines (requests and response bodies)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = collections.deque(maxlen=12)

    def emit(self, record):
        self.lines.append(record.getMessage()[:1500])


def main(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--base", help="the server's base URL, e.g. http://127.0.0.1:12111")
    parser.add_argument("--only", default="", help="comma-separated flow names")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for f in FLOWS:
            print(f.name)
        return 0
    if not args.base:
        parser.error("--base is required")
    wanted = {n for n in args.only.split(",") if n}
    unknown = wanted - {f.name for f in FLOWS}
    if unknown:
        print(f"unknown flows: {sorted(unknown)}", file=sys.stderr)
        return 2
    flows = [f for f in FLOWS if not wanted or f.name in wanted]

    capture = _Capture()
    sdk_log = logging.getLogger("stripe")
    sdk_log.setLevel(logging.DEBUG)
    sdk_log.addHandler(capture)
    sdk_log.propagate = False

    print(f"python stripe {stripe.VERSION} (Stripe-Version {stripe.api_version}) against {args.base}")
    ctx = Ctx(args.base)
    passed = failed = 0
    if any(f.needs_hooks for f in flows):
        try:
            ctx.start_hooks()
        except Exception:  # noqa: BLE001 (reported as a failure below)
            failed += 1
            print("FAIL webhook_endpoint_setup")
            print(traceback.format_exc())
            print("  last SDK exchanges:\n    " + "\n    ".join(capture.lines))
            flows = [f for f in flows if not f.needs_hooks]
    for f in flows:
        capture.lines.clear()
        started = time.monotonic()
        try:
            f.func(ctx)
        except Exception as error:  # noqa: BLE001 (every failure is reported)
            failed += 1
            print(f"FAIL {f.name} ({time.monotonic() - started:.1f}s)")
            if isinstance(error, stripe.StripeError):
                print(f"  {type(error).__name__} HTTP {error.http_status}: {error.json_body}")
            print("  " + traceback.format_exc().replace("\n", "\n  "))
            print("  last SDK exchanges:\n    " + "\n    ".join(capture.lines))
        else:
            passed += 1
            print(f"ok   {f.name} ({time.monotonic() - started:.1f}s)")
    if ctx.hooks is not None:
        if ctx.hooks.failures:
            failed += 1
            print(f"FAIL webhook_signatures: {len(ctx.hooks.failures)} deliveries failed construct_event: {ctx.hooks.failures[:3]}")
        else:
            distinct = len({event.id for event, _ in ctx.hooks.events})
            print(f"     {len(ctx.hooks.events)} webhook deliveries of {distinct} events verified with stripe.Webhook.construct_event")
        ctx.hooks.stop()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
