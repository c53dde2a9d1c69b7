//! Property tests over the wire (proptest, modest case counts so the suite stays fast):
//!
//! - every write endpoint answers arbitrary JSON values and arbitrary bytes with a `2xx` or a
//!   `4xx` in the contract's error shape, never a `5xx`;
//! - the search box and the activity list answer arbitrary query strings (and absurdly nested
//!   ones) with `200` or `400`, never a `5xx` or a crash;
//! - the CSV export of arbitrary titles and descriptions parses back to exactly what was stored;
//! - arbitrary WebSocket frames never crash the server nor disturb another connection, and the
//!   connection that sent them still answers a valid subscribe.
//!
//! Each property prints how many cases it ran.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

/// Cases per property over HTTP bodies.
const BODY_CASES: u32 = 256;
/// Cases of the CSV property (each creates a few activities).
const CSV_CASES: u32 = 64;
/// Cases of the WebSocket property (each opens a connection).
const WS_CASES: u32 = 96;
/// Cases of the query-string property.
const QUERY_CASES: u32 = 256;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // Shrinking a failure against a live server is slow; a few hundred steps suffice.
        max_shrink_iters: 256,
        ..Config::default()
    })
}

/// Asserts an answer is not a `5xx`, and that a `4xx` is the contract's error body.
async fn assert_contract_answer(response: Response, what: &str) -> Result<(), TestCaseError> {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response
        .bytes()
        .await
        .map_err(|e| TestCaseError::fail(format!("{what}: reading the answer failed: {e}")))?;
    let text = String::from_utf8_lossy(&body);
    prop_assert!(
        !status.is_server_error(),
        "{what} answered {status}: {text}"
    );
    if status.is_client_error() {
        prop_assert!(
            content_type.starts_with("application/json"),
            "{what} answered {status} as {content_type:?}: {text}"
        );
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| TestCaseError::fail(format!("{what}: {status} body not JSON: {e}")))?;
        let code = value["error"]["code"].as_str().unwrap_or("");
        let message = value["error"]["message"].as_str().unwrap_or("");
        prop_assert!(
            !code.is_empty() && !message.is_empty(),
            "{what} answered {status} without the error shape: {value}"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Generators

/// Field names of every write body, so generated objects reach validation, not only parsing.
const FIELDS: &[&str] = &[
    "title",
    "description",
    "type",
    "status",
    "priority",
    "start_time",
    "end_time",
    "assigned_to",
    "project_id",
    "version",
    "name",
    "manager_id",
    "team_members",
    "start_date",
    "end_date",
    "user_id",
    "receiver_id",
    "content",
    "with",
    "project",
    "username",
    "email",
    "password",
    "display_name",
    "role",
    "is_active",
    "profile",
    "job_title",
    "shift",
    "refresh",
    "current_password",
    "new_password",
];

/// Strings a field might hold: enum values, times, dates, emails, edge cases, anything.
fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " ",
            "planned",
            "in_progress",
            "on_hold",
            "completed",
            "cancelled",
            "low",
            "medium",
            "high",
            "critical",
            "production",
            "other",
            "announcement",
            "active",
            "archived",
            "admin",
            "staff",
            "user",
            "2026-11-28T09:30:00Z",
            "2026-11-28",
            "2026-02-30",
            "9999-12-31T23:59:59Z",
            "-0001-01-01T00:00:00Z",
            "x@y.z",
            "long-enough-password",
            "\u{0}",
            "\u{202e}",
            "=1+1",
            "<script>",
        ])
        .prop_map(str::to_string),
        ".{0,40}",
        "[a-z0-9_.@-]{1,40}",
    ]
}

fn number_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..8).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e300),
            json!(-0.0),
            json!(0.5),
            json!(9_007_199_254_740_993u64),
        ]),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
    ]
}

/// Any JSON value, biased towards objects with the write bodies' field names.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number_value(),
        string_value().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(FIELDS.to_vec()).prop_map(str::to_string),
            1 => ".{0,12}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A top-level body: mostly objects of known fields, sometimes any value at all.
