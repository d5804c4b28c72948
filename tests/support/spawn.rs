//! Starting our binary from a test, on every platform the plain tier runs on.
#![allow(dead_code)]

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Windows' ERROR_INTERNAL_ERROR. Wine returns it from CreateProcess when the
/// new process dies before it reports itself started (a wineserver or address
/// space hiccup under load): our program never ran, so starting it again is a
/// retry of the harness, not of the code under test. Seen once in a CI run.
const WINE_START_FAILED: i32 = 1359;
const STARTS: u32 = 5;

/// `cmd.spawn()`, started again (at most five times) when Wine fails to start it.
pub fn spawn(cmd: &mut Command) -> Child {
    let mut tries = 0;
    loop {
        tries += 1;
        match cmd.spawn() {
            Ok(child) => return child,
            Err(e) if cfg!(windows) && e.raw_os_error() == Some(WINE_START_FAILED) && tries < STARTS => {
                eprintln!("start failed ({e}); starting again");
                std::thread::sleep(Duration::from_millis(200 * u64::from(tries)));
            }
            Err(e) => panic!("start {cmd:?}: {e}"),
        }
    }
}

/// [`spawn`] with stdout and stderr captured, then wait for it (set stdin
/// yourself: unlike `Command::output`, this keeps the command's choice).
pub fn output(cmd: &mut Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    spawn(cmd).wait_with_output().unwrap_or_else(|e| panic!("wait for {cmd:?}: {e}"))
}
