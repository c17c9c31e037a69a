//! Vireo: a GTK4/libadwaita manager for libvirt virtual machines.

mod app;
mod config;
mod i18n;

use std::process::ExitCode;

use clap::Parser;
use relm4::RelmApp;
use relm4::gtk::prelude::*;
use relm4::gtk::{self, gio};

use vireo_core::virt_type::VirtType;

use crate::i18n::{gettext, gettext_f};

/// Command line of `vireo` (see DESIGN.md, "Talking to libvirt").
#[derive(Debug, Parser)]
#[command(
    name = "vireo",
    version = config::VERSION,
    about = "Manage libvirt virtual machines, import VirtualBox machines, prepare GPU passthrough"
)]
#[allow(
    dead_code,
    reason = "parsed now so launchers and scripts/run.sh work; the main window acts on them"
)]
pub struct Cli {
    /// Open this libvirt connection at start (repeatable), e.g. qemu:///system
    #[arg(short = 'c', long = "connect", value_name = "URI")]
    pub connect: Vec<String>,
    /// Virtualization type for new machines: auto, kvm or qemu (default: the setting)
    #[arg(long, value_name = "TYPE")]
    pub virt_type: Option<VirtType>,
    /// Open the console of this virtual machine
    #[arg(long, value_name = "VM")]
    pub show_console: Option<String>,
    /// Open the details of this virtual machine
    #[arg(long, value_name = "VM")]
    pub show_details: Option<String>,
    /// Open the new virtual machine assistant
    #[arg(long)]
    pub new_vm: bool,
}

static LOGGER: glib::GlibLogger = glib::GlibLogger::new(
    glib::GlibLoggerFormat::Plain,
    glib::GlibLoggerDomain::CrateTarget,
);

fn main() -> ExitCode {
    // `--version` and `--help` answer without a display.
    let cli = Cli::parse();

    if log::set_logger(&LOGGER).is_ok() {
        // GLib filters further: debug messages show with G_MESSAGES_DEBUG=all.
        log::set_max_level(log::LevelFilter::Debug);
    }
    i18n::init();

    if let Err(e) = gio::resources_register_include!("vireo.gresource") {
        eprintln!(
            "{}",
            gettext_f(
                "Vireo cannot load its resources: {error}",
                &[("error", &e.to_string())]
            )
        );
        return ExitCode::FAILURE;
    }
    glib::set_application_name("Vireo");

    if let Err(e) = gtk::init() {
        eprintln!(
            "{}",
            gettext_f(
                "Vireo cannot start the display: {error}",
                &[("error", &e.to_string())]
            )
        );
        return ExitCode::FAILURE;
    }

    let settings = match config::settings() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{}: {e}", gettext("Vireo cannot read its settings"));
            return ExitCode::FAILURE;
        }
    };

    gtk::Window::set_default_icon_name(config::APP_ID);
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "vireo".to_owned());
    // Our own options were parsed by clap; GApplication only gets the program name.
    let relm = RelmApp::new(config::APP_ID).with_args(vec![program]);
    // The same base path for both profiles: it is where the bundle keeps style.css,
    // gtk/help-overlay.ui and icons/.
    relm4::main_application().set_resource_base_path(Some(config::RESOURCE_BASE_PATH));
    relm.run::<app::App>(app::AppInit { settings, cli });
    ExitCode::SUCCESS
}
