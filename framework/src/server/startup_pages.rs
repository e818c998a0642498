//! Gives back the pages of code that only the start-up ran.
//!
//! Before `serve` answers its first request it loads the settings, runs the
//! checks, compiles the templates and asks the database about migrations:
//! code that no request runs again. The kernel keeps every page of code a
//! process has touched in its resident memory until it ends, so that code
//! would count in the server's memory for its whole life. Once the server is
//! ready, [`release_code_pages`] tells the kernel the process no longer needs
//! the pages of its executable and libraries (`madvise(MADV_DONTNEED)`): they
//! leave the process and stay in the page cache, from which the requests
//! take back the ones they run, on first use, without reading the disk.

use std::io;
use std::ops::Range;

/// Drops this process's pages of code and read-only data of its executable
/// and shared libraries; each comes back from its file on its next use.
/// Nothing is lost: those pages are never written (a mapping holding a
/// page of its own, resident or swapped out, such as relocations written
/// at load, is left alone).
/// Skipped under a debugger, which writes its breakpoints into them.
pub(crate) fn release_code_pages() -> io::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    if is_traced(&status) {
        return Ok(());
    }
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    for range in code_mappings(&smaps) {
        // SAFETY: `range` is a whole mapping of this process, read-only,
        // backed by a file and holding no private page: dropping its pages
        // changes nothing a read of it returns, only when it is read from
        // the file. No thread maps or unmaps libraries meanwhile: serving
        // loads none, and a library being loaded is writable until its
        // relocations are written, so it is not read-only here.
        let result = unsafe {
            libc::madvise(
                range.start as *mut libc::c_void,
                range.end - range.start,
                libc::MADV_DONTNEED,
            )
        };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether `/proc/self/status` names a tracer (a debugger).
fn is_traced(status: &str) -> bool {
    status
        .lines()
        .find_map(|line| line.strip_prefix("TracerPid:"))
        .is_some_and(|pid| pid.trim() != "0")
}

/// One mapping of `/proc/self/smaps`, as far as choosing it needs.
struct Mapping<'a> {
    range: Range<usize>,
    perms: &'a str,
    path: &'a str,
    /// Its pages of its own (written since the file was mapped), resident
    /// and swapped out, in kB; `None` until both are read.
    anonymous_kb: Option<u64>,
    swap_kb: Option<u64>,
}

/// The read-only, unwritten mappings of the files that hold code (those
/// with an executable mapping: the executable and its libraries, never a
/// data file a project maps).
fn code_mappings(smaps: &str) -> Vec<Range<usize>> {
    let mut mappings: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        if let Some(value) = line.strip_prefix("Anonymous:") {
            if let Some(last) = mappings.last_mut() {
                last.anonymous_kb = kilobytes(value);
            }
        } else if let Some(value) = line.strip_prefix("Swap:") {
            if let Some(last) = mappings.last_mut() {
                last.swap_kb = kilobytes(value);
            }
        } else if let Some(mapping) = mapping_header(line) {
            mappings.push(mapping);
        }
    }
    let holds_code = |path: &str| mappings.iter().any(|m| m.path == path && m.perms == "r-xp");
    mappings
        .iter()
        .filter(|m| matches!(m.perms, "r-xp" | "r--p"))
        .filter(|m| m.anonymous_kb == Some(0) && m.swap_kb == Some(0))
        .filter(|m| m.path.starts_with('/') && holds_code(m.path))
        .map(|m| m.range.clone())
        .collect()
}

/// `START-END PERMS OFFSET DEVICE INODE PATH`, the first line of a mapping.
fn mapping_header(line: &str) -> Option<Mapping<'_>> {
    let mut fields = line.splitn(6, ' ');
    let (start, end) = fields.next()?.split_once('-')?;
    let range = usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    let path = fields.nth(3).unwrap_or("").trim_start();
    Some(Mapping {
        range,
        perms,
        path,
        anonymous_kb: None,
        swap_kb: None,
    })
}

/// `   796 kB`, a size of `/proc/self/smaps`.
fn kilobytes(value: &str) -> Option<u64> {
    value.trim().strip_suffix("kB")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0100000 r--p 00000000 fd:01 1234   /srv/mysite/bin/mysite
Size:               1024 kB
Rss:                 900 kB
Anonymous:             0 kB
Swap:                  0 kB
55d0c0100000-55d0c0900000 r-xp 00100000 fd:01 1234   /srv/mysite/bin/mysite
Size:               8192 kB
Anonymous:             0 kB
Swap:                  0 kB
55d0c0900000-55d0c0a00000 r--p 00900000 fd:01 1234   /srv/mysite/bin/mysite
Size:               1024 kB
Anonymous:           796 kB
Swap:                  0 kB
55d0c0a00000-55d0c0a08000 r--p 00a00000 fd:01 1234   /srv/mysite/bin/mysite
Anonymous:             0 kB
Swap:                 32 kB
55d0c0a08000-55d0c0a10000 rw-p 00a00000 fd:01 1234   /srv/mysite/bin/mysite
Anonymous:            64 kB
Swap:                  0 kB
7f0000000000-7f0000100000 r--p 00000000 fd:01 99     /srv/mysite/data/words.bin
Anonymous:             0 kB
Swap:                  0 kB
7f1000000000-7f1000028000 r--p 00000000 fd:01 555    /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
Swap:                  0 kB
7f1000028000-7f10001b0000 r-xp 00028000 fd:01 555    /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
Swap:                  0 kB
7f2000000000-7f2000021000 rw-p 00000000 00:00 0
Anonymous:           132 kB
Swap:                  0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0      [vdso]
Anonymous:             0 kB
Swap:                  0 kB
";

    #[test]
    fn code_and_read_only_data_of_code_files_are_released_and_nothing_written() {
        let ranges = code_mappings(SMAPS);
        assert_eq!(
            ranges,
            vec![
                0x55d0c0000000..0x55d0c0100000,
                0x55d0c0100000..0x55d0c0900000,
                0x7f1000000000..0x7f1000028000,
                0x7f1000028000..0x7f10001b0000,
            ],
            "the relocated read-only parts (pages of their own, resident or swapped out), the \
             writable data, a data file mapped read-only, anonymous memory and the vdso stay"
        );
    }

    #[test]
    fn a_mapping_whose_own_pages_are_not_known_is_kept() {
        let header = "7f1000028000-7f10001b0000 r-xp 00028000 fd:01 555 /usr/lib/libc.so.6\n";
        assert!(code_mappings(header).is_empty());
        let without_swap = format!("{header}Anonymous:             0 kB\n");
        assert!(code_mappings(&without_swap).is_empty());
    }

    #[test]
    fn a_debugger_is_seen() {
        assert!(is_traced("Name:\tmysite\nTracerPid:\t4242\n"));
        assert!(!is_traced("Name:\tmysite\nTracerPid:\t0\n"));
    }
}
