//! Shift handovers (API.md §Shop floor: andon, shift handover, …): the outgoing shift writes a
//! draft about an asset, submits it, and someone else acknowledges it. Everyone signed in reads
//! every handover; anyone signed in writes one; only the writer edits, submits or deletes their
//! draft (an admin may delete one too); anyone but the writer acknowledges. A submitted handover
//! not acknowledged within `handover.ack_timeout_secs` notifies every active staff user once,
//! from the deadline sweep.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;

use super::Principal;
use super::audit::AuditLog;
use super::notify::Notifier;
use super::pagination::{Page, PageRequest};
use super::visibility;
use crate::domain::error::FieldErrors;
use crate::domain::handover::{self as ho, Handover, HandoverStatus};
use crate::domain::time::{Clock, Timestamp};
use crate::domain::update::NotificationKind;
use crate::domain::user::Role;
use crate::domain::{ActivityId, AssetId, DomainError, HandoverId, ShiftId, UserId};
use crate::store::Store;
use crate::store::{Changeset, Expect, HandoverFilter, IdKind, StoreError, UserFilter, Write};

/// `POST /api/handovers/` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct NewHandover {
    /// The asset handed over.
    pub asset_id: AssetId,
    /// The shift that hands over.
    pub shift_id: ShiftId,
    /// What happened: 1–5,000 characters.
    #[schema(min_length = 1, max_length = 5000, pattern = r"\S")]
    pub summary: String,
    /// What the next shift must pick up: at most 5,000 characters.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub open_issues: String,
    /// Hazards and safety remarks: at most 5,000 characters.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub safety_notes: String,
    /// Existing activities the writer can see; at most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub activity_ids: Vec<ActivityId>,
}

/// `PATCH /api/handovers/{id}/` body (a draft, by its writer).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct HandoverPatch {
    /// New asset.
    pub asset_id: Option<AssetId>,
    /// New shift.
    pub shift_id: Option<ShiftId>,
    /// New summary.
    #[schema(min_length = 1, max_length = 5000, pattern = r"\S")]
    pub summary: Option<String>,
    /// New open issues.
    #[schema(max_length = 5000)]
    pub open_issues: Option<String>,
    /// New safety notes.
    #[schema(max_length = 5000)]
    pub safety_notes: Option<String>,
    /// New list of linked activities (replaces the old one).
    #[schema(max_items = 50)]
    pub activity_ids: Option<Vec<ActivityId>>,
    /// Apply only if the handover is at this version.
    pub version: Option<u64>,
}

/// `POST /api/handovers/{id}/acknowledge/` body (optional).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct AcknowledgeHandover {
    /// A reply to the writer: at most 2,000 characters.
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// How many due handovers one step of the sweep reads.
const SWEEP_BATCH: usize = 100;

fn not_found() -> DomainError {
    DomainError::NotFound("no such handover".into())
}

/// Handover use cases; cheap to clone.
#[derive(Clone)]
pub struct HandoverService {
    store: Arc<dyn Store>,
    audit: AuditLog,
    notifier: Notifier,
    clock: Clock,
    ack_timeout_secs: u64,
}

impl HandoverService {
    /// Builds the service; times come from `clock`, and a submitted handover is overdue after
    /// `ack_timeout_secs`.
    pub fn new(
        store: Arc<dyn Store>,
        audit: AuditLog,
        notifier: Notifier,
        clock: Clock,
        ack_timeout_secs: u64,
    ) -> Self {
        Self {
            store,
            audit,
            notifier,
            clock,
            ack_timeout_secs,
        }
    }

    async fn apply(&self, changeset: Changeset) -> Result<(), DomainError> {
        super::apply_or(self.store.as_ref(), changeset, not_found).await
    }

    /// One handover (everyone signed in reads every handover).
    pub async fn get(
        &self,
        _principal: &Principal,
        id: HandoverId,
    ) -> Result<Handover, DomainError> {
        self.store.handover(id).await?.ok_or_else(not_found)
    }

    /// Handovers, newest first; `asset` includes its subtree.
    pub async fn list(
        &self,
        _principal: &Principal,
        asset: Option<AssetId>,
        mut filter: HandoverFilter,
        page: PageRequest,
    ) -> Result<Page<Handover>, DomainError> {
        if let Some(asset) = asset {
            if self.store.asset(asset).await?.is_none() {
                return Err(DomainError::field("asset", "must name an existing asset"));
            }
            filter.assets = Some(self.store.asset_subtree(asset).await?);
        }
        let (count, results) = self
            .store
            .handover_page(&filter, page.offset(), page.page_size)
            .await?;
        Ok(Page {
            count,
            results,
            request: page,
        })
    }

