//! Andon calls in GraphQL: `AndonCall` with the REST fields in camelCase, `andonCalls` and
//! `andonCall`, the mutations `raiseAndon`, `acknowledgeAndon` and `resolveAndon`, and the
//! subscription `andonChanged`; every call goes through `AndonService`, as REST's do.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Subscription};
use futures_util::Stream;

use super::caller;
use super::error::OrGql;
use super::query::page_request;
use super::subscription::{RESET, events, open};
use super::types::{page_cost, rfc3339};
use crate::domain::andon as an;
use crate::domain::change::ObjectKind;
use crate::domain::{AndonId, AssetId};
use crate::service::andon::{AndonQuery, NewAndon, ResolveAndon};

/// What kind of help is called for.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::andon::AndonKind")]
pub enum AndonKind {
    #[allow(missing_docs)]
    Maintenance,
    #[allow(missing_docs)]
    Quality,
    #[allow(missing_docs)]
    Material,
    #[allow(missing_docs)]
    Safety,
    #[allow(missing_docs)]
    Help,
}

/// Where a call is: open → acknowledged → resolved (or open → resolved).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::domain::andon::AndonStatus")]
pub enum AndonStatus {
    #[allow(missing_docs)]
    Open,
    #[allow(missing_docs)]
    Acknowledged,
    #[allow(missing_docs)]
    Resolved,
}

/// A call for help at an asset.
#[derive(SimpleObject)]
pub struct AndonCall {
    /// Server-assigned id.
    pub id: u64,
    /// Where help is needed.
    pub asset_id: u64,
    /// What kind of help.
    pub kind: AndonKind,
    /// The message.
    pub message: String,
    /// Where the call is.
    pub status: AndonStatus,
    /// 0–2: 1 once staff are called, 2 once admins are.
    pub level: u8,
    /// Who raised it.
    pub raised_by: u64,
    /// When it was raised.
    pub raised_at: String,
    /// Who acknowledged it.
    pub acknowledged_by: Option<u64>,
    /// When it was acknowledged.
    pub acknowledged_at: Option<String>,
    /// Who resolved it.
    pub resolved_by: Option<u64>,
    /// When it was resolved.
    pub resolved_at: Option<String>,
    /// What was done.
    pub resolution: Option<String>,
    /// When created.
    pub created_at: String,
    /// When last changed.
    pub updated_at: String,
    /// Grows on every change.
    pub version: u64,
}

impl From<an::AndonCall> for AndonCall {
    fn from(c: an::AndonCall) -> Self {
        Self {
            id: c.id.0,
            asset_id: c.asset_id.0,
            kind: c.kind.into(),
            message: c.message,
            status: c.status.into(),
            level: c.level,
            raised_by: c.raised_by.0,
            raised_at: rfc3339(c.raised_at),
            acknowledged_by: c.acknowledged_by.map(|u| u.0),
            acknowledged_at: c.acknowledged_at.map(rfc3339),
            resolved_by: c.resolved_by.map(|u| u.0),
            resolved_at: c.resolved_at.map(rfc3339),
            resolution: c.resolution,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            version: c.version,
        }
    }
}

/// One page of andon calls.
#[derive(SimpleObject)]
pub struct AndonCallPage {
    /// Matches across all pages.
    pub count: u64,
    /// This page.
    pub results: Vec<AndonCall>,
}

/// Andon queries.
#[derive(Default)]
pub struct AndonQueryRoot;

