//! `--state FILE`: objects saved by one sim come back in another, on
//! another port, with the same ids, fields and list order; a file that is
//! not a state file stops the start instead of being replaced.

use std::path::Path;
use std::time::{Duration, Instant};

use paywarden_sim::persist::{self, PersistError};
use paywarden_sim::state::Settings;
use paywarden_sim::Sim;
use serde_json::Value;

use crate::support::KEY;

/// A sim we keep a handle on, served on port 0.
struct Running {
    base: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Running {
    async fn start(sim: Sim) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(paywarden_sim::serve(listener, sim, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        })
    }

    async fn post(&self, path: &str, body: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 200,
            "POST {path}: {}",
            response.status()
        );
        Ok(response.json().await?)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(KEY)
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 200,
            "GET {path}: {}",
            response.status()
        );
        Ok(response.json().await?)
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .map(|data| {
            data.iter()
                .filter_map(|o| o["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Creates three customers (one deleted, one updated) and a product with
/// two prices; returns the ids to look up later.
async fn populate(server: &Running) -> anyhow::Result<(Vec<String>, String, Vec<String>)> {
    let mut customers = Vec::new();
    for name in ["Ada", "Grace", "Edsger"] {
        let customer = server
            .post(
                "/v1/customers",
                &format!("name={name}&metadata[who]={name}"),
            )
            .await?;
        customers.push(customer["id"].as_str().unwrap_or_default().to_owned());
    }
    server
        .post(
            &format!("/v1/customers/{}", customers[1]),
            "email=grace%40example.com",
        )
        .await?;
    let deleted = server
        .client
        .delete(format!("{}/v1/customers/{}", server.base, customers[2]))
        .bearer_auth(KEY)
        .send()
        .await?;
    anyhow::ensure!(deleted.status() == 200, "DELETE: {}", deleted.status());
    let product = server.post("/v1/products", "name=Pro").await?;
    let product = product["id"].as_str().unwrap_or_default().to_owned();
    let mut prices = Vec::new();
    for (amount, key) in [(900, "pro_monthly"), (9000, "pro_yearly")] {
        let interval = if amount == 900 { "month" } else { "year" };
        let price = server
            .post(
                "/v1/prices",
                &format!(
                    "product={product}&unit_amount={amount}&currency=usd&recurring[interval]={interval}&lookup_key={key}"
                ),
            )
            .await?;
        prices.push(price["id"].as_str().unwrap_or_default().to_owned());
    }
    Ok((customers, product, prices))
}

#[tokio::test]
async fn saved_objects_come_back_with_their_ids_fields_and_order() -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let file = dir.join("sim.json");
    let first_sim = persist::open(&file, Settings::default())?;
    let first = Running::start(first_sim.clone()).await?;
    let (customers, product, prices) = populate(&first).await?;
    let customer_list = first.get("/v1/customers?limit=10").await?;
    let price_list = first.get("/v1/prices?limit=10").await?;
    let events = event_ids(&first_sim);
    assert!(!events.is_empty(), "the changes recorded events");
    let grace = first
        .get(&format!("/v1/customers/{}", customers[1]))
        .await?;
    let yearly = first
        .get(&format!("/v1/prices/{}?expand[]=product", prices[1]))
        .await?;
    persist::save(&first_sim, &file)?;
    drop(first);

    let second_sim = persist::open(&file, Settings::default())?;
    assert_eq!(
        event_ids(&second_sim),
        events,
        "recorded events are kept, in order"
    );
    let second = Running::start(second_sim).await?;
    assert_ne!(second.base, "", "a new server");
    assert_eq!(
        second
            .get(&format!("/v1/customers/{}", customers[1]))
            .await?,
        grace,
        "the updated customer, field for field"
    );
    assert_eq!(
        second
            .get(&format!("/v1/prices/{}?expand[]=product", prices[1]))
            .await?,
        yearly
    );
    assert_eq!(
        second.get(&format!("/v1/products/{product}")).await?["name"],
        "Pro"
    );
    let stub = second
        .get(&format!("/v1/customers/{}", customers[2]))
        .await?;
    assert_eq!(stub["deleted"], true, "a deleted customer stays deleted");
    let again = second.get("/v1/customers?limit=10").await?;
    assert_eq!(ids(&again), ids(&customer_list), "same order, newest first");
    assert_eq!(
        ids(&again),
        vec![customers[1].clone(), customers[0].clone()]
    );
    assert_eq!(
        ids(&second.get("/v1/prices?limit=10").await?),
        ids(&price_list)
    );
    let by_key = second.get("/v1/prices?lookup_keys[]=pro_monthly").await?;
    assert_eq!(
        ids(&by_key),
        vec![prices[0].clone()],
        "lookup keys still resolve"
    );
    // New objects made after the restart list before the old ones.
    let newer = second.post("/v1/customers", "name=Barbara").await?;
    let listed = ids(&second.get("/v1/customers?limit=1").await?);
    assert_eq!(
        listed,
        vec![newer["id"].as_str().unwrap_or_default().to_owned()]
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_file_is_an_empty_sim_and_a_corrupt_one_an_error() -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let file = dir.join("absent.json");
    assert!(persist::load(&file)?.is_none(), "no file: nothing to load");
    let empty = persist::open(&file, Settings::default())?;
    assert!(empty.objects().customers.is_empty());

    for (name, content) in [
        (
            "truncated.json",
            &br#"{"format":1,"objects":{"customers":"#[..],
        ),
        ("garbage.json", b"not json at all"),
        ("empty.json", b""),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, content)?;
        let err = persist::load(&file).err();
        assert!(
            matches!(&err, Some(PersistError::Corrupt { .. })),
            "{name}: {err:?}"
        );
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains(name),
            "the message names the file: {message}"
        );
        assert_eq!(std::fs::read(&file)?, content, "{name} is left as it was");
    }
    let future = dir.join("future.json");
    std::fs::write(&future, br#"{"format":99,"objects":{}}"#)?;
    assert!(matches!(
        persist::load(&future),
        Err(PersistError::Format { found: 99, .. })
    ));
    Ok(())
}

#[tokio::test]
async fn keep_saved_writes_after_a_change_and_on_stop() -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let file = dir.join("kept.json");
    let sim = persist::open(&file, Settings::default())?;
    let server = Running::start(sim.clone()).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let saver = tokio::spawn(persist::keep_saved(
        sim.clone(),
        file.clone(),
        Duration::from_millis(50),
        async move {
            let _ = stopped.await;
        },
    ));
    let ada = server.post("/v1/customers", "name=Ada").await?;
    let ada = ada["id"].as_str().unwrap_or_default().to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let saved = persist::load(&file)?;
        if saved.is_some_and(|o| o.customers.get(&ada).is_some()) {
            break;
        }
        assert!(Instant::now() < deadline, "{ada} not saved within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!tmp_of(&file).exists(), "no temporary file is left behind");

    // A change just before stopping is in the file once the saver ends.
    let grace = server.post("/v1/customers", "name=Grace").await?;
    let grace = grace["id"].as_str().unwrap_or_default().to_owned();
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), saver).await???;
    let saved = persist::load(&file)?.unwrap_or_default();
    assert!(
        saved.customers.get(&grace).is_some(),
        "{grace} saved on stop"
    );
    assert_eq!(saved.customers.len(), 2);
    Ok(())
}

fn event_ids(sim: &Sim) -> Vec<String> {
    sim.objects()
        .events
        .newest_first()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

fn tmp_of(file: &Path) -> std::path::PathBuf {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    tmp.into()
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> anyhow::Result<TempDir> {
    let dir = std::env::temp_dir().join(paywarden_sim::ids::new_id("paywarden-sim-state-"));
    std::fs::create_dir_all(&dir)?;
    Ok(TempDir(dir))
}
