//! A small in-process metrics registry rendered in the Prometheus text format. Each process
//! (and each test app) owns its own, so figures never leak between them.

use std::{collections::BTreeMap, fmt::Write, sync::Mutex};

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type Key = (&'static str, String);

#[derive(Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Counters and histograms keyed by name and label set.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<Key, u64>>,
    histograms: Mutex<BTreeMap<Key, Histogram>>,
    help: Mutex<BTreeMap<&'static str, &'static str>>,
}

/// `{a="x",b="y"}` with values escaped.
fn label_set(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)]) {
        self.help.lock().expect("metrics lock").insert(name, help);
        *self
            .counters
            .lock()
            .expect("metrics lock")
            .entry((name, label_set(labels)))
            .or_default() += 1;
    }

    /// Makes a counter's series exist at zero before its first increment. Prometheus's
    /// `increase()` cannot see the first increment of a series that appears already at 1, so
    /// the series that alerts watch are declared when the process starts.
    pub fn declare_counter(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)]) {
        self.help
            .lock()
            .expect("metrics lock")
            .entry(name)
            .or_insert(help);
        self.counters
            .lock()
            .expect("metrics lock")
            .entry((name, label_set(labels)))
            .or_default();
    }

    /// Records a duration in a histogram.
    pub fn observe(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        seconds: f64,
    ) {
        self.help.lock().expect("metrics lock").insert(name, help);
        let mut histograms = self.histograms.lock().expect("metrics lock");
        let h = histograms.entry((name, label_set(labels))).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The current value of a counter (for tests and health decisions).
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let key = label_set(labels);
        self.counters
            .lock()
            .expect("metrics lock")
            .iter()
            .find(|((n, l), _)| *n == name && *l == key)
            .map_or(0, |(_, v)| *v)
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let help = self.help.lock().expect("metrics lock").clone();
        let mut out = String::new();
        let counters = self.counters.lock().expect("metrics lock").clone();
        let mut last = "";
        for ((name, labels), value) in &counters {
            if *name != last {
                let _ = writeln!(
                    out,
                    "# HELP {name} {}\n# TYPE {name} counter",
                    help.get(name).unwrap_or(&"")
                );
                last = name;
            }
            let _ = writeln!(out, "{name}{labels} {value}");
        }
        let histograms = self.histograms.lock().expect("metrics lock").clone();
        last = "";
        for ((name, labels), h) in &histograms {
            if *name != last {
                let _ = writeln!(
                    out,
                    "# HELP {name} {}\n# TYPE {name} histogram",
                    help.get(name).unwrap_or(&"")
                );
                last = name;
            }
            let inner = labels.trim_start_matches('{').trim_end_matches('}');
            let sep = if inner.is_empty() { "" } else { "," };
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{inner}{sep}le=\"{bound}\"}} {}",
                    h.buckets[i]
                );
            }
            let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum{labels} {}", h.sum);
            let _ = writeln!(out, "{name}_count{labels} {}", h.count);
        }
        out
    }
}

/// Appends a gauge family to rendered text.
pub fn write_gauge(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// Label set text for gauges.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    label_set(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_prometheus_text_format() {
        let m = Metrics::default();
        m.inc("azione_test_total", "Things.", &[("outcome", "ok")]);
        m.inc("azione_test_total", "Things.", &[("outcome", "ok")]);
        m.observe("azione_test_seconds", "Time.", &[("route", "/a\"b")], 0.003);
        let text = m.render();
        assert!(
            text.contains(
                "# TYPE azione_test_total counter\nazione_test_total{outcome=\"ok\"} 2\n"
            )
        );
        assert!(text.contains("azione_test_seconds_bucket{route=\"/a\\\"b\",le=\"0.0025\"} 0"));
        assert!(text.contains("azione_test_seconds_bucket{route=\"/a\\\"b\",le=\"0.005\"} 1"));
        assert!(text.contains("azione_test_seconds_count{route=\"/a\\\"b\"} 1"));
        assert_eq!(m.counter("azione_test_total", &[("outcome", "ok")]), 2);
    }

    #[test]
    fn a_declared_counter_renders_at_zero_and_counts_on_from_there() {
        let m = Metrics::default();
        m.declare_counter("azione_test_total", "Things.", &[("outcome", "bad")]);
        assert!(
            m.render()
                .contains("azione_test_total{outcome=\"bad\"} 0\n")
        );
        m.inc("azione_test_total", "Things.", &[("outcome", "bad")]);
        m.declare_counter("azione_test_total", "Things.", &[("outcome", "bad")]);
        assert!(
            m.render()
                .contains("azione_test_total{outcome=\"bad\"} 1\n")
        );
    }
}
