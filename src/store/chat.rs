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
    /// One page of a conversation seen from `user`, newest first: of the messages with ids
    /// below `before`, `limit` after skipping `offset`, and how many there are in all.
    async fn messages(
        &self,
        user: UserId,
        conversation: Conversation,
        before: Option<MessageId>,
        offset: usize,
        limit: usize,
    ) -> Result<MessagePage, StoreError>;
    /// `user`'s direct conversations and the `rooms` with messages, each with its newest
    /// message and how far they have read, newest first.
    async fn conversations(
        &self,
        user: UserId,
        rooms: Rooms<'_>,
    ) -> Result<Vec<ConversationSummary>, StoreError>;
}

/// One page of a conversation.
#[derive(Clone, Debug, Default)]
pub struct MessagePage {
    /// Messages below the cursor, across all pages.
    pub count: usize,
    /// This page's messages, newest first.
    pub messages: Vec<Message>,
}

/// Which project rooms a conversation list takes in.
#[derive(Clone, Copy, Debug)]
pub enum Rooms<'a> {
    /// The room of every existing project (for those who see every project).
    All,
    /// The rooms of these projects.
    These(&'a [ProjectId]),
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
