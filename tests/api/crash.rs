//! Crash safety: `nexus serve` as a child process takes concurrent durable writes (activity
//! creates and versioned updates, announcements, direct messages) and is killed with SIGKILL at
//! a random moment, then restarted on the same data directory, over and over. After each
//! restart:
//!
//! - every acknowledged write is there with identical content (the object as its `2xx` answer
//!   showed it, or as a later acknowledged write left it);
//! - an object whose last request went unanswered is either as the last acknowledged write left
//!   it or exactly as that request would leave it, never a mix of the two;
//! - an unanswered create is either wholly absent or wholly present (row, list indexes, facet
//!   counts, the receiver's notification), and if present it is adopted as committed;
//! - ids are never reused: creates after the restart get ids above every id ever seen;
//! - once the index has caught up, search finds every activity the database holds.
//!
//! `NEXUS_CRASH_CYCLES` sets the number of kill cycles (default 20), `NEXUS_CRASH_SEED` the
//! random seed (printed, to reproduce a failure). `scripts/crash-soak.sh` runs 1,000 cycles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::process::{Running, nexus};

const ADMIN_PASSWORD: &str = "crash-admin-password";
const PEER_PASSWORD: &str = "crash-peer-password";
/// Concurrent writers.
const WRITERS: u64 = 6;
/// Every this many cycles (and after the last) every object is compared, not just the touched.
const FULL_SWEEP_EVERY: usize = 10;
/// How long search may take to catch up after a restart.
const CATCH_UP: Duration = Duration::from_secs(30);
const STATUSES: [&str; 5] = [
    "planned",
    "in_progress",
    "on_hold",
    "completed",
    "cancelled",
];
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const TYPES: [&str; 4] = ["production", "maintenance", "inspection", "other"];

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// A word that marks the titles written in `cycle` (four characters: no typo matching).
fn cycle_word(cycle: usize) -> String {
    format!("k{:03}", cycle % 1000)
}

/// A write request and, if the server answered it with success, the answer.
#[derive(Debug)]
enum Op {
    CreateActivity { body: Value },
    PatchActivity { base: Value, patch: Value },
    CreateUpdate { body: Value },
    SendMessage { body: Value },
}

#[derive(Debug)]
struct Outcome {
    op: Op,
    /// `Some` when acknowledged (`200`/`201`).
    answer: Option<Value>,
}

/// What the client knows the server holds; every value is exactly the REST form.
#[derive(Default)]
struct Model {
    activities: BTreeMap<u64, Value>,
    updates: BTreeMap<u64, Value>,
    messages: BTreeMap<u64, Value>,
    /// Highest id ever seen, per kind (acknowledged or found committed).
    max_activity: u64,
    max_update: u64,
    max_message: u64,
}

impl Model {
    /// High and critical updates notify the peer; so does every direct message.
    fn peer_notifications(&self) -> usize {
        self.messages.len()
            + self
                .updates
                .values()
                .filter(|u| u["priority"] == "high" || u["priority"] == "critical")
                .count()
    }
}

#[derive(Default)]
struct Totals {
    acknowledged: usize,
    verified: usize,
    unanswered: usize,
    unanswered_committed: usize,
}

/// One server on the data directory, with the two users' tokens.
struct Server {
    running: Running,
    base: String,
    admin: String,
    peer: String,
    peer_id: u64,
}

