//! Activities: create, read, list, change (with status moves and versions), delete, export.

use std::sync::Arc;

use ::time::OffsetDateTime;
use serde::Deserialize;

use super::Principal;
use super::audit::AuditLog;
use super::notify::Notifier;
use super::pagination::{Page, PageRequest, split_ordering};
use super::search::SearchService;
use super::visibility::{self, viewer};
use crate::domain::activity::{
    Activity, ActivityStatus, ActivityType, Move, Priority, status_move, validate_fields,
};
use crate::domain::change::ObjectKind;
use crate::domain::error::{FieldErrors, push_field};
use crate::domain::project::Project;
use crate::domain::time::{self, Timestamp};
use crate::domain::update::NotificationKind;
use crate::domain::{ActivityId, DomainError, ProjectId, UserId};
use crate::store::{
    ActivityFilter, ActivityOrder, Changeset, Expect, IdKind, Store, StoreError, Write,
};

/// `POST /api/activities/` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct NewActivity {
    /// 1–200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    /// At most 20,000 characters.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: String,
    /// Defaults to `other`.
    #[serde(rename = "type")]
    pub activity_type: Option<ActivityType>,
    /// Defaults to `planned`.
    pub status: Option<ActivityStatus>,
    /// Defaults to `medium`.
    pub priority: Option<Priority>,
    /// Start.
    #[serde(default, with = "time::rfc3339::option")]
    pub start_time: Option<OffsetDateTime>,
    /// End; not before start.
    #[serde(default, with = "time::rfc3339::option")]
    pub end_time: Option<OffsetDateTime>,
    /// Assignee.
    pub assigned_to: Option<UserId>,
    /// Project.
    pub project_id: Option<ProjectId>,
}

