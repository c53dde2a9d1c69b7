//! Every visibility rule through every channel (API.md §Roles and visibility, §Realtime, §Search).
//!
//! One table lists each object kind × viewer (a role, and for a `user` their relation to the
//! object) with whether that viewer may see the object. Each row is checked through every
//! channel its kind has — the REST read, the REST list, search, WebSocket and SSE delivery, the
//! GraphQL read, list and subscriptions, the web UI's page of the object and its list page —
//! and
//! every channel must give the table's answer. The table is the contract: the visibility code
//! underneath may be rewritten at will as long as this stays green.
//!
//! One world is built per run (one server, one user per role or relation, one object per kind,
//! each with a word of its own for search), then every row is run; disagreements are collected
//! and reported together, one line each, so a single run shows all of them.
//!
//! A new channel (GraphQL, the web UI) is one `Channel` variant, added to `Kind::channels` for
//! the kinds it serves, and one arm in `static_seen` or in the live phase: the matches are
//! exhaustive, so the compiler points at every place that must learn it.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::*;

/// How long any one wait may take before it counts as a failure.
const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// The table

/// An object kind, split where the rule differs (activities with and without a project, room
/// and direct messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    /// An activity in the world's project.
    ProjectActivity,
    /// An activity with no project.
    LooseActivity,
    Project,
    /// An update (announcement).
    Update,
    /// A message in the world's project room.
    RoomMessage,
    DirectMessage,
    Notification,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::ProjectActivity,
        Kind::LooseActivity,
        Kind::Project,
        Kind::Update,
        Kind::RoomMessage,
        Kind::DirectMessage,
        Kind::Notification,
    ];

    /// The channels through which a caller can see an object of this kind. Every row of the
    /// kind runs through all of them, so no row can forget one.
    fn channels(self) -> &'static [Channel] {
        use Channel::*;
        match self {
            Kind::ProjectActivity | Kind::LooseActivity | Kind::Update => &[
                Rest, List, Search, Ws, Sse, GqlRead, GqlList, GqlLive, Page, PageList,
            ],
            // GraphQL has no subscription to projects (API.md §GraphQL lists none).
            Kind::Project => &[
                Rest, List, Search, Ws, Sse, GqlRead, GqlList, Page, PageList,
            ],
            // No endpoint reads one message: the conversation's list is its REST read. The web
            // UI's `/chat/messages/{id}` leads to the message's conversation.
            Kind::RoomMessage | Kind::DirectMessage => {
                &[List, Search, Ws, Sse, GqlList, GqlLive, Page, PageList]
            }
            // Nor one notification, and notifications are not indexed for search.
            Kind::Notification => &[List, Ws, Sse, GqlList, GqlLive, PageList],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::ProjectActivity => "activity in a project",
            Kind::LooseActivity => "activity without project",
            Kind::Project => "project",
            Kind::Update => "update",
            Kind::RoomMessage => "room message",
            Kind::DirectMessage => "direct message",
            Kind::Notification => "notification",
        }
    }

    /// The general topic its events travel on.
    fn topic(self) -> &'static str {
        match self {
            Kind::ProjectActivity | Kind::LooseActivity => "activities",
            Kind::Project => "projects",
            Kind::Update => "updates",
            Kind::RoomMessage | Kind::DirectMessage => "chat",
            Kind::Notification => "notifications",
        }
    }

    /// The `kind` of its search hits, if it is searchable.
    fn search_kind(self) -> Option<&'static str> {
        match self {
            Kind::ProjectActivity | Kind::LooseActivity => Some("activity"),
            Kind::Project => Some("project"),
            Kind::Update => Some("update"),
            Kind::RoomMessage | Kind::DirectMessage => Some("chat"),
            Kind::Notification => None,
        }
    }

    /// A word only this object holds, for search.
    fn word(self) -> &'static str {
        match self {
            Kind::ProjectActivity => "aardvark",
            Kind::LooseActivity => "bobolink",
            Kind::Project => "cormorant",
            Kind::Update => "dromedary",
            Kind::RoomMessage => "echidna",
            Kind::DirectMessage => "flamingo",
            // The notification of the live phase tells of a message holding this word.
            Kind::Notification => "gazelle",
        }
    }
}

/// Who looks: admin, staff, or a `user` with a relation to the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Viewer {
    Admin,
    Staff,
    /// Created it: the activity's creator, the message's sender, the project's creator (who was
    /// staff then), the sender of the message a notification tells of.
    Creator,
    /// The activity's assignee.
    Assignee,
    /// On the team of the object's project.
    Member,
    /// Manager of the object's project.
    Manager,
    /// None of the above.
    Stranger,
    /// The receiver of a direct message, the recipient of a notification.
    Party,
}

impl Viewer {
    fn role(self) -> &'static str {
        match self {
            Viewer::Admin => "admin",
            Viewer::Staff => "staff",
            _ => "user",
        }
    }

    fn relation(self) -> &'static str {
        match self {
            Viewer::Admin | Viewer::Staff => "unrelated",
            Viewer::Creator => "creator",
            Viewer::Assignee => "assignee",
            Viewer::Member => "team member",
            Viewer::Manager => "manager",
            Viewer::Stranger => "stranger",
            Viewer::Party => "party",
        }
    }

    /// The world's user who plays this viewer for `kind`.
    fn user(self, kind: Kind) -> &'static str {
        match self {
            Viewer::Admin => "admin",
            Viewer::Staff => "staff",
            // Only staff create projects, so the project's creator is a staff user since demoted.
            Viewer::Creator if kind == Kind::Project => "founder",
            Viewer::Creator => "creator",
            Viewer::Assignee => "assignee",
            Viewer::Member => "member",
            Viewer::Manager => "manager",
            Viewer::Stranger => "stranger",
            Viewer::Party => "party",
        }
    }
}

