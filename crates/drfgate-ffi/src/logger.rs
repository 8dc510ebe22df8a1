//! Config warnings and runtime errors, forwarded to a C callback so that they reach the host
//! server's own log (Apache's `ap_log_error`, nginx's `ngx_log_error`).
//!
//! The core logs with the `log` crate (`log::warn!` for config warnings at gate load,
//! `log::error!` for database failures, `log::info!` from the SQLite store); this module is
//! the `log::Log` behind it. Without a callback `log`'s global filter is `Off`, so a record
//! costs one atomic load and is never formatted.
//!
//! Safety of the callback:
//! - it is called only from here, after the record was formatted inside `catch_unwind` (a
//!   panicking `Display` drops that record; nothing unwinds into C), and it is an
//!   `extern "C"` function, which cannot unwind into Rust;
//! - it may be called from any thread, at once on several, during any drfgate call;
//! - a record logged while the same thread is inside the callback (the callback called back
//!   into drfgate) is dropped, so there is no recursion; `drfgate_set_log_callback` from inside
//!   the callback is refused, as it would wait for itself;
//! - `drfgate_set_log_callback` waits for calls of the previous callback that are running on
//!   other threads, so once it returns the old userdata may be released.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Once, RwLock};

use crate::boundary::ffi_boundary;
use crate::result::{drfgate_result, fail};

/// How much a log message matters. The numbers are part of the ABI.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum drfgate_log_level {
    /// A failure that refused a request or stopped something from working (e.g. the
    /// database could not be read during a decision).
    Error = 1,
    /// Something the operator should fix, e.g. a config key drfgate ignores.
    Warn = 2,
    /// Notable events, e.g. the SQLite database file was replaced and is reopened.
    Info = 3,
    /// Detail for debugging.
    Debug = 4,
}

impl drfgate_log_level {
    fn from_u32(level: u32) -> Option<drfgate_log_level> {
        Some(match level {
            1 => drfgate_log_level::Error,
            2 => drfgate_log_level::Warn,
            3 => drfgate_log_level::Info,
            4 => drfgate_log_level::Debug,
            _ => return None,
        })
    }

    fn of(level: log::Level) -> drfgate_log_level {
        match level {
            log::Level::Error => drfgate_log_level::Error,
            log::Level::Warn => drfgate_log_level::Warn,
            log::Level::Info => drfgate_log_level::Info,
            // Only reached when the filter lets trace through, which it never does.
            log::Level::Debug | log::Level::Trace => drfgate_log_level::Debug,
        }
    }

    fn filter(self) -> log::LevelFilter {
        match self {
            drfgate_log_level::Error => log::LevelFilter::Error,
            drfgate_log_level::Warn => log::LevelFilter::Warn,
            drfgate_log_level::Info => log::LevelFilter::Info,
            drfgate_log_level::Debug => log::LevelFilter::Debug,
        }
    }
}

/// Receives drfgate's log messages; see `drfgate_set_log_callback`.
///
/// `message` is `message_len` bytes of UTF-8 followed by a NUL (so it is also a C string),
/// without a trailing newline; valid only during the call. Messages never contain secrets
/// (tokens, passwords). `userdata` is the pointer given to `drfgate_set_log_callback`.
pub type drfgate_log_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: drfgate_log_level,
        message: *const c_char,
        message_len: usize,
    ),
>;

struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, drfgate_log_level, *const c_char, usize),
    userdata: *mut c_void,
}

// SAFETY: the C caller promises (drfgate_set_log_callback's documentation) that the callback
// may be called with this userdata from any thread, at once.
unsafe impl Send for Sink {}
// SAFETY: as above.
unsafe impl Sync for Sink {}

/// The callback. Read-locked for each call of it, so replacing it waits for running calls.
static SINK: RwLock<Option<Sink>> = RwLock::new(None);
/// Whether SINK holds a callback: the `log` filter is `Off` when not.
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The most detailed level delivered (a `drfgate_log_level` number).
static MAX_LEVEL: AtomicU32 = AtomicU32::new(drfgate_log_level::Warn as u32);
static LOGGER_SET: Once = Once::new();
static LOGGER_OWNED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set while this thread runs the callback.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

fn max_level() -> drfgate_log_level {
    drfgate_log_level::from_u32(MAX_LEVEL.load(Ordering::Relaxed))
        .unwrap_or(drfgate_log_level::Warn)
}

/// Brings `log`'s global filter in line with INSTALLED and MAX_LEVEL. Two threads changing
/// them at once may leave the filter more permissive than needed, never less: `Forward`
/// checks both again, so that costs formatting, not correctness.
fn update_filter() {
    if !LOGGER_OWNED.load(Ordering::Acquire) {
        return;
    }
    log::set_max_level(if INSTALLED.load(Ordering::Acquire) {
        max_level().filter()
    } else {
        log::LevelFilter::Off
    });
}

