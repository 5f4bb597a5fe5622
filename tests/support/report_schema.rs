//! The shape of `--json` as Coder's own client types declare it (`HealthcheckReport` and friends
//! in Coder's generated TypeScript), written out here so a report that a typed client would
//! reject fails a test. A small language: `"string"`, `"number"`, `"boolean"`, `"X|null"`, a key
//! whose type starts with `?` may be absent, `[T]` is an array of T, `{"*": T}` a map of T, any
//! other object lists required keys (extra keys, our additive fields, are allowed).

use serde_json::{json, Value};

fn message() -> Value {
    json!({"code": "string", "message": "string"})
}

fn base(extra: Value) -> Value {
    let mut fields = json!({
        "error": "?string",
        "severity": "severity",
        "warnings": [message()],
        "dismissed": "boolean",
    });
    for (k, v) in extra.as_object().unwrap() {
        fields[k] = v.clone();
    }
    fields
}

/// `HealthcheckReport`.
pub fn health_report() -> Value {
    let node = json!({
        "healthy": "boolean", "severity": "severity", "warnings": [message()], "error": "?string",
        "node": {"Name": "string", "RegionID": "number", "HostName": "string"},
        "node_info": {"TokenBucketBytesPerSecond": "number", "TokenBucketBytesBurst": "number"},
        "can_exchange_messages": "boolean", "round_trip_ping": "string",
        "round_trip_ping_ms": "number", "uses_websocket": "boolean",
        "client_logs": [["string"]], "client_errs": [["string"]],
        "stun": {"Enabled": "boolean", "CanSTUN": "boolean", "Error": "string|null"},
    });
    let region = json!({
        "healthy": "boolean", "severity": "severity", "warnings": [message()], "error": "?string",
        "region": {"RegionID": "number", "RegionCode": "string", "RegionName": "string",
                   "Nodes": [{"Name": "string"}]},
        "node_reports": [node],
    });
    let proxy = json!({
        "id": "string", "name": "string", "display_name": "string", "icon_url": "string",
        "healthy": "boolean", "path_app_url": "string", "wildcard_hostname": "string",
        "derp_enabled": "boolean", "derp_only": "boolean",
        "status": {"status": "string", "report": {"errors": ["string"], "warnings": ["string"]},
                   "checked_at": "string"},
        "created_at": "string", "updated_at": "string", "deleted": "boolean", "version": "string",
    });
    let daemon = json!({
        "id": "string", "organization_id": "string", "key_id": "string", "created_at": "string",
        "last_seen_at": "?string|null", "name": "string", "version": "string",
        "api_version": "string", "provisioners": ["string"], "tags": {"*": "string"},
        "key_name": "string|null", "status": "string|null",
    });
    json!({
        "time": "string",
        "healthy": "boolean",
        "severity": "severity",
        "coder_version": "string",
        "access_url": base(json!({"healthy": "boolean", "access_url": "string",
            "reachable": "boolean", "status_code": "number", "healthz_response": "string"})),
        "websocket": base(json!({"healthy": "boolean", "body": "string", "code": "number"})),
        "database": base(json!({"healthy": "boolean", "reachable": "boolean",
            "latency": "string", "latency_ms": "number", "threshold_ms": "number"})),
        "derp": base(json!({"healthy": "boolean", "regions": {"*": region},
            "netcheck_logs": ["string"]})),
        "workspace_proxy": base(json!({"healthy": "boolean",
            "workspace_proxies": {"regions": [proxy]}})),
        "provisioner_daemons": base(json!({"items": [{"provisioner_daemon": daemon,
            "warnings": [message()]}]})),
    })
}

/// Every place where `value` does not have the shape of `schema`, as `path: why` lines.
pub fn mismatches(value: &Value, schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(value, schema, "$", &mut out);
    out
}

fn check(value: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    match schema {
        Value::String(kind) => {
            let kind = kind.trim_start_matches('?');
            let fits = kind.split('|').any(|k| match k {
                "string" => value.is_string(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "null" => value.is_null(),
                "severity" => matches!(value.as_str(), Some("ok" | "warning" | "error")),
                other => panic!("unknown schema type {other}"),
            });
            if !fits {
                out.push(format!("{path}: expected {kind}, found {value}"));
            }
        }
        Value::Array(items) => match value.as_array() {
            Some(values) => {
                for (i, v) in values.iter().enumerate() {
                    check(v, &items[0], &format!("{path}[{i}]"), out);
                }
            }
            None => out.push(format!("{path}: expected an array, found {value}")),
        },
        Value::Object(fields) => {
            let Some(object) = value.as_object() else {
                out.push(format!("{path}: expected an object, found {value}"));
                return;
            };
            if let Some(each) = fields.get("*") {
                for (k, v) in object {
                    check(v, each, &format!("{path}.{k}"), out);
                }
                return;
            }
            for (key, field) in fields {
                let optional = field.as_str().is_some_and(|s| s.starts_with('?'));
                match object.get(key) {
                    Some(v) => check(v, field, &format!("{path}.{key}"), out),
                    None if optional => {}
                    None => out.push(format!("{path}.{key}: missing")),
                }
            }
        }
        other => panic!("unknown schema {other}"),
    }
}