    /// Checks texts and linked activities: each must exist and be one the writer can see (one
    /// they cannot see is refused like one that does not exist, so nothing leaks).
    async fn check(&self, principal: &Principal, h: &mut Handover) -> Result<(), DomainError> {
        let mut seen = HashSet::new();
        h.activity_ids.retain(|a| seen.insert(*a));
        let mut fields = FieldErrors::new();
        ho::validate(h, &mut fields);
        DomainError::check(fields)?;
        if h.activity_ids.is_empty() {
            return Ok(());
        }
        let viewer = visibility::viewer(self.store.as_ref(), principal).await?;
        let found = self.store.activities_by_ids(&h.activity_ids).await?;
        for id in &h.activity_ids {
            if !found.iter().any(|a| a.id == *id && viewer.sees(a)) {
                return Err(DomainError::field(
                    "activity_ids",
                    format!("activity {id} does not exist"),
                ));
            }
        }
        Ok(())
    }

    /// Writes a draft (anyone signed in).
    pub async fn create(
        &self,
        principal: &Principal,
        input: NewHandover,
    ) -> Result<Handover, DomainError> {
        let now = self.clock.now();
        let mut handover = Handover {
            id: HandoverId(self.store.allocate_id(IdKind::Handover)),
            asset_id: input.asset_id,
            shift_id: input.shift_id,
            summary: input.summary,
            open_issues: input.open_issues,
            safety_notes: input.safety_notes,
            activity_ids: input.activity_ids,
            status: HandoverStatus::Draft,
            written_by: principal.user.id,
            submitted_at: None,
            acknowledged_by: None,
            acknowledged_at: None,
            ack_comment: String::new(),
            overdue_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.check(principal, &mut handover).await?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutHandover(handover.clone(), Expect::New));
        changeset.push(self.audit.by(
            principal,
            "handover.create",
            format!("handover:{}", handover.id),
            serde_json::json!({"asset_id": handover.asset_id, "shift_id": handover.shift_id}),
        ));
        self.apply(changeset).await?;
        Ok(handover)
    }

    /// `403` unless the caller wrote it; `409` unless it is still a draft.
    fn writer_draft(principal: &Principal, h: &Handover, what: &str) -> Result<(), DomainError> {
        if !visibility::can_write_handover(&principal.user, h) {
            return Err(DomainError::Forbidden(format!(
                "only the writer may {what} a handover"
            )));
        }
        if h.status != HandoverStatus::Draft {
            return Err(DomainError::Conflict(format!(
                "the handover is {}; only a draft can be changed",
                h.status.as_str()
            )));
        }
        Ok(())
    }

