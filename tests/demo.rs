//! The demo (examples/demo.rs, run by scripts/demo) as a newcomer uses it: start it, run the
//! command it prints, read the verdict, press Ctrl-C (tests/support/demo.rs does the driving).

mod support;

use std::process::Command;

use support::demo::{codes, demo_binary, Demo};
use support::postgres::PASSWORD;
use support::Output;

/// The demo's own prediction ("exit N, CODE ...") must match what the command does.
fn assert_prediction(demo: &Demo, table: &Output, json: &serde_json::Value) {
    let expected = demo.expected();
    let exit: i32 = expected
        .strip_prefix("exit ")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("Expected line without an exit code: {expected}"));
    assert_eq!(table.code, exit, "{expected}\n{}", table.stdout);
    let found = codes(json);
    for word in expected.split(|c: char| !c.is_ascii_alphanumeric()) {
        let is_code = word.len() > 2
            && word.starts_with('E')
            && word.ends_with(|c: char| c.is_ascii_digit())
            && word[1..]
                .chars()
                .take_while(char::is_ascii_uppercase)
                .count()
                >= 2;
        if is_code {
            assert!(
                found.iter().any(|c| c == word),
                "{word} predicted, found {found:?}"
            );
            assert!(
                table.stdout.contains(word),
                "{word} not in the table:\n{}",
                table.stdout
            );
        }
    }
}

#[test]
fn the_healthy_demo_passes_and_ctrl_c_removes_everything() {
    let demo = Demo::start(&[]);
    let table = demo.run("");
    assert_eq!(table.code, 0, "{}\n{}", table.stdout, table.stderr);
    let last = table.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("6 OK, 0 warning, 0 error, 1 skipped"),
        "{}",
        table.stdout
    );
    let out = demo.run("--json");
    let json = out.json();
    assert_eq!(json["healthy"], true, "{}", out.stdout);
    assert_eq!(codes(&json), Vec::<String>::new());
    assert_eq!(
        json["provisioner_daemons"]["items"][0]["provisioner_daemon"]["name"],
        "built-in"
    );
    assert!(
        !out.all().contains(PASSWORD),
        "the report shows the password"
    );
    assert_prediction(&demo, &table, &json);
    demo.interrupt();
}

#[test]
fn a_stopped_database_gives_edb01() {
    let demo = Demo::start(&["--broken", "database"]);
    let table = demo.run("");
    let json = demo.run("--json").json();
    assert_eq!(table.code, 1, "{}", table.stdout);
    assert!(
        json["database"]["error"]
            .as_str()
            .unwrap()
            .starts_with("EDB01: "),
        "{json}"
    );
    assert_eq!(json["diagnosis"][0]["code"], "EDB01", "{json}");
    assert_eq!(json["access_url"]["severity"], "ok");
    assert_prediction(&demo, &table, &json);
    demo.interrupt();
}

#[test]
fn dropped_upgrade_headers_give_ews01() {
    let demo = Demo::start(&["--broken", "websocket"]);
    let table = demo.run("");
    let json = demo.run("--json").json();
    assert_eq!(table.code, 1, "{}", table.stdout);
    let error = json["websocket"]["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("EWS01: "), "{json}");
    assert!(error.contains("Upgrade"), "{error}");
    assert_eq!(json["database"]["severity"], "ok");
    assert_prediction(&demo, &table, &json);
    demo.interrupt();
}

#[test]
fn a_silent_stun_server_gives_estun01() {
    let demo = Demo::start(&["--broken", "stun"]);
    let table = demo.run("");
    let json = demo.run("--json").json();
    assert_eq!(table.code, 1, "{}", table.stdout);
    assert_eq!(
        support::warning_codes(&json["derp"]["warnings"]),
        ["ESTUN01"],
        "{json}"
    );
    assert_eq!(json["websocket"]["severity"], "ok");
    assert_prediction(&demo, &table, &json);
    demo.interrupt();
}

#[test]
fn an_unknown_breakage_is_a_usage_error() {
    let out = support::run({
        let mut cmd = Command::new(demo_binary());
        cmd.args(["--broken", "disk"]);
        cmd
    });
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr
            .contains("--broken \"disk\": expected one of database, websocket, stun"),
        "{}",
        out.stderr
    );
}
