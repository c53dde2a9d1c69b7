//! Updates (announcements) and the caller's notifications.

use std::sync::Arc;

use serde::Deserialize;

use super::Principal;
use super::audit::AuditLog;
use super::notify::Notifier;
use super::pagination::{Page, PageRequest, split_ordering};
use super::visibility;
use crate::domain::activity::Priority;
use crate::domain::error::{FieldErrors, push_field};
use crate::domain::time::{self, Timestamp};
use crate::domain::update::{Notification, NotificationKind, Update, UpdateType};
use crate::domain::{DomainError, NotificationId, UpdateId};
use crate::store::{Changeset, Expect, IdKind, Store, Write};

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
}

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
}

impl UpdateService {
    /// Builds the service.
    pub fn new(store: Arc<dyn Store>, notifier: Notifier, audit: AuditLog) -> Self {
        Self {
            store,
            notifier,
            audit,
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
        let now = time::now();
        let update = Update {
            id: UpdateId(self.store.allocate_id(IdKind::Update)),
            title: input.title.trim().to_string(),
            content: input.content,
            update_type: input.update_type.unwrap_or(UpdateType::Announcement),
            priority: input.priority.unwrap_or(Priority::Medium),
            created_by: principal.user.id,
            created_at: now,
            updated_at: now,
        };
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutUpdate(update.clone(), Expect::New));
        if update.priority >= Priority::High {
            let everyone = self
                .store
                .users()
                .await?
                .into_iter()
                .filter(|u| u.is_active)
                .map(|u| u.id);
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
        Ok(update)
    }

    /// One update; everyone may read updates.
    pub async fn get(&self, _principal: &Principal, id: UpdateId) -> Result<Update, DomainError> {
        self.store.update(id).await?.ok_or_else(not_found)
    }

    /// Updates, filtered, ordered and paged.
    pub async fn list(
        &self,
        _principal: &Principal,
        query: UpdateQuery,
        page: PageRequest,
    ) -> Result<Page<Update>, DomainError> {
        let raw = query.ordering.as_deref().unwrap_or("-created_at");
        let (field, descending) = split_ordering(raw);
        if !matches!(field, "created_at" | "priority") {
            return Err(DomainError::field(
                "ordering",
                "must be one of created_at, priority (optionally with a leading '-')",
            ));
        }
        let mut updates: Vec<Update> = self
            .store
            .updates()
            .await?
            .into_iter()
            .filter(|u| query.update_type.is_none_or(|t| u.update_type == t))
            .filter(|u| query.priority.is_none_or(|p| u.priority == p))
            .filter(|u| query.since.is_none_or(|s| u.created_at >= s))
            .collect();
        updates.sort_by(|a, b| {
            let o = match field {
                "priority" => a.priority.cmp(&b.priority),
                _ => a.created_at.cmp(&b.created_at),
            }
            .then(a.id.cmp(&b.id));
            if descending { o.reverse() } else { o }
        });
        Ok(Page::from_all(updates, page))
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
        validate(&new.title, &new.content)?;
        if new == old {
            return Ok(old);
        }
        new.updated_at = time::now();
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
