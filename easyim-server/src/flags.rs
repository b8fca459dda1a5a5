//! Command-line flags as the original's (Go's `flag` package) wrote them: one or two dashes
//! for every long flag (`-port 8888` is `--port 8888`, `-port=8888` too), and `-init=true` /
//! `-init=false` for a yes/no flag. [`go_style_args`] rewrites them into the form the parser
//! reads; the parser refuses what it does not know.

/// The long flags of `easyim` that take a value.
const VALUED: &[&str] = &["port", "apiport", "import-original"];
/// The long flags of `easyim` that are yes/no.
const SWITCHES: &[&str] = &["init", "init-only", "stop", "daemon", "help", "version"];

/// Rewrites Go-style flags into `--name` / `--name=value`. `args` excludes the program name.
///
/// `-d` stays as it is (the short form of `--daemon`); a yes/no flag with `=false` (or `0`,
/// `f`) is dropped and with `=true` (or `1`, `t`) kept bare, as Go reads them. After `--`,
/// nothing is rewritten.
pub fn go_style_args<I>(args: I) -> Vec<String>
where
    I: IntoIterator<Item = String>,
{
    let mut out = Vec::new();
    let mut rest = false;
    for arg in args {
        if rest || arg == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        let Some(body) = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|b| !b.is_empty())
        else {
            out.push(arg);
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let name = if name == "d" && arg.starts_with("--") {
            "daemon"
        } else {
            name
        };
        if name == "d" {
            match value.map(go_bool) {
                None | Some(Some(true)) => out.push("-d".to_owned()),
                Some(Some(false)) => {}
                Some(None) => out.push(arg),
            }
        } else if SWITCHES.contains(&name) {
            match value.map(go_bool) {
                None | Some(Some(true)) => out.push(format!("--{name}")),
                Some(Some(false)) => {}
                // Not a yes/no: the parser says so.
                Some(None) => out.push(format!("--{body}")),
            }
        } else if VALUED.contains(&name)
            || (name.len() > 1 && name.starts_with(|c: char| c.is_ascii_alphabetic()))
        {
            // A long flag, known or not (the parser then names it as `--name`).
            out.push(format!("--{body}"));
        } else {
            out.push(arg);
        }
    }
    out
}

/// A Go `flag` boolean: `1, t, T, TRUE, true, True` or `0, f, F, FALSE, false, False`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        go_style_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn one_or_two_dashes_and_equals() {
        assert_eq!(
            norm(&[
                "-port",
                "8888",
                "-apiport=8889",
                "--port",
                "1",
                "--apiport=2"
            ]),
            [
                "--port",
                "8888",
                "--apiport=8889",
                "--port",
                "1",
                "--apiport=2"
            ]
        );
        assert_eq!(
            norm(&[
                "-init",
                "-stop",
                "-init-only",
                "-daemon",
                "-import-original",
                "x.db"
            ]),
            [
                "--init",
                "--stop",
                "--init-only",
                "--daemon",
                "--import-original",
                "x.db"
            ]
        );
    }

    #[test]
    fn go_booleans_and_the_short_daemon_flag() {
        assert_eq!(norm(&["-init=true", "-stop=false"]), ["--init"]);
        assert_eq!(
            norm(&["-d", "--d", "-d=0", "-d=t"]),
            ["-d", "--daemon", "-d"]
        );
        assert_eq!(norm(&["-init=maybe"]), ["--init=maybe"]);
    }

    #[test]
    fn unknown_long_flags_get_two_dashes_and_the_rest_is_left_alone() {
        assert_eq!(
            norm(&["-x", "-portx", "8888", "-1", "-", "--", "-port"]),
            ["-x", "--portx", "8888", "-1", "-", "--", "-port"]
        );
    }
}
