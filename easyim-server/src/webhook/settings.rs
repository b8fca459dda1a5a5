//! [`WebhookSettings`]: the `WEBHOOK_*` settings, checked.

use std::sync::Arc;
use std::time::Duration;

use easyim_core::EventKind;
use hyper::Uri;
use rustls::ClientConfig;

use crate::config::ConfigError;

/// The shortest `WEBHOOK_SECRET` accepted when webhooks are on.
const MIN_SECRET: usize = 16;

/// Where and how events are delivered. `url` `None`: webhooks are off (nothing is written
/// to the outbox, no dispatcher runs).
#[derive(Clone)]
#[non_exhaustive]
pub struct WebhookSettings {
    /// `WEBHOOK_URL` (`http://` or `https://host:port/path`).
    pub url: Option<Uri>,
    /// For an `https://` URL: the trusted authorities (`WEBHOOK_CA` or the system's).
    pub(crate) tls: Option<Arc<ClientConfig>>,
    /// `WEBHOOK_SECRET`.
    pub secret: String,
    /// `WEBHOOK_EVENTS`: the kinds delivered (empty setting: all).
    pub events: Vec<EventKind>,
    /// `WEBHOOK_RETRY_MIN_MS`: the first retry's delay, doubled at each failure.
    pub retry_min: Duration,
    /// `WEBHOOK_RETRY_MAX_MS`: the longest delay between two tries.
    pub retry_max: Duration,
    /// `WEBHOOK_TIMEOUT_MS`: how long a POST may take.
    pub timeout: Duration,
    /// `WEBHOOK_BATCH`: the most events one POST carries.
    pub batch: usize,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("tls", &self.tls.is_some())
            .field("secret", &"(hidden)")
            .field("events", &self.events)
            .field("retry_min", &self.retry_min)
            .field("retry_max", &self.retry_max)
            .field("timeout", &self.timeout)
            .field("batch", &self.batch)
            .finish()
    }
}

fn invalid(key: &'static str, value: &str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_owned(),
        why: why.into(),
    }
}

fn millis(key: &'static str, value: &str) -> Result<Duration, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_millis(n)),
        _ => Err(invalid(key, value, "expected milliseconds, greater than 0")),
    }
}

