//! Machine keys (API.md §Machine keys): an admin creates one for a PLC gateway or a wall screen,
//! sees its secret once, and revokes it; every request the key makes is authenticated here and
//! then acts with only the key's scopes (see `domain::machine_key`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::Principal;
use super::audit::AuditLog;
use super::pagination::{Page, PageRequest};
use crate::domain::machine_key::{self, KeyScope, KeyUse, MachineKey};
use crate::domain::time::{self, Timestamp};
use crate::domain::user::{Profile, Role, User};
use crate::domain::visibility::is_admin;
use crate::domain::{DomainError, KeyId, SessionId, UserId};
use crate::store::{Changeset, Expect, IdKind, Store, Write};

/// What a key's principal carries: which key, and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    /// The key.
    pub id: KeyId,
    /// Its name, for logs and pages.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<KeyScope>,
}

/// A new key as an admin asks for it.
#[derive(Clone, Debug)]
pub struct NewKeyInput {
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<KeyScope>,
}

/// The user id a key's principal carries. No user has it (ids start at 1), so a key owns
/// nothing, is in no project and receives no notification: its reads are exactly what every
/// `user` may see, and what it reports records this id as the reporter.
pub const KEY_USER_ID: UserId = UserId(0);

/// Creates, lists, revokes and authenticates machine keys; cheap to clone.
#[derive(Clone)]
pub struct MachineKeyService {
    store: Arc<dyn Store>,
    audit: AuditLog,
    /// When each key was last used since the last flush: `last_used_at` is kept without a
    /// write per request, and written by `flush_last_used` (the deadline sweep, every few
    /// seconds).
    used: Arc<Mutex<HashMap<KeyId, Timestamp>>>,
}

fn admin_only(principal: &Principal) -> Result<(), DomainError> {
    if principal.key.is_none() && is_admin(&principal.user) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only an admin may manage machine keys".into(),
        ))
    }
}

fn not_found() -> DomainError {
    DomainError::NotFound("no such machine key".into())
}

fn unauthenticated() -> DomainError {
    DomainError::Unauthenticated("invalid or revoked machine key".into())
}

impl MachineKeyService {
    /// The service over `store`.
    pub fn new(store: Arc<dyn Store>, audit: AuditLog) -> Self {
        Self {
            store,
            audit,
            used: Arc::default(),
        }
    }

