//! `/api/search/` and the `q` filter of the activity and project lists: the answer's shape,
//! kinds, freshness (a write is searchable within a second), the query language (AND by default,
//! phrases, fields, AND/OR/NOT, prefixes, one typo, stemming), parse errors that say where,
//! HTML-safe snippets, visibility per role (hits and counts), paging, and an index that survives
//! restarts, lags behind the database, or is deleted or damaged and rebuilt.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers

const SEARCH: &str = "/api/search/";

/// Every HTTP call of this file gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The contract: a write is searchable within this long.
const FRESHNESS: Duration = Duration::from_secs(1);
/// How long a rebuilt index may take to answer again in these small tests.
const REBUILD_WITHIN: Duration = Duration::from_secs(10);

/// A search hit as `(kind, id)`.
type Key = (String, u64);

fn id_of(value: &Value) -> u64 {
    value["id"].as_u64().expect("numeric id")
}

fn key(kind: &str, object: &Value) -> Key {
    (kind.to_string(), id_of(object))
}

fn keys(objects: &[(&str, &Value)]) -> BTreeSet<Key> {
    objects.iter().map(|(k, o)| key(k, o)).collect()
}

/// Sends `method path` as `token` with an optional JSON body, with a timeout.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Response {
    let mut request = app.request(method, path, token).timeout(REQUEST_TIMEOUT);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request")
}

/// POST `body` to `path`; asserts 201 and returns the object.
async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = call(app, Method::POST, path, Some(token), Some(&body)).await;
    assert_eq!(r.status(), StatusCode::CREATED, "POST {path} {body}");
    json_of(r).await
}

/// GET `path`; asserts 200 and returns the body.
async fn get_ok(app: &TestApp, token: &str, path: &str) -> Value {
    let r = call(app, Method::GET, path, Some(token), None).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    json_of(r).await
}

/// PATCH `body` onto `path`; asserts 200 and returns the object.
async fn patched(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = call(app, Method::PATCH, path, Some(token), Some(&body)).await;
    assert_eq!(r.status(), StatusCode::OK, "PATCH {path} {body}");
    json_of(r).await
}

/// DELETE `path`; asserts 204.
async fn deleted(app: &TestApp, token: &str, path: &str) {
    let r = call(app, Method::DELETE, path, Some(token), None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "DELETE {path}");
}

async fn activity(app: &TestApp, token: &str, body: Value) -> Value {
    created(app, token, "/api/activities/", body).await
}

async fn titled(app: &TestApp, token: &str, title: &str) -> Value {
    activity(app, token, json!({ "title": title })).await
}

fn activity_path(a: &Value) -> String {
    format!("/api/activities/{}/", id_of(a))
}

fn project_path(p: &Value) -> String {
    format!("/api/projects/{}/", id_of(p))
}

/// A project managed by the caller with `team`.
async fn project(app: &TestApp, token: &str, name: &str, team: &[&Value]) -> Value {
    let team: Vec<u64> = team.iter().map(|u| id_of(u)).collect();
    created(
        app,
        token,
        "/api/projects/",
        json!({ "name": name, "team_members": team }),
    )
    .await
}

async fn add_member(app: &TestApp, token: &str, project: &Value, user: &Value) {
    let path = format!("{}team/", project_path(project));
    let r = call(
        app,
        Method::POST,
        &path,
        Some(token),
        Some(&json!({ "user_id": id_of(user) })),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED, "add to team");
}

async fn remove_member(app: &TestApp, token: &str, project: &Value, user: &Value) {
    let path = format!("{}team/{}/", project_path(project), id_of(user));
    deleted(app, token, &path).await;
}

async fn update(app: &TestApp, token: &str, title: &str, content: &str) -> Value {
    created(
        app,
        token,
        "/api/updates/",
        json!({ "title": title, "content": content }),
    )
    .await
}

async fn direct(app: &TestApp, token: &str, to: &Value, content: &str) -> Value {
    created(
        app,
        token,
        "/api/chat/messages/",
        json!({ "receiver_id": id_of(to), "content": content }),
    )
    .await
}

async fn room(app: &TestApp, token: &str, project: &Value, content: &str) -> Value {
    created(
        app,
        token,
        "/api/chat/messages/",
        json!({ "project_id": id_of(project), "content": content }),
    )
    .await
}

/// GET /api/search/ with `params` (query-encoded) as `token`.
async fn search_raw(app: &TestApp, token: Option<&str>, params: &[(&str, &str)]) -> Response {
    app.request(Method::GET, SEARCH, token)
        .query(params)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .expect("request")
}

/// Searches with `params`; asserts 200, the answer's shape and safe snippets.
async fn search_with(app: &TestApp, token: &str, params: &[(&str, &str)]) -> Value {
    let r = search_raw(app, Some(token), params).await;
    assert_eq!(r.status(), StatusCode::OK, "search {params:?}");
    let body = json_of(r).await;
    assert_answer_shape(&body);
    body
}

/// Searches every kind for `q`.
async fn search(app: &TestApp, token: &str, q: &str) -> Value {
    search_with(app, token, &[("q", q)]).await
}

/// Searches `kind` (a comma list) for `q`.
async fn search_kind(app: &TestApp, token: &str, q: &str, kind: &str) -> Value {
    search_with(
        app,
        token,
        &[("q", q), ("kind", kind), ("page_size", "200")],
    )
    .await
}

/// The hits of an answer, as `(kind, id)`, in order.
fn hit_list(body: &Value) -> Vec<Key> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().expect("kind").to_string(),
                h["id"].as_u64().expect("id"),
            )
        })
        .collect()
}

fn hit_set(body: &Value) -> BTreeSet<Key> {
    hit_list(body).into_iter().collect()
}

/// The ids of the hits (for answers limited to one kind).
fn hit_ids(body: &Value) -> BTreeSet<u64> {
    hit_list(body).into_iter().map(|(_, id)| id).collect()
}

fn ids_of(objects: &[&Value]) -> BTreeSet<u64> {
    objects.iter().map(|o| id_of(o)).collect()
}

/// The hit for `object` of `kind` in `body`.
fn hit_for<'a>(body: &'a Value, kind: &str, object: &Value) -> &'a Value {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|h| h["kind"] == kind && h["id"] == object["id"])
        .unwrap_or_else(|| panic!("no {kind} {} in {body}", object["id"]))
}

/// `{count, took_ms, results: [{kind, id, title, snippet, score}]}`, best first, snippets safe.
fn assert_answer_shape(body: &Value) {
    assert!(body["count"].is_u64(), "count in {body}");
    assert!(body["took_ms"].is_u64(), "took_ms in {body}");
    let results = body["results"].as_array().expect("results array");
    assert!(
        body["count"].as_u64().unwrap_or(0) >= results.len() as u64,
        "count covers the page in {body}"
    );
    let mut previous = f64::INFINITY;
    for hit in results {
        let kind = hit["kind"].as_str().expect("kind");
        assert!(
            ["activity", "project", "update", "chat"].contains(&kind),
            "kind {kind}"
        );
        assert!(hit["id"].as_u64().is_some_and(|id| id > 0), "id in {hit}");
        assert!(hit["title"].is_string(), "title in {hit}");
        let score = hit["score"].as_f64().expect("numeric score");
        assert!(score <= previous, "best first: {body}");
        previous = score;
        assert_safe_snippet(hit["snippet"].as_str().expect("snippet"));
    }
}

