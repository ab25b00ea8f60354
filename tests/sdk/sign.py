"""Stripe-Signature headers made by the official Python SDK (PyPI `stripe`).

Contract (shared with sign.mjs), one JSON document each way:

  stdin:  {"secret": "whsec_...", "payloads": ["<raw body>", ...], "timestamp": <int or null>}
  stdout: {"sdk": "python-stripe <version>", "headers": ["t=...,v1=...", ...]}

headers[i] signs payloads[i] byte for byte (UTF-8). A null timestamp means
"now", as the SDK picks it. Before answering, every header is fed back to the
SDK's own verifier; if the SDK rejects its own header we exit non-zero with
the reason on stderr, so a Rust test never trusts a broken fixture.

Run it with the venv made by tests/sdk/setup: .cache/sdk-venv/bin/python.
"""

import json
import sys

import stripe


def sdk_version() -> str:
    version = getattr(stripe, "VERSION", None)
    if version is None:  # older layouts kept it only in stripe._version
        from stripe._version import VERSION as version  # type: ignore
    return str(version)


def sign(payload: str, secret: str, timestamp):
    helper = stripe.WebhookSignature
    if hasattr(helper, "generate_signature_header"):
        return helper.generate_signature_header(payload, secret, timestamp=timestamp)
    # Before the public helper existed the SDK's own tests built the header
    # from the private HMAC function; do exactly what it does.
    import time

    ts = int(time.time()) if timestamp is None else timestamp
    signature = helper._compute_signature(f"{ts}.{payload}", secret)
    return f"t={ts},{helper.EXPECTED_SCHEME}={signature}"


def self_check(payload: str, header: str, secret: str, timestamp) -> None:
    """Raise unless the SDK's verifier accepts the header it just made."""
    # A caller-chosen timestamp may be deliberately stale (tests of our 300 s
    # tolerance), so only check the signature then; "now" gets the default.
    tolerance = stripe.Webhook.DEFAULT_TOLERANCE if timestamp is None else None
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    if isinstance(body, dict):
        # construct_event = verify_header + parse into a stripe.Event.
        stripe.Webhook.construct_event(payload, header, secret, tolerance=tolerance)
    else:
        # Not an event body (tests may sign arbitrary bytes): signature only.
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)


def main() -> int:
    request = json.load(sys.stdin)
    secret = request["secret"]
    payloads = request["payloads"]
    timestamp = request.get("timestamp")
    if not isinstance(secret, str) or not isinstance(payloads, list):
        raise SystemExit("sign.py: want {secret: str, payloads: [str], timestamp: int|null}")
    # bool is an int in Python; refuse it like any other non-integer.
    if timestamp is not None and (
        isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp <= 0
    ):
        raise SystemExit("sign.py: timestamp must be a positive integer or null")

    headers = []
    for i, payload in enumerate(payloads):
        if not isinstance(payload, str):
            raise SystemExit(f"sign.py: payloads[{i}] is not a string")
        header = sign(payload, secret, timestamp)
        try:
            self_check(payload, header, secret, timestamp)
        except Exception as exc:  # noqa: BLE001 - report whatever the SDK threw
            raise SystemExit(
                f"sign.py: the stripe SDK rejected its own header for payloads[{i}]: "
                f"{type(exc).__name__}: {exc}"
            )
        headers.append(header)

    json.dump({"sdk": f"python-stripe {sdk_version()}", "headers": headers}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
