//! Projects: writes with their expectations, the team index behind `projects_of`, unique names,
//! and what deleting a project does to its activities.

use nexus::domain::change::ChangeOp;
use nexus::domain::project::ProjectStatus;
use nexus::domain::user::Role;
use nexus::domain::{ProjectId, UserId};
use nexus::store::{ActivityFilter, ActivityOrder, Expect, StoreError, Viewer, Write};

use crate::{activity, apply, backend, commit, kind_of, project, user};

#[tokio::test]
async fn a_created_project_is_read_back_listed_in_id_order_and_logged() {
    let (store, _guard) = backend().await;
    let boss = user(store.as_ref(), "boss", Role::User).await.id;
    let mut made = Vec::new();
    for name in ["Line 3 retrofit", "Annual shutdown", "Boiler"] {
        let p = project(store.as_ref(), name, boss, &[]);
        let entries = commit(
            store.as_ref(),
            vec![Write::PutProject(p.clone(), Expect::New, false)],
        )
        .await;
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].id, entries[0].op), (p.id.0, ChangeOp::Created));
        assert_eq!(kind_of(&entries[0]), "project");
        made.push(p);
    }
    assert_eq!(
        store.project(made[1].id).await.unwrap(),
        Some(made[1].clone())
    );
    assert!(store.project(ProjectId(777_777)).await.unwrap().is_none());
    let listed: Vec<ProjectId> = crate::all_projects(store.as_ref())
        .await
        .iter()
        .map(|p| p.id)
        .collect();
    let mut ids: Vec<ProjectId> = made.iter().map(|p| p.id).collect();
    ids.sort();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn expectations_are_checked_and_a_missing_project_is_not_found() {
    let (store, _guard) = backend().await;
    let boss = user(store.as_ref(), "boss", Role::User).await.id;
    let p = project(store.as_ref(), "Boiler", boss, &[]);
    commit(
        store.as_ref(),
        vec![Write::PutProject(p.clone(), Expect::New, false)],
    )
    .await;
    let again = apply(
        store.as_ref(),
        vec![Write::PutProject(p.clone(), Expect::New, false)],
    )
    .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let missing = project(store.as_ref(), "Nowhere", boss, &[]);
    let put = apply(
        store.as_ref(),
        vec![Write::PutProject(missing.clone(), Expect::Exists, false)],
    )
    .await;
    assert!(matches!(put, Err(StoreError::NotFound)), "{put:?}");
    assert!(store.project(missing.id).await.unwrap().is_none());
    let delete = apply(store.as_ref(), vec![Write::DeleteProject(missing.id)]).await;
    assert!(matches!(delete, Err(StoreError::NotFound)), "{delete:?}");

    let required = apply(
        store.as_ref(),
        vec![Write::RequireProject(missing.id, "project_id")],
    )
    .await;
    assert!(
        matches!(
            required,
            Err(StoreError::Invalid {
                field: "project_id",
                ..
            })
        ),
        "{required:?}"
    );
    commit(
        store.as_ref(),
        vec![Write::RequireProject(p.id, "project_id")],
    )
    .await;
}

#[tokio::test]
async fn projects_of_follows_the_manager_and_team_as_they_change() {
    let (store, _guard) = backend().await;
    let boss = user(store.as_ref(), "boss", Role::User).await.id;
    let fitter = user(store.as_ref(), "fitter", Role::User).await.id;
    let welder = user(store.as_ref(), "welder", Role::User).await.id;
    let stranger = user(store.as_ref(), "stranger", Role::User).await.id;
    let mut boiler = project(store.as_ref(), "Boiler", boss, &[fitter]);
    let press = project(store.as_ref(), "Press", welder, &[boss]);
    commit(
        store.as_ref(),
        vec![
            Write::PutProject(boiler.clone(), Expect::New, false),
            Write::PutProject(press.clone(), Expect::New, false),
        ],
    )
    .await;
    let of = |u| {
        let store = store.clone();
        async move {
            let mut ids = store.projects_of(u).await.unwrap();
            ids.sort();
            ids
        }
    };
    let mut both = vec![boiler.id, press.id];
    both.sort();
    assert_eq!(of(boss).await, both);
    assert_eq!(of(fitter).await, [boiler.id]);
    assert_eq!(of(welder).await, [press.id]);
    assert!(of(stranger).await.is_empty());

    // A team edit: the fitter leaves, the welder joins.
    boiler.team_members = vec![welder];
    let entries = commit(
        store.as_ref(),
        vec![Write::PutProject(boiler.clone(), Expect::Exists, true)],
    )
    .await;
    assert_eq!(
        entries[0].op,
        ChangeOp::TeamChanged,
        "a team edit is marked"
    );
    assert!(of(fitter).await.is_empty());
    assert_eq!(of(welder).await, both);

    // A new manager.
    boiler.manager_id = stranger;
    boiler.description = "handed over".into();
    let entries = commit(
        store.as_ref(),
        vec![Write::PutProject(boiler.clone(), Expect::Exists, false)],
    )
    .await;
    assert_eq!(entries[0].op, ChangeOp::Updated);
    assert_eq!(of(boss).await, [press.id]);
    assert_eq!(of(stranger).await, [boiler.id]);
    assert_eq!(
        store.project(boiler.id).await.unwrap(),
        Some(boiler.clone())
    );

    commit(store.as_ref(), vec![Write::DeleteProject(boiler.id)]).await;
    assert!(of(stranger).await.is_empty());
    assert_eq!(of(welder).await, [press.id]);
    assert!(store.project(boiler.id).await.unwrap().is_none());
}

