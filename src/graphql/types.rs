//! The GraphQL object types: the REST objects with their fields in camelCase, the relations
//! between them (loaded in batches), the enums, and pages of lists.

use async_graphql::{ComplexObject, Context, Enum, Object, OutputType, SimpleObject};
use time::format_description::well_known::Rfc3339;

use super::caller;
use super::error::OrGql;
use super::loaders;
use super::query::{ActivityFilter, activity_page};
use crate::domain::time::Timestamp;
use crate::domain::{ProjectId, UserId, activity, chat, project, update, user};
use crate::service::users::VisibleUser;

/// A time as the API shows it: RFC 3339 in UTC.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A date as the API shows it: `YYYY-MM-DD`.
fn iso_date(d: time::Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    d.format(&format).unwrap_or_default()
}

/// What one row of a page costs toward the complexity limit: every five rows of a page count
/// as one more copy of what each row selects, so nested pages multiply, as their reads do.
pub(crate) fn page_cost(page_size: Option<i64>, child_complexity: usize) -> usize {
    let rows = usize::try_from(page_size.unwrap_or(50).clamp(1, 200)).unwrap_or(200);
    1 + child_complexity.saturating_mul(rows.div_ceil(5))
}

/// Declares a GraphQL enum mirroring a domain enum, value for value.
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident = $remote:literal { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
        #[graphql(remote = $remote)]
        pub enum $name { $(#[allow(missing_docs)] $variant),+ }
    };
}

mirror_enum!(
    /// What kind of work an activity is.
    ActivityType = "crate::domain::activity::ActivityType" {
        Production, Maintenance, QualityCheck, Inspection, Setup, Changeover, Downtime, Safety,
        Training, Other,
    }
);
mirror_enum!(
    /// Where an activity stands.
    ActivityStatus = "crate::domain::activity::ActivityStatus" {
        Planned, InProgress, OnHold, Completed, Cancelled,
    }
);
mirror_enum!(
    /// How urgent something is.
    Priority = "crate::domain::activity::Priority" { Low, Medium, High, Critical }
);
mirror_enum!(
    /// Where a project stands.
    ProjectStatus = "crate::domain::project::ProjectStatus" {
        Planning, Active, OnHold, Completed, Archived,
    }
);
mirror_enum!(
    /// What an update is about.
    UpdateType = "crate::domain::update::UpdateType" {
        Announcement, Maintenance, Safety, Production, System,
    }
);
mirror_enum!(
    /// Why a notification was sent.
    NotificationKind = "crate::domain::update::NotificationKind" {
        ActivityAssigned, ActivityStatus, TeamAdded, ChatMessage, UpdatePosted, AckReminder,
        AndonEscalated,
        HandoverOverdue,
    }
);
mirror_enum!(
    /// Who wrote a message.
    MessageType = "crate::domain::chat::MessageType" { Text, System }
);
mirror_enum!(
    /// A user's role.
    Role = "crate::domain::user::Role" { Admin, Staff, User }
);

/// One page of a list, and how many match across all pages.
#[derive(SimpleObject)]
#[graphql(concrete(name = "ActivityPage", params(Activity)))]
#[graphql(concrete(name = "UserPage", params(User)))]
#[graphql(concrete(name = "ProjectPage", params(Project)))]
#[graphql(concrete(name = "UpdatePage", params(Update)))]
#[graphql(concrete(name = "NotificationPage", params(Notification)))]
#[graphql(concrete(name = "ChatMessagePage", params(ChatMessage)))]
pub struct Page<T: OutputType> {
    /// Matches across all pages.
    pub count: u64,
    /// This page.
    pub results: Vec<T>,
}

impl<T: OutputType> Page<T> {
    /// A service's page, its rows converted.
    pub fn of<U>(page: crate::service::pagination::Page<U>, f: impl FnMut(U) -> T) -> Self {
        Self {
            count: u64::try_from(page.count).unwrap_or(u64::MAX),
            results: page.results.into_iter().map(f).collect(),
        }
    }
}

/// A user's shop-floor details.
#[derive(SimpleObject)]
pub struct Profile {
    /// e.g. "Line lead".
    pub job_title: String,
    /// e.g. "Assembly".
    pub department: String,
    /// Contact number.
    pub phone: String,
    /// e.g. "night".
    pub shift: String,
}

impl From<user::Profile> for Profile {
    fn from(p: user::Profile) -> Self {
        Self {
            job_title: p.job_title,
            department: p.department,
            phone: p.phone,
            shift: p.shift,
        }
    }
}

/// A user as the caller may see them (the email only for admins and the user).
pub struct User(pub VisibleUser);

#[Object]
impl User {
    /// Id.
    async fn id(&self) -> u64 {
        self.0.id.0
    }
    /// Username.
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// Email: null unless the caller is an admin or this user.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Shown name.
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    /// Role.
    async fn role(&self) -> Role {
        self.0.role.into()
    }
    /// Whether they may sign in.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    /// Shop-floor details.
    async fn profile(&self) -> Profile {
        self.0.profile.clone().into()
    }
    /// When created.
    async fn created_at(&self) -> String {
        rfc3339(self.0.created_at)
    }
    /// When last changed.
    async fn updated_at(&self) -> String {
        rfc3339(self.0.updated_at)
    }
    /// The activities assigned to this user that the caller may see.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
        page: Option<i64>,
        page_size: Option<i64>,
        ordering: Option<String>,
    ) -> async_graphql::Result<Page<Activity>> {
        let mut filter = filter.unwrap_or_default();
        filter.assigned_to = Some(self.0.id.0);
        activity_page(ctx, filter, page, page_size, ordering).await
    }
}

