//! Andon calls (API.md §Shop floor: andon): anyone raises one at an asset; admin and staff
//! acknowledge and resolve; a call left `open` escalates from its stored raise time, staff at
//! level 1 and admins at level 2, each level committed with its notifications in one write.

use std::sync::Arc;

use serde::Deserialize;

use super::Principal;
use super::audit::AuditLog;
use super::notify::Notifier;
use super::pagination::{Page, PageRequest};
use super::visibility;
use crate::domain::andon::{self, AndonCall, AndonKind, AndonStatus};
use crate::domain::error::FieldErrors;
use crate::domain::time::{Clock, Timestamp};
use crate::domain::update::NotificationKind;
use crate::domain::user::Role;
use crate::domain::{AndonId, AssetId, DomainError, UserId};
use crate::store::{AndonFilter, Changeset, Expect, IdKind, Store, StoreError, UserFilter, Write};

/// `POST /api/andon/` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct NewAndon {
    /// Where help is needed.
    pub asset_id: AssetId,
    /// What kind of help.
    pub kind: AndonKind,
    /// 1–2,000 characters.
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub message: String,
}

/// `POST /api/andon/{id}/resolve/` body.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ResolveAndon {
    /// What was done; at most 2,000 characters (absent: none).
    #[schema(max_length = 2000)]
    pub resolution: Option<String>,
}

/// Filters of the andon list.
#[derive(Clone, Debug, Default)]
pub struct AndonQuery {
    /// Only calls at this asset or below it.
    pub asset: Option<AssetId>,
    /// Only calls in this status.
    pub status: Option<AndonStatus>,
    /// Only calls not resolved (`true`) or resolved (`false`).
    pub open: Option<bool>,
    /// Only calls at this level (0–2).
    pub level: Option<u8>,
    /// Only calls of this kind.
    pub kind: Option<AndonKind>,
}

/// The actor of the sweep's writes: nobody, so no recipient is skipped as "its own action".
const NOBODY: UserId = UserId(0);

/// Andon use cases; cheap to clone.
#[derive(Clone)]
pub struct AndonService {
    store: Arc<dyn Store>,
    audit: AuditLog,
    notifier: Notifier,
    clock: Clock,
    escalate_after: Arc<[u64]>,
}

fn not_found() -> DomainError {
    DomainError::NotFound("no such andon call".into())
}

impl AndonService {
    /// Builds the service; calls escalate `escalate_after` seconds after they are raised
    /// (`andon.escalate_after_secs`), measured on `clock`.
    pub fn new(
        store: Arc<dyn Store>,
        audit: AuditLog,
        notifier: Notifier,
        clock: Clock,
        escalate_after: &[u64],
    ) -> Self {
        Self {
            store,
            audit,
            notifier,
            clock,
            escalate_after: escalate_after.into(),
        }
    }

    fn now(&self) -> Timestamp {
        let now = self.clock.now();
        now.replace_nanosecond(0).unwrap_or(now)
    }

    /// One call; everyone signed in reads andon calls.
    pub async fn get(&self, _principal: &Principal, id: AndonId) -> Result<AndonCall, DomainError> {
        self.store.andon(id).await?.ok_or_else(not_found)
    }

    /// Calls, newest raise first; `asset` includes its subtree (`400` when it does not exist).
    pub async fn list(
        &self,
        _principal: &Principal,
        query: AndonQuery,
        page: PageRequest,
    ) -> Result<Page<AndonCall>, DomainError> {
        if query.level.is_some_and(|l| l > andon::TOP_LEVEL) {
            return Err(DomainError::field("level", "must be 0, 1 or 2"));
        }
        let assets = match query.asset {
            Some(asset) => {
                if self.store.asset(asset).await?.is_none() {
                    return Err(DomainError::field("asset", "must name an existing asset"));
                }
                Some(self.store.asset_subtree(asset).await?)
            }
            None => None,
        };
        let filter = AndonFilter {
            assets,
            status: query.status,
            open: query.open,
            level: query.level,
            kind: query.kind,
        };
        let (count, results) = self
            .store
            .andon_page(&filter, page.offset(), page.page_size)
            .await?;
        Ok(Page {
            count,
            results,
            request: page,
        })
    }