/// Outside `<mark>…</mark>` a snippet holds no markup: every `<` and `>` is escaped, and the
/// marks pair up.
fn assert_safe_snippet(snippet: &str) {
    let opens = snippet.matches("<mark>").count();
    let closes = snippet.matches("</mark>").count();
    assert_eq!(opens, closes, "marks pair up in {snippet:?}");
    let bare = snippet.replace("<mark>", "").replace("</mark>", "");
    assert!(
        !bare.contains('<') && !bare.contains('>'),
        "snippet has raw markup: {snippet:?}"
    );
}

/// Searches until `done` holds or `within` has passed; returns the last answer.
async fn search_until(
    app: &TestApp,
    token: &str,
    params: &[(&str, &str)],
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let body = search_with(app, token, params).await;
        if done(&body) || Instant::now() >= deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts `q` (over `kind`) finds exactly `expected` within the contract's second.
async fn assert_finds_soon(
    app: &TestApp,
    token: &str,
    q: &str,
    kind: &str,
    expected: &BTreeSet<u64>,
    what: &str,
) {
    let params = [("q", q), ("kind", kind), ("page_size", "200")];
    let body = search_until(app, token, &params, FRESHNESS, |b| hit_ids(b) == *expected).await;
    assert_eq!(hit_ids(&body), *expected, "{what}: {q:?} within 1 s");
}

/// Asserts a `400 validation_error` naming `field`; returns its message.
async fn assert_field_error(response: Response, field: &str, what: &str) -> String {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
    let body = assert_error(response, StatusCode::BAD_REQUEST, "validation_error").await;
    assert!(
        body["error"]["fields"][field]
            .as_array()
            .is_some_and(|m| !m.is_empty()),
        "{what}: fields.{field} in {body}"
    );
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Searches while the index may be rebuilding: `503 unavailable` is retried for up to
/// `REBUILD_WITHIN`; returns the first `200` answer.
async fn search_when_ready(app: &TestApp, token: &str, params: &[(&str, &str)]) -> Value {
    let deadline = Instant::now() + REBUILD_WITHIN;
    loop {
        let r = search_raw(app, Some(token), params).await;
        match r.status() {
            StatusCode::OK => {
                let body = json_of(r).await;
                assert_answer_shape(&body);
                return body;
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
            }
            other => panic!("search during a rebuild answered {other}"),
        }
        assert!(
            Instant::now() < deadline,
            "search still unavailable after {REBUILD_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for `/readyz` to answer 200 with both checks `ok`.
async fn assert_ready_soon(app: &TestApp) {
    let deadline = Instant::now() + REBUILD_WITHIN;
    loop {
        let r = app
            .client
            .get(app.url("/readyz"))
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .expect("readyz");
        let status = r.status();
        let body: Value = r.json().await.expect("readyz JSON");
        if status == StatusCode::OK {
            assert_eq!(body["checks"]["database"], "ok", "{body}");
            assert_eq!(body["checks"]["search"], "ok", "{body}");
            return;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "readyz: {body}");
        assert!(
            Instant::now() < deadline,
            "not ready after {REBUILD_WITHIN:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Copies the folder `from` to `to` (which must not exist), recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

fn index_dir(app: &TestApp) -> std::path::PathBuf {
    app.data_dir.path().join("search")
}

// ---------------------------------------------------------------------------------------------
// The endpoint

#[tokio::test]
async fn search_needs_a_valid_bearer_token() {
    let app = spawn_app().await;
    let r = search_raw(&app, None, &[("q", "pump")]).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let r = search_raw(&app, Some("not-a-token"), &[("q", "pump")]).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn search_answers_count_took_ms_and_hits_with_kind_id_title_snippet_score() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = activity(
        &app,
        &admin,
        json!({"title": "Grease the gearbox", "description": "Use the blue gearbox grease"}),
    )
    .await;

    // Without a trailing slash too.
    let r = app
        .request(Method::GET, "/api/search", Some(&admin))
        .query(&[("q", "gearbox")])
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body = json_of(r).await;
    assert_answer_shape(&body);
    assert_eq!(body["count"], 1, "{body}");
    let hit = &body["results"][0];
    let fields: BTreeSet<&str> = hit
        .as_object()
        .expect("hit object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["id", "kind", "score", "snippet", "title"]),
        "{hit}"
    );
    assert_eq!(hit["kind"], "activity");
    assert_eq!(hit["id"], a["id"]);
    assert_eq!(hit["title"], "Grease the gearbox");
    assert!(hit["score"].as_f64().is_some_and(|s| s > 0.0), "{hit}");
    assert!(
        hit["snippet"].as_str().unwrap_or("").contains("<mark>"),
        "{hit}"
    );

    let none = search(&app, &admin, "nothingmatchesthis").await;
    assert_eq!(none["count"], 0);
    assert_eq!(none["results"], json!([]));
}

#[tokio::test]
async fn a_missing_or_empty_q_is_400() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for params in [vec![], vec![("q", "")], vec![("q", "   ")]] {
        let r = search_raw(&app, Some(&admin), &params).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{params:?}");
        let body: Value = r.json().await.expect("error JSON");
        let code = body["error"]["code"].as_str().unwrap_or("");
        assert!(
            code == "validation_error" || code == "bad_request",
            "{params:?}: {body}"
        );
    }
}

#[tokio::test]
async fn search_finds_every_kind_and_kind_narrows_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    let a = titled(&app, &admin, "Zeppelin hangar sweep").await;
    let p = project(&app, &admin, "Zeppelin project", &[]).await;
    let u = update(&app, &admin, "Notice", "The zeppelin lands at noon").await;
    let long = format!("zeppelin {}", "spotted over the east yard ".repeat(6));
    let dm = direct(&app, &admin, &bob, &long).await;
    let r = room(&app, &admin, &p, "Zeppelin crew meets at gate 4").await;

    let all = search_kind(&app, &admin, "zeppelin", "activity,project,update,chat").await;
    let expected = keys(&[
        ("activity", &a),
        ("project", &p),
        ("update", &u),
        ("chat", &dm),
        ("chat", &r),
    ]);
    assert_eq!(hit_set(&all), expected, "{all}");
    assert_eq!(all["count"], 5);
    // Without `kind`: every kind.
    let body = search(&app, &admin, "zeppelin").await;
    assert_eq!(hit_set(&body), expected, "{body}");
    assert_eq!(body["count"], 5);

    // Titles: activity title, project name, update title, a message's first 80 characters.
    assert_eq!(
        hit_for(&all, "activity", &a)["title"],
        "Zeppelin hangar sweep"
    );
    assert_eq!(hit_for(&all, "project", &p)["title"], "Zeppelin project");
    assert_eq!(hit_for(&all, "update", &u)["title"], "Notice");
    let opening: String = long.chars().take(80).collect();
    assert_eq!(hit_for(&all, "chat", &dm)["title"], opening.as_str());
    assert_eq!(
        hit_for(&all, "chat", &r)["title"],
        "Zeppelin crew meets at gate 4"
    );

    let cases: [(&str, BTreeSet<Key>); 5] = [
        ("activity", keys(&[("activity", &a)])),
        ("project", keys(&[("project", &p)])),
        ("update", keys(&[("update", &u)])),
        ("chat", keys(&[("chat", &dm), ("chat", &r)])),
        ("project,update", keys(&[("project", &p), ("update", &u)])),
    ];
    for (kind, expected) in cases {
        let body = search_kind(&app, &admin, "zeppelin", kind).await;
        assert_eq!(hit_set(&body), expected, "kind={kind}: {body}");
        assert_eq!(body["count"], expected.len(), "kind={kind}");
    }
}

#[tokio::test]
async fn an_unknown_kind_is_a_validation_error_naming_kind() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for kind in ["bogus", "activity,bogus", "Activities", "user"] {
        let r = search_raw(&app, Some(&admin), &[("q", "pump"), ("kind", kind)]).await;
        assert_field_error(r, "kind", &format!("kind={kind}")).await;
    }
}

#[tokio::test]
async fn search_pages_with_a_count_of_every_hit() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut made = BTreeSet::new();
    for n in 0..5 {
        made.insert(id_of(
            &titled(&app, &admin, &format!("Widget batch {n}")).await,
        ));
    }
    titled(&app, &admin, "Unrelated sprocket").await;

    let mut seen = BTreeSet::new();
    for (page, size) in [("1", 2), ("2", 2), ("3", 1)] {
        let body = search_with(
            &app,
            &admin,
            &[("q", "widget"), ("page", page), ("page_size", "2")],
        )
        .await;
        assert_eq!(body["count"], 5, "page {page}: {body}");
        let ids = hit_list(&body);
        assert_eq!(ids.len(), size, "page {page}: {body}");
        for (_, id) in ids {
            assert!(seen.insert(id), "{id} on two pages");
        }
    }
    assert_eq!(seen, made, "the pages together hold every hit once");

    let past = search_with(
        &app,
        &admin,
        &[("q", "widget"), ("page", "4"), ("page_size", "2")],
    )
    .await;
    assert_eq!(past["count"], 5);
    assert_eq!(past["results"], json!([]), "a page past the end is empty");

    for (name, value) in [
        ("page", "0"),
        ("page", "x"),
        ("page_size", "0"),
        ("page_size", "-1"),
        ("page_size", "many"),
    ] {
        let r = search_raw(&app, Some(&admin), &[("q", "widget"), (name, value)]).await;
        assert_field_error(r, name, &format!("{name}={value}")).await;
    }
}

#[tokio::test]
async fn a_page_number_near_u64_max_is_an_empty_page_not_an_error() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    titled(&app, &admin, "Widget batch").await;
    let body = search_with(
        &app,
        &admin,
        &[
            ("q", "widget"),
            ("page", "18446744073709551615"),
            ("page_size", "200"),
        ],
    )
    .await;
    assert_eq!(body["count"], 1, "{body}");
    assert_eq!(body["results"], json!([]), "{body}");
}

#[tokio::test]
async fn a_page_number_of_a_billion_is_an_empty_page_and_the_server_lives_on() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    titled(&app, &admin, "Widget batch").await;
    let body = search_with(
        &app,
        &admin,
        &[
            ("q", "widget"),
            ("page", "1000000000"),
            ("page_size", "200"),
        ],
    )
    .await;
    assert_eq!(body["count"], 1, "{body}");
    assert_eq!(body["results"], json!([]), "{body}");
    assert_eq!(search(&app, &admin, "widget").await["count"], 1);
}

#[tokio::test]
async fn the_best_match_comes_first() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let weak = activity(
        &app,
        &admin,
        json!({"title": "Weekly plant walk",
               "description": "Walk the whole plant floor, look at every line, the stores, the \
                               canteen, the offices, the yard, and on the way note the turbine \
                               among many other things worth a look"}),
    )
    .await;
    let strong = activity(
        &app,
        &admin,
        json!({"title": "Turbine", "description": "Turbine turbine"}),
    )
    .await;
    let body = search_kind(&app, &admin, "turbine", "activity").await;
    assert_eq!(
        hit_list(&body),
        vec![key("activity", &strong), key("activity", &weak)],
        "{body}"
    );
    let scores: Vec<f64> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|h| h["score"].as_f64().expect("score"))
        .collect();
    assert!(scores[0] > scores[1], "{scores:?}");
}

