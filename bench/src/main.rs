//! `nexus-bench`: starts a real `nexus serve` as a separate process on a temporary data
//! directory (or a kept one, `--data`), seeds it through the API (the list scenarios' rows,
//! with `--seeder`, through the store of the stopped server), drives load over loopback and
//! prints one row per scenario: requests/s, latency percentiles, errors, and the server's peak
//! RSS.
//!
//! `cargo build --release && cargo build --release -p nexus-bench`, then
//! `target/release/nexus-bench [--activities N] [--concurrency C] [--duration SECS] [--data DIR]
//! [scenario…]`; `--help` lists the scenarios.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "bench-admin-password";
const USER_PASSWORD: &str = "bench-user-password";
const TYPES: [&str; 10] = [
    "production",
    "maintenance",
    "quality_check",
    "inspection",
    "setup",
    "changeover",
    "downtime",
    "safety",
    "training",
    "other",
];
const STATUSES: [&str; 5] = [
    "planned",
    "in_progress",
    "on_hold",
    "completed",
    "cancelled",
];
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// Load generator for Nexus.
#[derive(Parser)]
#[command(name = "nexus-bench")]
struct Args {
    /// Activities to seed.
    #[arg(long, default_value_t = 10_000)]
    activities: usize,
    /// Projects to seed.
    #[arg(long, default_value_t = 20)]
    projects: usize,
    /// Concurrent connections during each scenario.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// WebSocket clients for the `fanout` scenario.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Events published (one per second) in the `fanout` scenario.
    #[arg(long, default_value_t = 10)]
    events: usize,
    /// Messages in the one conversation of the `chat` scenario (seeded up to this many).
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// The nexus binary (default: next to this one).
    #[arg(long)]
    nexus: Option<PathBuf>,
    /// Keep the server's data directory here: seeded on the first run, reused as it is by later
    /// runs (so a big directory, for `startup`, is seeded once).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Rows the list scenarios have under them: audit entries, one user's notifications,
    /// updates, users, projects (a kept data directory is topped up to this, never shrunk).
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// `nexus-bench-seed` (built with `--features seed`): when given, the list scenarios and
    /// `chat` add their missing rows with it, straight through the store of the stopped
    /// server, rather than through the API (which takes hours for a million rows, and an
    /// argon2 hash per user).
    #[arg(long)]
    seeder: Option<PathBuf>,
    /// Scenarios to run, in this order (default: get list list-user create login mixed startup).
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// One activity by id, as admin.
    Get,
    /// `?status=in_progress&page_size=50`, as admin.
    List,
    /// The same list as a `user`, with visibility applied.
    ListUser,
    /// A durable POST of one activity.
    Create,
    /// One of ten users signs in.
    Login,
    /// 80% reads (gets and lists), 20% creates.
    Mixed,
    /// Restarts after clean stops and after `kill -9`: time to ready, first list.
    Startup,
    /// `get` on half the connections while the other half floods `login`.
    LoginFlood,
    /// `--clients` WebSocket clients, one event a second: delivery latency, memory per client.
    Fanout,
    /// Term, phrase, boolean and prefix searches, as a `user`.
    Search,
    /// `nexus reindex` over the stopped server's data directory.
    Reindex,
    /// One project room of `--messages` messages: pages of 50 by `before` cursor and by page
    /// number at every depth, and the conversation list, as admin; the server's RSS.
    Chat,
    /// Pages of `GET /api/audit/` over `--rows` entries, as admin: the first 20 pages, half of
    /// them filtered by action.
    Audit,
    /// Pages of one user's `--rows` notifications: the first 20 pages, half of them unread only.
    Notifications,
    /// Pages of `GET /api/updates/` over `--rows` updates, as admin: the first 20 pages, a third
    /// each newest first, of one type, and by priority.
    Updates,
    /// Pages of `GET /api/users/` over `--rows` users, as admin: the first 20 pages, a third
    /// each by username, staff newest first, and active only; then `q` searches for one person
    /// (`users-q`) and for a ninth of the directory (`users-q-broad`).
    Users,
    /// Pages of `GET /api/projects/` over `--rows` projects: the first 20 pages, a third each as
    /// admin by name, as admin active ones newest first, and as the plain user (who is on the
    /// team of every tenth).
    Projects,
    /// The web UI as a signed-in `user` (session cookie): the dashboard and the activity
    /// table page, in turn.
    Ui,
    /// `POST /graphql` as a `user`: the in-progress activities, a page of 50 with each one's
    /// assignee and project (names), as `list-user` asks REST for the same page.
    Graphql,
    /// `GET /api/oee/` as a `user` over one line of two machines with a month of one-minute
    /// counts on one of them (43,200) and a stop every 15 minutes (2,880): the month by shift
    /// (`oee-shift`), by day (`oee-day`), and one day by hour (`oee-hour`).
    Oee,
}

impl Scenario {
    /// Run when no scenario is named: the ones quick enough, and meaningful at any size.
    const DEFAULT: [Scenario; 7] = [
        Scenario::Get,
        Scenario::List,
        Scenario::ListUser,
        Scenario::Create,
        Scenario::Login,
        Scenario::Mixed,
        Scenario::Startup,
    ];

