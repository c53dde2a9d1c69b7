//! The update, user and project lists: every filter and ordering, paged, against the same
//! rows filtered and sorted in memory; and again after rows change and go.

use std::cmp::Ordering;

use nexus::domain::activity::Priority;
use nexus::domain::project::{Project, ProjectStatus};
use nexus::domain::update::{Update, UpdateType};
use nexus::domain::user::{Role, User};
use nexus::domain::{ProjectId, UserId};
use nexus::store::{
    Expect, ProjectFilter, ProjectOrder, Store, UpdateFilter, UpdateOrder, UserChanges, UserFilter,
    UserOrder, Viewer, Write,
};

use crate::{at, backend, commit, project, update, user};

const PAGE: usize = 7;

/// Reads every page of `expected.len()` rows `PAGE` at a time (and one past the end, and a
/// count-only read), checking each page's ids and count.
async fn check_pages<F, Fut>(what: &str, expected: &[u64], read: F)
where
    F: Fn(usize, usize) -> Fut,
    Fut: std::future::Future<Output = (usize, Vec<u64>)>,
{
    let mut offset = 0;
    loop {
        let (count, ids) = read(offset, PAGE).await;
        assert_eq!(count, expected.len(), "{what}: count at offset {offset}");
        let want: Vec<u64> = expected.iter().copied().skip(offset).take(PAGE).collect();
        assert_eq!(ids, want, "{what}: page at offset {offset}");
        if offset >= expected.len() {
            break;
        }
        offset += PAGE;
    }
    let (count, ids) = read(0, 0).await;
    assert_eq!(
        (count, ids.len()),
        (expected.len(), 0),
        "{what}: count only"
    );
    let (_, ids) = read(0, usize::MAX).await;
    assert_eq!(ids, expected, "{what}: everything at once");
}

fn directed(o: Ordering, descending: bool) -> Ordering {
    if descending { o.reverse() } else { o }
}

// ---- updates ----

