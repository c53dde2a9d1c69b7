//! Activities: writes with their expectations, and the list query's filters, visibility,
//! orders and pages, checked against the rules written out plainly here.

use std::collections::BTreeSet;

use nexus::domain::activity::{Activity, ActivityStatus, ActivityType, Priority};
use nexus::domain::change::ChangeOp;
use nexus::domain::user::Role;
use nexus::domain::{ActivityId, ProjectId, UserId};
use nexus::store::{ActivityFilter, ActivityOrder, Expect, Store, StoreError, Viewer, Write};

use crate::{activity, apply, at, backend, commit, kind_of, user};

const ORDERS: [ActivityOrder; 6] = [
    ActivityOrder::StartTime,
    ActivityOrder::EndTime,
    ActivityOrder::Priority,
    ActivityOrder::CreatedAt,
    ActivityOrder::UpdatedAt,
    ActivityOrder::Title,
];

/// Twelve activities by three users, in two projects and none, with distinct start and end
/// times (some unset), titles, update times, and a spread of status, type and priority.
struct Plant {
    users: [UserId; 3],
    projects: [ProjectId; 2],
    activities: Vec<Activity>,
}

async fn plant(store: &dyn Store) -> Plant {
    let a = user(store, "alice", Role::User).await.id;
    let b = user(store, "bob", Role::User).await.id;
    let c = user(store, "carol", Role::User).await.id;
    let projects = [ProjectId(1001), ProjectId(1002)];
    let titles = [
        "alpha", "Bravo", "charlie", "Delta", "echo", "Foxtrot", "golf", "Hotel", "india",
        "Juliet", "kilo", "Lima",
    ];
    let hour = ::time::Duration::hours(1);
    let base = at(0);
    let mut activities = Vec::new();
    for i in 0..12usize {
        let mut x = activity(store, [a, b, c][i % 3]);
        x.assigned_to = match i % 4 {
            0 => Some(c),
            1 => Some(a),
            _ => None,
        };
        x.project_id = match i % 3 {
            0 => None,
            1 => Some(projects[0]),
            _ => Some(projects[1]),
        };
        x.status = ActivityStatus::ALL[i % ActivityStatus::ALL.len()];
        x.activity_type = ActivityType::ALL[i % 4];
        x.priority = Priority::ALL[i % Priority::ALL.len()];
        x.start_time = (i % 5 != 2).then(|| base + hour * ((i * 7 % 12) as i32));
        x.end_time = (i % 4 != 3).then(|| base + hour * (100 + (i * 5 % 12) as i32));
        x.title = titles[i * 5 % 12].to_string();
        x.created_at = base + ::time::Duration::seconds(i as i64);
        x.updated_at = base + ::time::Duration::minutes((i * 11 % 12) as i64);
        commit(store, vec![Write::PutActivity(x.clone(), Expect::New)]).await;
        activities.push(x);
    }
    Plant {
        users: [a, b, c],
        projects,
        activities,
    }
}

/// What the filter admits, as `ActivityFilter`'s field docs say.
fn passes(f: &ActivityFilter, a: &Activity) -> bool {
    f.status.is_none_or(|s| a.status == s)
        && f.activity_type.is_none_or(|t| a.activity_type == t)
        && f.priority.is_none_or(|p| a.priority == p)
        && f.assigned_to.is_none_or(|u| a.assigned_to == Some(u))
        && f.created_by.is_none_or(|u| a.created_by == u)
        && f.project.is_none_or(|p| a.project_id == Some(p))
        && f.start_after
            .is_none_or(|t| a.start_time.is_some_and(|s| s >= t))
        && f.start_before
            .is_none_or(|t| a.start_time.is_some_and(|s| s <= t))
        && f.ids.as_ref().is_none_or(|ids| ids.contains(&a.id))
}

