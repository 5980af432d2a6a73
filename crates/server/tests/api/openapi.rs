//! The OpenAPI document: snapshot-tested, and every route documents its schemas and
//! examples.

use serde_json::Value;

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
