//! Paths as Tahoe's debug commands print them: made absolute the way Python's
//! `os.path.abspath` does (lexically, without resolving links), and quoted the way
//! `allmydata.util.encodingutil.quote_output` does.

use core::fmt::Write as _;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Python's `os.path.abspath`: joins a relative path to the working directory, then
/// removes `.` and empty components and resolves `..` lexically (`..` at the root stays
/// at the root). Two leading slashes are kept, as POSIX allows and Python does.
///
/// # Errors
///
/// The working directory cannot be read.
pub fn abspath(path: &Path) -> io::Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let bytes = joined.as_os_str().as_bytes();
    let leading = match bytes {
        [b'/', b'/', c, ..] if *c != b'/' => 2,
        [b'/', b'/'] => 2,
        [b'/', ..] => 1,
        _ => 0,
    };
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in bytes.split(|&c| c == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = vec![b'/'; leading];
    out.extend_from_slice(&parts.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    Ok(PathBuf::from(OsString::from_vec(out)))
}

/// The characters Python decodes a file name into: UTF-8, with each undecodable byte as
/// a lone surrogate U+DC80..U+DCFF (Python's `surrogateescape`). Lone surrogates are not
/// `char`s, so they are carried as `u32`.
fn code_points(bytes: &[u8]) -> Vec<u32> {
    let mut out = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.extend(chunk.valid().chars().map(u32::from));
        out.extend(chunk.invalid().iter().map(|&b| 0xdc00 + u32::from(b)));
    }
    out
}

/// Characters that may stand in single quotes (Tahoe's `MUST_DOUBLE_QUOTE_NL`
/// complement).
fn plain(c: u32) -> bool {
    matches!(c, 0x20..=0x26 | 0x28..=0x7e | 0xa0..=0xd7ff | 0xe000..=0xfdcf | 0xfdf0..=0xfffc)
}

/// Characters that stand for themselves in double quotes (the complement of Tahoe's
/// `ESCAPABLE_UNICODE`).
fn unescaped(c: u32) -> bool {
    matches!(c, 0x20 | 0x21 | 0x23 | 0x25..=0x5b | 0x5d..=0x5f | 0x61..=0x7e | 0xa0..=0xd7ff
        | 0xe000..=0xfdcf | 0xfdf0..=0xfffc)
}

/// Tahoe's `quote_output(path)` with its defaults (`quotemarks=True`, and so newlines
/// quoted): `'path'` when every character may stand in single quotes, otherwise
/// `"..."` with `"`, `$`, `` ` `` and `\` escaped by a backslash and other characters
/// as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
#[must_use]
pub fn quote_output(path: &Path) -> String {
    let cps = code_points(path.as_os_str().as_bytes());
    if cps.iter().all(|&c| plain(c)) {
        // Every code point here is a valid char (surrogates are not plain).
        let text: String = cps.iter().filter_map(|&c| char::from_u32(c)).collect();
        return format!("'{text}'");
    }
    let mut out = String::from("\"");
    for c in cps {
        match c {
            0x22 | 0x24 | 0x5c | 0x60 => {
                out.push('\\');
                out.extend(char::from_u32(c));
            }
            c if unescaped(c) => out.extend(char::from_u32(c)),
            c if c <= 0xff => {
                let _ = write!(out, "\\x{c:02x}");
            }
            c if c <= 0xffff => {
                let _ = write!(out, "\\u{c:04x}");
            }
            c => {
                let _ = write!(out, "\\U{c:08x}");
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(bytes: &[u8]) -> String {
        quote_output(Path::new(std::ffi::OsStr::from_bytes(bytes)))
    }

    #[test]
    fn quoting_as_tahoe() {
        // Each checked with allmydata.util.encodingutil.quote_output.
        assert_eq!(q(b"/a/b c/0"), "'/a/b c/0'");
        assert_eq!(q("/caf\u{e9}".as_bytes()), "'/caf\u{e9}'");
        assert_eq!(q(b"/it's"), "\"/it's\"");
        assert_eq!(q(b"/a\nb"), "\"/a\\x0ab\"");
        assert_eq!(q(b"/$x\"`\\"), "'/$x\"`\\'");
        assert_eq!(q(b"/it's $here"), "\"/it's \\$here\"");
        assert_eq!(q(b"/\xff"), "\"/\\udcff\"");
        assert_eq!(q("/\u{1f600}'".as_bytes()), "\"/\\U0001f600'\"");
    }

    #[test]
    fn abspath_is_lexical() {
        let p = |s: &str| abspath(Path::new(s)).unwrap();
        assert_eq!(p("/a/./b//c/../d"), PathBuf::from("/a/b/d"));
        assert_eq!(p("/../x"), PathBuf::from("/x"));
        assert_eq!(p("//x/y"), PathBuf::from("//x/y"));
        assert_eq!(p("///x"), PathBuf::from("/x"));
        assert_eq!(p("/"), PathBuf::from("/"));
        assert!(p("rel").is_absolute());
    }
}
