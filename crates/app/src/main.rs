fn main() -> std::process::ExitCode {
    desk_app::cli::main()
}
