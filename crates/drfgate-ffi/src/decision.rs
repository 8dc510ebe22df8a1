//! Asking the gate about a request, and reading its answer.
//!
//! Reading the gate's answer (asking for it is `decide.rs`).
//!
//! A decision owns everything it points to: the strings its accessors hand out stay valid
//! until `drfgate_decision_free`, or until the decision is refilled by a `_into` call, even
//! after the gate is freed.

use std::ffi::c_char;

use std::sync::Arc;

use drfgate::handoff::Handoff;
use drfgate::{Decision, Deny, Gate, Identity, Judgement, Request, UserPk};

use crate::boundary::{ffi_boundary, try_out, try_ref, Fallback};
use crate::request::drfgate_bytes;
use crate::result::drfgate_result;

/// UTF-8 text owned by a decision: `len` bytes at `data`, **not** NUL-terminated
/// (copy it with e.g. `apr_pstrmemdup`, or use it as an `ngx_str_t`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct drfgate_str {
    pub data: *const c_char,
    pub len: usize,
}

impl drfgate_str {
    fn of(text: &str) -> drfgate_str {
        drfgate_str {
            data: text.as_ptr().cast(),
            len: text.len(),
        }
    }
}

/// The gate's answer for one request: allow (as a user, or anonymous) or deny (with DRF's
/// exact status, JSON body and headers). Made by `drfgate_gate_decide` (a new one per
/// request), or made once by `drfgate_decision_new` and refilled by `drfgate_gate_decide_into`
/// for each request (no allocation per request); released with `drfgate_decision_free`. A
/// decision may be read from any thread, but is not shared by design: one per request (or
/// per thread, refilled).
pub struct drfgate_decision {
    /// `None` while empty: made by `drfgate_decision_new`, or cleared by a `_into` call that
    /// made no decision, so that a stale answer can never be read as this request's.
    decision: Option<Decision>,
    /// The label of the route that decided; shared with the gate's route table.
    route: Option<Arc<str>>,
    /// An integer primary key as text, so `drfgate_decision_user_pk` can lend it.
    int_pk: [u8; 20],
    int_pk_len: u8,
    /// A throttled deny's `Retry-After` seconds as text, so it can be lent.
    retry_after: [u8; 20],
    retry_after_len: u8,
    /// `[handoff]`: an allow's identity signed for the application; `None` without a key.
    handoff: Option<Handoff>,
}

impl drfgate_decision {
    /// A decision that holds no answer: not allowed, status 0, every value absent.
    pub(crate) fn empty() -> drfgate_decision {
        drfgate_decision {
            decision: None,
            route: None,
            int_pk: [0; 20],
            int_pk_len: 0,
            retry_after: [0; 20],
            retry_after_len: 0,
            handoff: None,
        }
    }

    /// Empties it (see [`drfgate_decision::empty`]), releasing what it held.
    pub(crate) fn clear(&mut self) {
        self.decision = None;
        self.route = None;
        self.int_pk_len = 0;
        self.retry_after_len = 0;
        self.handoff = None;
    }

    /// Fills an empty decision with the judgement, in place (a decision is a few hundred
    /// bytes: building it elsewhere and moving it cost more than the rest of the C ABI),
    /// signed for the application when the config has a `[handoff]` key (the signature
    /// covers this request's method and path, so it is made while both are here). What may
    /// panic runs before anything is written, and the decimal texts are read only through
    /// the decision written last, so a panic leaves it empty.
    pub(crate) fn fill(&mut self, gate: &Gate, request: &Request<'_>, judgement: Judgement<'_>) {
        let decision = judgement.decision;
        let handoff = gate.handoff(request, &decision);
        let route = judgement.route.map(|route| route.shared_label());
        if let Some(UserPk::Int(n)) = decision.identity().map(|i| &i.user.pk) {
            self.int_pk_len = decimal(*n, &mut self.int_pk);
        }
        if let Decision::Deny(Deny {
            retry_after: Some(seconds),
            ..
        }) = &decision
        {
            self.retry_after_len = decimal(
                i64::try_from(*seconds).unwrap_or(i64::MAX),
                &mut self.retry_after,
            );
        }
        self.handoff = handoff;
        self.route = route;
        self.decision = Some(decision);
    }