/// The sort key of `order`; `None` for an unset time.
fn key(order: ActivityOrder, a: &Activity) -> Option<(i128, String)> {
    let time =
        |t: Option<::time::OffsetDateTime>| t.map(|t| (t.unix_timestamp_nanos(), String::new()));
    match order {
        ActivityOrder::StartTime => time(a.start_time),
        ActivityOrder::EndTime => time(a.end_time),
        ActivityOrder::Priority => Some((a.priority as i128, String::new())),
        ActivityOrder::CreatedAt => Some((i128::from(a.id.0), String::new())),
        ActivityOrder::UpdatedAt => Some((a.updated_at.unix_timestamp_nanos(), String::new())),
        ActivityOrder::Title => Some((0, a.title.to_lowercase())),
    }
}

/// Checks that `listed` is in `order`: keys never go backwards, and when ascending an unset
/// time comes after every set one. Ties, and where unset times go when descending, are free.
fn assert_ordered(listed: &[Activity], order: ActivityOrder, descending: bool, what: &str) {
    let keys: Vec<Option<(i128, String)>> = listed.iter().map(|a| key(order, a)).collect();
    let set: Vec<&(i128, String)> = keys.iter().flatten().collect();
    for pair in set.windows(2) {
        let in_order = if descending {
            pair[0] >= pair[1]
        } else {
            pair[0] <= pair[1]
        };
        assert!(in_order, "{what}: {:?} then {:?}", pair[0], pair[1]);
    }
    if !descending && let Some(first_unset) = keys.iter().position(Option::is_none) {
        assert!(
            keys[first_unset..].iter().all(Option::is_none),
            "{what}: unset times come last when ascending: {keys:?}"
        );
    }
    if order == ActivityOrder::CreatedAt {
        // Ids grow with creation here, so this order is exact.
        let ids: Vec<u64> = listed.iter().map(|a| a.id.0).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        if descending {
            sorted.reverse();
        }
        assert_eq!(ids, sorted, "{what}");
    }
}

fn ids(list: &[Activity]) -> Vec<ActivityId> {
    list.iter().map(|a| a.id).collect()
}

#[tokio::test]
async fn a_created_activity_is_read_back_and_logged() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let mut a = activity(store.as_ref(), alice.id);
    a.description = "Swap the dies on press 4".into();
    a.start_time = Some(at(60));
    let entries = commit(
        store.as_ref(),
        vec![Write::PutActivity(a.clone(), Expect::New)],
    )
    .await;
    assert_eq!(store.activity(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].id, a.id.0);
    assert_eq!(entries[0].op, ChangeOp::Created);
    assert_eq!(kind_of(&entries[0]), "activity");
    assert_eq!(entries[0].data["title"], a.title.as_str());
    assert!(
        store
            .activity(ActivityId(a.id.0 + 100))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn expectations_are_checked_new_exists_and_version() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let a = activity(store.as_ref(), alice.id);
    let missing = activity(store.as_ref(), alice.id);
    commit(
        store.as_ref(),
        vec![Write::PutActivity(a.clone(), Expect::New)],
    )
    .await;

    let again = apply(
        store.as_ref(),
        vec![Write::PutActivity(a.clone(), Expect::New)],
    )
    .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    for expect in [Expect::Exists, Expect::Version(1)] {
        let result = apply(
            store.as_ref(),
            vec![Write::PutActivity(missing.clone(), expect)],
        )
        .await;
        assert!(
            matches!(result, Err(StoreError::NotFound)),
            "{expect:?}: {result:?}"
        );
    }
    assert!(store.activity(missing.id).await.unwrap().is_none());

    let mut changed = a.clone();
    changed.title = "Changed".into();
    changed.version = 2;
    let stale = apply(
        store.as_ref(),
        vec![Write::PutActivity(changed.clone(), Expect::Version(7))],
    )
    .await;
    assert!(matches!(stale, Err(StoreError::Stale)), "{stale:?}");
    assert_eq!(
        store.activity(a.id).await.unwrap(),
        Some(a.clone()),
        "unchanged"
    );

    let entries = commit(
        store.as_ref(),
        vec![Write::PutActivity(changed.clone(), Expect::Version(1))],
    )
    .await;
    assert_eq!(entries[0].op, ChangeOp::Updated);
    assert_eq!(store.activity(a.id).await.unwrap(), Some(changed.clone()));
    // The version read before the change is stale now.
    let mut late = a.clone();
    late.title = "Late".into();
    let stale = apply(
        store.as_ref(),
        vec![Write::PutActivity(late, Expect::Version(1))],
    )
    .await;
    assert!(matches!(stale, Err(StoreError::Stale)), "{stale:?}");

    let mut replaced = changed.clone();
    replaced.title = "Replaced".into();
    commit(
        store.as_ref(),
        vec![Write::PutActivity(replaced.clone(), Expect::Exists)],
    )
    .await;
    assert_eq!(store.activity(a.id).await.unwrap(), Some(replaced));
}

