"""Flows over webhook endpoints and the Events API: endpoints with their own
secrets, events carrying the request that caused them, and the receiver
getting what the Events API lists."""

from harness import check, eq, flow


@flow(needs_hooks=True)
def webhook_endpoints_and_events(ctx):
    c = ctx.client.v1
    second = c.webhook_endpoints.create(
        params={"url": ctx.hooks.url + "/second", "enabled_events": ["customer.created", "customer.updated"], "metadata": {"n": "2"}}
    )
    check(second.id.startswith("we_") and second.secret.startswith("whsec_"), "endpoint id and secret", second)
    check(second.secret != ctx.endpoint.secret, "each endpoint has its own secret")
    ctx.hooks.secrets["/webhooks/second"] = second.secret
    eq((second.status, list(second.enabled_events)), ("enabled", ["customer.created", "customer.updated"]), "endpoint")
    retrieved = c.webhook_endpoints.retrieve(second.id)
    check(getattr(retrieved, "secret", None) is None, "the secret is only in the create answer", retrieved)
    listed = {e.id for e in c.webhook_endpoints.list(params={"limit": 100}).data}
    check({ctx.endpoint.id, second.id} <= listed, "both endpoints listed", listed)
    deleted = c.webhook_endpoints.delete(second.id)
    eq((deleted.id, deleted.deleted), (second.id, True), "endpoint deleted")

    key = f"events-{ctx.run_id}"
    customer = c.customers.create(params={"email": "events@example.com"}, options={"idempotency_key": key})
    request_id = customer.last_response.request_id
    arrived = ctx.expect_events(["customer.created"], customer.id)["customer.created"]
    event = c.events.retrieve(arrived["id"])
    eq((event.type, event.data.object.id, event.livemode), ("customer.created", customer.id, False), "events.retrieve")
    eq((event.request.id, event.request.idempotency_key), (request_id, key), "event.request names the causing request")
    listed = c.events.list(params={"type": "customer.created", "limit": 100})
    check(arrived["id"] in [e.id for e in listed.data], "events.list(type=…)", [e.id for e in listed.data][:5])
    check(all(e.type == "customer.created" for e in listed.data), "only that type")
    eq(arrived["data"]["object"]["email"], "events@example.com", "the delivered snapshot")
