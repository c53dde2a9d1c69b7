//! The shop floor in GraphQL: the REST objects with their fields in camelCase, their queries,
//! one mutation per REST write, and `downtimeChanged(assetId)`; every call goes through
//! `ShopfloorService`, as REST's do.

use async_graphql::{
    Context, Enum, InputObject, MaybeUndefined, Object, OutputType, SimpleObject, Subscription,
};
use futures_util::Stream;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::caller;
use super::error::{OrGql, from_domain};
use super::query::{page_request, time_arg};
use super::subscription::{RESET, events, open};
use super::types::{page_cost, rfc3339};
use crate::domain::change::ObjectKind;
use crate::domain::oee::Group;
use crate::domain::shopfloor as sf;
use crate::domain::{AssetId, DomainError, DowntimeId, ProductionId, ReasonId, ShiftId};
use crate::service::shopfloor::{
    AssetPatch, DowntimePatch, EndDowntime, NewAsset, NewDowntime, NewProduction, OeeQuery,
    ProductionPatch, ReasonInput, ShiftInput,
};
use crate::store::{AssetFilter, DowntimeFilter, ProductionFilter};

macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident = $remote:literal { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
        #[graphql(remote = $remote)]
        pub enum $name { $(#[allow(missing_docs)] $variant),+ }
    };
}

mirror_enum!(
    /// Where an asset sits in the tree.
    AssetKind = "crate::domain::shopfloor::AssetKind" { Site, Area, Line, Workstation, Machine }
);
mirror_enum!(
    /// Derived from the asset's open downtime event.
    AssetState = "crate::domain::shopfloor::AssetState" { Running, Down }
);
mirror_enum!(
    /// The OEE factor a downtime reason costs.
    Loss = "crate::domain::shopfloor::Loss" { Availability, Performance, Quality }
);
mirror_enum!(
    /// A day of the week.
    Weekday = "crate::domain::shopfloor::Weekday" { Mon, Tue, Wed, Thu, Fri, Sat, Sun }
);

/// How an OEE window is cut into buckets.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OeeGroup {
    /// One per shift occurrence.
    Shift,
    /// One per plant day.
    Day,
    /// One per hour.
    Hour,
    /// The whole window.
    None,
}

impl From<OeeGroup> for Group {
    fn from(g: OeeGroup) -> Self {
        match g {
            OeeGroup::Shift => Group::Shift,
            OeeGroup::Day => Group::Day,
            OeeGroup::Hour => Group::Hour,
            OeeGroup::None => Group::None,
        }
    }
}

/// A site, area, line, workstation or machine.
#[derive(SimpleObject)]
pub struct Asset {
    /// Server-assigned id.
    pub id: u64,
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Place in the tree.
    pub kind: AssetKind,
    /// Parent asset's id.
    pub parent_id: Option<u64>,
    /// Seconds per unit at rated speed.
    pub ideal_cycle_secs: Option<f64>,
    /// Active or not.
    pub is_active: bool,
    /// `DOWN` while it has an open downtime event.
    pub state: AssetState,
    /// When created.
    pub created_at: String,
    /// When last changed.
    pub updated_at: String,
    /// Grows on every change.
    pub version: u64,
}

