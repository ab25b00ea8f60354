// What every Node conformance flow needs: a `Stripe` client aimed at a
// server, a webhook receiver that verifies deliveries with the SDK's own
// `stripe.webhooks.constructEvent`, a browser-like client for the hosted
// pages, and a runner that runs named flows and prints one line per flow.
// A flow is an async function taking a `ctx`; it throws on failure.

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';

import Stripe from 'stripe';

export const KEY = 'sk_test_paywarden_sdk';
export { Stripe };

const FLOWS = [];

/** Registers a flow; `needsHooks` flows run after the endpoint exists. */
export function flow(name, fn, { needsHooks = false } = {}) {
  FLOWS.push({ name, fn, needsHooks });
}

const show = (value) => {
  try {
    return JSON.stringify(value)?.slice(0, 2000);
  } catch {
    return String(value);
  }
};

export function check(condition, message, ...details) {
  if (!condition) throw new Error(message + details.map((d) => '\n  ' + show(d)).join(''));
}

// JSON with object keys sorted, so key order never decides equality.
const canonical = (value) =>
  JSON.stringify(value, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );

export function eq(actual, expected, what) {
  const a = canonical(actual);
  const e = canonical(expected);
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

/** Awaits `call()`, which must reject with the SDK error class `kind`. */
export async function raises(kind, call) {
  let result;
  try {
    result = await call();
  } catch (error) {
    if (error instanceof kind) return error;
    throw new Error(`expected ${kind.name}, got ${error?.constructor?.name} (HTTP ${error?.statusCode}): ${show(error?.raw ?? String(error))}`);
  }
  throw new Error(`expected ${kind.name}, got a result: ${show(result)}`);
}

export async function waitUntil(what, probe, timeoutMs = 20000, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${show(last)}`);
}

// --- webhooks ------------------------------------------------------------------

/** Takes deliveries on 127.0.0.1:0; each body is verified with
 * `stripe.webhooks.constructEvent` and the endpoint secret before it counts. */
class Receiver {
  constructor(stripe) {
    this.stripe = stripe;
    this.secret = null;
    // Other endpoints pointing here: path -> secret; their verified
    // deliveries go to `others`, not `events`.
    this.secrets = {};
    this.others = [];
    this.events = [];
    // GETs the "shop" received: the pages Checkout redirects a browser to.
    this.visits = [];
    this.failures = [];
    this.waiters = new Set();
    this.server = http.createServer((req, res) => {
      if (req.method === 'GET') {
        this.visits.push(req.url);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>Thanks</title><p>Thanks for your order.</p>');
        return;
      }
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        let status = 200;
        const path = req.url.split('?')[0];
        try {
          const event = this.stripe.webhooks.constructEvent(body, req.headers['stripe-signature'], this.secrets[path] ?? this.secret);
          (path in this.secrets ? this.others : this.events).push({ event, raw: JSON.parse(body.toString('utf8')) });
        } catch (error) {
          status = 400;
          this.failures.push(`${error.constructor.name}: ${error.message}; body ${body.toString('utf8').slice(0, 300)}`);
        }
        res.writeHead(status, { 'content-length': '0' });
        res.end();
        for (const wake of this.waiters) wake();
      });
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${this.server.address().port}`;
    this.url = `${this.origin}/webhooks`;
  }

  stop() {
    this.server.close();
    this.server.closeAllConnections?.();
  }

  /** Waits until one verified event of each type whose raw JSON satisfies
   * `where(raw)` has arrived; returns them by type. */
  async waitFor(types, where, timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = {};
      for (const { event, raw } of this.events) {
        if (types.includes(event.type) && !(event.type in found) && where(raw)) found[event.type] = raw;
      }
      if (Object.keys(found).length === new Set(types).size) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const seen = this.events.map(({ event, raw }) => [event.type, raw?.data?.object?.id]).slice(-25);
        throw new Error(`webhooks: missing ${show(types.filter((t) => !(t in found)))}; verification failures ${show(this.failures.slice(-3))}; last received ${show(seen)}`);
      }
      await new Promise((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(remaining, 250));
        this.waiters.add(wake);
      });
    }
  }
}

/** `where` for `waitFor`: the event's object is `id`, or names it as its
 * customer, subscription, payment intent, invoice or charge. */
