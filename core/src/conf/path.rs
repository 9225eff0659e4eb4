//! Where an included file is, relative to the top-level file.

/// Joins an include's `name` onto the including file's `dir` the way the reference does
/// (Go's `filepath.Join`): lexically, with `.` and `..` resolved, and with a leading `/`
/// in `name` not making it absolute, because the reference resolves every include
/// against the including file's directory. The result is relative to the top-level
/// file's directory, possibly starting with `..`.
pub(super) fn join(dir: &str, name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in dir.split('/').chain(name.split('/')) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The directory of a path [`join`] returned; empty for the top-level directory.
pub(super) fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_like_the_reference() {
        assert_eq!(join("", "users.conf"), "users.conf");
        assert_eq!(join("", "./includes/users.conf"), "includes/users.conf");
        assert_eq!(
            join("includes", "./passwords.conf"),
            "includes/passwords.conf"
        );
        assert_eq!(join("a/b", "../c.conf"), "a/c.conf");
        assert_eq!(join("a", "../../c.conf"), "../c.conf");
        assert_eq!(join("..", "x.conf"), "../x.conf");
        // A leading slash is joined, not absolute, as Go's filepath.Join does.
        assert_eq!(join("a", "/etc/x.conf"), "a/etc/x.conf");
        assert_eq!(join("", "/etc/x.conf"), "etc/x.conf");
        assert_eq!(join("", ""), ".");
        assert_eq!(parent("includes/users.conf"), "includes");
        assert_eq!(parent("users.conf"), "");
        assert_eq!(parent("../x.conf"), "..");
    }
}
