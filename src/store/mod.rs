//! Storage behind small traits, split by capability. Services name only these traits; the redb
//! backend lives in `store/redb/`, and another (PostgreSQL) would live beside it.

pub mod redb;

use async_trait::async_trait;

use crate::domain::activity::{Activity, ActivityStatus, ActivityType, Priority};
use crate::domain::audit::AuditEntry;
use crate::domain::change::{ChangeEntry, ObjectKind};
use crate::domain::chat::{Conversation, Message};
use crate::domain::project::Project;
use crate::domain::time::Timestamp;
use crate::domain::update::{Notification, Update};
use crate::domain::user::{Profile, Role, User};
use crate::domain::{
    ActivityId, MessageId, NotificationId, ProjectId, SessionId, UpdateId, UserId,
};

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the database.
    #[error("data directory {0} is in use by another running Nexus")]
    Locked(String),
    /// The database was written by a newer Nexus.
    #[error(
        "data directory {dir} holds schema version {found}, newer than this build's {supported}; upgrade Nexus"
    )]
    TooNew {
        /// The directory.
        dir: String,
        /// The version found.
        found: u64,
        /// The newest version this build reads.
        supported: u64,
    },
    /// Anything else: permissions, damage, I/O.
    #[error("cannot open database {path}: {reason}")]
    Other {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Opens (or creates) the store of `data_dir` with the tuning of `server`; committed changes
/// are published on `bus`. The one place a backend is chosen (redb, the embedded default).
/// Blocking: call it off the async workers.
pub fn open(
    data_dir: &std::path::Path,
    server: &crate::config::ServerConfig,
    bus: crate::events::EventBus,
) -> Result<std::sync::Arc<dyn Store>, OpenError> {
    let store = redb::RedbStore::open_with(data_dir, bus, redb::OpenOptions::of(server))?;
    Ok(std::sync::Arc::new(store))
}

/// Whether `data_dir` holds a Nexus database.
pub fn exists(data_dir: &std::path::Path) -> bool {
    data_dir.join(redb::DB_FILE).exists()
}

/// Why a store call failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the message names it for clients.
    #[error("{0}")]
    Conflict(String),
    /// The object to change does not exist.
    #[error("not found")]
    NotFound,
    /// The object changed since it was read (its version moved on).
    #[error("changed since read")]
    Stale,
    /// A referenced object does not exist; names the request field.
    #[error("{field} {message}")]
    Invalid {
        /// The request field.
        field: &'static str,
        /// What is wrong.
        message: &'static str,
    },
    /// The disk is full or refuses writes; reads may still work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored bytes did not decode: a bug or a damaged file.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Any other storage failure.
    #[error("storage error: {0}")]
    Backend(String),
    /// The store is shutting down.
    #[error("store closed")]
    Closed,
}

/// A user to create; validation has already passed.
#[derive(Clone)]
pub struct NewUser {
    /// As typed by the user (case kept).
    pub username: String,
    /// As typed.
    pub email: String,
    /// Shown name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("password_hash", &crate::domain::user::Redacted)
            .finish()
    }
}

/// Fields to change on a user; `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct UserChanges {
    /// New email (uniqueness is checked in the same transaction).
    pub email: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Activate or deactivate; deactivating also ends every session of the user.
    pub is_active: Option<bool>,
    /// New profile.
    pub profile: Option<Profile>,
    /// New password hash.
    pub password_hash: Option<String>,
}

impl std::fmt::Debug for UserChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChanges")
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("is_active", &self.is_active)
            .field("profile", &self.profile)
            .field(
                "password_hash",
                &self
                    .password_hash
                    .as_ref()
                    .map(|_| crate::domain::user::Redacted),
            )
            .finish()
    }
}

/// A sign-in session: what refresh tokens and `sid` claims point at.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// Its id (`sid`).
    pub id: SessionId,
    /// Whose it is.
    pub user_id: UserId,
    /// Generation of the one refresh token currently valid; older ones are spent.
    pub refresh_generation: u64,
    /// When it was opened.
    #[serde(with = "crate::domain::time::rfc3339")]
    pub created_at: Timestamp,
    /// When the current refresh token expires.
    #[serde(with = "crate::domain::time::rfc3339")]
    pub expires_at: Timestamp,
}

/// What happened when a refresh token was presented.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// It was current: the session moved to the next generation.
    Rotated(Session),
    /// It was already spent: the whole session has been revoked.
    Reused,
    /// No such session (revoked, expired or never existed).
    Missing,
}

