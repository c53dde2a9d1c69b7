//! What holds across capabilities: a changeset commits whole or not at all, ids are never
//! handed out twice, the search feed (`searchable_*`) sees every searchable object, and a
//! fresh store is healthy.

use nexus::domain::change::ObjectKind;
use nexus::domain::visibility::Visible;
use std::collections::BTreeSet;

use nexus::domain::activity::Activity;
use nexus::domain::chat::{Conversation, Message};
use nexus::domain::project::Project;
use nexus::domain::update::Update;
use nexus::domain::user::{Role, User};
use nexus::domain::{ActivityId, ProjectId, UserId};
use nexus::store::{Expect, IdKind, Rooms, Store, StoreError, Write};
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;

use crate::{
    activity, apply, audit_entry, backend, commit, direct, notification, project, update, user,
    whole_log,
};

#[tokio::test]
async fn a_fresh_store_is_healthy() {
    let (store, _guard) = backend().await;
    store.check().await.expect("healthy");
}

/// Whether an error is the one a refusal should give.
type IsExpected = fn(&StoreError) -> bool;

/// What a store holds that a changeset could touch, to compare before and after.
#[derive(Debug, PartialEq)]
struct Snapshot {
    log: Vec<nexus::domain::change::ChangeEntry>,
    last_seq: u64,
    activities: Vec<Activity>,
    projects: Vec<Project>,
    updates: Vec<Update>,
    notifications: Vec<nexus::domain::update::Notification>,
    messages: Vec<Message>,
    audit: Vec<nexus::domain::audit::AuditEntry>,
    unread: Vec<usize>,
    searchable: usize,
}

async fn snapshot(store: &dyn Store, alice: &User, bob: &User, ids: &[ActivityId]) -> Snapshot {
    Snapshot {
        log: whole_log(store).await,
        last_seq: store.last_seq().await.unwrap(),
        activities: store.activities_by_ids(ids).await.unwrap(),
        projects: crate::all_projects(store).await,
        updates: crate::all_updates(store).await,
        notifications: store
            .notification_page(alice.id, false, 0, usize::MAX)
            .await
            .unwrap()
            .1,
        messages: store
            .messages(alice.id, Conversation::Direct(bob.id), None, 0, usize::MAX)
            .await
            .unwrap()
            .messages,
        audit: store
            .audit_page(&nexus::store::AuditFilter::default(), 0, usize::MAX)
            .await
            .unwrap()
            .1,
        unread: store
            .conversations(bob.id, Rooms::These(&[]))
            .await
            .unwrap()
            .iter()
            .map(|s| s.unread)
            .collect(),
        searchable: store.searchable_count().await.unwrap(),
    }
}

