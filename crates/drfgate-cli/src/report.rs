//! What `check` and `explain` print.

use std::fmt::Write;

use drfgate::config::Unmatched;
use drfgate::gate::Policy;
use drfgate::store::StoreSummary;
use drfgate::trace::Stage;
use drfgate::{Decision, Gate, Request, Trace};
use serde_json::{json, Value};

fn policy_lines(policy: &Policy, indent: &str) -> String {
    let mut out = String::new();
    let auth: Vec<&str> = policy.authentication_classes().collect();
    let perms: Vec<String> = policy.permissions().iter().map(|p| p.to_string()).collect();
    let _ = writeln!(out, "{indent}authentication: [{}]", auth.join(", "));
    let _ = writeln!(
        out,
        "{indent}unauthenticated refusals: {}",
        match policy.challenge() {
            Some(c) => format!("401, WWW-Authenticate: {c}"),
            None => "403 (the first class has no WWW-Authenticate)".into(),
        }
    );
    let _ = writeln!(out, "{indent}permissions: [{}]", perms.join(", "));
    if let Some(model) = policy.model() {
        let _ = writeln!(
            out,
            "{indent}model: {}.{}",
            model.app_label, model.model_name
        );
    }
    if let Some(allow) = policy.allow() {
        let _ = writeln!(out, "{indent}methods: {allow}");
    }
    out
}

pub fn check_report(gate: &Gate, summary: &StoreSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "config: ok");
    let _ = writeln!(
        out,
        "database: {} {} ({} users{})",
        summary.backend,
        summary.location,
        summary.users,
        match summary.tokens {
            Some(n) => format!(", {n} tokens"),
            None => ", no token table".into(),
        }
    );
    for warning in gate.warnings() {
        let _ = writeln!(out, "warning: {warning}");
    }
    let _ = writeln!(out, "routes (first match wins):");
    for (i, route) in gate.routes().iter().enumerate() {
        let _ = writeln!(
            out,
            "  [{i}] {}{}{}",
            route.pattern.source(),
            route
                .name
                .as_ref()
                .map(|n| format!("  ({n})"))
                .unwrap_or_default(),
            route
                .line
                .map(|l| format!("  line {l}"))
                .unwrap_or_default()
        );
        if route.pass {
            let _ = writeln!(out, "      passed to the app untouched (pass = true)");
        } else {
            out.push_str(&policy_lines(&route.policy, "      "));
        }
    }
    if gate.routes().is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    match gate.unmatched() {
        Unmatched::Defaults => {
            let _ = writeln!(out, "unmatched paths: DEFAULT_* classes");
            out.push_str(&policy_lines(gate.default_policy(), "      "));
        }
        Unmatched::Pass => {
            let _ = writeln!(out, "unmatched paths: passed to the app untouched");
        }
        Unmatched::Deny => {
            let _ = writeln!(out, "unmatched paths: refused with 404");
        }
    }
    out
}

fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::Host => "host",
        Stage::Route => "route",
        Stage::Negotiation => "accept",
        Stage::Authentication => "auth",
        Stage::Permission => "perm",
        Stage::Throttle => "throttle",
        Stage::Method => "method",
        Stage::Result => "result",
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn explain_text(request: &Request<'_>, decision: &Decision, trace: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", lossy(request.method), lossy(request.path));
    for step in &trace.steps {
        let _ = writeln!(
            out,
            "  {:<7}{}: {}",
            stage_label(step.stage),
            step.subject,
            step.outcome
        );
    }
    match decision {
        Decision::Allow(identity) => {
            let _ = writeln!(out, "decision: allow");
            match identity {
                Some(i) => {
                    let _ = writeln!(
                        out,
                        "user: {} (pk {}, is_staff {}, is_superuser {}, scheme {})",
                        i.user.username, i.user.pk, i.user.is_staff, i.user.is_superuser, i.scheme
                    );
                }
                None => {
                    let _ = writeln!(out, "user: AnonymousUser");
                }
            }
        }
        Decision::Pass => {
            let _ = writeln!(
                out,
                "decision: pass (passed on without an identity: the application decides; the steps \
                 above say why)"
            );
        }
        Decision::Deny(deny) => {
            let _ = writeln!(out, "decision: deny");
            let _ = writeln!(out, "status: {}", deny.status);
            if let Some(w) = &deny.www_authenticate {
                let _ = writeln!(out, "WWW-Authenticate: {w}");
            }
            let _ = writeln!(out, "body: {}", lossy(&deny.body));
        }
    }
    if !trace.hints.is_empty() {
        let _ = writeln!(out, "hints:");
        for hint in &trace.hints {
            let _ = writeln!(out, "  - {hint}");
        }
    }
    out
}

pub fn explain_json(request: &Request<'_>, decision: &Decision, trace: &Trace) -> Value {
    let (kind, status, body, www, user) = match decision {
        Decision::Allow(identity) => (
            "allow",
            200,
            Value::Null,
            Value::Null,
            identity.as_ref().map_or(Value::Null, |i| {
                json!({
                    "pk": i.user.pk.to_string(),
                    "username": &*i.user.username,
                    "is_staff": i.user.is_staff,
                    "is_superuser": i.user.is_superuser,
                    "scheme": i.scheme.as_str(),
                    "authenticator": &*i.authenticator,
                })
            }),
        ),
        Decision::Pass => ("pass", 200, Value::Null, Value::Null, Value::Null),
        Decision::Deny(deny) => (
            "deny",
            deny.status,
            Value::String(lossy(&deny.body)),
            deny.www_authenticate
                .as_deref()
                .map_or(Value::Null, |w| Value::String(w.into())),
            Value::Null,
        ),
    };
    json!({
        "request": {
            "method": lossy(request.method),
            "target": lossy(request.path),
            "path_info": request.path_info(),
        },
        "decision": kind,
        "status": status,
        "body": body,
        "www_authenticate": www,
        "user": user,
        "trace": trace,
    })
}
