//! A fixed number of worker threads for a list of jobs, so that a long list (a DERP map can name
//! thousands of nodes) never means thousands of threads.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Runs `job(i)` for every `i` in `0..count` on at most `workers` threads named `name-N`, and
/// returns the results in index order; `None` where a job panicked. If no thread can be started
/// at all, the jobs run on the calling thread.
pub fn map<T: Send>(
    count: usize,
    workers: usize,
    name: &str,
    job: impl Fn(usize) -> T + Sync,
) -> Vec<Option<T>> {
    let results: Vec<Mutex<Option<T>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            break;
        }
        let result = catch_unwind(AssertUnwindSafe(|| job(i))).ok();
        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = result;
    };
    std::thread::scope(|scope| {
        let started = (0..workers.min(count))
            .filter(|n| {
                std::thread::Builder::new()
                    .name(format!("{name}-{n}"))
                    .spawn_scoped(scope, work)
                    .is_ok()
            })
            .count();
        if started == 0 {
            work();
        }
    });
    results
        .into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// A list of jobs that grows while workers take from it (the certificates section learns its
/// endpoints in batches, some only after a database query or a DERP map download). Workers
/// call `next` until it returns `None`: the feed is closed and empty.
pub struct Feed<T> {
    state: Mutex<FeedState<T>>,
    ready: Condvar,
}

struct FeedState<T> {
    jobs: VecDeque<T>,
    closed: bool,
}

impl<T> Default for Feed<T> {
    fn default() -> Self {
        Feed {
            state: Mutex::new(FeedState {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }
}

impl<T> Feed<T> {
    pub fn push(&self, job: T) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.jobs.push_back(job);
        self.ready.notify_one();
    }

    /// No more jobs will come; workers finish what is queued and stop.
    pub fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.closed = true;
        self.ready.notify_all();
    }

    /// The next job, waiting for one while the feed is open.
    pub fn next(&self) -> Option<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Closes a feed when dropped, so workers stop even if the code feeding it panics.
pub struct CloseOnDrop<'a, T>(pub &'a Feed<T>);

impl<T> Drop for CloseOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_serves_jobs_pushed_while_workers_wait_and_ends_when_closed() {
        let feed = Feed::default();
        let done = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    while let Some(job) = feed.next() {
                        done.lock().unwrap().push(job);
                    }
                });
            }
            let _closer = CloseOnDrop(&feed);
            for i in 0..10 {
                feed.push(i);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        let mut done = done.into_inner().unwrap();
        done.sort();
        assert_eq!(done, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn every_job_runs_once_in_order_on_few_threads() {
        let threads = Mutex::new(std::collections::HashSet::new());
        let out = map(1000, 4, "test-pool", |i| {
            let name = std::thread::current().name().unwrap_or("").to_string();
            threads.lock().unwrap().insert(name);
            i * 2
        });
        assert_eq!(out.len(), 1000);
        assert!(out.iter().enumerate().all(|(i, r)| *r == Some(i * 2)));
        assert!(threads.into_inner().unwrap().len() <= 4);
    }

    #[test]
    fn a_panicking_job_is_none_and_the_others_still_run() {
        let out = map(5, 2, "check-test-pool", |i| {
            if i == 2 {
                panic!("job 2 fails");
            }
            i
        });
        assert_eq!(out, vec![Some(0), Some(1), None, Some(3), Some(4)]);
    }
}