/// The `http://` or `https://` URL of setting `key` (`raw` its value), or `None` when it is
/// empty.
fn http_url(key: &'static str, raw: &str) -> Result<Option<Uri>, ConfigError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let uri: Uri = s
        .parse()
        .map_err(|e| invalid(key, s, format!("not a URL ({e})")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(invalid(
            key,
            s,
            "expected http://host[:port]/path or https://host[:port]/path",
        ));
    }
    Ok(Some(uri))
}

/// The TLS configuration `url` needs: `Some` for `https://` (`ca` is `WEBHOOK_CA`).
fn tls_for(url: Option<&Uri>, ca: &str) -> Result<Option<Arc<ClientConfig>>, ConfigError> {
    match url {
        Some(u) if u.scheme_str() == Some("https") => super::https::client_config(ca).map(Some),
        _ => Ok(None),
    }
}

impl WebhookSettings {
    /// Checks the settings; `get` reads a key's value (its default if unset).
    pub(crate) fn parse(get: impl Fn(&'static str) -> String) -> Result<Self, ConfigError> {
        let url = http_url("WEBHOOK_URL", &get("WEBHOOK_URL"))?;
        let tls = tls_for(url.as_ref(), &get("WEBHOOK_CA"))?;
        let secret = get("WEBHOOK_SECRET").trim().to_owned();
        if url.is_some() && secret.chars().count() < MIN_SECRET {
            return Err(invalid(
                "WEBHOOK_SECRET",
                "(hidden)",
                format!("expected at least {MIN_SECRET} characters when WEBHOOK_URL is set"),
            ));
        }
        let list = get("WEBHOOK_EVENTS");
        let mut events = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let kinds = EventKind::select(name)
                .map_err(|e| invalid("WEBHOOK_EVENTS", &list, e.to_string()))?;
            for kind in kinds {
                if !events.contains(&kind) {
                    events.push(kind);
                }
            }
        }
        if events.is_empty() {
            events = EventKind::ALL.to_vec();
        }
        let retry_min = millis("WEBHOOK_RETRY_MIN_MS", &get("WEBHOOK_RETRY_MIN_MS"))?;
        let retry_max = millis("WEBHOOK_RETRY_MAX_MS", &get("WEBHOOK_RETRY_MAX_MS"))?;
        if retry_max < retry_min {
            return Err(invalid(
                "WEBHOOK_RETRY_MAX_MS",
                &get("WEBHOOK_RETRY_MAX_MS"),
                "must not be below WEBHOOK_RETRY_MIN_MS",
            ));
        }
        let timeout = millis("WEBHOOK_TIMEOUT_MS", &get("WEBHOOK_TIMEOUT_MS"))?;
        let batch_raw = get("WEBHOOK_BATCH");
        let batch = match batch_raw.trim().parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(invalid("WEBHOOK_BATCH", &batch_raw, "expected 1 to 1000")),
        };
        Ok(WebhookSettings {
            url,
            tls,
            secret,
            events,
            retry_min,
            retry_max,
            timeout,
            batch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&'static str, &str)]) -> Result<WebhookSettings, ConfigError> {
        WebhookSettings::parse(|k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_else(|| {
                    crate::keys::KEYS
                        .iter()
                        .find(|(key, _, _)| *key == k)
                        .map(|(_, d, _)| (*d).to_owned())
                        .unwrap_or_default()
                })
        })
    }

    fn bad_key(r: Result<WebhookSettings, ConfigError>) -> &'static str {
        match r {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("want an invalid setting, got {other:?}"),
        }
    }

    #[test]
    fn off_by_default_and_every_bad_value_is_named() {
        let s = parse(&[]).unwrap();
        assert!(s.url.is_none());
        assert_eq!(s.events, EventKind::ALL.to_vec());
        let on = [
            ("WEBHOOK_URL", "http://127.0.0.1:9/h"),
            ("WEBHOOK_SECRET", "0123456789abcdef"),
        ];
        let s = parse(&on).unwrap();
        assert_eq!(s.url.unwrap().path(), "/h");
        let with = |k, v| {
            let mut p = on.to_vec();
            p.push((k, v));
            parse(&p)
        };
        assert_eq!(
            with("WEBHOOK_EVENTS", "user.registered").unwrap().events,
            vec![EventKind::UserRegistered]
        );
        assert_eq!(
            bad_key(with("WEBHOOK_EVENTS", "user.nope")),
            "WEBHOOK_EVENTS"
        );
        let families = with("WEBHOOK_EVENTS", "friend.*, group.*,friend.accepted")
            .unwrap()
            .events;
        assert_eq!(families.len(), 18, "each kind once: {families:?}");
        assert!(families
            .iter()
            .all(|k| k.family() == "friend" || k.family() == "group"));
        assert_eq!(bad_key(with("WEBHOOK_EVENTS", "chat.*")), "WEBHOOK_EVENTS");
        assert_eq!(
            bad_key(with("WEBHOOK_RETRY_MIN_MS", "0")),
            "WEBHOOK_RETRY_MIN_MS"
        );
        assert_eq!(
            bad_key(with("WEBHOOK_RETRY_MAX_MS", "10")),
            "WEBHOOK_RETRY_MAX_MS"
        );
        assert_eq!(
            bad_key(with("WEBHOOK_TIMEOUT_MS", "x")),
            "WEBHOOK_TIMEOUT_MS"
        );
        assert_eq!(bad_key(with("WEBHOOK_BATCH", "0")), "WEBHOOK_BATCH");
        assert_eq!(
            bad_key(parse(&[("WEBHOOK_URL", "ftp://x/h"), on[1]])),
            "WEBHOOK_URL"
        );
        // https takes the authorities of WEBHOOK_CA, which must be readable.
        let https = [
            ("WEBHOOK_URL", "https://x/h"),
            on[1],
            ("WEBHOOK_CA", "/nonexistent/ca.pem"),
        ];
        assert_eq!(bad_key(parse(&https)), "WEBHOOK_CA");
        assert!(parse(&[("WEBHOOK_URL", "http://x/h"), on[1]])
            .unwrap()
            .tls
            .is_none());
        assert_eq!(
            bad_key(parse(&[("WEBHOOK_URL", "not a url")])),
            "WEBHOOK_URL"
        );
        assert_eq!(bad_key(parse(&[on[0]])), "WEBHOOK_SECRET");
    }

    fn before(pairs: &[(&'static str, &str)]) -> Result<BeforeSendSettings, ConfigError> {
        BeforeSendSettings::parse(|k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_else(|| {
                    crate::keys::KEYS
                        .iter()
                        .find(|(key, _, _)| *key == k)
                        .map(|(_, d, _)| (*d).to_owned())
                        .unwrap_or_default()
                })
        })
    }

    #[test]
    fn before_send_defaults_and_bad_values() {
        let s = before(&[]).unwrap();
        assert!(s.url.is_none());
        assert_eq!(s.timeout, Duration::from_millis(500));
        assert_eq!(s.on_error, OnError::Allow);
        let s = before(&[
            ("BEFORE_SEND_URL", "http://127.0.0.1:1/x"),
            ("BEFORE_SEND_ON_ERROR", "deny"),
        ])
        .unwrap();
        assert_eq!(s.on_error, OnError::Deny);
        let key = |r: Result<BeforeSendSettings, ConfigError>| match r {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("want invalid, got {other:?}"),
        };
        assert_eq!(
            key(before(&[("BEFORE_SEND_ON_ERROR", "maybe")])),
            "BEFORE_SEND_ON_ERROR"
        );
        assert_eq!(
            key(before(&[("BEFORE_SEND_TIMEOUT_MS", "0")])),
            "BEFORE_SEND_TIMEOUT_MS"
        );
        assert_eq!(
            key(before(&[("BEFORE_SEND_URL", "ftp://x/y")])),
            "BEFORE_SEND_URL"
        );
    }
}

/// What a failure of the before-send hook means (`BEFORE_SEND_ON_ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// The message is stored as sent.
    Allow,
    /// The message is refused (`E_FORBIDDEN`).
    Deny,
}