/// A way of seeing an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Channel {
    /// `GET` of the object: `200` or `404`.
    Rest,
    /// Present in, or absent from, its list endpoint.
    List,
    /// Found by `/api/search/` with its own word, or not.
    Search,
    /// Its event delivered on `/ws/`, or not.
    Ws,
    /// Its event delivered on `/api/events/`, or not.
    Sse,
    /// The GraphQL query of the object (`activity(id)`, …): it, or null with `not_found`.
    GqlRead,
    /// Present in, or absent from, its GraphQL list query.
    GqlList,
    /// Its event delivered by a GraphQL subscription on `/graphql/ws`, or not.
    GqlLive,
    /// The web UI's page of the object, signed in by the session cookie: shown, or the 404 page.
    Page,
    /// Present in, or absent from, the web UI's page listing its kind.
    PageList,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Rest => "REST",
            Channel::List => "LIST",
            Channel::Search => "SEARCH",
            Channel::Ws => "WS",
            Channel::Sse => "SSE",
            Channel::GqlRead => "GRAPHQL",
            Channel::GqlList => "GRAPHQL LIST",
            Channel::GqlLive => "GRAPHQL SUBSCRIPTION",
            Channel::Page => "WEB PAGE",
            Channel::PageList => "WEB LIST",
        })
    }
}

/// One row: whether `viewer` may see the object of `kind`.
struct Case {
    kind: Kind,
    viewer: Viewer,
    visible: bool,
}

fn case(kind: Kind, viewer: Viewer, visible: bool) -> Case {
    Case {
        kind,
        viewer,
        visible,
    }
}

/// API.md §Roles and visibility, row by row.
fn table() -> Vec<Case> {
    use Kind::*;
    use Viewer::*;
    vec![
        // "activity: admin, staff; a user if creator, assignee, member of its project, or the
        // activity has no project".
        case(ProjectActivity, Admin, true),
        case(ProjectActivity, Staff, true),
        // Created it while on the team, and has left the team since.
        case(ProjectActivity, Creator, true),
        // Assigned it without being on the team.
        case(ProjectActivity, Assignee, true),
        case(ProjectActivity, Member, true),
        // API.md says "member of its project"; the server counts the manager as one (as the
        // project rule "manager or team member" does), and so does this table.
        case(ProjectActivity, Manager, true),
        case(ProjectActivity, Stranger, false),
        case(LooseActivity, Admin, true),
        case(LooseActivity, Staff, true),
        case(LooseActivity, Creator, true),
        case(LooseActivity, Assignee, true),
        case(LooseActivity, Stranger, true),
        // "project: admin, staff; a user only if manager or team member".
        case(Project, Admin, true),
        case(Project, Staff, true),
        // Created it as staff with someone else as manager, then demoted to user: creating a
        // project gives no right to see it, only the role did.
        case(Project, Creator, false),
        case(Project, Member, true),
        case(Project, Manager, true),
        case(Project, Stranger, false),
        // "update: everyone".
        case(Update, Admin, true),
        case(Update, Staff, true),
        case(Update, Stranger, true),
        // "chat message: … for a project room, the project's members, manager, admin and staff".
        case(RoomMessage, Admin, true),
        case(RoomMessage, Staff, true),
        case(RoomMessage, Member, true),
        case(RoomMessage, Manager, true),
        case(RoomMessage, Stranger, false),
        // Sent it while on the team, and has left the team since. API.md's "sender and
        // receiver" could be read to cover a room's sender too; it names the room's people
        // instead, and the server closes the room to a sender who left, as does this table.
        case(RoomMessage, Creator, false),
        // "chat message: sender and receiver": admin and staff see every room but not other
        // people's direct messages.
        case(DirectMessage, Admin, false),
        case(DirectMessage, Staff, false),
        case(DirectMessage, Creator, true),
        case(DirectMessage, Party, true),
        case(DirectMessage, Stranger, false),
        // "notification: its recipient only", not even the one whose act caused it.
        case(Notification, Admin, false),
        case(Notification, Staff, false),
        case(Notification, Creator, false),
        case(Notification, Party, true),
        case(Notification, Stranger, false),
    ]
}

/// What a channel showed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Visible,
    Hidden,
    /// Neither: an unexpected status, a lost stream, an event on the wrong topic.
    Odd(String),
}

