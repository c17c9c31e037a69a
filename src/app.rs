//! The main window shell: header bar, primary menu, about window, remembered size.

use relm4::adw::prelude::*;
use relm4::gtk::{gio, glib};
use relm4::{ComponentParts, ComponentSender, SimpleComponent, adw, gtk};

use crate::config;
use crate::i18n::gettext;

/// The application window.
pub struct App {
    window: adw::ApplicationWindow,
}

/// What the window starts with.
pub struct AppInit {
    /// The application's settings (see `config::settings`).
    pub settings: gio::Settings,
    /// The command line (connections to open, views to show).
    pub cli: crate::Cli,
}

/// What the window is asked to do.
#[derive(Debug)]
pub enum AppInput {
    /// Show the about window.
    ShowAbout,
    /// Close the window (saving its state), which ends the application.
    Quit,
}

#[relm4::component(pub)]
impl SimpleComponent for App {
    type Init = AppInit;
    type Input = AppInput;
    type Output = ();

    view! {
        #[root]
        adw::ApplicationWindow {
            set_title: Some("Vireo"),
            set_width_request: 360,
            set_height_request: 294,

            gtk::Box {
                set_orientation: gtk::Orientation::Vertical,

                adw::HeaderBar {
                    pack_end = &gtk::MenuButton {
                        set_icon_name: "open-menu-symbolic",
                        set_tooltip_text: Some(&gettext("Main Menu")),
                        set_primary: true,
                        set_menu_model: Some(&primary_menu()),
                    },
                },

                adw::StatusPage {
                    set_vexpand: true,
                    set_icon_name: Some(config::APP_ID),
                    set_title: "Vireo",
                    set_description: Some(&summary()),
                },
            },
        }
    }

    fn init(
        AppInit { settings, cli }: Self::Init,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        log::debug!("command line: {cli:?}");
        if config::is_devel() {
            root.add_css_class("devel");
        }
        restore_window_state(&root, &settings);
        root.connect_close_request(move |window| {
            save_window_state(window, &settings);
            glib::Propagation::Proceed
        });
        install_actions(&sender);

        let model = App {
            window: root.clone(),
        };
        let widgets = view_output!();
        ComponentParts { model, widgets }
    }

    fn update(&mut self, message: Self::Input, _sender: ComponentSender<Self>) {
        match message {
            AppInput::ShowAbout => self.show_about(),
            AppInput::Quit => self.window.close(),
        }
    }
}

impl App {
    fn show_about(&self) {
        let about = adw::AboutWindow::builder()
            .transient_for(&self.window)
            .modal(true)
            .application_name("Vireo")
            .application_icon(config::APP_ID)
            .version(config::VERSION)
            .developer_name(gettext("The Vireo developers"))
            .comments(summary())
            .website("https://vireo.dev/")
            .license_type(gtk::License::Gpl30)
            .debug_info(debug_info())
            .debug_info_filename(format!("{}-debug-info.txt", config::APP_ID))
            // Translators: Replace with your names, one per line.
            .translator_credits(gettext("translator-credits"))
            .build();
        if config::is_devel() {
            about.add_css_class("devel");
        }
        about.present();
    }
}

/// The build and environment facts shown under "Troubleshooting" in the about window.
fn debug_info() -> String {
    let helper = match config::libexec_path("vireo-helper") {
        Ok(path) => path.display().to_string(),
        Err(e) => e.to_string(),
    };
    format!(
        "Vireo {version} ({profile})\n\
         Application id: {app_id}\n\
         GTK {gtk_major}.{gtk_minor}.{gtk_micro}, libadwaita {adw_major}.{adw_minor}.{adw_micro}\n\
         Flatpak: {flatpak}\n\
         Host setup available: {host_setup}\n\
         Helper: {helper}\n\
         polkit action: {action}\n\
         Locale directory: {localedir}\n\
         Data directory: {pkgdatadir}\n",
        version = config::VERSION,
        profile = config::PROFILE,
        app_id = config::APP_ID,
        gtk_major = gtk::major_version(),
        gtk_minor = gtk::minor_version(),
        gtk_micro = gtk::micro_version(),
        adw_major = adw::major_version(),
        adw_minor = adw::minor_version(),
        adw_micro = adw::micro_version(),
        flatpak = config::is_flatpak(),
        host_setup = config::host_setup_available(),
        action = config::POLKIT_ACTION,
        localedir = config::LOCALEDIR,
        pkgdatadir = config::PKGDATADIR,
    )
}

/// What Vireo does, in one sentence (status page and about window).
fn summary() -> String {
    gettext(
        "Manage virtual machines, import them from VirtualBox and prepare this computer for GPU passthrough.",
    )
}

/// The primary menu of the header bar.
fn primary_menu() -> gio::Menu {
    let menu = gio::Menu::new();
    menu.append(
        Some(&gettext("_Keyboard Shortcuts")),
        Some("win.show-help-overlay"),
    );
    menu.append(Some(&gettext("_About Vireo")), Some("app.about"));
    menu
}

/// Registers the application actions and their shortcuts.
fn install_actions(sender: &ComponentSender<App>) {
    let app = relm4::main_application();

    let about = gio::SimpleAction::new("about", None);
    about.connect_activate({
        let sender = sender.clone();
        move |_, _| sender.input(AppInput::ShowAbout)
    });
    app.add_action(&about);

    let quit = gio::SimpleAction::new("quit", None);
    quit.connect_activate({
        let sender = sender.clone();
        move |_, _| sender.input(AppInput::Quit)
    });
    app.add_action(&quit);

    app.set_accels_for_action("app.quit", &["<Control>q"]);
    app.set_accels_for_action("window.close", &["<Control>w"]);
}

fn restore_window_state(window: &adw::ApplicationWindow, settings: &gio::Settings) {
    let width = settings.int("window-width");
    let height = settings.int("window-height");
    window.set_default_size(width, height);
    if settings.boolean("is-maximized") {
        window.maximize();
    }
}

fn save_window_state(window: &adw::ApplicationWindow, settings: &gio::Settings) {
    let (width, height) = window.default_size();
    let results = [
        settings.set_int("window-width", width),
        settings.set_int("window-height", height),
        settings.set_boolean("is-maximized", window.is_maximized()),
    ];
    for result in results {
        if let Err(e) = result {
            log::warn!("cannot save the window state: {e}");
        }
    }
}
