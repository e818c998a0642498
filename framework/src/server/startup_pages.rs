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
//! take back the ones they run, on first use (from the disk if memory
//! pressure has evicted them meanwhile). The machine's memory is the same:
//! what shrinks is the process's resident set.

use std::io;
use std::ops::Range;

/// Drops this process's pages of code and read-only data of its executable
/// and shared libraries; each comes back from its file on its next use.
/// Nothing is lost: those pages are never written (a mapping holding a
/// page of its own, resident or swapped out, such as relocations written
/// at load, is left alone). Skipped under a debugger, which writes its
/// breakpoints into them.
pub(crate) fn release_code_pages() -> io::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    if is_traced(&status) {
        return Ok(());
    }
    let unwritten = code_mappings(&std::fs::read_to_string("/proc/self/smaps")?);
    let page = page_size();
    let mut failure = None;
    // The ranges are taken from the segments the loader has loaded, under
    // its lock: no library is loaded or unloaded meanwhile, so a range seen
    // in `smaps` before cannot have become another library's data (written
    // by the loader) or memory of another kind.
    for_each_loaded_segment(|segment| {
        if segment.writable || failure.is_some() {
            return;
        }
        // Whole pages of the segment only: a page it shares with a
        // writable neighbour is kept.
        let start = segment.range.start.next_multiple_of(page);
        let end = segment.range.end / page * page;
        for mapping in &unwritten {
            let (from, to) = (start.max(mapping.start), end.min(mapping.end));
            if from >= to {
                continue;
            }
            // SAFETY: `from..to` is whole pages of a read-only segment of
            // a loaded object, kept loaded while this runs, inside a file
            // mapping that held no page of its own when `smaps` was read:
            // dropping its pages changes nothing a read of it returns,
            // only when it is read from the file.
            let result =
                unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED) };
            if result != 0 {
                failure = Some(io::Error::last_os_error());
                return;
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

/// A loadable segment of the executable or of a loaded library.
struct Segment {
    range: Range<usize>,
    writable: bool,
}

/// Calls `visit` with each loadable segment of each loaded object, under
/// the loader's lock (`dl_iterate_phdr`).
fn for_each_loaded_segment<V: FnMut(Segment)>(mut visit: V) {
    unsafe extern "C" fn each_object<F: FnMut(Segment)>(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `dl_iterate_phdr` passes a valid `info` for the call, with
        // `dlpi_phnum` headers at `dlpi_phdr`, and `data` is the `visit`
        // given below, borrowed for the whole iteration.
        let (info, visit) = unsafe { (&*info, &mut *(data as *mut F)) };
        let headers = if info.dlpi_phdr.is_null() {
            &[][..]
        } else {
            // SAFETY: as above.
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) }
        };
        for header in headers.iter().filter(|h| h.p_type == libc::PT_LOAD) {
            let start = (info.dlpi_addr as usize).wrapping_add(header.p_vaddr as usize);
            visit(Segment {
                range: start..start.saturating_add(header.p_memsz as usize),
                writable: header.p_flags & libc::PF_W != 0,
            });
        }
        0
    }
    // SAFETY: the callback matches `visit`'s type and only reads what the
    // loader hands it.
    unsafe {
        libc::dl_iterate_phdr(
            Some(each_object::<V>),
            (&mut visit as *mut V).cast::<libc::c_void>(),
        );
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .unwrap_or(4096)
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

    /// The executable's resident code, in kB, as `/proc/self/smaps` counts it.
    fn resident_code_kb() -> u64 {
        let executable = std::fs::read_link("/proc/self/exe").unwrap();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut ours = false;
        let mut total = 0;
        for line in smaps.lines() {
            if let Some(mapping) = mapping_header(line) {
                ours = mapping.perms == "r-xp" && Some(mapping.path) == executable.to_str();
            } else if let Some(rss) = line.strip_prefix("Rss:").filter(|_| ours) {
                total += kilobytes(rss).unwrap();
            }
        }
        total
    }

    #[test]
    fn this_process_gives_back_its_code_and_runs_on() {
        let before = resident_code_kb();
        release_code_pages().unwrap();
        let after = resident_code_kb();
        assert!(
            after < before,
            "{after} kB resident after, {before} kB before"
        );
        // The code this runs comes back from the file.
        assert_eq!(code_mappings("").len(), 0);
        let mut loaded = 0;
        for_each_loaded_segment(|segment| loaded += usize::from(!segment.writable));
        assert!(loaded >= 2, "the executable's and libc's code at least");
    }

    #[test]
    fn a_debugger_is_seen() {
        assert!(is_traced("Name:\tmysite\nTracerPid:\t4242\n"));
        assert!(!is_traced("Name:\tmysite\nTracerPid:\t0\n"));
    }
}