/// The before-send hook's settings. `url` `None`: no hook.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BeforeSendSettings {
    /// `BEFORE_SEND_URL` (`http://` or `https://host:port/path`).
    pub url: Option<Uri>,
    /// For an `https://` URL: the trusted authorities (`WEBHOOK_CA` or the system's).
    pub(crate) tls: Option<Arc<ClientConfig>>,
    /// `BEFORE_SEND_TIMEOUT_MS` (default 500).
    pub timeout: Duration,
    /// `BEFORE_SEND_ON_ERROR` (default `allow`).
    pub on_error: OnError,
}

impl BeforeSendSettings {
    /// Checks the settings; `get` reads a key's value (its default if unset).
    pub(crate) fn parse(get: impl Fn(&'static str) -> String) -> Result<Self, ConfigError> {
        let url = http_url("BEFORE_SEND_URL", &get("BEFORE_SEND_URL"))?;
        let tls = tls_for(url.as_ref(), &get("WEBHOOK_CA"))?;
        let timeout = millis("BEFORE_SEND_TIMEOUT_MS", &get("BEFORE_SEND_TIMEOUT_MS"))?;
        let on_error = match get("BEFORE_SEND_ON_ERROR").trim() {
            "allow" => OnError::Allow,
            "deny" => OnError::Deny,
            other => {
                return Err(invalid(
                    "BEFORE_SEND_ON_ERROR",
                    other,
                    "expected allow or deny",
                ))
            }
        };
        Ok(BeforeSendSettings {
            url,
            tls,
            timeout,
            on_error,
        })
    }
}
