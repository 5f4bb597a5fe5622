//! Hostile input, round 2 (issue 23), and two defects of issue 22: forward proxies that reset,
//! go silent, answer with many headers or refuse (in-process, for faults no real proxy gives on
//! demand; tinyproxy where a real one shows it), watch mode through a silent proxy, the
//! certificates section against hundreds of endpoints and odd certificates, and `--output`
//! against files another user planted.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::certs::{Leaf, TestCa};
use support::nginx::Nginx;
use support::tinyproxy::Tinyproxy;
use support::{healthcheck, run, temp_dir, Output};

/// A name nothing resolves: a request for it succeeds only through a proxy that knows it.
const HOST: &str = "coder.hostile2.test";
const PROXY_USER: &str = "hc2user";
const PROXY_PASSWORD: &str = "Hostile2-Proxy-Secret";

/// `healthcheck run ARGS` with `env`; the proxy password is never printed.
fn run_with(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = healthcheck();
    cmd.arg("run").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(cmd);
    assert!(!out.all().contains(PROXY_PASSWORD), "{}", out.all());
    out
}

/// An in-process forward proxy: `serve` gets each accepted connection; the counter counts them.
fn fault_proxy(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let serve = serve.clone();
            std::thread::spawn(move || serve(stream));
        }
    });
    (port, accepted)
}

