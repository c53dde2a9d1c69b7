//! The store conformance suite: the contract of the storage traits (`nexus::store`), written
//! against `dyn Store` alone. A backend proves itself by passing it unchanged: only `backend()`
//! below names one. One test binary, one module per capability.
//!
//! What the suite pins is what the traits' doc comments (and API.md, where a rule lives in the
//! store) promise; behaviour they are silent on is left free.

mod activities;
mod andon;
mod audit;
mod change_log;
mod changesets;
mod chat;
mod handovers;
mod lists;
mod machine_keys;
mod projects;
mod shopfloor;
mod update_acks;
mod updates_notifications;
mod users_sessions;

use std::any::Any;
use std::sync::Arc;

use nexus::domain::activity::{Activity, ActivityStatus, ActivityType, Priority};
use nexus::domain::audit::AuditEntry;
use nexus::domain::change::ChangeEntry;
use nexus::domain::chat::{Message, MessageType};
use nexus::domain::project::{Project, ProjectStatus};
use nexus::domain::time::{self, Timestamp};
use nexus::domain::update::{Notification, NotificationKind, Update, UpdateType};
use nexus::domain::user::{Role, User};
use nexus::domain::{ActivityId, AuditId, MessageId, NotificationId, ProjectId, UpdateId, UserId};
use nexus::events::EventBus;
use nexus::store::redb::RedbStore;
use nexus::store::{
    Changeset, IdKind, NewUser, ProjectFilter, ProjectOrder, Store, StoreError, UpdateFilter,
    UpdateOrder, UserFilter, UserOrder, Viewer, Write,
};

/// Keeps a backend's storage alive for one test (for redb, its temporary directory).
pub type Guard = Box<dyn Any + Send>;

/// A new, empty store of the backend under test. The one place that names a backend.
pub async fn backend() -> (Arc<dyn Store>, Guard) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = RedbStore::open(dir.path(), EventBus::new()).expect("the redb store opens");
    (Arc::new(store), Box::new(dir))
}

/// Applies `writes` as one changeset.
pub async fn apply(store: &dyn Store, writes: Vec<Write>) -> Result<Vec<ChangeEntry>, StoreError> {
    store
        .apply(Changeset {
            writes,
            actor: None,
        })
        .await
}

/// Applies `writes` as one changeset, which must commit.
pub async fn commit(store: &dyn Store, writes: Vec<Write>) -> Vec<ChangeEntry> {
    apply(store, writes)
        .await
        .unwrap_or_else(|e| panic!("the changeset was refused: {e:?}"))
}

/// A user named `name` (email `{name}@plant.test`).
pub async fn user(store: &dyn Store, name: &str, role: Role) -> User {
    store
        .create_user(new_user(name, &format!("{name}@plant.test"), role))
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e:?}"))
}

/// The input of a user.
pub fn new_user(username: &str, email: &str, role: Role) -> NewUser {
    NewUser {
        username: username.into(),
        email: email.into(),
        display_name: format!("{username} (display)"),
        role,
        password_hash: "$argon2id$not-a-real-hash".into(),
    }
}

/// A second offset from now, for distinct and ordered timestamps.
pub fn at(seconds: i64) -> Timestamp {
    time::now() + ::time::Duration::seconds(seconds)
}