    /// Creates a key (admin); returns it and its secret, which is shown this once and never
    /// again (only its hash is kept).
    pub async fn create(
        &self,
        principal: &Principal,
        input: NewKeyInput,
    ) -> Result<(MachineKey, String), DomainError> {
        admin_only(principal)?;
        let scopes = match machine_key::validate_new(&input.name, &input.scopes) {
            Ok(scopes) => scopes,
            Err(fields) => {
                DomainError::check(fields)?;
                Vec::new()
            }
        };
        let secret = machine_key::new_secret();
        let key = MachineKey {
            id: KeyId(self.store.allocate_id(IdKind::MachineKey)),
            name: input.name.trim().to_string(),
            scopes,
            created_by: principal.user.id,
            created_at: time::now(),
            last_used_at: None,
            revoked_at: None,
            secret_hash: machine_key::secret_hash(&secret),
        };
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutMachineKey(key.clone(), Expect::New));
        changeset.push(self.audit.by(
            principal,
            "machine_key.create",
            format!("machine_key:{}", key.id),
            json!({"name": key.name, "scopes": key.scopes}),
        ));
        self.store.apply(changeset).await?;
        Ok((key, secret))
    }

    /// The keys, newest first (admin).
    pub async fn list(
        &self,
        principal: &Principal,
        request: PageRequest,
    ) -> Result<Page<MachineKey>, DomainError> {
        admin_only(principal)?;
        let (keys, count) = self
            .store
            .machine_key_page(request.offset(), request.page_size)
            .await?;
        Ok(Page {
            count,
            results: keys.into_iter().map(|k| self.with_recent_use(k)).collect(),
            request,
        })
    }

    /// One key (admin).
    pub async fn get(&self, principal: &Principal, id: KeyId) -> Result<MachineKey, DomainError> {
        admin_only(principal)?;
        let key = self.store.machine_key(id).await?.ok_or_else(not_found)?;
        Ok(self.with_recent_use(key))
    }

    /// Revokes a key at once (admin): its next request is refused, and its live connections
    /// close. Revoking a revoked key changes nothing.
    pub async fn revoke(&self, principal: &Principal, id: KeyId) -> Result<(), DomainError> {
        admin_only(principal)?;
        let mut key = self.store.machine_key(id).await?.ok_or_else(not_found)?;
        if !key.is_live() {
            return Ok(());
        }
        key.revoked_at = Some(time::now());
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutMachineKey(key.clone(), Expect::Exists));
        changeset.push(self.audit.by(
            principal,
            "machine_key.revoke",
            format!("machine_key:{id}"),
            json!({"name": key.name}),
        ));
        super::apply_or(self.store.as_ref(), changeset, not_found).await
    }

    /// The caller behind a key's secret: a live (not revoked) key. Its use is remembered for
    /// `last_used_at`.
    pub async fn authenticate(
        &self,
        secret: &str,
        ip: Option<String>,
    ) -> Result<Principal, DomainError> {
        if !machine_key::looks_like_secret(secret) {
            return Err(unauthenticated());
        }
        let key = self
            .store
            .machine_key_by_hash(&machine_key::secret_hash(secret))
            .await?
            .filter(MachineKey::is_live)
            .ok_or_else(unauthenticated)?;
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.id, time::now());
        Ok(principal_of(&key, ip))
    }

    /// Writes the uses remembered since the last flush. A failure keeps them for the next one.
    pub async fn flush_last_used(&self) {
        let used: Vec<(KeyId, Timestamp)> = {
            let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
            used.drain().collect()
        };
        if used.is_empty() {
            return;
        }
        if let Err(e) = self.store.touch_machine_keys(used.clone()).await {
            tracing::warn!(error = %e, "could not record machine keys' last use; will retry");
            let mut pending = self.used.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in used {
                let slot = pending.entry(id).or_insert(at);
                *slot = (*slot).max(at);
            }
        }
    }

    /// `key` with a use not yet flushed.
    fn with_recent_use(&self, mut key: MachineKey) -> MachineKey {
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = used.get(&key.id) {
            key.last_used_at = Some(key.last_used_at.map_or(*at, |t| t.max(*at)));
        }
        key
    }
}

/// The principal a key acts as: no person (see `KEY_USER_ID`), role `user`, and the grant.
fn principal_of(key: &MachineKey, ip: Option<String>) -> Principal {
    Principal {
        user: User {
            id: KEY_USER_ID,
            username: format!("key-{}", key.id),
            email: String::new(),
            display_name: key.name.clone(),
            role: Role::User,
            is_active: true,
            profile: Profile::default(),
            password_hash: String::new(),
            created_at: key.created_at,
            updated_at: key.created_at,
        },
        session_id: SessionId(0),
        ip,
        key: Some(KeyGrant {
            id: key.id,
            name: key.name.clone(),
            scopes: key.scopes.clone(),
        }),
    }
}

impl Principal {
    /// `Ok` for a person; for a machine key, `Ok` only when its scopes allow `use_`.
    pub fn may(&self, use_: KeyUse) -> Result<(), DomainError> {
        match &self.key {
            None => Ok(()),
            Some(grant) if machine_key::allows(&grant.scopes, use_) => Ok(()),
            Some(grant) => Err(DomainError::Forbidden(format!(
                "machine key {:?} (scopes: {}) may not do this",
                grant.name,
                grant
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Whether this caller is a machine key rather than a person.
    pub fn is_key(&self) -> bool {
        self.key.is_some()
    }

    /// The key the API rate limit counts this caller under: a person's id, or for a key a
    /// value no user id reaches (the top bit set), so each key has a budget of its own.
    pub fn rate_limit_key(&self) -> u64 {
        match &self.key {
            None => self.user.id.0,
            Some(grant) => grant.id.0 | (1 << 63),
        }
    }
}