fn json_body() -> impl Strategy<Value = Value> {
    let field = (
        prop::sample::select(FIELDS.to_vec()).prop_map(str::to_string),
        json_value(),
    );
    prop_oneof![
        3 => prop::collection::vec(field, 0..8)
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        1 => json_value(),
    ]
}

/// Bytes that are not quite JSON: random bytes, and JSON texts cut or corrupted.
fn json_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        (json_body(), any::<prop::sample::Index>()).prop_map(|(value, at)| {
            let text = value.to_string().into_bytes();
            let cut = at.index(text.len() + 1);
            text[..cut].to_vec()
        }),
        (json_body(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(value, at, byte)| {
            let mut text = value.to_string().into_bytes();
            if !text.is_empty() {
                let i = at.index(text.len());
                text[i] = byte;
            }
            text
        }),
        prop::sample::select(vec![
            b"{\"title\": \"\\ud800\"}".to_vec(),
            b"{\"title\": \"a\"\"}".to_vec(),
            b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec(),
            "{\"title\": 1e999999}".as_bytes().to_vec(),
            b"\xef\xbb\xbf{}".to_vec(),
            Vec::new(),
        ]),
    ]
}

// ---------------------------------------------------------------------------------------------
// Write bodies

/// Ids the write endpoints may name, made once.
struct Fixture {
    app: TestApp,
    admin: String,
    activity: u64,
    project: u64,
    update: u64,
    notification: u64,
    bystander: u64,
}

impl Fixture {
    async fn new() -> Fixture {
        let app = spawn_app().await;
        let admin = app.admin_token().await;
        let bystander = app.create_user("bystander", "user").await["id"]
            .as_u64()
            .expect("id");
        let id_of = |v: Value| v["id"].as_u64().expect("id");
        let activity = id_of(
            json_of(
                app.post(
                    "/api/activities/",
                    Some(&admin),
                    &json!({"title": "Fuzzed", "assigned_to": bystander}),
                )
                .await,
            )
            .await,
        );
        let project = id_of(
            json_of(
                app.post(
                    "/api/projects/",
                    Some(&admin),
                    &json!({"name": "Fuzz project"}),
                )
                .await,
            )
            .await,
        );
        let update = id_of(
            json_of(
                app.post(
                    "/api/updates/",
                    Some(&admin),
                    &json!({"title": "Fuzz", "content": "Fuzz update"}),
                )
                .await,
            )
            .await,
        );
        // The bystander's notification (from the assignment); admin has none of its own.
        let bystander_token = token_of(&app.login("bystander", USER_PASSWORD).await);
        let notes = json_of(
            app.get("/api/updates/notifications/", &bystander_token)
                .await,
        )
        .await;
        let notification = notes["results"][0]["id"].as_u64().unwrap_or(1);
        Fixture {
            app,
            admin,
            activity,
            project,
            update,
            notification,
            bystander,
        }
    }

    /// Every write endpoint: method, path, and whether it takes the admin's token.
    fn endpoints(&self) -> Vec<(Method, String, bool)> {
        let (a, p, u, n, b) = (
            self.activity,
            self.project,
            self.update,
            self.notification,
            self.bystander,
        );
        vec![
            (Method::POST, "/api/auth/register/".into(), false),
            (Method::POST, "/api/auth/login/".into(), false),
            (Method::POST, "/api/auth/refresh/".into(), false),
            (Method::POST, "/api/auth/logout/".into(), true),
            (Method::PATCH, "/api/auth/user/".into(), true),
            (Method::POST, "/api/auth/password/".into(), true),
            (Method::POST, "/api/users/".into(), true),
            (Method::PATCH, format!("/api/users/{b}/"), true),
            (Method::POST, "/api/activities/".into(), true),
            (Method::PATCH, format!("/api/activities/{a}/"), true),
            (Method::POST, "/api/projects/".into(), true),
            (Method::PATCH, format!("/api/projects/{p}/"), true),
            (Method::POST, format!("/api/projects/{p}/team/"), true),
            (Method::POST, format!("/api/projects/{p}/activities/"), true),
            (Method::POST, "/api/updates/".into(), true),
            (Method::PATCH, format!("/api/updates/{u}/"), true),
            (
                Method::POST,
                format!("/api/updates/notifications/{n}/read/"),
                true,
            ),
            (
                Method::POST,
                "/api/updates/notifications/read-all/".into(),
                true,
            ),
            (Method::POST, "/api/chat/messages/".into(), true),
            (Method::POST, "/api/chat/conversations/read/".into(), true),
        ]
    }

