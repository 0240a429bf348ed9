/// mimalloc instead of glibc's malloc for the server's own allocations: a list response
/// allocates and frees many strings and buffers up to tens of kilobytes (decoded rows, the
/// rendered document), and glibc's consolidation and chunk unlinking on them took about a
/// tenth of the server's CPU time per request (docs/performance.md). libpq, a C library,
/// keeps glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    desk_app::cli::main()
}
