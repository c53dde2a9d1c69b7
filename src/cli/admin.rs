//! What every admin subcommand does, written once: `execute` runs a `Request` against an opened
//! data directory, whether the `nexus` command opened it itself (no server running) or a
//! running server received the request over its local socket (see `socket`).

use std::io::Write;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::backup::Progress;
use crate::config::Config;
use crate::domain::user::Role;
use crate::domain::{DomainError, SessionId};
use crate::search::SearchIndex;
use crate::service::backup::Requester;
use crate::service::users::{AdminUpdateInput, CreateUserInput};
use crate::service::{Principal, Services};
use crate::store::{Store, UserFilter, UserOrder};

/// One admin action, as the command line asks for it (and sends it over the local socket).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// `nexus user create`.
    UserCreate {
        /// The new username.
        username: String,
        /// Its role.
        role: Role,
        /// Its email (`USERNAME@localhost` when not given).
        email: Option<String>,
        /// Its password.
        password: String,
    },
    /// `nexus user set-password`.
    UserSetPassword {
        /// Whose.
        username: String,
        /// The new password.
        password: String,
    },
    /// `nexus user set-role`.
    UserSetRole {
        /// Whose.
        username: String,
        /// The new role.
        role: Role,
    },
    /// `nexus user deactivate`.
    UserDeactivate {
        /// Whom.
        username: String,
    },
    /// `nexus user list`.
    UserList,
    /// `nexus backup`: the archive goes to the data sink.
    Backup,
    /// `nexus export`: the export goes to the data sink.
    Export {
        /// JSON, or CSV files in a tar stream.
        format: super::export::Format,
    },
    /// `nexus import activities`.
    ImportActivities {
        /// The CSV file's text.
        csv: String,
        /// `field=Column,...`.
        map: String,
        /// Write them (else a dry run).
        commit: bool,
    },
    /// `nexus reindex`.
    Reindex,
    /// `nexus check`.
    Check,
    /// `nexus config check`: the server's effective settings and warnings.
    ConfigCheck,
}

impl Request {
    /// Whether the request writes an archive or an export to the data sink.
    pub fn has_data(&self) -> bool {
        matches!(self, Request::Backup | Request::Export { .. })
    }
}

/// What a request needs of an opened data directory.
#[derive(Clone)]
pub struct Handle {
    /// The services, as the API uses them.
    pub services: Services,
    /// The store under them.
    pub store: Arc<dyn Store>,
    /// The search index.
    pub index: SearchIndex,
    /// The effective settings.
    pub config: Config,
    /// Whether a server is serving this directory (its search index follows the log).
    pub serving: bool,
}

/// Where a request's output goes.
pub struct Output {
    /// Told what a long job is doing.
    pub progress: Progress,
    /// Receives an archive or export; written from a blocking thread.
    pub data: Box<dyn Write + Send>,
}

/// A request's one-line failure, for people.
pub type Failure = String;

/// Runs `request`; its one-line summary (or several lines, for a listing) on success.
pub async fn execute(handle: &Handle, request: Request, output: Output) -> Result<String, Failure> {
    let text = |e: DomainError| describe(&e);
    match request {
        Request::UserCreate {
            username,
            role,
            email,
            password,
        } => {
            let me = acting_admin(handle).await?;
            let input = CreateUserInput {
                email: email.unwrap_or_else(|| format!("{username}@localhost")),
                username,
                password,
                display_name: None,
                role,
            };
            let user = handle
                .services
                .users
                .create(&me, &handle.services.auth, input)
                .await
                .map_err(text)?;
            Ok(format!(
                "created user {} (id {}, role {})",
                user.username,
                user.id,
                role.as_str()
            ))
        }
        Request::UserSetPassword { username, password } => {
            let me = acting_admin(handle).await?;
            let user = find_user(handle, &username).await?;
            handle
                .services
                .users
                .set_password(&me, user.id, &password)
                .await
                .map_err(text)?;
            Ok(format!(
                "password of {} set; their sessions have ended",
                user.username
            ))
        }
        Request::UserSetRole { username, role } => {
            let me = acting_admin(handle).await?;
            let user = find_user(handle, &username).await?;
            let input = AdminUpdateInput {
                role: Some(role),
                ..AdminUpdateInput::default()
            };
            handle
                .services
                .users
                .update(&me, user.id, input)
                .await
                .map_err(text)?;
            Ok(format!("{} is now {}", user.username, role.as_str()))
        }
        Request::UserDeactivate { username } => {
            let me = acting_admin(handle).await?;
            let user = find_user(handle, &username).await?;
            let input = AdminUpdateInput {
                is_active: Some(false),
                ..AdminUpdateInput::default()
            };
            handle
                .services
                .users
                .update(&me, user.id, input)
                .await
                .map_err(text)?;
            Ok(format!(
                "{} is deactivated; their sessions have ended",
                user.username
            ))
        }
        Request::UserList => user_list(handle).await,
        Request::Backup => {
            let manifest = handle
                .services
                .backup
                .write(Requester::CommandLine, output.data, output.progress)
                .await
                .map_err(text)?;
            Ok(format!(
                "backup complete: {} rows in {} tables, {} bytes of data",
                manifest.total_rows(),
                manifest.tables.len(),
                manifest.total_bytes()
            ))
        }
        Request::Export { format } => {
            super::export::run(handle, format, output.data, output.progress).await
        }
        Request::ImportActivities { csv, map, commit } => {
            let me = acting_admin(handle).await?;
            super::import::activities(handle, &me, &csv, &map, commit).await
        }
        Request::Reindex => {
            let started = std::time::Instant::now();
            handle
                .index
                .rebuild(handle.store.as_ref())
                .await
                .map_err(text)?;
            Ok(format!(
                "reindexed {} objects in {:.1} s",
                handle.index.doc_count(),
                started.elapsed().as_secs_f64()
            ))
        }
        Request::Check => check(handle, output.progress).await,
        Request::ConfigCheck => {
            Ok(super::config_check::report(&handle.config, Some(&handle.store)).await)
        }
    }
}

