//! Seeding through the REST API with bearer tokens: quicker than clicking, and independent of the
//! pages under test.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Env;
use crate::server::ADMIN_PASSWORD;

/// The password `Env::user` gives its users.
pub const USER_PASSWORD: &str = "user-password-123";

/// A signed-in API caller.
pub struct Api {
    base: String,
    client: reqwest::Client,
    /// The bearer token.
    pub token: String,
    /// The caller's user id.
    pub id: u64,
    /// The caller's username.
    pub username: String,
}

/// A user of the run: its name, id and an API client signed in as it.
pub struct User {
    /// Username (unique in the run).
    pub name: String,
    /// Its password.
    pub password: String,
    /// Its id.
    pub id: u64,
    /// The API signed in as it.
    pub api: Api,
}

impl Env {
    /// The API signed in as `admin`.
    pub async fn admin(&self) -> Api {
        Api::login(&self.server.base, "admin", ADMIN_PASSWORD).await
    }

    /// A new user with `role` (`admin`, `staff`, `user`), named after `prefix`.
    pub async fn user(&self, prefix: &str, role: &str) -> User {
        let name = self.unique(prefix);
        let display = display_name(&name);
        self.admin().await.create_user(&name, &display, role).await
    }
}

/// "alice3" → "Alice3": display names that read like people in screenshots.
fn display_name(username: &str) -> String {
    let mut chars = username.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The `id` of an object's JSON.
pub fn id_of(body: &Value) -> u64 {
    body["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no id in {body}"))
}

impl Api {
    /// Creates a user (the caller must be admin) with password `USER_PASSWORD`, and signs it in.
    pub async fn create_user(&self, name: &str, display_name: &str, role: &str) -> User {
        let created = self
            .call(
                Method::POST,
                "/api/users/",
                Some(
                    json!({"username": name, "email": format!("{name}@plant.test"),
                            "password": USER_PASSWORD, "role": role,
                            "display_name": display_name}),
                ),
                StatusCode::CREATED,
            )
            .await;
        let api = Api::login(&self.base, name, USER_PASSWORD).await;
        User {
            id: id_of(&created),
            name: name.to_string(),
            password: USER_PASSWORD.to_string(),
            api,
        }
    }

    /// Signs in `username` over the API.
    pub async fn login(base: &str, username: &str, password: &str) -> Api {
        let client = reqwest::Client::new();
        let r = client
            .post(format!("{base}/api/auth/login/"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("login request");
        assert_eq!(r.status(), StatusCode::OK, "API login of {username}");
        let body: Value = r.json().await.expect("login body");
        Api {
            base: base.to_string(),
            client,
            token: body["access"].as_str().expect("access token").to_string(),
            id: body["user"]["id"].as_u64().expect("user id"),
            username: username.to_string(),
        }
    }

    /// Calls `method path` with `body`; panics unless the answer is `expect`; returns the JSON
    /// body (`null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expect: StatusCode,
    ) -> Value {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.expect("API request");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(
            status, expect,
            "{method} {path} as {}: {text}",
            self.username
        );
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        }
    }

    /// GET `path` (expects `200`).
    pub async fn get(&self, path: &str) -> Value {
        self.call(Method::GET, path, None, StatusCode::OK).await
    }

    /// Creates an activity from `fields` (title etc.); returns its id.
    pub async fn activity(&self, fields: Value) -> u64 {
        id_of(
            &self
                .call(
                    Method::POST,
                    "/api/activities/",
                    Some(fields),
                    StatusCode::CREATED,
                )
                .await,
        )
    }

    /// Moves activity `id` to `status`.
    pub async fn set_status(&self, id: u64, status: &str) {
        self.call(
            Method::PATCH,
            &format!("/api/activities/{id}/"),
            Some(json!({"status": status})),
            StatusCode::OK,
        )
        .await;
    }

    /// An activity's `status` as the API reports it.
    pub async fn status_of(&self, id: u64) -> String {
        self.get(&format!("/api/activities/{id}/")).await["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Creates a project named `name` with `members`; returns its id.
    pub async fn project(&self, name: &str, description: &str, members: &[u64]) -> u64 {
        let id = id_of(
            &self
                .call(
                    Method::POST,
                    "/api/projects/",
                    Some(json!({"name": name, "description": description, "status": "active"})),
                    StatusCode::CREATED,
                )
                .await,
        );
        for member in members {
            self.call(
                Method::POST,
                &format!("/api/projects/{id}/team/"),
                Some(json!({"user_id": member})),
                StatusCode::CREATED,
            )
            .await;
        }
        id
    }

    /// Sends a direct message to `receiver`.
    pub async fn message(&self, receiver: u64, content: &str) {
        self.call(
            Method::POST,
            "/api/chat/messages/",
            Some(json!({"receiver_id": receiver, "content": content})),
            StatusCode::CREATED,
        )
        .await;
    }

    /// Posts a message to project `project`'s room.
    pub async fn room_message(&self, project: u64, content: &str) {
        self.call(
            Method::POST,
            "/api/chat/messages/",
            Some(json!({"project_id": project, "content": content})),
            StatusCode::CREATED,
        )
        .await;
    }

    /// Posts an update (announcement).
    pub async fn update(&self, title: &str, content: &str, kind: &str, priority: &str) {
        self.call(
            Method::POST,
            "/api/updates/",
            Some(json!({"title": title, "content": content, "type": kind, "priority": priority})),
            StatusCode::CREATED,
        )
        .await;
    }

    /// Changes the caller's password, which ends every other session of the caller.
    pub async fn change_password(&self, current: &str, new: &str) {
        self.call(
            Method::POST,
            "/api/auth/password/",
            Some(json!({"current_password": current, "new_password": new})),
            StatusCode::NO_CONTENT,
        )
        .await;
    }
}
