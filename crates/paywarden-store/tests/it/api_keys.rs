//! Operator API keys: stored by hash, found while live, listed, revoked.

use paywarden_core::ids::ApiKeyId;
use paywarden_store::{ApiKeyRole, ApiKeys, NewApiKey, StoreError};
use paywarden_testkit::backends;

fn new_key(name: &str, role: ApiKeyRole, hash_byte: char, created_at: i64) -> NewApiKey {
    NewApiKey {
        id: ApiKeyId::generate(),
        name: name.into(),
        role,
        key_hash: hash_byte.to_string().repeat(64),
        key_hint: format!("pwk_{name}"),
        created_at,
    }
}

#[tokio::test]
async fn a_created_key_is_found_by_its_hash() {
    for t in backends().await {
        let key = new_key("ops", ApiKeyRole::Admin, 'a', 1_000);
        t.store.create_api_key(&key).await.expect("create");
        let found = t
            .store
            .find_api_key(&key.key_hash)
            .await
            .expect("find")
            .unwrap_or_else(|| panic!("{}: key not found", t.name));
        assert_eq!(found.id, key.id, "{}", t.name);
        assert_eq!(found.name, "ops", "{}", t.name);
        assert_eq!(found.role, ApiKeyRole::Admin, "{}", t.name);
        assert_eq!(found.key_hint, "pwk_ops", "{}", t.name);
        assert_eq!(found.created_at, 1_000, "{}", t.name);
        assert_eq!(found.revoked_at, None, "{}", t.name);
    }
}

#[tokio::test]
async fn an_unknown_hash_finds_nothing() {
    for t in backends().await {
        t.store
            .create_api_key(&new_key("ops", ApiKeyRole::Admin, 'a', 1))
            .await
            .expect("create");
        let found = t.store.find_api_key(&"b".repeat(64)).await.expect("find");
        assert_eq!(found, None, "{}", t.name);
    }
}

#[tokio::test]
async fn a_revoked_key_is_not_found_but_still_listed() {
    for t in backends().await {
        let key = new_key("server", ApiKeyRole::Server, 'c', 1);
        t.store.create_api_key(&key).await.expect("create");
        assert!(
            t.store.revoke_api_key(&key.id, 77).await.expect("revoke"),
            "{}",
            t.name
        );
        assert_eq!(
            t.store.find_api_key(&key.key_hash).await.expect("find"),
            None,
            "{}",
            t.name
        );
        let listed = t.store.list_api_keys().await.expect("list");
        assert_eq!(listed.len(), 1, "{}", t.name);
        assert_eq!(listed[0].revoked_at, Some(77), "{}", t.name);
        assert!(
            !t.store
                .revoke_api_key(&key.id, 88)
                .await
                .expect("revoke again"),
            "{}: a key is revoked once",
            t.name
        );
        let listed = t.store.list_api_keys().await.expect("list");
        assert_eq!(listed[0].revoked_at, Some(77), "{}", t.name);
        assert!(
            !t.store
                .revoke_api_key(&ApiKeyId::generate(), 1)
                .await
                .expect("revoke unknown"),
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn keys_are_listed_oldest_first_with_their_roles() {
    for t in backends().await {
        let keys = [
            new_key("second", ApiKeyRole::Server, 'e', 200),
            new_key("first", ApiKeyRole::Admin, 'd', 100),
            new_key("third", ApiKeyRole::Admin, 'f', 300),
        ];
        for key in &keys {
            t.store.create_api_key(key).await.expect("create");
        }
        let listed = t.store.list_api_keys().await.expect("list");
        let names: Vec<(&str, ApiKeyRole)> =
            listed.iter().map(|k| (k.name.as_str(), k.role)).collect();
        assert_eq!(
            names,
            [
                ("first", ApiKeyRole::Admin),
                ("second", ApiKeyRole::Server),
                ("third", ApiKeyRole::Admin)
            ],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn two_keys_cannot_share_a_hash() {
    for t in backends().await {
        t.store
            .create_api_key(&new_key("one", ApiKeyRole::Admin, 'a', 1))
            .await
            .expect("create");
        let result = t
            .store
            .create_api_key(&new_key("two", ApiKeyRole::Server, 'a', 2))
            .await;
        assert!(
            matches!(result, Err(StoreError::Constraint(_))),
            "{}: {result:?}",
            t.name
        );
        assert_eq!(
            t.store.list_api_keys().await.expect("list").len(),
            1,
            "{}",
            t.name
        );
    }
}