export function about(id) {
  return (raw) => {
    const obj = raw?.data?.object ?? {};
    if (obj.id === id) return true;
    for (const field of ['customer', 'subscription', 'payment_intent', 'invoice', 'charge']) {
      const value = obj[field] && typeof obj[field] === 'object' ? obj[field].id : obj[field];
      if (value === id) return true;
    }
    return obj?.parent?.subscription_details?.subscription === id;
  };
}

// --- hosted pages ----------------------------------------------------------------

const attr = (tag, name) => {
  const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i'));
  if (!m) return null;
  return (m[1] ?? m[2] ?? m[3]).replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
};
const hasAttr = (tag, name) => new RegExp(`\\s${name}(\\s|=|>|/)`, 'i').test(tag);

/** Forms on a page: action, method, fields (inputs, selects) and buttons. */
export function parseForms(html) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const open = `<form ${m[1]}>`;
    const form = { action: attr(open, 'action') ?? '', method: (attr(open, 'method') ?? 'get').toLowerCase(), fields: {}, buttons: [] };
    for (const t of m[2].matchAll(/<(input|button|select)\b[^>]*>/gi)) {
      const tag = t[0];
      const name = attr(tag, 'name');
      if (!name) continue;
      const kind = t[1].toLowerCase();
      const type = (attr(tag, 'type') ?? (kind === 'button' ? 'submit' : 'text')).toLowerCase();
      if (kind === 'select') {
        const rest = m[2].slice(t.index);
        const body = rest.slice(0, rest.search(/<\/select>/i));
        const options = [...body.matchAll(/<option\b[^>]*>/gi)].map((o) => o[0]);
        const chosen = options.find((o) => hasAttr(o, 'selected')) ?? options[0];
        form.fields[name] = chosen ? attr(chosen, 'value') ?? '' : '';
      } else if (type === 'submit') {
        form.buttons.push([name, attr(tag, 'value') ?? '']);
      } else if ((type === 'checkbox' || type === 'radio') && !hasAttr(tag, 'checked')) {
        continue;
      } else {
        form.fields[name] = attr(tag, 'value') ?? '';
      }
    }
    forms.push(form);
  }
  return forms;
}

export class Page {
  constructor(url, status, html) {
    this.url = url;
    this.status = status;
    this.html = html;
    this.forms = parseForms(html);
    this.text = html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ');
  }

  /** The first POST form with a field or button named `having`. */
  form(having) {
    const form = this.forms.find((f) => f.method === 'post' && (having in f.fields || f.buttons.some(([n]) => n === having)));
    check(form, `no POST form with \`${having}\` on ${this.url}`, this.forms);
    return form;
  }

  /** The first POST form whose action ends with `suffix` and whose fields
   * have the given values (e.g. `{ subscription: 'sub_…' }`). */
  formTo(suffix, fields = {}) {
    const form = this.forms.find(
      (f) => f.method === 'post' && f.action.endsWith(suffix) && Object.entries(fields).every(([k, v]) => f.fields[k] === v),
    );
    check(form, `no POST form to …${suffix} with ${JSON.stringify(fields)} on ${this.url}`, this.forms);
    return form;
  }
}

