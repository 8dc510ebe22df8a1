//! Asking the gate about a request: into a new decision per call (`drfgate_gate_decide`), or
//! into a decision the caller made once and owns (`drfgate_gate_decide_into`), refilled in
//! place so that a request costs no `malloc`/`free` of a handle (BENCHMARKS.md: that pair
//! was a third of what the C ABI added to a cached decision).

use drfgate::Gate;

use crate::boundary::{ffi_boundary, return_null, try_nonnull, try_out, try_result, Out};
use crate::decision::drfgate_decision;
use crate::gate::{drfgate_gate, try_gate};
use crate::request::{drfgate_request, RequestView, REQUEST_LAYOUT};
use crate::result::{drfgate_result, fail};

/// How far a decision may reach for what it needs to know.
#[derive(Clone, Copy)]
enum Reach {
    /// The caches, then the database and the password hashers.
    Everything,
    /// The caches and the request alone (`_cached`): `None` when they cannot answer.
    CachesOnly,
}

/// Checks the caller's request and decides it into `into` (empty); `Ok(false)` when
/// [`Reach::CachesOnly`] could not answer.
///
/// # Safety
/// `raw` is non-NULL and a request of `struct_size` readable bytes whose pointers are
/// valid as its documentation says for the duration of the call.
unsafe fn decide(
    function: &str,
    gate: &Gate,
    raw: *const drfgate_request,
    reach: Reach,
    into: &mut drfgate_decision,
) -> Result<bool, drfgate_result> {
    let completed;
    // SAFETY: the caller promises a request of `struct_size` readable bytes, unchanged
    // during the call.
    let request = match unsafe { REQUEST_LAYOUT.view(function, "request", raw) }? {
        Some(request) => request,
        None => {
            // SAFETY: as above.
            completed = unsafe { REQUEST_LAYOUT.read(function, "request", raw) }?;
            &completed
        }
    };
    // SAFETY: the caller's promise about the request's pointers.
    let view = unsafe { RequestView::new(function, request) }?;
    let request = view.request();
    let judgement = match reach {
        Reach::Everything => Some(gate.judge(&request)),
        Reach::CachesOnly => gate.judge_cached(&request),
    };
    if let Some(fault) = view.callback_fault() {
        return Err(fail(
            drfgate_result::InvalidArgument,
            format!("{function}: {fault}"),
        ));
    }
    let Some(judgement) = judgement else {
        return Ok(false);
    };
    into.fill(gate, &request, judgement);
    Ok(true)
}

/// Decides into a new decision handle for `*out_decision`.
///
/// # Safety
/// As [`decide`]; `out_decision` is writable.
unsafe fn decide_new(
    function: &str,
    gate: &Gate,
    request: *const drfgate_request,
    reach: Reach,
    out_decision: Out<*mut drfgate_decision>,
) -> drfgate_result {
    // Allocated first and filled where it lies: moving a decision costs more than this.
    let mut decision = Box::new(drfgate_decision::empty());
    // SAFETY: the caller's promise.
    if !try_result!(unsafe { decide(function, gate, request, reach, &mut decision) }) {
        return drfgate_result::Absent;
    }
    // SAFETY: the caller's promise.
    unsafe { out_decision.write(Box::into_raw(decision)) };
    drfgate_result::Ok
}

/// Refills the caller's decision. It is emptied first, whatever follows (a NULL argument,
/// a malformed request, a panic): a result other than `DRFGATE_RESULT_OK` never leaves the
/// previous request's answer in it.
///
/// # Safety
/// `decision` is NULL or a live decision no other thread uses during the call; `gate` is
/// NULL or a live gate; `request` is NULL or as [`decide`] says.
unsafe fn refill(
    function: &str,
    gate: *const drfgate_gate,
    request: *const drfgate_request,
    decision: *mut drfgate_decision,
    reach: Reach,
) -> drfgate_result {
    ffi_boundary!({
        // SAFETY: the caller's promise: NULL or live, and not used elsewhere meanwhile.
        let Some(slot) = (unsafe { decision.as_mut() }) else {
            return_null!(function, "decision");
        };
        slot.clear();
        let gate = try_gate!(function, gate);
        let request = try_nonnull!(function, request);
        // SAFETY: the caller's promise about the request.
        if try_result!(unsafe { decide(function, gate, request, reach, slot) }) {
            drfgate_result::Ok
        } else {
            drfgate_result::Absent
        }
    })
}

