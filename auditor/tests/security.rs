//! The auditor's side of issue 12's item 11: names chosen by producers cannot drive the
//! operator's terminal, and Kafka secrets stay out of the command line and of every output.
// Helpers here are test code too: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Command, Output};

use edgeship_testkit::records::{base_time, final_heartbeat, heartbeat, record};
use edgeship_testkit::scratch::ScratchDir;

const PASSWORD: &str = "Sup3rSecretPw-4711";

fn audit(args: &[&str], environment: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgeship-audit"))
        .args(args)
        .envs(environment.iter().copied())
        .output()
        .unwrap()
}

/// All a run printed, stdout and stderr.
fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn host_and_run_names_with_terminal_escapes_are_printed_escaped() {
    // As JSON carries them: ESC [ 2 J clears the screen; U+009B is the one-byte CSI.
    let host = "cp\\u001b[2J1001";
    let run = "20250601T120000Z-\\u009b31m";
    let t0 = base_time();
    let mut text = heartbeat(host, run, t0, None) + "\n";
    for s in 0..100u64 {
        text.push_str(&record(host, Some(run), s, t0 + 1 + s as i64));
        text.push('\n');
    }
    text.push_str(&final_heartbeat(host, run, t0 + 200, Some(99)));
    text.push('\n');
    let scratch = ScratchDir::new("audit-security").unwrap();
    let path = scratch.write("escapes.json", text).unwrap();
    let path = path.to_str().unwrap();
    for format in ["table", "csv", "json"] {
        let out = audit(&["--output", format, path], &[]);
        let all = printed(&out);
        assert!(!all.contains('\u{1b}'), "{format}: a raw ESC in {all:?}");
        assert!(!all.contains('\u{9b}'), "{format}: a raw CSI in {all:?}");
        let expected = match format {
            "json" => "cp\\u001b[2J1001",
            _ => "cp\\x1b[2J1001",
        };
        assert!(all.contains(expected), "{format}: {all}");
    }
}

fn unreachable_broker() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

#[test]
fn a_password_given_in_a_file_or_the_environment_never_appears_in_any_output() {
    let scratch = ScratchDir::new("audit-security").unwrap();
    let brokers = unreachable_broker();
    let base = [
        "--brokers",
        brokers.as_str(),
        "--topic",
        "x",
        "--timeout",
        "1",
    ];

    // A valid file: the audit fails to reach the broker, and says nothing of the password.
    // The audit with a properties file: it cannot reach the broker (exit 3).
    let with_file = |path: &std::path::Path| {
        let mut args = base.to_vec();
        args.extend(["--kafka-config", path.to_str().unwrap()]);
        let out = audit(&args, &[]);
        assert_eq!(out.status.code(), Some(3));
        printed(&out)
    };
    let good = scratch
        .write(
            "kafka.properties",
            format!("# the audit's credentials\nsasl.username=audit\nsasl.password={PASSWORD}\n"),
        )
        .unwrap();
    let all = with_file(&good);
    assert!(!all.contains(PASSWORD), "{all}");

    // librdkafka quotes a value it refuses: the refusal is printed with the value redacted.
    let refused = scratch
        .write(
            "refused.properties",
            format!("sasl.password={PASSWORD}\nfetch.wait.max.ms={PASSWORD}\n"),
        )
        .unwrap();
    let all = with_file(&refused);
    assert!(!all.contains(PASSWORD), "{all}");
    assert!(
        all.contains("fetch.wait.max.ms") && all.contains("<redacted>"),
        "{all}"
    );

    // A line that is not a property is named by its number, not its text.
    let broken = scratch
        .write(
            "broken.properties",
            format!("client.id=audit\n{PASSWORD}\n"),
        )
        .unwrap();
    let all = with_file(&broken);
    assert!(!all.contains(PASSWORD) && all.contains("line 2"), "{all}");

    // The environment: the same refusal, the same redaction.
    let out = audit(
        &base,
        &[("EDGESHIP_AUDIT_KAFKA_FETCH_WAIT_MAX_MS", PASSWORD)],
    );
    assert_eq!(out.status.code(), Some(3));
    let all = printed(&out);
    assert!(
        !all.contains(PASSWORD) && all.contains("fetch.wait.max.ms"),
        "{all}"
    );
}

#[test]
fn a_secret_given_with_dash_x_is_warned_about() {
    let brokers = unreachable_broker();
    let setting = format!("sasl.password={PASSWORD}");
    let out = audit(
        &[
            "--brokers",
            &brokers,
            "--topic",
            "x",
            "--timeout",
            "1",
            "-X",
            &setting,
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: -X sasl.password")
            && stderr.contains("EDGESHIP_AUDIT_KAFKA_SASL_PASSWORD"),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}