#[tokio::test]
async fn a_changeset_refused_anywhere_writes_nothing_of_itself() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await;
    let bob = user(s, "bob", Role::User).await;
    // What exists before: an activity, a project, Alice's unread notification, a message.
    let existing = activity(s, alice.id);
    let boiler = project(s, "Boiler", alice.id, &[]);
    let unread = notification(s, alice.id);
    let hello = direct(s, alice.id, bob.id, "hello");
    commit(
        s,
        vec![
            Write::PutActivity(existing.clone(), Expect::New),
            Write::PutProject(boiler.clone(), Expect::New, false),
            Write::AddNotification(unread.clone()),
            Write::AddMessage(hello.clone()),
        ],
    )
    .await;

    let new_activity = activity(s, alice.id);
    let mut edited = existing.clone();
    edited.title = "edited".into();
    edited.version = 2;
    let payload = |failing: Write| {
        vec![
            Write::PutActivity(new_activity.clone(), Expect::New),
            Write::PutActivity(edited.clone(), Expect::Version(1)),
            Write::AddNotification(notification(s, alice.id)),
            Write::ReadAllNotifications(alice.id),
            Write::AddMessage(direct(s, alice.id, bob.id, "half a changeset")),
            Write::ReadConversation(bob.id, Conversation::Direct(alice.id), hello.id),
            failing,
            Write::PutUpdate(update(s, "Never posted", alice.id), Expect::New),
            Write::PutProject(project(s, "Never made", alice.id, &[]), Expect::New, false),
            Write::DeleteMessage(hello.id),
            Write::DeleteActivity(existing.id),
            Write::Audit(audit_entry(s, "never.happened", Some(alice.id))),
        ]
    };
    let mut stale = existing.clone();
    stale.version = 9;
    let refusals: Vec<(&str, Write, IsExpected)> = vec![
        (
            "a missing user",
            Write::RequireUser(UserId(4242), "assigned_to"),
            |e| {
                matches!(
                    e,
                    StoreError::Invalid {
                        field: "assigned_to",
                        ..
                    }
                )
            },
        ),
        (
            "a missing project",
            Write::RequireProject(ProjectId(4242), "project_id"),
            |e| {
                matches!(
                    e,
                    StoreError::Invalid {
                        field: "project_id",
                        ..
                    }
                )
            },
        ),
        (
            "a stale version",
            Write::PutActivity(stale, Expect::Version(9)),
            |e| matches!(e, StoreError::Stale),
        ),
        (
            "a create of what exists",
            Write::PutProject(boiler.clone(), Expect::New, false),
            |e| matches!(e, StoreError::Conflict(_)),
        ),
        (
            "a delete of what does not exist",
            Write::DeleteActivity(ActivityId(4242)),
            |e| matches!(e, StoreError::NotFound),
        ),
        (
            "someone else's notification",
            Write::ReadNotification(bob.id, unread.id),
            |e| matches!(e, StoreError::NotFound),
        ),
        (
            "a taken project name",
            Write::PutProject(project(s, "Boiler", bob.id, &[]), Expect::New, false),
            |e| matches!(e, StoreError::Conflict(_)),
        ),
    ];
    let ids = [existing.id, new_activity.id];
    let before = snapshot(s, &alice, &bob, &ids).await;
    assert_eq!(before.notifications.len(), 1);
    for (what, failing, expected) in refusals {
        let result = apply(s, payload(failing)).await;
        match result {
            Err(e) => assert!(expected(&e), "{what}: refused for the wrong reason: {e:?}"),
            Ok(entries) => panic!("{what}: committed {} entries", entries.len()),
        }
        assert_eq!(
            snapshot(s, &alice, &bob, &ids).await,
            before,
            "{what}: nothing of the changeset was written, no entry appended"
        );
    }

    // The same changeset with a precondition that holds commits whole.
    let entries = commit(s, payload(Write::RequireUser(bob.id, "assigned_to"))).await;
    let after = snapshot(s, &alice, &bob, &ids).await;
    assert_eq!(after.last_seq, before.last_seq + entries.len() as u64);
    assert_eq!(after.log[before.log.len()..], entries[..]);
    assert_eq!(
        after.activities.len(),
        1,
        "the new one; the old one deleted"
    );
    assert_eq!(after.activities[0].id, new_activity.id);
    assert_eq!(after.updates.len(), 1);
    assert_eq!(after.projects.len(), 2);
    assert_eq!(after.notifications.len(), 2);
    assert!(after.notifications.iter().all(|n| n.read));
    assert_eq!(after.messages.len(), 1, "hello deleted, one new");
    assert_eq!(after.audit.len(), 1);
}

#[tokio::test]
async fn refused_changesets_do_not_disturb_those_committing_beside_them() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let start = store.last_seq().await.unwrap();
    let mut tasks = JoinSet::new();
    for i in 0..30 {
        let store = store.clone();
        let a = activity(store.as_ref(), alice.id);
        let refused = i % 3 == 0;
        let mut writes = vec![Write::PutActivity(a.clone(), Expect::New)];
        if refused {
            writes.push(Write::RequireUser(UserId(4242), "assigned_to"));
        }
        writes.push(Write::RequireUser(alice.id, "created_by"));
        tasks.spawn(async move { (a.id, refused, apply(store.as_ref(), writes).await) });
    }
    let mut committed = BTreeSet::new();
    while let Some(outcome) = tasks.join_next().await {
        let (id, refused, result) = outcome.expect("the task ran");
        assert_eq!(result.is_err(), refused, "{id:?}: {result:?}");
        let stored = store.activity(id).await.unwrap();
        assert_eq!(stored.is_some(), !refused, "{id:?}");
        if !refused {
            committed.insert(id.0);
        }
    }
    let log = store.changes_after(start, usize::MAX).await.unwrap();
    let seqs: Vec<u64> = log.iter().map(|e| e.seq).collect();
    let want: Vec<u64> = (start + 1..=start + 20).collect();
    assert_eq!(seqs, want, "gapless: refused changesets take no seq");
    let logged: BTreeSet<u64> = log.iter().map(|e| e.id).collect();
    assert_eq!(logged, committed);
}

#[tokio::test]
async fn allocated_ids_never_repeat() {
    let (store, _guard) = backend().await;
    let kinds = [
        IdKind::Activity,
        IdKind::Project,
        IdKind::Update,
        IdKind::Notification,
        IdKind::Message,
        IdKind::Audit,
    ];
    for kind in kinds {
        let mut seen = BTreeSet::new();
        for _ in 0..100 {
            let id = store.allocate_id(kind);
            assert!(id > 0, "{kind:?}: ids are at least 1");
            assert!(seen.insert(id), "{kind:?}: {id} handed out twice");
        }
        // From several threads at once.
        let handed: Vec<Vec<u64>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..500).map(|_| store.allocate_id(kind)).collect()))
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("the thread ran"))
                .collect()
        });
        for id in handed.into_iter().flatten() {
            assert!(seen.insert(id), "{kind:?}: {id} handed out twice");
        }
    }
    // Nor after objects with those ids were created and deleted.
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let a = activity(store.as_ref(), alice.id);
    commit(
        store.as_ref(),
        vec![Write::PutActivity(a.clone(), Expect::New)],
    )
    .await;
    commit(store.as_ref(), vec![Write::DeleteActivity(a.id)]).await;
    let next = store.allocate_id(IdKind::Activity);
    assert_ne!(next, a.id.0);
}

