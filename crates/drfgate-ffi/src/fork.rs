//! Knowing whether this process is the one that created a gate.
//!
//! A forked child gets a copy of the gate, including SQLite connections that SQLite forbids
//! using across `fork()` and cache locks another thread may have held at the moment of the
//! fork. So a gate refuses to work in any process but its creator's; a child handler
//! registered with `pthread_atfork` counts forks, which keeps the check to one atomic load
//! instead of a `getpid()` system call per request.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;

static FORKS_SEEN: AtomicU64 = AtomicU64::new(0);
static HANDLER_REGISTERED: AtomicBool = AtomicBool::new(false);
static REGISTER: Once = Once::new();

extern "C" {
    // In glibc since forever (libc_nonshared for the __dso_handle binding); POSIX.
    fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
    ) -> c_int;
}

extern "C" fn count_fork_in_child() {
    FORKS_SEEN.fetch_add(1, Ordering::Relaxed);
}

/// Where a gate was made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin {
    forks_seen: u64,
    pid: u32,
}

impl Origin {
    pub(crate) fn here() -> Origin {
        REGISTER.call_once(|| {
            // SAFETY: registering a handler that only touches an atomic.
            let status = unsafe { pthread_atfork(None, None, Some(count_fork_in_child)) };
            HANDLER_REGISTERED.store(status == 0, Ordering::Release);
        });
        Origin {
            forks_seen: FORKS_SEEN.load(Ordering::Relaxed),
            pid: std::process::id(),
        }
    }

    /// Whether this is still the creating process.
    pub(crate) fn is_current(&self) -> bool {
        if FORKS_SEEN.load(Ordering::Relaxed) != self.forks_seen {
            return false;
        }
        // Without the handler (registration can fail for lack of memory), ask the kernel.
        HANDLER_REGISTERED.load(Ordering::Acquire) || std::process::id() == self.pid
    }
}
