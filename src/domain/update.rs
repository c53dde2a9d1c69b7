//! Updates (announcements) and per-user notifications.

use serde::{Deserialize, Serialize};

use super::activity::{Priority, wire_enum};
use super::ids::{NotificationId, UpdateId, UserId};
use super::time::rfc3339;
use ::time::OffsetDateTime;

wire_enum!(
    /// What an announcement is about.
    UpdateType {
        /// General news.
        Announcement = "announcement", "Announcement";
        /// Maintenance notice.
        Maintenance = "maintenance", "Maintenance";
        /// Safety notice.
        Safety = "safety", "Safety";
        /// Production notice.
        Production = "production", "Production";
        /// System notice.
        System = "system", "System";
    }
);

/// An announcement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Update {
    /// Server-assigned id.
    pub id: UpdateId,
    /// 1–200 characters.
    pub title: String,
    /// At most 20,000 characters.
    pub content: String,
    /// What it is about.
    #[serde(rename = "type")]
    pub update_type: UpdateType,
    /// How urgent; high and critical notify everyone.
    pub priority: Priority,
    /// Its author.
    pub created_by: UserId,
    /// When posted.
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// When last changed.
    #[serde(with = "rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Whether every active user is asked to acknowledge it. Updates stored before
    /// acknowledgements existed have no such field and read as `false`.
    #[serde(default)]
    #[schema(required = true)]
    pub requires_ack: bool,
    /// When the caller acknowledged it; absent when they have not. It is the caller's own, so
    /// it is filled in for each answer and never stored, nor sent in live events.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339::option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<OffsetDateTime>,
}

/// One user's acknowledgement of an update; the data of the live event `update.acknowledged`
/// and the answer of `POST /api/updates/{id}/ack/`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpdateAck {
    /// The update.
    pub update_id: UpdateId,
    /// Who acknowledged it.
    pub user_id: UserId,
    /// When (the first time: acknowledging again changes nothing).
    #[serde(with = "rfc3339")]
    pub at: OffsetDateTime,
}

/// One entry of an update's `acknowledged` list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Acknowledgement {
    /// Who acknowledged it.
    pub user_id: UserId,
    /// When.
    #[serde(with = "rfc3339")]
    pub at: OffsetDateTime,
}

/// `GET /api/updates/{id}/acks/`: over the active users only, each in exactly one list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpdateAcks {
    /// Who acknowledged it, by user id.
    pub acknowledged: Vec<Acknowledgement>,
    /// Who has not yet, by user id; empty when the update does not require acknowledgement.
    pub pending: Vec<UserId>,
}

wire_enum!(
    /// Why a notification was sent.
    NotificationKind {
        /// An activity was assigned to you.
        ActivityAssigned = "activity_assigned", "Activity assigned";
        /// An activity you created or are assigned changed status.
        ActivityStatus = "activity_status", "Activity status";
        /// You were added to a project team.
        TeamAdded = "team_added", "Added to team";
        /// Someone sent you a direct message.
        ChatMessage = "chat_message", "Chat message";
        /// A high or critical update was posted.
        UpdatePosted = "update_posted", "Update posted";
        /// An update you have not acknowledged still asks you to.
        AckReminder = "ack_reminder", "Acknowledgement reminder";
        /// A submitted shift handover was not acknowledged within `handover.ack_timeout_secs`
        /// (to every active staff user).
        HandoverOverdue = "handover_overdue", "Handover not acknowledged";
        /// An andon call reached your level (staff at level 1, admins at level 2).
        AndonEscalated = "andon_escalated", "Andon call";
    }
);

/// A notification for one user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Server-assigned id.
    pub id: NotificationId,
    /// Its recipient; the API leaves it out, since only the recipient ever sees it.
    pub recipient: UserId,
    /// Why it was sent.
    pub kind: NotificationKind,
    /// Short headline.
    pub title: String,
    /// Detail.
    pub body: String,
    /// Where it points, e.g. `/activities/12`.
    pub link: String,
    /// Whether the recipient has read it.
    pub read: bool,
    /// When created.
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Notification JSON: the recipient is left out, since only they see it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotificationView {
    id: NotificationId,
    kind: NotificationKind,
    title: String,
    body: String,
    link: String,
    read: bool,
    #[serde(with = "rfc3339")]
    created_at: OffsetDateTime,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            title: n.title,
            body: n.body,
            link: n.link,
            read: n.read,
            created_at: n.created_at,
        }
    }
}