#[tokio::test]
async fn searchable_count_counts_activities_projects_updates_and_messages() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    assert_eq!(store.searchable_count().await.unwrap(), 0);
    let alice = user(s, "alice", Role::User).await;
    let bob = user(s, "bob", Role::User).await;
    let note = direct(s, alice.id, bob.id, "hello");
    commit(
        s,
        vec![
            Write::PutActivity(activity(s, alice.id), Expect::New),
            Write::PutActivity(activity(s, alice.id), Expect::New),
            Write::PutProject(project(s, "Boiler", alice.id, &[]), Expect::New, false),
            Write::PutUpdate(update(s, "one", alice.id), Expect::New),
            Write::PutUpdate(update(s, "two", alice.id), Expect::New),
            Write::PutUpdate(update(s, "three", alice.id), Expect::New),
            Write::AddMessage(note.clone()),
            Write::AddMessage(direct(s, bob.id, alice.id, "hi")),
            // Not searchable:
            Write::AddNotification(notification(s, alice.id)),
            Write::Audit(audit_entry(s, "x", None)),
        ],
    )
    .await;
    assert_eq!(store.searchable_count().await.unwrap(), 8);
    commit(s, vec![Write::DeleteMessage(note.id)]).await;
    assert_eq!(store.searchable_count().await.unwrap(), 7);
}

/// Checks one kind of the search feed: `made` (in creation order) comes back in id order as
/// "created" entries carrying each object's REST form, in pages above `after`.
async fn assert_feed<T>(store: &dyn Store, kind: ObjectKind, made: &[T], id_of: fn(&T) -> u64)
where
    T: DeserializeOwned + PartialEq + std::fmt::Debug + Visible,
{
    let all = store.searchable_objects(kind, 0, 1000).await.unwrap();
    let ids: Vec<u64> = all.iter().map(|e| e.id).collect();
    let mut want: Vec<u64> = made.iter().map(id_of).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "{kind}: every one, in id order");
    for entry in &all {
        assert_eq!(entry.kind, kind);
        assert_eq!(entry.op, nexus::domain::change::ChangeOp::Created, "{kind}");
        let object: T = serde_json::from_value(entry.data.clone())
            .unwrap_or_else(|e| panic!("{kind} {}: not its REST form: {e}", entry.id));
        let original = made.iter().find(|m| id_of(m) == entry.id).unwrap();
        assert_eq!(&object, original, "{kind}");
        assert_eq!(
            entry.keys,
            original.visibility_keys(),
            "{kind}: carries its visibility keys"
        );
    }
    let page = store.searchable_objects(kind, want[1], 2).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        want[2..4],
        "{kind}: above `after`, at most `limit`"
    );
    let last = *want.last().unwrap();
    assert!(
        store
            .searchable_objects(kind, last, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn searchable_objects_feeds_each_kind_in_id_order_with_its_rest_form() {
    let (store, _guard) = backend().await;
    let s = store.as_ref();
    let alice = user(s, "alice", Role::User).await;
    let bob = user(s, "bob", Role::User).await;
    let mut activities = Vec::new();
    let mut projects = Vec::new();
    let mut updates = Vec::new();
    let mut messages = Vec::new();
    for i in 0..5 {
        let mut a = activity(s, alice.id);
        a.description = format!("description {i}");
        let p = project(s, &format!("Project {i}"), alice.id, &[bob.id]);
        let u = update(s, &format!("Update {i}"), alice.id);
        let m = direct(s, alice.id, bob.id, &format!("message {i}"));
        commit(
            s,
            vec![
                Write::PutActivity(a.clone(), Expect::New),
                Write::PutProject(p.clone(), Expect::New, false),
                Write::PutUpdate(u.clone(), Expect::New),
                Write::AddMessage(m.clone()),
            ],
        )
        .await;
        activities.push(a);
        projects.push(p);
        updates.push(u);
        messages.push(m);
    }
    assert_feed(s, ObjectKind::Activity, &activities, |a: &Activity| a.id.0).await;
    assert_feed(s, ObjectKind::Project, &projects, |p: &Project| p.id.0).await;
    assert_feed(s, ObjectKind::Update, &updates, |u: &Update| u.id.0).await;
    assert_feed(s, ObjectKind::Message, &messages, |m: &Message| m.id.0).await;

    // A deleted object leaves the feed.
    commit(s, vec![Write::DeleteActivity(activities[2].id)]).await;
    let left = store
        .searchable_objects(ObjectKind::Activity, 0, 100)
        .await
        .unwrap();
    assert!(left.iter().all(|e| e.id != activities[2].id.0));
    assert_eq!(left.len(), 4);
}
