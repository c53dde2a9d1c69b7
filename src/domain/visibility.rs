//! Who may see and change what (API.md §Roles and visibility), as pure functions of an object's
//! visibility keys and the viewer. This is the one copy of the rules: REST reads and lists, the
//! store's list queries, realtime delivery, search (through the tags derived here from the same
//! keys), and every later adapter ask here.

use std::collections::BTreeSet;

use super::activity::Activity;
use super::andon::AndonCall;
use super::change::{ObjectKind, VisibilityKeys};
use super::chat::Message;
use super::handover::Handover;
use super::project::Project;
use super::shopfloor::{Asset, DowntimeEvent, DowntimeReason, ProductionCount, Shift};
use super::update::{Notification, Update};
use super::user::{Role, User};
use super::{ProjectId, UserId};

/// An object whose visibility follows from its keys.
pub trait Visible {
    /// Its kind.
    const KIND: ObjectKind;
    /// Its id.
    fn object_id(&self) -> u64;
    /// The keys that decide who may see it; also what the change log records with it.
    fn visibility_keys(&self) -> VisibilityKeys;
}

impl Visible for Activity {
    const KIND: ObjectKind = ObjectKind::Activity;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            project: self.project_id.map(|p| p.0),
            creator: Some(self.created_by.0),
            assignee: self.assigned_to.map(|u| u.0),
            parties: Vec::new(),
        }
    }
}

impl Visible for Project {
    const KIND: ObjectKind = ObjectKind::Project;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    /// The manager is the creator key, the team the parties.
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            project: Some(self.id.0),
            creator: Some(self.manager_id.0),
            assignee: None,
            parties: self.team_members.iter().map(|u| u.0).collect(),
        }
    }
}

impl Visible for Update {
    const KIND: ObjectKind = ObjectKind::Update;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            creator: Some(self.created_by.0),
            ..VisibilityKeys::default()
        }
    }
}

impl Visible for Notification {
    const KIND: ObjectKind = ObjectKind::Notification;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            parties: vec![self.recipient.0],
            ..VisibilityKeys::default()
        }
    }
}

impl Visible for Message {
    const KIND: ObjectKind = ObjectKind::Message;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    /// The sender is the creator; the parties are the sender and, for a direct message, the
    /// receiver.
    fn visibility_keys(&self) -> VisibilityKeys {
        let mut parties = vec![self.sender_id.0];
        parties.extend(self.receiver_id.map(|r| r.0));
        VisibilityKeys {
            project: self.project_id.map(|p| p.0),
            creator: Some(self.sender_id.0),
            assignee: None,
            parties,
        }
    }
}

/// The shop-floor objects: everyone signed in reads them (API.md §Shop floor); the keys of a
/// report carry who made it, for the change log's history.
impl Visible for Asset {
    const KIND: ObjectKind = ObjectKind::Asset;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            creator: None,
            ..VisibilityKeys::default()
        }
    }
}

impl Visible for crate::domain::machine_key::MachineKey {
    const KIND: ObjectKind = ObjectKind::MachineKey;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys::default()
    }
}

impl Visible for Shift {
    const KIND: ObjectKind = ObjectKind::Shift;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            creator: None,
            ..VisibilityKeys::default()
        }
    }
}

impl Visible for DowntimeReason {
    const KIND: ObjectKind = ObjectKind::DowntimeReason;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            creator: None,
            ..VisibilityKeys::default()
        }
    }
}

impl Visible for DowntimeEvent {
    const KIND: ObjectKind = ObjectKind::Downtime;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            creator: Some(self.reported_by.0),
            ..VisibilityKeys::default()
        }
    }
}

impl Visible for ProductionCount {
    const KIND: ObjectKind = ObjectKind::Production;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            creator: Some(self.reported_by.0),
            ..VisibilityKeys::default()
        }
    }
}

/// Handovers: everyone signed in reads them, drafts included (README §Shop floor); the writer
/// is the creator key, for the change log's history.
impl Visible for Handover {
    const KIND: ObjectKind = ObjectKind::Handover;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            creator: Some(self.written_by.0),
            ..VisibilityKeys::default()
        }
    }
}

impl Visible for AndonCall {
    const KIND: ObjectKind = ObjectKind::Andon;
    fn object_id(&self) -> u64 {
        self.id.0
    }
    fn visibility_keys(&self) -> VisibilityKeys {
        VisibilityKeys {
            creator: Some(self.raised_by.0),
            ..VisibilityKeys::default()
        }
    }
}

/// A caller as the visibility rules see them: who they are, whether their role sees every
/// project (admin and staff), and the projects they manage or are on the team of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    user: UserId,
    sees_all: bool,
    projects: BTreeSet<u64>,
}

impl Viewer {
    /// `user` with `role`, a member of `projects`.
    pub fn new(user: UserId, role: Role, projects: impl IntoIterator<Item = ProjectId>) -> Viewer {
        Viewer {
            user,
            sees_all: matches!(role, Role::Admin | Role::Staff),
            projects: projects.into_iter().map(|p| p.0).collect(),
        }
    }

    /// The signed-in user.
    pub fn user(&self) -> UserId {
        self.user
    }

