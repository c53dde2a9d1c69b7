//! One module per page (or group of pages), and what several of them look up.

pub mod activities;
pub mod admin;
pub mod andon;
pub mod board;
pub mod chat;
pub mod dashboard;
pub mod errors;
pub mod handovers;
pub mod keys;
pub mod login;
pub mod notifications;
pub mod profile;
pub mod projects;
pub mod search;
pub mod shopfloor;
pub mod updates;

use std::collections::HashMap;

use crate::domain::{ProjectId, UserId};
use crate::http::AppState;
use crate::service::Principal;
use crate::service::pagination::PageRequest;
use crate::service::projects::ProjectQuery;
use crate::service::users::UserQuery;

/// Display names of `ids`, for showing who; an id that no longer resolves shows as `#id`.
pub async fn user_names(
    state: &AppState,
    me: &Principal,
    ids: Vec<UserId>,
) -> HashMap<UserId, String> {
    let mut names = HashMap::new();
    for id in ids {
        if names.contains_key(&id) {
            continue;
        }
        let name = match state.services.users.get(me, id).await {
            Ok(user) => user.display_name,
            Err(_) => format!("#{}", id.0),
        };
        names.insert(id, name);
    }
    names
}

/// Names of the projects among `ids` that `me` may see; hidden ones are left out.
pub async fn project_names(
    state: &AppState,
    me: &Principal,
    ids: Vec<ProjectId>,
) -> HashMap<ProjectId, String> {
    let mut names = HashMap::new();
    for id in ids {
        if names.contains_key(&id) {
            continue;
        }
        if let Ok(project) = state.services.projects.get(me, id).await {
            names.insert(id, project.name);
        }
    }
    names
}

/// The most rows a choice list offers; beyond it, a list needs a search box.
const CHOICES: usize = 200;

/// Active users as `(id, display name (username))` choices, by username.
pub async fn user_choices(state: &AppState, me: &Principal) -> Vec<(String, String)> {
    let query = UserQuery {
        is_active: Some(true),
        ..UserQuery::default()
    };
    let page = PageRequest {
        page: 1,
        page_size: CHOICES,
    };
    match state.services.users.list(me, query, page).await {
        Ok(page) => page
            .results
            .into_iter()
            .map(|u| {
                (
                    u.id.0.to_string(),
                    format!("{} ({})", u.display_name, u.username),
                )
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The projects `me` may see, as `(id, name)` choices.
pub async fn project_choices(state: &AppState, me: &Principal) -> Vec<(String, String)> {
    let page = PageRequest {
        page: 1,
        page_size: CHOICES,
    };
    match state
        .services
        .projects
        .list(me, ProjectQuery::default(), page)
        .await
    {
        Ok(page) => page
            .results
            .into_iter()
            .map(|p| (p.id.0.to_string(), p.name))
            .collect(),
        Err(_) => Vec::new(),
    }
}
