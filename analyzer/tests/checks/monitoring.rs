//! `monitoring.*`.

use super::*;

#[test]
fn monitoring_prometheus_pass() {
    expect(
        &[healthy("a", "n1")],
        "monitoring.prometheus",
        Outcome::Pass,
        "scraper was found",
    );
}

#[test]
fn monitoring_prometheus_warn_disabled() {
    let mut n = healthy("a", "n1");
    n.set_json(
        "rocketchat/settings.json",
        json!({"Prometheus_Enabled": false}),
    );
    expect(&[n], "monitoring.prometheus", Outcome::Warn, "disabled");
}

#[test]
fn monitoring_prometheus_env_overrides_setting() {
    let mut n = healthy("a", "n1");
    n.set_json(
        "rocketchat/settings.json",
        json!({"Prometheus_Enabled": false}),
    );
    n.edit_json("docker/containers.json", |v| {
        v[0]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!("OVERWRITE_SETTING_Prometheus_Enabled=true"));
    });
    expect(&[n], "monitoring.prometheus", Outcome::Pass, "enabled");
}

#[test]
fn monitoring_prometheus_warn_no_scraper() {
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v.as_array_mut().unwrap().remove(2);
    });
    expect(
        &[n.clone()],
        "monitoring.prometheus",
        Outcome::Warn,
        "nothing on these nodes scrapes it",
    );
    // compose scrape labels count as a scraper.
    n.edit_json("docker/containers.json", |v| {
        v[0]["labels"]["prometheus.io/scrape"] = json!("true");
    });
    expect(&[n], "monitoring.prometheus", Outcome::Pass, "scraper");
}

#[test]
fn monitoring_prometheus_unknown() {
    let mut n = healthy("a", "n1");
    n.set_json("rocketchat/settings.json", serde_json::Value::Null);
    n.set_json("rocketchat/summary.json", serde_json::Value::Null);
    skip_collector(&mut n, "rocketchat", "no MongoDB URI");
    expect(
        &[n],
        "monitoring.prometheus",
        Outcome::Unknown,
        "exporter is enabled is unknown",
    );
}

#[test]
fn monitoring_grafana_pass_warn_unknown() {
    expect(
        &[healthy("a", "n1")],
        "monitoring.grafana",
        Outcome::Pass,
        "Grafana",
    );
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v.as_array_mut().unwrap().remove(3);
    });
    expect(
        &[n.clone()],
        "monitoring.grafana",
        Outcome::Warn,
        "no Grafana container",
    );
    no_docker(&mut n);
    expect(
        &[n],
        "monitoring.grafana",
        Outcome::Unknown,
        "docker collector was skipped",
    );
}

#[test]
fn monitoring_grafana_on_another_node() {
    let a = healthy("a", "n1");
    let mut b = healthy("b", "n2");
    b.edit_json("docker/containers.json", |v| {
        v.as_array_mut().unwrap().remove(3);
    });
    let mut a2 = a.clone();
    a2.edit_json("docker/containers.json", |v| {
        v.as_array_mut().unwrap().remove(3);
    });
    expect(&[a, b], "monitoring.grafana", Outcome::Pass, "Grafana");
    let _ = a2;
}