/// A domain error as one line.
fn describe(e: &DomainError) -> String {
    match e {
        DomainError::Validation { fields, .. } => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(field, messages)| format!("{field} {}", messages.join("; ")))
                .collect();
            format!("invalid: {}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

/// The command line acts with an admin's rights, for whoever owns the data directory; it is
/// recorded in the audit log as the oldest active admin, from the address `cli`.
async fn acting_admin(handle: &Handle) -> Result<Principal, Failure> {
    let admins = UserFilter {
        role: Some(Role::Admin),
        is_active: Some(true),
        ..UserFilter::default()
    };
    let (_, oldest) = handle
        .store
        .user_page(&admins, UserOrder::CreatedAt, false, 0, 1)
        .await
        .map_err(|e| e.to_string())?;
    let user = oldest
        .into_iter()
        .next()
        .ok_or("the data directory has no active admin")?;
    Ok(Principal {
        user,
        session_id: SessionId(0),
        ip: Some("cli".into()),
        key: None,
    })
}

async fn find_user(handle: &Handle, username: &str) -> Result<crate::domain::user::User, Failure> {
    handle
        .store
        .user_by_username(username)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user named {username}"))
}

async fn user_list(handle: &Handle) -> Result<String, Failure> {
    const PAGE: usize = 500;
    let mut lines = vec![format!(
        "{:>6}  {:<32}  {:<5}  {:<8}  {}",
        "ID", "USERNAME", "ROLE", "ACTIVE", "EMAIL"
    )];
    let mut offset = 0;
    loop {
        let (count, users) = handle
            .store
            .user_page(
                &UserFilter::default(),
                UserOrder::Username,
                false,
                offset,
                PAGE,
            )
            .await
            .map_err(|e| e.to_string())?;
        for u in &users {
            lines.push(format!(
                "{:>6}  {:<32}  {:<5}  {:<8}  {}",
                u.id.0,
                u.username,
                u.role.as_str(),
                if u.is_active { "yes" } else { "no" },
                u.email
            ));
        }
        offset += users.len();
        if users.len() < PAGE || offset >= count {
            lines.push(format!("{offset} users"));
            return Ok(lines.join("\n"));
        }
    }
}

/// The database copied as one moment and checked on its own (every row read, the copy's
/// integrity), then the search index against the database.
async fn check(handle: &Handle, progress: Progress) -> Result<String, Failure> {
    let work = tempfile::Builder::new()
        .prefix(".check-")
        .tempdir_in(&handle.config.server.data_dir)
        .map_err(|e| format!("cannot make a working directory: {e}"))?;
    let copy = work.path().join(crate::store::snapshot::DB_FILE);
    let tables = handle
        .store
        .snapshot(&copy, crate::backup::copy_progress(progress.clone()))
        .await
        .map_err(|e| format!("the database does not read back whole: {e}"))?;
    progress("integrity check", 0);
    let checked = tokio::task::spawn_blocking(move || crate::store::snapshot::verify_file(&copy))
        .await
        .map_err(|e| e.to_string())??;
    if checked != tables {
        return Err("the database's copy differs from it: the file may be damaged".into());
    }
    progress("search index", 0);
    let last = handle.store.last_seq().await.map_err(|e| e.to_string())?;
    // A running server's index follows the log by itself; a stopped one's catches up here, as
    // it would on start.
    if handle.serving {
        handle
            .index
            .wait_for(last, std::time::Duration::from_secs(10))
            .await;
    } else {
        handle
            .index
            .catch_up(handle.store.as_ref())
            .await
            .map_err(|e| format!("the search index cannot catch up: {e}"))?;
    }
    let objects = handle
        .store
        .searchable_count()
        .await
        .map_err(|e| e.to_string())? as u64;
    let indexed = handle.index.doc_count();
    if indexed != objects {
        return Err(format!(
            "the search index holds {indexed} objects, the database {objects}; run `nexus reindex`"
        ));
    }
    Ok(format!(
        "check passed: {} rows in {} tables read and verified; the search index holds all {objects} searchable objects",
        tables.values().sum::<u64>(),
        tables.len()
    ))
}
