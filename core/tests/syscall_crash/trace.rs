//! Reads an `strace -f -y -xx` trace into the file-system events of one operation.
//!
//! Only calls on paths below the storage directory, and on descriptors opened on them,
//! count; a call that failed changed nothing and is skipped. Two marker paths (opened,
//! and missing, on purpose by the traced child) bound the operation: what comes before
//! the begin mark is the setup (its state is the snapshot the child copied), and the
//! operation's events end at the acknowledgement mark.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The system calls the child is traced for (`strace -e trace=`).
pub const TRACED: &str = "open,openat,creat,write,pwrite64,writev,pwritev,pwritev2,\
ftruncate,truncate,fsync,fdatasync,syncfs,sync_file_range,fallocate,mkdir,mkdirat,rmdir,rename,\
renameat,renameat2,link,linkat,unlink,unlinkat,close";

/// The file name of the mark opened just before the operation.
pub const MARK_BEGIN: &str = "ts-syscall-mark-begin";
/// The file name of the mark opened right after the operation returned.
pub const MARK_ACK: &str = "ts-syscall-mark-ack";
/// The file name of the mark an operation of two calls opens between them: what the first
/// call acknowledged must survive every later crash.
pub const MARK_STEP: &str = "ts-syscall-mark-step";

/// A file's identity (its inode), stable across renames and links.
pub type Ino = usize;

/// A change to one file's bytes.
#[derive(Clone, Debug)]
pub enum DataOp {
    /// `data` written at `offset`.
    Write { offset: u64, data: Vec<u8> },
    /// The length set to this.
    Truncate(u64),
}

/// A change to directory entries (paths relative to the storage directory).
#[derive(Clone, Debug)]
pub enum DirOp {
    /// A new file `ino` named `path`.
    Create { path: PathBuf, ino: Ino },
    /// Another name for `ino`.
    Link { to: PathBuf, ino: Ino },
    /// A name removed.
    Unlink { path: PathBuf },
    /// A file renamed (atomically).
    Rename { from: PathBuf, to: PathBuf },
    /// A directory made.
    Mkdir { path: PathBuf },
    /// An empty directory removed.
    Rmdir { path: PathBuf },
}

impl DirOp {
    /// The directories whose entries the operation changes: an entry operation is made
    /// durable by an fsync of one of these.
    pub fn homes(&self) -> Vec<PathBuf> {
        match self {
            Self::Create { path, .. }
            | Self::Unlink { path }
            | Self::Mkdir { path }
            | Self::Rmdir { path }
            | Self::Link { to: path, .. } => vec![parent(path)],
            Self::Rename { from, to } => {
                let (a, b) = (parent(from), parent(to));
                if a == b {
                    vec![a]
                } else {
                    vec![a, b]
                }
            }
        }
    }

    /// The directories in whose order of entry operations this one takes its place: its
    /// homes, and for `mkdir` and `rmdir` the directory itself (nothing is created in a
    /// directory before it exists, and a directory is removed only once emptied).
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut d = self.homes();
        if let Self::Mkdir { path } | Self::Rmdir { path } = self {
            d.push(path.clone());
        }
        d
    }
}

/// One event of the operation, in the order the process issued them.
#[derive(Clone, Debug)]
pub enum Event {
    /// A data change on a file.
    Data { ino: Ino, op: DataOp },
    /// A directory-entry change.
    Dir(DirOp),
    /// `fsync` or `fdatasync` of a file.
    SyncFile(Ino),
    /// `fsync` of a directory.
    SyncDir(PathBuf),
}

/// A node of a storage directory's tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file.
    File(Ino),
}

/// What the setup left (the child's copy) and what the operation did.
pub struct Recorded {
    /// The tree at the begin mark (relative paths; "" is the storage directory).
    pub tree: BTreeMap<PathBuf, Node>,
    /// The bytes of each file of `tree`, by inode (files the operation creates start empty).
    pub contents: Vec<Vec<u8>>,
    /// The operation's events.
    pub events: Vec<Event>,
    /// How many traced system calls on the storage directory the operation made
    /// (failed ones and closes included).
    pub syscalls: usize,
    /// How many events came before the step mark ([`MARK_STEP`]), if there was one.
    pub step_acked_at: Option<usize>,
}

