//! The report of a run, and how it is printed: a table (with a ratio column when the server
//! and the baseline ran) or one JSON object.

use serde_json::{json, Value};

use crate::args::{Args, Scenario};

/// What one run measured and found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Ordered metrics: name, value.
    pub(crate) metrics: Vec<(String, f64)>,
    pub(crate) errors: u64,
    pub(crate) error_samples: Vec<String>,
    pub(crate) violations: u64,
    pub(crate) violation_samples: Vec<String>,
}

impl Report {
    /// Appends a metric.
    pub(crate) fn put(&mut self, k: &str, v: f64) {
        self.metrics.push((k.to_string(), v));
    }

    /// A metric's value, if the run measured it.
    pub(crate) fn get(&self, k: &str) -> Option<f64> {
        self.metrics.iter().find(|(n, _)| n == k).map(|(_, v)| *v)
    }

    /// The report as a JSON object (non-finite values as null).
    pub(crate) fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in &self.metrics {
            m.insert(
                k.clone(),
                if v.is_finite() { json!(v) } else { Value::Null },
            );
        }
        m.insert("errors".into(), json!(self.errors));
        m.insert("error_samples".into(), json!(self.error_samples));
        m.insert("violations".into(), json!(self.violations));
        m.insert("violation_samples".into(), json!(self.violation_samples));
        Value::Object(m)
    }
}

/// A value for the table: fewer decimals the larger it is.
fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Prints the runs side by side, each metric on a line, then errors and violations.
pub(crate) fn print_table(args: &Args, runs: &[(&str, Report)]) {
    if args.scenario == Scenario::Accounts {
        println!(
            "scenario {:?}, {} accounts in bursts of {}",
            args.scenario, args.accounts, args.burst
        );
    } else {
        println!(
            "scenario {:?}, transport {:?}, duration {} s",
            args.scenario, args.transport, args.duration
        );
    }
    let mut header = format!("{:<34}", "metric");
    for (name, _) in runs {
        header += &format!("{name:>14}");
    }
    if runs.len() == 2 {
        header += &format!("{:>10}", "ratio");
    }
    println!("{header}");
    let mut names: Vec<String> = Vec::new();
    for (_, r) in runs {
        for (k, _) in &r.metrics {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    for k in names {
        let mut line = format!("{k:<34}");
        let vals: Vec<Option<f64>> = runs.iter().map(|(_, r)| r.get(&k)).collect();
        for v in &vals {
            line += &format!("{:>14}", v.map(fmt).unwrap_or_else(|| "-".into()));
        }
        if let [Some(a), Some(b)] = vals[..] {
            if b != 0.0 && a.is_finite() && b.is_finite() {
                line += &format!("{:>10}", format!("{:.2}", a / b));
            }
        }
        println!("{line}");
    }
    for (name, r) in runs {
        println!("{name}: errors {}, violations {}", r.errors, r.violations);
        for s in &r.error_samples {
            println!("  error: {s}");
        }
        for s in &r.violation_samples {
            println!("  VIOLATION: {s}");
        }
    }
}

/// Prints the runs as one JSON object (with the ratios when there are two).
pub(crate) fn print_json(args: &Args, runs: &[(&str, Report)]) {
    let mut o = serde_json::Map::new();
    o.insert(
        "scenario".into(),
        json!(format!("{:?}", args.scenario).to_lowercase()),
    );
    o.insert(
        "transport".into(),
        json!(format!("{:?}", args.transport).to_lowercase()),
    );
    o.insert("duration_s".into(), json!(args.duration));
    for (n, r) in runs {
        o.insert((*n).into(), r.to_json());
    }
    if let [(_, a), (_, b)] = runs {
        let mut ratios = serde_json::Map::new();
        for (k, v) in &a.metrics {
            if let Some(bv) = b.get(k) {
                if bv != 0.0 && v.is_finite() && bv.is_finite() {
                    ratios.insert(k.clone(), json!(v / bv));
                }
            }
        }
        o.insert("ratio".into(), Value::Object(ratios));
    }
    println!("{}", Value::Object(o));
}
