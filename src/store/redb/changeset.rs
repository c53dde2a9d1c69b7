//! `DomainStore` for redb: id counters, and `apply`, which checks every precondition of a
//! changeset before it writes anything, so a refused changeset leaves nothing behind.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{
    Batch, RedbStore, activities, andon, audit, chat, handovers, machine_keys, projects, shopfloor,
    storage_err, updates,
};
use crate::domain::change::ChangeEntry;
use crate::domain::update::Notification;
use crate::store::{Changeset, ChangesetStore, Expect, IdKind, StoreError, Write};

const KINDS: [IdKind; 14] = [
    IdKind::Activity,
    IdKind::Project,
    IdKind::Update,
    IdKind::Notification,
    IdKind::Message,
    IdKind::Audit,
    IdKind::Asset,
    IdKind::Shift,
    IdKind::Andon,
    IdKind::Reason,
    IdKind::Downtime,
    IdKind::Production,
    IdKind::MachineKey,
    IdKind::Handover,
];

fn slot(kind: IdKind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

fn meta_key(kind: IdKind) -> String {
    format!("max_id.{}", kind.name())
}

/// The highest id handed out per kind. Ids are taken from memory and the highest committed
/// one is persisted with each write, so an id is never handed out twice, even after a crash.
pub struct IdCounters([AtomicU64; KINDS.len()]);

impl IdCounters {
    /// Loads the persisted highs.
    pub fn load(db: &redb::Database) -> Result<IdCounters, StoreError> {
        let txn = db.begin_read().map_err(storage_err)?;
        let meta = txn.open_table(META).map_err(storage_err)?;
        let mut highs = [0u64; KINDS.len()];
        for (i, kind) in KINDS.iter().enumerate() {
            highs[i] = meta
                .get(meta_key(*kind).as_str())
                .map_err(storage_err)?
                .map(|g| g.value())
                .unwrap_or(0);
        }
        Ok(IdCounters(highs.map(AtomicU64::new)))
    }

    fn next(&self, kind: IdKind) -> u64 {
        self.0[slot(kind)].fetch_add(1, Ordering::SeqCst) + 1
    }
}

pub(super) fn raise_high(txn: &WriteTransaction, kind: IdKind, id: u64) -> Result<(), StoreError> {
    let key = meta_key(kind);
    let mut meta = txn.open_table(META).map_err(storage_err)?;
    let high = meta
        .get(key.as_str())
        .map_err(storage_err)?
        .map(|g| g.value())
        .unwrap_or(0);
    if id > high {
        meta.insert(key.as_str(), id).map_err(storage_err)?;
    }
    Ok(())
}

fn exists(
    txn: &WriteTransaction,
    table: redb::TableDefinition<u64, &[u8]>,
    id: u64,
) -> Result<bool, StoreError> {
    Ok(txn
        .open_table(table)
        .map_err(storage_err)?
        .get(id)
        .map_err(storage_err)?
        .is_some())
}

fn expect_row(
    txn: &WriteTransaction,
    table: redb::TableDefinition<u64, &[u8]>,
    id: u64,
    expect: Expect,
    what: &str,
) -> Result<(), StoreError> {
    expect.check_presence(exists(txn, table, id)?, what)
}

/// Checks one write's preconditions against the transaction, writing nothing.
fn check(txn: &WriteTransaction, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::PutActivity(a, expect) => activities::check(txn, a.id.0, *expect).map(|_| ()),
        Write::DeleteActivity(id) => expect_row(txn, ACTIVITIES, id.0, Expect::Exists, "activity"),
        Write::PutProject(p, expect, _) => {
            expect_row(txn, PROJECTS, p.id.0, *expect, "project")?;
            projects::check_name(txn, p)
        }
        Write::DeleteProject(id) => expect_row(txn, PROJECTS, id.0, Expect::Exists, "project"),
        Write::PutUpdate(u, expect) => expect_row(txn, UPDATES, u.id.0, *expect, "update"),
        Write::DeleteUpdate(id) => expect_row(txn, UPDATES, id.0, Expect::Exists, "update"),
        Write::AckUpdate(id, ..) => updates::check_ack(txn, *id),
        Write::AckReminderSent(id) => updates::check_reminder(txn, *id),
        Write::DeleteMessage(id) => expect_row(txn, MESSAGES, id.0, Expect::Exists, "message"),
        Write::ReadNotification(user, id) => {
            let rows = txn.open_table(NOTIFICATIONS).map_err(storage_err)?;
            let n: Option<Notification> = get_json(&rows, id.0)?;
            match n {
                Some(n) if n.recipient == *user => Ok(()),
                _ => Err(StoreError::NotFound),
            }
        }
        Write::RequireUser(id, field) => {
            if exists(txn, USERS, id.0)? {
                Ok(())
            } else {
                Err(StoreError::Invalid {
                    field,
                    message: "must name an existing user",
                })
            }
        }
        Write::RequireProject(id, field) => {
            if exists(txn, PROJECTS, id.0)? {
                Ok(())
            } else {
                Err(StoreError::Invalid {
                    field,
                    message: "must name an existing project",
                })
            }
        }
        Write::PutAsset(..)
        | Write::DeleteAsset(_)
        | Write::PutShift(..)
        | Write::DeleteShift(_)
        | Write::PutReason(..)
        | Write::DeleteReason(_)
        | Write::PutDowntime(..)
        | Write::DeleteDowntime(_)
        | Write::PutProduction(..)
        | Write::DeleteProduction(_) => shopfloor::check(txn, write),
        Write::PutMachineKey(key, expect) => machine_keys::check(txn, key, *expect),
        Write::PutHandover(..) | Write::DeleteHandover(_) => handovers::check(txn, write),
        Write::PutAndon(c, expect) => andon::check(txn, c, *expect),
        Write::AddNotification(_)
        | Write::ReadAllNotifications(_)
        | Write::AddMessage(_)
        | Write::ReadConversation(..)
        | Write::Audit(_) => Ok(()),
    }
}

