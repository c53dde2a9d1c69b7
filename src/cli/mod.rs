//! Admin subcommands of the `nexus` binary. Each works on a data directory through the same
//! store and services as the server: directly when no server runs there, and through the
//! running server's local socket when one does (`socket`). What each does is written once,
//! in `admin`.

pub mod admin;
pub mod commands;
pub mod config_check;
pub mod export;
pub mod graphql_schema;
pub mod import;
pub mod progress;
pub mod socket;