/// Users: the directory and credentials.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `Conflict` if the username or email is taken.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    /// Creates `user` only if there are no users at all (first start); `None` if there were.
    async fn create_first_user(&self, user: NewUser) -> Result<Option<User>, StoreError>;
    /// One user by id.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// One user by username, case-insensitively.
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Every user, in id order.
    async fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Applies `changes`; `NotFound` or `Conflict` (email taken) leave nothing changed.
    async fn update_user(&self, id: UserId, changes: UserChanges) -> Result<User, StoreError>;
}

/// Sign-in sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session for `user_id` whose first refresh token expires at `expires_at`.
    async fn create_session(
        &self,
        user_id: UserId,
        expires_at: Timestamp,
    ) -> Result<Session, StoreError>;
    /// The session and its user together, for authenticating one request.
    async fn session_with_user(&self, id: SessionId)
    -> Result<Option<(Session, User)>, StoreError>;
    /// Spends refresh token `generation` of session `id`, atomically.
    async fn rotate_refresh(
        &self,
        id: SessionId,
        generation: u64,
        expires_at: Timestamp,
    ) -> Result<RefreshOutcome, StoreError>;
    /// Ends one session; `false` if it did not exist.
    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError>;
    /// Ends every session of `user_id` except `keep`; returns how many ended.
    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
    ) -> Result<usize, StoreError>;
}

/// The change log.
#[async_trait]
pub trait ChangeLog: Send + Sync {
    /// Entries with `seq > after`, oldest first, at most `limit`.
    async fn changes_after(&self, after: u64, limit: usize)
    -> Result<Vec<ChangeEntry>, StoreError>;
    /// The newest committed `seq` (0 when the log is empty).
    async fn last_seq(&self) -> Result<u64, StoreError>;
    /// The oldest `seq` still in the log, if any.
    async fn first_seq(&self) -> Result<Option<u64>, StoreError>;
    /// Removes entries older than both limits (beyond the newest `keep_entries` and before
    /// `keep_since`) and not after `floor` (what followers still need); at most `max` per call.
    /// Returns how many were removed.
    async fn compact_changes(
        &self,
        keep_entries: u64,
        keep_since: Timestamp,
        floor: u64,
        max: usize,
    ) -> Result<usize, StoreError>;
}

/// Health and shutdown of the storage.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    /// `Ok` when the database can be read and written.
    async fn check(&self) -> Result<(), StoreError>;
    /// Commits everything queued, then stops taking writes; waits until done.
    async fn close(&self);
}

/// What a write expects to find, checked inside its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The object must not exist yet (a create).
    New,
    /// The object must exist.
    Exists,
    /// The object must exist with this `version` (activities).
    Version(u64),
}

/// Kinds of object whose ids the store hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// Activities.
    Activity,
    /// Projects.
    Project,
    /// Updates.
    Update,
    /// Notifications.
    Notification,
    /// Chat messages.
    Message,
    /// Audit entries.
    Audit,
}

impl IdKind {
    /// The counter's name.
    pub fn name(self) -> &'static str {
        match self {
            IdKind::Activity => "activity",
            IdKind::Project => "project",
            IdKind::Update => "update",
            IdKind::Notification => "notification",
            IdKind::Message => "message",
            IdKind::Audit => "audit",
        }
    }
}

/// One change inside a `Changeset`. Preconditions are checked in the transaction, and a failed
/// one fails the whole changeset with nothing written.
#[derive(Clone, Debug)]
pub enum Write {
    /// Create or replace an activity.
    PutActivity(Activity, Expect),
    /// Delete an activity.
    DeleteActivity(ActivityId),
    /// Create or replace a project; `team_changed` marks a team edit in the change log.
    PutProject(Project, Expect, bool),
    /// Delete a project; its activities are detached (`project_id: null`).
    DeleteProject(ProjectId),
    /// Create or replace an update.
    PutUpdate(Update, Expect),
    /// Delete an update.
    DeleteUpdate(UpdateId),
    /// Create a notification.
    AddNotification(Notification),
    /// Mark one of `recipient`'s notifications read; `NotFound` if it is not theirs.
    ReadNotification(UserId, NotificationId),
    /// Mark every notification of the user read.
    ReadAllNotifications(UserId),
    /// Send a chat message.
    AddMessage(Message),
    /// Delete a chat message.
    DeleteMessage(MessageId),
    /// Record that the user has read a conversation up to a message.
    ReadConversation(UserId, Conversation, MessageId),
    /// Append an audit entry.
    Audit(AuditEntry),
    /// Precondition: the user exists (`fields` error names the field on failure).
    RequireUser(UserId, &'static str),
    /// Precondition: the project exists.
    RequireProject(ProjectId, &'static str),
}

/// Writes that commit together or not at all.
#[derive(Clone, Debug, Default)]
pub struct Changeset {
    /// In order.
    pub writes: Vec<Write>,
}

impl Changeset {
    /// An empty changeset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write.
    pub fn push(&mut self, write: Write) -> &mut Self {
        self.writes.push(write);
        self
    }
}

/// Filters of an activity list; every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct ActivityFilter {
    /// Only this status.
    pub status: Option<ActivityStatus>,
    /// Only this type.
    pub activity_type: Option<ActivityType>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only assigned to this user.
    pub assigned_to: Option<UserId>,
    /// Only created by this user.
    pub created_by: Option<UserId>,
    /// Only in this project.
    pub project: Option<ProjectId>,
    /// Only starting at or after.
    pub start_after: Option<Timestamp>,
    /// Only starting at or before.
    pub start_before: Option<Timestamp>,
    /// Only these ids (from a full-text query).
    pub ids: Option<Vec<ActivityId>>,
}

pub use crate::domain::visibility::Viewer;

/// Sort keys of the activity list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityOrder {
    /// By start time (unset last).
    StartTime,
    /// By end time (unset last).
    EndTime,
    /// By priority (low to critical).
    Priority,
    /// By creation (the default, newest first when descending).
    CreatedAt,
    /// By last change.
    UpdatedAt,
    /// By title, case-insensitively.
    Title,
}

