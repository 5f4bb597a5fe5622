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
        let dir = temp_dir("hc-nginx-");
        for sub in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // Workers run as nobody and buffer into these directories.
        let _ = std::process::Command::new("chmod")
            .args(["-R", "777"])
            .arg(&dir)
            .status();
        let port = free_port();
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;\nuser nobody nogroup;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/client_body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             server {{\n    listen 127.0.0.1:{port};\n{server_body}\n  }}\n}}\n"
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
