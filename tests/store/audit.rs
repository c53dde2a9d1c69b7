//! The audit trail: appended with other writes, read newest first.

use nexus::domain::AuditId;
use nexus::domain::time;
use nexus::domain::user::Role;
use nexus::store::{AuditFilter, Write};

use crate::{audit_entry, backend, commit, user};

#[tokio::test]
async fn audit_entries_are_kept_whole_and_read_newest_first() {
    let (store, _guard) = backend().await;
    let admin = user(store.as_ref(), "admin", Role::Admin).await.id;
    assert!(
        store
            .audit_page(&nexus::store::AuditFilter::default(), 0, usize::MAX)
            .await
            .map(|p| p.1)
            .unwrap()
            .is_empty()
    );
    let mut written = Vec::new();
    for (i, action) in ["user.create", "activity.delete", "login.failed"]
        .iter()
        .enumerate()
    {
        let mut e = audit_entry(store.as_ref(), action, (i != 2).then_some(admin));
        e.ts += ::time::Duration::seconds(i as i64);
        commit(store.as_ref(), vec![Write::Audit(e.clone())]).await;
        written.push(e);
    }
    // Two in one changeset.
    let both = [
        audit_entry(store.as_ref(), "project.update", Some(admin)),
        audit_entry(store.as_ref(), "project.team", Some(admin)),
    ];
    commit(
        store.as_ref(),
        both.iter().cloned().map(Write::Audit).collect(),
    )
    .await;
    written.extend(both);

    let read = store
        .audit_page(&nexus::store::AuditFilter::default(), 0, usize::MAX)
        .await
        .map(|p| p.1)
        .unwrap();
    written.reverse();
    assert_eq!(read, written);
    let ids: Vec<AuditId> = read.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
}

