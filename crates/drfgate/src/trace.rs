//! The step-by-step record behind `drfgate explain`. Deciding without a trace costs nothing:
//! every note is a closure that only runs when a trace is being kept.

use serde::Serialize;

/// Which part of DRF's pipeline a step belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `ALLOWED_HOSTS`, checked by Django's `CommonMiddleware` before any view.
    Host,
    Route,
    /// DRF's content negotiation (`Accept`, `?format=`, a format suffix).
    Negotiation,
    Authentication,
    Permission,
    /// DRF's throttles (and drfgate's failed-login limiter).
    Throttle,
    Method,
    Result,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub stage: Stage,
    /// What was consulted: a route, an authentication or permission class.
    pub subject: String,
    /// What it answered, in words.
    pub outcome: String,
}

/// The full story of one decision, with hints for the classic mistakes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Trace {
    pub steps: Vec<Step>,
    pub hints: Vec<String>,
}

/// A possibly-absent trace that the deciding code writes to.
pub struct Tracer<'t> {
    trace: Option<&'t mut Trace>,
}

impl<'t> Tracer<'t> {
    pub fn new(trace: Option<&'t mut Trace>) -> Tracer<'t> {
        Tracer { trace }
    }

    pub fn off() -> Tracer<'static> {
        Tracer { trace: None }
    }

    pub fn enabled(&self) -> bool {
        self.trace.is_some()
    }

    // Inlined so that, with tracing off, a step costs one test and no closure call.
    #[inline]
    pub fn step(
        &mut self,
        stage: Stage,
        subject: impl FnOnce() -> String,
        outcome: impl FnOnce() -> String,
    ) {
        if let Some(trace) = self.trace.as_deref_mut() {
            trace.steps.push(Step {
                stage,
                subject: subject(),
                outcome: outcome(),
            });
        }
    }

    #[inline]
    pub fn hint(&mut self, hint: impl FnOnce() -> String) {
        if let Some(trace) = self.trace.as_deref_mut() {
            let hint = hint();
            if !trace.hints.contains(&hint) {
                trace.hints.push(hint);
            }
        }
    }
}