/// A new activity with a fresh id, created by `creator`; callers adjust the rest.
pub fn activity(store: &dyn Store, creator: UserId) -> Activity {
    let id = ActivityId(store.allocate_id(IdKind::Activity));
    let now = time::now();
    Activity {
        id,
        title: format!("Activity {}", id.0),
        description: String::new(),
        activity_type: ActivityType::Production,
        status: ActivityStatus::Planned,
        priority: Priority::Medium,
        start_time: None,
        end_time: None,
        assigned_to: None,
        created_by: creator,
        project_id: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// A new project with a fresh id, managed by `manager`.
pub fn project(store: &dyn Store, name: &str, manager: UserId, team: &[UserId]) -> Project {
    let id = ProjectId(store.allocate_id(IdKind::Project));
    let now = time::now();
    Project {
        id,
        name: name.into(),
        description: String::new(),
        status: ProjectStatus::Active,
        start_date: None,
        end_date: None,
        manager_id: manager,
        team_members: team.to_vec(),
        created_at: now,
        updated_at: now,
    }
}

/// A new update with a fresh id.
pub fn update(store: &dyn Store, title: &str, author: UserId) -> Update {
    let id = UpdateId(store.allocate_id(IdKind::Update));
    let now = time::now();
    Update {
        id,
        title: title.into(),
        content: format!("{title}: details"),
        update_type: UpdateType::Announcement,
        priority: Priority::Low,
        created_by: author,
        created_at: now,
        updated_at: now,
        requires_ack: false,
        acknowledged_at: None,
    }
}

/// A new unread notification for `recipient`, with a fresh id.
pub fn notification(store: &dyn Store, recipient: UserId) -> Notification {
    let id = NotificationId(store.allocate_id(IdKind::Notification));
    Notification {
        id,
        recipient,
        kind: NotificationKind::ActivityAssigned,
        title: format!("Notification {}", id.0),
        body: "body".into(),
        link: "/activities/1".into(),
        read: false,
        created_at: time::now(),
    }
}

/// A new direct message from `sender` to `receiver`, with a fresh id.
pub fn direct(store: &dyn Store, sender: UserId, receiver: UserId, content: &str) -> Message {
    message(store, sender, Some(receiver), None, content)
}

/// A new message in the room of `project`, with a fresh id.
pub fn in_room(store: &dyn Store, sender: UserId, project: ProjectId, content: &str) -> Message {
    message(store, sender, None, Some(project), content)
}

fn message(
    store: &dyn Store,
    sender: UserId,
    receiver: Option<UserId>,
    project: Option<ProjectId>,
    content: &str,
) -> Message {
    Message {
        id: MessageId(store.allocate_id(IdKind::Message)),
        sender_id: sender,
        receiver_id: receiver,
        project_id: project,
        content: content.into(),
        message_type: MessageType::Text,
        created_at: time::now(),
    }
}

/// A new audit entry with a fresh id.
pub fn audit_entry(store: &dyn Store, action: &str, actor: Option<UserId>) -> AuditEntry {
    AuditEntry {
        id: AuditId(store.allocate_id(IdKind::Audit)),
        ts: time::now(),
        actor_id: actor,
        ip: Some("192.0.2.7".into()),
        action: action.into(),
        target: "activity:1".into(),
        detail: serde_json::json!({"why": "test"}),
    }
}

/// The kind of a change entry in its stored (serde) form, e.g. `"activity"`.
pub fn kind_of(entry: &ChangeEntry) -> &'static str {
    entry.kind.as_str()
}

/// Every user, in id order, through the directory list.
pub async fn all_users(store: &dyn Store) -> Vec<User> {
    let (count, mut users) = store
        .user_page(
            &UserFilter::default(),
            UserOrder::CreatedAt,
            false,
            0,
            usize::MAX,
        )
        .await
        .expect("the directory reads");
    assert_eq!(count, users.len());
    users.sort_by_key(|u| u.id);
    users
}

/// Every project, in id order, through the list as an admin sees it.
pub async fn all_projects(store: &dyn Store) -> Vec<Project> {
    let admin = Viewer::new(UserId(0), Role::Admin, []);
    let (count, mut projects) = store
        .project_page(
            &admin,
            &ProjectFilter::default(),
            ProjectOrder::CreatedAt,
            false,
            0,
            usize::MAX,
        )
        .await
        .expect("the project list reads");
    assert_eq!(count, projects.len());
    projects.sort_by_key(|p| p.id);
    projects
}

/// Every update, in id order, through the list.
pub async fn all_updates(store: &dyn Store) -> Vec<Update> {
    let (count, mut updates) = store
        .update_page(
            &UpdateFilter::default(),
            UpdateOrder::CreatedAt,
            false,
            0,
            usize::MAX,
        )
        .await
        .expect("the update list reads");
    assert_eq!(count, updates.len());
    updates.sort_by_key(|u| u.id);
    updates
}

/// Every entry of the change log, oldest first.
pub async fn whole_log(store: &dyn Store) -> Vec<ChangeEntry> {
    store
        .changes_after(0, usize::MAX)
        .await
        .expect("the change log reads")
}
