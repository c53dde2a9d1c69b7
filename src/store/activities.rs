//! Activities: reads and the indexed list query.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::ActivityId;
use crate::domain::activity::{Activity, ActivityStatus, ActivityType, Priority};
use crate::domain::time::Timestamp;
use crate::domain::visibility::Viewer;
use crate::domain::{ProjectId, UserId};

/// Filters of an activity list; every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct ActivityFilter {
    /// Only this status.
    pub status: Option<ActivityStatus>,
    /// Only this type.
    pub activity_type: Option<ActivityType>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only assigned to this user.
    pub assigned_to: Option<UserId>,
    /// Only created by this user.
    pub created_by: Option<UserId>,
    /// Only in this project.
    pub project: Option<ProjectId>,
    /// Only starting at or after.
    pub start_after: Option<Timestamp>,
    /// Only starting at or before.
    pub start_before: Option<Timestamp>,
    /// Only these ids (from a full-text query).
    pub ids: Option<Vec<ActivityId>>,
}

/// Sort keys of the activity list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityOrder {
    /// By start time (unset last).
    StartTime,
    /// By end time (unset last).
    EndTime,
    /// By priority (low to critical).
    Priority,
    /// By creation (the default, newest first when descending).
    CreatedAt,
    /// By last change.
    UpdatedAt,
    /// By title, case-insensitively.
    Title,
}

/// Activities.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// One activity.
    async fn activity(&self, id: ActivityId) -> Result<Option<Activity>, StoreError>;
    /// One page of activities matching `filter` that `viewer` may see, and the total count.
    async fn activities(
        &self,
        viewer: &Viewer,
        filter: &ActivityFilter,
        order: ActivityOrder,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<Activity>), StoreError>;
    /// Ids of every activity matching `filter` that `viewer` may see, in order (for exports).
    async fn activity_ids(
        &self,
        viewer: &Viewer,
        filter: &ActivityFilter,
        order: ActivityOrder,
        descending: bool,
    ) -> Result<Vec<ActivityId>, StoreError>;
    /// The activities of `ids`, in order, skipping deleted ones.
    async fn activities_by_ids(&self, ids: &[ActivityId]) -> Result<Vec<Activity>, StoreError>;
}