/// Answers CONNECT with 200, then says nothing until the client goes away.
fn silent_after_connect(mut stream: TcpStream) {
    support::http::read_head(&mut stream);
    let _ = stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// Closes with a TCP reset (SO_LINGER 0) as soon as the connection is accepted.
fn reset_at_once(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// Copies both ways between a client and `port` on loopback until either side closes.
fn pump_to(client: TcpStream, port: u16) {
    let Ok(origin) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let (mut c2, mut o2) = (client.try_clone().unwrap(), origin.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut o2);
        let _ = o2.shutdown(Shutdown::Write);
    });
    let (mut client, mut origin) = (client, origin);
    let _ = std::io::copy(&mut origin, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
}

/// nginx over TLS for `HOST` answering /healthz as Coder does, and the CA file that trusts it.
fn https_origin() -> (Nginx, String) {
    let ca = TestCa::new("hostile2 CA");
    let leaf = ca.leaf(&[HOST, "127.0.0.1"]);
    let nginx = Nginx::start_tls(
        &leaf,
        "    location = /healthz { add_header X-Coder-Build-Version v2.18.1; return 200 'OK'; }",
    );
    let ca_path = ca.write(&temp_dir("hc-hostile2-ca-"));
    (nginx, ca_path.display().to_string())
}

fn access_url_error(out: &Output) -> String {
    out.json()["access_url"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// ---- Defect 3: every phase through a proxy runs under the deadline; nothing outlives a run.

#[test]
fn https_through_a_proxy_that_goes_silent_after_connect_ends_at_the_deadline() {
    let (port, accepted) = fault_proxy(silent_after_connect);
    let url = format!("https://{HOST}");
    let started = Instant::now();
    let out = run_with(
        &[("HTTPS_PROXY", &format!("http://127.0.0.1:{port}"))],
        &[
            "--json",
            "--only",
            "access-url",
            "--access-url",
            &url,
            "--timeout",
            "2s",
        ],
    );
    let elapsed = started.elapsed();
    let error = access_url_error(&out);
    assert!(error.starts_with("EACS03: "), "{}", out.stdout);
    assert!(error.contains("timed out"), "{error}");
    assert!(error.contains("TLS handshake through the proxy"), "{error}");
    assert!(!out.all().contains("EUNKNOWN"), "{}", out.all());
    // The run's bound (timeout + 0.5 s), with room for a loaded machine; the old client was
    // abandoned as EUNKNOWN instead.
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    // /healthz and /api/v2/buildinfo.
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

/// Threads and open descriptors of a running process.
fn threads_and_fds(pid: u32) -> (usize, usize) {
    let count = |dir: String| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    (
        count(format!("/proc/{pid}/task")),
        count(format!("/proc/{pid}/fd")),
    )
}

#[test]
fn watch_through_a_silent_proxy_keeps_threads_and_descriptors_flat() {
    let (port, accepted) = fault_proxy(silent_after_connect);
    let dir = temp_dir("hc-hostile2-watch-");
    let report = dir.join("report.json");
    let mut cmd = healthcheck();
    cmd.args(["run", "--format", "json", "--only", "access-url"])
        .args(["--access-url", &format!("https://{HOST}")])
        .args(["--timeout", "250ms", "--watch", "100ms"])
        .arg("--output")
        .arg(&report)
        .env("HTTPS_PROXY", format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    // Each run opens one tunnel; sample at the same moment of a run: just after its CONNECT.
    let sample_at = |runs: usize| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while accepted.load(Ordering::SeqCst) < runs {
            assert!(Instant::now() < deadline, "only {runs} runs");
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(50));
        threads_and_fds(pid)
    };
    // Two tunnels a run (/healthz and /api/v2/buildinfo): 51 runs between the samples.
    let before = sample_at(10);
    let after = sample_at(112);
    let _ = child.kill();
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    let _ = child.wait();
    assert!(
        after.0 <= before.0 + 5,
        "threads grew from {} to {} over 51 runs; stderr: {stderr}",
        before.0,
        after.0
    );
    assert!(
        after.1 <= before.1 + 5,
        "descriptors grew from {} to {} over 51 runs; stderr: {stderr}",
        before.1,
        after.1
    );
    let last: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let error = last["access_url"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("timed out"), "{last:#}");
}

// ---- Defect 6: a proxy that resets at once is an error, never a panic.

#[test]
fn a_proxy_that_resets_at_once_never_panics() {
    let (port, accepted) = fault_proxy(reset_at_once);
    let proxy = format!("http://127.0.0.1:{port}");
    // Watch mode repeats the race many times in one process; every run must be a finding.
    let mut cmd = healthcheck();
    cmd.args(["run", "--format", "json", "--only", "access-url"])
        .args(["--access-url", &format!("https://{HOST}")])
        .args(["--timeout", "1s", "--watch", "10ms"])
        .env("HTTPS_PROXY", &proxy)
        .env("HTTP_PROXY", &proxy)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // Read as it comes: a full pipe would stall the runs.
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::BufReader::new(stdout).read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    // Two tunnels a run (/healthz and /api/v2/buildinfo).
    while accepted.load(Ordering::SeqCst) < 400 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    let stdout = reader.join().unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 100, "{} runs", lines.len());
    for line in &lines[..lines.len() - 1] {
        let report: serde_json::Value = serde_json::from_str(line).unwrap();
        let error = report["access_url"]["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("EACS03: "), "{error}");
        assert!(!error.contains("panic"), "{error}");
        // Our own tunnel's words (ureq's never named the proxy).
        assert!(error.contains(&format!("proxy {proxy}")), "{error}");
    }
    // Plain http through the same proxy.
    let out = run_with(
        &[("HTTP_PROXY", &proxy)],
        &[
            "--json",
            "--only",
            "access-url",
            "--access-url",
            "http://coder.hostile2.test",
        ],
    );
    let error = access_url_error(&out);
    assert!(error.starts_with("EACS03: "), "{error}");
    assert!(error.contains("proxy"), "{error}");
}

// ---- Defect 7: an IPv6 proxy literal works for plain requests too.

#[test]
fn an_ipv6_proxy_literal_carries_healthz_and_the_certificate_read() {
    let (nginx, ca) = https_origin();
    let proxy = Tinyproxy::start_on("::1", &[HOST], PROXY_USER, PROXY_PASSWORD);
    let proxy_url = format!("http://{PROXY_USER}:{PROXY_PASSWORD}@[::1]:{}", proxy.port);
    let url = format!("https://{HOST}:{}", nginx.port);
    let out = run_with(
        &[("HTTPS_PROXY", &proxy_url)],
        &[
            "--json",
            "--only",
            "access-url,certificates",
            "--access-url",
            &url,
            "--ca-cert",
            &ca,
            "--timeout",
            "4s",
        ],
    );
    let json = out.json();
    assert_eq!(
        json["access_url"]["severity"], "ok",
        "{:#}",
        json["access_url"]
    );
    assert_eq!(json["access_url"]["healthz_response"], "OK");
    assert_eq!(
        json["certificates"]["severity"], "ok",
        "{:#}",
        json["certificates"]
    );
    assert!(proxy.log().contains(HOST), "{}", proxy.log());
}

// ---- Defect 9: the proxy's own answer is shown; many headers are read or named.

#[test]
fn https_through_a_refusing_proxy_shows_its_status() {
    let proxy = Tinyproxy::start(&[HOST], PROXY_USER, PROXY_PASSWORD);
    // The proxy cannot resolve this name, so it refuses the tunnel with a status of its own.
    let out = run_with(
        &[("HTTPS_PROXY", &proxy.url())],
        &[
            "--json",
            "--only",
            "access-url",
            "--access-url",
            "https://unknown.hostile2.test",
            "--timeout",
            "4s",
        ],
    );
    let error = access_url_error(&out);
    assert!(error.starts_with("EACS03: "), "{error}");
    assert!(
        error.contains("refused CONNECT unknown.hostile2.test:443: HTTP 5"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "http://{PROXY_USER}:[REDACTED]@127.0.0.1:{}",
            proxy.port
        )),
        "{error}"
    );
    assert!(!error.contains("Proxy failed to connect"), "{error}");
}

#[test]
fn a_connect_reply_with_many_headers_is_read_or_named() {
    let (nginx, ca) = https_origin();
    let origin = nginx.port;
    let with_headers = |count: usize| {
        fault_proxy(move |mut stream| {
            support::http::read_head(&mut stream);
            let mut reply = String::from("HTTP/1.1 200 Connection established\r\n");
            for i in 0..count {
                reply.push_str(&format!("X-Proxy-Note-{i}: {i}\r\n"));
            }
            reply.push_str("\r\n");
            if stream.write_all(reply.as_bytes()).is_ok() {
                pump_to(stream, origin);
            }
        })
        .0
    };
    let args = |url: &str, ca: &str| -> Vec<String> {
        [
            "--json",
            "--only",
            "access-url,websocket",
            "--access-url",
            url,
            "--ca-cert",
            ca,
        ]
        .map(String::from)
        .to_vec()
    };
    let url = format!("https://{HOST}:{origin}");
    let forty = format!("http://127.0.0.1:{}", with_headers(40));
    let a = args(&url, &ca);
    let out = run_with(
        &[("HTTPS_PROXY", &forty)],
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(out.json()["access_url"]["severity"], "ok", "{}", out.stdout);
    let too_many = format!("http://127.0.0.1:{}", with_headers(300));
    let out = run_with(
        &[("HTTPS_PROXY", &too_many)],
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let json = out.json();
    for section in ["access_url", "websocket"] {
        let error = json[section]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("the answer to CONNECT has more than 128 headers"),
            "{section}: {error}"
        );
    }
}

// ---- Defect 10: an IPv4-mapped loopback address goes direct, as in Go.

#[test]
fn an_ipv4_mapped_loopback_url_goes_direct() {
    let origin = support::http::coder_like("v2.18.1");
    let (proxy_port, accepted) = fault_proxy(reset_at_once);
    let out = run_with(
        &[("HTTP_PROXY", &format!("http://127.0.0.1:{proxy_port}"))],
        &[
            "--json",
            "--only",
            "access-url",
            "--access-url",
            &format!("http://[::ffff:127.0.0.1]:{origin}"),
        ],
    );
    let json = out.json();
    assert_eq!(
        json["access_url"]["severity"], "ok",
        "{:#}",
        json["access_url"]
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

// ---- Defect 4: the certificates section reads many endpoints on a bounded pool.

#[test]
fn hundreds_of_tls_endpoints_use_a_bounded_number_of_threads() {
    const NODES: usize = 600;
    // Listeners that never accept: the kernel completes the TCP handshake and the TLS
    // handshake then waits for the deadline, so every read would hold a thread to the end.
    let listeners: Vec<TcpListener> = (0..NODES)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let nodes: Vec<serde_json::Value> = listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            serde_json::json!({"Name": format!("n{i}"), "RegionID": 1, "HostName": "127.0.0.1",
                "DERPPort": l.local_addr().unwrap().port(), "STUNPort": -1})
        })
        .collect();
    let map = serde_json::json!({"Regions": {"1": {"RegionID": 1, "RegionCode": "many",
        "RegionName": "Many", "Nodes": nodes}}});
    let dir = temp_dir("hc-hostile2-certs-");
    let map_path = dir.join("derpmap.json");
    std::fs::write(&map_path, map.to_string()).unwrap();
    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--only", "certificates"])
        .args([
            "--derp-server-enable=false",
            "--derp-server-stun-addresses",
            "disable",
        ])
        .arg("--derp-config-path")
        .arg(&map_path)
        .args(["--timeout", "1500ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let mut peak = 0;
    let out = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| child.wait_with_output().unwrap());
        while !waiter.is_finished() {
            peak = peak.max(threads_and_fds(pid).0);
            std::thread::sleep(Duration::from_millis(1));
        }
        waiter.join().unwrap()
    });
    drop(listeners);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(peak < 100, "peak of {peak} threads for {NODES} endpoints");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let unread = json["certificates"]["unread"].as_array().unwrap();
    assert_eq!(unread.len(), NODES, "{:#}", json["certificates"]);
    for u in unread {
        let error = u["error"].as_str().unwrap();
        assert!(
            error.contains("timed out") || error.contains("deadline"),
            "{error}"
        );
    }
    // Nothing was read, so the section is not OK but skipped, with the reason (issue 22).
    assert_eq!(json["certificates"]["skipped"], true);
    assert!(json["certificates"]["skip_reason"]
        .as_str()
        .unwrap()
        .starts_with("no certificate could be read: 127.0.0.1:"));
}

// ---- Defect 8 and 9: odd certificates.

/// nginx over TLS on 127.0.0.1 with `leaf`.
fn serving(leaf: &Leaf) -> (Nginx, String) {
    let nginx = Nginx::start_tls(leaf, "    location / { return 200 'OK'; }");
    let url = format!("https://127.0.0.1:{}", nginx.port);
    (nginx, url)
}

#[test]
fn a_certificate_of_the_1950s_is_read_and_expired() {
    let ca = TestCa::new("hostile2 old CA");
    let leaf = ca.leaf_valid(
        &["127.0.0.1"],
        time::macros::datetime!(1955-03-01 0:00 UTC),
        time::macros::datetime!(1965-03-01 0:00 UTC),
    );
    let (_nginx, url) = serving(&leaf);
    let out = run_with(
        &[],
        &["--json", "--only", "certificates", "--access-url", &url],
    );
    let json = out.json();
    let section = &json["certificates"];
    let cert = &section["certificates"][0];
    assert_eq!(cert["not_before"], "1955-03-01T00:00:00Z", "{section:#}");
    assert_eq!(cert["not_after"], "1965-03-01T00:00:00Z", "{section:#}");
    assert_eq!(support::warning_codes(&section["warnings"]), ["ETLS02"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    // The expiry metric has its sample.
    let out = run_with(
        &[],
        &[
            "--format",
            "prometheus",
            "--only",
            "certificates",
            "--access-url",
            &url,
        ],
    );
    let expiry = time::macros::datetime!(1965-03-01 0:00 UTC).unix_timestamp() as f64;
    let sample = out
        .stdout
        .lines()
        .find(|l| l.starts_with("coder_healthcheck_tls_certificate_expiry_timestamp_seconds{"))
        .unwrap_or_else(|| panic!("no expiry sample:\n{}", out.stdout));
    let value: f64 = sample.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(value, expiry, "{sample}");
}

#[test]
fn a_certificate_with_a_100kb_subject_is_named_as_too_large() {
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let long = "x".repeat(100 * 1024);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, long.as_str());
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let leaf = Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    };
    let (_nginx, url) = serving(&leaf);
    let out = run_with(
        &[],
        &[
            "--json",
            "--only",
            "access-url,certificates",
            "--access-url",
            &url,
        ],
    );
    let json = out.json();
    let error = access_url_error(&out);
    assert!(
        error.contains("larger than TLS clients accept (64 KiB)"),
        "{error}"
    );
    assert!(!error.contains("did not speak TLS"), "{error}");
    let unread = json["certificates"]["unread"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        unread.contains("larger than TLS clients accept"),
        "{:#}",
        json["certificates"]
    );
}

// ---- Issue 22: an https:// URL at a plain-HTTP port says so.

#[test]
fn an_https_url_at_a_plain_http_port_suggests_http() {
    let nginx = Nginx::start("    location = /healthz { return 200 'OK'; }");
    let url = format!("https://127.0.0.1:{}", nginx.port);
    let out = run_with(
        &[],
        &["--json", "--only", "access-url", "--access-url", &url],
    );
    let error = access_url_error(&out);
    assert!(error.contains("looks like a plain-HTTP port"), "{error}");
    assert!(error.contains("try http://"), "{error}");
    assert!(!error.contains("InvalidContentType"), "{error}");
}

// ---- Issue 22: the redaction leaves the DSN's settings readable.

#[test]
fn a_dsn_requiring_tls_from_a_plain_server_names_sslmode() {
    let pg = support::postgres::PgServer::shared();
    let dsn = pg.dsn_for(
        support::postgres::USER,
        support::postgres::PASSWORD,
        "coder",
        // The query alone: the old scrubber hid a URL's whole query wherever it appeared.
        "sslmode=require",
    );
    let out = run_with(
        &[],
        &["--json", "--only", "database", "--postgres-url", &dsn],
    );
    assert!(
        !out.all().contains(support::postgres::PASSWORD),
        "{}",
        out.all()
    );
    let error = out.json()["database"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("sslmode=require requires it"), "{error}");
    assert!(!error.contains("[REDACTED] requires"), "{error}");
}

// ---- Defect 5: --output and files of other users.

/// Runs `cmd` (a shell command line) as the unprivileged user `nobody`.
fn as_nobody(cmd: &str) {
    let status = std::process::Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "sh",
            "-c",
            cmd,
        ])
        .status()
        .unwrap();
    assert!(status.success(), "{cmd}");
}

fn quick_run_to(output: &std::path::Path) -> Output {
    let mut cmd = healthcheck();
    cmd.args(["run", "--format", "prometheus", "--only", "access-url"])
        .args(["--access-url", "http://127.0.0.1:1", "--timeout", "1s"])
        .arg("--output")
        .arg(output);
    run(cmd)
}

#[test]
fn output_never_follows_a_symlink_another_user_planted() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test plants files as another user"
    );
    let victims = temp_dir("hc-hostile2-victim-");
    let victim = victims.join("precious.conf");
    std::fs::write(&victim, "precious\n").unwrap();
    // A sticky world-writable folder (as /tmp), and a folder the other user owns.
    let sticky = temp_dir("hc-hostile2-sticky-");
    std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let theirs = temp_dir("hc-hostile2-theirs-");
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
    let status = std::process::Command::new("chown")
        .args(["nobody:nogroup"])
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(status.success());
    for dir in [&sticky, &theirs] {
        let link = dir.join("coder.prom");
        as_nobody(&format!(
            "ln -s {} {}",
            support::shell_quote(&victim.display().to_string()),
            support::shell_quote(&link.display().to_string())
        ));
        let out = quick_run_to(&link);
        assert_eq!(out.code, 2, "{}", out.all());
        assert!(
            out.stderr.contains(&format!(
                "cannot write --output {}: {} is a symbolic link owned by another user",
                link.display(),
                link.display()
            )),
            "{}",
            out.stderr
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }
    // A planted link to a folder is not followed either.
    let folder_link = sticky.join("reports");
    as_nobody(&format!(
        "ln -s {} {}",
        support::shell_quote(&victims.display().to_string()),
        support::shell_quote(&folder_link.display().to_string())
    ));
    let out = quick_run_to(&folder_link.join("precious.conf"));
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains(&format!(
            "{} is a symbolic link owned by another user",
            folder_link.display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // A link of our own is still followed (the report lands in the file it names).
    let ours = sticky.join("ours.prom");
    let real = victims.join("real.prom");
    std::os::unix::fs::symlink(&real, &ours).unwrap();
    let out = quick_run_to(&ours);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .contains("coder_healthcheck_healthy 0"));
}

#[test]
fn output_over_another_users_set_id_file_gets_a_plain_mode() {
    let dir = temp_dir("hc-hostile2-mode-");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let file = dir.join("coder.prom");
    as_nobody(&format!(
        "echo old > {f} && chmod 6777 {f}",
        f = support::shell_quote(&file.display().to_string())
    ));
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(format!(
        "umask 027 && exec {} run --format prometheus --only access-url --access-url http://127.0.0.1:1 --timeout 1s --output {}",
        support::shell_quote(env!("CARGO_BIN_EXE_healthcheck")),
        support::shell_quote(&file.display().to_string())
    ));
    cmd.env("HEALTHCHECK_ENV_FILE", "/dev/null");
    let out = run(cmd);
    assert_eq!(out.code, 1, "{}", out.all());
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(meta.uid(), unsafe { libc::geteuid() });
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("coder_healthcheck_healthy 0"));
}