/// An activity.
pub struct Activity(pub activity::Activity);

#[Object]
impl Activity {
    /// Server-assigned id.
    async fn id(&self) -> u64 {
        self.0.id.0
    }
    /// 1–200 characters.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// At most 20,000 characters.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Kind of work.
    #[graphql(name = "type")]
    async fn activity_type(&self) -> ActivityType {
        self.0.activity_type.into()
    }
    /// Where it stands.
    async fn status(&self) -> ActivityStatus {
        self.0.status.into()
    }
    /// How urgent.
    async fn priority(&self) -> Priority {
        self.0.priority.into()
    }
    /// Planned or actual start.
    async fn start_time(&self) -> Option<String> {
        self.0.start_time.map(rfc3339)
    }
    /// Planned or actual end.
    async fn end_time(&self) -> Option<String> {
        self.0.end_time.map(rfc3339)
    }
    /// Assignee's id.
    async fn assigned_to(&self) -> Option<u64> {
        self.0.assigned_to.map(|u| u.0)
    }
    /// Creator's id.
    async fn created_by(&self) -> u64 {
        self.0.created_by.0
    }
    /// Project's id.
    async fn project_id(&self) -> Option<u64> {
        self.0.project_id.map(|p| p.0)
    }
    /// When created.
    async fn created_at(&self) -> String {
        rfc3339(self.0.created_at)
    }
    /// When last changed.
    async fn updated_at(&self) -> String {
        rfc3339(self.0.updated_at)
    }
    /// Starts at 1, grows by one on every change.
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// Who does it.
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.assigned_to {
            Some(id) => Ok(loaders::user(ctx, id).await?.map(User)),
            None => Ok(None),
        }
    }
    /// The project it belongs to; null when it has none or the caller may not see it
    /// (`projectId` still names it, as in REST).
    async fn project(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Project>> {
        match self.0.project_id {
            Some(id) => Ok(loaders::project(ctx, id).await?.map(Project)),
            None => Ok(None),
        }
    }
}

/// A project.
pub struct Project(pub project::Project);

#[Object]
impl Project {
    /// Server-assigned id.
    async fn id(&self) -> u64 {
        self.0.id.0
    }
    /// 1–200 characters.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Free text.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Where it stands.
    async fn status(&self) -> ProjectStatus {
        self.0.status.into()
    }
    /// Planned start, `YYYY-MM-DD`.
    async fn start_date(&self) -> Option<String> {
        self.0.start_date.map(iso_date)
    }
    /// Planned end, `YYYY-MM-DD`.
    async fn end_date(&self) -> Option<String> {
        self.0.end_date.map(iso_date)
    }
    /// Manager's id.
    async fn manager_id(&self) -> u64 {
        self.0.manager_id.0
    }
    /// Team members' ids, in the order they joined.
    async fn team_members(&self) -> Vec<u64> {
        self.0.team_members.iter().map(|u| u.0).collect()
    }
    /// When created.
    async fn created_at(&self) -> String {
        rfc3339(self.0.created_at)
    }
    /// When last changed.
    async fn updated_at(&self) -> String {
        rfc3339(self.0.updated_at)
    }
    /// Who runs it.
    async fn manager(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(loaders::user(ctx, self.0.manager_id).await?.map(User))
    }
    /// Its members, in the order they joined.
    async fn team(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let ids: Vec<UserId> = self.0.team_members.clone();
        let mut found = loaders::relations(ctx)?
            .load_many(ids.iter().copied())
            .await?;
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id).flatten())
            .map(User)
            .collect())
    }
    /// Its activities that the caller may see.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
        page: Option<i64>,
        page_size: Option<i64>,
        ordering: Option<String>,
    ) -> async_graphql::Result<Page<Activity>> {
        let mut filter = filter.unwrap_or_default();
        filter.project = Some(self.0.id.0);
        activity_page(ctx, filter, page, page_size, ordering).await
    }
}

/// An announcement.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Update {
    /// Server-assigned id.
    pub id: u64,
    /// 1–200 characters.
    pub title: String,
    /// At most 20,000 characters.
    pub content: String,
    /// What it is about.
    #[graphql(name = "type")]
    pub update_type: UpdateType,
    /// How urgent.
    pub priority: Priority,
    /// Author's id.
    pub created_by: u64,
    /// When posted.
    pub created_at: String,
    /// When last changed.
    pub updated_at: String,
    /// Whether every active user is asked to acknowledge it.
    pub requires_ack: bool,
    /// When the caller acknowledged it; null when they have not.
    pub acknowledged_at: Option<String>,
}

