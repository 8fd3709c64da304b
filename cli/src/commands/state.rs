//! `wasmesos state | agents | frameworks | tasks [--json]`: the master's view of the cluster,
//! as aligned tables (from `Operator.GetState`) or as the master's own HTTP JSON. Also the
//! master-finding flag and Operator client that `logs`, `kill` and `run` share.

mod json;
pub mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use wasmesos_detector::{
    CallHeaders, ClientTls, Credential, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MASTER_URL, MasterChannel,
    MasterService,
};
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::{ClusterState, GetStateRequest};

/// The master to talk to.
#[derive(Debug, Clone, clap::Args)]
pub struct MasterArg {
    /// The master's URL (`https://` for a master serving TLS).
    #[arg(long, value_name = "URL", env = "WASMESOS_MASTER", default_value = DEFAULT_MASTER_URL)]
    pub master: String,
    /// A file with the principal and secret to authenticate with, for a master that requires
    /// it: JSON {"principal": "p", "secret": "s"} or one `p s` line.
    #[arg(long, value_name = "FILE", env = "WASMESOS_CREDENTIAL")]
    pub credential: Option<PathBuf>,
    /// A PEM file of the CA that verifies an https:// master [default: the system's roots].
    #[arg(long, value_name = "FILE", env = "WASMESOS_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
}

impl MasterArg {
    /// The credential `--credential` names, if any.
    pub fn credential(&self) -> anyhow::Result<Option<Credential>> {
        Ok(self
            .credential
            .as_deref()
            .map(Credential::from_file)
            .transpose()?)
    }

    /// A channel to the master (the leader, for a `zk://` URL) whose calls carry the
    /// credential; the error names the address when it cannot be reached.
    pub async fn channel(&self) -> anyhow::Result<MasterService> {
        let headers = CallHeaders::new(self.credential()?.as_ref());
        let tls = self.tls().load()?;
        let master = MasterChannel::connect_tls(&self.master, DEFAULT_CONNECT_TIMEOUT, tls).await?;
        Ok(master.service(&headers))
    }

    /// What the CLI trusts in an `https://` master.
    pub fn tls(&self) -> ClientTls {
        ClientTls {
            ca: self.tls_ca.clone(),
            identity: None,
        }
    }

    /// An operator client; it decodes answers up to `MAX_STATE_BYTES`, since `GetState`
    /// answers with the whole cluster.
    pub async fn operator(&self) -> anyhow::Result<OperatorClient<MasterService>> {
        Ok(OperatorClient::new(self.channel().await?)
            .max_decoding_message_size(wasmesos_proto::limits::MAX_STATE_BYTES)
            .max_encoding_message_size(wasmesos_proto::limits::MAX_CALL_BYTES))
    }
}

/// A gRPC error status as one line: what failed, the code, and the master's message.
pub fn status_error(call: &str, status: &tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{call}: {} ({:?})", status.message(), status.code())
}

const STATE_EXAMPLES: &str = "\
Examples:
  wasmesos state                      # master, roles, agents, frameworks and tasks
  wasmesos state --json | jq .agents  # everything as JSON
  wasmesos agents --master http://10.0.0.5:5050
  wasmesos tasks --master https://master.example:5050 --tls-ca ca.pem
  WASMESOS_MASTER=http://10.0.0.5:5050 wasmesos tasks";

/// Flags shared by `state`, `agents`, `frameworks` and `tasks`.
#[derive(Debug, clap::Args)]
#[command(after_help = STATE_EXAMPLES)]
pub struct StateArgs {
    #[command(flatten)]
    pub master: MasterArg,
    /// Print the master's JSON (as `GET /state`, `/agents` and `/frameworks` serve it)
    /// instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Which part of the state to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    All,
    Agents,
    Frameworks,
    Tasks,
}

/// Prints the chosen view; errors are one line on stderr.
pub fn main(args: StateArgs, view: View) -> ExitCode {
    match run(&args, view) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmesos: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &StateArgs, view: View) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    if args.json {
        let value = runtime.block_on(json::fetch(&args.master, view))?;
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    let state = runtime.block_on(fetch_state(&args.master))?;
    Ok(table::view(&state, view))
}

/// `Operator.GetState`.
pub async fn fetch_state(master: &MasterArg) -> anyhow::Result<ClusterState> {
    let mut operator = master.operator().await?;
    let response = operator
        .get_state(GetStateRequest {})
        .await
        .map_err(|status| status_error("GetState", &status))?;
    Ok(response.into_inner())
}

/// A reason for people: `memory limit` for `memory_limit`; empty for no reason.
pub fn reason_text(reason: wasmesos_proto::Reason) -> String {
    reason.code().replace('_', " ")
}