// ---------------------------------------------------------------------------------------------
// Freshness

#[tokio::test]
async fn a_created_activity_is_searchable_within_a_second() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for n in 0..3 {
        let a = titled(&app, &admin, &format!("Fresh flywheel {n}")).await;
        let body = search_until(
            &app,
            &admin,
            &[("q", &format!("flywheel {n}"))],
            FRESHNESS,
            |b| hit_set(b).contains(&key("activity", &a)),
        )
        .await;
        assert!(
            hit_set(&body).contains(&key("activity", &a)),
            "created activity {n} not found within 1 s: {body}"
        );
    }
}

#[tokio::test]
async fn an_updated_title_is_found_by_its_new_words_and_not_its_old_ones() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = activity(
        &app,
        &admin,
        json!({"title": "Inspect boiler", "description": "annual"}),
    )
    .await;
    let only_a = ids_of(&[&a]);
    assert_finds_soon(&app, &admin, "boiler", "activity", &only_a, "before").await;

    patched(
        &app,
        &admin,
        &activity_path(&a),
        json!({"title": "Inspect chiller"}),
    )
    .await;
    assert_finds_soon(&app, &admin, "chiller", "activity", &only_a, "new title").await;
    assert_finds_soon(
        &app,
        &admin,
        "boiler",
        "activity",
        &BTreeSet::new(),
        "old title",
    )
    .await;
    // The untouched description is still indexed.
    assert_finds_soon(&app, &admin, "annual", "activity", &only_a, "description").await;

    // Status and priority changes reach the field queries too.
    patched(
        &app,
        &admin,
        &activity_path(&a),
        json!({"status": "in_progress", "priority": "critical"}),
    )
    .await;
    assert_finds_soon(
        &app,
        &admin,
        "status:in_progress priority:critical",
        "activity",
        &only_a,
        "new status",
    )
    .await;
    assert_finds_soon(
        &app,
        &admin,
        "status:planned",
        "activity",
        &BTreeSet::new(),
        "old status",
    )
    .await;
}

#[tokio::test]
async fn a_deleted_object_disappears_from_search() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    let a = titled(&app, &admin, "Obsolete lathe").await;
    let keep = titled(&app, &admin, "Working lathe").await;
    let p = project(&app, &admin, "Obsolete lathe project", &[]).await;
    let u = update(&app, &admin, "Obsolete lathe notice", "gone").await;
    let m = direct(&app, &admin, &bob, "obsolete lathe chat").await;
    let q = "obsolete lathe";
    let before = search(&app, &admin, q).await;
    assert_eq!(
        hit_set(&before),
        keys(&[
            ("activity", &a),
            ("project", &p),
            ("update", &u),
            ("chat", &m)
        ]),
        "{before}"
    );

    deleted(&app, &admin, &activity_path(&a)).await;
    deleted(&app, &admin, &project_path(&p)).await;
    deleted(&app, &admin, &format!("/api/updates/{}/", id_of(&u))).await;
    deleted(&app, &admin, &format!("/api/chat/messages/{}/", id_of(&m))).await;
    let after = search_until(&app, &admin, &[("q", q)], FRESHNESS, |b| b["count"] == 0).await;
    assert_eq!(after["count"], 0, "deleted objects still found: {after}");
    assert_eq!(after["results"], json!([]));
    assert_finds_soon(&app, &admin, "lathe", "activity", &ids_of(&[&keep]), "kept").await;
}

#[tokio::test]
async fn renamed_projects_and_edited_updates_are_found_by_their_new_words() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let p = project(&app, &admin, "Furnace rebuild", &[]).await;
    let u = update(&app, &admin, "Furnace outage", "Friday").await;
    patched(
        &app,
        &admin,
        &project_path(&p),
        json!({"name": "Smelter rebuild"}),
    )
    .await;
    patched(
        &app,
        &admin,
        &format!("/api/updates/{}/", id_of(&u)),
        json!({"title": "Smelter outage"}),
    )
    .await;
    let both = keys(&[("project", &p), ("update", &u)]);
    let body = search_until(&app, &admin, &[("q", "smelter")], FRESHNESS, |b| {
        hit_set(b) == both
    })
    .await;
    assert_eq!(hit_set(&body), both, "{body}");
    let body = search_until(&app, &admin, &[("q", "furnace")], FRESHNESS, |b| {
        b["count"] == 0
    })
    .await;
    assert_eq!(body["count"], 0, "{body}");
}

