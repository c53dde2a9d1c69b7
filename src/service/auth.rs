//! Sign-in, sessions and tokens, registration, and one's own account (API.md §Auth).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use serde_json::json;

use super::Principal;
use super::audit::AuditLog;
use super::lockout::Lockout;
use super::password::PasswordHasher;
use super::tokens::TokenService;
use super::users::VisibleUser;
use crate::config::Config;
use crate::domain::DomainError;
use crate::domain::error::FieldErrors;
use crate::domain::time;
use crate::domain::user::{
    ProfilePatch, Redacted, Role, User, validate_display_name, validate_email, validate_password,
    validate_username,
};
use crate::store::{NewUser, RefreshOutcome, Store, UserChanges};

/// The one message for every failed login, so a wrong username and a wrong password (and an
/// inactive account) look alike.
pub const BAD_CREDENTIALS: &str = "invalid username or password";
/// The one message for every unusable access token.
pub const BAD_TOKEN: &str = "invalid, expired or revoked token";

/// `POST /api/auth/register/` body (and the account part of `POST /api/users/`).
#[derive(Clone, Deserialize, utoipa::ToSchema)]
pub struct RegisterInput {
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
}

impl std::fmt::Debug for RegisterInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterInput")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &Redacted)
            .field("display_name", &self.display_name)
            .finish()
    }
}

/// `PATCH /api/auth/user/` body.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct UpdateMeInput {
    /// New email: `local@domain`, at most 254 bytes.
    #[schema(
        max_length = 254,
        pattern = r"^\s*[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f.]([^@\s\x00-\x1f\x7f-\x9f]*[^@\s\x00-\x1f\x7f-\x9f.])?\s*$"
    )]
    pub email: Option<String>,
    /// New display name: 1–100 characters, not all blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub display_name: Option<String>,
    /// Profile fields to change.
    pub profile: Option<ProfilePatch>,
}

/// A pair of tokens for one session.
#[derive(Clone)]
pub struct Tokens {
    /// Access token (JWT).
    pub access: String,
    /// Refresh token.
    pub refresh: String,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &Redacted)
            .field("refresh", &Redacted)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Sign-in and account use cases; cheap to clone.
#[derive(Clone)]
pub struct AuthService {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    /// Shared: the state is cloned for every request, and the keys and validation rules inside
    /// cost allocations to copy.
    tokens: Arc<TokenService>,
    lockout: Arc<Lockout>,
    allow_registration: bool,
    audit: AuditLog,
    /// A web session's idle lifetime.
    web_idle_secs: u64,
}

/// A web session's cookie value and how long the browser should keep it.
#[derive(Clone)]
pub struct WebCookie {
    /// The signed cookie value.
    pub value: String,
    /// Seconds until it expires unless renewed.
    pub max_age_secs: u64,
}

impl std::fmt::Debug for WebCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebCookie")
            .field("value", &Redacted)
            .field("max_age_secs", &self.max_age_secs)
            .finish()
    }
}

/// Validates a new account's fields; shared by registration and admin creation.
pub fn validate_new_user(input: &RegisterInput) -> Result<(), DomainError> {
    let mut fields = FieldErrors::new();
    validate_username(&input.username, &mut fields);
    // Checked as stored: trimmed, as on every other path that takes an email.
    validate_email(input.email.trim(), &mut fields);
    validate_password("password", &input.password, &mut fields);
    if let Some(name) = &input.display_name {
        validate_display_name(name, &mut fields);
    }
    DomainError::check(fields)
}

