//! Integration tests: the real server on port 0 with a temporary data directory, spoken to over
//! HTTP as a client would. One test binary, one module per area, to keep link time down.

mod common;
mod process;

mod activities;
mod andon;
mod audit;
mod auth;
mod chat;
mod cli;
mod contract_gaps;
mod crash;
mod disk;
mod errors;
mod fuzz;
mod fuzz_regressions;
mod graphql;
mod handovers;
mod health;
mod keys;
mod limits;
mod metrics;
mod old_data;
mod openapi_document;
mod projects;
mod realtime;
mod search;
mod security;
mod shopfloor;
mod startup;
mod systemd;
mod tls;
mod ui;
mod update_acks;
mod updates;
mod users;
mod visibility_matrix;
