//! The binary.

use super::*;

#[tokio::test]
async fn binary_first_run_and_config_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let (im, api, other) = (free_port(), free_port(), free_port());
    // env.default says 8888/8889; .env overrides both; the environment overrides .env's IM port.
    std::fs::write(
        dir.path().join(".env"),
        format!("SERVER_PORT = {other}\nAPI_SERVER_PORT = \"{api}\" # from .env\n"),
    )
    .unwrap();
    let child = command(dir.path())
        .env("SERVER_IP", "127.0.0.1")
        .env("SERVER_PORT", im.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api_addr = ([127, 0, 0, 1], api).into();
    let mut p = Proc {
        child,
        im: ([127, 0, 0, 1], im).into(),
        api: api_addr,
    };
    if let Err(status) = p.ready().await {
        panic!("easyim exited early: {status}");
    }
    let default = std::fs::read_to_string(dir.path().join("env.default")).unwrap();
    assert!(default.contains("SERVER_PORT = \"8888\""), "{default}");
    assert!(default.contains("API_SERVER_PORT = \"8889\""), "{default}");
    assert!(non_empty(&dir.path().join("easyim.db")));
    // The IM port is the environment's, not .env's.
    let u = register(api_addr, "alice").await;
    let mut c = Client::login(([127, 0, 0, 1], im).into(), Kind::Lines, &u).await;
    c.assert_alive(&u).await;
    assert!(TcpStream::connect(("127.0.0.1", other)).await.is_err());
    // The stop key is the owner's only.
    let key_file = dir.path().join("easyim.stop");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // Stop it over the API, from loopback, with the key: exit 0.
    let key = std::fs::read_to_string(&key_file).unwrap();
    let r = request(
        api_addr,
        "POST",
        "/api/local/stop",
        &[("X-Easyim-Stop-Key", key.as_str())],
        b"",
    )
    .await;
    assert_eq!((r.status, r.json()["code"].as_u64()), (200, Some(200)));
    let e = c.recv().await;
    assert_error(&e, "E_SHUTDOWN", "", 0);
    c.expect_closed().await;
    let status = p.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn binary_bad_value_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .env("SERVER_PORT", "abc")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("SERVER_PORT"), "{text}");
    assert!(text.contains("abc"), "{text}");
    // The same from .env.
    std::fs::write(dir.path().join(".env"), "MSG_FORMAT = xml\n").unwrap();
    let out = command(dir.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MSG_FORMAT"));
}

#[tokio::test]
async fn binary_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--stop") && text.contains("--init"), "{text}");
}

#[tokio::test]
async fn binary_sigterm_sends_e_shutdown_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(dir.path(), &[]).await;
    let (im, api) = (p.im, p.api);
    let u = register(api, "alice").await;
    let mut c = Client::login(im, Kind::FramedProto, &u).await;
    let kill = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let e = c.recv().await;
    assert_error(&e, "E_SHUTDOWN", "", 0);
    c.expect_closed().await;
    let status = p.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn binary_stop_flag_stops_the_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(dir.path(), &[]).await;
    let (im, api) = (p.im, p.api);
    let u = register(api, "alice").await;
    let mut c = Client::login(im, Kind::WsText, &u).await;
    let out = command(dir.path()).arg("--stop").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_error(&c.recv().await, "E_SHUTDOWN", "", 0);
    c.expect_closed().await;
    let status = p.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
    // With nothing running, --stop fails.
    let out = command(dir.path()).arg("--stop").output().unwrap();
    assert!(!out.status.success());
}