async fn check_updates(store: &dyn Store, rows: &[Update]) {
    let since = [None, Some(at(-45 * 3600)), Some(at(-90 * 60))];
    let types = [None, Some(UpdateType::Safety)];
    let priorities = [None, Some(Priority::High)];
    for since in since {
        for update_type in types {
            for priority in priorities {
                let filter = UpdateFilter {
                    update_type,
                    priority,
                    since,
                };
                for order in [UpdateOrder::CreatedAt, UpdateOrder::Priority] {
                    for descending in [false, true] {
                        let mut want: Vec<&Update> = rows
                            .iter()
                            .filter(|u| update_type.is_none_or(|t| u.update_type == t))
                            .filter(|u| priority.is_none_or(|p| u.priority == p))
                            .filter(|u| since.is_none_or(|s| u.created_at >= s))
                            .collect();
                        want.sort_by(|a, b| {
                            let o = match order {
                                UpdateOrder::Priority => a.priority.cmp(&b.priority),
                                UpdateOrder::CreatedAt => a.created_at.cmp(&b.created_at),
                            };
                            directed(o.then(a.id.cmp(&b.id)), descending)
                        });
                        let want: Vec<u64> = want.iter().map(|u| u.id.0).collect();
                        let what = format!("{filter:?} {order:?} descending {descending}");
                        check_pages(&what, &want, |offset, limit| {
                            let filter = filter.clone();
                            async move {
                                let (count, page) = store
                                    .update_page(&filter, order, descending, offset, limit)
                                    .await
                                    .expect("the update list reads");
                                (count, page.iter().map(|u| u.id.0).collect())
                            }
                        })
                        .await;
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn update_pages_filter_order_and_count_and_follow_changes_and_deletes() {
    let (store, _guard) = backend().await;
    let author = user(store.as_ref(), "author", Role::Staff).await.id;
    let mut rows = Vec::new();
    // 40 updates over three days, several at the same instant, every type and priority.
    let base = at(0);
    for i in 0..40i64 {
        let mut u = update(store.as_ref(), &format!("Update {i}"), author);
        u.update_type = UpdateType::ALL[(i % 5) as usize];
        u.priority = Priority::ALL[((i / 2) % 4) as usize];
        u.created_at =
            base - ::time::Duration::hours((i * 7) % 72) + ::time::Duration::seconds(i % 3);
        rows.push(u);
    }
    // Some in one changeset, the rest one by one.
    commit(
        store.as_ref(),
        rows[..10]
            .iter()
            .map(|u| Write::PutUpdate(u.clone(), Expect::New))
            .collect(),
    )
    .await;
    for u in &rows[10..] {
        commit(
            store.as_ref(),
            vec![Write::PutUpdate(u.clone(), Expect::New)],
        )
        .await;
    }
    check_updates(store.as_ref(), &rows).await;

    // Changed type, priority and time move an update between filters and places.
    for i in [3usize, 17, 28] {
        let u = &mut rows[i];
        u.update_type = UpdateType::Safety;
        u.priority = Priority::High;
        u.created_at = base - ::time::Duration::minutes(i as i64);
        commit(
            store.as_ref(),
            vec![Write::PutUpdate(u.clone(), Expect::Exists)],
        )
        .await;
    }
    for i in [0usize, 9, 33] {
        commit(store.as_ref(), vec![Write::DeleteUpdate(rows[i].id)]).await;
    }
    rows.retain(|u| {
        ![0usize, 9, 33]
            .iter()
            .any(|i| u.title == format!("Update {i}"))
    });
    check_updates(store.as_ref(), &rows).await;
}

// ---- users ----

async fn check_users(store: &dyn Store, ids: &[UserId]) {
    let mut rows: Vec<User> = Vec::new();
    for id in ids {
        rows.push(store.user(*id).await.unwrap().expect("the user exists"));
    }
    let filters = [
        (None, None, None),
        (Some(Role::User), None, None),
        (None, Some(false), None),
        (Some(Role::Staff), Some(true), None),
        (None, None, Some("")),
        (None, None, Some("OP")),
        (None, None, Some("plant.test")),
        (None, None, Some("night")),
        (Some(Role::User), Some(true), Some("op")),
        // One and two characters are shorter than a trigram; the rest go through it, across
        // a space, into emails only, in other scripts and with no match at all.
        (None, None, Some("1")),
        (None, Some(true), Some("p1")),
        (None, None, Some("ift L")),
        (None, None, Some("mail1")),
        (Some(Role::Staff), None, Some("@plant.t")),
        (None, None, Some("RÖß")),
        (None, Some(true), Some("(display)")),
        (None, None, Some("nobody here")),
        // Many candidates, narrowed by a second trigram (see the test below).
        (None, None, Some("AB-1")),
        (None, Some(true), Some("b-12")),
    ];
    for (role, is_active, q) in filters {
        for q_email in [false, true] {
            let filter = UserFilter {
                role,
                is_active,
                q: q.map(str::to_string),
                q_email,
            };
            let needle = q.map(str::to_lowercase).filter(|q| !q.is_empty());
            for order in [UserOrder::Username, UserOrder::CreatedAt] {
                for descending in [false, true] {
                    let mut want: Vec<&User> = rows
                        .iter()
                        .filter(|u| role.is_none_or(|r| u.role == r))
                        .filter(|u| is_active.is_none_or(|a| u.is_active == a))
                        .filter(|u| {
                            needle.as_ref().is_none_or(|q| {
                                u.username.to_lowercase().contains(q)
                                    || u.display_name.to_lowercase().contains(q)
                                    || (q_email && u.email.to_lowercase().contains(q))
                            })
                        })
                        .collect();
                    want.sort_by(|a, b| {
                        let o = match order {
                            UserOrder::Username => {
                                a.username.to_lowercase().cmp(&b.username.to_lowercase())
                            }
                            UserOrder::CreatedAt => a.created_at.cmp(&b.created_at),
                        };
                        directed(o.then(a.id.cmp(&b.id)), descending)
                    });
                    let want: Vec<u64> = want.iter().map(|u| u.id.0).collect();
                    let what = format!("{filter:?} {order:?} descending {descending}");
                    check_pages(&what, &want, |offset, limit| {
                        let filter = filter.clone();
                        async move {
                            let (count, page) = store
                                .user_page(&filter, order, descending, offset, limit)
                                .await
                                .expect("the directory reads");
                            (count, page.iter().map(|u| u.id.0).collect())
                        }
                    })
                    .await;
                    let mut all = want.clone();
                    all.sort_unstable();
                    let listed: Vec<u64> = store
                        .user_ids(&filter)
                        .await
                        .unwrap()
                        .iter()
                        .map(|u| u.0)
                        .collect();
                    assert_eq!(listed, all, "user_ids {filter:?}");
                }
            }
        }
    }
}

#[tokio::test]
async fn user_pages_filter_order_search_and_count_and_follow_changes() {
    let (store, _guard) = backend().await;
    let mut ids = Vec::new();
    for i in 0..24 {
        let role = [Role::User, Role::Staff, Role::User, Role::Admin][i % 4];
        // Mixed case, so the name order is the lower-cased one.
        let name = if i % 3 == 0 {
            format!("Op{i:02}")
        } else {
            format!("{}{i}", ["zed", "amy", "Bob"][i % 3])
        };
        let u = store
            .create_user(crate::new_user(&name, &format!("mail{i}@Plant.test"), role))
            .await
            .unwrap();
        ids.push(u.id);
    }
    for i in [1usize, 5, 6] {
        store
            .update_user(
                ids[i],
                UserChanges {
                    is_active: Some(false),
                    ..UserChanges::default()
                },
            )
            .await
            .unwrap();
    }
    check_users(store.as_ref(), &ids).await;

    // Role, activity, display name and email changes move users between filters and matches.
    let changes = [
        (
            2usize,
            Some(Role::Staff),
            None,
            Some("Night shift lead"),
            None,
        ),
        (5, None, Some(true), None, Some("night@elsewhere.example")),
        (7, Some(Role::User), Some(false), Some("OPerator"), None),
        (12, None, None, None, Some("op-desk@plant.test")),
        (3, None, None, Some("Zoë Größe-Ünal"), None),
    ];
    for (i, role, is_active, display, email) in changes {
        store
            .update_user(
                ids[i],
                UserChanges {
                    role,
                    is_active,
                    display_name: display.map(str::to_string),
                    email: email.map(str::to_string),
                    ..UserChanges::default()
                },
            )
            .await
            .unwrap();
    }
    check_users(store.as_ref(), &ids).await;
}

#[tokio::test]
async fn user_search_narrows_many_candidates_and_keeps_every_match() {
    let (store, _guard) = backend().await;
    let mut ids = Vec::new();
    // "ab-1" and "xb-1" share "b-1"; "ab-" alone lists 90 users, "b-1" 180: more candidates
    // than are checked one by one, so the search narrows one list by the other.
    for i in 100..190 {
        for stem in ["ab", "xb"] {
            let name = format!("{stem}-{i}");
            let u = store
                .create_user(crate::new_user(
                    &name,
                    &format!("{name}@plant.test"),
                    Role::User,
                ))
                .await
                .unwrap();
            ids.push(u.id);
        }
    }
    check_users(store.as_ref(), &ids).await;
}

// ---- projects ----

async fn check_projects(store: &dyn Store, rows: &[Project], people: &[(UserId, Role)]) {
    let (a, b, c) = (people[2].0, people[3].0, people[4].0);
    let some_ids: Vec<ProjectId> = rows.iter().step_by(3).map(|p| p.id).collect();
    let filters = [
        ProjectFilter::default(),
        ProjectFilter {
            status: Some(ProjectStatus::Active),
            ..ProjectFilter::default()
        },
        ProjectFilter {
            manager: Some(a),
            ..ProjectFilter::default()
        },
        ProjectFilter {
            member: Some(b),
            ..ProjectFilter::default()
        },
        ProjectFilter {
            status: Some(ProjectStatus::Planning),
            manager: Some(c),
            ..ProjectFilter::default()
        },
        ProjectFilter {
            status: Some(ProjectStatus::Active),
            member: Some(a),
            manager: Some(b),
            ..ProjectFilter::default()
        },
        ProjectFilter {
            ids: Some(some_ids.clone()),
            ..ProjectFilter::default()
        },
        ProjectFilter {
            ids: Some(some_ids),
            status: Some(ProjectStatus::Active),
            ..ProjectFilter::default()
        },
    ];
    let orders = [
        ProjectOrder::Name,
        ProjectOrder::StartDate,
        ProjectOrder::EndDate,
        ProjectOrder::CreatedAt,
    ];
    for (who, role) in people {
        let viewer = Viewer::new(*who, *role, []);
        for filter in &filters {
            for order in orders {
                for descending in [false, true] {
                    let mut want: Vec<&Project> = rows
                        .iter()
                        .filter(|p| viewer.sees(*p))
                        .filter(|p| filter.status.is_none_or(|s| p.status == s))
                        .filter(|p| filter.manager.is_none_or(|m| p.manager_id == m))
                        .filter(|p| filter.member.is_none_or(|m| p.team_members.contains(&m)))
                        .filter(|p| filter.ids.as_ref().is_none_or(|ids| ids.contains(&p.id)))
                        .collect();
                    want.sort_by(|x, y| {
                        let o = match order {
                            ProjectOrder::StartDate => (x.start_date.is_none(), x.start_date)
                                .cmp(&(y.start_date.is_none(), y.start_date)),
                            ProjectOrder::EndDate => (x.end_date.is_none(), x.end_date)
                                .cmp(&(y.end_date.is_none(), y.end_date)),
                            ProjectOrder::CreatedAt => x.created_at.cmp(&y.created_at),
                            ProjectOrder::Name => x.name.to_lowercase().cmp(&y.name.to_lowercase()),
                        };
                        directed(o.then(x.id.cmp(&y.id)), descending)
                    });
                    let want: Vec<u64> = want.iter().map(|p| p.id.0).collect();
                    let what =
                        format!("{role:?} {who}: {filter:?} {order:?} descending {descending}");
                    check_pages(&what, &want, |offset, limit| {
                        let (viewer, filter) = (viewer.clone(), filter.clone());
                        async move {
                            let (count, page) = store
                                .project_page(&viewer, &filter, order, descending, offset, limit)
                                .await
                                .expect("the project list reads");
                            (count, page.iter().map(|p| p.id.0).collect())
                        }
                    })
                    .await;
                }
            }
        }
    }
}

#[tokio::test]
async fn project_pages_filter_order_see_and_count_and_follow_changes_and_deletes() {
    let (store, _guard) = backend().await;
    let mut people = Vec::new();
    for (name, role) in [
        ("admin", Role::Admin),
        ("staff", Role::Staff),
        ("ann", Role::User),
        ("bo", Role::User),
        ("cy", Role::User),
    ] {
        people.push((user(store.as_ref(), name, role).await.id, role));
    }
    let (a, b, c) = (people[2].0, people[3].0, people[4].0);
    let day = |d: i64| Some(::time::Date::from_julian_day(2_460_000 + d as i32).unwrap());
    let mut rows = Vec::new();
    for i in 0..30i64 {
        let manager = [a, b, c][(i % 3) as usize];
        let team: Vec<UserId> = match i % 4 {
            0 => vec![],
            1 => vec![a],
            2 => vec![b, c],
            // The manager on the team too.
            _ => vec![manager, a],
        };
        let name = if i % 2 == 0 {
            format!("line {}", 30 - i)
        } else {
            format!("Line {}", 30 - i)
        };
        let mut p = project(store.as_ref(), &name, manager, &team);
        p.status = ProjectStatus::ALL[(i % 5) as usize];
        p.start_date = if i % 4 == 1 { None } else { day(i % 7) };
        p.end_date = if i % 3 == 0 { None } else { day(100 - i % 5) };
        p.created_at = at(-(i % 6) * 60);
        commit(
            store.as_ref(),
            vec![Write::PutProject(p.clone(), Expect::New, false)],
        )
        .await;
        rows.push(p);
    }
    check_projects(store.as_ref(), &rows, &people).await;

    // New teams, managers, status, names and dates move projects between lists and places.
    for i in [1usize, 4, 11, 22] {
        let p = &mut rows[i];
        p.team_members = vec![c];
        p.manager_id = b;
        p.status = ProjectStatus::Active;
        p.name = format!("Renamed {i}");
        p.start_date = day(3);
        p.end_date = None;
        commit(
            store.as_ref(),
            vec![Write::PutProject(p.clone(), Expect::Exists, true)],
        )
        .await;
    }
    for i in [0usize, 13, 29] {
        commit(store.as_ref(), vec![Write::DeleteProject(rows[i].id)]).await;
    }
    let gone = [rows[0].id, rows[13].id, rows[29].id];
    rows.retain(|p| !gone.contains(&p.id));
    check_projects(store.as_ref(), &rows, &people).await;
}