    /// The name on the command line, which is also the row label.
    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// Where the bench keeps what it seeded, inside a kept data directory.
const SEED_FILE: &str = "bench-seed.json";

enum DataDir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl DataDir {
    fn path(&self) -> &std::path::Path {
        match self {
            DataDir::Temporary(t) => t.path(),
            DataDir::Kept(p) => p,
        }
    }
}

struct Server {
    child: Child,
    base: String,
    dir: DataDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    /// CPU time the server has used (user + system), in milliseconds.
    fn cpu_ms(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let per_sec = rustix::param::clock_ticks_per_second().max(1);
        Some(ticks * 1000 / per_sec)
    }
}

/// Raises this process's open-file limit to its hard limit (inherited by the server), so
/// thousands of connections fit.
fn raise_open_files() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

/// The `fanout` scenario: `clients` WebSocket clients subscribed to `activities`, one activity
/// created per second over REST; reports delivery latency (from just before the POST to
/// arrival) and the server's RSS per idle connection.
async fn fanout(server: &Server, seeded: &Seeded, clients: usize, events: usize) -> Result<()> {
    use tokio_tungstenite::tungstenite::Message;
    let host = server.base.trim_start_matches("http://").to_string();
    let rss_before = server.rss_kib().unwrap_or(0);
    let sent_at: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..events).map(|_| std::sync::OnceLock::new()).collect());
    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    let connect_gate = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(clients);
    let started = Instant::now();
    for _ in 0..clients {
        let url = format!("ws://{host}/ws/?token={}", seeded.admin);
        let (sent_at, ready, gate) = (sent_at.clone(), ready.clone(), connect_gate.clone());
        tasks.push(tokio::spawn(async move {
            let (mut socket, _) = {
                let _permit = gate.acquire().await.ok();
                tokio_tungstenite::connect_async(url).await.ok()?
            };
            socket
                .send(Message::text(
                    r#"{"type":"subscribe","topics":["activities"]}"#,
                ))
                .await
                .ok()?;
            ready.add_permits(1);
            let mut latencies = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(events as u64 + 30);
            while latencies.len() < events {
                let next = tokio::time::timeout_at(deadline, socket.next())
                    .await
                    .ok()??
                    .ok()?;
                let Message::Text(text) = next else { continue };
                // A substring search, not a JSON parse: the client shares the server's cores.
                let Some(rest) = text.split("\"title\":\"fanout ").nth(1) else {
                    continue;
                };
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse::<usize>()
                    && let Some(t0) = sent_at.get(n).and_then(|c| c.get())
                {
                    latencies.push(t0.elapsed().as_micros() as u64);
                }
            }
            Some(latencies)
        }));
    }
    let connected =
        tokio::time::timeout(Duration::from_secs(120), ready.acquire_many(clients as u32)).await;
    if connected.is_err() {
        eprintln!("  not every client connected within 120 s");
    } else if let Ok(permit) = connected {
        drop(permit);
    }
    eprintln!(
        "  {clients} clients connected in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = server.rss_kib().unwrap_or(0);
    let client = reqwest::Client::new();
    let cpu_before = server.cpu_ms().unwrap_or(0);
    for n in 0..events {
        let tick = Instant::now();
        let _ = sent_at[n].set(Instant::now());
        let body = json!({"title": format!("fanout {n}"), "type": "production"});
        post(
            &client,
            format!("{}/api/activities/", server.base),
            &seeded.admin,
            body,
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed())).await;
    }
    let cpu_per_event =
        server.cpu_ms().unwrap_or(0).saturating_sub(cpu_before) as f64 / events.max(1) as f64;
    let mut all = Vec::new();
    let mut short = 0usize;
    for t in tasks {
        match t.await.ok().flatten() {
            Some(l) => {
                if l.len() < events {
                    short += 1;
                }
                all.extend(l);
            }
            None => short += 1,
        }
    }
    all.sort_unstable();
    let per_conn = (rss_after.saturating_sub(rss_before) as f64 * 1024.0) / clients.max(1) as f64;
    println!(
        "fanout     clients={clients} events={events} deliveries={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} incomplete_clients={short} rss_per_idle_conn={:.1}KB server_rss={:.1}MiB server_cpu_per_event={:.0}ms",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(0) as f64 / 1000.0,
        per_conn / 1000.0,
        rss_after as f64 / 1024.0,
        cpu_per_event
    );
    Ok(())
}

