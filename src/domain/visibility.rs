//! Who may see and change what (API.md §Roles and visibility), as pure functions of the
//! object and the caller. Every channel asks here: REST, GraphQL, realtime, search and the
//! store's list queries.

use super::activity::Activity;
use super::chat::Message;
use super::project::Project;
use super::user::{Role, User};
use super::{ProjectId, UserId};

/// A caller as the visibility rules see them.
#[derive(Clone, Debug)]
pub enum Viewer {
    /// Admin or staff: sees every project, activity and room.
    All,
    /// A `user`: sees what they created or are assigned, what is in their projects, and
    /// activities with no project.
    Member {
        /// The user.
        user: UserId,
        /// Projects they manage or are on the team of.
        projects: Vec<ProjectId>,
    },
}

/// Admins and staff.
pub fn is_staff(user: &User) -> bool {
    matches!(user.role, Role::Admin | Role::Staff)
}

/// Admins.
pub fn is_admin(user: &User) -> bool {
    user.role == Role::Admin
}

/// Whether `viewer` may see `user`'s email: admins, and the user themselves.
pub fn can_see_email(viewer: &User, user: &User) -> bool {
    is_admin(viewer) || viewer.id == user.id
}

/// Whether `user` may see `project`.
pub fn can_see_project(user: &User, project: &Project) -> bool {
    is_staff(user) || project.involves(user.id)
}

/// Whether `user` may change `project` and its team.
pub fn can_change_project(user: &User, project: &Project) -> bool {
    is_admin(user) || project.manager_id == user.id
}

/// Whether `viewer` may see `activity`.
pub fn can_see_activity(viewer: &Viewer, activity: &Activity) -> bool {
    match viewer {
        Viewer::All => true,
        Viewer::Member { user, projects } => member_sees_activity(
            user.0,
            activity.created_by.0,
            activity.assigned_to.map(|u| u.0),
            activity.project_id.map(|p| p.0),
            |p| projects.iter().any(|mine| mine.0 == p),
        ),
    }
}

/// The activity rule for a `user` (not staff), from an activity's keys: its creator, its
/// assignee, and its project, of which `in_project` says whether the user is on it. The one
/// copy of the rule, shared by lists (on facets), single reads and live events.
pub fn member_sees_activity(
    user: u64,
    creator: u64,
    assignee: Option<u64>,
    project: Option<u64>,
    in_project: impl Fn(u64) -> bool,
) -> bool {
    creator == user || assignee == Some(user) || project.is_none_or(in_project)
}

/// Whether `user` may create an activity in `project` (`None`: no project). `member_of` says
/// whether they manage or are on the team of that project.
pub fn can_create_activity(user: &User, project: Option<&Project>) -> bool {
    match project {
        None => true,
        Some(p) => is_staff(user) || p.involves(user.id),
    }
}

/// Whether `user` may change `activity` (they can already see it).
pub fn can_change_activity(user: &User, activity: &Activity) -> bool {
    is_staff(user) || activity.created_by == user.id || activity.assigned_to == Some(user.id)
}

/// Whether `user` may delete `activity` (they can already see it).
pub fn can_delete_activity(user: &User, activity: &Activity) -> bool {
    is_staff(user) || activity.created_by == user.id
}

/// Whether `viewer` may see `message`; `room` is the message's project, when it has one.
pub fn can_see_message(user: &User, message: &Message, room: Option<&Project>) -> bool {
    match message.project_id {
        None => message.sender_id == user.id || message.receiver_id == Some(user.id),
        Some(_) => is_staff(user) || room.is_some_and(|p| p.involves(user.id)),
    }
}

/// Whether `user` may delete `message` (they can already see it).
pub fn can_delete_message(user: &User, message: &Message) -> bool {
    is_admin(user) || message.sender_id == user.id
}