async fn start(data: &Path) -> Running {
    let mut cmd = nexus(data);
    cmd.env("NEXUS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("NEXUS_API__RATE_LIMIT_PER_SEC", "0");
    tokio::task::spawn_blocking(move || Running::start(cmd))
        .await
        .expect("start nexus")
}

async fn call(
    client: &Client,
    method: Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// A read that must succeed.
async fn get(client: &Client, server: &Server, path: &str) -> Value {
    let url = format!("{}{path}", server.base);
    let (status, body) = call(client, Method::GET, &url, &server.admin, None)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

async fn login(client: &Client, base: &str, username: &str, password: &str) -> Value {
    let r = client
        .post(format!("{base}/api/auth/login/"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("login request");
    assert_eq!(r.status(), StatusCode::OK, "login of {username}");
    r.json().await.expect("login body")
}

async fn connect(client: &Client, data: &Path) -> Server {
    let running = start(data).await;
    let base = running.base.clone();
    let admin = login(client, &base, "admin", ADMIN_PASSWORD).await["access"]
        .as_str()
        .expect("token")
        .to_string();
    let peer_login = {
        let r = client
            .post(format!("{base}/api/auth/login/"))
            .json(&json!({"username": "peer", "password": PEER_PASSWORD}))
            .send()
            .await
            .expect("login request");
        if r.status() == StatusCode::OK {
            r.json::<Value>().await.expect("login body")
        } else {
            let (status, body) = call(
                client,
                Method::POST,
                &format!("{base}/api/users/"),
                &admin,
                Some(&json!({"username": "peer", "email": "peer@plant.test",
                             "password": PEER_PASSWORD, "role": "user"})),
            )
            .await
            .expect("create peer");
            assert_eq!(status, StatusCode::CREATED, "{body}");
            login(client, &base, "peer", PEER_PASSWORD).await
        }
    };
    Server {
        running,
        base,
        admin,
        peer: peer_login["access"].as_str().expect("token").to_string(),
        peer_id: peer_login["user"]["id"].as_u64().expect("peer id"),
    }
}

/// The next legal status of a versioned patch, or none.
fn next_status(current: &str) -> Option<&'static str> {
    match current {
        "planned" | "on_hold" => Some("in_progress"),
        "in_progress" => Some("on_hold"),
        _ => None,
    }
}

/// Text with the characters that trip up storage and search: quotes, commas, non-ASCII.
fn description(rng: &mut StdRng) -> String {
    const PARTS: [&str; 8] = [
        "bearing",
        "\"seal\"",
        "line 3, bay 2",
        "Öl-Wechsel",
        "température",
        "ポンプ",
        "50%",
        "a\nb",
    ];
    (0..rng.random_range(0..6))
        .map(|_| PARTS[rng.random_range(0..PARTS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a writer sends its requests, and as whom.
#[derive(Clone)]
struct Target {
    client: Client,
    base: String,
    token: String,
    peer_id: u64,
}

/// One writer: sequential requests until one goes unanswered (the server died).
async fn writer(
    Target {
        client,
        base,
        token,
        peer_id,
    }: Target,
    cycle: usize,
    w: u64,
    mut owned: Vec<Value>,
    mut rng: StdRng,
) -> Vec<Outcome> {
    let word = cycle_word(cycle);
    let mut outcomes = Vec::new();
    for n in 0u64.. {
        let roll: f64 = rng.random();
        let unique = format!("u{cycle}x{w}x{n}");
        let (op, method, path, expected) = if roll < 0.45 || owned.is_empty() {
            let body = json!({
                "title": format!("crashmark {word} {unique}"),
                "description": description(&mut rng),
                "type": TYPES[rng.random_range(0..TYPES.len())],
                "priority": PRIORITIES[rng.random_range(0..PRIORITIES.len())],
            });
            (
                Op::CreateActivity { body },
                Method::POST,
                "/api/activities/".to_string(),
                StatusCode::CREATED,
            )
        } else if roll < 0.88 {
            let at = rng.random_range(0..owned.len());
            let base = owned[at].clone();
            let mut patch = json!({
                "version": base["version"],
                "title": format!("crashmark {word} {unique} patched"),
                "description": description(&mut rng),
                "priority": PRIORITIES[rng.random_range(0..PRIORITIES.len())],
            });
            if rng.random_bool(0.5)
                && let Some(status) = base["status"].as_str().and_then(next_status)
            {
                patch["status"] = json!(status);
            }
            let path = format!("/api/activities/{}/", base["id"]);
            (
                Op::PatchActivity { base, patch },
                Method::PATCH,
                path,
                StatusCode::OK,
            )
        } else if roll < 0.94 {
            let body = json!({
                "title": format!("crash update {unique}"),
                "content": description(&mut rng) + " content",
                "priority": PRIORITIES[rng.random_range(0..PRIORITIES.len())],
            });
            (
                Op::CreateUpdate { body },
                Method::POST,
                "/api/updates/".to_string(),
                StatusCode::CREATED,
            )
        } else {
            let body =
                json!({"receiver_id": peer_id, "content": format!("crash message {unique}")});
            (
                Op::SendMessage { body },
                Method::POST,
                "/api/chat/messages/".to_string(),
                StatusCode::CREATED,
            )
        };
        let body = match &op {
            Op::CreateActivity { body } | Op::CreateUpdate { body } | Op::SendMessage { body } => {
                body
            }
            Op::PatchActivity { patch, .. } => patch,
        };
        match call(
            &client,
            method,
            &format!("{base}{path}"),
            &token,
            Some(body),
        )
        .await
        {
            Ok((status, answer)) => {
                assert_eq!(status, expected, "{op:?} answered {answer}");
                match &op {
                    Op::CreateActivity { .. } => owned.push(answer.clone()),
                    Op::PatchActivity { base, .. } => {
                        if let Some(slot) = owned.iter_mut().find(|a| a["id"] == base["id"]) {
                            *slot = answer.clone();
                        }
                    }
                    _ => {}
                }
                outcomes.push(Outcome {
                    op,
                    answer: Some(answer),
                });
            }
            Err(_) => {
                outcomes.push(Outcome { op, answer: None });
                break;
            }
        }
    }
    outcomes
}

/// Asserts `found` is `patch` applied to `base`: every patched field as sent, the others as
/// before, the version one up. `updated_at` moves.
fn is_patched(base: &Value, patch: &Value, found: &Value) -> bool {
    let mut expected = base.clone();
    for (key, value) in patch.as_object().expect("patch object") {
        if key != "version" {
            expected[key] = value.clone();
        }
    }
    expected["version"] = json!(base["version"].as_u64().expect("version") + 1);
    expected["updated_at"] = found["updated_at"].clone();
    *found == expected
}

/// Whether `found` is what the create `body` would make: the fields sent, and a fresh object.
fn is_created_from(body: &Value, found: &Value) -> bool {
    body.as_object()
        .expect("body object")
        .iter()
        .all(|(key, value)| found[key] == *value)
}

/// The newest objects of a list endpoint whose ids `known` does not hold, at most `want`,
/// searching the first `pages` pages (newest first).
async fn newest_unknown(
    client: &Client,
    server: &Server,
    list: &str,
    known: &BTreeMap<u64, Value>,
    want: usize,
    pages: usize,
) -> Vec<Value> {
    let mut found = Vec::new();
    for page in 1..=pages.max(1) {
        let separator = if list.contains('?') { '&' } else { '?' };
        let body = get(
            client,
            server,
            &format!("{list}{separator}page_size=200&page={page}"),
        )
        .await;
        for item in body["results"].as_array().expect("results") {
            let id = item["id"].as_u64().expect("id");
            if !known.contains_key(&id) {
                found.push(item.clone());
            }
        }
        if found.len() >= want || body["next"].is_null() {
            break;
        }
    }
    found
}

/// Checks the restarted server against the model and the previous cycle's outcomes; adopts the
/// unanswered creates that committed. Returns how many acknowledged writes it covered.
async fn verify_after_restart(
    client: &Client,
    server: &Server,
    model: &mut Model,
    outcomes: &[Outcome],
    totals: &mut Totals,
    full_sweep: bool,
) {
    // 1. Objects touched by an unanswered patch: the last acknowledged state or the patch
    //    applied whole.
    let mut touched: BTreeSet<u64> = BTreeSet::new();
    for outcome in outcomes {
        match (&outcome.op, &outcome.answer) {
            (Op::CreateActivity { .. } | Op::PatchActivity { .. }, Some(answer)) => {
                touched.insert(answer["id"].as_u64().expect("id"));
            }
            (Op::PatchActivity { base, patch }, None) => {
                let id = base["id"].as_u64().expect("id");
                let found = get(client, server, &format!("/api/activities/{id}/")).await;
                let acknowledged = &model.activities[&id];
                assert_eq!(
                    acknowledged, base,
                    "the unanswered patch started from the model"
                );
                if found == *acknowledged {
                } else if is_patched(base, patch, &found) {
                    model.activities.insert(id, found);
                    totals.unanswered_committed += 1;
                } else {
                    panic!(
                        "activity {id} after an unanswered patch is neither the acknowledged \
                         state nor the patch applied:\nacknowledged {acknowledged}\npatch \
                         {patch}\nfound {found}"
                    );
                }
            }
            _ => {}
        }
    }

    // 2. Every acknowledged object of the cycle (or all of them) reads back identically.
    let ids: Vec<u64> = if full_sweep {
        model.activities.keys().copied().collect()
    } else {
        touched.into_iter().collect()
    };
    if full_sweep {
        let mut page = 1;
        let mut seen = BTreeSet::new();
        loop {
            let body = get(
                client,
                server,
                &format!("/api/activities/?page_size=200&page={page}&ordering=created_at"),
            )
            .await;
            for item in body["results"].as_array().expect("results") {
                let id = item["id"].as_u64().expect("id");
                seen.insert(id);
                if let Some(expected) = model.activities.get(&id) {
                    assert_eq!(item, expected, "activity {id} in the list");
                }
            }
            if body["next"].is_null() {
                break;
            }
            page += 1;
        }
        for id in &ids {
            assert!(seen.contains(id), "acknowledged activity {id} is listed");
        }
    } else {
        for id in &ids {
            let found = get(client, server, &format!("/api/activities/{id}/")).await;
            assert_eq!(
                &found, &model.activities[id],
                "acknowledged activity {id} reads back as acknowledged"
            );
        }
    }

    // 3. Unanswered creates: wholly there (then adopted) or wholly absent.
    let unanswered_creates: Vec<&Value> = outcomes
        .iter()
        .filter_map(|o| match (&o.op, &o.answer) {
            (Op::CreateActivity { body }, None) => Some(body),
            _ => None,
        })
        .collect();
    let count = get(client, server, "/api/activities/?page_size=1").await["count"]
        .as_u64()
        .expect("count") as usize;
    assert!(
        count >= model.activities.len(),
        "{count} activities listed, {} acknowledged",
        model.activities.len()
    );
    let extra = count - model.activities.len();
    assert!(
        extra <= unanswered_creates.len(),
        "{extra} unknown activities, only {} creates went unanswered",
        unanswered_creates.len()
    );
    if extra > 0 {
        let cycle_creates = outcomes
            .iter()
            .filter(|o| matches!(o.op, Op::CreateActivity { .. }))
            .count();
        let found = newest_unknown(
            client,
            server,
            "/api/activities/?ordering=-created_at",
            &model.activities,
            extra,
            cycle_creates / 200 + 2,
        )
        .await;
        assert_eq!(found.len(), extra, "the unknown activities are the newest");
        for item in found {
            assert!(
                unanswered_creates
                    .iter()
                    .any(|body| is_created_from(body, &item)),
                "activity {item} is no unanswered create made whole"
            );
            assert_eq!(item["version"], 1);
            assert_eq!(item["status"], "planned");
            let id = item["id"].as_u64().expect("id");
            let read = get(client, server, &format!("/api/activities/{id}/")).await;
            assert_eq!(read, item, "the row and the list agree");
            model.max_activity = model.max_activity.max(id);
            model.activities.insert(id, item);
            totals.unanswered_committed += 1;
        }
    }

    // 4. The list indexes agree with the rows: one facet count per status and priority.
    for (field, values) in [("status", &STATUSES[..]), ("priority", &PRIORITIES[..])] {
        for value in values {
            let listed = get(
                client,
                server,
                &format!("/api/activities/?{field}={value}&page_size=1"),
            )
            .await["count"]
                .as_u64()
                .expect("count") as usize;
            let expected = model
                .activities
                .values()
                .filter(|a| a[field] == *value)
                .count();
            assert_eq!(listed, expected, "activities with {field}={value}");
        }
    }

    // 5. Announcements and messages, the same way.
    for outcome in outcomes {
        if let (Op::CreateUpdate { .. }, Some(answer)) = (&outcome.op, &outcome.answer) {
            let id = answer["id"].as_u64().expect("id");
            let found = get(client, server, &format!("/api/updates/{id}/")).await;
            assert_eq!(&found, answer, "acknowledged update {id}");
        }
    }
    let unanswered: Vec<&Value> = outcomes
        .iter()
        .filter_map(|o| match (&o.op, &o.answer) {
            (Op::CreateUpdate { body }, None) => Some(body),
            _ => None,
        })
        .collect();
    let count = get(client, server, "/api/updates/?page_size=1").await["count"]
        .as_u64()
        .expect("count") as usize;
    let extra = count
        .checked_sub(model.updates.len())
        .expect("no acknowledged update lost");
    assert!(extra <= unanswered.len(), "{extra} unknown updates");
    let found = if extra > 0 {
        newest_unknown(client, server, "/api/updates/", &model.updates, extra, 3).await
    } else {
        Vec::new()
    };
    assert_eq!(found.len(), extra, "the unknown updates are the newest");
    for item in found {
        assert!(
            unanswered.iter().any(|body| is_created_from(body, &item)),
            "update {item} is no unanswered create made whole"
        );
        let id = item["id"].as_u64().expect("id");
        model.max_update = model.max_update.max(id);
        model.updates.insert(id, item);
        totals.unanswered_committed += 1;
    }

    let conversation = format!("/api/chat/messages/?with={}", server.peer_id);
    let count = get(client, server, &format!("{conversation}&page_size=1")).await["count"]
        .as_u64()
        .expect("count") as usize;
    let unanswered: Vec<&Value> = outcomes
        .iter()
        .filter_map(|o| match (&o.op, &o.answer) {
            (Op::SendMessage { body }, None) => Some(body),
            _ => None,
        })
        .collect();
    let extra = count
        .checked_sub(model.messages.len())
        .expect("no acknowledged message lost");
    assert!(extra <= unanswered.len(), "{extra} unknown messages");
    let cycle_messages: BTreeSet<u64> = outcomes
        .iter()
        .filter_map(|o| match (&o.op, &o.answer) {
            (Op::SendMessage { .. }, Some(answer)) => answer["id"].as_u64(),
            _ => None,
        })
        .collect();
    let pages = (cycle_messages.len() + extra) / 200 + 2;
    let mut page = 1;
    let mut seen = BTreeSet::new();
    while page <= pages {
        let body = get(
            client,
            server,
            &format!("{conversation}&page_size=200&page={page}"),
        )
        .await;
        for item in body["results"].as_array().expect("results") {
            let id = item["id"].as_u64().expect("id");
            seen.insert(id);
            match model.messages.get(&id) {
                Some(expected) => assert_eq!(item, expected, "acknowledged message {id}"),
                None => {
                    assert!(
                        unanswered.iter().any(|body| is_created_from(body, item)),
                        "message {item} is no unanswered send made whole"
                    );
                    model.max_message = model.max_message.max(id);
                    model.messages.insert(id, item.clone());
                    totals.unanswered_committed += 1;
                }
            }
        }
        if body["next"].is_null() || cycle_messages.iter().all(|id| seen.contains(id)) {
            break;
        }
        page += 1;
    }
    assert_eq!(model.messages.len(), count, "every message accounted for");
    for id in &cycle_messages {
        assert!(seen.contains(id), "acknowledged message {id} is listed");
    }

    // 6. A message and its notification, an urgent update and its notifications, commit
    //    together.
    let url = format!("{}/api/updates/notifications/?page_size=1", server.base);
    let (status, body) = call(client, Method::GET, &url, &server.peer, None)
        .await
        .expect("notifications");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["count"].as_u64().expect("count") as usize,
        model.peer_notifications(),
        "the peer has one notification per message and urgent update"
    );

    // 7. Search catches up with the database: everything, then this cycle's titles.
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let url = format!(
            "{}/api/search/?q=crashmark&kind=activity&page_size=1",
            server.base
        );
        let (status, body) = call(client, Method::GET, &url, &server.admin, None)
            .await
            .expect("search");
        if status == StatusCode::OK && body["count"].as_u64() == Some(model.activities.len() as u64)
        {
            break;
        }
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "search answered {status}: {body}"
        );
        assert!(
            Instant::now() < deadline,
            "search finds {} of {} activities {CATCH_UP:?} after the restart",
            body["count"],
            model.activities.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let words: BTreeSet<String> = outcomes
        .iter()
        .filter_map(|o| o.answer.as_ref())
        .filter_map(|a| a["title"].as_str())
        .filter(|t| t.starts_with("crashmark "))
        .filter_map(|t| t.split(' ').nth(1).map(str::to_string))
        .collect();
    for word in words {
        let expected: BTreeSet<u64> = model
            .activities
            .iter()
            .filter(|(_, a)| {
                a["title"]
                    .as_str()
                    .is_some_and(|t| t.split(' ').any(|w| w == word))
            })
            .map(|(id, _)| *id)
            .collect();
        let mut found = BTreeSet::new();
        let mut page = 1;
        loop {
            let body = get(
                client,
                server,
                &format!("/api/search/?q={word}&kind=activity&page_size=200&page={page}"),
            )
            .await;
            for hit in body["results"].as_array().expect("results") {
                found.insert(hit["id"].as_u64().expect("id"));
            }
            if found.len() >= body["count"].as_u64().unwrap_or(0) as usize
                || body["results"].as_array().is_none_or(Vec::is_empty)
            {
                break;
            }
            page += 1;
        }
        let missing: Vec<&u64> = expected.difference(&found).collect();
        assert!(missing.is_empty(), "search for {word} misses {missing:?}");
    }

    totals.verified += outcomes.iter().filter(|o| o.answer.is_some()).count();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9_whole_and_nothing_half_written_appears() {
    let cycles = env_number("NEXUS_CRASH_CYCLES").unwrap_or(20) as usize;
    let seed = env_number("NEXUS_CRASH_SEED").unwrap_or_else(rand::random);
    println!("crash test: {cycles} cycles, seed {seed} (NEXUS_CRASH_SEED to repeat)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let mut model = Model::default();
    let mut totals = Totals::default();
    let mut server = connect(&client, &data).await;
    let started = Instant::now();

    for cycle in 0..cycles {
        // Writers, each owning a share of the existing activities.
        let max_before = (model.max_activity, model.max_update, model.max_message);
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let owned: Vec<Value> = model
                    .activities
                    .iter()
                    .filter(|(id, _)| **id % WRITERS == w)
                    .map(|(_, a)| a.clone())
                    .collect();
                let target = Target {
                    client: client.clone(),
                    base: server.base.clone(),
                    token: server.admin.clone(),
                    peer_id: server.peer_id,
                };
                tokio::spawn(writer(
                    target,
                    cycle,
                    w,
                    owned,
                    StdRng::seed_from_u64(rng.random()),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..1200))).await;
        let Server { running, .. } = server;
        tokio::task::spawn_blocking(move || running.kill())
            .await
            .expect("kill");
        let mut outcomes = Vec::new();
        for handle in handles {
            outcomes.extend(handle.await.expect("writer"));
        }

        // Fold the acknowledged writes into the model; ids only grow.
        for outcome in &outcomes {
            let Some(answer) = &outcome.answer else {
                totals.unanswered += 1;
                continue;
            };
            totals.acknowledged += 1;
            let id = answer["id"].as_u64().expect("id");
            let (map, max, before) = match outcome.op {
                Op::CreateActivity { .. } | Op::PatchActivity { .. } => {
                    (&mut model.activities, &mut model.max_activity, max_before.0)
                }
                Op::CreateUpdate { .. } => {
                    (&mut model.updates, &mut model.max_update, max_before.1)
                }
                Op::SendMessage { .. } => {
                    (&mut model.messages, &mut model.max_message, max_before.2)
                }
            };
            if !matches!(outcome.op, Op::PatchActivity { .. }) {
                assert!(
                    id > before,
                    "cycle {cycle}: new id {id} is above every id seen before ({before})"
                );
                assert!(!map.contains_key(&id), "id {id} given twice");
            }
            *max = (*max).max(id);
            if let Op::PatchActivity { base, .. } = &outcome.op {
                let current = &map[&id];
                assert_eq!(
                    current["version"].as_u64().map(|v| v + 1),
                    answer["version"].as_u64(),
                    "acknowledged patches of activity {id} apply one after another ({base})"
                );
            }
            map.insert(id, answer.clone());
        }

        server = connect(&client, &data).await;
        let full = (cycle + 1) % FULL_SWEEP_EVERY == 0 || cycle + 1 == cycles;
        verify_after_restart(&client, &server, &mut model, &outcomes, &mut totals, full).await;
        println!(
            "crash cycle {}/{cycles} survived: {} acknowledged, {} unanswered; totals: \
             acknowledged {}, verified {}, unanswered {} (committed {}); {} activities, {} \
             updates, {} messages; {:.1?}",
            cycle + 1,
            outcomes.iter().filter(|o| o.answer.is_some()).count(),
            outcomes.iter().filter(|o| o.answer.is_none()).count(),
            totals.acknowledged,
            totals.verified,
            totals.unanswered,
            totals.unanswered_committed,
            model.activities.len(),
            model.updates.len(),
            model.messages.len(),
            started.elapsed()
        );
    }
    drop(server);
    println!(
        "crash summary: cycles survived {cycles}, writes acknowledged {}, writes verified {}, \
         unanswered {} (found committed {}), seed {seed}",
        totals.acknowledged, totals.verified, totals.unanswered, totals.unanswered_committed
    );
    assert_eq!(totals.acknowledged, totals.verified);
    assert!(
        cycles == 0 || totals.acknowledged > 0,
        "writes went through before the kills"
    );
}
