//! The database by its own error: PostgreSQL's SQLSTATE (a changed password, a pg_hba.conf
//! reject, a missing database, no free connection slots, TLS required), TLS on one side only,
//! an address where nothing answers, and a database that is far away. The Workspace Proxies
//! and Provisioner Daemons checks read the database, so their errors follow. Past Coder's
//! ping: a DSN at a standby, pubsub that does not round-trip, connection slots running out.

use super::{account, and_list, cause, cite, line, ran, shown_coded, Diagnosis};
use crate::report::{Code, Evidence, Report, SectionId, Severity, TlsProblem};

/// The name after `key "` in a server message (`user "coder"`, `database "x"`).
fn named<'a>(message: &'a str, key: &str) -> Option<&'a str> {
    let start = message.find(&format!("{key} \""))? + key.len() + 2;
    let len = message[start..].find('"')?;
    Some(&message[start..start + len])
}

fn sqlstate_words(code: &str, message: &str, at: &str, sslmode: Option<&str>) -> String {
    let role = named(message, "user").or_else(|| named(message, "role"));
    let role = role.map_or("the DSN's role".to_string(), |r| format!("role \"{r}\""));
    match code {
        "28P01" => format!(
            "PostgreSQL at {at} rejects the password of {role} (SQLSTATE 28P01: {message:?}): \
             the password was changed on the server but not in the DSN; put the current one in \
             CODER_PG_CONNECTION_URL (coderd fails at start with the same error until then)"
        ),
        "28000" if message.contains("no encryption") && sslmode == Some("disable") => format!(
            "PostgreSQL at {at} turns {role} away without TLS (SQLSTATE 28000: {message:?}) and \
             the DSN's sslmode is disable: most likely the server requires TLS (a hostssl line \
             in pg_hba.conf), so set sslmode=require or verify-full; if TLS is turned away too, \
             pg_hba.conf has no line admitting this role from this host"
        ),
        "28000" => format!(
            "PostgreSQL at {at} turns {role} away in pg_hba.conf (SQLSTATE 28000: {message:?}): \
             add a line admitting this role, database and client address to pg_hba.conf and \
             reload PostgreSQL"
        ),
        "3D000" => {
            let db = named(message, "database").unwrap_or("the DSN's database");
            format!(
                "the database \"{db}\" does not exist on PostgreSQL at {at} (SQLSTATE 3D000): \
                 fix the database name in CODER_PG_CONNECTION_URL, or create it"
            )
        }
        "53300" => format!(
            "PostgreSQL at {at} is out of connection slots (SQLSTATE 53300: {message:?}): every \
             slot under max_connections is taken; as a superuser, see who holds them (SELECT \
             usename, application_name, count(*) FROM pg_stat_activity GROUP BY 1, 2) and stop \
             the leak, or raise max_connections"
        ),
        "57P03" => format!(
            "PostgreSQL at {at} is starting up, shutting down or in recovery (SQLSTATE 57P03: \
             {message:?}): wait for it, or look at its log"
        ),
        other => format!(
            "PostgreSQL at {at} turns the connection away (SQLSTATE {other}: {message:?}): see \
             PostgreSQL's log for the reason"
        ),
    }
}

pub fn refused(report: &Report) -> Option<Diagnosis> {
    let failed = ran(report, SectionId::Database)?.error_coded(Code::Edb01)?;
    let db = &report.database;
    let at = if db.endpoint.is_empty() {
        "the DSN's address"
    } else {
        db.endpoint.as_str()
    };
    let text = match &failed.evidence {
        Some(Evidence::PgSqlstate { code, message }) => {
            sqlstate_words(code, message, at, db.sslmode)
        }
        Some(Evidence::Tls {
            problem: TlsProblem::NotTls,
            ..
        }) => format!(
            "PostgreSQL at {at} does not support TLS, but the DSN's sslmode is {}: turn ssl on \
             in the server, or lower sslmode to prefer if the network path is trusted",
            db.sslmode.unwrap_or("require")
        ),
        Some(Evidence::Tls { problem, .. }) => format!(
            "the TLS handshake with PostgreSQL at {at} fails ({}): give the server's CA with \
             sslrootcert, or fix the server's certificate",
            problem.kind()
        ),
        Some(Evidence::Refused { address }) => format!(
            "nothing listens at the database address {address}: PostgreSQL is down, or the \
             DSN's host or port is wrong"
        ),
        Some(Evidence::Timeout { address, .. }) => format!(
            "the database at {address} gives no answer in time: a firewall drops the \
             connection, or the host or PostgreSQL is down"
        ),
        Some(Evidence::Dns { host, detail }) => {
            format!("the database host {host} does not resolve ({detail}): fix the DSN's host")
        }
        Some(Evidence::Unreachable { address }) => format!(
            "there is no route to the database at {address}: check the address and this host's \
             routes"
        ),
        _ => format!(
            "the database at {at} cannot be reached ({}): check the DSN",
            failed.message
        ),
    };
    let mut d = line(
        Code::Edb01,
        SectionId::Database,
        Severity::Error,
        String::new(),
    );
    cite(&mut d, failed.evidence.as_ref());
    // Refused for want of a slot: the headroom finding is the same fact.
    if matches!(&failed.evidence, Some(Evidence::PgSqlstate { code, .. }) if code == "53300")
        && shown_coded(report, SectionId::Database, Code::Epg02).is_some()
    {
        account(&mut d, SectionId::Database, Some(Code::Epg02));
    }
    let mut follow = Vec::new();
    if let Some(wp) = ran(report, SectionId::WorkspaceProxy) {
        if wp.error_coded(Code::Ewp02).is_some() {
            account(&mut d, SectionId::WorkspaceProxy, Some(Code::Ewp02));
            follow.push("Workspace Proxies");
        }
    }
    if let Some(pd) = ran(report, SectionId::ProvisionerDaemons) {
        if pd.has_error() && pd.severity == Severity::Error {
            account(&mut d, SectionId::ProvisionerDaemons, None);
            follow.push("Provisioner Daemons");
        }
    }
    let follow = if follow.is_empty() {
        String::new()
    } else {
        format!(
            "; the {} check{} read the database, so {} error{} follow from this",
            follow.join(" and "),
            if follow.len() > 1 { "s" } else { "" },
            if follow.len() > 1 { "their" } else { "its" },
            if follow.len() > 1 { "s" } else { "" },
        )
    };
    d.message = format!("{text}{follow}");
    Some(d)
}

