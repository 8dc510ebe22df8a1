//! The structs a C caller allocates (`drfgate_request`, `drfgate_stats`), made extensible by a
//! leading `size_t struct_size` that the caller sets to `sizeof` the struct as its header
//! declares it.
//!
//! The rule, for users (the header and the README say it too):
//! - `struct_size` smaller than the oldest layout (`DRFGATE_REQUEST_MIN_SIZE`,
//!   `DRFGATE_STATS_MIN_SIZE`) is refused with `DRFGATE_RESULT_INVALID_ARGUMENT` — a struct
//!   declared `= {0}` instead of with the `_INIT` macro is caught there;
//! - an input struct (the request) is read only as far as `struct_size` goes: a field that
//!   does not lie wholly inside it is taken as zero, so a program built against an older
//!   header works with a newer library. Bytes past what this library knows must be zero
//!   (a program built against a newer header running with an older library, which would
//!   otherwise silently ignore a field the program set): else `INVALID_ARGUMENT`;
//! - an output struct (the stats) is written only as far as `struct_size` goes, field by
//!   whole field; bytes past what this library knows (a newer header's fields) are zeroed.
//!
//! And for whoever adds a field: only ever at the end, never reordering, resizing or removing
//! one, and at an offset no smaller than the previous layout's `sizeof` (make any padding an
//! explicit reserved field), so that an older program's `struct_size` never covers part of it.
//! Then add it to the struct's field list here.

use std::mem::{size_of, MaybeUninit};

use crate::result::{drfgate_result, fail};

/// The size of a field's type, from an accessor (so the field list needs no types).
pub(crate) const fn size_of_field<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// Where each field of a `#[repr(C)]` struct ends, in declaration order:
/// `field_ends!(drfgate_stats { struct_size, tokens })`.
macro_rules! field_ends {
    ($t:ty { $($field:ident),* $(,)? }) => {
        [$(
            ::std::mem::offset_of!($t, $field)
                + $crate::sized::size_of_field::<$t, _>(|s: &$t| &s.$field)
        ),*]
    };
}
pub(crate) use field_ends;

/// A caller-allocated struct's layouts.
pub(crate) struct Layout {
    /// The C type's name, for messages.
    pub(crate) name: &'static str,
    /// The macro that declares it with `struct_size` set, for messages.
    pub(crate) init: &'static str,
    /// The smallest `struct_size` accepted: the oldest layout.
    pub(crate) min_size: usize,
    /// Where each field ends, ascending; the first is `struct_size` itself.
    pub(crate) field_ends: &'static [usize],
}

impl Layout {
    /// The bytes of a `struct_size`-byte struct this library reads or writes: up to the end
    /// of the last field wholly inside both it and this library's layout.
    fn known_prefix(&self, struct_size: usize) -> usize {
        self.field_ends
            .iter()
            .copied()
            .take_while(|&end| end <= struct_size)
            .last()
            .unwrap_or(0)
    }

    fn check_size(
        &self,
        function: &str,
        argument: &str,
        struct_size: usize,
    ) -> Result<(), drfgate_result> {
        if struct_size >= self.min_size {
            return Ok(());
        }
        Err(fail(
            drfgate_result::InvalidArgument,
            format!(
                "{function}: {argument}->struct_size is {struct_size}, smaller than any {name} \
                 ({min} bytes or more): declare it with {init}, or set struct_size to \
                 sizeof({name})",
                name = self.name,
                min = self.min_size,
                init = self.init,
            ),
        ))
    }

