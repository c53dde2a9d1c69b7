//! Seeds a stopped server's data directory with list rows straight through the store, for the
//! list scenarios at sizes the public API would take hours to reach (a user costs an argon2
//! hash). Every row goes through the same store writes the server makes (`Store::apply` and
//! `create_user`: rows, list indexes, counters and change log in one transaction), in
//! changesets of a thousand; the server indexes them for search from the change log when it
//! starts. Built only with `--features seed`, so the bench itself links none of the server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use nexus::domain::activity::Priority;
use nexus::domain::audit::AuditEntry;
use nexus::domain::chat::{Message, MessageType};
use nexus::domain::project::{Project, ProjectStatus};
use nexus::domain::time;
use nexus::domain::update::{Notification, NotificationKind, Update, UpdateType};
use nexus::domain::user::Role;
use nexus::domain::{AuditId, MessageId, NotificationId, ProjectId, UpdateId, UserId};
use nexus::events::EventBus;
use nexus::store::redb::RedbStore;
use nexus::store::{Changeset, Expect, IdKind, NewUser, Store, Write};

#[derive(Parser, Debug)]
#[command(about = "Adds list rows to a stopped Nexus data directory, through its store")]
struct Args {
    /// The data directory (the server must be stopped).
    #[arg(long)]
    data: PathBuf,
    /// What to add.
    #[arg(long, value_enum)]
    kind: Kind,
    /// How many rows to add.
    #[arg(long)]
    rows: usize,
    /// The admin's id: author of updates, sender of messages, actor of audit entries.
    #[arg(long, default_value_t = 1)]
    admin: u64,
    /// The seeded plain user's id: recipient of notifications, on the team of every tenth
    /// project.
    #[arg(long)]
    user: u64,
    /// The project whose room gets the messages (`chat`).
    #[arg(long, default_value_t = 1)]
    project: u64,
    /// Rows per changeset.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Kind {
    Updates,
    Users,
    Projects,
    Audit,
    Notifications,
    Chat,
}

const ACTIONS: [&str; 4] = [
    "update.delete",
    "login.success",
    "user.create",
    "activity.delete",
];

/// Row `i` of `kind`, created `age` seconds ago.
fn write(store: &dyn Store, args: &Args, run: u64, i: usize, age: i64) -> Write {
    let now = time::now() - ::time::Duration::seconds(age);
    let admin = UserId(args.admin);
    match args.kind {
        Kind::Updates => Write::PutUpdate(
            Update {
                id: UpdateId(store.allocate_id(IdKind::Update)),
                title: format!("Seeded update {run}-{i}"),
                content: format!("Line {} runs as planned.", i % 7),
                update_type: UpdateType::ALL[i % UpdateType::ALL.len()],
                // Low and medium only: high ones would notify everyone.
                priority: [Priority::Low, Priority::Medium][i % 2],
                created_by: admin,
                created_at: now,
                updated_at: now,
                // Nobody is asked to acknowledge: that would be a pending list per user.
                requires_ack: false,
                acknowledged_at: None,
            },
            Expect::New,
        ),
        Kind::Projects => {
            let team = if i.is_multiple_of(10) {
                vec![UserId(args.user)]
            } else {
                Vec::new()
            };
            Write::PutProject(
                Project {
                    id: ProjectId(store.allocate_id(IdKind::Project)),
                    name: format!("Seeded project {run}-{i}"),
                    description: String::new(),
                    status: ProjectStatus::ALL[i % 4],
                    start_date: None,
                    end_date: None,
                    manager_id: admin,
                    team_members: team,
                    created_at: now,
                    updated_at: now,
                },
                Expect::New,
                false,
            )
        }
        Kind::Audit => Write::Audit(AuditEntry {
            id: AuditId(store.allocate_id(IdKind::Audit)),
            ts: now,
            actor_id: Some(admin),
            ip: Some("127.0.0.1".into()),
            action: ACTIONS[i % ACTIONS.len()].into(),
            target: format!("update:{i}"),
            detail: serde_json::json!({"title": format!("Seeded {i}")}),
        }),
        Kind::Notifications => Write::AddNotification(Notification {
            id: NotificationId(store.allocate_id(IdKind::Notification)),
            recipient: UserId(args.user),
            kind: NotificationKind::ChatMessage,
            title: format!("Seeded notification {i}"),
            body: "A seeded message.".into(),
            link: "/chat".into(),
            // Every third one read, so `unread` filters.
            read: i.is_multiple_of(3),
            created_at: now,
        }),
        Kind::Chat => Write::AddMessage(Message {
            id: MessageId(store.allocate_id(IdKind::Message)),
            sender_id: admin,
            receiver_id: None,
            project_id: Some(ProjectId(args.project)),
            content: format!("shift note {i}: line {} ok", i % 7),
            message_type: MessageType::Text,
            created_at: now,
        }),
        Kind::Users => unreachable!("users are created one by one"),
    }
}

async fn seed_users(store: Arc<dyn Store>, args: &Args, run: u64) -> Result<()> {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..512 {
        let (store, next, total) = (store.clone(), next.clone(), args.rows);
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                let name = format!("s{run}u{i}");
                store
                    .create_user(NewUser {
                        email: format!("{name}@seed.test"),
                        display_name: format!("Seeded Operator {i}"),
                        role: [Role::User, Role::User, Role::Staff][i % 3],
                        // Never signs in.
                        password_hash: "$argon2id$seeded".into(),
                        username: name,
                    })
                    .await?;
                if (i + 1).is_multiple_of((total / 10).max(1)) {
                    eprintln!(
                        "  stored {}/{total} users ({:.0}/s)",
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
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let started = Instant::now();
    let store: Arc<dyn Store> = Arc::new(
        RedbStore::open(&args.data, EventBus::new())
            .with_context(|| format!("opening {}", args.data.display()))?,
    );
    eprintln!("  store open in {:.1} s", started.elapsed().as_secs_f64());
    // Distinct names on every run over the same directory.
    let run = u64::try_from(time::now().unix_timestamp()).unwrap_or(0);
    if args.kind == Kind::Users {
        seed_users(store.clone(), &args, run).await?;
    } else {
        let mut done = 0;
        while done < args.rows {
            let n = args.batch.min(args.rows - done);
            // Oldest first, a second apart, ending now: ids and times rise together.
            let writes = (done..done + n)
                .map(|i| {
                    let age = i64::try_from(args.rows - i).unwrap_or(i64::MAX);
                    write(store.as_ref(), &args, run, i, age)
                })
                .collect();
            store
                .apply(Changeset {
                    writes,
                    actor: Some(UserId(args.admin)),
                })
                .await?;
            done += n;
            if (done / args.batch).is_multiple_of(100) || done == args.rows {
                eprintln!(
                    "  stored {done}/{} ({:.0}/s)",
                    args.rows,
                    done as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
    }
    store.close().await;
    eprintln!(
        "  seeded {} {:?} in {:.1} s",
        args.rows,
        args.kind,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
