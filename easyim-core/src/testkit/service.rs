//! [`service_url`]: the address of a real service a storage's tests need, from the
//! environment, or a loud skip.

use std::io::Write as _;

/// The URL in the environment variable `var` (for example `EASYIM_TEST_PG`), or `None`, after
/// a notice on stderr that `test` is skipped and how to run it (`example`, a URL of the right
/// form; `what`, the service). Panics instead when `CI` is set: CI never skips them silently.
pub fn service_url(var: &str, test: &str, what: &str, example: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
            assert!(
                !ci,
                "{test}: {var} is not set, and CI is: the {what} tests must run in CI (.ci/run \
                 starts the service and sets it)"
            );
            // Straight to stderr, past the test harness's capture: seen even when it passes.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!! {test}: SKIPPED, {var} is not set.\n\
                 !!! Set it to {example} to run the {what} tests.\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            None
        }
    }
}
