//! The demo's NATS JetStream cluster: three nodes of Debian's `nats-server` on loopback,
//! each with JetStream (its own store directory), a route to the others and an MQTT
//! listener for gateways. Loopback only and without TLS or users, as a demo on one
//! machine: `docs/central.md` and `scripts/interop-nats.sh` give the production setup
//! (TLS, certificates mapped to each site's user). A node can be killed with SIGKILL and
//! started again on the same ports and store.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Child;

use super::DemoError;
use super::tools::{Tools, command, free_port, tail, wait_port};

/// One node.
struct Node {
    name: String,
    client: u16,
    mqtt: u16,
    config: PathBuf,
    log: PathBuf,
    process: Option<Child>,
}

/// Three nodes.
pub struct Cluster {
    nats_server: PathBuf,
    nodes: Vec<Node>,
}

impl Cluster {
    /// Writes each node's configuration in `dir` and starts all three.
    pub async fn start(tools: &Tools, dir: &Path) -> Result<Self, DemoError> {
        let mut ports = Vec::new();
        for _ in 0..3 {
            ports.push((free_port()?, free_port()?, free_port()?));
        }
        let routes = ports.iter().map(|(_, r, _)| format!("nats-route://127.0.0.1:{r}")).collect::<Vec<_>>().join(", ");
        let mut nodes = Vec::new();
        for (i, (client, route, mqtt)) in ports.into_iter().enumerate() {
            let name = format!("n{}", i + 1);
            let store = dir.join(&name);
            let mut text = String::new();
            let _ = writeln!(text, "server_name: {name}");
            let _ = writeln!(text, "listen: 127.0.0.1:{client}");
            let _ = writeln!(text, "jetstream {{ store_dir: \"{}\" }}", store.display());
            let _ = writeln!(text, "cluster {{ name: portvakt-demo, listen: 127.0.0.1:{route}, routes: [{routes}] }}");
            let _ = writeln!(text, "mqtt {{ listen: 127.0.0.1:{mqtt} }}");
            let config = dir.join(format!("{name}.conf"));
            std::fs::write(&config, text).map_err(|e| DemoError::io(&config.display().to_string(), e))?;
            let log = dir.join(format!("{name}.log"));
            nodes.push(Node { name, client, mqtt, config, log, process: None });
        }
        let mut cluster = Self { nats_server: tools.nats_server.clone(), nodes };
        for i in 0..3 {
            cluster.spawn(i)?;
        }
        for i in 0..3 {
            cluster.wait_up(i).await?;
        }
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> Result<(), DemoError> {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .map_err(|e| DemoError::io(&node.log.display().to_string(), e))?;
        let err = log.try_clone().map_err(|e| DemoError::io(&node.log.display().to_string(), e))?;
        let child = command(&self.nats_server)
            .arg("-c")
            .arg(&node.config)
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| DemoError::io(&format!("starting nats-server {}", node.name), e))?;
        node.process = Some(child);
        Ok(())
    }

    async fn wait_up(&self, i: usize) -> Result<(), DemoError> {
        let node = &self.nodes[i];
        for port in [node.client, node.mqtt] {
            wait_port(&format!("NATS node {}", node.name), port, Duration::from_secs(15)).await.map_err(|e| {
                DemoError::step(&format!("NATS node {}", node.name), format!("{e}; its log:\n{}", tail(&node.log, 8)))
            })?;
        }
        Ok(())
    }

    /// The nodes' client URLs, for the collectors (`nats://127.0.0.1:…,…`), starting at node `first`.
    pub fn client_urls(&self, first: usize) -> String {
        (0..3).map(|k| format!("nats://127.0.0.1:{}", self.nodes[(first + k) % 3].client)).collect::<Vec<_>>().join(",")
    }

    /// Node `i`'s MQTT listener, for a gateway.
    pub fn mqtt_url(&self, i: usize) -> String {
        format!("mqtt://127.0.0.1:{}", self.mqtt_port(i))
    }

    /// Node `i`'s MQTT port on loopback.
    pub fn mqtt_port(&self, i: usize) -> u16 {
        self.nodes[i % 3].mqtt
    }

    /// Node `i`'s name (`n1`…).
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i % 3].name
    }

    /// Kills node `i` with SIGKILL, as a power cut would.
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.nodes[i].process.take() {
            let _ = p.start_kill();
            let _ = p.wait().await;
        }
    }

    /// Starts node `i` again (same ports, same store) and waits until it answers.
    pub async fn restart(&mut self, i: usize) -> Result<(), DemoError> {
        self.spawn(i)?;
        self.wait_up(i).await
    }

    /// Stops every node (SIGKILL: nothing of the demo's cluster is kept).
    pub async fn stop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i).await;
        }
    }
}