    /// Admin or staff: every project, activity and room (never others' direct messages or
    /// notifications).
    pub fn sees_all(&self) -> bool {
        self.sees_all
    }

    /// The projects the user manages or is on the team of, ascending.
    pub fn projects(&self) -> impl Iterator<Item = ProjectId> + '_ {
        self.projects.iter().map(|p| ProjectId(*p))
    }

    /// Whether the user manages or is on the team of `project`.
    pub fn in_project(&self, project: u64) -> bool {
        self.projects.contains(&project)
    }

    /// Keeps memberships current as project changes go by (realtime): `involved` is whether
    /// the user is the project's manager or on its team after the change.
    pub fn set_membership(&mut self, project: u64, involved: bool) {
        if involved {
            self.projects.insert(project);
        } else {
            self.projects.remove(&project);
        }
    }

    /// Whether the viewer may see an object of `kind` with `keys`: the rule of API.md §Roles.
    pub fn may_see(&self, kind: ObjectKind, keys: &VisibilityKeys) -> bool {
        let me = self.user.0;
        match kind {
            ObjectKind::Activity => {
                self.sees_all
                    || keys.creator == Some(me)
                    || keys.assignee == Some(me)
                    || keys.project.is_none_or(|p| self.in_project(p))
            }
            ObjectKind::Project => self.sees_all || is_project_member(me, keys),
            ObjectKind::Update
            | ObjectKind::Asset
            | ObjectKind::Shift
            | ObjectKind::DowntimeReason
            | ObjectKind::Downtime
            | ObjectKind::Production
            | ObjectKind::Handover
            | ObjectKind::Andon => true,
            ObjectKind::Notification => keys.parties.contains(&me),
            // Who acknowledged what is for the update's author, admin and staff (API.md
            // §Acknowledged updates), and for the one who acknowledged.
            ObjectKind::UpdateAck => {
                self.sees_all || keys.creator == Some(me) || keys.parties.contains(&me)
            }
            ObjectKind::Message => match keys.project {
                Some(p) => self.sees_all || self.in_project(p),
                None => keys.parties.contains(&me),
            },
            // Users are read through the directory, never as objects of this rule; keys only by
            // an admin through their own endpoints.
            ObjectKind::User | ObjectKind::MachineKey => false,
        }
    }

    /// Whether the viewer may see `object`.
    pub fn sees<T: Visible>(&self, object: &T) -> bool {
        self.may_see(T::KIND, &object.visibility_keys())
    }

    /// The search tags this viewer holds: a document is visible when it carries one of them
    /// (see `search_tags`).
    pub fn search_tags(&self) -> Vec<String> {
        let mut tags = vec![ALL.to_string(), format!("u:{}", self.user.0)];
        if self.sees_all {
            tags.push(STAFF.to_string());
        }
        tags.extend(self.projects.iter().map(|p| format!("p:{p}")));
        tags
    }
}

/// Whether `user` manages (the creator key) or is on the team of (the parties) the project
/// with `keys`.
pub fn is_project_member(user: u64, keys: &VisibilityKeys) -> bool {
    keys.creator == Some(user) || keys.parties.contains(&user)
}

/// The tag every viewer holds.
const ALL: &str = "all";
/// The tag admin and staff hold.
const STAFF: &str = "staff";

/// The search tags of an object of `kind` with `keys`: `all` for everyone, `staff` for admin
/// and staff, `u:{id}` for one user, `p:{id}` for the manager and team of a project (a project
/// itself is tagged with its people, whose keys it carries). The same
/// rule as `Viewer::may_see`, in the form an index can filter on (a test checks they agree).
pub fn search_tags(kind: ObjectKind, keys: &VisibilityKeys) -> Vec<String> {
    let user = |id: u64| format!("u:{id}");
    let project = |id: u64| format!("p:{id}");
    let mut tags = Vec::new();
    match kind {
        ObjectKind::Activity => {
            tags.push(STAFF.to_string());
            tags.extend(keys.creator.map(user));
            tags.extend(keys.assignee.map(user));
            tags.push(keys.project.map_or_else(|| ALL.to_string(), project));
        }
        ObjectKind::Project => {
            tags.push(STAFF.to_string());
            tags.extend(keys.creator.map(user));
            tags.extend(keys.parties.iter().copied().map(user));
        }
        ObjectKind::Update
        | ObjectKind::Asset
        | ObjectKind::Shift
        | ObjectKind::DowntimeReason
        | ObjectKind::Downtime
        | ObjectKind::Production
        | ObjectKind::Handover
        | ObjectKind::Andon => tags.push(ALL.to_string()),
        ObjectKind::Notification => tags.extend(keys.parties.iter().copied().map(user)),
        ObjectKind::UpdateAck => {
            tags.push(STAFF.to_string());
            tags.extend(keys.creator.map(user));
            tags.extend(keys.parties.iter().copied().map(user));
        }
        ObjectKind::Message => match keys.project {
            Some(p) => {
                tags.push(STAFF.to_string());
                tags.push(project(p));
            }
            None => tags.extend(keys.parties.iter().copied().map(user)),
        },
        ObjectKind::User | ObjectKind::MachineKey => {}
    }
    tags
}

