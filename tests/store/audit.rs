//! The audit trail: appended with other writes, read newest first.

use nexus::domain::AuditId;
use nexus::domain::user::Role;
use nexus::store::Write;

use crate::{audit_entry, backend, commit, user};

#[tokio::test]
async fn audit_entries_are_kept_whole_and_read_newest_first() {
    let (store, _guard) = backend().await;
    let admin = user(store.as_ref(), "admin", Role::Admin).await.id;
    assert!(store.audit_entries().await.unwrap().is_empty());
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

    let read = store.audit_entries().await.unwrap();
    written.reverse();
    assert_eq!(read, written);
    let ids: Vec<AuditId> = read.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
}