/// The parent of a relative path ("" for a top-level name).
pub fn parent(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// One call as strace printed it: name, top-level arguments, return value.
struct Call {
    name: String,
    args: Vec<String>,
    ret: i64,
}

/// Decodes an `-xx` string (`"\x2f\x74"`), failing on a truncated one.
fn decode_str(arg: &str) -> Vec<u8> {
    let body = arg
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a whole string argument (raise -s?): {arg:.80}"));
    decode_hex(body)
}

fn decode_hex(body: &str) -> Vec<u8> {
    let b = body.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 4);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            let hex = core::str::from_utf8(&b[i + 2..i + 4]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn os_path(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

/// The number of a descriptor argument (`3<...>`), or `None` for `AT_FDCWD`.
fn fd_num(arg: &str) -> Option<i64> {
    let n: String = arg
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    n.parse().ok()
}

/// The path `-y` printed for a descriptor argument (`3</a/b>`, `AT_FDCWD</cwd>`).
fn fd_path(arg: &str) -> Option<PathBuf> {
    let start = arg.find('<')?;
    let body = arg[start + 1..].strip_suffix('>')?;
    Some(os_path(decode_hex(body)))
}

/// Splits `a, "b", [{c, d}], e` at its top-level commas.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' | '<' | '(' if !quoted => depth += 1,
            ']' | '}' | '>' | ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Joins the lines strace split (`<unfinished ...>` / `<... name resumed>`) and parses
/// every call.
fn calls(text: &str) -> Vec<Call> {
    let mut pending: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let (pid, text_of_call) = line.trim_start().split_once(' ').unwrap_or(("", line));
        let body = text_of_call.trim_start();
        if body.starts_with("---") || body.starts_with("+++") || body.is_empty() {
            continue;
        }
        let whole = if let Some(head) = body.strip_suffix(" <unfinished ...>") {
            pending.insert(pid.to_string(), head.to_string());
            continue;
        } else if body.starts_with("<... ") {
            let tail = body.split_once("resumed>").map_or("", |(_, t)| t);
            let head = pending.remove(pid).unwrap_or_default();
            format!("{head}{tail}")
        } else {
            body.to_string()
        };
        let Some(args_start) = whole.find('(') else {
            continue;
        };
        let Some(args_end) = whole.rfind(") = ") else {
            continue;
        };
        let ret = whole[args_end + 4..]
            .split(|c: char| !(c.is_ascii_digit() || c == '-'))
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(-1);
        out.push(Call {
            name: whole[..args_start].to_string(),
            args: split_args(&whole[args_start + 1..args_end]),
            ret,
        });
    }
    out
}

/// What a descriptor refers to.
#[derive(Clone)]
enum Fd {
    File { ino: Ino, pos: u64 },
    Dir(PathBuf),
}

/// Where a call's path argument is: its index, and the index of the directory
/// descriptor it is relative to (the `*at` calls).
fn path_arg(name: &str) -> (Option<usize>, usize) {
    match name {
        "openat" | "mkdirat" | "unlinkat" => (Some(0), 1),
        _ => (None, 0),
    }
}

/// The state of the parse.
struct Recorder<'a> {
    root: &'a Path,
    rec: Recorded,
    /// The process's view of the tree.
    live: BTreeMap<PathBuf, Node>,
    /// Before the begin mark: descriptor -> path at opening (resolved at the mark).
    early: HashMap<i64, PathBuf>,
    fds: HashMap<i64, Fd>,
    begun: bool,
}

impl Recorder<'_> {
    fn rel(&self, p: &Path) -> Option<PathBuf> {
        p.strip_prefix(self.root).ok().map(Path::to_path_buf)
    }

    /// The absolute path of the path argument `i`, relative to the descriptor argument `d`.
    fn path_at(c: &Call, d: Option<usize>, i: usize) -> PathBuf {
        let p = os_path(decode_str(&c.args[i]));
        if p.is_absolute() {
            return p;
        }
        d.and_then(|d| fd_path(&c.args[d]))
            .expect("a relative path with no directory known")
            .join(p)
    }

    fn fd_of(&self, c: &Call) -> Option<Fd> {
        fd_num(&c.args[0]).and_then(|fd| self.fds.get(&fd).cloned())
    }

    fn push(&mut self, e: Event) {
        self.rec.events.push(e);
    }

    /// Handles a mark; true when the call was one.
    fn mark(&mut self, c: &Call) -> Option<bool> {
        if !matches!(c.name.as_str(), "open" | "openat") {
            return None;
        }
        let (d, i) = path_arg(&c.name);
        let path = Self::path_at(c, d, i);
        let name = path.file_name()?.to_string_lossy().into_owned();
        if name == MARK_BEGIN {
            assert!(!self.begun, "two begin marks");
            self.begun = true;
            for (fd, p) in core::mem::take(&mut self.early) {
                let Some(r) = self.rel(&p) else { continue };
                let fd_is = match self.live.get(&r) {
                    Some(Node::File(ino)) => Fd::File { ino: *ino, pos: 0 },
                    _ => Fd::Dir(r),
                };
                self.fds.insert(fd, fd_is);
            }
            Some(false)
        } else if name == MARK_STEP {
            assert!(self.begun, "a step mark before the begin mark");
            self.rec.step_acked_at = Some(self.rec.events.len());
            Some(false)
        } else if name == MARK_ACK {
            assert!(self.begun, "acknowledged before the begin mark");
            Some(true)
        } else {
            None
        }
    }

    /// Before the begin mark only descriptors are followed.
    fn setup_call(&mut self, c: &Call) {
        match c.name.as_str() {
            "open" | "openat" | "creat" if c.ret >= 0 => {
                let (d, i) = path_arg(&c.name);
                self.early.insert(c.ret, Self::path_at(c, d, i));
            }
            "close" => {
                if let Some(fd) = fd_num(&c.args[0]) {
                    self.early.remove(&fd);
                }
            }
            _ => {}
        }
    }

    fn touches_root(&self, c: &Call) -> bool {
        c.args.iter().any(|a| {
            fd_path(a).is_some_and(|p| p.starts_with(self.root))
                || (a.starts_with('"') && os_path(decode_str(a)).starts_with(self.root))
        }) || self.fd_of(c).is_some()
    }

    fn open(&mut self, c: &Call) {
        let (d, i) = path_arg(&c.name);
        let Some(r) = self.rel(&Self::path_at(c, d, i)) else {
            self.fds.remove(&c.ret);
            return;
        };
        let flags = if c.name == "creat" {
            "O_CREAT|O_TRUNC"
        } else {
            c.args[i + 1].as_str()
        };
        let fd = match self.live.get(&r).cloned() {
            Some(Node::Dir) => Fd::Dir(r),
            Some(Node::File(ino)) => {
                if flags.contains("O_TRUNC") {
                    self.push(Event::Data {
                        ino,
                        op: DataOp::Truncate(0),
                    });
                }
                Fd::File { ino, pos: 0 }
            }
            None => {
                assert!(
                    flags.contains("O_CREAT"),
                    "opened a file not there: {}",
                    r.display()
                );
                let ino = self.rec.contents.len();
                self.rec.contents.push(Vec::new());
                self.live.insert(r.clone(), Node::File(ino));
                self.push(Event::Dir(DirOp::Create { path: r, ino }));
                Fd::File { ino, pos: 0 }
            }
        };
        self.fds.insert(c.ret, fd);
    }

    fn write(&mut self, c: &Call) {
        match self.fd_of(c) {
            Some(Fd::File { ino, pos }) => {
                let mut data = decode_str(&c.args[1]);
                data.truncate(usize::try_from(c.ret).unwrap());
                let offset = if c.name == "pwrite64" {
                    c.args[3].parse().unwrap()
                } else {
                    let next = Fd::File {
                        ino,
                        pos: pos + data.len() as u64,
                    };
                    self.fds.insert(fd_num(&c.args[0]).unwrap(), next);
                    pos
                };
                self.push(Event::Data {
                    ino,
                    op: DataOp::Write { offset, data },
                });
            }
            Some(Fd::Dir(d)) => panic!("a write to directory {}", d.display()),
            None => {}
        }
    }

    fn remove(&mut self, c: &Call) {
        let (d, i) = path_arg(&c.name);
        if let Some(r) = self.rel(&Self::path_at(c, d, i)) {
            let is_dir =
                c.name == "rmdir" || (c.name == "unlinkat" && c.args[2].contains("AT_REMOVEDIR"));
            self.live.remove(&r);
            self.push(Event::Dir(if is_dir {
                DirOp::Rmdir { path: r }
            } else {
                DirOp::Unlink { path: r }
            }));
        }
    }

    fn rename_or_link(&mut self, c: &Call) {
        let name = c.name.as_str();
        let (from, to) = if matches!(name, "rename" | "link") {
            (Self::path_at(c, None, 0), Self::path_at(c, None, 1))
        } else {
            (Self::path_at(c, Some(0), 1), Self::path_at(c, Some(2), 3))
        };
        if name == "renameat2" {
            assert!(
                !c.args[4].contains("EXCHANGE"),
                "RENAME_EXCHANGE is not modelled"
            );
        }
        let (Some(from), Some(to)) = (self.rel(&from), self.rel(&to)) else {
            panic!("{name} across the storage directory's boundary");
        };
        let Some(Node::File(ino)) = self.live.get(&from).cloned() else {
            panic!("{name} of {}, not a file", from.display());
        };
        self.live.insert(to.clone(), Node::File(ino));
        if name.starts_with("link") {
            self.push(Event::Dir(DirOp::Link { to, ino }));
        } else {
            self.live.remove(&from);
            self.push(Event::Dir(DirOp::Rename { from, to }));
        }
    }

    /// One call of the operation.
    fn call(&mut self, c: &Call) {
        if self.touches_root(c) {
            self.rec.syscalls += 1;
        }
        if c.ret < 0 {
            return;
        }
        match c.name.as_str() {
            "open" | "openat" | "creat" => self.open(c),
            "write" | "pwrite64" => self.write(c),
            "writev" | "pwritev" | "pwritev2" | "truncate" | "sync_file_range" | "fallocate" => {
                assert!(
                    !self.touches_root(c),
                    "{} on the storage directory is not modelled",
                    c.name
                );
            }
            "ftruncate" => {
                if let Some(Fd::File { ino, .. }) = self.fd_of(c) {
                    let len = c.args[1].parse().unwrap();
                    self.push(Event::Data {
                        ino,
                        op: DataOp::Truncate(len),
                    });
                }
            }
            "fsync" | "fdatasync" => match self.fd_of(c) {
                Some(Fd::File { ino, .. }) => self.push(Event::SyncFile(ino)),
                Some(Fd::Dir(d)) => self.push(Event::SyncDir(d)),
                None => {}
            },
            // syncfs: every file's data and every directory's entries, one by one (a
            // crash may stop it part-way, as it may the real call).
            "syncfs" if self.fd_of(c).is_some() => {
                let nodes: Vec<(PathBuf, Node)> = self
                    .live
                    .iter()
                    .map(|(p, n)| (p.clone(), n.clone()))
                    .collect();
                for (path, node) in nodes {
                    match node {
                        Node::File(ino) => self.push(Event::SyncFile(ino)),
                        Node::Dir => self.push(Event::SyncDir(path)),
                    }
                }
            }
            "close" => {
                if let Some(fd) = fd_num(&c.args[0]) {
                    self.fds.remove(&fd);
                }
            }
            "mkdir" | "mkdirat" => {
                let (d, i) = path_arg(&c.name);
                if let Some(r) = self.rel(&Self::path_at(c, d, i)) {
                    self.live.insert(r.clone(), Node::Dir);
                    self.push(Event::Dir(DirOp::Mkdir { path: r }));
                }
            }
            "rmdir" | "unlink" | "unlinkat" => self.remove(c),
            "rename" | "renameat" | "renameat2" | "link" | "linkat" => self.rename_or_link(c),
            _ => {}
        }
    }
}

/// Parses `text` (the child's whole trace), `root` being its storage directory and
/// `tree`/`contents` the child's snapshot at the begin mark.
pub fn record(
    text: &str,
    root: &Path,
    tree: BTreeMap<PathBuf, Node>,
    contents: Vec<Vec<u8>>,
) -> Recorded {
    let mut r = Recorder {
        root,
        live: tree.clone(),
        rec: Recorded {
            tree,
            contents,
            events: Vec::new(),
            syscalls: 0,
            step_acked_at: None,
        },
        early: HashMap::new(),
        fds: HashMap::new(),
        begun: false,
    };
    for c in calls(text) {
        match r.mark(&c) {
            Some(true) => return r.rec,
            Some(false) => {}
            None if r.begun => r.call(&c),
            None => r.setup_call(&c),
        }
    }
    panic!("the trace has no acknowledgement mark (did the operation fail?)");
}
