//! STUB until wip/parsing lands.
pub enum SchemeCredentials<'a> {
    NotThisScheme,
    NoCredentials,
    TooManyParts,
    Credentials(&'a [u8]),
}
pub fn split_ascii_whitespace(value: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    value
        .split(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .filter(|f| !f.is_empty())
}
pub fn scheme_credentials<'a>(value: &'a [u8], keyword_lower: &[u8]) -> SchemeCredentials<'a> {
    let mut it = split_ascii_whitespace(value);
    let Some(first) = it.next() else {
        return SchemeCredentials::NotThisScheme;
    };
    if !first.eq_ignore_ascii_case(keyword_lower) {
        return SchemeCredentials::NotThisScheme;
    }
    match (it.next(), it.next()) {
        (None, _) => SchemeCredentials::NoCredentials,
        (Some(c), None) => SchemeCredentials::Credentials(c),
        _ => SchemeCredentials::TooManyParts,
    }
}
pub fn cookie_value<'a>(cookie_header: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    cookie_header
        .split(|&b| b == b';')
        .filter_map(|c| {
            let c = c.trim_ascii();
            let i = c.iter().position(|&b| b == b'=')?;
            Some((c[..i].trim_ascii(), c[i + 1..].trim_ascii()))
        })
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .last()
}