/// API.md §Projects: "`name` … unique among projects not archived (`409` otherwise)"; the store
/// is where that is enforced, in the transaction (the `Write` docs do not say so).
#[tokio::test]
async fn names_are_unique_among_projects_not_archived() {
    let (store, _guard) = backend().await;
    let boss = user(store.as_ref(), "boss", Role::User).await.id;
    let mut first = project(store.as_ref(), "Boiler", boss, &[]);
    commit(
        store.as_ref(),
        vec![Write::PutProject(first.clone(), Expect::New, false)],
    )
    .await;

    let twin = project(store.as_ref(), "Boiler", boss, &[]);
    let refused = apply(
        store.as_ref(),
        vec![Write::PutProject(twin.clone(), Expect::New, false)],
    )
    .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert!(store.project(twin.id).await.unwrap().is_none());

    // Keeping its own name is no conflict.
    first.description = "same name".into();
    commit(
        store.as_ref(),
        vec![Write::PutProject(first.clone(), Expect::Exists, false)],
    )
    .await;

    // An archived project's name is free.
    first.status = ProjectStatus::Archived;
    commit(
        store.as_ref(),
        vec![Write::PutProject(first.clone(), Expect::Exists, false)],
    )
    .await;
    commit(
        store.as_ref(),
        vec![Write::PutProject(twin.clone(), Expect::New, false)],
    )
    .await;

    // A renamed project frees its old name.
    let mut renamed = twin.clone();
    renamed.name = "Boiler house".into();
    commit(
        store.as_ref(),
        vec![Write::PutProject(renamed, Expect::Exists, false)],
    )
    .await;
    let third = project(store.as_ref(), "Boiler", boss, &[]);
    commit(
        store.as_ref(),
        vec![Write::PutProject(third, Expect::New, false)],
    )
    .await;
}

#[tokio::test]
async fn deleting_a_project_detaches_its_activities() {
    let (store, _guard) = backend().await;
    let boss = user(store.as_ref(), "boss", Role::User).await.id;
    let boiler = project(store.as_ref(), "Boiler", boss, &[]);
    let press = project(store.as_ref(), "Press", boss, &[]);
    commit(
        store.as_ref(),
        vec![
            Write::PutProject(boiler.clone(), Expect::New, false),
            Write::PutProject(press.clone(), Expect::New, false),
        ],
    )
    .await;
    let mut inside = Vec::new();
    for _ in 0..3 {
        let mut a = activity(store.as_ref(), boss);
        a.project_id = Some(boiler.id);
        commit(
            store.as_ref(),
            vec![Write::PutActivity(a.clone(), Expect::New)],
        )
        .await;
        inside.push(a);
    }
    let mut elsewhere = activity(store.as_ref(), boss);
    elsewhere.project_id = Some(press.id);
    commit(
        store.as_ref(),
        vec![Write::PutActivity(elsewhere.clone(), Expect::New)],
    )
    .await;

    let seq = store.last_seq().await.unwrap();
    let entries = commit(store.as_ref(), vec![Write::DeleteProject(boiler.id)]).await;
    assert_eq!(
        store.changes_after(seq, 100).await.unwrap(),
        entries,
        "the entries returned are the ones appended"
    );
    assert!(
        entries
            .iter()
            .any(|e| kind_of(e) == "project" && e.id == boiler.id.0 && e.op == ChangeOp::Deleted)
    );
    for a in &inside {
        let now = store
            .activity(a.id)
            .await
            .unwrap()
            .expect("the activity stays");
        assert_eq!(now.project_id, None, "detached");
        assert_eq!(now.title, a.title);
    }
    let in_boiler = ActivityFilter {
        project: Some(boiler.id),
        ..Default::default()
    };
    let (count, _) = store
        .activities(
            &Viewer::new(UserId(1), Role::Admin, []),
            &in_boiler,
            ActivityOrder::CreatedAt,
            true,
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(count, 0);
    assert_eq!(
        store
            .activity(elsewhere.id)
            .await
            .unwrap()
            .unwrap()
            .project_id,
        Some(press.id)
    );
}

#[tokio::test]
async fn projects_by_ids_reads_the_existing_ones_and_skips_the_rest() {
    let (store, _guard) = backend().await;
    let boss = user(store.as_ref(), "boss", Role::User).await.id;
    let a = project(store.as_ref(), "Pumps", boss, &[]);
    let b = project(store.as_ref(), "Boiler", boss, &[]);
    commit(
        store.as_ref(),
        vec![
            Write::PutProject(a.clone(), Expect::New, false),
            Write::PutProject(b.clone(), Expect::New, false),
        ],
    )
    .await;
    let mut found = store
        .projects_by_ids(&[b.id, ProjectId(777_777), a.id])
        .await
        .unwrap();
    found.sort_by_key(|p| p.id);
    assert_eq!(found, vec![a, b]);
    assert!(store.projects_by_ids(&[]).await.unwrap().is_empty());
}
