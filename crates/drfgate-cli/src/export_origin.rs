//! The header `manage.py drfgate_export` (python/drfgate-django) writes: the URLconf the
//! config came from and the SHA-256 of every byte after the fingerprint's line. `check` prints
//! the origin and warns when the body no longer has that hash: the file was edited by hand, and
//! the next export (or `drfgate_export --check` in CI) will undo or flag the edit. Whether the
//! URLconf itself changed only Django can tell: that is `drfgate_export --check`.

use sha2::{Digest, Sha256};

const ORIGIN: &str = "# drfgate-export-origin: ";
const FINGERPRINT: &str = "# drfgate-export-fingerprint: sha256:";

/// What `check` adds for an exported config; empty for a hand-written one.
pub fn report(text: &str) -> String {
    let mut origin = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if !line.starts_with('#') {
            break;
        }
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if let Some(rest) = content.strip_prefix(ORIGIN) {
            origin = Some(rest.to_string());
        } else if let Some(recorded) = content.strip_prefix(FINGERPRINT) {
            let origin = origin.as_deref().unwrap_or("an unnamed URLconf");
            let actual = hex(&Sha256::digest(&text.as_bytes()[offset..]));
            return if actual == recorded.trim() {
                format!("exported by drfgate_export from {origin} (fingerprint sha256:{actual})\n")
            } else {
                format!(
                    "exported by drfgate_export from {origin}\n\
                     warning: this file was edited since it was exported (fingerprint \
                     sha256:{recorded} recorded, the content now hashes to sha256:{actual}): \
                     export again with `manage.py drfgate_export`\n"
                )
            };
        }
    }
    String::new()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exported(body: &str) -> String {
        let hash = hex(&Sha256::digest(body.as_bytes()));
        format!("# comment\n{ORIGIN}proj.urls\n{FINGERPRINT}{hash}\n{body}")
    }

    #[test]
    fn an_intact_export_names_its_origin() {
        let text = exported("[gate]\nunmatched = \"pass\"\n");
        assert!(report(&text).starts_with("exported by drfgate_export from proj.urls (fingerprint"));
    }

    #[test]
    fn an_edited_export_is_a_warning_and_a_hand_written_config_says_nothing() {
        let text = exported("[gate]\nunmatched = \"pass\"\n").replace("pass", "deny");
        assert!(report(&text).contains("warning: this file was edited since it was exported"));
        assert_eq!(report("# my config\n[gate]\nunmatched = \"pass\"\n"), "");
    }
}