// ---------------------------------------------------------------------------------------------
// The query language

#[tokio::test]
async fn several_words_must_all_match_across_title_and_description() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = titled(&app, &admin, "Replace pump seal").await;
    let b = activity(
        &app,
        &admin,
        json!({"title": "Inspect conveyor", "description": "Check the PUMP housing and Seal"}),
    )
    .await;
    let c = titled(&app, &admin, "Pump calibration").await;
    titled(&app, &admin, "Sweep floor").await;

    let cases: [(&str, Vec<&Value>); 6] = [
        ("pump", vec![&a, &b, &c]),
        ("PUMP seal", vec![&a, &b]),
        ("seal pump", vec![&a, &b]),
        ("pump AND seal", vec![&a, &b]),
        ("pump seal calibration", vec![]),
        ("housing conveyor", vec![&b]),
    ];
    for (q, expected) in cases {
        let body = search_kind(&app, &admin, q, "activity").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{q:?}: {body}");
        assert_eq!(body["count"], expected.len(), "{q:?}");
    }
}

#[tokio::test]
async fn phrases_need_the_words_next_to_each_other_in_order() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = titled(&app, &admin, "Main pump seal").await;
    let b = titled(&app, &admin, "Pump main seal").await;
    let c = activity(
        &app,
        &admin,
        json!({"title": "Water line", "description": "the main water pump"}),
    )
    .await;
    let d = activity(
        &app,
        &admin,
        json!({"title": "Spare parts", "description": "order two main pumps"}),
    )
    .await;

    let cases: [(&str, Vec<&Value>); 7] = [
        ("\"main pump\"", vec![&a, &d]),
        ("\"pump main\"", vec![&b]),
        ("\"water pump\"", vec![&c]),
        ("main pump", vec![&a, &b, &c, &d]),
        ("\"main pump seal\"", vec![&a]),
        ("\"seal pump\"", vec![]),
        ("title:\"main pump\"", vec![&a]),
    ];
    for (q, expected) in cases {
        let body = search_kind(&app, &admin, q, "activity").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{q}: {body}");
    }
}

#[tokio::test]
async fn field_queries_match_title_and_exact_status_type_and_priority() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = activity(
        &app,
        &admin,
        json!({"title": "Pump overhaul", "type": "maintenance", "priority": "critical"}),
    )
    .await;
    let b = activity(
        &app,
        &admin,
        json!({"title": "Overhaul conveyor", "description": "the pump is fine",
               "type": "quality_check", "priority": "low"}),
    )
    .await;
    patched(
        &app,
        &admin,
        &activity_path(&a),
        json!({"status": "in_progress"}),
    )
    .await;
    let p = project(&app, &admin, "Overhaul project", &[]).await;
    patched(&app, &admin, &project_path(&p), json!({"status": "active"})).await;
    let u = created(
        &app,
        &admin,
        "/api/updates/",
        json!({"title": "Overhaul safety briefing", "content": "hard hats",
               "type": "safety", "priority": "high"}),
    )
    .await;

    let cases: [(&str, BTreeSet<Key>); 14] = [
        (
            "overhaul",
            keys(&[
                ("activity", &a),
                ("activity", &b),
                ("project", &p),
                ("update", &u),
            ]),
        ),
        ("pump", keys(&[("activity", &a), ("activity", &b)])),
        ("title:pump", keys(&[("activity", &a)])),
        ("TITLE:Pump", keys(&[("activity", &a)])),
        ("title:fine", keys(&[])),
        ("status:in_progress", keys(&[("activity", &a)])),
        ("Status:In_Progress", keys(&[("activity", &a)])),
        ("status:in", keys(&[])),
        ("status:progress", keys(&[])),
        ("status:planned overhaul", keys(&[("activity", &b)])),
        ("status:active", keys(&[("project", &p)])),
        ("type:quality_check", keys(&[("activity", &b)])),
        ("type:safety", keys(&[("update", &u)])),
        (
            "overhaul priority:critical OR priority:high",
            keys(&[("activity", &a), ("update", &u)]),
        ),
    ];
    for (q, expected) in cases {
        let body = search_with(&app, &admin, &[("q", q), ("page_size", "200")]).await;
        assert_eq!(hit_set(&body), expected, "{q}: {body}");
        assert_eq!(body["count"], expected.len(), "{q}");
    }
}

#[tokio::test]
async fn and_or_not_minus_and_parentheses_combine() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = titled(&app, &admin, "pump seal").await;
    let b = titled(&app, &admin, "pump motor").await;
    let c = titled(&app, &admin, "valve seal").await;
    let d = titled(&app, &admin, "conveyor belt").await;

    let cases: [(&str, Vec<&Value>); 12] = [
        ("pump OR conveyor", vec![&a, &b, &d]),
        ("pump AND motor", vec![&b]),
        ("pump NOT seal", vec![&b]),
        ("pump -seal", vec![&b]),
        ("seal AND NOT pump", vec![&c]),
        ("-pump seal", vec![&c]),
        ("NOT pump", vec![&c, &d]),
        ("(seal OR motor) pump", vec![&a, &b]),
        ("pump (seal OR motor)", vec![&a, &b]),
        ("seal OR motor AND pump", vec![&a, &b, &c]),
        ("(belt OR valve) -seal", vec![&d]),
        ("NOT (pump OR seal)", vec![&d]),
    ];
    for (q, expected) in cases {
        let body = search_kind(&app, &admin, q, "activity").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{q}: {body}");
        assert_eq!(body["count"], expected.len(), "{q}");
    }
}

#[tokio::test]
async fn a_prefix_finds_every_word_starting_with_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = titled(&app, &admin, "Pumphouse cleaning").await;
    let b = titled(&app, &admin, "Pumping test").await;
    let c = titled(&app, &admin, "Sump check").await;
    let d = activity(
        &app,
        &admin,
        json!({"title": "Spare parts", "description": "order a pump"}),
    )
    .await;
    let cases: [(&str, Vec<&Value>); 5] = [
        ("pump*", vec![&a, &b, &d]),
        ("PUMP*", vec![&a, &b, &d]),
        ("title:pump*", vec![&a, &b]),
        ("pump* clean*", vec![&a]),
        ("sum*", vec![&c]),
    ];
    for (q, expected) in cases {
        let body = search_kind(&app, &admin, q, "activity").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{q}: {body}");
    }
}

#[tokio::test]
async fn a_prefix_longer_than_the_words_stem_still_finds_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = titled(&app, &admin, "Calibrate scales").await;
    let b = titled(&app, &admin, "Maintenance window").await;
    let cases: [(&str, Vec<&Value>); 4] = [
        ("calibrat*", vec![&a]),
        ("calibrate*", vec![&a]),
        ("maintenan*", vec![&b]),
        ("maintenance*", vec![&b]),
    ];
    for (q, expected) in cases {
        let body = search_kind(&app, &admin, q, "activity").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{q}: {body}");
    }
}