    /// Edits a draft (its writer).
    pub async fn update(
        &self,
        principal: &Principal,
        id: HandoverId,
        patch: HandoverPatch,
    ) -> Result<Handover, DomainError> {
        let old = self.get(principal, id).await?;
        Self::writer_draft(principal, &old, "edit")?;
        let mut new = old.clone();
        if let Some(a) = patch.asset_id {
            new.asset_id = a;
        }
        if let Some(s) = patch.shift_id {
            new.shift_id = s;
        }
        if let Some(s) = patch.summary {
            new.summary = s;
        }
        if let Some(s) = patch.open_issues {
            new.open_issues = s;
        }
        if let Some(s) = patch.safety_notes {
            new.safety_notes = s;
        }
        if let Some(a) = patch.activity_ids {
            new.activity_ids = a;
        }
        self.check(principal, &mut new).await?;
        if let Some(v) = patch.version
            && v != old.version
        {
            return Err(StoreError::Stale.into());
        }
        if new == old {
            return Ok(old);
        }
        new.updated_at = self.clock.now();
        new.version = old.version + 1;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutHandover(
            new.clone(),
            Expect::Version(old.version),
        ));
        changeset.push(self.audit.by(
            principal,
            "handover.update",
            format!("handover:{id}"),
            serde_json::json!({"asset_id": new.asset_id}),
        ));
        self.apply(changeset).await?;
        Ok(new)
    }

    /// Submits a draft (its writer): the next shift's to acknowledge from now on.
    pub async fn submit(
        &self,
        principal: &Principal,
        id: HandoverId,
    ) -> Result<Handover, DomainError> {
        let old = self.get(principal, id).await?;
        Self::writer_draft(principal, &old, "submit")?;
        let now = self.clock.now();
        let mut new = old.clone();
        new.status = HandoverStatus::Submitted;
        new.submitted_at = Some(now);
        new.updated_at = now;
        new.version = old.version + 1;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutHandover(
            new.clone(),
            Expect::Version(old.version),
        ));
        changeset.push(self.audit.by(
            principal,
            "handover.submit",
            format!("handover:{id}"),
            serde_json::json!({"asset_id": new.asset_id}),
        ));
        self.apply(changeset).await?;
        Ok(new)
    }

    /// Acknowledges a submitted handover (anyone but its writer: `403` for the writer, since
    /// it is a rule about who, not about the handover's state; `409` unless submitted).
    pub async fn acknowledge(
        &self,
        principal: &Principal,
        id: HandoverId,
        input: AcknowledgeHandover,
    ) -> Result<Handover, DomainError> {
        let comment = input.comment.unwrap_or_default();
        let mut attempts = 0;
        loop {
            let old = self.get(principal, id).await?;
            if !visibility::can_acknowledge_handover(&principal.user, &old) {
                return Err(DomainError::Forbidden(
                    "the writer cannot acknowledge their own handover".into(),
                ));
            }
            if old.status != HandoverStatus::Submitted {
                return Err(DomainError::Conflict(format!(
                    "the handover is {}; only a submitted one can be acknowledged",
                    old.status.as_str()
                )));
            }
            let mut fields = FieldErrors::new();
            ho::validate_comment(&comment, &mut fields);
            DomainError::check(fields)?;
            let now = self.clock.now();
            let mut new = old.clone();
            new.status = HandoverStatus::Acknowledged;
            new.acknowledged_by = Some(principal.user.id);
            new.acknowledged_at = Some(now);
            new.ack_comment = comment.clone();
            new.updated_at = now;
            new.version = old.version + 1;
            let mut changeset = Changeset::by(principal.user.id);
            // Against the version read, so of two racing acknowledgements one wins and the
            // other reads the acknowledged handover and is refused.
            changeset.push(Write::PutHandover(
                new.clone(),
                Expect::Version(old.version),
            ));
            changeset.push(self.audit.by(
                principal,
                "handover.acknowledge",
                format!("handover:{id}"),
                serde_json::json!({"asset_id": new.asset_id, "written_by": new.written_by}),
            ));
            match self.store.apply(changeset).await {
                Ok(_) => return Ok(new),
                // The sweep marked it overdue in between: still submitted, so read it again
                // and acknowledge that version rather than refuse the person at the line.
                Err(StoreError::Stale) if attempts < 3 => attempts += 1,
                Err(StoreError::NotFound) => return Err(not_found()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Deletes a draft (its writer, or an admin); a submitted handover is a record and stays.
    pub async fn delete(&self, principal: &Principal, id: HandoverId) -> Result<(), DomainError> {
        let old = self.get(principal, id).await?;
        if !visibility::can_delete_handover(&principal.user, &old) {
            return Err(DomainError::Forbidden(
                "only the writer or an admin may delete a handover".into(),
            ));
        }
        if old.status != HandoverStatus::Draft {
            return Err(DomainError::Conflict(format!(
                "the handover is {}; only a draft can be deleted",
                old.status.as_str()
            )));
        }
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteHandover(id));
        changeset.push(self.audit.by(
            principal,
            "handover.delete",
            format!("handover:{id}"),
            serde_json::json!({"asset_id": old.asset_id}),
        ));
        self.apply(changeset).await
    }

    /// Reports every submitted handover whose acknowledgement is overdue at `now`: marks it
    /// `overdue_at`, notifies every active staff user and audits it, all in one write against
    /// the version read, so a repeated sweep, a restart or an acknowledgement in between never
    /// makes it happen twice. Returns how many were reported.
    pub async fn sweep(&self, now: Timestamp) -> Result<usize, DomainError> {
        let timeout = i64::try_from(self.ack_timeout_secs).unwrap_or(i64::MAX);
        let Some(cutoff) = now.checked_sub(::time::Duration::seconds(timeout)) else {
            return Ok(0);
        };
        let mut reported = 0;
        loop {
            let due = self.store.handovers_due(cutoff, SWEEP_BATCH).await?;
            let full = due.len() == SWEEP_BATCH;
            let mut progressed = false;
            if !due.is_empty() {
                let staff = self
                    .store
                    .user_ids(&UserFilter {
                        role: Some(Role::Staff),
                        is_active: Some(true),
                        ..UserFilter::default()
                    })
                    .await?;
                for h in due {
                    match self.report_overdue(h, &staff, now).await {
                        Ok(()) => {
                            reported += 1;
                            progressed = true;
                        }
                        // Acknowledged (or reported) meanwhile: nothing left to do for it.
                        Err(StoreError::Stale | StoreError::NotFound) => progressed = true,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if !full || !progressed {
                return Ok(reported);
            }
        }
    }

    async fn report_overdue(
        &self,
        h: Handover,
        staff: &[UserId],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut new = h.clone();
        new.overdue_at = Some(now);
        new.updated_at = now;
        new.version = h.version + 1;
        let mut changeset = Changeset::new();
        changeset.push(Write::PutHandover(new, Expect::Version(h.version)));
        let minutes = self.ack_timeout_secs / 60;
        // No one caused this, so no recipient is left out as the actor (id 0 is no user).
        changeset.writes.extend(self.notifier.notify(
            staff.iter().copied(),
            UserId(0),
            NotificationKind::HandoverOverdue,
            &format!("Handover #{} not acknowledged", h.id),
            &format!(
                "A shift handover for asset {} has waited {minutes} min without an acknowledgement.",
                h.asset_id
            ),
            &format!("/handovers/{}", h.id),
        ));
        changeset.push(self.audit.entry(
            None,
            None,
            "handover.overdue",
            format!("handover:{}", h.id),
            serde_json::json!({"asset_id": h.asset_id, "notified": staff.len()}),
        ));
        self.store.apply(changeset).await.map(|_| ())
    }
}
