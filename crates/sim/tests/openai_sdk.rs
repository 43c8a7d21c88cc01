//! The HTTP face driven by the official OpenAI Python SDK (`openai` on
//! PyPI, 2.x, `client.videos`): `tests/openai_sdk.py` does every call a
//! user of the SDK makes. It fails, never skips, when the SDK is missing:
//! `scripts/test` installs it.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use framebreak_sim::{Profile, ServerConfig, SimServer, Simulator};

#[test]
fn the_official_openai_python_sdk_drives_the_server() {
    let probe = Command::new("python3")
        .args(["-c", "import openai"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the OpenAI Python SDK is not installed (`python3 -c 'import openai'` failed: {}); \
             scripts/test installs it, or run `pip install 'openai>=3,<4'`",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "python3 cannot be run ({e}); it and the OpenAI Python SDK are needed, \
             and scripts/test installs the SDK"
        ),
    }
    let sim = Arc::new(Simulator::new(Profile::weak()).unwrap());
    let server = SimServer::bind("127.0.0.1:0", ServerConfig::new(sim)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openai_sdk.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(format!("{}/v1", server.url()))
        // A proxy from the environment must not come between the SDK and a
        // server on the loopback.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}",
        script.display(),
        out.status
    );
    assert!(stdout.contains("as the SDK expects"), "{stdout}\n{stderr}");
    let stats = server.stats();
    assert_eq!(stats.submissions, 5, "{stats:?}");
    assert_eq!(stats.rejected_submissions, 0, "{stats:?}");
    server.shutdown();
}
