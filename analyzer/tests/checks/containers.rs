//! `containers.restarting`.

use super::*;

#[test]
fn containers_restarting_all_outcomes() {
    expect(
        &[healthy("a", "n1")],
        "containers.restarting",
        Outcome::Pass,
        "none of 4 containers",
    );
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["restart_count"] = json!(5);
    });
    expect(
        &[n],
        "containers.restarting",
        Outcome::Warn,
        "restarted 5 times",
    );
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["restart_count"] = json!(12);
    });
    expect(
        &[n],
        "containers.restarting",
        Outcome::Fail,
        "restarted 12 times",
    );
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["state"]["status"] = json!("restarting");
    });
    expect(
        &[n],
        "containers.restarting",
        Outcome::Fail,
        "is restarting",
    );
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v.as_array_mut().unwrap()[1]["state"]["oom_killed"] = json!(true);
    });
    expect(&[n], "containers.restarting", Outcome::Fail, "OOM");
    let mut n = healthy("a", "n1");
    n.edit_json("docker/containers.json", |v| {
        v[0]["state"]["health"] = json!("unhealthy");
    });
    expect(&[n], "containers.restarting", Outcome::Warn, "unhealthy");
    let mut n = healthy("a", "n1");
    no_docker(&mut n);
    expect(
        &[n],
        "containers.restarting",
        Outcome::Unknown,
        "Docker socket",
    );
}
