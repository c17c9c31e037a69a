//! Command-line syntax: one global `--connect`, noun-verb subcommands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use vireo_core::virt_type::VirtType;

#[derive(Debug, Parser)]
#[command(
    name = "vireoctl",
    version,
    about = "Manage libvirt virtual machines from the command line"
)]
pub struct Cli {
    /// libvirt connection URI (default: LIBVIRT_DEFAULT_URI, else qemu:///system as root
    /// and qemu:///session otherwise)
    #[arg(short = 'c', long, global = true, value_name = "URI")]
    pub connect: Option<String>,

    /// Virtualization type for new VMs: auto uses KVM when the host offers it
    #[arg(long, global = true, value_name = "TYPE", default_value = "auto")]
    pub virt_type: VirtType,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the VMs of the connection
    List {
        /// Machine-readable output (versioned JSON)
        #[arg(long)]
        json: bool,
    },
    /// Start a VM (restores it when it has a saved state)
    Start { vm: String },
    /// Ask the guest to shut down (ACPI power button)
    Shutdown { vm: String },
    /// Ask the guest to reboot
    Reboot { vm: String },
    /// Force a VM off at once, like pulling the plug
    Destroy { vm: String },
    /// Pause a running VM
    Suspend { vm: String },
    /// Resume a paused VM
    Resume { vm: String },
    /// Save a running VM's memory and stop it (managed save unless --file)
    Save {
        vm: String,
        /// Save to this file instead of libvirt's managed save
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
    /// Start a VM from its saved state, or restore a state file made by `save --file`
    Restore {
        /// The VM to restore from its managed save
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        vm: Option<String>,
        /// A state file written by `save --file`
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
    /// Remove a VM's definition (refused while it runs)
    Undefine {
        vm: String,
        /// Also delete the VM's disk images (storage volumes)
        #[arg(long)]
        remove_storage: bool,
    },
    /// Print a VM's domain XML
    Dumpxml {
        vm: String,
        /// The definition used at next boot rather than the running one
        #[arg(long)]
        inactive: bool,
        /// Include secrets such as VNC passwords
        #[arg(long)]
        security_info: bool,
    },
    /// Domain XML tools
    Xml {
        #[command(subcommand)]
        command: XmlCommand,
    },
    /// Print libvirt events as they arrive, until interrupted
    Watch {
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Show what the host's libvirt offers: virtualization type and CPU mode defaults
    Caps {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum XmlCommand {
    /// Print the lossless model's rewrite of one domain XML document
    Roundtrip {
        /// The XML file ("-" for standard input)
        file: PathBuf,
    },
}