impl Seen {
    fn from(visible: bool) -> Seen {
        if visible { Seen::Visible } else { Seen::Hidden }
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seen::Visible => f.write_str("visible"),
            Seen::Hidden => f.write_str("hidden"),
            Seen::Odd(what) => f.write_str(what),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The world

/// Every user of the world but `admin`, with their role.
const USERS: [(&str, &str); 8] = [
    ("staff", "staff"),
    // Staff while creating the project, a `user` after.
    ("founder", "staff"),
    ("creator", "user"),
    ("assignee", "user"),
    ("member", "user"),
    ("manager", "user"),
    ("stranger", "user"),
    ("party", "user"),
];

/// One server with one user per viewer and one object per kind.
struct World {
    app: TestApp,
    /// Access tokens by user name.
    tokens: HashMap<&'static str, String>,
    /// Users (JSON) by name.
    users: HashMap<&'static str, Value>,
    /// The object of each kind.
    objects: HashMap<Kind, Value>,
    /// Web-UI session cookies by user name, signed in when first needed.
    cookies: tokio::sync::Mutex<HashMap<&'static str, String>>,
}

fn id_of(value: &Value) -> u64 {
    value["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no id in {value}"))
}

/// Asserts `201` and returns the body.
async fn created(response: Response, what: &str) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "{what}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e} in {body}"))
}

impl World {
    fn token(&self, user: &str) -> &str {
        self.tokens
            .get(user)
            .unwrap_or_else(|| panic!("no user {user}"))
    }

    fn user_id(&self, user: &str) -> u64 {
        id_of(&self.users[user])
    }

    fn object(&self, kind: Kind) -> &Value {
        &self.objects[&kind]
    }

    /// `user`'s web-UI session cookie (`nexus_session=…`), signing in through `/login` once.
    async fn cookie(&self, user: &'static str) -> String {
        let mut cookies = self.cookies.lock().await;
        if let Some(cookie) = cookies.get(user) {
            return cookie.clone();
        }
        let password = if user == "admin" {
            ADMIN_PASSWORD
        } else {
            USER_PASSWORD
        };
        let r = no_redirects()
            .post(self.app.url("/login"))
            .form(&[("username", user), ("password", password)])
            .send()
            .await
            .expect("sign-in");
        let cookie = r
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("nexus_session="))
            .and_then(|v| v.split(';').next())
            .unwrap_or_else(|| panic!("{user} could not sign in to the web UI"))
            .to_string();
        cookies.insert(user, cookie.clone());
        cookie
    }

    /// A web-UI page as `user` sees it: its status and body.
    async fn page(&self, user: &'static str, path: &str) -> (StatusCode, String) {
        let cookie = self.cookie(user).await;
        let r = no_redirects()
            .get(self.app.url(path))
            .header(reqwest::header::COOKIE, cookie)
            .header(reqwest::header::ACCEPT, "text/html")
            .send()
            .await
            .expect("page");
        let status = r.status();
        (status, r.text().await.unwrap_or_default())
    }

    async fn post(&self, as_user: &str, path: &str, body: Value) -> Value {
        let what = format!("{as_user}: POST {path} {body}");
        created(
            self.app.post(path, Some(self.token(as_user)), &body).await,
            &what,
        )
        .await
    }

    async fn build() -> World {
        let app = spawn_app().await;
        let mut tokens = HashMap::new();
        let mut users = HashMap::new();
        let admin = app.admin_token().await;
        users.insert(
            "admin",
            json_of(app.get("/api/auth/user/", &admin).await).await,
        );
        // All at once: password hashing is most of the set-up's time.
        let made = futures_util::future::join_all(USERS.map(|(name, role)| {
            let (app, admin) = (&app, &admin);
            async move {
                let body = json!({"username": name, "email": format!("{name}@plant.test"),
                                  "password": USER_PASSWORD, "role": role});
                let user = created(app.post("/api/users/", Some(admin), &body).await, name).await;
                (name, user, token_of(&app.login(name, USER_PASSWORD).await))
            }
        }))
        .await;
        for (name, user, token) in made {
            users.insert(name, user);
            tokens.insert(name, token);
        }
        tokens.insert("admin", admin);
        let mut world = World {
            app,
            tokens,
            users,
            objects: HashMap::new(),
            cookies: tokio::sync::Mutex::new(HashMap::new()),
        };

        let project = world
            .post(
                "founder",
                "/api/projects/",
                json!({"name": "Cormorant line", "manager_id": world.user_id("manager"),
                       "team_members": [world.user_id("member"), world.user_id("creator")]}),
            )
            .await;
        let pid = id_of(&project);
        world.objects.insert(Kind::Project, project);
        let activity = world
            .post(
                "creator",
                "/api/activities/",
                json!({"title": "Aardvark press check", "project_id": pid,
                       "assigned_to": world.user_id("assignee")}),
            )
            .await;
        world.objects.insert(Kind::ProjectActivity, activity);
        let activity = world
            .post(
                "creator",
                "/api/activities/",
                json!({"title": "Bobolink sweep", "assigned_to": world.user_id("assignee")}),
            )
            .await;
        world.objects.insert(Kind::LooseActivity, activity);
        let message = world
            .post(
                "creator",
                "/api/chat/messages/",
                json!({"project_id": pid, "content": "echidna tooling arrived"}),
            )
            .await;
        world.objects.insert(Kind::RoomMessage, message);

        // The creator leaves the team, so that only "creator" explains what they still see.
        let admin = world.token("admin").to_string();
        let path = format!("/api/projects/{pid}/team/{}/", world.user_id("creator"));
        let r = world.app.delete(&path, &admin).await;
        assert_eq!(
            r.status(),
            StatusCode::NO_CONTENT,
            "remove creator from team"
        );
        // The founder stops being staff, so that having created the project is all they have.
        let path = format!("/api/users/{}/", world.user_id("founder"));
        let r = world
            .app
            .patch(&path, &admin, &json!({"role": "user"}))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "demote founder");
        let login = world.app.login("founder", USER_PASSWORD).await;
        world.tokens.insert("founder", token_of(&login));

        // Low priority: a high one would notify every user.
        let update = world
            .post(
                "admin",
                "/api/updates/",
                json!({"title": "Dromedary canteen", "content": "closed Friday",
                       "priority": "low"}),
            )
            .await;
        world.objects.insert(Kind::Update, update);
        let message = world
            .post(
                "creator",
                "/api/chat/messages/",
                json!({"receiver_id": world.user_id("party"), "content": "flamingo shipment"}),
            )
            .await;
        world.objects.insert(Kind::DirectMessage, message);
        let notification = world
            .notification_about("party", Kind::DirectMessage.word())
            .await
            .unwrap_or_else(|| panic!("the party was not notified of the direct message"));
        world.objects.insert(Kind::Notification, notification);

        world.wait_for_index().await;
        world
    }

    /// `user`'s notification whose body holds `word`, from their list.
    async fn notification_about(&self, user: &str, word: &str) -> Option<Value> {
        let body = json_of(
            self.app
                .get(
                    "/api/updates/notifications/?page_size=200",
                    self.token(user),
                )
                .await,
        )
        .await;
        body["results"]
            .as_array()?
            .iter()
            .find(|n| n["body"].as_str().is_some_and(|b| b.contains(word)))
            .cloned()
    }

    /// Waits until search holds a write made after every object: it follows the change log in
    /// order, so then it holds them all, and a miss is an answer, not a lag.
    async fn wait_for_index(&self) {
        let sentinel = self
            .post(
                "admin",
                "/api/activities/",
                json!({"title": "Hornbill sentinel"}),
            )
            .await;
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self
                .search_hits("admin", "hornbill", "activity")
                .await
                .is_ok_and(|hits| hits.contains(&id_of(&sentinel)))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("search did not catch up within {WAIT:?}");
    }

    /// The ids of the hits of `kind` for `word`, as `user`.
    async fn search_hits(&self, user: &str, word: &str, kind: &str) -> Result<BTreeSet<u64>, Seen> {
        let r = self
            .app
            .request(Method::GET, "/api/search/", Some(self.token(user)))
            .query(&[("q", word), ("kind", kind), ("page_size", "200")])
            .send()
            .await
            .expect("search request");
        let body = ok_body(r).await?;
        Ok(body["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["kind"] == kind)
            .filter_map(|h| h["id"].as_u64())
            .collect())
    }
}