    fn identity(&self) -> Option<&Identity> {
        self.decision.as_ref()?.identity()
    }

    fn deny(&self) -> Option<&Deny> {
        match &self.decision {
            Some(Decision::Deny(deny)) => Some(deny),
            Some(Decision::Allow(_) | Decision::Pass) | None => None,
        }
    }

    fn pk_text(&self) -> Option<&str> {
        match &self.identity()?.user.pk {
            UserPk::Int(_) => std::str::from_utf8(&self.int_pk[..self.int_pk_len as usize]).ok(),
            UserPk::Text(text) => Some(text),
        }
    }
}

/// Writes `n` in decimal at the start of `out`; returns the length. With `itoa`, on the
/// stack: `core::fmt` costs a tenth of a cached decision, and nothing here allocates.
fn decimal(n: i64, out: &mut [u8; 20]) -> u8 {
    let mut buffer = itoa::Buffer::new();
    let text = buffer.format(n).as_bytes();
    // i64::MIN is 19 digits and a sign: exactly 20.
    out[..text.len()].copy_from_slice(text);
    text.len() as u8
}

/// Releases a decision; the strings read from it become invalid. NULL is ignored.
///
/// # Safety
/// `decision` is NULL or a decision from `drfgate_gate_decide` (or `_cached`) or
/// `drfgate_decision_new`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_free(decision: *mut drfgate_decision) {
    ffi_boundary!({
        if !decision.is_null() {
            // SAFETY: made by Box::into_raw (decide.rs), given back once.
            drop(unsafe { Box::from_raw(decision) });
        }
    })
}

/// Runs `read` on a decision: the accessors that return a `bool` or a number, which give
/// `false` or 0 for a NULL decision and after a panic (the NULL policy in `boundary.rs`).
///
/// # Safety
/// `decision` is NULL or a live decision.
unsafe fn read<T: Fallback>(
    function: &str,
    decision: *const drfgate_decision,
    read: impl FnOnce(&drfgate_decision) -> T,
) -> T {
    ffi_boundary!({ read(try_ref!(function, decision)) })
}

/// Writes `value` to `out` when there is one: the accessors that lend a value.
///
/// # Safety
/// `decision` is NULL or a live decision; `out` is NULL or writable.
unsafe fn lend<T>(
    function: &str,
    decision: *const drfgate_decision,
    (out, out_name): (*mut T, &str),
    value: impl FnOnce(&drfgate_decision) -> Option<T>,
) -> drfgate_result {
    ffi_boundary!({
        let d = try_ref!(function, decision);
        let out = try_out!(function, out_name, out);
        match value(d) {
            Some(v) => {
                // SAFETY: the caller's promise.
                unsafe { out.write(v) };
                drfgate_result::Ok
            }
            None => drfgate_result::Absent,
        }
    })
}

/// True when the request may go on (to the application). False for a deny, for an empty
/// decision (see `drfgate_decision_new`), and for NULL.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_is_allow(decision: *const drfgate_decision) -> bool {
    // SAFETY: the caller's promise.
    unsafe {
        read("drfgate_decision_is_allow", decision, |d| {
            d.decision.as_ref().is_some_and(Decision::is_allow)
        })
    }
}

/// The HTTP status: 200 for an allow, DRF's status for a deny (401, 403, 404, 405, 500).
/// 0 for an empty decision (see `drfgate_decision_new`) and for NULL.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_status(decision: *const drfgate_decision) -> u16 {
    // SAFETY: the caller's promise.
    unsafe {
        read("drfgate_decision_status", decision, |d| {
            d.decision.as_ref().map_or(0, Decision::status)
        })
    }
}

/// A deny's response body, byte for byte: DRF's JSON, or Django's HTML 400 page for a host
/// `ALLOWED_HOSTS` refuses. Send it with `drfgate_decision_content_type`.
/// `DRFGATE_RESULT_ABSENT` for an allow.
///
/// # Safety
/// `decision` is NULL or a live decision; `out_body` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_body(
    decision: *const drfgate_decision,
    out_body: *mut drfgate_bytes,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_body",
            decision,
            (out_body, "out_body"),
            |d| {
                d.deny().map(|deny| drfgate_bytes {
                    data: deny.body.as_ptr(),
                    len: deny.body.len(),
                })
            },
        )
    }
}

