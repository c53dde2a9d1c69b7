//! Chat: direct conversations and project rooms.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::chat::{Conversation, Message};
use crate::domain::{MessageId, ProjectId, UserId};

/// Chat messages and conversations.
#[async_trait]
pub trait ChatStore: Send + Sync {
    /// One message.
    async fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError>;
    /// Messages of a conversation seen from `user`, newest first, with ids below `before`.
    async fn messages(
        &self,
        user: UserId,
        conversation: Conversation,
        before: Option<MessageId>,
    ) -> Result<Vec<Message>, StoreError>;
    /// `user`'s direct conversations and their newest message, and how far they have read.
    async fn conversations(
        &self,
        user: UserId,
        rooms: &[ProjectId],
    ) -> Result<Vec<ConversationSummary>, StoreError>;
}

/// A conversation's newest message and the caller's unread count.
#[derive(Clone, Debug)]
pub struct ConversationSummary {
    /// Which conversation.
    pub conversation: Conversation,
    /// Its newest message.
    pub last_message: Message,
    /// Messages from others after the caller's read marker.
    pub unread: usize,
}
