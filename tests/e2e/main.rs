//! End-to-end tests of the web UI: the real `nexus` binary, driven through real headless Chromium
//! (Debian's `chromium` and `chromium-driver`) over WebDriver.
//!
//! One server and one chromedriver serve every scenario, so this target has its own small runner
//! (`harness = false`) instead of libtest: libtest has no hook to stop shared child processes at
//! the end of a run. The runner takes libtest's usual arguments (filters, `--exact`, `--skip`,
//! `--list`), prints libtest's lines, and exits non-zero when a scenario fails.
//!
//! Every page a scenario visits is checked for requests to another origin (resource timing, the
//! browser's network log, CSP violations) and for uncaught script errors.
//!
//! `NEXUS_SCREENSHOTS=docs/screenshots` makes the run write the README's screenshots there.

mod api;
mod axe;
mod browser;
mod server;

mod a11y;
mod activities;
mod andon;
mod auth;
mod board;
mod chat;
mod handovers;
mod harness;
mod layout;
mod live;
mod search;
mod shopfloor;
mod updates;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::browser::Driver;
use crate::server::Server;

/// What every scenario shares: the server, the WebDriver endpoint, and where screenshots go.
pub struct Env {
    /// The running Nexus.
    pub server: Server,
    /// The running chromedriver.
    pub driver: Driver,
    /// `NEXUS_SCREENSHOTS`, when set: the folder the screenshots are written to.
    pub screenshots: Option<PathBuf>,
    unique: AtomicU32,
}

impl Env {
    /// A name no other scenario of this run uses (usernames, titles), starting with `prefix`.
    pub fn unique(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.unique.fetch_add(1, Ordering::Relaxed))
    }
}

type Scenario = for<'a> fn(&'a Env) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

macro_rules! scenarios {
    ($($module:ident :: $name:ident),* $(,)?) => {
        &[$((concat!(stringify!($module), "::", stringify!($name)),
             (|env| Box::pin($module::$name(env))) as Scenario)),*]
    };
}

const SCENARIOS: &[(&str, Scenario)] = scenarios![
    harness::page_checks_catch_a_foreign_request_and_an_axe_violation,
    auth::sign_in_shows_the_dashboard_and_refuses_bad_credentials,
    auth::private_page_without_a_session_signs_in_then_returns,
    auth::sign_out_then_back_shows_nothing_private,
    activities::created_through_the_form_appears_live_for_another_user,
    activities::validation_error_shows_next_to_its_field_with_input_kept,
    activities::object_one_may_not_see_gets_the_404_page,
    board::moves_a_card_and_explains_a_refused_move,
    chat::message_appears_live_for_the_receiver_with_its_unread_count,
    search::finds_highlights_filters_and_opens_a_hit,
    live::lost_connection_is_shown_and_recovers_with_missed_events,
    a11y::every_page_has_no_serious_axe_violations_light_and_dark,
    andon::operator_calls_for_help_and_the_wall_shows_it_live,
    layout::pages_fit_phone_and_desktop_widths,
    shopfloor::operator_reports_a_stop_in_one_tap_and_the_tree_follows_live,
    updates::operator_acknowledges_a_safety_notice_and_the_author_sees_it_live,
    handovers::handover_is_written_submitted_and_acknowledged_live,
];

/// How long one scenario may take before it counts as failed.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(240);

struct Args {
    filters: Vec<String>,
    skip: Vec<String>,
    exact: bool,
    list: bool,
    ignored_only: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        filters: Vec::new(),
        skip: Vec::new(),
        exact: false,
        list: false,
        ignored_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--exact" => args.exact = true,
            "--list" => args.list = true,
            "--ignored" => args.ignored_only = true,
            "--skip" => args.skip.extend(it.next()),
            // libtest options that take a value; their values are not filters.
            "--test-threads" | "--color" | "--format" | "--logfile" | "-Z" | "--shuffle-seed" => {
                it.next();
            }
            other if other.starts_with('-') => {}
            filter => args.filters.push(filter.to_string()),
        }
    }
    args
}

fn selected(args: &Args, name: &str) -> bool {
    let matches = |pattern: &String| {
        if args.exact {
            name == pattern
        } else {
            name.contains(pattern.as_str())
        }
    };
    !args.ignored_only
        && (args.filters.is_empty() || args.filters.iter().any(matches))
        && !args.skip.iter().any(|s| name.contains(s.as_str()))
}

fn main() -> ExitCode {
    let args = parse_args();
    let chosen: Vec<&(&str, Scenario)> = SCENARIOS
        .iter()
        .filter(|(name, _)| selected(&args, name))
        .collect();
    let filtered_out = SCENARIOS.len() - chosen.len();

    if args.list {
        for (name, _) in &chosen {
            println!("{name}: test");
        }
        println!("\n{} tests, 0 benchmarks", chosen.len());
        return ExitCode::SUCCESS;
    }

    let plural = if chosen.len() == 1 { "" } else { "s" };
    println!("\nrunning {} test{plural}", chosen.len());
    let started = Instant::now();
    if chosen.is_empty() {
        println!(
            "\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in 0.00s\n"
        );
        return ExitCode::SUCCESS;
    }

    let tools = match browser::Tools::find() {
        Ok(tools) => tools,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("e2e: cannot start a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    let env = runtime.block_on(async {
        let server = Server::start().await;
        let driver = Driver::start(&tools).await;
        Env {
            server,
            driver,
            screenshots: std::env::var_os("NEXUS_SCREENSHOTS").map(PathBuf::from),
            unique: AtomicU32::new(1),
        }
    });

    let mut failures: Vec<(String, String)> = Vec::new();
    for (name, scenario) in &chosen {
        let began = Instant::now();
        let outcome = runtime.block_on(async {
            tokio::time::timeout(
                SCENARIO_TIMEOUT,
                AssertUnwindSafe(scenario(&env)).catch_unwind(),
            )
            .await
        });
        let secs = began.elapsed().as_secs_f64();
        match outcome {
            Ok(Ok(())) => println!("test {name} ... ok ({secs:.1}s)"),
            Ok(Err(panic)) => {
                println!("test {name} ... FAILED ({secs:.1}s)");
                failures.push((name.to_string(), panic_message(&panic)));
            }
            Err(_) => {
                println!("test {name} ... FAILED ({secs:.1}s)");
                failures.push((
                    name.to_string(),
                    format!("timed out after {}s", SCENARIO_TIMEOUT.as_secs()),
                ));
            }
        }
    }

    runtime.block_on(async {
        // Give sessions dropped by failed scenarios a moment to be closed by their tasks.
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let Env { server, driver, .. } = env;
    driver.stop();
    let server_log = server.stop();
    drop(runtime);

    let elapsed = started.elapsed().as_secs_f64();
    if failures.is_empty() {
        println!(
            "\ntest result: ok. {} passed; 0 failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {elapsed:.2}s\n",
            chosen.len()
        );
        ExitCode::SUCCESS
    } else {
        println!("\nfailures:\n");
        for (name, message) in &failures {
            println!("---- {name} ----\n{message}\n");
        }
        if !server_log.is_empty() {
            println!("---- the server's log (last lines) ----\n{server_log}\n");
        }
        println!("failures:");
        for (name, _) in &failures {
            println!("    {name}");
        }
        println!(
            "\ntest result: FAILED. {} passed; {} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {elapsed:.2}s\n",
            chosen.len() - failures.len(),
            failures.len()
        );
        ExitCode::FAILURE
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "panicked".to_string()
    }
}
