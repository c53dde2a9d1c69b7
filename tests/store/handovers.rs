//! Shift handovers: references checked inside the write, the list paged newest first with its
//! filters read from the index, and the due reads the acknowledgement sweep makes (submitted,
//! not acknowledged, not yet reported; by submission time).

use nexus::domain::change::ChangeOp;
use nexus::domain::handover::{Handover, HandoverStatus};
use nexus::domain::shopfloor::{Asset, AssetKind, AssetState, Shift, Weekday};
use nexus::domain::time::Timestamp;
use nexus::domain::{ActivityId, AssetId, HandoverId, ShiftId, UserId};
use nexus::store::{Expect, HandoverFilter, IdKind, Store, StoreError, Write};

use crate::{apply, backend, commit};

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_timestamp(1_772_438_400 + secs).expect("a time") // 2026-03-02T08:00Z
}

async fn plant(store: &dyn Store, code: &str) -> (AssetId, ShiftId) {
    let asset = Asset {
        id: AssetId(store.allocate_id(IdKind::Asset)),
        code: code.into(),
        name: code.into(),
        kind: AssetKind::Line,
        parent_id: None,
        ideal_cycle_secs: None,
        is_active: true,
        state: AssetState::Running,
        created_at: at(0),
        updated_at: at(0),
        version: 1,
    };
    let shift = Shift {
        id: ShiftId(store.allocate_id(IdKind::Shift)),
        name: format!("{code} early"),
        starts: "06:00".into(),
        ends: "14:00".into(),
        days: vec![Weekday::Mon],
        created_at: at(0),
        updated_at: at(0),
        version: 1,
    };
    let ids = (asset.id, shift.id);
    commit(
        store,
        vec![
            Write::PutAsset(asset, Expect::New),
            Write::PutShift(shift, Expect::New),
        ],
    )
    .await;
    ids
}

fn handover(store: &dyn Store, asset: AssetId, shift: ShiftId, created: i64) -> Handover {
    Handover {
        id: HandoverId(store.allocate_id(IdKind::Handover)),
        asset_id: asset,
        shift_id: shift,
        summary: "Ran fine".into(),
        open_issues: String::new(),
        safety_notes: String::new(),
        activity_ids: Vec::new(),
        status: HandoverStatus::Draft,
        written_by: UserId(1),
        submitted_at: None,
        acknowledged_by: None,
        acknowledged_at: None,
        ack_comment: String::new(),
        overdue_at: None,
        created_at: at(created),
        updated_at: at(created),
        version: 1,
    }
}

/// `h` moved to `status` (at `secs`), its version bumped, stored against the old version.
async fn moved(store: &dyn Store, h: &Handover, status: HandoverStatus, secs: i64) -> Handover {
    let mut new = h.clone();
    new.status = status;
    match status {
        HandoverStatus::Submitted => new.submitted_at = Some(at(secs)),
        HandoverStatus::Acknowledged => {
            new.acknowledged_at = Some(at(secs));
            new.acknowledged_by = Some(UserId(2));
        }
        HandoverStatus::Draft => {}
    }
    new.version += 1;
    commit(
        store,
        vec![Write::PutHandover(new.clone(), Expect::Version(h.version))],
    )
    .await;
    new
}

fn ids(rows: &[Handover]) -> Vec<HandoverId> {
    rows.iter().map(|h| h.id).collect()
}