#[tokio::test]
async fn one_typo_is_forgiven_in_words_of_five_letters_or_more() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = titled(&app, &admin, "Conveyor sensor").await;
    let b = titled(&app, &admin, "Pump motor").await;
    let cases: [(&str, Vec<&Value>); 8] = [
        ("convyor", vec![&a]),
        ("sensro", vec![&a]),
        ("motr", vec![]),
        ("mootor", vec![&b]),
        ("cnveyr", vec![]),
        ("pimp", vec![]),
        ("pmup", vec![]),
        ("pumq", vec![]),
    ];
    for (q, expected) in cases {
        let body = search_kind(&app, &admin, q, "activity").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{q}: {body}");
    }
}

#[tokio::test]
async fn a_typo_is_forgiven_in_words_whose_stem_is_shorter() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = titled(&app, &admin, "Calibrate scales").await;
    let b = titled(&app, &admin, "Replace valve gasket").await;
    let cases: [(&str, Vec<&Value>); 3] = [
        ("calbrate", vec![&a]),
        ("calibrte", vec![&a]),
        ("valbe", vec![&b]),
    ];
    for (q, expected) in cases {
        let body = search_kind(&app, &admin, q, "activity").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{q}: {body}");
    }
}

#[tokio::test]
async fn english_stemming_finds_other_forms_of_a_word() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = titled(&app, &admin, "Replace the pumps").await;
    let b = titled(&app, &admin, "Pumping station inspections").await;
    let c = titled(&app, &admin, "Inspected pump").await;
    let cases: [(&str, Vec<&Value>); 4] = [
        ("pump", vec![&a, &b, &c]),
        ("pumps", vec![&a, &b, &c]),
        ("inspection", vec![&b, &c]),
        ("replacing", vec![&a]),
    ];
    for (q, expected) in cases {
        let body = search_kind(&app, &admin, q, "activity").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{q}: {body}");
    }
}

#[tokio::test]
async fn a_query_that_does_not_parse_is_400_saying_where() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    titled(&app, &admin, "pump seal").await;
    let cases = [
        ("pump \"seal", 5),
        ("(pump seal", 0),
        ("pump )", 5),
        ("colour:red", 0),
        ("pump colour:red", 5),
        ("pump AND", 8),
        ("OR pump", 0),
        ("pump OR", 7),
        ("status:", 7),
        ("pump (seal OR", 13),
    ];
    for (q, position) in cases {
        let r = search_raw(&app, Some(&admin), &[("q", q)]).await;
        let message = assert_field_error(r, "q", q).await;
        assert!(
            message.contains(&format!("at position {position}")),
            "{q:?}: message {message:?} names position {position}"
        );
    }
}

#[tokio::test]
async fn odd_queries_are_answered_200_or_400_never_5xx() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    titled(&app, &admin, "pump seal").await;
    let long = "pump ".repeat(2_000);
    let many_x = "x".repeat(5_000);
    let deep = format!("{}pump{}", "(".repeat(500), ")".repeat(500));
    let odd = [
        "\"",
        "((",
        "))",
        "-",
        "--a",
        "a:b:c",
        "*",
        "**",
        "pump**",
        "NOT",
        "NOT NOT pump",
        "\u{0}",
        "é*",
        ":",
        "a:\"\"",
        "title:\"\"",
        "\"\"",
        "title:*",
        "status:\"in progress\"",
        "🦀 pump",
        "<script>",
        "%",
        "pump AND AND seal",
        "title:(pump)",
        "a-b-c",
        many_x.as_str(),
        long.as_str(),
        deep.as_str(),
    ];
    for q in odd {
        let r = search_raw(&app, Some(&admin), &[("q", q)]).await;
        let status = r.status();
        let short: String = q.chars().take(40).collect();
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{short:?} answered {status}"
        );
        let body: Value = r.json().await.expect("JSON answer");
        if status == StatusCode::BAD_REQUEST {
            let code = body["error"]["code"].as_str().unwrap_or("");
            assert!(
                code == "validation_error" || code == "bad_request",
                "{short:?}: {body}"
            );
        } else {
            assert_answer_shape(&body);
        }
    }
    // Still serving.
    let body = search(&app, &admin, "pump").await;
    assert_eq!(body["count"], 1);
}

// ---------------------------------------------------------------------------------------------
// Snippets

#[tokio::test]
async fn snippets_are_html_escaped_with_marks_around_matches() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = titled(&app, &admin, "<script>alert(1)</script> pump").await;
    let body = search_kind(&app, &admin, "pump", "activity").await;
    let snippet = hit_for(&body, "activity", &a)["snippet"]
        .as_str()
        .expect("snippet")
        .to_string();
    assert!(!snippet.contains("<script>"), "{snippet}");
    assert!(snippet.contains("&lt;script&gt;"), "{snippet}");
    assert!(snippet.contains("<mark>pump</mark>"), "{snippet}");
    // The hit's title is the text itself (JSON, not HTML).
    assert_eq!(
        hit_for(&body, "activity", &a)["title"],
        "<script>alert(1)</script> pump"
    );

    let b = activity(
        &app,
        &admin,
        json!({"title": "Gasket", "description": "Check <b>the flange</b> & \"bolts\" now"}),
    )
    .await;
    let body = search_kind(&app, &admin, "flange", "activity").await;
    let snippet = hit_for(&body, "activity", &b)["snippet"]
        .as_str()
        .expect("snippet")
        .to_string();
    assert!(!snippet.contains("<b>"), "{snippet}");
    assert!(snippet.contains("&lt;b&gt;"), "{snippet}");
    assert!(snippet.contains("&amp;"), "{snippet}");
    assert!(snippet.contains("<mark>flange</mark>"), "{snippet}");

    // A stemmed match is marked as written.
    let c = activity(
        &app,
        &admin,
        json!({"title": "Spares", "description": "Order new Pumps today"}),
    )
    .await;
    let body = search_kind(&app, &admin, "pump", "activity").await;
    let snippet = hit_for(&body, "activity", &c)["snippet"]
        .as_str()
        .expect("snippet")
        .to_string();
    assert!(snippet.contains("<mark>Pumps</mark>"), "{snippet}");

    // Chat text is escaped too.
    let (bob, _) = app.user_with_token("bob", "user").await;
    let m = direct(&app, &admin, &bob, "<img src=x onerror=alert(1)> valve").await;
    let body = search_kind(&app, &admin, "valve", "chat").await;
    let snippet = hit_for(&body, "chat", &m)["snippet"]
        .as_str()
        .expect("snippet")
        .to_string();
    assert!(!snippet.contains("<img"), "{snippet}");
    assert!(snippet.contains("<mark>valve</mark>"), "{snippet}");
}

// ---------------------------------------------------------------------------------------------
// Visibility

/// Asserts every hit of `body` opens for `token` (activities, projects and updates).
async fn assert_every_hit_opens(app: &TestApp, token: &str, body: &Value) {
    for (kind, id) in hit_list(body) {
        let path = match kind.as_str() {
            "activity" => format!("/api/activities/{id}/"),
            "project" => format!("/api/projects/{id}/"),
            "update" => format!("/api/updates/{id}/"),
            _ => continue,
        };
        let r = call(app, Method::GET, &path, Some(token), None).await;
        assert_eq!(r.status(), StatusCode::OK, "hit {kind} {id} does not open");
    }
}

