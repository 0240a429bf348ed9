//! Attachment and download scenarios of BEHAVIOUR §8 (AT1–AT9, DL1–DL4), adapted to W13
//! (limit enforced, server-generated names, the file deleted with its row), and the upload
//! edge cases: exactly the limit, one byte over, empty files, path-like names, JSON bodies.

mod common;

use actix_web::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};

const BOUNDARY: &str = "----deskboundary";

/// The client's form (CLIENT §7.1): `ticket`, a `Content-Type` text part, then `upload`.
fn form(ticket: &str, file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut part = |headers: &str, content: &[u8]| {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"ticket\"",
        ticket.as_bytes(),
    );
    part(
        "Content-Disposition: form-data; name=\"Content-Type\"",
        b"text/plain",
    );
    if let Some((name, bytes)) = file {
        part(
            &format!("Content-Disposition: form-data; name=\"upload\"; filename=\"{name}\"\r\nContent-Type: text/plain"),
            bytes,
        );
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(app: &TestApp, user: &User, ticket: i32, file: Option<(&str, &[u8])>) -> Response {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    app.call(
        Method::POST,
        "/api/v3/attachments",
        Some(&user.token),
        &[("content-type", &content_type), ("accept", "*/*")],
        Some(form(
            &format!("{{\"id\":\"{ticket}\",\"type\":\"tickets\"}}"),
            file,
        )),
    )
    .await
}

/// Files below the media root (staging included).
fn stored_files(app: &TestApp) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&app.media)
}

struct Fixture {
    app: TestApp,
    u0: User,
    u1: User,
    t0: i32,
    a0: i32,
}