    /// Sends `body` to endpoint `index`; logout gets a session of its own, so the admin's
    /// token survives it.
    async fn send(&self, index: usize, body: Vec<u8>) -> Result<(), TestCaseError> {
        let endpoints = self.endpoints();
        let (method, path, authed) = &endpoints[index % endpoints.len()];
        let token = if path.ends_with("/logout/") {
            Some(self.app.admin_token().await)
        } else {
            authed.then(|| self.admin.clone())
        };
        let response = self
            .app
            .request(method.clone(), path, token.as_deref())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| TestCaseError::fail(format!("{method} {path}: {e}")))?;
        let what = format!("{method} {path} with {:?}", String::from_utf8_lossy(&body));
        assert_contract_answer(response, &what).await
    }
}

#[test]
fn write_endpoints_answer_arbitrary_json_with_2xx_or_a_4xx_error_body_never_5xx() {
    let rt = runtime();
    let fixture = rt.block_on(Fixture::new());
    let cases = AtomicUsize::new(0);
    runner(BODY_CASES)
        .run(&(any::<usize>(), json_body()), |(endpoint, body)| {
            cases.fetch_add(1, Ordering::Relaxed);
            rt.block_on(fixture.send(endpoint, body.to_string().into_bytes()))
        })
        .unwrap();
    // Every endpoint once more with each body shape that commonly trips deserialisers.
    for index in 0..fixture.endpoints().len() {
        for body in ["null", "[]", "\"\"", "0", "{}", "true"] {
            cases.fetch_add(1, Ordering::Relaxed);
            rt.block_on(fixture.send(index, body.as_bytes().to_vec()))
                .unwrap();
        }
    }
    println!(
        "fuzz: write endpoints, JSON values: {} cases",
        cases.into_inner()
    );
    // The server still serves.
    let r = rt.block_on(fixture.app.get("/api/auth/user/", &fixture.admin));
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn write_endpoints_answer_arbitrary_bytes_with_a_4xx_error_body_never_5xx() {
    let rt = runtime();
    let fixture = rt.block_on(Fixture::new());
    let cases = AtomicUsize::new(0);
    runner(BODY_CASES)
        .run(&(any::<usize>(), json_bytes()), |(endpoint, body)| {
            cases.fetch_add(1, Ordering::Relaxed);
            rt.block_on(fixture.send(endpoint, body))
        })
        .unwrap();
    println!(
        "fuzz: write endpoints, raw bytes: {} cases",
        cases.into_inner()
    );
    let r = rt.block_on(fixture.app.get("/api/auth/user/", &fixture.admin));
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn times_whose_utc_form_is_beyond_the_representable_years_are_400_not_500() {
    // 9999-12-31T23:59:59-23:59 is in the year 10000 in UTC, 0000-01-01T00:00:00+23:59 in the
    // year -1, beyond what RFC 3339 can write back; converting them used to panic (500).
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let activity = json_of(
        app.post("/api/activities/", Some(&admin), &json!({"title": "Edge"}))
            .await,
    )
    .await;
    let path = format!("/api/activities/{}/", activity["id"]);
    for time in ["9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+23:59"] {
        for field in ["start_time", "end_time"] {
            let r = app
                .post(
                    "/api/activities/",
                    Some(&admin),
                    &json!({"title": "Edge", field: time}),
                )
                .await;
            let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
            assert!(body["error"]["fields"][field].is_array(), "{body}");
            let r = app.patch(&path, &admin, &json!({field: time})).await;
            let body = assert_error(r, StatusCode::BAD_REQUEST, "validation_error").await;
            assert!(body["error"]["fields"][field].is_array(), "{body}");
        }
        for query in ["start_after", "start_before"] {
            let r = app
                .request(Method::GET, "/api/activities/", Some(&admin))
                .query(&[(query, time)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}={time}");
        }
        let r = app
            .request(Method::GET, "/api/updates/", Some(&admin))
            .query(&[("since", time)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "since={time}");
    }
    // The activity is as it was.
    assert_eq!(json_of(app.get(&path, &admin).await).await, activity);
}

// ---------------------------------------------------------------------------------------------
// Query strings

/// Search-box input: the query language's pieces and anything else.
fn search_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "(",
            ")",
            "\"",
            "-",
            "*",
            ":",
            " ",
            "AND ",
            "OR ",
            "NOT ",
            "title:",
            "status:",
            "type:",
            "priority:",
            "colour:",
            "pump",
            "seal",
            "%",
            "&",
            "#",
            "+",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9éß]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..30).prop_map(|p| p.concat())
}

#[test]
fn search_and_list_queries_answer_200_or_400_never_5xx() {
    let rt = runtime();
    let fixture = rt.block_on(Fixture::new());
    let cases = AtomicUsize::new(0);
    let check = |q: String| -> Result<(), TestCaseError> {
        cases.fetch_add(1, Ordering::Relaxed);
        rt.block_on(async {
            for path in ["/api/search/", "/api/activities/", "/api/projects/"] {
                let response = fixture
                    .app
                    .request(Method::GET, path, Some(&fixture.admin))
                    .query(&[("q", q.as_str())])
                    .send()
                    .await
                    .map_err(|e| {
                        TestCaseError::fail(format!("GET {path}?q={q:?}: {}", e.without_url()))
                    })?;
                let status = response.status();
                prop_assert!(
                    status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
                    "GET {path}?q={q:?} answered {status}"
                );
                assert_contract_answer(response, &format!("GET {path}?q={q:?}")).await?;
            }
            Ok(())
        })
    };
    runner(QUERY_CASES).run(&search_text(), check).unwrap();
    // Nesting the parser would recurse into until its stack runs out: refused with 400.
    for q in [
        "(".repeat(1_500),
        "NOT ".repeat(1_500) + "pump",
        "- ".repeat(1_500) + "pump",
        format!("{}pump{}", "(".repeat(1_500), ")".repeat(1_500)),
    ] {
        for path in ["/api/search/", "/api/activities/", "/api/projects/"] {
            let r = rt.block_on(
                fixture
                    .app
                    .request(Method::GET, path, Some(&fixture.admin))
                    .query(&[("q", q.as_str())])
                    .send(),
            );
            let r =
                r.unwrap_or_else(|e| panic!("{path}: {} (did the server die?)", e.without_url()));
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
            let body: Value = rt.block_on(r.json()).expect("JSON error body");
            let code = body["error"]["code"].as_str().unwrap_or("");
            assert!(
                ["bad_request", "validation_error"].contains(&code),
                "{path}: {body}"
            );
            assert!(
                body.to_string().contains("nests deeper"),
                "{path}: the message says why: {body}"
            );
        }
    }
    println!(
        "fuzz: search and list queries: {} cases",
        cases.into_inner()
    );
}

// ---------------------------------------------------------------------------------------------
// CSV export

/// Titles that stress CSV: separators, quotes, line breaks, formula triggers, any character.
fn csv_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            ",",
            "\"",
            "\"\"",
            "\n",
            "\r",
            "\r\n",
            "\t",
            ";",
            "=",
            "+",
            "-",
            "@",
            "=SUM(A1:A9)",
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@cmd",
            "'",
            " ",
            "Ölwechsel",
            "ポンプ",
            "\u{0}",
            "\u{feff}",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9 ]{1,10}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 1..12).prop_map(|p| p.concat())
}