/// Performs one (already checked) write.
fn perform(batch: &mut Batch<'_>, write: &Write) -> Result<(), StoreError> {
    let txn = batch.txn();
    match write {
        Write::PutActivity(a, expect) => {
            let old = activities::load(txn, a.id.0)?;
            if *expect == Expect::New {
                raise_high(txn, IdKind::Activity, a.id.0)?;
            }
            activities::put(batch, a, old.as_ref())
        }
        Write::DeleteActivity(id) => activities::delete(batch, id.0),
        Write::PutProject(p, expect, team_changed) => {
            if *expect == Expect::New {
                raise_high(txn, IdKind::Project, p.id.0)?;
            }
            projects::put(batch, p, *team_changed)
        }
        Write::DeleteProject(id) => projects::delete(batch, id.0),
        Write::PutUpdate(u, expect) => {
            if *expect == Expect::New {
                raise_high(txn, IdKind::Update, u.id.0)?;
            }
            updates::put_update(batch, u, *expect)
        }
        Write::DeleteUpdate(id) => updates::delete_update(batch, *id),
        Write::AckUpdate(id, user, at) => updates::ack_update(batch, *id, *user, *at),
        Write::AckReminderSent(id) => updates::reminder_sent(txn, *id),
        Write::AddNotification(n) => {
            raise_high(txn, IdKind::Notification, n.id.0)?;
            updates::add_notification(batch, n)
        }
        Write::ReadNotification(user, id) => updates::read_notification(txn, *user, *id),
        Write::ReadAllNotifications(user) => updates::read_all_notifications(txn, *user),
        Write::AddMessage(m) => {
            raise_high(txn, IdKind::Message, m.id.0)?;
            chat::add_message(batch, m)
        }
        Write::DeleteMessage(id) => chat::delete_message(batch, *id),
        Write::ReadConversation(user, c, up_to) => chat::read_conversation(txn, *user, *c, *up_to),
        Write::Audit(e) => {
            raise_high(txn, IdKind::Audit, e.id.0)?;
            audit::add_audit(txn, e)
        }
        Write::PutAndon(c, expect) => andon::put(batch, c, *expect),
        Write::RequireUser(..) | Write::RequireProject(..) => Ok(()),
        Write::PutAsset(..)
        | Write::DeleteAsset(_)
        | Write::PutShift(..)
        | Write::DeleteShift(_)
        | Write::PutReason(..)
        | Write::DeleteReason(_)
        | Write::PutDowntime(..)
        | Write::DeleteDowntime(_)
        | Write::PutProduction(..)
        | Write::DeleteProduction(_) => shopfloor::perform(batch, write),
        Write::PutMachineKey(key, expect) => {
            if *expect == Expect::New {
                raise_high(txn, IdKind::MachineKey, key.id.0)?;
            }
            machine_keys::put(batch, key)
        }
        Write::PutHandover(..) | Write::DeleteHandover(_) => handovers::perform(batch, write),
    }
}

#[async_trait]
impl ChangesetStore for RedbStore {
    fn allocate_id(&self, kind: IdKind) -> u64 {
        self.ids.next(kind)
    }

