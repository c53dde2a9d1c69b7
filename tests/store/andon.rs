//! Andon calls: the asset reference checked in the write, versions, the list filters paged in
//! the store, and the index of open calls that the escalation sweep reads.

use nexus::domain::andon::{AndonCall, AndonKind, AndonStatus};
use nexus::domain::change::{ChangeOp, ObjectKind};
use nexus::domain::shopfloor::{Asset, AssetKind, AssetState};
use nexus::domain::time::{self, Timestamp};
use nexus::domain::{AndonId, AssetId, UserId};
use nexus::store::{AndonFilter, Expect, IdKind, Store, StoreError, Write};

use crate::{apply, backend, commit};

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_timestamp(1_772_438_400 + secs).expect("a time") // 2026-03-02T08:00Z
}

async fn asset(store: &dyn Store, code: &str, parent: Option<AssetId>) -> AssetId {
    let now = time::now();
    let a = Asset {
        id: AssetId(store.allocate_id(IdKind::Asset)),
        code: code.into(),
        name: code.into(),
        kind: AssetKind::Machine,
        parent_id: parent,
        ideal_cycle_secs: None,
        is_active: true,
        state: AssetState::Running,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    commit(store, vec![Write::PutAsset(a.clone(), Expect::New)]).await;
    a.id
}

fn call(store: &dyn Store, asset: AssetId, kind: AndonKind, raised: i64) -> AndonCall {
    AndonCall {
        id: AndonId(store.allocate_id(IdKind::Andon)),
        asset_id: asset,
        kind,
        message: format!("{} help", kind.as_str()),
        status: AndonStatus::Open,
        level: 0,
        raised_by: UserId(1),
        raised_at: at(raised),
        acknowledged_by: None,
        acknowledged_at: None,
        resolved_by: None,
        resolved_at: None,
        resolution: None,
        created_at: at(raised),
        updated_at: at(raised),
        version: 1,
    }
}

fn ids(calls: &[AndonCall]) -> Vec<AndonId> {
    calls.iter().map(|c| c.id).collect()
}

#[tokio::test]
async fn andon_calls_need_an_existing_asset_and_the_version_read() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let m = asset(s, "M1", None).await;
    let err = apply(
        s,
        vec![Write::PutAndon(
            call(s, AssetId(9_999), AndonKind::Help, 0),
            Expect::New,
        )],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "asset_id",
                ..
            }
        ),
        "{err:?}"
    );
    let c = call(s, m, AndonKind::Help, 0);
    let entries = commit(s, vec![Write::PutAndon(c.clone(), Expect::New)]).await;
    assert_eq!(
        (entries[0].kind, entries[0].id, entries[0].op),
        (ObjectKind::Andon, c.id.0, ChangeOp::Created)
    );
    assert_eq!(s.andon(c.id).await.unwrap(), Some(c.clone()));

    let mut acked = c.clone();
    acked.status = AndonStatus::Acknowledged;
    acked.version = 2;
    let entries = commit(s, vec![Write::PutAndon(acked.clone(), Expect::Version(1))]).await;
    assert_eq!(entries[0].op, ChangeOp::Updated);
    // An escalation computed from the old version loses to the acknowledgement.
    let mut escalated = c.clone();
    escalated.level = 1;
    escalated.version = 2;
    let err = apply(s, vec![Write::PutAndon(escalated, Expect::Version(1))])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Stale), "{err:?}");
    assert_eq!(s.andon(c.id).await.unwrap(), Some(acked));
    let err = apply(
        s,
        vec![Write::PutAndon(
            call(s, m, AndonKind::Help, 0),
            Expect::Exists,
        )],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

#[tokio::test]
async fn andon_lists_filter_and_page_newest_first() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let line = asset(s, "LINE", None).await;
    let m = asset(s, "M1", Some(line)).await;
    let other = asset(s, "OTHER", None).await;
    let a = call(s, m, AndonKind::Quality, 10);
    let mut b = call(s, line, AndonKind::Safety, 20);
    b.level = 1;
    let mut c = call(s, other, AndonKind::Material, 30);
    c.status = AndonStatus::Resolved;
    let mut d = call(s, m, AndonKind::Help, 40);
    d.status = AndonStatus::Acknowledged;
    for x in [&a, &b, &c, &d] {
        commit(s, vec![Write::PutAndon(x.clone(), Expect::New)]).await;
    }
    let page = |filter: AndonFilter, offset, limit| {
        let store = store.clone();
        async move { store.andon_page(&filter, offset, limit).await.unwrap() }
    };
    let (n, all) = page(AndonFilter::default(), 0, 50).await;
    assert_eq!((n, ids(&all)), (4, vec![d.id, c.id, b.id, a.id]));
    let (n, second) = page(AndonFilter::default(), 1, 2).await;
    assert_eq!((n, ids(&second)), (4, vec![c.id, b.id]));
    let open = AndonFilter {
        open: Some(true),
        ..AndonFilter::default()
    };
    let (n, got) = page(open, 0, 50).await;
    assert_eq!((n, ids(&got)), (3, vec![d.id, b.id, a.id]));
    let (n, got) = page(
        AndonFilter {
            open: Some(true),
            ..AndonFilter::default()
        },
        1,
        1,
    )
    .await;
    assert_eq!((n, ids(&got)), (3, vec![b.id]), "count is of all matches");
    let status = AndonFilter {
        status: Some(AndonStatus::Open),
        ..AndonFilter::default()
    };
    assert_eq!(ids(&page(status, 0, 50).await.1), vec![b.id, a.id]);
    let subtree = AndonFilter {
        assets: Some(vec![m]),
        ..AndonFilter::default()
    };
    assert_eq!(ids(&page(subtree, 0, 50).await.1), vec![d.id, a.id]);
    let level = AndonFilter {
        level: Some(1),
        ..AndonFilter::default()
    };
    assert_eq!(ids(&page(level, 0, 50).await.1), vec![b.id]);
    let kind = AndonFilter {
        kind: Some(AndonKind::Material),
        open: Some(false),
        ..AndonFilter::default()
    };
    assert_eq!(ids(&page(kind, 0, 50).await.1), vec![c.id]);
}