#[tokio::test]
async fn a_user_finds_only_the_activities_they_may_open() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("stella", "staff").await;
    let (alice, alice_t) = app.user_with_token("alice", "user").await;
    let (_, bob_t) = app.user_with_token("bob", "user").await;
    let p = project(&app, &admin, "Kiln upgrade", &[]).await;
    let hidden = activity(
        &app,
        &admin,
        json!({"title": "Kiln relining", "project_id": id_of(&p)}),
    )
    .await;
    let assigned = activity(
        &app,
        &admin,
        json!({"title": "Kiln burner", "project_id": id_of(&p), "assigned_to": id_of(&alice)}),
    )
    .await;
    let open = titled(&app, &admin, "Kiln sweep").await;
    let own = titled(&app, &alice_t, "Kiln notes").await;

    let everything = ids_of(&[&hidden, &assigned, &open, &own]);
    for token in [&admin, &staff] {
        let body = search_kind(&app, token, "kiln", "activity").await;
        assert_eq!(hit_ids(&body), everything, "{body}");
        assert_eq!(body["count"], 4);
    }

    let body = search_kind(&app, &alice_t, "kiln", "activity").await;
    assert_eq!(hit_ids(&body), ids_of(&[&assigned, &open, &own]), "{body}");
    assert_eq!(body["count"], 3, "count excludes what alice may not open");
    assert_every_hit_opens(&app, &alice_t, &body).await;
    let r = call(
        &app,
        Method::GET,
        &activity_path(&hidden),
        Some(&alice_t),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "alice may not open it");
    // Not even when the query names its exact words.
    let body = search(&app, &alice_t, "\"kiln relining\"").await;
    assert_eq!(body["count"], 0, "{body}");

    let body = search_kind(&app, &bob_t, "kiln", "activity").await;
    assert_eq!(hit_ids(&body), ids_of(&[&open, &own]), "{body}");
    assert_eq!(body["count"], 2);
    assert_every_hit_opens(&app, &bob_t, &body).await;

    // Paging does not leak either: the count and the pages agree.
    let page = search_with(
        &app,
        &bob_t,
        &[("q", "kiln"), ("kind", "activity"), ("page_size", "1")],
    )
    .await;
    assert_eq!(page["count"], 2);

    // On the team, alice finds the project's activities; off it, no longer.
    add_member(&app, &admin, &p, &alice).await;
    let body = search_kind(&app, &alice_t, "kiln", "activity").await;
    assert_eq!(hit_ids(&body), everything, "after joining: {body}");
    assert_eq!(body["count"], 4);
    remove_member(&app, &admin, &p, &alice).await;
    let body = search_kind(&app, &alice_t, "kiln", "activity").await;
    assert_eq!(
        hit_ids(&body),
        ids_of(&[&assigned, &open, &own]),
        "after leaving: {body}"
    );

    // Reassigned away, the assigned activity is gone for her too.
    patched(
        &app,
        &admin,
        &activity_path(&assigned),
        json!({"assigned_to": null}),
    )
    .await;
    assert_finds_soon(
        &app,
        &alice_t,
        "kiln",
        "activity",
        &ids_of(&[&open, &own]),
        "after unassigning",
    )
    .await;
}

#[tokio::test]
async fn a_user_finds_only_the_projects_they_manage_or_belong_to() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("stella", "staff").await;
    let (alice, alice_t) = app.user_with_token("alice", "user").await;
    let (bob, bob_t) = app.user_with_token("bob", "user").await;
    let (_, carol_t) = app.user_with_token("carol", "user").await;
    let team = project(&app, &admin, "Quarry team", &[&alice]).await;
    let managed = created(
        &app,
        &admin,
        "/api/projects/",
        json!({"name": "Quarry managed", "manager_id": id_of(&bob)}),
    )
    .await;
    let closed = project(&app, &admin, "Quarry closed", &[]).await;

    let all = ids_of(&[&team, &managed, &closed]);
    for token in [&admin, &staff] {
        let body = search_kind(&app, token, "quarry", "project").await;
        assert_eq!(hit_ids(&body), all, "{body}");
    }
    let cases: [(&str, Vec<&Value>); 3] = [
        (&alice_t, vec![&team]),
        (&bob_t, vec![&managed]),
        (&carol_t, vec![]),
    ];
    for (token, expected) in cases {
        let body = search_kind(&app, token, "quarry", "project").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{body}");
        assert_eq!(body["count"], expected.len());
        assert_every_hit_opens(&app, token, &body).await;
    }

    add_member(&app, &admin, &closed, &alice).await;
    let body = search_kind(&app, &alice_t, "quarry", "project").await;
    assert_eq!(hit_ids(&body), ids_of(&[&team, &closed]), "{body}");
    remove_member(&app, &admin, &team, &alice).await;
    let body = search_kind(&app, &alice_t, "quarry", "project").await;
    assert_eq!(hit_ids(&body), ids_of(&[&closed]), "{body}");

    // A new manager finds it; the old one no longer does.
    patched(
        &app,
        &admin,
        &project_path(&managed),
        json!({"manager_id": id_of(&alice)}),
    )
    .await;
    let body = search_kind(&app, &alice_t, "quarry", "project").await;
    assert_eq!(hit_ids(&body), ids_of(&[&closed, &managed]), "{body}");
    let body = search_kind(&app, &bob_t, "quarry", "project").await;
    assert_eq!(body["count"], 0, "{body}");
}

#[tokio::test]
async fn a_user_finds_the_activities_of_the_projects_they_manage() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (bob, bob_t) = app.user_with_token("bob", "user").await;
    let p = created(
        &app,
        &admin,
        "/api/projects/",
        json!({"name": "Dock", "manager_id": id_of(&bob)}),
    )
    .await;
    let a = activity(
        &app,
        &admin,
        json!({"title": "Dock crane check", "project_id": id_of(&p)}),
    )
    .await;
    let body = search_kind(&app, &bob_t, "crane", "activity").await;
    assert_eq!(hit_ids(&body), ids_of(&[&a]), "{body}");
}

#[tokio::test]
async fn activities_of_a_deleted_project_are_found_by_everyone() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, bob_t) = app.user_with_token("bob", "user").await;
    let p = project(&app, &admin, "Silo", &[]).await;
    let a = activity(
        &app,
        &admin,
        json!({"title": "Silo venting", "project_id": id_of(&p)}),
    )
    .await;
    let body = search_kind(&app, &bob_t, "venting", "activity").await;
    assert_eq!(body["count"], 0, "{body}");

    deleted(&app, &admin, &project_path(&p)).await;
    let now = get_ok(&app, &bob_t, &activity_path(&a)).await;
    assert_eq!(now["project_id"], Value::Null);
    assert_finds_soon(
        &app,
        &bob_t,
        "venting",
        "activity",
        &ids_of(&[&a]),
        "project deleted",
    )
    .await;
}

#[tokio::test]
async fn updates_are_found_by_everyone() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("stella", "staff").await;
    let (_, bob_t) = app.user_with_token("bob", "user").await;
    let u1 = update(&app, &admin, "Forklift training", "Monday at 8").await;
    let u2 = update(&app, &staff, "Forklift recall", "Model X only").await;
    for token in [&admin, &staff, &bob_t] {
        let body = search_kind(&app, token, "forklift", "update").await;
        assert_eq!(hit_ids(&body), ids_of(&[&u1, &u2]), "{body}");
        assert_eq!(body["count"], 2);
        assert_every_hit_opens(&app, token, &body).await;
    }
}

