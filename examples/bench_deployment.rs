//! The deployments `bench/run` measures, started from the same real and in-process peers the
//! tests use (tests/support): `bench_deployment SCENARIO ENV_FILE` starts them, writes the
//! healthcheck arguments and the hand-run commands' inputs to ENV_FILE (shell syntax), and serves
//! until its standard input closes.
//!
//! Scenarios: `healthy` (all six sections: nginx in front of a Coder look-alike with the DERP
//! relay, coturn, PostgreSQL with Coder's schema, a workspace proxy and a provisioner daemon),
//! `silent` (every peer accepts and never answers), `derp-N` (a DERP map of N dead or silent
//! nodes), `slow-db-MS` (PostgreSQL behind a relay that delays each answer by MS milliseconds),
//! `coderd` (the real coderd of tests/support/coderd.rs, healthy, with coturn for STUN).

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::io::Read;
use std::time::Duration;

use support::coturn::silent_udp;
use support::deployment::Deployment;
use support::http::{fixed_server, path_of, response, stall_server};
use support::postgres::PgServer;
use support::shell_quote;
use support::ws_server::VERSION;

const TOKEN: &str = "bench-owner-Token-1234";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(scenario), Some(env_file)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: bench_deployment healthy|silent|derp-N|slow-db-MS|coderd ENV_FILE");
        std::process::exit(2);
    };
    let mut vars: Vec<(&str, String)> = Vec::new();
    let hc_args: Vec<String>;
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    if scenario == "healthy" {
        let deployment = Deployment::start("bench_healthy", TOKEN);
        let db = &deployment.db;
        let proxy = fixed_server(|head| match path_of(head) {
            "/healthz-report" => response(
                "200 OK",
                &[("Content-Type", "application/json")],
                r#"{"errors":[],"warnings":[]}"#,
            ),
            _ => response("404 Not Found", &[], "not found"),
        });
        db.add_proxy(
            "eu",
            &format!("http://127.0.0.1:{proxy}/"),
            VERSION,
            false,
            5,
        );
        vars.push(("ACCESS_URL", deployment.nginx.url()));
        vars.push(("DSN", db.dsn()));
        hc_args = deployment.args();
        keep.push(Box::new(deployment));
    } else if scenario == "silent" {
        let web = stall_server();
        let db = stall_server();
        hc_args = vec![
            "--access-url".into(),
            format!("http://127.0.0.1:{web}"),
            "--postgres-url".into(),
            format!("postgres://coder:pw@127.0.0.1:{db}/coder?sslmode=disable"),
            "--token".into(),
            TOKEN.into(),
            "--derp-server-stun-addresses".into(),
            format!("127.0.0.1:{}", silent_udp()),
        ];
    } else if let Some(count) = scenario.strip_prefix("derp-") {
        let count: usize = count.parse().expect("derp-N: N is a number");
        let silent = stall_server();
        let dead = support::free_port();
        // Alternate silent and refusing nodes, one region each.
        let regions: Vec<String> = (0..count)
            .map(|i| {
                let port = if i % 2 == 0 { silent } else { dead };
                format!(
                    r#""{id}": {{"RegionID": {id}, "RegionCode": "r{id}", "RegionName": "Region {id}",
                    "Nodes": [{{"Name": "{id}a", "RegionID": {id}, "HostName": "127.0.0.1",
                    "DERPPort": {port}, "STUNPort": -1, "ForceHTTP": true}}]}}"#,
                    id = i + 1
                )
            })
            .collect();
        let map = format!(r#"{{"Regions": {{{}}}}}"#, regions.join(","));
        let path = format!("{env_file}.derp.json");
        std::fs::write(&path, map).expect("write the DERP map");
        hc_args = vec![
            "--only".into(),
            "derp".into(),
            "--derp-server-enable=false".into(),
            "--derp-config-path".into(),
            path,
        ];
    } else if let Some(ms) = scenario.strip_prefix("slow-db-") {
        let delay: u64 = ms.parse().expect("slow-db-MS: MS is a number");
        let server = PgServer::shared();
        let port = support::tcp::delaying_proxy(server.port, Duration::from_millis(delay));
        let dsn = server
            .dsn("sslmode=disable")
            .replace(&format!(":{}/", server.port), &format!(":{port}/"));
        hc_args = vec![
            "--only".into(),
            "database".into(),
            "--postgres-url".into(),
            dsn,
        ];
    } else if scenario == "coderd" {
        let stun = support::coturn::Coturn::start();
        let coderd = support::coderd::Coderd::start(support::coderd::CoderdOptions::new(
            "bench_coderd",
            &stun.addr(),
        ));
        vars.push(("CODERD_URL", coderd.access_url.clone()));
        vars.push(("CODERD_TOKEN", coderd.token.clone()));
        hc_args = coderd.args();
        keep.push(Box::new(coderd));
        keep.push(Box::new(stun));
    } else {
        eprintln!("bench_deployment: unknown scenario {scenario:?}");
        std::process::exit(2);
    }
    let quoted: Vec<String> = hc_args.iter().map(|a| shell_quote(a)).collect();
    let mut text = format!("HC_ARGS=({})\n", quoted.join(" "));
    for (key, value) in vars {
        text.push_str(&format!("{key}={}\n", shell_quote(&value)));
    }
    // Written whole, then renamed: the reader polls for the file.
    let partial = format!("{env_file}.partial");
    std::fs::write(&partial, text).expect("write the env file");
    std::fs::rename(&partial, env_file).expect("publish the env file");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(keep);
}