impl From<sf::Asset> for Asset {
    fn from(a: sf::Asset) -> Self {
        Self {
            id: a.id.0,
            code: a.code,
            name: a.name,
            kind: a.kind.into(),
            parent_id: a.parent_id.map(|p| p.0),
            ideal_cycle_secs: a.ideal_cycle_secs,
            is_active: a.is_active,
            state: a.state.into(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
            version: a.version,
        }
    }
}

/// A recurring shift.
#[derive(SimpleObject)]
pub struct Shift {
    /// Server-assigned id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Local start, `HH:MM`.
    pub starts: String,
    /// Local end, `HH:MM`.
    pub ends: String,
    /// Days it starts on.
    pub days: Vec<Weekday>,
    /// When created.
    pub created_at: String,
    /// When last changed.
    pub updated_at: String,
    /// Grows on every change.
    pub version: u64,
}

impl From<sf::Shift> for Shift {
    fn from(s: sf::Shift) -> Self {
        Self {
            id: s.id.0,
            name: s.name,
            starts: s.starts,
            ends: s.ends,
            days: s.days.into_iter().map(Into::into).collect(),
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
            version: s.version,
        }
    }
}

/// The shift on now.
#[derive(SimpleObject)]
pub struct CurrentShift {
    /// The shift.
    pub shift: Shift,
    /// This occurrence's start (UTC).
    pub start: String,
    /// Its end (UTC).
    pub end: String,
}

/// A downtime reason.
#[derive(SimpleObject)]
pub struct DowntimeReason {
    /// Server-assigned id.
    pub id: u64,
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// The reason it refines.
    pub parent_id: Option<u64>,
    /// A planned stop.
    pub planned: bool,
    /// The factor it costs.
    pub loss: Loss,
    /// When created.
    pub created_at: String,
    /// When last changed.
    pub updated_at: String,
    /// Grows on every change.
    pub version: u64,
}

impl From<sf::DowntimeReason> for DowntimeReason {
    fn from(r: sf::DowntimeReason) -> Self {
        Self {
            id: r.id.0,
            code: r.code,
            name: r.name,
            parent_id: r.parent_id.map(|p| p.0),
            planned: r.planned,
            loss: r.loss.into(),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            version: r.version,
        }
    }
}

/// A stop of one asset.
#[derive(SimpleObject)]
pub struct DowntimeEvent {
    /// Server-assigned id.
    pub id: u64,
    /// The asset.
    pub asset_id: u64,
    /// Its leaf reason, if classified.
    pub reason_id: Option<u64>,
    /// When it stopped.
    pub started_at: String,
    /// When it ran again; null while open.
    pub ended_at: Option<String>,
    /// Note.
    pub note: String,
    /// Who reported it.
    pub reported_by: u64,
    /// When created.
    pub created_at: String,
    /// When last changed.
    pub updated_at: String,
    /// Grows on every change.
    pub version: u64,
}

impl From<sf::DowntimeEvent> for DowntimeEvent {
    fn from(e: sf::DowntimeEvent) -> Self {
        Self {
            id: e.id.0,
            asset_id: e.asset_id.0,
            reason_id: e.reason_id.map(|r| r.0),
            started_at: rfc3339(e.started_at),
            ended_at: e.ended_at.map(rfc3339),
            note: e.note,
            reported_by: e.reported_by.0,
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
            version: e.version,
        }
    }
}

/// Units made by one asset over a span.
#[derive(SimpleObject)]
pub struct ProductionCount {
    /// Server-assigned id.
    pub id: u64,
    /// The asset.
    pub asset_id: u64,
    /// Start of the span.
    pub started_at: String,
    /// End of the span.
    pub ended_at: String,
    /// Units.
    pub total_count: u64,
    /// Good units.
    pub good_count: u64,
    /// Who reported them.
    pub reported_by: u64,
    /// When created.
    pub created_at: String,
    /// When last changed.
    pub updated_at: String,
    /// Grows on every change.
    pub version: u64,
}

impl From<sf::ProductionCount> for ProductionCount {
    fn from(c: sf::ProductionCount) -> Self {
        Self {
            id: c.id.0,
            asset_id: c.asset_id.0,
            started_at: rfc3339(c.started_at),
            ended_at: rfc3339(c.ended_at),
            total_count: c.total_count,
            good_count: c.good_count,
            reported_by: c.reported_by.0,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            version: c.version,
        }
    }
}

/// One OEE bucket (REST's `GET /api/oee/` row).
#[derive(SimpleObject)]
pub struct OeeRow {
    /// The asset asked for.
    pub asset_id: u64,
    /// Bucket start.
    pub from: String,
    /// Bucket end.
    pub to: String,
    /// Planned production time, seconds.
    pub planned_secs: i64,
    /// Unplanned downtime in planned time, seconds.
    pub downtime_secs: i64,
    /// Run time, seconds.
    pub run_secs: i64,
    /// Units.
    pub total_count: f64,
    /// Good units.
    pub good_count: f64,
    /// Run ÷ planned.
    pub availability: Option<f64>,
    /// Ideal time ÷ run.
    pub performance: Option<f64>,
    /// Good ÷ total.
    pub quality: Option<f64>,
    /// The product.
    pub oee: Option<f64>,
}

/// One reason of the downtime Pareto.
#[derive(SimpleObject)]
pub struct ParetoRow {
    /// The reason; null when unclassified.
    pub reason_id: Option<u64>,
    /// Its code.
    pub code: Option<String>,
    /// Its name.
    pub name: String,
    /// Events.
    pub events: u64,
    /// Seconds in the window.
    pub seconds: i64,
}

/// One page of a shop-floor list.
#[derive(SimpleObject)]
#[graphql(concrete(name = "AssetPage", params(Asset)))]
#[graphql(concrete(name = "DowntimeReasonPage", params(DowntimeReason)))]
#[graphql(concrete(name = "DowntimeEventPage", params(DowntimeEvent)))]
#[graphql(concrete(name = "ProductionCountPage", params(ProductionCount)))]
pub struct ShopPage<T: OutputType> {
    /// Matches across all pages.
    pub count: u64,
    /// This page.
    pub results: Vec<T>,
}

impl<T: OutputType> ShopPage<T> {
    fn of<U>(page: crate::service::pagination::Page<U>, f: impl FnMut(U) -> T) -> Self {
        Self {
            count: u64::try_from(page.count).unwrap_or(u64::MAX),
            results: page.results.into_iter().map(f).collect(),
        }
    }
}

fn time_required(field: &str, raw: &str) -> async_graphql::Result<OffsetDateTime> {
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
        from_domain(DomainError::field(
            field,
            "must be an RFC 3339 time such as 2026-11-28T09:30:00Z",
        ))
    })
}