#[test]
fn csv_export_parses_back_to_exactly_the_stored_titles_and_descriptions() {
    let rt = runtime();
    let fixture = rt.block_on(Fixture::new());
    let app = &fixture.app;
    let admin = &fixture.admin;
    let cases = AtomicUsize::new(0);
    // id → (title, description) as the server stored them.
    let written = std::sync::Mutex::new(std::collections::BTreeMap::<u64, (String, String)>::new());
    let strategy = prop::collection::vec((csv_text(), csv_text()), 1..5);
    runner(CSV_CASES)
        .run(&strategy, |items| {
            cases.fetch_add(1, Ordering::Relaxed);
            rt.block_on(async {
                for (title, description) in &items {
                    let r = app
                        .post(
                            "/api/activities/",
                            Some(admin),
                            &json!({"title": title, "description": description}),
                        )
                        .await;
                    let status = r.status();
                    if title.trim().is_empty() || title.trim().chars().count() > 200 {
                        prop_assert_eq!(status, StatusCode::BAD_REQUEST, "title {:?}", title);
                        continue;
                    }
                    prop_assert_eq!(status, StatusCode::CREATED, "title {:?}", title);
                    let body = json_of(r).await;
                    prop_assert_eq!(body["title"].as_str(), Some(title.trim()));
                    prop_assert_eq!(body["description"].as_str(), Some(description.as_str()));
                    written.lock().unwrap().insert(
                        body["id"].as_u64().expect("id"),
                        (title.trim().to_string(), description.clone()),
                    );
                }
                let r = app.get("/api/activities/export.csv", admin).await;
                prop_assert_eq!(r.status(), StatusCode::OK);
                let text = r.text().await.expect("CSV text");
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .from_reader(text.as_bytes());
                let headers = reader.headers().expect("header row").clone();
                let column = |name: &str| {
                    headers
                        .iter()
                        .position(|h| h == name)
                        .unwrap_or_else(|| panic!("column {name} in {headers:?}"))
                };
                let (id, title, description) =
                    (column("id"), column("title"), column("description"));
                let mut exported = std::collections::BTreeMap::new();
                for record in reader.records() {
                    let record = record
                        .map_err(|e| TestCaseError::fail(format!("CSV does not parse: {e}")))?;
                    prop_assert_eq!(record.len(), headers.len(), "row {:?}", record);
                    let row_id: u64 = record[id].parse().expect("numeric id");
                    exported.insert(
                        row_id,
                        (record[title].to_string(), record[description].to_string()),
                    );
                }
                for (row_id, stored) in written.lock().unwrap().iter() {
                    // Exactly as stored: the export neutralises nothing (README, CSV export).
                    prop_assert_eq!(exported.get(row_id), Some(stored), "activity {}", row_id);
                }
                Ok(())
            })
        })
        .unwrap();
    println!(
        "fuzz: CSV export round trip: {} cases, {} activities",
        cases.into_inner(),
        written.lock().unwrap().len()
    );
}

