//! Use cases: permissions, visibility, validation and decisions, one module per area. Every
//! adapter (REST now; realtime, GraphQL, UI and CLI later) calls these and nothing below them.

pub mod activities;
pub mod andon;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod chat;
pub mod deadlines;
pub mod handovers;
pub mod health;
pub mod lockout;
pub mod machine_keys;
pub mod notify;
pub mod pagination;
pub mod password;
pub mod projects;
pub mod ratelimit;
pub mod realtime;
pub mod retention;
pub mod search;
pub mod shopfloor;
pub mod tokens;
pub mod updates;
pub mod users;
pub mod visibility;

use std::sync::Arc;

use crate::config::Config;
use crate::domain::DomainError;
use crate::domain::SessionId;
use crate::domain::user::User;
use crate::store::{Store, StoreError};

/// The signed-in caller of a use case.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The user, as currently stored (role and activity are fresh, not from the token).
    pub user: User,
    /// The session the request's token belongs to.
    pub session_id: SessionId,
    /// The client's address, for the audit log.
    pub ip: Option<String>,
    /// Set when the caller is a machine key, not a person: what it may do.
    pub key: Option<machine_keys::KeyGrant>,
}

/// Every service, sharing one store; cheap to clone.
#[derive(Clone)]
pub struct Services {
    /// Sign-in, tokens, sessions and one's own account.
    pub auth: auth::AuthService,
    /// The user directory and its administration.
    pub users: users::UserService,
    /// Activities.
    pub activities: activities::ActivityService,
    /// Projects and teams.
    pub projects: projects::ProjectService,
    /// Updates and notifications.
    pub updates: updates::UpdateService,
    /// Andon calls and their escalation.
    pub andon: andon::AndonService,
    /// Chat.
    pub chat: chat::ChatService,
    /// Assets, shifts, downtime, production and OEE.
    pub shopfloor: shopfloor::ShopfloorService,
    /// Machine keys for gateways and wall screens.
    pub keys: machine_keys::MachineKeyService,
    /// Shift handovers.
    pub handovers: handovers::HandoverService,
    /// The audit log.
    pub audit: audit::AuditLog,
    /// Backups of the data directory.
    pub backup: backup::BackupService,
    /// Full-text search.
    pub search: search::SearchService,
    /// Live event streams.
    pub realtime: realtime::RealtimeService,
    /// Readiness checks.
    pub health: health::HealthService,
}

impl Services {
    /// Builds the services over `store` with the signing key `jwt_key`; live sessions follow
    /// `bus` and end when `stopping` turns true.
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        jwt_key: &[u8],
        index: crate::search::SearchIndex,
        bus: crate::events::EventBus,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Services, DomainError> {
        let hasher = password::PasswordHasher::new(config.auth.max_concurrent_hashes);
        let tokens = tokens::TokenService::new(
            jwt_key,
            config.auth.access_ttl_secs,
            config.auth.refresh_ttl_secs,
        )?;
        let audit = audit::AuditLog::new(store.clone());
        let notifier = notify::Notifier::new(store.clone());
        let search = search::SearchService::new(store.clone(), index.clone());
        Ok(Services {
            auth: auth::AuthService::new(
                config,
                store.clone(),
                hasher.clone(),
                tokens,
                audit.clone(),
            ),
            users: users::UserService::new(store.clone(), hasher, audit.clone()),
            activities: activities::ActivityService::new(
                store.clone(),
                notifier.clone(),
                audit.clone(),
                search.clone(),
            ),
            projects: projects::ProjectService::new(
                store.clone(),
                notifier.clone(),
                audit.clone(),
                search.clone(),
            ),
            updates: updates::UpdateService::new(
                store.clone(),
                notifier.clone(),
                audit.clone(),
                config.clock.clone(),
                config.updates.ack_reminder_secs,
            ),
            chat: chat::ChatService::new(store.clone(), notifier.clone(), audit.clone()),
            andon: andon::AndonService::new(
                store.clone(),
                audit.clone(),
                notifier.clone(),
                config.clock.clone(),
                &config.andon.escalate_after_secs,
            ),
            handovers: handovers::HandoverService::new(
                store.clone(),
                audit.clone(),
                notifier,
                config.clock.clone(),
                config.handover.ack_timeout_secs,
            ),
            backup: backup::BackupService::new(
                store.clone(),
                config.server.data_dir.clone(),
                audit.clone(),
            ),
            shopfloor: shopfloor::ShopfloorService::new(
                store.clone(),
                audit.clone(),
                config
                    .plant
                    .time_zone()
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
            ),
            keys: machine_keys::MachineKeyService::new(store.clone(), audit.clone()),
            audit,
            search,
            realtime: realtime::RealtimeService::new(store.clone(), bus, stopping),
            health: health::HealthService::new(store, index),
        })
    }
}

