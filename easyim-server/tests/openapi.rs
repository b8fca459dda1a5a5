//! The OpenAPI document over a real socket: it lists every route the router serves (the list
//! comes from the route table the router is built from), each of those routes is really
//! served, and the docs page loads nothing from another host.

mod support;

use easyim_server::api_routes;
use serde_json::Value;
use support::*;

#[tokio::test]
async fn the_document_lists_every_route_the_router_serves() {
    let srv = admin_server().await;
    let r = request(srv.api, "GET", "/api/openapi.json", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    let routes: Vec<(&str, &str)> = api_routes().collect();
    assert!(routes.len() > 50, "{} routes", routes.len());
    for (method, path) in &routes {
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not in the document"))[method];
        assert!(op.is_object(), "{method} {path} is not in the document");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{method} {path}"
        );
    }
    let documented: usize = paths
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        routes.len(),
        "the document lists routes the router does not serve"
    );
    // The server API's routes carry the admin scheme, the user routes the user scheme.
    let send = &paths["/api/admin/message/send"]["post"];
    assert_eq!(send["security"][0]["admin_token"], Value::Array(vec![]));
    let body = &send["requestBody"]["content"]["application/json"]["schema"];
    assert!(body["required"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "from_user_id"));
    assert!(paths["/api/user/device"]["post"]["security"][0]["user_token"].is_array());
    assert!(doc["components"]["securitySchemes"]["admin_token"].is_object());

    // Each listed route is served: the fallback's 404 ("no such route") or a 405 would say
    // it is not.
    let auth = format!("Bearer {TOKEN}");
    for (method, path) in &routes {
        let method = method.to_ascii_uppercase();
        let r = request(
            srv.api,
            &method,
            path,
            &[("Authorization", auth.as_str())],
            b"",
        )
        .await;
        assert_ne!(r.status, 405, "{method} {path}");
        if r.status == 404 {
            assert_ne!(
                r.json()["msg"],
                "no such route",
                "{method} {path} is not served"
            );
        }
    }
    // ...which tells an unserved route apart.
    let r = request(srv.api, "GET", "/api/not/a/route", &[], b"").await;
    assert_eq!(
        (r.status, r.json()["msg"].as_str()),
        (404, Some("no such route"))
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn the_docs_page_is_self_contained() {
    let srv = start(&[]).await;
    let r = request(srv.api, "GET", "/api/docs", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let csp = r
        .header("content-security-policy")
        .expect("a policy header");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let page = r.text();
    assert!(page.contains("fetch(\"/api/openapi.json\")"));
    for external in ["http://", "https://", "//cdn", "src=\"//"] {
        assert!(!page.contains(external), "the page names {external}");
    }
    srv.shutdown().await;
}
