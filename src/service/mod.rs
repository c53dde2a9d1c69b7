//! Use cases: permissions, visibility, validation and decisions, one module per area. Every
//! adapter (REST now; realtime, GraphQL, UI and CLI later) calls these and nothing below them.

pub mod auth;
pub mod lockout;
pub mod pagination;
pub mod password;
pub mod ratelimit;
pub mod tokens;
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
}

/// Every service, sharing one store; cheap to clone.
#[derive(Clone)]
pub struct Services {
    /// Sign-in, tokens, sessions and one's own account.
    pub auth: auth::AuthService,
    /// The user directory and its administration.
    pub users: users::UserService,
    /// The store, for health checks.
    pub store: Arc<dyn Store>,
}

impl Services {
    /// Builds the services over `store` with the signing key `jwt_key`.
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        jwt_key: &[u8],
    ) -> Result<Services, DomainError> {
        let hasher = password::PasswordHasher::new(config.auth.max_concurrent_hashes);
        let tokens = tokens::TokenService::new(
            jwt_key,
            config.auth.access_ttl_secs,
            config.auth.refresh_ttl_secs,
        )?;
        Ok(Services {
            auth: auth::AuthService::new(config, store.clone(), hasher.clone(), tokens),
            users: users::UserService::new(store.clone(), hasher),
            store,
        })
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => DomainError::Conflict(msg),
            StoreError::NotFound => DomainError::NotFound("not found".into()),
            StoreError::Unavailable(msg) => {
                DomainError::Unavailable(format!("storage unavailable: {msg}"))
            }
            StoreError::Closed => DomainError::Unavailable("server is shutting down".into()),
            StoreError::Corrupt(msg) | StoreError::Backend(msg) => DomainError::Internal(msg),
        }
    }
}