/// The body of a `200`; another status is `Odd`.
async fn ok_body(response: Response) -> Result<Value, Seen> {
    let status = response.status();
    if status != StatusCode::OK {
        return Err(Seen::Odd(format!("status {status}")));
    }
    response
        .json()
        .await
        .map_err(|e| Seen::Odd(format!("a body that is not JSON: {e}")))
}

/// Whether the page `body` lists `id`.
fn lists(body: &Value, id: u64) -> Seen {
    match body["results"].as_array() {
        Some(rows) => Seen::from(rows.iter().any(|r| r["id"] == id)),
        None => Seen::Odd(format!("no results in {body}")),
    }
}

// ---------------------------------------------------------------------------------------------
// REST, list and search

/// What `channel` (REST, list or search) shows `viewer` of the object of `kind`.
async fn static_seen(world: &World, kind: Kind, viewer: Viewer, channel: Channel) -> Seen {
    let user = viewer.user(kind);
    let token = world.token(user);
    let object = world.object(kind);
    let id = id_of(object);
    match channel {
        Channel::Rest => {
            let path = match kind {
                Kind::ProjectActivity | Kind::LooseActivity => format!("/api/activities/{id}/"),
                Kind::Project => format!("/api/projects/{id}/"),
                Kind::Update => format!("/api/updates/{id}/"),
                Kind::RoomMessage | Kind::DirectMessage | Kind::Notification => {
                    return Seen::Odd(format!("no REST read for {}", kind.name()));
                }
            };
            let r = world.app.get(&path, token).await;
            match r.status() {
                StatusCode::OK => Seen::Visible,
                // "What a caller may not see answers 404": a 403 would leak existence.
                StatusCode::NOT_FOUND => Seen::Hidden,
                other => Seen::Odd(format!("status {other}")),
            }
        }
        Channel::List => {
            let path = match kind {
                Kind::ProjectActivity | Kind::LooseActivity => "/api/activities/".to_string(),
                Kind::Project => "/api/projects/".to_string(),
                Kind::Update => "/api/updates/".to_string(),
                Kind::RoomMessage => {
                    format!("/api/chat/messages/?project={}", object["project_id"])
                }
                Kind::DirectMessage => {
                    // The viewer's conversation with one of the two parties.
                    let peer = if user == "creator" {
                        "party"
                    } else {
                        "creator"
                    };
                    format!("/api/chat/messages/?with={}", world.user_id(peer))
                }
                Kind::Notification => "/api/updates/notifications/".to_string(),
            };
            let sep = if path.contains('?') { '&' } else { '?' };
            let r = world
                .app
                .get(&format!("{path}{sep}page_size=200"), token)
                .await;
            // A room the caller may not see is closed as a whole.
            if kind == Kind::RoomMessage && r.status() == StatusCode::NOT_FOUND {
                return Seen::Hidden;
            }
            match ok_body(r).await {
                Ok(body) => lists(&body, id),
                Err(odd) => odd,
            }
        }
        Channel::Search => {
            let Some(search_kind) = kind.search_kind() else {
                return Seen::Odd(format!("{} is not searchable", kind.name()));
            };
            // No retry: the index already holds every object (see `wait_for_index`).
            match world.search_hits(user, kind.word(), search_kind).await {
                Ok(hits) => Seen::from(hits.contains(&id)),
                Err(odd) => odd,
            }
        }
        Channel::GqlRead => {
            let field = match kind {
                Kind::ProjectActivity | Kind::LooseActivity => "activity",
                Kind::Project => "project",
                Kind::Update => "update",
                Kind::RoomMessage | Kind::DirectMessage | Kind::Notification => {
                    return Seen::Odd(format!("no GraphQL read for {}", kind.name()));
                }
            };
            let query = format!("query($id: Int!) {{ {field}(id: $id) {{ id }} }}");
            match graphql(world, token, &query, json!({"id": id})).await {
                Ok(body) if body["data"][field]["id"] == id => Seen::Visible,
                // As REST's 404: null, with the `not_found` code and nothing of the object.
                Ok(body)
                    if body["data"][field].is_null()
                        && body["errors"][0]["extensions"]["code"] == "not_found" =>
                {
                    Seen::Hidden
                }
                Ok(body) => Seen::Odd(format!("answer {body}")),
                Err(odd) => odd,
            }
        }
        Channel::GqlList => {
            let (field, query, variables) = match kind {
                Kind::ProjectActivity | Kind::LooseActivity => (
                    "activities",
                    "{ activities(pageSize: 200) { results { id } } }",
                    json!({}),
                ),
                Kind::Project => (
                    "projects",
                    "{ projects(pageSize: 200) { results { id } } }",
                    json!({}),
                ),
                Kind::Update => (
                    "updates",
                    "{ updates(pageSize: 200) { results { id } } }",
                    json!({}),
                ),
                Kind::RoomMessage => (
                    "messages",
                    "query($p: Int) { messages(projectId: $p, pageSize: 200) { results { id } } }",
                    json!({"p": object["project_id"]}),
                ),
                Kind::DirectMessage => {
                    let peer = if user == "creator" {
                        "party"
                    } else {
                        "creator"
                    };
                    (
                        "messages",
                        "query($w: Int) { messages(withUserId: $w, pageSize: 200) { results { id } } }",
                        json!({"w": world.user_id(peer)}),
                    )
                }
                Kind::Notification => (
                    "notifications",
                    "{ notifications(pageSize: 200) { results { id } } }",
                    json!({}),
                ),
            };
            match graphql(world, token, query, variables).await {
                // A room the caller may not see is closed as a whole, as over REST.
                Ok(body)
                    if kind == Kind::RoomMessage
                        && body["errors"][0]["extensions"]["code"] == "not_found" =>
                {
                    Seen::Hidden
                }
                Ok(body) if body.get("errors").is_some() => {
                    Seen::Odd(format!("errors {}", body["errors"]))
                }
                Ok(body) => lists(&body["data"][field], id),
                Err(odd) => odd,
            }
        }
        Channel::Page => {
            let path = match kind {
                Kind::ProjectActivity | Kind::LooseActivity => format!("/activities/{id}"),
                Kind::Project => format!("/projects/{id}"),
                Kind::Update => format!("/updates/{id}"),
                // Leads to the message's conversation.
                Kind::RoomMessage | Kind::DirectMessage => format!("/chat/messages/{id}"),
                Kind::Notification => {
                    return Seen::Odd("no web page of one notification".into());
                }
            };
            match world.page(user, &path).await {
                (StatusCode::OK | StatusCode::SEE_OTHER, _) => Seen::Visible,
                (StatusCode::NOT_FOUND, body) if body.contains("<h1>Not found</h1>") => {
                    Seen::Hidden
                }
                (other, _) => Seen::Odd(format!("page status {other}")),
            }
        }
        Channel::PageList => {
            let (path, marker) = match kind {
                Kind::ProjectActivity | Kind::LooseActivity => {
                    ("/activities?page_size=200".to_string(), "data-activity-id")
                }
                Kind::Project => ("/projects?page_size=200".to_string(), "data-project-id"),
                Kind::Update => ("/updates?page_size=200".to_string(), "data-update-id"),
                Kind::RoomMessage => (
                    format!("/chat?project={}", object["project_id"]),
                    "data-message-id",
                ),
                Kind::DirectMessage => {
                    let peer = if user == "creator" {
                        "party"
                    } else {
                        "creator"
                    };
                    (
                        format!("/chat?with={}", world.user_id(peer)),
                        "data-message-id",
                    )
                }
                Kind::Notification => (
                    "/notifications?page_size=200".to_string(),
                    "data-notification-id",
                ),
            };
            match world.page(user, &path).await {
                (StatusCode::OK, body) => Seen::from(body.contains(&format!("{marker}=\"{id}\""))),
                // A room the caller may not see is closed as a whole.
                (StatusCode::NOT_FOUND, _) if kind == Kind::RoomMessage => Seen::Hidden,
                (other, _) => Seen::Odd(format!("list page status {other}")),
            }
        }
        Channel::Ws | Channel::Sse | Channel::GqlLive => {
            Seen::Odd(format!("{channel} is live, not static"))
        }
    }
}