    /// Active users of `role`.
    async fn active(&self, role: Role) -> Result<Vec<UserId>, DomainError> {
        let filter = UserFilter {
            role: Some(role),
            is_active: Some(true),
            ..UserFilter::default()
        };
        Ok(self.store.user_ids(&filter).await?)
    }

    /// The notification writes for a call going from level `from` to `to`: staff on reaching
    /// 1, admins on reaching 2.
    async fn escalation_notices(
        &self,
        call: &AndonCall,
        from: u8,
        to: u8,
        actor: UserId,
    ) -> Result<Vec<Write>, DomainError> {
        let mut writes = Vec::new();
        if from >= to {
            return Ok(writes);
        }
        let asset = match self.store.asset(call.asset_id).await? {
            Some(a) => format!("{} {}", a.code, a.name),
            None => format!("asset {}", call.asset_id),
        };
        let title = format!("Andon level {to}: {} at {asset}", call.kind.label());
        let excerpt: String = call.message.chars().take(200).collect();
        let link = format!("/andon#andon-{}", call.id);
        for (level, role) in [(1u8, Role::Staff), (2u8, Role::Admin)] {
            if from < level && level <= to {
                let recipients = self.active(role).await?;
                writes.extend(self.notifier.notify(
                    recipients,
                    actor,
                    NotificationKind::AndonEscalated,
                    &title,
                    &excerpt,
                    &link,
                ));
            }
        }
        Ok(writes)
    }

    /// Raises a call (anyone). A `safety` call starts at level 1 and notifies staff at once.
    pub async fn raise(
        &self,
        principal: &Principal,
        input: NewAndon,
    ) -> Result<AndonCall, DomainError> {
        let mut fields = FieldErrors::new();
        andon::validate_message(&input.message, &mut fields);
        DomainError::check(fields)?;
        let now = self.now();
        let level = andon::initial_level(input.kind);
        let call = AndonCall {
            id: AndonId(self.store.allocate_id(IdKind::Andon)),
            asset_id: input.asset_id,
            kind: input.kind,
            message: input.message.trim().to_string(),
            status: AndonStatus::Open,
            level,
            raised_by: principal.user.id,
            raised_at: now,
            acknowledged_by: None,
            acknowledged_at: None,
            resolved_by: None,
            resolved_at: None,
            resolution: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutAndon(call.clone(), Expect::New));
        changeset.writes.extend(
            self.escalation_notices(&call, 0, level, principal.user.id)
                .await?,
        );
        changeset.push(self.audit.by(
            principal,
            "andon.raise",
            format!("andon:{}", call.id),
            serde_json::json!({"asset_id": call.asset_id, "kind": call.kind, "level": level}),
        ));
        super::apply_or(self.store.as_ref(), changeset, not_found).await?;
        Ok(call)
    }