struct Forward;

static FORWARD: Forward = Forward;

/// Resets IN_CALLBACK when the call returns.
struct InCallback;

impl InCallback {
    /// None when this thread is inside the callback already. (Not `then_some`: an
    /// InCallback made and dropped there would clear the flag.)
    fn enter() -> Option<InCallback> {
        let was_inside = IN_CALLBACK.try_with(|flag| flag.replace(true)).ok()?;
        if was_inside {
            None
        } else {
            Some(InCallback)
        }
    }
}

impl Drop for InCallback {
    fn drop(&mut self) {
        let _ = IN_CALLBACK.try_with(|flag| flag.set(false));
    }
}

impl log::Log for Forward {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        INSTALLED.load(Ordering::Acquire) && metadata.level() <= max_level().filter()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Inside the callback already (it called into drfgate): drop, do not recurse.
        let Some(_inside) = InCallback::enter() else {
            return;
        };
        // Formatting runs arguments' Display impls: a panic there drops the record only.
        let formatted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut text = String::with_capacity(128);
            let _ = write!(text, "{}", record.args());
            // A NUL inside would cut the C-string view short; the length stays exact.
            text.push('\0');
            text
        }));
        let Ok(text) = formatted else {
            return;
        };
        let level = drfgate_log_level::of(record.level());
        let sink = SINK.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sink) = sink.as_ref() {
            // SAFETY: the callback's contract (drfgate_set_log_callback); the text is
            // NUL-terminated and outlives the call.
            unsafe {
                (sink.callback)(sink.userdata, level, text.as_ptr().cast(), text.len() - 1);
            }
        }
    }

    fn flush(&self) {}
}

/// Installs (or, with `callback` NULL, removes) the process-wide callback that receives
/// drfgate's log messages: config warnings when a gate is created (e.g. a `REST_FRAMEWORK`
/// key drfgate ignores), errors at run time (e.g. the database failing during a decision),
/// and at the levels asked for with `drfgate_set_log_level` (`DRFGATE_LOG_LEVEL_WARN` by
/// default) notices and debugging detail. Without a callback nothing is logged, and nothing
/// is formatted.
///
/// The callback gets `userdata`, the level, and the message: `message_len` bytes of UTF-8
/// followed by a NUL, valid only during the call, never containing secrets. It:
/// - may be called from **any thread**, on several at once, and during **any** drfgate call
///   (a decision, gate creation, ...): it must be thread-safe and quick;
/// - may call drfgate functions, but what those would log is dropped (no recursion);
///   `drfgate_set_log_callback` itself is refused there (`DRFGATE_RESULT_INVALID_ARGUMENT`);
/// - must not wait for a thread that is calling `drfgate_set_log_callback`.
///
/// Replacing or removing the callback waits for calls of the old one running on other
/// threads: once this returns, the old callback is not running and will not be called, and
/// its `userdata` may be released. The callback is inherited by `fork()`ed children (Apache
/// registers it in the parent).
///
/// Returns `DRFGATE_RESULT_OK`, or `DRFGATE_RESULT_INVALID_ARGUMENT` when called from inside
/// the callback.
///
/// # Safety
/// `callback`, when not NULL, is a function that may be called as described with `userdata`
/// until the callback is replaced or removed.
#[no_mangle]
pub unsafe extern "C" fn drfgate_set_log_callback(
    callback: drfgate_log_fn,
    userdata: *mut c_void,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_set_log_callback";
        if IN_CALLBACK.try_with(Cell::get).unwrap_or(false) {
            return fail(
                drfgate_result::InvalidArgument,
                format!("{F}: called from inside the log callback"),
            );
        }
        LOGGER_SET.call_once(|| {
            // Fails only if this copy of the `log` crate already has a logger, which only
            // drfgate sets: then the callback is kept but `log`'s filter is left alone.
            LOGGER_OWNED.store(log::set_logger(&FORWARD).is_ok(), Ordering::Release);
        });
        let sink = callback.map(|callback| Sink { callback, userdata });
        let installed = sink.is_some();
        {
            let mut slot = SINK
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *slot = sink;
            INSTALLED.store(installed, Ordering::Release);
        }
        update_filter();
        drfgate_result::Ok
    })
}

