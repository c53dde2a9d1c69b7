//! Chat: direct messages and project rooms.

use serde::{Deserialize, Serialize};

use super::activity::wire_enum;
use super::ids::{MessageId, ProjectId, UserId};
use super::time::rfc3339;
use ::time::OffsetDateTime;

wire_enum!(
    /// Who wrote a message.
    MessageType {
        /// A person.
        Text = "text", "Text";
        /// Nexus itself.
        System = "system", "System";
    }
);

/// A chat message; exactly one of `receiver_id` and `project_id` is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// Server-assigned id.
    pub id: MessageId,
    /// Its author.
    pub sender_id: UserId,
    /// For a direct message: the other person.
    #[schema(required = true)]
    pub receiver_id: Option<UserId>,
    /// For a project room: the project.
    #[schema(required = true)]
    pub project_id: Option<ProjectId>,
    /// 1–5,000 characters.
    pub content: String,
    /// `text` or `system`.
    pub message_type: MessageType,
    /// When sent.
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A conversation: a direct one with a peer, or a project room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Conversation {
    /// Direct messages between the caller and this user.
    Direct(UserId),
    /// A project's room.
    Project(ProjectId),
}
