//! The `nexus` command: `serve` (the default) and, later, admin subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nexus::cli::admin::Request;
use nexus::cli::commands::{self, Sink};
use nexus::config::{Config, LogFormat, Overrides};
use nexus::domain::user::Role;
use tracing_subscriber::EnvFilter;

/// Manufacturing operations for a small plant, in one binary.
#[derive(Parser)]
#[command(name = "nexus", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and web UI (the default).
    Serve(ServeArgs),
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Write a consistent backup archive (also while the server runs), or verify one.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        verify: Option<BackupCommand>,
        /// The archive to write.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Restore a backup archive into --data DIR (absent or empty, or --force).
    Restore {
        /// The archive.
        file: PathBuf,
        /// Replace an existing data directory, keeping the old one aside.
        #[arg(long)]
        force: bool,
    },
    /// Export every object: JSON to --out FILE or stdout, CSV into --out DIR.
    Export {
        #[arg(long, value_enum)]
        format: nexus::cli::export::Format,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import rows of a CSV file (a dry run unless --commit).
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Rebuild the search index from the database.
    Reindex(ServeArgs),
    /// Check the database's integrity and that the search index agrees with it.
    Check,
    /// Settings.
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// Print the GraphQL schema (SDL), as docs/schema.graphql holds it.
    GraphqlSchema,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password comes from --password-stdin or is generated and printed once.
    Create {
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (read from standard input; asked twice on a terminal).
    SetPassword { username: String },
    /// Change a user's role.
    SetRole {
        username: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Deactivate a user; their sessions end.
    Deactivate { username: String },
    /// List every user.
    List,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Activities: `--map title=Title,type=Kind,...` says which column fills which field
    /// (title, description, type, status, priority, start_time, end_time, assignee, project).
    Activities {
        file: PathBuf,
        #[arg(long)]
        map: String,
        /// Import them (all or none); without it, only check every row.
        #[arg(long)]
        commit: bool,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Check an archive completely without restoring it.
    Verify { file: PathBuf },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective settings (secrets redacted) and warn about insecure ones.
    Check,
}

fn parse_role(text: &str) -> Result<Role, String> {
    match text {
        "admin" => Ok(Role::Admin),
        "staff" => Ok(Role::Staff),
        "user" => Ok(Role::User),
        _ => Err("must be admin, staff or user".into()),
    }
}

#[derive(clap::Args, Clone, Default)]
struct ServeArgs {
    /// Config file (TOML); see config/nexus.toml.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory [default: ./nexus-data].
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true)]
    listen: Option<String>,
}

/// Logs go to stderr through a writer thread, so a request never waits on a log write; the
/// returned guard flushes what is queued when `main` ends.
fn init_logging(config: &Config) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Not lossy: under a flood of requests, logging slows down rather than dropping lines.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    guard
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("nexus: error: {message}");
    ExitCode::FAILURE
}

/// mimalloc instead of the system allocator: a request allocates and frees many small
/// buffers, and glibc's malloc and free were about a quarter of the instructions of a `get`
/// (callgrind; see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let merge = |args: ServeArgs, top: ServeArgs| ServeArgs {
        config: args.config.or(top.config),
        data: args.data.or(top.data),
        listen: args.listen.or(top.listen),
    };
    if matches!(cli.command, Some(Command::GraphqlSchema)) {
        return match nexus::cli::graphql_schema::run(&mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        };
    }
    let (command, args) = match cli.command {
        Some(Command::Serve(args)) => (None, merge(args, cli.serve)),
        Some(Command::Reindex(args)) => (
            Some(Command::Reindex(ServeArgs::default())),
            merge(args, cli.serve),
        ),
        other => (other, cli.serve),
    };
    let overrides = Overrides {
        data_dir: args.data,
        listen: args.listen,
    };
    let config = match Config::load(args.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    if let Some(command) = command {
        return admin_command(&config, command);
    }
    let _log_guard = init_logging(&config);
    let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    for name in nexus::config::unknown_env_vars(names) {
        tracing::warn!(
            variable = %name,
            "unknown NEXUS_ environment variable ignored (config/nexus.toml lists every setting)"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&config.server.listen).await {
            Ok(l) => l,
            Err(e) => return fail(format!("cannot listen on {}: {e}", config.server.listen)),
        };
        let served = match nexus::App::open(&config).await {
            Ok(app) => app.serve(listener, shutdown_signal()).await,
            Err(e) => Err(e),
        };
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        }
    })
}

/// Runs an admin subcommand: prints its summary on stdout, or its failure on stderr.
fn admin_command(config: &Config, command: Command) -> ExitCode {
    // Admin commands log only warnings: their output is the summary.
    let quiet = Config {
        log: nexus::config::LogConfig {
            level: "warn".into(),
            ..config.log.clone()
        },
        ..config.clone()
    };
    let _log_guard = init_logging(&quiet);
    let outcome = match command {
        Command::User { action } => user_command(config, action),
        Command::Backup {
            verify: Some(BackupCommand::Verify { file }),
            ..
        } => commands::verify(&file),
        Command::Backup { verify: None, out } => match out {
            Some(out) => commands::run(config, Request::Backup, Sink::File(out), "backup"),
            None => {
                eprintln!("nexus backup: --out FILE is required (or `nexus backup verify FILE`)");
                return ExitCode::from(2);
            }
        },
        Command::Restore { file, force } => commands::restore(config, &file, force),
        Command::Export { format, out } => commands::export(config, format, out),
        Command::Import {
            what: ImportCommand::Activities { file, map, commit },
        } => commands::import_activities(config, &file, map, commit),
        Command::Reindex(_) => commands::run(config, Request::Reindex, Sink::Nothing, "reindex"),
        Command::Check => commands::run(config, Request::Check, Sink::Nothing, "check"),
        Command::Config {
            action: ConfigCommand::Check,
        } => commands::config_check(config),
        Command::Serve(_) | Command::GraphqlSchema => Ok(String::new()),
    };
    match outcome {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(reason) => fail(reason),
    }
}

fn user_command(config: &Config, action: UserCommand) -> Result<String, String> {
    let request = match action {
        UserCommand::Create {
            username,
            role,
            email,
            password_stdin,
        } => {
            let (password, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (nexus::service::users::random_password(), true)
            };
            let shown = password.clone();
            let request = Request::UserCreate {
                username,
                role,
                email,
                password,
            };
            let summary = commands::run(config, request, Sink::Nothing, "user create")?;
            return Ok(if generated {
                format!("{summary}\npassword (shown only once): {shown}")
            } else {
                summary
            });
        }
        UserCommand::SetPassword { username } => Request::UserSetPassword {
            username,
            password: ask_password()?,
        },
        UserCommand::SetRole { username, role } => Request::UserSetRole { username, role },
        UserCommand::Deactivate { username } => Request::UserDeactivate { username },
        UserCommand::List => Request::UserList,
    };
    commands::run(config, request, Sink::Nothing, "user")
}

/// The first line of standard input, without its line ending.
fn read_password_line() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(password)
}

/// A new password: asked twice without echo on a terminal, else the first line of stdin.
fn ask_password() -> Result<String, String> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return read_password_line();
    }
    let first = rpassword::prompt_password("New password: ").map_err(|e| e.to_string())?;
    let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
    if first != again {
        return Err("the two passwords differ".into());
    }
    Ok(first)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
