//! Projects and their teams.

use std::sync::Arc;

use ::time::Date;
use serde::Deserialize;

use super::Principal;
use super::activities::double_option;
use super::audit::AuditLog;
use super::notify::Notifier;
use super::pagination::{Page, PageRequest, split_ordering};
use super::search::SearchService;
use super::users::VisibleUser;
use super::visibility;
use crate::domain::change::ObjectKind;
use crate::domain::error::FieldErrors;
use crate::domain::project::{Project, ProjectStatus, date_format, validate_fields};
use crate::domain::time;
use crate::domain::update::NotificationKind;
use crate::domain::{DomainError, ProjectId, UserId};
use crate::store::{Changeset, Expect, IdKind, ProjectFilter, ProjectOrder, Store, Viewer, Write};

/// `POST /api/projects/` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct NewProject {
    /// 1–200 characters, not all blank, unique among projects not archived.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Free text, at most 20,000 characters.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: String,
    /// Defaults to `planning`.
    pub status: Option<ProjectStatus>,
    /// Planned start.
    #[serde(default, with = "date_format::iso_date::option")]
    pub start_date: Option<Date>,
    /// Planned end.
    #[serde(default, with = "date_format::iso_date::option")]
    pub end_date: Option<Date>,
    /// Defaults to the caller.
    pub manager_id: Option<UserId>,
    /// Initial team.
    #[serde(default)]
    pub team_members: Vec<UserId>,
}

/// `PATCH /api/projects/{id}/` body.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ProjectPatch {
    /// New name: 1–200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// New description.
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// New status.
    pub status: Option<ProjectStatus>,
    /// New start date, or `null`.
    #[serde(default, deserialize_with = "double_option::plain_date")]
    pub start_date: Option<Option<Date>>,
    /// New end date, or `null`.
    #[serde(default, deserialize_with = "double_option::plain_date")]
    pub end_date: Option<Option<Date>>,
    /// New manager.
    pub manager_id: Option<UserId>,
    /// New team (replaces the old one).
    pub team_members: Option<Vec<UserId>>,
}

/// Filters and ordering of `GET /api/projects/`.
#[derive(Clone, Debug, Default)]
pub struct ProjectQuery {
    /// Only this status.
    pub status: Option<ProjectStatus>,
    /// Only managed by this user.
    pub manager: Option<UserId>,
    /// Only with this team member.
    pub member: Option<UserId>,
    /// Words in name or description.
    pub q: Option<String>,
    /// `name` (default), `start_date`, `end_date`, `created_at`, optionally with `-`.
    pub ordering: Option<String>,
}

/// Project use cases; cheap to clone.
#[derive(Clone)]
pub struct ProjectService {
    store: Arc<dyn Store>,
    notifier: Notifier,
    audit: AuditLog,
    search: SearchService,
}

fn not_found() -> DomainError {
    DomainError::NotFound("no such project".into())
}

impl ProjectService {
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

    async fn require_users(&self, ids: &[UserId], field: &str) -> Result<(), DomainError> {
        for id in ids {
            if self.store.user(*id).await?.is_none() {
                return Err(DomainError::field(
                    field,
                    format!("user {id} does not exist"),
                ));
            }
        }
        Ok(())
    }

    fn team_added(
        &self,
        principal: &Principal,
        project: &Project,
        added: impl IntoIterator<Item = UserId>,
    ) -> Vec<Write> {
        self.notifier.notify(
            added,
            principal.user.id,
            NotificationKind::TeamAdded,
            &format!("Added to project {}", project.name),
            &format!("{} added you to the team.", principal.user.display_name),
            &format!("/projects/{}", project.id),
        )
    }

