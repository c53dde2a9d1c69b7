//! The schema file's agreement with the code, and the proof that relations load in batches:
//! a store decorator counts every call the services make while a page is resolved.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{schema, sdl, with_caller};
use crate::config::Config;
use crate::domain::activity::{Activity, ActivityStatus, ActivityType, Priority};
use crate::domain::audit::AuditEntry;
use crate::domain::change::{ChangeEntry, ObjectKind};
use crate::domain::chat::{Conversation, Message};
use crate::domain::project::{Project, ProjectStatus};
use crate::domain::time::{self, Timestamp};
use crate::domain::update::{Notification, Update};
use crate::domain::user::{Role, User};
use crate::domain::{ActivityId, MessageId, ProjectId, SessionId, UpdateId, UserId};
use crate::events::EventBus;
use crate::service::{Principal, Services};
use crate::store::*;

#[test]
fn the_committed_schema_file_is_the_schema_of_the_code() {
    let committed = include_str!("../../docs/schema.graphql");
    assert!(
        committed == sdl(),
        "docs/schema.graphql differs from the schema in the code; \
         run `nexus graphql-schema > docs/schema.graphql` and commit it"
    );
}

/// A store that records the name of every call before passing it on.
struct Counting {
    inner: Arc<dyn Store>,
    calls: Mutex<Vec<&'static str>>,
}

