//! `drfgate`: check a config, explain decisions, serve forward-auth decisions.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{OsStringValueParser, StyledStr, TypedValueParser};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand};
use drfgate::{Decision, Gate, Request};

mod export_origin;
mod logger;
mod report;
mod serve;

/// Answers Django REST Framework's authentication and permission questions as DRF would
#[derive(Parser)]
#[command(
    name = "drfgate",
    version,
    subcommand_required = true,
    arg_required_else_help = true,
    // As before clap: a flag given twice means its last value (`-H` still accumulates).
    args_override_self = true,
    after_help = "Set DRFGATE_LOG=debug|info|warn|error for more or less logging on stderr \
                  (default warn).\nExit status 2 on a usage error, or when the config or the \
                  database cannot be used."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the config, open the database and print the route table
    Check(CheckArgs),
    /// Print the decision DRF would make for one request, and how it got there
    #[command(
        after_help = "Header values, the method, the remote user, the remote address and TARGET are \
                            taken as raw bytes.\nExit status 0 whatever the decision; 2 when the config \
                            or the database cannot be used."
    )]
    Explain(ExplainArgs),
    /// Answer forward-auth requests from a reverse proxy until SIGTERM or SIGINT
    #[command(
        long_about = "Answer forward-auth requests from a reverse proxy (nginx auth_request, \
                      Caddy forward_auth, Traefik ForwardAuth) until SIGTERM or SIGINT.\n\
                      Allowed: 200 with X-Drfgate-User, X-Drfgate-User-Id, X-Drfgate-Auth; \
                      denied: DRF's response. Health at /.drfgate/health.",
        after_help = "Exit status 2 when the config or the database cannot be used, or the \
                      address cannot be bound."
    )]
    Serve(ServeArgs),
    /// Print the version (same as --version)
    #[command(hide = true)]
    Version,
}

#[derive(Args)]
struct CheckArgs {
    /// The drfgate TOML config
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// The Django project's manage.py: warn when the config is not what `manage.py
    /// drfgate_export` writes from its URLconf and settings now (runs `drfgate_export --check`)
    #[arg(long, value_name = "PATH")]
    manage_py: Option<PathBuf>,
    /// The Python that runs manage.py (the project's virtualenv's)
    #[arg(
        long,
        value_name = "PYTHON",
        default_value = "python3",
        requires = "manage_py"
    )]
    python: OsString,
}

#[derive(Args)]
struct ExplainArgs {
    /// The drfgate TOML config
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// The request's method
    #[arg(short = 'X', long, value_name = "METHOD", default_value = "GET")]
    method: OsString,
    /// A request header; repeat for more
    #[arg(
        short = 'H',
        long = "header",
        value_name = "'NAME: VALUE'",
        value_parser = OsStringValueParser::new().try_map(parse_header),
    )]
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// REMOTE_USER as the web server would set it
    #[arg(long, value_name = "NAME")]
    remote_user: Option<OsString>,
    /// REMOTE_ADDR, the client address throttles identify anonymous clients by
    #[arg(long, value_name = "ADDR")]
    remote_addr: Option<OsString>,
    /// The request came over HTTPS (request.is_secure())
    #[arg(long)]
    secure: bool,
    /// Print one JSON object instead of the text
    #[arg(long)]
    json: bool,
    /// The request target as sent, e.g. /api/orders/?page=2 or http://host/api/orders/
    #[arg(
        value_name = "TARGET",
        value_parser = OsStringValueParser::new().try_map(parse_target),
    )]
    target: OsString,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:9180";

#[derive(Args)]
struct ServeArgs {
    /// The drfgate TOML config
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// The address to listen on (port 0: any free port)
    #[arg(short, long, value_name = "HOST:PORT", default_value = DEFAULT_LISTEN)]
    listen: String,
}

/// `-H 'Name: value'`: the name without surrounding whitespace, the value as given but for
/// one leading space (the optional whitespace an HTTP parser drops).
fn parse_header(raw: OsString) -> Result<(Vec<u8>, Vec<u8>), String> {
    let raw = raw.as_bytes();
    let colon = raw
        .iter()
        .position(|&b| b == b':')
        .ok_or("expected 'Name: value'")?;
    let name = raw[..colon].trim_ascii();
    if name.is_empty() {
        return Err("the header name is empty".into());
    }
    let value = &raw[colon + 1..];
    let value = value.strip_prefix(b" ").unwrap_or(value);
    Ok((name.to_vec(), value.to_vec()))
}