/// Decides one request: who it is (DRF's authentication classes) and whether it may go on
/// (permission classes, then the view's methods), exactly as DRF would answer it.
///
/// On success writes a new decision to `*out_decision` (release it with
/// `drfgate_decision_free`). Any other result means no decision was made: the caller must
/// **fail closed** (answer 500, do not pass the request on). `DRFGATE_RESULT_DATABASE` does
/// not occur here: a database failure during a decision is a deny with status 500, as
/// Django would answer. `DRFGATE_RESULT_INVALID_ARGUMENT` names what is malformed in the
/// request, e.g. a `struct_size` below `DRFGATE_REQUEST_MIN_SIZE` (declare requests with
/// `DRFGATE_REQUEST_INIT`).
///
/// Thread-safe: any number of threads may decide on the same gate at once.
///
/// # Safety
/// `gate` is NULL or a live gate; `request` is NULL or a request of `struct_size` readable
/// bytes whose pointers are valid as its documentation says for the duration of the call;
/// `out_decision` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_decide(
    gate: *const drfgate_gate,
    request: *const drfgate_request,
    out_decision: *mut *mut drfgate_decision,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_gate_decide";
        let gate = try_gate!(F, gate);
        let request = try_nonnull!(F, request);
        let out_decision = try_out!(F, out_decision);
        // SAFETY: the caller's promises about the request and `out_decision`.
        unsafe { decide_new(F, gate, request, Reach::Everything, out_decision) }
    })
}

/// As `drfgate_gate_decide`, but only when the answer needs neither the database nor a
/// password hasher: from the gate's caches (a token or a verified password seen within the
/// TTL, a user's permissions) or from the request alone (no credentials, a malformed
/// header, a route that needs no authentication). Then it writes the decision
/// `drfgate_gate_decide` would make at that moment and returns `DRFGATE_RESULT_OK`; otherwise
/// it returns `DRFGATE_RESULT_ABSENT`, writes nothing, and the caller asks
/// `drfgate_gate_decide` where blocking is allowed (a thread pool).
///
/// It never blocks on I/O or runs a hasher: for an event loop (nginx's workers) to answer
/// the common cases inline. Other results as for `drfgate_gate_decide`.
///
/// # Safety
/// As `drfgate_gate_decide`.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_decide_cached(
    gate: *const drfgate_gate,
    request: *const drfgate_request,
    out_decision: *mut *mut drfgate_decision,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_gate_decide_cached";
        let gate = try_gate!(F, gate);
        let request = try_nonnull!(F, request);
        let out_decision = try_out!(F, out_decision);
        // SAFETY: the caller's promises about the request and `out_decision`.
        unsafe { decide_new(F, gate, request, Reach::CachesOnly, out_decision) }
    })
}

/// Makes an empty decision for `drfgate_gate_decide_into` to fill, request after request:
/// one per thread (or per connection) instead of one per request, so that deciding
/// allocates nothing. Release it with `drfgate_decision_free`. Until a decision has been
/// made into it, and after a `_into` call that returned anything but `DRFGATE_RESULT_OK`, it
/// is **empty**: `drfgate_decision_is_allow` is false, `drfgate_decision_status` is 0 and
/// every value is `DRFGATE_RESULT_ABSENT`.
///
/// # Safety
/// `out_decision` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_decision_new(
    out_decision: *mut *mut drfgate_decision,
) -> drfgate_result {
    ffi_boundary!({
        let out_decision = try_out!("drfgate_decision_new", out_decision);
        let empty = Box::new(drfgate_decision::empty());
        // SAFETY: the caller promises it is writable.
        unsafe { out_decision.write(Box::into_raw(empty)) };
        drfgate_result::Ok
    })
}

