//! Deployments: the change Marathon is making to an app (start, scale, restart or upgrade,
//! stop) until its tasks match it, listed at `/v2/deployments` and cancellable there.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::PathId;

/// What a deployment does to its app, as Marathon names the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    StartApplication,
    ScaleApplication,
    RestartApplication,
    StopApplication,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::StartApplication => "StartApplication",
            Action::ScaleApplication => "ScaleApplication",
            Action::RestartApplication => "RestartApplication",
            Action::StopApplication => "StopApplication",
        }
    }
}

/// One deployment of one app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    /// The app version it deploys.
    pub version: String,
    pub app_id: PathId,
    /// Its steps in order (a new app: start, then scale).
    pub steps: Vec<Action>,
    /// 1-based, as Marathon counts.
    pub current_step: usize,
}

impl Deployment {
    pub fn new(app_id: PathId, version: String, steps: Vec<Action>) -> Self {
        Deployment {
            id: uuid::Uuid::new_v4().to_string(),
            version,
            app_id,
            steps,
            current_step: 1,
        }
    }

    pub fn is_stop(&self) -> bool {
        self.steps.contains(&Action::StopApplication)
    }

    fn action(&self, action: Action) -> Value {
        json!({"action": action.name(), "app": self.app_id})
    }

    /// `GET /v2/deployments`'s item.
    pub fn to_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|&action| json!({"actions": [self.action(action)]}))
            .collect();
        let current: Vec<Value> = self
            .steps
            .get(self.current_step.saturating_sub(1))
            .map(|&action| {
                let mut value = self.action(action);
                value["readinessCheckResults"] = json!([]);
                value
            })
            .into_iter()
            .collect();
        json!({
            "id": self.id,
            "version": self.version,
            "affectedApps": [self.app_id],
            "affectedPods": [],
            "steps": steps,
            "currentActions": current,
            "currentStep": self.current_step,
            "totalSteps": self.steps.len(),
        })
    }

    /// The `plan` of deployment events (Marathon's `DeploymentPlan`).
    pub fn plan_json(&self) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|&action| json!({"actions": [self.action(action)]}))
            .collect();
        json!({
            "id": self.id,
            "version": self.version,
            "original": {"id": "/", "apps": [], "groups": [], "dependencies": [], "version": self.version},
            "target": {"id": "/", "apps": [], "groups": [], "dependencies": [], "version": self.version},
            "steps": steps,
        })
    }
}
