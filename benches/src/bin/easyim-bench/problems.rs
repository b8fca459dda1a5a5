//! Errors and violations, counted by every task of a run.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::report::Report;

/// How many samples of each kind a report keeps.
const SAMPLES: usize = 10;

/// Errors (the run did not go as planned) and violations (the target broke a guarantee),
/// shared by every task of a run, with the first few of each as samples.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub(crate) errors: AtomicU64,
    pub(crate) violations: AtomicU64,
    error_samples: Mutex<Vec<String>>,
    violation_samples: Mutex<Vec<String>>,
}

impl Problems {
    /// Counts one error.
    pub(crate) fn error(&self, s: String) {
        self.errors.fetch_add(1, Relaxed);
        let mut v = self.error_samples.lock().unwrap();
        if v.len() < SAMPLES {
            v.push(s);
        }
    }

    /// Counts one violation.
    pub(crate) fn violation(&self, s: String) {
        self.violations.fetch_add(1, Relaxed);
        let mut v = self.violation_samples.lock().unwrap();
        if v.len() < SAMPLES {
            v.push(s);
        }
    }

    /// Counts `n` violations with one sample for all of them (nothing if `n` is 0).
    pub(crate) fn violations_n(&self, n: u64, s: String) {
        if n == 0 {
            return;
        }
        self.violations.fetch_add(n - 1, Relaxed);
        self.violation(s);
    }

    /// Copies the counts and samples into a report.
    pub(crate) fn fill(&self, r: &mut Report) {
        r.errors = self.errors.load(Relaxed);
        r.violations = self.violations.load(Relaxed);
        r.error_samples = self.error_samples.lock().unwrap().clone();
        r.violation_samples = self.violation_samples.lock().unwrap().clone();
    }
}
