//! Updates (announcements) and notifications: writes, reads, and marking read only by the
//! recipient.

use nexus::domain::change::ChangeOp;
use nexus::domain::update::Notification;
use nexus::domain::user::Role;
use nexus::domain::{NotificationId, UpdateId};
use nexus::store::{Expect, StoreError, Write};

use crate::{apply, backend, commit, kind_of, notification, update, user};

#[tokio::test]
async fn updates_are_created_replaced_listed_in_id_order_and_deleted() {
    let (store, _guard) = backend().await;
    let author = user(store.as_ref(), "author", Role::Staff).await.id;
    let mut made = Vec::new();
    for title in ["Canteen closed", "New PPE rules", "Fire drill"] {
        let u = update(store.as_ref(), title, author);
        let entries = commit(
            store.as_ref(),
            vec![Write::PutUpdate(u.clone(), Expect::New)],
        )
        .await;
        assert_eq!((entries[0].id, entries[0].op), (u.id.0, ChangeOp::Created));
        assert_eq!(kind_of(&entries[0]), "update");
        made.push(u);
    }
    assert_eq!(
        store.update(made[0].id).await.unwrap(),
        Some(made[0].clone())
    );
    let listed: Vec<UpdateId> = crate::all_updates(store.as_ref())
        .await
        .iter()
        .map(|u| u.id)
        .collect();
    let mut ids: Vec<UpdateId> = made.iter().map(|u| u.id).collect();
    ids.sort();
    assert_eq!(listed, ids);

    let mut changed = made[1].clone();
    changed.content = "Gloves in every bay".into();
    let entries = commit(
        store.as_ref(),
        vec![Write::PutUpdate(changed.clone(), Expect::Exists)],
    )
    .await;
    assert_eq!(entries[0].op, ChangeOp::Updated);
    assert_eq!(
        store.update(changed.id).await.unwrap(),
        Some(changed.clone())
    );

    let entries = commit(store.as_ref(), vec![Write::DeleteUpdate(made[0].id)]).await;
    assert_eq!(
        (entries[0].id, entries[0].op),
        (made[0].id.0, ChangeOp::Deleted)
    );
    assert!(store.update(made[0].id).await.unwrap().is_none());
    assert_eq!(crate::all_updates(store.as_ref()).await.len(), 2);
}

#[tokio::test]
async fn update_expectations_are_checked() {
    let (store, _guard) = backend().await;
    let author = user(store.as_ref(), "author", Role::Staff).await.id;
    let u = update(store.as_ref(), "Canteen closed", author);
    commit(
        store.as_ref(),
        vec![Write::PutUpdate(u.clone(), Expect::New)],
    )
    .await;
    let again = apply(
        store.as_ref(),
        vec![Write::PutUpdate(u.clone(), Expect::New)],
    )
    .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let missing = update(store.as_ref(), "Nothing", author);
    let put = apply(
        store.as_ref(),
        vec![Write::PutUpdate(missing.clone(), Expect::Exists)],
    )
    .await;
    assert!(matches!(put, Err(StoreError::NotFound)), "{put:?}");
    assert!(store.update(missing.id).await.unwrap().is_none());
    let delete = apply(store.as_ref(), vec![Write::DeleteUpdate(missing.id)]).await;
    assert!(matches!(delete, Err(StoreError::NotFound)), "{delete:?}");
    assert!(store.update(UpdateId(424_242)).await.unwrap().is_none());
}