fn time_opt(field: &str, raw: Option<&str>) -> async_graphql::Result<Option<OffsetDateTime>> {
    raw.map(|r| time_required(field, r)).transpose()
}

fn window(
    from: &str,
    to: &str,
) -> async_graphql::Result<(
    crate::domain::time::Timestamp,
    crate::domain::time::Timestamp,
)> {
    let required = |f: &str| from_domain(DomainError::field(f, "is required"));
    Ok((
        time_arg("from", Some(from))?.ok_or_else(|| required("from"))?,
        time_arg("to", Some(to))?.ok_or_else(|| required("to"))?,
    ))
}

/// Shop-floor queries.
#[derive(Default)]
pub struct ShopfloorQuery;

#[Object]
impl ShopfloorQuery {
    /// Assets by code; `parentId` lists direct children, `q` matches code or name.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn assets(
        &self,
        ctx: &Context<'_>,
        kind: Option<AssetKind>,
        parent_id: Option<u64>,
        q: Option<String>,
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> async_graphql::Result<ShopPage<Asset>> {
        let caller = caller(ctx)?;
        let filter = AssetFilter {
            kind: kind.map(Into::into),
            parent: parent_id.map(AssetId),
            q: q.filter(|q| !q.is_empty()),
        };
        let page = caller
            .services
            .shopfloor
            .assets(&caller.principal, filter, page_request(page, page_size)?)
            .await
            .gql()?;
        Ok(ShopPage::of(page, Asset::from))
    }

