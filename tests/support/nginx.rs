//! A real nginx in front of the things under test, configured per test.

use std::path::PathBuf;

use super::{free_port, spawn_with_lifeline, temp_dir, wait_for_port};

pub struct Nginx {
    pub port: u16,
    pub dir: PathBuf,
}

impl Nginx {
    /// Starts nginx with `server_body` inside a `server { listen PORT; ... }` block.
    pub fn start(server_body: &str) -> Nginx {
        Nginx::start_with(|_| (String::new(), server_body.to_string()))
    }

    /// Starts nginx with TLS on its port, serving `leaf` (a certificate from `support::certs`).
    pub fn start_tls(leaf: &super::certs::Leaf, server_body: &str) -> Nginx {
        Nginx::start_with(|dir| {
            std::fs::write(dir.join("server.crt"), &leaf.cert_pem).unwrap();
            std::fs::write(dir.join("server.key"), &leaf.key_pem).unwrap();
            let d = dir.display();
            (
                " ssl".to_string(),
                format!(
                    "    ssl_certificate {d}/server.crt;\n    ssl_certificate_key {d}/server.key;\n{server_body}"
                ),
            )
        })
    }

    /// `setup(dir)` returns the extra `listen` parameters and the server block body.
    fn start_with(setup: impl FnOnce(&std::path::Path) -> (String, String)) -> Nginx {
        let dir = temp_dir("hc-nginx-");
        for sub in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // Workers run as nobody and buffer into these directories.
        let _ = std::process::Command::new("chmod")
            .args(["-R", "777"])
            .arg(&dir)
            .status();
        let (listen_extra, server_body) = setup(&dir);
        let port = free_port();
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;\nuser nobody nogroup;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/client_body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             server {{\n    listen 127.0.0.1:{port}{listen_extra};\n{server_body}\n  }}\n}}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = dir.join("logs/stdout.log");
        spawn_with_lifeline(
            &format!(
                "/usr/sbin/nginx -p {d} -c {} -g 'daemon off;'",
                conf_path.display()
            ),
            &log,
        );
        wait_for_port(port, "nginx", &dir.join("logs/error.log"));
        Nginx { port, dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
