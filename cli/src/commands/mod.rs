//! One module per subcommand.

pub mod agent;
pub mod dev;
pub mod exec;
pub mod kill;
pub mod logs;
pub mod master;
pub mod run;
pub mod state;
