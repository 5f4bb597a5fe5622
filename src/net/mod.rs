//! What several checks share: one TLS setup, one HTTP client, PostgreSQL connections, the
//! proxies from the environment.

pub mod conn;
pub mod deadline;
pub mod dsn;
pub mod http;
pub mod lookup;
pub mod pg_sniff;
pub mod postgres;
pub mod proxy;
pub mod tls;

use std::sync::Arc;

/// The network clients a run shares; cheap to clone.
#[derive(Clone)]
pub struct Net {
    pub tls: tls::Tls,
    pub http: http::HttpClient,
    pub proxy: Arc<proxy::ProxyConfig>,
    /// Which proxy each request used, for `--verbose`.
    pub routes: proxy::RouteLog,
}

impl Net {
    /// `extra_ca`: PEM files of trust roots besides the system's; `proxy`: from the
    /// environment (settings).
    pub fn new(extra_ca: &[std::path::PathBuf], proxy: proxy::ProxyConfig) -> Result<Net, String> {
        let tls = tls::Tls::new(extra_ca)?;
        let proxy = Arc::new(proxy);
        let routes = proxy::RouteLog::default();
        let http = http::HttpClient::new(&tls).with_proxy(proxy.clone(), routes.clone());
        Ok(Net {
            tls,
            http,
            proxy,
            routes,
        })
    }

    /// A stream connection to `host:port` (TLS when `tls` is given), through the proxy the
    /// environment names for it, if any. `what` names it in the verbose route log.
    pub fn dial(
        &self,
        what: &str,
        host: &str,
        port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
        deadline: std::time::Instant,
    ) -> Result<conn::Conn, conn::DialError> {
        let route = self.proxy.route(tls.is_some(), host, port);
        self.routes.note(&self.proxy, what, &route);
        let via = match route {
            proxy::Route::Proxy(p) => Some(p),
            proxy::Route::Direct(_) => None,
        };
        conn::dial_via(host, port, tls, via, deadline)
    }
}