    async fn apply(&self, changeset: Changeset) -> Result<Vec<ChangeEntry>, StoreError> {
        self.write(move |batch| {
            for write in &changeset.writes {
                check(batch.txn(), write)?;
            }
            let first = batch.recorded();
            batch.set_actor(changeset.actor.map(|a| a.0));
            for write in &changeset.writes {
                // Every precondition held, so a failure here is the storage's: the batch must
                // not commit half of this changeset.
                perform(batch, write).map_err(|e| match e {
                    e @ (StoreError::Backend(_)
                    | StoreError::Unavailable(_)
                    | StoreError::Corrupt(_)) => e,
                    other => {
                        StoreError::Backend(format!("changeset failed after its checks: {other}"))
                    }
                })?;
            }
            Ok(batch.recorded_since(first))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::{Activity, ActivityStatus, ActivityType, Priority};
    use crate::domain::time;
    use crate::domain::update::Notification;
    use crate::domain::update::NotificationKind;
    use crate::domain::user::Role;
    use crate::domain::{ActivityId, NotificationId, ProjectId, UserId};
    use crate::events::EventBus;
    use crate::store::{ActivityFilter, ActivityOrder, ActivityStore, UpdateStore, Viewer};
    use crate::store::{ChangeLog, NewUser, UserStore};

    fn activity(store: &RedbStore, creator: UserId) -> Activity {
        let now = time::now();
        Activity {
            id: ActivityId(store.allocate_id(IdKind::Activity)),
            title: "Changeover line 2".into(),
            description: String::new(),
            activity_type: ActivityType::Changeover,
            status: ActivityStatus::Planned,
            priority: Priority::High,
            start_time: None,
            end_time: None,
            assigned_to: Some(creator),
            created_by: creator,
            project_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[tokio::test]
    async fn a_refused_changeset_leaves_no_row_index_entry_notification_or_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), EventBus::new()).unwrap();
        let user = store
            .create_user(NewUser {
                username: "op".into(),
                email: "op@plant.test".into(),
                display_name: "Op".into(),
                role: crate::domain::user::Role::User,
                password_hash: "x".into(),
            })
            .await
            .unwrap();
        let seq_before = store.last_seq().await.unwrap();
        let a = activity(&store, user.id);
        let mut changeset = Changeset::new();
        changeset.push(Write::PutActivity(a.clone(), Expect::New));
        changeset.push(Write::AddNotification(Notification {
            id: NotificationId(store.allocate_id(IdKind::Notification)),
            recipient: user.id,
            kind: NotificationKind::ActivityAssigned,
            title: "t".into(),
            body: "b".into(),
            link: "/".into(),
            read: false,
            created_at: time::now(),
        }));
        changeset.push(Write::RequireProject(ProjectId(999), "project_id"));
        let err = store.apply(changeset).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Invalid {
                    field: "project_id",
                    ..
                }
            ),
            "{err:?}"
        );

        assert!(store.activity(a.id).await.unwrap().is_none(), "no row");
        let filter = ActivityFilter {
            status: Some(ActivityStatus::Planned),
            ..Default::default()
        };
        let (count, _) = store
            .activities(
                &Viewer::new(UserId(1), Role::Admin, []),
                &filter,
                ActivityOrder::CreatedAt,
                true,
                0,
                50,
            )
            .await
            .unwrap();
        assert_eq!(count, 0, "no index entry");
        assert!(
            store
                .notification_page(user.id, false, 0, 1)
                .await
                .unwrap()
                .0
                == 0,
            "no notification"
        );
        assert_eq!(
            store.last_seq().await.unwrap(),
            seq_before,
            "no change-log entry"
        );

        // The same write without the failing precondition commits whole.
        let mut changeset = Changeset::new();
        changeset.push(Write::PutActivity(a.clone(), Expect::New));
        let entries = store.apply(changeset).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].seq, seq_before + 1, "gapless sequence");
        store.close().await;
    }

    #[tokio::test]
    async fn ids_are_never_reused_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let store = RedbStore::open(dir.path(), EventBus::new()).unwrap();
            let a = activity(&store, UserId(1));
            let mut changeset = Changeset::new();
            changeset.push(Write::PutActivity(a.clone(), Expect::New));
            store.apply(changeset).await.unwrap();
            let mut changeset = Changeset::new();
            changeset.push(Write::DeleteActivity(a.id));
            store.apply(changeset).await.unwrap();
            store.close().await;
            a.id
        };
        let store = RedbStore::open(dir.path(), EventBus::new()).unwrap();
        let next = ActivityId(store.allocate_id(IdKind::Activity));
        assert!(next > first, "{next:?} after {first:?}");
        store.close().await;
    }

    #[tokio::test]
    async fn list_filters_see_the_same_activities_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let member = Viewer::new(UserId(7), Role::User, []);
        let filter = ActivityFilter {
            priority: Some(Priority::High),
            ..Default::default()
        };
        let before = {
            let store = RedbStore::open(dir.path(), EventBus::new()).unwrap();
            for creator in [7, 8, 7] {
                let mut changeset = Changeset::new();
                let mut a = activity(&store, UserId(creator));
                a.assigned_to = None;
                a.project_id = Some(ProjectId(42));
                changeset.push(Write::PutActivity(a, Expect::New));
                store.apply(changeset).await.unwrap();
            }
            let listed = store
                .activities(&member, &filter, ActivityOrder::CreatedAt, true, 0, 50)
                .await
                .unwrap();
            store.close().await;
            listed
        };
        assert_eq!(before.0, 2, "the member sees what they created only");
        let store = RedbStore::open(dir.path(), EventBus::new()).unwrap();
        let after = store
            .activities(&member, &filter, ActivityOrder::CreatedAt, true, 0, 50)
            .await
            .unwrap();
        assert_eq!(before, after);
        store.close().await;
    }

    #[tokio::test]
    async fn lists_read_from_rows_while_the_facets_load_agree_with_the_loaded_facets() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), EventBus::new()).unwrap();
        let statuses = [ActivityStatus::Planned, ActivityStatus::InProgress];
        for i in 0..24u64 {
            let mut a = activity(&store, UserId(7 + i % 3));
            a.status = statuses[(i % 2) as usize];
            a.priority = if i % 3 == 0 {
                Priority::Low
            } else {
                Priority::High
            };
            a.assigned_to = (i % 4 == 0).then_some(UserId(9));
            a.project_id = (i % 5 != 0).then_some(ProjectId(40 + i % 2));
            a.start_time =
                (i % 6 != 0).then(|| time::now() + ::time::Duration::minutes((i * 37 % 11) as i64));
            a.title = format!("Run {}", (i * 7) % 13);
            let mut changeset = Changeset::new();
            changeset.push(Write::PutActivity(a, Expect::New));
            store.apply(changeset).await.unwrap();
        }
        let mut changeset = Changeset::new();
        changeset.push(Write::DeleteActivity(ActivityId(5)));
        store.apply(changeset).await.unwrap();
        // Wait for the background load, then compare against a store that never finishes it.
        while store.facets.with(|_| ()).is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let mut loading = store.clone();
        loading.facets = std::sync::Arc::new(super::super::facets::Facets::never_loaded());
        let viewers = [
            Viewer::new(UserId(1), Role::Admin, []),
            Viewer::new(UserId(8), Role::User, [ProjectId(41)]),
        ];
        let filters = [
            ActivityFilter::default(),
            ActivityFilter {
                status: Some(ActivityStatus::InProgress),
                priority: Some(Priority::High),
                ..Default::default()
            },
            ActivityFilter {
                start_after: Some(time::now()),
                ..Default::default()
            },
            // One indexed filter: the loaded store answers from its in-memory count.
            ActivityFilter {
                status: Some(ActivityStatus::InProgress),
                ..Default::default()
            },
            ActivityFilter {
                project: Some(ProjectId(41)),
                ..Default::default()
            },
        ];
        let orders = [
            ActivityOrder::CreatedAt,
            ActivityOrder::StartTime,
            ActivityOrder::Priority,
            ActivityOrder::Title,
        ];
        let mut compared = 0;
        for viewer in &viewers {
            for filter in &filters {
                for order in orders {
                    for descending in [false, true] {
                        let want = store
                            .activities(viewer, filter, order, descending, 0, 50)
                            .await
                            .unwrap();
                        let got = loading
                            .activities(viewer, filter, order, descending, 0, 50)
                            .await
                            .unwrap();
                        assert_eq!(got, want, "{viewer:?} {filter:?} {order:?} {descending}");
                        compared += usize::from(want.0 > 0);
                        let paged = |s: &RedbStore| {
                            let s = s.clone();
                            let (viewer, filter) = (viewer.clone(), filter.clone());
                            async move {
                                s.activities(&viewer, &filter, order, descending, 3, 4)
                                    .await
                                    .unwrap()
                            }
                        };
                        let (want_page, got_page) = (paged(&store).await, paged(&loading).await);
                        assert_eq!(got_page, want_page, "page 2 of {filter:?} {order:?}");
                        assert_eq!(want_page.0, want.0, "the same count on every page");
                    }
                }
            }
        }
        assert!(compared > 30, "most queries match something: {compared}");
        store.close().await;
    }
}