/** Plain HTTP as a browser without JavaScript; redirects are not followed. */
export const browser = {
  async get(url) {
    return fetch(url, { redirect: 'manual' });
  },
  async open(url) {
    const res = await fetch(url, { redirect: 'manual' });
    const html = await res.text();
    eq(res.status, 200, `GET ${url}`);
    check((res.headers.get('content-type') ?? '').includes('text/html'), `GET ${url} is HTML`, res.headers.get('content-type'));
    return new Page(url, res.status, html);
  },
  /** GETs the `location` of a redirect, as a browser does after a 303. */
  async follow(res, from) {
    check([301, 302, 303, 307, 308].includes(res.status), 'a redirect', res.status);
    return fetch(new URL(res.headers.get('location'), from).toString(), { redirect: 'manual' });
  },
  /** POSTs the form's fields overlaid with `values`; the raw response. */
  async submit(page, form, values, button = null) {
    const fields = { ...form.fields, ...values };
    if (button) fields[button[0]] = button[1];
    const target = new URL(form.action || page.url, page.url).toString();
    return fetch(target, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  },
};

// --- context and runner -------------------------------------------------------------

export function clientFor(base, key) {
  const url = new URL(base);
  return new Stripe(key, { host: url.hostname, port: Number(url.port), protocol: url.protocol.replace(':', '') });
}

export async function main() {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      only: { type: 'string', default: '' },
      list: { type: 'boolean', default: false },
      // The sim runs with duplicate deliveries on: some event must arrive twice.
      'expect-duplicates': { type: 'boolean', default: false },
    },
  });
  if (values.list) {
    for (const f of FLOWS) console.log(f.name);
    return 0;
  }
  if (!values.base) {
    console.error('usage: node flows.mjs --base http://127.0.0.1:PORT [--only a,b]');
    return 2;
  }
  const wanted = new Set(values.only.split(',').filter(Boolean));
  const unknown = [...wanted].filter((n) => !FLOWS.some((f) => f.name === n));
  if (unknown.length) {
    console.error(`unknown flows: ${unknown}`);
    return 2;
  }
  let flows = FLOWS.filter((f) => wanted.size === 0 || wanted.has(f.name));

  const base = values.base.replace(/\/$/, '');
  const stripe = clientFor(base, KEY);
  const ctx = {
    base,
    stripe,
    runId: randomUUID().slice(0, 8),
    other: (key) => clientFor(base, key),
    hooks: null,
    expectEvents: (types, id, timeoutMs) => ctx.hooks.waitFor(types, about(id), timeoutMs),
  };
  const pkg = JSON.parse(await (await import('node:fs/promises')).readFile(new URL('../node_modules/stripe/package.json', import.meta.url)));
  console.log(`node stripe ${pkg.version} (Stripe-Version ${Stripe.API_VERSION ?? stripe.getApiField('version')}) against ${base}`);

  // The SDK's last requests and responses, printed when a flow fails.
  const exchanges = [];
  stripe.on('request', (r) => exchanges.push(`-> ${r.method} ${r.path} (idempotency ${r.idempotency_key ?? '-'})`));
  stripe.on('response', (r) => exchanges.push(`<- ${r.status} ${r.method} ${r.path} ${r.request_id}`));

  let passed = 0;
  let failed = 0;
  if (flows.some((f) => f.needsHooks)) {
    try {
      ctx.hooks = new Receiver(stripe);
      await ctx.hooks.start();
      const endpoint = await stripe.webhookEndpoints.create({ url: ctx.hooks.url, enabled_events: ['*'], description: 'sdk conformance' });
      check(endpoint.secret?.startsWith('whsec_'), 'webhook endpoint secret', endpoint);
      ctx.hooks.secret = endpoint.secret;
      ctx.endpoint = endpoint;
    } catch (error) {
      failed += 1;
      console.log(`FAIL webhook_endpoint_setup\n  ${error.stack}\n  raw: ${show(error.raw)}`);
      flows = flows.filter((f) => !f.needsHooks);
    }
  }
  for (const f of flows) {
    exchanges.length = 0;
    const started = Date.now();
    try {
      await f.fn(ctx);
      passed += 1;
      console.log(`ok   ${f.name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${f.name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
      if (error?.raw) console.log(`  ${error.constructor.name} HTTP ${error.statusCode}: ${show(error.raw)}`);
      console.log(`  ${String(error?.stack ?? error).replace(/\n/g, '\n  ')}`);
      console.log(`  last SDK exchanges:\n    ${exchanges.slice(-12).join('\n    ')}`);
    }
  }
  if (ctx.hooks) {
    if (ctx.hooks.failures.length) {
      failed += 1;
      console.log(`FAIL webhook_signatures: ${ctx.hooks.failures.length} deliveries failed constructEvent: ${show(ctx.hooks.failures.slice(0, 3))}`);
    } else {
      const distinct = new Set(ctx.hooks.events.map(({ event }) => event.id)).size;
      console.log(`     ${ctx.hooks.events.length} webhook deliveries of ${distinct} events verified with stripe.webhooks.constructEvent`);
      if (values['expect-duplicates'] && distinct === ctx.hooks.events.length) {
        failed += 1;
        console.log('FAIL webhook_duplicates: duplicate delivery was on, yet every event arrived once');
      }
    }
    ctx.hooks.stop();
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
