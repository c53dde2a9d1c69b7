//! Projects and their teams.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::project::{Project, ProjectStatus};
use crate::domain::visibility::Viewer;
use crate::domain::{ProjectId, UserId};

/// Filters of the project list; every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct ProjectFilter {
    /// Only this status.
    pub status: Option<ProjectStatus>,
    /// Only managed by this user.
    pub manager: Option<UserId>,
    /// Only with this user on the team.
    pub member: Option<UserId>,
    /// Only these ids (from a full-text query).
    pub ids: Option<Vec<ProjectId>>,
}

/// Sort keys of the project list; ties go by id, in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectOrder {
    /// By lower-cased name.
    Name,
    /// By start date, projects without one last.
    StartDate,
    /// By end date, projects without one last.
    EndDate,
    /// By creation time.
    CreatedAt,
}

/// Projects.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// One project.
    async fn project(&self, id: ProjectId) -> Result<Option<Project>, StoreError>;
    /// One page (`offset` rows skipped, at most `limit` taken) of the projects matching
    /// `filter` that `viewer` may see, in `order` (then id; both reversed when `descending`),
    /// and how many there are in all.
    async fn project_page(
        &self,
        viewer: &Viewer,
        filter: &ProjectFilter,
        order: ProjectOrder,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Project>), StoreError>;
    /// Projects `user` manages or is on the team of.
    async fn projects_of(&self, user: UserId) -> Result<Vec<ProjectId>, StoreError>;

    /// The projects of `ids` that exist, in one read (for batched lookups), in no set order.
    async fn projects_by_ids(&self, ids: &[ProjectId]) -> Result<Vec<Project>, StoreError>;
}
