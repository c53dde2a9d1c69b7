//! Chat: direct messages and project rooms, conversations and read markers.

use std::sync::Arc;

use serde::Deserialize;

use super::Principal;
use super::audit::AuditLog;
use super::notify::Notifier;
use super::pagination::{Page, PageRequest};
use super::visibility;
use crate::domain::chat::{Conversation, Message, MessageType};
use crate::domain::error::{FieldErrors, push_field};
use crate::domain::project::Project;
use crate::domain::time;
use crate::domain::update::NotificationKind;
use crate::domain::{DomainError, MessageId, ProjectId, UserId};
use crate::store::{Changeset, ConversationSummary, IdKind, Rooms, Store, Write};

/// `POST /api/chat/messages/` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct NewMessage {
    /// For a direct message.
    pub receiver_id: Option<UserId>,
    /// For a project room.
    pub project_id: Option<ProjectId>,
    /// 1–5,000 characters, not all blank.
    #[schema(min_length = 1, max_length = 5000, pattern = r"\S")]
    pub content: String,
}

fn not_found() -> DomainError {
    DomainError::NotFound("no such message".into())
}

/// Chat use cases; cheap to clone.
#[derive(Clone)]
pub struct ChatService {
    store: Arc<dyn Store>,
    notifier: Notifier,
    audit: AuditLog,
}

impl ChatService {
    /// Builds the service.
    pub fn new(store: Arc<dyn Store>, notifier: Notifier, audit: AuditLog) -> Self {
        Self {
            store,
            notifier,
            audit,
        }
    }

    /// The project whose room the caller may use; `404` if they may not see it.
    async fn room(&self, principal: &Principal, id: ProjectId) -> Result<Project, DomainError> {
        match self.store.project(id).await? {
            Some(p) if visibility::can_see_project(&principal.user, &p) => Ok(p),
            _ => Err(DomainError::NotFound("no such project".into())),
        }
    }

    /// One message the caller may see (as sender, receiver or room member).
    pub async fn get(&self, principal: &Principal, id: MessageId) -> Result<Message, DomainError> {
        let message = self.store.message(id).await?.ok_or_else(not_found)?;
        if visibility::viewer(self.store.as_ref(), principal)
            .await?
            .sees(&message)
        {
            Ok(message)
        } else {
            Err(not_found())
        }
    }

    /// Resolves "with" / "project" into a conversation the caller may read.
    pub async fn conversation(
        &self,
        principal: &Principal,
        with: Option<UserId>,
        project: Option<ProjectId>,
    ) -> Result<Conversation, DomainError> {
        match (with, project) {
            (Some(peer), None) => {
                if self.store.user(peer).await?.is_none() {
                    return Err(DomainError::NotFound("no such user".into()));
                }
                Ok(Conversation::Direct(peer))
            }
            (None, Some(p)) => {
                self.room(principal, p).await?;
                Ok(Conversation::Project(p))
            }
            _ => Err(DomainError::BadRequest(
                "give exactly one of 'with' (a user id) and 'project' (a project id)".into(),
            )),
        }
    }

    /// Sends a message; a direct one notifies its receiver.
    pub async fn send(
        &self,
        principal: &Principal,
        input: NewMessage,
    ) -> Result<Message, DomainError> {
        let mut fields = FieldErrors::new();
        let n = input.content.chars().count();
        if input.content.trim().is_empty() {
            push_field(&mut fields, "content", "must not be empty");
        } else if n > 5000 {
            push_field(&mut fields, "content", "must be at most 5000 characters");
        }
        match (input.receiver_id, input.project_id) {
            (Some(_), Some(_)) | (None, None) => {
                push_field(
                    &mut fields,
                    "receiver_id",
                    "exactly one of receiver_id and project_id must be set",
                );
            }
            (Some(r), None) if r == principal.user.id => {
                push_field(&mut fields, "receiver_id", "must be someone else");
            }
            _ => {}
        }
        DomainError::check(fields)?;
        if let Some(r) = input.receiver_id
            && self.store.user(r).await?.is_none()
        {
            return Err(DomainError::field(
                "receiver_id",
                "must name an existing user",
            ));
        }
        if let Some(p) = input.project_id {
            self.room(principal, p).await?;
        }
        let message = Message {
            id: MessageId(self.store.allocate_id(IdKind::Message)),
            sender_id: principal.user.id,
            receiver_id: input.receiver_id,
            project_id: input.project_id,
            content: input.content,
            message_type: MessageType::Text,
            created_at: time::now(),
        };
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::AddMessage(message.clone()));
        if let Some(r) = message.receiver_id {
            changeset.push(Write::RequireUser(r, "receiver_id"));
            let preview: String = message.content.chars().take(140).collect();
            changeset.writes.extend(self.notifier.notify(
                [r],
                principal.user.id,
                NotificationKind::ChatMessage,
                &format!("Message from {}", principal.user.display_name),
                &preview,
                &format!("/chat?with={}", principal.user.id),
            ));
        }
        if let Some(p) = message.project_id {
            changeset.push(Write::RequireProject(p, "project_id"));
        }
        self.store.apply(changeset).await?;
        Ok(message)
    }

    /// A conversation, newest first, with ids below `before`, paged.
    pub async fn messages(
        &self,
        principal: &Principal,
        conversation: Conversation,
        before: Option<MessageId>,
        page: PageRequest,
    ) -> Result<Page<Message>, DomainError> {
        let rows = self
            .store
            .messages(
                principal.user.id,
                conversation,
                before,
                page.offset(),
                page.page_size,
            )
            .await?;
        Ok(Page {
            count: rows.count,
            results: rows.messages,
            request: page,
        })
    }

    /// Deletes a message (its sender or an admin).
    pub async fn delete(&self, principal: &Principal, id: MessageId) -> Result<(), DomainError> {
        let message = self.store.message(id).await?.ok_or_else(not_found)?;
        // Admins moderate every conversation, including direct ones they cannot read.
        if !visibility::is_admin(&principal.user)
            && !visibility::viewer(self.store.as_ref(), principal)
                .await?
                .sees(&message)
        {
            return Err(not_found());
        }
        if !visibility::can_delete_message(&principal.user, &message) {
            return Err(DomainError::Forbidden(
                "only its sender or an admin may delete a message".into(),
            ));
        }
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteMessage(id));
        changeset.push(self.audit.by(
            principal,
            "message.delete",
            format!("message:{id}"),
            serde_json::json!({"sender_id": message.sender_id}),
        ));
        super::apply_or(self.store.as_ref(), changeset, not_found).await
    }

    /// The caller's conversations with their newest message and unread count.
    pub async fn conversations(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ConversationSummary>, DomainError> {
        let me = principal.user.id;
        // Admin and staff see every project, so every room with messages is theirs; others
        // see the projects they manage or are on the team of.
        if visibility::is_staff(&principal.user) {
            return Ok(self.store.conversations(me, Rooms::All).await?);
        }
        let rooms = self.store.projects_of(me).await?;
        Ok(self.store.conversations(me, Rooms::These(&rooms)).await?)
    }

    /// Marks a conversation read up to its newest message.
    pub async fn mark_read(
        &self,
        principal: &Principal,
        conversation: Conversation,
    ) -> Result<(), DomainError> {
        let newest = self
            .store
            .messages(principal.user.id, conversation, None, 0, 1)
            .await?;
        if let Some(last) = newest.messages.first() {
            let mut changeset = Changeset::new();
            changeset.push(Write::ReadConversation(
                principal.user.id,
                conversation,
                last.id,
            ));
            self.store.apply(changeset).await?;
        }
        Ok(())
    }
}
