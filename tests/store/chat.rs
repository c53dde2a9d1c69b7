//! Chat: messages by conversation, paging with `before`, deletes, and conversations with their
//! newest message and unread counts.

use std::collections::BTreeMap;

use nexus::domain::chat::{Conversation, Message};
use nexus::domain::user::Role;
use nexus::domain::{MessageId, ProjectId, UserId};
use nexus::store::{ConversationSummary, Expect, Rooms, Store, StoreError, Write};

use crate::{apply, backend, commit, direct, in_room, kind_of, project, user};

fn ids(messages: &[Message]) -> Vec<MessageId> {
    messages.iter().map(|m| m.id).collect()
}

/// Every message of a conversation below `before`, newest first, in one page.
async fn messages(
    store: &dyn Store,
    user: UserId,
    c: Conversation,
    before: Option<MessageId>,
) -> Vec<Message> {
    let page = store
        .messages(user, c, before, 0, usize::MAX)
        .await
        .unwrap();
    assert_eq!(page.count, page.messages.len());
    page.messages
}

async fn send(store: &dyn Store, m: Message) -> Message {
    commit(store, vec![Write::AddMessage(m.clone())]).await;
    m
}

/// `user`'s conversations by which one they are.
async fn summaries(
    store: &dyn Store,
    user: UserId,
    rooms: &[ProjectId],
) -> BTreeMap<Conversation, ConversationSummary> {
    store
        .conversations(user, Rooms::These(rooms))
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.conversation, s))
        .collect()
}

#[tokio::test]
async fn a_direct_conversation_reads_the_same_from_both_sides_newest_first() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await.id;
    let bob = user(s, "bob", Role::User).await.id;
    let carol = user(s, "carol", Role::User).await.id;
    let m1 = send(s, direct(s, alice, bob, "shift starts at six")).await;
    let other = send(s, direct(s, alice, carol, "not for bob")).await;
    let m2 = send(s, direct(s, bob, alice, "ok")).await;
    let m3 = send(s, direct(s, alice, bob, "bring gloves")).await;

    assert_eq!(store.message(m2.id).await.unwrap(), Some(m2.clone()));
    let from_alice = messages(store.as_ref(), alice, Conversation::Direct(bob), None).await;
    assert_eq!(ids(&from_alice), [m3.id, m2.id, m1.id]);
    assert_eq!(from_alice[0], m3);
    let from_bob = messages(store.as_ref(), bob, Conversation::Direct(alice), None).await;
    assert_eq!(from_bob, from_alice);
    assert_eq!(
        ids(&messages(store.as_ref(), carol, Conversation::Direct(alice), None).await),
        [other.id]
    );
    assert!(
        messages(store.as_ref(), carol, Conversation::Direct(bob), None)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_room_holds_its_projects_messages_newest_first() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await.id;
    let bob = user(s, "bob", Role::User).await.id;
    let (boiler, press) = (ProjectId(1), ProjectId(2));
    let r1 = send(s, in_room(s, alice, boiler, "valve delivered")).await;
    let elsewhere = send(s, in_room(s, bob, press, "press is down")).await;
    let r2 = send(s, in_room(s, bob, boiler, "fitting it now")).await;
    send(s, direct(s, alice, bob, "a direct one")).await;
    for reader in [alice, bob] {
        let room = messages(store.as_ref(), reader, Conversation::Project(boiler), None).await;
        assert_eq!(ids(&room), [r2.id, r1.id], "the same for every reader");
    }
    assert_eq!(
        ids(&messages(store.as_ref(), alice, Conversation::Project(press), None).await),
        [elsewhere.id]
    );
}

#[tokio::test]
async fn before_pages_back_through_a_conversation() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await.id;
    let bob = user(s, "bob", Role::User).await.id;
    let mut sent = Vec::new();
    for i in 0..7 {
        let (from, to) = if i % 2 == 0 {
            (alice, bob)
        } else {
            (bob, alice)
        };
        sent.push(
            send(s, direct(s, from, to, &format!("message {i}")))
                .await
                .id,
        );
        // Traffic elsewhere, interleaved, with ids in between.
        send(s, direct(s, bob, UserId(99), "elsewhere")).await;
    }
    let conversation = Conversation::Direct(bob);
    let below = |before: Option<MessageId>| {
        let store = store.clone();
        async move { ids(&messages(store.as_ref(), alice, conversation, before).await) }
    };
    let newest_first: Vec<MessageId> = sent.iter().rev().copied().collect();
    assert_eq!(below(None).await, newest_first);
    assert_eq!(below(Some(sent[4])).await, newest_first[3..]);
    // `before` need not be a message of this conversation: ids below it.
    let between = MessageId(sent[4].0 + 1);
    assert_eq!(below(Some(between)).await, newest_first[2..]);
    assert!(below(Some(sent[0])).await.is_empty());
    assert_eq!(below(Some(MessageId(u64::MAX))).await, newest_first);
}

