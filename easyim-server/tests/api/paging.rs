//! Paged lists and group limits.

use super::*;

/// GETs `route` page by page (`limit` items a page) and returns the pages' items, concatenated;
/// checks that every page but the last is full and has a cursor, and the last has none.
async fn all_pages(srv: &Api, route: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let path = format!("{route}&limit={limit}&cursor={cursor}");
        let data = srv.get(&path).await.data();
        let page = data["items"].as_array().expect("items").clone();
        assert!(page.len() <= limit, "{path}: {} items", page.len());
        cursor = data["cursor"].as_str().expect("a cursor string").to_owned();
        items.extend(page.iter().cloned());
        if cursor.is_empty() {
            return items;
        }
        assert_eq!(page.len(), limit, "{path}: a page with a cursor is full");
    }
    panic!("{route}: the pages do not end");
}

fn ids(items: &[Value]) -> Vec<u64> {
    items.iter().map(id_of).collect()
}

#[tokio::test]
async fn lists_are_paged_with_a_cursor() {
    let srv = Api::start().await;
    let me = srv.register("me").await;
    let t = tok(&me);
    let mut others = Vec::new();
    for i in 0..7 {
        others.push(srv.register(&format!("other{i}")).await);
    }
    let mut request_ids = Vec::new();
    for o in &others {
        let add = json!({"access_token": tok(o), "to_user_id": me["id"]});
        let r = srv.post("/api/user/friend/add", add).await.data();
        request_ids.push(id_of(&r));
    }

    // Requests, newest first, in pages of 3: 3 + 3 + 1.
    let route = format!("/api/user/friend/requests?access_token={t}");
    let got = ids(&all_pages(&srv, &route, 3).await);
    let mut want = request_ids.clone();
    want.reverse();
    assert_eq!(got, want, "requests, newest first, in pages");
    for id in &request_ids {
        let accept = json!({"access_token": t, "id": id.to_string()});
        srv.post("/api/user/friend/accept", accept).await.data();
    }

    // Friends, by id, with the total of all of them on every page.
    let route = format!("/api/user/friends?access_token={t}");
    let first = srv.get(&format!("{route}&limit=2")).await.data();
    assert_eq!(first["total"], 7, "total counts every friend: {first}");
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let got = ids(&all_pages(&srv, &route, 2).await);
    let mut want = ids(&others);
    want.sort_unstable();
    assert_eq!(got, want, "friends, by id, in pages");
    // Old clients send no limit: the first 50, and no cursor here.
    let all = srv.get(&route).await.data();
    assert_eq!(all["cursor"], "", "a single page has no cursor");
    assert_eq!(ids(all["items"].as_array().unwrap()), want);

    // Groups and members.
    let mut group_ids = Vec::new();
    for _ in 0..5 {
        let create = json!({"access_token": t, "name": "g", "member_ids": ids(&others)});
        group_ids.push(id_of(&srv.post("/api/group/create", create).await.data()));
    }
    group_ids.sort_unstable();
    let route = format!("/api/groups?access_token={t}");
    let groups = all_pages(&srv, &route, 2).await;
    assert_eq!(ids(&groups), group_ids, "groups, by id, in pages");
    assert!(groups.iter().all(|g| g["member_count"] == 8), "{groups:?}");
    let route = format!(
        "/api/group/members?access_token={t}&group_id={}",
        group_ids[0]
    );
    let mut want = want.clone();
    want.push(id_of(&me));
    want.sort_unstable();
    assert_eq!(
        ids(&all_pages(&srv, &route, 3).await),
        want,
        "members, by id"
    );

    // Search takes a limit up to 50.
    let search = format!("/api/user/search?access_token={t}&account=other");
    let found = srv.get(&format!("{search}&limit=2")).await.data();
    assert_eq!(found["items"].as_array().unwrap().len(), 2);
    srv.get(&format!("{search}&limit=51")).await.envelope(400);

    // A bad limit or cursor is a 400, on every list.
    let friends_cursor = first["cursor"].as_str().unwrap().to_owned();
    assert!(!friends_cursor.is_empty());
    for route in [
        format!("/api/user/friends?access_token={t}"),
        format!("/api/user/friend/requests?access_token={t}"),
        format!("/api/groups?access_token={t}"),
        format!(
            "/api/group/members?access_token={t}&group_id={}",
            group_ids[0]
        ),
    ] {
        for bad in [
            "limit=0",
            "limit=201",
            "limit=abc",
            "limit=-1",
            "cursor=zz",
            "cursor=f",
        ] {
            let r = srv.get(&format!("{route}&{bad}")).await;
            let v = r.envelope(400);
            assert!(
                v["msg"]
                    .as_str()
                    .unwrap()
                    .contains(bad.split('=').next().unwrap()),
                "{v}"
            );
        }
        srv.get(&format!("{route}&limit=200")).await.data();
    }
    let r = srv
        .get(&format!(
            "/api/groups?access_token={t}&cursor={friends_cursor}"
        ))
        .await;
    r.envelope(400);
}

