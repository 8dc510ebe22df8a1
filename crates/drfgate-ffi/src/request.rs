//! The request as a C caller describes it, checked once and viewed as a `drfgate::Request`
//! without copying: header values are read from the caller's memory, either from an array of
//! name/value pairs or through a lookup callback over the server's own header table.

use std::borrow::Cow;
use std::cell::Cell;
use std::ffi::{c_char, c_void};

use drfgate::{HeaderSource, PathForm, Request};

use crate::boundary::{bytes, return_null, slice, try_slice};
use crate::result::{drfgate_result, fail};
use crate::sized::{field_ends, Layout};

/// A byte range owned by the caller. `data` may be NULL only when `len` is 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct drfgate_bytes {
    pub data: *const u8,
    pub len: usize,
}

/// One request header as received: raw bytes, in arrival order. Names match ASCII
/// case-insensitively; a repeated header's values are joined with `,` as Django does.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct drfgate_header {
    pub name: drfgate_bytes,
    pub value: drfgate_bytes,
}

/// A header lookup over the server's own header storage, so nothing is copied.
///
/// drfgate calls it with a header name (`name_len` bytes, also NUL-terminated; e.g.
/// `Authorization`, `Cookie`) and `index` 0, 1, 2, ...: for the `index`-th value of that
/// header (ASCII case-insensitive name match, arrival order) it stores the value in
/// `*out_value` and returns true; when there is no such value it returns false. The value
/// must stay valid until `drfgate_gate_decide` returns. It is called only during
/// `drfgate_gate_decide`, on the calling thread, and must not call back into drfgate.
pub type drfgate_header_value_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        name: *const c_char,
        name_len: usize,
        index: usize,
        out_value: *mut drfgate_bytes,
    ) -> bool,
>;

/// `drfgate_request.path` is the request target as the client sent it: still
/// percent-encoded, starting with `/` (or absolute-form `http://host/path`); a `?query` or
/// `#fragment` is cut off as gunicorn does. For a front end that sees the raw request line.
pub const DRFGATE_PATH_RAW_TARGET: u32 = 0;
/// `drfgate_request.path` is WSGI's `PATH_INFO`: already percent-decoded (and normalised, if
/// the server does that) with `SCRIPT_NAME` removed, exactly what the WSGI server will hand
/// Django. Never decoded again. For a module inside the server that runs the WSGI app
/// (Apache + mod_wsgi: `r->path_info` below the `WSGIScriptAlias`).
pub const DRFGATE_PATH_INFO: u32 = 1;

