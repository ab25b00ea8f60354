//! Signatures made by the official Stripe SDKs (PyPI `stripe` and npm
//! `stripe`, through `tests/sdk/sign.py` and `sign.mjs`) are accepted.
//!
//! The signers are installed by `tests/sdk/setup`, which `scripts/test`
//! runs; when they are missing this test fails and says so: a skipped SDK
//! check would look like a passing one.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use paywarden_testkit::{now_secs, TEST_WEBHOOK_SECRET};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::support::{apps, stripe, TestApp};

const HOW_TO_FIX: &str = "run scripts/test (or tests/sdk/setup, then set PAYWARDEN_SDK_PYTHON \
     and PAYWARDEN_SDK_DIR as scripts/test does)";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sdk_dir() -> PathBuf {
    std::env::var_os("PAYWARDEN_SDK_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("tests/sdk"))
}

fn sdk_python() -> PathBuf {
    std::env::var_os("PAYWARDEN_SDK_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".cache/sdk-venv/bin/python"))
}

/// The two signers as commands: `(label, program, args)`.
fn signers() -> Vec<(&'static str, PathBuf, Vec<PathBuf>)> {
    let dir = sdk_dir();
    let python = sdk_python();
    assert!(
        python.exists(),
        "the Python Stripe SDK is not installed ({} missing): {HOW_TO_FIX}",
        python.display()
    );
    assert!(
        dir.join("sign.py").exists() && dir.join("sign.mjs").exists(),
        "no SDK signers in {}: {HOW_TO_FIX}",
        dir.display()
    );
    assert!(
        dir.join("node_modules/stripe/package.json").exists(),
        "the Node Stripe SDK is not installed ({} missing): {HOW_TO_FIX}",
        dir.join("node_modules/stripe").display()
    );
    vec![
        ("python", python, vec![dir.join("sign.py")]),
        ("node", PathBuf::from("node"), vec![dir.join("sign.mjs")]),
    ]
}

/// Runs one signer: `(sdk name and version, one header per payload)`.
async fn sign_with(
    label: &str,
    program: &Path,
    args: &[PathBuf],
    payloads: &[String],
    timestamp: Option<i64>,
) -> (String, Vec<String>) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{label} signer {} did not start ({e}): {HOW_TO_FIX}",
                program.display()
            )
        });
    let request = json!({
        "secret": TEST_WEBHOOK_SECRET,
        "payloads": payloads,
        "timestamp": timestamp,
    });
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(request.to_string().as_bytes())
        .await
        .expect("write signer request");
    drop(stdin);
    let output = child.wait_with_output().await.expect("signer output");
    assert!(
        output.status.success(),
        "{label} signer failed ({}): {}\n{HOW_TO_FIX}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{label} signer printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    let sdk = answer["sdk"]
        .as_str()
        .expect("`sdk` in signer answer")
        .to_owned();
    let headers: Vec<String> = answer["headers"]
        .as_array()
        .expect("`headers` in signer answer")
        .iter()
        .map(|h| h.as_str().expect("header string").to_owned())
        .collect();
    assert_eq!(
        headers.len(),
        payloads.len(),
        "{sdk}: one header per payload"
    );
    (sdk, headers)
}

/// Real event bodies: captured ones of several API versions, and ours.
fn payloads(prefix: &str) -> Vec<String> {
    let mut bodies: Vec<String> = paywarden_testkit::fixtures()
        .into_iter()
        .filter(|(path, _)| {
            let path = path.to_string_lossy();
            path.contains("syncengine-2020-03-02-1IlavxJDPojXS6")
                || path.contains("invoice.paid/syncengine-2020-03-02-1IybXDJDPojXS6")
                || path.contains("checkout.session.completed/unresolved6631-2025-03-31.basil")
        })
        .map(|(path, body)| {
            String::from_utf8(body).unwrap_or_else(|_| panic!("{} is UTF-8", path.display()))
        })
        .collect();
    assert_eq!(bodies.len(), 3, "the chosen fixtures exist");
    let created = now_secs();
    bodies.push(
        String::from_utf8(stripe::invoice_paid(
            &format!("evt_sdk_{prefix}_1"),
            &format!("in_sdk_{prefix}_1"),
            "cus_sdk",
            1200,
            created,
        ))
        .expect("UTF-8"),
    );
    // Non-ASCII in the body: the signature covers UTF-8 bytes.
    bodies.push(
        String::from_utf8(stripe::event(
            &format!("evt_sdk_{prefix}_2"),
            "customer.updated",
            created,
            json!({ "id": "cus_sdk", "object": "customer", "name": "Zoë Ångström – 東京", "email": "z@example.com" }),
        ))
        .expect("UTF-8"),
    );
    bodies
}

async fn deliver_signed(app: &TestApp, sdk: &str, payloads: &[String], headers: &[String]) {
    for (payload, header) in payloads.iter().zip(headers) {
        let reply = app
            .post_webhook(payload.clone().into_bytes(), Some(header))
            .await;
        assert_eq!(
            (reply.status, &reply.json),
            (StatusCode::OK, &json!({ "received": true })),
            "[{}] {sdk} header `{header}` refused: {}",
            app.backend,
            reply.text
        );
    }
    assert_eq!(
        app.counts().await.events,
        payloads.len() as i64,
        "[{}] {sdk}: every signed event stored",
        app.backend
    );
}

#[tokio::test]
async fn official_sdk_signatures_are_accepted() {
    for (label, program, args) in signers() {
        let payloads = payloads(label);
        let (sdk, headers) = sign_with(label, &program, &args, &payloads, None).await;
        // A fresh app per SDK, so each delivery is a first one.
        for app in apps().await {
            deliver_signed(&app, &sdk, &payloads, &headers).await;
        }
    }
}

#[tokio::test]
async fn official_sdk_signatures_older_than_the_tolerance_are_refused() {
    for (label, program, args) in signers() {
        let payloads = payloads(label);
        let (sdk, headers) = sign_with(
            label,
            &program,
            &args,
            &payloads[..1],
            Some(now_secs() - 301),
        )
        .await;
        for app in apps().await {
            let reply = app
                .post_webhook(payloads[0].clone().into_bytes(), Some(&headers[0]))
                .await;
            reply.assert_error(
                StatusCode::BAD_REQUEST,
                "invalid_signature",
                &format!("[{}] {sdk} header 301 s old", app.backend),
            );
            assert_eq!(
                app.counts().await.events,
                0,
                "[{}] {sdk}: nothing stored",
                app.backend
            );
        }
    }
}
