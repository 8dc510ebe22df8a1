//! The panic boundary every export runs inside, and the one NULL policy every export applies
//! through the `try_*` macros below (rustls-ffi's `try_ref_from_ptr!` family).
//!
//! Unwinding into C is undefined behaviour, and a host web server must never be taken down
//! by one bad request: a panic becomes `DRFGATE_RESULT_PANIC` (or a neutral value for calls
//! that return no result), with its message kept for `drfgate_last_error_message`.
//!
//! **The NULL policy** (the header says the same at the top):
//! - a required pointer (a handle, the request, a C string, an out-pointer) that is NULL gives
//!   `DRFGATE_RESULT_NULL_PARAMETER`, with a message naming the argument; no out-pointer is
//!   written;
//! - a byte range (pointer and length) may have NULL data only when its length is 0: it is
//!   then empty;
//! - a pointer documented as optional (`out_dropped`, `base_dir`, `header_value`, ...) may be
//!   NULL and says what NULL means;
//! - `_free` functions ignore NULL; accessors that return `bool` or a number return `false` or
//!   0 for a NULL handle (and set no message: they report no error);
//! - the one export that checks by hand is `drfgate_last_error_message`: it returns
//!   NULL_PARAMETER like the others but sets no message, since that would overwrite the
//!   message it is asked for.

use std::any::Any;
use std::ffi::CStr;

use crate::result::{drfgate_result, fail, null_parameter};

/// What an export returns when it cannot do its job: after a caught panic, or for a NULL
/// argument. rustls-ffi's `PanicOrDefault` and `NullParameterOrDefault` in one.
pub(crate) trait Fallback {
    fn panicked() -> Self;
    fn null_parameter(function: &str, argument: &str) -> Self;
}

impl Fallback for drfgate_result {
    fn panicked() -> Self {
        drfgate_result::Panic
    }
    fn null_parameter(function: &str, argument: &str) -> Self {
        null_parameter(function, argument)
    }
}

impl Fallback for bool {
    fn panicked() -> Self {
        false
    }
    fn null_parameter(_: &str, _: &str) -> Self {
        false
    }
}

impl Fallback for u16 {
    fn panicked() -> Self {
        0
    }
    fn null_parameter(_: &str, _: &str) -> Self {
        0
    }
}

/// For the helpers that check arguments for an export and return `Err(code)`.
impl<T> Fallback for Result<T, drfgate_result> {
    fn panicked() -> Self {
        Err(drfgate_result::Panic)
    }
    fn null_parameter(function: &str, argument: &str) -> Self {
        Err(null_parameter(function, argument))
    }
}

impl Fallback for () {
    fn panicked() -> Self {}
    fn null_parameter(_: &str, _: &str) -> Self {}
}

/// Runs `$body` (a block that `return`s or evaluates to the function's value) and, if it
/// panics, records why and evaluates to the return type's `Fallback::panicked()` instead.
macro_rules! ffi_boundary {
    ($body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                $crate::boundary::record_panic(payload);
                $crate::boundary::Fallback::panicked()
            }
        }
    };
}
pub(crate) use ffi_boundary;

pub(crate) fn record_panic(payload: Box<dyn Any + Send>) {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into());
    let mut what: String = what.chars().take(200).collect();
    what.insert_str(0, "internal error in drfgate (panic): ");
    fail(drfgate_result::Panic, what);
    // The payload is dropped here, inside the boundary; a payload whose destructor itself
    // panics would abort, which is what std does too.
    drop(payload);
}

/// Returns from the export with the return type's `Fallback::null_parameter`.
macro_rules! return_null {
    ($function:expr, $argument:expr) => {
        return $crate::boundary::Fallback::null_parameter($function, $argument)
    };
}
pub(crate) use return_null;