/// `PATCH /api/activities/{id}/` body: absent fields stay; `null` clears a nullable one.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ActivityPatch {
    /// New title: 1–200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    /// New description.
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// New type.
    #[serde(rename = "type")]
    pub activity_type: Option<ActivityType>,
    /// New status (checked against the move table).
    pub status: Option<ActivityStatus>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New start, or `null`.
    #[serde(default, deserialize_with = "double_option::time")]
    pub start_time: Option<Option<OffsetDateTime>>,
    /// New end, or `null`.
    #[serde(default, deserialize_with = "double_option::time")]
    pub end_time: Option<Option<OffsetDateTime>>,
    /// New assignee, or `null`.
    #[serde(default, deserialize_with = "double_option::plain")]
    pub assigned_to: Option<Option<UserId>>,
    /// New project, or `null`.
    #[serde(default, deserialize_with = "double_option::plain")]
    pub project_id: Option<Option<ProjectId>>,
    /// Apply only if the activity is at this version.
    pub version: Option<u64>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`) in PATCH bodies.
pub mod double_option {
    use serde::{Deserialize, Deserializer};

    use crate::domain::time::Timestamp;

    /// Any deserialisable value.
    pub fn plain<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }

    /// A `YYYY-MM-DD` date.
    pub fn plain_date<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<::time::Date>>, D::Error> {
        crate::domain::project::date_format::iso_date::option::deserialize(d).map(Some)
    }

    /// An RFC 3339 time.
    pub fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Timestamp>>, D::Error> {
        time::serde::rfc3339::option::deserialize(d).map(Some)
    }
}

/// Filters and ordering of activity lists, as parsed from a query string.
#[derive(Clone, Debug)]
pub struct ActivityQuery {
    /// The filters.
    pub filter: ActivityFilter,
    /// Sort key.
    pub order: ActivityOrder,
    /// Descending (`-field`).
    pub descending: bool,
    /// Full-text words (substring match on title and description until search lands).
    pub q: Option<String>,
}

impl Default for ActivityQuery {
    fn default() -> Self {
        Self {
            filter: ActivityFilter::default(),
            order: ActivityOrder::CreatedAt,
            descending: true,
            q: None,
        }
    }
}

/// Parses `ordering` for activities.
pub fn parse_ordering(raw: &str) -> Result<(ActivityOrder, bool), DomainError> {
    let (field, descending) = split_ordering(raw);
    let order = match field {
        "start_time" => ActivityOrder::StartTime,
        "end_time" => ActivityOrder::EndTime,
        "priority" => ActivityOrder::Priority,
        "created_at" => ActivityOrder::CreatedAt,
        "updated_at" => ActivityOrder::UpdatedAt,
        "title" => ActivityOrder::Title,
        _ => {
            return Err(DomainError::field(
                "ordering",
                "must be one of start_time, end_time, priority, created_at, updated_at, title \
                 (optionally with a leading '-')",
            ));
        }
    };
    Ok((order, descending))
}

/// Activity use cases; cheap to clone.
#[derive(Clone)]
pub struct ActivityService {
    store: Arc<dyn Store>,
    notifier: Notifier,
    audit: AuditLog,
    search: SearchService,
}

/// `t` in UTC; a time UTC RFC 3339 cannot show is a validation error on `field`.
fn utc(field: &str, t: Option<Timestamp>, fields: &mut FieldErrors) -> Option<Timestamp> {
    let t = t?;
    let utc = time::to_utc(t);
    if utc.is_none() {
        push_field(fields, field, time::OUT_OF_RANGE);
    }
    utc
}

fn not_found() -> DomainError {
    DomainError::NotFound("no such activity".into())
}

impl ActivityService {
    /// Builds the service.
    pub fn new(
        store: Arc<dyn Store>,
        notifier: Notifier,
        audit: AuditLog,
        search: SearchService,
    ) -> Self {
        Self {
            store,
            notifier,
            audit,
            search,
        }
    }

    /// The project `id` if it exists; a validation error on `field` otherwise.
    async fn existing_project(&self, id: ProjectId) -> Result<Project, DomainError> {
        self.store
            .project(id)
            .await?
            .ok_or_else(|| DomainError::field("project_id", "must name an existing project"))
    }

    async fn check_assignee(&self, id: UserId) -> Result<(), DomainError> {
        match self.store.user(id).await? {
            Some(_) => Ok(()),
            None => Err(DomainError::field(
                "assigned_to",
                "must name an existing user",
            )),
        }
    }

    /// Creates an activity; `status` defaults to planned, `priority` to medium.
    pub async fn create(
        &self,
        principal: &Principal,
        input: NewActivity,
    ) -> Result<Activity, DomainError> {
        let mut changeset = Changeset::by(principal.user.id);
        let activity = self.prepare(principal, input, &mut changeset).await?;
        self.store.apply(changeset).await?;
        Ok(activity)
    }

    /// Imports many activities at once, each checked as `create` checks it: all of them in one
    /// changeset (all or none) when `commit`, none when not (a dry run). Refused rows come back
    /// with their index in `inputs`; then nothing is written.
    pub async fn import(
        &self,
        principal: &Principal,
        inputs: Vec<NewActivity>,
        commit: bool,
    ) -> Result<usize, Vec<(usize, DomainError)>> {
        let mut changeset = Changeset::by(principal.user.id);
        let mut refused = Vec::new();
        let total = inputs.len();
        for (index, input) in inputs.into_iter().enumerate() {
            if let Err(e) = self.prepare(principal, input, &mut changeset).await {
                refused.push((index, e));
            }
        }
        if !refused.is_empty() {
            return Err(refused);
        }
        if commit && total > 0 {
            let detail = serde_json::json!({"activities": total});
            changeset.push(self.audit.by(
                principal,
                "activity.import",
                "activities".into(),
                detail,
            ));
            self.store
                .apply(changeset)
                .await
                .map_err(|e| vec![(0, DomainError::from(e))])?;
        }
        Ok(total)
    }

    /// Checks `input` as a new activity by `principal` and adds its writes to `changeset`.
    async fn prepare(
        &self,
        principal: &Principal,
        input: NewActivity,
        changeset: &mut Changeset,
    ) -> Result<Activity, DomainError> {
        let mut fields = FieldErrors::new();
        let start = utc("start_time", input.start_time, &mut fields);
        let end = utc("end_time", input.end_time, &mut fields);
        validate_fields(
            Some(&input.title),
            Some(&input.description),
            start,
            end,
            &mut fields,
        );
        DomainError::check(fields)?;
        let project = match input.project_id {
            Some(id) => Some(self.existing_project(id).await?),
            None => None,
        };
        if let Some(assignee) = input.assigned_to {
            self.check_assignee(assignee).await?;
        }
        if !visibility::can_create_activity(&principal.user, project.as_ref()) {
            return Err(DomainError::Forbidden(
                "only admin, staff or members of the project may add activities to it".into(),
            ));
        }
        let now = time::now();
        let activity = Activity {
            id: ActivityId(self.store.allocate_id(IdKind::Activity)),
            title: input.title.trim().to_string(),
            description: input.description,
            activity_type: input.activity_type.unwrap_or(ActivityType::Other),
            status: input.status.unwrap_or(ActivityStatus::Planned),
            priority: input.priority.unwrap_or(Priority::Medium),
            start_time: start,
            end_time: end,
            assigned_to: input.assigned_to,
            created_by: principal.user.id,
            project_id: input.project_id,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        changeset.push(Write::PutActivity(activity.clone(), Expect::New));
        self.require_references(changeset, &activity);
        if let Some(assignee) = activity.assigned_to {
            changeset.writes.extend(self.notifier.notify(
                [assignee],
                principal.user.id,
                NotificationKind::ActivityAssigned,
                &format!("Assigned to you: {}", activity.title),
                &format!("{} assigned you an activity.", principal.user.display_name),
                &format!("/activities/{}", activity.id),
            ));
        }
        Ok(activity)
    }

    /// Makes the commit fail if a referenced user or project vanished meanwhile.
    fn require_references(&self, changeset: &mut Changeset, a: &Activity) {
        if let Some(u) = a.assigned_to {
            changeset.push(Write::RequireUser(u, "assigned_to"));
        }
        if let Some(p) = a.project_id {
            changeset.push(Write::RequireProject(p, "project_id"));
        }
    }

    /// One activity the caller may see.
    pub async fn get(
        &self,
        principal: &Principal,
        id: ActivityId,
    ) -> Result<Activity, DomainError> {
        let activity = self.store.activity(id).await?.ok_or_else(not_found)?;
        let viewer = viewer(self.store.as_ref(), principal).await?;
        if viewer.sees(&activity) {
            Ok(activity)
        } else {
            Err(not_found())
        }
    }

    async fn apply_query(
        &self,
        principal: &Principal,
        query: &ActivityQuery,
    ) -> Result<(crate::store::Viewer, ActivityFilter), DomainError> {
        let viewer = viewer(self.store.as_ref(), principal).await?;
        let mut filter = query.filter.clone();
        if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let ids = self
                .search
                .matching_ids(principal, q, ObjectKind::Activity)
                .await?;
            filter.ids = Some(ids.into_iter().map(ActivityId).collect());
        }
        Ok((viewer, filter))
    }

    /// One page of the activities the caller may see.
    pub async fn list(
        &self,
        principal: &Principal,
        query: &ActivityQuery,
        page: PageRequest,
    ) -> Result<Page<Activity>, DomainError> {
        let (viewer, filter) = self.apply_query(principal, query).await?;
        let (count, results) = self
            .store
            .activities(
                &viewer,
                &filter,
                query.order,
                query.descending,
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

    /// An activity's changes still in the change log, newest first, at most `limit`: its
    /// history, each entry with the activity as it was after that change and who made it.
    pub async fn history(
        &self,
        principal: &Principal,
        id: ActivityId,
        limit: usize,
    ) -> Result<Vec<crate::domain::change::ChangeEntry>, DomainError> {
        self.get(principal, id).await?;
        Ok(self
            .store
            .object_changes(ObjectKind::Activity, id.0, limit)
            .await?)
    }

    /// Every matching activity id, in order, for a streamed export.
    pub async fn export_ids(
        &self,
        principal: &Principal,
        query: &ActivityQuery,
    ) -> Result<Vec<ActivityId>, DomainError> {
        let (viewer, filter) = self.apply_query(principal, query).await?;
        Ok(self
            .store
            .activity_ids(&viewer, &filter, query.order, query.descending)
            .await?)
    }

    /// A chunk of an export.
    pub async fn export_rows(&self, ids: &[ActivityId]) -> Result<Vec<Activity>, DomainError> {
        Ok(self.store.activities_by_ids(ids).await?)
    }

    /// Applies `patch`. Without a `version` in the patch, a concurrent change is retried
    /// against the fresh row; with one, a stale version is a `409`.
    pub async fn update(
        &self,
        principal: &Principal,
        id: ActivityId,
        patch: ActivityPatch,
    ) -> Result<Activity, DomainError> {
        for _ in 0..3 {
            match self.try_update(principal, id, patch.clone()).await? {
                Some(activity) => return Ok(activity),
                None if patch.version.is_none() => continue,
                None => {
                    return Err(DomainError::Conflict(
                        "activity was changed by someone else; reload it".into(),
                    ));
                }
            }
        }
        Err(DomainError::Conflict(
            "activity is being changed by others; try again".into(),
        ))
    }

    /// One attempt; `Ok(None)` when the row changed between reading and writing it.
    async fn try_update(
        &self,
        principal: &Principal,
        id: ActivityId,
        patch: ActivityPatch,
    ) -> Result<Option<Activity>, DomainError> {
        let old = self.get(principal, id).await?;
        if !visibility::can_change_activity(&principal.user, &old) {
            return Err(DomainError::Forbidden(
                "only admin, staff, its creator or its assignee may change this activity".into(),
            ));
        }
        if let Some(v) = patch.version
            && v != old.version
        {
            return Err(DomainError::Conflict(format!(
                "activity was changed by someone else (version {} is current, not {v})",
                old.version
            )));
        }
        let mut new = old.clone();
        let mut fields = FieldErrors::new();
        if let Some(t) = patch.title {
            new.title = t.trim().to_string();
        }
        if let Some(d) = patch.description {
            new.description = d;
        }
        if let Some(t) = patch.activity_type {
            new.activity_type = t;
        }
        if let Some(p) = patch.priority {
            new.priority = p;
        }
        if let Some(s) = patch.start_time {
            new.start_time = utc("start_time", s, &mut fields);
        }
        if let Some(e) = patch.end_time {
            new.end_time = utc("end_time", e, &mut fields);
        }
        validate_fields(
            Some(&new.title),
            Some(&new.description),
            new.start_time,
            new.end_time,
            &mut fields,
        );
        DomainError::check(fields)?;
        if let Some(a) = patch.assigned_to {
            if let Some(user) = a {
                self.check_assignee(user).await?;
            }
            new.assigned_to = a;
        }
        if let Some(p) = patch.project_id {
            if let Some(project_id) = p
                && Some(project_id) != old.project_id
            {
                let project = self.existing_project(project_id).await?;
                if !visibility::can_create_activity(&principal.user, Some(&project)) {
                    return Err(DomainError::Forbidden(
                        "only admin, staff or members of the project may move activities into it"
                            .into(),
                    ));
                }
            }
            new.project_id = p;
        }
        if let Some(status) = patch.status
            && status != old.status
        {
            match status_move(old.status, status) {
                Move::Allowed => {}
                Move::StaffOnly if visibility::is_staff(&principal.user) => {}
                Move::StaffOnly => {
                    return Err(DomainError::Forbidden(
                        "only admin or staff may reopen a completed or cancelled activity".into(),
                    ));
                }
                Move::Illegal => {
                    return Err(DomainError::Conflict(format!(
                        "cannot move an activity from {} to {}",
                        old.status.as_str(),
                        status.as_str()
                    )));
                }
            }
            new.status = status;
        }
        if new == old {
            return Ok(Some(old));
        }
        new.version = old.version + 1;
        new.updated_at = time::now();

        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutActivity(
            new.clone(),
            Expect::Version(old.version),
        ));
        self.require_references(&mut changeset, &new);
        let actor = principal.user.id;
        if let Some(assignee) = new.assigned_to
            && new.assigned_to != old.assigned_to
        {
            changeset.writes.extend(self.notifier.notify(
                [assignee],
                actor,
                NotificationKind::ActivityAssigned,
                &format!("Assigned to you: {}", new.title),
                &format!("{} assigned you an activity.", principal.user.display_name),
                &format!("/activities/{}", new.id),
            ));
        }
        if new.status != old.status {
            let people = [Some(new.created_by), new.assigned_to]
                .into_iter()
                .flatten();
            changeset.writes.extend(self.notifier.notify(
                people,
                actor,
                NotificationKind::ActivityStatus,
                &format!("{}: {}", new.title, new.status.label()),
                &format!(
                    "{} moved it from {} to {}.",
                    principal.user.display_name,
                    old.status.label(),
                    new.status.label()
                ),
                &format!("/activities/{}", new.id),
            ));
        }
        match self.store.apply(changeset).await {
            Ok(_) => Ok(Some(new)),
            Err(StoreError::NotFound) => Err(not_found()),
            Err(StoreError::Stale) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an activity (admin, staff or its creator).
    pub async fn delete(&self, principal: &Principal, id: ActivityId) -> Result<(), DomainError> {
        let activity = self.get(principal, id).await?;
        if !visibility::can_delete_activity(&principal.user, &activity) {
            return Err(DomainError::Forbidden(
                "only admin, staff or its creator may delete this activity".into(),
            ));
        }
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteActivity(id));
        changeset.push(self.audit.by(
            principal,
            "activity.delete",
            format!("activity:{id}"),
            serde_json::json!({"title": activity.title}),
        ));
        super::apply_or(self.store.as_ref(), changeset, not_found).await
    }
}
