//! Shift handovers in GraphQL: type `Handover` with the REST fields in camelCase, the queries
//! `handovers` and `handover(id)`, the mutations `createHandover`, `updateHandover`,
//! `submitHandover`, `acknowledgeHandover` and `deleteHandover`, and `handoverChanged`; every
//! call goes through `HandoverService`, as REST's do.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Subscription};
use futures_util::Stream;

use super::caller;
use super::error::OrGql;
use super::query::{page_request, time_arg};
use super::subscription::{RESET, events, open};
use super::types::{page_cost, rfc3339};
use crate::domain::change::ObjectKind;
use crate::domain::handover as ho;
use crate::domain::{ActivityId, AssetId, HandoverId, ShiftId, UserId};
use crate::service::handovers::{AcknowledgeHandover, HandoverPatch, NewHandover};
use crate::store::HandoverFilter;

/// Where a handover is: draft → submitted → acknowledged.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::handover::HandoverStatus")]
pub enum HandoverStatus {
    /// Being written.
    Draft,
    /// Waiting for an acknowledgement.
    Submitted,
    /// Acknowledged by someone other than the writer.
    Acknowledged,
}

/// A shift handover of one asset.
#[derive(SimpleObject)]
pub struct Handover {
    /// Server-assigned id.
    pub id: u64,
    /// The asset handed over.
    pub asset_id: u64,
    /// The shift that hands over.
    pub shift_id: u64,
    /// What happened.
    pub summary: String,
    /// What the next shift must pick up.
    pub open_issues: String,
    /// Hazards and safety remarks.
    pub safety_notes: String,
    /// Linked activities.
    pub activity_ids: Vec<u64>,
    /// Draft, submitted or acknowledged.
    pub status: HandoverStatus,
    /// Who wrote it.
    pub written_by: u64,
    /// When submitted.
    pub submitted_at: Option<String>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<u64>,
    /// When acknowledged.
    pub acknowledged_at: Option<String>,
    /// The acknowledger's comment.
    pub ack_comment: String,
    /// When the acknowledgement timeout passed and staff were notified.
    pub overdue_at: Option<String>,
    /// When created.
    pub created_at: String,
    /// When last changed.
    pub updated_at: String,
    /// Grows on every change.
    pub version: u64,
}

impl From<ho::Handover> for Handover {
    fn from(h: ho::Handover) -> Self {
        Self {
            id: h.id.0,
            asset_id: h.asset_id.0,
            shift_id: h.shift_id.0,
            summary: h.summary,
            open_issues: h.open_issues,
            safety_notes: h.safety_notes,
            activity_ids: h.activity_ids.into_iter().map(|a| a.0).collect(),
            status: h.status.into(),
            written_by: h.written_by.0,
            submitted_at: h.submitted_at.map(rfc3339),
            acknowledged_by: h.acknowledged_by.map(|u| u.0),
            acknowledged_at: h.acknowledged_at.map(rfc3339),
            ack_comment: h.ack_comment,
            overdue_at: h.overdue_at.map(rfc3339),
            created_at: rfc3339(h.created_at),
            updated_at: rfc3339(h.updated_at),
            version: h.version,
        }
    }
}

/// One page of handovers.
#[derive(SimpleObject)]
pub struct HandoverPage {
    /// Matches across all pages.
    pub count: u64,
    /// This page.
    pub results: Vec<Handover>,
}

/// Handover queries.
#[derive(Default)]
pub struct HandoverQuery;

#[Object]
impl HandoverQuery {
    /// Handovers, newest first; `assetId` includes its subtree.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn handovers(
        &self,
        ctx: &Context<'_>,
        asset_id: Option<u64>,
        status: Option<HandoverStatus>,
        written_by: Option<u64>,
        from: Option<String>,
        to: Option<String>,
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> async_graphql::Result<HandoverPage> {
        let caller = caller(ctx)?;
        let filter = HandoverFilter {
            assets: None,
            status: status.map(Into::into),
            written_by: written_by.map(UserId),
            from: time_arg("from", from.as_deref())?,
            to: time_arg("to", to.as_deref())?,
        };
        let page = caller
            .services
            .handovers
            .list(
                &caller.principal,
                asset_id.map(AssetId),
                filter,
                page_request(page, page_size)?,
            )
            .await
            .gql()?;
        Ok(HandoverPage {
            count: u64::try_from(page.count).unwrap_or(u64::MAX),
            results: page.results.into_iter().map(Into::into).collect(),
        })
    }

