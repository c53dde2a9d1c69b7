//! The mutation root: one mutation for every REST write, taking an `input` object with the
//! REST fields in camelCase, calling the service REST calls. A failed mutation answers null
//! with the error, as REST answers the error body.

use async_graphql::{Context, InputObject, MaybeUndefined, Object};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::caller;
use super::error::{OrGql, from_domain};
use super::types::{
    Activity, ActivityStatus, ActivityType, ChatMessage, Priority, Project, ProjectStatus, Role,
    Update, UpdateAck, UpdateType, User,
};
use crate::domain::user::ProfilePatch;
use crate::domain::{
    ActivityId, DomainError, MessageId, NotificationId, ProjectId, UpdateId, UserId,
};
use crate::service::activities::{ActivityPatch, NewActivity};
use crate::service::auth::UpdateMeInput;
use crate::service::chat::NewMessage;
use crate::service::projects::{NewProject, ProjectPatch};
use crate::service::updates::{NewUpdate, UpdatePatch};
use crate::service::users::{AdminUpdateInput, CreateUserInput as NewUser};

/// The mutation root.
#[derive(Default)]
pub struct Mutation;

/// An RFC 3339 time as REST reads one in a body; otherwise a validation error on `field`.
fn time_of(field: &str, raw: Option<String>) -> async_graphql::Result<Option<OffsetDateTime>> {
    match raw {
        None => Ok(None),
        Some(raw) => OffsetDateTime::parse(&raw, &Rfc3339)
            .map(Some)
            .map_err(|_| {
                from_domain(DomainError::field(
                    field,
                    "must be an RFC 3339 time such as 2026-11-28T09:30:00Z",
                ))
            }),
    }
}

/// A `YYYY-MM-DD` date; otherwise a validation error on `field`.
fn date_of(field: &str, raw: Option<String>) -> async_graphql::Result<Option<time::Date>> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match raw {
        None => Ok(None),
        Some(raw) => time::Date::parse(&raw, &format)
            .map(Some)
            .map_err(|_| from_domain(DomainError::field(field, "must be a date as YYYY-MM-DD"))),
    }
}

/// Absent, `null` or a value, as a PATCH body tells them apart.
fn patch<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// A nullable patched value converted by `f`, which may fail.
fn patch_with<T, U>(
    value: MaybeUndefined<T>,
    f: impl FnOnce(Option<T>) -> async_graphql::Result<Option<U>>,
) -> async_graphql::Result<Option<Option<U>>> {
    match patch(value) {
        None => Ok(None),
        Some(v) => f(v).map(Some),
    }
}

/// `createActivity`'s input.
#[derive(InputObject)]
pub struct CreateActivityInput {
    /// 1–200 characters.
    pub title: String,
    /// At most 20,000 characters.
    pub description: Option<String>,
    /// Defaults to `OTHER`.
    #[graphql(name = "type")]
    pub activity_type: Option<ActivityType>,
    /// Defaults to `PLANNED`.
    pub status: Option<ActivityStatus>,
    /// Defaults to `MEDIUM`.
    pub priority: Option<Priority>,
    /// RFC 3339.
    pub start_time: Option<String>,
    /// RFC 3339; not before `startTime`.
    pub end_time: Option<String>,
    /// Assignee's id.
    pub assigned_to: Option<u64>,
    /// Project's id.
    pub project_id: Option<u64>,
}

/// `updateActivity`'s input: absent fields stay; `null` clears a nullable one.
#[derive(InputObject)]
pub struct UpdateActivityInput {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New type.
    #[graphql(name = "type")]
    pub activity_type: Option<ActivityType>,
    /// New status (checked against the allowed moves).
    pub status: Option<ActivityStatus>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New start, or null.
    pub start_time: MaybeUndefined<String>,
    /// New end, or null.
    pub end_time: MaybeUndefined<String>,
    /// New assignee, or null.
    pub assigned_to: MaybeUndefined<u64>,
    /// New project, or null.
    pub project_id: MaybeUndefined<u64>,
    /// Apply only if the activity is at this version.
    pub version: Option<u64>,
}

