//! "Did you mean …?": the closest known name to a misspelt one, for every error about an
//! unknown class, setting, backend or hasher.

/// " (did you mean \"X\"?)" when a known name is close enough.
pub(super) fn suggestion(name: &str, known: &[&str]) -> String {
    let short = name.rsplit('.').next().unwrap_or(name);
    let best = known
        .iter()
        .map(|k| {
            let k_short = k.rsplit('.').next().unwrap_or(k);
            let score = strsim::jaro_winkler(name, k).max(strsim::jaro_winkler(short, k_short));
            (score, *k)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((score, k)) if score >= 0.85 => format!(" (did you mean \"{k}\"?)"),
        _ => String::new(),
    }
}