    /// One asset.
    async fn asset(&self, ctx: &Context<'_>, id: u64) -> async_graphql::Result<Option<Asset>> {
        let caller = caller(ctx)?;
        match caller
            .services
            .shopfloor
            .asset(&caller.principal, AssetId(id))
            .await
        {
            Ok(a) => Ok(Some(a.into())),
            Err(DomainError::NotFound(_)) => Ok(None),
            Err(e) => Err(from_domain(e)),
        }
    }

    /// The asset and everything below it, parents first.
    async fn asset_tree(&self, ctx: &Context<'_>, id: u64) -> async_graphql::Result<Vec<Asset>> {
        let caller = caller(ctx)?;
        let tree = caller
            .services
            .shopfloor
            .subtree(&caller.principal, AssetId(id))
            .await
            .gql()?;
        Ok(tree.into_iter().map(Into::into).collect())
    }

    /// Every shift.
    async fn shifts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Shift>> {
        let caller = caller(ctx)?;
        let shifts = caller
            .services
            .shopfloor
            .shifts(&caller.principal)
            .await
            .gql()?;
        Ok(shifts.into_iter().map(Into::into).collect())
    }

    /// The shift on now, if any.
    async fn current_shift(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<CurrentShift>> {
        let caller = caller(ctx)?;
        let current = caller
            .services
            .shopfloor
            .shift_at(&caller.principal, crate::domain::time::now())
            .await
            .gql()?;
        Ok(current.map(|c| CurrentShift {
            shift: c.shift.into(),
            start: rfc3339(c.start),
            end: rfc3339(c.end),
        }))
    }

    /// Downtime reasons by code.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn downtime_reasons(
        &self,
        ctx: &Context<'_>,
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> async_graphql::Result<ShopPage<DowntimeReason>> {
        let caller = caller(ctx)?;
        let page = caller
            .services
            .shopfloor
            .reasons(&caller.principal, page_request(page, page_size)?)
            .await
            .gql()?;
        Ok(ShopPage::of(page, DowntimeReason::from))
    }

    /// Downtime events, newest first; `assetId` includes its subtree.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn downtime_events(
        &self,
        ctx: &Context<'_>,
        asset_id: Option<u64>,
        reason_id: Option<u64>,
        open: Option<bool>,
        from: Option<String>,
        to: Option<String>,
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> async_graphql::Result<ShopPage<DowntimeEvent>> {
        let caller = caller(ctx)?;
        let filter = DowntimeFilter {
            assets: None,
            reason: reason_id.map(ReasonId),
            open,
            from: time_arg("from", from.as_deref())?,
            to: time_arg("to", to.as_deref())?,
        };
        let page = caller
            .services
            .shopfloor
            .downtimes(
                &caller.principal,
                asset_id.map(AssetId),
                filter,
                page_request(page, page_size)?,
            )
            .await
            .gql()?;
        Ok(ShopPage::of(page, DowntimeEvent::from))
    }

    /// Production counts, newest first; `assetId` includes its subtree.
    #[graphql(complexity = "page_cost(page_size, child_complexity)")]
    async fn production_counts(
        &self,
        ctx: &Context<'_>,
        asset_id: Option<u64>,
        from: Option<String>,
        to: Option<String>,
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> async_graphql::Result<ShopPage<ProductionCount>> {
        let caller = caller(ctx)?;
        let filter = ProductionFilter {
            assets: None,
            from: time_arg("from", from.as_deref())?,
            to: time_arg("to", to.as_deref())?,
        };
        let page = caller
            .services
            .shopfloor
            .productions(
                &caller.principal,
                asset_id.map(AssetId),
                filter,
                page_request(page, page_size)?,
            )
            .await
            .gql()?;
        Ok(ShopPage::of(page, ProductionCount::from))
    }

    /// OEE per bucket, as `GET /api/oee/`.
    async fn oee(
        &self,
        ctx: &Context<'_>,
        asset_id: u64,
        from: String,
        to: String,
        group: Option<OeeGroup>,
    ) -> async_graphql::Result<Vec<OeeRow>> {
        let caller = caller(ctx)?;
        let (from, to) = window(&from, &to)?;
        let rows = caller
            .services
            .shopfloor
            .oee(
                &caller.principal,
                OeeQuery {
                    asset: AssetId(asset_id),
                    from,
                    to,
                    group: group.unwrap_or(OeeGroup::None).into(),
                },
            )
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|r| OeeRow {
                asset_id: r.asset_id.0,
                from: rfc3339(r.from),
                to: rfc3339(r.to),
                planned_secs: r.planned_secs,
                downtime_secs: r.downtime_secs,
                run_secs: r.run_secs,
                total_count: r.total_count,
                good_count: r.good_count,
                availability: r.availability,
                performance: r.performance,
                quality: r.quality,
                oee: r.oee,
            })
            .collect())
    }

