//! `halcytone`: the command line, the HTTP API and the dispatcher.
//!
//! Channels and sources are compiled in by cargo features; see `registry.rs`.

mod admin;
mod analytics;
mod app;
mod config;
mod enhance;
mod experiments;
mod http;
mod origins;
mod output;
mod ready;
mod registry;
mod report;
#[cfg(feature = "otel")]
mod telemetry;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use halcytone_core::plan::Period;
use halcytone_core::publisher::{PostId, PostStatus};
use jiff::civil::Date;

use halcytone_core::store::{Store, StoreError, lifecycle};
use halcytone_store::Backend;

use crate::app::{App, AppError, GenerateRequest, PostsRequest};
use crate::config::{ConfigSources, Settings};

/// Plans, renders and publishes a week of posts from one living document.
#[derive(Debug, Parser)]
#[command(name = "halcytone", version, about)]
struct Cli {
    /// Configuration file (default: ./halcytone.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on (overrides server.bind).
        #[arg(long, value_name = "ADDR")]
        bind: Option<std::net::SocketAddr>,
    },
    /// Plan a period and render every post.
    Generate {
        /// day, week, month or Nd (1 to 92 days).
        #[arg(long, default_value = "week", value_parser = parse_period)]
        period: Period,
        /// First day, YYYY-MM-DD (default: next Monday).
        #[arg(long, value_parser = parse_date)]
        start: Option<Date>,
        /// Comma-separated channels (default: every enabled channel).
        #[arg(long, value_delimiter = ',')]
        channels: Option<Vec<String>>,
        /// A Markdown living document to use instead of the configured source.
        #[arg(long, value_name = "FILE.md")]
        doc: Option<PathBuf>,
        /// Preview only: nothing is stored or sent.
        #[arg(long)]
        dry_run: bool,
        /// Store the plan, approve its drafts and send them now, through the
        /// store like every send; a post already out is not sent again.
        #[arg(long, conflicts_with = "dry_run")]
        publish_now: bool,
        /// Ask the model server of [enhance] for a suggestion for every post
        /// (with --dry-run: show each request instead of sending it).
        #[arg(long, conflicts_with = "publish_now")]
        enhance: bool,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// How long to wait for the living document (retries included)
        /// before planning from its last good copy, or failing.
        #[arg(long, default_value = "30s", value_parser = parse_timeout)]
        timeout: std::time::Duration,
    },
    /// List compiled-in channels and sources and their configuration state.
    Channels {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration, the store and the living document.
    Doctor {
        /// How long to wait for the living document, retries included.
        #[arg(long, default_value = "30s", value_parser = parse_timeout)]
        timeout: std::time::Duration,
        /// Also run the pre-flight checks against the APIs: each channel's
        /// credentials, LinkedIn's version window, known token expiries.
        #[arg(long)]
        online: bool,
    },
    /// Send the posts that are due, once (cron-friendly), and report each.
    Publish {
        /// Send every due post (approved or scheduled, its time come); the only mode.
        #[arg(long, required = true)]
        due: bool,
        /// List what would be sent, with each request; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The webhook delivery log: each event, where it went, how it went.
    Webhooks {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Review stored posts.
    Posts {
        #[command(subcommand)]
        command: PostsCommand,
    },
    /// The published posts' figures.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
    /// A/B experiments: their arms, figures and decisions.
    Experiments {
        #[command(subcommand)]
        command: ExperimentsCommand,
    },
    /// A period's figures: totals and rates by channel, each post's, the top posts.
    Report {
        /// day, week, month or Nd (1 to 92 days).
        #[arg(long, default_value = "week", value_parser = parse_period)]
        period: Period,
        /// First day, YYYY-MM-DD (default: the period that ends today).
        #[arg(long, value_parser = parse_date)]
        start: Option<Date>,
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ExperimentsCommand {
    /// List the stored experiments.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One experiment: its arms, their figures, the winner and why.
    Show {
        /// The experiment's id (exp_…).
        id: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decide the experiments whose arms have been out for ab.decide_after, now.
    Decide {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AnalyticsCommand {
    /// Read the figures of the posts published recently from their channels, and store them.
    Fetch {
        /// Posts published within this long (7d, 36h, …).
        #[arg(long, default_value = "7d", value_parser = parse_timeout)]
        since: std::time::Duration,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PostsCommand {
    /// List stored posts.
    List {
        /// Only posts in this state (draft, approved, scheduled, …).
        #[arg(long)]
        status: Option<String>,
        /// Only posts of this channel.
        #[arg(long)]
        channel: Option<String>,
        /// Only posts scheduled at or after this date (YYYY-MM-DD) or RFC 3339 time.
        #[arg(long)]
        from: Option<String>,
        /// Only posts scheduled before this date or time.
        #[arg(long)]
        to: Option<String>,
        /// Only posts in this language (a `locale` or `[locales.<code>]` code).
        #[arg(long)]
        locale: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one post with its content, requests and attempts.
    Show {
        /// The post id (`post_…`).
        id: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve drafts: the posts named, or every draft of a plan.
    Approve {
        /// Post ids, or unique prefixes of them.
        #[arg(required_unless_present = "plan")]
        ids: Vec<String>,
        /// Approve every draft of this plan (`plan_…`).
        #[arg(long, conflicts_with = "ids")]
        plan: Option<String>,
    },
    /// Edit a post's content in $VISUAL or $EDITOR (JSON); the channel
    /// checks it, and an approval is voided.
    Edit {
        /// The post id.
        id: String,
    },
    /// Drop your edit of a post for the document's version.
    Revert {
        /// The post id.
        id: String,
    },
    /// Refuse a post that has not gone out.
    Reject {
        /// The post id.
        id: String,
    },
    /// Withdraw a post that is not being sent.
    Cancel {
        /// The post id.
        id: String,
    },
    /// Send a failed or unconfirmed post again.
    Retry {
        /// The post id.
        id: String,
    },
    /// Mark an unconfirmed post as published: it was found on the channel.
    Confirm {
        /// The post id.
        id: String,
    },
    /// Look every unconfirmed post up on its channel: found, it is
    /// published; proven absent, it is queued to be sent; otherwise it
    /// stays unconfirmed, saying why.
    Reconcile {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask the model server of [enhance] for a suggestion, kept beside the post (never sent).
    Enhance {
        /// The post id.
        id: String,
        /// Show the chat-completions request instead of sending it.
        #[arg(long)]
        dry_run: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the post's suggestion its content: an edit, back to draft, any approval void.
    AcceptSuggestion {
        /// The post id.
        id: String,
    },
    /// Drop the post's suggestion.
    RejectSuggestion {
        /// The post id.
        id: String,
    },
}

fn parse_timeout(value: &str) -> Result<std::time::Duration, String> {
    let timeout = halcytone_core::resilience::parse_duration(value)?;
    if timeout.is_zero() {
        return Err("must be longer than 0".to_owned());
    }
    Ok(timeout)
}

fn parse_period(value: &str) -> Result<Period, String> {
    value
        .parse()
        .map_err(|error: halcytone_core::plan::PeriodError| error.to_string())
}

fn parse_date(value: &str) -> Result<Date, String> {
    value
        .parse::<Date>()
        .ok()
        .filter(|_| value.len() == 10)
        .ok_or_else(|| format!("bad date `{value}`: expected YYYY-MM-DD"))
}

/// What must outlive the run: the trace exporter, flushed at exit.
#[cfg(feature = "otel")]
type Telemetry = Option<telemetry::Telemetry>;
#[cfg(not(feature = "otel"))]
type Telemetry = ();

/// Starts logging at the level `HALCYTONE_LOG` names (default `info`), and
/// with the `otel` feature the trace export `OTEL_EXPORTER_OTLP_ENDPOINT`
/// asks for. Runs inside the runtime.
///
/// # Errors
/// Says why `HALCYTONE_LOG` is not a filter, or the exporter cannot start.
fn init_logging() -> Result<Telemetry, String> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = match std::env::var("HALCYTONE_LOG") {
        // PostgreSQL's notices ("relation … already exists, skipping" on
        // every start) are the server talking to itself, not news.
        Err(std::env::VarError::NotPresent) => {
            tracing_subscriber::EnvFilter::new("info,sqlx::postgres::notice=warn")
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err("HALCYTONE_LOG is not valid UTF-8".to_owned());
        }
        Ok(value) => log_filter(&value)?,
    };
    let terminal = std::io::stderr().is_terminal();
    let readable = terminal.then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    let json = (!terminal).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
    });
    let logging = tracing_subscriber::registry()
        .with(filter)
        .with(readable)
        .with(json);
    #[cfg(feature = "otel")]
    {
        let (telemetry, traces) = match telemetry::start()? {
            Some((telemetry, layer)) => (Some(telemetry), Some(layer)),
            None => (None, None),
        };
        logging
            .with(traces)
            .try_init()
            .map_err(|error| error.to_string())?;
        Ok(telemetry)
    }
    #[cfg(not(feature = "otel"))]
    {
        logging.try_init().map_err(|error| error.to_string())
    }
}

/// Reads a log filter: levels (`debug`) and `target=level` directives,
/// comma-separated. A bare word that is not a level is refused: the filter
/// would take it for a target and log nothing the user meant.
fn log_filter(value: &str) -> Result<tracing_subscriber::EnvFilter, String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let bad = |why: String| {
        format!(
            "HALCYTONE_LOG: `{value}` is not a log filter ({why}); use a level ({}) or target=level, comma-separated, such as `info,halcytone_core=debug`",
            LEVELS.join(", ")
        )
    };
    for directive in value.split(',').map(str::trim) {
        if directive.is_empty() {
            return Err(bad("an empty directive".to_owned()));
        }
        let bare = !directive.contains(['=', '[', '{']);
        if bare && !LEVELS.contains(&directive.to_ascii_lowercase().as_str()) {
            return Err(bad(format!("`{directive}` is not a level")));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(value)
        .map_err(|error| bad(error.to_string()))
}

/// Fails the command with `message` and exit code `code`.
struct Failure {
    message: String,
    code: u8,
}

impl From<halcytone_core::error::ConfigError> for Failure {
    fn from(error: halcytone_core::error::ConfigError) -> Self {
        Self {
            message: format!("configuration error: {error}"),
            code: 2,
        }
    }
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        let code = if matches!(error, AppError::BadRequest { .. }) {
            2
        } else {
            1
        };
        Self {
            message: error.to_string(),
            code,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Blocking work is DNS lookups and the odd file write (the document is
    // read in place). Each blocking thread grows a malloc arena of its own,
    // so a cap well under tokio's 512 keeps a burst from holding memory.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(32)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let entered = runtime.enter();
    let telemetry = match init_logging() {
        Ok(telemetry) => telemetry,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    };
    #[cfg(feature = "otel")]
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    #[cfg(not(feature = "otel"))]
    let () = telemetry;
    drop(entered);
    code
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let settings = Settings::load(&ConfigSources {
        file: cli.config,
        environment: None,
    })?;
    let document = match &cli.command {
        Command::Generate { doc, .. } => doc.clone(),
        _ => None,
    };
    let origins = settings.origins.clone();
    let mut app = App::new(settings, registry::registry(), document)
        .map_err(|error| origins.locate(error))?;
    if let Command::Generate { timeout, .. } | Command::Doctor { timeout, .. } = &cli.command {
        app.source_timeout = Some(*timeout);
    }
    for warning in &app.config_warnings {
        tracing::warn!(%warning, "Configuration warning.");
    }
    match cli.command {
        Command::Serve { bind } => serve(app, bind).await,
        Command::Generate {
            period,
            start,
            channels,
            publish_now: true,
            json,
            ..
        } => {
            let request = GenerateRequest {
                period,
                start,
                channels,
                dry_run: false,
            };
            publish_now(&app, request, json).await
        }
        Command::Generate {
            period,
            start,
            channels,
            dry_run,
            json,
            enhance,
            ..
        } => {
            let mut plan = app
                .generate(&GenerateRequest {
                    period,
                    start,
                    channels,
                    dry_run,
                })
                .await?;
            if enhance && plan.dry_run {
                let requests = app.suggestion_requests(&plan)?;
                output::print(&json_text(&serde_json::json!({
                    "plan": plan,
                    "suggestion_requests": requests,
                }))?);
                return Ok(());
            }
            if enhance {
                app.enhance_plan(&mut plan).await?;
            }
            if json {
                let text = serde_json::to_string_pretty(&plan).map_err(|error| Failure {
                    message: error.to_string(),
                    code: 1,
                })?;
                output::print(&format!("{text}\n"));
            } else {
                output::print(&output::plan_table(&plan));
            }
            Ok(())
        }
        Command::Channels { json } => {
            // The budget needs the store; without one the rest still shows.
            let budgets = app.daily_budgets().await.unwrap_or_default();
            let reports = report::channel_reports(&app, &budgets);
            if json {
                output::print(&format!("{}\n", serde_json::json!({ "channels": reports })));
            } else {
                let sources: Vec<&str> = app.registry.sources().map(|(kind, _)| kind).collect();
                output::print(&output::channels_table(
                    &reports,
                    &sources,
                    &app.editions[0].source.describe(),
                ));
            }
            Ok(())
        }
        Command::Doctor { online, .. } => doctor(&app, online).await,
        Command::Webhooks { json } => {
            let mut log = app
                .store()
                .await?
                .deliveries(WEBHOOK_LOG_LIMIT)
                .await
                .map_err(AppError::from)?;
            for record in &mut log {
                record.url = halcytone_core::webhooks::shown_url(&record.url);
            }
            output::print(&if json {
                json_text(&serde_json::json!({ "deliveries": log }))?
            } else {
                output::deliveries(&log, &app.settings.timezone)
            });
            Ok(())
        }
        Command::Publish { dry_run, json, .. } => publish_due(&app, dry_run, json).await,
        Command::Posts { command } => posts(&app, command).await,
        Command::Analytics {
            command: AnalyticsCommand::Fetch { since, json },
        } => {
            let since = jiff::Timestamp::now() - since;
            let fetched = app.fetch_analytics(since).await?;
            output::print(&if json {
                json_text(&serde_json::json!({ "channels": fetched }))?
            } else {
                output::fetched(&fetched)
            });
            Ok(())
        }
        Command::Experiments { command } => experiments(&app, command).await,
        Command::Report {
            period,
            start,
            channel,
            json,
        } => {
            let (from, to) = app.report_window(period, start)?;
            let report = app.analytics(from, to, channel.as_deref()).await?;
            output::print(&if json {
                json_text(&report)?
            } else {
                output::report(&report, &app.settings.timezone)
            });
            Ok(())
        }
    }
}

async fn experiments(app: &App, command: ExperimentsCommand) -> Result<(), Failure> {
    let zone = &app.settings.timezone;
    let text = match command {
        ExperimentsCommand::List { json } => {
            let experiments = app.experiments().await?;
            if json {
                json_text(&serde_json::json!({ "experiments": experiments }))?
            } else {
                output::experiments_table(&experiments, zone)
            }
        }
        ExperimentsCommand::Show { id, json } => {
            let experiment = app.experiment(&id).await?;
            if json {
                json_text(&experiment)?
            } else {
                output::experiment_details(&experiment, zone)
            }
        }
        ExperimentsCommand::Decide { json } => {
            let outcomes = app.decide_experiments(jiff::Timestamp::now()).await?;
            if json {
                json_text(&serde_json::json!({ "experiments": outcomes }))?
            } else {
                output::decided(&outcomes)
            }
        }
    };
    output::print(&text);
    Ok(())
}

fn json_text<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map(|text| format!("{text}\n"))
        .map_err(|error| Failure {
            message: error.to_string(),
            code: 1,
        })
}

async fn posts(app: &App, command: PostsCommand) -> Result<(), Failure> {
    let (id, action) = match command {
        PostsCommand::List {
            status,
            channel,
            from,
            to,
            locale,
            json,
        } => {
            let posts = app
                .posts(&PostsRequest {
                    status: status.as_deref(),
                    channel: channel.as_deref(),
                    from: from.as_deref(),
                    to: to.as_deref(),
                    after: None,
                    limit: None,
                    locale: locale.as_deref(),
                })
                .await?;
            output::print(&if json {
                json_text(&posts)?
            } else {
                output::posts_table(&posts, &app.settings.timezone)
            });
            return Ok(());
        }
        PostsCommand::Show { id, json } => {
            let post = app.post(&id).await?;
            output::print(&if json {
                json_text(&post)?
            } else {
                output::post_details(&post, &app.settings.timezone)
            });
            return Ok(());
        }
        PostsCommand::Reconcile { json } => {
            let reconciled = app.reconcile().await?;
            output::print(&if json {
                json_text(&serde_json::json!({ "posts": reconciled }))?
            } else {
                output::reconciled(&reconciled)
            });
            return Ok(());
        }
        PostsCommand::Enhance { id, dry_run, json } => {
            if dry_run {
                let post = app.post(&id).await?;
                let request = app.suggestion_preview(&post)?;
                output::print(&json_text(&request)?);
                return Ok(());
            }
            let post = app.enhance(&id).await?;
            output::print(&if json {
                json_text(&post)?
            } else {
                output::post_details(&post, &app.settings.timezone)
            });
            return Ok(());
        }
        PostsCommand::AcceptSuggestion { id } => {
            let post = app.accept_suggestion(&id).await?;
            output::print(&format!(
                "{}: the suggestion is its content now; {} (approve it to send it)\n",
                post.id,
                lifecycle::status_name(post.status)
            ));
            return Ok(());
        }
        PostsCommand::RejectSuggestion { id } => {
            let post = app.reject_suggestion(&id).await?;
            output::print(&format!("{}: its suggestion is dropped\n", post.id));
            return Ok(());
        }
        PostsCommand::Approve { ids, plan } => return approve(app, ids, plan).await,
        PostsCommand::Edit { id } => return edit_in_editor(app, &id).await,
        PostsCommand::Revert { id } => (id, "revert"),
        PostsCommand::Reject { id } => (id, "reject"),
        PostsCommand::Cancel { id } => (id, "cancel"),
        PostsCommand::Retry { id } => (id, "retry"),
        PostsCommand::Confirm { id } => (id, "confirm"),
    };
    let done = app.decide(&id, action).await?;
    output::print(&format!(
        "{}: {} → {}\n",
        done.id,
        lifecycle::status_name(done.from),
        lifecycle::status_name(done.to)
    ));
    Ok(())
}

/// Approves the posts named, or every draft of `plan`; goes on past a post
/// that cannot be approved and fails at the end, naming it.
async fn approve(app: &App, ids: Vec<String>, plan: Option<String>) -> Result<(), Failure> {
    let ids = match plan {
        Some(plan) => {
            let drafts: Vec<String> = app
                .plan(&plan)
                .await?
                .posts
                .into_iter()
                .filter(|post| post.status == PostStatus::Draft)
                .map(|post| post.id.0)
                .collect();
            if drafts.is_empty() {
                output::print(&format!("{plan}: no drafts to approve\n"));
                return Ok(());
            }
            drafts
        }
        None => ids,
    };
    let mut refused = Vec::new();
    for id in &ids {
        match app.decide(id, "approve").await {
            Ok(done) => output::print(&format!(
                "{}: {} → {}\n",
                done.id,
                lifecycle::status_name(done.from),
                lifecycle::status_name(done.to)
            )),
            Err(error) => {
                output::print(&format!("{id}: not approved: {error}\n"));
                refused.push(id.as_str());
            }
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(Failure {
        message: format!(
            "{} of {} posts were not approved: {}",
            refused.len(),
            ids.len(),
            refused.join(", ")
        ),
        code: 1,
    })
}

/// `posts edit`: the content as JSON in the person's editor, then checked
/// and stored as an edit. An unchanged file changes nothing.
async fn edit_in_editor(app: &App, id: &str) -> Result<(), Failure> {
    let post = app.post(id).await?;
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        })
        .ok_or_else(|| Failure {
            message: "set $EDITOR (or $VISUAL) to the editor to open, e.g. EDITOR=nano".to_owned(),
            code: 2,
        })?;
    let before = json_text(&post.content)?;
    let path = std::env::temp_dir().join(format!(
        "halcytone-{}-{}.json",
        post.id,
        uuid::Uuid::now_v7().simple()
    ));
    let failure = |message: String| Failure { message, code: 1 };
    // A new file only the user can read: never one that already exists
    // (or a link someone planted there).
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| file.write_all(before.as_bytes()))
            .map_err(|error| failure(format!("cannot write {}: {error}", path.display())))?;
    }
    // The editor may carry arguments (`code --wait`): the shell splits them.
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("halcytone")
        .arg(&path)
        .status()
        .await
        .map_err(|error| failure(format!("cannot start the editor `{editor}`: {error}")));
    let after = std::fs::read_to_string(&path)
        .map_err(|error| failure(format!("cannot read {}: {error}", path.display())));
    let (status, after) = (status?, after?);
    if !status.success() {
        let _ = std::fs::remove_file(&path);
        return Err(failure(format!(
            "the editor `{editor}` exited with {status}; nothing was changed"
        )));
    }
    if after == before {
        let _ = std::fs::remove_file(&path);
        output::print(&format!("{}: unchanged\n", post.id));
        return Ok(());
    }
    // Until the edit is stored, the file is kept: a typo or a channel rule
    // must not cost the person their work.
    let kept = |message: String| {
        failure(format!(
            "{message}; nothing was changed, and your edit is kept in {}",
            path.display()
        ))
    };
    let content: serde_json::Value = serde_json::from_str(&after).map_err(|error| {
        kept(format!(
            "the edited content is not valid JSON (line {}, column {}): {error}",
            error.line(),
            error.column()
        ))
    })?;
    let edited = app
        .edit(&post.id.0, content)
        .await
        .map_err(|error| kept(error.to_string()))?;
    let _ = std::fs::remove_file(&path);
    output::print(&format!(
        "{}: edited; now {}\n",
        edited.id,
        lifecycle::status_name(edited.status)
    ));
    Ok(())
}

async fn publish_now(app: &App, request: GenerateRequest, json: bool) -> Result<(), Failure> {
    if app.settings.dry_run {
        return Err(Failure {
            message: "HALCYTONE_DRY_RUN (or dry_run in the configuration) is set, so nothing is sent; unset it to publish".to_owned(),
            code: 2,
        });
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.cancel();
    });
    let (plan, reports) = app.publish_now(&request, &stop, &|_| {}).await?;
    if json {
        let text = serde_json::json!({ "plan_id": plan.plan_id, "posts": reports, "warnings": plan.warnings });
        output::print(&format!("{text:#}\n"));
    } else {
        output::print(&output::publish_table(
            &reports,
            &plan.warnings,
            &app.settings.timezone,
        ));
    }
    let count = |outcomes: &[&str]| {
        reports
            .iter()
            .filter(|report| outcomes.contains(&report.outcome))
            .count()
    };
    let unsent = count(&["failed", "unconfirmed"]);
    if unsent > 0 {
        return Err(Failure {
            message: format!(
                "{unsent} of {} posts failed or are unconfirmed",
                reports.len()
            ),
            code: 1,
        });
    }
    if !reports.is_empty() && count(&["published", "already-published"]) == 0 {
        return Err(Failure {
            message: format!(
                "nothing went out: {} posts skipped, {} waiting (the reasons are above)",
                count(&["skipped"]),
                count(&["waiting"])
            ),
            code: 1,
        });
    }
    Ok(())
}

/// The most due posts a dry run lists.
const DUE_PREVIEW_LIMIT: usize = 10_000;

/// The newest events `halcytone webhooks` lists.
const WEBHOOK_LOG_LIMIT: usize = 200;

async fn publish_due(app: &App, dry_run: bool, json: bool) -> Result<(), Failure> {
    let dispatcher = app.dispatcher().await?;
    if dry_run || app.settings.dry_run {
        let due = dispatcher
            .preview_due(DUE_PREVIEW_LIMIT)
            .await
            .map_err(AppError::from)?;
        output::print(&if json {
            json_text(&serde_json::json!({ "dry_run": true, "due": due }))?
        } else {
            output::due_table(&due, &app.settings.timezone)
        });
        return Ok(());
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.cancel();
    });
    let progress = if std::io::stderr().is_terminal() {
        let due = dispatcher.due_count().await.map_err(AppError::from)?;
        output::Progress::new(due)
    } else {
        output::Progress::hidden()
    };
    let summary = dispatcher
        .run_once(&stop, &|done| progress.finished(done))
        .await
        .map_err(AppError::from)?;
    progress.clear();
    output::print(&if json {
        json_text(&summary)?
    } else {
        output::dispatch_summary(&summary)
    });
    let unsent = summary
        .posts
        .iter()
        .filter(|post| matches!(post.status, PostStatus::Failed | PostStatus::Unconfirmed))
        .count();
    if unsent > 0 {
        return Err(Failure {
            message: format!(
                "{unsent} of {} posts failed or are unconfirmed",
                summary.posts.len()
            ),
            code: 1,
        });
    }
    if summary.posts.is_empty() && summary.unsendable > 0 {
        return Err(Failure {
            message: format!(
                "nothing was sent: {} due posts wait on channels that cannot send (see above)",
                summary.unsendable
            ),
            code: 1,
        });
    }
    Ok(())
}

async fn doctor(app: &App, online: bool) -> Result<(), Failure> {
    let mut report = String::from("Configuration: ok\n");
    for warning in &app.config_warnings {
        report.push_str(&format!("  warning: {warning}\n"));
    }
    for channel in report::channel_reports(app, &std::collections::BTreeMap::new()) {
        if channel.compiled_in && channel.enabled && !channel.missing.is_empty() {
            report.push_str(&format!(
                "  {}: not configured, previews only: set {}\n",
                channel.channel,
                channel.missing.join(", ")
            ));
        }
    }
    // The URL is not shown: a PostgreSQL URL may carry a password.
    let store = match app.store().await {
        Ok(store) => store
            .status_counts()
            .await
            .map(|counts| (store.backend(), counts))
            .map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    };
    let store_problem = match store {
        Ok((backend, counts)) => {
            let total: u64 = counts.iter().map(|(_, posts)| posts).sum();
            let backend = match backend {
                Backend::Sqlite => "SQLite",
                Backend::Postgres => "PostgreSQL",
            };
            report.push_str(&format!("Store ({backend}): ok, {total} posts\n"));
            None
        }
        Err(error) => {
            report.push_str(&format!("Store: not usable ({error})\n"));
            Some(error)
        }
    };
    let mut source_problems = Vec::new();
    for edition in &app.editions {
        match app.fetch_document(edition).await {
            Ok(parsed) => {
                report.push_str(&format!(
                    "Living document ({}, {}): ok, {} items in {} sections\n",
                    edition.source.describe(),
                    edition.locale(),
                    parsed.document.items().count(),
                    parsed.document.sections.len()
                ));
                for warning in &parsed.warnings {
                    report.push_str(&format!("  warning: {warning}\n"));
                }
            }
            Err(error) => source_problems.push(error.to_string()),
        }
    }
    let mut preflight_problems = Vec::new();
    if online {
        report.push_str("Pre-flight checks:\n");
        for check in app.preflight().await {
            if check.name == "source" || check.name.starts_with("source:") {
                continue;
            }
            let mark = if check.ok { "ok" } else { "FAILING" };
            report.push_str(&format!("  {}: {mark}, {}\n", check.name, check.detail));
            if !check.ok {
                preflight_problems.push(format!("{}: {}", check.name, check.detail));
            }
        }
    }
    output::print(&report);
    let problems: Vec<String> = store_problem
        .into_iter()
        .chain(source_problems)
        .chain(preflight_problems)
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            message: problems.join("; "),
            code: 1,
        })
    }
}

async fn serve(app: App, bind: Option<std::net::SocketAddr>) -> Result<(), Failure> {
    let address = bind.unwrap_or(app.settings.bind);
    if !address.ip().is_loopback() && app.settings.server.api_token.is_none() {
        return Err(Failure {
            message: format!(
                "refusing to listen on {address} without an API token: set server.api_token (HALCYTONE__SERVER__API_TOKEN) or bind to 127.0.0.1"
            ),
            code: 2,
        });
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| Failure {
            message: format!("cannot listen on {address}: {error}"),
            code: 1,
        })?;
    let local = listener.local_addr().map_err(|error| Failure {
        message: error.to_string(),
        code: 1,
    })?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|error| Failure {
            message: format!("cannot start the metrics recorder: {error}"),
            code: 1,
        })?;
    let upkeep = metrics.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            ticks.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Arc::new(app);
    let stop = tokio_util::sync::CancellationToken::new();
    // Webhooks first: the dispatcher's first pre-flight checks may fail.
    if !app.settings.webhooks.is_empty() && !app.settings.dry_run {
        let store: Arc<dyn halcytone_core::store::Store> = Arc::new(app.store().await?.clone());
        app.preflight.set_outbox(Arc::clone(&store));
        let http = app.http.clone();
        let deliverer = halcytone_core::webhooks::Deliverer::new(
            store,
            app.settings.webhooks.clone(),
            http,
            app.settings.delivery,
        );
        let delivering = stop.clone();
        tokio::spawn(async move { deliverer.run(&delivering).await });
    }
    let dispatching = start_dispatcher(&app, &stop).await?;
    // Pre-flight checks at start and daily; the dispatcher also runs a
    // channel's own before its first post of each day.
    let checking = Arc::clone(&app);
    let checks_stop = stop.clone();
    tokio::spawn(async move {
        loop {
            checking.preflight().await;
            tokio::select! {
                () = checks_stop.cancelled() => return,
                () = tokio::time::sleep(std::time::Duration::from_secs(24 * 3600)) => {}
            }
        }
    });
    // The published posts' figures, every `analytics.interval`.
    if app.settings.analytics.enabled && !app.settings.dry_run {
        let reading = Arc::clone(&app);
        let analytics_stop = stop.clone();
        tokio::spawn(async move {
            let settings = reading.settings.analytics;
            // What is stored shows at /metrics from the start, not after the
            // first pass.
            if reading.store().await.is_ok() {
                reading.record_analytics_totals().await;
            }
            loop {
                tokio::select! {
                    () = analytics_stop.cancelled() => return,
                    () = tokio::time::sleep(settings.interval) => {}
                }
                match reading
                    .fetch_analytics(jiff::Timestamp::now() - settings.since)
                    .await
                {
                    Ok(lines) => {
                        let readings: usize = lines.iter().map(|line| line.readings).sum();
                        tracing::info!(readings, "Figures read.");
                    }
                    Err(error) => tracing::warn!(%error, "Figures not read: the store failed."),
                }
            }
        });
    }
    // Experiments are decided soon after ab.decide_after: a pass a minute,
    // which reads figures only for the experiments that are due.
    if !app.settings.dry_run {
        let deciding = Arc::clone(&app);
        let decide_stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = decide_stop.cancelled() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
                }
                if let Err(error) = deciding.decide_experiments(jiff::Timestamp::now()).await {
                    tracing::warn!(%error, "Experiments not decided: the store failed.");
                }
            }
        });
    }
    tracing::info!(address = %local, "Listening.");
    output::print(&format!("halcytone listening on http://{local}\n"));
    let on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.cancel();
    });
    // Cookies are Secure off loopback, where browsers reach the server
    // over TLS (a proxy in front); on loopback plain HTTP must keep them.
    let admin = admin::router(Arc::clone(&app), !local.ip().is_loopback())
        .map_err(|message| Failure { message, code: 1 })?;
    let router = http::router(Arc::clone(&app), metrics, admin);
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(stop.clone().cancelled_owned())
    .await
    .map_err(|error| Failure {
        message: format!("server error: {error}"),
        code: 1,
    });
    // Whatever ended the server stops the dispatcher too.
    stop.cancel();
    if let Some(dispatching) = dispatching {
        match dispatching.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(%error, "The dispatcher could not release its leases; they expire on their own.")
            }
            Err(error) => tracing::error!(%error, "The dispatcher stopped abnormally."),
        }
    }
    served
}

