//! What `contrib/prometheus/` and `contrib/grafana/` ship for monitoring: the alert rules,
//! checked by `promtool check rules` and held to their unit tests by `promtool test rules`
//! (every alert with a case where it fires and one where it stays quiet), and the Grafana
//! dashboard, which must be Grafana's JSON with the expected variables and whose expressions
//! must parse and name only metrics that docs/metrics.md lists, so that renaming a metric
//! breaks this test rather than a dashboard in production. `promtool` comes from Debian's
//! `prometheus` package (scripts/setup), or `$EDGESHIP_PROMTOOL`.

// clippy.toml lets tests unwrap; the helpers below are test code too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use edgeship_testkit::scratch::ScratchDir;
use serde_json::Value;

const RULES: &str = "edgeship.rules.yml";
const RULE_TESTS: &str = "edgeship.rules.test.yml";

/// A file of the repository.
fn repository(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Runs promtool with `args` in `directory` (unit tests name their rule files relative to
/// it); returns whether it passed and what it printed.
fn promtool(directory: &Path, args: &[&str]) -> (bool, String) {
    let program = std::env::var("EDGESHIP_PROMTOOL").unwrap_or_else(|_| "promtool".to_owned());
    let output = Command::new(&program)
        .args(args)
        .current_dir(directory)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run {program} (scripts/setup installs it): {error}")
        });
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

/// A scratch copy of the rules and their tests, the rules edited by `edit`.
fn edited_copy(edit: impl Fn(&str) -> String) -> ScratchDir {
    let scratch = ScratchDir::new("alert-rules").unwrap();
    let prometheus = repository("contrib/prometheus");
    let rules = read(&prometheus.join(RULES));
    let edited = edit(&rules);
    assert_ne!(edited, rules, "the edit changed nothing");
    scratch.write(RULES, edited).unwrap();
    scratch
        .write(RULE_TESTS, read(&prometheus.join(RULE_TESTS)))
        .unwrap();
    scratch
}

#[test]
fn promtool_accepts_the_rules_and_every_unit_test_passes() {
    let directory = repository("contrib/prometheus");
    let (passed, printed) = promtool(&directory, &["check", "rules", RULES]);
    assert!(passed, "promtool check rules: {printed}");
    let (passed, printed) = promtool(&directory, &["test", "rules", RULE_TESTS]);
    assert!(passed, "promtool test rules: {printed}");
}

/// Asserts that promtool's `args` fail on a copy of the rules with `from` replaced by `to`,
/// naming `named` in what it prints.
fn refused(from: &str, to: &str, args: &[&str], named: &str) {
    let scratch = edited_copy(|rules| rules.replacen(from, to, 1));
    let (passed, printed) = promtool(scratch.path(), args);
    assert!(
        !passed,
        "promtool {args:?} passed {from:?} as {to:?}: {printed}"
    );
    assert!(printed.contains(named), "{printed}");
}

#[test]
fn a_rule_changed_against_its_tests_or_broken_is_refused() {
    let test = ["test", "rules", RULE_TESTS];
    // A latency threshold ten times higher no longer fires on the slow case.
    refused(") > 5\n", ") > 50\n", &test, "EdgeshipDeliveryLatencyHigh");
    // A shorter `for:` fires on the near miss that must stay quiet.
    let down = "up{job=\"edgeship\"} == 0\n        for: ";
    refused(
        &format!("{down}5m"),
        &format!("{down}2m"),
        &test,
        "EdgeshipMetricsDown",
    );
    let delivered = "rate(edgeship_records_delivered_total[10m])";
    let unbalanced = delivered.trim_end_matches(')');
    refused(
        delivered,
        unbalanced,
        &["check", "rules", RULES],
        "parse error",
    );
}

/// The alert names the rules define (`- alert: NAME`); commented rules are not counted.
fn alert_names(rules: &str) -> BTreeSet<String> {
    rules
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- alert: "))
        .map(|name| name.trim().to_owned())
        .collect()
}

/// The alerts the unit tests expect to fire somewhere, and those they expect to be quiet
/// somewhere. Each `alert_rule_test` entry starts at its `eval_time` and expects either
/// `exp_alerts: []` or a list of `exp_labels`.
fn tested_alerts(tests: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut entries: Vec<String> = Vec::new();
    for line in tests.lines() {
        let line = line.trim_start();
        if line.starts_with("- eval_time: ") || line.starts_with("- {eval_time: ") {
            entries.push(String::new());
        }
        if let Some(entry) = entries.last_mut() {
            entry.push_str(line);
            entry.push('\n');
        }
    }
    let (mut firing, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for entry in &entries {
        let name: String = entry
            .split("alertname: ")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if entry.contains("exp_alerts: []") {
            quiet.insert(name);
        } else if entry.contains("exp_labels:") {
            firing.insert(name);
        }
    }
    (firing, quiet)
}

#[test]
fn every_alert_has_a_case_where_it_fires_and_one_where_it_stays_quiet() {
    let prometheus = repository("contrib/prometheus");
    let alerts = alert_names(&read(&prometheus.join(RULES)));
    assert!(alerts.len() >= 10, "{alerts:?}");
    // promtool passes a test of an alert name that does not exist, so the names are held to
    // the rules here.
    let (firing, quiet) = tested_alerts(&read(&prometheus.join(RULE_TESTS)));
    assert_eq!(firing, alerts, "alerts with a firing case");
    assert_eq!(quiet, alerts, "alerts with a quiet case");
}

/// The metric names docs/metrics.md's tables list in their first column.
fn documented_metrics() -> BTreeSet<String> {
    read(&repository("docs/metrics.md"))
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|name| name.starts_with("edgeship_"))
        .map(str::to_owned)
        .collect()
}

/// The `edgeship_` names in `text`, skipping those inside a longer name (a recording rule's
/// `level:edgeship_...:rate`) or a dotted word (a configuration key).
fn metric_names(text: &str) -> BTreeSet<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    for (start, _) in text.match_indices("edgeship_") {
        if text[..start].ends_with(|c: char| is_name(c) || c == '.') {
            continue;
        }
        let name: String = text[start..].chars().take_while(|&c| is_name(c)).collect();
        names.insert(name);
    }
    names
}

