//! `UserStore` and `SessionStore`: the directory, its uniqueness rules, and sign-in sessions.

use nexus::domain::user::{Profile, Role};
use nexus::domain::{SessionId, UserId};
use nexus::store::{RefreshOutcome, StoreError, UserChanges};

use crate::{at, backend, new_user, user};

#[tokio::test]
async fn a_created_user_is_active_and_read_back_by_id_and_username() {
    let (store, _guard) = backend().await;
    let created = store
        .create_user(new_user("Alice", "Alice@Plant.test", Role::Staff))
        .await
        .unwrap();
    assert_eq!(created.username, "Alice", "the case is kept");
    assert_eq!(created.email, "Alice@Plant.test");
    assert_eq!(created.display_name, "Alice (display)");
    assert_eq!(created.role, Role::Staff);
    assert_eq!(created.password_hash, "$argon2id$not-a-real-hash");
    assert!(created.is_active);

    let by_id = store.user(created.id).await.unwrap().expect("by id");
    assert_eq!(by_id.username, "Alice");
    assert_eq!(by_id.email, created.email);
    for spelling in ["Alice", "alice", "ALICE"] {
        let found = store.user_by_username(spelling).await.unwrap();
        assert_eq!(found.map(|u| u.id), Some(created.id), "{spelling}");
    }
    assert!(
        store
            .user(UserId(created.id.0 + 100))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.user_by_username("bob").await.unwrap().is_none());
}

#[tokio::test]
async fn usernames_are_unique_case_insensitively_and_emails_unique() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;

    let same_name = store
        .create_user(new_user("ALICE", "other@plant.test", Role::User))
        .await;
    assert!(
        matches!(same_name, Err(StoreError::Conflict(_))),
        "{same_name:?}"
    );
    let same_email = store
        .create_user(new_user("bob", "alice@plant.test", Role::User))
        .await;
    assert!(
        matches!(same_email, Err(StoreError::Conflict(_))),
        "{same_email:?}"
    );

    // Refused creates leave nothing behind: the names they tried stay free.
    let users = crate::all_users(store.as_ref()).await;
    assert_eq!(users.iter().map(|u| u.id).collect::<Vec<_>>(), [alice.id]);
    assert!(store.user_by_username("bob").await.unwrap().is_none());
    user(store.as_ref(), "bob", Role::User).await;
}

#[tokio::test]
async fn users_are_listed_in_id_order() {
    let (store, _guard) = backend().await;
    let mut ids = Vec::new();
    for name in ["zed", "amy", "mo", "bea"] {
        ids.push(user(store.as_ref(), name, Role::User).await.id);
    }
    let listed: Vec<UserId> = crate::all_users(store.as_ref())
        .await
        .iter()
        .map(|u| u.id)
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "every user has their own id");
}

#[tokio::test]
async fn the_first_user_is_created_only_in_an_empty_directory() {
    let (store, _guard) = backend().await;
    let first = store
        .create_first_user(new_user("root", "root@plant.test", Role::Admin))
        .await
        .unwrap()
        .expect("the first user is created");
    assert_eq!(first.role, Role::Admin);
    let second = store
        .create_first_user(new_user("again", "again@plant.test", Role::Admin))
        .await
        .unwrap();
    assert!(second.is_none(), "{second:?}");
    assert!(store.user_by_username("again").await.unwrap().is_none());
    assert_eq!(crate::all_users(store.as_ref()).await.len(), 1);
}