/// One HTTP request, as the gate needs it. Declare it with `DRFGATE_REQUEST_INIT`
/// (`drfgate_request r = DRFGATE_REQUEST_INIT;`: all zero, `struct_size` set) and fill in what
/// you have: every other field may be left empty, the gate then sees what DRF sees for a
/// missing value.
///
/// **Extensible.** New fields are only ever appended. The library reads the fields that lie
/// wholly within `struct_size` bytes and takes the others as zero, so a program built against
/// an older header keeps working with a newer library. A `struct_size` below
/// `DRFGATE_REQUEST_MIN_SIZE` (e.g. a request declared `= {0}`) is
/// `DRFGATE_RESULT_INVALID_ARGUMENT`, and so are non-zero bytes past the fields this library
/// knows (a program built against a newer header, running with an older library that would
/// ignore what it set): zero the whole struct, as `DRFGATE_REQUEST_INIT` does.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct drfgate_request {
    /// `sizeof(drfgate_request)` as the program was compiled: set by `DRFGATE_REQUEST_INIT`.
    pub struct_size: usize,
    /// As sent; upper-cased by the gate as Django does.
    pub method: drfgate_bytes,
    /// The path, in the form `path_form` says (`DRFGATE_PATH_RAW_TARGET` when zero).
    pub path: drfgate_bytes,
    /// The raw query string (WSGI's `QUERY_STRING`), without `?`, for DRF's `?format=`
    /// (`URL_FORMAT_OVERRIDE`). `data` NULL: not given; then a `DRFGATE_PATH_RAW_TARGET` path's
    /// own `?query` is read, and a `DRFGATE_PATH_INFO` request has none.
    pub query: drfgate_bytes,
    /// `headers_len` header pairs, or NULL when `headers_len` is 0. Consulted before
    /// `header_value`. Cookies are read from the `Cookie` header.
    pub headers: *const drfgate_header,
    pub headers_len: usize,
    /// Optional header lookup callback (NULL: none), given `header_userdata`.
    pub header_value: drfgate_header_value_fn,
    pub header_userdata: *mut c_void,
    /// The client address (`REMOTE_ADDR`) as text, e.g. `203.0.113.7`: what DRF's throttles
    /// identify an anonymous client by (with `X-Forwarded-For` as `NUM_PROXIES` says).
    /// `data` NULL: unknown, which DRF would see as Python's `None`. Apache: `r->useragent_ip`
    /// (what mod_wsgi gives Django); nginx: `r->connection->addr_text`.
    pub remote_addr: drfgate_bytes,
    /// The `REMOTE_USER` server variable, set by the server after authenticating the client
    /// itself (e.g. Apache's `r->user`). `data` NULL: not set. Never fill it from a client
    /// header.
    pub remote_user: drfgate_bytes,
    /// Whether the client connection is HTTPS (`request.is_secure()`).
    pub secure: bool,
    /// `DRFGATE_PATH_RAW_TARGET` (0) or `DRFGATE_PATH_INFO` (1): what `path` holds. Any
    /// other value is `DRFGATE_RESULT_INVALID_ARGUMENT`. Judging a decoded path as raw would
    /// decode it twice and judge a route other than the one Django runs. The first field
    /// appended to the oldest layout: a `struct_size` of `DRFGATE_REQUEST_MIN_SIZE` leaves it
    /// out, i.e. `DRFGATE_PATH_RAW_TARGET`.
    pub path_form: u32,
    /// The request body as read so far, when `drfgate_gate_body_wanted` asked for it (see
    /// there): `data` NULL: not read, and the gate defers a decision that depends on it. At
    /// most the length `drfgate_gate_body_wanted` gave. drfgate only reads it during the call.
    pub body: drfgate_bytes,
    /// Whether `body` is the whole body (false: cut short, e.g. the client went away; the
    /// gate then defers what depends on it).
    pub body_complete: bool,
    /// WSGI's `SERVER_PORT` as the application sees it, as text (Apache:
    /// `ap_get_server_port(r)`, what mod_wsgi hands Django): the port Django's CSRF Referer
    /// check appends to `CSRF_COOKIE_DOMAIN` without `X-Forwarded-Port`. `data` NULL: not
    /// known (a proxy in front of another server), and the gate defers what depends on it.
    pub server_port: drfgate_bytes,
    // New fields go here, at the end (see sized.rs), and into REQUEST_FIELD_ENDS.
}

const REQUEST_FIELD_ENDS: [usize; 15] = field_ends!(drfgate_request {
    struct_size,
    method,
    path,
    query,
    headers,
    headers_len,
    header_value,
    header_userdata,
    remote_addr,
    remote_user,
    secure,
    path_form,
    body,
    body_complete,
    server_port,
});

/// `drfgate_request`'s layouts: the oldest is every field before `path_form`
/// (`DRFGATE_REQUEST_MIN_SIZE` in the header, `offsetof(drfgate_request, path_form)`).
pub(crate) const REQUEST_LAYOUT: Layout = Layout {
    name: "drfgate_request",
    init: "DRFGATE_REQUEST_INIT",
    min_size: std::mem::offset_of!(drfgate_request, path_form),
    field_ends: &REQUEST_FIELD_ENDS,
};

/// More values than this for one header name means a callback that ignores `index`.
const MAX_VALUES_PER_HEADER: usize = 1024;

/// The caller's headers, already checked: every pair's data is non-NULL or empty.
pub(crate) struct Headers<'a> {
    pairs: &'a [drfgate_header],
    callback: drfgate_header_value_fn,
    userdata: *mut c_void,
    /// Set when the callback misbehaved; the decision is then refused.
    callback_fault: Cell<Option<&'static str>>,
}

