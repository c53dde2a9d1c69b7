//! Who may see what: the rules of `domain::visibility`, plus what needs the store to answer
//! (a caller's projects).

pub use crate::domain::visibility::*;

use crate::domain::DomainError;
use crate::service::Principal;
use crate::store::Store;

/// The caller as the rules see them: staff see all, a user sees through their projects.
pub async fn viewer(store: &dyn Store, principal: &Principal) -> Result<Viewer, DomainError> {
    if is_staff(&principal.user) {
        Ok(Viewer::All)
    } else {
        Ok(Viewer::Member {
            user: principal.user.id,
            projects: store.projects_of(principal.user.id).await?,
        })
    }
}
