//! Users and sign-in sessions.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::time::Timestamp;
use crate::domain::user::{Profile, Role, User};
use crate::domain::{SessionId, UserId};

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

/// Filters of the user directory; every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Only this role.
    pub role: Option<Role>,
    /// Only active (or inactive) users.
    pub is_active: Option<bool>,
    /// Only users whose username or display name (or email, with `q_email`) contains this,
    /// case-insensitively (both sides lower-cased); empty matches everyone.
    pub q: Option<String>,
    /// Whether `q` also matches emails (only for viewers who may see them).
    pub q_email: bool,
}

/// Sort keys of the user directory; ties go by id, in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserOrder {
    /// By lower-cased username.
    Username,
    /// By creation time.
    CreatedAt,
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
    /// The users of `ids` that exist, in one read (for batched lookups), in no set order.
    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;
    /// One user by id.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// One user by username, case-insensitively.
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// One page (`offset` rows skipped, at most `limit` taken) of the users matching `filter`
    /// in `order` (then id; both reversed when `descending`), and how many match in all.
    async fn user_page(
        &self,
        filter: &UserFilter,
        order: UserOrder,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<User>), StoreError>;
    /// Ids of every user matching `filter`, in id order: for fanning a notification out to
    /// all of them, which needs each one.
    async fn user_ids(&self, filter: &UserFilter) -> Result<Vec<UserId>, StoreError>;
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
    /// Moves a live session's expiry to `expires_at` (a web session renewing itself while
    /// used); `false` if the session is gone or already expired.
    async fn extend_session(
        &self,
        id: SessionId,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Ends one session; `false` if it did not exist.
    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError>;
    /// Ends every session of `user_id` except `keep`; returns how many ended.
    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
    ) -> Result<usize, StoreError>;
}