// ---------------------------------------------------------------------------------------------
// WebSocket client messages

/// A frame a client might send: text (JSON-ish or not) or binary, within the message limit.
fn ws_frame() -> impl Strategy<Value = Message> {
    let topic = prop_oneof![
        prop::sample::select(vec![
            "activities",
            "projects",
            "updates",
            "notifications",
            "chat",
            "project:1",
            "project:0",
            "project:18446744073709551615",
            "project:x",
            "bogus",
            "",
        ])
        .prop_map(str::to_string),
        ".{0,12}",
    ];
    let kind = prop_oneof![
        prop::sample::select(vec!["subscribe", "unsubscribe", "ping", "", "SUBSCRIBE"])
            .prop_map(str::to_string),
        ".{0,8}",
    ];
    let message = (
        kind,
        prop::collection::vec(topic, 0..4),
        prop::option::of(any::<u64>()),
        json_value(),
    )
        .prop_map(|(kind, topics, since, extra)| {
            let mut m = json!({"type": kind, "topics": topics, "extra": extra});
            if let Some(since) = since {
                // Large `since` values skip the replay; small ones replay the whole log.
                m["since"] = json!(if since % 2 == 0 { since % 4 } else { since });
            }
            m.to_string()
        });
    prop_oneof![
        3 => message.prop_map(Message::text),
        2 => json_value().prop_map(|v| Message::text(v.to_string())),
        1 => ".{0,64}".prop_map(Message::text),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Message::binary),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| Message::Ping(b.into())),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| Message::Pong(b.into())),
    ]
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(app: &TestApp, token: &str) -> Socket {
    let url = format!(
        "ws://{}/ws/?token={token}",
        app.base.trim_start_matches("http://")
    );
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("upgrade in time")
    .expect("upgrade")
    .0
}