/// The answer of a GraphQL query at `/graphql`, as `token`.
async fn graphql(world: &World, token: &str, query: &str, variables: Value) -> Result<Value, Seen> {
    let r = world
        .app
        .post(
            "/graphql",
            Some(token),
            &json!({"query": query, "variables": variables}),
        )
        .await;
    ok_body(r).await
}

// ---------------------------------------------------------------------------------------------
// WebSocket and SSE

/// Every general topic.
const TOPICS: [&str; 5] = ["activities", "projects", "updates", "chat", "notifications"];

/// A `/ws/` client subscribed to every general topic.
struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    async fn open(app: &TestApp, token: &str) -> Ws {
        let url = format!(
            "ws://{}/ws/?token={token}",
            app.base.trim_start_matches("http://")
        );
        let (stream, _) = timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("WebSocket upgrade in time")
            .expect("WebSocket upgrade");
        let mut ws = Ws { stream };
        let subscribe = json!({"type": "subscribe", "topics": TOPICS});
        timeout(WAIT, ws.stream.send(Message::text(subscribe.to_string())))
            .await
            .expect("subscribe in time")
            .expect("subscribe");
        match ws.next().await {
            Ok(reply) if reply["type"] == "subscribed" => ws,
            other => panic!("expected subscribed, got {other:?}"),
        }
    }

    /// The next JSON message (pings and pongs skipped).
    async fn next(&mut self) -> Result<Value, String> {
        let deadline = Instant::now() + WAIT;
        loop {
            match timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Err(format!("nothing within {WAIT:?}")),
                Ok(None) => return Err("the WebSocket ended".into()),
                Ok(Some(Err(e))) => return Err(format!("WebSocket error: {e}")),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(Some(Ok(Message::Text(text)))) => {
                    return serde_json::from_str(text.as_str())
                        .map_err(|e| format!("message {text:?} is not JSON: {e}"));
                }
                Ok(Some(Ok(other))) => return Err(format!("unexpected frame {other:?}")),
            }
        }
    }

    /// The events before the marker update `marker`, the marker excluded.
    async fn until(&mut self, marker: u64) -> Result<Vec<Value>, String> {
        let mut events = Vec::new();
        loop {
            let message = self.next().await?;
            match message["type"].as_str() {
                Some("event") if is_marker(&message, marker) => return Ok(events),
                Some("event") => events.push(message),
                // Missed events could be the very one asked about.
                Some("lagged") => return Err(format!("told {message}")),
                _ => {}
            }
        }
    }
}