/// U0 requester of T0 uploads A0 `tesț.txt`; U1 unrelated.
async fn fixture() -> Fixture {
    let app = TestApp::new().await;
    let u0 = app.user("Una", &[]).await;
    let u1 = app.user("Udo", &[]).await;
    let t0 = app.ticket(&u0, "T0 attachments").await;
    let r = upload(&app, &u0, t0, Some(("tesț.txt", b"hello attachment"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let a0 = r.json()["data"]["id"].as_str().unwrap().parse().unwrap();
    Fixture {
        app,
        u0,
        u1,
        t0,
        a0,
    }
}

#[actix_web::test]
async fn at1_to_at4_reading_attachments() {
    let f = fixture().await;
    assert_eq!(
        f.app.get("/api/v3/attachments", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = f
        .app
        .get(
            &format!("/api/v3/attachments?filter[ticket]={}&include=user", f.t0),
            Some(&f.u0.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(body["data"][0]["id"], f.a0.to_string());
    assert!(r.text.contains(&format!("/api/v3/download/{}", f.a0)));
    let attrs = &body["data"][0]["attributes"];
    assert_eq!(attrs["file-name"], "tesț.txt");
    assert_eq!(attrs["file-size"], 16);
    assert_eq!(
        attrs["mime-type"],
        Value::Null,
        "plain text is not recognisable"
    );
    assert!(attrs["upload"].as_str().unwrap().starts_with("http"));
    assert_eq!(body["included"][0]["id"], f.u0.id.to_string());
    assert_eq!(
        f.app
            .get(&format!("/api/v3/attachments/{}", f.a0), Some(&f.u0.token))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        f.app
            .get(&format!("/api/v3/attachments/{}", f.a0), Some(&f.u1.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(f
        .app
        .get("/api/v3/attachments", Some(&f.u1.token))
        .await
        .json()["data"]
        .as_array()
        .unwrap()
        .is_empty());
    let r = f
        .app
        .get(
            &format!("/api/v3/attachments?filter[user]={}", f.u1.id),
            Some(&f.u0.token),
        )
        .await
        .json();
    assert!(r["data"].as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn at5_at6_uploading() {
    let f = fixture().await;
    let pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
    let r = upload(&f.app, &f.u0, f.t0, Some(("my report.pdf", pdf))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.header("content-type").as_deref(), Some(JSONAPI));
    let body = r.json();
    let id = body["data"]["id"].as_str().unwrap();
    assert!(body["data"]["attributes"]["upload"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/api/v3/download/{id}")));
    assert_eq!(body["data"]["attributes"]["file-name"], "my_report.pdf");
    assert_eq!(body["data"]["attributes"]["mime-type"], "application/pdf");
    assert_eq!(
        body["data"]["relationships"]["ticket"]["data"]["id"],
        f.t0.to_string()
    );
    assert_eq!(f.app.count("attachments"), 2);
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE verb = 'attachment:create' AND ticket_id = {}",
            f.t0
        )),
        2
    );
    let files = stored_files(&f.app);
    let r = upload(&f.app, &f.u1, f.t0, Some(("x.txt", b"dummy file"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json(),
        json!({"errors": [{"detail": "Ticket not found.", "source": {"pointer": "/data/attributes/ticket"}}]})
    );
    assert_eq!(f.app.count("attachments"), 2);
    assert_eq!(
        stored_files(&f.app),
        files,
        "a refused upload leaves no file"
    );
}

#[actix_web::test]
async fn upload_edge_cases() {
    let f = fixture().await;
    let files = stored_files(&f.app);
    let limit = UPLOAD_LIMIT as usize;
    let r = upload(&f.app, &f.u0, f.t0, Some(("big.bin", &vec![b'a'; limit]))).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "exactly the limit: {}",
        r.text
    );
    assert_eq!(r.json()["data"]["attributes"]["file-size"], limit);
    let rows = f.app.count("attachments");
    let r = upload(
        &f.app,
        &f.u0,
        f.t0,
        Some(("big.bin", &vec![b'a'; limit + 1])),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["errors"][0]["status"], "413");
    assert_eq!(f.app.count("attachments"), rows);
    assert_eq!(stored_files(&f.app), files + 1, "nothing left behind");
    let r = upload(&f.app, &f.u0, f.t0, Some(("empty.txt", b""))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json()["errors"][0]["detail"],
        "The submitted file is empty."
    );
    assert_eq!(stored_files(&f.app), files + 1);
    let r = upload(&f.app, &f.u0, f.t0, None).await;
    assert_eq!(r.json()["errors"][0]["detail"], "No file was submitted.");
    assert_eq!(
        r.json()["errors"][0]["source"]["pointer"],
        "/data/attributes/upload"
    );
    for (name, expected) in [("../../etc/passwd", "passwd"), ("", "file"), ("..", "file")] {
        let r = upload(&f.app, &f.u0, f.t0, Some((name, b"x"))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text);
        assert_eq!(r.json()["data"]["attributes"]["file-name"], expected);
    }
    assert!(!f.app.media.join("etc").exists());
    // A JSON:API body cannot carry a file.
    let r = f.app.send(Method::POST, "/api/v3/attachments", Some(&f.u0.token),
        json!({"data": {"type": "attachments", "attributes": {"ticket": {"type": "tickets", "id": f.t0}}}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["detail"], "No file was submitted.");
    // A bare id in the ticket part.
    let r = f
        .app
        .call(
            Method::POST,
            "/api/v3/attachments",
            Some(&f.u0.token),
            &[(
                "content-type",
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            )],
            Some(form(&f.t0.to_string(), Some(("a.txt", b"x")))),
        )
        .await;
    assert_eq!(r.json()["errors"][0]["code"], "incorrect_type");
}

#[actix_web::test]
async fn at7_to_at9_deleting_removes_row_and_file() {
    let f = fixture().await;
    let path = format!("/api/v3/attachments/{}", f.a0);
    assert_eq!(
        f.app
            .call(Method::DELETE, &path, Some(&f.u1.token), &[], None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A participant who did not upload it may not delete it either.
    let responder = f.app.user("Rex", &[]).await;
    f.app.add_responder(f.t0, &responder);
    assert_eq!(
        f.app
            .call(Method::DELETE, &path, Some(&responder.token), &[], None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let files = stored_files(&f.app);
    let r = f
        .app
        .call(Method::DELETE, &path, Some(&f.u0.token), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(f.app.count("attachments"), 0);
    assert_eq!(stored_files(&f.app), files - 1);
    assert_eq!(f.app.count(&format!("activities WHERE verb = 'attachment:destroy' AND action_type = 'profile' AND action_id = {}", f.u0.id)), 1);
    // AT8: a superuser deletes somebody else's.
    let r = upload(&f.app, &f.u0, f.t0, Some(("b.txt", b"b"))).await;
    let id = r.json()["data"]["id"].as_str().unwrap().to_string();
    let su = f.app.with_roles(&f.u1, &["superuser"]);
    let r = f
        .app
        .call(
            Method::DELETE,
            &format!("/api/v3/attachments/{id}"),
            Some(&su.token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE verb = 'attachment:destroy' AND ticket_id = {}",
            f.t0
        )),
        2
    );
    let r = f
        .app
        .call(Method::PATCH, &path, Some(&su.token), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[actix_web::test]
async fn dl1_to_dl4_downloads() {
    let app = TestApp::new().await;
    let u0 = app.user("Dora", &[]).await;
    let u1 = app.user("Dirk", &[]).await;
    let u2 = app.user("Dana", &[]).await;
    let t0 = app.ticket(&u0, "T0 downloads").await;
    app.add_responder(t0, &u1);
    let r = upload(&app, &u1, t0, Some(("țеșт.txt", b"secret bytes"))).await;
    let id = r.json()["data"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v3/download/{id}");
    assert_eq!(app.get(&path, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get(&path, Some(&u2.token)).await.status,
        StatusCode::NOT_FOUND
    );
    for user in [&u0, &u1] {
        let r = app.get(&path, Some(&user.token)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.text, "secret bytes");
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(
            r.header("content-disposition").as_deref(),
            Some("attachment; filename*=utf-8''%C8%9B%D0%B5%C8%99%D1%82.txt")
        );
    }
    let su = app.with_roles(&u2, &["superuser"]);
    assert_eq!(app.get(&path, Some(&su.token)).await.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/v3/download/99999", Some(&su.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Entries of the media root's staging area.
fn staging_files(app: &TestApp) -> usize {
    std::fs::read_dir(app.media.join("tmp"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

/// Waits (without blocking the runtime the issuer runs on) until `done` holds or 5 s pass.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if done() {
            return true;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    done()
}

#[actix_web::test]
async fn a_client_that_disconnects_mid_upload_leaves_no_file_and_no_row() {
    use tokio::io::AsyncWriteExt;

    let f = fixture().await;
    // A real server of this application on 127.0.0.1: only a socket can go away mid-body.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    actix_web::rt::spawn(desk_app::server::run(f.app.state.clone(), listener));
    let (rows, files) = (f.app.count("attachments"), stored_files(&f.app));

    // A FIN (the client closed) and a RST (the client's machine gave up) end a request in
    // different ways inside actix; neither may leave anything behind.
    for abortive in [false, true] {
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"ticket\"\r\n\r\n\
                 {{\"id\":\"{}\",\"type\":\"tickets\"}}\r\n\
                 --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload\"; \
                 filename=\"half.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                f.t0
            )
            .as_bytes(),
        );
        body.extend_from_slice(&[b'x'; 16 * 1024]);
        // The declared length promises more than is sent (still under the limit).
        let declared = body.len() + 32 * 1024;
        let head = format!(
            "POST /api/v3/attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             Accept: */*\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
             Content-Length: {declared}\r\n\r\n",
            f.u0.token
        );
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(&body).await.unwrap();
        assert!(
            eventually(|| staging_files(&f.app) == 1).await,
            "the server is receiving the file (abortive: {abortive})"
        );
        if abortive {
            socket.set_zero_linger().unwrap();
        }
        drop(socket);
        assert!(
            eventually(|| staging_files(&f.app) == 0).await,
            "no staged file is left behind (abortive: {abortive})"
        );
        assert_eq!(f.app.count("attachments"), rows);
        assert_eq!(stored_files(&f.app), files);
    }
}
