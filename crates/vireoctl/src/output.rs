//! Human and JSON output. JSON documents carry `"version": 1`; a field is only ever added
//! within a version, never renamed or removed.

use serde::Serialize;
use serde_json::json;
use vireo_core::libvirt::{ConnectionState, DomainSummary, Event};
use vireo_core::size::Size;
use vireo_core::virt_type::{CpuModeDefault, ResolvedVirtType, VirtType};

use crate::Failure;

pub const JSON_VERSION: u32 = 1;

fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::Failed(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

pub fn print_domains(domains: &[DomainSummary], json: bool) -> Result<(), Failure> {
    if json {
        return print_json(&json!({ "version": JSON_VERSION, "domains": domains }));
    }
    let name_width = domains
        .iter()
        .map(|d| d.name.chars().count())
        .chain([4])
        .max()
        .unwrap_or(4);
    println!(
        "{:<name_width$}  {:<14}  {:>5}  {:>10}  UUID",
        "NAME", "STATE", "VCPUS", "MEMORY"
    );
    for d in domains {
        let memory = Size::from_kib(d.memory_kib).to_string();
        let state = if d.has_managed_save && !d.state.is_active() {
            "saved"
        } else {
            d.state.as_str()
        };
        println!(
            "{:<name_width$}  {:<14}  {:>5}  {:>10}  {}",
            d.name, state, d.vcpus, memory, d.uuid
        );
    }
    Ok(())
}

pub fn print_event(event: &Event, json: bool) -> Result<(), Failure> {
    if json {
        return print_json(&json!({ "version": JSON_VERSION, "event": event }));
    }
    let line = match event {
        Event::Lifecycle {
            name, kind, detail, ..
        } => format!("{name}: {kind} ({detail})"),
        Event::DeviceAdded { name, alias, .. } => format!("{name}: device {alias} added"),
        Event::DeviceRemoved { name, alias, .. } => format!("{name}: device {alias} removed"),
        Event::JobCompleted { name, .. } => format!("{name}: job completed"),
        Event::Connection(state) => match state {
            ConnectionState::Connecting => "connection: connecting".to_string(),
            ConnectionState::Connected => "connection: connected".to_string(),
            ConnectionState::Lost { reason } => format!("connection: lost ({reason})"),
            ConnectionState::Reconnecting { attempt, retry_in } => format!(
                "connection: reconnecting (attempt {attempt} in {:.0} s)",
                retry_in.as_secs_f64()
            ),
        },
        Event::Resynced(domains) => format!("resynced: {} domains", domains.len()),
    };
    println!("{line}");
    Ok(())
}

pub fn print_caps(
    hostname: &str,
    requested: VirtType,
    resolved: ResolvedVirtType,
    cpu: &CpuModeDefault,
    json: bool,
) -> Result<(), Failure> {
    if json {
        return print_json(&json!({
            "version": JSON_VERSION,
            "host": hostname,
            "virt_type": { "requested": requested.as_str(), "resolved": resolved.as_str() },
            "cpu_default": { "mode": cpu.mode(), "model": cpu.model() },
        }));
    }
    println!("Host:              {hostname}");
    println!(
        "Virtualization:    {} (requested {})",
        resolved.as_str(),
        requested.as_str()
    );
    match cpu.model() {
        Some(model) => println!("Default CPU:       {} {model}", cpu.mode()),
        None => println!("Default CPU:       {}", cpu.mode()),
    }
    Ok(())
}
