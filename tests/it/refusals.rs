//! `owner` is set on create only, and refused the same way on every write that carries it.

use super::support::*;
use serde_json::json;

#[tokio::test]
async fn owner_is_refused_on_every_update_path() {
    let s = Server::start().await;
    s.open_collection("notes").await;
    let alice = jwt("alice", None, 600);
    let (st, doc) = s
        .call(
            "POST",
            "/v1/collections/notes/documents",
            Some(&alice),
            Some(json!({"data": {"t": 1}})),
        )
        .await;
    assert_eq!(st, 201, "{doc}");
    assert_eq!(doc["owner"], "alice");
    let id = doc["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/collections/notes/documents/{id}");

    // Create refuses it (the reference behaviour) ...
    let (st, b) = s
        .call(
            "POST",
            "/v1/collections/notes/documents",
            Some(&alice),
            Some(json!({"data": {}, "owner": "bob"})),
        )
        .await;
    assert_eq!((st, b["error"]["code"].as_str()), (403, Some("forbidden")), "{b}");
    // ... and so do PATCH and PUT, for users and public keys.
    for (method, who) in [("PATCH", &alice), ("PUT", &alice), ("PATCH", &PUBLIC_KEY.to_owned())] {
        let (st, b) = s
            .call(
                method,
                &path,
                Some(who),
                Some(json!({"data": {"t": 2}, "owner": "bob"})),
            )
            .await;
        assert_eq!(st, 403, "{method}: {b}");
        assert_eq!(b["error"]["code"], "forbidden");
        assert!(b["error"]["message"].as_str().unwrap_or("").contains("owner"), "{b}");
    }
    // Batch update and replace, with the operation's index; earlier operations roll back.
    for op in ["update", "replace"] {
        let (st, b) = s
            .call(
                "POST",
                "/v1/collections/notes/batch",
                Some(&alice),
                Some(json!({"operations": [
                    {"op": "create", "data": {"t": 9}},
                    {"op": op, "id": id, "data": {"t": 3}, "owner": "bob"},
                ]})),
            )
            .await;
        assert_eq!(st, 403, "{op}: {b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("operations[1]"),
            "{b}"
        );
    }
    // A service key cannot change the owner by an update either: 422, not silence.
    let (st, b) = s
        .call(
            "PATCH",
            &path,
            Some(SERVICE_KEY),
            Some(json!({"data": {}, "owner": "bob"})),
        )
        .await;
    assert_eq!((st, b["error"]["code"].as_str()), (422, Some("unprocessable")), "{b}");

    // Nothing above changed the document or created one.
    let (_, now) = s.call("GET", &path, Some(&alice), None).await;
    assert_eq!(
        (now["version"].as_i64(), now["owner"].as_str()),
        (Some(1), Some("alice")),
        "{now}"
    );
    let (_, list) = s
        .call("GET", "/v1/collections/notes/documents", Some(SERVICE_KEY), None)
        .await;
    assert_eq!(list["documents"].as_array().map(Vec::len), Some(1), "{list}");
    // `"owner": null` is the same as leaving it out.
    let (st, b) = s
        .call(
            "PATCH",
            &path,
            Some(&alice),
            Some(json!({"data": {"t": 4}, "owner": null})),
        )
        .await;
    assert_eq!(st, 200, "{b}");
}