/// A header pair's name and value, checked by `RequestView::new`.
fn pair_bytes<'a>(pair: &drfgate_header) -> (&'a [u8], &'a [u8]) {
    // SAFETY: checked by `RequestView::new`: non-NULL or empty, valid for 'a.
    unsafe {
        (
            bytes(pair.name.data, pair.name.len).unwrap_or_default(),
            bytes(pair.value.data, pair.value.len).unwrap_or_default(),
        )
    }
}

/// Header names compare ASCII case-insensitively; most arrive spelt as asked for, which a
/// plain comparison settles faster.
fn same_name(got: &[u8], name: &str) -> bool {
    got.len() == name.len() && (got == name.as_bytes() || got.eq_ignore_ascii_case(name.as_bytes()))
}

impl<'a> Headers<'a> {
    /// Each value of `name`, pairs first, then the callback's, in order.
    fn visit(&self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        for pair in self.pairs {
            let (pair_name, value) = pair_bytes(pair);
            if same_name(pair_name, name) {
                f(value);
            }
        }
        self.visit_callback(name, f);
    }

    /// Each value of `name` the callback has, in order.
    fn visit_callback(&self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        let Some(callback) = self.callback else {
            return;
        };
        // The names drfgate asks for are short: keep the NUL-terminated copy on the stack.
        let mut short = [0u8; 64];
        let long: Vec<u8>;
        let name_z: &[u8] = if name.len() < short.len() {
            short[..name.len()].copy_from_slice(name.as_bytes());
            &short[..=name.len()]
        } else {
            long = name.bytes().chain(std::iter::once(0)).collect();
            &long
        };
        for index in 0.. {
            if index == MAX_VALUES_PER_HEADER {
                self.callback_fault
                    .set(Some("the header_value callback returned more than 1024 values for one header (does it ignore `index`?)"));
                return;
            }
            let mut value = drfgate_bytes {
                data: std::ptr::null(),
                len: 0,
            };
            // SAFETY: the callback's contract (see drfgate_header_value_fn); `name_z` is
            // NUL-terminated and outlives the call.
            let found = unsafe {
                callback(
                    self.userdata,
                    name_z.as_ptr().cast(),
                    name.len(),
                    index,
                    &mut value,
                )
            };
            if !found {
                return;
            }
            // SAFETY: the callback promises the value stays valid until decide returns,
            // which outlives every use of this view.
            match unsafe { bytes(value.data, value.len) } {
                Some(value) => f(value),
                None => {
                    self.callback_fault.set(Some(
                        "the header_value callback returned a value with NULL data and a non-zero length",
                    ));
                    return;
                }
            }
        }
    }
}

impl HeaderSource for Headers<'_> {
    fn for_each_value(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        self.visit(name, &mut |value| f(value));
    }

    /// Borrows the value when the header appears once, which is nearly always. Pairs
    /// without a callback (what the bench and most callers pass) are read in one loop, without
    /// going through `visit`'s closure.
    fn get(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        if self.callback.is_none() {
            let mut matches = self
                .pairs
                .iter()
                .map(pair_bytes)
                .filter(|(pair_name, _)| same_name(pair_name, name));
            let (_, first) = matches.next()?;
            let Some((_, second)) = matches.next() else {
                return Some(Cow::Borrowed(first));
            };
            let mut all = first.to_vec();
            for value in std::iter::once(second).chain(matches.map(|(_, value)| value)) {
                all.push(b',');
                all.extend_from_slice(value);
            }
            return Some(Cow::Owned(all));
        }
        let mut first: Option<&[u8]> = None;
        let mut joined: Option<Vec<u8>> = None;
        self.visit(name, &mut |value| match (&first, &mut joined) {
            (None, _) => first = Some(value),
            (Some(one), None) => {
                let mut all = one.to_vec();
                all.push(b',');
                all.extend_from_slice(value);
                joined = Some(all);
            }
            (Some(_), Some(all)) => {
                all.push(b',');
                all.extend_from_slice(value);
            }
        });
        match joined {
            Some(all) => Some(Cow::Owned(all)),
            None => first.map(Cow::Borrowed),
        }
    }
}

/// A checked request: the pieces a `drfgate::Request` borrows.
pub(crate) struct RequestView<'a> {
    method: &'a [u8],
    path: &'a [u8],
    path_form: PathForm,
    remote_user: Option<&'a [u8]>,
    remote_addr: Option<&'a [u8]>,
    query: Option<&'a [u8]>,
    secure: bool,
    body: Option<drfgate::RequestBody<'a>>,
    server_port: Option<&'a [u8]>,
    pub(crate) headers: Headers<'a>,
}

