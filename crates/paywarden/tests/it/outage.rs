//! Outage: PostgreSQL unreachable. The app runs in-process with its store
//! behind a [`ChaosProxy`]; while the proxy is broken every delivery is
//! answered 503 `unavailable` (never 2xx) and nothing is stored; once it is
//! restored the same deliveries are accepted as new and applied once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use paywarden_app::webhooks::{WebhookInbox, WebhookSettings};
use paywarden_core::ids::EventId;
use paywarden_core::signature::WebhookSecret;
use paywarden_http::{router, serve, AppState};
use paywarden_store::{
    DatabaseUrl, EventLog, EventStatus, ProjectionCounts, ProjectionReader, Store, StoreOptions,
};
use paywarden_testkit::{postgres_schema_url, TEST_WEBHOOK_SECRET};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::database::postgres_base_url;
use crate::server::eventually;
use crate::stripe_events::{client, customer_created, deliver, invoice_paid, Answer, TestEvent};
use paywarden_testkit::chaos_proxy::ChaosProxy;

/// How long a request waits for a database connection: short, so an
/// outage is answered quickly.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// Deliveries attempted during the outage.
const DURING_OUTAGE: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outage_postgres_unreachable_answers_503_then_accepts_the_same_events() {
    let Some(base) = postgres_base_url() else {
        return;
    };
    let schema_url = postgres_schema_url(&base).await;
    let proxy = ChaosProxy::start(upstream(&schema_url).await).await;
    let mut options = StoreOptions::new(DatabaseUrl::new(via(&schema_url, proxy.addr)));
    options.max_connections = 4;
    options.acquire_timeout = ACQUIRE_TIMEOUT;
    let store = Store::connect(&options)
        .await
        .expect("connect via the proxy");
    store.migrate().await.expect("migrate via the proxy");
    let app = InProcessApp::start(store).await;
    let client = client();
    // Reads what the app wrote, bypassing the proxy.
    let direct = Store::connect(&StoreOptions::new(DatabaseUrl::new(schema_url.clone())))
        .await
        .expect("connect directly");

    // Healthy: ready, and one event accepted.
    assert_eq!(readyz(&client, &app.base).await.0, 200);
    let before = invoice_paid("outage", 0);
    let answer = deliver(&client, &app.base, &before.body)
        .await
        .expect("deliver while healthy");
    assert_eq!(
        (answer.status.as_u16(), answer.is_duplicate()),
        (200, false),
        "{answer:?}"
    );

    // Broken: not ready, and every delivery (new or already stored) is 503.
    proxy.break_networking().await;
    let (status, body) = readyz(&client, &app.base).await;
    assert_eq!(status, 503, "/readyz during the outage: {body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let events: Arc<Vec<TestEvent>> = Arc::new(
        (1..=DURING_OUTAGE)
            .map(|n| {
                if n % 4 == 0 {
                    customer_created("outage", n)
                } else {
                    invoice_paid("outage", n)
                }
            })
            .collect(),
    );
    let mut during = events.to_vec();
    during.push(before.clone());
    for (event, answer) in deliver_concurrently(&app.base, Arc::new(during)).await {
        assert!(
            !answer.status.is_success(),
            "{}: 2xx while the database is unreachable: {answer:?}",
            event.id
        );
        assert_eq!(answer.status, 503, "{}: {answer:?}", event.id);
        assert_eq!(
            answer.body["error"]["code"], "unavailable",
            "{}: {answer:?}",
            event.id
        );
        assert!(answer.retry_after.is_some(), "{}: no Retry-After", event.id);
    }
    let (status, body) = readyz(&client, &app.base).await;
    assert_eq!(status, 503, "/readyz still during the outage: {body}");
    assert_counts(&direct, 1, 1, 0).await;

    // Restored: ready again, and the same events are new, applied once.
    proxy.restore_networking();
    eventually(Duration::from_secs(30), "/readyz after restore", || async {
        match readyz(&client, &app.base).await {
            (200, _) => Ok(()),
            (status, body) => Err(format!("{status} {body}")),
        }
    })
    .await;
    for (event, answer) in deliver_concurrently(&app.base, events.clone()).await {
        assert_eq!(
            (answer.status.as_u16(), answer.is_duplicate()),
            (200, false),
            "{}: after restore: {answer:?}",
            event.id
        );
    }
    let answer = deliver(&client, &app.base, &before.body)
        .await
        .expect("deliver after restore");
    assert!(answer.status == 200 && answer.is_duplicate(), "{answer:?}");

    for event in events.iter().chain([&before]) {
        let id: EventId = event.id.parse().expect("event id");
        let row = direct
            .event(&id)
            .await
            .expect("read event")
            .unwrap_or_else(|| panic!("{} not stored after restore", event.id));
        assert_eq!(row.status, EventStatus::Processed, "{}", event.id);
        let expected = if event.id == before.id { 2 } else { 1 };
        assert_eq!(
            row.received_count, expected,
            "{}: a 503 delivery was counted",
            event.id
        );
    }
    let customers = events.iter().filter(|e| e.id.contains("_cus_")).count();
    let invoices = events.len() - customers + 1;
    let counts = assert_counts(&direct, events.len() + 1, invoices, customers).await;

    // Once more: duplicates, nothing applied again.
    for (event, answer) in deliver_concurrently(&app.base, events.clone()).await {
        assert!(
            answer.status == 200 && answer.is_duplicate(),
            "{}: {answer:?}",
            event.id
        );
    }
    let again = direct.projection_counts().await.expect("counts");
    assert_eq!(
        format!("{again:?}"),
        format!("{counts:?}"),
        "duplicates changed projections"
    );
    direct.close().await;
    app.stop().await;
}

