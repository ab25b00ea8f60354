// Stripe-Signature headers made by the official Node SDK (npm `stripe`).
//
// Contract (shared with sign.py), one JSON document each way:
//
//   stdin:  {"secret": "whsec_...", "payloads": ["<raw body>", ...], "timestamp": <int or null>}
//   stdout: {"sdk": "node-stripe <version>", "headers": ["t=...,v1=...", ...]}
//
// headers[i] signs payloads[i] byte for byte (UTF-8). A null timestamp means
// "now", as the SDK picks it. Before answering, every header is fed back to
// the SDK's own verifier; if the SDK rejects its own header we exit non-zero
// with the reason on stderr, so a Rust test never trusts a broken fixture.
//
// Run from anywhere as `node tests/sdk/sign.mjs` after tests/sdk/setup
// (the import resolves tests/sdk/node_modules relative to this file).

import Stripe from 'stripe';

function fail(message) {
  process.stderr.write(`sign.mjs: ${message}\n`);
  process.exit(1);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

let request;
try {
  request = JSON.parse(await readStdin());
} catch (e) {
  fail(`stdin is not JSON: ${e.message}`);
}
const { secret, payloads, timestamp = null } = request;
if (typeof secret !== 'string' || !Array.isArray(payloads)) {
  fail('want {secret: str, payloads: [str], timestamp: int|null}');
}
// The SDK treats a falsy timestamp (0) as "now"; refuse it rather than
// silently signing with a different time than asked.
if (timestamp !== null && !(Number.isInteger(timestamp) && timestamp > 0)) {
  fail('timestamp must be a positive integer or null');
}

// The constructor insists on an API key; no request is ever made with it.
const stripe = new Stripe('sk_test_x');
// A caller-chosen timestamp may be deliberately stale (tests of our 300 s
// tolerance), so then check only the signature (tolerance 0 = skip the age
// check); "now" gets the SDK's default tolerance.
const tolerance = timestamp === null ? undefined : 0;

const headers = payloads.map((payload, i) => {
  if (typeof payload !== 'string') fail(`payloads[${i}] is not a string`);
  const opts = { payload, secret };
  if (timestamp !== null) opts.timestamp = timestamp;
  const header = stripe.webhooks.generateTestHeaderString(opts);

  let isEvent = false;
  try {
    const body = JSON.parse(payload);
    isEvent = body !== null && typeof body === 'object' && !Array.isArray(body);
  } catch {
    // Not JSON: tests may sign arbitrary bytes; check the signature only.
  }
  // Verify the raw bytes as a Buffer, as a real webhook handler would (the
  // SDK also refuses an empty *string* payload outright, but not an empty
  // Buffer, so this keeps empty bodies signable).
  const raw = Buffer.from(payload, 'utf8');
  try {
    if (isEvent) {
      stripe.webhooks.constructEvent(raw, header, secret, tolerance);
    } else {
      stripe.webhooks.signature.verifyHeader(raw, header, secret, tolerance);
    }
  } catch (e) {
    fail(`the stripe SDK rejected its own header for payloads[${i}]: ${e.message}`);
  }
  return header;
});

process.stdout.write(
  JSON.stringify({ sdk: `node-stripe ${Stripe.PACKAGE_VERSION}`, headers }) + '\n',
);