/// Admins and staff.
pub fn is_staff(user: &User) -> bool {
    matches!(user.role, Role::Admin | Role::Staff)
}

/// Admins.
pub fn is_admin(user: &User) -> bool {
    user.role == Role::Admin
}

/// Whether `viewer` may see `user`'s email: admins, and the user themselves.
pub fn can_see_email(viewer: &User, user: &User) -> bool {
    is_admin(viewer) || viewer.id == user.id
}

/// Whether `user` may see `project` (its keys alone decide, so no memberships are needed).
pub fn can_see_project(user: &User, project: &Project) -> bool {
    Viewer::new(user.id, user.role, []).sees(project)
}

/// Whether `user` may change `project` and its team.
pub fn can_change_project(user: &User, project: &Project) -> bool {
    is_admin(user) || project.manager_id == user.id
}

/// Whether `user` may create an activity in `project` (`None`: no project): anyone who may
/// see the project.
pub fn can_create_activity(user: &User, project: Option<&Project>) -> bool {
    project.is_none_or(|p| can_see_project(user, p))
}

/// Whether `user` may change `activity` (they can already see it).
pub fn can_change_activity(user: &User, activity: &Activity) -> bool {
    is_staff(user) || activity.created_by == user.id || activity.assigned_to == Some(user.id)
}

/// Whether `user` may delete `activity` (they can already see it).
pub fn can_delete_activity(user: &User, activity: &Activity) -> bool {
    is_staff(user) || activity.created_by == user.id
}

/// Whether `user` may change the plant's assets and downtime reasons, and edit or delete
/// downtime events and production counts others report: admin and staff.
pub fn can_manage_shop_floor(user: &User) -> bool {
    is_staff(user)
}

/// Whether `user` may define shifts: admins.
pub fn can_manage_shifts(user: &User) -> bool {
    is_admin(user)
}

/// Whether `user` may end `event` (anyone may report and end a stop; API.md §Shop floor).
pub fn can_end_downtime(_user: &User, _event: &DowntimeEvent) -> bool {
    true
}

/// Whether `user` may write (edit, submit) `handover`: its writer only.
pub fn can_write_handover(user: &User, handover: &Handover) -> bool {
    handover.written_by == user.id
}

/// Whether `user` may delete `handover`: its writer, or an admin.
pub fn can_delete_handover(user: &User, handover: &Handover) -> bool {
    handover.written_by == user.id || is_admin(user)
}

/// Whether `user` may acknowledge `handover`: anyone but its writer.
pub fn can_acknowledge_handover(user: &User, handover: &Handover) -> bool {
    handover.written_by != user.id
}

/// Whether `user` may acknowledge and resolve andon calls: admin and staff (anyone raises one).
pub fn can_answer_andon(user: &User) -> bool {
    is_staff(user)
}

/// Whether `user` may delete `message` (they can already see it).
pub fn can_delete_message(user: &User, message: &Message) -> bool {
    is_admin(user) || message.sender_id == user.id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of keys over three users and two projects, for every kind and every
    /// viewer: the tags an index filters on must give the same answer as the rule itself.
    #[test]
    fn search_tags_agree_with_may_see() {
        let users = [None, Some(1u64), Some(2), Some(3)];
        let projects = [None, Some(10u64), Some(20)];
        let parties: [&[u64]; 4] = [&[], &[1], &[2, 3], &[1, 2]];
        let mut checked = 0;
        for kind in ObjectKind::ALL {
            for role in [Role::Admin, Role::Staff, Role::User] {
                for mine in [&[][..], &[10][..], &[10, 20][..]] {
                    let viewer = Viewer::new(UserId(1), role, mine.iter().map(|p| ProjectId(*p)));
                    let held = viewer.search_tags();
                    for creator in users {
                        for assignee in users {
                            for project in projects {
                                for party in parties {
                                    let keys = VisibilityKeys {
                                        project,
                                        creator,
                                        assignee,
                                        parties: party.to_vec(),
                                    };
                                    let by_tags =
                                        search_tags(kind, &keys).iter().any(|t| held.contains(t));
                                    assert_eq!(
                                        by_tags,
                                        viewer.may_see(kind, &keys),
                                        "{kind} {role:?} member of {mine:?}, keys {keys:?}"
                                    );
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn staff_never_see_others_direct_messages_or_notifications() {
        let staff = Viewer::new(UserId(1), Role::Staff, []);
        let direct = VisibilityKeys {
            creator: Some(2),
            parties: vec![2, 3],
            ..VisibilityKeys::default()
        };
        assert!(!staff.may_see(ObjectKind::Message, &direct));
        let notification = VisibilityKeys {
            parties: vec![2],
            ..VisibilityKeys::default()
        };
        assert!(!staff.may_see(ObjectKind::Notification, &notification));
        let room = VisibilityKeys {
            project: Some(7),
            creator: Some(2),
            parties: vec![2],
            ..VisibilityKeys::default()
        };
        assert!(staff.may_see(ObjectKind::Message, &room));
    }
}
