//! The subscription root: live events from `RealtimeService`, which decides what reaches the
//! caller (visibility, replay from `since`, catch-up after lag); each subscription only picks
//! its kind of object and shapes it. Carried by `ws` over `graphql-transport-ws`.

use async_graphql::{Context, SimpleObject, Subscription as SubscriptionRoot};
use std::sync::Arc;

use futures_util::Stream;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::caller;
use super::error::OrGql;
use super::loaders::{Relations, forget, relations};
use super::types::{Activity, ChatMessage, Notification, Update, visible_project};
use crate::domain::change::ObjectKind;
use crate::domain::time::{Timestamp, rfc3339};
use crate::domain::update::NotificationKind;
use crate::domain::{NotificationId, ProjectId, UserId, activity, chat, update};
use crate::service::realtime::{Delivery, Ended, Live, LiveSession, OnLag};

/// The event name a subscription yields when the change log no longer reaches back to its
/// `since`: the client reloads, as after SSE's `reset`.
pub const RESET: &str = "reset";

/// How a subscription tells its connection that the session ended (the user was signed out
/// or deactivated, or the server is stopping), so the socket closes as `/ws/` does.
#[derive(Clone)]
pub(crate) struct EndSignal(pub watch::Sender<Option<Ended>>);

/// The subscription root.
#[derive(Default)]
pub struct Subscription;

/// A change to an activity.
#[derive(SimpleObject)]
pub struct ActivityEvent {
    /// `activity.created`, `activity.updated`, `activity.deleted`, or `reset`.
    pub event: String,
    /// The change's sequence number: give it as `since` to resume after it.
    pub id: u64,
    /// The activity; null after a delete.
    pub activity: Option<Activity>,
}

/// A new notification of the caller.
#[derive(SimpleObject)]
pub struct NotificationEvent {
    /// `notification.created`, or `reset`.
    pub event: String,
    /// The change's sequence number.
    pub id: u64,
    /// The notification.
    pub notification: Option<Notification>,
}

/// A chat message sent or deleted.
#[derive(SimpleObject)]
pub struct ChatMessageEvent {
    /// `chat.message`, `chat.deleted`, or `reset`.
    pub event: String,
    /// The change's sequence number.
    pub id: u64,
    /// The message; null after a delete.
    pub message: Option<ChatMessage>,
}

/// An update posted, changed or deleted.
#[derive(SimpleObject)]
pub struct UpdateEvent {
    /// `update.created`, `update.updated`, `update.deleted`, or `reset`.
    pub event: String,
    /// The change's sequence number.
    pub id: u64,
    /// The update; null after a delete.
    pub update: Option<Update>,
}

/// A notification as the change log carries it (its REST form).
#[derive(serde::Deserialize)]
struct NotificationData {
    id: NotificationId,
    kind: NotificationKind,
    title: String,
    body: String,
    link: String,
    read: bool,
    #[serde(with = "rfc3339")]
    created_at: Timestamp,
}

impl From<NotificationData> for Notification {
    fn from(n: NotificationData) -> Self {
        update::Notification {
            id: n.id,
            recipient: UserId(0),
            kind: n.kind,
            title: n.title,
            body: n.body,
            link: n.link,
            read: n.read,
            created_at: n.created_at,
        }
        .into()
    }
}

/// The object of a delivery, unless it was deleted.
fn object<T: DeserializeOwned>(delivery: &Delivery) -> Option<T> {
    if delivery.is_delete() {
        return None;
    }
    serde_json::from_value(delivery.data().clone()).ok()
}

/// A subscription's live session and what its stream needs besides.
pub(crate) struct Opened {
    session: LiveSession,
    end: Option<EndSignal>,
    relations: Arc<Relations>,
}

/// Opens a live session for the caller on `topics`, replaying from `since`.
pub(crate) async fn open(
    ctx: &Context<'_>,
    topics: Vec<String>,
    since: Option<u64>,
) -> async_graphql::Result<Opened> {
    let caller = caller(ctx)?;
    let session = caller
        .services
        .realtime
        .open(&caller.principal, topics, since, OnLag::CatchUp)
        .await
        .gql()?;
    Ok(Opened {
        session,
        end: ctx.data_opt::<EndSignal>().cloned(),
        relations: relations(ctx)?.clone(),
    })
}

