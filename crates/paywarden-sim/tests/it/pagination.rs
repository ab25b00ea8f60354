//! Cursor pagination walks every object once, newest first.

use crate::support::Server;

fn ids(page: &serde_json::Value) -> Vec<String> {
    page["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn walk_25_customers() -> anyhow::Result<()> {
    let server = Server::start().await?;
    let mut created = Vec::new();
    for n in 0..25 {
        let c = server
            .ok_post("/v1/customers", &format!("name=c{n}"))
            .await?;
        created.push(c["id"].as_str().unwrap_or_default().to_owned());
    }
    created.reverse();

    let mut seen = Vec::new();
    let mut path = "/v1/customers?limit=10".to_owned();
    let mut pages = 0;
    loop {
        let page = server.ok_get(&path).await?;
        pages += 1;
        let page_ids = ids(&page);
        seen.extend(page_ids.clone());
        if page["has_more"] != true {
            break;
        }
        let last = page_ids.last().cloned().unwrap_or_default();
        path = format!("/v1/customers?limit=10&starting_after={last}");
        anyhow::ensure!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);

    let before = server
        .ok_get(&format!(
            "/v1/customers?limit=3&ending_before={}",
            created[5]
        ))
        .await?;
    assert_eq!(ids(&before), created[2..5]);
    assert_eq!(before["has_more"], true);
    let first = server
        .ok_get(&format!("/v1/customers?ending_before={}", created[2]))
        .await?;
    assert_eq!(ids(&first), created[..2]);
    assert_eq!(first["has_more"], false);

    let everything = server
        .ok_get("/v1/customers?limit=100&created%5Bgte%5D=0&created[lte]=99999999999")
        .await?;
    assert_eq!(ids(&everything).len(), 25);
    let none = server.ok_get("/v1/customers?created[lt]=0").await?;
    assert!(ids(&none).is_empty());
    let bad = server.get("/v1/customers?created[gte]=soon").await?;
    assert_eq!(bad.status(), 400);
    let bad: serde_json::Value = bad.json().await?;
    assert_eq!(bad["error"]["param"], "created[gte]");

    let response = server
        .get("/v1/customers?ending_before=cus_unknown")
        .await?;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await?;
    assert_eq!(body["error"]["param"], "ending_before");
    Ok(())
}
