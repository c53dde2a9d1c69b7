//! The user directory and its administration (API.md §Users).

use std::sync::Arc;

use serde::Deserialize;

use serde_json::json;

use super::Principal;
use super::audit::AuditLog;
use super::auth::{AuthService, RegisterInput};
use super::pagination::{Page, PageRequest, split_ordering};
use super::password::PasswordHasher;
use crate::domain::error::{FieldErrors, push_field};
use crate::domain::user::{Profile, Role, User, validate_display_name, validate_email};
use crate::domain::visibility;
use crate::domain::{DomainError, UserId};
use crate::store::{Store, UserChanges, UserFilter, UserOrder};

/// A user as one viewer may see them: the email only for admins and the user themselves
/// (API.md §Roles and visibility), and never the password hash. The services hand users to
/// adapters only in this form, so every channel applies the same rule. Its JSON is the REST
/// user (schema `UserView`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = UserView)]
pub struct VisibleUser {
    /// Id.
    pub id: UserId,
    /// Username.
    pub username: String,
    /// `None` when the viewer may not see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Shown name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Whether they may sign in.
    pub is_active: bool,
    /// Shop-floor details.
    pub profile: Profile,
    /// When created.
    #[serde(with = "crate::domain::time::rfc3339")]
    pub created_at: ::time::OffsetDateTime,
    /// When last changed.
    #[serde(with = "crate::domain::time::rfc3339")]
    pub updated_at: ::time::OffsetDateTime,
}

impl VisibleUser {
    /// `user` as `viewer` may see them.
    pub(crate) fn new(user: User, viewer: &User) -> Self {
        let email = visibility::can_see_email(viewer, &user).then_some(user.email);
        Self {
            id: user.id,
            username: user.username,
            email,
            display_name: user.display_name,
            role: user.role,
            is_active: user.is_active,
            profile: user.profile,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }

    /// A user as they see themselves.
    pub(crate) fn own(user: User) -> Self {
        let viewer = user.clone();
        Self::new(user, &viewer)
    }
}

impl Principal {
    /// The caller as they see themselves.
    pub fn own_view(&self) -> VisibleUser {
        VisibleUser::own(self.user.clone())
    }
}

/// Filters and ordering of `GET /api/users/`.
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    /// Only this role.
    pub role: Option<Role>,
    /// Only active (or inactive) users.
    pub is_active: Option<bool>,
    /// Substring of username, display name or (for admins) email, case-insensitive.
    pub q: Option<String>,
    /// `username`, `created_at`, or either with a leading `-`.
    pub ordering: Option<String>,
}

/// `POST /api/users/` body: the account fields of `RegisterInput`, and a role. Written out
/// rather than `#[serde(flatten)]`ed, since a flattened field's type error loses its name.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
pub struct CreateUserInput {
    /// 3–32 of `[A-Za-z0-9_.-]`.
    #[schema(min_length = 3, max_length = 32, pattern = r"^[A-Za-z0-9_.-]{3,32}$")]
    pub username: String,
    /// Unique email: `local@domain`, at most 254 bytes.
    #[schema(
        max_length = 254,
        pattern = r"^\s*[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f.]([^@\s\x00-\x1f\x7f-\x9f]*[^@\s\x00-\x1f\x7f-\x9f.])?\s*$"
    )]
    pub email: String,
    /// 10–256 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// At most 100 characters, no control characters; blank or absent means the username.
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub display_name: Option<String>,
    /// Its role.
    pub role: Role,
}

impl CreateUserInput {
    /// The account fields, and the role.
    fn into_parts(self) -> (RegisterInput, Role) {
        let account = RegisterInput {
            username: self.username,
            email: self.email,
            password: self.password,
            display_name: self.display_name,
        };
        (account, self.role)
    }
}