impl Services {
    /// The caller behind `Authorization: Bearer <token>`: a machine key's secret (`nxk_…`) or
    /// a person's access token. Every adapter that takes a bearer credential asks here.
    pub async fn authenticate_bearer(
        &self,
        token: &str,
        ip: Option<String>,
    ) -> Result<Principal, DomainError> {
        if token.starts_with(crate::domain::machine_key::SECRET_PREFIX) {
            self.keys.authenticate(token, ip).await
        } else {
            self.auth.authenticate(token, ip).await
        }
    }
}

/// Applies `changeset`; the store's `NotFound` (the object vanished meanwhile) becomes the
/// service's own `not_found` answer, any other failure the usual mapping.
pub(crate) async fn apply_or(
    store: &dyn Store,
    changeset: crate::store::Changeset,
    not_found: impl FnOnce() -> DomainError,
) -> Result<(), DomainError> {
    match store.apply(changeset).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => DomainError::Conflict(msg),
            StoreError::NotFound => DomainError::NotFound("not found".into()),
            StoreError::Stale => DomainError::Conflict("changed by someone else; reload it".into()),
            StoreError::Invalid { field, message } => DomainError::field(field, message),
            StoreError::Unavailable(msg) => {
                DomainError::Unavailable(format!("storage unavailable: {msg}"))
            }
            StoreError::Closed => DomainError::Unavailable("server is shutting down".into()),
            StoreError::Corrupt(msg) | StoreError::Backend(msg) => DomainError::Internal(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Principal;
    use crate::domain::time::now;
    use crate::domain::user::{Profile, Role, User};
    use crate::domain::{SessionId, UserId};
    use crate::store::{NewUser, Session, UserChanges};

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

    fn user() -> User {
        User {
            id: UserId(7),
            username: "alice".into(),
            email: "alice@plant.local".into(),
            display_name: "Alice".into(),
            role: Role::User,
            is_active: true,
            profile: Profile::default(),
            password_hash: HASH.into(),
            created_at: now(),
            updated_at: now(),
        }
    }

    fn assert_redacted(debug: &str, secrets: &[&str]) {
        for secret in secrets {
            assert!(!debug.contains(secret), "{secret} in {debug}");
            assert!(!debug.contains("argon2"), "a hash in {debug}");
        }
        assert!(debug.contains("[redacted]"), "{debug}");
    }

    #[test]
    fn no_debug_of_a_user_or_principal_prints_the_password_hash() {
        let debug = format!("{:?}", user());
        assert_redacted(&debug, &[HASH]);
        assert!(debug.contains("alice"), "the rest stays: {debug}");
        let principal = Principal {
            user: user(),
            session_id: SessionId(3),
            ip: Some("127.0.0.1".into()),
            key: None,
        };
        assert_redacted(&format!("{principal:?}"), &[HASH]);
        assert_redacted(&format!("{principal:#?}"), &[HASH]);
    }

    #[test]
    fn no_debug_of_a_new_user_or_user_change_prints_the_password_hash() {
        let new = NewUser {
            username: "alice".into(),
            email: "alice@plant.local".into(),
            display_name: "Alice".into(),
            role: Role::User,
            password_hash: HASH.into(),
        };
        assert_redacted(&format!("{new:?}"), &[HASH]);
        let change = UserChanges {
            password_hash: Some(HASH.into()),
            ..UserChanges::default()
        };
        assert_redacted(&format!("{change:?}"), &[HASH]);
    }

    #[test]
    fn no_debug_of_tokens_or_a_registration_prints_the_secret() {
        let tokens = super::auth::Tokens {
            access: "eyJhbGciOiJIUzI1NiJ9.access.sig".into(),
            refresh: "eyJhbGciOiJIUzI1NiJ9.refresh.sig".into(),
            expires_in: 900,
        };
        assert_redacted(
            &format!("{tokens:?}"),
            &["eyJ", "access.sig", "refresh.sig"],
        );
        let input = super::auth::RegisterInput {
            username: "alice".into(),
            email: "alice@plant.local".into(),
            password: "correct horse battery".into(),
            display_name: None,
        };
        assert_redacted(&format!("{input:?}"), &["correct horse"]);
    }

    #[test]
    fn a_session_debug_holds_no_token() {
        // A session keeps only the generation of its refresh token, never the token: the token
        // is a JWT signed with the server's key, rebuilt from the generation only by the server.
        let session = Session {
            id: SessionId(3),
            user_id: UserId(7),
            refresh_generation: 2,
            created_at: now(),
            expires_at: now(),
        };
        let debug = format!("{session:?}");
        assert!(
            !debug.contains("eyJ") && !debug.contains("argon2"),
            "{debug}"
        );
    }
}