/// `&T` from a required pointer argument; NULL returns from the export (policy above).
///
/// `try_ref!(F, gate)` names the argument after the variable; `try_ref!(F, "name", expr)`
/// names it explicitly. The pointer must be NULL or valid for reads for the whole call: the
/// C caller's promise, stated in every export's `# Safety`.
macro_rules! try_ref {
    ($function:expr, $ptr:ident) => {
        $crate::boundary::try_ref!($function, stringify!($ptr), $ptr)
    };
    ($function:expr, $name:expr, $ptr:expr) => {{
        let ptr = $ptr;
        // SAFETY: the export's caller promises NULL or a pointer valid for the call.
        match unsafe { $crate::boundary::deref(ptr) } {
            Some(value) => value,
            None => $crate::boundary::return_null!($function, $name),
        }
    }};
}
pub(crate) use try_ref;

/// An out-pointer argument, checked non-NULL (NULL returns from the export), to be written
/// once with [`Out::write`] when the call succeeds.
macro_rules! try_out {
    ($function:expr, $ptr:ident) => {
        $crate::boundary::try_out!($function, stringify!($ptr), $ptr)
    };
    ($function:expr, $name:expr, $ptr:expr) => {
        match $crate::boundary::Out::new($ptr) {
            Some(out) => out,
            None => $crate::boundary::return_null!($function, $name),
        }
    };
}
pub(crate) use try_out;

/// A required pointer argument, checked non-NULL but not dereferenced: for the structs whose
/// size the caller states (`struct_size`, see `sized.rs`), of which no `&T` may be made.
macro_rules! try_nonnull {
    ($function:expr, $ptr:ident) => {{
        let ptr = $ptr;
        if ptr.is_null() {
            $crate::boundary::return_null!($function, stringify!($ptr));
        }
        ptr
    }};
}
pub(crate) use try_nonnull;

/// A byte range argument: `&[u8]` from `data` and `len`; NULL data with a non-zero length
/// returns from the export (policy above).
///
/// `try_slice!(F, data, len)` names it after `data`; `try_slice!(F, "name", data, len)`
/// names it explicitly.
macro_rules! try_slice {
    ($function:expr, $data:ident, $len:expr) => {
        $crate::boundary::try_slice!($function, stringify!($data), $data, $len)
    };
    ($function:expr, $name:expr, $data:expr, $len:expr) => {{
        let (data, len) = ($data, $len);
        // SAFETY: the export's caller promises `len` readable bytes at non-NULL `data`.
        match unsafe { $crate::boundary::bytes(data.cast::<u8>(), len) } {
            Some(slice) => slice,
            None => $crate::boundary::return_null!($function, $name),
        }
    }};
}
pub(crate) use try_slice;

/// A required NUL-terminated string argument as `&CStr`; NULL returns from the export.
macro_rules! try_cstr {
    ($function:expr, $ptr:ident) => {{
        let ptr = $ptr;
        // SAFETY: the export's caller promises NULL or a NUL-terminated string.
        match unsafe { $crate::boundary::c_str(ptr) } {
            Some(text) => text,
            None => $crate::boundary::return_null!($function, stringify!($ptr)),
        }
    }};
}
pub(crate) use try_cstr;

/// `Ok(v)` is `v`; `Err(code)` returns `code` from the export (for the checks that give a
/// code other than NULL_PARAMETER: a forked gate, text that is not UTF-8, a bad struct_size).
macro_rules! try_result {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(code) => return code,
        }
    };
}
pub(crate) use try_result;

/// # Safety
/// `ptr` is NULL or valid for reads of a `T` for `'a`.
pub(crate) unsafe fn deref<'a, T>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: the caller's promise.
    unsafe { ptr.as_ref() }
}

/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const std::ffi::c_char) -> Option<&'a CStr> {
    // SAFETY: non-NULL and NUL-terminated by the caller's promise.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) })
}

/// A byte range from C: NULL data is allowed only for an empty range.
///
/// # Safety
/// When `data` is non-NULL it must point to `len` readable bytes that stay valid for `'a`.
pub(crate) unsafe fn bytes<'a>(data: *const u8, len: usize) -> Option<&'a [u8]> {
    // SAFETY: the caller's promise.
    unsafe { slice(data, len) }
}

