//! Matching a `path()` route against `path_info` without a regex engine.
//!
//! A `path()` route is literal text and Django's default converters. Django compiles it to
//! `\A<literal>(?:[0-9]+)<literal>…\Z` and asks whether the whole path matches; only whether a
//! match exists matters here (not the captured values), so the route is run as a set of
//! reachable byte offsets, piece after piece, in time linear in the path per piece and
//! without backtracking blow-ups (`<path:a>/<path:b>` stays linear). The offsets live on the
//! stack for paths up to [`INLINE_POSITIONS`] bytes: a cached decision allocates nothing here.
//!
//! Positions are only ever char boundaries: Python's `[^/]+` counts characters, so two
//! adjacent `<str>` converters need two characters, not two bytes of one.

/// `django.urls.converters.DEFAULT_CONVERTERS`, by what they match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Converter {
    /// `[^/]+`
    Str,
    /// `[0-9]+` (ASCII digits only: `[0-9]` is a range, not `\d`)
    Int,
    /// `[-a-zA-Z0-9_]+`
    Slug,
    /// `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
    Uuid,
    /// `.+` (any character but a newline)
    Path,
}

impl Converter {
    pub(super) fn named(name: &str) -> Option<Converter> {
        Some(match name {
            "str" => Converter::Str,
            "int" => Converter::Int,
            "slug" => Converter::Slug,
            "uuid" => Converter::Uuid,
            "path" => Converter::Path,
            _ => return None,
        })
    }

    /// Whether the character starting with `byte` belongs to a run of this converter.
    /// Looking at the first byte is enough: the ASCII classes refuse every non-ASCII byte,
    /// and `str`/`path` accept every non-ASCII character.
    fn allows(self, byte: u8) -> bool {
        match self {
            Converter::Str => byte != b'/',
            Converter::Int => byte.is_ascii_digit(),
            Converter::Slug => byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_',
            Converter::Path => byte != b'\n',
            // Matched as a whole (fixed length) by `full_match`, never run by run.
            Converter::Uuid => false,
        }
    }
}

/// One piece of a compiled `path()` route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    Literal(Box<str>),
    Converter(Converter),
}

/// Paths up to this many bytes are matched with the offsets on the stack.
pub(super) const INLINE_POSITIONS: usize = 511;
const INLINE_WORDS: usize = (INLINE_POSITIONS + 1).div_ceil(64);

/// A set of byte offsets `0..=len` of the path.
struct Positions {
    inline: [u64; INLINE_WORDS],
    heap: Vec<u64>,
}

impl Positions {
    fn new(len: usize) -> Positions {
        let words = (len + 1).div_ceil(64);
        Positions {
            inline: [0; INLINE_WORDS],
            heap: if words > INLINE_WORDS {
                vec![0; words]
            } else {
                Vec::new()
            },
        }
    }

    fn words(&self) -> &[u64] {
        if self.heap.is_empty() {
            &self.inline
        } else {
            &self.heap
        }
    }

    fn words_mut(&mut self) -> &mut [u64] {
        if self.heap.is_empty() {
            &mut self.inline
        } else {
            &mut self.heap
        }
    }

    fn insert(&mut self, at: usize) {
        self.words_mut()[at / 64] |= 1 << (at % 64);
    }

    fn contains(&self, at: usize) -> bool {
        self.words()[at / 64] & (1 << (at % 64)) != 0
    }

    fn clear(&mut self) {
        self.words_mut().fill(0);
    }

    fn is_empty(&self) -> bool {
        self.words().iter().all(|&word| word == 0)
    }

    /// The smallest offset in the set at or after `from`.
    fn next_at_or_after(&self, from: usize) -> Option<usize> {
        let words = self.words();
        let mut index = from / 64;
        let mut word = *words.get(index)? & (!0u64 << (from % 64));
        loop {
            if word != 0 {
                return Some(index * 64 + word.trailing_zeros() as usize);
            }
            index += 1;
            word = *words.get(index)?;
        }
    }
}

fn is_char_boundary(bytes: &[u8], at: usize) -> bool {
    // Not a UTF-8 continuation byte (0b10xx_xxxx), or the end.
    bytes.get(at).is_none_or(|&byte| (byte as i8) >= -0x40)
}

