//! `MachineKeyStore` and `Write::PutMachineKey`: keys found by their secret's hash, revoked keys
//! still found (so they can be refused), pages newest first, use times that only move forward
//! and write nothing to the change log, and a change-log entry per key write that never carries
//! the hash.

use nexus::domain::KeyId;
use nexus::domain::UserId;
use nexus::domain::change::ObjectKind;
use nexus::domain::machine_key::{KeyScope, MachineKey, secret_hash};
use nexus::domain::time;
use nexus::store::{Expect, IdKind, StoreError, Write};

use crate::{apply, backend, commit};

fn key(store: &dyn nexus::store::Store, name: &str, secret: &str) -> MachineKey {
    MachineKey {
        id: KeyId(store.allocate_id(IdKind::MachineKey)),
        name: name.into(),
        scopes: vec![KeyScope::Read],
        created_by: UserId(1),
        created_at: time::now(),
        last_used_at: None,
        revoked_at: None,
        secret_hash: secret_hash(secret),
    }
}

#[tokio::test]
async fn a_key_is_found_by_its_hash_and_by_id_revoked_or_not() {
    let (store, _guard) = backend().await;
    let mut k = key(store.as_ref(), "gateway", "nxk_a");
    let entries = commit(
        store.as_ref(),
        vec![Write::PutMachineKey(k.clone(), Expect::New)],
    )
    .await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind, ObjectKind::MachineKey);
    assert!(
        !entries[0].data.to_string().contains(&k.secret_hash),
        "the hash is not logged"
    );
    assert_eq!(
        store
            .machine_key_by_hash(&secret_hash("nxk_a"))
            .await
            .unwrap(),
        Some(k.clone())
    );
    assert_eq!(
        store
            .machine_key_by_hash(&secret_hash("nxk_b"))
            .await
            .unwrap(),
        None
    );
    k.revoked_at = Some(time::now());
    commit(
        store.as_ref(),
        vec![Write::PutMachineKey(k.clone(), Expect::Exists)],
    )
    .await;
    let found = store
        .machine_key_by_hash(&k.secret_hash)
        .await
        .unwrap()
        .expect("found");
    assert!(found.revoked_at.is_some());
    assert_eq!(store.machine_key(k.id).await.unwrap(), Some(k));
}

#[tokio::test]
async fn puts_keep_their_preconditions() {
    let (store, _guard) = backend().await;
    let k = key(store.as_ref(), "one", "nxk_one");
    let missing = apply(
        store.as_ref(),
        vec![Write::PutMachineKey(k.clone(), Expect::Exists)],
    )
    .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    commit(
        store.as_ref(),
        vec![Write::PutMachineKey(k.clone(), Expect::New)],
    )
    .await;
    let twice = apply(
        store.as_ref(),
        vec![Write::PutMachineKey(k.clone(), Expect::New)],
    )
    .await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let mut same_secret = key(store.as_ref(), "two", "nxk_one");
    same_secret.name = "two".into();
    let taken = apply(
        store.as_ref(),
        vec![Write::PutMachineKey(same_secret, Expect::New)],
    )
    .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
}

#[tokio::test]
async fn pages_are_newest_first_with_their_count() {
    let (store, _guard) = backend().await;
    assert_eq!(
        store.machine_key_page(0, 10).await.unwrap(),
        (Vec::new(), 0)
    );
    let mut ids = Vec::new();
    for n in 0..5 {
        let k = key(store.as_ref(), &format!("k{n}"), &format!("nxk_{n}"));
        ids.push(k.id);
        commit(store.as_ref(), vec![Write::PutMachineKey(k, Expect::New)]).await;
    }
    let (page, count) = store.machine_key_page(1, 2).await.unwrap();
    assert_eq!(count, 5);
    assert_eq!(
        page.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![ids[3], ids[2]]
    );
}

#[tokio::test]
async fn use_times_only_move_forward_and_are_not_changes() {
    let (store, _guard) = backend().await;
    let k = key(store.as_ref(), "screen", "nxk_s");
    commit(
        store.as_ref(),
        vec![Write::PutMachineKey(k.clone(), Expect::New)],
    )
    .await;
    let before = store.last_seq().await.unwrap();
    let later = time::now() + ::time::Duration::minutes(5);
    store
        .touch_machine_keys(vec![(k.id, later), (KeyId(999), later)])
        .await
        .unwrap();
    store
        .touch_machine_keys(vec![(k.id, time::now())])
        .await
        .unwrap();
    let found = store.machine_key(k.id).await.unwrap().expect("found");
    assert_eq!(found.last_used_at, Some(later));
    assert_eq!(
        store.last_seq().await.unwrap(),
        before,
        "no change-log entry"
    );
}
