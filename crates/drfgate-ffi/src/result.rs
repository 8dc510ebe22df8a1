//! The one result type every fallible call returns, and the per-thread message that says
//! more about the last failure.

use std::cell::RefCell;
use std::ffi::c_char;

/// What a call did. The numbers are part of the ABI: they never change meaning, and new
/// codes are only ever added at the end.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum drfgate_result {
    /// Success: the out-pointers were written.
    Ok = 0,
    /// A required pointer argument was NULL (or a byte range had NULL data and a non-zero length).
    NullParameter = 1,
    /// An argument was malformed, e.g. text that is not UTF-8.
    InvalidArgument = 2,
    /// The config could not be loaded; the message names the file, line and key.
    Config = 3,
    /// The Django database could not be opened or lacks a table the config needs.
    Database = 4,
    /// The decision carries no such value (e.g. the user of an anonymous request,
    /// `WWW-Authenticate` on an allow). Not an error; the out-pointer is untouched.
    Absent = 5,
    /// The gate was created in another process: it crossed a `fork()`. Create gates after
    /// forking; see the fork rules at the top of this header.
    Forked = 6,
    /// drfgate hit an internal error (a Rust panic, caught at the ABI boundary). Fail closed:
    /// answer the request with a 500.
    Panic = 7,
}

const TEXTS: [&str; 8] = [
    "success\0",
    "a required argument was NULL\0",
    "an argument was malformed\0",
    "the config could not be loaded\0",
    "the Django database could not be used\0",
    "the decision has no such value\0",
    "the gate was created in another process (it crossed a fork)\0",
    "internal error in drfgate (caught panic)\0",
];

fn text_of(code: u32) -> &'static str {
    TEXTS
        .get(code as usize)
        .copied()
        .unwrap_or("unknown drfgate result code\0")
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records the detailed message of a failure on this thread and returns its code.
pub(crate) fn fail(code: drfgate_result, message: impl Into<String>) -> drfgate_result {
    let message = message.into();
    // During thread teardown the slot may be gone; the code alone still tells the caller.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = message;
        }
    });
    code
}

pub(crate) fn null_parameter(function: &str, argument: &str) -> drfgate_result {
    fail(
        drfgate_result::NullParameter,
        format!("{function}: argument `{argument}` is NULL"),
    )
}

/// A fixed, NUL-terminated description of a result code, for logs. Never NULL; an unknown
/// number gives "unknown drfgate result code". Takes a plain integer so that any value a C
/// caller holds is safe to pass.
#[no_mangle]
pub extern "C" fn drfgate_result_text(result: u32) -> *const c_char {
    text_of(result).as_ptr().cast()
}

