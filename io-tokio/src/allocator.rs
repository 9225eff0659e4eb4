//! How the C allocator is told to hand memory back.
//!
//! glibc's malloc serves large requests (128 KiB and up) from their own mappings, returned
//! to the system when freed, but after the first such free it raises that threshold to the
//! freed size, up to 32 MiB. From then on the file store's passing buffers (4 MiB write
//! batches, 8 MiB blocks read back) come from the heap, between long-lived small
//! allocations, and the heap can no longer shrink: a server streaming a large file stream
//! through grew from 33 to 72 MiB resident that way, and more on a busier machine. A fixed
//! threshold keeps such buffers in their own mappings; messages up to the default
//! `max_payload` of 1 MiB still come from the heap.

/// Requests of this size and up get their own mapping, whatever was freed before.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

/// Fixes the allocator's mapping threshold; called once, before any thread starts.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; no other thread is running yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
