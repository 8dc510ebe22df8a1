//! The gate handle: creating it from a config, freeing it, and its maintenance calls
//! (cache invalidation, counters).

use std::ffi::{c_char, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use drfgate::CacheStats;
use drfgate::{Gate, GateError, UserPk};

use crate::boundary::{
    ffi_boundary, try_cstr, try_nonnull, try_out, try_result, try_slice, utf8, Out,
};
use crate::fork::Origin;
use crate::result::{drfgate_result, fail};
use crate::sized::{field_ends, Layout};

/// A loaded config with its database connections and caches: one per config, created once
/// and shared by every thread.
///
/// **Threads.** Every function that takes a `const drfgate_gate *` may be called from any
/// number of threads at once on the same gate (deciding, invalidating, reading counters).
/// Create and free it while no other thread uses it.
///
/// **fork().** Create the gate in the process that will use it, after forking: Apache's
/// `child_init` hook, nginx's `init_process`. A gate that crosses a `fork()` is refused in the
/// child: every call on it returns `DRFGATE_RESULT_FORKED` without touching it (its SQLite
/// connections must not be used after a fork, and its cache locks may have been held by a
/// thread that does not exist in the child). `drfgate_gate_free` in such a child releases
/// nothing (the memory is the parent's copy, and closing SQLite there is unsafe); the parent
/// may keep using and free its own gate. So a server that checks its config before forking
/// frees that gate and creates a new one in each child.
pub struct drfgate_gate {
    pub(crate) gate: Gate,
    origin: Origin,
}

/// Counters of one of the gate's caches. Monotonic since the gate was created, except
/// `entries` and `negative_entries`, which are current sizes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drfgate_cache_stats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups answered by a remembered "no such credential".
    pub negative_hits: u64,
    /// Lookups that had to go to the database (or hasher).
    pub misses: u64,
    /// Loads performed.
    pub loads: u64,
    /// Loads that failed (the request was refused).
    pub load_errors: u64,
    /// Lookups that waited for another thread's load of the same key instead of loading.
    pub coalesced: u64,
    /// Entries pushed out by the size limit.
    pub evictions: u64,
    /// Negative entries pushed out by their own size limit.
    pub negative_evictions: u64,
    /// Entries dropped because their time to live had passed.
    pub expirations: u64,
    /// Entries dropped by invalidation calls.
    pub invalidations: u64,
    /// Entries now cached.
    pub entries: u64,
    /// Negative entries now cached.
    pub negative_entries: u64,
}

/// The counters of the gate's caches, filled in by `drfgate_gate_stats`. Declare it with
/// `DRFGATE_STATS_INIT` (`drfgate_stats s = DRFGATE_STATS_INIT;`: `struct_size` set).
///
/// **Extensible.** New fields (a new cache's counters) are only ever appended; the library
/// writes only the fields that lie wholly within `struct_size` bytes, and zeroes any bytes
/// past the fields it knows (a program built against a newer header). A `struct_size` below
/// `DRFGATE_STATS_MIN_SIZE` is `DRFGATE_RESULT_INVALID_ARGUMENT`. `drfgate_cache_stats`
/// itself never changes: a new counter for every cache would come as a new struct.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct drfgate_stats {
    /// `sizeof(drfgate_stats)` as the program was compiled: set by `DRFGATE_STATS_INIT`.
    /// Read by the library, never written.
    pub struct_size: usize,
    /// Token → user.
    pub tokens: drfgate_cache_stats,
    /// Verified username/password pairs (Basic).
    pub passwords: drfgate_cache_stats,
    /// A user's Django permissions (DjangoModelPermissions).
    pub permissions: drfgate_cache_stats,
    // New fields go here, at the end (see sized.rs), and into STATS_FIELD_ENDS.
}

/// Where the counters end: one entry per `u64` (a partly covered `drfgate_cache_stats` gets
/// its leading counters), so a `struct_size` cuts between counters, not inside one.
const STATS_FIELD_ENDS: [usize; 1 + 3 * CACHE_COUNTERS] = {
    let mut ends = [0; 1 + 3 * CACHE_COUNTERS];
    ends[0] = std::mem::size_of::<usize>();
    let caches = field_ends!(drfgate_stats {
        tokens,
        passwords,
        permissions
    });
    let mut cache = 0;
    while cache < 3 {
        let start = caches[cache] - std::mem::size_of::<drfgate_cache_stats>();
        let mut counter = 0;
        while counter < CACHE_COUNTERS {
            ends[1 + cache * CACHE_COUNTERS + counter] = start + 8 * (counter + 1);
            counter += 1;
        }
        cache += 1;
    }
    ends
};
const CACHE_COUNTERS: usize = 12;
const _: () = assert!(std::mem::size_of::<drfgate_cache_stats>() == 8 * CACHE_COUNTERS);