/// An array from C (pointer and count), by the same rule as a byte range.
///
/// # Safety
/// When `data` is non-NULL it must point to `len` readable `T`s that stay valid for `'a`.
pub(crate) unsafe fn slice<'a, T>(data: *const T, len: usize) -> Option<&'a [T]> {
    if data.is_null() {
        return (len == 0).then_some(&[][..]);
    }
    // SAFETY: non-NULL, and the caller promises `len` readable elements for 'a.
    Some(unsafe { std::slice::from_raw_parts(data, len) })
}

/// A checked, non-NULL out-pointer. Writing does not read or drop what was there (the C
/// caller's memory may be uninitialised).
pub(crate) struct Out<T>(std::ptr::NonNull<T>);

impl<T> Out<T> {
    pub(crate) fn new(ptr: *mut T) -> Option<Out<T>> {
        std::ptr::NonNull::new(ptr).map(Out)
    }

    /// # Safety
    /// The pointer given to `new` is valid for a write of a `T` (the C caller's promise).
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-NULL, and the caller's promise.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// The UTF-8 text of a byte range argument, or `DRFGATE_RESULT_INVALID_ARGUMENT` naming it.
pub(crate) fn utf8<'a>(
    function: &str,
    argument: &str,
    raw: &'a [u8],
) -> Result<&'a str, drfgate_result> {
    std::str::from_utf8(raw).map_err(|e| {
        fail(
            drfgate_result::InvalidArgument,
            format!(
                "{function}: `{argument}` is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        let mut n = 0usize;
        let mut buf = [0 as std::ffi::c_char; 256];
        unsafe { crate::result::drfgate_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
        let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        text.to_str().unwrap().to_string()
    }

    #[test]
    fn a_panic_becomes_the_fallback_value_and_a_message() {
        let got: drfgate_result = ffi_boundary!({
            if std::hint::black_box(true) {
                panic!("boom {}", 7);
            }
            drfgate_result::Ok
        });
        assert_eq!(got, drfgate_result::Panic);
        assert_eq!(last_error(), "internal error in drfgate (panic): boom 7");
        let got: bool = ffi_boundary!({
            if std::hint::black_box(true) {
                panic!("boom");
            }
            true
        });
        assert!(!got);
    }

    #[test]
    fn byte_ranges_allow_null_only_when_empty() {
        unsafe {
            assert_eq!(bytes(std::ptr::null(), 0), Some(&[][..]));
            assert_eq!(bytes(std::ptr::null(), 3), None);
            let data = b"abc";
            assert_eq!(bytes(data.as_ptr(), 2), Some(&b"ab"[..]));
        }
    }

    fn takes_a_range(data: *const u8, len: usize) -> drfgate_result {
        let range = try_slice!("takes_a_range", data, len);
        assert!(range.len() == len);
        drfgate_result::Ok
    }

    fn reads_a_flag(flag: *const bool) -> bool {
        *try_ref!("reads_a_flag", flag)
    }

    fn writes_out(out_value: *mut u32) -> drfgate_result {
        let out = try_out!("writes_out", out_value);
        unsafe { out.write(7) };
        drfgate_result::Ok
    }

    #[test]
    fn the_macros_apply_one_policy_and_name_the_argument() {
        assert_eq!(takes_a_range(std::ptr::null(), 0), drfgate_result::Ok);
        assert_eq!(
            takes_a_range(std::ptr::null(), 2),
            drfgate_result::NullParameter
        );
        assert_eq!(last_error(), "takes_a_range: argument `data` is NULL");
        // A bool accessor gives false for NULL and reports nothing.
        assert!(!reads_a_flag(std::ptr::null()));
        assert!(reads_a_flag(&true));
        assert_eq!(last_error(), "takes_a_range: argument `data` is NULL");
        assert_eq!(
            writes_out(std::ptr::null_mut()),
            drfgate_result::NullParameter
        );
        assert_eq!(last_error(), "writes_out: argument `out_value` is NULL");
        let mut value = 0u32;
        assert_eq!(writes_out(&mut value), drfgate_result::Ok);
        assert_eq!(value, 7);
    }
}