#[tokio::test]
async fn a_deleted_message_is_gone_and_deleting_it_again_is_not_found() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await.id;
    let bob = user(s, "bob", Role::User).await.id;
    let m1 = send(s, direct(s, alice, bob, "one")).await;
    let m2 = send(s, direct(s, alice, bob, "two")).await;
    let entries = commit(s, vec![Write::DeleteMessage(m2.id)]).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(kind_of(&entries[0]), "message");
    assert_eq!(entries[0].id, m2.id.0);
    assert!(store.message(m2.id).await.unwrap().is_none());
    assert_eq!(
        ids(&messages(store.as_ref(), bob, Conversation::Direct(alice), None).await),
        [m1.id]
    );
    let again = apply(s, vec![Write::DeleteMessage(m2.id)]).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    // The conversation's newest message is now the one left.
    let bobs = summaries(s, bob, &[]).await;
    assert_eq!(bobs[&Conversation::Direct(alice)].last_message.id, m1.id);
}

#[tokio::test]
async fn conversations_list_direct_peers_and_the_rooms_asked_with_their_newest_message() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await.id;
    let bob = user(s, "bob", Role::User).await.id;
    let carol = user(s, "carol", Role::User).await.id;
    let (boiler, press, quiet) = (ProjectId(1), ProjectId(2), ProjectId(3));
    send(s, direct(s, alice, bob, "hi bob")).await;
    let to_carol = send(s, direct(s, carol, alice, "hi alice")).await;
    let last_to_bob = send(s, direct(s, bob, alice, "hi back")).await;
    send(s, direct(s, bob, carol, "not alice's")).await;
    let boiler_last = send(s, in_room(s, bob, boiler, "boiler news")).await;
    send(s, in_room(s, bob, press, "press news")).await;

    let mine = summaries(s, alice, &[boiler, quiet]).await;
    let which: Vec<Conversation> = mine.keys().copied().collect();
    let mut want = vec![
        Conversation::Direct(bob),
        Conversation::Direct(carol),
        Conversation::Project(boiler),
    ];
    want.sort();
    assert_eq!(
        which, want,
        "rooms not asked for, and rooms without messages, are left out"
    );
    assert_eq!(mine[&Conversation::Direct(bob)].last_message, last_to_bob);
    assert_eq!(mine[&Conversation::Direct(carol)].last_message, to_carol);
    assert_eq!(
        mine[&Conversation::Project(boiler)].last_message,
        boiler_last
    );
    let loner = user(s, "loner", Role::User).await.id;
    assert!(
        store
            .conversations(loner, Rooms::These(&[]))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn unread_counts_messages_from_others_after_the_read_marker() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await.id;
    let bob = user(s, "bob", Role::User).await.id;
    let room = ProjectId(7);
    let mut from_bob = Vec::new();
    for i in 0..4 {
        from_bob.push(send(s, direct(s, bob, alice, &format!("ping {i}"))).await);
    }
    let unread = |user: UserId, c: Conversation| {
        let store = store.clone();
        async move { summaries(store.as_ref(), user, &[room]).await[&c].unread }
    };
    assert_eq!(unread(alice, Conversation::Direct(bob)).await, 4);
    assert_eq!(
        unread(bob, Conversation::Direct(alice)).await,
        0,
        "one's own messages are never unread"
    );

    commit(
        s,
        vec![Write::ReadConversation(
            alice,
            Conversation::Direct(bob),
            from_bob[1].id,
        )],
    )
    .await;
    assert_eq!(unread(alice, Conversation::Direct(bob)).await, 2);
    commit(
        s,
        vec![Write::ReadConversation(
            alice,
            Conversation::Direct(bob),
            from_bob[3].id,
        )],
    )
    .await;
    assert_eq!(unread(alice, Conversation::Direct(bob)).await, 0);
    send(s, direct(s, bob, alice, "one more")).await;
    assert_eq!(unread(alice, Conversation::Direct(bob)).await, 1);

    // A room keeps a marker per reader.
    let r1 = send(s, in_room(s, bob, room, "room one")).await;
    send(s, in_room(s, bob, room, "room two")).await;
    let carol = user(s, "carol", Role::User).await.id;
    commit(
        s,
        vec![Write::ReadConversation(
            carol,
            Conversation::Project(room),
            r1.id,
        )],
    )
    .await;
    assert_eq!(unread(alice, Conversation::Project(room)).await, 2);
    assert_eq!(unread(carol, Conversation::Project(room)).await, 1);
    assert_eq!(unread(bob, Conversation::Project(room)).await, 0);
}

/// Ids on both sides of every unit boundary the counts use (2^8, 2^16, 2^24, 2^32), a dense run,
/// and traffic of another conversation in between.
fn spread_ids() -> Vec<u64> {
    let mut ids: Vec<u64> = (1000..1300).collect();
    for edge in [1u64 << 8, 1 << 16, 1 << 24, 1 << 32, 1 << 33] {
        ids.extend([edge - 1, edge, edge + 1]);
    }
    ids.extend([1, 2, 70_000, 70_001, (1 << 32) + 300]);
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The page a full scan would give: ids below `before`, newest first, `offset` skipped.
fn naive(ids: &[u64], before: u64, offset: usize, limit: usize) -> (usize, Vec<MessageId>) {
    let below: Vec<u64> = ids
        .iter()
        .rev()
        .copied()
        .filter(|&id| id < before)
        .collect();
    let page = below
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&id| MessageId(id))
        .collect();
    (below.len(), page)
}

