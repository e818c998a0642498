//! The project's command line, as Django's manage.py: `cargo run -- help`,
//! or `manage help` inside this folder.

use mysite::wsgi;

fn main() -> std::process::ExitCode {
    nuages::management::execute_from_command_line(wsgi::project())
}