/// A deny's `Content-Type`: `application/json` (`DRFGATE_DENY_CONTENT_TYPE`) for DRF's JSON,
/// `text/html; charset=utf-8` for Django's 400 page. `DRFGATE_RESULT_ABSENT` for an allow.
///
/// # Safety
/// `decision` is NULL or a live decision; `out_value` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_content_type(
    decision: *const drfgate_decision,
    out_value: *mut drfgate_str,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_content_type",
            decision,
            (out_value, "out_value"),
            |d| d.deny().map(|deny| drfgate_str::of(deny.content_type)),
        )
    }
}

/// The `WWW-Authenticate` header value of a 401 deny (e.g. `Token`, `Basic realm="api"`).
/// `DRFGATE_RESULT_ABSENT` on every other decision.
///
/// # Safety
/// `decision` is NULL or a live decision; `out_value` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_www_authenticate(
    decision: *const drfgate_decision,
    out_value: *mut drfgate_str,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_www_authenticate",
            decision,
            (out_value, "out_value"),
            |d| d.deny()?.www_authenticate.as_deref().map(drfgate_str::of),
        )
    }
}

/// The `Retry-After` header value (whole seconds, e.g. `57`) of a throttled 429, as DRF sends
/// it. `DRFGATE_RESULT_ABSENT` on every other decision, and on a 429 whose wait DRF could not
/// tell (then DRF sends no `Retry-After`).
///
/// # Safety
/// `decision` is NULL or a live decision; `out_value` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_retry_after(
    decision: *const drfgate_decision,
    out_value: *mut drfgate_str,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_retry_after",
            decision,
            (out_value, "out_value"),
            |d| {
                (d.deny().is_some() && d.retry_after_len > 0).then(|| drfgate_str {
                    data: d.retry_after.as_ptr().cast(),
                    len: usize::from(d.retry_after_len),
                })
            },
        )
    }
}

/// The `Allow` header DRF sends on a deny from a view whose methods the config lists
/// (e.g. `GET, HEAD, OPTIONS`). `DRFGATE_RESULT_ABSENT` otherwise.
///
/// # Safety
/// `decision` is NULL or a live decision; `out_value` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_allow(
    decision: *const drfgate_decision,
    out_value: *mut drfgate_str,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_allow",
            decision,
            (out_value, "out_value"),
            |d| d.deny()?.allow.as_deref().map(drfgate_str::of),
        )
    }
}

/// True when the request was allowed as an authenticated user; false for anonymous
/// (DRF's `AnonymousUser`), for a deny, and for NULL.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_is_authenticated(
    decision: *const drfgate_decision,
) -> bool {
    // SAFETY: the caller's promise.
    unsafe {
        read("drfgate_decision_is_authenticated", decision, |d| {
            d.identity().is_some()
        })
    }
}

/// The user's primary key as text (`42`, or a UUID as Django stores it).
/// `DRFGATE_RESULT_ABSENT` unless `drfgate_decision_is_authenticated`.
///
/// # Safety
/// `decision` is NULL or a live decision; `out_pk` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_user_pk(
    decision: *const drfgate_decision,
    out_pk: *mut drfgate_str,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_user_pk",
            decision,
            (out_pk, "out_pk"),
            |d| d.pk_text().map(drfgate_str::of),
        )
    }
}

/// The user's `USERNAME_FIELD` value. `DRFGATE_RESULT_ABSENT` unless authenticated.
///
/// # Safety
/// `decision` is NULL or a live decision; `out_username` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_username(
    decision: *const drfgate_decision,
    out_username: *mut drfgate_str,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_username",
            decision,
            (out_username, "out_username"),
            |d| d.identity().map(|i| drfgate_str::of(&i.user.username)),
        )
    }
}

/// The user's `is_staff`. False when not authenticated, and for NULL.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_is_staff(decision: *const drfgate_decision) -> bool {
    // SAFETY: the caller's promise.
    unsafe {
        read("drfgate_decision_is_staff", decision, |d| {
            d.identity().is_some_and(|i| i.user.is_staff)
        })
    }
}