impl<'a> RequestView<'a> {
    /// Checks every pointer and length once, so the lookups during the decision cannot fail.
    /// Inlined: returned through a `Result`, the view would be copied on the way out.
    ///
    /// # Safety
    /// Every non-NULL pointer in `request` points to as many readable bytes (or header pairs)
    /// as its length says, valid for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn new(
        function: &str,
        request: &'a drfgate_request,
    ) -> Result<RequestView<'a>, drfgate_result> {
        let method = try_slice!(
            function,
            "request->method.data",
            request.method.data,
            request.method.len
        );
        let path = try_slice!(
            function,
            "request->path.data",
            request.path.data,
            request.path.len
        );
        let path_form = match request.path_form {
            DRFGATE_PATH_RAW_TARGET => PathForm::RawTarget,
            DRFGATE_PATH_INFO => PathForm::PathInfo,
            other => {
                return Err(fail(
                    drfgate_result::InvalidArgument,
                    format!(
                        "{function}: request->path_form is {other}; expected \
                         DRFGATE_PATH_RAW_TARGET (0) or DRFGATE_PATH_INFO (1)"
                    ),
                ))
            }
        };
        // SAFETY: the caller promises headers_len readable pairs at non-NULL `headers`.
        let Some(pairs) = (unsafe { slice(request.headers, request.headers_len) }) else {
            return_null!(function, "request->headers");
        };
        for (i, pair) in pairs.iter().enumerate() {
            if (pair.name.data.is_null() && pair.name.len > 0)
                || (pair.value.data.is_null() && pair.value.len > 0)
            {
                return_null!(function, &format!("request->headers[{i}]"));
            }
        }
        // Optional: NULL data means not given, not empty.
        let query = if request.query.data.is_null() {
            None
        } else {
            Some(try_slice!(
                function,
                "request->query.data",
                request.query.data,
                request.query.len
            ))
        };
        // Optional: NULL data means unknown (not set), not empty.
        let remote_user = if request.remote_user.data.is_null() {
            None
        } else {
            Some(try_slice!(
                function,
                "request->remote_user.data",
                request.remote_user.data,
                request.remote_user.len
            ))
        };
        let remote_addr = if request.remote_addr.data.is_null() {
            None
        } else {
            Some(try_slice!(
                function,
                "request->remote_addr.data",
                request.remote_addr.data,
                request.remote_addr.len
            ))
        };
        // Optional: NULL data means not read.
        let body = if request.body.data.is_null() {
            None
        } else {
            Some(drfgate::RequestBody {
                bytes: try_slice!(
                    function,
                    "request->body.data",
                    request.body.data,
                    request.body.len
                ),
                complete: request.body_complete,
            })
        };
        // Optional: NULL data means not known.
        let server_port = if request.server_port.data.is_null() {
            None
        } else {
            Some(try_slice!(
                function,
                "request->server_port.data",
                request.server_port.data,
                request.server_port.len
            ))
        };
        Ok(RequestView {
            body,
            server_port,
            method,
            path,
            path_form,
            remote_user,
            remote_addr,
            query,
            secure: request.secure,
            headers: Headers {
                pairs,
                callback: request.header_value,
                userdata: request.header_userdata,
                callback_fault: Cell::new(None),
            },
        })
    }

    /// Built in one piece: per decision, a chain of `with_` calls copied it seven times.
    pub(crate) fn request(&self) -> Request<'_> {
        Request {
            method: self.method,
            path: self.path,
            path_form: self.path_form,
            headers: &self.headers,
            remote_user: self.remote_user,
            secure: self.secure,
            remote_addr: self.remote_addr,
            query: self.query,
            body: self.body,
            server_port: self.server_port,
        }
    }

    /// Why the header callback's answers cannot be trusted, if they cannot.
    pub(crate) fn callback_fault(&self) -> Option<&'static str> {
        self.headers.callback_fault.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_layout_lists_every_field() {
        crate::sized::tests::check_layout::<drfgate_request>(&REQUEST_LAYOUT);
    }
}
