//! GraphQL at `/graphql` (API.md §GraphQL): a thin adapter over the services, as REST is.
//! Resolvers parse, call a service and shape the answer; who may see or change what, and every
//! validation rule, stay in the services. Relations load through per-request DataLoaders
//! (`loaders`), one store read per relation and batch; `limits` bounds what one request may ask
//! for; `ws` carries subscriptions (fed by `RealtimeService`) over `graphql-transport-ws`.

mod andon;
pub(crate) mod error;
mod handovers;
mod http;
mod keys;
mod limits;
mod loaders;
mod mutation;
mod query;
mod shopfloor;
mod subscription;
mod types;
mod ws;

#[cfg(test)]
mod tests;

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::{Context, Schema};

pub use http::router;
pub use limits::{
    MAX_ALIASES, MAX_COMPLEXITY, MAX_DEPTH, MAX_INTROSPECTION_LISTS, MAX_QUERY_BYTES,
    MAX_ROOT_FIELDS,
};

use crate::service::{Principal, Services};

/// The schema: queries, mutations and subscriptions.
pub type NexusSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Every query: the REST reads, and the shop floor's.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    query::Query,
    shopfloor::ShopfloorQuery,
    handovers::HandoverQuery,
    andon::AndonQueryRoot,
);

/// Every mutation: one per REST write, the shop floor's included.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    mutation::Mutation,
    shopfloor::ShopfloorMutation,
    handovers::HandoverMutation,
    andon::AndonMutation,
);

/// Every subscription.
#[derive(async_graphql::MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(
    subscription::Subscription,
    shopfloor::ShopfloorSubscription,
    handovers::HandoverSubscription,
    andon::AndonSubscription,
);

/// Persisted queries kept (by hash) for clients that send the hash alone.
const PERSISTED_QUERIES: usize = 1000;

/// The schema with its limits and persisted queries. The services and the caller are given
/// per request (`Caller`), so one schema serves every request.
pub fn schema() -> NexusSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    // Depth is checked by `limits`, which tells introspection (how IDEs learn the schema,
    // 12 levels deep in the usual query) from data.
    .limit_complexity(MAX_COMPLEXITY)
    // First, so the size of a query is checked before anything parses it.
    .extension(limits::Limits)
    .extension(ApolloPersistedQueries::new(LruCacheStorage::new(
        PERSISTED_QUERIES,
    )))
    .finish()
}

/// The schema in SDL, as `nexus graphql-schema` prints it and `docs/schema.graphql` holds it.
pub fn sdl() -> String {
    schema().sdl()
}

/// Who is calling, and the services to call: the data every resolver reads.
pub(crate) struct Caller {
    pub services: Services,
    pub principal: Principal,
}

/// The caller of the request `ctx` belongs to.
pub(crate) fn caller<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Caller> {
    ctx.data::<Caller>()
}

/// A request ready to execute for `caller`: the caller and a fresh set of loaders as its data.
pub(crate) fn with_caller(
    request: async_graphql::Request,
    services: &Services,
    principal: Principal,
) -> async_graphql::Request {
    let loader = loaders::new(services.clone(), principal.clone());
    request
        .data(Caller {
            services: services.clone(),
            principal,
        })
        .data(loader)
}