/// The names in `text` that docs/metrics.md does not list; a histogram's series count by the
/// histogram's name.
fn undocumented(text: &str) -> BTreeSet<String> {
    let documented = documented_metrics();
    let known = |name: &str| {
        documented.contains(name)
            || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|base| documented.contains(base))
            })
    };
    metric_names(text)
        .into_iter()
        .filter(|name| !known(name))
        .collect()
}

#[test]
fn the_rules_name_only_documented_metrics() {
    // The checker itself must see a renamed metric and a histogram series.
    assert_eq!(
        undocumented(
            "rate(edgeship_records_delivered[5m]) + edgeship_delivery_latency_seconds_bucket"
        ),
        BTreeSet::from(["edgeship_records_delivered".to_owned()])
    );
    // The commented spool rule waits for metrics not exported yet.
    let rules: String = read(&repository("contrib/prometheus").join(RULES))
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(metric_names(&rules).len() >= 10);
    assert_eq!(undocumented(&rules), BTreeSet::new());
}

/// Every query expression of the dashboard's panels.
fn dashboard_expressions(dashboard: &Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().unwrap();
    panels
        .iter()
        .filter_map(|panel| panel["targets"].as_array())
        .flatten()
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect()
}

fn dashboard() -> Value {
    let path = repository("contrib/grafana/edgeship.json");
    serde_json::from_str(&read(&path)).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn the_dashboard_is_grafana_json_with_data_source_and_instance_variables() {
    let dashboard = dashboard();
    let schema = dashboard["schemaVersion"].as_u64().unwrap();
    assert!(schema >= 36, "schemaVersion {schema}: older than Grafana 9");
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let variable = |name: &str| variables.iter().find(|variable| variable["name"] == name);
    assert_eq!(variable("datasource").unwrap()["type"], "datasource");
    assert_eq!(variable("datasource").unwrap()["query"], "prometheus");
    assert_eq!(variable("instance").unwrap()["type"], "query");
    // Every panel queries the chosen data source and the chosen instances.
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            assert!(expr.contains("instance=~\"$instance\""), "{expr}");
        }
    }
}

#[test]
fn the_dashboard_queries_parse_and_name_only_documented_metrics() {
    let expressions = dashboard_expressions(&dashboard());
    let all = expressions.join("\n");
    assert_eq!(undocumented(&all), BTreeSet::new());
    // The panels cover traffic, losses, latency, Kafka and runs.
    for name in [
        "edgeship_records_delivered_total",
        "edgeship_records_dropped_total",
        "edgeship_log_overruns_total",
        "edgeship_delivery_latency_seconds_bucket",
        "edgeship_kafka_queue_bytes",
        "edgeship_kafka_broker_rtt_seconds",
        "edgeship_run_info",
    ] {
        assert!(metric_names(&all).contains(name), "no panel shows {name}");
    }
    // promtool parses them as recording rules, Grafana's variables given values.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (index, expression) in expressions.iter().enumerate() {
        let expression = expression
            .replace("$__rate_interval", "5m")
            .replace("$job", ".+")
            .replace("$instance", ".+");
        let quoted = serde_json::to_string(&expression).unwrap();
        rules.push_str(&format!(
            "      - record: dashboard:expression{index}\n        expr: {quoted}\n"
        ));
    }
    let scratch = ScratchDir::new("dashboard-rules").unwrap();
    scratch.write("dashboard.rules.yml", &rules).unwrap();
    let (passed, printed) = promtool(scratch.path(), &["check", "rules", "dashboard.rules.yml"]);
    assert!(passed, "{printed}\n{rules}");
    let broken = rules.replacen("sum by", "sum bye", 1);
    scratch.write("broken.rules.yml", &broken).unwrap();
    let (passed, printed) = promtool(scratch.path(), &["check", "rules", "broken.rules.yml"]);
    assert!(!passed, "promtool accepted a broken expression: {printed}");
}
