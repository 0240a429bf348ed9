//! The mail adapter against a real SMTP server on 127.0.0.1 (`desk_testkit::SmtpSink`) and
//! the `.eml` file transport.

use desk_domain::TicketId;
use desk_mail::{MailSettings, Mailer, Notice, NoticeKind, SmtpMailer, Templates};
use desk_testkit::SmtpSink;
use std::time::Duration;

fn templates() -> Templates {
    Templates::new(MailSettings {
        public_url: "https://id.example.org".into(),
        site_name: "Test Desk".into(),
    })
    .unwrap()
}

#[test]
fn a_notice_arrives_with_its_recipient_subject_and_body() {
    let sink = SmtpSink::start();
    let mailer = SmtpMailer::from_url(&sink.url(), "desk@example.org").unwrap();
    mailer.check().expect("the relay answers");
    let mail = templates()
        .compose(&Notice {
            kind: NoticeKind::TicketCreated,
            to: "ops@example.org".into(),
            recipient_name: "ops@example.org".into(),
            ticket: TicketId(7),
            actor_name: "Rita Requester".into(),
        })
        .unwrap();
    mailer.send(&mail).unwrap();
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["ops@example.org"]);
    assert_eq!(got[0].from, "desk@example.org");
    assert_eq!(got[0].subject, "A new ticket was requested, ID: 7");
    assert!(got[0].body.contains("Rita Requester has just submitted"));
    assert!(got[0]
        .body
        .contains("https://id.example.org/tickets/view/7"));
    assert!(got[0].body.contains("The Test Desk Team."));
}

#[test]
fn an_unreachable_relay_is_an_error_not_a_silent_loss() {
    let mut sink = SmtpSink::start();
    let mailer = SmtpMailer::from_url(&sink.url(), "desk@example.org").unwrap();
    sink.stop();
    let mail = desk_mail::OutgoingMail {
        to: "a@example.org".into(),
        subject: "s".into(),
        body: "b".into(),
    };
    assert!(mailer.check().is_err());
    assert!(mailer.send(&mail).is_err());
    sink.restart();
    mailer.send(&mail).unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn the_file_transport_writes_one_eml_per_message() {
    let dir = std::env::temp_dir().join(format!("desk-outbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("file://{}", dir.display());
    let mailer = SmtpMailer::from_url(&url, "desk@example.org").unwrap();
    mailer.check().unwrap();
    for to in ["a@example.org", "b@example.org"] {
        mailer
            .send(&desk_mail::OutgoingMail {
                to: to.into(),
                subject: "Hello".into(),
                body: "Body text".into(),
            })
            .unwrap();
    }
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f.extension().unwrap() == "eml"));
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("Subject: Hello"));
    assert!(text.contains("From: desk@example.org"));
    std::fs::remove_dir_all(&dir).unwrap();
}