#[tokio::test]
async fn notifications_are_the_recipients_own_newest_first() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await.id;
    let bob = user(store.as_ref(), "bob", Role::User).await.id;
    let mut alices = Vec::new();
    for i in 0..4 {
        let mut n = notification(store.as_ref(), alice);
        n.created_at += ::time::Duration::seconds(i);
        commit(store.as_ref(), vec![Write::AddNotification(n.clone())]).await;
        alices.push(n);
        let for_bob = notification(store.as_ref(), bob);
        commit(store.as_ref(), vec![Write::AddNotification(for_bob)]).await;
    }
    let listed = store
        .notification_page(alice, false, 0, usize::MAX)
        .await
        .map(|p| p.1)
        .unwrap();
    alices.reverse();
    assert_eq!(listed, alices);
    assert_eq!(
        store
            .notification_page(bob, false, 0, usize::MAX)
            .await
            .map(|p| p.1)
            .unwrap()
            .len(),
        4
    );
    let nobody = user(store.as_ref(), "nobody", Role::User).await.id;
    assert!(
        store
            .notification_page(nobody, false, 0, usize::MAX)
            .await
            .map(|p| p.1)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_notification_is_marked_read_only_by_its_recipient() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await.id;
    let bob = user(store.as_ref(), "bob", Role::User).await.id;
    let hers = notification(store.as_ref(), alice);
    let other = notification(store.as_ref(), alice);
    commit(
        store.as_ref(),
        vec![
            Write::AddNotification(hers.clone()),
            Write::AddNotification(other.clone()),
        ],
    )
    .await;

    let by_bob = apply(store.as_ref(), vec![Write::ReadNotification(bob, hers.id)]).await;
    assert!(matches!(by_bob, Err(StoreError::NotFound)), "{by_bob:?}");
    assert!(
        store
            .notification_page(alice, false, 0, usize::MAX)
            .await
            .unwrap()
            .1
            .iter()
            .all(|n| !n.read)
    );
    let missing = apply(
        store.as_ref(),
        vec![Write::ReadNotification(alice, NotificationId(999_999))],
    )
    .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    commit(
        store.as_ref(),
        vec![Write::ReadNotification(alice, hers.id)],
    )
    .await;
    let after = store
        .notification_page(alice, false, 0, usize::MAX)
        .await
        .map(|p| p.1)
        .unwrap();
    let read = |id| after.iter().find(|n| n.id == id).map(|n| n.read);
    assert_eq!(read(hers.id), Some(true));
    assert_eq!(read(other.id), Some(false), "only the one named");
    // Reading it again is fine.
    commit(
        store.as_ref(),
        vec![Write::ReadNotification(alice, hers.id)],
    )
    .await;
}

#[tokio::test]
async fn read_all_marks_every_notification_of_that_user_only() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await.id;
    let bob = user(store.as_ref(), "bob", Role::User).await.id;
    let mut writes = Vec::new();
    for recipient in [alice, bob, alice, alice, bob] {
        writes.push(Write::AddNotification(notification(
            store.as_ref(),
            recipient,
        )));
    }
    commit(store.as_ref(), writes).await;
    commit(store.as_ref(), vec![Write::ReadAllNotifications(alice)]).await;
    let hers = store
        .notification_page(alice, false, 0, usize::MAX)
        .await
        .map(|p| p.1)
        .unwrap();
    assert_eq!(hers.len(), 3);
    assert!(hers.iter().all(|n| n.read));
    let his = store
        .notification_page(bob, false, 0, usize::MAX)
        .await
        .map(|p| p.1)
        .unwrap();
    assert_eq!(his.len(), 2);
    assert!(his.iter().all(|n| !n.read), "another user's stay unread");
    // With nothing unread, it is a no-op, not an error.
    commit(store.as_ref(), vec![Write::ReadAllNotifications(alice)]).await;
}

/// The ids of a page, for comparing.
fn note_ids(notes: &[Notification]) -> Vec<NotificationId> {
    notes.iter().map(|n| n.id).collect()
}

