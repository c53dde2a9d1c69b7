//! Who may see what (API.md §Roles and visibility). Every adapter asks here.

use crate::domain::user::{Role, User};

/// Whether `viewer` may see `user`'s email: admins, and the user themselves.
pub fn can_see_email(viewer: &User, user: &User) -> bool {
    viewer.role == Role::Admin || viewer.id == user.id
}