/// An API over its own engine on `MemoryStorage` with these limits, driven without a socket.
struct Limited(axum::Router);

impl Limited {
    fn new(limits: Limits) -> Limited {
        let storage = Arc::new(MemoryStorage::new());
        let auth = Arc::new(JwtAuth::new(
            storage.clone(),
            "test-secret",
            7200,
            2_592_000,
        ));
        let im = Im::new(storage, auth, EngineConfig::default()).with_limits(limits);
        Limited(api_router(
            im,
            ApiConfig::default(),
            CancellationToken::new(),
        ))
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let headers = [("Content-Type", "application/json")];
        let body = body.to_string();
        oneshot(&self.0, peer, "POST", path, &headers, body.as_bytes()).await
    }

    async fn user(&self, account: &str) -> (String, String) {
        let body = json!({"account": account, "password": "pw-123456"});
        let data = self.post("/api/user/register", body).await.data();
        (data["id"].as_str().unwrap().to_owned(), tok(&data))
    }
}

#[tokio::test]
async fn group_limits_are_403_and_id_lists_are_capped() {
    let limits = Limits::default()
        .with_max_group_members(3)
        .with_max_groups_per_user(2);
    let srv = Limited::new(limits);
    let (a, ta) = srv.user("alice").await;
    let (b, tb) = srv.user("bob").await;
    let (c, _) = srv.user("carol").await;
    let (d, _) = srv.user("dave").await;

    // MAX_GROUP_MEMBERS: 3, the owner included.
    let create = |members: Vec<&str>| json!({"access_token": ta, "name": "g", "member_ids": members, "join_policy": "open"});
    let r = srv
        .post("/api/group/create", create(vec![&b, &c, &d]))
        .await;
    let v = r.envelope(403);
    assert!(v["msg"].as_str().unwrap().contains("full"), "{v}");
    let g1 = srv
        .post("/api/group/create", create(vec![&b, &c]))
        .await
        .data();
    let invite = json!({"access_token": ta, "group_id": g1["id"], "user_ids": [d]});
    srv.post("/api/group/invite", invite).await.envelope(403);
    let join = json!({"access_token": tb, "group_id": g1["id"]});
    srv.post("/api/group/join", join).await.data();

    // MAX_GROUPS_PER_USER: 2. Alice is in g1; one more, then no more.
    srv.post("/api/group/create", create(vec![])).await.data();
    let r = srv.post("/api/group/create", create(vec![])).await;
    let v = r.envelope(403);
    assert!(v["msg"].as_str().unwrap().contains("groups"), "{v}");
    let (_, te) = srv.user("erin").await;
    let solo = json!({"access_token": te, "name": "e", "member_ids": [a]});
    srv.post("/api/group/create", solo).await.envelope(403);
    let ge = srv
        .post(
            "/api/group/create",
            json!({"access_token": te, "name": "e", "join_policy": "open"}),
        )
        .await
        .data();
    let join = json!({"access_token": ta, "group_id": ge["id"]});
    srv.post("/api/group/join", join).await.envelope(403);
    let invite = json!({"access_token": te, "group_id": ge["id"], "user_ids": [a]});
    srv.post("/api/group/invite", invite).await.envelope(403);

    // At most 200 ids per call.
    let many: Vec<String> = (1..=201).map(|i| i.to_string()).collect();
    let r = srv
        .post(
            "/api/group/create",
            json!({"access_token": te, "name": "x", "member_ids": many}),
        )
        .await;
    let v = r.envelope(400);
    assert!(v["msg"].as_str().unwrap().contains("200"), "{v}");
    let invite = json!({"access_token": te, "group_id": ge["id"], "user_ids": many});
    srv.post("/api/group/invite", invite).await.envelope(400);
}

/// The two limits are settings of the server (`MAX_GROUP_MEMBERS`, `MAX_GROUPS_PER_USER`).
#[tokio::test]
async fn group_limits_are_server_settings() {
    let srv = support::start(&[("MAX_GROUP_MEMBERS", "2"), ("MAX_GROUPS_PER_USER", "1")]).await;
    let a = srv.user("alice").await;
    let b = srv.user("bob").await;
    let c = srv.user("carol").await;
    let create = |owner: &support::User, members: Vec<&str>| json!({"access_token": owner.token, "name": "g", "member_ids": members});
    let (status, _) = support::http(
        srv.api,
        "POST",
        "/api/group/create",
        Some(&create(&a, vec![&b.id, &c.id])),
    )
    .await;
    assert_eq!(status, 403, "past MAX_GROUP_MEMBERS");
    let (status, _) = support::http(
        srv.api,
        "POST",
        "/api/group/create",
        Some(&create(&a, vec![&b.id])),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = support::http(
        srv.api,
        "POST",
        "/api/group/create",
        Some(&create(&c, vec![&a.id])),
    )
    .await;
    assert_eq!(status, 403, "past MAX_GROUPS_PER_USER");
    srv.shutdown().await;
}