/// Starts the dispatcher in the background, or in a dry run a loop that
/// logs each due post once with its requests; `None` when
/// `dispatcher.enabled = false`.
async fn start_dispatcher(
    app: &Arc<App>,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<Result<(), StoreError>>>, Failure> {
    if !app.settings.dispatcher_enabled {
        tracing::info!("Dispatcher disabled (dispatcher.enabled = false): due posts wait.");
        return Ok(None);
    }
    let dispatcher = app.dispatcher().await?;
    let stop = stop.clone();
    if !app.settings.dry_run {
        return Ok(Some(tokio::spawn(
            async move { dispatcher.run(stop).await },
        )));
    }
    let poll = app.settings.dispatcher.poll_interval;
    Ok(Some(tokio::spawn(async move {
        tracing::info!("Dry run: the dispatcher previews due posts and sends nothing.");
        // Each due post is logged once; the set holds only posts still due,
        // so it never grows past DUE_PREVIEW_LIMIT however long serve runs.
        let mut logged = std::collections::HashSet::new();
        while !stop.is_cancelled() {
            match dispatcher.preview_due(DUE_PREVIEW_LIMIT).await {
                Ok(due) => {
                    let still_due: std::collections::HashSet<PostId> =
                        due.iter().map(|due| due.post.id.clone()).collect();
                    logged.retain(|id| still_due.contains(id));
                    for due in due
                        .into_iter()
                        .filter(|due| logged.insert(due.post.id.clone()))
                    {
                        let requests = serde_json::to_string(&due.requests).unwrap_or_default();
                        tracing::info!(post = %due.post.id, channel = %due.post.channel, error = due.error.as_deref().unwrap_or(""), %requests, "Dry run: would send.");
                    }
                }
                Err(error) => tracing::error!(%error, "Cannot read the due posts."),
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
        Ok(())
    })))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("Shutting down.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filters_are_checked() {
        for good in [
            "info",
            "DEBUG",
            "warn,halcytone_core=debug",
            "halcytone=trace",
        ] {
            assert!(log_filter(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("verbose", "`verbose` is not a level"),
            ("info,", "an empty directive"),
            (
                "halcytone=loud",
                "HALCYTONE_LOG: `halcytone=loud` is not a log filter",
            ),
        ] {
            let error = log_filter(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
