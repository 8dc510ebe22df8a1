//! DRF's client identity (`BaseThrottle.get_ident`): `X-Forwarded-For` and `REMOTE_ADDR`,
//! as `NUM_PROXIES` says to combine them. Nothing is validated as an address, as in DRF.

use super::rate::is_python_space;

/// WSGI hands Django header values as ISO-8859-1 text: one char per byte.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// `get_ident()`: `xff` is the `X-Forwarded-For` header (repeated headers joined with `,`),
/// `remote_addr` the `REMOTE_ADDR` variable (`None` reads as Python's `"None"` in a key).
pub fn get_ident(
    xff: Option<&[u8]>,
    remote_addr: Option<&[u8]>,
    num_proxies: Option<u32>,
) -> String {
    let remote = || remote_addr.map_or_else(|| "None".to_string(), latin1);
    match (num_proxies, xff) {
        (Some(0), _) | (Some(_), None) => remote(),
        (Some(n), Some(xff)) => {
            let xff = latin1(xff);
            let parts: Vec<&str> = xff.split(',').collect();
            let index = parts.len() - (n as usize).min(parts.len());
            parts[index].trim_matches(is_python_space).to_string()
        }
        (None, Some(xff)) if !xff.is_empty() => latin1(xff)
            .chars()
            .filter(|&c| !is_python_space(c))
            .collect(),
        (None, _) => remote(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_the_spec() {
        // Spec §3.6: rows are X-Forwarded-For, columns NUM_PROXIES None, 0, 1, 2, 5;
        // REMOTE_ADDR is 9.9.9.9.
        let rows: &[(Option<&str>, [&str; 5])] = &[
            (
                None,
                ["9.9.9.9", "9.9.9.9", "9.9.9.9", "9.9.9.9", "9.9.9.9"],
            ),
            (Some(""), ["9.9.9.9", "9.9.9.9", "", "", ""]),
            (
                Some("1.1.1.1"),
                ["1.1.1.1", "9.9.9.9", "1.1.1.1", "1.1.1.1", "1.1.1.1"],
            ),
            (
                Some("1.1.1.1, 2.2.2.2"),
                [
                    "1.1.1.1,2.2.2.2",
                    "9.9.9.9",
                    "2.2.2.2",
                    "1.1.1.1",
                    "1.1.1.1",
                ],
            ),
            (
                Some(" 1.1.1.1 , 2.2.2.2 ,3.3.3.3 "),
                [
                    "1.1.1.1,2.2.2.2,3.3.3.3",
                    "9.9.9.9",
                    "3.3.3.3",
                    "2.2.2.2",
                    "1.1.1.1",
                ],
            ),
            (
                Some("a b\tc"),
                ["abc", "9.9.9.9", "a b\tc", "a b\tc", "a b\tc"],
            ),
            (Some(","), [",", "9.9.9.9", "", "", ""]),
            (
                Some("1.1.1.1,"),
                ["1.1.1.1,", "9.9.9.9", "", "1.1.1.1", "1.1.1.1"],
            ),
        ];
        for (xff, expected) in rows {
            for (num_proxies, want) in [None, Some(0), Some(1), Some(2), Some(5)]
                .iter()
                .zip(expected)
            {
                assert_eq!(
                    get_ident(xff.map(str::as_bytes), Some(b"9.9.9.9"), *num_proxies),
                    *want,
                    "xff {xff:?}, NUM_PROXIES {num_proxies:?}"
                );
            }
        }
    }

    #[test]
    fn python_whitespace_and_latin1_bytes() {
        // str.split() also splits on the information separators and NBSP.
        assert_eq!(get_ident(Some(b"a\x1fb\xa0c"), None, None), "abc");
        assert_eq!(get_ident(Some(b"\xe9"), None, None), "\u{e9}");
        assert_eq!(get_ident(None, None, None), "None");
    }
}