/// An `/api/events/` reader on every general topic.
struct Sse {
    response: Response,
    buf: Vec<u8>,
}

impl Sse {
    async fn open(app: &TestApp, token: &str) -> Sse {
        let path = format!("/api/events/?topics={}", TOPICS.join(","));
        let response = timeout(WAIT, app.request(Method::GET, &path, Some(token)).send())
            .await
            .expect("SSE response in time")
            .expect("SSE request");
        assert_eq!(response.status(), StatusCode::OK, "SSE status");
        Sse {
            response,
            buf: Vec::new(),
        }
    }

    /// The events before the marker update `marker`, the marker excluded.
    async fn until(&mut self, marker: u64) -> Result<Vec<Value>, String> {
        let deadline = Instant::now() + WAIT;
        let mut events = Vec::new();
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.buf.drain(..end + 2).collect();
                let raw = String::from_utf8(raw).map_err(|e| format!("SSE not UTF-8: {e}"))?;
                let mut data = Vec::new();
                for line in raw.lines() {
                    if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.strip_prefix(' ').unwrap_or(value));
                    } else if line.starts_with("event:") {
                        // A `reset` or other control event: the stream is no longer whole.
                        return Err(format!("a control event {raw:?}"));
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = data.join("\n");
                let envelope: Value = serde_json::from_str(&data)
                    .map_err(|e| format!("SSE data {data:?} is not JSON: {e}"))?;
                if is_marker(&envelope, marker) {
                    return Ok(events);
                }
                events.push(envelope);
            }
            match timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Err(format!("no marker within {WAIT:?}")),
                Ok(Ok(Some(bytes))) => self.buf.extend_from_slice(&bytes),
                Ok(Ok(None)) => return Err("the SSE stream ended".into()),
                Ok(Err(e)) => return Err(format!("SSE error: {e}")),
            }
        }
    }
}