    /// Unplanned downtime by reason, the largest loss first.
    async fn downtime_pareto(
        &self,
        ctx: &Context<'_>,
        asset_id: u64,
        from: String,
        to: String,
    ) -> async_graphql::Result<Vec<ParetoRow>> {
        let caller = caller(ctx)?;
        let (from, to) = window(&from, &to)?;
        let rows = caller
            .services
            .shopfloor
            .pareto(&caller.principal, AssetId(asset_id), from, to)
            .await
            .gql()?;
        Ok(rows
            .into_iter()
            .map(|r| ParetoRow {
                reason_id: r.reason_id.map(|r| r.0),
                code: r.code,
                name: r.name,
                events: r.events,
                seconds: r.seconds,
            })
            .collect())
    }
}

/// `createAsset` input.
#[derive(InputObject)]
pub struct CreateAssetInput {
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Place in the tree.
    pub kind: AssetKind,
    /// Parent asset.
    pub parent_id: Option<u64>,
    /// Seconds per unit at rated speed.
    pub ideal_cycle_secs: Option<f64>,
    /// Defaults to true.
    pub is_active: Option<bool>,
}

/// `updateAsset` input: absent fields stay, `null` clears a nullable one.
#[derive(InputObject)]
pub struct UpdateAssetInput {
    /// New code.
    pub code: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<AssetKind>,
    /// New parent, or null.
    pub parent_id: MaybeUndefined<u64>,
    /// New ideal cycle, or null.
    pub ideal_cycle_secs: MaybeUndefined<f64>,
    /// Active or not.
    pub is_active: Option<bool>,
    /// Apply only at this version.
    pub version: Option<u64>,
}

/// `createShift` / `updateShift` input.
#[derive(InputObject)]
pub struct ShiftFields {
    /// Name.
    pub name: Option<String>,
    /// `HH:MM`.
    pub starts: Option<String>,
    /// `HH:MM`.
    pub ends: Option<String>,
    /// Days it starts on.
    pub days: Option<Vec<Weekday>>,
    /// Apply only at this version (update).
    pub version: Option<u64>,
}

/// `createDowntimeReason` / `updateDowntimeReason` input.
#[derive(InputObject)]
pub struct ReasonFields {
    /// Unique code.
    pub code: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// The reason it refines, or null.
    pub parent_id: MaybeUndefined<u64>,
    /// A planned stop.
    pub planned: Option<bool>,
    /// The factor it costs.
    pub loss: Option<Loss>,
    /// Apply only at this version (update).
    pub version: Option<u64>,
}

/// `reportDowntime` input.
#[derive(InputObject)]
pub struct ReportDowntimeInput {
    /// The asset.
    pub asset_id: u64,
    /// A leaf reason.
    pub reason_id: Option<u64>,
    /// Defaults to now.
    pub started_at: Option<String>,
    /// Absent while still down.
    pub ended_at: Option<String>,
    /// Note.
    pub note: Option<String>,
}

