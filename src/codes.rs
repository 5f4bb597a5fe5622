//! The catalogue of stable finding codes. The table, the JSON, `explain`, `codes` and the man page all
//! read it, so a code's wording lives here and nowhere else.

use crate::report::{Code, Severity};

/// Everything we tell a person about one code.
pub struct CodeInfo {
    pub code: Code,
    /// The section that produces it (`None` for EUNKNOWN, which any section can produce).
    pub section: Option<&'static str>,
    pub severity: Severity,
    pub title: &'static str,
    pub problem: &'static str,
    pub solution: &'static str,
    /// Where the code is documented.
    pub docs: Docs,
}

/// Which documentation a code's link points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Docs {
    /// Coder's health-check page, under `--docs-url`.
    Coder,
    /// Our own README, for codes beyond Coder's.
    Ours,
}

impl Code {
    pub fn info(self) -> &'static CodeInfo {
        CATALOGUE
            .iter()
            .find(|info| info.code == self)
            .expect("every code has a catalogue entry (checked by a test)")
    }

    /// Where an installed package keeps the documentation of our own codes, for hosts without
    /// a browser or network; Coder's codes have none.
    pub fn offline_docs(self) -> Option<&'static str> {
        (self.info().docs == Docs::Ours).then_some(crate::defaults::INSTALLED_README)
    }

    /// Coder's codes: `{base}/admin/monitoring/health-check#{code in lower case}`, as Coder
    /// links them. Ours: the code's section of our README (`base` plays no part).
    pub fn docs_url(self, base: &str) -> String {
        if self.info().docs == Docs::Ours {
            return format!(
                "{}#{}",
                crate::defaults::OWN_DOCS_URL,
                self.as_str().to_ascii_lowercase()
            );
        }
        let base = if base.trim().is_empty() {
            crate::defaults::DOCS_URL.to_string()
        } else {
            // Control characters are never part of a URL; printed raw they would be terminal
            // escapes.
            crate::text::percent_encode_controls(base.trim_end_matches('/'))
        };
        format!(
            "{base}/admin/monitoring/health-check#{}",
            self.as_str().to_ascii_lowercase()
        )
    }
}