/// A `graphql-transport-ws` client of `/graphql/ws` with a subscription to each kind there is
/// one for, replaying from the start of the change log so that nothing published after it
/// connected can be missed.
struct GqlLive {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// The subscriptions, by operation id; each selects the event, and the object's id (and a
/// notification's body, which `change` matches on).
const GQL_SUBSCRIPTIONS: [(&str, &str); 4] = [
    (
        "activityChanged",
        "activityChanged(since: 0) { event activity { id } }",
    ),
    (
        "updatePosted",
        "updatePosted(since: 0) { event update { id } }",
    ),
    (
        "chatMessage",
        "chatMessage(since: 0) { event message { id } }",
    ),
    (
        "notificationReceived",
        "notificationReceived(since: 0) { event notification { id body } }",
    ),
];

impl GqlLive {
    async fn open(app: &TestApp, token: &str) -> GqlLive {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("ws://{}/graphql/ws", app.base.trim_start_matches("http://"));
        let mut request = url.into_client_request().expect("request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (stream, _) = timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("GraphQL WebSocket upgrade in time")
            .expect("GraphQL WebSocket upgrade");
        let mut live = GqlLive { stream };
        live.send(json!({"type": "connection_init", "payload": {"token": token}}))
            .await;
        match live.next().await {
            Ok(ack) if ack["type"] == "connection_ack" => {}
            other => panic!("expected connection_ack, got {other:?}"),
        }
        for (id, selection) in GQL_SUBSCRIPTIONS {
            let query = format!("subscription {{ {selection} }}");
            live.send(json!({"type": "subscribe", "id": id, "payload": {"query": query}}))
                .await;
        }
        live
    }

    async fn send(&mut self, message: Value) {
        timeout(WAIT, self.stream.send(Message::text(message.to_string())))
            .await
            .expect("send in time")
            .expect("send");
    }

    /// The next JSON message (pings and pongs skipped).
    async fn next(&mut self) -> Result<Value, String> {
        let deadline = Instant::now() + WAIT;
        loop {
            match timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Err(format!("nothing within {WAIT:?}")),
                Ok(None) => return Err("the GraphQL WebSocket ended".into()),
                Ok(Some(Err(e))) => return Err(format!("GraphQL WebSocket error: {e}")),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(Some(Ok(Message::Text(text)))) => {
                    return serde_json::from_str(text.as_str())
                        .map_err(|e| format!("message {text:?} is not JSON: {e}"));
                }
                Ok(Some(Ok(other))) => return Err(format!("unexpected frame {other:?}")),
            }
        }
    }

    /// The events before the marker update `marker`, the marker excluded, each as
    /// `{"event", "data"}` with the object (null after a delete) as `data`.
    async fn until(&mut self, marker: u64) -> Result<Vec<Value>, String> {
        let mut events = Vec::new();
        loop {
            let message = self.next().await?;
            if message["type"] != "next" {
                return Err(format!("told {message}"));
            }
            let Some(id) = message["id"].as_str() else {
                return Err(format!("no id in {message}"));
            };
            let event = &message["payload"]["data"][id];
            let object = event
                .as_object()
                .and_then(|fields| fields.iter().find(|(name, _)| *name != "event"))
                .map(|(_, object)| object.clone())
                .unwrap_or(Value::Null);
            let envelope = json!({"event": event["event"], "data": object});
            if is_marker(&envelope, marker) {
                return Ok(events);
            }
            events.push(envelope);
        }
    }
}

fn is_live(channel: Channel) -> bool {
    matches!(channel, Channel::Ws | Channel::Sse | Channel::GqlLive)
}

fn is_marker(envelope: &Value, marker: u64) -> bool {
    envelope["event"] == "update.created" && envelope["data"]["id"] == marker
}

/// Which event the live change of an object is.
struct Expected {
    event: &'static str,
    topic: &'static str,
    matches: Box<dyn Fn(&Value) -> bool>,
}

impl Expected {
    /// Whether `events` (the envelopes between the change and its marker) hold it.
    fn seen_in(&self, events: &[Value]) -> Seen {
        let Some(e) = events
            .iter()
            .find(|e| e["event"] == self.event && (self.matches)(&e["data"]))
        else {
            return Seen::Hidden;
        };
        if e["topic"] != self.topic {
            return Seen::Odd(format!("visible on topic {}", e["topic"]));
        }
        Seen::Visible
    }

