//! Reading the small files of the socket directory (exit records,
//! pidfiles) without trusting what is there: another program may have put
//! a FIFO (an open that blocks forever), a device or a symlink in its place.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Open `path` for reading if it is a regular file: with `O_NONBLOCK` (a
/// FIFO does not block the open) and `O_NOFOLLOW` (no symlink); anything but
/// a regular file is refused with `InvalidData`.
pub(crate) fn open_regular_file(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// The contents of `path`, which must be a regular file
/// ([`open_regular_file`]).
pub(crate) fn read_regular_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_regular_file(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}
