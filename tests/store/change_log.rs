//! The change log: one gapless sequence across every changeset, read in pages, and compacted
//! within its limits.

use std::collections::BTreeSet;
use std::time::Duration;

use nexus::domain::change::ChangeEntry;
use nexus::domain::user::{Role, User};
use nexus::store::{Expect, Store, Write};
use tokio::task::JoinSet;

use crate::{activity, at, backend, commit, user, whole_log};

/// Commits `n` changesets of one to three new activities each; returns what they appended.
async fn changesets(store: &dyn Store, by: &User, n: usize) -> Vec<ChangeEntry> {
    let mut appended = Vec::new();
    for i in 0..n {
        let writes = (0..=i % 3)
            .map(|_| Write::PutActivity(activity(store, by.id), Expect::New))
            .collect();
        appended.extend(commit(store, writes).await);
    }
    appended
}

fn seqs(entries: &[ChangeEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn a_new_store_has_an_empty_log() {
    let (store, _guard) = backend().await;
    assert_eq!(store.last_seq().await.unwrap(), 0);
    assert_eq!(store.first_seq().await.unwrap(), None);
    assert!(store.changes_after(0, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn every_entry_takes_the_next_seq_across_changesets() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let start = store.last_seq().await.unwrap();
    let appended = changesets(store.as_ref(), &alice, 12).await;
    let want: Vec<u64> = (start + 1..=start + appended.len() as u64).collect();
    assert_eq!(seqs(&appended), want, "one by one, no gap, no repeat");
    assert_eq!(
        store.last_seq().await.unwrap(),
        start + appended.len() as u64
    );
    assert_eq!(
        store.changes_after(start, usize::MAX).await.unwrap(),
        appended,
        "the log holds exactly what apply returned"
    );
    let log = whole_log(store.as_ref()).await;
    let all: Vec<u64> = (1..=store.last_seq().await.unwrap()).collect();
    assert_eq!(seqs(&log), all, "gapless from the first entry");
    assert_eq!(store.first_seq().await.unwrap(), Some(1));
}

#[tokio::test]
async fn concurrent_changesets_share_one_gapless_sequence() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let start = store.last_seq().await.unwrap();
    let mut tasks = JoinSet::new();
    for _ in 0..40 {
        let store = store.clone();
        let writes = vec![
            Write::PutActivity(activity(store.as_ref(), alice.id), Expect::New),
            Write::PutActivity(activity(store.as_ref(), alice.id), Expect::New),
        ];
        tasks.spawn(async move { crate::commit(store.as_ref(), writes).await });
    }
    let mut returned = Vec::new();
    while let Some(entries) = tasks.join_next().await {
        let entries = entries.expect("the task ran");
        assert_eq!(entries.len(), 2);
        returned.extend(entries);
    }
    let mut got = seqs(&returned);
    got.sort_unstable();
    let want: Vec<u64> = (start + 1..=start + 80).collect();
    assert_eq!(got, want);
    let log = store.changes_after(start, usize::MAX).await.unwrap();
    returned.sort_by_key(|e| e.seq);
    assert_eq!(log, returned);
}

#[tokio::test]
async fn changes_after_reads_oldest_first_at_most_limit() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    changesets(store.as_ref(), &alice, 10).await;
    let log = whole_log(store.as_ref()).await;
    let last = store.last_seq().await.unwrap();
    assert!(log.len() > 15);

    let mut walked = Vec::new();
    let mut after = 0;
    loop {
        let page = store.changes_after(after, 7).await.unwrap();
        assert!(page.len() <= 7);
        assert!(page.iter().all(|e| e.seq > after));
        let Some(tail) = page.last() else { break };
        after = tail.seq;
        walked.extend(page);
    }
    assert_eq!(
        walked, log,
        "paging through reads the whole log once, in order"
    );

    let middle = log[5].seq;
    assert_eq!(
        store.changes_after(middle, 3).await.unwrap(),
        log[6..9].to_vec()
    );
    assert!(store.changes_after(last, 10).await.unwrap().is_empty());
    assert!(
        store
            .changes_after(last + 100, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.changes_after(0, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn compaction_keeps_the_newest_entries_asked_for() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    changesets(store.as_ref(), &alice, 12).await;
    let before = whole_log(store.as_ref()).await;
    let last = store.last_seq().await.unwrap();
    let removed = store
        .compact_changes(10, at(86_400), u64::MAX, usize::MAX)
        .await
        .unwrap();
    assert_eq!(removed, before.len() - 10);
    assert_eq!(store.first_seq().await.unwrap(), Some(last - 9));
    assert_eq!(store.last_seq().await.unwrap(), last);
    assert_eq!(whole_log(store.as_ref()).await, before[before.len() - 10..]);

    // The sequence carries on where it was.
    let next = changesets(store.as_ref(), &alice, 1).await;
    assert_eq!(next[0].seq, last + 1);
}

#[tokio::test]
async fn compaction_keeps_entries_newer_than_keep_since() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let old = changesets(store.as_ref(), &alice, 3).await;
    // Entry times may be kept to the second: let a whole second pass.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let new = changesets(store.as_ref(), &alice, 3).await;
    let everything = whole_log(store.as_ref()).await;
    let oldest_ts = everything[0].ts;

    // Nothing is older than the oldest entry, so the count limit alone removes nothing.
    let removed = store
        .compact_changes(1, oldest_ts, u64::MAX, usize::MAX)
        .await
        .unwrap();
    assert_eq!(removed, 0);
    assert_eq!(whole_log(store.as_ref()).await, everything);

    // Entries before the newer group's time go; the newer group stays whole.
    let removed = store
        .compact_changes(1, new[0].ts, u64::MAX, usize::MAX)
        .await
        .unwrap();
    let kept = whole_log(store.as_ref()).await;
    assert!(kept.iter().all(|e| e.ts >= new[0].ts), "older entries went");
    assert!(
        new.iter().all(|e| kept.contains(e)),
        "entries at or after keep_since stay"
    );
    assert_eq!(removed, everything.len() - kept.len());
    assert!(removed >= old.len(), "the old group went: {removed}");
    assert_eq!(
        store.first_seq().await.unwrap(),
        kept.first().map(|e| e.seq)
    );
}

#[tokio::test]
async fn compaction_never_removes_entries_after_the_floor() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    changesets(store.as_ref(), &alice, 8).await;
    let before = whole_log(store.as_ref()).await;
    let first = before[0].seq;
    let floor = first + 4;
    let removed = store
        .compact_changes(1, at(86_400), floor, usize::MAX)
        .await
        .unwrap();
    assert_eq!(removed, 5, "exactly the entries up to the floor");
    assert_eq!(store.first_seq().await.unwrap(), Some(floor + 1));
    assert_eq!(whole_log(store.as_ref()).await, before[5..]);
}

#[tokio::test]
async fn compaction_removes_at_most_max_per_call_oldest_first() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    changesets(store.as_ref(), &alice, 6).await;
    let before = whole_log(store.as_ref()).await;
    let last = store.last_seq().await.unwrap();
    let removed = store
        .compact_changes(1, at(86_400), u64::MAX, 3)
        .await
        .unwrap();
    assert_eq!(removed, 3);
    assert_eq!(whole_log(store.as_ref()).await, before[3..]);
    let mut total = removed;
    loop {
        let removed = store
            .compact_changes(1, at(86_400), u64::MAX, 3)
            .await
            .unwrap();
        assert!(removed <= 3);
        if removed == 0 {
            break;
        }
        total += removed;
    }
    assert_eq!(total, before.len() - 1, "all but the newest");
    assert_eq!(store.first_seq().await.unwrap(), Some(last));
    assert_eq!(store.last_seq().await.unwrap(), last);
    let next = changesets(store.as_ref(), &alice, 1).await;
    assert_eq!(next[0].seq, last + 1, "the sequence survives compaction");
    let seen: BTreeSet<u64> = seqs(&whole_log(store.as_ref()).await).into_iter().collect();
    assert_eq!(seen, BTreeSet::from([last, last + 1]));
}

#[tokio::test]
async fn an_objects_history_is_its_entries_newest_first_with_who_made_them() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let mut a = activity(store.as_ref(), alice.id);
    let other = activity(store.as_ref(), alice.id);
    let by_alice = |writes: Vec<Write>| nexus::store::Changeset {
        writes,
        actor: Some(alice.id),
    };
    store
        .apply(by_alice(vec![
            Write::PutActivity(a.clone(), Expect::New),
            Write::PutActivity(other.clone(), Expect::New),
        ]))
        .await
        .unwrap();
    for title in ["second", "third"] {
        a.title = title.into();
        a.version += 1;
        store
            .apply(by_alice(vec![Write::PutActivity(
                a.clone(),
                Expect::Version(a.version - 1),
            )]))
            .await
            .unwrap();
    }
    commit(store.as_ref(), vec![Write::DeleteActivity(other.id)]).await;

    let history = store
        .object_changes(nexus::domain::change::ObjectKind::Activity, a.id.0, 10)
        .await
        .unwrap();
    let titles: Vec<String> = history
        .iter()
        .map(|e| e.data["title"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(titles, ["third", "second", &format!("Activity {}", a.id.0)]);
    assert!(
        history.iter().all(|e| e.id == a.id.0),
        "only its own entries"
    );
    assert!(
        history.windows(2).all(|w| w[0].seq > w[1].seq),
        "newest first"
    );
    assert!(history.iter().all(|e| e.actor == Some(alice.id.0)));
    let limited = store
        .object_changes(nexus::domain::change::ObjectKind::Activity, a.id.0, 1)
        .await
        .unwrap();
    assert_eq!(limited, history[..1]);
    let gone = store
        .object_changes(nexus::domain::change::ObjectKind::Activity, other.id.0, 10)
        .await
        .unwrap();
    assert_eq!(gone.len(), 2, "created and deleted");
    assert_eq!(
        gone[0].actor, None,
        "a changeset without an actor records none"
    );
    assert!(
        store
            .object_changes(nexus::domain::change::ObjectKind::Project, a.id.0, 10)
            .await
            .unwrap()
            .is_empty(),
        "another kind with the same id has its own history"
    );

    // Compaction takes history with it.
    let last = store.last_seq().await.unwrap();
    store
        .compact_changes(1, at(86_400), u64::MAX, usize::MAX)
        .await
        .unwrap();
    let left = store
        .object_changes(nexus::domain::change::ObjectKind::Activity, other.id.0, 10)
        .await
        .unwrap();
    assert_eq!(seqs(&left), [last], "only the newest entry stays");
    assert!(
        store
            .object_changes(nexus::domain::change::ObjectKind::Activity, a.id.0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