#[ComplexObject]
impl Update {
    /// Its author.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(loaders::user(ctx, UserId(self.created_by)).await?.map(User))
    }
}

impl From<update::Update> for Update {
    fn from(u: update::Update) -> Self {
        Self {
            id: u.id.0,
            title: u.title,
            content: u.content,
            update_type: u.update_type.into(),
            priority: u.priority.into(),
            created_by: u.created_by.0,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
            requires_ack: u.requires_ack,
            acknowledged_at: u.acknowledged_at.map(rfc3339),
        }
    }
}

/// One user's acknowledgement of an update.
#[derive(SimpleObject)]
pub struct UpdateAck {
    /// The update.
    pub update_id: u64,
    /// Who acknowledged it.
    pub user_id: u64,
    /// When (the first time).
    pub at: String,
}

impl From<update::UpdateAck> for UpdateAck {
    fn from(a: update::UpdateAck) -> Self {
        Self {
            update_id: a.update_id.0,
            user_id: a.user_id.0,
            at: rfc3339(a.at),
        }
    }
}

/// One entry of an update's acknowledged list.
#[derive(SimpleObject)]
pub struct Acknowledgement {
    /// Who acknowledged it.
    pub user_id: u64,
    /// When.
    pub at: String,
}

/// Who acknowledged an update and who has yet to, over the active users.
#[derive(SimpleObject)]
pub struct UpdateAcks {
    /// Who acknowledged it.
    pub acknowledged: Vec<Acknowledgement>,
    /// The ids of who has yet to.
    pub pending: Vec<u64>,
}

impl From<update::UpdateAcks> for UpdateAcks {
    fn from(a: update::UpdateAcks) -> Self {
        Self {
            acknowledged: a
                .acknowledged
                .into_iter()
                .map(|e| Acknowledgement {
                    user_id: e.user_id.0,
                    at: rfc3339(e.at),
                })
                .collect(),
            pending: a.pending.into_iter().map(|u| u.0).collect(),
        }
    }
}

/// A notification of the caller.
#[derive(SimpleObject)]
pub struct Notification {
    /// Server-assigned id.
    pub id: u64,
    /// Why it was sent.
    pub kind: NotificationKind,
    /// Short headline.
    pub title: String,
    /// Detail.
    pub body: String,
    /// Where it points, e.g. `/activities/12`.
    pub link: String,
    /// Whether it has been read.
    pub read: bool,
    /// When created.
    pub created_at: String,
}

impl From<update::Notification> for Notification {
    fn from(n: update::Notification) -> Self {
        Self {
            id: n.id.0,
            kind: n.kind.into(),
            title: n.title,
            body: n.body,
            link: n.link,
            read: n.read,
            created_at: rfc3339(n.created_at),
        }
    }
}

/// A chat message: exactly one of `receiverId` and `projectId` is set.
#[derive(SimpleObject)]
pub struct ChatMessage {
    /// Server-assigned id.
    pub id: u64,
    /// Its author's id.
    pub sender_id: u64,
    /// For a direct message, the other person's id.
    pub receiver_id: Option<u64>,
    /// For a project room, the project's id.
    pub project_id: Option<u64>,
    /// 1–5,000 characters.
    pub content: String,
    /// `TEXT` or `SYSTEM`.
    pub message_type: MessageType,
    /// When sent.
    pub created_at: String,
}

impl From<chat::Message> for ChatMessage {
    fn from(m: chat::Message) -> Self {
        Self {
            id: m.id.0,
            sender_id: m.sender_id.0,
            receiver_id: m.receiver_id.map(|u| u.0),
            project_id: m.project_id.map(|p| p.0),
            content: m.content,
            message_type: m.message_type.into(),
            created_at: rfc3339(m.created_at),
        }
    }
}

/// One search hit.
#[derive(SimpleObject)]
pub struct SearchHit {
    /// `activity`, `project`, `update` or `chat`.
    pub kind: String,
    /// The object's id.
    pub id: u64,
    /// Its title (a message's opening words).
    pub title: String,
    /// Matching text, HTML-escaped, with matches in `<mark>…</mark>`.
    pub snippet: String,
    /// Relevance.
    pub score: f32,
}

/// A page of search hits.
#[derive(SimpleObject)]
pub struct SearchResult {
    /// All matches.
    pub count: u64,
    /// Milliseconds spent searching.
    pub took_ms: u64,
    /// This page.
    pub results: Vec<SearchHit>,
}

/// Checks that `ctx`'s caller may see project `id` (for arguments naming one).
pub(crate) async fn visible_project(ctx: &Context<'_>, id: ProjectId) -> async_graphql::Result<()> {
    let caller = caller(ctx)?;
    caller
        .services
        .projects
        .get(&caller.principal, id)
        .await
        .gql()
        .map(|_| ())
}