/// `PATCH /api/users/{id}/` body.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct AdminUpdateInput {
    /// New role.
    pub role: Option<Role>,
    /// Activate or deactivate (which ends every session of the user).
    pub is_active: Option<bool>,
    /// New display name: 1–100 characters, not all blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub display_name: Option<String>,
    /// New email: `local@domain`, at most 254 bytes.
    #[schema(
        max_length = 254,
        pattern = r"^\s*[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f.]([^@\s\x00-\x1f\x7f-\x9f]*[^@\s\x00-\x1f\x7f-\x9f.])?\s*$"
    )]
    pub email: Option<String>,
}

/// Directory use cases; cheap to clone.
#[derive(Clone)]
pub struct UserService {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    audit: AuditLog,
}

fn require_admin(principal: &Principal) -> Result<(), DomainError> {
    if principal.user.role == Role::Admin {
        Ok(())
    } else {
        Err(DomainError::Forbidden("only an admin may do this".into()))
    }
}

impl UserService {
    /// Builds the service.
    pub fn new(store: Arc<dyn Store>, hasher: PasswordHasher, audit: AuditLog) -> Self {
        Self {
            store,
            hasher,
            audit,
        }
    }

    /// The directory, filtered, ordered and paged.
    pub async fn list(
        &self,
        principal: &Principal,
        query: UserQuery,
        page: PageRequest,
    ) -> Result<Page<VisibleUser>, DomainError> {
        let raw = query.ordering.as_deref().filter(|o| !o.is_empty());
        let (field, descending) = split_ordering(raw.unwrap_or("username"));
        if !matches!(field, "username" | "created_at") {
            return Err(DomainError::field(
                "ordering",
                "must be one of username, created_at (optionally with a leading '-')",
            ));
        }
        let order = match field {
            "created_at" => UserOrder::CreatedAt,
            _ => UserOrder::Username,
        };
        let filter = UserFilter {
            role: query.role,
            is_active: query.is_active,
            q: query.q,
            // Emails are matched only for those who may see them.
            q_email: principal.user.role == Role::Admin,
        };
        let (count, results) = self
            .store
            .user_page(&filter, order, descending, page.offset(), page.page_size)
            .await?;
        let page = Page {
            count,
            results,
            request: page,
        };
        Ok(page.map(|u| VisibleUser::new(u, &principal.user)))
    }

    /// One user; any signed-in user may look anyone up.
    pub async fn get(&self, principal: &Principal, id: UserId) -> Result<VisibleUser, DomainError> {
        Ok(VisibleUser::new(self.stored(id).await?, &principal.user))
    }

    /// The users of `ids` that exist, in one store read (for batched relations); any
    /// signed-in user may look anyone up, as with `get`.
    pub async fn get_many(
        &self,
        principal: &Principal,
        ids: &[UserId],
    ) -> Result<Vec<VisibleUser>, DomainError> {
        Ok(self
            .store
            .users_by_ids(ids)
            .await?
            .into_iter()
            .map(|u| VisibleUser::new(u, &principal.user))
            .collect())
    }

    async fn stored(&self, id: UserId) -> Result<User, DomainError> {
        self.store
            .user(id)
            .await?
            .ok_or_else(|| DomainError::NotFound("no such user".into()))
    }

    /// Creates a user with any role (admin only).
    pub async fn create(
        &self,
        principal: &Principal,
        auth: &AuthService,
        input: CreateUserInput,
    ) -> Result<VisibleUser, DomainError> {
        require_admin(principal)?;
        let (account, role) = input.into_parts();
        let user = auth.create_account(account, role).await?;
        let detail = json!({"username": user.username, "role": user.role});
        let entry = self.audit.by(
            principal,
            "user.create",
            format!("user:{}", user.id),
            detail,
        );
        self.audit.record(entry).await;
        Ok(VisibleUser::new(user, &principal.user))
    }