impl AuthService {
    /// Builds the service.
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        hasher: PasswordHasher,
        tokens: TokenService,
        audit: AuditLog,
    ) -> Self {
        Self {
            store,
            hasher,
            tokens: Arc::new(tokens),
            lockout: Arc::new(Lockout::new(
                config.auth.lockout_failures,
                Duration::from_secs(config.auth.lockout_secs),
            )),
            allow_registration: config.auth.allow_registration,
            audit,
            web_idle_secs: config.ui.session_idle_secs,
        }
    }

    /// Hashes `input`'s password and stores a new user with `role`.
    pub async fn create_account(
        &self,
        input: RegisterInput,
        role: Role,
    ) -> Result<User, DomainError> {
        validate_new_user(&input)?;
        let password_hash = self.hasher.hash(&input.password).await?;
        let display_name = input
            .display_name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| input.username.clone());
        Ok(self
            .store
            .create_user(NewUser {
                username: input.username,
                email: input.email.trim().to_string(),
                display_name,
                role,
                password_hash,
            })
            .await?)
    }

    /// Self-service sign-up as a `user`; `Forbidden` when registration is off.
    pub async fn register(
        &self,
        input: RegisterInput,
        ip: Option<&str>,
    ) -> Result<VisibleUser, DomainError> {
        if !self.allow_registration {
            return Err(DomainError::Forbidden("registration is disabled".into()));
        }
        let user = self.create_account(input, Role::User).await?;
        let detail = json!({"username": user.username});
        let target = format!("user:{}", user.id);
        self.audit
            .record(
                self.audit
                    .entry(Some(user.id), ip, "register", target, detail),
            )
            .await;
        Ok(VisibleUser::own(user))
    }

    /// Checks the credentials and opens a session.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ip: Option<&str>,
    ) -> Result<(Tokens, VisibleUser), DomainError> {
        let user = self
            .check_credentials(username, password, ip, "api")
            .await?;
        let session = self
            .store
            .create_session(user.id, self.refresh_expiry())
            .await?;
        let tokens = Tokens {
            access: self.tokens.access(&user, session.id)?,
            refresh: self.tokens.refresh(&session)?,
            expires_in: self.tokens.access_ttl_secs,
        };
        Ok((tokens, VisibleUser::own(user)))
    }

    /// Checks the credentials, as `login` does (the same lockout, messages and audit), and
    /// opens a web session: a server-side session like a token pair's, carried by a cookie.
    pub async fn login_web(
        &self,
        username: &str,
        password: &str,
        ip: Option<&str>,
    ) -> Result<WebCookie, DomainError> {
        let user = self
            .check_credentials(username, password, ip, "web")
            .await?;
        let session = self
            .store
            .create_session(user.id, self.web_expiry())
            .await?;
        self.web_cookie(&session)
    }

    fn web_cookie(&self, session: &crate::store::Session) -> Result<WebCookie, DomainError> {
        Ok(WebCookie {
            value: self.tokens.web(session, self.web_idle_secs)?,
            max_age_secs: self.web_idle_secs,
        })
    }

    fn web_expiry(&self) -> time::Timestamp {
        time::now() + Duration::from_secs(self.web_idle_secs)
    }

    /// Resolves a web-session cookie to its caller, as `authenticate` does an access token
    /// (live session, active user). A cookie past a quarter of its life is renewed: the session's
    /// expiry moves on and a fresh cookie is returned to send back, so a session in use never
    /// ends while one left alone does, with at most one write per quarter lifetime.
    pub async fn authenticate_web(
        &self,
        cookie: &str,
        ip: Option<String>,
    ) -> Result<(Principal, Option<WebCookie>), DomainError> {
        let invalid = || DomainError::Unauthenticated(BAD_TOKEN.into());
        let claims = self.tokens.verify_web(cookie).ok_or_else(invalid)?;
        let (session, user) = self
            .store
            .session_with_user(claims.session_id)
            .await?
            .ok_or_else(invalid)?;
        if session.user_id != claims.user_id || !user.is_active || session.expires_at <= time::now()
        {
            return Err(invalid());
        }
        let age = u64::try_from(time::now().unix_timestamp())
            .unwrap_or(0)
            .saturating_sub(claims.issued_at);
        let renewed = if age > self.web_idle_secs / 4 {
            if !self
                .store
                .extend_session(session.id, self.web_expiry())
                .await?
            {
                return Err(invalid());
            }
            Some(self.web_cookie(&session)?)
        } else {
            None
        };
        Ok((
            Principal {
                user,
                session_id: session.id,
                ip,
                key: None,
            },
            renewed,
        ))
    }

    /// The CSRF token every state-changing form of `principal`'s web session carries.
    pub fn csrf_token(&self, principal: &Principal) -> String {
        self.tokens.csrf(principal.session_id)
    }

    /// Whether `token` is the CSRF token of `principal`'s session.
    pub fn csrf_valid(&self, principal: &Principal, token: &str) -> bool {
        self.tokens.csrf_matches(principal.session_id, token)
    }

    /// The user behind `username` and `password`, after the lockout check; a failure is
    /// audited and counted towards the lockout. `via` (`api` or `web`) goes into the audit.
    async fn check_credentials(
        &self,
        username: &str,
        password: &str,
        ip: Option<&str>,
        via: &str,
    ) -> Result<User, DomainError> {
        if let Err(left) = self.lockout.check(username) {
            return Err(DomainError::AccountLocked { retry_after: left });
        }
        let user = self.store.user_by_username(username).await?;
        let verified = match &user {
            Some(user) => self.hasher.verify(&user.password_hash, password).await?,
            None => {
                self.hasher.verify_nothing(password).await?;
                false
            }
        };
        let user = match user {
            Some(user) if verified && user.is_active => user,
            other => {
                let actor = other.map(|u| u.id);
                let target = format!("username:{username}");
                let detail = json!({"username": username, "via": via});
                let entry =
                    self.audit
                        .entry(actor, ip, "login.failure", target.clone(), detail.clone());
                self.audit.record(entry).await;
                crate::metrics::record_login_failure();
                if self.lockout.record_failure(username) {
                    crate::metrics::record_lockout();
                    tracing::warn!(username = %username, "username locked after repeated failed logins");
                    let entry = self.audit.entry(actor, ip, "login.lockout", target, detail);
                    self.audit.record(entry).await;
                }
                return Err(DomainError::Unauthenticated(BAD_CREDENTIALS.into()));
            }
        };
        self.lockout.clear(username);
        let entry = self.audit.entry(
            Some(user.id),
            ip,
            "login.success",
            format!("user:{}", user.id),
            json!({"username": user.username, "via": via}),
        );
        self.audit.record(entry).await;
        Ok(user)
    }

    fn refresh_expiry(&self) -> time::Timestamp {
        time::now() + Duration::from_secs(self.tokens.refresh_ttl_secs)
    }

    /// Spends a refresh token for a new pair; a spent one revokes its whole session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, DomainError> {
        let invalid =
            || DomainError::Unauthenticated("invalid, expired or revoked refresh token".into());
        let claims = self
            .tokens
            .verify_refresh(refresh_token)
            .ok_or_else(invalid)?;
        let session = match self
            .store
            .rotate_refresh(claims.session_id, claims.generation, self.refresh_expiry())
            .await?
        {
            RefreshOutcome::Rotated(session) => session,
            RefreshOutcome::Reused => {
                tracing::warn!(session = %claims.session_id, user = %claims.user_id,
                    "spent refresh token presented again; session revoked");
                return Err(invalid());
            }
            RefreshOutcome::Missing => return Err(invalid()),
        };
        let user = self
            .store
            .user(session.user_id)
            .await?
            .filter(|u| u.is_active)
            .ok_or_else(invalid)?;
        Ok(Tokens {
            access: self.tokens.access(&user, session.id)?,
            refresh: self.tokens.refresh(&session)?,
            expires_in: self.tokens.access_ttl_secs,
        })
    }

    /// Resolves an access token to its caller: valid signature and expiry, live session,
    /// active user.
    pub async fn authenticate(
        &self,
        access_token: &str,
        ip: Option<String>,
    ) -> Result<Principal, DomainError> {
        let invalid = || DomainError::Unauthenticated(BAD_TOKEN.into());
        let claims = self
            .tokens
            .verify_access(access_token)
            .ok_or_else(invalid)?;
        let (session, user) = self
            .store
            .session_with_user(claims.session_id)
            .await?
            .ok_or_else(invalid)?;
        if session.user_id != claims.user_id || !user.is_active {
            return Err(invalid());
        }
        Ok(Principal {
            user,
            session_id: session.id,
            ip,
            key: None,
        })
    }

    /// Ends the caller's session, and the session of `refresh_token` if it is the caller's.
    pub async fn logout(
        &self,
        principal: &Principal,
        refresh_token: Option<&str>,
    ) -> Result<(), DomainError> {
        self.store.revoke_session(principal.session_id).await?;
        let target = format!("user:{}", principal.user.id);
        let entry = self.audit.by(
            principal,
            "logout",
            target,
            json!({"session": principal.session_id}),
        );
        self.audit.record(entry).await;
        if let Some(claims) = refresh_token.and_then(|t| self.tokens.verify_refresh(t))
            && claims.user_id == principal.user.id
            && claims.session_id != principal.session_id
        {
            self.store.revoke_session(claims.session_id).await?;
        }
        Ok(())
    }

    /// Changes the caller's password and ends every other session of theirs.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), DomainError> {
        let mut fields = FieldErrors::new();
        validate_password("new_password", new, &mut fields);
        DomainError::check(fields)?;
        if !self
            .hasher
            .verify(&principal.user.password_hash, current)
            .await?
        {
            return Err(DomainError::field("current_password", "is not correct"));
        }
        let password_hash = self.hasher.hash(new).await?;
        self.store
            .update_user(
                principal.user.id,
                UserChanges {
                    password_hash: Some(password_hash),
                    ..Default::default()
                },
            )
            .await?;
        self.store
            .revoke_user_sessions(principal.user.id, Some(principal.session_id))
            .await?;
        let target = format!("user:{}", principal.user.id);
        let entry = self
            .audit
            .by(principal, "password.change", target, json!({}));
        self.audit.record(entry).await;
        Ok(())
    }

    /// Changes the caller's own email, display name or profile.
    pub async fn update_me(
        &self,
        principal: &Principal,
        input: UpdateMeInput,
    ) -> Result<VisibleUser, DomainError> {
        let mut fields = FieldErrors::new();
        if let Some(email) = &input.email {
            validate_email(email.trim(), &mut fields);
        }
        if let Some(name) = &input.display_name {
            validate_display_name(name, &mut fields);
            if name.trim().is_empty() {
                crate::domain::error::push_field(&mut fields, "display_name", "must not be empty");
            }
        }
        if let Some(profile) = &input.profile {
            profile.validate(&mut fields);
        }
        DomainError::check(fields)?;
        let profile = input.profile.map(|patch| {
            let mut profile = principal.user.profile.clone();
            patch.apply(&mut profile);
            profile
        });
        let user = self
            .store
            .update_user(
                principal.user.id,
                UserChanges {
                    email: input.email.map(|e| e.trim().to_string()),
                    display_name: input.display_name,
                    profile,
                    ..Default::default()
                },
            )
            .await?;
        Ok(VisibleUser::own(user))
    }
}
