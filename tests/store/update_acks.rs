//! Acknowledgements of updates: the author's with the update, once per user, the pending list
//! and its count, `requires_ack` turned off and on, and the reminder that is due once.

use nexus::domain::change::ChangeOp;
use nexus::domain::time;
use nexus::domain::update::{Update, UpdateType};
use nexus::domain::user::Role;
use nexus::domain::{UpdateId, UserId};
use nexus::store::{Expect, Store, StoreError, Write};

use crate::{apply, backend, commit, kind_of, update, user};

/// A new update requiring acknowledgement, written.
async fn asking(store: &dyn Store, title: &str, author: UserId) -> Update {
    let mut u = update(store, title, author);
    u.update_type = UpdateType::Safety;
    u.requires_ack = true;
    commit(store, vec![Write::PutUpdate(u.clone(), Expect::New)]).await;
    u
}

async fn pending_ids(
    store: &dyn Store,
    who: UserId,
    offset: usize,
    limit: usize,
) -> (usize, Vec<UpdateId>) {
    let (count, page) = store.pending_ack_page(who, offset, limit).await.unwrap();
    (count, page.iter().map(|u| u.id).collect())
}

#[tokio::test]
async fn the_author_acknowledges_with_the_update_and_others_once_each() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let author = user(s, "author", Role::Staff).await.id;
    let reader = user(s, "reader", Role::User).await.id;
    let mut u = update(s, "Forklift lane closed", author);
    u.requires_ack = true;
    let entries = commit(s, vec![Write::PutUpdate(u.clone(), Expect::New)]).await;
    let kinds: Vec<&str> = entries.iter().map(kind_of).collect();
    assert_eq!(kinds, ["update", "update_ack"]);
    assert_eq!(s.update_acks(u.id).await.unwrap(), [(author, u.updated_at)]);
    assert_eq!(
        s.update(u.id).await.unwrap().map(|r| r.requires_ack),
        Some(true)
    );

    let at = time::now();
    let entries = commit(s, vec![Write::AckUpdate(u.id, reader, at)]).await;
    assert_eq!(
        (kind_of(&entries[0]), entries[0].id, entries[0].op),
        ("update_ack", u.id.0, ChangeOp::Created)
    );
    assert_eq!(entries[0].data["user_id"], reader.0);
    // Again: nothing changes, the first time stays.
    let later = at + ::time::Duration::hours(1);
    let entries = commit(s, vec![Write::AckUpdate(u.id, reader, later)]).await;
    assert!(entries.is_empty(), "{entries:?}");
    assert_eq!(
        s.update_acks(u.id).await.unwrap(),
        [(author, u.updated_at), (reader, at)]
    );
    assert_eq!(
        s.acked_at(reader, &[u.id, UpdateId(999)]).await.unwrap(),
        [Some(at), None]
    );

    let plain = update(s, "Canteen menu", author);
    commit(s, vec![Write::PutUpdate(plain.clone(), Expect::New)]).await;
    let refused = apply(s, vec![Write::AckUpdate(plain.id, reader, at)]).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let missing = apply(s, vec![Write::AckUpdate(UpdateId(999), reader, at)]).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

#[tokio::test]
async fn pending_acknowledgements_page_newest_first_and_follow_requires_ack() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let author = user(s, "author", Role::Staff).await.id;
    let reader = user(s, "reader", Role::User).await.id;
    let mut made = Vec::new();
    for title in ["one", "two", "three", "four"] {
        made.push(asking(s, title, author).await);
    }
    let plain = update(s, "Canteen menu", author);
    commit(s, vec![Write::PutUpdate(plain, Expect::New)]).await;
    let ids: Vec<UpdateId> = made.iter().rev().map(|u| u.id).collect();

    assert_eq!(pending_ids(s, reader, 0, 50).await, (4, ids.clone()));
    assert_eq!(pending_ids(s, reader, 1, 2).await, (4, ids[1..3].to_vec()));
    assert_eq!(pending_ids(s, reader, 9, 2).await, (4, vec![]));
    assert_eq!(pending_ids(s, author, 0, 50).await, (0, vec![]));

    commit(s, vec![Write::AckUpdate(made[2].id, reader, time::now())]).await;
    assert_eq!(
        pending_ids(s, reader, 0, 50).await,
        (3, vec![made[3].id, made[1].id, made[0].id])
    );
    assert_eq!(pending_ids(s, reader, 1, 1).await, (3, vec![made[1].id]));

    // Off: no longer pending, and the acknowledgement made no longer counts; on again: it does.
    for on in [false, true] {
        let mut changed = made[2].clone();
        changed.requires_ack = on;
        commit(s, vec![Write::PutUpdate(changed, Expect::Exists)]).await;
    }
    let mut off = made[3].clone();
    off.requires_ack = false;
    commit(s, vec![Write::PutUpdate(off, Expect::Exists)]).await;
    assert_eq!(
        pending_ids(s, reader, 0, 50).await,
        (2, vec![made[1].id, made[0].id])
    );
    assert_eq!(s.update_acks(made[2].id).await.unwrap().len(), 2, "kept");

    commit(s, vec![Write::DeleteUpdate(made[2].id)]).await;
    commit(s, vec![Write::DeleteUpdate(made[1].id)]).await;
    assert_eq!(pending_ids(s, reader, 0, 50).await, (1, vec![made[0].id]));
    assert!(s.update_acks(made[2].id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reminder_is_due_from_when_acknowledgement_was_required_until_it_is_sent_once() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let author = user(s, "author", Role::Staff).await.id;
    let first = asking(s, "one", author).await;
    let second = asking(s, "two", author).await;
    let before = first.updated_at - ::time::Duration::seconds(1);
    assert!(s.ack_reminders_due(before, 10).await.unwrap().is_empty());
    let now = second.updated_at;
    assert_eq!(
        s.ack_reminders_due(now, 10).await.unwrap(),
        [first.id, second.id]
    );
    assert_eq!(s.ack_reminders_due(now, 1).await.unwrap(), [first.id]);

    commit(s, vec![Write::AckReminderSent(first.id)]).await;
    assert_eq!(s.ack_reminders_due(now, 10).await.unwrap(), [second.id]);
    let again = apply(s, vec![Write::AckReminderSent(first.id)]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    // Sent once is sent for good, even when acknowledgement is asked for again.
    let later = now + ::time::Duration::hours(2);
    for on in [false, true] {
        let mut changed = first.clone();
        changed.requires_ack = on;
        changed.updated_at = later;
        commit(s, vec![Write::PutUpdate(changed, Expect::Exists)]).await;
    }
    // Not yet sent: off cancels it, on again makes it due from then.
    for on in [false, true] {
        let mut changed = second.clone();
        changed.requires_ack = on;
        changed.updated_at = later;
        commit(s, vec![Write::PutUpdate(changed, Expect::Exists)]).await;
    }
    assert!(s.ack_reminders_due(now, 10).await.unwrap().is_empty());
    assert_eq!(s.ack_reminders_due(later, 10).await.unwrap(), [second.id]);

    commit(s, vec![Write::DeleteUpdate(second.id)]).await;
    assert!(s.ack_reminders_due(later, 10).await.unwrap().is_empty());
    let gone = apply(s, vec![Write::AckReminderSent(second.id)]).await;
    assert!(matches!(gone, Err(StoreError::Conflict(_))), "{gone:?}");
}
