//! One module per subcommand.

pub mod agent;
pub mod exec;
pub mod master;
