//! `nexus config check`: the effective settings, secrets redacted, and a warning for each
//! insecure one. Asked of the running server when there is one (its settings are the ones in
//! effect), else worked out from the config file and environment as `nexus serve` would.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;

use crate::config::Config;
use crate::service::password::PasswordHasher;
use crate::store::Store;

/// Settings whose values are never printed.
const SECRETS: [&str; 2] = ["admin_password", "jwt_secret"];

/// The report: one `key = value` line per setting, then the warnings.
pub async fn report(config: &Config, store: Option<&Arc<dyn Store>>) -> String {
    let mut lines = Vec::new();
    let value = serde_json::to_value(config).unwrap_or(Value::Null);
    flatten(&value, "", &mut lines);
    let warnings = warnings(config, store).await;
    lines.push(String::new());
    if warnings.is_empty() {
        lines.push("no warnings".into());
    } else {
        for w in &warnings {
            lines.push(format!("warning: {w}"));
        }
        lines.push(format!("{} warning(s)", warnings.len()));
    }
    lines.join("\n")
}

fn flatten(value: &Value, prefix: &str, lines: &mut Vec<String>) {
    let Some(map) = value.as_object() else {
        return;
    };
    for (key, v) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if SECRETS.contains(&key.as_str()) {
            let shown = if v.is_null() {
                "(not set)"
            } else {
                "(set, redacted)"
            };
            lines.push(format!("{path} = {shown}"));
        } else if v.is_object() {
            flatten(v, &path, lines);
        } else {
            lines.push(format!("{path} = {v}"));
        }
    }
}

fn is_loopback(listen: &str) -> bool {
    listen
        .parse::<SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or(false)
}

/// Every insecure setting, as one line each.
pub async fn warnings(config: &Config, store: Option<&Arc<dyn Store>>) -> Vec<String> {
    let mut warnings = Vec::new();
    let exposed = !is_loopback(&config.server.listen);
    if exposed && config.auth.allow_registration {
        warnings.push(format!(
            "auth.allow_registration is on while listening on {}: anyone on the network can make an account",
            config.server.listen
        ));
    }
    if exposed && !config.tls_enabled() {
        warnings.push(format!(
            "no TLS while listening on {}: passwords and sessions cross the network in the clear",
            config.server.listen
        ));
    }
    if config.auth.rate_limit_per_sec == 0 || config.auth.rate_limit_burst == 0 {
        warnings
            .push("the sign-in rate limit is off (auth.rate_limit_per_sec or _burst is 0)".into());
    }
    if config.api.rate_limit_per_sec == 0 || config.api.rate_limit_burst == 0 {
        warnings.push("the API rate limit is off (api.rate_limit_per_sec or _burst is 0)".into());
    }
    if let Some(secret) = &config.jwt_secret
        && is_weak(secret.expose())
    {
        warnings.push(
            "NEXUS_JWT_SECRET is weak (too few different characters); unset it to use the generated key, or give 32+ random bytes".into(),
        );
    }
    if let (Some(password), Some(store)) = (&config.admin_password, store)
        && let Ok(Some(admin)) = store.user_by_username("admin").await
        && admin.is_active
        && PasswordHasher::new(1)
            .verify(&admin.password_hash, password.expose())
            .await
            .unwrap_or(false)
    {
        warnings.push(
            "user admin still has the first-start password from NEXUS_ADMIN_PASSWORD; change it and unset the variable".into(),
        );
    }
    warnings
}

/// Few different characters: a repeated or dictionary-like value rather than random bytes.
fn is_weak(secret: &str) -> bool {
    let distinct: std::collections::BTreeSet<char> = secret.chars().collect();
    distinct.len() < 12
}
