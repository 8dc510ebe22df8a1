//! DRF's rate strings (`SimpleRateThrottle.parse_rate`): `"<num>/<period>"`, where `num` is
//! read as Python's `int()` reads it and only the period's first character counts.

/// A parsed rate: `num` requests per `duration` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Python allows `0` (every request refused) and negative numbers (every request refused,
    /// with no wait); both are kept.
    pub num: i64,
    pub duration: u64,
}

/// `parse_rate(rate)`, or the exception DRF would raise (at request time, where the gate
/// refuses the config at load).
pub fn parse_rate(rate: &str) -> Result<Rate, String> {
    let parts: Vec<&str> = rate.split('/').collect();
    let [num, period] = parts[..] else {
        return Err(format!(
            "{rate:?} is not a rate: DRF splits it on '/' into exactly two parts (ValueError)"
        ));
    };
    let num = python_int(num)
        .ok_or_else(|| format!("{num:?} is not a whole number as Python's int() reads it"))?;
    let duration = match period.chars().next() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86400,
        Some(other) => {
            return Err(format!(
                "the period {period:?} starts with {other:?}: DRF reads only its first \
                 character, which must be s, m, h or d (so \"10/5m\" is an error, not 5 minutes)"
            ))
        }
        None => return Err(format!("{rate:?} has no period after '/' (IndexError)")),
    };
    Ok(Rate { num, duration })
}

/// Python's whitespace (`str.isspace`) within ISO-8859-1, what `int()`, `strip()` and
/// `split()` skip.
pub(crate) fn is_python_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f' | ' ' | '\u{85}' | '\u{a0}'
    ) || (c > '\u{ff}' && c.is_whitespace())
}

/// `int(text)` for base 10: surrounding whitespace, one sign, ASCII digits with single `_`
/// between digits. `None` for anything Python refuses, and for numbers beyond `i64`.
fn python_int(text: &str) -> Option<i64> {
    let text = text.trim_matches(is_python_space);
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value: i64 = 0;
    for b in digits.bytes().filter(|&b| b != b'_') {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> Option<(i64, u64)> {
        parse_rate(text).ok().map(|r| (r.num, r.duration))
    }

    #[test]
    fn rates_parse_as_drf_does() {
        // The table of spec §3.2.
        assert_eq!(rate("100/min"), Some((100, 60)));
        for s in ["5/s", "5/sec", "5/second"] {
            assert_eq!(rate(s), Some((5, 1)));
        }
        assert_eq!(rate("1/h"), Some((1, 3600)));
        assert_eq!(rate("1/hour"), Some((1, 3600)));
        assert_eq!(rate("1/d"), Some((1, 86400)));
        assert_eq!(rate("1/day"), Some((1, 86400)));
        assert_eq!(rate("3/mars"), Some((3, 60)));
        assert_eq!(rate("3/dogs"), Some((3, 86400)));
        assert_eq!(rate("0/m"), Some((0, 60)));
        assert_eq!(rate("-1/m"), Some((-1, 60)));
        assert_eq!(rate(" 3/m"), Some((3, 60)));
        assert_eq!(rate("3 /m"), Some((3, 60)));
        assert_eq!(rate("1_000/m"), Some((1000, 60)));
        assert_eq!(rate("+2/s"), Some((2, 1)));
    }

    #[test]
    fn what_drf_raises_on_is_refused() {
        for bad in [
            "10/5m",
            "3/M",
            "3/x",
            "3/ m",
            "3/",
            "3",
            "3/m/x",
            "1.5/m",
            "_1/m",
            "1__0/m",
            "1_/m",
            "/m",
            "- 1/m",
            "99999999999999999999/m",
        ] {
            assert_eq!(rate(bad), None, "{bad:?}");
        }
    }
}
