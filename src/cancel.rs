//! Stopping a run from anywhere: Ctrl-C (and SIGTERM / SIGHUP on Unix, Ctrl-Break
//! and a closed console on Windows) set
//! one flag, and every wait in the program is cut into slices no longer than
//! [`SLICE`], checking it between them — so a stop takes effect within a
//! second wherever the program is waiting (a probe, a protocol reply, a name
//! look-up), and what was decided is still reported.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Set by the signal handler; probes and queries stop and the report closes cleanly.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The longest a single blocking call may wait before the flag is looked at.
pub const SLICE: Duration = Duration::from_millis(200);

/// Whether the run was asked to stop.
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The signal that asked for the stop (0: none, or not a signal).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Ask the run to stop (what the signal handler does).
pub fn request() {
    STOP.store(true, Ordering::SeqCst);
}

/// Forget a stop request, so the next query runs (interactive mode: Ctrl-C
/// during a query cancels that query and returns to the prompt).
pub fn reset() {
    SIGNAL.store(0, Ordering::SeqCst);
    STOP.store(false, Ordering::SeqCst);
}

/// The exit code of a stopped run: 128 + the signal's number, as shells
/// report for a process a signal ended (130 for Ctrl-C).
pub fn exit_code() -> i32 {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => crate::error::EXIT_INTERRUPTED,
        n => 128 + n,
    }
}

extern "C" fn on_signal(signo: i32) {
    // Only atomics here: async-signal-safe.
    SIGNAL.store(signo, Ordering::SeqCst);
    STOP.store(true, Ordering::SeqCst);
}

/// Catch Ctrl-C, SIGTERM and SIGHUP (what `timeout`, systemd and a closed
/// terminal send) — on Windows Ctrl-C, Ctrl-Break and a closed console
/// (`SetConsoleCtrlHandler`) — so the run ends with its report and log file
/// complete.
pub fn install_handlers() {
    crate::platform::on_stop_signals(on_signal);
}

/// How long the next blocking call may wait on the way to `deadline`: at most
/// [`SLICE`], at least 1 ms (a zero timeout means "forever" to the OS), and
/// `None` once the deadline has passed.
pub fn slice_until(deadline: Instant) -> Option<Duration> {
    let left = deadline.checked_duration_since(Instant::now())?;
    if left.is_zero() {
        return None;
    }
    Some(left.clamp(Duration::from_millis(1), SLICE))
}

/// Sleep until `deadline` or a stop request; false if stopped.
pub fn sleep_until(deadline: Instant) -> bool {
    while let Some(d) = slice_until(deadline) {
        if requested() {
            return false;
        }
        std::thread::sleep(d);
    }
    !requested()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_short_and_never_zero() {
        let far = Instant::now() + Duration::from_secs(60);
        assert_eq!(slice_until(far), Some(SLICE));
        let near = Instant::now() + Duration::from_micros(10);
        assert!(slice_until(near).is_none_or(|d| d == Duration::from_millis(1)));
        assert_eq!(slice_until(Instant::now() - Duration::from_millis(1)), None);
    }
}
