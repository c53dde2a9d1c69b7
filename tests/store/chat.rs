//! Chat: messages by conversation, paging with `before`, deletes, and conversations with their
//! newest message and unread counts.

use std::collections::BTreeMap;

use nexus::domain::chat::{Conversation, Message};
use nexus::domain::user::Role;
use nexus::domain::{MessageId, ProjectId, UserId};
use nexus::store::{ConversationSummary, Store, StoreError, Write};

use crate::{apply, backend, commit, direct, in_room, kind_of, user};

fn ids(messages: &[Message]) -> Vec<MessageId> {
    messages.iter().map(|m| m.id).collect()
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
        .conversations(user, rooms)
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
    let from_alice = store
        .messages(alice, Conversation::Direct(bob), None)
        .await
        .unwrap();
    assert_eq!(ids(&from_alice), [m3.id, m2.id, m1.id]);
    assert_eq!(from_alice[0], m3);
    let from_bob = store
        .messages(bob, Conversation::Direct(alice), None)
        .await
        .unwrap();
    assert_eq!(from_bob, from_alice);
    assert_eq!(
        ids(&store
            .messages(carol, Conversation::Direct(alice), None)
            .await
            .unwrap()),
        [other.id]
    );
    assert!(
        store
            .messages(carol, Conversation::Direct(bob), None)
            .await
            .unwrap()
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
        let room = store
            .messages(reader, Conversation::Project(boiler), None)
            .await
            .unwrap();
        assert_eq!(ids(&room), [r2.id, r1.id], "the same for every reader");
    }
    assert_eq!(
        ids(&store
            .messages(alice, Conversation::Project(press), None)
            .await
            .unwrap()),
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
        async move { ids(&store.messages(alice, conversation, before).await.unwrap()) }
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
        ids(&store
            .messages(bob, Conversation::Direct(alice), None)
            .await
            .unwrap()),
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
    assert!(store.conversations(loner, &[]).await.unwrap().is_empty());
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