/// Shop-floor objects: activities, projects, updates, notifications, chat, audit.
#[async_trait]
pub trait DomainStore: Send + Sync {
    /// A new id of `kind`, never handed out before.
    fn allocate_id(&self, kind: IdKind) -> u64;
    /// Applies every write in one transaction; returns the change-log entries it appended.
    async fn apply(&self, changeset: Changeset) -> Result<Vec<ChangeEntry>, StoreError>;

    /// One activity.
    async fn activity(&self, id: ActivityId) -> Result<Option<Activity>, StoreError>;
    /// One page of activities matching `filter` that `viewer` may see, and the total count.
    async fn activities(
        &self,
        viewer: &Viewer,
        filter: &ActivityFilter,
        order: ActivityOrder,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Activity>), StoreError>;
    /// Ids of every activity matching `filter` that `viewer` may see, in order (for exports).
    async fn activity_ids(
        &self,
        viewer: &Viewer,
        filter: &ActivityFilter,
        order: ActivityOrder,
        descending: bool,
    ) -> Result<Vec<ActivityId>, StoreError>;
    /// The activities of `ids`, in order, skipping deleted ones.
    async fn activities_by_ids(&self, ids: &[ActivityId]) -> Result<Vec<Activity>, StoreError>;

    /// One project.
    async fn project(&self, id: ProjectId) -> Result<Option<Project>, StoreError>;
    /// Every project, in id order.
    async fn projects(&self) -> Result<Vec<Project>, StoreError>;
    /// Projects `user` manages or is on the team of.
    async fn projects_of(&self, user: UserId) -> Result<Vec<ProjectId>, StoreError>;

    /// One update.
    async fn update(&self, id: UpdateId) -> Result<Option<Update>, StoreError>;
    /// Every update, in id order.
    async fn updates(&self) -> Result<Vec<Update>, StoreError>;

    /// `user`'s notifications, newest first.
    async fn notifications(&self, user: UserId) -> Result<Vec<Notification>, StoreError>;

    /// One message.
    async fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError>;
    /// Messages of a conversation seen from `user`, newest first, with ids below `before`.
    async fn messages(
        &self,
        user: UserId,
        conversation: Conversation,
        before: Option<MessageId>,
    ) -> Result<Vec<Message>, StoreError>;
    /// `user`'s direct conversations and their newest message, and how far they have read.
    async fn conversations(
        &self,
        user: UserId,
        rooms: &[ProjectId],
    ) -> Result<Vec<ConversationSummary>, StoreError>;

    /// Audit entries, newest first.
    async fn audit_entries(&self) -> Result<Vec<AuditEntry>, StoreError>;

    /// How many searchable objects (activities, projects, updates, messages) exist.
    async fn searchable_count(&self) -> Result<usize, StoreError>;
    /// Searchable objects of `kind` (`ObjectKind::SEARCHABLE`) with ids above `after`, in id
    /// order, as "created" change entries carrying their REST form and visibility keys.
    async fn searchable_objects(
        &self,
        kind: ObjectKind,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ChangeEntry>, StoreError>;
}

/// A conversation's newest message and the caller's unread count.
#[derive(Clone, Debug)]
pub struct ConversationSummary {
    /// Which conversation.
    pub conversation: Conversation,
    /// Its newest message.
    pub last_message: Message,
    /// Messages from others after the caller's read marker.
    pub unread: usize,
}

/// Everything the services need from storage.
pub trait Store: UserStore + SessionStore + ChangeLog + Lifecycle + DomainStore {}
impl<T: UserStore + SessionStore + ChangeLog + Lifecycle + DomainStore> Store for T {}
