//! The shop floor: assets (tree, codes, derived state), reasons (leaves), downtime events (no
//! overlap per asset, decided inside the write) and production counts, and the time-range reads
//! the OEE uses.

use std::sync::Arc;

use nexus::domain::change::ChangeOp;
use nexus::domain::shopfloor::{
    Asset, AssetKind, AssetState, DowntimeEvent, DowntimeReason, Loss, ProductionCount,
};
use nexus::domain::time::{self, Timestamp};
use nexus::domain::{AssetId, DowntimeId, ProductionId, ReasonId, UserId};
use nexus::store::{
    AssetFilter, CountSpan, DowntimeFilter, Expect, IdKind, ProductionFilter, Store, StoreError,
    Write,
};

use crate::{apply, backend, commit};

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_timestamp(1_772_438_400 + secs).expect("a time") // 2026-03-02T08:00Z
}

fn base(secs: i64) -> i64 {
    1_772_438_400 + secs
}

fn asset(store: &dyn Store, code: &str, parent: Option<AssetId>) -> Asset {
    let now = time::now();
    Asset {
        id: AssetId(store.allocate_id(IdKind::Asset)),
        code: code.into(),
        name: format!("{code} name"),
        kind: AssetKind::Machine,
        parent_id: parent,
        ideal_cycle_secs: Some(30.0),
        is_active: true,
        state: AssetState::Running,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

fn reason(store: &dyn Store, code: &str, parent: Option<ReasonId>) -> DowntimeReason {
    let now = time::now();
    DowntimeReason {
        id: ReasonId(store.allocate_id(IdKind::Reason)),
        code: code.into(),
        name: code.into(),
        parent_id: parent,
        planned: false,
        loss: Loss::Availability,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

fn event(store: &dyn Store, asset: AssetId, from: i64, to: Option<i64>) -> DowntimeEvent {
    let now = time::now();
    DowntimeEvent {
        id: DowntimeId(store.allocate_id(IdKind::Downtime)),
        asset_id: asset,
        reason_id: None,
        started_at: at(from),
        ended_at: to.map(at),
        note: String::new(),
        reported_by: UserId(1),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

fn count(store: &dyn Store, asset: AssetId, from: i64, to: i64, total: u64) -> ProductionCount {
    let now = time::now();
    ProductionCount {
        id: ProductionId(store.allocate_id(IdKind::Production)),
        asset_id: asset,
        started_at: at(from),
        ended_at: at(to),
        total_count: total,
        good_count: total,
        reported_by: UserId(1),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

#[tokio::test]
async fn assets_keep_a_tree_without_cycles_and_unique_codes() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let site = asset(s, "SITE", None);
    let line = asset(s, "LINE", Some(site.id));
    let machine = asset(s, "M1", Some(line.id));
    for a in [&site, &line, &machine] {
        let entries = commit(s, vec![Write::PutAsset(a.clone(), Expect::New)]).await;
        assert_eq!((entries[0].id, entries[0].op), (a.id.0, ChangeOp::Created));
    }
    assert_eq!(
        s.asset_subtree(site.id).await.unwrap(),
        vec![site.id, line.id, machine.id]
    );
    assert!(s.asset_has_children(line.id).await.unwrap());
    assert!(!s.asset_has_children(machine.id).await.unwrap());

    let dup = asset(s, "m1", None);
    let err = apply(s, vec![Write::PutAsset(dup, Expect::New)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let mut cyclic = site.clone();
    cyclic.parent_id = Some(machine.id);
    let err = apply(s, vec![Write::PutAsset(cyclic, Expect::Version(1))])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "parent_id",
                ..
            }
        ),
        "{err:?}"
    );

    let orphan = asset(s, "ORPHAN", Some(AssetId(9_999)));
    let err = apply(s, vec![Write::PutAsset(orphan, Expect::New)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "parent_id",
                ..
            }
        ),
        "{err:?}"
    );

    let mut stale = machine.clone();
    stale.name = "x".into();
    let err = apply(s, vec![Write::PutAsset(stale, Expect::Version(3))])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Stale), "{err:?}");

    // The list: by code, a page at a time, filtered by parent and q.
    let (n, page) = s.asset_page(&AssetFilter::default(), 1, 1).await.unwrap();
    assert_eq!((n, page[0].code.as_str()), (3, "M1"));
    let filter = AssetFilter {
        parent: Some(site.id),
        ..AssetFilter::default()
    };
    assert_eq!(s.asset_page(&filter, 0, 10).await.unwrap().1[0].id, line.id);
    let filter = AssetFilter {
        q: Some("line NAME".into()),
        ..AssetFilter::default()
    };
    assert_eq!(s.asset_page(&filter, 0, 10).await.unwrap().0, 1);

    // A parent is not deleted; a leaf is, and its code is free again.
    let err = apply(s, vec![Write::DeleteAsset(line.id)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    commit(s, vec![Write::DeleteAsset(machine.id)]).await;
    commit(s, vec![Write::PutAsset(asset(s, "M1", None), Expect::New)]).await;
}

#[tokio::test]
async fn downtime_events_never_overlap_and_set_the_asset_state() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let m = asset(s, "M1", None);
    commit(s, vec![Write::PutAsset(m.clone(), Expect::New)]).await;
    let first = event(s, m.id, 0, Some(600));
    commit(s, vec![Write::PutDowntime(first.clone(), Expect::New)]).await;

    for (from, to) in [
        (300, Some(900)),
        (-60, Some(1)),
        (100, Some(200)),
        (-100, None),
    ] {
        let err = apply(
            s,
            vec![Write::PutDowntime(event(s, m.id, from, to), Expect::New)],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(_)),
            "{from} {to:?}: {err:?}"
        );
    }
    // Touching either end is fine; an open one makes the asset down, logged as an asset change.
    commit(
        s,
        vec![Write::PutDowntime(
            event(s, m.id, -600, Some(0)),
            Expect::New,
        )],
    )
    .await;
    let open = event(s, m.id, 600, None);
    let entries = commit(s, vec![Write::PutDowntime(open.clone(), Expect::New)]).await;
    assert_eq!(entries.len(), 2, "the event and its asset's new state");
    assert_eq!(entries[1].id, m.id.0);
    assert_eq!(entries[1].data["state"], "down");
    assert_eq!(
        s.asset(m.id).await.unwrap().unwrap().state,
        AssetState::Down
    );
    let err = apply(
        s,
        vec![Write::PutDowntime(
            event(s, m.id, 10_000, Some(10_060)),
            Expect::New,
        )],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "after an open event: {err:?}"
    );

    // A changeset refused for an overlap leaves nothing behind, the end of the open one neither.
    let clash = event(s, m.id, 100, Some(200));
    let mut ended = open.clone();
    ended.ended_at = Some(at(700));
    ended.version = 2;
    let err = apply(
        s,
        vec![
            Write::PutDowntime(ended.clone(), Expect::Version(1)),
            Write::PutDowntime(clash, Expect::New),
        ],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        s.asset(m.id).await.unwrap().unwrap().state,
        AssetState::Down,
        "nothing applied"
    );
    commit(s, vec![Write::PutDowntime(ended, Expect::Version(1))]).await;
    assert_eq!(
        s.asset(m.id).await.unwrap().unwrap().state,
        AssetState::Running
    );

    // Of many concurrent writes that overlap, exactly one commits.
    let store: Arc<dyn Store> = store.clone();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        let e = event(store.as_ref(), m.id, 50_000 + i, None);
        tasks.push(tokio::spawn(async move {
            store
                .apply(nexus::store::Changeset {
                    writes: vec![Write::PutDowntime(e, Expect::New)],
                    actor: None,
                })
                .await
                .is_ok()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn only_leaf_reasons_go_on_events_and_a_used_reason_stays_a_leaf() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let m = asset(s, "M1", None);
    let parent = reason(s, "MECH", None);
    let leaf = reason(s, "JAM", Some(parent.id));
    // Preconditions are checked before a changeset writes, so a child comes in after its parent.
    commit(
        s,
        vec![
            Write::PutAsset(m.clone(), Expect::New),
            Write::PutReason(parent.clone(), Expect::New),
        ],
    )
    .await;
    commit(s, vec![Write::PutReason(leaf.clone(), Expect::New)]).await;
    let mut on_parent = event(s, m.id, 0, Some(60));
    on_parent.reason_id = Some(parent.id);
    let err = apply(s, vec![Write::PutDowntime(on_parent, Expect::New)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "reason_id",
                ..
            }
        ),
        "{err:?}"
    );
    let mut on_leaf = event(s, m.id, 0, Some(60));
    on_leaf.reason_id = Some(leaf.id);
    commit(s, vec![Write::PutDowntime(on_leaf.clone(), Expect::New)]).await;
    let err = apply(
        s,
        vec![Write::PutReason(
            reason(s, "JAM-A", Some(leaf.id)),
            Expect::New,
        )],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = apply(s, vec![Write::DeleteReason(leaf.id)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let filter = DowntimeFilter {
        reason: Some(leaf.id),
        ..DowntimeFilter::default()
    };
    let (n, page) = s.downtime_page(&filter, 0, 10).await.unwrap();
    assert_eq!((n, page[0].id), (1, on_leaf.id));
    assert_eq!(s.reason_page(0, 10).await.unwrap().0, 2);
}

#[tokio::test]
async fn time_ranges_find_what_overlaps_a_window_only() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let m = asset(s, "M1", None);
    let other = asset(s, "M2", None);
    commit(
        s,
        vec![
            Write::PutAsset(m.clone(), Expect::New),
            Write::PutAsset(other.clone(), Expect::New),
        ],
    )
    .await;
    let events = [
        event(s, m.id, 0, Some(100)),
        event(s, m.id, 200, Some(400)),
        event(s, m.id, 500, Some(600)),
        event(s, m.id, 700, None),
        event(s, other.id, 250, Some(300)),
    ];
    for e in &events {
        commit(s, vec![Write::PutDowntime(e.clone(), Expect::New)]).await;
    }
    let found: Vec<DowntimeId> = s
        .stops_between(m.id, base(300), base(550))
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(found, vec![events[1].id, events[2].id]);
    let open = s
        .stops_between(m.id, base(10_000), base(20_000))
        .await
        .unwrap();
    assert_eq!(
        (open.len(), open[0].end),
        (1, None),
        "an open event reaches every later window"
    );

    // A long count that began well before the window still reaches into it.
    for c in [
        count(s, m.id, -7_200, 3_600, 100),
        count(s, m.id, 0, 60, 1),
        count(s, m.id, 4_000, 4_060, 2),
        count(s, other.id, 0, 60, 3),
    ] {
        commit(s, vec![Write::PutProduction(c, Expect::New)]).await;
    }
    let spans = s
        .counts_between(m.id, base(3_000), base(4_030))
        .await
        .unwrap();
    assert_eq!(
        spans,
        vec![
            CountSpan {
                start: base(-7_200),
                end: base(3_600),
                total: 100,
                good: 100
            },
            CountSpan {
                start: base(4_000),
                end: base(4_060),
                total: 2,
                good: 2
            },
        ]
    );

    // Lists: newest first, by asset and window, paged with the full count.
    let filter = DowntimeFilter {
        assets: Some(vec![m.id]),
        from: Some(at(150)),
        ..DowntimeFilter::default()
    };
    let (n, page) = s.downtime_page(&filter, 1, 2).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![events[2].id, events[1].id]
    );
    let open = DowntimeFilter {
        open: Some(true),
        ..DowntimeFilter::default()
    };
    assert_eq!(s.downtime_page(&open, 0, 10).await.unwrap().0, 1);
    let (n, _) = s
        .production_page(
            &ProductionFilter {
                assets: Some(vec![other.id]),
                ..ProductionFilter::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        s.production_page(&ProductionFilter::default(), 0, 2)
            .await
            .unwrap()
            .0,
        4
    );
}
