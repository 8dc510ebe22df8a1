//! The panic boundary every export runs inside, and the checks that turn NULL and malformed
//! arguments into result codes.
//!
//! Unwinding into C is undefined behaviour, and a host web server must never be taken down
//! by one bad request: a panic becomes `DRFGATE_RESULT_PANIC` (or a neutral value for calls
//! that return no result), with its message kept for `drfgate_last_error_message`.

use std::any::Any;

use crate::result::{drfgate_result, fail};

/// Runs `$body` (a block that `return`s or evaluates to the function's value) and, if it
/// panics, records why and evaluates to `$on_panic` instead.
macro_rules! ffi_boundary {
    ($on_panic:expr, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                $crate::boundary::record_panic(payload);
                $on_panic
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

/// A byte range from C: NULL data is allowed only for an empty range.
///
/// # Safety
/// When `data` is non-NULL it must point to `len` readable bytes that stay valid for `'a`.
pub(crate) unsafe fn bytes<'a>(data: *const u8, len: usize) -> Option<&'a [u8]> {
    if data.is_null() {
        return (len == 0).then_some(&[][..]);
    }
    // SAFETY: non-NULL, and the caller promises `len` readable bytes for 'a.
    Some(unsafe { std::slice::from_raw_parts(data, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_fallback_value_and_a_message() {
        let got: drfgate_result = ffi_boundary!(drfgate_result::Panic, {
            if std::hint::black_box(true) {
                panic!("boom {}", 7);
            }
            drfgate_result::Ok
        });
        assert_eq!(got, drfgate_result::Panic);
        let mut n = 0usize;
        let mut buf = [0 as std::ffi::c_char; 128];
        unsafe { crate::result::drfgate_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
        let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(
            text.to_str().unwrap(),
            "internal error in drfgate (panic): boom 7"
        );
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
}