    /// Changes a user's role, activity, name or email (admin only). Deactivating ends every
    /// session of the user. The last active admin cannot be demoted or deactivated, so the
    /// plant never loses its way in.
    pub async fn update(
        &self,
        principal: &Principal,
        id: UserId,
        input: AdminUpdateInput,
    ) -> Result<VisibleUser, DomainError> {
        require_admin(principal)?;
        let mut fields = FieldErrors::new();
        if let Some(email) = &input.email {
            validate_email(email.trim(), &mut fields);
        }
        if let Some(name) = &input.display_name {
            validate_display_name(name, &mut fields);
            if name.trim().is_empty() {
                push_field(&mut fields, "display_name", "must not be empty");
            }
        }
        DomainError::check(fields)?;
        let target = self.stored(id).await?;
        let stops_being_admin = target.role == Role::Admin
            && target.is_active
            && (input.role.is_some_and(|r| r != Role::Admin) || input.is_active == Some(false));
        if stops_being_admin {
            let active_admins = UserFilter {
                role: Some(Role::Admin),
                is_active: Some(true),
                ..UserFilter::default()
            };
            let (admins, _) = self
                .store
                .user_page(&active_admins, UserOrder::CreatedAt, false, 0, 0)
                .await?;
            // The target is one of them.
            if admins <= 1 {
                return Err(DomainError::Conflict(
                    "cannot demote or deactivate the last active admin".into(),
                ));
            }
        }
        let user = self
            .store
            .update_user(
                id,
                UserChanges {
                    email: input.email.map(|e| e.trim().to_string()),
                    display_name: input.display_name,
                    role: input.role,
                    is_active: input.is_active,
                    ..Default::default()
                },
            )
            .await?;
        if user.role != target.role {
            let detail = json!({"from": target.role, "to": user.role});
            let entry = self
                .audit
                .by(principal, "user.role_change", format!("user:{id}"), detail);
            self.audit.record(entry).await;
        }
        if user.is_active != target.is_active {
            let action = if user.is_active {
                "user.activate"
            } else {
                "user.deactivate"
            };
            let entry = self
                .audit
                .by(principal, action, format!("user:{id}"), json!({}));
            self.audit.record(entry).await;
        }
        Ok(VisibleUser::new(user, &principal.user))
    }

    /// Sets a user's password (admin only), for someone who cannot sign in any more. Every
    /// session of theirs ends, as after a change of one's own password.
    pub async fn set_password(
        &self,
        principal: &Principal,
        id: UserId,
        password: &str,
    ) -> Result<(), DomainError> {
        require_admin(principal)?;
        let mut fields = FieldErrors::new();
        crate::domain::user::validate_password("password", password, &mut fields);
        DomainError::check(fields)?;
        self.stored(id).await?;
        let password_hash = self.hasher.hash(password).await?;
        self.store
            .update_user(
                id,
                UserChanges {
                    password_hash: Some(password_hash),
                    ..Default::default()
                },
            )
            .await?;
        self.store.revoke_user_sessions(id, None).await?;
        let entry = self
            .audit
            .by(principal, "password.reset", format!("user:{id}"), json!({}));
        self.audit.record(entry).await;
        Ok(())
    }

    /// On first start, creates `admin` with `password`, or with a random one that is returned so
    /// it can be shown once. `None` when users already exist.
    pub async fn bootstrap_admin(
        &self,
        password: Option<&str>,
    ) -> Result<Option<(User, Option<String>)>, DomainError> {
        let (users, _) = self
            .store
            .user_page(&UserFilter::default(), UserOrder::CreatedAt, false, 0, 0)
            .await?;
        if users > 0 {
            return Ok(None);
        }
        let generated = match password {
            Some(_) => None,
            None => Some(random_password()),
        };
        let password = password.or(generated.as_deref()).unwrap_or_default();
        let password_hash = self.hasher.hash(password).await?;
        let created = self
            .store
            .create_first_user(crate::store::NewUser {
                username: "admin".into(),
                email: "admin@localhost".into(),
                display_name: "Administrator".into(),
                role: Role::Admin,
                password_hash,
            })
            .await?;
        Ok(created.map(|user| (user, generated)))
    }
}

/// 20 characters from an unambiguous alphabet (≈ 115 bits).
pub fn random_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}