fn is_uuid(candidate: &[u8]) -> bool {
    candidate.len() == 36
        && candidate.iter().enumerate().all(|(i, &byte)| match i {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => matches!(byte, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// A compiled `path()` route: its pieces, and whether they can be matched in one greedy pass.
#[derive(Debug, Clone)]
pub(super) struct PathPieces {
    pieces: Box<[Piece]>,
    greedy: bool,
}

impl PathPieces {
    pub(super) fn new(pieces: Vec<Piece>) -> PathPieces {
        let greedy = pieces.windows(2).all(|pair| match pair {
            [Piece::Converter(Converter::Uuid), _] | [Piece::Literal(_), _] => true,
            [Piece::Converter(converter), Piece::Literal(literal)] => {
                !converter.allows(literal.as_bytes()[0])
            }
            _ => false,
        });
        PathPieces {
            pieces: pieces.into_boxed_slice(),
            greedy,
        }
    }

    /// Whether the route matches the whole of `text` (Django's `\A…\Z` full match).
    pub(super) fn full_match(&self, text: &str) -> bool {
        if self.greedy {
            greedy_full_match(&self.pieces, text)
        } else {
            full_match(&self.pieces, text)
        }
    }
}

/// The common case, e.g. `api/orders/<int:pk>/`: each converter is followed by the end or by
/// a literal whose first character the converter refuses, so a converter's run must stop at
/// the first character it refuses — one pass, nothing to try again.
fn greedy_full_match(pieces: &[Piece], text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    for piece in pieces {
        match piece {
            Piece::Literal(literal) => {
                if !crate::bytes::starts_with(&bytes[at..], literal.as_bytes()) {
                    return false;
                }
                at += literal.len();
            }
            Piece::Converter(Converter::Uuid) => {
                if !bytes.get(at..at + 36).is_some_and(is_uuid) {
                    return false;
                }
                at += 36;
            }
            &Piece::Converter(converter) => {
                let run = bytes[at..]
                    .iter()
                    .take_while(|&&byte| converter.allows(byte))
                    .count();
                if run == 0 {
                    return false;
                }
                at += run;
            }
        }
    }
    at == bytes.len()
}

/// Whether `pieces`, in order, match the whole of `text` (Django's `\A…\Z` full match), for
/// any route: the set of reachable offsets, piece after piece.
fn full_match(pieces: &[Piece], text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut current = Positions::new(bytes.len());
    let mut next = Positions::new(bytes.len());
    current.insert(0);
    for piece in pieces {
        next.clear();
        let mut from = 0;
        match piece {
            Piece::Literal(literal) => {
                while let Some(at) = current.next_at_or_after(from) {
                    if bytes[at..].starts_with(literal.as_bytes()) {
                        next.insert(at + literal.len());
                    }
                    from = at + 1;
                }
            }
            Piece::Converter(Converter::Uuid) => {
                while let Some(at) = current.next_at_or_after(from) {
                    if bytes.get(at..at + 36).is_some_and(is_uuid) {
                        next.insert(at + 36);
                    }
                    from = at + 1;
                }
            }
            &Piece::Converter(converter) => {
                // One sweep: a run of allowed characters that a reachable offset opens
                // makes every later char boundary inside the run reachable.
                while let Some(start) = current.next_at_or_after(from) {
                    let mut at = start;
                    while at < bytes.len() && converter.allows(bytes[at]) {
                        at += 1;
                        if is_char_boundary(bytes, at) {
                            next.insert(at);
                        }
                    }
                    // Offsets opened inside the run just swept add nothing new.
                    from = at + 1;
                }
            }
        }
        if next.is_empty() {
            return false;
        }
        std::mem::swap(&mut current, &mut next);
    }
    current.contains(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Django's own compilation of the same pieces (`_route_to_regex`), run by the regex
    /// crate, whose classes here mean what Python's do: the reference for the matcher above.
    fn reference_regex(pieces: &[Piece]) -> regex::Regex {
        let mut source = String::from(r"\A");
        for piece in pieces {
            match piece {
                Piece::Literal(text) => source.push_str(&regex::escape(text)),
                Piece::Converter(converter) => source.push_str(match converter {
                    Converter::Str => "(?:[^/]+)",
                    Converter::Int => "(?:[0-9]+)",
                    Converter::Slug => "(?:[-a-zA-Z0-9_]+)",
                    Converter::Uuid => {
                        "(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
                    }
                    Converter::Path => "(?:.+)",
                }),
            }
        }
        source.push_str(r"\z");
        regex::Regex::new(&source).unwrap()
    }

    fn piece() -> impl Strategy<Value = Piece> {
        prop_oneof![
            proptest::sample::select(vec!["/", "a", "x/", "-", "é", "/1", "\n", "ab/"])
                .prop_map(|text| Piece::Literal(text.into())),
            proptest::sample::select(vec![
                Converter::Str,
                Converter::Int,
                Converter::Slug,
                Converter::Uuid,
                Converter::Path,
            ])
            .prop_map(Piece::Converter),
        ]
    }

    /// Texts made of the characters the converters disagree on, and whole UUIDs.
    fn text() -> impl Strategy<Value = String> {
        let unit = proptest::sample::select(vec![
            "/",
            "a",
            "Z",
            "1",
            "-",
            "_",
            "é",
            "\u{661}",
            "\n",
            ".",
            "x/",
            "12345678-9abc-def0-1234-56789abcdef0",
            "12345678-9ABC-def0-1234-56789abcdef0",
        ]);
        proptest::collection::vec(unit, 0..10).prop_map(|units| units.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn matches_exactly_what_djangos_regex_matches(
            pieces in proptest::collection::vec(piece(), 1..6),
            text in text(),
        ) {
            let expected = reference_regex(&pieces).is_match(&text);
            prop_assert_eq!(full_match(&pieces, &text), expected, "{:?} on {:?}", pieces, text);
            // The greedy pass, where the route allows it, agrees too.
            let compiled = PathPieces::new(pieces.clone());
            prop_assert_eq!(compiled.full_match(&text), expected, "{:?} on {:?}", compiled, text);
        }
    }

    #[test]
    fn long_paths_leave_the_stack_and_still_match() {
        let pieces = [
            Piece::Literal("files/".into()),
            Piece::Converter(Converter::Path),
            Piece::Literal("/".into()),
            Piece::Converter(Converter::Path),
            Piece::Literal("/raw".into()),
        ];
        let long = format!("files/{}/{}/raw", "a/".repeat(400), "é".repeat(300));
        assert!(long.len() > INLINE_POSITIONS);
        assert!(full_match(&pieces, &long));
        assert!(!full_match(&pieces, &long.replace("/raw", "/cooked")));
    }

    #[test]
    fn adjacent_str_converters_count_characters_not_bytes() {
        let pieces = [
            Piece::Converter(Converter::Str),
            Piece::Converter(Converter::Str),
        ];
        assert!(!full_match(&pieces, "é"));
        assert!(full_match(&pieces, "éé"));
        assert!(full_match(&pieces, "ab"));
    }
}
