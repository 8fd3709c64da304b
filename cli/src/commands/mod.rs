//! One module per subcommand.

pub mod agent;
pub mod agents;
pub mod apps;
pub mod chronos;
pub mod dev;
pub mod exec;
pub mod framework;
pub mod kill;
pub mod logs;
pub mod marathon;
pub mod master;
pub mod master_ha;
pub mod roles;
pub mod run;
pub mod sim;
pub mod state;
pub mod upload;