/// As `drfgate_gate_decide`, but into a decision the caller owns (from
/// `drfgate_decision_new`, or one an earlier `drfgate_gate_decide` returned), replacing what
/// it held: no allocation per request. The strings read from its previous answer become
/// invalid. Any result other than `DRFGATE_RESULT_OK` leaves it **empty** (never the previous
/// request's answer), and the caller must **fail closed** as for `drfgate_gate_decide`.
///
/// A decision is refilled by one thread at a time, and not read while it is refilled: keep
/// one per thread (or per connection). Any number of threads may decide on the same gate.
///
/// # Safety
/// `gate` is NULL or a live gate; `request` as for `drfgate_gate_decide`; `decision` is NULL
/// or a live decision that no other thread uses during the call.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_decide_into(
    gate: *const drfgate_gate,
    request: *const drfgate_request,
    decision: *mut drfgate_decision,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        refill(
            "drfgate_gate_decide_into",
            gate,
            request,
            decision,
            Reach::Everything,
        )
    }
}

/// As `drfgate_gate_decide_cached`, into a decision the caller owns (see
/// `drfgate_gate_decide_into`). `DRFGATE_RESULT_ABSENT` (the caches cannot answer) leaves it
/// empty, like every result other than `DRFGATE_RESULT_OK`.
///
/// # Safety
/// As `drfgate_gate_decide_into`.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_decide_cached_into(
    gate: *const drfgate_gate,
    request: *const drfgate_request,
    decision: *mut drfgate_decision,
) -> drfgate_result {
    // SAFETY: the caller's promises.
    unsafe {
        refill(
            "drfgate_gate_decide_cached_into",
            gate,
            request,
            decision,
            Reach::CachesOnly,
        )
    }
}

/// Whether the decision needs the request body, and how much of it: a session-authenticated
/// POST whose CSRF check DRF runs on the parsed body (a form's `csrfmiddlewaretoken`, a JSON
/// body that must parse). Writes the number of body bytes to read to `*out_len` (the
/// request's `Content-Length`, never more than `DATA_UPLOAD_MAX_MEMORY_SIZE`) and returns
/// `DRFGATE_RESULT_OK`; returns `DRFGATE_RESULT_ABSENT` when the decision does not need the
/// body (decide without reading it). A front end that can, reads that many bytes, keeps them
/// for the application, sets `request->body` and `request->body_complete`, then decides;
/// one that cannot decides without it, and the gate defers such a request to the
/// application (passes it on without an identity). Cheap (headers only, no database): call
/// it before every decision. Other results as for `drfgate_gate_decide`.
///
/// # Safety
/// As `drfgate_gate_decide`; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_body_wanted(
    gate: *const drfgate_gate,
    request: *const drfgate_request,
    out_len: *mut usize,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_gate_body_wanted";
        let gate = try_gate!(F, gate);
        let request = try_nonnull!(F, request);
        let out_len = try_out!(F, out_len);
        // Read where it lies when this library's layout fits, as `decide` does: the front
        // ends ask before every decision.
        let completed;
        // SAFETY: the caller promises a request of `struct_size` readable bytes.
        let request = match try_result!(unsafe { REQUEST_LAYOUT.view(F, "request", request) }) {
            Some(request) => request,
            None => {
                // SAFETY: as above.
                completed = try_result!(unsafe { REQUEST_LAYOUT.read(F, "request", request) });
                &completed
            }
        };
        // SAFETY: the caller's promise about the request's pointers.
        let view = try_result!(unsafe { RequestView::new(F, request) });
        let wanted = gate.body_wanted(&view.request());
        if let Some(fault) = view.callback_fault() {
            return fail(drfgate_result::InvalidArgument, format!("{F}: {fault}"));
        }
        let Some(length) = wanted.and_then(|l| usize::try_from(l).ok()) else {
            return drfgate_result::Absent;
        };
        // SAFETY: the caller promises it is writable.
        unsafe { out_len.write(length) };
        drfgate_result::Ok
    })
}
