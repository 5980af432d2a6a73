//! The OpenAPI document: snapshot-tested, and every route documents its schemas and
//! examples.

use serde_json::Value;

use crate::common::TestServer;

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/openapi.snapshot.json"
);

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => v,
    }
}

fn has_example(doc: &Value, media: &Value) -> bool {
    if media.get("example").is_some() || media.get("examples").is_some() {
        return true;
    }
    let schema = &media["schema"];
    let s = resolve(doc, schema);
    if s.get("example").is_some() || s.get("examples").is_some() {
        return true;
    }
    // A list of documented items.
    s.get("items").is_some_and(|i| {
        let i = resolve(doc, i);
        i.get("example").is_some() || i.get("examples").is_some()
    })
}

#[test]
fn openapi_document_matches_the_snapshot() {
    let doc = serde_json::to_value(backtide_server::openapi()).unwrap();
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &text).unwrap();
    }
    let stored = std::fs::read_to_string(SNAPSHOT)
        .expect("snapshot missing: run with UPDATE_SNAPSHOTS=1 once and review the file");
    assert!(
        stored == text,
        "the OpenAPI document changed; review it and run with UPDATE_SNAPSHOTS=1 to accept"
    );
}

#[test]
fn every_route_has_schemas_and_examples() {
    let doc = serde_json::to_value(backtide_server::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 14, "{}", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "delete", "put", "patch"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let at = format!("{method} {path}");
            if let Some(body) = op.get("requestBody") {
                for (_, media) in body["content"].as_object().unwrap() {
                    assert!(
                        media.get("schema").is_some(),
                        "{at}: request body without schema"
                    );
                    assert!(
                        has_example(&doc, media),
                        "{at}: request body without example"
                    );
                }
            }
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{at}: no success response"
            );
            for (code, resp) in responses {
                if code == "204" {
                    continue;
                }
                let content = resp["content"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{at} {code}: no content"));
                for (_, media) in content {
                    assert!(media.get("schema").is_some(), "{at} {code}: no schema");
                    if code.starts_with('2') {
                        assert!(has_example(&doc, media), "{at} {code}: no example");
                    }
                }
            }
        }
    }
    assert!(operations >= 18, "{operations}");
}

/// Every operation of a document, as (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

/// The served document describes the server it comes from (finding 11): without a token it
/// declares no security and no 401; with one, exactly the operations that answer 401 without
/// the token declare `bearer` and their 401. `?wait=` is bounded by `--max-wait`.
#[tokio::test]
async fn finding_11_the_served_document_follows_the_configuration() {
    let open = TestServer::start(|c| c.max_wait_secs = 7).await;
    let (status, doc) = open.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc.get("security").is_none());
    assert!(doc["components"].get("securitySchemes").is_none());
    for (method, path, op) in operations(&doc) {
        assert!(op.get("security").is_none(), "{method} {path}");
        assert!(op["responses"].get("401").is_none(), "{method} {path}");
    }
    for path in ["/v1/backtests", "/v1/sweeps"] {
        let wait = doc["paths"][path]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "wait")
            .unwrap();
        assert_eq!(wait["schema"]["minimum"], 0, "{path}");
        assert_eq!(wait["schema"]["maximum"], 7, "{path}");
    }
    open.stop().await;

    let guarded = TestServer::start(|c| {
        c.token = Some(backtide_server::Token::new("s3cret").unwrap());
    })
    .await;
    let (_, doc) = guarded.get("/openapi.json").await;
    // With a token and the default --max-wait, the served document is the snapshot's.
    assert_eq!(
        doc,
        serde_json::to_value(backtide_server::openapi()).unwrap()
    );
    let mut secured = 0;
    for (method, path, op) in operations(&doc) {
        let declared = op.get("security").is_some();
        assert_eq!(
            declared,
            op["responses"].get("401").is_some(),
            "{method} {path}"
        );
        let url = guarded.url(&path.replace("{id}", "x"));
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let answered = guarded.http.request(m, url).send().await.unwrap().status();
        assert_eq!(declared, answered == 401, "{method} {path}: {answered}");
        secured += usize::from(declared);
    }
    assert!(secured >= 18, "{secured}");
    guarded.stop().await;
}