pub static CATALOGUE: &[CodeInfo] = &[
    CodeInfo {
        code: Code::Eacs01,
        section: Some("access-url"),
        severity: Severity::Error,
        title: "Access URL not set",
        problem: "No access URL is configured. Coder hands this URL to workspace agents, the CLI and \
                  browsers; without it, workspaces cannot reach the server.",
        solution: "Set --access-url (CODER_ACCESS_URL) to the external URL users and workspaces use \
                   to reach Coder, for example https://coder.example.com, and restart the server.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Eacs02,
        section: Some("access-url"),
        severity: Severity::Error,
        title: "Access URL invalid",
        problem: "The configured access URL cannot be parsed as an http or https URL, so the \
                  /healthz endpoint cannot be derived from it.",
        solution: "Correct --access-url (CODER_ACCESS_URL): it needs an http:// or https:// scheme \
                   and a host name, for example https://coder.example.com.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Eacs03,
        section: Some("access-url"),
        severity: Severity::Error,
        title: "Failed to fetch /healthz",
        problem: "The /healthz endpoint behind the access URL could not be fetched: the name did not \
                  resolve, the connection was refused or timed out, or TLS failed.",
        solution: "Check that Coder is running and that the access URL resolves and is reachable \
                   from here (DNS, firewall, load balancer), and that its TLS certificate is valid \
                   for the host and trusted. Coder's server logs may say more.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Eacs04,
        section: Some("access-url"),
        severity: Severity::Warning,
        title: "/healthz did not return 200 OK",
        problem: "The access URL answered, but /healthz did not return 200 with Coder's \"OK\". \
                  Usually something in front of Coder (a reverse proxy, load balancer or \
                  authenticating proxy) answered instead of Coder.",
        solution: "Check the reverse proxy or load balancer that serves the access URL: it must \
                   forward requests to a running Coder server and must not require a login for \
                   /healthz. Coder's server logs may say more.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Ews01,
        section: Some("websocket"),
        severity: Severity::Error,
        title: "Failed to establish a WebSocket connection",
        problem: "A WebSocket connection to the Coder server could not be opened. Terminals, web \
                  IDEs, agents and workspace proxies all depend on WebSockets.",
        solution: "Make sure every proxy or load balancer in front of Coder passes the Upgrade and \
                   Connection headers (in nginx: proxy_http_version 1.1 and the two \
                   proxy_set_header lines). A 401 or 403 means the session token is missing, \
                   expired or not an owner's.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Ews02,
        section: Some("websocket"),
        severity: Severity::Error,
        title: "Failed to echo a WebSocket message",
        problem: "The WebSocket connection opened, but a message could not be sent or no answer \
                  came back: something closed or stalled the connection.",
        solution: "Check proxies and load balancers between here and Coder for idle or read \
                   timeouts and buffering that cut WebSocket connections short.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Ews03,
        section: Some("websocket"),
        severity: Severity::Error,
        title: "Unexpected WebSocket message",
        problem: "The answer on the WebSocket connection was not the message that was sent (wrong \
                  content or wrong frame type): something in the path rewrote it, or the endpoint \
                  is not Coder.",
        solution: "Check what sits between here and Coder: the access URL must reach Coder through \
                   proxies that pass WebSocket frames unchanged.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Edb01,
        section: Some("database"),
        severity: Severity::Error,
        title: "Database ping failed",
        problem: "The PostgreSQL database could not be reached, or it rejected the connection or a \
                  ping. Coder cannot work without its database.",
        solution: "Check that PostgreSQL is running and reachable from the Coder host, and that the \
                   connection URL (CODER_PG_CONNECTION_URL) has the right host, port, user, password \
                   and sslmode.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Edb02,
        section: Some("database"),
        severity: Severity::Warning,
        title: "Database ping slow",
        problem: "The median of five database pings reached the threshold. Slow database round \
                  trips make every Coder request slow.",
        solution: "Check the database's load and resources and the network between Coder and \
                   PostgreSQL (same region or zone). If the latency is expected, raise \
                   --health-check-threshold-database (CODER_HEALTH_CHECK_THRESHOLD_DATABASE).",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Ederp01,
        section: Some("derp"),
        severity: Severity::Warning,
        title: "DERP node uses WebSocket",
        problem: "The DERP relay refused the \"Upgrade: DERP\" connection, so clients fell back to \
                  DERP over WebSocket, which is slower.",
        solution: "Let the load balancer or proxy in front of the relay pass \"Upgrade: DERP\" \
                   (for example, pass the client's Upgrade header instead of a fixed value).",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Ederp02,
        section: Some("derp"),
        severity: Severity::Warning,
        title: "One DERP node unhealthy",
        problem: "One node of a DERP region with several nodes is unhealthy. The region still \
                  works, but connections through it may be degraded.",
        solution: "Look at the failing node named in the finding: is its relay running, reachable \
                   and answering STUN where STUN is enabled?",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Estun01,
        section: Some("derp"),
        severity: Severity::Warning,
        title: "No STUN servers available",
        problem: "STUN is configured, but no STUN server answered. Without STUN, clients cannot \
                  find direct connections and all traffic goes through DERP relays.",
        solution: "Allow outbound UDP to the STUN servers (--derp-server-stun-addresses), or point \
                   Coder at STUN servers that are reachable from the network.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Estun02,
        section: Some("derp"),
        severity: Severity::Warning,
        title: "STUN mapping varies by destination",
        problem: "Different STUN servers saw different public addresses for the same socket: this \
                  host is behind a hard NAT, which often defeats direct connections.",
        solution: "Direct connections may fail and traffic will use DERP relays. If direct \
                   connections matter, use a NAT with endpoint-independent mapping or give the \
                   host a public address.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Ewp01,
        section: Some("workspace-proxy"),
        severity: Severity::Warning,
        title: "Error updating workspace proxy health",
        problem: "The health of the workspace proxies could not be refreshed as a whole.",
        solution: "Check that the proxies' URLs are reachable from here and look at the detail in \
                   the finding; Coder's server logs may say more.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Ewp02,
        section: Some("workspace-proxy"),
        severity: Severity::Error,
        title: "Error fetching workspace proxies",
        problem: "The list of workspace proxies could not be read from Coder's database.",
        solution: "Check the database connection and that the DSN points at Coder's database with \
                   read access to its tables.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Ewp04,
        section: Some("workspace-proxy"),
        severity: Severity::Warning,
        title: "One or more workspace proxies unhealthy",
        problem: "At least one workspace proxy is unreachable or reports errors or warnings.",
        solution: "Check the named proxies: that they run, that their URL is reachable, and what \
                   their own health report (/healthz-report) says.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Epd01,
        section: Some("provisioner-daemons"),
        severity: Severity::Error,
        title: "No provisioner daemons available",
        problem: "No provisioner daemon has been seen recently, so no workspace can be built, \
                  started or stopped.",
        solution: "Start provisioner daemons, or keep the built-in ones enabled \
                   (CODER_PROVISIONER_DAEMONS greater than 0), and check that external daemons \
                   can reach Coder.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Epd02,
        section: Some("provisioner-daemons"),
        severity: Severity::Warning,
        title: "Provisioner daemon version mismatch",
        problem: "A provisioner daemon runs a different major or minor version than the Coder \
                  server. Builds may fail or behave differently.",
        solution: "Upgrade or downgrade the named daemons to the server's version.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Epd03,
        section: Some("provisioner-daemons"),
        severity: Severity::Warning,
        title: "Provisioner daemon API version deprecated",
        problem: "A provisioner daemon speaks an older major version of the provisioner API than \
                  the server's current one; support for it may be removed.",
        solution: "Upgrade the named daemons to the server's version.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Eunknown,
        section: None,
        severity: Severity::Error,
        title: "Unknown error",
        problem: "A check failed in a way it has no specific code for: it crashed, overran its \
                  deadline, or found data it could not interpret.",
        solution: "Read the message of the finding. If it is a crash of healthcheck itself, \
                   please report it with the output of --verbose.",
        docs: Docs::Coder,
    },
    CodeInfo {
        code: Code::Etls01,
        section: Some("certificates"),
        severity: Severity::Warning,
        title: "TLS certificate expires soon",
        problem: "A TLS certificate of an endpoint Coder depends on (the access URL, a DERP relay, a \
                  workspace proxy or PostgreSQL) expires within the warning period \
                  (--cert-expiry-warning, 14 days by default). When it expires, browsers, agents \
                  and the CLI will refuse to connect.",
        solution: "Renew the certificate named in the finding and reload the server that presents \
                   it; if renewal is automatic (ACME, cert-manager), check why it has not run.",
        docs: Docs::Ours,
    },
    CodeInfo {
        code: Code::Etls02,
        section: Some("certificates"),
        severity: Severity::Error,
        title: "TLS certificate expired or not yet valid",
        problem: "A TLS certificate of an endpoint Coder depends on has expired, or its validity \
                  has not started yet. Clients that verify certificates refuse to connect.",
        solution: "Renew the certificate named in the finding and reload the server that presents \
                   it. A certificate that is not yet valid usually means a wrong clock, here or \
                   where it was issued: check NTP.",
        docs: Docs::Ours,
    },
    CodeInfo {
        code: Code::Elst01,
        section: Some("access-url"),
        severity: Severity::Warning,
        title: "Coder answers locally, but not at the access URL",
        problem: "coderd answers /healthz on its own listener (CODER_HTTP_ADDRESS or \
                  CODER_TLS_ADDRESS), but the access URL fails: the fault is between the two, in \
                  DNS, a load balancer, a reverse proxy or a firewall.",
        solution: "Follow the path from the access URL to coderd: does the name resolve to the load \
                   balancer, does the reverse proxy forward to the address coderd listens on, does \
                   a firewall drop the traffic? The proxy's own logs usually say.",
        docs: Docs::Ours,
    },
    CodeInfo {
        code: Code::Elst02,
        section: Some("access-url"),
        severity: Severity::Error,
        title: "Coder does not answer on its own listener",
        problem: "Nothing answered /healthz as coderd on the address its configuration names \
                  (CODER_HTTP_ADDRESS or CODER_TLS_ADDRESS): the server is down, still starting, \
                  or listening somewhere else.",
        solution: "Check the coder service (systemctl status coder, journalctl -u coder) and that \
                   CODER_HTTP_ADDRESS / CODER_TLS_ADDRESS match where it listens.",
        docs: Docs::Ours,
    },
    CodeInfo {
        code: Code::Eurl01,
        section: Some("access-url"),
        severity: Severity::Warning,
        title: "coderd advertises another access URL",
        problem: "The access URL coderd advertises (dashboard_url in /api/v2/buildinfo, which is \
                  its CODER_ACCESS_URL) differs from the one this check uses: agents, DERP clients \
                  and links are sent to the advertised one, which may be a loopback or internal \
                  address they cannot reach.",
        solution: "Set CODER_ACCESS_URL on coderd to the URL users and agents reach it at, and \
                   restart it; or, if the advertised URL is the right one, check that.",
        docs: Docs::Ours,
    },
    CodeInfo {
        code: Code::Epg01,
        section: Some("database"),
        severity: Severity::Error,
        title: "Database LISTEN/NOTIFY does not round-trip",
        problem: "Queries work through this DSN, but a notification sent on one connection did \
                  not reach a listener on another within the deadline. Coder's pubsub (build \
                  logs, workspace updates, its own watchdog) runs on PostgreSQL LISTEN/NOTIFY; \
                  when it breaks, coderd restarts itself every few minutes. The usual cause is a \
                  PgBouncer (or another pooler) in transaction or statement pooling mode, which \
                  hands the listening server connection to other clients.",
        solution: "Point CODER_PG_CONNECTION_URL at PostgreSQL directly, or at a pool in session \
                   pooling mode (PgBouncer: pool_mode = session for Coder's database).",
        docs: Docs::Ours,
    },
    CodeInfo {
        code: Code::Epg02,
        section: Some("database"),
        severity: Severity::Error,
        title: "Database connection slots running out",
        problem: "The connections in use reach --db-connections-warning (80% by default) of the \
                  slots a non-superuser may take (max_connections minus the reserved slots): a \
                  warning; none left, or a connection refused with SQLSTATE 53300 (too many \
                  clients): an error. coderd then fails requests while /healthz stays green.",
        solution: "Find who holds the connections (the finding names the top holders by \
                   application name or user), lower the pools of the clients (coderd's own, \
                   other applications) or raise max_connections on the server.",
        docs: Docs::Ours,
    },
    CodeInfo {
        code: Code::Epg03,
        section: Some("database"),
        severity: Severity::Error,
        title: "Database DSN points at a standby",
        problem: "The server behind the DSN is in recovery (pg_is_in_recovery() is true): a read \
                  replica or a standby. coderd writes on every request and needs the primary.",
        solution: "Point CODER_PG_CONNECTION_URL at the primary (or at the address that follows \
                   the primary on failover), and check whether a failover left the old address \
                   at a standby.",
        docs: Docs::Ours,
    },
    CodeInfo {
        code: Code::Epq01,
        section: Some("provisioner-daemons"),
        severity: Severity::Error,
        title: "Provisioner jobs pending too long",
        problem: "Workspace builds or template imports have waited longer than \
                  --job-pending-warning (5 minutes by default) without starting. When no live \
                  provisioner daemon offers their organization, provisioner type and tags, they \
                  will wait forever: an error. When a matching daemon exists, the queue is only \
                  slow: a warning.",
        solution: "Start a provisioner daemon with the tags the finding names (coder provisioner \
                   start --tag key=value), or correct the template's provisioner tags; for a slow \
                   queue, add daemons.",
        docs: Docs::Ours,
    },
    CodeInfo {
        code: Code::Elic01,
        section: Some("workspace-proxy"),
        severity: Severity::Error,
        title: "Coder license expires soon or has expired",
        problem: "The latest license in Coder's database expires within --license-expiry-warning \
                  (30 days by default): a warning; every license has expired: an error. Premium \
                  features, workspace proxies among them, stop working when it expires.",
        solution: "Renew the license and add it (coder licenses add, or the Licenses page of the \
                   deployment settings).",
        docs: Docs::Ours,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_exactly_one_entry() {
        for code in Code::ALL {
            assert_eq!(
                CATALOGUE.iter().filter(|i| i.code == code).count(),
                1,
                "{code}"
            );
        }
        assert_eq!(CATALOGUE.len(), Code::ALL.len());
    }

    #[test]
    fn parse_is_case_insensitive() {
        assert_eq!(Code::parse("edb02"), Some(Code::Edb02));
        assert_eq!(Code::parse("EUNKNOWN"), Some(Code::Eunknown));
        assert_eq!(Code::parse("EWP03"), None);
    }

    #[test]
    fn our_codes_link_to_our_readme() {
        for code in Code::ALL {
            let url = code.docs_url("https://example.com/docs");
            assert_eq!(
                url.starts_with("https://example.com/docs/"),
                code.is_coders(),
                "{url}"
            );
        }
        assert!(Code::Etls01.docs_url("").ends_with("README.md#etls01"));
    }

    #[test]
    fn docs_links_follow_coder() {
        assert_eq!(
            Code::Eacs03.docs_url(""),
            "https://coder.com/docs/admin/monitoring/health-check#eacs03"
        );
        assert_eq!(
            Code::Eacs03.docs_url("https://example.com/docs/"),
            "https://example.com/docs/admin/monitoring/health-check#eacs03"
        );
    }
}