/// What a session yields, as events of one kind: `shape` turns a delivery into an event (or
/// skips it); a reset becomes `reset(since)`. The stream ends with the session, telling the
/// connection why.
pub(crate) fn events<T: Send + 'static>(
    opened: Opened,
    shape: impl Fn(&Delivery) -> Option<T> + Send + 'static,
    reset: impl Fn(u64) -> T + Send + 'static,
) -> impl Stream<Item = T> {
    let Opened {
        mut session,
        end,
        relations,
    } = opened;
    async_stream::stream! {
        loop {
            match session.next().await {
                Live::Event(delivery) => {
                    if let Some(event) = shape(&delivery) {
                        // Relations of this event are read as they are now.
                        forget(&relations);
                        yield event;
                    }
                }
                Live::Reset { since } => yield reset(since),
                // The session catches up by itself (`OnLag::CatchUp`).
                Live::Lagged { .. } => {}
                Live::Ended(why) => {
                    if let Some(end) = &end {
                        let _ = end.0.send(Some(why));
                    }
                    break;
                }
            }
        }
    }
}

// Merged into the root `Subscription`, so it needs a name of its own.
#[SubscriptionRoot(name = "CoreSubscription")]
impl Subscription {
    /// Changes to the activities the caller may see, or to those of one project; `since` (an
    /// event id) first replays what came after it.
    async fn activity_changed(
        &self,
        ctx: &Context<'_>,
        project_id: Option<u64>,
        since: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = ActivityEvent> + use<>> {
        let topic = match project_id {
            Some(id) => {
                visible_project(ctx, ProjectId(id)).await?;
                format!("project:{id}")
            }
            None => "activities".to_string(),
        };
        let opened = open(ctx, vec![topic], since).await?;
        Ok(events(
            opened,
            |d| {
                (d.kind() == ObjectKind::Activity).then(|| ActivityEvent {
                    event: d.event().to_string(),
                    id: d.event_id(),
                    activity: object::<activity::Activity>(d).map(Activity),
                })
            },
            |since| ActivityEvent {
                event: RESET.into(),
                id: since,
                activity: None,
            },
        ))
    }

    /// The caller's new notifications.
    async fn notification_received(
        &self,
        ctx: &Context<'_>,
        since: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = NotificationEvent> + use<>> {
        let opened = open(ctx, vec!["notifications".into()], since).await?;
        Ok(events(
            opened,
            |d| {
                (d.kind() == ObjectKind::Notification).then(|| NotificationEvent {
                    event: d.event().to_string(),
                    id: d.event_id(),
                    notification: object::<NotificationData>(d).map(Into::into),
                })
            },
            |since| NotificationEvent {
                event: RESET.into(),
                id: since,
                notification: None,
            },
        ))
    }

    /// Chat messages of the caller's conversations: only the direct one with `withUserId`, or
    /// only the room of `projectId`, when given.
    async fn chat_message(
        &self,
        ctx: &Context<'_>,
        with_user_id: Option<u64>,
        project_id: Option<u64>,
        since: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = ChatMessageEvent> + use<>> {
        let me = caller(ctx)?.principal.user.id;
        let topic = if with_user_id.is_some() || project_id.is_some() {
            let caller = caller(ctx)?;
            caller
                .services
                .chat
                .conversation(
                    &caller.principal,
                    with_user_id.map(UserId),
                    project_id.map(ProjectId),
                )
                .await
                .gql()?;
            match project_id {
                Some(p) => format!("project:{p}"),
                None => "chat".into(),
            }
        } else {
            "chat".into()
        };
        let opened = open(ctx, vec![topic], since).await?;
        let peer = with_user_id.map(UserId);
        Ok(events(
            opened,
            move |d| {
                if d.kind() != ObjectKind::Message {
                    return None;
                }
                // After a delete the log still holds the message, so it is filtered alike.
                let stored = serde_json::from_value::<chat::Message>(d.data().clone()).ok();
                if let (Some(peer), Some(m)) = (peer, &stored) {
                    let between =
                        |a: UserId, b: UserId| m.sender_id == a && m.receiver_id == Some(b);
                    if !(between(me, peer) || between(peer, me)) {
                        return None;
                    }
                }
                Some(ChatMessageEvent {
                    event: d.event().to_string(),
                    id: d.event_id(),
                    message: object::<chat::Message>(d).map(Into::into),
                })
            },
            |since| ChatMessageEvent {
                event: RESET.into(),
                id: since,
                message: None,
            },
        ))
    }

    /// Updates posted, changed or deleted.
    async fn update_posted(
        &self,
        ctx: &Context<'_>,
        since: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = UpdateEvent> + use<>> {
        let opened = open(ctx, vec!["updates".into()], since).await?;
        Ok(events(
            opened,
            |d| {
                (d.kind() == ObjectKind::Update).then(|| UpdateEvent {
                    event: d.event().to_string(),
                    id: d.event_id(),
                    update: object::<update::Update>(d).map(Into::into),
                })
            },
            |since| UpdateEvent {
                event: RESET.into(),
                id: since,
                update: None,
            },
        ))
    }
}
