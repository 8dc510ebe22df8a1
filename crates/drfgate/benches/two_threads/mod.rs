//! One timed run of one or two threads doing a fixed number of operations, and whether the
//! threads really ran side by side: on a shared 2-core machine "two threads" often means one
//! after the other, which says nothing about scaling. Shared by `cache_compare` (the cache
//! alone) and `scaling` (whole decisions).

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

/// CPU time this thread has used, exact to the nanosecond (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// One timed run of one or two threads.
#[derive(Clone, Copy)]
pub struct Run {
    /// Wall time ÷ operations of all threads: the inverse of throughput.
    pub wall_ns: f64,
    /// CPU time of all threads ÷ their operations: what one operation costs a core, contention
    /// (cache lines moving between cores) included, descheduled time excluded.
    pub cpu_ns: f64,
    /// Share of the threads' time off a core (given to other work on the machine).
    pub waiting: f64,
    /// Share of the wall time during which every thread was running its loop (1 for one thread).
    pub overlap: f64,
}

impl Run {
    /// Whether the threads really ran side by side, each on a core of its own, most of the
    /// time: with other work on two cores, "two threads" often means one after the other.
    pub fn is_clean(&self) -> bool {
        self.waiting <= 0.05 && self.overlap >= 0.9
    }
}

/// `threads` threads, started together, each doing `op(thread, i)` `ops` times. Wall time runs
/// from the first thread's start to the last one's end, each read by the workers themselves so
/// that the moment the main thread is scheduled does not count.
pub fn run_threads<F: Fn(usize, usize) + Sync>(threads: usize, ops: usize, op: &F) -> Run {
    let start_line = Barrier::new(threads);
    let start_line = &start_line;
    let spans: Vec<_> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread_index| {
                scope.spawn(move || {
                    start_line.wait();
                    let cpu_before = thread_cpu_time();
                    let started = Instant::now();
                    for i in 0..ops {
                        op(thread_index, i);
                    }
                    let ended = Instant::now();
                    let cpu = thread_cpu_time() - cpu_before;
                    // Not on a core while running this loop: nothing here blocks, so the
                    // scheduler had given the core to other work.
                    let waiting = (ended - started).saturating_sub(cpu);
                    (started, ended, cpu, waiting)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("worker"))
            .collect()
    });
    let first_start = spans.iter().map(|span| span.0).min().expect("a thread");
    let last_start = spans.iter().map(|span| span.0).max().expect("a thread");
    let first_end = spans.iter().map(|span| span.1).min().expect("a thread");
    let last_end = spans.iter().map(|span| span.1).max().expect("a thread");
    let wall = (last_end - first_start).as_nanos() as f64;
    let all_ops = (threads * ops) as f64;
    let cpu: f64 = spans.iter().map(|span| span.2.as_nanos() as f64).sum();
    let waiting: f64 = spans.iter().map(|span| span.3.as_nanos() as f64).sum();
    Run {
        wall_ns: wall / all_ops,
        cpu_ns: cpu / all_ops,
        waiting: waiting / (cpu + waiting),
        overlap: first_end.saturating_duration_since(last_start).as_nanos() as f64 / wall,
    }
}

pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    quartiles(values)[1]
}

/// The 25th, 50th and 75th percentiles (nearest rank).
pub fn quartiles(values: impl Iterator<Item = f64>) -> [f64; 3] {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(|a, b| a.total_cmp(b));
    [1, 2, 3].map(|quarter| values[(values.len() - 1) * quarter / 4])
}