    /// One handover.
    async fn handover(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<Handover>> {
        let caller = caller(ctx)?;
        let h = caller
            .services
            .handovers
            .get(&caller.principal, HandoverId(id))
            .await
            .gql()?;
        Ok(Some(h.into()))
    }
}

/// `createHandover` input.
#[derive(InputObject)]
pub struct CreateHandoverInput {
    /// The asset.
    pub asset_id: u64,
    /// The shift.
    pub shift_id: u64,
    /// What happened: 1–5,000 characters.
    pub summary: String,
    /// What the next shift must pick up.
    pub open_issues: Option<String>,
    /// Hazards and safety remarks.
    pub safety_notes: Option<String>,
    /// Activities the writer can see.
    pub activity_ids: Option<Vec<u64>>,
}

/// `updateHandover` input (a draft, by its writer).
#[derive(InputObject)]
pub struct UpdateHandoverInput {
    /// New asset.
    pub asset_id: Option<u64>,
    /// New shift.
    pub shift_id: Option<u64>,
    /// New summary.
    pub summary: Option<String>,
    /// New open issues.
    pub open_issues: Option<String>,
    /// New safety notes.
    pub safety_notes: Option<String>,
    /// New linked activities.
    pub activity_ids: Option<Vec<u64>>,
    /// Apply only at this version.
    pub version: Option<u64>,
}

fn activities(ids: Vec<u64>) -> Vec<ActivityId> {
    ids.into_iter().map(ActivityId).collect()
}

/// Handover mutations.
#[derive(Default)]
pub struct HandoverMutation;

#[Object]
impl HandoverMutation {
    /// Writes a draft (anyone).
    async fn create_handover(
        &self,
        ctx: &Context<'_>,
        input: CreateHandoverInput,
    ) -> async_graphql::Result<Option<Handover>> {
        let caller = caller(ctx)?;
        let input = NewHandover {
            asset_id: AssetId(input.asset_id),
            shift_id: ShiftId(input.shift_id),
            summary: input.summary,
            open_issues: input.open_issues.unwrap_or_default(),
            safety_notes: input.safety_notes.unwrap_or_default(),
            activity_ids: activities(input.activity_ids.unwrap_or_default()),
        };
        let h = caller
            .services
            .handovers
            .create(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(h.into()))
    }

    /// Edits a draft (its writer).
    async fn update_handover(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: UpdateHandoverInput,
    ) -> async_graphql::Result<Option<Handover>> {
        let caller = caller(ctx)?;
        let patch = HandoverPatch {
            asset_id: input.asset_id.map(AssetId),
            shift_id: input.shift_id.map(ShiftId),
            summary: input.summary,
            open_issues: input.open_issues,
            safety_notes: input.safety_notes,
            activity_ids: input.activity_ids.map(activities),
            version: input.version,
        };
        let h = caller
            .services
            .handovers
            .update(&caller.principal, HandoverId(id), patch)
            .await
            .gql()?;
        Ok(Some(h.into()))
    }

    /// Submits a draft (its writer).
    async fn submit_handover(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<Handover>> {
        let caller = caller(ctx)?;
        let h = caller
            .services
            .handovers
            .submit(&caller.principal, HandoverId(id))
            .await
            .gql()?;
        Ok(Some(h.into()))
    }

    /// Acknowledges a submitted handover (anyone but its writer).
    async fn acknowledge_handover(
        &self,
        ctx: &Context<'_>,
        id: u64,
        comment: Option<String>,
    ) -> async_graphql::Result<Option<Handover>> {
        let caller = caller(ctx)?;
        let h = caller
            .services
            .handovers
            .acknowledge(
                &caller.principal,
                HandoverId(id),
                AcknowledgeHandover { comment },
            )
            .await
            .gql()?;
        Ok(Some(h.into()))
    }

    /// Deletes a draft (its writer, or an admin).
    async fn delete_handover(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .handovers
            .delete(&caller.principal, HandoverId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }
}

/// A handover written, changed, submitted, acknowledged, reported overdue or deleted.
#[derive(SimpleObject)]
pub struct HandoverChange {
    /// `handover.created`, `handover.updated`, `handover.deleted`, or `reset`.
    pub event: String,
    /// The change's sequence number: give it as `since` to resume after it.
    pub id: u64,
    /// The handover; null after a delete.
    pub handover: Option<Handover>,
}

/// Handover subscriptions.
#[derive(Default)]
pub struct HandoverSubscription;

#[Subscription]
impl HandoverSubscription {
    /// Every handover change; `since` first replays what came after it.
    async fn handover_changed(
        &self,
        ctx: &Context<'_>,
        since: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = HandoverChange> + use<>> {
        let opened = open(ctx, vec!["handovers".into()], since).await?;
        Ok(events(
            opened,
            |d| {
                if d.kind() != ObjectKind::Handover {
                    return None;
                }
                let stored = serde_json::from_value::<ho::Handover>(d.data().clone()).ok()?;
                Some(HandoverChange {
                    event: d.event().to_string(),
                    id: d.event_id(),
                    handover: (!d.is_delete()).then(|| stored.into()),
                })
            },
            |since| HandoverChange {
                event: RESET.into(),
                id: since,
                handover: None,
            },
        ))
    }
}
