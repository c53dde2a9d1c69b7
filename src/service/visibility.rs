//! Who may see what: the rules of `domain::visibility`, plus what needs the store to answer
//! (a caller's projects).

pub use crate::domain::visibility::*;

use crate::domain::DomainError;
use crate::domain::user::User;
use crate::service::Principal;
use crate::store::Store;

/// The caller as the rules see them, with the projects they manage or are on the team of.
pub async fn viewer(store: &dyn Store, principal: &Principal) -> Result<Viewer, DomainError> {
    viewer_of(store, &principal.user).await
}

/// `user` as the rules see them. Admin and staff see every project's objects whatever their
/// memberships, so theirs are not read.
pub async fn viewer_of(store: &dyn Store, user: &User) -> Result<Viewer, DomainError> {
    let projects = if is_staff(user) {
        Vec::new()
    } else {
        store.projects_of(user.id).await?
    };
    Ok(Viewer::new(user.id, user.role, projects))
}
