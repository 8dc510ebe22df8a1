//! `drfgate`: check a config, explain decisions, serve forward-auth decisions.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use drfgate::{Decision, Gate, Request};

mod logger;
mod report;
mod serve;

const USAGE: &str = "\
usage:
  drfgate check   --config FILE
  drfgate explain --config FILE [-X METHOD] [-H 'Name: value']... [--remote-user NAME]
                  [--secure] [--json] PATH[?QUERY]
  drfgate serve   --config FILE [--listen HOST:PORT]
  drfgate --version

check    validates the config, opens the database and prints the route table.
explain  prints the decision DRF would make for one request and how it got there.
         Header values are taken as raw bytes. Exit status 0 whatever the decision;
         2 when the config or database cannot be used.
serve    answers forward-auth requests from a reverse proxy (nginx auth_request, Caddy
         forward_auth, Traefik ForwardAuth) until SIGTERM or SIGINT. Allowed: 200 with
         X-Drfgate-User, X-Drfgate-User-Id, X-Drfgate-Auth; denied: DRF's response.
         --listen defaults to 127.0.0.1:9180; health at /.drfgate/health.

Set DRFGATE_LOG=debug|info|warn|error for more or less logging on stderr (default warn).";

fn main() -> ExitCode {
    logger::init();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("drfgate: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<OsString>) -> Result<ExitCode, String> {
    let mut args = args.into_iter();
    let command = match args.next() {
        Some(c) => c.to_string_lossy().into_owned(),
        None => return Err(format!("a command is needed\n{USAGE}")),
    };
    match command.as_str() {
        "check" => check(parse_options(args)?),
        "explain" => explain(parse_options(args)?),
        "serve" => serve_command(parse_options(args)?),
        "--version" | "-V" | "version" => {
            println!("drfgate {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        "--help" | "-h" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    }
}

#[derive(Default)]
struct Options {
    config: Option<PathBuf>,
    method: Option<Vec<u8>>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    remote_user: Option<Vec<u8>>,
    secure: bool,
    json: bool,
    target: Option<Vec<u8>>,
    listen: Option<String>,
}

fn parse_options(args: impl Iterator<Item = OsString>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.peekable();
    let value = |args: &mut std::iter::Peekable<_>, flag: &str| -> Result<OsString, String> {
        args.next().ok_or_else(|| format!("{flag} needs a value"))
    };
    while let Some(arg) = args.next() {
        match arg.to_string_lossy().as_ref() {
            "--config" | "-c" => {
                options.config = Some(PathBuf::from(value(&mut args, "--config")?))
            }
            "-X" | "--method" => options.method = Some(value(&mut args, "-X")?.as_bytes().to_vec()),
            "-H" | "--header" => {
                let raw = value(&mut args, "-H")?;
                let raw = raw.as_bytes();
                let colon = raw.iter().position(|&b| b == b':').ok_or_else(|| {
                    format!(
                        "-H {:?}: expected 'Name: value'",
                        String::from_utf8_lossy(raw)
                    )
                })?;
                let name = raw[..colon].trim_ascii().to_vec();
                if name.is_empty() {
                    return Err("-H: the header name is empty".into());
                }
                // Like an HTTP parser, drop the optional whitespace around the value only.
                let value = raw[colon + 1..]
                    .strip_prefix(b" ")
                    .unwrap_or(&raw[colon + 1..])
                    .to_vec();
                options.headers.push((name, value));
            }
            "--remote-user" => {
                options.remote_user = Some(value(&mut args, "--remote-user")?.as_bytes().to_vec())
            }
            "--listen" | "-l" => {
                options.listen = Some(value(&mut args, "--listen")?.to_string_lossy().into_owned())
            }
            "--secure" => options.secure = true,
            "--json" => options.json = true,
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option {s:?}\n{USAGE}"))
            }
            _ => {
                if options.target.is_some() {
                    return Err("only one PATH may be given".into());
                }
                options.target = Some(arg.as_bytes().to_vec());
            }
        }
    }
    Ok(options)
}

fn load_gate(options: &Options) -> Result<Gate, String> {
    let path = options
        .config
        .as_ref()
        .ok_or_else(|| "--config FILE is required".to_string())?;
    Gate::from_config_file(path).map_err(|e| e.to_string())
}

fn check(options: Options) -> Result<ExitCode, String> {
    let gate = load_gate(&options)?;
    let summary = gate.store_summary().map_err(|e| e.to_string())?;
    print!("{}", report::check_report(&gate, &summary));
    Ok(ExitCode::SUCCESS)
}

const DEFAULT_LISTEN: &str = "127.0.0.1:9180";

fn serve_command(options: Options) -> Result<ExitCode, String> {
    let config = options
        .config
        .as_ref()
        .ok_or_else(|| "--config FILE is required".to_string())?;
    if options.target.is_some() {
        return Err("serve takes no PATH".into());
    }
    serve::run(config, options.listen.as_deref().unwrap_or(DEFAULT_LISTEN))?;
    Ok(ExitCode::SUCCESS)
}

fn explain(options: Options) -> Result<ExitCode, String> {
    let gate = load_gate(&options)?;
    let target = options
        .target
        .as_deref()
        .ok_or_else(|| "explain needs a PATH, e.g. /api/orders/".to_string())?;
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &b""[..]),
    };
    if !path.starts_with(b"/") {
        return Err(format!(
            "PATH must start with '/', got {:?}",
            String::from_utf8_lossy(path)
        ));
    }
    let method = options.method.as_deref().unwrap_or(b"GET");
    let request = Request::new(method, path)
        .with_query(query)
        .with_headers(&options.headers)
        .with_remote_user(options.remote_user.as_deref())
        .with_secure(options.secure);
    let (decision, trace) = gate.explain(&request);
    if options.json {
        println!("{}", report::explain_json(&request, &decision, &trace));
    } else {
        print!("{}", report::explain_text(&request, &decision, &trace));
    }
    Ok(match decision {
        Decision::Allow(_) | Decision::Deny(_) => ExitCode::SUCCESS,
    })
}
