"""paywarden-sim driven by the official Python SDK (PyPI `stripe`, pinned in
tests/sdk/requirements.txt): one function per flow of issue 4's acceptance.

    python flows.py --base http://127.0.0.1:12111 [--only name,name] [--list]

Each flow uses only what an SDK user would: `stripe.StripeClient` calls,
the SDK's error classes, plain HTTP for the hosted pages (as a browser
without JavaScript), and webhook deliveries verified by
`stripe.Webhook.construct_event`. The last line is `N passed, N failed`.
"""

import sys

from harness import main
import flows_core  # noqa: F401 (registers flows)
import flows_payments  # noqa: F401
import flows_billing  # noqa: F401
import flows_webhooks  # noqa: F401

if __name__ == "__main__":
    sys.exit(main(__doc__))
