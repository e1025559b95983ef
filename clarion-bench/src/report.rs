//! The bench report: an ordered tree of named figures, printed either as one
//! JSON object (`--json`, for comparing runs) or as an aligned human table.
//! Keys carry their unit (`_us`, `_bytes`, `_per_s`, `_secs`).

use hdrhistogram::Histogram;
use serde_json::Value;

use super::proc_stats::{self, ProcSample};
use super::stats;

#[derive(Debug, Clone)]
enum Node {
    Leaf(Value),
    Section(Vec<(String, Node)>),
}

/// A scenario's results, in insertion order.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    root: Vec<(String, Node)>,
}

impl Report {
    /// A report for `scenario`.
    pub(crate) fn new(scenario: &str) -> Self {
        Self {
            root: vec![("scenario".to_owned(), Node::Leaf(scenario.into()))],
        }
    }

    /// Sets the figure at a dotted `path` (`latency_us.p99`), creating
    /// sections as needed and replacing an existing value.
    pub(crate) fn set(&mut self, path: &str, value: impl Into<Value>) {
        let mut level = &mut self.root;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            let idx = match level.iter().position(|(k, _)| k == part) {
                Some(i) => i,
                None => {
                    level.push((part.to_owned(), Node::Section(Vec::new())));
                    level.len() - 1
                }
            };
            if parts.peek().is_none() {
                level[idx].1 = Node::Leaf(value.into());
                return;
            }
            if matches!(level[idx].1, Node::Leaf(_)) {
                level[idx].1 = Node::Section(Vec::new());
            }
            level = match &mut level[idx].1 {
                Node::Section(children) => children,
                Node::Leaf(_) => unreachable!("replaced by a section above"),
            };
        }
    }

    /// Puts every figure of `other` (but its `scenario`) under `section`.
    pub(crate) fn nest(&mut self, section: &str, other: &Report) {
        let children = other
            .root
            .iter()
            .filter(|(k, _)| k != "scenario")
            .cloned()
            .collect();
        self.root
            .push((section.to_owned(), Node::Section(children)));
    }

    /// Sets a float figure rounded to 2 decimals; `None` becomes `null`.
    pub(crate) fn set_f(&mut self, path: &str, value: Option<f64>) {
        let v = value
            .filter(|v| v.is_finite())
            .map_or(Value::Null, |v| Value::from((v * 100.0).round() / 100.0));
        self.set(path, v);
    }

    /// Sets `{path}.p50 … .max, .mean, .count` from a latency histogram.
    pub(crate) fn set_latency(&mut self, path: &str, h: &Histogram<u64>) {
        self.set(&format!("{path}.count"), h.len());
        for (name, v) in stats::percentiles(h) {
            self.set(&format!("{path}.{name}"), v);
        }
    }

    /// Sets a process's CPU and RSS figures between two samples, with CPU per
    /// `unit` (e.g. `per_message`) when `units` > 0.
    pub(crate) fn set_cpu(
        &mut self,
        path: &str,
        before: Option<ProcSample>,
        after: Option<ProcSample>,
        unit: &str,
        units: u64,
    ) {
        let (Some(b), Some(a)) = (before, after) else {
            return;
        };
        let cpu = proc_stats::cpu_delta_us(&b, &a);
        self.set(&format!("{path}.cpu_us"), cpu);
        self.set_f(
            &format!("{path}.cores_used"),
            Some(proc_stats::cores_used(&b, &a)),
        );
        self.set_f(
            &format!("{path}.cpu_us_{unit}"),
            stats::per_unit(cpu as f64, units),
        );
        self.set(&format!("{path}.rss_bytes"), a.rss_bytes);
        if let Some(sleeps) = proc_stats::sleeps_delta(&b, &a) {
            self.set(&format!("{path}.sleeps"), sleeps);
            self.set_f(
                &format!("{path}.sleeps_{unit}"),
                stats::per_unit(sleeps as f64, units),
            );
        }
    }

    /// Sets `failures.{kind}` counts and `failure_samples.{kind}` messages.
    pub(crate) fn set_failures(&mut self, failures: &[(&'static str, u64, String)]) {
        self.set("failures.total", failures.iter().map(|f| f.1).sum::<u64>());
        for (kind, n, sample) in failures {
            self.set(&format!("failures.{kind}"), *n);
            self.set(&format!("failure_samples.{kind}"), sample.as_str());
        }
    }

    /// The report as one compact JSON object (keys in insertion order).
    pub(crate) fn to_json(&self) -> String {
        let mut out = String::new();
        write_json(&self.root, &mut out);
        out
    }

    /// The report as `dotted.key  value` lines, aligned.
    pub(crate) fn to_human(&self) -> String {
        let mut rows = Vec::new();
        flatten("", &self.root, &mut rows);
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("{k:<width$}  {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn write_json(level: &[(String, Node)], out: &mut String) {
    out.push('{');
    for (i, (k, node)) in level.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(k.as_str()).to_string());
        out.push(':');
        match node {
            Node::Leaf(v) => out.push_str(&v.to_string()),
            Node::Section(children) => write_json(children, out),
        }
    }
    out.push('}');
}

fn flatten(prefix: &str, level: &[(String, Node)], rows: &mut Vec<(String, String)>) {
    for (k, node) in level {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match node {
            Node::Leaf(Value::String(s)) => rows.push((key, s.clone())),
            Node::Leaf(v) => rows.push((key, v.to_string())),
            Node::Section(children) => flatten(&key, children, rows),
        }
    }
}

#[cfg(test)]
mod tests;