/// The app's router served in this process on 127.0.0.1:0.
struct InProcessApp {
    base: String,
    store: Store,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl InProcessApp {
    async fn start(store: Store) -> Self {
        let inbox = WebhookInbox::new(
            store.clone(),
            WebhookSettings {
                secrets: vec![WebhookSecret::new(TEST_WEBHOOK_SECRET).expect("secret")],
                tolerance: Duration::from_secs(300),
                default_daily_cap: 100,
                catalog: None,
            },
        );
        let app = router(AppState::new(store.clone(), inbox));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            store,
            stop,
            server,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .expect("the app stops within 10 s")
            .expect("server task")
            .expect("serve");
        self.store.close().await;
    }
}

/// Where `url` points (the real PostgreSQL).
async fn upstream(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).expect("database url");
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let port = parsed.port().unwrap_or(5432);
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .expect("resolve the database host");
    addrs.next().expect("an address for the database host")
}

/// `url` with its host and port replaced by `proxy`.
fn via(url: &str, proxy: SocketAddr) -> String {
    let mut parsed = url::Url::parse(url).expect("database url");
    parsed
        .set_host(Some(&proxy.ip().to_string()))
        .expect("set host");
    parsed.set_port(Some(proxy.port())).expect("set port");
    parsed.to_string()
}

async fn readyz(client: &reqwest::Client, base: &str) -> (u16, Value) {
    let response = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Delivers every event from four tasks at once.
async fn deliver_concurrently(base: &str, events: Arc<Vec<TestEvent>>) -> Vec<(TestEvent, Answer)> {
    let mut tasks = JoinSet::new();
    for worker in 0..4 {
        let (events, base, client) = (events.clone(), base.to_owned(), client());
        tasks.spawn(async move {
            let mut answers = Vec::new();
            for event in events.iter().skip(worker).step_by(4) {
                let answer = deliver(&client, &base, &event.body)
                    .await
                    .unwrap_or_else(|e| panic!("deliver {}: {e}", event.id));
                answers.push((event.clone(), answer));
            }
            answers
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.expect("delivery task"));
    }
    assert_eq!(all.len(), events.len());
    all
}

async fn assert_counts(
    store: &Store,
    events: usize,
    payments: usize,
    customers: usize,
) -> ProjectionCounts {
    let counts = store.projection_counts().await.expect("projection counts");
    let n = |v: usize| i64::try_from(v).expect("fits");
    assert_eq!(
        (counts.events, counts.payments, counts.customers),
        (n(events), n(payments), n(customers)),
        "(events, payments, customers)"
    );
    counts
}