/// Reads until a text message equal to `wanted` arrives; fails on close, error or timeout.
async fn await_reply(socket: &mut Socket, wanted: &Value, what: &str) -> Result<(), TestCaseError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return Err(TestCaseError::fail(format!("{what}: no {wanted} in time"))),
            Ok(None) => return Err(TestCaseError::fail(format!("{what}: the socket ended"))),
            Ok(Some(Err(e))) => return Err(TestCaseError::fail(format!("{what}: {e}"))),
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(TestCaseError::fail(format!(
                    "{what}: closed with {frame:?}"
                )));
            }
            Ok(Some(Ok(Message::Text(text)))) => {
                let value: Value = serde_json::from_str(text.as_str()).map_err(|e| {
                    TestCaseError::fail(format!("{what}: server sent non-JSON {text:?}: {e}"))
                })?;
                if value == *wanted {
                    return Ok(());
                }
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[test]
fn arbitrary_websocket_frames_never_crash_the_server_or_disturb_other_connections() {
    let rt = runtime();
    let fixture = rt.block_on(Fixture::new());
    let app = &fixture.app;
    let admin = &fixture.admin;
    let bystander = tokio::sync::Mutex::new(rt.block_on(open_socket(app, admin)));
    let cases = AtomicUsize::new(0);
    let frames = AtomicUsize::new(0);
    runner(WS_CASES)
        .run(&prop::collection::vec(ws_frame(), 1..12), |sent| {
            cases.fetch_add(1, Ordering::Relaxed);
            frames.fetch_add(sent.len(), Ordering::Relaxed);
            rt.block_on(async {
                let mut socket = open_socket(app, admin).await;
                for frame in sent {
                    socket
                        .send(frame)
                        .await
                        .map_err(|e| TestCaseError::fail(format!("send: {e}")))?;
                }
                // The fuzzed connection still takes a valid subscribe...
                let subscribe = json!({"type": "subscribe", "topics": ["updates"]});
                socket
                    .send(Message::text(subscribe.to_string()))
                    .await
                    .map_err(|e| TestCaseError::fail(format!("send: {e}")))?;
                await_reply(
                    &mut socket,
                    &json!({"type": "subscribed", "topics": ["updates"]}),
                    "fuzzed connection",
                )
                .await?;
                let _ = socket.close(None).await;
                Ok::<(), TestCaseError>(())
            })?;
            // ...and the bystander never noticed.
            rt.block_on(async {
                let mut bystander = bystander.lock().await;
                bystander
                    .send(Message::text(json!({"type": "ping"}).to_string()))
                    .await
                    .map_err(|e| TestCaseError::fail(format!("bystander send: {e}")))?;
                await_reply(&mut bystander, &json!({"type": "pong"}), "bystander").await
            })
        })
        .unwrap();
    println!(
        "fuzz: WebSocket frames: {} cases, {} frames",
        cases.into_inner(),
        frames.into_inner()
    );
}

#[test]
fn an_oversized_websocket_message_closes_that_connection_with_1009_only() {
    let rt = runtime();
    rt.block_on(async {
        let app = spawn_app().await;
        let admin = app.admin_token().await;
        let mut bystander = open_socket(&app, &admin).await;
        let mut socket = open_socket(&app, &admin).await;
        let big = format!(
            "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
            "x".repeat(100 * 1024)
        );
        let _ = socket.send(Message::text(big)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let code = loop {
            match tokio::time::timeout_at(deadline, socket.next()).await {
                Err(_) => panic!("no close within 5 s"),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    break frame.map(|f| u16::from(f.code));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => panic!("the connection broke without a close frame: {e}"),
                Ok(None) => panic!("the connection ended without a close frame"),
            }
        };
        assert_eq!(code, Some(1009), "closed as too big");
        bystander
            .send(Message::text(json!({"type": "ping"}).to_string()))
            .await
            .expect("bystander send");
        await_reply(&mut bystander, &json!({"type": "pong"}), "bystander")
            .await
            .expect("bystander still served");
    });
}
