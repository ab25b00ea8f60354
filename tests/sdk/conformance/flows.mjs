// paywarden-sim driven by the official Node SDK (npm `stripe`, pinned in
// tests/sdk/package-lock.json): one case per flow of issue 4's acceptance.
//
//   node flows.mjs --base http://127.0.0.1:12111 [--only name,name] [--list]
//
// Only what an SDK user would do: `stripe.*` calls, the SDK's error classes,
// plain HTTP for the hosted pages, webhook deliveries verified with
// `stripe.webhooks.constructEvent`. The last line is `N passed, N failed`.

import { main } from './harness.mjs';
import './flows_core.mjs';
import './flows_payments.mjs';
import './flows_billing.mjs';
import './flows_webhooks.mjs';

process.exitCode = await main();