/// `drfgate_stats`'s layouts: the oldest is `struct_size` and the token counters
/// (`DRFGATE_STATS_MIN_SIZE` in the header, `offsetof(drfgate_stats, passwords)`).
pub(crate) const STATS_LAYOUT: Layout = Layout {
    name: "drfgate_stats",
    init: "DRFGATE_STATS_INIT",
    min_size: std::mem::offset_of!(drfgate_stats, passwords),
    field_ends: &STATS_FIELD_ENDS,
};

impl From<CacheStats> for drfgate_cache_stats {
    fn from(s: CacheStats) -> Self {
        drfgate_cache_stats {
            hits: s.hits,
            negative_hits: s.negative_hits,
            misses: s.misses,
            loads: s.loads,
            load_errors: s.load_errors,
            coalesced: s.coalesced,
            evictions: s.evictions,
            negative_evictions: s.negative_evictions,
            expirations: s.expirations,
            invalidations: s.invalidations,
            entries: s.entries as u64,
            negative_entries: s.negative_entries as u64,
        }
    }
}

impl drfgate_gate {
    /// The gate, if this handle is usable in this process.
    pub(crate) fn usable(&self, function: &str) -> Result<&Gate, drfgate_result> {
        if !self.origin.is_current() {
            return Err(fail(
                drfgate_result::Forked,
                format!("{function}: this gate was created before a fork(), in another process; create gates after forking"),
            ));
        }
        Ok(&self.gate)
    }
}

/// The gate behind a handle argument: NULL returns `DRFGATE_RESULT_NULL_PARAMETER`, a gate
/// that crossed a `fork()` `DRFGATE_RESULT_FORKED`, from the export.
macro_rules! try_gate {
    ($function:expr, $gate:ident) => {
        $crate::boundary::try_result!(
            $crate::boundary::try_ref!($function, $gate).usable($function)
        )
    };
}
pub(crate) use try_gate;

/// # Safety
/// `out_gate` was given by the C caller as writable.
unsafe fn created(
    result: Result<Gate, GateError>,
    out_gate: Out<*mut drfgate_gate>,
) -> drfgate_result {
    match result {
        Ok(gate) => {
            let handle = Box::new(drfgate_gate {
                gate,
                origin: Origin::here(),
            });
            // SAFETY: the caller's promise.
            unsafe { out_gate.write(Box::into_raw(handle)) };
            drfgate_result::Ok
        }
        Err(GateError::Config(e)) => fail(drfgate_result::Config, e.to_string()),
        Err(GateError::Store(e)) => fail(drfgate_result::Database, e.to_string()),
    }
}

/// Creates a gate from a config file (TOML; see docs/configuration.md) and
/// opens its Django database. Relative paths in the file are relative to its folder.
///
/// `path` is a NUL-terminated file name (any bytes but NUL). On success writes a new gate to
/// `*out_gate`, to be released with `drfgate_gate_free`. On failure returns
/// `DRFGATE_RESULT_CONFIG` (the message names the file, line and key, e.g.
/// `drfgate.toml:5: routes[0].permission_classes[0]: unknown permission class ...`) or
/// `DRFGATE_RESULT_DATABASE`; `drfgate_last_error_message` has the text.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out_gate` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_new_from_path(
    path: *const c_char,
    out_gate: *mut *mut drfgate_gate,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_gate_new_from_path";
        let path = Path::new(OsStr::from_bytes(try_cstr!(F, path).to_bytes()));
        let out_gate = try_out!(F, out_gate);
        // SAFETY: the caller promises `out_gate` is writable.
        unsafe { created(Gate::from_config_file(path), out_gate) }
    })
}

/// Creates a gate from config text (the same TOML as a config file), e.g. one embedded in a
/// server's own configuration. Errors name `<config>` and the line and key.
///
/// `config` is `config_len` bytes of UTF-8, not necessarily NUL-terminated. `base_dir` is a
/// NUL-terminated folder that relative paths in the config (the database) are relative to,
/// or NULL for the current directory. Results as for `drfgate_gate_new_from_path`, plus
/// `DRFGATE_RESULT_INVALID_ARGUMENT` when the text is not UTF-8.
///
/// # Safety
/// `config` points to `config_len` readable bytes (NULL only when it is 0); `base_dir` is NULL or
/// NUL-terminated; `out_gate` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_new_from_str(
    config: *const c_char,
    config_len: usize,
    base_dir: *const c_char,
    out_gate: *mut *mut drfgate_gate,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_gate_new_from_str";
        let raw = try_slice!(F, config, config_len);
        let out_gate = try_out!(F, out_gate);
        let text = try_result!(utf8(F, "config", raw));
        // SAFETY: NULL (optional) or NUL-terminated by the caller's promise.
        let base = unsafe { crate::boundary::c_str(base_dir) }
            .map(|dir| Path::new(OsStr::from_bytes(dir.to_bytes())));
        // SAFETY: the caller promises `out_gate` is writable.
        unsafe { created(Gate::from_config_str(text, base), out_gate) }
    })
}

