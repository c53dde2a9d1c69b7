//! Updates (announcements) and the caller's notifications.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;

use super::Principal;
use super::audit::AuditLog;
use super::notify::Notifier;
use super::pagination::{Page, PageRequest, split_ordering};
use super::visibility;
use crate::domain::activity::Priority;
use crate::domain::error::{FieldErrors, push_field};
use crate::domain::time::{Clock, Timestamp};
use crate::domain::update::{
    Acknowledgement, Notification, NotificationKind, Update, UpdateAck, UpdateAcks, UpdateType,
};
use crate::domain::{DomainError, NotificationId, UpdateId, UserId};
use crate::store::{
    Changeset, Expect, IdKind, Store, StoreError, UpdateFilter, UpdateOrder, UserFilter, Write,
};

/// `POST /api/updates/` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct NewUpdate {
    /// 1–200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    /// At most 20,000 characters.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub content: String,
    /// Defaults to `announcement`.
    #[serde(rename = "type")]
    pub update_type: Option<UpdateType>,
    /// Defaults to `medium`.
    pub priority: Option<Priority>,
    /// Whether every active user is asked to acknowledge it; defaults to true for `safety`
    /// updates, false for the others.
    pub requires_ack: Option<bool>,
}

/// `PATCH /api/updates/{id}/` body.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct UpdatePatch {
    /// New title: 1–200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    /// New content.
    #[schema(max_length = 20000)]
    pub content: Option<String>,
    /// New type.
    #[serde(rename = "type")]
    pub update_type: Option<UpdateType>,
    /// New priority.
    pub priority: Option<Priority>,
    /// Turns acknowledgement on or off. Off keeps the acknowledgements made (they count again
    /// if it is turned back on) and cancels a reminder not yet sent; on asks whoever has not
    /// acknowledged, and the reminder falls due `updates.ack_reminder_secs` later (unless it was
    /// sent before: an update is reminded of once). Changing the type does not change it.
    pub requires_ack: Option<bool>,
}

/// Filters and ordering of `GET /api/updates/`.
#[derive(Clone, Debug, Default)]
pub struct UpdateQuery {
    /// Only this type.
    pub update_type: Option<UpdateType>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only posted at or after.
    pub since: Option<Timestamp>,
    /// `created_at` or `priority`, optionally with `-`; default `-created_at`.
    pub ordering: Option<String>,
    /// Only the updates the caller has yet to acknowledge, newest first; no other filter or
    /// ordering goes with it.
    pub pending_ack: bool,
}

/// How many due reminders one step of the sweep reads.
const REMINDER_BATCH: usize = 100;

fn validate(title: &str, content: &str) -> Result<(), DomainError> {
    let mut fields = FieldErrors::new();
    if title.trim().is_empty() {
        push_field(&mut fields, "title", "must not be empty");
    } else if title.chars().count() > 200 {
        push_field(&mut fields, "title", "must be at most 200 characters");
    }
    if content.chars().count() > 20_000 {
        push_field(&mut fields, "content", "must be at most 20000 characters");
    }
    DomainError::check(fields)
}

fn not_found() -> DomainError {
    DomainError::NotFound("no such update".into())
}

/// Update and notification use cases; cheap to clone.
#[derive(Clone)]
pub struct UpdateService {
    store: Arc<dyn Store>,
    notifier: Notifier,
    audit: AuditLog,
    /// Posting, acknowledgement and reminder times are read from it.
    clock: Clock,
    /// `updates.ack_reminder_secs`.
    reminder_secs: i64,
}

impl UpdateService {
    /// Builds the service; whoever has not acknowledged an update that requires it is
    /// reminded `reminder_secs` after it began requiring it, by `clock`.
    pub fn new(
        store: Arc<dyn Store>,
        notifier: Notifier,
        audit: AuditLog,
        clock: Clock,
        reminder_secs: u64,
    ) -> Self {
        Self {
            store,
            notifier,
            audit,
            clock,
            reminder_secs: i64::try_from(reminder_secs).unwrap_or(i64::MAX),
        }
    }

