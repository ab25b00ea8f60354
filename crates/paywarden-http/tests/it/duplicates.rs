//! A repeated event id: `{"received":true,"duplicate":true}`, no further
//! effect, and a `skipped replay` log line naming the event.

use std::io::Write;
use std::sync::{Arc, Mutex};

use paywarden_testkit::now_secs;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{apps, stripe};

/// Log output of this thread, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }

    fn clear(&self) {
        self.0.lock().expect("log buffer").clear();
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(needle)).collect()
}

/// Captures the logs of the calling thread until the guard drops.
///
/// A thread's default subscriber alone is not enough while other tests run:
/// with a single registered dispatcher, tracing decides a callsite's
/// interest from whichever thread reaches it first, and a thread without a
/// subscriber would switch the callsite off for everyone. A global no-op
/// subscriber makes two dispatchers, so interest is decided per event.
fn capture_this_thread(captured: &Captured) -> tracing::subscriber::DefaultGuard {
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        let _ =
            tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default());
    });
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::set_default(subscriber)
}

// A current-thread runtime: the server's tasks run on this thread, so the
// thread's default subscriber sees their logs (and no other test's).
#[tokio::test(flavor = "current_thread")]
async fn a_repeated_event_answers_duplicate_and_logs_skipped_replay() {
    let captured = Captured::default();
    let _guard = capture_this_thread(&captured);

    for app in apps().await {
        let b = app.backend;
        let body =
            stripe::checkout_paid("evt_dup_1", "cs_dup_1", "user_dup", "cus_dup", now_secs());
        captured.clear();
        let first = app.deliver(&body).await;
        app.assert_received(&first, "first delivery");
        let log = captured.text();
        assert!(
            lines_with(&log, "skipped replay").is_empty(),
            "[{b}] a first delivery is no replay:\n{log}"
        );
        assert!(
            !lines_with(&log, "event applied").is_empty(),
            "[{b}] the first delivery is logged as applied:\n{log}"
        );
        let after_first = app.digest().await;

        for n in 2..=3 {
            let again = app.deliver(&body).await;
            assert_eq!(
                again.status,
                StatusCode::OK,
                "[{b}] delivery {n}: {}",
                again.text
            );
            // The exact body the issue specifies, byte for byte.
            assert_eq!(
                again.text, r#"{"received":true,"duplicate":true}"#,
                "[{b}] delivery {n}"
            );
        }
        let log = captured.text();
        let replays = lines_with(&log, "skipped replay");
        assert_eq!(
            replays.len(),
            2,
            "[{b}] one `skipped replay` per repeat:\n{log}"
        );
        for line in &replays {
            assert!(
                line.contains("evt_dup_1"),
                "[{b}] the line names the event: {line}"
            );
        }

        assert_eq!(
            app.digest().await,
            after_first,
            "[{b}] repeats change no projection"
        );
        let counts = app.counts().await;
        assert_eq!(
            (counts.events, counts.accounts, counts.account_events),
            (1, 1, 1),
            "[{b}] {counts:?}"
        );
        let event = app.stored("evt_dup_1").await;
        assert_eq!(
            (event.received_count, event.attempts),
            (3, 1),
            "[{b}] received 3 times, applied once"
        );
        assert!(
            event.last_received_at >= event.first_received_at,
            "[{b}] receipt times"
        );

        // The operator's view says the same.
        let keys = app.keys().await;
        let shown = app
            .get("/api/admin/events/evt_dup_1", Some(&keys.admin))
            .await;
        assert_eq!(shown.status, StatusCode::OK, "[{b}] {}", shown.text);
        assert_eq!(
            (
                &shown.json["received_count"],
                &shown.json["attempts"],
                &shown.json["status"]
            ),
            (&json!(3), &json!(1), &json!("processed")),
            "[{b}] {}",
            shown.text
        );
    }
}