/// Releases a gate and closes its database. NULL is ignored. No other thread may be using
/// the gate, and decisions made by it stay valid (they own their data). In a forked child
/// the gate is not released (see `drfgate_gate`).
///
/// # Safety
/// `gate` is NULL or a handle from `drfgate_gate_new_*` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_free(gate: *mut drfgate_gate) {
    ffi_boundary!({
        if gate.is_null() {
            return;
        }
        // SAFETY: a live handle made by Box::into_raw, given back exactly once.
        let handle = unsafe { Box::from_raw(gate) };
        if !handle.origin.is_current() {
            std::mem::forget(handle);
        }
    })
}

/// Forgets the cached user of a token: call it after the token was deleted or regenerated
/// (otherwise the old token keeps working for up to `ttl_seconds`). `key` is the token's key,
/// `key_len` bytes. Invalidating a token that is not cached is not an error.
///
/// # Safety
/// `gate` is NULL or a live gate; `key` points to `key_len` readable bytes (NULL only when it is 0).
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_invalidate_token(
    gate: *const drfgate_gate,
    key: *const u8,
    key_len: usize,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_gate_invalidate_token";
        let gate = try_gate!(F, gate);
        let key = try_slice!(F, key, key_len);
        gate.invalidate_token(key);
        drfgate_result::Ok
    })
}

/// # Safety
/// `out_dropped` is NULL (not wanted) or writable.
unsafe fn invalidate_user(gate: &Gate, pk: &UserPk, out_dropped: *mut usize) -> drfgate_result {
    let dropped = gate.invalidate_user(pk);
    if let Some(out) = Out::new(out_dropped) {
        // SAFETY: the caller's promise.
        unsafe { out.write(dropped) };
    }
    drfgate_result::Ok
}

/// Forgets everything cached about the user with this integer primary key (Django's default
/// `AutoField`/`BigAutoField`): call it after a password, `is_active`, `is_staff` or
/// permission change. `out_dropped` (may be NULL) receives the number of entries dropped.
///
/// # Safety
/// `gate` is NULL or a live gate; `out_dropped` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_invalidate_user_id(
    gate: *const drfgate_gate,
    pk: i64,
    out_dropped: *mut usize,
) -> drfgate_result {
    ffi_boundary!({
        let gate = try_gate!("drfgate_gate_invalidate_user_id", gate);
        // SAFETY: the caller promises `out_dropped` is NULL or writable.
        unsafe { invalidate_user(gate, &UserPk::Int(pk), out_dropped) }
    })
}

/// As `drfgate_gate_invalidate_user_id`, for a user model whose primary key is text (a UUID
/// as Django stores it, a `CharField`): `pk` is `pk_len` bytes of UTF-8.
///
/// # Safety
/// `gate` is NULL or a live gate; `pk` points to `pk_len` readable bytes (NULL only when it is 0);
/// `out_dropped` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_invalidate_user_pk(
    gate: *const drfgate_gate,
    pk: *const c_char,
    pk_len: usize,
    out_dropped: *mut usize,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_gate_invalidate_user_pk";
        let gate = try_gate!(F, gate);
        let text = try_result!(utf8(F, "pk", try_slice!(F, pk, pk_len)));
        // SAFETY: the caller promises `out_dropped` is NULL or writable.
        unsafe { invalidate_user(gate, &UserPk::Text(text.into()), out_dropped) }
    })
}

/// Copies the gate's cache counters into `*out_stats`, as far as its `struct_size` goes
/// (set it first: `drfgate_stats s = DRFGATE_STATS_INIT;`). `DRFGATE_RESULT_INVALID_ARGUMENT`
/// when `struct_size` is below `DRFGATE_STATS_MIN_SIZE`.
///
/// # Safety
/// `gate` is NULL or a live gate; `out_stats` is NULL or a struct whose `struct_size` is set
/// and that many bytes are writable.
#[no_mangle]
pub unsafe extern "C" fn drfgate_gate_stats(
    gate: *const drfgate_gate,
    out_stats: *mut drfgate_stats,
) -> drfgate_result {
    ffi_boundary!({
        const F: &str = "drfgate_gate_stats";
        let gate = try_gate!(F, gate);
        let out_stats = try_nonnull!(F, out_stats);
        let stats = gate.stats();
        let out = drfgate_stats {
            struct_size: std::mem::size_of::<drfgate_stats>(),
            tokens: stats.tokens.into(),
            passwords: stats.passwords.into(),
            permissions: stats.permissions.into(),
        };
        // SAFETY: the caller promises `struct_size` writable bytes.
        try_result!(unsafe { STATS_LAYOUT.write(F, "out_stats", out_stats, &out) });
        drfgate_result::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stats_layout_lists_every_counter() {
        crate::sized::tests::check_layout::<drfgate_stats>(&STATS_LAYOUT);
        assert_eq!(
            *STATS_FIELD_ENDS.last().unwrap(),
            std::mem::size_of::<drfgate_stats>()
        );
        assert_eq!(
            STATS_FIELD_ENDS[CACHE_COUNTERS],
            std::mem::offset_of!(drfgate_stats, passwords)
        );
    }
}