#[tokio::test]
async fn update_user_changes_only_the_fields_given() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let profile = Profile {
        job_title: "Fitter".into(),
        department: "Maintenance".into(),
        phone: "+1 555 0100".into(),
        shift: "night".into(),
    };
    let changed = store
        .update_user(
            alice.id,
            UserChanges {
                display_name: Some("Alice A.".into()),
                role: Some(Role::Staff),
                profile: Some(profile.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.display_name, "Alice A.");
    assert_eq!(changed.role, Role::Staff);
    assert_eq!(changed.profile, profile);
    assert_eq!(changed.email, alice.email, "untouched");
    assert_eq!(changed.password_hash, alice.password_hash, "untouched");
    assert!(changed.is_active, "untouched");

    let stored = store.user(alice.id).await.unwrap().unwrap();
    assert_eq!(stored.display_name, "Alice A.");
    assert_eq!(stored.role, Role::Staff);
    assert_eq!(stored.profile, profile);

    let changed = store
        .update_user(
            alice.id,
            UserChanges {
                password_hash: Some("$argon2id$new".into()),
                email: Some("a.new@plant.test".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.password_hash, "$argon2id$new");
    assert_eq!(changed.email, "a.new@plant.test");
    assert_eq!(changed.display_name, "Alice A.", "kept from before");
}

#[tokio::test]
async fn update_user_of_a_missing_user_is_not_found() {
    let (store, _guard) = backend().await;
    let result = store
        .update_user(
            UserId(4242),
            UserChanges {
                display_name: Some("ghost".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert!(crate::all_users(store.as_ref()).await.is_empty());
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_that_changes_nothing() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let bob = user(store.as_ref(), "bob", Role::User).await;
    let result = store
        .update_user(
            bob.id,
            UserChanges {
                email: Some(alice.email.clone()),
                display_name: Some("Bob renamed".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    let stored = store.user(bob.id).await.unwrap().unwrap();
    assert_eq!(stored.email, bob.email);
    assert_eq!(stored.display_name, bob.display_name, "nothing changed");
}

#[tokio::test]
async fn a_changed_email_frees_the_old_one_and_takes_the_new_one() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    store
        .update_user(
            alice.id,
            UserChanges {
                email: Some("alice.new@plant.test".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The old address is free again, the new one is taken.
    store
        .create_user(new_user("carol", "alice@plant.test", Role::User))
        .await
        .expect("the old email is free");
    let taken = store
        .create_user(new_user("dave", "alice.new@plant.test", Role::User))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
}

#[tokio::test]
async fn a_session_is_read_back_with_its_user() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let expires = at(3600);
    let session = store.create_session(alice.id, expires).await.unwrap();
    assert_eq!(session.user_id, alice.id);
    assert_eq!(session.expires_at, expires);
    let (found, owner) = store
        .session_with_user(session.id)
        .await
        .unwrap()
        .expect("the session");
    assert_eq!(found.id, session.id);
    assert_eq!(found.refresh_generation, session.refresh_generation);
    assert_eq!(owner.id, alice.id);
    assert!(
        store
            .session_with_user(SessionId(session.id.0 + 100))
            .await
            .unwrap()
            .is_none()
    );
    let other = store.create_session(alice.id, expires).await.unwrap();
    assert_ne!(other.id, session.id, "each session has its own id");
}

#[tokio::test]
async fn a_session_shows_its_user_as_they_are_now() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let session = store.create_session(alice.id, at(3600)).await.unwrap();
    // Read once, so a backend that caches has something cached.
    store.session_with_user(session.id).await.unwrap().unwrap();
    store
        .update_user(
            alice.id,
            UserChanges {
                role: Some(Role::Admin),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, owner) = store.session_with_user(session.id).await.unwrap().unwrap();
    assert_eq!(owner.role, Role::Admin);
}

#[tokio::test]
async fn a_current_refresh_token_rotates_the_session_to_the_next_generation() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let session = store.create_session(alice.id, at(3600)).await.unwrap();
    let later = at(7200);
    let outcome = store
        .rotate_refresh(session.id, session.refresh_generation, later)
        .await
        .unwrap();
    let RefreshOutcome::Rotated(rotated) = outcome else {
        panic!("expected Rotated, got {outcome:?}");
    };
    assert_eq!(rotated.id, session.id);
    assert_eq!(rotated.user_id, alice.id);
    assert!(rotated.refresh_generation > session.refresh_generation);
    assert_eq!(rotated.expires_at, later);
    let (stored, _) = store.session_with_user(session.id).await.unwrap().unwrap();
    assert_eq!(stored.refresh_generation, rotated.refresh_generation);
    assert_eq!(stored.expires_at, later);

    // And again from the new generation.
    let again = store
        .rotate_refresh(session.id, rotated.refresh_generation, at(9000))
        .await
        .unwrap();
    assert!(matches!(again, RefreshOutcome::Rotated(_)), "{again:?}");
}

#[tokio::test]
async fn a_spent_refresh_token_is_reuse_and_revokes_the_whole_session() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let session = store.create_session(alice.id, at(3600)).await.unwrap();
    let spent = session.refresh_generation;
    let RefreshOutcome::Rotated(rotated) = store
        .rotate_refresh(session.id, spent, at(3600))
        .await
        .unwrap()
    else {
        panic!("the first rotation");
    };
    let reused = store
        .rotate_refresh(session.id, spent, at(3600))
        .await
        .unwrap();
    assert!(matches!(reused, RefreshOutcome::Reused), "{reused:?}");
    assert!(store.session_with_user(session.id).await.unwrap().is_none());
    // The thief's reuse also spends the legitimate holder's current token.
    let current = store
        .rotate_refresh(session.id, rotated.refresh_generation, at(3600))
        .await
        .unwrap();
    assert!(matches!(current, RefreshOutcome::Missing), "{current:?}");
}

#[tokio::test]
async fn an_unknown_revoked_or_expired_session_is_missing() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let unknown = store
        .rotate_refresh(SessionId(999), 0, at(3600))
        .await
        .unwrap();
    assert!(matches!(unknown, RefreshOutcome::Missing), "{unknown:?}");

    let revoked = store.create_session(alice.id, at(3600)).await.unwrap();
    assert!(store.revoke_session(revoked.id).await.unwrap());
    let outcome = store
        .rotate_refresh(revoked.id, revoked.refresh_generation, at(3600))
        .await
        .unwrap();
    assert!(matches!(outcome, RefreshOutcome::Missing), "{outcome:?}");

    let expired = store.create_session(alice.id, at(-60)).await.unwrap();
    let outcome = store
        .rotate_refresh(expired.id, expired.refresh_generation, at(3600))
        .await
        .unwrap();
    assert!(matches!(outcome, RefreshOutcome::Missing), "{outcome:?}");
}

#[tokio::test]
async fn revoking_a_session_ends_it_once() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let session = store.create_session(alice.id, at(3600)).await.unwrap();
    let other = store.create_session(alice.id, at(3600)).await.unwrap();
    assert!(store.revoke_session(session.id).await.unwrap());
    assert!(store.session_with_user(session.id).await.unwrap().is_none());
    assert!(
        !store.revoke_session(session.id).await.unwrap(),
        "already ended"
    );
    assert!(!store.revoke_session(SessionId(999)).await.unwrap());
    assert!(
        store.session_with_user(other.id).await.unwrap().is_some(),
        "the user's other session lives on"
    );
}

#[tokio::test]
async fn revoking_a_users_sessions_keeps_the_one_asked_and_other_users_sessions() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let bob = user(store.as_ref(), "bob", Role::User).await;
    let mut alices = Vec::new();
    for _ in 0..3 {
        alices.push(store.create_session(alice.id, at(3600)).await.unwrap().id);
    }
    let bobs = store.create_session(bob.id, at(3600)).await.unwrap().id;

    let ended = store
        .revoke_user_sessions(alice.id, Some(alices[1]))
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert!(store.session_with_user(alices[0]).await.unwrap().is_none());
    assert!(store.session_with_user(alices[1]).await.unwrap().is_some());
    assert!(store.session_with_user(alices[2]).await.unwrap().is_none());
    assert!(store.session_with_user(bobs).await.unwrap().is_some());

    let ended = store.revoke_user_sessions(alice.id, None).await.unwrap();
    assert_eq!(ended, 1);
    assert!(store.session_with_user(alices[1]).await.unwrap().is_none());
    assert_eq!(store.revoke_user_sessions(alice.id, None).await.unwrap(), 0);
    assert!(store.session_with_user(bobs).await.unwrap().is_some());
}

#[tokio::test]
async fn deactivating_a_user_ends_all_their_sessions() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let bob = user(store.as_ref(), "bob", Role::User).await;
    let first = store.create_session(alice.id, at(3600)).await.unwrap();
    let second = store.create_session(alice.id, at(3600)).await.unwrap();
    let bobs = store.create_session(bob.id, at(3600)).await.unwrap();
    let changed = store
        .update_user(
            alice.id,
            UserChanges {
                is_active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!changed.is_active);
    assert!(!store.user(alice.id).await.unwrap().unwrap().is_active);
    for session in [first, second] {
        assert!(store.session_with_user(session.id).await.unwrap().is_none());
        let outcome = store
            .rotate_refresh(session.id, session.refresh_generation, at(3600))
            .await
            .unwrap();
        assert!(matches!(outcome, RefreshOutcome::Missing), "{outcome:?}");
    }
    assert!(store.session_with_user(bobs.id).await.unwrap().is_some());
}

#[tokio::test]
async fn extending_a_session_moves_its_expiry_only_while_it_lives() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let session = store.create_session(alice.id, at(60)).await.unwrap();
    assert!(store.extend_session(session.id, at(7200)).await.unwrap());
    let (extended, _) = store.session_with_user(session.id).await.unwrap().unwrap();
    assert!(extended.expires_at > at(7000), "{:?}", extended.expires_at);
    assert_eq!(
        extended.refresh_generation, session.refresh_generation,
        "extending spends no refresh token"
    );

    let expired = store.create_session(alice.id, at(-60)).await.unwrap();
    assert!(!store.extend_session(expired.id, at(7200)).await.unwrap());
    assert!(store.revoke_session(session.id).await.unwrap());
    assert!(!store.extend_session(session.id, at(7200)).await.unwrap());
    assert!(
        store.session_with_user(session.id).await.unwrap().is_none(),
        "a revoked session is not brought back"
    );
    assert!(
        !store
            .extend_session(SessionId(999), at(7200))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn users_by_ids_reads_the_existing_ones_and_skips_the_rest() {
    let (store, _guard) = backend().await;
    let alice = user(store.as_ref(), "alice", Role::User).await;
    let bob = user(store.as_ref(), "bob", Role::Staff).await;
    let mut found: Vec<UserId> = store
        .users_by_ids(&[bob.id, UserId(bob.id.0 + 100), alice.id])
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    found.sort();
    assert_eq!(found, vec![alice.id, bob.id]);
    assert!(store.users_by_ids(&[]).await.unwrap().is_empty());
}