#[test]
fn output_takes_a_250_character_file_name() {
    let dir = temp_dir("hc-hostile2-long-");
    // Valid (a name may have 255 bytes); a temporary name built from it would not be.
    let file = dir.join(format!("{}.prom", "n".repeat(245)));
    let out = quick_run_to(&file);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("coder_healthcheck_healthy 0"));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

// ---- Issue 22, defect 6: a certificates section that read nothing is not OK.

#[test]
fn a_certificates_section_that_read_nothing_is_skipped_with_the_reason() {
    let closed = support::free_port();
    let out = run_with(
        &[],
        &[
            "--json",
            "--only",
            "certificates",
            "--access-url",
            &format!("https://127.0.0.1:{closed}"),
        ],
    );
    let section = &out.json()["certificates"];
    assert_eq!(section["skipped"], true, "{section:#}");
    let reason = section["skip_reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "no certificate could be read: 127.0.0.1:{closed} (access URL"
        )),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "connect to 127.0.0.1:{closed}: Connection refused"
        )),
        "{reason}"
    );
    assert_eq!(
        section["unread"][0]["endpoint"],
        format!("127.0.0.1:{closed}")
    );
    // The table shows it skipped, not OK.
    let mut cmd = healthcheck();
    cmd.args(["run", "--only", "certificates", "--access-url"])
        .arg(format!("https://127.0.0.1:{closed}"));
    let table = run(cmd);
    let line = table
        .stdout
        .lines()
        .find(|l| l.contains("TLS Certificates"))
        .unwrap_or_else(|| panic!("{}", table.stdout));
    assert!(!line.contains("OK"), "{line}\n{}", table.stdout);
}