/// `createProject`'s input.
#[derive(InputObject)]
pub struct CreateProjectInput {
    /// 1–200 characters, unique among projects not archived.
    pub name: String,
    /// At most 20,000 characters.
    pub description: Option<String>,
    /// Defaults to `PLANNING`.
    pub status: Option<ProjectStatus>,
    /// `YYYY-MM-DD`.
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`.
    pub end_date: Option<String>,
    /// Defaults to the caller.
    pub manager_id: Option<u64>,
    /// Initial team.
    pub team_members: Option<Vec<u64>>,
}

/// `updateProject`'s input.
#[derive(InputObject)]
pub struct UpdateProjectInput {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New status.
    pub status: Option<ProjectStatus>,
    /// New start date, or null.
    pub start_date: MaybeUndefined<String>,
    /// New end date, or null.
    pub end_date: MaybeUndefined<String>,
    /// New manager.
    pub manager_id: Option<u64>,
    /// New team (replaces the old one).
    pub team_members: Option<Vec<u64>>,
}

/// `createUpdate`'s input.
#[derive(InputObject)]
pub struct CreateUpdateInput {
    /// 1–200 characters.
    pub title: String,
    /// At most 20,000 characters.
    pub content: Option<String>,
    /// Defaults to `ANNOUNCEMENT`.
    #[graphql(name = "type")]
    pub update_type: Option<UpdateType>,
    /// Defaults to `MEDIUM`; `HIGH` and `CRITICAL` notify everyone.
    pub priority: Option<Priority>,
    /// Whether every active user is asked to acknowledge it; defaults to true for `SAFETY`.
    pub requires_ack: Option<bool>,
}

/// `updateUpdate`'s input.
#[derive(InputObject)]
pub struct UpdateUpdateInput {
    /// New title.
    pub title: Option<String>,
    /// New content.
    pub content: Option<String>,
    /// New type.
    #[graphql(name = "type")]
    pub update_type: Option<UpdateType>,
    /// New priority.
    pub priority: Option<Priority>,
    /// Turns acknowledgement on or off.
    pub requires_ack: Option<bool>,
}

/// `sendMessage`'s input: exactly one of `receiverId` and `projectId`.
#[derive(InputObject)]
pub struct SendMessageInput {
    /// For a direct message.
    pub receiver_id: Option<u64>,
    /// For a project room.
    pub project_id: Option<u64>,
    /// 1–5,000 characters.
    pub content: String,
}

/// `createUser`'s input.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// 3–32 of `[A-Za-z0-9_.-]`.
    pub username: String,
    /// Unique email.
    pub email: String,
    /// 10–256 characters.
    pub password: String,
    /// Blank or absent means the username.
    pub display_name: Option<String>,
    /// Its role.
    pub role: Role,
}

/// `updateUser`'s input.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// New role.
    pub role: Option<Role>,
    /// Activate or deactivate (which ends every session of the user).
    pub is_active: Option<bool>,
    /// New display name.
    pub display_name: Option<String>,
    /// New email.
    pub email: Option<String>,
}

/// Profile fields to change; absent ones stay.
#[derive(InputObject)]
pub struct ProfileInput {
    /// New job title.
    pub job_title: Option<String>,
    /// New department.
    pub department: Option<String>,
    /// New phone.
    pub phone: Option<String>,
    /// New shift.
    pub shift: Option<String>,
}

/// `updateMe`'s input.
#[derive(InputObject)]
#[graphql(name = "UpdateMeInput")]
pub struct MeInput {
    /// New email.
    pub email: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// Profile fields to change.
    pub profile: Option<ProfileInput>,
}

// Merged into the root `Mutation` (`graphql::MutationRoot`), so it needs a name of its own.
#[Object(name = "CoreMutation")]
impl Mutation {
    /// Creates an activity (`POST /api/activities/`).
    async fn create_activity(
        &self,
        ctx: &Context<'_>,
        input: CreateActivityInput,
    ) -> async_graphql::Result<Option<Activity>> {
        let caller = caller(ctx)?;
        let input = NewActivity {
            title: input.title,
            description: input.description.unwrap_or_default(),
            activity_type: input.activity_type.map(Into::into),
            status: input.status.map(Into::into),
            priority: input.priority.map(Into::into),
            start_time: time_of("start_time", input.start_time)?,
            end_time: time_of("end_time", input.end_time)?,
            assigned_to: input.assigned_to.map(UserId),
            project_id: input.project_id.map(ProjectId),
        };
        let activity = caller
            .services
            .activities
            .create(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(Activity(activity)))
    }

    /// Changes an activity (`PATCH /api/activities/{id}/`).
    async fn update_activity(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: UpdateActivityInput,
    ) -> async_graphql::Result<Option<Activity>> {
        let caller = caller(ctx)?;
        let patch = ActivityPatch {
            title: input.title,
            description: input.description,
            activity_type: input.activity_type.map(Into::into),
            status: input.status.map(Into::into),
            priority: input.priority.map(Into::into),
            start_time: patch_with(input.start_time, |t| time_of("start_time", t))?,
            end_time: patch_with(input.end_time, |t| time_of("end_time", t))?,
            assigned_to: patch(input.assigned_to).map(|u| u.map(UserId)),
            project_id: patch(input.project_id).map(|p| p.map(ProjectId)),
            version: input.version,
        };
        let activity = caller
            .services
            .activities
            .update(&caller.principal, ActivityId(id), patch)
            .await
            .gql()?;
        Ok(Some(Activity(activity)))
    }

    /// Deletes an activity (`DELETE /api/activities/{id}/`); true when done.
    async fn delete_activity(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .activities
            .delete(&caller.principal, ActivityId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Creates a project (`POST /api/projects/`).
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectInput,
    ) -> async_graphql::Result<Option<Project>> {
        let caller = caller(ctx)?;
        let input = NewProject {
            name: input.name,
            description: input.description.unwrap_or_default(),
            status: input.status.map(Into::into),
            start_date: date_of("start_date", input.start_date)?,
            end_date: date_of("end_date", input.end_date)?,
            manager_id: input.manager_id.map(UserId),
            team_members: input
                .team_members
                .unwrap_or_default()
                .into_iter()
                .map(UserId)
                .collect(),
        };
        let project = caller
            .services
            .projects
            .create(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(Project(project)))
    }

    /// Changes a project (`PATCH /api/projects/{id}/`).
    async fn update_project(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: UpdateProjectInput,
    ) -> async_graphql::Result<Option<Project>> {
        let caller = caller(ctx)?;
        let patch = ProjectPatch {
            name: input.name,
            description: input.description,
            status: input.status.map(Into::into),
            start_date: patch_with(input.start_date, |d| date_of("start_date", d))?,
            end_date: patch_with(input.end_date, |d| date_of("end_date", d))?,
            manager_id: input.manager_id.map(UserId),
            team_members: input
                .team_members
                .map(|team| team.into_iter().map(UserId).collect()),
        };
        let project = caller
            .services
            .projects
            .update(&caller.principal, ProjectId(id), patch)
            .await
            .gql()?;
        Ok(Some(Project(project)))
    }

    /// Deletes a project (`DELETE /api/projects/{id}/`); its activities stay, with no project.
    async fn delete_project(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .projects
            .delete(&caller.principal, ProjectId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Adds a user to a project's team (`POST /api/projects/{id}/team/`); answers the team.
    async fn add_team_member(
        &self,
        ctx: &Context<'_>,
        project_id: u64,
        user_id: u64,
    ) -> async_graphql::Result<Option<Vec<User>>> {
        let caller = caller(ctx)?;
        let team = caller
            .services
            .projects
            .add_member(&caller.principal, ProjectId(project_id), UserId(user_id))
            .await
            .gql()?;
        Ok(Some(team.into_iter().map(User).collect()))
    }

    /// Removes a user from a project's team (`DELETE /api/projects/{id}/team/{user_id}/`).
    async fn remove_team_member(
        &self,
        ctx: &Context<'_>,
        project_id: u64,
        user_id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .projects
            .remove_member(&caller.principal, ProjectId(project_id), UserId(user_id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Posts an update (`POST /api/updates/`).
    async fn create_update(
        &self,
        ctx: &Context<'_>,
        input: CreateUpdateInput,
    ) -> async_graphql::Result<Option<Update>> {
        let caller = caller(ctx)?;
        let input = NewUpdate {
            title: input.title,
            content: input.content.unwrap_or_default(),
            update_type: input.update_type.map(Into::into),
            priority: input.priority.map(Into::into),
            requires_ack: input.requires_ack,
        };
        let update = caller
            .services
            .updates
            .create(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(update.into()))
    }

    /// Changes an update (`PATCH /api/updates/{id}/`).
    async fn update_update(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: UpdateUpdateInput,
    ) -> async_graphql::Result<Option<Update>> {
        let caller = caller(ctx)?;
        let patch = UpdatePatch {
            title: input.title,
            content: input.content,
            update_type: input.update_type.map(Into::into),
            priority: input.priority.map(Into::into),
            requires_ack: input.requires_ack,
        };
        let update = caller
            .services
            .updates
            .update(&caller.principal, UpdateId(id), patch)
            .await
            .gql()?;
        Ok(Some(update.into()))
    }

    /// Acknowledges an update that requires it (`POST /api/updates/{id}/ack/`); again is a
    /// no-op answering the first acknowledgement.
    async fn acknowledge_update(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<UpdateAck>> {
        let caller = caller(ctx)?;
        let ack = caller
            .services
            .updates
            .acknowledge(&caller.principal, UpdateId(id))
            .await
            .gql()?;
        Ok(Some(ack.into()))
    }

    /// Deletes an update (`DELETE /api/updates/{id}/`).
    async fn delete_update(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .updates
            .delete(&caller.principal, UpdateId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Marks one of the caller's notifications read.
    async fn mark_notification_read(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .updates
            .mark_read(&caller.principal, NotificationId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Marks all of the caller's notifications read.
    async fn mark_all_notifications_read(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .updates
            .mark_all_read(&caller.principal)
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Sends a chat message (`POST /api/chat/messages/`).
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        input: SendMessageInput,
    ) -> async_graphql::Result<Option<ChatMessage>> {
        let caller = caller(ctx)?;
        let input = NewMessage {
            receiver_id: input.receiver_id.map(UserId),
            project_id: input.project_id.map(ProjectId),
            content: input.content,
        };
        let message = caller
            .services
            .chat
            .send(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(message.into()))
    }

    /// Deletes a chat message (`DELETE /api/chat/messages/{id}/`).
    async fn delete_message(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .chat
            .delete(&caller.principal, MessageId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Marks a conversation read (`POST /api/chat/conversations/read/`): the direct one with
    /// `withUserId`, or the room of `projectId`.
    async fn mark_conversation_read(
        &self,
        ctx: &Context<'_>,
        with_user_id: Option<u64>,
        project_id: Option<u64>,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        let chat = &caller.services.chat;
        let conversation = chat
            .conversation(
                &caller.principal,
                with_user_id.map(UserId),
                project_id.map(ProjectId),
            )
            .await
            .gql()?;
        chat.mark_read(&caller.principal, conversation)
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Creates a user with any role (admin; `POST /api/users/`).
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<Option<User>> {
        let caller = caller(ctx)?;
        let input = NewUser {
            username: input.username,
            email: input.email,
            password: input.password,
            display_name: input.display_name,
            role: input.role.into(),
        };
        let user = caller
            .services
            .users
            .create(&caller.principal, &caller.services.auth, input)
            .await
            .gql()?;
        Ok(Some(User(user)))
    }

    /// Changes a user's role, activity, name or email (admin; `PATCH /api/users/{id}/`).
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: UpdateUserInput,
    ) -> async_graphql::Result<Option<User>> {
        let caller = caller(ctx)?;
        let input = AdminUpdateInput {
            role: input.role.map(Into::into),
            is_active: input.is_active,
            display_name: input.display_name,
            email: input.email,
        };
        let user = caller
            .services
            .users
            .update(&caller.principal, UserId(id), input)
            .await
            .gql()?;
        Ok(Some(User(user)))
    }

    /// Changes the caller's own email, name or profile (`PATCH /api/auth/user/`).
    async fn update_me(
        &self,
        ctx: &Context<'_>,
        input: MeInput,
    ) -> async_graphql::Result<Option<User>> {
        let caller = caller(ctx)?;
        let input = UpdateMeInput {
            email: input.email,
            display_name: input.display_name,
            profile: input.profile.map(|p| ProfilePatch {
                job_title: p.job_title,
                department: p.department,
                phone: p.phone,
                shift: p.shift,
            }),
        };
        let user = caller
            .services
            .auth
            .update_me(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(User(user)))
    }
}