/// `updateDowntime` input (staff).
#[derive(InputObject)]
pub struct UpdateDowntimeInput {
    /// New leaf reason, or null.
    pub reason_id: MaybeUndefined<u64>,
    /// New start.
    pub started_at: Option<String>,
    /// New end, or null.
    pub ended_at: MaybeUndefined<String>,
    /// New note.
    pub note: Option<String>,
    /// Apply only at this version.
    pub version: Option<u64>,
}

/// `reportProduction` input.
#[derive(InputObject)]
pub struct ReportProductionInput {
    /// The asset.
    pub asset_id: u64,
    /// Start of the span.
    pub started_at: String,
    /// End of the span.
    pub ended_at: String,
    /// Units.
    pub total_count: u64,
    /// Good units.
    pub good_count: u64,
}

/// `updateProduction` input (staff).
#[derive(InputObject)]
pub struct UpdateProductionInput {
    /// New start.
    pub started_at: Option<String>,
    /// New end.
    pub ended_at: Option<String>,
    /// New total.
    pub total_count: Option<u64>,
    /// New good count.
    pub good_count: Option<u64>,
    /// Apply only at this version.
    pub version: Option<u64>,
}

fn maybe<T, U>(m: MaybeUndefined<T>, f: impl FnOnce(T) -> U) -> Option<Option<U>> {
    match m {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(f(v))),
    }
}

fn shift_input(i: ShiftFields) -> ShiftInput {
    ShiftInput {
        name: i.name,
        starts: i.starts,
        ends: i.ends,
        days: i.days.map(|d| d.into_iter().map(Into::into).collect()),
        version: i.version,
    }
}

fn reason_input(i: ReasonFields) -> ReasonInput {
    ReasonInput {
        code: i.code,
        name: i.name,
        parent_id: maybe(i.parent_id, ReasonId),
        planned: i.planned,
        loss: i.loss.map(Into::into),
        version: i.version,
    }
}

/// Shop-floor mutations, one per REST write.
#[derive(Default)]
pub struct ShopfloorMutation;

#[Object]
impl ShopfloorMutation {
    /// Creates an asset (admin, staff).
    async fn create_asset(
        &self,
        ctx: &Context<'_>,
        input: CreateAssetInput,
    ) -> async_graphql::Result<Option<Asset>> {
        let caller = caller(ctx)?;
        let input = NewAsset {
            code: input.code,
            name: input.name,
            kind: input.kind.into(),
            parent_id: input.parent_id.map(AssetId),
            ideal_cycle_secs: input.ideal_cycle_secs,
            is_active: input.is_active,
        };
        let a = caller
            .services
            .shopfloor
            .create_asset(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(a.into()))
    }

    /// Changes an asset (admin, staff).
    async fn update_asset(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: UpdateAssetInput,
    ) -> async_graphql::Result<Option<Asset>> {
        let caller = caller(ctx)?;
        let patch = AssetPatch {
            code: input.code,
            name: input.name,
            kind: input.kind.map(Into::into),
            parent_id: maybe(input.parent_id, AssetId),
            ideal_cycle_secs: maybe(input.ideal_cycle_secs, |c| c),
            is_active: input.is_active,
            version: input.version,
        };
        let a = caller
            .services
            .shopfloor
            .update_asset(&caller.principal, AssetId(id), patch)
            .await
            .gql()?;
        Ok(Some(a.into()))
    }