fn serve(binary: &PathBuf, data: &std::path::Path, listen: &str) -> Result<Child> {
    Command::new(binary)
        .arg("serve")
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(listen)
        .env("NEXUS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("NEXUS_AUTH__RATE_LIMIT_PER_SEC", "0")
        .env("NEXUS_API__RATE_LIMIT_PER_SEC", "0")
        .env("NEXUS_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))
}

fn start_server(binary: &PathBuf, kept: Option<&PathBuf>) -> Result<Server> {
    let dir = match kept {
        Some(p) => DataDir::Kept(p.clone()),
        None => DataDir::Temporary(tempfile::tempdir()?),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    Ok(Server {
        child: serve(binary, dir.path(), &listen)?,
        base: format!("http://{listen}"),
        dir,
    })
}

impl Server {
    /// Stops the server: SIGTERM (a clean shutdown) or SIGKILL (a crash).
    fn stop(&mut self, crash: bool) -> Result<()> {
        use rustix::process::{Pid, Signal, kill_process};
        let signal = if crash { Signal::KILL } else { Signal::TERM };
        kill_process(Pid::from_child(&self.child), signal)?;
        self.child.wait()?;
        Ok(())
    }

    /// Starts the server again on the same data directory and address, and returns how long it
    /// took from process start to the first `200` on `/readyz`.
    async fn start_again(&mut self, binary: &PathBuf) -> Result<Duration> {
        let started = Instant::now();
        self.child = serve(
            binary,
            self.dir.path(),
            self.base.trim_start_matches("http://"),
        )?;
        wait_ready(&reqwest::Client::new(), &self.base).await?;
        Ok(started.elapsed())
    }
}

/// Disk space used under `dir`, recursively (allocated blocks, as `du` counts: the database
/// file is sparse, so its length overstates it).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// The `startup` scenario: restarts the server on its data directory five times after a clean
/// stop and once after `kill -9`, timing process start to the first `200` on `/readyz`, and
/// then the first filtered list (served while the list facets may still be loading).
async fn startup(server: &mut Server, binary: &PathBuf, seeded: &Seeded) -> Result<()> {
    let mib = dir_bytes(server.dir.path()) as f64 / (1 << 20) as f64;
    let mut clean = Vec::new();
    for _ in 0..5 {
        server.stop(false)?;
        clean.push(server.start_again(binary).await?.as_secs_f64() * 1000.0);
    }
    clean.sort_by(f64::total_cmp);
    server.stop(false)?;
    server.start_again(binary).await?;
    let started = Instant::now();
    reqwest::Client::new()
        .get(format!(
            "{}/api/activities/?status=in_progress&page_size=50&ordering=start_time",
            server.base
        ))
        .bearer_auth(&seeded.admin)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let first_list = started.elapsed().as_secs_f64() * 1000.0;
    server.stop(true)?;
    let after_kill = server.start_again(binary).await?.as_secs_f64() * 1000.0;
    println!(
        "startup    data_mib={mib:.0} ms_to_ready min={:.0} median={:.0} max={:.0} \
         after_kill9={after_kill:.0} first_list_ms={first_list:.1}",
        clean[0],
        clean[clean.len() / 2],
        clean[clean.len() - 1],
    );
    Ok(())
}

async fn wait_ready(client: &reqwest::Client, base: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("server did not become ready")
}

async fn login(client: &reqwest::Client, base: &str, user: &str, password: &str) -> Result<String> {
    let r: Value = client
        .post(format!("{base}/api/auth/login/"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(r["access"].as_str().context("no access token")?.to_string())
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> Result<Value> {
    Ok(client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

fn activity_body(i: usize, projects: &[u64], users: &[u64]) -> Value {
    let day = (i % 365) as i64;
    let start = time::OffsetDateTime::UNIX_EPOCH
        + time::Duration::days(20_000 + day)
        + time::Duration::minutes((i % 1440) as i64);
    let start = start
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    // A small plant vocabulary, mixed so words have realistic, differing frequencies.
    const MACHINES: [&str; 12] = [
        "pump",
        "conveyor",
        "press",
        "lathe",
        "robot",
        "oven",
        "mixer",
        "boiler",
        "compressor",
        "chiller",
        "extruder",
        "packer",
    ];
    const ACTIONS: [&str; 8] = [
        "inspect",
        "replace",
        "calibrate",
        "clean",
        "lubricate",
        "tighten",
        "align",
        "test",
    ];
    const PARTS: [&str; 10] = [
        "bearing", "seal", "belt", "motor", "valve", "sensor", "gearbox", "nozzle", "filter",
        "coupling",
    ];
    let machine = MACHINES[i % MACHINES.len()];
    let action = ACTIONS[(i / 3) % ACTIONS.len()];
    let part = PARTS[(i / 7) % PARTS.len()];
    json!({
        "title": format!("{action} {machine} {part} on line {}", i % 7),
        "description": format!(
            "Seeded activity {i}: {action} the {part} of {machine} {}, log torque and readings, sign off.",
            i % 50
        ),
        "type": TYPES[i % TYPES.len()],
        "status": STATUSES[i % STATUSES.len()],
        "priority": PRIORITIES[i % PRIORITIES.len()],
        "start_time": start,
        "project_id": if i.is_multiple_of(5) { Value::Null } else { json!(projects[i % projects.len()]) },
        "assigned_to": users[i % users.len()],
    })
}

struct Seeded {
    admin: String,
    user: String,
    activity_ids: Vec<u64>,
    projects: Vec<u64>,
    users: Vec<u64>,
}

impl Seeded {
    /// The seeded activity the `n`th request reads, spread over all of them.
    fn activity(&self, n: u64) -> u64 {
        self.activity_ids[(n as usize * 7919) % self.activity_ids.len().max(1)]
    }
}

/// What a kept data directory was seeded with, so a later run reuses it without seeding.
#[derive(serde::Serialize, serde::Deserialize)]
struct SeedIds {
    activity_ids: Vec<u64>,
    projects: Vec<u64>,
    users: Vec<u64>,
}

/// The seed of a kept data directory, if it has one: the ids from its seed file, and fresh
/// tokens.
async fn reuse_seed(client: &reqwest::Client, base: &str, dir: &DataDir) -> Result<Option<Seeded>> {
    let DataDir::Kept(path) = dir else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(path.join(SEED_FILE)) else {
        return Ok(None);
    };
    let ids: SeedIds = serde_json::from_str(&text).context("bench-seed.json")?;
    Ok(Some(Seeded {
        admin: login(client, base, "admin", ADMIN_PASSWORD).await?,
        user: login(client, base, "bench4", USER_PASSWORD).await?,
        activity_ids: ids.activity_ids,
        projects: ids.projects,
        users: ids.users,
    }))
}

fn keep_seed(dir: &DataDir, seeded: &Seeded) -> Result<()> {
    if let DataDir::Kept(path) = dir {
        let ids = SeedIds {
            activity_ids: seeded.activity_ids.clone(),
            projects: seeded.projects.clone(),
            users: seeded.users.clone(),
        };
        std::fs::write(path.join(SEED_FILE), serde_json::to_vec(&ids)?)?;
    }
    Ok(())
}

async fn seed(client: &reqwest::Client, base: &str, args: &Args) -> Result<Seeded> {
    let admin = login(client, base, "admin", ADMIN_PASSWORD).await?;
    let mut users = Vec::new();
    for i in 0..10 {
        let role = if i < 2 { "staff" } else { "user" };
        let u = post(
            client,
            format!("{base}/api/users/"),
            &admin,
            json!({
            "username": format!("bench{i}"), "email": format!("bench{i}@plant.test"),
            "password": USER_PASSWORD, "role": role}),
        )
        .await?;
        users.push(u["id"].as_u64().context("user id")?);
    }
    let mut projects = Vec::new();
    for i in 0..args.projects {
        let team: Vec<u64> = users.iter().copied().skip(i % 5).step_by(3).collect();
        let p = post(
            client,
            format!("{base}/api/projects/"),
            &admin,
            json!({
            "name": format!("Project {i}"), "status": "active", "team_members": team}),
        )
        .await?;
        projects.push(p["id"].as_u64().context("project id")?);
    }
    let total = args.activities;
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(std::sync::Mutex::new(Vec::with_capacity(total)));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..64 {
        let (client, base, admin) = (client.clone(), base.to_string(), admin.clone());
        let (next, done, ids) = (next.clone(), done.clone(), ids.clone());
        let (projects, users) = (projects.clone(), users.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                let a = post(
                    &client,
                    format!("{base}/api/activities/"),
                    &admin,
                    activity_body(i, &projects, &users),
                )
                .await?;
                if let Some(id) = a["id"].as_u64()
                    && let Ok(mut ids) = ids.lock()
                {
                    ids.push(id);
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of((total / 10).max(1)) {
                    eprintln!(
                        "  seeded {n}/{total} activities ({:.0}/s)",
                        n as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    eprintln!("  seeding took {:.1} s", started.elapsed().as_secs_f64());
    let user = login(client, base, "bench4", USER_PASSWORD).await?;
    let activity_ids = ids.lock().map(|v| v.clone()).unwrap_or_default();
    Ok(Seeded {
        admin,
        user,
        activity_ids,
        projects,
        users,
    })
}

/// Runs `one(i)` for every `i` in `0..total` from 64 concurrent tasks, reporting progress.
async fn seed_concurrently<F, Fut>(label: &str, total: usize, one: F) -> Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let one = Arc::new(one);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..64 {
        let (one, next, done) = (one.clone(), next.clone(), done.clone());
        let label = label.to_string();
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                one(i).await?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of((total / 10).max(1)) {
                    eprintln!(
                        "  seeded {n}/{total} {label} ({:.0}/s)",
                        n as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    eprintln!("  seeding took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The `count` of a list.
async fn list_count(client: &reqwest::Client, url: String, token: &str) -> Result<usize> {
    let page: Value = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(page["count"].as_u64().context("no count")? as usize)
}

/// The list of `scenario`, as who reads it in the bench.
fn list_url(base: &str, scenario: Scenario) -> String {
    let path = match scenario {
        Scenario::Audit => "audit/",
        Scenario::Notifications => "updates/notifications/",
        Scenario::Updates => "updates/",
        Scenario::Users => "users/",
        _ => "projects/",
    };
    format!("{base}/api/{path}")
}

/// Adds `rows` rows of `kind` with `nexus-bench-seed` while the server is stopped, then starts
/// it again and waits until it is idle (the search index has caught up with the new rows).
async fn seed_directly(
    server: &mut Server,
    binary: &PathBuf,
    seeder: &PathBuf,
    seeded: &Seeded,
    kind: &str,
    rows: usize,
) -> Result<()> {
    let user = *seeded.users.get(4).context("no seeded user")?;
    let project = *seeded.projects.first().context("no seeded project")?;
    server.stop(false)?;
    let started = Instant::now();
    let status = Command::new(seeder)
        .arg("--data")
        .arg(server.dir.path())
        .args(["--kind", kind, "--rows", &rows.to_string()])
        .args([
            "--user",
            &user.to_string(),
            "--project",
            &project.to_string(),
        ])
        .status()
        .with_context(|| format!("cannot run {}", seeder.display()))?;
    if !status.success() {
        bail!("{} failed: {status}", seeder.display());
    }
    eprintln!(
        "  stored {rows} {kind} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    server.start_again(binary).await?;
    wait_idle(server).await;
    Ok(())
}

/// Waits (at most an hour) until the server uses less than 5% of a core over two seconds.
async fn wait_idle(server: &Server) {
    let started = Instant::now();
    let mut last = server.cpu_ms().unwrap_or(0);
    while started.elapsed() < Duration::from_secs(3600) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = server.cpu_ms().unwrap_or(0);
        if now.saturating_sub(last) < 100 {
            break;
        }
        last = now;
    }
    eprintln!(
        "  server idle {:.0} s after start",
        started.elapsed().as_secs_f64()
    );
}

/// Tops the list of `scenario` up to `--rows`: with `--seeder` through the store, else
/// through the public API: audit entries by posting and deleting an update (each delete is
/// audited), notifications by direct messages from the admin to the seeded `user` (each
/// notifies its receiver), updates, users and projects by creating them.
async fn seed_list(
    server: &mut Server,
    binary: &PathBuf,
    client: &reqwest::Client,
    seeded: &Arc<Seeded>,
    scenario: Scenario,
    args: &Args,
) -> Result<()> {
    let base = server.base.clone();
    let token = match scenario {
        Scenario::Notifications => &seeded.user,
        _ => &seeded.admin,
    };
    let url = format!("{}?page_size=1", list_url(&base, scenario));
    let have = list_count(client, url, token).await?;
    let missing = args.rows.saturating_sub(have);
    if missing == 0 {
        return Ok(());
    }
    eprintln!("  seeding {missing} more {} rows…", scenario.name());
    if let Some(seeder) = &args.seeder {
        // The seeder's kinds are the scenarios' names.
        let kind = scenario.name();
        return seed_directly(server, binary, seeder, seeded, &kind, missing).await;
    }
    let (c, s) = (client.clone(), seeded.clone());
    match scenario {
        Scenario::Audit => {
            seed_concurrently("audit entries", missing, move |i| {
                let (c, base, s) = (c.clone(), base.clone(), s.clone());
                async move {
                    let u = post(
                        &c,
                        format!("{base}/api/updates/"),
                        &s.admin,
                        json!({"title": format!("Bench update {i}"), "priority": "low"}),
                    )
                    .await?;
                    let id = u["id"].as_u64().context("update id")?;
                    c.delete(format!("{base}/api/updates/{id}/"))
                        .bearer_auth(&s.admin)
                        .send()
                        .await?
                        .error_for_status()?;
                    Ok(())
                }
            })
            .await
        }
        Scenario::Notifications => {
            let receiver = *seeded.users.get(4).context("no seeded user")?;
            seed_concurrently("notifications", missing, move |i| {
                let (c, base, s) = (c.clone(), base.clone(), s.clone());
                async move {
                    post(
                        &c,
                        format!("{base}/api/chat/messages/"),
                        &s.admin,
                        json!({"receiver_id": receiver, "content": format!("bench message {i}")}),
                    )
                    .await?;
                    Ok(())
                }
            })
            .await
        }
        Scenario::Updates => {
            const TYPES: [&str; 5] = [
                "announcement",
                "maintenance",
                "safety",
                "production",
                "system",
            ];
            seed_concurrently("updates", missing, move |i| {
                let (c, base, s) = (c.clone(), base.clone(), s.clone());
                // Low and medium only: high ones would notify everyone.
                let priority = ["low", "medium"][i % 2];
                let body = json!({"title": format!("Bench update {have}-{i}"),
                    "type": TYPES[i % 5], "priority": priority});
                async move {
                    post(&c, format!("{base}/api/updates/"), &s.admin, body).await?;
                    Ok(())
                }
            })
            .await
        }
        Scenario::Users => {
            seed_concurrently("users", missing, move |i| {
                let (c, base, s) = (c.clone(), base.clone(), s.clone());
                let name = format!("b{have}u{i}");
                let role = ["user", "user", "staff"][i % 3];
                let body = json!({"username": name, "email": format!("{name}@plant.test"),
                    "password": USER_PASSWORD, "display_name": format!("Bench Operator {i}"),
                    "role": role});
                async move {
                    post(&c, format!("{base}/api/users/"), &s.admin, body).await?;
                    Ok(())
                }
            })
            .await
        }
        _ => {
            let member = *seeded.users.get(4).context("no seeded user")?;
            const STATUSES: [&str; 4] = ["planning", "active", "on_hold", "completed"];
            seed_concurrently("projects", missing, move |i| {
                let (c, base, s) = (c.clone(), base.clone(), s.clone());
                let team: Vec<u64> = if i.is_multiple_of(10) {
                    vec![member]
                } else {
                    Vec::new()
                };
                let body = json!({"name": format!("Bench project {have}-{i}"),
                    "status": STATUSES[i % 4], "team_members": team});
                async move {
                    post(&c, format!("{base}/api/projects/"), &s.admin, body).await?;
                    Ok(())
                }
            })
            .await
        }
    }
}

/// The list of `scenario` as its `n`th request reads it: page 1 to 20 of one of its variants.
fn list_request(base: &str, s: &Seeded, scenario: Scenario, n: u64) -> (String, String) {
    let page = 1 + (n / 3) % 20;
    let list = list_url(base, scenario);
    let (query, token) = match (scenario, n % 3) {
        (Scenario::Audit, 0 | 2) => ("", &s.admin),
        (Scenario::Audit, _) => ("action=update.delete&", &s.admin),
        (Scenario::Notifications, 0 | 2) => ("", &s.user),
        (Scenario::Notifications, _) => ("unread=true&", &s.user),
        (Scenario::Updates, 0) => ("", &s.admin),
        (Scenario::Updates, 1) => ("type=safety&", &s.admin),
        (Scenario::Updates, _) => ("ordering=-priority&", &s.admin),
        (Scenario::Users, 0) => ("", &s.admin),
        (Scenario::Users, 1) => ("role=staff&ordering=-created_at&", &s.admin),
        (Scenario::Users, _) => ("is_active=true&", &s.admin),
        (_, 0) => ("", &s.admin),
        (_, 1) => ("status=active&ordering=-created_at&", &s.admin),
        _ => ("", &s.user),
    };
    (format!("{list}?{query}page={page}"), token.clone())
}

/// The list scenarios: seed to `--rows`, then read the first 20 pages of 50 (see
/// `list_request`), printing the row and the server's RSS before and after.
async fn list_pages(
    server: &mut Server,
    binary: &PathBuf,
    client: &reqwest::Client,
    seeded: &Arc<Seeded>,
    scenario: Scenario,
    args: &Args,
) -> Result<()> {
    seed_list(server, binary, client, seeded, scenario, args).await?;
    let rss_before = server.rss_kib().unwrap_or(0);
    let (c, base, s) = (client.clone(), server.base.clone(), seeded.clone());
    let duration = Duration::from_secs_f64(args.duration);
    let outcome = drive(args.concurrency, duration, move |n| {
        let (c, base, s) = (c.clone(), base.clone(), s.clone());
        async move {
            let (url, token) = list_request(&base, &s, scenario, n);
            ok(c.get(url).bearer_auth(token).send().await).await
        }
    })
    .await;
    print_row(&scenario.name(), &outcome);
    let rss_after = server.rss_kib().unwrap_or(0);
    if scenario == Scenario::Users {
        // A substring `q`, as the directory's search box sends it: first one person by their
        // full number (`users-q`, a match or a few among `--rows`), then a broad one that
        // matches a ninth of the directory (`users-q-broad`, "operator 1" to "operator 9").
        let rows = u64::try_from(args.rows).unwrap_or(u64::MAX).max(10);
        for (name, broad) in [("users-q", false), ("users-q-broad", true)] {
            let (c, base, s) = (client.clone(), server.base.clone(), seeded.clone());
            let outcome = drive(args.concurrency, duration, move |n| {
                let (c, base, s) = (c.clone(), base.clone(), s.clone());
                let number = if broad {
                    1 + n % 9
                } else {
                    rows / 10 + n.wrapping_mul(7919) % (rows - rows / 10)
                };
                async move {
                    let url = format!("{base}/api/users/?q=operator%20{number}");
                    ok(c.get(url).bearer_auth(&s.admin).send().await).await
                }
            })
            .await;
            print_row(name, &outcome);
        }
    }
    println!(
        "{:<10} server RSS {:.1} MiB before the pages, {:.1} MiB after",
        "",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    Ok(())
}

struct Outcome {
    requests: u64,
    errors: u64,
    latencies_us: Vec<u64>,
    elapsed: Duration,
}

/// Runs `request(n)` from `concurrency` tasks for `duration`.
async fn drive<F, Fut>(concurrency: usize, duration: Duration, request: F) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (request, counter, errors) = (request.clone(), counter.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                if !request(n).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(t.elapsed().as_micros() as u64);
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::new();
    for t in tasks {
        if let Ok(l) = t.await {
            latencies_us.extend(l);
        }
    }
    latencies_us.sort_unstable();
    Outcome {
        requests: latencies_us.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        latencies_us,
        elapsed: started.elapsed(),
    }
}

/// Queries of the `search` scenario, run as a `user` (visibility applies).
const SEARCHES: [(&str, &str); 4] = [
    ("s-term", "gearbox"),
    ("s-phrase", "\"replace the seal\""),
    ("s-bool", "(pump OR boiler) AND bearing NOT clean"),
    ("s-prefix", "compress*"),
];

fn encode_query(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn print_row(scenario: &str, outcome: &Outcome) {
    let rps = outcome.requests as f64 / outcome.elapsed.as_secs_f64();
    let l = &outcome.latencies_us;
    println!(
        "{:<10} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7}",
        scenario,
        rps,
        percentile(l, 0.5),
        percentile(l, 0.99),
        percentile(l, 0.999),
        outcome.errors
    );
}

/// How hard and how long a scenario drives the server.
#[derive(Clone, Copy)]
struct Load {
    concurrency: usize,
    duration: Duration,
}

/// A GET of `url` as `token` whose body is JSON.
async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Result<Value> {
    Ok(client
        .get(url)
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// The month the `oee` scenario covers: 30 days from 2026-03-01T00:00:00Z.
const OEE_START: i64 = 1_772_323_200;
/// Its days.
const OEE_DAYS: i64 = 30;

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Finds the line seeded by an earlier run on a kept data directory, or seeds it: a line with
/// two machines, three eight-hour shifts, a planned and an unplanned reason, one count a minute
/// for the month on the first machine and a five-minute stop every quarter hour on it.
async fn seed_oee(client: &reqwest::Client, base: &str, admin: &str) -> Result<u64> {
    let found = get_json(client, &format!("{base}/api/assets/?q=BENCH-LINE"), admin).await?;
    if let Some(id) = found["results"][0]["id"].as_u64() {
        return Ok(id);
    }
    let line = post(
        client,
        format!("{base}/api/assets/"),
        admin,
        json!({"code": "BENCH-LINE", "name": "Bench line", "kind": "line"}),
    )
    .await?["id"]
        .as_u64()
        .context("line id")?;
    let mut machines = Vec::new();
    for (code, cycle) in [("BENCH-M1", 50.0), ("BENCH-M2", 25.0)] {
        let m = post(
            client,
            format!("{base}/api/assets/"),
            admin,
            json!({"code": code, "name": code, "kind": "machine", "parent_id": line,
                   "ideal_cycle_secs": cycle}),
        )
        .await?;
        machines.push(m["id"].as_u64().context("machine id")?);
    }
    for (name, starts, ends) in [
        ("Early", "06:00", "14:00"),
        ("Late", "14:00", "22:00"),
        ("Night", "22:00", "06:00"),
    ] {
        post(
            client,
            format!("{base}/api/shifts/"),
            admin,
            json!({"name": name, "starts": starts, "ends": ends,
                   "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}),
        )
        .await?;
    }
    let mut reasons = Vec::new();
    for (code, planned) in [("BENCH-CO", true), ("BENCH-JAM", false)] {
        let r = post(
            client,
            format!("{base}/api/downtime/reasons/"),
            admin,
            json!({"code": code, "name": code, "planned": planned}),
        )
        .await?;
        reasons.push(r["id"].as_u64().context("reason id")?);
    }
    let minutes = (OEE_DAYS * 24 * 60) as usize;
    let stops = minutes / 15;
    let m1 = machines[0];
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..64 {
        let (client, base, admin, next, reasons) = (
            client.clone(),
            base.to_string(),
            admin.to_string(),
            next.clone(),
            reasons.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= minutes + stops {
                    return Ok::<_, anyhow::Error>(());
                }
                if i < minutes {
                    let t = OEE_START + i as i64 * 60;
                    post(
                        &client,
                        format!("{base}/api/production/"),
                        &admin,
                        json!({"asset_id": m1, "started_at": rfc3339(t), "ended_at": rfc3339(t + 60),
                               "total_count": 1, "good_count": u64::from(i % 50 != 0)}),
                    )
                    .await?;
                } else {
                    let k = (i - minutes) as i64;
                    let t = OEE_START + k * 900 + 300;
                    let reason = reasons[usize::from(k % 4 == 0)];
                    post(
                        &client,
                        format!("{base}/api/downtime/"),
                        &admin,
                        json!({"asset_id": m1, "reason_id": reason, "started_at": rfc3339(t),
                               "ended_at": rfc3339(t + 300)}),
                    )
                    .await?;
                }
                if (i + 1).is_multiple_of(((minutes + stops) / 10).max(1)) {
                    eprintln!(
                        "  seeded {}/{} counts and stops ({:.0}/s)",
                        i + 1,
                        minutes + stops,
                        (i + 1) as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    eprintln!("  seeding took {:.1} s", started.elapsed().as_secs_f64());
    Ok(line)
}

/// The `oee` scenario (see `Scenario::Oee`).
async fn oee(client: &reqwest::Client, base: &str, seeded: &Seeded, load: Load) -> Result<()> {
    let line = seed_oee(client, base, &seeded.admin).await?;
    let month = (rfc3339(OEE_START), rfc3339(OEE_START + OEE_DAYS * 86_400));
    let day = (rfc3339(OEE_START + 86_400), rfc3339(OEE_START + 2 * 86_400));
    for (name, (from, to), group) in [
        ("oee-shift", &month, "shift"),
        ("oee-day", &month, "day"),
        ("oee-hour", &day, "hour"),
    ] {
        let url = Arc::new(format!(
            "{base}/api/oee/?asset={line}&from={}&to={}&group={group}",
            encode_query(from),
            encode_query(to)
        ));
        let check = get_json(client, &url, &seeded.user).await?;
        println!(
            "{name}: {} buckets; first {}",
            check.as_array().map_or(0, Vec::len),
            check[0]
        );
        let user = Arc::new(seeded.user.clone());
        let outcome = {
            let c = client.clone();
            drive(load.concurrency, load.duration, move |_| {
                let request = c.get(url.as_str()).bearer_auth(user.as_str());
                async move { ok(request.send().await).await }
            })
            .await
        };
        print_row(name, &outcome);
    }
    Ok(())
}

/// Posts `total` messages to the room of `project` from 64 concurrent senders (the public
/// API's own write path, group commit and all).
async fn seed_room(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    project: u64,
    total: usize,
) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..64 {
        let (client, base, admin, next) = (
            client.clone(),
            base.to_string(),
            admin.to_string(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                post(
                    &client,
                    format!("{base}/api/chat/messages/"),
                    &admin,
                    json!({"project_id": project, "content": format!("shift note {i}: line {} ok", i % 7)}),
                )
                .await?;
                if (i + 1).is_multiple_of((total / 10).max(1)) {
                    eprintln!(
                        "  seeded {}/{total} messages ({:.0}/s)",
                        i + 1,
                        (i + 1) as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    eprintln!("  seeding took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn print_rss(server: &Server, when: &str) {
    if let Some(rss) = server.rss_kib() {
        println!("server RSS {when}: {:.1} MiB", rss as f64 / 1024.0);
    }
}

/// How many messages the first project's room holds.
async fn room_count(client: &reqwest::Client, base: &str, seeded: &Seeded) -> Result<usize> {
    let room = *seeded.projects.first().context("no project was seeded")?;
    let url = format!("{base}/api/chat/messages/?project={room}&page_size=1");
    list_count(client, url, &seeded.admin).await
}

/// The `chat` scenario: the first project's room, seeded up to `messages`, read a page of 50 at
/// a time at every depth (`chat`: by `before` cursor; `chat-page`: by page number), and the
/// conversation list (`chat-convs`), as admin.
async fn chat(
    server: &Server,
    client: &reqwest::Client,
    seeded: &Seeded,
    messages: usize,
    load: Load,
) -> Result<()> {
    let base = server.base.clone();
    let room = *seeded.projects.first().context("no project was seeded")?;
    let list = format!("{base}/api/chat/messages/?project={room}&page_size=50");
    let count = |page: &Value| page["count"].as_u64().unwrap_or(0) as usize;
    let have = count(&get_json(client, &list, &seeded.admin).await?);
    if have < messages {
        eprintln!("  seeding {} messages in room {room}…", messages - have);
        seed_room(client, &base, &seeded.admin, room, messages - have).await?;
    }
    let newest = get_json(client, &list, &seeded.admin).await?;
    let total = count(&newest);
    let top = newest["results"][0]["id"].as_u64().unwrap_or(1);
    let pages = total.div_ceil(50).max(1) as u64;
    println!("chat: {total} messages in one room, newest id {top}");
    print_rss(server, "before chat");
    let admin = Arc::new(seeded.admin.clone());
    let by_cursor = {
        let (c, list, admin) = (client.clone(), list.clone(), admin.clone());
        drive(load.concurrency, load.duration, move |n| {
            let before = 1 + (n * 7919) % top;
            let request = c
                .get(format!("{list}&before={before}"))
                .bearer_auth(admin.as_str());
            async move { ok(request.send().await).await }
        })
        .await
    };
    print_row("chat", &by_cursor);
    let by_page = {
        let (c, list, admin) = (client.clone(), list.clone(), admin.clone());
        drive(load.concurrency, load.duration, move |n| {
            let page = 1 + (n * 7919) % pages;
            let request = c
                .get(format!("{list}&page={page}"))
                .bearer_auth(admin.as_str());
            async move { ok(request.send().await).await }
        })
        .await
    };
    print_row("chat-page", &by_page);
    let convs = {
        let (c, admin) = (client.clone(), admin.clone());
        let url = format!("{base}/api/chat/conversations/");
        drive(load.concurrency, load.duration, move |_| {
            let request = c.get(&url).bearer_auth(admin.as_str());
            async move { ok(request.send().await).await }
        })
        .await
    };
    print_row("chat-convs", &convs);
    print_rss(server, "after chat");
    Ok(())
}

/// The `reindex` scenario: stops the server, times `nexus reindex` over its data directory
/// (documents per second), and starts it again.
async fn reindex(server: &mut Server, binary: &PathBuf, activities: usize) -> Result<()> {
    server.stop(false)?;
    let started = Instant::now();
    let status = Command::new(binary)
        .arg("reindex")
        .arg("--data")
        .arg(server.dir.path())
        .env("NEXUS_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let took = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("nexus reindex failed");
    }
    let docs = activities + 20;
    println!(
        "reindex    documents={docs} seconds={took:.1} docs_per_sec={:.0}",
        docs as f64 / took
    );
    let ready = server.start_again(binary).await?;
    println!(
        "startup    ms_to_ready={} (restart on the reindexed data directory)",
        ready.as_millis()
    );
    Ok(())
}

/// The `get` request: the `n`th request reads one seeded activity, spread over all of them.
async fn get_one(c: reqwest::Client, base: String, s: Arc<Seeded>, n: u64) -> bool {
    ok(c.get(format!("{base}/api/activities/{}/", s.activity(n)))
        .bearer_auth(&s.admin)
        .send()
        .await)
    .await
}

/// The `login` request: one of the ten bench users signs in.
/// The `graphql` scenario's query: REST's `list-user` page, with the relations a dashboard
/// would show beside each row.
const GRAPHQL_PAGE: &str = "{ activities(filter: {status: IN_PROGRESS}, pageSize: 50) { count results { id title status priority startTime assignee { username displayName } project { name } } } }";

/// A GraphQL answer counts as a success only with data and no errors.
async fn graphql_ok(r: reqwest::Result<reqwest::Response>) -> bool {
    match r {
        Ok(r) if r.status().is_success() => match r.json::<Value>().await {
            Ok(body) => body.get("errors").is_none() && body["data"]["activities"].is_object(),
            Err(_) => false,
        },
        Ok(r) => {
            let _ = r.bytes().await;
            false
        }
        Err(_) => false,
    }
}

/// Signs `user` in to the web UI and returns its session cookie (`nexus_session=…`).
async fn web_session(base: &str, user: &str, password: &str) -> Result<String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let r = client
        .post(format!("{base}/login"))
        .form(&[("username", user), ("password", password)])
        .send()
        .await?;
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("nexus_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .with_context(|| format!("signing {user} in to the web UI failed ({})", r.status()))
}

async fn login_one(c: reqwest::Client, base: String, n: u64) -> bool {
    let body = json!({"username": format!("bench{}", n % 10), "password": USER_PASSWORD});
    ok(c.post(format!("{base}/api/auth/login/"))
        .json(&body)
        .send()
        .await)
    .await
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

async fn ok(r: reqwest::Result<reqwest::Response>) -> bool {
    match r {
        Ok(r) => {
            let good = r.status().is_success();
            let _ = r.bytes().await;
            good
        }
        Err(_) => false,
    }
}

/// The `nexus` binary to start: `given`, or the one beside this executable (a workspace build
/// puts both in the same target directory). Checked before anything starts, because
/// `cargo build -p nexus-bench` alone does not build it.
fn nexus_binary(given: Option<&PathBuf>) -> Result<PathBuf> {
    let binary = match given {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("nexus"),
    };
    if !binary.is_file() {
        bail!(
            "no nexus binary at {}: build it first (`cargo build --release` puts it beside \
             nexus-bench) or pass --nexus PATH",
            binary.display()
        );
    }
    Ok(binary)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let binary = nexus_binary(args.nexus.as_ref())?;
    let scenarios = if args.scenarios.is_empty() {
        Scenario::DEFAULT.to_vec()
    } else {
        args.scenarios.clone()
    };
    raise_open_files();
    let mut server = start_server(&binary, args.data.as_ref())?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    wait_ready(&client, &server.base).await?;
    let seeded = match reuse_seed(&client, &server.base, &server.dir).await? {
        Some(seeded) => {
            eprintln!(
                "reusing {} ({} activities seeded)",
                server.dir.path().display(),
                seeded.activity_ids.len()
            );
            seeded
        }
        None => {
            eprintln!(
                "seeding {} activities, {} projects, 10 users…",
                args.activities, args.projects
            );
            let seeded = seed(&client, &server.base, &args).await?;
            keep_seed(&server.dir, &seeded)?;
            seeded
        }
    };
    let seeded = Arc::new(seeded);
    let duration = Duration::from_secs_f64(args.duration);
    println!(
        "nproc={} activities={} concurrency={} duration={}s",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        seeded.activity_ids.len(),
        args.concurrency,
        args.duration
    );
    println!(
        "{:<10} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "scenario", "req/s", "p50_ms", "p99_ms", "p99.9_ms", "errors"
    );
    for &scenario in &scenarios {
        match scenario {
            Scenario::Startup => eprintln!("running startup: 6 restarts…"),
            Scenario::Fanout => eprintln!(
                "running fanout: {} clients, {} events…",
                args.clients, args.events
            ),
            Scenario::Reindex => eprintln!("running reindex…"),
            Scenario::Audit
            | Scenario::Notifications
            | Scenario::Updates
            | Scenario::Users
            | Scenario::Projects => eprintln!(
                "running {} over {} rows for {:.0} s…",
                scenario.name(),
                args.rows,
                args.duration
            ),
            Scenario::Search => eprintln!(
                "running search: {} queries, {:.0} s each…",
                SEARCHES.len(),
                args.duration
            ),
            _ => eprintln!("running {} for {:.0} s…", scenario.name(), args.duration),
        }
        let (c, base, s) = (client.clone(), server.base.clone(), seeded.clone());
        let outcome = match scenario {
            Scenario::LoginFlood => {
                // `get` on half the connections while the other half floods `login`: how much a
                // login flood slows everything else.
                let half = (args.concurrency / 2).max(1);
                let (c2, b2) = (c.clone(), base.clone());
                let gets = drive(half, duration, move |n| {
                    get_one(c.clone(), base.clone(), s.clone(), n)
                });
                let logins = drive(half, duration, move |n| {
                    login_one(c2.clone(), b2.clone(), n)
                });
                let (gets, logins) = tokio::join!(gets, logins);
                print_row("flood-get", &gets);
                print_row("flood-login", &logins);
                continue;
            }
            Scenario::Reindex => {
                reindex(&mut server, &binary, seeded.activity_ids.len()).await?;
                continue;
            }
            Scenario::Startup => {
                startup(&mut server, &binary, &seeded).await?;
                continue;
            }
            Scenario::Search => {
                for (name, q) in SEARCHES {
                    let (c, s) = (c.clone(), s.clone());
                    let url = format!("{base}/api/search/?q={}&page_size=20", encode_query(q));
                    let outcome = drive(args.concurrency, duration, move |_| {
                        let (c, url, s) = (c.clone(), url.clone(), s.clone());
                        async move { ok(c.get(&url).bearer_auth(&s.user).send().await).await }
                    })
                    .await;
                    print_row(name, &outcome);
                }
                continue;
            }
            Scenario::Fanout => {
                fanout(&server, &seeded, args.clients, args.events).await?;
                continue;
            }
            Scenario::Chat => {
                let load = Load {
                    concurrency: args.concurrency,
                    duration,
                };
                if let Some(seeder) = &args.seeder {
                    let have = room_count(&c, &server.base, &seeded).await?;
                    if have < args.messages {
                        let missing = args.messages - have;
                        eprintln!("  seeding {missing} messages…");
                        seed_directly(&mut server, &binary, seeder, &seeded, "chat", missing)
                            .await?;
                    }
                }
                chat(&server, &c, &seeded, args.messages, load).await?;
                continue;
            }
            Scenario::Audit
            | Scenario::Notifications
            | Scenario::Updates
            | Scenario::Users
            | Scenario::Projects => {
                list_pages(&mut server, &binary, &c, &seeded, scenario, &args).await?;
                continue;
            }
            Scenario::Get => {
                drive(args.concurrency, duration, move |n| {
                    get_one(c.clone(), base.clone(), s.clone(), n)
                })
                .await
            }
            Scenario::List => {
                drive(args.concurrency, duration, move |_| {
                    let (c, base, s) = (c.clone(), base.clone(), s.clone());
                    async move {
                        ok(c.get(format!(
                            "{base}/api/activities/?status=in_progress&page_size=50"
                        ))
                        .bearer_auth(&s.admin)
                        .send()
                        .await)
                        .await
                    }
                })
                .await
            }
            Scenario::ListUser => {
                drive(args.concurrency, duration, move |_| {
                    let (c, base, s) = (c.clone(), base.clone(), s.clone());
                    async move {
                        ok(c.get(format!(
                            "{base}/api/activities/?status=in_progress&page_size=50"
                        ))
                        .bearer_auth(&s.user)
                        .send()
                        .await)
                        .await
                    }
                })
                .await
            }
            Scenario::Create => {
                drive(args.concurrency, duration, move |n| {
                    let (c, base, s) = (c.clone(), base.clone(), s.clone());
                    async move {
                        let body = activity_body(n as usize, &s.projects, &s.users);
                        ok(c.post(format!("{base}/api/activities/"))
                            .bearer_auth(&s.admin)
                            .json(&body)
                            .send()
                            .await)
                        .await
                    }
                })
                .await
            }
            Scenario::Mixed => {
                // 80% reads (4 in 5: get one, every fifth a filtered list), 20% durable creates.
                drive(args.concurrency, duration, move |n| {
                    let (c, base, s) = (c.clone(), base.clone(), s.clone());
                    async move {
                        let request = match n % 10 {
                            0 | 5 => {
                                let body = activity_body(n as usize, &s.projects, &s.users);
                                c.post(format!("{base}/api/activities/"))
                                    .bearer_auth(&s.admin)
                                    .json(&body)
                            }
                            3 | 8 => c
                                .get(format!(
                                    "{base}/api/activities/?status=in_progress&page_size=50"
                                ))
                                .bearer_auth(&s.admin),
                            _ => c
                                .get(format!("{base}/api/activities/{}/", s.activity(n)))
                                .bearer_auth(&s.admin),
                        };
                        ok(request.send().await).await
                    }
                })
                .await
            }
            Scenario::Login => {
                drive(args.concurrency, duration, move |n| {
                    login_one(c.clone(), base.clone(), n)
                })
                .await
            }
            Scenario::Oee => {
                let load = Load {
                    concurrency: args.concurrency,
                    duration,
                };
                oee(&c, &server.base, &seeded, load).await?;
                continue;
            }
            Scenario::Graphql => {
                let body = Arc::new(json!({"query": GRAPHQL_PAGE}));
                drive(args.concurrency, duration, move |_| {
                    let (c, base, s, body) = (c.clone(), base.clone(), s.clone(), body.clone());
                    async move {
                        graphql_ok(
                            c.post(format!("{base}/graphql"))
                                .bearer_auth(&s.user)
                                .json(&*body)
                                .send()
                                .await,
                        )
                        .await
                    }
                })
                .await
            }
            Scenario::Ui => {
                let cookie = Arc::new(web_session(&base, "bench4", USER_PASSWORD).await?);
                drive(args.concurrency, duration, move |n| {
                    let (c, base, cookie) = (c.clone(), base.clone(), cookie.clone());
                    async move {
                        let path = if n % 2 == 0 {
                            "/"
                        } else {
                            "/activities?status=in_progress&page_size=50"
                        };
                        ok(c.get(format!("{base}{path}"))
                            .header(reqwest::header::COOKIE, cookie.as_str())
                            .send()
                            .await)
                        .await
                    }
                })
                .await
            }
        };
        print_row(&scenario.name(), &outcome);
    }
    if let Some(rss) = server.peak_rss_kib() {
        println!("server peak RSS: {:.1} MiB", rss as f64 / 1024.0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn scenarios_keep_the_names_the_docs_use() {
        // README.md, BENCHMARKS.md and the figures recorded there name scenarios by these.
        let names: Vec<String> = Scenario::value_variants()
            .iter()
            .map(|s| s.name())
            .collect();
        assert_eq!(
            names,
            [
                "get",
                "list",
                "list-user",
                "create",
                "login",
                "mixed",
                "startup",
                "login-flood",
                "fanout",
                "search",
                "reindex",
                "chat",
                "audit",
                "notifications",
                "updates",
                "users",
                "projects",
                "ui",
                "graphql",
                "oee"
            ]
        );
    }

    #[test]
    fn named_scenarios_run_in_the_order_given_and_none_means_the_default_set() {
        let args = Args::try_parse_from(["nexus-bench", "reindex", "login-flood", "list-user"])
            .expect("valid arguments");
        assert_eq!(
            args.scenarios,
            [Scenario::Reindex, Scenario::LoginFlood, Scenario::ListUser]
        );
        let args = Args::try_parse_from(["nexus-bench", "--duration", "1"]).expect("valid");
        assert!(args.scenarios.is_empty());
        // The default set README.md documents.
        let default: Vec<String> = Scenario::DEFAULT.iter().map(|s| s.name()).collect();
        assert_eq!(
            default,
            [
                "get",
                "list",
                "list-user",
                "create",
                "login",
                "mixed",
                "startup"
            ]
        );
    }

    #[test]
    fn an_unknown_scenario_is_refused_by_the_parser() {
        let error = Args::try_parse_from(["nexus-bench", "get", "bogus"])
            .err()
            .expect("bogus is no scenario");
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn a_missing_nexus_binary_is_reported_before_anything_starts() {
        let missing = PathBuf::from("/nonexistent/nexus");
        let error = nexus_binary(Some(&missing)).expect_err("no such binary");
        assert!(error.to_string().contains("--nexus"), "{error}");
    }
}
