/// mimalloc instead of glibc's malloc: a list response allocates and frees buffers of tens
/// of kilobytes (libpq's results, the rendered document), for which glibc's consolidation
/// and chunk unlinking took about a tenth of the CPU time of a request (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    desk_app::cli::main()
}
