//! The settings: defaults, sources and their precedence, bad values named by key.

use super::*;

#[test]
fn defaults_are_valid() {
    let c = Sources::default().config().unwrap();
    assert_eq!((c.port, c.api_port), (8888, 8889));
    assert_eq!(c.sqlite_path, PathBuf::from("easyim.db"));
    assert_eq!(c.idle_timeout, Duration::from_secs(300));
    assert_eq!(c.db_driver, DbDriver::Sqlite);
    assert!(c.nats_url.is_empty());
    // Safe by default: both rate limits are on, at values no honest client reaches.
    assert_eq!((c.rate_limit, c.api_rate_limit), (200, 10));
    assert_eq!((c.max_group_members, c.max_groups_per_user), (2000, 500));
    assert!(!c.api_always_200);
    assert_eq!(c.direct_messages, DirectMessages::Anyone);
}

#[test]
fn postgres_and_nats() {
    let mut s = Sources::default();
    for (k, v) in [
        ("DB_DRIVER", "postgres"),
        ("DB_HOST", "db.internal"),
        ("DB_PORT", "6432"),
        ("DB_NAME", "im"),
        ("DB_USERNAME", "easyim"),
        ("DB_PASSWORD", "s3cret"),
        ("NATS_URL", " nats://10.0.0.5:4222 "),
    ] {
        s.set(k, v);
    }
    let c = s.config().unwrap();
    assert_eq!(c.db_driver, DbDriver::Postgres);
    assert_eq!(
        (
            c.postgres.host.as_str(),
            c.postgres.port,
            c.postgres.dbname.as_str()
        ),
        ("db.internal", 6432, "im")
    );
    assert_eq!(c.postgres.schema, None);
    assert_eq!(c.nats_url, "nats://10.0.0.5:4222");
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "the password stays out of logs"
    );
}

#[test]
fn mysql_takes_the_db_keys_and_its_own_port() {
    let mut s = Sources::default();
    for (k, v) in [
        ("DB_DRIVER", "mysql"),
        ("DB_HOST", "db.internal"),
        ("DB_NAME", "im"),
        ("DB_USERNAME", "easyim"),
        ("DB_PASSWORD", "s3cret"),
    ] {
        s.set(k, v);
    }
    let c = s.config().unwrap();
    assert_eq!(c.db_driver, DbDriver::Mysql);
    assert_eq!(
        (
            c.mysql.host.as_str(),
            c.mysql.port,
            c.mysql.dbname.as_str(),
            c.mysql.user.as_str(),
            c.mysql.password.as_str()
        ),
        ("db.internal", 3306, "im", "easyim", "s3cret")
    );
    assert_eq!(
        c.postgres.port, 5432,
        "an empty DB_PORT is each driver's own"
    );
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "the password stays out of logs"
    );
    s.set("DB_PORT", "3307");
    assert_eq!(s.config().unwrap().mysql.port, 3307);
    s.set("DB_DRIVER", "mariadb");
    assert_eq!(s.config().unwrap().db_driver, DbDriver::Mysql);
}

#[test]
fn env_file_syntax() {
    let v = parse_env_file(
        "# c\nA = \"1\"\nB=2 # note\nexport C='x y'\n\nbad line\nD = \"3\" # note\n",
    );
    assert_eq!(
        v,
        vec![
            ("A".into(), "1".into()),
            ("B".into(), "2".into()),
            ("C".into(), "x y".into()),
            ("D".into(), "3".into())
        ]
    );
}

#[test]
fn default_file_round_trips() {
    let mut s = Sources::default();
    s.values.extend(parse_env_file(&default_file()));
    assert!(s.config().is_ok());
    assert_eq!(s.values.len(), KEYS.len());
}

#[test]
fn bad_values_name_the_key() {
    for (k, v) in [
        ("SERVER_PORT", "abc"),
        ("SERVER_PORT", "70000"),
        ("MSG_FORMAT", "xml"),
        ("SEND_QUEUE", "0"),
        ("DB_NODE_ID", "5000"),
        ("SQLITE_SYNCHRONOUS", "maybe"),
        ("DB_DRIVER", "oracle"),
        ("DB_PORT", "x"),
        ("LOG_FORMAT", "yaml"),
        ("MAX_GROUP_MEMBERS", "0"),
        ("MAX_GROUPS_PER_USER", "many"),
        ("TLS_CERT_FILE", "cert.pem"),
        ("TLS_KEY_FILE", "key.pem"),
        ("TLS_REQUIRED", "true"),
        ("API_ALWAYS_200", "sometimes"),
        ("DIRECT_MESSAGES", "strangers"),
        ("ADMIN_TOKEN", "short"),
        ("ADMIN_TOKEN", "has a space in the middle"),
    ] {
        let mut s = Sources::default();
        s.set(k, v);
        let e = s.config().unwrap_err().to_string();
        assert!(e.contains(k), "{k}={v}: {e}");
    }
}

#[test]
fn admin_token_is_off_by_default_and_hidden_in_errors() {
    let mut s = Sources::default();
    assert_eq!(s.config().unwrap().admin_token, "");
    s.set("ADMIN_TOKEN", " 0123456789abcdef ");
    assert_eq!(s.config().unwrap().admin_token, "0123456789abcdef");
    s.set("ADMIN_TOKEN", "0123456789abcde");
    let e = s.config().unwrap_err().to_string();
    assert!(
        e.contains("ADMIN_TOKEN") && !e.contains("0123456789abcde"),
        "{e}"
    );
}

#[test]
fn tls_takes_both_files() {
    let mut s = Sources::default();
    s.set("TLS_CERT_FILE", " cert.pem ");
    s.set("TLS_KEY_FILE", "key.pem");
    s.set("TLS_REQUIRED", "true");
    let c = s.config().unwrap();
    assert_eq!(c.tls.unwrap().cert, PathBuf::from("cert.pem"));
    assert!(c.tls_required);
    s.set("TLS_REQUIRED", "maybe");
    assert!(s.config().unwrap_err().to_string().contains("TLS_REQUIRED"));
}

#[test]
fn files_and_precedence() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "SERVER_DROP_AFTER = 42\n").unwrap();
    let s = Sources::load(dir.path()).unwrap();
    assert!(dir.path().join("env.default").exists());
    assert_eq!(s.config().unwrap().idle_timeout, Duration::from_secs(42));
}