/// The user's `is_superuser`. False when not authenticated, and for NULL.
///
/// # Safety
/// `decision` is NULL or a live decision.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_is_superuser(decision: *const drfgate_decision) -> bool {
    // SAFETY: the caller's promise.
    unsafe {
        read("drfgate_decision_is_superuser", decision, |d| {
            d.identity().is_some_and(|i| i.user.is_superuser)
        })
    }
}

/// How the user authenticated: `token`, `basic`, `session` or `remote_user` (stable names).
/// `DRFGATE_RESULT_ABSENT` unless authenticated.
///
/// # Safety
/// `decision` is NULL or a live decision; `out_scheme` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_scheme(
    decision: *const drfgate_decision,
    out_scheme: *mut drfgate_str,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_scheme",
            decision,
            (out_scheme, "out_scheme"),
            |d| d.identity().map(|i| drfgate_str::of(i.scheme.as_str())),
        )
    }
}

/// The configured authentication class that authenticated the user, e.g.
/// `rest_framework.authentication.TokenAuthentication`. `DRFGATE_RESULT_ABSENT` unless
/// authenticated.
///
/// # Safety
/// `decision` is NULL or a live decision; `out_class` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_authenticator(
    decision: *const drfgate_decision,
    out_class: *mut drfgate_str,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_authenticator",
            decision,
            (out_class, "out_class"),
            |d| d.identity().map(|i| drfgate_str::of(&i.authenticator)),
        )
    }
}

/// The route whose policy decided: its `name` in the config, else its pattern as written.
/// `DRFGATE_RESULT_ABSENT` when no route matched (the defaults decided, or `[gate]
/// unmatched`). Front ends may pass it to the application (Apache: `DRFGATE_ROUTE`) so the
/// route judged can be compared with the one Django resolved.
///
/// # Safety
/// `decision` is NULL or a live decision; `out_route` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_route(
    decision: *const drfgate_decision,
    out_route: *mut drfgate_str,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        lend(
            "drfgate_decision_route",
            decision,
            (out_route, "out_route"),
            |d| d.route.as_deref().map(drfgate_str::of),
        )
    }
}

/// The identity hand-off of an allowed request, signed for the application
/// (python/drfgate-django's `GateAuthentication`), as `drfgate serve` sends it:
/// - `*out_signature`: the value of `X-Drfgate-Signature` (`t=<unix seconds>,v1=<hex>`),
///   an HMAC-SHA256 with the config's `[handoff] SECRET_FILE` over the time, the method, the
///   path as Django's `path_info` will be, and the identity (scheme, pk, username, flags);
/// - `*out_flags`: the value of `X-Drfgate-User-Flags` (`staff`, `superuser`,
///   comma-separated; empty for a user with neither, and for an anonymous request).
///
/// The application must see the other identity fields exactly as this decision gives them
/// (`drfgate_decision_scheme`, `_user_pk`, `_username`; `anonymous` when not authenticated)
/// and the same method and path, or it refuses the signature. `DRFGATE_RESULT_ABSENT` when
/// the config has no `[handoff]`, and for a deny (nothing is written then).
///
/// # Safety
/// `decision` is NULL or a live decision; `out_signature` and `out_flags` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_handoff(
    decision: *const drfgate_decision,
    out_signature: *mut drfgate_str,
    out_flags: *mut drfgate_str,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_decision_handoff";
        let d = try_ref!(F, decision);
        let out_signature = try_out!(F, out_signature);
        let out_flags = try_out!(F, out_flags);
        let Some(handoff) = d.handoff.as_ref() else {
            return drfgate_result::Absent;
        };
        // SAFETY: the caller promises both are writable.
        unsafe {
            out_signature.write(drfgate_str::of(&handoff.signature));
            out_flags.write(drfgate_str::of(handoff.flags));
        }
        drfgate_result::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn primary_keys_print_as_python_does() {
        for n in [0, 1, 9, 10, 42, -7, 1_000_000, i64::MAX, i64::MIN] {
            let mut out = [0u8; 20];
            let len = decimal(n, &mut out) as usize;
            assert_eq!(std::str::from_utf8(&out[..len]).unwrap(), n.to_string());
        }
    }
}