impl Counting {
    fn count(&self, name: &'static str) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(name);
    }

    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Implements a store trait for `Counting` by counting and forwarding each method.
macro_rules! forward {
    ($trait:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl $trait for Counting {
            $(async fn $name(&self $(, $arg: $ty)*) -> $ret {
                self.count(stringify!($name));
                self.inner.$name($($arg),*).await
            })*
        }
    };
}

forward!(UserStore {
    fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    fn create_first_user(&self, user: NewUser) -> Result<Option<User>, StoreError>;
    fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError>;
    fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    fn user_page(&self, filter: &UserFilter, order: UserOrder, descending: bool, offset: usize, limit: usize) -> Result<(usize, Vec<User>), StoreError>;
    fn user_ids(&self, filter: &UserFilter) -> Result<Vec<UserId>, StoreError>;
    fn update_user(&self, id: UserId, changes: UserChanges) -> Result<User, StoreError>;
});
forward!(SessionStore {
    fn create_session(&self, user_id: UserId, expires_at: Timestamp) -> Result<Session, StoreError>;
    fn session_with_user(&self, id: SessionId) -> Result<Option<(Session, User)>, StoreError>;
    fn rotate_refresh(&self, id: SessionId, generation: u64, expires_at: Timestamp) -> Result<RefreshOutcome, StoreError>;
    fn extend_session(&self, id: SessionId, expires_at: Timestamp) -> Result<bool, StoreError>;
    fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError>;
    fn revoke_user_sessions(&self, user_id: UserId, keep: Option<SessionId>) -> Result<usize, StoreError>;
});
forward!(ActivityStore {
    fn activity(&self, id: ActivityId) -> Result<Option<Activity>, StoreError>;
    fn activities(&self, viewer: &Viewer, filter: &ActivityFilter, order: ActivityOrder, descending: bool, offset: usize, limit: usize) -> Result<(usize, Vec<Activity>), StoreError>;
    fn activity_ids(&self, viewer: &Viewer, filter: &ActivityFilter, order: ActivityOrder, descending: bool) -> Result<Vec<ActivityId>, StoreError>;
    fn activities_by_ids(&self, ids: &[ActivityId]) -> Result<Vec<Activity>, StoreError>;
});
forward!(ProjectStore {
    fn project(&self, id: ProjectId) -> Result<Option<Project>, StoreError>;
    fn project_page(&self, viewer: &Viewer, filter: &ProjectFilter, order: ProjectOrder, descending: bool, offset: usize, limit: usize) -> Result<(usize, Vec<Project>), StoreError>;
    fn projects_of(&self, user: UserId) -> Result<Vec<ProjectId>, StoreError>;
    fn projects_by_ids(&self, ids: &[ProjectId]) -> Result<Vec<Project>, StoreError>;
});
forward!(UpdateStore {
    fn update(&self, id: UpdateId) -> Result<Option<Update>, StoreError>;
    fn update_page(&self, filter: &UpdateFilter, order: UpdateOrder, descending: bool, offset: usize, limit: usize) -> Result<(usize, Vec<Update>), StoreError>;
    fn notification_page(&self, user: UserId, unread_only: bool, offset: usize, limit: usize) -> Result<(usize, Vec<Notification>), StoreError>;
    fn prune_notifications(&self, before: Timestamp, max: usize) -> Result<usize, StoreError>;
    fn update_acks(&self, update: UpdateId) -> Result<Vec<(UserId, Timestamp)>, StoreError>;
    fn acked_at(&self, user: UserId, updates: &[UpdateId]) -> Result<Vec<Option<Timestamp>>, StoreError>;
    fn pending_ack_page(&self, user: UserId, offset: usize, limit: usize) -> Result<(usize, Vec<Update>), StoreError>;
    fn ack_reminders_due(&self, required_since: Timestamp, max: usize) -> Result<Vec<UpdateId>, StoreError>;
});
forward!(ChatStore {
    fn message(&self, id: MessageId) -> Result<Option<Message>, StoreError>;
    fn messages(&self, user: UserId, conversation: Conversation, before: Option<MessageId>, offset: usize, limit: usize) -> Result<MessagePage, StoreError>;
    fn conversations(&self, user: UserId, rooms: Rooms<'_>) -> Result<Vec<ConversationSummary>, StoreError>;
});
forward!(ShopfloorStore {
    fn asset(&self, id: crate::domain::AssetId) -> Result<Option<crate::domain::shopfloor::Asset>, StoreError>;
    fn asset_page(&self, filter: &AssetFilter, offset: usize, limit: usize) -> Result<(usize, Vec<crate::domain::shopfloor::Asset>), StoreError>;
    fn asset_subtree(&self, id: crate::domain::AssetId) -> Result<Vec<crate::domain::AssetId>, StoreError>;
    fn asset_has_children(&self, id: crate::domain::AssetId) -> Result<bool, StoreError>;
    fn shifts(&self) -> Result<Vec<crate::domain::shopfloor::Shift>, StoreError>;
    fn shift(&self, id: crate::domain::ShiftId) -> Result<Option<crate::domain::shopfloor::Shift>, StoreError>;
    fn reason(&self, id: crate::domain::ReasonId) -> Result<Option<crate::domain::shopfloor::DowntimeReason>, StoreError>;
    fn reason_page(&self, offset: usize, limit: usize) -> Result<(usize, Vec<crate::domain::shopfloor::DowntimeReason>), StoreError>;
    fn downtime(&self, id: crate::domain::DowntimeId) -> Result<Option<crate::domain::shopfloor::DowntimeEvent>, StoreError>;
    fn downtime_page(&self, filter: &DowntimeFilter, offset: usize, limit: usize) -> Result<(usize, Vec<crate::domain::shopfloor::DowntimeEvent>), StoreError>;
    fn stops_between(&self, asset: crate::domain::AssetId, from: i64, to: i64) -> Result<Vec<StopSpan>, StoreError>;
    fn production(&self, id: crate::domain::ProductionId) -> Result<Option<crate::domain::shopfloor::ProductionCount>, StoreError>;
    fn production_page(&self, filter: &ProductionFilter, offset: usize, limit: usize) -> Result<(usize, Vec<crate::domain::shopfloor::ProductionCount>), StoreError>;
    fn counts_between(&self, asset: crate::domain::AssetId, from: i64, to: i64) -> Result<Vec<CountSpan>, StoreError>;
});
forward!(MachineKeyStore {
    fn machine_key(&self, id: crate::domain::KeyId) -> Result<Option<crate::domain::machine_key::MachineKey>, StoreError>;
    fn machine_key_by_hash(&self, secret_hash: &str) -> Result<Option<crate::domain::machine_key::MachineKey>, StoreError>;
    fn machine_key_page(&self, offset: usize, limit: usize) -> Result<(Vec<crate::domain::machine_key::MachineKey>, usize), StoreError>;
    fn touch_machine_keys(&self, used: Vec<(crate::domain::KeyId, Timestamp)>) -> Result<(), StoreError>;
});
forward!(HandoverStore {
    fn handover(&self, id: crate::domain::HandoverId) -> Result<Option<crate::domain::handover::Handover>, StoreError>;
    fn handover_page(&self, filter: &HandoverFilter, offset: usize, limit: usize) -> Result<(usize, Vec<crate::domain::handover::Handover>), StoreError>;
    fn handovers_due(&self, submitted_by: Timestamp, limit: usize) -> Result<Vec<crate::domain::handover::Handover>, StoreError>;
});
forward!(AndonStore {
    fn andon(&self, id: crate::domain::AndonId) -> Result<Option<crate::domain::andon::AndonCall>, StoreError>;
    fn andon_page(&self, filter: &AndonFilter, offset: usize, limit: usize) -> Result<(usize, Vec<crate::domain::andon::AndonCall>), StoreError>;
    fn open_andon_calls(&self, raised_by: Timestamp) -> Result<Vec<OpenCall>, StoreError>;
});
forward!(AuditStore {
    fn audit_page(&self, filter: &AuditFilter, offset: usize, limit: usize) -> Result<(usize, Vec<AuditEntry>), StoreError>;
    fn prune_audit(&self, before: Timestamp, max: usize) -> Result<usize, StoreError>;
});
forward!(ChangeLog {
    fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<ChangeEntry>, StoreError>;
    fn object_changes(&self, kind: ObjectKind, id: u64, limit: usize) -> Result<Vec<ChangeEntry>, StoreError>;
    fn last_seq(&self) -> Result<u64, StoreError>;
    fn first_seq(&self) -> Result<Option<u64>, StoreError>;
    fn compact_changes(&self, keep_entries: u64, keep_since: Timestamp, floor: u64, max: usize) -> Result<usize, StoreError>;
});
forward!(SearchSource {
    fn searchable_count(&self) -> Result<usize, StoreError>;
    fn searchable_objects(&self, kind: ObjectKind, after: u64, limit: usize) -> Result<Vec<ChangeEntry>, StoreError>;
});
forward!(SnapshotStore {
    fn snapshot(&self, dest: &std::path::Path, progress: snapshot::CopyProgress) -> Result<snapshot::TableCounts, StoreError>;
    fn exported_rows(&self, kind: &str, after: u64, limit: usize) -> Result<Vec<(u64, serde_json::Value)>, StoreError>;
});
forward!(Lifecycle {
    fn check(&self) -> Result<(), StoreError>;
    fn close(&self) -> ();
});

#[async_trait]
impl ChangesetStore for Counting {
    fn allocate_id(&self, kind: IdKind) -> u64 {
        self.inner.allocate_id(kind)
    }

    async fn apply(&self, changeset: Changeset) -> Result<Vec<ChangeEntry>, StoreError> {
        self.count("apply");
        self.inner.apply(changeset).await
    }
}

/// Services over a counting store in a temporary directory, with a `user` caller who sees
/// `rows` activities, each assigned to one of ten users and in one of ten projects.
struct Seeded {
    services: Services,
    principal: Principal,
    counting: Arc<Counting>,
    inner: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn seeded(rows: usize) -> Seeded {
    let dir = tempfile::tempdir().expect("temp dir");
    let bus = EventBus::new();
    let redb = crate::store::redb::RedbStore::open(dir.path(), bus.clone()).expect("store");
    let inner: Arc<dyn Store> = Arc::new(redb);
    let counting = Arc::new(Counting {
        inner: inner.clone(),
        calls: Mutex::default(),
    });
    let (index, _) = crate::search::SearchIndex::open(dir.path()).expect("index");
    let (_stop, stopping) = tokio::sync::watch::channel(false);
    let services = Services::new(
        &Config::default(),
        counting.clone(),
        &[7; 32],
        index,
        bus,
        stopping,
    )
    .expect("services");

    let person = |name: String, role| NewUser {
        email: format!("{name}@plant.test"),
        display_name: name.clone(),
        username: name,
        role,
        password_hash: "$argon2id$not-a-real-hash".into(),
    };
    let me = inner
        .create_user(person("viewer".into(), Role::User))
        .await
        .expect("user");
    let mut people = Vec::new();
    for i in 0..10 {
        let u = inner
            .create_user(person(format!("worker{i}"), Role::User))
            .await
            .expect("user");
        people.push(u.id);
    }
    let now = time::now();
    let mut changeset = Changeset::new();
    let mut projects = Vec::new();
    for (i, manager) in people.iter().enumerate() {
        let project = Project {
            id: ProjectId(inner.allocate_id(IdKind::Project)),
            name: format!("Line {i}"),
            description: String::new(),
            status: ProjectStatus::Active,
            start_date: None,
            end_date: None,
            manager_id: *manager,
            team_members: vec![me.id],
            created_at: now,
            updated_at: now,
        };
        projects.push(project.id);
        changeset.push(Write::PutProject(project, Expect::New, true));
    }
    for i in 0..rows {
        changeset.push(Write::PutActivity(
            Activity {
                id: ActivityId(inner.allocate_id(IdKind::Activity)),
                title: format!("Run {i}"),
                description: String::new(),
                activity_type: ActivityType::Production,
                status: ActivityStatus::Planned,
                priority: Priority::Medium,
                start_time: None,
                end_time: None,
                assigned_to: Some(people[i % 10]),
                created_by: people[(i + 1) % 10],
                project_id: Some(projects[(i + 3) % 10]),
                created_at: now,
                updated_at: now,
                version: 1,
            },
            Expect::New,
        ));
    }
    inner.apply(changeset).await.expect("seeded");

    let principal = Principal {
        user: me,
        session_id: SessionId(1),
        ip: None,
        key: None,
    };
    Seeded {
        services,
        principal,
        counting,
        inner,
        _dir: dir,
    }
}

/// The store calls one page of `rows` activities with nested relations makes.
async fn calls_for_a_page(rows: usize) -> Vec<&'static str> {
    let Seeded {
        services,
        principal,
        counting,
        inner,
        _dir,
    } = seeded(rows).await;
    let query = format!(
        "{{ activities(pageSize: {rows}) {{ count results {{ title \
         assignee {{ username }} project {{ name manager {{ username }} }} }} }} }}"
    );
    counting.take();
    let request = with_caller(async_graphql::Request::new(query), &services, principal);
    let response = schema().execute(request).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().expect("JSON");
    let results = data["activities"]["results"].as_array().expect("results");
    assert_eq!(results.len(), rows);
    assert!(
        results.iter().all(|r| r["assignee"]["username"].is_string()
            && r["project"]["manager"]["username"].is_string()),
        "every relation resolved: {data}"
    );
    let calls = counting.take();
    inner.close().await;
    calls
}

#[tokio::test]
async fn a_page_of_activities_with_nested_relations_reads_the_store_a_bounded_number_of_times() {
    let small = calls_for_a_page(20).await;
    let large = calls_for_a_page(200).await;
    // The viewer's projects, the page, its assignees, its projects, their managers.
    assert!(large.len() <= 6, "{} store calls: {large:?}", large.len());
    let (mut small_sorted, mut large_sorted) = (small.clone(), large.clone());
    small_sorted.sort_unstable();
    large_sorted.sort_unstable();
    assert_eq!(
        small_sorted, large_sorted,
        "the same calls for 20 rows as for 200"
    );
}

mod arbitrary {
    //! Arbitrary queries and mutations against the schema: none panics, and every error is
    //! one of the API's codes, never `internal`.

    use proptest::prelude::*;
    use proptest::test_runner::{Config as Cases, RngAlgorithm, TestRng, TestRunner};

    use super::seeded;
    use crate::graphql::error::finish;
    use crate::graphql::{schema, with_caller};

    const CODES: [&str; 6] = [
        "bad_request",
        "validation_error",
        "forbidden",
        "not_found",
        "conflict",
        "unavailable",
    ];

    /// The leaves and relations (name, arguments' kind, type) of each object type.
    fn fields(
        ty: &str,
    ) -> (
        &'static [&'static str],
        &'static [(&'static str, &'static str, &'static str)],
    ) {
        match ty {
            "Query" => (
                &["__typename"],
                &[
                    ("me", "", "User"),
                    ("activities", "page", "ActivityPage"),
                    ("projects", "page", "ProjectPage"),
                    ("users", "page", "UserPage"),
                    ("updates", "page", "UpdatePage"),
                    ("activity", "id", "Activity"),
                    ("project", "id", "Project"),
                    ("user", "id", "User"),
                ],
            ),
            "ActivityPage" => (&["count"], &[("results", "", "Activity")]),
            "ProjectPage" => (&["count"], &[("results", "", "Project")]),
            "UserPage" => (&["count"], &[("results", "", "User")]),
            "UpdatePage" => (&["count"], &[("results", "", "Update")]),
            "Activity" => (
                &[
                    "id",
                    "title",
                    "status",
                    "type",
                    "version",
                    "startTime",
                    "assignedTo",
                    "projectId",
                ],
                &[("assignee", "", "User"), ("project", "", "Project")],
            ),
            "Project" => (
                &["id", "name", "status", "teamMembers", "startDate"],
                &[
                    ("manager", "", "User"),
                    ("team", "", "User"),
                    ("activities", "page", "ActivityPage"),
                ],
            ),
            "User" => (
                &["id", "username", "email", "role", "isActive"],
                &[("activities", "page", "ActivityPage")],
            ),
            _ => (
                &["id", "title", "type", "priority"],
                &[("author", "", "User")],
            ),
        }
    }

    fn args(kind: &str) -> BoxedStrategy<String> {
        match kind {
            "id" => prop_oneof![
                (1u32..40).prop_map(|n| format!("(id: {n})")),
                any::<i64>().prop_map(|n| format!("(id: {n})")),
            ]
            .boxed(),
            "page" => prop_oneof![
                Just(String::new()),
                (-3i64..300).prop_map(|n| format!("(pageSize: {n})")),
                (any::<i32>(), 1i64..30).prop_map(|(p, s)| format!("(page: {p}, pageSize: {s})")),
                "-?[a-zA-Z_]{0,12}".prop_map(|o| format!("(ordering: {o:?})")),
                "[0-9T:Z-]{0,20}".prop_map(|t| format!("(filter: {{startAfter: {t:?}}})")),
                "[a-z:*\"() -]{0,16}".prop_map(|q| format!("(filter: {{q: {q:?}}})")),
            ]
            .boxed(),
            _ => Just(String::new()).boxed(),
        }
    }

    /// A selection set on `ty`, relations nesting at most `depth` deep.
    fn selection(ty: &'static str, depth: u32) -> BoxedStrategy<String> {
        let (leaves, relations) = fields(ty);
        let leaf = prop::sample::select(leaves.to_vec())
            .prop_map(String::from)
            .boxed();
        let item = if depth == 0 {
            leaf
        } else {
            let relation = prop::sample::select(relations.to_vec())
                .prop_flat_map(move |(name, kind, child)| {
                    (
                        args(kind),
                        selection(child, depth - 1),
                        prop::option::of("[a-z]{1,3}"),
                    )
                        .prop_map(move |(args, inner, alias)| {
                            let alias = alias.map(|a| format!("{a}: ")).unwrap_or_default();
                            format!("{alias}{name}{args} {{ {inner} }}")
                        })
                })
                .boxed();
            prop_oneof![1 => leaf, 2 => relation].boxed()
        };
        prop::collection::vec(item, 1..4)
            .prop_map(|items| items.join(" "))
            .boxed()
    }

    fn operation() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => selection("Query", 4).prop_map(|s| format!("{{ {s} }}")),
            1 => (any::<u32>(), "[ -~]{0,12}").prop_map(|(id, t)| format!(
                "mutation {{ updateActivity(id: {id}, input: {{title: {t:?}, startTime: null}}) {{ id }} }}"
            )),
            1 => ("[ -~]{0,12}", "[0-9T:Z-]{0,22}", any::<u16>()).prop_map(|(t, time, p)| format!(
                "mutation {{ createActivity(input: {{title: {t:?}, endTime: {time:?}, projectId: {p}}}) {{ id project {{ name }} }} }}"
            )),
            1 => (any::<u16>(), any::<u16>()).prop_map(|(p, u)| format!(
                "mutation {{ addTeamMember(projectId: {p}, userId: {u}) {{ id }} deleteProject(id: {p}) }}"
            )),
            1 => "[ -~]{0,60}",
        ]
    }

    #[test]
    fn arbitrary_operations_never_panic_and_always_carry_an_api_code() {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let world = runtime.block_on(seeded(5));
        let schema = schema();
        // A fixed seed: the same 200 operations every run, so a failure reproduces.
        let mut runner = TestRunner::new_with_rng(
            Cases {
                cases: 200,
                failure_persistence: None,
                ..Cases::default()
            },
            TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        );
        // How many ran (some data came back): the grammar must reach the resolvers, not only
        // the parser and validation.
        let ran = std::cell::Cell::new(0usize);
        runner
            .run(&operation(), |query| {
                let request = with_caller(
                    async_graphql::Request::new(query.clone()),
                    &world.services,
                    world.principal.clone(),
                );
                let response = finish(runtime.block_on(schema.execute(request)));
                ran.set(ran.get() + usize::from(response.data != async_graphql::Value::Null));
                for error in &response.errors {
                    let code = error
                        .extensions
                        .as_ref()
                        .and_then(|e| e.get("code"))
                        .map(|c| c.to_string());
                    let code = code.as_deref().map(|c| c.trim_matches('"'));
                    prop_assert!(
                        code.is_some_and(|c| CODES.contains(&c)),
                        "{query}: error {error:?}"
                    );
                }
                Ok(())
            })
            .expect("no arbitrary operation fails");
        assert!(ran.get() >= 30, "only {} of 200 ran", ran.get());
        runtime.block_on(world.inner.close());
    }
}