#[tokio::test]
async fn a_user_finds_only_the_chat_they_take_part_in_or_whose_room_they_are_in() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("stella", "staff").await;
    let (alice, alice_t) = app.user_with_token("alice", "user").await;
    let (bob, bob_t) = app.user_with_token("bob", "user").await;
    let (carol, carol_t) = app.user_with_token("carol", "user").await;
    let p = project(&app, &admin, "Press line", &[&bob]).await;

    let bob_carol = direct(&app, &bob_t, &carol, "the hydraulic leak again").await;
    let alice_bob = direct(&app, &alice_t, &bob, "hydraulic hose ordered").await;
    let in_room = room(&app, &bob_t, &p, "hydraulic pressure is low").await;

    let cases: [(&str, &str, Vec<&Value>); 3] = [
        ("alice", &alice_t, vec![&alice_bob]),
        ("bob", &bob_t, vec![&bob_carol, &alice_bob, &in_room]),
        ("carol", &carol_t, vec![&bob_carol]),
    ];
    for (who, token, expected) in cases {
        let body = search_kind(&app, token, "hydraulic", "chat").await;
        assert_eq!(hit_ids(&body), ids_of(&expected), "{who}: {body}");
        assert_eq!(body["count"], expected.len(), "{who}");
    }
    // Admin and staff see every project room.
    for token in [&admin, &staff] {
        let body = search_kind(&app, token, "pressure", "chat").await;
        assert_eq!(hit_ids(&body), ids_of(&[&in_room]), "{body}");
    }

    // Joining the project opens its room to search.
    add_member(&app, &admin, &p, &alice).await;
    let body = search_kind(&app, &alice_t, "hydraulic", "chat").await;
    assert_eq!(
        hit_ids(&body),
        ids_of(&[&alice_bob, &in_room]),
        "after joining: {body}"
    );
    remove_member(&app, &admin, &p, &alice).await;
    let body = search_kind(&app, &alice_t, "hydraulic", "chat").await;
    assert_eq!(
        hit_ids(&body),
        ids_of(&[&alice_bob]),
        "after leaving: {body}"
    );
}

#[tokio::test]
async fn admin_and_staff_do_not_find_direct_messages_between_others() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, staff) = app.user_with_token("stella", "staff").await;
    let (_, bob_t) = app.user_with_token("bob", "user").await;
    let (carol, _) = app.user_with_token("carol", "user").await;
    let m = direct(&app, &bob_t, &carol, "private paycheck question").await;
    let body = search_kind(&app, &bob_t, "paycheck", "chat").await;
    assert_eq!(hit_ids(&body), ids_of(&[&m]), "the sender finds it: {body}");
    // Neither can open the conversation through any endpoint, so search must not show it.
    for token in [&admin, &staff] {
        let body = search_kind(&app, token, "paycheck", "chat").await;
        assert_eq!(body["count"], 0, "{body}");
    }
}

#[tokio::test]
async fn a_sender_who_leaves_the_project_no_longer_finds_its_room_messages() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (alice, alice_t) = app.user_with_token("alice", "user").await;
    let p = project(&app, &admin, "Paint shop", &[&alice]).await;
    let m = room(&app, &alice_t, &p, "primer delivery late").await;
    let body = search_kind(&app, &alice_t, "primer", "chat").await;
    assert_eq!(hit_ids(&body), ids_of(&[&m]), "{body}");

    remove_member(&app, &admin, &p, &alice).await;
    let r = call(
        &app,
        Method::GET,
        &format!("/api/chat/messages/?project={}", id_of(&p)),
        Some(&alice_t),
        None,
    )
    .await;
    assert_ne!(r.status(), StatusCode::OK, "the room is closed to her");
    let body = search_kind(&app, &alice_t, "primer", "chat").await;
    assert_eq!(body["count"], 0, "{body}");
}

// ---------------------------------------------------------------------------------------------
// The `q` filter of the lists

/// A list query: the caller's token, the query parameters and the objects expected.
type ListCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a Value>);

fn list_ids(body: &Value) -> BTreeSet<u64> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(id_of)
        .collect()
}

/// GET `path` with `params` as `token`.
async fn list_raw(app: &TestApp, token: &str, path: &str, params: &[(&str, &str)]) -> Response {
    app.request(Method::GET, path, Some(token))
        .query(params)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .expect("request")
}

async fn list_ok(app: &TestApp, token: &str, path: &str, params: &[(&str, &str)]) -> Value {
    let r = list_raw(app, token, path, params).await;
    assert_eq!(r.status(), StatusCode::OK, "{path} {params:?}");
    json_of(r).await
}

#[tokio::test]
async fn activity_list_q_uses_the_query_language_with_the_other_filters_and_visibility() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (alice, alice_t) = app.user_with_token("alice", "user").await;
    let p = project(&app, &admin, "Mill", &[]).await;
    let hidden = activity(
        &app,
        &admin,
        json!({"title": "Mill roller swap", "project_id": id_of(&p), "priority": "high"}),
    )
    .await;
    let mine = activity(
        &app,
        &admin,
        json!({"title": "Mill roller grease", "assigned_to": id_of(&alice), "priority": "high"}),
    )
    .await;
    let open = titled(&app, &admin, "Mill roller clean").await;
    let other = titled(&app, &admin, "Lathe chuck clean").await;
    patched(
        &app,
        &admin,
        &activity_path(&open),
        json!({"status": "in_progress"}),
    )
    .await;

    let list = "/api/activities/";
    let pid = id_of(&p).to_string();
    let cases: [ListCase; 9] = [
        (&admin, vec![("q", "roller")], vec![&hidden, &mine, &open]),
        (&alice_t, vec![("q", "roller")], vec![&mine, &open]),
        (
            &admin,
            vec![("q", "roller"), ("priority", "high")],
            vec![&hidden, &mine],
        ),
        (
            &alice_t,
            vec![("q", "roller"), ("priority", "high")],
            vec![&mine],
        ),
        (
            &admin,
            vec![("q", "roller"), ("status", "in_progress")],
            vec![&open],
        ),
        (
            &admin,
            vec![("q", "clean OR swap")],
            vec![&hidden, &open, &other],
        ),
        (&admin, vec![("q", "\"roller clean\"")], vec![&open]),
        (&admin, vec![("q", "roll* -grease")], vec![&hidden, &open]),
        (
            &admin,
            vec![("q", "roller"), ("project", pid.as_str())],
            vec![&hidden],
        ),
    ];
    for (token, params, expected) in cases {
        let body = list_ok(&app, token, list, &params).await;
        assert_eq!(list_ids(&body), ids_of(&expected), "{params:?}: {body}");
        assert_eq!(body["count"], expected.len(), "{params:?}");
    }

    // The project's own activity list takes `q` too.
    let body = list_ok(
        &app,
        &admin,
        &format!("{}activities/", project_path(&p)),
        &[("q", "swap")],
    )
    .await;
    assert_eq!(list_ids(&body), ids_of(&[&hidden]), "{body}");
}

#[tokio::test]
async fn project_list_q_uses_the_query_language_with_the_other_filters_and_visibility() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (alice, alice_t) = app.user_with_token("alice", "user").await;
    let a = project(&app, &admin, "Turbine overhaul", &[&alice]).await;
    let b = project(&app, &admin, "Turbine inspection", &[]).await;
    let c = project(&app, &admin, "Coolant flush", &[&alice]).await;
    patched(&app, &admin, &project_path(&a), json!({"status": "active"})).await;

    let list = "/api/projects/";
    let cases: [ListCase; 6] = [
        (&admin, vec![("q", "turbine")], vec![&a, &b]),
        (&alice_t, vec![("q", "turbine")], vec![&a]),
        (
            &admin,
            vec![("q", "turbine"), ("status", "active")],
            vec![&a],
        ),
        (&admin, vec![("q", "turbine OR coolant")], vec![&a, &b, &c]),
        (&alice_t, vec![("q", "turbine OR coolant")], vec![&a, &c]),
        (&admin, vec![("q", "turbin* -inspection")], vec![&a]),
    ];
    for (token, params, expected) in cases {
        let body = list_ok(&app, token, list, &params).await;
        assert_eq!(list_ids(&body), ids_of(&expected), "{params:?}: {body}");
        assert_eq!(body["count"], expected.len(), "{params:?}");
    }
}