#[tokio::test]
async fn handovers_name_an_existing_asset_shift_and_activities() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let (asset, shift) = plant(s, "L1").await;
    let h = handover(s, asset, shift, 0);
    let entries = commit(s, vec![Write::PutHandover(h.clone(), Expect::New)]).await;
    assert_eq!((entries[0].id, entries[0].op), (h.id.0, ChangeOp::Created));
    assert_eq!(entries[0].data["summary"], "Ran fine");
    assert_eq!(s.handover(h.id).await.unwrap(), Some(h.clone()));

    type Change = Box<dyn Fn(&mut Handover)>;
    let cases: [(Change, &str); 3] = [
        (Box::new(|h| h.asset_id = AssetId(9_999)), "asset_id"),
        (Box::new(|h| h.shift_id = ShiftId(9_999)), "shift_id"),
        (
            Box::new(|h| h.activity_ids = vec![ActivityId(9_999)]),
            "activity_ids",
        ),
    ];
    for (change, field) in cases {
        let mut bad = handover(s, asset, shift, 1);
        change(&mut bad);
        let err = apply(s, vec![Write::PutHandover(bad.clone(), Expect::New)])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { field: f, .. } if f == field),
            "{field}: {err:?}"
        );
        assert_eq!(s.handover(bad.id).await.unwrap(), None);
    }

    let err = apply(s, vec![Write::PutHandover(h.clone(), Expect::Version(5))])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Stale), "{err:?}");
    let err = apply(s, vec![Write::PutHandover(h.clone(), Expect::New)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    // An asset with handovers is not deleted.
    let err = apply(s, vec![Write::DeleteAsset(asset)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let entries = commit(s, vec![Write::DeleteHandover(h.id)]).await;
    assert_eq!(entries[0].op, ChangeOp::Deleted);
    assert_eq!(s.handover(h.id).await.unwrap(), None);
    let err = apply(s, vec![Write::DeleteHandover(h.id)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let (n, _) = s
        .handover_page(&HandoverFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(n, 0, "the index forgets a deleted handover");
}

#[tokio::test]
async fn the_list_is_newest_first_and_filtered_in_the_store() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let (l1, shift) = plant(s, "L1").await;
    let (l2, _) = plant(s, "L2").await;
    let a = handover(s, l1, shift, 10);
    let mut b = handover(s, l2, shift, 20);
    b.written_by = UserId(2);
    let c = handover(s, l1, shift, 30);
    for h in [&a, &b, &c] {
        commit(s, vec![Write::PutHandover(h.clone(), Expect::New)]).await;
    }
    let c = moved(s, &c, HandoverStatus::Submitted, 40).await;

    let page = |filter: HandoverFilter, offset, limit| async move {
        let (n, rows) = s.handover_page(&filter, offset, limit).await.unwrap();
        (n, ids(&rows))
    };
    assert_eq!(
        page(HandoverFilter::default(), 0, 10).await,
        (3, vec![c.id, b.id, a.id])
    );
    assert_eq!(page(HandoverFilter::default(), 1, 1).await, (3, vec![b.id]));
    let cases = [
        (
            HandoverFilter {
                assets: Some(vec![l1]),
                ..HandoverFilter::default()
            },
            vec![c.id, a.id],
        ),
        (
            HandoverFilter {
                status: Some(HandoverStatus::Draft),
                ..HandoverFilter::default()
            },
            vec![b.id, a.id],
        ),
        (
            HandoverFilter {
                status: Some(HandoverStatus::Submitted),
                ..HandoverFilter::default()
            },
            vec![c.id],
        ),
        (
            HandoverFilter {
                written_by: Some(UserId(2)),
                ..HandoverFilter::default()
            },
            vec![b.id],
        ),
        (
            HandoverFilter {
                from: Some(at(20)),
                to: Some(at(30)),
                ..HandoverFilter::default()
            },
            vec![b.id],
        ),
    ];
    for (filter, want) in cases {
        let n = want.len();
        assert_eq!(page(filter.clone(), 0, 10).await, (n, want), "{filter:?}");
    }
    let filter = HandoverFilter {
        assets: Some(vec![l1]),
        ..HandoverFilter::default()
    };
    assert_eq!(page(filter, 1, 5).await, (2, vec![a.id]));
}

#[tokio::test]
async fn due_handovers_are_the_submitted_unacknowledged_unreported_ones_oldest_first() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let (asset, shift) = plant(s, "L1").await;
    let mut rows = Vec::new();
    for i in 0..4 {
        let h = handover(s, asset, shift, i);
        commit(s, vec![Write::PutHandover(h.clone(), Expect::New)]).await;
        rows.push(h);
    }
    // Submitted at 100, 50 and 200; the fourth stays a draft.
    let first = moved(s, &rows[0], HandoverStatus::Submitted, 100).await;
    let second = moved(s, &rows[1], HandoverStatus::Submitted, 50).await;
    let third = moved(s, &rows[2], HandoverStatus::Submitted, 200).await;

    assert!(s.handovers_due(at(49), 10).await.unwrap().is_empty());
    assert_eq!(
        ids(&s.handovers_due(at(100), 10).await.unwrap()),
        [second.id, first.id],
        "submitted at or before the time, oldest first"
    );
    assert_eq!(
        ids(&s.handovers_due(at(1000), 1).await.unwrap()),
        [second.id]
    );

    // Acknowledged, or reported overdue: no longer due.
    moved(s, &second, HandoverStatus::Acknowledged, 120).await;
    let mut reported = first.clone();
    reported.overdue_at = Some(at(2000));
    reported.version += 1;
    commit(
        s,
        vec![Write::PutHandover(reported, Expect::Version(first.version))],
    )
    .await;
    assert_eq!(
        ids(&s.handovers_due(at(1000), 10).await.unwrap()),
        [third.id]
    );
    commit(s, vec![Write::DeleteHandover(third.id)]).await;
    assert!(s.handovers_due(at(10_000), 10).await.unwrap().is_empty());
}