    fn answerer(principal: &Principal, what: &str) -> Result<(), DomainError> {
        if visibility::can_answer_andon(&principal.user) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "only admin or staff may {what} andon calls"
            )))
        }
    }

    /// Acknowledges an `open` call (admin, staff); it stops escalating. Any other status is
    /// `409`.
    pub async fn acknowledge(
        &self,
        principal: &Principal,
        id: AndonId,
    ) -> Result<AndonCall, DomainError> {
        let old = self.get(principal, id).await?;
        Self::answerer(principal, "acknowledge")?;
        if old.status != AndonStatus::Open {
            return Err(DomainError::Conflict(format!(
                "the andon call is {}; only an open call is acknowledged",
                old.status.as_str()
            )));
        }
        let now = self.now();
        let mut new = old.clone();
        new.status = AndonStatus::Acknowledged;
        new.acknowledged_by = Some(principal.user.id);
        new.acknowledged_at = Some(now);
        self.save(
            principal,
            old,
            new,
            now,
            "andon.acknowledge",
            serde_json::json!({}),
        )
        .await
    }

    /// Resolves an `open` or `acknowledged` call (admin, staff); a resolved one is `409`.
    pub async fn resolve(
        &self,
        principal: &Principal,
        id: AndonId,
        input: ResolveAndon,
    ) -> Result<AndonCall, DomainError> {
        let old = self.get(principal, id).await?;
        Self::answerer(principal, "resolve")?;
        let resolution = input.resolution.unwrap_or_default().trim().to_string();
        let mut fields = FieldErrors::new();
        andon::validate_resolution(&resolution, &mut fields);
        DomainError::check(fields)?;
        if old.status == AndonStatus::Resolved {
            return Err(DomainError::Conflict(
                "the andon call is already resolved".into(),
            ));
        }
        let now = self.now();
        let mut new = old.clone();
        new.status = AndonStatus::Resolved;
        new.resolved_by = Some(principal.user.id);
        new.resolved_at = Some(now);
        new.resolution = Some(resolution);
        let detail = serde_json::json!({"from": old.status});
        self.save(principal, old, new, now, "andon.resolve", detail)
            .await
    }

    async fn save(
        &self,
        principal: &Principal,
        old: AndonCall,
        mut new: AndonCall,
        now: Timestamp,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<AndonCall, DomainError> {
        new.updated_at = now;
        new.version = old.version + 1;
        let mut changeset = Changeset::by(principal.user.id);
        // Against the version read: of two answers at once (or an answer and an escalation),
        // one wins and the other is told to reload.
        changeset.push(Write::PutAndon(new.clone(), Expect::Version(old.version)));
        changeset.push(
            self.audit
                .by(principal, action, format!("andon:{}", new.id), detail),
        );
        super::apply_or(self.store.as_ref(), changeset, not_found).await?;
        Ok(new)
    }

    /// Escalates every `open` call whose next level fell due by `now`, each with its
    /// notifications and audit entry in one write against the version read, so a repeated
    /// sweep, or one after a restart, finds the level already stored and does nothing; a call
    /// answered meanwhile is left alone. Returns how many calls it escalated.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, DomainError> {
        let Some(first) = self.escalate_after.first().copied() else {
            return Ok(0);
        };
        let first = i64::try_from(first).unwrap_or(i64::MAX);
        // Only calls raised at least the first delay ago can be due: safety calls start at
        // level 1, which they owe to no delay.
        let Some(due_by) = now.checked_sub(::time::Duration::seconds(first)) else {
            return Ok(0);
        };
        let mut escalated = 0;
        for open in self.store.open_andon_calls(due_by).await? {
            if open.level >= andon::TOP_LEVEL {
                continue;
            }
            let Some(call) = self.store.andon(open.id).await? else {
                continue;
            };
            if call.status != AndonStatus::Open {
                continue;
            }
            let level = andon::due_level(call.kind, call.raised_at, now, &self.escalate_after);
            if level <= call.level {
                continue;
            }
            let mut new = call.clone();
            new.level = level;
            new.updated_at = now.replace_nanosecond(0).unwrap_or(now);
            new.version = call.version + 1;
            let mut changeset = Changeset::new();
            changeset.push(Write::PutAndon(new.clone(), Expect::Version(call.version)));
            changeset.writes.extend(
                self.escalation_notices(&call, call.level, level, NOBODY)
                    .await?,
            );
            changeset.push(self.audit.entry(
                None,
                None,
                "andon.escalate",
                format!("andon:{}", call.id),
                serde_json::json!({"from": call.level, "level": level}),
            ));
            match self.store.apply(changeset).await {
                Ok(_) => escalated += 1,
                // Answered (or escalated) meanwhile: the next sweep reads it afresh.
                Err(StoreError::Stale | StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(escalated)
    }
}