/// Copies the message of the last failed call made **on this thread** into `buf`, e.g.
/// `drfgate.toml:5: routes[0].permission_classes[0]: unknown permission class "IsAuthenticatd"`.
///
/// Like `errno`, it is set by every call that returns an error (other than
/// `DRFGATE_RESULT_ABSENT`) and left alone by calls that succeed; it is empty before the first
/// failure. Messages never contain secrets (tokens, passwords).
///
/// Writes at most `len` bytes including a terminating NUL (truncating like `snprintf`) and sets
/// `*out_n` to the message's full length without the NUL, so `*out_n >= len` means it was cut.
/// `buf` may be NULL when `len` is 0, to ask for the length. Returns `DRFGATE_RESULT_OK`, or
/// `DRFGATE_RESULT_NULL_PARAMETER` when `out_n` is NULL or `buf` is NULL with `len > 0`.
///
/// # Safety
/// `buf` must point to `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn drfgate_last_error_message(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> drfgate_result {
    crate::boundary::ffi_boundary!({
        // Reading the message must not overwrite it, so these failures set no message.
        if out_n.is_null() || (buf.is_null() && len > 0) {
            return drfgate_result::NullParameter;
        }
        let full = LAST_ERROR
            .try_with(|slot| slot.try_borrow().map(|s| s.clone()).unwrap_or_default())
            .unwrap_or_default();
        if len > 0 {
            let n = full.len().min(len - 1);
            // SAFETY: the caller promises `len` writable bytes at `buf`; n + 1 <= len.
            unsafe {
                std::ptr::copy_nonoverlapping(full.as_ptr(), buf.cast::<u8>(), n);
                *buf.add(n) = 0;
            }
        }
        // SAFETY: checked non-NULL above; the caller promises it is writable.
        unsafe { *out_n = full.len() };
        drfgate_result::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn text(code: u32) -> &'static str {
        unsafe { CStr::from_ptr(drfgate_result_text(code)) }
            .to_str()
            .unwrap()
    }

    /// The `DRFGATE_RESULT_*` constants cbindgen wrote from the enum into the committed
    /// header, which `tests/header.rs` keeps equal to what the enum makes now.
    fn codes_in_header() -> Vec<(&'static str, u32)> {
        let header = include_str!("../../../include/drfgate.h");
        let body = header
            .split_once("enum drfgate_result\n")
            .and_then(|(_, rest)| rest.split_once('}'))
            .expect("the header declares enum drfgate_result")
            .0;
        body.lines()
            .filter_map(|line| line.trim().strip_prefix("DRFGATE_RESULT_"))
            .map(|constant| {
                let (name, value) = constant.split_once(" = ").expect("NAME = value");
                (name, value.trim_end_matches(',').parse().expect("a number"))
            })
            .collect()
    }

    #[test]
    fn every_code_has_its_own_nul_terminated_text() {
        let codes = codes_in_header();
        assert!(codes.len() >= 8, "{codes:?}");
        let unknown = "unknown drfgate result code";
        let mut texts = std::collections::HashSet::new();
        for (index, &(name, code)) in codes.iter().enumerate() {
            // Codes are numbered from 0 and only ever added at the end.
            assert_eq!(code, index as u32, "DRFGATE_RESULT_{name}");
            let text = text(code);
            assert!(
                !text.is_empty() && text != unknown,
                "DRFGATE_RESULT_{name} has no text"
            );
            assert!(texts.insert(text), "DRFGATE_RESULT_{name} repeats {text:?}");
        }
        assert_eq!(text(codes.len() as u32), unknown);
        assert_eq!(text(u32::MAX), unknown);
    }

    #[test]
    fn the_message_is_copied_out_and_truncated_like_snprintf() {
        fail(drfgate_result::Config, "x.toml:3: key: bad");
        let mut n = 0usize;
        let mut buf = [0x55 as c_char; 64];
        let r = unsafe { drfgate_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(r, drfgate_result::Ok);
        assert_eq!(n, 18);
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(text.to_str().unwrap(), "x.toml:3: key: bad");

        let mut small = [0x55 as c_char; 5];
        let r = unsafe { drfgate_last_error_message(small.as_mut_ptr(), small.len(), &mut n) };
        assert_eq!(r, drfgate_result::Ok);
        assert_eq!(n, 18);
        let text = unsafe { CStr::from_ptr(small.as_ptr()) };
        assert_eq!(text.to_str().unwrap(), "x.to");

        let r = unsafe { drfgate_last_error_message(std::ptr::null_mut(), 0, &mut n) };
        assert_eq!((r, n), (drfgate_result::Ok, 18));
        let r = unsafe { drfgate_last_error_message(std::ptr::null_mut(), 4, &mut n) };
        assert_eq!(r, drfgate_result::NullParameter);
    }

    #[test]
    fn messages_are_per_thread() {
        fail(drfgate_result::Config, "main thread");
        std::thread::spawn(|| {
            let mut n = 99usize;
            let r = unsafe { drfgate_last_error_message(std::ptr::null_mut(), 0, &mut n) };
            assert_eq!((r, n), (drfgate_result::Ok, 0));
        })
        .join()
        .unwrap();
    }
}