    /// Creates a project (admin or staff); the manager defaults to the caller.
    pub async fn create(
        &self,
        principal: &Principal,
        input: NewProject,
    ) -> Result<Project, DomainError> {
        if !visibility::is_staff(&principal.user) {
            return Err(DomainError::Forbidden(
                "only admin or staff may create projects".into(),
            ));
        }
        let mut fields = FieldErrors::new();
        validate_fields(
            Some(&input.name),
            Some(&input.description),
            input.start_date,
            input.end_date,
            &mut fields,
        );
        DomainError::check(fields)?;
        let manager = input.manager_id.unwrap_or(principal.user.id);
        self.require_users(&[manager], "manager_id").await?;
        let mut team: Vec<UserId> = Vec::new();
        for m in input.team_members {
            if !team.contains(&m) {
                team.push(m);
            }
        }
        self.require_users(&team, "team_members").await?;
        let now = time::now();
        let project = Project {
            id: ProjectId(self.store.allocate_id(IdKind::Project)),
            name: input.name.trim().to_string(),
            description: input.description,
            status: input.status.unwrap_or(ProjectStatus::Planning),
            start_date: input.start_date,
            end_date: input.end_date,
            manager_id: manager,
            team_members: team.clone(),
            created_at: now,
            updated_at: now,
        };
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutProject(project.clone(), Expect::New, false));
        changeset.push(Write::RequireUser(manager, "manager_id"));
        changeset
            .writes
            .extend(self.team_added(principal, &project, team));
        self.store.apply(changeset).await?;
        Ok(project)
    }

    /// One project the caller may see.
    pub async fn get(&self, principal: &Principal, id: ProjectId) -> Result<Project, DomainError> {
        let project = self.store.project(id).await?.ok_or_else(not_found)?;
        if visibility::can_see_project(&principal.user, &project) {
            Ok(project)
        } else {
            Err(not_found())
        }
    }

    /// The projects of `ids` that exist and the caller may see, in one store read (for
    /// batched relations); the others are left out, as `get` answers them `404`.
    pub async fn get_many(
        &self,
        principal: &Principal,
        ids: &[ProjectId],
    ) -> Result<Vec<Project>, DomainError> {
        Ok(self
            .store
            .projects_by_ids(ids)
            .await?
            .into_iter()
            .filter(|p| visibility::can_see_project(&principal.user, p))
            .collect())
    }

    /// The projects the caller may see, filtered, ordered and paged.
    pub async fn list(
        &self,
        principal: &Principal,
        query: ProjectQuery,
        page: PageRequest,
    ) -> Result<Page<Project>, DomainError> {
        let raw = query.ordering.as_deref().unwrap_or("name");
        let (field, descending) = split_ordering(raw);
        if !matches!(field, "name" | "start_date" | "end_date" | "created_at") {
            return Err(DomainError::field(
                "ordering",
                "must be one of name, start_date, end_date, created_at (optionally with a leading '-')",
            ));
        }
        let order = match field {
            "start_date" => ProjectOrder::StartDate,
            "end_date" => ProjectOrder::EndDate,
            "created_at" => ProjectOrder::CreatedAt,
            _ => ProjectOrder::Name,
        };
        let ids = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => Some(
                self.search
                    .matching_ids(principal, q, ObjectKind::Project)
                    .await?
                    .into_iter()
                    .map(ProjectId)
                    .collect(),
            ),
            None => None,
        };
        let filter = ProjectFilter {
            status: query.status,
            manager: query.manager,
            member: query.member,
            ids,
        };
        // Whether a project may be seen follows from its own keys, so no memberships are read.
        let viewer = Viewer::new(principal.user.id, principal.user.role, []);
        let (count, results) = self
            .store
            .project_page(
                &viewer,
                &filter,
                order,
                descending,
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

    /// Changes a project (admin or its manager).
    pub async fn update(
        &self,
        principal: &Principal,
        id: ProjectId,
        patch: ProjectPatch,
    ) -> Result<Project, DomainError> {
        let old = self.get(principal, id).await?;
        if !visibility::can_change_project(&principal.user, &old) {
            return Err(DomainError::Forbidden(
                "only an admin or the project's manager may change it".into(),
            ));
        }
        let mut new = old.clone();
        if let Some(n) = patch.name {
            new.name = n.trim().to_string();
        }
        if let Some(d) = patch.description {
            new.description = d;
        }
        if let Some(s) = patch.status {
            new.status = s;
        }
        if let Some(d) = patch.start_date {
            new.start_date = d;
        }
        if let Some(d) = patch.end_date {
            new.end_date = d;
        }
        let mut fields = FieldErrors::new();
        validate_fields(
            Some(&new.name),
            Some(&new.description),
            new.start_date,
            new.end_date,
            &mut fields,
        );
        DomainError::check(fields)?;
        if let Some(m) = patch.manager_id {
            self.require_users(&[m], "manager_id").await?;
            new.manager_id = m;
        }
        if let Some(team) = patch.team_members {
            self.require_users(&team, "team_members").await?;
            let mut unique = Vec::new();
            for m in team {
                if !unique.contains(&m) {
                    unique.push(m);
                }
            }
            new.team_members = unique;
        }
        if new == old {
            return Ok(old);
        }
        new.updated_at = time::now();
        let team_changed = new.team_members != old.team_members;
        let added: Vec<UserId> = new
            .team_members
            .iter()
            .copied()
            .filter(|m| !old.team_members.contains(m))
            .collect();
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutProject(new.clone(), Expect::Exists, team_changed));
        changeset.push(Write::RequireUser(new.manager_id, "manager_id"));
        changeset
            .writes
            .extend(self.team_added(principal, &new, added));
        self.apply(changeset).await?;
        Ok(new)
    }

    async fn apply(&self, changeset: Changeset) -> Result<(), DomainError> {
        super::apply_or(self.store.as_ref(), changeset, not_found).await
    }

    /// Deletes a project (admin only); its activities stay, with no project.
    pub async fn delete(&self, principal: &Principal, id: ProjectId) -> Result<(), DomainError> {
        let project = self.get(principal, id).await?;
        if !visibility::is_admin(&principal.user) {
            return Err(DomainError::Forbidden(
                "only an admin may delete a project".into(),
            ));
        }
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteProject(id));
        changeset.push(self.audit.by(
            principal,
            "project.delete",
            format!("project:{id}"),
            serde_json::json!({"name": project.name}),
        ));
        self.apply(changeset).await
    }

    /// The team, as users.
    pub async fn team(
        &self,
        principal: &Principal,
        id: ProjectId,
    ) -> Result<Vec<VisibleUser>, DomainError> {
        let project = self.get(principal, id).await?;
        let mut out = Vec::new();
        for m in &project.team_members {
            if let Some(u) = self.store.user(*m).await? {
                out.push(VisibleUser::new(u, &principal.user));
            }
        }
        Ok(out)
    }

    /// Adds `user` to the team (admin or manager); adding a member twice changes nothing.
    pub async fn add_member(
        &self,
        principal: &Principal,
        id: ProjectId,
        user: UserId,
    ) -> Result<Vec<VisibleUser>, DomainError> {
        let project = self.get(principal, id).await?;
        if !visibility::can_change_project(&principal.user, &project) {
            return Err(DomainError::Forbidden(
                "only an admin or the project's manager may change its team".into(),
            ));
        }
        if self.store.user(user).await?.is_none() {
            return Err(DomainError::field("user_id", "must name an existing user"));
        }
        if !project.team_members.contains(&user) {
            let mut new = project.clone();
            new.team_members.push(user);
            new.updated_at = time::now();
            let mut changeset = Changeset::by(principal.user.id);
            changeset.push(Write::PutProject(new.clone(), Expect::Exists, true));
            changeset.push(Write::RequireUser(user, "user_id"));
            changeset
                .writes
                .extend(self.team_added(principal, &new, [user]));
            self.apply(changeset).await?;
        }
        self.team(principal, id).await
    }

    /// Removes `user` from the team (admin or manager); removing a non-member changes nothing.
    pub async fn remove_member(
        &self,
        principal: &Principal,
        id: ProjectId,
        user: UserId,
    ) -> Result<(), DomainError> {
        let project = self.get(principal, id).await?;
        if !visibility::can_change_project(&principal.user, &project) {
            return Err(DomainError::Forbidden(
                "only an admin or the project's manager may change its team".into(),
            ));
        }
        if project.team_members.contains(&user) {
            let mut new = project.clone();
            new.team_members.retain(|m| *m != user);
            new.updated_at = time::now();
            let mut changeset = Changeset::by(principal.user.id);
            changeset.push(Write::PutProject(new, Expect::Exists, true));
            changeset.push(self.audit.by(
                principal,
                "project.team_remove",
                format!("project:{id}"),
                serde_json::json!({"user_id": user}),
            ));
            self.apply(changeset).await?;
        }
        Ok(())
    }
}