async fn check_pages(store: &dyn Store, user: UserId, c: Conversation, all: &[u64]) {
    let mut befores = vec![None, Some(0), Some(1), Some(2), Some(u64::MAX)];
    for &id in all.iter().step_by(7) {
        befores.extend([Some(id), Some(id + 1)]);
    }
    for before in befores {
        for offset in [0, 1, 2, 7, 50, 255, 256, 299, 300, 320, 1000] {
            for limit in [1, 3, 50, 200] {
                let page = store
                    .messages(user, c, before.map(MessageId), offset, limit)
                    .await
                    .unwrap();
                let (count, want) = naive(all, before.unwrap_or(u64::MAX), offset, limit);
                assert_eq!(
                    (page.count, ids(&page.messages)),
                    (count, want),
                    "before {before:?}, offset {offset}, limit {limit}"
                );
            }
        }
    }
}

#[tokio::test]
async fn pages_skip_and_count_exactly_across_every_id_range_and_after_deletes() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await.id;
    let bob = user(s, "bob", Role::User).await.id;
    let carol = user(s, "carol", Role::User).await.id;
    let mut ours = spread_ids();
    let mut writes = Vec::new();
    for (i, &id) in ours.iter().enumerate() {
        let mut m = direct(s, alice, bob, "m");
        m.id = MessageId(id);
        if i % 3 == 0 {
            (m.sender_id, m.receiver_id) = (bob, Some(alice));
        }
        writes.push(Write::AddMessage(m));
        // Another conversation's messages between ours, which must not count.
        let mut other = direct(s, alice, carol, "other");
        other.id = MessageId(id + (1 << 40));
        writes.push(Write::AddMessage(other));
    }
    commit(s, writes).await;
    let c = Conversation::Direct(bob);
    check_pages(s, alice, c, &ours).await;

    let gone: Vec<u64> = ours.iter().copied().step_by(5).collect();
    for &id in &gone {
        commit(s, vec![Write::DeleteMessage(MessageId(id))]).await;
    }
    ours.retain(|id| !gone.contains(id));
    check_pages(s, bob, Conversation::Direct(alice), &ours).await;
}

#[tokio::test]
async fn unread_is_exact_however_far_behind_the_marker_is() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await.id;
    let bob = user(s, "bob", Role::User).await.id;
    let ours = spread_ids();
    let mut writes = Vec::new();
    let mut from_bob = Vec::new();
    // Alice wrote a few early ones, which moved her marker up to the last of them.
    let mut marker = 0;
    for (i, &id) in ours.iter().enumerate() {
        let mut m = direct(s, alice, bob, "m");
        m.id = MessageId(id);
        if id < 300 && i % 2 == 0 {
            marker = id;
        } else {
            (m.sender_id, m.receiver_id) = (bob, Some(alice));
            from_bob.push(id);
        }
        writes.push(Write::AddMessage(m));
    }
    commit(s, writes).await;
    for mark in [1u64, 255, 256, 1100, 1 << 24, (1 << 32) + 1, u64::MAX] {
        marker = marker.max(mark);
        commit(
            s,
            vec![Write::ReadConversation(
                alice,
                Conversation::Direct(bob),
                MessageId(mark),
            )],
        )
        .await;
        let want = from_bob.iter().filter(|&&id| id > marker).count();
        let got = summaries(s, alice, &[]).await[&Conversation::Direct(bob)].unread;
        assert_eq!(got, want, "marker at {mark}");
    }
}

#[tokio::test]
async fn every_room_means_the_rooms_with_messages_of_projects_that_exist() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let boss = user(s, "boss", Role::Staff).await.id;
    let bob = user(s, "bob", Role::User).await.id;
    let boiler = project(s, "boiler", bob, &[]);
    let press = project(s, "press", bob, &[]);
    let quiet = project(s, "quiet", bob, &[]);
    for p in [&boiler, &press, &quiet] {
        commit(s, vec![Write::PutProject(p.clone(), Expect::New, false)]).await;
    }
    let boiler_last = send(s, in_room(s, bob, boiler.id, "boiler news")).await;
    send(s, in_room(s, bob, press.id, "press news")).await;
    commit(s, vec![Write::DeleteProject(press.id)]).await;
    let mine: Vec<Conversation> = store
        .conversations(boss, Rooms::All)
        .await
        .unwrap()
        .iter()
        .map(|s| s.conversation)
        .collect();
    assert_eq!(
        mine,
        [Conversation::Project(boiler.id)],
        "a deleted project's room and a room without messages are left out"
    );
    let summary = &store.conversations(boss, Rooms::All).await.unwrap()[0];
    assert_eq!(summary.last_message, boiler_last);
    assert_eq!(summary.unread, 1);
}
