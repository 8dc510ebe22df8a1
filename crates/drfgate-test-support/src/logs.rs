//! The log lines the code under test wrote, for tests that count them ("once per incident,
//! not once per request"). One logger per test binary collects every line; a test picks its
//! own by something only its lines contain (its temporary database's path).

use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Collector {
    lines: Mutex<Vec<(Level, String)>>,
}

impl Log for Collector {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= Level::Warn
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = record.args().to_string();
            self.lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((record.level(), line));
        }
    }

    fn flush(&self) {}
}

fn collector() -> &'static Collector {
    static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector: &'static Collector = Box::leak(Box::new(Collector {
            lines: Mutex::new(Vec::new()),
        }));
        log::set_logger(collector).expect("another logger is installed in this test binary");
        log::set_max_level(LevelFilter::Warn);
        collector
    })
}

/// Starts collecting this binary's warnings and errors (idempotent).
pub fn capture() {
    collector();
}

/// The warnings and errors logged so far that contain `needle`, oldest first, as
/// `"error: …"` / `"warn: …"`.
pub fn lines_containing(needle: &str) -> Vec<String> {
    collector()
        .lines
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(_, line)| line.contains(needle))
        .map(|(level, line)| format!("{}: {line}", level.as_str().to_lowercase()))
        .collect()
}
