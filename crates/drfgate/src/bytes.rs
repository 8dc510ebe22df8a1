//! Equality of short byte strings (header names, a route's literal text, methods) without a
//! call to `memcmp`: on the hot path these are a few bytes each, and the library call costs
//! more than the comparison (BENCHMARKS.md, Round 4).

/// `a == b`, inlined: eight bytes at a time, the last (partial) word read as the last eight
/// bytes again; below eight bytes, four at a time or byte by byte.
#[inline]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if len >= 8 {
        let word = |bytes: &[u8], at: usize| {
            u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
        };
        let mut at = 0;
        while at + 8 < len {
            if word(a, at) != word(b, at) {
                return false;
            }
            at += 8;
        }
        return word(a, len - 8) == word(b, len - 8);
    }
    if len >= 4 {
        let word = |bytes: &[u8], at: usize| {
            u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
        };
        return word(a, 0) == word(b, 0) && word(a, len - 4) == word(b, len - 4);
    }
    let mut different = 0u8;
    for i in 0..len {
        different |= a[i] ^ b[i];
    }
    different == 0
}

/// `text.starts_with(prefix)`, as [`same`].
#[inline]
pub(crate) fn starts_with(text: &[u8], prefix: &[u8]) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| same(head, prefix))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_the_slice_comparisons(
            a in proptest::collection::vec(0u8..4, 0..24),
            b in proptest::collection::vec(0u8..4, 0..24),
        ) {
            prop_assert_eq!(super::same(&a, &b), a == b);
            prop_assert_eq!(super::starts_with(&a, &b), a.starts_with(&b));
            prop_assert!(super::same(&a, &a.clone()));
        }
    }
}