pub fn slow(report: &Report) -> Option<Diagnosis> {
    let finding = ran(report, SectionId::Database)?.warning_coded(Code::Edb02)?;
    let db = &report.database;
    let mut d = line(
        Code::Edb02,
        SectionId::Database,
        Severity::Warning,
        String::new(),
    );
    cite(&mut d, finding.evidence.as_ref());
    d.message = format!(
        "the database at {} answers in {} ms (the median of 5 pings; the threshold is {} ms): most \
         likely it is far from this host, since every round trip pays the network delay; if it \
         is near, PostgreSQL itself is busy. `\\timing` and `SELECT 1` in psql on the database \
         host tell the two apart",
        db.endpoint, db.latency_ms, db.threshold_ms
    );
    Some(d)
}

/// Where the database is, for a sentence.
fn database_at(report: &Report) -> &str {
    match report.database.endpoint.as_str() {
        "" => "the DSN's address",
        endpoint => endpoint,
    }
}

pub fn standby(report: &Report) -> Option<Diagnosis> {
    let finding = shown_coded(report, SectionId::Database, Code::Epg03)?;
    Some(cause(
        &finding,
        Code::Epg03,
        SectionId::Database,
        format!(
            "the DSN points at a read-only standby ({} is in recovery): coderd writes to its \
             database and needs the primary; point CODER_PG_CONNECTION_URL at the primary, or \
             at the address that follows it on failover",
            database_at(report)
        ),
    ))
}

pub fn pubsub_broken(report: &Report) -> Option<Diagnosis> {
    let finding = shown_coded(report, SectionId::Database, Code::Epg01)?;
    Some(cause(
        &finding,
        Code::Epg01,
        SectionId::Database,
        format!(
            "coderd's pubsub cannot work through this DSN: a NOTIFY sent to {} never reached a \
             LISTEN on another connection, while queries work. This is what a PgBouncer in \
             transaction or statement pooling mode does; coderd then restarts its pubsub over \
             and over and workspaces do not get their updates. Use session pooling \
             (pool_mode = session) or connect coderd to PostgreSQL directly",
            database_at(report)
        ),
    ))
}

pub fn slots(report: &Report) -> Option<Diagnosis> {
    let base = ran(report, SectionId::Database)?;
    // Refused for want of a slot on connect: `refused` says so.
    if base.error_coded(Code::Edb01).is_some() {
        return None;
    }
    let finding = shown_coded(report, SectionId::Database, Code::Epg02)?;
    let at = database_at(report);
    let holders = report
        .database
        .connections
        .as_ref()
        .filter(|c| !c.top.is_empty())
        .map(|c| {
            let top: Vec<String> = c
                .top
                .iter()
                .map(|h| format!("{} {}", h.name, h.count))
                .collect();
            format!(" (the largest holders: {})", and_list(&top))
        })
        .unwrap_or_default();
    let counts = report
        .database
        .connections
        .as_ref()
        .map(|c| format!("{} of {} slots in use", c.used, c.usable()))
        .unwrap_or_else(|| "the server refused a connection with SQLSTATE 53300".to_string());
    let message = if finding.severity >= Severity::Error {
        format!(
            "PostgreSQL at {at} has no connection slot left for coderd ({counts}){holders}: \
             coderd's next connection fails with SQLSTATE 53300 while /healthz still answers; \
             find the holder that leaks connections and stop it, or raise max_connections"
        )
    } else {
        format!(
            "PostgreSQL at {at} is running out of connection slots ({counts}){holders}: when \
             they are gone coderd's new connections fail; look at the largest holders, or raise \
             max_connections"
        )
    };
    Some(cause(&finding, Code::Epg02, SectionId::Database, message))
}
