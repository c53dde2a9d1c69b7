//! The `nexus` command: `serve` (the default) and, later, admin subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nexus::config::{Config, LogFormat, Overrides};
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
    /// Rebuild the search index from the database (stop the server first).
    Reindex(ServeArgs),
    /// Print the GraphQL schema (SDL), as docs/schema.graphql holds it.
    GraphqlSchema,
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
    let (reindex, args) = match cli.command {
        Some(Command::Serve(args)) => (false, merge(args, cli.serve)),
        Some(Command::Reindex(args)) => (true, merge(args, cli.serve)),
        Some(Command::GraphqlSchema) => (false, cli.serve),
        None => (false, cli.serve),
    };
    let overrides = Overrides {
        data_dir: args.data,
        listen: args.listen,
    };
    let config = match Config::load(args.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
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
    if reindex {
        return runtime.block_on(async move {
            match nexus::cli::reindex::run(&config).await {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        });
    }
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