#[tokio::test]
async fn a_deleted_activity_is_gone_from_reads_and_lists_and_deleting_it_again_is_not_found() {
    let (store, _guard) = backend().await;
    let plant = plant(store.as_ref()).await;
    let doomed = plant.activities[4].clone();
    let entries = commit(store.as_ref(), vec![Write::DeleteActivity(doomed.id)]).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].id, entries[0].op),
        (doomed.id.0, ChangeOp::Deleted)
    );
    assert!(store.activity(doomed.id).await.unwrap().is_none());
    let (count, listed) = store
        .activities(
            &Viewer::new(UserId(1), Role::Admin, []),
            &ActivityFilter::default(),
            ActivityOrder::CreatedAt,
            true,
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(count, 11);
    assert!(!ids(&listed).contains(&doomed.id));
    let by_status = ActivityFilter {
        status: Some(doomed.status),
        ..Default::default()
    };
    let (count, listed) = store
        .activities(
            &Viewer::new(UserId(1), Role::Admin, []),
            &by_status,
            ActivityOrder::CreatedAt,
            true,
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(count, listed.len());
    assert!(!ids(&listed).contains(&doomed.id));

    let again = apply(store.as_ref(), vec![Write::DeleteActivity(doomed.id)]).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
}

#[tokio::test]
async fn lists_agree_with_every_filter_viewer_order_and_page() {
    let (store, _guard) = backend().await;
    let plant = plant(store.as_ref()).await;
    let [a, b, c] = plant.users;
    let [p1, p2] = plant.projects;
    let five_hours = plant.activities[0].start_time.unwrap() + ::time::Duration::hours(5);
    let filters = vec![
        ActivityFilter::default(),
        ActivityFilter {
            status: Some(ActivityStatus::InProgress),
            ..Default::default()
        },
        ActivityFilter {
            activity_type: Some(ActivityType::Maintenance),
            ..Default::default()
        },
        ActivityFilter {
            priority: Some(Priority::High),
            ..Default::default()
        },
        ActivityFilter {
            assigned_to: Some(c),
            ..Default::default()
        },
        ActivityFilter {
            created_by: Some(a),
            ..Default::default()
        },
        ActivityFilter {
            project: Some(p1),
            ..Default::default()
        },
        // Both bounds are inclusive: one activity starts exactly five hours in.
        ActivityFilter {
            start_after: Some(five_hours),
            ..Default::default()
        },
        ActivityFilter {
            start_before: Some(five_hours),
            ..Default::default()
        },
        ActivityFilter {
            start_after: Some(five_hours - ::time::Duration::hours(2)),
            start_before: Some(five_hours + ::time::Duration::hours(2)),
            ..Default::default()
        },
        ActivityFilter {
            ids: Some(vec![
                plant.activities[1].id,
                plant.activities[6].id,
                plant.activities[9].id,
                ActivityId(987_654),
            ]),
            ..Default::default()
        },
        ActivityFilter {
            status: Some(ActivityStatus::Planned),
            project: Some(p2),
            ..Default::default()
        },
        ActivityFilter {
            created_by: Some(b),
            priority: Some(Priority::Medium),
            ..Default::default()
        },
        ActivityFilter {
            project: Some(p1),
            start_after: Some(five_hours),
            ..Default::default()
        },
        ActivityFilter {
            assigned_to: Some(a),
            activity_type: Some(ActivityType::Maintenance),
            ..Default::default()
        },
    ];
    assert!(
        plant
            .activities
            .iter()
            .any(|x| x.start_time == Some(five_hours)),
        "the inclusive bound is exercised"
    );
    let viewers = [
        Viewer::new(UserId(1), Role::Admin, []),
        Viewer::new(a, Role::User, []),
        Viewer::new(b, Role::User, [p1]),
        Viewer::new(c, Role::User, [p1, p2]),
    ];
    let mut non_empty = 0;
    for viewer in &viewers {
        for filter in &filters {
            let expected: BTreeSet<ActivityId> = plant
                .activities
                .iter()
                .filter(|x| viewer.sees(*x) && passes(filter, x))
                .map(|x| x.id)
                .collect();
            non_empty += usize::from(!expected.is_empty());
            for order in ORDERS {
                for descending in [false, true] {
                    let what = format!("{viewer:?} {filter:?} {order:?} descending={descending}");
                    let (count, all) = store
                        .activities(viewer, filter, order, descending, 0, 1000)
                        .await
                        .unwrap();
                    assert_eq!(count, expected.len(), "{what}");
                    assert_eq!(
                        ids(&all).into_iter().collect::<BTreeSet<_>>(),
                        expected,
                        "{what}"
                    );
                    assert_eq!(all.len(), expected.len(), "{what}: no duplicates");
                    assert_ordered(&all, order, descending, &what);
                    let listed_ids = store
                        .activity_ids(viewer, filter, order, descending)
                        .await
                        .unwrap();
                    assert_eq!(listed_ids, ids(&all), "{what}: activity_ids");
                    for (offset, limit) in [(0, 5), (5, 5), (10, 5), (3, 4), (50, 5)] {
                        let (page_count, page) = store
                            .activities(viewer, filter, order, descending, offset, limit)
                            .await
                            .unwrap();
                        assert_eq!(page_count, count, "{what} offset {offset}: the total");
                        let want: Vec<ActivityId> =
                            ids(&all).into_iter().skip(offset).take(limit).collect();
                        assert_eq!(ids(&page), want, "{what}: page at {offset}, {limit}");
                    }
                }
            }
        }
    }
    assert!(
        non_empty > 40,
        "most combinations match something: {non_empty}"
    );
}

#[tokio::test]
async fn a_member_sees_what_they_created_are_assigned_their_projects_and_no_project() {
    let (store, _guard) = backend().await;
    let me = user(store.as_ref(), "me", Role::User).await.id;
    let other = user(store.as_ref(), "other", Role::User).await.id;
    let (mine, theirs) = (ProjectId(1), ProjectId(2));
    let mut cases = Vec::new();
    for (label, creator, assignee, project, seen) in [
        ("created, in another project", me, None, Some(theirs), true),
        (
            "assigned, in another project",
            other,
            Some(me),
            Some(theirs),
            true,
        ),
        ("in my project", other, None, Some(mine), true),
        ("in no project", other, None, None, true),
        (
            "someone else's, in another project",
            other,
            None,
            Some(theirs),
            false,
        ),
        (
            "assigned to another, in another project",
            other,
            Some(other),
            Some(theirs),
            false,
        ),
    ] {
        let mut x = activity(store.as_ref(), creator);
        x.assigned_to = assignee;
        x.project_id = project;
        x.title = label.into();
        commit(
            store.as_ref(),
            vec![Write::PutActivity(x.clone(), Expect::New)],
        )
        .await;
        cases.push((x, seen));
    }
    let viewer = Viewer::new(me, Role::User, [mine]);
    let (count, listed) = store
        .activities(
            &viewer,
            &ActivityFilter::default(),
            ActivityOrder::CreatedAt,
            false,
            0,
            100,
        )
        .await
        .unwrap();
    let want: Vec<ActivityId> = cases
        .iter()
        .filter(|(_, s)| *s)
        .map(|(x, _)| x.id)
        .collect();
    assert_eq!(ids(&listed), want);
    assert_eq!(count, want.len());
    let (all, _) = store
        .activities(
            &Viewer::new(UserId(1), Role::Admin, []),
            &ActivityFilter::default(),
            ActivityOrder::CreatedAt,
            false,
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(all, cases.len(), "staff see everything");
}

#[tokio::test]
async fn a_changed_activity_moves_between_filters() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await.id;
    let bob = user(store.as_ref(), "bob", Role::User).await.id;
    let mut x = activity(store.as_ref(), alice);
    x.status = ActivityStatus::Planned;
    x.priority = Priority::Low;
    x.project_id = Some(ProjectId(5));
    x.assigned_to = Some(alice);
    x.start_time = Some(at(3600));
    commit(
        store.as_ref(),
        vec![Write::PutActivity(x.clone(), Expect::New)],
    )
    .await;

    let mut y = x.clone();
    y.status = ActivityStatus::InProgress;
    y.priority = Priority::Critical;
    y.activity_type = ActivityType::Safety;
    y.project_id = Some(ProjectId(6));
    y.assigned_to = Some(bob);
    y.start_time = None;
    y.version = 2;
    commit(
        store.as_ref(),
        vec![Write::PutActivity(y.clone(), Expect::Version(1))],
    )
    .await;

    let count = |filter: ActivityFilter| {
        let store = store.clone();
        async move {
            store
                .activities(
                    &Viewer::new(UserId(1), Role::Admin, []),
                    &filter,
                    ActivityOrder::CreatedAt,
                    true,
                    0,
                    10,
                )
                .await
                .unwrap()
                .0
        }
    };
    let f = ActivityFilter::default;
    for (label, old, new) in [
        (
            "status",
            ActivityFilter {
                status: Some(ActivityStatus::Planned),
                ..f()
            },
            ActivityFilter {
                status: Some(ActivityStatus::InProgress),
                ..f()
            },
        ),
        (
            "priority",
            ActivityFilter {
                priority: Some(Priority::Low),
                ..f()
            },
            ActivityFilter {
                priority: Some(Priority::Critical),
                ..f()
            },
        ),
        (
            "type",
            ActivityFilter {
                activity_type: Some(x.activity_type),
                ..f()
            },
            ActivityFilter {
                activity_type: Some(ActivityType::Safety),
                ..f()
            },
        ),
        (
            "project",
            ActivityFilter {
                project: Some(ProjectId(5)),
                ..f()
            },
            ActivityFilter {
                project: Some(ProjectId(6)),
                ..f()
            },
        ),
        (
            "assignee",
            ActivityFilter {
                assigned_to: Some(alice),
                ..f()
            },
            ActivityFilter {
                assigned_to: Some(bob),
                ..f()
            },
        ),
        (
            "start",
            ActivityFilter {
                start_after: Some(at(0)),
                ..f()
            },
            ActivityFilter {
                created_by: Some(alice),
                ..f()
            },
        ),
    ] {
        assert_eq!(
            count(old).await,
            0,
            "{label}: no longer under the old value"
        );
        assert_eq!(count(new).await, 1, "{label}: under the new value");
    }
    // Bob, now the assignee, sees it; a stranger in neither project does not.
    let bob_sees = store
        .activities(
            &Viewer::new(bob, Role::User, []),
            &f(),
            ActivityOrder::CreatedAt,
            true,
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(ids(&bob_sees.1), [x.id]);
}

#[tokio::test]
async fn activities_by_ids_keeps_the_order_given_and_skips_missing_ones() {
    let (store, _guard) = backend().await;
    let plant = plant(store.as_ref()).await;
    let pick = |i: usize| plant.activities[i].id;
    commit(store.as_ref(), vec![Write::DeleteActivity(pick(3))]).await;
    let asked = [
        pick(7),
        pick(3),
        pick(0),
        ActivityId(999_999),
        pick(11),
        pick(2),
    ];
    let got = store.activities_by_ids(&asked).await.unwrap();
    assert_eq!(ids(&got), [pick(7), pick(0), pick(11), pick(2)]);
    assert_eq!(got[0], plant.activities[7]);
    assert!(store.activities_by_ids(&[]).await.unwrap().is_empty());
}