#[tokio::test]
async fn a_bad_q_on_a_list_is_400() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    titled(&app, &admin, "pump").await;
    for path in [
        "/api/activities/",
        "/api/projects/",
        "/api/activities/export.csv",
    ] {
        for q in ["pump \"seal", "(pump", "colour:red", "pump AND"] {
            let r = list_raw(&app, &admin, path, &[("q", q)]).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path} q={q:?}");
            let body: Value = r.json().await.expect("error JSON");
            assert_eq!(body["error"]["code"], "validation_error", "{path}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("at position")),
                "{path} q={q:?}: {body}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Durability and rebuilds

/// Creates one object of each kind holding `word`; returns their keys as admin sees them.
async fn one_of_each(app: &TestApp, admin: &str, bob: &Value, word: &str) -> BTreeSet<Key> {
    let a = titled(app, admin, &format!("{word} activity")).await;
    let p = project(app, admin, &format!("{word} project"), &[bob]).await;
    let u = update(app, admin, &format!("{word} update"), "text").await;
    let m = direct(app, admin, bob, &format!("{word} message")).await;
    let r = room(app, admin, &p, &format!("{word} room")).await;
    keys(&[
        ("activity", &a),
        ("project", &p),
        ("update", &u),
        ("chat", &m),
        ("chat", &r),
    ])
}

#[tokio::test]
async fn the_index_survives_a_restart() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    let expected = one_of_each(&app, &admin, &bob, "persimmon").await;
    let gone = titled(&app, &admin, "persimmon gone").await;
    deleted(&app, &admin, &activity_path(&gone)).await;
    let before = search(&app, &admin, "persimmon").await;
    assert_eq!(hit_set(&before), expected, "{before}");

    let app = app.restart().await;
    assert_ready_soon(&app).await;
    let admin = app.admin_token().await;
    let after = search(&app, &admin, "persimmon").await;
    assert_eq!(hit_set(&after), expected, "after the restart: {after}");

    // And it keeps taking writes.
    let fresh = titled(&app, &admin, "persimmon fresh").await;
    let body = search_until(&app, &admin, &[("q", "persimmon fresh")], FRESHNESS, |b| {
        hit_set(b).contains(&key("activity", &fresh))
    })
    .await;
    assert!(hit_set(&body).contains(&key("activity", &fresh)), "{body}");
}

#[tokio::test]
async fn a_deleted_index_folder_is_rebuilt_on_start() {
    let mut app = spawn_app().await;
    let admin = app.admin_token().await;
    let (bob, bob_t) = app.user_with_token("bob", "user").await;
    let expected = one_of_each(&app, &admin, &bob, "quince").await;
    let hidden_project = project(&app, &admin, "quince private", &[]).await;
    let edited = titled(&app, &admin, "quince draft").await;
    patched(
        &app,
        &admin,
        &activity_path(&edited),
        json!({"title": "quince final"}),
    )
    .await;
    let gone = titled(&app, &admin, "quince gone").await;
    deleted(&app, &admin, &activity_path(&gone)).await;
    let mut all = expected.clone();
    all.insert(key("project", &hidden_project));
    all.insert(key("activity", &edited));
    let before = search(&app, &admin, "quince").await;
    assert_eq!(hit_set(&before), all, "{before}");
    let bob_before = hit_set(&search(&app, &bob_t, "quince").await);

    app.stop().await.expect("clean stop");
    std::fs::remove_dir_all(index_dir(&app)).expect("remove the index folder");
    let app = app.restart().await;

    let admin = app.admin_token().await;
    let after = search_when_ready(&app, &admin, &[("q", "quince"), ("page_size", "200")]).await;
    assert_eq!(hit_set(&after), all, "rebuilt: {after}");
    assert_eq!(after["count"], all.len());
    assert_ready_soon(&app).await;
    assert!(index_dir(&app).is_dir(), "the index folder is back");

    // The rebuilt index holds the current text, not the history, and keeps visibility.
    let body = search(&app, &admin, "draft").await;
    assert_eq!(body["count"], 0, "{body}");
    let bob_t = token_of(&app.login("bob", USER_PASSWORD).await);
    let bob_after = search(&app, &bob_t, "quince").await;
    assert_eq!(hit_set(&bob_after), bob_before, "bob after the rebuild");
    assert!(!hit_set(&bob_after).contains(&key("project", &hidden_project)));

    // And it takes new writes.
    let fresh = titled(&app, &admin, "quince fresh").await;
    let body = search_until(&app, &admin, &[("q", "quince fresh")], FRESHNESS, |b| {
        hit_set(b).contains(&key("activity", &fresh))
    })
    .await;
    assert!(hit_set(&body).contains(&key("activity", &fresh)), "{body}");
}

#[tokio::test]
async fn a_damaged_index_is_rebuilt_on_start() {
    let mut app = spawn_app().await;
    let admin = app.admin_token().await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    let expected = one_of_each(&app, &admin, &bob, "kumquat").await;
    assert_eq!(hit_set(&search(&app, &admin, "kumquat").await), expected);

    app.stop().await.expect("clean stop");
    std::fs::write(index_dir(&app).join("meta.json"), b"{ not json").expect("damage meta.json");
    let app = app.restart().await;

    let admin = app.admin_token().await;
    let after = search_when_ready(&app, &admin, &[("q", "kumquat")]).await;
    assert_eq!(hit_set(&after), expected, "rebuilt: {after}");
    assert_ready_soon(&app).await;
}

#[tokio::test]
async fn an_index_left_behind_the_database_catches_up_on_start() {
    let mut app = spawn_app().await;
    let admin = app.admin_token().await;
    let (bob, _) = app.user_with_token("bob", "user").await;
    let old = one_of_each(&app, &admin, &bob, "loquat").await;
    let renamed = titled(&app, &admin, "loquat before").await;
    let doomed = titled(&app, &admin, "loquat doomed").await;

    // Keep a copy of the index as it is now.
    app.stop().await.expect("clean stop");
    let saved = tempfile::tempdir().expect("temp dir");
    let snapshot = saved.path().join("search");
    copy_dir(&index_dir(&app), &snapshot);
    let app = app.restart().await;

    // Write more, then put the old index back, as if the server died before the index
    // committed these writes.
    let admin = app.admin_token().await;
    let newer = one_of_each(&app, &admin, &bob, "loquat newer").await;
    patched(
        &app,
        &admin,
        &activity_path(&renamed),
        json!({"title": "loquat after"}),
    )
    .await;
    deleted(&app, &admin, &activity_path(&doomed)).await;
    let mut app = app;
    app.stop().await.expect("clean stop");
    std::fs::remove_dir_all(index_dir(&app)).expect("remove the index");
    copy_dir(&snapshot, &index_dir(&app));
    let app = app.restart().await;

    let admin = app.admin_token().await;
    let mut expected: BTreeSet<Key> = old.union(&newer).cloned().collect();
    expected.insert(key("activity", &renamed));
    let body = search_when_ready(&app, &admin, &[("q", "loquat"), ("page_size", "200")]).await;
    assert_eq!(hit_set(&body), expected, "caught up: {body}");
    let body = search(&app, &admin, "before OR doomed").await;
    assert_eq!(body["count"], 0, "old words and deleted objects: {body}");
    assert_ready_soon(&app).await;
}

#[tokio::test]
async fn readyz_reports_the_database_and_the_search_index_ok() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/readyz"))
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("readyz JSON");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    assert_eq!(body["checks"]["search"], "ok", "{body}");
}