#[tokio::test]
async fn notification_pages_count_and_follow_reads() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await.id;
    let bob = user(store.as_ref(), "bob", Role::User).await.id;
    let mut hers = Vec::new();
    for i in 0..12 {
        let n = notification(store.as_ref(), alice);
        let mut writes = vec![Write::AddNotification(n.clone())];
        if i % 4 == 0 {
            writes.push(Write::AddNotification(notification(store.as_ref(), bob)));
        }
        commit(store.as_ref(), writes).await;
        hers.push(n.id);
    }
    hers.reverse();
    let page = |unread, offset, limit| {
        let store = store.clone();
        async move {
            let (count, rows) = store
                .notification_page(alice, unread, offset, limit)
                .await
                .unwrap();
            (count, note_ids(&rows))
        }
    };
    assert_eq!(page(false, 0, 100).await, (12, hers.clone()));
    assert_eq!(page(false, 5, 5).await, (12, hers[5..10].to_vec()));
    assert_eq!(page(false, 10, 5).await, (12, hers[10..].to_vec()));
    assert_eq!(page(false, 50, 5).await, (12, vec![]));
    assert_eq!(page(true, 0, 100).await, (12, hers.clone()));

    // Two read one by one, then the unread list and its count leave them out.
    for id in [hers[0], hers[7]] {
        commit(store.as_ref(), vec![Write::ReadNotification(alice, id)]).await;
    }
    // Reading one twice counts once.
    commit(
        store.as_ref(),
        vec![Write::ReadNotification(alice, hers[0])],
    )
    .await;
    let unread: Vec<NotificationId> = hers
        .iter()
        .copied()
        .filter(|id| *id != hers[0] && *id != hers[7])
        .collect();
    assert_eq!(page(true, 0, 100).await, (10, unread.clone()));
    assert_eq!(page(true, 3, 4).await, (10, unread[3..7].to_vec()));
    assert_eq!(page(false, 0, 100).await.0, 12);
    let (_, whole) = store.notification_page(alice, false, 0, 1).await.unwrap();
    assert!(whole[0].read && whole[0].recipient == alice);

    commit(store.as_ref(), vec![Write::ReadAllNotifications(alice)]).await;
    assert_eq!(page(true, 0, 100).await, (0, vec![]));
    assert_eq!(page(false, 0, 100).await, (12, hers));
    let (bobs, _) = store.notification_page(bob, true, 0, 10).await.unwrap();
    assert_eq!(bobs, 3, "another user's stay unread");
}

#[tokio::test]
async fn pruning_removes_old_read_notifications_only_bounded_per_call() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await.id;
    let aged = |days: i64| {
        let mut n = notification(store.as_ref(), alice);
        n.created_at -= ::time::Duration::days(days);
        n
    };
    let old_read: Vec<Notification> = (0..5).map(|i| aged(300 - i)).collect();
    let old_unread = aged(300);
    let recent_read = aged(1);
    let adds: Vec<Write> = old_read
        .iter()
        .chain([&old_unread, &recent_read])
        .cloned()
        .map(Write::AddNotification)
        .collect();
    commit(store.as_ref(), adds).await;
    let reads = old_read
        .iter()
        .chain([&recent_read])
        .map(|n| Write::ReadNotification(alice, n.id))
        .collect();
    commit(store.as_ref(), reads).await;
    let cut = nexus::domain::time::now() - ::time::Duration::days(180);

    assert_eq!(
        store.prune_notifications(cut, 3).await.unwrap(),
        3,
        "at most max"
    );
    assert_eq!(store.prune_notifications(cut, 100).await.unwrap(), 2);
    assert_eq!(store.prune_notifications(cut, 100).await.unwrap(), 0);
    let mut left = note_ids(
        &store
            .notification_page(alice, false, 0, usize::MAX)
            .await
            .map(|p| p.1)
            .unwrap(),
    );
    left.sort();
    let mut want = vec![old_unread.id, recent_read.id];
    want.sort();
    assert_eq!(left, want, "the unread and the recent stay");
    let (all, _) = store.notification_page(alice, false, 0, 10).await.unwrap();
    let (unread, rows) = store.notification_page(alice, true, 0, 10).await.unwrap();
    assert_eq!((all, unread), (2, 1));
    assert_eq!(note_ids(&rows), vec![old_unread.id]);
    // Once read, the old one goes too.
    commit(
        store.as_ref(),
        vec![Write::ReadNotification(alice, old_unread.id)],
    )
    .await;
    assert_eq!(store.prune_notifications(cut, 100).await.unwrap(), 1);
    assert_eq!(
        note_ids(
            &store
                .notification_page(alice, false, 0, usize::MAX)
                .await
                .map(|p| p.1)
                .unwrap()
        ),
        vec![recent_read.id]
    );
}