    /// Whether GraphQL `events` (see `GqlLive::until`) hold it: GraphQL has no topics, and a
    /// deleted object is null, so any such delete between the change and its marker is it.
    fn seen_in_gql(&self, events: &[Value]) -> Seen {
        Seen::from(events.iter().any(|e| {
            e["event"] == self.event && (e["data"].is_null() || (self.matches)(&e["data"]))
        }))
    }
}

/// Changes the object of `kind` so that an event of it is published; says which event.
async fn change(world: &World, kind: Kind) -> Expected {
    let admin = world.token("admin");
    let object = world.object(kind);
    let id = id_of(object);
    let by_id = move |data: &Value| data["id"] == id;
    let (event, path, body) = match kind {
        Kind::ProjectActivity | Kind::LooseActivity => (
            "activity.updated",
            format!("/api/activities/{id}/"),
            Some(json!({"description": "changed"})),
        ),
        Kind::Project => (
            "project.updated",
            format!("/api/projects/{id}/"),
            Some(json!({"description": "changed"})),
        ),
        Kind::Update => (
            "update.updated",
            format!("/api/updates/{id}/"),
            Some(json!({"content": "changed"})),
        ),
        // Messages are never edited; deleting is the change to the very object (admins moderate
        // every conversation, including direct ones they may not read).
        Kind::RoomMessage | Kind::DirectMessage => {
            ("chat.deleted", format!("/api/chat/messages/{id}/"), None)
        }
        // Notifications never change: a new one of the same kind, to the same recipient, from
        // the same cause, stands in for it.
        Kind::Notification => {
            world
                .post(
                    "creator",
                    "/api/chat/messages/",
                    json!({"receiver_id": world.user_id("party"),
                           "content": format!("{} delivery", kind.word())}),
                )
                .await;
            return Expected {
                event: "notification.created",
                topic: kind.topic(),
                matches: Box::new(|data| {
                    data["body"]
                        .as_str()
                        .is_some_and(|b| b.contains(Kind::Notification.word()))
                }),
            };
        }
    };
    let r = match body {
        Some(body) => world.app.patch(&path, admin, &body).await,
        None => world.app.delete(&path, admin).await,
    };
    assert!(
        r.status().is_success(),
        "change {}: {}",
        kind.name(),
        r.status()
    );
    Expected {
        event,
        topic: kind.topic(),
        matches: Box::new(by_id),
    }
}

/// Publishes an update every viewer sees; returns its id.
async fn marker(world: &World, n: usize) -> u64 {
    let update = world
        .post(
            "admin",
            "/api/updates/",
            json!({"title": format!("Marker {n}"), "content": "-", "priority": "low"}),
        )
        .await;
    id_of(&update)
}

// ---------------------------------------------------------------------------------------------
// The run

#[tokio::test]
async fn every_channel_agrees_with_the_visibility_table() {
    let table = table();
    let mut rows = BTreeSet::new();
    for c in &table {
        assert!(
            rows.insert((c.kind, c.viewer)),
            "row {:?} {:?} twice",
            c.kind,
            c.viewer
        );
    }
    for kind in Kind::ALL {
        for viewer in [Viewer::Admin, Viewer::Staff, Viewer::Stranger] {
            assert!(rows.contains(&(kind, viewer)), "no row {kind:?} {viewer:?}");
        }
    }

    let world = World::build().await;
    let mut disagreements = Vec::new();
    // Keyed by row and channel, so the report reads in the table's order.
    let mut report = |row: usize, channel: Channel, got: &Seen| {
        let c = &table[row];
        let expected = Seen::from(c.visible);
        if *got != expected {
            let line = format!(
                "{}/{}/{}/{channel}: expected {expected} got {got}",
                c.kind.name(),
                c.viewer.role(),
                c.viewer.relation(),
            );
            disagreements.push(((row, channel), line));
        }
    };

    // REST, list and search first: the live phase deletes the messages.
    for (row, c) in table.iter().enumerate() {
        for &channel in c.kind.channels() {
            if !is_live(channel) {
                let got = static_seen(&world, c.kind, c.viewer, channel).await;
                report(row, channel, &got);
            }
        }
    }

    // Live: every user listens on both channels from before the first change; each change is
    // followed by a marker every user sees, and what came before the marker is what the change
    // delivered (events arrive in order), so no case waits on a timeout.
    let mut live: Vec<(&str, Ws, Sse, GqlLive)> = Vec::new();
    for user in std::iter::once("admin").chain(USERS.iter().map(|(name, _)| *name)) {
        let token = world.token(user);
        live.push((
            user,
            Ws::open(&world.app, token).await,
            Sse::open(&world.app, token).await,
            GqlLive::open(&world.app, token).await,
        ));
    }
    // A first marker proves every connection is listening before anything counts.
    let first = marker(&world, 0).await;
    for (user, ws, sse, gql) in &mut live {
        ws.until(first)
            .await
            .unwrap_or_else(|e| panic!("{user} WS: {e}"));
        sse.until(first)
            .await
            .unwrap_or_else(|e| panic!("{user} SSE: {e}"));
        gql.until(first)
            .await
            .unwrap_or_else(|e| panic!("{user} GraphQL: {e}"));
    }
    let mut delivered: HashMap<(Kind, &str, Channel), Seen> = HashMap::new();
    for (n, kind) in Kind::ALL.into_iter().enumerate() {
        let expected = change(&world, kind).await;
        let marker = marker(&world, n + 1).await;
        for (user, ws, sse, gql) in &mut live {
            let over_gql = match gql.until(marker).await {
                Ok(events) => expected.seen_in_gql(&events),
                Err(e) => Seen::Odd(e),
            };
            delivered.insert((kind, *user, Channel::GqlLive), over_gql);
            let over_ws = match ws.until(marker).await {
                Ok(events) => expected.seen_in(&events),
                Err(e) => Seen::Odd(e),
            };
            delivered.insert((kind, *user, Channel::Ws), over_ws);
            let over_sse = match sse.until(marker).await {
                Ok(events) => expected.seen_in(&events),
                Err(e) => Seen::Odd(e),
            };
            delivered.insert((kind, *user, Channel::Sse), over_sse);
        }
    }
    for (row, c) in table.iter().enumerate() {
        for &channel in c.kind.channels() {
            if is_live(channel) {
                let got = delivered
                    .get(&(c.kind, c.viewer.user(c.kind), channel))
                    .cloned()
                    .unwrap_or_else(|| Seen::Odd("not run".into()));
                report(row, channel, &got);
            }
        }
    }

    disagreements.sort();
    let lines: Vec<String> = disagreements.into_iter().map(|(_, line)| line).collect();
    assert!(
        lines.is_empty(),
        "{} disagreement(s) with the visibility table:\n{}",
        lines.len(),
        lines.join("\n")
    );
}

/// A client that shows redirects instead of following them (the web UI answers with them).
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}