#[tokio::test]
async fn only_open_calls_are_in_the_open_index_with_their_level() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let m = asset(s, "M1", None).await;
    let a = call(s, m, AndonKind::Help, 0);
    let b = call(s, m, AndonKind::Help, 100);
    let c = call(s, m, AndonKind::Help, 200);
    for x in [&a, &b, &c] {
        commit(s, vec![Write::PutAndon(x.clone(), Expect::New)]).await;
    }
    let due = s.open_andon_calls(at(100)).await.unwrap();
    assert_eq!(
        due.iter()
            .map(|o| (o.id, o.raised_at, o.level))
            .collect::<Vec<_>>(),
        vec![(a.id, at(0), 0), (b.id, at(100), 0)],
        "raised at or before the time, oldest first"
    );
    let mut up = a.clone();
    up.level = 2;
    up.version = 2;
    commit(s, vec![Write::PutAndon(up.clone(), Expect::Version(1))]).await;
    let mut acked = b.clone();
    acked.status = AndonStatus::Acknowledged;
    acked.version = 2;
    commit(s, vec![Write::PutAndon(acked, Expect::Version(1))]).await;
    let due = s.open_andon_calls(at(1_000)).await.unwrap();
    assert_eq!(
        due.iter().map(|o| (o.id, o.level)).collect::<Vec<_>>(),
        vec![(a.id, 2), (c.id, 0)],
        "an acknowledged call leaves the index; a level change is seen"
    );
    let mut resolved = up;
    resolved.status = AndonStatus::Resolved;
    resolved.version = 3;
    commit(s, vec![Write::PutAndon(resolved, Expect::Version(2))]).await;
    let due = s.open_andon_calls(at(1_000)).await.unwrap();
    assert_eq!(due.iter().map(|o| o.id).collect::<Vec<_>>(), vec![c.id]);
}