    /// Deletes an asset without children, events or counts (admin, staff).
    async fn delete_asset(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .shopfloor
            .delete_asset(&caller.principal, AssetId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Creates a shift (admin).
    async fn create_shift(
        &self,
        ctx: &Context<'_>,
        input: ShiftFields,
    ) -> async_graphql::Result<Option<Shift>> {
        let caller = caller(ctx)?;
        let s = caller
            .services
            .shopfloor
            .create_shift(&caller.principal, shift_input(input))
            .await
            .gql()?;
        Ok(Some(s.into()))
    }

    /// Changes a shift (admin).
    async fn update_shift(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: ShiftFields,
    ) -> async_graphql::Result<Option<Shift>> {
        let caller = caller(ctx)?;
        let s = caller
            .services
            .shopfloor
            .update_shift(&caller.principal, ShiftId(id), shift_input(input))
            .await
            .gql()?;
        Ok(Some(s.into()))
    }

    /// Deletes a shift (admin).
    async fn delete_shift(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .shopfloor
            .delete_shift(&caller.principal, ShiftId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Creates a downtime reason (admin, staff).
    async fn create_downtime_reason(
        &self,
        ctx: &Context<'_>,
        input: ReasonFields,
    ) -> async_graphql::Result<Option<DowntimeReason>> {
        let caller = caller(ctx)?;
        let r = caller
            .services
            .shopfloor
            .create_reason(&caller.principal, reason_input(input))
            .await
            .gql()?;
        Ok(Some(r.into()))
    }

    /// Changes a downtime reason (admin, staff).
    async fn update_downtime_reason(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: ReasonFields,
    ) -> async_graphql::Result<Option<DowntimeReason>> {
        let caller = caller(ctx)?;
        let r = caller
            .services
            .shopfloor
            .update_reason(&caller.principal, ReasonId(id), reason_input(input))
            .await
            .gql()?;
        Ok(Some(r.into()))
    }

    /// Deletes a downtime reason (admin, staff).
    async fn delete_downtime_reason(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .shopfloor
            .delete_reason(&caller.principal, ReasonId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Reports a stop (anyone); an overlap with another of the asset is a conflict.
    async fn report_downtime(
        &self,
        ctx: &Context<'_>,
        input: ReportDowntimeInput,
    ) -> async_graphql::Result<Option<DowntimeEvent>> {
        let caller = caller(ctx)?;
        let input = NewDowntime {
            asset_id: AssetId(input.asset_id),
            reason_id: input.reason_id.map(ReasonId),
            started_at: time_opt("startedAt", input.started_at.as_deref())?,
            ended_at: time_opt("endedAt", input.ended_at.as_deref())?,
            note: input.note.unwrap_or_default(),
        };
        let e = caller
            .services
            .shopfloor
            .report_downtime(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(e.into()))
    }

    /// Ends an open stop (anyone).
    async fn end_downtime(
        &self,
        ctx: &Context<'_>,
        id: u64,
        ended_at: Option<String>,
        reason_id: Option<u64>,
    ) -> async_graphql::Result<Option<DowntimeEvent>> {
        let caller = caller(ctx)?;
        let input = EndDowntime {
            ended_at: time_opt("endedAt", ended_at.as_deref())?,
            reason_id: reason_id.map(ReasonId),
        };
        let e = caller
            .services
            .shopfloor
            .end_downtime(&caller.principal, DowntimeId(id), input)
            .await
            .gql()?;
        Ok(Some(e.into()))
    }

    /// Edits a downtime event (admin, staff).
    async fn update_downtime(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: UpdateDowntimeInput,
    ) -> async_graphql::Result<Option<DowntimeEvent>> {
        let caller = caller(ctx)?;
        let ended_at = match input.ended_at {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(time_required("endedAt", &v)?)),
        };
        let patch = DowntimePatch {
            reason_id: maybe(input.reason_id, ReasonId),
            started_at: time_opt("startedAt", input.started_at.as_deref())?,
            ended_at,
            note: input.note,
            version: input.version,
        };
        let e = caller
            .services
            .shopfloor
            .update_downtime(&caller.principal, DowntimeId(id), patch)
            .await
            .gql()?;
        Ok(Some(e.into()))
    }

    /// Deletes a downtime event (admin, staff).
    async fn delete_downtime(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .shopfloor
            .delete_downtime(&caller.principal, DowntimeId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }

    /// Reports a production count (anyone).
    async fn report_production(
        &self,
        ctx: &Context<'_>,
        input: ReportProductionInput,
    ) -> async_graphql::Result<Option<ProductionCount>> {
        let caller = caller(ctx)?;
        let input = NewProduction {
            asset_id: AssetId(input.asset_id),
            started_at: time_required("startedAt", &input.started_at)?,
            ended_at: time_required("endedAt", &input.ended_at)?,
            total_count: input.total_count,
            good_count: input.good_count,
        };
        let c = caller
            .services
            .shopfloor
            .report_production(&caller.principal, input)
            .await
            .gql()?;
        Ok(Some(c.into()))
    }

    /// Edits a production count (admin, staff).
    async fn update_production(
        &self,
        ctx: &Context<'_>,
        id: u64,
        input: UpdateProductionInput,
    ) -> async_graphql::Result<Option<ProductionCount>> {
        let caller = caller(ctx)?;
        let patch = ProductionPatch {
            started_at: time_opt("startedAt", input.started_at.as_deref())?,
            ended_at: time_opt("endedAt", input.ended_at.as_deref())?,
            total_count: input.total_count,
            good_count: input.good_count,
            version: input.version,
        };
        let c = caller
            .services
            .shopfloor
            .update_production(&caller.principal, ProductionId(id), patch)
            .await
            .gql()?;
        Ok(Some(c.into()))
    }

    /// Deletes a production count (admin, staff).
    async fn delete_production(
        &self,
        ctx: &Context<'_>,
        id: u64,
    ) -> async_graphql::Result<Option<bool>> {
        let caller = caller(ctx)?;
        caller
            .services
            .shopfloor
            .delete_production(&caller.principal, ProductionId(id))
            .await
            .gql()?;
        Ok(Some(true))
    }
}

/// A downtime event reported, ended, edited or deleted.
#[derive(SimpleObject)]
pub struct DowntimeChange {
    /// `downtime.created`, `downtime.updated`, `downtime.deleted`, or `reset`.
    pub event: String,
    /// The change's sequence number: give it as `since` to resume after it.
    pub id: u64,
    /// The event; null after a delete.
    pub downtime: Option<DowntimeEvent>,
}

/// Shop-floor subscriptions.
#[derive(Default)]
pub struct ShopfloorSubscription;

#[Subscription]
impl ShopfloorSubscription {
    /// Downtime events of one asset (and everything below it, as the tree is when
    /// subscribing), or of every asset; `since` first replays what came after it.
    async fn downtime_changed(
        &self,
        ctx: &Context<'_>,
        asset_id: Option<u64>,
        since: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = DowntimeChange> + use<>> {
        let assets: Option<std::collections::HashSet<u64>> = match asset_id {
            Some(id) => {
                let caller = caller(ctx)?;
                caller
                    .services
                    .shopfloor
                    .asset(&caller.principal, AssetId(id))
                    .await
                    .gql()?;
                let ids = caller
                    .services
                    .shopfloor
                    .subtree(&caller.principal, AssetId(id))
                    .await
                    .gql()?;
                Some(ids.into_iter().map(|a| a.id.0).collect())
            }
            None => None,
        };
        let opened = open(ctx, vec!["downtime".into()], since).await?;
        Ok(events(
            opened,
            move |d| {
                if d.kind() != ObjectKind::Downtime {
                    return None;
                }
                let stored = serde_json::from_value::<sf::DowntimeEvent>(d.data().clone()).ok()?;
                if assets
                    .as_ref()
                    .is_some_and(|a| !a.contains(&stored.asset_id.0))
                {
                    return None;
                }
                Some(DowntimeChange {
                    event: d.event().to_string(),
                    id: d.event_id(),
                    downtime: (!d.is_delete()).then(|| stored.into()),
                })
            },
            |since| DowntimeChange {
                event: RESET.into(),
                id: since,
                downtime: None,
            },
        ))
    }
}