fn parse_target(target: OsString) -> Result<OsString, String> {
    let bytes = target.as_bytes();
    let absolute_form = [&b"http://"[..], b"https://"].iter().any(|scheme| {
        bytes.len() >= scheme.len() && bytes[..scheme.len()].eq_ignore_ascii_case(scheme)
    });
    if bytes.starts_with(b"/") || absolute_form {
        Ok(target)
    } else {
        Err("it must start with '/' or http(s)://, e.g. /api/orders/".into())
    }
}

fn main() -> ExitCode {
    logger::init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(mut error) => {
            if error.kind() == ErrorKind::UnknownArgument {
                name_the_owner(&mut error);
            }
            // Usage errors exit 2; --help and --version print and exit 0.
            error.exit()
        }
    };
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::Explain(args) => explain(args),
        Command::Serve(args) => serve_command(args),
        Command::Version => {
            println!("drfgate {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(|message| {
        eprintln!("drfgate: {message}");
        ExitCode::from(2)
    })
}

/// For a flag that belongs to another subcommand (`check -X POST`), adds a tip naming
/// the subcommands that take it.
fn name_the_owner(error: &mut clap::Error) {
    let Some(ContextValue::String(given)) = error.get(ContextKind::InvalidArg) else {
        return;
    };
    let flag = given.split('=').next().unwrap_or(given).to_owned();
    let command = Cli::command();
    let owners: Vec<String> = command
        .get_subcommands()
        .filter(|sub| {
            sub.get_arguments().any(|arg| {
                arg.get_long().is_some_and(|l| flag == format!("--{l}"))
                    || arg.get_short().is_some_and(|s| flag == format!("-{s}"))
            })
        })
        .map(|sub| format!("drfgate {}", sub.get_name()))
        .collect();
    if owners.is_empty() {
        return;
    }
    // In place of clap's own tip ("to pass '--listen' as a value, use '-- --listen'").
    let tip = StyledStr::from(format!(
        "'{flag}' is an option of '{}' only",
        owners.join("' and '")
    ));
    error.insert(ContextKind::Suggested, ContextValue::StyledStrs(vec![tip]));
}

fn check(args: CheckArgs) -> Result<ExitCode, String> {
    let config = drfgate::Config::from_file(&args.config).map_err(|e| e.to_string())?;
    // `[serve]` is ours to check: a config `check` accepts is one `serve` starts with.
    serve::ServeSettings::from_config(&config).map_err(|e| e.to_string())?;
    let gate = Gate::from_config(config).map_err(|e| e.to_string())?;
    let summary = gate.store_summary().map_err(|e| e.to_string())?;
    print!("{}", report::check_report(&gate, &summary));
    // Read again as text: the header is comments, which the config loader does not keep.
    if let Ok(text) = std::fs::read_to_string(&args.config) {
        print!("{}", export_origin::report(&text));
    }
    if let Some(manage_py) = &args.manage_py {
        print!(
            "{}",
            export_origin::ask_django(&args.config, manage_py, &args.python)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn serve_command(args: ServeArgs) -> Result<ExitCode, String> {
    serve::run(&args.config, &args.listen)?;
    Ok(ExitCode::SUCCESS)
}

fn explain(args: ExplainArgs) -> Result<ExitCode, String> {
    let gate = Gate::from_config_file(&args.config).map_err(|e| e.to_string())?;
    // The target as a client sends it: the core cuts the query and fragment as gunicorn does.
    let request = Request::new(args.method.as_bytes(), args.target.as_bytes())
        .with_headers(&args.headers)
        .with_remote_user(args.remote_user.as_ref().map(|u| u.as_bytes()))
        .with_remote_addr(args.remote_addr.as_ref().map(|a| a.as_bytes()))
        .with_secure(args.secure);
    let (decision, trace) = gate.explain(&request);
    if args.json {
        println!("{}", report::explain_json(&request, &decision, &trace));
    } else {
        print!("{}", report::explain_text(&request, &decision, &trace));
    }
    Ok(match decision {
        Decision::Allow(_) | Decision::Pass | Decision::Deny(_) => ExitCode::SUCCESS,
    })
}
