//! Floods.

use super::*;

/// Waits until the peer closes `s` (EOF or reset); returns how long that took.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Duration {
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(t0.elapsed()), s.read(&mut buf)).await {
            Err(_) => panic!("not closed within {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return t0.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_closed_within_auth_timeout() {
    let (_dir, srv) = spawn_temp(&[("AUTH_TIMEOUT", "2")]).await;
    let u = register(srv.api, "slow").await;
    let frame = login_json(u.uid(), &u.token).to_string() + "\n";
    let mut framed = (frame.len() as u32 - 1).to_be_bytes().to_vec();
    framed.extend_from_slice(frame.trim_end().as_bytes());
    let http_req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_owned();
    let mut tasks = Vec::new();
    for (kind, bytes) in [
        ("json lines", frame.into_bytes()),
        ("framed", framed),
        ("http", http_req.into_bytes()),
        ("silent", Vec::new()),
    ] {
        let addr = srv.im;
        tasks.push(tokio::spawn(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            let (mut r, mut w) = s.into_split();
            let dribble = tokio::spawn(async move {
                for b in bytes {
                    if w.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                std::future::pending::<()>().await;
            });
            let t0 = Instant::now();
            let mut buf = [0u8; 1024];
            loop {
                match tokio::time::timeout(Duration::from_secs(15), r.read(&mut buf)).await {
                    Err(_) => panic!("{kind}: not closed within 15 s"),
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(_)) => {}
                }
            }
            dribble.abort();
            let took = t0.elapsed();
            eprintln!("slowloris {kind}: closed after {took:?}");
            // AUTH_TIMEOUT is 2 s; a loaded machine gets a big margin.
            assert!(took < Duration::from_secs(10), "{kind}: {took:?}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The server is fine.
    let mut c = Client::login(srv.im, Kind::Lines, &u).await;
    assert!(c.sync(u.uid(), "hb").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_max_connections_are_closed_at_once() {
    let (_dir, srv) = spawn_temp(&[("MAX_CONNECTIONS", "20")]).await;
    let u = register(srv.api, "flood").await;
    // The readiness probes and the API calls above may hold a slot for a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(Client::login(srv.im, Kind::Lines, &u).await);
    }
    // Extra connections, on both ports: accepted by the kernel, closed by the server at once.
    for i in 0..30 {
        let addr = if i % 2 == 0 { srv.im } else { srv.api };
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(b"{\"x\":1}\n").await;
        let took = closed_within(&mut s, Duration::from_secs(10)).await;
        assert!(
            took < Duration::from_secs(5),
            "closed at once, not {took:?}"
        );
    }
    // The held ones are fine.
    for (i, c) in held.iter_mut().enumerate() {
        assert!(c.sync(u.uid(), &format!("hb{i}")).await.is_empty());
    }
    // A slot freed is a slot usable again.
    drop(held.pop());
    let t0 = Instant::now();
    loop {
        let mut c = Client::connect(srv.im, Kind::Lines).await;
        if c.send_json(&login_json(u.uid(), &u.token)).await.is_ok() {
            if let Some(v) = tokio::time::timeout(Duration::from_secs(10), c.read_json())
                .await
                .ok()
                .flatten()
            {
                assert_eq!(field(&v, "content"), "SUCCESS", "{v}");
                break;
            }
        }
        assert!(t0.elapsed() < WAIT, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_over_rate_limit_are_dropped_and_the_connection_stays() {
    let (_dir, srv) = spawn_temp(&[("RATE_LIMIT", "5")]).await;
    let u = register(srv.api, "chatty").await;
    let peer = register(srv.api, "chatty-peer").await;
    let mut c = Client::login(srv.im, Kind::Lines, &u).await;
    for i in 0..30 {
        c.send_json(&chat(&format!("burst-{i}"), u.uid(), peer.uid(), 0))
            .await
            .unwrap();
    }
    let (mut acks, mut limited) = (0, 0);
    for _ in 0..30 {
        let v = c.next_json().await.unwrap();
        if is_error(&v, "E_RATE_LIMIT") {
            limited += 1;
        } else {
            assert_eq!(num(&v, "status"), 1, "{v}");
            acks += 1;
        }
    }
    eprintln!("rate limit 5/s: {acks} acked, {limited} refused of a burst of 30");
    assert!(limited >= 15, "{acks} acked, {limited} limited");
    assert!(acks >= 5);
    // Only what was acked is stored.
    assert_eq!(history(srv.api, &u.token, 0, peer.uid()).await.len(), acks);
    // The connection stays: after a pause, frames go through again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(c.sync(u.uid(), "hb").await.is_empty());
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Opens `n` connections, `batch` at a time, each sending something random (or nothing) and
/// closing.
async fn garbage(addr: SocketAddr, n: usize, batch: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut done = 0;
    while done < n {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch.min(n - done) {
            let kind = rng.gen_range(0..6);
            let len = rng.gen_range(0..300);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            match kind {
                0 => bytes.clear(),
                1 if !bytes.is_empty() => bytes[0] = b'{',
                2 => bytes
                    .splice(0..0, b"GET / HTTP/1.1\r\nX: ".iter().copied())
                    .for_each(drop),
                3 => bytes.splice(0..0, [0, 0, 0, 200]).for_each(drop),
                _ => {}
            }
            let wait = rng.gen_bool(0.2);
            set.spawn(async move {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    return;
                };
                let _ = s.write_all(&bytes).await;
                if wait {
                    // Read what the server answers, briefly.
                    let mut buf = [0u8; 512];
                    let _ = tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await;
                }
            });
        }
        done += set.len();
        while set.join_next().await.is_some() {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_garbage_connections_leave_no_fds_or_memory_behind() {
    let (_dir, srv) = spawn_temp(&[("AUTH_TIMEOUT", "5")]).await;
    let pid = srv.child.id();
    let u = register(srv.api, "survivor").await;
    // Warm up, so that lazily made buffers and threads are in the baseline.
    garbage(srv.im, 300, 300, 1).await;
    let mut c = Client::login(srv.im, Kind::Lines, &u).await;
    assert!(c.sync(u.uid(), "hb").await.is_empty());
    drop(c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (fd0, rss0) = (open_fds(pid), rss_kb(pid));

    let t0 = Instant::now();
    garbage(srv.im, 10_000, 250, 2).await;
    let took = t0.elapsed();

    // Open files come back to the baseline once the server has seen every close.
    let t1 = Instant::now();
    let fd1 = loop {
        let n = open_fds(pid);
        if n <= fd0 + 3 || t1.elapsed() > Duration::from_secs(30) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let rss1 = rss_kb(pid);
    eprintln!(
        "10,000 garbage connections in {took:?}: fds {fd0} -> {fd1}, RSS {rss0} kB -> {rss1} kB"
    );
    assert!(fd1 <= fd0 + 3, "open files {fd0} -> {fd1}");
    assert!(rss1 < rss0 + 20 * 1024, "RSS {rss0} kB -> {rss1} kB");
    // A normal login afterwards.
    let mut c = Client::login(srv.im, Kind::Lines, &u).await;
    assert!(c.sync(u.uid(), "hb").await.is_empty());
    assert_eq!(http(srv.api, "GET", "/healthz", None).await.0, 200);
}
