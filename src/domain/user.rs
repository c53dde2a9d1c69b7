//! Users: roles, profiles, and the rules for usernames, emails and passwords.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{FieldErrors, push_field};
use super::ids::UserId;
use super::time::{Timestamp, rfc3339};

/// What a user may do; see API.md §Roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including user management and the audit log.
    Admin,
    /// Sees and changes all shop-floor work.
    Staff,
    /// Sees what concerns them.
    User,
}

impl Role {
    /// The name used in JSON and tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::User => "user",
        }
    }

    /// Parses a role name as used in JSON and query strings.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// Shop-floor details a user keeps about themselves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Profile {
    /// e.g. "Line lead".
    pub job_title: String,
    /// e.g. "Assembly".
    pub department: String,
    /// Contact number.
    pub phone: String,
    /// e.g. "night".
    pub shift: String,
}

/// A change to some profile fields (each at most 100 characters); absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ProfilePatch {
    /// New job title.
    #[schema(max_length = 100)]
    pub job_title: Option<String>,
    /// New department.
    #[schema(max_length = 100)]
    pub department: Option<String>,
    /// New phone.
    #[schema(max_length = 100)]
    pub phone: Option<String>,
    /// New shift.
    #[schema(max_length = 100)]
    pub shift: Option<String>,
}

impl ProfilePatch {
    /// Applies the given fields to `profile`.
    pub fn apply(self, profile: &mut Profile) {
        if let Some(v) = self.job_title {
            profile.job_title = v;
        }
        if let Some(v) = self.department {
            profile.department = v;
        }
        if let Some(v) = self.phone {
            profile.phone = v;
        }
        if let Some(v) = self.shift {
            profile.shift = v;
        }
    }

    /// Field-level checks (length).
    pub fn validate(&self, fields: &mut FieldErrors) {
        for (name, value) in [
            ("profile.job_title", &self.job_title),
            ("profile.department", &self.department),
            ("profile.phone", &self.phone),
            ("profile.shift", &self.shift),
        ] {
            if let Some(v) = value
                && v.chars().count() > 100
            {
                push_field(fields, name, "must be at most 100 characters");
            }
        }
    }
}

/// A user as stored, password hash included. Never serialised to clients as is, and its
/// `Debug` leaves the hash out.
#[derive(Clone, Serialize, Deserialize)]
pub struct User {
    /// Server-assigned id.
    pub id: UserId,
    /// Unique case-insensitively; 3–32 of `[A-Za-z0-9_.-]`.
    pub username: String,
    /// Unique case-insensitively.
    pub email: String,
    /// Shown name.
    pub display_name: String,
    /// What they may do.
    pub role: Role,
    /// Inactive users cannot sign in and their tokens stop working.
    pub is_active: bool,
    /// Shop-floor details.
    #[serde(default)]
    pub profile: Profile,
    /// argon2id PHC string.
    pub password_hash: String,
    /// When created.
    #[serde(with = "rfc3339")]
    pub created_at: Timestamp,
    /// When last changed.
    #[serde(with = "rfc3339")]
    pub updated_at: Timestamp,
}

/// Stands for a secret in `Debug` output, so a log line never carries a hash or token.
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("is_active", &self.is_active)
            .field("profile", &self.profile)
            .field("password_hash", &Redacted)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// The lower-cased key that makes usernames and emails unique case-insensitively.
pub fn unique_key(s: &str) -> String {
    s.to_lowercase()
}

/// Checks a username: 3–32 of `[A-Za-z0-9_.-]`.
pub fn validate_username(username: &str, fields: &mut FieldErrors) {
    let n = username.chars().count();
    if !(3..=32).contains(&n) {
        push_field(fields, "username", "must be 3 to 32 characters");
    } else if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        push_field(
            fields,
            "username",
            "may contain only letters, digits, '_', '.' and '-'",
        );
    }
}

/// Checks an email address for the shape `local@domain`.
pub fn validate_email(email: &str, fields: &mut FieldErrors) {
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if !valid {
        push_field(fields, "email", "must be a valid email address");
    }
}

/// Checks a password: 10 to 256 characters.
pub fn validate_password(field: &str, password: &str, fields: &mut FieldErrors) {
    let n = password.chars().count();
    if n < 10 {
        push_field(fields, field, "must be at least 10 characters");
    } else if n > 256 {
        push_field(fields, field, "must be at most 256 characters");
    }
}

/// Checks a display name: at most 100 characters, no control characters.
pub fn validate_display_name(name: &str, fields: &mut FieldErrors) {
    if name.chars().count() > 100 {
        push_field(fields, "display_name", "must be at most 100 characters");
    } else if name.chars().any(char::is_control) {
        push_field(
            fields,
            "display_name",
            "must not contain control characters",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(f: impl FnOnce(&mut FieldErrors)) -> FieldErrors {
        let mut fields = FieldErrors::new();
        f(&mut fields);
        fields
    }

    #[test]
    fn usernames_follow_the_contract() {
        for ok in ["abc", "line.lead-2_a", &"a".repeat(32)] {
            assert!(errors(|f| validate_username(ok, f)).is_empty(), "{ok}");
        }
        for bad in ["ab", &"a".repeat(33), "with space", "ümlaut", "a/b"] {
            assert!(!errors(|f| validate_username(bad, f)).is_empty(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_10_to_256_characters() {
        assert!(!errors(|f| validate_password("password", "123456789", f)).is_empty());
        assert!(errors(|f| validate_password("password", "1234567890", f)).is_empty());
        assert!(errors(|f| validate_password("password", &"x".repeat(256), f)).is_empty());
        assert!(!errors(|f| validate_password("password", &"x".repeat(257), f)).is_empty());
    }

    #[test]
    fn emails_need_local_and_domain() {
        assert!(errors(|f| validate_email("a@b.c", f)).is_empty());
        for bad in ["", "ab", "@b", "a@", "a b@c", "a@b@c", "a@.b"] {
            assert!(!errors(|f| validate_email(bad, f)).is_empty(), "{bad}");
        }
    }
}
