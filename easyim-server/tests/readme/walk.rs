//! Running the walkthrough's commands one by one, as a user would.

use super::*;

impl Walk<'_> {
    pub(super) async fn step(&mut self, line: &str) {
        if line.starts_with("curl ") {
            self.curl(line);
        } else if line.starts_with("nc ") {
            let args: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(args.len(), 3, "expected `nc HOST PORT`: {line}");
            assert_eq!(args[2], IM_PORT, "nc connects to the IM port: {line}");
            self.opening = Some(Opening::Tcp);
        } else if let Some(url) = line.strip_prefix("websocat ") {
            let url = url.trim();
            let rest = url
                .strip_prefix("ws://")
                .unwrap_or_else(|| panic!("expected a ws:// URL: {line}"));
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let port = if host.ends_with(&format!(":{IM_PORT}")) {
                self.im.port()
            } else if host.ends_with(&format!(":{API_PORT}")) {
                self.api.port()
            } else {
                panic!("websocat connects to port {IM_PORT} or {API_PORT}: {line}")
            };
            self.opening = Some(Opening::Ws(format!("ws://127.0.0.1:{port}/{path}")));
        } else if line.starts_with('{') {
            self.frame(line).await;
        } else if let Some(comment) = line.strip_prefix('#') {
            if comment.contains("{\"") {
                self.expect(comment).await;
            }
        } else if is_assignment(line) {
            self.assign(line);
        } else {
            panic!("the README test does not know how to run this line: {line}");
        }
    }

    /// Runs a curl line with bash, with the test's API port and the variables set.
    fn curl(&mut self, line: &str) {
        let shown = format!("localhost:{API_PORT}");
        assert!(
            line.contains(&shown),
            "a walkthrough curl calls {shown}: {line}"
        );
        let cmd = line.replace(&shown, &format!("127.0.0.1:{}", self.api.port()));
        // curl reads its config from CURL_HOME: ours bounds every call and ignores the user's.
        let home = self.dir.join("curl-home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join(".curlrc"), "max-time = 15\nconnect-timeout = 5\n").unwrap();
        let out_path = self.dir.join("curl.out");
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(&cmd)
            .env("CURL_HOME", &home)
            .env("NO_PROXY", "*")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(Stdio::inherit());
        for k in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            c.env_remove(k);
        }
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("run bash (and curl)");
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if t0.elapsed() > STEP {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{cmd}` did not finish within {STEP:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = std::fs::read_to_string(&out_path).unwrap();
        assert!(status.success(), "`{cmd}` failed ({status}): {out}");
        let v: Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("`{cmd}` did not answer JSON ({e}): {out}"));
        assert_eq!(v["code"], 200, "`{line}` answered {v}");
        if line.contains("/api/user/register") {
            let account = between(line, "\"account\":\"", "\"")
                .unwrap_or_else(|| panic!("which account does this register? {line}"));
            self.accounts.insert(account.to_owned(), v.clone());
        }
        self.curls.push((line.to_owned(), v));
        self.last = Last::Curl;
    }

    /// `A=<alice's id>; TA=<alice's access_token>; G=<the group's id>`.
    fn assign(&mut self, line: &str) {
        for part in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (var, what) = part
                .split_once('=')
                .unwrap_or_else(|| panic!("expected VAR=<...>: {part}"));
            let what = what
                .strip_prefix('<')
                .and_then(|w| w.strip_suffix('>'))
                .unwrap_or_else(|| panic!("expected VAR=<whose field>: {part}"));
            let (whose, field) = what
                .split_once("'s ")
                .unwrap_or_else(|| panic!("expected <whose field>: {part}"));
            let answer = match self.accounts.get(whose) {
                Some(a) => {
                    if field == "id" {
                        self.names.push((var.to_owned(), whose.to_owned()));
                    }
                    a
                }
                None => {
                    &self
                        .curls
                        .last()
                        .unwrap_or_else(|| panic!("no curl answer to take {part} from"))
                        .1
                }
            };
            let value = answer["data"][field]
                .as_str()
                .unwrap_or_else(|| panic!("no data.{field} in {answer} for {part}"))
                .to_owned();
            assert!(!value.is_empty(), "an empty data.{field} for {part}");
            self.vars.retain(|(k, _)| k != var);
            self.vars.push((var.to_owned(), value));
        }
    }

    /// `<A>` -> the value of `A`, for every variable; no placeholder may be left.
    fn substitute(&self, text: &str) -> String {
        let mut out = text.to_owned();
        // Longest names first, so that `<TA>` is never taken for `<A>` with a `T`.
        let mut vars: Vec<_> = self.vars.iter().collect();
        vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (k, v) in vars {
            out = out.replace(&format!("<{k}>"), v);
        }
        if let Some(p) = between(&out, "\"<", ">\"") {
            panic!("no variable for the placeholder <{p}>: {text}");
        }
        out
    }

    /// Sends a frame as written, on its sender's connection (opening it if the README just
    /// said how).
    async fn frame(&mut self, line: &str) {
        let raw: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON frame ({e}): {line}"));
        let sender = raw["from_user_id"]
            .as_str()
            .and_then(|s| s.strip_prefix('<'))
            .and_then(|s| s.strip_suffix('>'))
            .unwrap_or_else(|| panic!("from_user_id must be a placeholder like <A>: {line}"))
            .to_owned();
        let text = self.substitute(line);
        if let Some(opening) = self.opening.take() {
            let conn = match opening {
                Opening::Tcp => {
                    let s = tokio::time::timeout(STEP, TcpStream::connect(self.im))
                        .await
                        .expect("connect in time")
                        .expect("connect to the IM port");
                    let (r, w) = s.into_split();
                    Conn::Lines {
                        r: BufReader::new(r).lines(),
                        w,
                    }
                }
                Opening::Ws(url) => {
                    let (ws, _) =
                        tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url.as_str()))
                            .await
                            .expect("a WebSocket handshake in time")
                            .unwrap_or_else(|e| panic!("WebSocket to {url}: {e}"));
                    Conn::Ws(Box::new(ws))
                }
            };
            let old = self.conns.insert(sender.clone(), conn);
            assert!(old.is_none(), "a second connection for <{sender}>");
        }
        let conn = self
            .conns
            .get_mut(&sender)
            .unwrap_or_else(|| panic!("a frame from <{sender}> before any connection of theirs"));
        conn.send(&text).await;
        self.sent
            .push((sender.clone(), serde_json::from_str(&text).unwrap()));
        self.last_sender = Some(sender);
        self.last = Last::Frame;
    }

    /// Checks a `# ... {...}` answer.
    async fn expect(&mut self, comment: &str) {
        let brace = comment.find('{').unwrap();
        let (prefix, shown) = (
            comment[..brace].to_lowercase(),
            self.substitute(&comment[brace..]),
        );
        let pairs = shown_pairs(&shown);
        assert!(!pairs.is_empty(), "no \"key\":value to check in: {comment}");
        let addressed = self
            .names
            .iter()
            .find(|(_, name)| prefix.contains(&name.to_lowercase()))
            .map(|(var, _)| var.clone());
        match (addressed, &self.last) {
            (None, Last::Curl) => {
                let answer = &self.curls.last().unwrap().1;
                for (k, want) in &pairs {
                    assert!(
                        somewhere(answer, k, want),
                        "the answer {answer} has no \"{k}\":{want:?}, which README.md shows: {comment}"
                    );
                }
            }
            (None, Last::Nothing) => panic!("an answer before anything was done: {comment}"),
            (who, _) => {
                let who = who.or_else(|| self.last_sender.clone()).unwrap();
                let conn = self
                    .conns
                    .get_mut(&who)
                    .unwrap_or_else(|| panic!("<{who}> has no connection: {comment}"));
                let got = conn.next().await;
                for (k, want) in &pairs {
                    assert!(
                        matches(&got[k.as_str()], want),
                        "<{who}> received {got}, without \"{k}\":{want:?}, which README.md shows: {comment}"
                    );
                }
                self.received.entry(who).or_default().push(got);
            }
        }
        self.checked += 1;
    }

    /// The walkthrough's claims, checked once more on what was received, so that a README that
    /// stops showing them fails too.
    pub(super) fn claims(&self) {
        assert!(self.checked >= 8, "the walkthrough checks almost nothing");
        let var = |name: &str| {
            self.names
                .iter()
                .find(|(_, n)| n == name)
                .map(|(v, _)| v.clone())
                .unwrap_or_else(|| panic!("the walkthrough registers no {name}"))
        };
        let (a, b) = (var("alice"), var("bob"));
        let value = |v: &str| self.vars.iter().find(|(k, _)| k == v).unwrap().1.clone();
        let frames = |who: &str| self.received.get(who).cloned().unwrap_or_default();
        for who in [&a, &b] {
            let first = frames(who).first().cloned().unwrap_or_default();
            assert_eq!(first["content"], "SUCCESS", "<{who}>'s login: {first}");
        }
        let first_chat = self
            .sent
            .iter()
            .find(|(who, m)| *who == a && m["msg_type"] == 0 && m["chat_type"] == 0)
            .map(|(_, m)| m.clone())
            .expect("alice sends a message");
        let id = first_chat["id"].as_str().unwrap();
        assert_eq!(first_chat["to_user_id"], value(&b), "alice writes to bob");
        let ack = frames(&a)
            .into_iter()
            .find(|m| m["id"] == id)
            .expect("alice's message is acked");
        assert_eq!(ack["status"], 1, "the ack says SENT: {ack}");
        assert_eq!(ack["conv_seq"], 1, "the first message is conv_seq 1: {ack}");
        let pending = frames(&b).get(1).cloned().unwrap_or_default();
        assert_eq!(
            pending["id"], id,
            "bob gets the pending message right after login"
        );
        assert_eq!(pending["from_user_id"], value(&a), "{pending}");
        assert_eq!(pending["conv_seq"], 1, "{pending}");
        let receipt = frames(&a)
            .into_iter()
            .find(|m| m["id"] == id && m["from_user_id"] == value(&b))
            .expect("bob's receipt reaches alice");
        assert_eq!(receipt["status"], 3, "a READ receipt: {receipt}");
        let history = self
            .curls
            .iter()
            .find(|(line, _)| line.contains("/api/messages"))
            .map(|(_, v)| v.clone())
            .expect("the walkthrough reads the history");
        let items = history["data"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            items
                .iter()
                .any(|m| m["id"] == id && m["content"] == first_chat["content"]),
            "the history holds the message: {history}"
        );
        if let Some((_, group)) = self
            .sent
            .iter()
            .find(|(who, m)| *who == a && m["chat_type"] == 1)
        {
            assert!(
                frames(&b)
                    .iter()
                    .any(|m| m["id"] == group["id"] && m["chat_type"] == 1),
                "bob gets the group message"
            );
        }
    }
}
