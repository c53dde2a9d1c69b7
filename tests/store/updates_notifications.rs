//! Updates (announcements) and notifications: writes, reads, and marking read only by the
//! recipient.

use nexus::domain::change::ChangeOp;
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
    let listed: Vec<UpdateId> = store
        .updates()
        .await
        .unwrap()
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
    assert_eq!(store.updates().await.unwrap().len(), 2);
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
    let listed = store.notifications(alice).await.unwrap();
    alices.reverse();
    assert_eq!(listed, alices);
    assert_eq!(store.notifications(bob).await.unwrap().len(), 4);
    let nobody = user(store.as_ref(), "nobody", Role::User).await.id;
    assert!(store.notifications(nobody).await.unwrap().is_empty());
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
            .notifications(alice)
            .await
            .unwrap()
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
    let after = store.notifications(alice).await.unwrap();
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
    let hers = store.notifications(alice).await.unwrap();
    assert_eq!(hers.len(), 3);
    assert!(hers.iter().all(|n| n.read));
    let his = store.notifications(bob).await.unwrap();
    assert_eq!(his.len(), 2);
    assert!(his.iter().all(|n| !n.read), "another user's stay unread");
    // With nothing unread, it is a no-op, not an error.
    commit(store.as_ref(), vec![Write::ReadAllNotifications(alice)]).await;
}