    /// Reads the caller's struct into this library's layout (see the module's rule).
    ///
    /// # Safety
    /// `ptr` is non-NULL, aligned, and readable for `size_t` bytes and then for as many bytes
    /// as the `struct_size` it holds says.
    pub(crate) unsafe fn read<T: Copy>(
        &self,
        function: &str,
        argument: &str,
        ptr: *const T,
    ) -> Result<T, drfgate_result> {
        // SAFETY: the caller's promise.
        if let Some(value) = unsafe { self.view(function, argument, ptr) }? {
            return Ok(*value);
        }
        // SAFETY: the caller's promise: the leading size_t is readable.
        let struct_size = unsafe { ptr.cast::<usize>().read() };
        let known = self.known_prefix(struct_size);
        let mut value = MaybeUninit::<T>::zeroed();
        // SAFETY: known <= struct_size readable bytes, into a T-sized buffer (known < ours).
        unsafe {
            std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), value.as_mut_ptr().cast(), known);
        }
        // SAFETY: the structs read this way are valid when all zero (NULL pointers, zero
        // lengths, false, 0, a NULL callback), and the copied fields are the caller's valid
        // values of the same types.
        Ok(unsafe { value.assume_init() })
    }

    /// The caller's struct where it is, without a copy, when it is at least this library's
    /// layout (the usual case: the same header); `None` for an older, smaller layout, which
    /// [`Layout::read`] completes with zeros. Checked as `read` checks.
    ///
    /// # Safety
    /// As [`Layout::read`], and the struct stays unchanged for `'a`.
    pub(crate) unsafe fn view<'a, T: Copy>(
        &self,
        function: &str,
        argument: &str,
        ptr: *const T,
    ) -> Result<Option<&'a T>, drfgate_result> {
        // SAFETY: the caller's promise: the leading size_t is readable.
        let struct_size = unsafe { ptr.cast::<usize>().read() };
        self.check_size(function, argument, struct_size)?;
        let ours = size_of::<T>();
        if struct_size < ours {
            return Ok(None);
        }
        // SAFETY: the caller promises struct_size >= ours readable bytes.
        let newer = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), struct_size) };
        if let Some(at) = newer[ours..].iter().position(|&b| b != 0) {
            return Err(fail(
                drfgate_result::InvalidArgument,
                format!(
                    "{function}: {argument} sets byte {} of a {struct_size}-byte {name}, past \
                     the {ours} bytes this libdrfgate ({version}) knows: the program was \
                     built against a newer drfgate.h; use a libdrfgate at least that new",
                    ours + at,
                    name = self.name,
                    version = env!("CARGO_PKG_VERSION"),
                ),
            ));
        }
        // SAFETY: as above, aligned and unchanged for 'a by the caller's promise.
        Ok(Some(unsafe { &*ptr }))
    }

    /// Writes `value` into the caller's struct, as far as its `struct_size` goes (see the
    /// module's rule); `struct_size` itself is left as the caller set it.
    ///
    /// # Safety
    /// `ptr` is non-NULL, aligned, and readable for `size_t` bytes and then writable for as
    /// many bytes as the `struct_size` it holds says.
    pub(crate) unsafe fn write<T: Copy>(
        &self,
        function: &str,
        argument: &str,
        ptr: *mut T,
        value: &T,
    ) -> Result<(), drfgate_result> {
        // SAFETY: the caller's promise: the leading size_t is readable.
        let struct_size = unsafe { ptr.cast::<usize>().read() };
        self.check_size(function, argument, struct_size)?;
        let ours = size_of::<T>();
        let start = self.field_ends[0];
        let known = self.known_prefix(struct_size.min(ours));
        let to = ptr.cast::<u8>();
        let from = (value as *const T).cast::<u8>();
        // SAFETY: [start, known) lies inside both structs (known <= struct_size, <= ours).
        unsafe { std::ptr::copy_nonoverlapping(from.add(start), to.add(start), known - start) };
        if struct_size > ours {
            // SAFETY: the caller promises struct_size writable bytes.
            unsafe { std::ptr::write_bytes(to.add(ours), 0, struct_size - ours) };
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Layout;

    /// A layout's field list covers the struct: ascending, starting with `struct_size`, and
    /// ending where the struct does (up to its tail padding).
    pub(crate) fn check_layout<T>(layout: &Layout) {
        let ends = layout.field_ends;
        assert_eq!(ends[0], std::mem::size_of::<usize>(), "struct_size first");
        assert!(ends.windows(2).all(|w| w[0] < w[1]), "ascending: {ends:?}");
        let last = *ends.last().unwrap();
        let size = std::mem::size_of::<T>();
        assert!(
            last <= size && size - last < std::mem::align_of::<T>(),
            "{} has {} bytes past its last listed field: is a field missing from the list?",
            layout.name,
            size - last
        );
        assert!(layout.min_size > ends[0] && layout.min_size <= size);
    }

    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Three {
        struct_size: usize,
        a: u32,
        b: u32,
        c: u64,
    }

    const THREE_ENDS: [usize; 4] = field_ends!(Three {
        struct_size,
        a,
        b,
        c
    });
    const THREE: Layout = Layout {
        name: "three",
        init: "THREE_INIT",
        min_size: std::mem::offset_of!(Three, b),
        field_ends: &THREE_ENDS,
    };

    #[test]
    fn the_test_layout_is_complete() {
        check_layout::<Three>(&THREE);
        assert_eq!(THREE_ENDS, [8, 12, 16, 24]);
    }

    #[test]
    fn reads_take_missing_fields_as_zero_and_refuse_unknown_ones() {
        let full = Three {
            struct_size: 24,
            a: 1,
            b: 2,
            c: 3,
        };
        assert_eq!(unsafe { THREE.read("f", "x", &full) }, Ok(full));
        // An older, shorter layout: b and c are not read (not even b's first bytes).
        let old = Three {
            struct_size: 15,
            ..full
        };
        let got = unsafe { THREE.read("f", "x", &old) }.unwrap();
        assert_eq!((got.struct_size, got.a, got.b, got.c), (15, 1, 0, 0));
        let too_small = Three {
            struct_size: 11,
            ..full
        };
        assert_eq!(
            unsafe { THREE.read("f", "x", &too_small) },
            Err(crate::result::drfgate_result::InvalidArgument)
        );
        // A newer, longer layout: zero bytes past ours are fine, others refused.
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Newer {
            old: Three,
            d: u64,
        }
        let mut newer = Newer {
            old: Three {
                struct_size: 32,
                ..full
            },
            d: 0,
        };
        let got = unsafe { THREE.read("f", "x", (&newer as *const Newer).cast::<Three>()) };
        assert_eq!(got.map(|t| t.c), Ok(3));
        newer.d = 9;
        let got = unsafe { THREE.read("f", "x", (&newer as *const Newer).cast::<Three>()) };
        assert_eq!(got, Err(crate::result::drfgate_result::InvalidArgument));
    }

    #[test]
    fn writes_stop_at_struct_size_and_zero_what_they_do_not_know() {
        let value = Three {
            struct_size: 999,
            a: 1,
            b: 2,
            c: 3,
        };
        let mut out = [0xAAu8; 40];
        out[..8].copy_from_slice(&14usize.to_ne_bytes());
        unsafe { THREE.write("f", "x", out.as_mut_ptr().cast::<Three>(), &value) }.unwrap();
        assert_eq!(&out[..8], &14usize.to_ne_bytes(), "struct_size left alone");
        assert_eq!(&out[8..12], &1u32.to_ne_bytes());
        assert!(out[12..].iter().all(|&b| b == 0xAA), "nothing past a");

        out[..8].copy_from_slice(&32usize.to_ne_bytes());
        unsafe { THREE.write("f", "x", out.as_mut_ptr().cast::<Three>(), &value) }.unwrap();
        assert_eq!(&out[16..24], &3u64.to_ne_bytes());
        assert!(out[24..32].iter().all(|&b| b == 0), "unknown fields zeroed");
        assert!(
            out[32..].iter().all(|&b| b == 0xAA),
            "nothing past struct_size"
        );
    }
}