/// The ids of a page, for comparing.
fn ids(entries: &[nexus::domain::audit::AuditEntry]) -> Vec<AuditId> {
    entries.iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn audit_pages_filter_count_and_read_newest_first() {
    let (store, _guard) = backend().await;
    let ann = user(store.as_ref(), "ann", Role::Admin).await.id;
    let bo = user(store.as_ref(), "bo", Role::User).await.id;
    // 30 entries: actions cycle over three, actors over ann, bo and none; the first ten are
    // an hour old.
    let mut all = Vec::new();
    for i in 0..30 {
        let action = ["login.success", "user.create", "activity.delete"][i % 3];
        let actor = [Some(ann), Some(bo), None][(i / 3) % 3];
        let mut e = audit_entry(store.as_ref(), action, actor);
        if i < 10 {
            e.ts -= ::time::Duration::hours(1);
        }
        commit(store.as_ref(), vec![Write::Audit(e.clone())]).await;
        all.push(e);
    }
    all.reverse();
    let since = time::now() - ::time::Duration::minutes(30);
    let filters = [
        AuditFilter::default(),
        AuditFilter {
            action: Some("user.create".into()),
            ..AuditFilter::default()
        },
        AuditFilter {
            actor: Some(bo),
            ..AuditFilter::default()
        },
        AuditFilter {
            action: Some("login.success".into()),
            actor: Some(ann),
            ..AuditFilter::default()
        },
        AuditFilter {
            since: Some(since),
            ..AuditFilter::default()
        },
        AuditFilter {
            action: Some("activity.delete".into()),
            actor: Some(bo),
            since: Some(since),
        },
        AuditFilter {
            action: Some("no.such".into()),
            ..AuditFilter::default()
        },
    ];
    for filter in &filters {
        let want: Vec<AuditId> = all
            .iter()
            .filter(|e| filter.action.as_ref().is_none_or(|a| &e.action == a))
            .filter(|e| filter.actor.is_none_or(|a| e.actor_id == Some(a)))
            .filter(|e| filter.since.is_none_or(|s| e.ts >= s))
            .map(|e| e.id)
            .collect();
        let (count, whole) = store.audit_page(filter, 0, 100).await.unwrap();
        assert_eq!(count, want.len(), "{filter:?}");
        assert_eq!(ids(&whole), want, "{filter:?}");
        // Page by page, of 4, the same rows in the same order; past the end, none.
        let mut paged = Vec::new();
        for page in 0..want.len().div_ceil(4) {
            let (n, rows) = store.audit_page(filter, page * 4, 4).await.unwrap();
            assert_eq!(n, want.len(), "{filter:?}");
            assert!(rows.len() <= 4);
            paged.extend(ids(&rows));
        }
        assert_eq!(paged, want, "{filter:?}");
        let (n, past) = store.audit_page(filter, 1000, 4).await.unwrap();
        assert_eq!((n, past.len()), (want.len(), 0), "{filter:?}");
    }
    // The entries themselves come back whole.
    let (_, first) = store.audit_page(&filters[0], 0, 1).await.unwrap();
    assert_eq!(first, all[..1]);
}

#[tokio::test]
async fn audit_pruning_removes_only_entries_before_the_cut_oldest_first_and_bounded() {
    let (store, _guard) = backend().await;
    let ann = user(store.as_ref(), "ann", Role::Admin).await.id;
    let mut old = Vec::new();
    for i in 0..5 {
        let mut e = audit_entry(store.as_ref(), "user.create", Some(ann));
        e.ts -= ::time::Duration::days(400 - i);
        commit(store.as_ref(), vec![Write::Audit(e.clone())]).await;
        old.push(e);
    }
    let recent = audit_entry(store.as_ref(), "user.create", Some(ann));
    commit(store.as_ref(), vec![Write::Audit(recent.clone())]).await;
    let cut = time::now() - ::time::Duration::days(365);

    assert_eq!(store.prune_audit(cut, 2).await.unwrap(), 2, "at most max");
    assert_eq!(store.prune_audit(cut, 100).await.unwrap(), 3);
    assert_eq!(store.prune_audit(cut, 100).await.unwrap(), 0);
    let left = store
        .audit_page(&nexus::store::AuditFilter::default(), 0, usize::MAX)
        .await
        .map(|p| p.1)
        .unwrap();
    assert_eq!(left, vec![recent.clone()]);
    // Counts and filtered pages follow the removal.
    let by_ann = AuditFilter {
        actor: Some(ann),
        action: Some("user.create".into()),
        ..AuditFilter::default()
    };
    for filter in [AuditFilter::default(), by_ann] {
        let (count, rows) = store.audit_page(&filter, 0, 10).await.unwrap();
        assert_eq!((count, ids(&rows)), (1, vec![recent.id]), "{filter:?}");
    }
}

#[tokio::test]
async fn since_counts_and_pages_across_days() {
    let (store, _guard) = backend().await;
    let ann = user(store.as_ref(), "ann", Role::Admin).await.id;
    let now = time::now();
    let mut written = Vec::new();
    for (hours, action) in [
        (100, "user.create"),
        (60, "user.create"),
        (49, "login.success"),
        (47, "user.create"),
        (30, "user.create"),
        (2, "login.success"),
        (0, "user.create"),
    ] {
        let mut e = audit_entry(store.as_ref(), action, Some(ann));
        e.ts = now - ::time::Duration::hours(hours);
        commit(store.as_ref(), vec![Write::Audit(e.clone())]).await;
        written.push(e);
    }
    written.reverse();
    for hours in [0, 1, 3, 48, 50, 61, 99, 101, 1000] {
        let since = now - ::time::Duration::hours(hours) - ::time::Duration::minutes(30);
        for action in [None, Some("user.create")] {
            let filter = AuditFilter {
                action: action.map(str::to_string),
                actor: Some(ann),
                since: Some(since),
            };
            let want: Vec<AuditId> = written
                .iter()
                .filter(|e| e.ts >= since && action.is_none_or(|a| e.action == a))
                .map(|e| e.id)
                .collect();
            let (count, rows) = store.audit_page(&filter, 0, 100).await.unwrap();
            assert_eq!(
                (count, ids(&rows)),
                (want.len(), want.clone()),
                "{filter:?}"
            );
            let (count, rows) = store.audit_page(&filter, 1, 2).await.unwrap();
            let second: Vec<AuditId> = want.iter().copied().skip(1).take(2).collect();
            assert_eq!((count, ids(&rows)), (want.len(), second), "{filter:?}");
        }
    }
}
