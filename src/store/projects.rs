//! Projects and their teams.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::project::Project;
use crate::domain::{ProjectId, UserId};

/// Projects.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// One project.
    async fn project(&self, id: ProjectId) -> Result<Option<Project>, StoreError>;
    /// Every project, in id order.
    async fn projects(&self) -> Result<Vec<Project>, StoreError>;
    /// Projects `user` manages or is on the team of.
    async fn projects_of(&self, user: UserId) -> Result<Vec<ProjectId>, StoreError>;

    /// The projects of `ids` that exist, in one read (for batched lookups), in no set order.
    async fn projects_by_ids(&self, ids: &[ProjectId]) -> Result<Vec<Project>, StoreError>;
}