    /// Posts an update (admin or staff); high and critical ones notify every active user.
    pub async fn create(
        &self,
        principal: &Principal,
        input: NewUpdate,
    ) -> Result<Update, DomainError> {
        if !visibility::is_staff(&principal.user) {
            return Err(DomainError::Forbidden(
                "only admin or staff may post updates".into(),
            ));
        }
        validate(&input.title, &input.content)?;
        let now = self.clock.now();
        let update_type = input.update_type.unwrap_or(UpdateType::Announcement);
        let mut update = Update {
            id: UpdateId(self.store.allocate_id(IdKind::Update)),
            title: input.title.trim().to_string(),
            content: input.content,
            update_type,
            priority: input.priority.unwrap_or(Priority::Medium),
            created_by: principal.user.id,
            created_at: now,
            updated_at: now,
            requires_ack: input
                .requires_ack
                .unwrap_or(update_type == UpdateType::Safety),
            acknowledged_at: None,
        };
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutUpdate(update.clone(), Expect::New));
        if update.priority >= Priority::High {
            let active = UserFilter {
                is_active: Some(true),
                ..UserFilter::default()
            };
            let everyone = self.store.user_ids(&active).await?;
            changeset.writes.extend(self.notifier.notify(
                everyone,
                principal.user.id,
                NotificationKind::UpdatePosted,
                &update.title,
                &format!(
                    "{} posted a {} update.",
                    principal.user.display_name,
                    update.priority.as_str()
                ),
                &format!("/updates#update-{}", update.id),
            ));
        }
        self.store.apply(changeset).await?;
        // The store records the author's acknowledgement with the update: they wrote it.
        if update.requires_ack {
            update.acknowledged_at = Some(now);
        }
        Ok(update)
    }

    /// One update; everyone may read updates.
    pub async fn get(&self, principal: &Principal, id: UpdateId) -> Result<Update, DomainError> {
        let update = self.store.update(id).await?.ok_or_else(not_found)?;
        Ok(self.for_caller(principal, vec![update]).await?.remove(0))
    }

    /// `updates` with the caller's `acknowledged_at` filled in.
    async fn for_caller(
        &self,
        principal: &Principal,
        mut updates: Vec<Update>,
    ) -> Result<Vec<Update>, DomainError> {
        let ids: Vec<UpdateId> = updates.iter().map(|u| u.id).collect();
        let acked = self.store.acked_at(principal.user.id, &ids).await?;
        for (u, at) in updates.iter_mut().zip(acked) {
            u.acknowledged_at = at;
        }
        Ok(updates)
    }

    /// Updates, filtered, ordered and paged.
    pub async fn list(
        &self,
        principal: &Principal,
        query: UpdateQuery,
        page: PageRequest,
    ) -> Result<Page<Update>, DomainError> {
        if query.pending_ack {
            return self.pending(principal, &query, page).await;
        }
        let raw = query.ordering.as_deref().unwrap_or("-created_at");
        let (field, descending) = split_ordering(raw);
        if !matches!(field, "created_at" | "priority") {
            return Err(DomainError::field(
                "ordering",
                "must be one of created_at, priority (optionally with a leading '-')",
            ));
        }
        let order = match field {
            "priority" => UpdateOrder::Priority,
            _ => UpdateOrder::CreatedAt,
        };
        let filter = UpdateFilter {
            update_type: query.update_type,
            priority: query.priority,
            since: query.since,
        };
        let (count, results) = self
            .store
            .update_page(&filter, order, descending, page.offset(), page.page_size)
            .await?;
        Ok(Page {
            count,
            results: self.for_caller(principal, results).await?,
            request: page,
        })
    }

    /// The caller's pending acknowledgements, newest first.
    async fn pending(
        &self,
        principal: &Principal,
        query: &UpdateQuery,
        page: PageRequest,
    ) -> Result<Page<Update>, DomainError> {
        let mut fields = FieldErrors::new();
        let refused = [
            ("type", query.update_type.is_some()),
            ("priority", query.priority.is_some()),
            ("since", query.since.is_some()),
            ("ordering", query.ordering.is_some()),
        ];
        for (field, given) in refused {
            if given {
                push_field(
                    &mut fields,
                    field,
                    "cannot be combined with pending_ack=true",
                );
            }
        }
        DomainError::check(fields)?;
        let (count, results) = self
            .store
            .pending_ack_page(principal.user.id, page.offset(), page.page_size)
            .await?;
        Ok(Page {
            count,
            results,
            request: page,
        })
    }

    /// Records the caller's acknowledgement of an update that requires it (`Conflict`
    /// otherwise); again is a no-op answering the first one.
    pub async fn acknowledge(
        &self,
        principal: &Principal,
        id: UpdateId,
    ) -> Result<UpdateAck, DomainError> {
        let update = self.get(principal, id).await?;
        if let Some(at) = update.acknowledged_at {
            return Ok(UpdateAck {
                update_id: id,
                user_id: principal.user.id,
                at,
            });
        }
        if !update.requires_ack {
            return Err(DomainError::Conflict(
                "this update does not require acknowledgement".into(),
            ));
        }
        let at = self.clock.now();
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::AckUpdate(id, principal.user.id, at));
        changeset.push(self.audit.by(
            principal,
            "update.acknowledge",
            format!("update:{id}"),
            serde_json::json!({"title": update.title}),
        ));
        self.apply(changeset).await?;
        Ok(UpdateAck {
            update_id: id,
            user_id: principal.user.id,
            at,
        })
    }

    /// Who acknowledged an update and who has yet to, over the active users (its author, staff
    /// and admin). An update that does not require acknowledgement has no one pending.
    pub async fn acknowledgements(
        &self,
        principal: &Principal,
        id: UpdateId,
    ) -> Result<UpdateAcks, DomainError> {
        let update = self.store.update(id).await?.ok_or_else(not_found)?;
        if !visibility::is_staff(&principal.user) && update.created_by != principal.user.id {
            return Err(DomainError::Forbidden(
                "only its author, staff or an admin may see who acknowledged this update".into(),
            ));
        }
        let active: BTreeSet<UserId> = self.active_users().await?.into_iter().collect();
        let acks = self.store.update_acks(id).await?;
        let acked: BTreeSet<UserId> = acks.iter().map(|(user, _)| *user).collect();
        let acknowledged = acks
            .into_iter()
            .filter(|(user, _)| active.contains(user))
            .map(|(user_id, at)| Acknowledgement { user_id, at })
            .collect();
        let pending = if update.requires_ack {
            active.difference(&acked).copied().collect()
        } else {
            Vec::new()
        };
        Ok(UpdateAcks {
            acknowledged,
            pending,
        })
    }

    async fn active_users(&self) -> Result<Vec<UserId>, DomainError> {
        let active = UserFilter {
            is_active: Some(true),
            ..UserFilter::default()
        };
        Ok(self.store.user_ids(&active).await?)
    }

    /// Sends the acknowledgement reminders due at `now`: every active user who has not
    /// acknowledged an update that has required it for `updates.ack_reminder_secs` is notified
    /// once, in the same write that marks the reminder sent.
    pub async fn sweep(&self, now: Timestamp) -> Result<(), DomainError> {
        let Some(required_since) = now.checked_sub(::time::Duration::seconds(self.reminder_secs))
        else {
            return Ok(());
        };
        loop {
            let due = self
                .store
                .ack_reminders_due(required_since, REMINDER_BATCH)
                .await?;
            for id in &due {
                self.remind(*id).await?;
            }
            if due.len() < REMINDER_BATCH {
                return Ok(());
            }
        }
    }

    async fn remind(&self, id: UpdateId) -> Result<(), DomainError> {
        let Some(update) = self.store.update(id).await? else {
            return Ok(());
        };
        let acked: BTreeSet<UserId> = self
            .store
            .update_acks(id)
            .await?
            .into_iter()
            .map(|(user, _)| user)
            .collect();
        let unacked = self
            .active_users()
            .await?
            .into_iter()
            .filter(|u| !acked.contains(u));
        let mut changeset = Changeset::new();
        changeset.push(Write::AckReminderSent(id));
        // The author acknowledged it when it began requiring acknowledgement, so naming them as
        // the actor leaves no one out.
        changeset.writes.extend(self.notifier.notify(
            unacked,
            update.created_by,
            NotificationKind::AckReminder,
            &update.title,
            "Please acknowledge this update.",
            &format!("/updates#update-{id}"),
        ));
        match self.store.apply(changeset).await {
            // Sent meanwhile, or the update stopped requiring acknowledgement: nothing to do.
            Ok(_) | Err(StoreError::Conflict(_) | StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn may_change(principal: &Principal, update: &Update) -> Result<(), DomainError> {
        if visibility::is_admin(&principal.user) || update.created_by == principal.user.id {
            Ok(())
        } else {
            Err(DomainError::Forbidden(
                "only its author or an admin may change this update".into(),
            ))
        }
    }

    async fn apply(&self, changeset: Changeset) -> Result<(), DomainError> {
        super::apply_or(self.store.as_ref(), changeset, not_found).await
    }

    /// Changes an update (its author or an admin).
    pub async fn update(
        &self,
        principal: &Principal,
        id: UpdateId,
        patch: UpdatePatch,
    ) -> Result<Update, DomainError> {
        let old = self.get(principal, id).await?;
        Self::may_change(principal, &old)?;
        let mut new = old.clone();
        if let Some(t) = patch.title {
            new.title = t.trim().to_string();
        }
        if let Some(c) = patch.content {
            new.content = c;
        }
        if let Some(t) = patch.update_type {
            new.update_type = t;
        }
        if let Some(p) = patch.priority {
            new.priority = p;
        }
        if let Some(r) = patch.requires_ack {
            new.requires_ack = r;
        }
        validate(&new.title, &new.content)?;
        if new == old {
            return Ok(old);
        }
        new.updated_at = self.clock.now();
        if new.requires_ack && !old.requires_ack && new.created_by == principal.user.id {
            new.acknowledged_at.get_or_insert(new.updated_at);
        }
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutUpdate(new.clone(), Expect::Exists));
        self.apply(changeset).await?;
        Ok(new)
    }

    /// Deletes an update (its author or an admin).
    pub async fn delete(&self, principal: &Principal, id: UpdateId) -> Result<(), DomainError> {
        let old = self.get(principal, id).await?;
        Self::may_change(principal, &old)?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteUpdate(id));
        changeset.push(self.audit.by(
            principal,
            "update.delete",
            format!("update:{id}"),
            serde_json::json!({"title": old.title}),
        ));
        self.apply(changeset).await
    }

    /// The caller's notifications, newest first.
    pub async fn notifications(
        &self,
        principal: &Principal,
        unread_only: bool,
        page: PageRequest,
    ) -> Result<Page<Notification>, DomainError> {
        let (count, results) = self
            .store
            .notification_page(
                principal.user.id,
                unread_only,
                page.offset(),
                page.page_size,
            )
            .await?;
        Ok(Page {
            count,
            results,
            request: page,
        })
    }

    /// Marks one of the caller's notifications read.
    pub async fn mark_read(
        &self,
        principal: &Principal,
        id: NotificationId,
    ) -> Result<(), DomainError> {
        let mut changeset = Changeset::new();
        changeset.push(Write::ReadNotification(principal.user.id, id));
        super::apply_or(self.store.as_ref(), changeset, || {
            DomainError::NotFound("no such notification".into())
        })
        .await
    }

    /// Marks all of the caller's notifications read.
    pub async fn mark_all_read(&self, principal: &Principal) -> Result<(), DomainError> {
        let mut changeset = Changeset::new();
        changeset.push(Write::ReadAllNotifications(principal.user.id));
        self.store.apply(changeset).await?;
        Ok(())
    }
}