#[Object]
impl AndonQueryRoot {
    /// Andon calls, newest first; `assetId` includes its subtree, `open: true` the calls not
    /// resolved.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn andon_calls(
        &self,
        ctx: &Context<'_>,
        asset_id: Option<u64>,
        status: Option<AndonStatus>,
        open: Option<bool>,
        level: Option<u8>,
        kind: Option<AndonKind>,
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> async_graphql::Result<AndonCallPage> {
        let caller = caller(ctx)?;
        let query = AndonQuery {
            asset: asset_id.map(AssetId),
            status: status.map(Into::into),
            open,
            level,
            kind: kind.map(Into::into),
        };
        let page = caller
            .services
            .andon
            .list(&caller.principal, query, page_request(page, page_size)?)
            .await
            .gql()?;
        Ok(AndonCallPage {
            count: u64::try_from(page.count).unwrap_or(u64::MAX),
            results: page.results.into_iter().map(Into::into).collect(),
        })
    }

    /// One andon call.
    async fn andon_call(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<AndonCall>> {
        let caller = caller(ctx)?;
        match caller
            .services
            .andon
            .get(&caller.principal, AndonId(id))
            .await
        {
            Ok(c) => Ok(Some(c.into())),
            Err(crate::domain::DomainError::NotFound(_)) => Ok(None),
            Err(e) => Err(super::error::from_domain(e)),
        }
    }
}

/// `raiseAndon` input.
#[derive(InputObject)]
pub struct RaiseAndonInput {
    /// Where help is needed.
    pub asset_id: u64,
    /// What kind of help.
    pub kind: AndonKind,
    /// 1–2,000 characters.
    pub message: String,
}

/// Andon mutations.
#[derive(Default)]
pub struct AndonMutation;

#[Object]
impl AndonMutation {
    /// Raises a call (anyone); a safety call starts at level 1.
    async fn raise_andon(
        &self,
        ctx: &Context<'_>,
        input: RaiseAndonInput,
    ) -> async_graphql::Result<Option<AndonCall>> {
        let caller = caller(ctx)?;
        let input = NewAndon {
            asset_id: AssetId(input.asset_id),
            kind: input.kind.into(),
            message: input.message,
        };
        let c = caller
            .services
            .andon
            .raise(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(c.into()))
    }

    /// Acknowledges an open call (admin, staff); it stops escalating.
    async fn acknowledge_andon(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<AndonCall>> {
        let caller = caller(ctx)?;
        let c = caller
            .services
            .andon
            .acknowledge(&caller.principal, AndonId(id))
            .await
            .gql()?;
        Ok(Some(c.into()))
    }

    /// Resolves an open or acknowledged call (admin, staff).
    async fn resolve_andon(
        &self,
        ctx: &Context<'_>,
        id: u64,
        resolution: Option<String>,
    ) -> async_graphql::Result<Option<AndonCall>> {
        let caller = caller(ctx)?;
        let c = caller
            .services
            .andon
            .resolve(&caller.principal, AndonId(id), ResolveAndon { resolution })
            .await
            .gql()?;
        Ok(Some(c.into()))
    }
}

/// An andon call raised, acknowledged, escalated or resolved.
#[derive(SimpleObject)]
pub struct AndonChange {
    /// `andon.created`, `andon.updated`, or `reset`.
    pub event: String,
    /// The change's sequence number: give it as `since` to resume after it.
    pub id: u64,
    /// The call.
    pub andon_call: Option<AndonCall>,
}

/// Andon subscriptions.
#[derive(Default)]
pub struct AndonSubscription;

#[Subscription]
impl AndonSubscription {
    /// Every andon call's changes; `since` first replays what came after it.
    async fn andon_changed(
        &self,
        ctx: &Context<'_>,
        since: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = AndonChange> + use<>> {
        let opened = open(ctx, vec!["andon".into()], since).await?;
        Ok(events(
            opened,
            move |d| {
                if d.kind() != ObjectKind::Andon {
                    return None;
                }
                let stored = serde_json::from_value::<an::AndonCall>(d.data().clone()).ok()?;
                Some(AndonChange {
                    event: d.event().to_string(),
                    id: d.event_id(),
                    andon_call: (!d.is_delete()).then(|| stored.into()),
                })
            },
            |since| AndonChange {
                event: RESET.into(),
                id: since,
                andon_call: None,
            },
        ))
    }
}
