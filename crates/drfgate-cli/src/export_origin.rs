//! The header `manage.py drfgate_export` (python/drfgate-django) writes: the URLconf the
//! config came from and the SHA-256 of every byte after the fingerprint's line. `check` prints
//! the origin and warns when the body no longer has that hash: the file was edited by hand, and
//! the next export (or `drfgate_export --check` in CI) will undo or flag the edit. Whether the
//! URLconf itself changed only Django can tell: that is `drfgate_export --check`, which `check
//! --manage-py` runs ([`ask_django`]).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The diff lines `check` shows of a stale export at most: enough to see what changed, and
/// `drfgate_export --check` shows all.
const DIFF_LINES: usize = 40;

/// Asks the project whether `config` is still what `manage.py drfgate_export` writes from its
/// URLconf and settings now (`PYTHON manage.py drfgate_export --check CONFIG`, in manage.py's
/// folder): a line when it is, a warning and the start of the diff when it is not, a warning
/// when Django could not be asked. Never fails `check`: the config itself loaded.
pub fn ask_django(config: &Path, manage_py: &Path, python: &OsStr) -> String {
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
    let (config, manage_py) = (absolute(config), absolute(manage_py));
    let folder = manage_py.parent().unwrap_or(Path::new("/"));
    let asked = Command::new(python)
        .arg(&manage_py)
        .arg("drfgate_export")
        .arg("--check")
        .arg(&config)
        .current_dir(folder)
        .output();
    let shown = format!(
        "{} {} drfgate_export --check {}",
        python.to_string_lossy(),
        manage_py.display(),
        config.display()
    );
    let output = match asked {
        Ok(output) => output,
        Err(error) => return format!("warning: could not run `{shown}`: {error}\n"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        return format!(
            "the URLconf and settings of {} still export this file\n",
            manage_py.display()
        );
    }
    if output.status.code() == Some(1) && stderr.contains(" is stale: ") {
        let mut out = format!(
            "warning: this file was exported from another URLconf or other settings than {} \
             has now: the gate judges by stale rules; export again with `manage.py \
             drfgate_export --output {}` (`{shown}` shows the difference):\n",
            manage_py.display(),
            config.display()
        );
        let lines: Vec<&str> = stdout.lines().collect();
        for line in lines.iter().take(DIFF_LINES) {
            out.push_str(&format!("    {line}\n"));
        }
        if lines.len() > DIFF_LINES {
            out.push_str(&format!("    … {} more lines\n", lines.len() - DIFF_LINES));
        }
        return out;
    }
    let why = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("no message");
    format!("warning: `{shown}` failed ({}): {why}\n", output.status)
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