/// Sets the most detailed level the log callback receives: `DRFGATE_LOG_LEVEL_ERROR`,
/// `_WARN` (the default), `_INFO` or `_DEBUG`; messages of a more detailed level are not
/// even formatted. Process-wide, may be called at any time from any thread (also from
/// inside the callback). Returns `DRFGATE_RESULT_INVALID_ARGUMENT` for any other number.
/// Takes a plain integer so that any value a C caller holds is safe to pass.
#[no_mangle]
pub extern "C" fn drfgate_set_log_level(level: u32) -> drfgate_result {
    ffi_boundary!({
        let Some(level) = drfgate_log_level::from_u32(level) else {
            return fail(
                drfgate_result::InvalidArgument,
                format!(
                    "drfgate_set_log_level: {level} is not a drfgate_log_level \
                     (DRFGATE_LOG_LEVEL_ERROR 1 to DRFGATE_LOG_LEVEL_DEBUG 4)"
                ),
            );
        };
        MAX_LEVEL.store(level as u32, Ordering::Relaxed);
        update_filter();
        drfgate_result::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Every message the test callback received, with its level.
    static RECEIVED: Mutex<Vec<(drfgate_log_level, String)>> = Mutex::new(Vec::new());

    unsafe extern "C" fn collect(
        userdata: *mut c_void,
        level: drfgate_log_level,
        message: *const c_char,
        message_len: usize,
    ) {
        assert_eq!(userdata as usize, 0x5eed);
        let bytes = unsafe { std::slice::from_raw_parts(message.cast::<u8>(), message_len + 1) };
        assert_eq!(bytes[message_len], 0, "NUL-terminated");
        let text = std::str::from_utf8(&bytes[..message_len])
            .unwrap()
            .to_string();
        if text.contains("reenter") {
            // Calling back into drfgate from the callback: logging is dropped, replacing the
            // callback is refused.
            log::warn!("logged from inside the callback");
            let r = unsafe { drfgate_set_log_callback(None, std::ptr::null_mut()) };
            assert_eq!(r, drfgate_result::InvalidArgument);
            assert_eq!(drfgate_set_log_level(4), drfgate_result::Ok);
        }
        RECEIVED.lock().unwrap().push((level, text));
    }

    struct Panics;
    impl std::fmt::Display for Panics {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("a Display that panics")
        }
    }

    fn received() -> Vec<(drfgate_log_level, String)> {
        std::mem::take(&mut *RECEIVED.lock().unwrap())
    }

    /// One test: the logger is process-wide state.
    #[test]
    fn records_reach_the_callback_filtered_and_safely() {
        // No callback: nothing is formatted (the filter is Off).
        log::warn!("before any callback");
        let userdata = 0x5eed as *mut c_void;
        assert_eq!(
            unsafe { drfgate_set_log_callback(Some(collect), userdata) },
            drfgate_result::Ok
        );
        assert_eq!(log::max_level(), log::LevelFilter::Warn);
        log::error!("database failed: {}", 42);
        log::warn!("config warning");
        log::info!("not delivered at the default level");
        assert_eq!(
            received(),
            vec![
                (drfgate_log_level::Error, "database failed: 42".to_string()),
                (drfgate_log_level::Warn, "config warning".to_string()),
            ]
        );

        assert_eq!(drfgate_set_log_level(3), drfgate_result::Ok);
        log::info!("now delivered");
        log::debug!("still not");
        assert_eq!(drfgate_set_log_level(0), drfgate_result::InvalidArgument);
        assert_eq!(drfgate_set_log_level(5), drfgate_result::InvalidArgument);
        assert_eq!(
            received(),
            vec![(drfgate_log_level::Info, "now delivered".to_string())]
        );

        // A panicking Display drops its record and nothing else.
        log::warn!("{}", Panics);
        log::warn!("after the panic");
        assert_eq!(
            received(),
            vec![(drfgate_log_level::Warn, "after the panic".to_string())]
        );

        // Re-entry from inside the callback (see `collect`).
        log::warn!("reenter");
        assert_eq!(
            received(),
            vec![(drfgate_log_level::Warn, "reenter".to_string())]
        );
        assert_eq!(log::max_level(), log::LevelFilter::Debug);
        assert_eq!(drfgate_set_log_level(2), drfgate_result::Ok);

        // From other threads.
        std::thread::scope(|s| {
            for i in 0..4 {
                s.spawn(move || log::error!("thread {i}"));
            }
        });
        let mut from_threads: Vec<_> = received().into_iter().map(|(_, m)| m).collect();
        from_threads.sort();
        assert_eq!(
            from_threads,
            ["thread 0", "thread 1", "thread 2", "thread 3"]
        );

        // Removed: nothing more, and the filter is off again.
        assert_eq!(
            unsafe { drfgate_set_log_callback(None, std::ptr::null_mut()) },
            drfgate_result::Ok
        );
        assert_eq!(log::max_level(), log::LevelFilter::Off);
        log::error!("after removal");
        assert!(received().is_empty());
    }
}
