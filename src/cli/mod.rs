//! Admin subcommands of the `nexus` binary. They work on the data directory through the same
//! store and services as the server, never over HTTP.

pub mod graphql_schema;
pub mod reindex;
